# Loaded after the prelude: Broker's default, SSL on. Without certificates
# (none are configured here) Broker runs its anonymous mode, AECDH-AES256-SHA.
redef Broker::disable_ssl = F;
