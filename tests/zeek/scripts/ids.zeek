# Identifier updates both ways. Peers to 127.0.0.1:$DENO_PORT and subscribes /zeek/ids. Once
# peered, publishes Test::threshold and Test::nets with Broker::publish_id on /deno/ids. On
# Test::bump it adds one to Test::threshold and publishes it again; on Test::show it prints
# both (so identifier updates we send, which Zeek applies to its globals, show up there).
module Test;

export {
	global threshold = 10 &redef;
	global nets: set[subnet] = { 10.0.0.0/8, [2001:db8::]/32 } &redef;
	global bump: event();
	global show: event();
}

event Test::bump()
	{
	++threshold;
	print "bumped", threshold;
	flush_all();
	Broker::publish_id("/deno/ids", "Test::threshold");
	}

event Test::show()
	{
	local v: vector of string;
	for ( n in nets )
		v += cat(n);
	sort(v, strcmp);
	print "show", threshold, join_string_vec(v, ",");
	flush_all();
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_added";
	print "publish_id", Broker::publish_id("/deno/ids", "Test::threshold"),
	      Broker::publish_id("/deno/ids", "Test::nets");
	flush_all();
	}

event zeek_init()
	{
	Broker::subscribe("/zeek/ids");
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}
