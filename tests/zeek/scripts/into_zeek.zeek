# Log writes, identifier updates and events from a Broker peer into Zeek. Listens on a free
# port of 127.0.0.1 ("listening, <port>/tcp") and subscribes Zeek's log topics and /zeek/into.
# Zeek writes a peer's log-writes to its own test.log once the peer sent the stream's
# log-create. On Test::done it prints "done" and Test::threshold, then terminates (which
# flushes test.log).
@load frameworks/cluster/backend/broker

module Test;

export {
	redef enum Log::ID += { LOG };
	type Info: record {
		ts: time &log;
		msg: string &log;
		n: count &log;
		tags: set[string] &log &optional;
	};
	global threshold = 10 &redef;
	global done: event();
}

event Test::done()
	{
	print "done", threshold;
	flush_all();
	terminate();
	}

event zeek_init()
	{
	Log::create_stream(Test::LOG, [$columns=Info, $path="test"]);
	Broker::subscribe("zeek/logs/");
	Broker::subscribe("/zeek/into");
	print "listening", Broker::listen("127.0.0.1", 0/tcp);
	flush_all();
	}
