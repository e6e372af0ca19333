# A burst from Zeek: peers to 127.0.0.1:$DENO_PORT and, once peered, publishes $N events
# Test::tick(i, <1000 bytes>) on /deno/burst in one handler, then prints "published".
#
# Broker in Zeek buffers 8192 messages per peer and drops the oldest beyond that
# (Broker::peer_overflow_policy): a burst published faster than the peer reads loses a run
# of events on Zeek's side (seen: 175 of 20,000). With room for the whole burst, anything
# missing would be ours.
redef Broker::peer_buffer_size = 50000;

module Test;

export {
	global tick: event(n: count, s: string);
}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	local s = "";
	local i = 0;
	while ( i < 100 )
		{
		s += "0123456789";
		++i;
		}
	local n = to_count(getenv("N"));
	i = 0;
	while ( i < n )
		{
		Broker::publish("/deno/burst", Test::tick, i, s);
		++i;
		}
	print "published", n;
	flush_all();
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_lost", msg;
	flush_all();
	}

event zeek_init()
	{
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}
