//! A container's mounts: `Binds`, `Mounts`, `VolumesFrom` and the
//! anonymous volumes of `Config.Volumes` (the image's `VOLUME`s among
//! them), resolved at create into the record's mount points as dockerd
//! resolves them, and turned into the runtime's bind and tmpfs mounts at
//! each start.
//!
//! Create first plans every mount without touching anything (so that a bad
//! spec is a 400 with nothing created), then creates the volumes the plan
//! needs, each referenced by the new container in the same step.

use super::container::Record;
use super::volumes::{self, NewVolume, VolumeStore};
use super::{blocking, Engine};
use berth_api::container::{HostConfig, Mount, MountPoint};
use berth_api::ApiError;
use berth_runtime::{BindMount, Propagation, TmpfsMount};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Docker's mount types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

impl MountKind {
    fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount point of a container, as recorded at create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountRecord {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// Host path: the bind source or the volume's data directory; empty
    /// for tmpfs.
    #[serde(default)]
    pub source: String,
    /// Absolute and clean path in the container.
    pub destination: String,
    /// `local` (volumes only).
    #[serde(default)]
    pub driver: String,
    /// What inspect shows as Mode: the options of a `Binds` entry as given,
    /// `z` for a local volume given without any.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    /// Bind propagation (`rprivate` by default); empty for volumes and tmpfs.
    #[serde(default)]
    pub propagation: String,
    /// A volume filled from the image at start while it is empty.
    #[serde(default)]
    pub copy: bool,
    /// An anonymous volume: removed with the container (`rm -v`, AutoRemove).
    #[serde(default)]
    pub anonymous: bool,
    /// A bind whose missing source directory is made at start (`Binds`,
    /// `BindOptions.CreateMountpoint`).
    #[serde(default)]
    pub create_source: bool,
    /// `BindOptions.NonRecursive`: submounts of the source stay behind.
    #[serde(default)]
    pub non_recursive: bool,
    /// tmpfs: mount(8) options (`size=10m,mode=1770`).
    #[serde(default)]
    pub tmpfs_options: String,
}

impl MountRecord {
    fn new(kind: MountKind, destination: String) -> MountRecord {
        MountRecord {
            kind,
            name: String::new(),
            source: String::new(),
            destination,
            driver: String::new(),
            mode: String::new(),
            rw: true,
            propagation: String::new(),
            copy: false,
            anonymous: false,
            create_source: false,
            non_recursive: false,
            tmpfs_options: String::new(),
        }
    }

    /// Inspect's `Mounts` entry.
    pub fn to_api(&self) -> MountPoint {
        MountPoint {
            kind: self.kind.as_str().to_string(),
            name: self.name.clone(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            driver: self.driver.clone(),
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// A mount point whose volume, if it has one, does not exist yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub record: MountRecord,
    /// The volume to create (or to find, for a name that exists).
    pub volume: Option<NewVolume>,
}

/// Go's `path.Clean`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn invalid_spec(raw: &str) -> String {
    format!("invalid volume specification: '{raw}'")
}

fn mount_config(kind: &str, message: impl std::fmt::Display) -> String {
    format!("invalid mount config for type \"{kind}\": {message}")
}

/// The words a mode of `Binds` may have, by group; at most one of each.
fn mode_group(word: &str) -> Option<usize> {
    Some(match word {
        "rw" | "ro" => 0,
        "z" | "Z" => 1,
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => 2,
        "nocopy" => 3,
        "consistent" | "cached" | "delegated" => 4,
        _ => return None,
    })
}

fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0; 5];
    for word in mode.split(',') {
        match mode_group(word) {
            Some(group) => counts[group] += 1,
            None => return false,
        }
    }
    counts.iter().all(|c| *c <= 1)
}

fn mode_words(mode: &str) -> impl Iterator<Item = &str> {
    mode.split(',').filter(|w| !w.is_empty())
}

fn propagation_of(mode: &str) -> Option<&str> {
    mode_words(mode).find(|w| Propagation::parse(w).is_some())
}

/// Checks the target of a mount: present, not `/`, absolute.
fn check_target(kind: &str, target: &str) -> Result<String, String> {
    if target.is_empty() {
        return Err(mount_config(kind, "field Target must not be empty"));
    }
    let destination = clean(target);
    if destination == "/" {
        return Err(mount_config(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    if !target.starts_with('/') {
        return Err(mount_config(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    Ok(destination)
}

/// A volume mount point of `name` (empty: a new anonymous volume).
fn volume_point(
    destination: String,
    name: &str,
    driver: &str,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
) -> Result<Planned, ApiError> {
    let mut volume = NewVolume {
        name: name.to_string(),
        driver: driver.to_string(),
        labels,
        options,
    };
    let mut record = MountRecord::new(MountKind::Volume, destination);
    record.driver = volumes::LOCAL.to_string();
    record.copy = true;
    if name.is_empty() {
        record.anonymous = true;
        volume.name = volumes::random_name();
        volume
            .labels
            .insert(volumes::ANONYMOUS_LABEL.to_string(), String::new());
    }
    volume.validate()?;
    record.name = volume.name.clone();
    Ok(Planned {
        record,
        volume: Some(volume),
    })
}

/// One `Binds` entry: `[src:]dst[:mode]`, as dockerd's Linux parser reads it.
pub fn parse_bind(raw: &str, volume_driver: &str) -> Result<Planned, ApiError> {
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(ApiError::invalid(invalid_spec(raw)));
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [_, second] if valid_mode(second) => return Err(ApiError::invalid(invalid_spec(raw))),
        [source, target] => (*source, *target, ""),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(ApiError::invalid(invalid_spec(raw))),
    };
    if !valid_mode(mode) {
        return Err(ApiError::invalid(format!("invalid mode: {mode}")));
    }
    let wrap = |message: String| ApiError::invalid(format!("{}: {message}", invalid_spec(raw)));
    let bind = source.starts_with('/');
    let kind = if bind { "bind" } else { "volume" };
    let destination = check_target(kind, target).map_err(wrap)?;
    let rw = !mode_words(mode).any(|w| w == "ro");
    let nocopy = mode_words(mode).any(|w| w == "nocopy");
    let propagation = propagation_of(mode);
    let mut planned = if bind {
        if nocopy {
            return Err(wrap(mount_config(
                kind,
                "field VolumeOptions must not be specified",
            )));
        }
        let mut record = MountRecord::new(MountKind::Bind, destination);
        record.source = clean(source);
        record.propagation = propagation.unwrap_or("rprivate").to_string();
        record.create_source = true;
        Planned {
            record,
            volume: None,
        }
    } else {
        if propagation.is_some() {
            return Err(wrap(mount_config(
                kind,
                "field BindOptions must not be specified",
            )));
        }
        let mut planned = volume_point(
            destination,
            source,
            volume_driver,
            BTreeMap::new(),
            BTreeMap::new(),
        )?;
        planned.record.copy = !nocopy;
        planned
    };
    planned.record.rw = rw;
    planned.record.mode = if mode.is_empty() && !bind {
        "z".to_string()
    } else {
        mode.to_string()
    };
    Ok(planned)
}

/// One `Mounts` entry, checked as dockerd checks it at create (a bind's
/// source must exist unless `CreateMountpoint`).
pub fn parse_mount(mount: &Mount, volume_driver: &str) -> Result<Planned, ApiError> {
    let kind = mount.kind.as_str();
    let fail = |message: &str| Err(ApiError::invalid(mount_config(kind, message)));
    let destination = check_target(kind, &mount.target).map_err(ApiError::invalid)?;
    match kind {
        "bind" => {
            if mount.source.is_empty() {
                return fail("field Source must not be empty");
            }
            let options = mount.bind_options.clone().unwrap_or_default();
            if !options.propagation.is_empty() && Propagation::parse(&options.propagation).is_none()
            {
                return fail(&format!(
                    "invalid propagation mode: {}",
                    options.propagation
                ));
            }
            if mount.volume_options.is_some() {
                return fail("field VolumeOptions must not be specified");
            }
            if mount.tmpfs_options.is_some() {
                return fail("field TmpfsOptions must not be specified");
            }
            if !mount.source.starts_with('/') {
                return fail(&format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    mount.source
                ));
            }
            match std::fs::metadata(&mount.source) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if !options.create_mountpoint {
                        return fail(&format!(
                            "bind source path does not exist: {}",
                            mount.source
                        ));
                    }
                }
                Err(e) => return fail(&format!("{}: {e}", mount.source)),
            }
            let mut record = MountRecord::new(MountKind::Bind, destination);
            record.source = clean(&mount.source);
            record.rw = !mount.read_only;
            record.propagation = if options.propagation.is_empty() {
                "rprivate".to_string()
            } else {
                options.propagation.clone()
            };
            record.create_source = options.create_mountpoint;
            record.non_recursive = options.non_recursive;
            Ok(Planned {
                record,
                volume: None,
            })
        }
        "volume" => {
            if mount.bind_options.is_some() {
                return fail("field BindOptions must not be specified");
            }
            let options = mount.volume_options.clone().unwrap_or_default();
            if !options.subpath.is_empty() {
                return fail("volume subpaths are not supported");
            }
            if mount.read_only && mount.source.is_empty() {
                return fail("must not set ReadOnly mode when using anonymous volumes");
            }
            let driver = options.driver_config.clone().unwrap_or_default();
            let mut planned = volume_point(
                destination,
                &mount.source,
                if driver.name.is_empty() {
                    volume_driver
                } else {
                    &driver.name
                },
                options.labels.clone().unwrap_or_default(),
                driver.options.unwrap_or_default(),
            )?;
            planned.record.rw = !mount.read_only;
            planned.record.copy = !options.no_copy;
            planned.record.mode = "z".to_string();
            Ok(planned)
        }
        "tmpfs" => {
            if mount.bind_options.is_some() {
                return fail("field BindOptions must not be specified");
            }
            if !mount.source.is_empty() {
                return fail("field Source must not be specified");
            }
            let mut record = MountRecord::new(MountKind::Tmpfs, destination);
            record.rw = !mount.read_only;
            record.tmpfs_options = tmpfs_data(mount);
            berth_runtime::tmpfs_options(&record.tmpfs_options).map_err(ApiError::invalid)?;
            Ok(Planned {
                record,
                volume: None,
            })
        }
        _ => fail("mount type unknown"),
    }
}

/// A tmpfs mount's options from TmpfsOptions, as dockerd writes them:
/// `ro`, `mode=` in octal, `size=` with the largest unit that divides it.
fn tmpfs_data(mount: &Mount) -> String {
    let mut words = Vec::new();
    if mount.read_only {
        words.push("ro".to_string());
    }
    let options = mount.tmpfs_options.clone().unwrap_or_default();
    if options.mode != 0 {
        words.push(format!("mode={:o}", options.mode & 0o7777));
    }
    if options.size_bytes != 0 {
        let size = options.size_bytes;
        let unit = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
            .into_iter()
            .find(|(_, divisor)| size % divisor == 0);
        words.push(match unit {
            Some((suffix, divisor)) => format!("size={}{suffix}", size / divisor),
            None => format!("size={size}"),
        });
    }
    words.join(",")
}

/// `CONTAINER[:ro|:rw]` of `VolumesFrom`.
pub fn parse_volumes_from(spec: &str) -> Result<(&str, bool), ApiError> {
    if spec.is_empty() {
        return Err(ApiError::invalid(
            "volumes-from specification cannot be an empty string",
        ));
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id, true));
    }
    let allowed = valid_mode(mode)
        && propagation_of(mode).is_none()
        && !mode_words(mode).any(|w| w == "nocopy");
    if !allowed {
        return Err(ApiError::invalid(format!("invalid mode: {mode}")));
    }
    Ok((id, !mode_words(mode).any(|w| w == "ro")))
}

/// Every mount point of a new container, in dockerd's order of
/// precedence: another container's (`VolumesFrom`) first, replaced by
/// `Binds` and `Mounts` at the same destination (duplicates among those
/// two, or with `Tmpfs`, are refused), then an anonymous volume for each
/// `Config.Volumes` path nothing covers. `other` gives the mount points of
/// a container by reference (an unknown one is a 400, as with dockerd).
/// Nothing is created here.
pub fn plan(
    host: &HostConfig,
    config_volumes: Option<&BTreeMap<String, serde_json::Value>>,
    other: impl Fn(&str) -> Result<Vec<MountRecord>, ApiError>,
) -> Result<Vec<Planned>, ApiError> {
    let driver = host
        .extra
        .get("VolumeDriver")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let tmpfs = host.tmpfs.clone().unwrap_or_default();
    let mut points: BTreeMap<String, Planned> = BTreeMap::new();
    for spec in host.volumes_from.iter().flatten() {
        let (reference, rw) = parse_volumes_from(spec)?;
        // dockerd: a 400, so that the docker CLI does not try to pull the image.
        let records = other(reference).map_err(|e| ApiError::invalid(e.message))?;
        for mut record in records {
            record.rw = record.rw && rw;
            record.copy = false;
            record.mode = String::new();
            points.insert(
                record.destination.clone(),
                Planned {
                    record,
                    volume: None,
                },
            );
        }
    }
    let mut explicit: Vec<String> = Vec::new();
    let duplicate =
        |destination: &str| ApiError::invalid(format!("Duplicate mount point: {destination}"));
    for raw in host.binds.iter().flatten() {
        let planned = parse_bind(raw, driver)?;
        let destination = planned.record.destination.clone();
        if explicit.contains(&destination) || tmpfs.contains_key(&destination) {
            return Err(duplicate(&destination));
        }
        explicit.push(destination.clone());
        points.insert(destination, planned);
    }
    for mount in host.mounts.iter().flatten() {
        let planned = parse_mount(mount, driver)?;
        let destination = planned.record.destination.clone();
        if explicit.contains(&destination) {
            return Err(duplicate(&mount.target));
        }
        explicit.push(destination.clone());
        points.insert(destination, planned);
    }
    for path in config_volumes.into_iter().flat_map(BTreeMap::keys) {
        let destination = check_target("volume", path).map_err(ApiError::invalid)?;
        if points.contains_key(&destination) || tmpfs.contains_key(&destination) {
            continue;
        }
        let mut planned = volume_point(
            destination.clone(),
            "",
            driver,
            BTreeMap::new(),
            BTreeMap::new(),
        )?;
        planned.record.mode = String::new();
        points.insert(destination, planned);
    }
    Ok(points.into_values().collect())
}

/// Destinations with fewer components first, so that a parent is mounted
/// before what goes under it (a stable sort: equal depths keep their order).
pub(super) fn by_depth(mounts: &mut [MountRecord]) {
    mounts.sort_by_key(|m| Path::new(&m.destination).components().count());
}

/// Makes the missing directories of `path`, each new one owned by `owner`.
fn make_dirs(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let missing: Vec<PathBuf> = path
        .ancestors()
        .take_while(|p| std::fs::symlink_metadata(p).is_err())
        .map(Path::to_path_buf)
        .collect();
    for dir in missing.iter().rev() {
        match std::fs::DirBuilder::new().mode(0o755).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// What the runtime mounts for a container's mount points: bind mounts
/// (binds and volumes, parents first) and tmpfs mounts. Volumes are
/// mounted (driver options) and referenced as this container's; on an
/// error, whatever was mounted is released again.
fn runtime_mounts(
    store: &VolumeStore,
    id: &str,
    mut mounts: Vec<MountRecord>,
    owner: Option<(u32, u32)>,
) -> Result<(Vec<BindMount>, Vec<TmpfsMount>), ApiError> {
    by_depth(&mut mounts);
    let mut binds = Vec::new();
    let mut tmpfs = Vec::new();
    for mount in mounts {
        let propagation = Propagation::parse(&mount.propagation).unwrap_or_default();
        let source = match mount.kind {
            MountKind::Tmpfs => {
                tmpfs.push(TmpfsMount {
                    destination: mount.destination.clone(),
                    options: berth_runtime::tmpfs_options(&mount.tmpfs_options)
                        .map_err(ApiError::invalid)?,
                });
                continue;
            }
            MountKind::Bind => {
                let source = PathBuf::from(&mount.source);
                if std::fs::symlink_metadata(&source).is_err() {
                    if !mount.create_source {
                        return Err(ApiError::invalid(mount_config(
                            "bind",
                            format!("bind source path does not exist: {}", mount.source),
                        )));
                    }
                    make_dirs(&source, owner).map_err(|e| {
                        ApiError::system(format!(
                            "error while creating mount source path '{}': {e}",
                            mount.source
                        ))
                    })?;
                }
                source
            }
            MountKind::Volume => {
                store.mount(
                    &mount.name,
                    id,
                    &[
                        ("destination", mount.destination.clone()),
                        ("read/write", mount.rw.to_string()),
                        ("propagation", mount.propagation.clone()),
                    ],
                )?;
                store.mountpoint(&mount.name)
            }
        };
        binds.push(BindMount {
            source,
            destination: mount.destination,
            readonly: !mount.rw,
            recursive: !mount.non_recursive,
            propagation,
            copy_up: mount.kind == MountKind::Volume && mount.copy,
        });
    }
    Ok((binds, tmpfs))
}

/// What create made for a container's mounts.
pub struct Created {
    pub mounts: Vec<MountRecord>,
    /// Volumes that did not exist before.
    pub volumes: Vec<String>,
}

impl Engine {
    /// Plans a new container's mounts (`create`): every refusal comes
    /// from here, before anything exists.
    pub(super) fn plan_mounts(
        &self,
        host: &HostConfig,
        config_volumes: Option<&BTreeMap<String, serde_json::Value>>,
    ) -> Result<Vec<Planned>, ApiError> {
        plan(host, config_volumes, |reference| {
            Ok(self.lookup(reference)?.record().mounts.clone())
        })
    }

    /// Creates (or finds) the volumes of a plan, referenced by container
    /// `id`; on a failure, what was made is removed again.
    pub(super) async fn create_mounts(
        &self,
        id: &str,
        planned: Vec<Planned>,
    ) -> Result<Created, ApiError> {
        let store = self.volumes.clone();
        let id = id.to_string();
        blocking(move || {
            let mut created = Created {
                mounts: Vec::new(),
                volumes: Vec::new(),
            };
            for Planned { mut record, volume } in planned {
                if let Some(volume) = volume {
                    match store.create(volume, Some(&id)) {
                        Ok((volume, new)) => {
                            record.source = store.mountpoint(&volume.name).display().to_string();
                            if new {
                                created.volumes.push(volume.name);
                            }
                        }
                        Err(e) => {
                            undo(&store, &id, &created.volumes);
                            return Err(e);
                        }
                    }
                } else if record.kind == MountKind::Volume {
                    if let Err(e) = store.reference(&record.name, &id, false) {
                        undo(&store, &id, &created.volumes);
                        return Err(e);
                    }
                }
                created.mounts.push(record);
            }
            Ok(created)
        })
        .await
    }

    /// Takes back what [`Engine::create_mounts`] did, for a create that
    /// failed after it.
    pub(super) async fn undo_mounts(&self, id: &str, created: Vec<String>) {
        let store = self.volumes.clone();
        let id = id.to_string();
        let _ = blocking(move || {
            undo(&store, &id, &created);
            Ok(())
        })
        .await;
    }

    /// The runtime's mounts for a start, volumes mounted and referenced.
    pub(super) async fn prepare_mounts(
        &self,
        record: &Record,
    ) -> Result<(Vec<BindMount>, Vec<TmpfsMount>), ApiError> {
        let store = self.volumes.clone();
        let id = record.id.clone();
        let mounts = record.mounts.clone();
        let owner = self
            .userns_remap
            .as_ref()
            .filter(|_| !super::security::shares_host_userns(&record.host_config))
            .and_then(berth_runtime::UserNamespace::host_root);
        blocking(move || {
            let prepared = runtime_mounts(&store, &id, mounts, owner);
            if prepared.is_err() {
                store.release(&id);
            }
            prepared
        })
        .await
    }

    /// A container stopped (or failed to start): its volumes are released.
    pub(super) async fn release_mounts(&self, id: &str) {
        let store = self.volumes.clone();
        let id = id.to_string();
        let _ = blocking(move || {
            store.release(&id);
            Ok(())
        })
        .await;
    }

    /// A container is gone: it references no volume any more, and with
    /// `remove_anonymous` (`rm -v`, AutoRemove) its anonymous volumes go
    /// too, unless another container still uses them.
    pub(super) async fn forget_mounts(&self, record: &Record, remove_anonymous: bool) {
        let store = self.volumes.clone();
        let id = record.id.clone();
        let anonymous: Vec<String> = record
            .mounts
            .iter()
            .filter(|m| remove_anonymous && m.kind == MountKind::Volume && m.anonymous)
            .map(|m| m.name.clone())
            .collect();
        let _ = blocking(move || {
            store.forget_container(&id);
            for name in anonymous {
                match store.remove(&name, true) {
                    Ok(_) => {}
                    Err(e) if e.kind == berth_api::ErrorKind::Conflict => {}
                    Err(e) => {
                        tracing::warn!(volume = %name, error = %e, "removing anonymous volume")
                    }
                }
            }
            Ok(())
        })
        .await;
    }

    /// At daemon start: each container's references, and the volumes
    /// running ones have mounted; stale mounts of unused volumes go.
    pub(super) fn restore_volumes(&self, containers: &[Arc<super::Container>]) {
        for container in containers {
            let record = container.record();
            for mount in record.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
                if let Err(e) = self
                    .volumes
                    .reference(&mount.name, &record.id, record.running())
                {
                    tracing::warn!(container = %record.id, error = %e, "container uses a missing volume");
                }
            }
        }
        self.volumes.unmount_unused();
    }
}

fn undo(store: &VolumeStore, id: &str, created: &[String]) {
    store.forget_container(id);
    for name in created {
        if let Err(e) = store.remove(name, true) {
            tracing::warn!(volume = %name, error = %e, "removing the volume of a failed create");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::container::{BindOptions, TmpfsOptions, VolumeOptions};

    fn refusal(raw: &str) -> String {
        let e = parse_bind(raw, "").unwrap_err();
        assert_eq!(e.status(), 400, "{raw}");
        e.message
    }

    #[test]
    fn paths_clean_as_go_does() {
        for (given, want) in [
            ("/a//b/./c/", "/a/b/c"),
            ("/../a", "/a"),
            ("/a/b/..", "/a"),
            ("a/../../b", "../b"),
            ("", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(given), want, "{given}");
        }
    }

    #[test]
    fn binds_parse_as_dockerd_parses_them() {
        let bind = parse_bind("/host/dir/:/data:ro,z", "").unwrap();
        assert!(bind.volume.is_none());
        let r = bind.record;
        assert_eq!(r.kind, MountKind::Bind);
        assert_eq!(
            (r.source.as_str(), r.destination.as_str()),
            ("/host/dir", "/data")
        );
        assert_eq!((r.mode.as_str(), r.rw), ("ro,z", false));
        assert_eq!(r.propagation, "rprivate");
        assert!(r.create_source);

        let r = parse_bind("/h:/d:rshared", "").unwrap().record;
        assert_eq!((r.propagation.as_str(), r.rw), ("rshared", true));

        let named = parse_bind("cache:/var/cache", "").unwrap();
        let r = &named.record;
        assert_eq!((r.kind, r.name.as_str()), (MountKind::Volume, "cache"));
        assert_eq!((r.mode.as_str(), r.driver.as_str()), ("z", "local"));
        assert!(r.copy && !r.anonymous && r.propagation.is_empty());
        assert_eq!(named.volume.unwrap().name, "cache");

        let r = parse_bind("cache:/c:nocopy,ro", "").unwrap().record;
        assert!(!r.copy && !r.rw);
        assert_eq!(r.mode, "nocopy,ro");

        let anonymous = parse_bind("/only/target", "").unwrap();
        assert!(anonymous.record.anonymous);
        assert_eq!(anonymous.record.name.len(), 64);
        let volume = anonymous.volume.unwrap();
        assert_eq!(volume.name, anonymous.record.name);
        assert!(volume.labels.contains_key(volumes::ANONYMOUS_LABEL));
    }

    #[test]
    fn bad_binds_get_dockerds_messages() {
        assert_eq!(refusal("/a:/b:xyz"), "invalid mode: xyz");
        assert_eq!(refusal("/a:/b:ro,rw"), "invalid mode: ro,rw");
        assert_eq!(
            refusal("/data:rw"),
            "invalid volume specification: '/data:rw'"
        );
        assert_eq!(refusal(":/x"), "invalid volume specification: ':/x'");
        assert_eq!(
            refusal("/a:/b:ro:x"),
            "invalid volume specification: '/a:/b:ro:x'"
        );
        assert_eq!(
            refusal("vol:relative"),
            "invalid volume specification: 'vol:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute"
        );
        assert_eq!(
            refusal("/a:/"),
            "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            refusal("/a:/b:nocopy"),
            "invalid volume specification: '/a:/b:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"
        );
        assert!(refusal("vol:/b:rslave").ends_with("field BindOptions must not be specified"));
        assert!(refusal("../x:/data").starts_with("create ../x: \"../x\" includes invalid"));
        let e = parse_bind("v1:/d", "flocker").unwrap_err();
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn mounts_are_checked_as_dockerd_checks_them() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().display().to_string();
        let mount = |kind: &str, source: &str, target: &str| Mount {
            kind: kind.to_string(),
            source: source.to_string(),
            target: target.to_string(),
            ..Mount::default()
        };
        let r = parse_mount(&mount("bind", &source, "/x"), "")
            .unwrap()
            .record;
        assert_eq!((r.mode.as_str(), r.propagation.as_str()), ("", "rprivate"));
        assert!(!r.create_source);
        let e = parse_mount(&mount("bind", "/nope/nothing", "/x"), "").unwrap_err();
        assert_eq!(
            e.message,
            "invalid mount config for type \"bind\": bind source path does not exist: /nope/nothing"
        );
        let creating = Mount {
            bind_options: Some(BindOptions {
                create_mountpoint: true,
                ..BindOptions::default()
            }),
            ..mount("bind", "/nope/nothing", "/x")
        };
        assert!(parse_mount(&creating, "").unwrap().record.create_source);
        assert_eq!(
            parse_mount(&mount("bind", &source, "x"), "").unwrap_err().message,
            "invalid mount config for type \"bind\": invalid mount path: 'x' mount path must be absolute"
        );
        assert!(parse_mount(&mount("bind", &source, "/"), "")
            .unwrap_err()
            .message
            .ends_with("destination can't be '/'"));
        assert_eq!(
            parse_mount(&mount("tmpfs", "src", "/t"), "")
                .unwrap_err()
                .message,
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            parse_mount(&mount("npipe", "", "/t"), "")
                .unwrap_err()
                .message,
            "invalid mount config for type \"npipe\": mount type unknown"
        );
        let anonymous_ro = Mount {
            read_only: true,
            ..mount("volume", "", "/v")
        };
        assert!(parse_mount(&anonymous_ro, "")
            .unwrap_err()
            .message
            .ends_with("must not set ReadOnly mode when using anonymous volumes"));

        let volume = Mount {
            volume_options: Some(VolumeOptions {
                no_copy: true,
                labels: Some([("a".to_string(), "b".to_string())].into()),
                ..VolumeOptions::default()
            }),
            ..mount("volume", "data", "/v/")
        };
        let planned = parse_mount(&volume, "").unwrap();
        assert_eq!(planned.record.destination, "/v");
        assert_eq!(planned.record.mode, "z");
        assert!(!planned.record.copy && !planned.record.anonymous);
        assert_eq!(planned.volume.unwrap().labels["a"], "b");

        let tmpfs = Mount {
            read_only: true,
            tmpfs_options: Some(TmpfsOptions {
                size_bytes: 10 << 20,
                mode: 0o1770,
            }),
            ..mount("tmpfs", "", "/t")
        };
        let r = parse_mount(&tmpfs, "").unwrap().record;
        assert_eq!(r.tmpfs_options, "ro,mode=1770,size=10m");
        assert!(!r.rw);
    }

    fn host(value: serde_json::Value) -> HostConfig {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn plans_follow_dockerds_precedence_and_refuse_duplicates() {
        let from = MountRecord {
            name: "shared".into(),
            copy: true,
            mode: "z".into(),
            ..MountRecord::new(MountKind::Volume, "/shared".into())
        };
        let other = |reference: &str| match reference {
            "box" => Ok(vec![from.clone()]),
            other => Err(ApiError::no_such_container(other)),
        };
        let config_volumes: BTreeMap<String, serde_json::Value> = [
            ("/cache".to_string(), serde_json::json!({})),
            ("/data".to_string(), serde_json::json!({})),
            ("/run".to_string(), serde_json::json!({})),
        ]
        .into();
        let planned = plan(
            &host(serde_json::json!({
                "Binds": ["/h:/data"],
                "VolumesFrom": ["box:ro"],
                "Tmpfs": {"/run": ""},
            })),
            Some(&config_volumes),
            other,
        )
        .unwrap();
        let records: Vec<&MountRecord> = planned.iter().map(|p| &p.record).collect();
        let destinations: Vec<&str> = records.iter().map(|r| r.destination.as_str()).collect();
        assert_eq!(destinations, ["/cache", "/data", "/shared"]);
        assert!(records[0].anonymous && records[0].copy && records[0].mode.is_empty());
        assert_eq!(records[1].kind, MountKind::Bind);
        assert!(!records[2].rw && !records[2].copy && records[2].mode.is_empty());
        assert!(planned[2].volume.is_none());

        let refusal = |value: serde_json::Value| plan(&host(value), None, other).unwrap_err();
        assert_eq!(
            refusal(serde_json::json!({"Binds": ["/a:/x", "v1:/x/"]})).message,
            "Duplicate mount point: /x"
        );
        assert_eq!(
            refusal(serde_json::json!({"Binds": ["/a:/run"], "Tmpfs": {"/run": ""}})).message,
            "Duplicate mount point: /run"
        );
        assert_eq!(
            refusal(serde_json::json!({
                "Binds": ["/a:/x"],
                "Mounts": [{"Type": "tmpfs", "Target": "/x"}]
            }))
            .message,
            "Duplicate mount point: /x"
        );
        let e = refusal(serde_json::json!({"VolumesFrom": ["nobody"]}));
        assert_eq!(
            (e.status(), e.message.as_str()),
            (400, "No such container: nobody")
        );
        assert_eq!(
            refusal(serde_json::json!({"VolumesFrom": ["box:rshared"]})).message,
            "invalid mode: rshared"
        );
    }

    #[test]
    fn parents_are_mounted_first() {
        let mut mounts: Vec<MountRecord> = ["/a/b/c", "/a", "/z", "/a/b"]
            .iter()
            .map(|d| MountRecord::new(MountKind::Bind, d.to_string()))
            .collect();
        by_depth(&mut mounts);
        let order: Vec<&str> = mounts.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(order, ["/a", "/z", "/a/b", "/a/b/c"]);
    }

    #[test]
    fn missing_bind_sources_are_made_with_their_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("x/y/z");
        make_dirs(&deep, None).unwrap();
        assert!(deep.is_dir());
        make_dirs(&deep, None).unwrap();
    }

    #[test]
    fn mount_records_load_with_defaults() {
        let r: MountRecord = serde_json::from_value(serde_json::json!({
            "kind": "bind", "destination": "/d", "rw": true
        }))
        .unwrap();
        assert_eq!(r.kind, MountKind::Bind);
        assert_eq!(r.to_api().kind, "bind");
    }
}
