# Peering with Zeek both ways. ZEEK_ROLE=listen: listens on a free port of 127.0.0.1 and
# prints "listening, <port>/tcp"; ZEEK_ROLE=peer: peers to 127.0.0.1:$DENO_PORT.
# Subscribes /zeek/peering; answers Test::ping(n) with Test::pong(n + 1, <its own name>)
# on /deno/peering; prints peer_added and peer_lost.
module Test;

export {
	global ping: event(n: count);
	global pong: event(n: count, who: string);
}

event Test::ping(n: count)
	{
	print "ping", n;
	flush_all();
	Broker::publish("/deno/peering", Test::pong, n + 1, "zeek");
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_added", endpoint$id;
	flush_all();
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_lost", endpoint$id;
	flush_all();
	}

event zeek_init()
	{
	Broker::subscribe("/zeek/peering");
	if ( getenv("ZEEK_ROLE") == "listen" )
		print "listening", Broker::listen("127.0.0.1", 0/tcp);
	else
		Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	flush_all();
	}
