# The sender of Zeek's btest broker/disconnect.zeek (testing/btest/broker/disconnect.zeek),
# its statements unchanged but for the port ($DENO_PORT), flush_all() after each print (a
# pipe), a print on Broker::error instead of "touch lost" (the test waits on its output) and
# an explicit retry of 1 s (btest.cfg's ZEEK_DEFAULT_CONNECT_RETRY). It peers to the port,
# publishes my_event(<peers so far>) on every peer_added and ends at its second
# endpoint_unreachable. Its stdout without the "error" lines is the btest's baseline
# send.out whoever the receivers are.
redef exit_only_after_terminate = T;

global peers = 0;
const test_topic = "zeek/test/my_topic";

event my_event(i: count)
	{
	print "sender got event", i;
	flush_all();
	}

event zeek_init()
	{
	Broker::subscribe(test_topic);
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer lost", msg;
	flush_all();
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	++peers;
	print "peer added", msg;
	flush_all();
	Broker::publish(test_topic, my_event, peers);
	}

event Broker::endpoint_discovered(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "endpoint discovered", msg;
	flush_all();
	}

event Broker::endpoint_unreachable(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "endpoint unreachable", msg;
	flush_all();

	if ( peers == 2 )
		terminate();
	}

event Broker::error(code: Broker::ErrorCode, msg: string)
	{
	print "error", code;
	flush_all();
	}
