# Two loggers, as Zeek's btest cluster/generic/logging-rr.zeek (Files/zeromq/cluster-layout-two-loggers.zeek):
# the workers' connect_log_endpoints list both, and their PUSH deals log batches out in turn.
redef Cluster::manager_is_logger = F;

redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1],
	["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=to_port(getenv("LOG_PULL_PORT_1"))],
	["logger-2"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=to_port(getenv("LOG_PULL_PORT_2"))],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1],
};
