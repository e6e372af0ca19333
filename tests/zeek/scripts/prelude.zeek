# Loaded before every script of the live Zeek suite (tests/zeek/zeek.ts).
# Zeek waits for terminate() instead of exiting after zeek_init, talks plain TCP,
# and ends itself after 60 s in case the test runner died without killing it.
redef exit_only_after_terminate = T;
redef Broker::disable_ssl = T;

global zeek_live_watchdog: event();
event zeek_live_watchdog() { terminate(); }

event zeek_init() &priority=100 { schedule 60sec { zeek_live_watchdog() }; }
