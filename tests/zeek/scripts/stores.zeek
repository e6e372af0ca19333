# Broker stores with Zeek on either side (Zeek 8.2 warns that Broker stores are deprecated).
# ZEEK_ROLE=master: Zeek hosts master "zeek_kv" (a=1, s={x, y}), listens on a free port of
#   127.0.0.1 ("listening, <port>/tcp"). On Test::check it reads key b (which a clone wrote)
#   and all keys, prints them, and puts c=3.
# ZEEK_ROLE=clone: Zeek peers to 127.0.0.1:$DENO_PORT, attaches a clone of "deno_kv" once
#   peered, reads keys n and h through it, prints them, then puts zeek=T and increments n by 5.
module Test;

export {
	global check: event();
}

global h: opaque of Broker::Store;

function sorted_keys(keys: any): string
	{
	local v: vector of string;
	for ( k in keys as set[string] )
		v += k;
	sort(v, strcmp);
	return join_string_vec(v, ",");
	}

event Test::check()
	{
	when ( local b = Broker::get(h, "b") )
		{
		print "zeek master sees b", b$result as count;
		when ( local k = Broker::keys(h) )
			{
			print "zeek master keys", sorted_keys(k$result);
			Broker::put(h, "c", 3);
			print "put c";
			flush_all();
			}
		timeout 5sec { print "timeout keys"; flush_all(); }
		}
	timeout 5sec { print "timeout b"; flush_all(); }
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	if ( getenv("ZEEK_ROLE") != "clone" )
		return;
	h = Broker::create_clone("deno_kv");
	print "clone attached";
	flush_all();
	when ( local n = Broker::get(h, "n") )
		{
		print "zeek clone sees n", n$result as count;
		when ( local a = Broker::get(h, "h") )
			{
			print "zeek clone sees h", a$result as addr;
			Broker::put(h, "zeek", T);
			Broker::increment(h, "n", 5);
			print "wrote";
			flush_all();
			}
		timeout 5sec { print "timeout h"; flush_all(); }
		}
	timeout 5sec { print "timeout n"; flush_all(); }
	}

event zeek_init()
	{
	Broker::subscribe("/zeek/stores");
	if ( getenv("ZEEK_ROLE") == "master" )
		{
		h = Broker::create_master("zeek_kv");
		Broker::put(h, "a", 1);
		Broker::put(h, "s", set("x", "y"));
		print "listening", Broker::listen("127.0.0.1", 0/tcp);
		}
	else
		Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	flush_all();
	}
