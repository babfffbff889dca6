//! Black-box tests: the real `edgecomm` binary on port 0, spoken to over real sockets.
//! One test binary (faster to link), one module per area.

mod api_accounts;
mod api_clients;
mod backup;
mod console;
mod crash;
mod durability;
mod fail2ban;
mod fuzz_regressions;
mod malformed;
mod metrics;
mod organizations;
mod permissions;
mod restcomm_sdk;
mod sip_register;
mod slow_clients;
mod startup;
mod support;
mod tls;
