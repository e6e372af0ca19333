# Receiver of bench/zeromq.ts: the manager of a Zeek 8 ZeroMQ cluster (layout and ports from
# tests/zeek/scripts/zeromq). Counts Bench::ev, prints "ready" on node_up of worker-1 and,
# once the events stop for 0.5 s (or all BENCH_N arrived), "done, <n>, <seconds from the
# first to the last>".
@load zeromq-test-bootstrap
# No high-water marks (default 1000 messages, beyond which Zeek drops what it publishes and
# receives): the bench measures how fast events get through, not how many Zeek sheds.
redef Cluster::Backend::ZeroMQ::xpub_sndhwm = 0;
redef Cluster::Backend::ZeroMQ::xsub_rcvhwm = 0;
# Nor on the events queued for Zeek's loop (default 10000).
redef Cluster::Backend::ZeroMQ::onloop_queue_hwm = 0;
module Bench;
export { global ev: event(i: count, s: string); global check: event(); }
global want = to_count(getenv("BENCH_N"));
global n = 0;
global seen = 0;
global first: time;
global last: time;
function finish()
	{
	print "done", n, interval_to_double(last - first);
	flush_all();
	terminate();
	}
event Cluster::node_up(name: string, id: string) { print "ready", name; flush_all(); }
event Bench::ev(i: count, s: string)
	{
	if ( n == 0 )
		{
		first = current_time();
		schedule 0.5sec { Bench::check() };
		}
	++n;
	last = current_time();
	if ( n == want )
		finish();
	}
event Bench::check()
	{
	if ( n == seen )
		finish();
	else
		{
		seen = n;
		schedule 0.5sec { Bench::check() };
		}
	}
