# Manager of a Zeek 8 ZeroMQ cluster (it runs the XPUB/XSUB proxy) with the bridge as
# worker-1 (tests/zeek/bridge_test.ts): answers Bridge::ping on the manager topic with
# Bridge::pong to every worker. Layout and ports from ../zeromq (load it on ZEEKPATH).
@load zeromq-test-bootstrap
module Bridge;
export {
	global ping: event(s: string, n: count);
	global pong: event(s: string, n: count);
}
event Cluster::node_up(name: string, id: string) { print "node_up", name; flush_all(); }
event Bridge::ping(s: string, n: count)
	{
	print "ping", s, n;
	flush_all();
	Cluster::publish(Cluster::worker_topic, Bridge::pong, "pong for " + s, n + 1);
	}
event Cluster::node_down(name: string, id: string) { print "node_down", name; flush_all(); terminate(); }
