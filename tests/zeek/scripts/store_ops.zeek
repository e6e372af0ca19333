# Zeek's btest broker/store/ops.zeek through a Zeek clone of our master "ops": Zeek peers to
# 127.0.0.1:$DENO_PORT, attaches the clone once peered, and runs ops.zeek's writes and reads in
# its order, with the same labels ([1] to [20], keys). ops.zeek runs on a master, whose reads
# follow its writes; a clone's reads answer from its copy, so each batch of writes ends with a
# put of marker "m" = n and the reads wait until the clone holds it (the master applies a
# clone's writes in order, and its updates arrive in order). Keys thus hold "m" too; after the
# clear, the reads wait until "m" is gone. Then Zeek's own Broker store commands a btest does
# not run: put_unique (an answer addressed to the clone), and the read-modify-write operations
# on a key that is missing or of the wrong type. Prints "done" at the end.
global h: opaque of Broker::Store;

function print_index(label: string, k: any)
	{
	when [label, k] ( local r = Broker::get(h, k) )
		{ print label, r$status, r$result; }
	timeout 5sec
		{ print label, "timeout"; }
	}

function print_exists(label: string, k: any)
	{
	when [label, k] ( local r = Broker::exists(h, k) )
		{ print label, r; }
	timeout 5sec
		{ print label, "timeout"; }
	}

function print_index_from_value(label: string, k: any, i: any)
	{
	when [label, k, i] ( local r = Broker::get_index_from_value(h, k, i) )
		{ print label, r$status, r$result; }
	timeout 5sec
		{ print label, "timeout"; }
	}

function print_keys(label: string)
	{
	when [label] ( local s = Broker::keys(h) )
		{ print label, s; }
	timeout 5sec
		{ print label, "timeout"; }
	}

function print_put_unique(label: string, k: any, v: any)
	{
	when [label, k, v] ( local r = Broker::put_unique(h, k, v) )
		{ print label, r$status, r$result; }
	timeout 5sec
		{ print label, "timeout"; }
	}

global phase: event(n: count);

# Raises phase(n) once the clone holds marker m = n; phase(0) once m is gone.
event wait_mark(n: count)
	{
	when [n] ( local r = Broker::get(h, "m") )
		{
		if ( n == 0 ? r$status != Broker::SUCCESS
		            : r$status == Broker::SUCCESS && (r$result as count) == n )
			event phase(n);
		else
			schedule 20msec { wait_mark(n) };
		}
	timeout 5sec
		{ print "timeout waiting for m", n; }
	}

event phase(n: count)
	{
	switch ( n ) {
	case 1:
		print_index("[1], one", "one");
		print_index("[2], two", "two");
		print_index("[3], three", "three");
		print_index("[4], four", "four");
		print_index("[5], five", "five");
		print_index("[6], {x, y}", set("x", "y"));
		Broker::increment(h, "two");
		Broker::increment(h, "two", 9);
		Broker::decrement(h, "three");
		Broker::decrement(h, "three", 9);
		Broker::put(h, "m", 2);
		event wait_mark(2);
		break;
	case 2:
		print_index("[7], two", "two");
		print_index("[8], three", "three");
		print_index("[9], four", "four");
		print_keys("keys 1");
		Broker::erase(h, "four");
		Broker::append(h, "str", "bar");
		Broker::insert_into_set(h, "set", "C");
		Broker::insert_into_table(h, "table", "c", 3);
		Broker::remove_from(h, "set", 2);
		Broker::remove_from(h, "table", "b");
		Broker::push(h, "vec", 4);
		Broker::push(h, "vec", 5);
		Broker::pop(h, "vec");
		Broker::put(h, "m", 3);
		event wait_mark(3);
		break;
	case 3:
		print_index("[11], str", "str");
		print_index("[12], set", "set");
		print_index("[13], table", "table");
		print_index("[14], vec", "vec");
		print_exists("[15], one", "one");
		print_exists("[16], NOPE", "NOPE");
		print_index_from_value("[17], vec", "vec", 1);
		print_index_from_value("[18], set", "set", "A");
		print_index_from_value("[19], table", "table", "a");
		print_index_from_value("[20], table", "table", "X");
		print_keys("keys 2");
		Broker::clear(h);
		event wait_mark(0);
		break;
	case 0:
		print_keys("keys 3");
		print_put_unique("put_unique u 1", "u", 1);
		print_put_unique("put_unique u 2", "u", 2);
		Broker::increment(h, "inc", 5);
		Broker::decrement(h, "inc", 9);
		Broker::decrement(h, "dec", 1);
		Broker::insert_into_set(h, "newset", "A");
		Broker::push(h, "newvec", 7);
		Broker::pop(h, "pop");
		Broker::remove_from(h, "rem", "x");
		Broker::put(h, "s", "str");
		Broker::increment(h, "s", 1);
		Broker::put(h, "m", 4);
		event wait_mark(4);
		break;
	case 4:
		print_index("inc", "inc");
		print_index("dec", "dec");
		print_index("newset", "newset");
		print_index("newvec", "newvec");
		print_index("pop", "pop");
		print_index("rem", "rem");
		print_index("s", "s");
		print_index("u", "u");
		when ( local k = Broker::keys(h) )
			{
			print "keys 4", k;
			print "done";
			flush_all();
			}
		timeout 5sec
			{ print "keys 4", "timeout"; }
		break;
	}
	flush_all();
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	h = Broker::create_clone("ops");
	Broker::put(h, "one", "110");
	Broker::put(h, "two", 220);
	Broker::put(h, "three", 330);
	Broker::put(h, "four", set(1, 2, 3));
	Broker::put(h, set("x", "y"), vector(1/tcp, 2/tcp, 3/tcp));
	Broker::put(h, "str", "foo");
	Broker::put(h, "vec", vector(1, 2, 3));
	Broker::put(h, "set", set("A", "B"));
	Broker::put(h, "table", table(["a"] = 1, ["b"] = 2));
	Broker::put(h, "m", 1);
	event wait_mark(1);
	}

event zeek_init()
	{
	Broker::peer("127.0.0.1", to_port(getenv("DENO_PORT")), 1sec);
	}
