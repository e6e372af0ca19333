# A manager (it runs the XPUB/XSUB proxy and is the logger) that a test stops and starts again
# on the same ports under a running node (tests/zeek/zeromq_reconnect_test.ts).
@load zeromq-test-bootstrap
module Test;
export {
	global ping: event(n: count);
	global pong: event(n: count);
}
event Cluster::node_up(name: string, id: string) { print "node_up", name; }
event Cluster::node_down(name: string, id: string) { print "node_down", name; }
event Test::ping(n: count)
	{
	print "ping", n;
	Cluster::publish(Cluster::node_topic("worker-1"), Test::pong, n + 1);
	}
