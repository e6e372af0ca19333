# common.zeek and worker.zeek of Zeek's btest cluster/generic/publish-hrw.zeek: a pong for each ping
# (twice, as there), node_up printed, terminate on finish.
@load common
global finish: event();
global ping: event(c: count, how: string);
global pong: event(c: count, how: string, from: string, from_how: string);

event ping(c: count, how: string) {
	print "got ping", c, how;
	Cluster::publish(Cluster::manager_topic, pong, c, how, Cluster::node, "args");
	local e = Cluster::make_event(pong, c, how, Cluster::node, "make_event");
	Cluster::publish(Cluster::manager_topic, e);
}

event Cluster::node_up(name: string, id: string) {
	print "a node_up", name;
}

event finish() &is_used {
	print "z got finish!";
	terminate();
}
