# A worker that publishes Test::ping(n) to the manager topic every 100 ms, whoever listens
# (tests/zeek/zeromq_reconnect_test.ts: our proxy goes away and comes back under it).
@load zeromq-test-bootstrap
module Test;
export { global ping: event(n: count); }
global n = 0;
event tick()
	{
	++n;
	Cluster::publish(Cluster::manager_topic, Test::ping, n);
	schedule 0.1sec { tick() };
	}
event zeek_init() { schedule 0.1sec { tick() }; }
