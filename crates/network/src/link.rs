//! Bridges, veth endpoints, addresses and routes, over netlink.
//!
//! Everything here talks to the kernel through `rtnetlink`; nothing runs
//! `ip` or any other program. A netlink socket acts on the network namespace
//! it was made in: work on the host uses a socket made on the caller's
//! thread, and work inside a container's namespace uses one made on a thread
//! of [`Netns::run`], then driven from the caller's runtime like any other.
//! Each public function opens the connections it needs and closes them before
//! it returns; a socket made inside a namespace would otherwise keep that
//! namespace alive.
//!
//! An endpoint is made with as few round trips as the kernel allows: one
//! `RTM_NEWLINK` creates the veth pair with the host end enslaved, sized and
//! up, and the container end already in its namespace with its final name,
//! MAC and MTU; what is left inside is bringing it and `lo` up, its address
//! and the default route.
//!
//! Names, addresses and MACs are the caller's choice (IPAM, the daemon);
//! [`mac_for`] is Docker's convention for the last.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::time::Instant;

use futures::future::{self, Either};
use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use tracing::{debug, warn};

use crate::netns::Netns;

/// Why a link operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open a netlink connection: {0}")]
    Connect(#[source] io::Error),
    #[error("netlink connection closed while {0}")]
    ConnectionClosed(String),
    #[error("cannot enter the container's network namespace to configure {ifname}: {source}")]
    EnterNetns {
        ifname: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot {op}: {source}")]
    Netlink {
        op: String,
        #[source]
        source: io::Error,
    },
    #[error("no such link: {0}")]
    NoSuchLink(String),
    #[error("{0} exists and is not a bridge: remove it or choose another bridge name")]
    NotABridge(String),
    #[error("cannot write {path}: {source}")]
    Sysctl {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Whether the kernel refused the request with `errno`.
    fn is_errno(&self, errno: i32) -> bool {
        matches!(self, Error::Netlink { source, .. } if source.raw_os_error() == Some(errno))
    }
}

/// Makes an [`Error::Netlink`] for operation `op`, keeping the kernel's errno.
fn netlink(op: impl FnOnce() -> String) -> impl FnOnce(rtnetlink::Error) -> Error {
    move |err| Error::Netlink {
        op: op(),
        source: match err {
            rtnetlink::Error::NetlinkError(message) => message.to_io(),
            other => io::Error::other(other),
        },
    }
}

/// Creates bridge `name` if missing (MTU `mtu` if `Some`), gives it `gateway`
/// (e.g. 172.18.0.1/16) if it does not have it, brings it up, and enables
/// `route_localnet` on it so that published ports can be DNAT'ed from
/// 127.0.0.1. Idempotent.
#[tracing::instrument(skip_all, fields(bridge = name, %gateway))]
pub async fn ensure_bridge(name: &str, gateway: Ipv4Net, mtu: Option<u32>) -> Result<(), Error> {
    on_host(|host| async move {
        let bridge = bridge_link(&host, name, mtu).await?;
        let index = bridge.header.index;
        if !has_address(&host, index, name, gateway).await? {
            add_address(&host, index, name, gateway).await?;
        }
        if !bridge.header.flags.contains(LinkFlags::Up) {
            set_up(&host, name).await?;
        }
        Ok(())
    })
    .await?;
    enable_route_localnet(name)
}

/// Deletes link `name`; `Ok` if it does not exist.
pub async fn delete_link(name: &str) -> Result<(), Error> {
    on_host(|host| async move { remove(&host, name).await }).await
}

/// Whether the host has a link named `name`.
pub async fn link_exists(name: &str) -> Result<bool, Error> {
    on_host(|host| async move { Ok(find_link(&host, name).await?.is_some()) }).await
}

/// Names of host links whose name starts with `prefix`, e.g. to find what a
/// previous daemon left behind.
pub async fn links_with_prefix(prefix: &str) -> Result<Vec<String>, Error> {
    on_host(|host| async move {
        let links: Vec<LinkMessage> = host
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(netlink(|| "list links".to_owned()))?;
        Ok(links
            .iter()
            .filter_map(link_name)
            .filter(|name| name.starts_with(prefix))
            .map(str::to_owned)
            .collect())
    })
    .await
}

/// A container's interface on a bridge: a veth pair with one end on the host,
/// enslaved to `bridge`, and the other inside `netns`.
#[derive(Debug)]
pub struct Endpoint<'a> {
    /// The container's network namespace.
    pub netns: &'a Netns,
    /// The bridge the host end joins.
    pub bridge: &'a str,
    /// The host end, e.g. `veth1a2b3c4` (at most 15 bytes).
    pub host_ifname: &'a str,
    /// The container end: `eth0`, `eth1`, ...
    pub container_ifname: &'a str,
    /// The container end's address, e.g. 172.18.0.2/16.
    pub address: Ipv4Net,
    /// The default route goes through it, when `Some`.
    pub gateway: Option<Ipv4Addr>,
    /// The container end's MAC, e.g. [`mac_for`] its address.
    pub mac: [u8; 6],
    /// MTU of both ends.
    pub mtu: u32,
}

/// Creates `endpoint`: the veth pair, the host end enslaved to the bridge and
/// up, the container end configured and up with `lo`, and the default route.
/// On failure, removes what it made before returning the error.
#[tracing::instrument(skip_all, fields(
    host_ifname = endpoint.host_ifname,
    bridge = endpoint.bridge,
    address = %endpoint.address,
))]
pub async fn attach(endpoint: &Endpoint<'_>) -> Result<(), Error> {
    let started = Instant::now();
    on_host(|host| async move {
        create_pair(&host, endpoint).await?;
        if let Err(err) = configure_inside(endpoint).await {
            if let Err(cleanup) = remove(&host, endpoint.host_ifname).await {
                warn!(error = %cleanup, "cannot remove the endpoint after a failed attach");
            }
            return Err(err);
        }
        Ok(())
    })
    .await?;
    debug!(elapsed = ?started.elapsed(), "endpoint attached");
    Ok(())
}

/// Removes an endpoint by its host end (which takes its peer with it); `Ok`
/// if it is already gone, as it is once the container's namespace died.
#[tracing::instrument]
pub async fn detach(host_ifname: &str) -> Result<(), Error> {
    delete_link(host_ifname).await
}

/// Docker's MAC for an address: 02:42 followed by the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:ac:11:00:02`, as `docker inspect` shows a MAC.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|byte| format!("{byte:02x}")).join(":")
}

/// Runs `work` with a connection on a socket made on the calling thread, that
/// is in the host's namespace.
async fn on_host<T, Fut>(work: impl FnOnce(Handle) -> Fut) -> Result<T, Error>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let (connection, handle, _) = rtnetlink::new_connection().map_err(Error::Connect)?;
    drive(connection, work(handle), "working on the host's links").await
}

/// Runs `work` with a connection on a socket made inside `netns`, to
/// configure the container's interface `ifname`. Making the socket blocks the
/// caller's thread for the ~0.15 ms a short-lived thread takes.
async fn in_netns<T, Fut>(
    netns: &Netns,
    ifname: &str,
    work: impl FnOnce(Handle) -> Fut,
) -> Result<T, Error>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let runtime = tokio::runtime::Handle::current();
    let (connection, handle, _) = netns
        .run(move || {
            // Registers the socket with the caller's runtime, not this thread.
            let _entered = runtime.enter();
            rtnetlink::new_connection()
        })
        .and_then(|made| made)
        .map_err(|source| Error::EnterNetns {
            ifname: ifname.to_owned(),
            source,
        })?;
    drive(
        connection,
        work(handle),
        "configuring the container's interface",
    )
    .await
}

/// Polls `work` together with the `connection` it talks through, which is
/// dropped (its socket closed) as soon as `work` is done.
async fn drive<T>(
    connection: impl Future<Output = ()>,
    work: impl Future<Output = Result<T, Error>>,
    doing: &str,
) -> Result<T, Error> {
    match future::select(pin!(work), pin!(connection)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(Error::ConnectionClosed(doing.to_owned())),
    }
}

/// The link named `name`, if there is one.
async fn find_link(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, Error> {
    let found = handle
        .link()
        .get()
        .match_name(name)
        .execute()
        .try_next()
        .await
        .map_err(netlink(|| format!("look up link {name}")));
    match found {
        Err(err) if err.is_errno(libc::ENODEV) => Ok(None),
        found => found,
    }
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.as_str()),
            _ => None,
        })
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attribute| {
        matches!(attribute, LinkAttribute::LinkInfo(infos)
            if infos.contains(&LinkInfo::Kind(InfoKind::Bridge)))
    })
}

/// Bridge `name`, created (up) if missing.
async fn bridge_link(host: &Handle, name: &str, mtu: Option<u32>) -> Result<LinkMessage, Error> {
    let link = match find_link(host, name).await? {
        Some(link) => link,
        None => {
            create_bridge(host, name, mtu).await?;
            find_link(host, name)
                .await?
                .ok_or_else(|| Error::NoSuchLink(name.to_owned()))?
        }
    };
    if is_bridge(&link) {
        Ok(link)
    } else {
        Err(Error::NotABridge(name.to_owned()))
    }
}

/// Creates bridge `name`, up; `Ok` if someone else just did.
async fn create_bridge(host: &Handle, name: &str, mtu: Option<u32>) -> Result<(), Error> {
    let mut bridge = LinkBridge::new(name);
    if let Some(mtu) = mtu {
        bridge = bridge.mtu(mtu);
    }
    debug!(bridge = name, "creating bridge");
    let created = host
        .link()
        .add(bridge.build())
        .execute()
        .await
        .map_err(netlink(|| format!("create bridge {name}")));
    match created {
        Err(err) if err.is_errno(libc::EEXIST) => Ok(()),
        created => created,
    }
}

/// Whether link `index` (named `name`) has exactly `address`.
async fn has_address(
    handle: &Handle,
    index: u32,
    name: &str,
    address: Ipv4Net,
) -> Result<bool, Error> {
    let local = AddressAttribute::Local(IpAddr::V4(address.addr()));
    let mut addresses = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(found) = addresses
        .try_next()
        .await
        .map_err(netlink(|| format!("list the addresses of {name}")))?
    {
        if found.header.prefix_len == address.prefix_len() && found.attributes.contains(&local) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Gives link `index` (named `name`) `address`; `Ok` if it already has it.
async fn add_address(
    handle: &Handle,
    index: u32,
    name: &str,
    address: Ipv4Net,
) -> Result<(), Error> {
    let added = handle
        .address()
        .add(index, IpAddr::V4(address.addr()), address.prefix_len())
        .execute()
        .await
        .map_err(netlink(|| format!("add address {address} to {name}")));
    match added {
        Err(err) if err.is_errno(libc::EEXIST) => Ok(()),
        added => added,
    }
}

async fn set_up(handle: &Handle, name: &str) -> Result<(), Error> {
    handle
        .link()
        .change(LinkUnspec::new_with_name(name).up().build())
        .execute()
        .await
        .map_err(netlink(|| format!("bring {name} up")))
}

/// Lets packets to 127.0.0.0/8 be routed out of bridge `name`, which DNAT of
/// published ports from the host's loopback needs.
fn enable_route_localnet(name: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
    // A one-byte write to procfs: not worth a blocking-pool round trip.
    std::fs::write(&path, "1").map_err(|source| Error::Sysctl { path, source })
}

/// Deletes link `name` through `handle`; `Ok` if it does not exist.
async fn remove(handle: &Handle, name: &str) -> Result<(), Error> {
    let deleted = handle
        .link()
        .del_with_message(LinkUnspec::new_with_name(name).build())
        .execute()
        .await
        .map_err(netlink(|| format!("delete link {name}")));
    match deleted {
        Err(err) if err.is_errno(libc::ENODEV) => Ok(()),
        deleted => deleted,
    }
}

/// Creates the veth pair of `endpoint` in one request: the host end enslaved
/// to the bridge and up, the container end made directly inside the
/// container's namespace with its final name, MAC and MTU. The container end
/// cannot be made up here: the kernel configures it before pairing it, and a
/// veth without its peer refuses to open (`ENOTCONN`).
async fn create_pair(host: &Handle, endpoint: &Endpoint<'_>) -> Result<(), Error> {
    let bridge = find_link(host, endpoint.bridge)
        .await?
        .ok_or_else(|| Error::NoSuchLink(endpoint.bridge.to_owned()))?;
    let container_end = LinkUnspec::new_with_name(endpoint.container_ifname)
        .setns_by_fd(endpoint.netns.as_fd().as_raw_fd())
        .address(endpoint.mac.to_vec())
        .mtu(endpoint.mtu)
        .build();
    let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(endpoint.host_ifname)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(container_end)))
        .mtu(endpoint.mtu)
        .controller(bridge.header.index)
        .up()
        .build();
    host.link().add(pair).execute().await.map_err(netlink(|| {
        format!(
            "create veth pair {} (host, on bridge {}) / {} (container)",
            endpoint.host_ifname, endpoint.bridge, endpoint.container_ifname
        )
    }))
}

/// Inside the container: its end up with its address, `lo` up, the default
/// route.
async fn configure_inside(endpoint: &Endpoint<'_>) -> Result<(), Error> {
    let ifname = endpoint.container_ifname;
    in_netns(endpoint.netns, ifname, |inside| async move {
        let (found, (), ()) = future::try_join3(
            find_link(&inside, ifname),
            set_up(&inside, ifname),
            set_up(&inside, "lo"),
        )
        .await?;
        let index = found
            .ok_or_else(|| Error::NoSuchLink(ifname.to_owned()))?
            .header
            .index;
        add_address(&inside, index, ifname, endpoint.address).await?;
        if let Some(gateway) = endpoint.gateway {
            add_default_route(&inside, index, ifname, gateway).await?;
        }
        Ok(())
    })
    .await
}

async fn add_default_route(
    handle: &Handle,
    index: u32,
    ifname: &str,
    gateway: Ipv4Addr,
) -> Result<(), Error> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .output_interface(index)
        .build();
    handle
        .route()
        .add(route)
        .execute()
        .await
        .map_err(netlink(|| {
            format!("add default route via {gateway} dev {ifname}")
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_for_is_02_42_then_the_address() {
        assert_eq!(
            mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]
        );
    }

    #[test]
    fn format_mac_is_lowercase_colon_separated() {
        assert_eq!(
            format_mac(mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
        assert_eq!(format_mac([0xff; 6]), "ff:ff:ff:ff:ff:ff");
    }

    #[test]
    fn errors_name_the_operation_and_keep_the_errno() {
        let mut refusal = rtnetlink::packet_core::ErrorMessage::default();
        refusal.code = std::num::NonZeroI32::new(-libc::ENODEV);
        let err =
            netlink(|| "delete link veth0".to_owned())(rtnetlink::Error::NetlinkError(refusal));
        assert!(err.is_errno(libc::ENODEV));
        assert_eq!(
            err.to_string(),
            "cannot delete link veth0: No such device (os error 19)"
        );
    }
}
