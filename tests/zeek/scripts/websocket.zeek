# Zeek 8's own WebSocket server. Zeek serves it only as a cluster node, so this runs as the
# manager of cluster-layout.zeek (Zeek's own test layout, Broker backend) with CLUSTER_NODE=
# manager, BROKER_MANAGER_PORT and WEBSOCKET_PORT set. Answers Test::from_ws on /ws/in with
# Test::hello_ws on /ws/out, and prints every client's subscriptions.
@load cluster-layout

module Test;

export {
	global from_ws: event(s: string, n: count, a: addr, v: vector of count,
	                      tb: table[string] of count) &is_used;
	global hello_ws: event(s: string, n: count, a: addr, v: vector of count,
	                       tb: table[string] of count);
}

event Test::from_ws(s: string, n: count, a: addr, v: vector of count, tb: table[string] of count)
	{
	print "zeek got from_ws", s, n, a, |v|, |tb|;
	flush_all();
	Cluster::publish("/ws/out", Test::hello_ws, "reply to " + s, n + 1, a, v, tb);
	}

event zeek_init()
	{
	Cluster::subscribe("/ws/in");
	print "websocket listening", Cluster::listen_websocket([$listen_addr=127.0.0.1,
	      $listen_port=to_port(getenv("WEBSOCKET_PORT"))]);
	flush_all();
	}

event Cluster::websocket_client_added(info: Cluster::EndpointInfo, subscriptions: string_vec)
	{
	print "client added", join_string_vec(subscriptions, ",");
	flush_all();
	}

event Cluster::websocket_client_lost(info: Cluster::EndpointInfo, code: count, reason: string)
	{
	print "client lost";
	flush_all();
	}
