//! Networks: the predefined `bridge`, `host` and `none`, and user-defined
//! bridge networks; their records under `<data-root>/network/`, their
//! bridges, and the addresses handed out in them.
//!
//! A network's record is written when it is created and never changes.
//! Which addresses are in use is not persisted: it is rebuilt from the
//! records of running containers when berthd starts ([`Networks::mark_used`]).

use super::now_rfc3339;
use berth_api::ApiError;
use berth_network::ipam::{Pool, Subnet};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;

/// The daemon's network flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// The default bridge's device (`--bridge`).
    pub bridge: String,
    /// The default bridge's address and prefix (`--bip`); picked from the
    /// pools when unset.
    pub bip: Option<Ipv4Net>,
    /// Where subnets of networks created without one come from.
    pub pools: Vec<Pool>,
    /// MTU of container interfaces (`--mtu`).
    pub mtu: u32,
}

/// Docker's driver names.
pub const BRIDGE: &str = "bridge";
pub const HOST: &str = "host";
pub const NULL: &str = "null";

/// One network as persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Bridge networks: the subnet, gateway and optional range, and the
    /// bridge device.
    #[serde(default)]
    pub ipam: Option<IpamConfig>,
    #[serde(default)]
    pub bridge: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IpamConfig {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
}

impl NetworkRecord {
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }

    pub fn is_bridge(&self) -> bool {
        self.driver == BRIDGE
    }
}

/// A network and the addresses in use in it.
struct Live {
    record: NetworkRecord,
    subnet: Option<Subnet>,
}

/// All networks of this daemon.
pub struct Networks {
    pub config: Config,
    dir: PathBuf,
    by_id: Mutex<HashMap<String, Live>>,
}

impl Networks {
    /// Loads the records under `dir`, creating the predefined networks the
    /// first time.
    pub fn open(dir: PathBuf, config: Config) -> anyhow::Result<Networks> {
        use anyhow::Context;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let networks = Networks {
            config,
            dir,
            by_id: Mutex::default(),
        };
        for entry in std::fs::read_dir(&networks.dir)?.flatten() {
            let bytes = std::fs::read(entry.path())?;
            match serde_json::from_slice::<NetworkRecord>(&bytes) {
                Ok(record) => networks.insert(record),
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "skipping unreadable network record")
                }
            }
        }
        networks.ensure_predefined()?;
        Ok(networks)
    }

    fn ensure_predefined(&self) -> anyhow::Result<()> {
        for (name, driver) in [(HOST, HOST), ("none", NULL)] {
            if self.find(name).is_none() {
                self.persist(new_record(name, driver))?;
            }
        }
        match self.find("bridge") {
            // The flags decide the default bridge at every start.
            Some(mut record) => {
                let wanted = self.default_bridge_ipam(record.ipam.as_ref())?;
                let device = Some(self.config.bridge.clone());
                if record.bridge != device
                    || record.ipam.as_ref().map(|i| (i.subnet, i.gateway))
                        != Some((wanted.subnet, wanted.gateway))
                {
                    record.bridge = device;
                    record.ipam = Some(wanted);
                    self.remove_record(&record.id);
                    self.persist(record)?;
                }
            }
            None => {
                let mut record = new_record("bridge", BRIDGE);
                record.bridge = Some(self.config.bridge.clone());
                record.ipam = Some(self.default_bridge_ipam(None)?);
                record.options.insert(
                    "com.docker.network.bridge.name".into(),
                    self.config.bridge.clone(),
                );
                self.persist(record)?;
            }
        }
        Ok(())
    }

    /// `--bip` if given; else the address the bridge had; else a free subnet.
    fn default_bridge_ipam(&self, had: Option<&IpamConfig>) -> anyhow::Result<IpamConfig> {
        if let Some(bip) = self.config.bip {
            return Ok(IpamConfig {
                subnet: bip.trunc(),
                gateway: bip.addr(),
                ip_range: None,
            });
        }
        if let Some(had) = had {
            return Ok(had.clone());
        }
        let subnet = berth_network::ipam::next_subnet(
            &self.config.pools,
            &self.subnets_in_use(),
            &berth_network::ipam::host_routes(),
        )
        .ok_or_else(|| anyhow::anyhow!("no free subnet for the default bridge: set --bip"))?;
        Ok(IpamConfig {
            subnet,
            gateway: first_host(subnet),
            ip_range: None,
        })
    }

    fn insert(&self, record: NetworkRecord) {
        let subnet = record.ipam.as_ref().and_then(|ipam| {
            match Subnet::new(ipam.subnet, Some(ipam.gateway), ipam.ip_range) {
                Ok(subnet) => Some(subnet),
                Err(e) => {
                    tracing::warn!(network = %record.name, error = %e, "unusable address range");
                    None
                }
            }
        });
        self.lock()
            .insert(record.id.clone(), Live { record, subnet });
    }

    fn persist(&self, record: NetworkRecord) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(&record).expect("records serialize");
        super::container::write_atomic(&self.dir.join(format!("{}.json", record.id)), &bytes)?;
        self.insert(record);
        Ok(())
    }

    fn remove_record(&self, id: &str) {
        self.lock().remove(id);
        let _ = std::fs::remove_file(self.dir.join(format!("{id}.json")));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subnets_in_use(&self) -> Vec<Ipv4Net> {
        self.lock()
            .values()
            .filter_map(|l| l.record.ipam.as_ref().map(|i| i.subnet))
            .collect()
    }

    /// Every network.
    pub fn all(&self) -> Vec<NetworkRecord> {
        let mut all: Vec<NetworkRecord> = self.lock().values().map(|l| l.record.clone()).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// By full id, exact name, or unique id prefix (Docker's order).
    pub fn find(&self, reference: &str) -> Option<NetworkRecord> {
        let all = self.lock();
        if let Some(live) = all.get(reference) {
            return Some(live.record.clone());
        }
        if let Some(live) = all.values().find(|l| l.record.name == reference) {
            return Some(live.record.clone());
        }
        let mut prefixed = all.values().filter(|l| l.record.id.starts_with(reference));
        match (prefixed.next(), prefixed.next()) {
            (Some(live), None) if !reference.is_empty() => Some(live.record.clone()),
            _ => None,
        }
    }

    /// [`Networks::find`], or Docker's 404.
    pub fn get(&self, reference: &str) -> Result<NetworkRecord, ApiError> {
        self.find(reference)
            .ok_or_else(|| ApiError::not_found(format!("network {reference} not found")))
    }

    /// Creates a user-defined bridge network's record (the bridge itself
    /// comes up with its first container).
    pub fn create(&self, mut record: NetworkRecord) -> Result<NetworkRecord, ApiError> {
        if self.lock().values().any(|l| l.record.name == record.name) {
            return Err(ApiError::conflict(format!(
                "network with name {} already exists",
                record.name
            )));
        }
        if record.ipam.is_none() {
            let subnet = berth_network::ipam::next_subnet(
                &self.config.pools,
                &self.subnets_in_use(),
                &berth_network::ipam::host_routes(),
            )
            .ok_or_else(|| {
                ApiError::system(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                )
            })?;
            record.ipam = Some(IpamConfig {
                subnet,
                gateway: first_host(subnet),
                ip_range: None,
            });
        } else if let Some(ipam) = &record.ipam {
            if self
                .subnets_in_use()
                .iter()
                .any(|s| overlaps(s, &ipam.subnet))
            {
                return Err(ApiError::forbidden(
                    "Pool overlaps with other one on this address space",
                ));
            }
        }
        record.bridge = Some(format!("br-{}", &record.id[..12]));
        self.persist(record.clone())
            .map_err(|e| ApiError::system(format!("saving network: {e}")))?;
        Ok(record)
    }

    /// Forgets a network (the caller removed its bridge and checked use).
    pub fn remove(&self, id: &str) {
        self.remove_record(id);
    }

    /// An address in network `id`: `wanted`, or the next free one.
    pub fn allocate(&self, id: &str, wanted: Option<Ipv4Addr>) -> Result<Ipv4Addr, ApiError> {
        let mut all = self.lock();
        let live = all
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found(format!("network {id} not found")))?;
        let name = live.record.name.clone();
        let subnet = live
            .subnet
            .as_mut()
            .ok_or_else(|| ApiError::invalid(format!("network {name} has no addresses to give")))?;
        subnet
            .allocate(wanted)
            .map_err(|e| ApiError::invalid(e.to_string()))
    }

    /// Gives an address back.
    pub fn release(&self, id: &str, ip: Ipv4Addr) {
        if let Some(subnet) = self.lock().get_mut(id).and_then(|l| l.subnet.as_mut()) {
            subnet.release(ip);
        }
    }

    /// Records an address a running container already has (after a restart).
    pub fn mark_used(&self, id: &str, ip: Ipv4Addr) {
        if let Some(subnet) = self.lock().get_mut(id).and_then(|l| l.subnet.as_mut()) {
            if let Err(e) = subnet.mark_used(ip) {
                tracing::warn!(network = %id, %ip, error = %e, "re-adopting an address");
            }
        }
    }
}

fn new_record(name: &str, driver: &str) -> NetworkRecord {
    NetworkRecord {
        id: new_network_id(),
        name: name.to_string(),
        driver: driver.to_string(),
        created: now_rfc3339(),
        internal: false,
        attachable: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam: None,
        bridge: None,
    }
}

/// 64 random hex digits.
pub fn new_network_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The first address after the network address: the default gateway.
pub fn first_host(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
