# A logger of the two-logger layout: writes what the workers push (test.log, not rotated on exit)
# and ends when worker-1 leaves.
@load common
redef Log::default_rotation_interval = 0sec;
event Cluster::node_down(name: string, id: string) { print "node_down", name; terminate(); }
