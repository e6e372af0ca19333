# The manager does not run the XPUB/XSUB proxy: our process does (tests/zeek/zeromq_test.ts).
redef Cluster::Backend::ZeroMQ::run_proxy_thread = F;
