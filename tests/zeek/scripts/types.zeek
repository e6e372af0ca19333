# Broker's 15 types through a Zeek event handler, both ways.
# ZEEK_ROLE=listen: listens on 127.0.0.1 (a free port, printed as "listening, <port>/tcp").
# ZEEK_ROLE=peer: peers to 127.0.0.1:$DENO_PORT.
# Either way it subscribes /zeek/types, publishes its own Test::all_types on /deno/types
# once a peer is added, prints every argument of a Test::all_types it gets (one line each,
# containers sorted) and publishes what it got back on /deno/echo.
module Test;

export {
	type Color: enum { RED, GREEN, BLUE };
	# An unset &optional field crosses Broker as none (nil).
	type R: record { a: count; b: string &optional; };
	global all_types: event(b: bool, c: count, i: int, r: double, s: string, a: addr,
	                        a6: addr, sn: subnet, p: port, t: time, iv: interval, e: Color,
	                        st: set[string], tb: table[string] of count, v: vector of count,
	                        rec: R);
}

function sorted_set(s: set[string]): string
	{
	local v: vector of string;
	for ( x in s )
		v += x;
	sort(v, strcmp);
	return join_string_vec(v, ",");
	}

function sorted_table(t: table[string] of count): string
	{
	local v: vector of string;
	for ( k, n in t )
		v += fmt("%s=%s", k, n);
	sort(v, strcmp);
	return join_string_vec(v, ",");
	}

event Test::all_types(b: bool, c: count, i: int, r: double, s: string, a: addr, a6: addr,
                      sn: subnet, p: port, t: time, iv: interval, e: Color, st: set[string],
                      tb: table[string] of count, v: vector of count, rec: R)
	{
	print "got all_types";
	print "bool", type_name(b), b;
	print "count", type_name(c), c;
	print "integer", type_name(i), i;
	print "real", type_name(r), fmt("%.17g", r);
	print "string", type_name(s), |s|, s;
	print "address", type_name(a), a, is_v4_addr(a);
	print "address6", type_name(a6), a6, is_v6_addr(a6);
	print "subnet", type_name(sn), sn;
	print "port", type_name(p), p;
	print "timestamp", type_name(t), fmt("%.6f", t);
	print "timespan", type_name(iv), fmt("%.9f", interval_to_double(iv));
	print "enum", type_name(e), e;
	print "set", type_name(st), |st|, sorted_set(st);
	print "table", type_name(tb), |tb|, sorted_table(tb);
	local vs: vector of string;
	for ( _, n in v )
		vs += cat(n);
	print "vector", type_name(v), |v|, join_string_vec(vs, ",");
	print "none", type_name(rec), rec$a, rec?$b;
	print "end all_types";
	flush_all();
	Broker::publish("/deno/echo", Test::all_types, b, c, i, r, s, a, a6, sn, p, t, iv, e, st, tb, v, rec);
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_added", msg;
	local rec: R = [$a=7];
	Broker::publish("/deno/types", Test::all_types, T, 18446744073709551615, -9223372036854775807,
	                -0.25, "hello, Deno", 10.0.0.1, [2001:db8::1], 10.0.0.0/8, 443/tcp,
	                double_to_time(1700000000.5), 2.5sec, Test::GREEN, set("a", "b"),
	                table(["k"] = 9, ["j"] = 1), vector(1, 2, 3), rec);
	flush_all();
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	print "peer_lost", msg;
	flush_all();
	}

event zeek_init()
	{
	Broker::subscribe("/zeek/types");
	if ( getenv("ZEEK_ROLE") == "listen" )
		print "listening", Broker::listen("127.0.0.1", 0/tcp);
	else
		Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	flush_all();
	}
