# A standalone Zeek on Broker (as before Zeek 8) in the Broker world of the bridge test:
# peers with the C++ relay (RELAY_PORT) and publishes Bridge::ping to the Zeek 8 manager's
# topic as the Broker backend spells it, once a second until the manager's pong comes back.
module Bridge;
export {
	global ping: event(s: string, n: count);
	global pong: event(s: string, n: count);
	global tick: event();
}
global got_pong = F;
event zeek_init()
	{
	Broker::subscribe("zeek/cluster/worker");
	Broker::peer("127.0.0.1", to_port(getenv("RELAY_PORT")), 1sec);
	}
event Bridge::tick()
	{
	if ( got_pong )
		return;
	Broker::publish("zeek/cluster/manager", Bridge::ping, "from broker", 41);
	schedule 1sec { Bridge::tick() };
	}
event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string) { event Bridge::tick(); }
event Bridge::pong(s: string, n: count)
	{
	print "pong", s, n;
	flush_all();
	got_pong = T;
	terminate();
	}
