//! berth-network: container networking on the host.
//!
//! * [`netns`]: network namespaces held by a descriptor, and running code
//!   inside one;
//! * [`link`]: bridges, veth endpoints, addresses and routes, over netlink;
//! * [`ipam`]: subnets from address pools, addresses within a subnet;
//! * [`ports`]: Docker's port specs and host-port reservations;
//! * [`firewall`]: one nftables table per daemon for NAT, published ports
//!   and isolation between networks;
//! * [`dns`]: the embedded DNS server of user-defined networks.
//!
//! The daemon decides what exists; this crate makes the kernel agree.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod ports;
