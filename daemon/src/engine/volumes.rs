//! Volumes, with Docker's `local` driver: each one is a directory
//! `<data-root>/volumes/<name>/` holding `_data` (what containers see) and
//! `volume.json` (name, labels, driver options, creation time), written
//! atomically once `_data` exists and loaded when berthd starts.
//!
//! The store knows which containers reference each volume (rebuilt from
//! the container records at start), so that a volume in use is never
//! removed, and which running containers have it mounted: a volume with
//! driver options (`type`, `device`, `o`, as mount(8) takes them) is
//! mounted on its `_data` when the first of them starts and unmounted when
//! the last one stops. A removed volume is first unmounted and renamed to
//! `.trash-<random>` (never a volume name), then deleted outside the lock;
//! berthd finishes such leftovers at start.

use super::container::write_atomic;
use super::events::{Event, EventBus};
use super::{blocking, Engine};
use berth_api::volume::{
    UsageData, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use berth_api::{ApiError, ErrorKind, Filters};
use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The label Docker puts on volumes created without a name.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";
/// The only driver there is.
pub const LOCAL: &str = "local";
const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";
const METADATA: &str = "volume.json";
const DATA: &str = "_data";
const TRASH_PREFIX: &str = ".trash-";
/// The local driver's options.
const OPTION_KEYS: [&str; 4] = ["type", "device", "o", "size"];

/// One volume as persisted in `volume.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeRecord {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options: `type`, `device`, `o`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339, seconds precision, as Docker shows it.
    pub created_at: String,
}

impl VolumeRecord {
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// A volume to create: from `POST /volumes/create` or a container's mount.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewVolume {
    /// Empty: a new anonymous volume with a random name.
    pub name: String,
    /// Empty or `local`.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

impl NewVolume {
    /// Docker's refusals of a name, a driver or options, before anything
    /// exists; each message starts with `create NAME: `, as dockerd's.
    pub fn validate(&self) -> Result<(), ApiError> {
        let op = |kind: ErrorKind, message: String| {
            ApiError::new(kind, format!("create {}: {message}", self.name))
        };
        if !matches!(self.driver.as_str(), "" | LOCAL) {
            return Err(op(
                ErrorKind::NotFound,
                format!(
                    "error looking up volume plugin {0}: plugin \"{0}\" not found",
                    self.driver
                ),
            ));
        }
        if !self.name.is_empty() {
            name_error(&self.name).map_or(Ok(()), |e| Err(op(ErrorKind::InvalidParameter, e)))?;
        }
        options_error(&self.options).map_or(Ok(()), |e| Err(op(ErrorKind::InvalidParameter, e)))
    }
}

/// Why `name` is not a local volume name, in dockerd's words.
fn name_error(name: &str) -> Option<String> {
    if name.len() == 1 {
        return Some(
            "volume name is too short, names should be at least two alphanumeric characters"
                .to_string(),
        );
    }
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    (!first_ok || !rest_ok).then(|| {
        format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"{NAME_CHARS}\" are allowed. If you intended to pass a host directory, use absolute path"
        )
    })
}

/// Why the local driver refuses `options`, in dockerd's words.
fn options_error(options: &BTreeMap<String, String>) -> Option<String> {
    if let Some(key) = options.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
        return Some(format!("invalid option key: {key:?}"));
    }
    if options.contains_key("size") {
        return Some("quota size requested but no quota support".to_string());
    }
    let required: [(&str, &[&str]); 3] = [
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (given, needs) in required {
        if options.contains_key(given) {
            if let Some(missing) = needs.iter().find(|n| !options.contains_key(**n)) {
                return Some(format!("missing required option: {missing:?}"));
            }
        }
    }
    None
}

fn no_such_volume(op: &str, name: &str) -> ApiError {
    ApiError::not_found(format!("{op} {name}: no such volume"))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> ApiError {
    ApiError::system(format!("{what} {}: {e}", path.display()))
}

/// 64 random hex digits, as Docker names anonymous volumes.
pub fn random_name() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

struct Entry {
    record: VolumeRecord,
    /// Containers whose mounts name this volume, running or not.
    refs: BTreeSet<String>,
    /// Running containers that have it mounted.
    active: BTreeSet<String>,
}

/// Where a volume's files are, for [`VolumeStore::files`].
#[derive(Debug, PartialEq)]
pub struct VolumeFiles {
    pub path: PathBuf,
    /// Read-only by the volume's own options.
    pub read_only: bool,
    /// With the submounts of `path`.
    pub recursive: bool,
}

/// Every volume of this daemon.
pub struct VolumeStore {
    dir: PathBuf,
    /// The host ids of a remapped container root (`--userns-remap`): it
    /// owns each `_data`.
    owner: Option<(u32, u32)>,
    events: Arc<EventBus>,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl VolumeStore {
    /// Loads the volumes under `dir`, finishing removals and dropping
    /// half-created volumes (no `volume.json`, nothing in `_data`).
    pub fn open(
        dir: PathBuf,
        owner: Option<(u32, u32)>,
        events: Arc<EventBus>,
    ) -> anyhow::Result<VolumeStore> {
        use anyhow::Context;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let mut entries = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() {
                continue;
            }
            if name.starts_with(TRASH_PREFIX) {
                purge(&path);
                continue;
            }
            match load(&path, &name) {
                Some(record) => {
                    entries.insert(
                        name,
                        Entry {
                            record,
                            refs: BTreeSet::new(),
                            active: BTreeSet::new(),
                        },
                    );
                }
                None => {
                    tracing::warn!(volume = %name, "removing half-created volume");
                    purge(&path);
                }
            }
        }
        Ok(VolumeStore {
            dir,
            owner,
            events,
            entries: Mutex::new(entries),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host directory containers see.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA)
    }

    /// Where the files of volume `name` are to be bound from for a
    /// container that is not running: a bind volume's (`o=bind`) device
    /// itself, as its options mount it, whether or not it is mounted now;
    /// any other volume's `_data` as it is (mounted only while a container
    /// runs with it, when it has driver options).
    pub fn files(&self, name: &str) -> VolumeFiles {
        let options = self
            .lock()
            .get(name)
            .map(|entry| entry.record.options.clone())
            .unwrap_or_default();
        let (flags, _) = parse_mount_options(options.get("o").map(String::as_str).unwrap_or(""));
        match options.get("device").filter(|d| !d.is_empty()) {
            Some(device) if flags.contains(MsFlags::MS_BIND) => VolumeFiles {
                path: PathBuf::from(device),
                read_only: flags.contains(MsFlags::MS_RDONLY),
                recursive: flags.contains(MsFlags::MS_REC),
            },
            _ => VolumeFiles {
                path: self.mountpoint(name),
                read_only: false,
                recursive: true,
            },
        }
    }

    fn event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut event = Event::new("volume", action, name).with("driver", LOCAL);
        for (k, v) in extra {
            event = event.with(k, v.clone());
        }
        self.events.publish(event);
    }

    /// Creates a volume, or returns the one of that name (Docker's create
    /// is idempotent); `reference` (a container id) then uses it, in the
    /// same step, so that no removal can come between. The flag says
    /// whether it is new.
    pub fn create(
        &self,
        mut new: NewVolume,
        reference: Option<&str>,
    ) -> Result<(VolumeRecord, bool), ApiError> {
        new.validate()?;
        if new.name.is_empty() {
            new.name = random_name();
            new.labels
                .insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(&new.name) {
            if let Some(id) = reference {
                entry.refs.insert(id.to_string());
            }
            return Ok((entry.record.clone(), false));
        }
        let record = VolumeRecord {
            name: new.name,
            labels: new.labels,
            options: new.options,
            created_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let dir = self.dir.join(&record.name);
        let data = dir.join(DATA);
        let made = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&data)
            .map_err(|e| io_error("creating volume", &data, e))
            .and_then(|()| match self.owner {
                Some((uid, gid)) => std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                    .map_err(|e| io_error("chowning", &data, e)),
                None => Ok(()),
            })
            .and_then(|()| {
                let bytes = serde_json::to_vec_pretty(&record).expect("volume records serialize");
                let path = dir.join(METADATA);
                write_atomic(&path, &bytes).map_err(|e| io_error("writing", &path, e))
            });
        if let Err(e) = made {
            purge(&dir);
            return Err(e);
        }
        entries.insert(
            record.name.clone(),
            Entry {
                record: record.clone(),
                refs: reference.map(|id| id.to_string()).into_iter().collect(),
                active: BTreeSet::new(),
            },
        );
        drop(entries);
        tracing::info!(volume = %record.name, "volume created");
        self.event("create", &record.name, &[]);
        Ok((record, true))
    }

    pub fn get(&self, name: &str) -> Result<VolumeRecord, ApiError> {
        self.lock()
            .get(name)
            .map(|e| e.record.clone())
            .ok_or_else(|| no_such_volume("get", name))
    }

    /// Every volume with the number of containers referencing it.
    pub fn list(&self) -> Vec<(VolumeRecord, usize)> {
        self.lock()
            .values()
            .map(|e| (e.record.clone(), e.refs.len()))
            .collect()
    }

    /// Removes a volume no container references (409 otherwise); with
    /// `force`, a missing one is no error. Returns the bytes freed.
    pub fn remove(&self, name: &str, force: bool) -> Result<u64, ApiError> {
        match self.take(name) {
            Ok(trash) => {
                let size = size_of(&trash.join(DATA));
                purge(&trash);
                self.event("destroy", name, &[]);
                tracing::info!(volume = %name, "volume removed");
                Ok(size)
            }
            Err(e) if force && e.kind == ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Takes an unreferenced volume out of the table and its directory out
    /// of the way (unmounted, renamed to a trash name).
    fn take(&self, name: &str) -> Result<PathBuf, ApiError> {
        let mut entries = self.lock();
        let entry = entries
            .get(name)
            .ok_or_else(|| no_such_volume("get", name))?;
        if !entry.refs.is_empty() {
            let refs: Vec<&str> = entry.refs.iter().map(String::as_str).collect();
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                refs.join(", ")
            )));
        }
        let dir = self.dir.join(name);
        unmount_under(&dir).map_err(|e| ApiError::system(format!("remove {name}: {e}")))?;
        let trash = self.dir.join(format!("{TRASH_PREFIX}{}", random_name()));
        match std::fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ApiError::system(format!("remove {name}: {e}"))),
        }
        entries.remove(name);
        Ok(trash)
    }

    /// Records that container `id` uses volume `name`, and with `mounted`
    /// that it has it mounted (a running container, at daemon start).
    pub fn reference(&self, name: &str, id: &str, mounted: bool) -> Result<(), ApiError> {
        let mut entries = self.lock();
        let entry = entries
            .get_mut(name)
            .ok_or_else(|| no_such_volume("get", name))?;
        entry.refs.insert(id.to_string());
        if mounted {
            entry.active.insert(id.to_string());
        }
        Ok(())
    }

    /// Unmounts volumes with driver options that no running container
    /// uses (left mounted by a daemon that died), after the references
    /// are restored.
    pub fn unmount_unused(&self) {
        let entries = self.lock();
        for (name, entry) in entries.iter() {
            if entry.active.is_empty() && !entry.record.options.is_empty() {
                if let Err(e) = unmount_under(&self.mountpoint(name)) {
                    tracing::warn!(volume = %name, error = %e, "cannot unmount unused volume");
                }
            }
        }
    }

    /// Container `id` no longer exists: it references nothing.
    pub fn forget_container(&self, id: &str) {
        for entry in self.lock().values_mut() {
            entry.refs.remove(id);
            entry.active.remove(id);
        }
    }

    /// Container `id` starts with volume `name` mounted: its data
    /// directory is made if missing, and a volume with driver options is
    /// mounted when it is the first user. `attributes` go with the
    /// `mount` event.
    pub fn mount(
        &self,
        name: &str,
        id: &str,
        attributes: &[(&str, String)],
    ) -> Result<(), ApiError> {
        let mut entries = self.lock();
        let entry = entries
            .get_mut(name)
            .ok_or_else(|| no_such_volume("get", name))?;
        let data = self.dir.join(name).join(DATA);
        if !data.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&data)
                .map_err(|e| io_error("creating volume", &data, e))?;
        }
        if entry.active.is_empty() && !entry.record.options.is_empty() {
            mount_local(&entry.record.options, &data).map_err(ApiError::system)?;
            tracing::info!(volume = %name, "volume mounted");
        }
        entry.active.insert(id.to_string());
        entry.refs.insert(id.to_string());
        drop(entries);
        let mut extra = vec![("container", id.to_string())];
        extra.extend(attributes.iter().map(|(k, v)| (*k, v.clone())));
        self.event("mount", name, &extra);
        Ok(())
    }

    /// Container `id` stopped: its volumes are released, and unmounted
    /// where it was the last user.
    pub fn release(&self, id: &str) {
        let mut released = Vec::new();
        let mut entries = self.lock();
        for (name, entry) in entries.iter_mut() {
            if !entry.active.remove(id) {
                continue;
            }
            if entry.active.is_empty() && !entry.record.options.is_empty() {
                match unmount_under(&self.mountpoint(name)) {
                    Ok(()) => tracing::info!(volume = %name, "volume unmounted"),
                    Err(e) => tracing::warn!(volume = %name, error = %e, "cannot unmount volume"),
                }
            }
            released.push(name.clone());
        }
        drop(entries);
        for name in released {
            self.event("unmount", &name, &[("container", id.to_string())]);
        }
    }

    /// Bytes used by a volume (files counted once per inode, as Docker does).
    pub fn size(&self, name: &str) -> u64 {
        size_of(&self.dir.join(name).join(DATA))
    }
}

/// A volume's record from its directory; `None` for a half-created one.
/// A volume whose metadata is lost but whose data is not keeps its data.
fn load(dir: &Path, name: &str) -> Option<VolumeRecord> {
    let bytes = std::fs::read(dir.join(METADATA)).ok();
    if let Some(record) = bytes.and_then(|b| serde_json::from_slice::<VolumeRecord>(&b).ok()) {
        return Some(VolumeRecord {
            name: name.to_string(),
            ..record
        });
    }
    let data = dir.join(DATA);
    let empty = std::fs::read_dir(&data).map_or(true, |mut d| d.next().is_none());
    if empty || name_error(name).is_some() {
        return None;
    }
    let created = std::fs::metadata(&data)
        .ok()
        .and_then(|m| chrono::DateTime::from_timestamp(m.mtime(), 0))
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default();
    tracing::warn!(volume = %name, "volume without metadata: kept with no labels or options");
    Some(VolumeRecord {
        name: name.to_string(),
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created_at: created,
    })
}

/// Deletes a directory, but never through a mount: anything mounted below
/// it is unmounted first, and if that fails it is left alone.
fn purge(dir: &Path) {
    if let Err(e) = unmount_under(dir) {
        tracing::error!(path = %dir.display(), error = %e, "still mounted; not removing");
        return;
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %dir.display(), error = %e, "removing volume directory"),
    }
}

/// Mount points at or below `dir` in this mount namespace, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|path| path.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(digits) => {
                out.push(
                    digits
                        .iter()
                        .fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches everything mounted at or below `dir` and checks that nothing is left.
fn unmount_under(dir: &Path) -> Result<(), String> {
    for _ in 0..8 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            return Ok(());
        }
        for target in mounts {
            match nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(format!("unmounting {}: {e}", target.display())),
            }
        }
    }
    match mounts_under(dir).first() {
        None => Ok(()),
        Some(left) => Err(format!("{} is still mounted", left.display())),
    }
}

/// A mount(8) option word: the flags it sets, and whether it clears them.
fn option_flag(word: &str) -> Option<(MsFlags, bool)> {
    use MsFlags as F;
    Some(match word {
        "defaults" => (F::empty(), false),
        "ro" => (F::MS_RDONLY, false),
        "rw" => (F::MS_RDONLY, true),
        "suid" => (F::MS_NOSUID, true),
        "nosuid" => (F::MS_NOSUID, false),
        "dev" => (F::MS_NODEV, true),
        "nodev" => (F::MS_NODEV, false),
        "exec" => (F::MS_NOEXEC, true),
        "noexec" => (F::MS_NOEXEC, false),
        "sync" => (F::MS_SYNCHRONOUS, false),
        "async" => (F::MS_SYNCHRONOUS, true),
        "dirsync" => (F::MS_DIRSYNC, false),
        "remount" => (F::MS_REMOUNT, false),
        "mand" => (F::MS_MANDLOCK, false),
        "nomand" => (F::MS_MANDLOCK, true),
        "atime" => (F::MS_NOATIME, true),
        "noatime" => (F::MS_NOATIME, false),
        "diratime" => (F::MS_NODIRATIME, true),
        "nodiratime" => (F::MS_NODIRATIME, false),
        "bind" => (F::MS_BIND, false),
        "rbind" => (F::MS_BIND | F::MS_REC, false),
        "unbindable" => (F::MS_UNBINDABLE, false),
        "runbindable" => (F::MS_UNBINDABLE | F::MS_REC, false),
        "private" => (F::MS_PRIVATE, false),
        "rprivate" => (F::MS_PRIVATE | F::MS_REC, false),
        "shared" => (F::MS_SHARED, false),
        "rshared" => (F::MS_SHARED | F::MS_REC, false),
        "slave" => (F::MS_SLAVE, false),
        "rslave" => (F::MS_SLAVE | F::MS_REC, false),
        "relatime" => (F::MS_RELATIME, false),
        "norelatime" => (F::MS_RELATIME, true),
        "strictatime" => (F::MS_STRICTATIME, false),
        "nostrictatime" => (F::MS_STRICTATIME, true),
        _ => return None,
    })
}

/// mount(2) flags and data of an `o` option.
fn parse_mount_options(options: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in options.split(',').filter(|w| !w.is_empty()) {
        match option_flag(word) {
            Some((bits, true)) => flags.remove(bits),
            Some((bits, false)) => flags.insert(bits),
            None => data.push(word),
        }
    }
    (flags, data.join(","))
}

/// Mounts a volume's `device` of `type` with options `o` on its data
/// directory, as the local driver does: the mount, then its propagation,
/// then a read-only remount of a read-only bind.
fn mount_local(options: &BTreeMap<String, String>, target: &Path) -> Result<(), String> {
    use nix::mount::mount;
    let device = options.get("device").map(String::as_str).unwrap_or("");
    let kind = options.get("type").map(String::as_str).unwrap_or("");
    if device.is_empty() {
        return Err("missing device in volume options".to_string());
    }
    let (flags, data) = parse_mount_options(options.get("o").map(String::as_str).unwrap_or(""));
    let failed = |e: nix::errno::Errno| {
        format!(
            "failed to mount local volume: mount {device}:{}, data: {data}: {}",
            target.display(),
            e.desc().to_lowercase()
        )
    };
    let propagation =
        MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    let own = flags - propagation;
    if !own.contains(MsFlags::MS_REMOUNT) || !data.is_empty() {
        mount(
            Some(device),
            target,
            Some(kind),
            own,
            Some(data.as_str()).filter(|d| !d.is_empty()),
        )
        .map_err(failed)?;
    }
    let undo = |e| {
        let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        failed(e)
    };
    if flags.intersects(propagation) {
        let kind = flags & (propagation | MsFlags::MS_REC | MsFlags::MS_SILENT);
        mount(None::<&str>, target, None::<&str>, kind, None::<&str>).map_err(undo)?;
    }
    if own.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            own | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .map_err(undo)?;
    }
    Ok(())
}

/// Bytes in the files below `dir`, each inode counted once, symlinks not
/// followed, directories not counted (Docker's `directory.Size`).
pub(super) fn size_of(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.len() > 0 && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

/// Docker's boolean filter values.
fn filter_bool(key: &str, values: &[String]) -> Result<Option<bool>, ApiError> {
    match values {
        [] => Ok(None),
        [one] => match one.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(ApiError::invalid(format!("invalid filter '{key}={one}'"))),
        },
        many => Err(ApiError::invalid(format!(
            "invalid filter '{key}=[{}]'",
            many.join(" ")
        ))),
    }
}

impl Engine {
    /// A volume as the API shows it.
    fn volume_view(&self, record: &VolumeRecord) -> Volume {
        Volume {
            name: record.name.clone(),
            driver: LOCAL.to_string(),
            mountpoint: self.volumes.mountpoint(&record.name).display().to_string(),
            created_at: record.created_at.clone(),
            labels: Some(record.labels.clone()).filter(|l| !l.is_empty()),
            options: Some(record.options.clone()).filter(|o| !o.is_empty()),
            scope: LOCAL.to_string(),
            status: None,
            usage_data: None,
        }
    }

    /// `POST /volumes/create`.
    pub async fn create_volume(&self, request: VolumeCreateRequest) -> Result<Volume, ApiError> {
        let new = NewVolume {
            name: request.name,
            driver: request.driver,
            labels: request.labels.unwrap_or_default(),
            options: request.driver_opts.unwrap_or_default(),
        };
        let store = self.volumes.clone();
        let (record, _) = blocking(move || store.create(new, None)).await?;
        Ok(self.volume_view(&record))
    }

    /// `GET /volumes/{name}`.
    pub fn inspect_volume(&self, name: &str) -> Result<Volume, ApiError> {
        Ok(self.volume_view(&self.volumes.get(name)?))
    }

    /// `GET /volumes`: filters `name` (substring), `label`, `dangling`,
    /// `driver`.
    pub fn list_volumes(&self, filters: &Filters) -> Result<VolumeListResponse, ApiError> {
        filters.validate(&["name", "label", "dangling", "driver"])?;
        let dangling = filter_bool("dangling", filters.get("dangling"))?;
        let volumes = self
            .volumes
            .list()
            .into_iter()
            .filter(|(record, refs)| {
                filters
                    .get("name")
                    .iter()
                    .all(|n| record.name.contains(n.as_str()))
                    && filters.get("driver").iter().all(|d| d == LOCAL)
                    && filters.labels_match(&record.labels)
                    && dangling.is_none_or(|d| d == (*refs == 0))
            })
            .map(|(record, _)| self.volume_view(&record))
            .collect();
        Ok(VolumeListResponse {
            volumes,
            warnings: Vec::new(),
        })
    }

    /// `DELETE /volumes/{name}`.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let store = self.volumes.clone();
        let name = name.to_string();
        blocking(move || store.remove(&name, force).map(|_| ())).await
    }

    /// `POST /volumes/prune`: unused volumes, only anonymous ones unless
    /// the `all` filter says otherwise (`all_by_default` for API < 1.42);
    /// filters `label` and `label!`.
    pub async fn prune_volumes(
        &self,
        filters: &Filters,
        all_by_default: bool,
    ) -> Result<VolumePruneResponse, ApiError> {
        filters.validate(&["label", "label!", "all"])?;
        let all = filter_bool("all", filters.get("all"))?.unwrap_or(all_by_default);
        let candidates: Vec<String> = self
            .volumes
            .list()
            .into_iter()
            .filter(|(record, refs)| {
                *refs == 0 && (all || record.anonymous()) && filters.labels_match(&record.labels)
            })
            .map(|(record, _)| record.name)
            .collect();
        let store = self.volumes.clone();
        blocking(move || {
            let mut reply = VolumePruneResponse::default();
            for name in candidates {
                // Someone may have started using it meanwhile: skip it then.
                match store.remove(&name, false) {
                    Ok(size) => {
                        reply.volumes_deleted.push(name);
                        reply.space_reclaimed += size;
                    }
                    Err(e) => tracing::debug!(volume = %name, error = %e, "not pruned"),
                }
            }
            Ok(reply)
        })
        .await
        .inspect(|reply| self.prune_event("volume", reply.space_reclaimed))
    }

    /// Volumes with their size and how many containers use them
    /// (`GET /system/df`).
    pub async fn volumes_usage(&self) -> Result<Vec<Volume>, ApiError> {
        let store = self.volumes.clone();
        let list = blocking(move || {
            Ok(store
                .list()
                .into_iter()
                .map(|(record, refs)| {
                    let size = store.size(&record.name);
                    (record, refs, size)
                })
                .collect::<Vec<_>>())
        })
        .await?;
        Ok(list
            .into_iter()
            .map(|(record, refs, size)| Volume {
                usage_data: Some(UsageData {
                    size: size as i64,
                    ref_count: refs as i64,
                }),
                ..self.volume_view(&record)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> VolumeStore {
        VolumeStore::open(dir.join("volumes"), None, Arc::default()).unwrap()
    }

    fn named(name: &str) -> NewVolume {
        NewVolume {
            name: name.to_string(),
            ..NewVolume::default()
        }
    }

    #[test]
    fn names_drivers_and_options_are_refused_as_dockerd_does() {
        let refusal = |new: NewVolume| new.validate().unwrap_err();
        let e = refusal(named("../x"));
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.message,
            "create ../x: \"../x\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
        assert!(refusal(named("a/b")).message.contains("invalid characters"));
        assert!(refusal(named("x")).message.contains("too short"));
        assert!(named("data_1.x-y").validate().is_ok());
        let e = refusal(NewVolume {
            driver: "nfs".into(),
            ..named("v1")
        });
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.message,
            "create v1: error looking up volume plugin nfs: plugin \"nfs\" not found"
        );
        let with = |pairs: &[(&str, &str)]| NewVolume {
            options: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..named("v1")
        };
        assert_eq!(
            refusal(with(&[("foo", "1")])).message,
            "create v1: invalid option key: \"foo\""
        );
        assert_eq!(
            refusal(with(&[("device", "tmpfs")])).message,
            "create v1: missing required option: \"type\""
        );
        assert!(
            with(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn volumes_persist_and_create_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let mut new = named("data");
        new.labels.insert("a".into(), "1".into());
        let (first, created) = s.create(new, None).unwrap();
        assert!(created);
        assert!(s.mountpoint("data").is_dir());
        let (again, created) = s.create(named("data"), Some("c1")).unwrap();
        assert!(!created);
        assert_eq!(again, first);
        let (anonymous, _) = s.create(NewVolume::default(), None).unwrap();
        assert_eq!(anonymous.name.len(), 64);
        assert!(anonymous.anonymous());
        drop(s);
        let s = store(tmp.path());
        assert_eq!(s.get("data").unwrap(), first);
        assert_eq!(s.list().len(), 2);
        assert_eq!(
            s.get("nope").unwrap_err().message,
            "get nope: no such volume"
        );
    }

    #[test]
    fn a_bind_volumes_files_are_its_device_and_any_others_its_data() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let with = |name: &str, pairs: &[(&str, &str)]| NewVolume {
            options: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..named(name)
        };
        s.create(named("plain"), None).unwrap();
        let bind = [("type", "none"), ("device", "/srv/x"), ("o", "bind,ro")];
        s.create(with("bound", &bind), None).unwrap();
        let rbind = [("type", "none"), ("device", "/srv/y"), ("o", "rbind")];
        s.create(with("rbound", &rbind), None).unwrap();
        let tmpfs = [("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")];
        s.create(with("memory", &tmpfs), None).unwrap();
        let data = |name: &str| VolumeFiles {
            path: s.mountpoint(name),
            read_only: false,
            recursive: true,
        };
        assert_eq!(s.files("plain"), data("plain"));
        assert_eq!(s.files("memory"), data("memory"));
        assert_eq!(
            s.files("bound"),
            VolumeFiles {
                path: "/srv/x".into(),
                read_only: true,
                recursive: false,
            }
        );
        assert_eq!(
            s.files("rbound"),
            VolumeFiles {
                path: "/srv/y".into(),
                read_only: false,
                recursive: true,
            }
        );
    }

    #[test]
    fn referenced_volumes_are_kept_and_force_ignores_missing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.create(named("data"), Some("c1")).unwrap();
        let e = s.remove("data", true).unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(e.message, "remove data: volume is in use - [c1]");
        s.forget_container("c1");
        std::fs::write(s.mountpoint("data").join("f"), b"12345").unwrap();
        assert_eq!(s.remove("data", false).unwrap(), 5);
        assert!(!tmp.path().join("volumes/data").exists());
        assert_eq!(s.remove("data", false).unwrap_err().status(), 404);
        assert_eq!(s.remove("data", true).unwrap(), 0);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("volumes"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn half_created_volumes_and_trash_are_cleaned_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("volumes");
        std::fs::create_dir_all(root.join("empty/_data")).unwrap();
        std::fs::create_dir_all(root.join("kept/_data")).unwrap();
        std::fs::write(root.join("kept/_data/file"), b"x").unwrap();
        std::fs::create_dir_all(root.join(".trash-1/_data")).unwrap();
        let s = store(tmp.path());
        assert_eq!(s.list().len(), 1);
        assert!(s.get("kept").is_ok());
        assert!(!root.join("empty").exists());
        assert!(!root.join(".trash-1").exists());
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let (flags, data) = parse_mount_options("bind,ro,size=10m,noexec,exec");
        assert_eq!(flags, MsFlags::MS_BIND | MsFlags::MS_RDONLY);
        assert_eq!(data, "size=10m");
        let (flags, data) = parse_mount_options("");
        assert!(flags.is_empty() && data.is_empty());
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), r"/a b\c");
    }

    #[test]
    fn filters_take_dockers_booleans() {
        assert_eq!(filter_bool("dangling", &[]).unwrap(), None);
        assert_eq!(
            filter_bool("dangling", &["1".to_string()]).unwrap(),
            Some(true)
        );
        assert_eq!(
            filter_bool("all", &["False".to_string()]).unwrap(),
            Some(false)
        );
        assert_eq!(
            filter_bool("dangling", &["maybe".to_string()])
                .unwrap_err()
                .message,
            "invalid filter 'dangling=maybe'"
        );
    }
}
