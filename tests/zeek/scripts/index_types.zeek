# Zeek's btest broker/remote_event_index_types.zeek (testing/btest/broker/), its sender and
# receiver in one Zeek with us between them: peers to 127.0.0.1:$DENO_PORT and, once the peer
# is added, publishes the sender's 12 events (sets and tables indexed by counts, composite
# keys, vectors, records, functions and patterns) and done() on /deno/idx; prints what the
# events it gets on /zeek/idx hold, as the btest's recv.zeek prints them, and "done" for done().
# The types and values are the btest's common.zeek and send.zeek, unchanged.
type MyRecord: record {
	a: count;
	b: string;
};

type MyVector: vector of string;

type MyFunction: function();

function foo()
	{ print "foo"; }

type Set1: set[count];
type Set2: set[count, string];
type SetVector: set[MyVector];
type SetRecord: set[MyRecord];
type SetFunction: set[MyFunction];
type SetPattern: set[pattern];

type Table1: table[count] of string;
type Table2: table[count, string] of string;
type TableVector: table[MyVector] of string;
type TableRecord: table[MyRecord] of string;
type TableFunction: table[MyFunction] of string;
type TablePattern: table[pattern] of string;

global set1: event(x: Set1);
global set2: event(x: Set2);
global setvector: event(x: SetVector);
global setrecord: event(x: SetRecord);
global setfunction: event(x: SetFunction);
global setpattern: event(x: SetPattern);

global table1: event(x: Table1);
global table2: event(x: Table2);
global tablevector: event(x: TableVector);
global tablerecord: event(x: TableRecord);
global tablefunction: event(x: TableFunction);
global tablepattern: event(x: TablePattern);

global done: event();

event zeek_init()
	{
	Broker::subscribe("/zeek/idx");
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	local t = "/deno/idx";
	Broker::publish(t, set1, Set1(1));
	Broker::publish(t, set2, Set2([2, "two"]));
	Broker::publish(t, setvector, SetVector(MyVector("one", "two")));
	Broker::publish(t, setrecord, SetRecord(MyRecord($a=97, $b="B")));
	Broker::publish(t, setfunction, SetFunction(foo));
	Broker::publish(t, setpattern, SetPattern(/foobar/));

	Broker::publish(t, table1, Table1([1] = "t1"));
	Broker::publish(t, table2, Table2([2, "two"] = "t2"));
	Broker::publish(t, tablevector, TableVector([MyVector("one", "two")] = "tvec"));
	Broker::publish(t, tablerecord, TableRecord([MyRecord($a=97, $b="B")] = "trec"));
	Broker::publish(t, tablefunction, TableFunction([foo] = "tfunc"));
	Broker::publish(t, tablepattern, TablePattern([/foobar/] = "tpat"));

	Broker::publish(t, done);
	}

event set1(x: Set1)
	{ print "set1", x; }
event set2(x: Set2)
	{ print "set2", x; }
event setvector(x: SetVector)
	{ print "setvector", x; }
event setrecord(x: SetRecord)
	{ print "setrecord", x; }
event setfunction(x: SetFunction)
	{ print "setfunction", x; }
event setpattern(x: SetPattern)
	{ print "setpattern", x; }

event table1(x: Table1)
	{ print "table1", x; }
event table2(x: Table2)
	{ print "table2", x; }
event tablevector(x: TableVector)
	{ print "tablevector", x; }
event tablerecord(x: TableRecord)
	{ print "tablerecord", x; }
event tablefunction(x: TableFunction)
	{ print "tablefunction", x; }
event tablepattern(x: TablePattern)
	{ print "tablepattern", x; }

event done()
	{
	print "done";
	flush_all();
	}
