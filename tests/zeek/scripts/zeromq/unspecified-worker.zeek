# worker.zeek of Zeek's btest cluster/generic/publish-unspecified.zeek, with a node_up print:
# the manager's pings carry an empty table and an empty set for typed parameters.
@load common
type ResultTable: table[string] of count;
type ResultSet: set[count];
global ping_table: event(msg: string, t: ResultTable);
global pong_table: event(msg: string, t: ResultTable);
global ping_set: event(msg: string, s: ResultSet);
global pong_set: event(msg: string, s: ResultSet);
global finish: event();

event Cluster::node_up(name: string, id: string) { print "node_up", name; }

event ping_table(msg: string, t: ResultTable)
	{
	print "ping_table", msg, type_name(t), cat(t);
	Cluster::publish(Cluster::manager_topic, Cluster::make_event(pong_table, msg, table()));
	}

event ping_set(msg: string, t: ResultSet)
	{
	print "ping_set", msg, type_name(t), cat(t);
	Cluster::publish(Cluster::manager_topic, Cluster::make_event(pong_set, msg, set()));
	}

event finish() { terminate(); }
