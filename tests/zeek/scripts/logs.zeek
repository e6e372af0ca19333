# Zeek's logging to a Broker peer. Peers to 127.0.0.1:$DENO_PORT; once peered, writes two
# Test::LOG lines (remote logging is on by default, so they go to Broker topic
# zeek/logs/Test::LOG as a log-create and log-writes) and prints "written".
#
# Zeek 8 sends log writes through its cluster backend, which is "none" in a standalone
# Zeek: without this @load, Zeek sends the log-create over Broker and drops every write.
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
}

event zeek_init()
	{
	Log::create_stream(Test::LOG, [$columns=Info, $path="test"]);
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	Log::write(Test::LOG, [$ts=double_to_time(1700000001.0), $msg="a log line", $n=5]);
	Log::write(Test::LOG, [$ts=double_to_time(1700000002.0), $msg="another line", $n=6,
	                       $tags=set("x")]);
	# Zeek batches remote writes for Broker::log_batch_interval (1 s); send them now.
	Broker::flush_logs();
	print "written";
	flush_all();
	}
