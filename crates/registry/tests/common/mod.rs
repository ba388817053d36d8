//! Test support shared by the integration tests: a real `docker-registry`
//! process per test, in-process image building, a scriptable fake HTTP
//! server for faults, and the PKI (TLS certificates, signed tokens) the
//! authenticated registries need. Every server listens on 127.0.0.1 only.
//! Each test binary uses a different subset, hence the `dead_code` allow.
#![allow(dead_code)]

pub mod fake;
pub mod image;
pub mod pki;
pub mod registry;

use std::time::Duration;

use berth_registry::{Client, ClientConfig};

/// A client with short timeouts, loopback treated as insecure (dockerd's
/// default rule).
pub fn client() -> Client {
    Client::new(quick_config()).expect("client")
}

/// [`ClientConfig::default`] with timeouts that suit a test.
pub fn quick_config() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(3),
        stall_timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    }
}
