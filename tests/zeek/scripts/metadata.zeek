# Zeek 8's event metadata over Broker. Listens on a free port of 127.0.0.1 ("listening,
# <port>/tcp"), adds network timestamps to its events, and knows metadata ID 1000
# (Test::TAG, a string). On Test::probe it prints the event's network time and tag, then
# publishes Test::answer on /deno/metadata, which carries a network timestamp.
module Test;

redef EventMetadata::add_network_timestamp = T;
redef enum EventMetadata::ID += { TAG = 1000 };

export {
	global probe: event(n: count);
	global answer: event(n: count);
}

event Test::probe(n: count)
	{
	print "probe", n, fmt("%.6f", current_event_time()), EventMetadata::current(TAG);
	flush_all();
	Broker::publish("/deno/metadata", Test::answer, n + 1);
	}

event zeek_init()
	{
	EventMetadata::register(TAG, string);
	Broker::subscribe("/zeek/metadata");
	print "listening", Broker::listen("127.0.0.1", 0/tcp);
	flush_all();
	}
