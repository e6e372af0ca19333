# Publisher of bench/zeromq.ts: worker-1 of the cluster; on the manager's node_up publishes
# BENCH_N Bench::ev to the manager topic as fast as Zeek's script loop goes, and prints
# "published, <n>, <seconds the loop took>".
@load zeromq-test-bootstrap
# No high-water marks (default 1000 messages, beyond which Zeek drops what it publishes and
# receives): the bench measures how fast events get through, not how many Zeek sheds.
redef Cluster::Backend::ZeroMQ::xpub_sndhwm = 0;
redef Cluster::Backend::ZeroMQ::xsub_rcvhwm = 0;
module Bench;
export { global ev: event(i: count, s: string); }
global want = to_count(getenv("BENCH_N"));
event Cluster::node_up(name: string, id: string)
	{
	if ( name != "manager" )
		return;
	local start = current_time();
	local i = 0;
	while ( i < want )
		{
		Cluster::publish(Cluster::manager_topic, Bench::ev, i, "C1f7x9");
		++i;
		}
	print "published", i, interval_to_double(current_time() - start);
	flush_all();
	}
