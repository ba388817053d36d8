//! Files in and out of containers: the stat of a path, a tar of it, a tar
//! extracted into a directory (`/containers/{id}/archive`), the whole
//! filesystem (`export`) and what the container changed (`changes`).
//!
//! Every path is resolved inside the container's root (see
//! [`berth_image::ContainerRoot`]); the root is the running init's or the
//! container's overlay mounted privately with its binds and volumes bound
//! in ([`super::private_root`]). Stat, archive and extract hold the
//! container's op lock, so a start cannot mount the same upper directory
//! meanwhile; an archive holds it until the stream ends. Export mounts the
//! upper directory read-only as the top layer, without volumes, so it also
//! works while the container runs; changes read the upper directory and
//! the layers without mounting anything.

use super::container::{Container, Record};
use super::mounts::{by_depth, MountKind};
use super::private_root::{in_root, LayerIdmap, Overlay, RootBind, RootSource};
use super::{blocking, image_error, image_id_maps, Engine};
use berth_api::files::{go_file_mode, FilesystemChange, PathStat};
use berth_api::ApiError;
use berth_image::{ChangeKind, ContainerRoot, CopyOptions, IdMaps, PathInfo};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Mount points the daemon makes in a container's root at start when the
/// image lacks them: Docker keeps them in its init layer, out of `diff` and
/// `commit`.
pub(super) const DAEMON_PATHS: [&str; 6] = [
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev",
    "proc",
    "sys",
];

/// How a tar extracted into a container is written
/// (`PUT /containers/{id}/archive`).
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// `copyUIDGID`: keep the archive's owners.
    pub copy_uid_gid: bool,
    /// `noOverwriteDirNonDir`.
    pub no_overwrite_dir_non_dir: bool,
}

impl Engine {
    /// `HEAD /containers/{id}/archive`.
    pub async fn stat_path(&self, reference: &str, path: &str) -> Result<PathStat, ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        let source = self.root_source(&container, true).await?;
        let (path, name) = (path.to_string(), reference.to_string());
        in_root(source, move |root| {
            let info = root?
                .stat(&path)
                .map_err(|e| path_error(&e, &path, &name))?;
            Ok(path_stat(&info))
        })
        .await?
    }

    /// `GET /containers/{id}/archive`: the stat of the path, then its tar
    /// written to `out` from a thread of its own; the op lock is held
    /// until the tar is done.
    pub async fn archive_path(
        self: &Arc<Self>,
        reference: &str,
        path: &str,
        out: impl Write + Send + 'static,
    ) -> Result<PathStat, ApiError> {
        let container = self.lookup(reference)?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let engine = self.clone();
        let held = container.clone();
        let (path, name) = (path.to_string(), reference.to_string());
        tokio::spawn(async move {
            let _op = held.op.lock().await;
            let source = match engine.root_source(&held, true).await {
                Ok(source) => source,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let maps = engine.id_maps_of(&held.record());
            let done = in_root(source, move |root| {
                let stat = root.and_then(|root| {
                    let info = root.stat(&path).map_err(|e| path_error(&e, &path, &name))?;
                    Ok((root, info))
                });
                let (root, info) = match stat {
                    Ok(found) => found,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(path_stat(&info)));
                let clean = berth_image::clean_path(&path);
                if let Err(e) = berth_image::archive_path(&root, &clean, &info, &maps, out) {
                    stream_ended(&e, "archive of a container path");
                }
            })
            .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "archive of a container path failed");
            }
        });
        let stat = ready_rx
            .await
            .map_err(|_| ApiError::system("archiving the container path failed"))??;
        self.container_event(&container, "archive-path", &[]);
        Ok(stat)
    }

    /// `PUT /containers/{id}/archive`: extracts `archive` (plain or gzip
    /// tar) into the directory `path` of the container.
    pub async fn extract_to_dir(
        &self,
        reference: &str,
        path: &str,
        archive: impl Read + Send + 'static,
        options: ExtractOptions,
    ) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        let source = self.root_source(&container, false).await?;
        let record = container.snapshot();
        let read_only = record.host_config.readonly_rootfs;
        let points: Vec<(PathBuf, bool)> = record
            .mounts
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
            .map(|m| (PathBuf::from(&m.destination), m.rw))
            .collect();
        let copy = CopyOptions {
            keep_owners: options.copy_uid_gid,
            owner: self
                .user_namespace(&record)
                .and_then(|ns| ns.host_root())
                .unwrap_or((0, 0)),
            maps: self.id_maps_of(&record),
            no_overwrite_dir_non_dir: options.no_overwrite_dir_non_dir,
        };
        let (path, name) = (path.to_string(), reference.to_string());
        let mut archive = archive;
        in_root(source, move |root| {
            let root = root?;
            let dir = extraction_dir(&root, &path, &name)?;
            match mount_point_at(&points, &dir) {
                Some(false) => {
                    return Err(ApiError::forbidden("mounted volume is marked read-only"))
                }
                None if read_only => {
                    return Err(ApiError::forbidden("container rootfs is marked read-only"))
                }
                _ => {}
            }
            berth_image::extract_archive(&root, &dir, &mut archive, &copy).map_err(image_error)
        })
        .await??;
        self.container_event(&container, "extract-to-dir", &[]);
        Ok(())
    }

    /// `GET /containers/{id}/export`: the container's filesystem (its
    /// overlay alone, without what is mounted on it) written as a tar to
    /// `out` from a thread of its own.
    pub async fn export(
        self: &Arc<Self>,
        reference: &str,
        out: impl Write + Send + 'static,
    ) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let record = {
            let _op = container.op.lock().await;
            if container.lifecycle().removed {
                return Err(ApiError::no_such_container(reference));
            }
            container.snapshot()
        };
        let layers = self.lower_dirs(&record).await?;
        let mut lower = vec![self.paths.container_dir(&record.id).join("upper")];
        lower.extend(layers.iter().cloned());
        let source = RootSource::Overlay(Overlay {
            lower,
            upper: None,
            target: self.paths.container_dir(&record.id).join("rootfs"),
            read_only: true,
            binds: Vec::new(),
            idmap: self.layer_idmap_of(&record, layers),
        });
        let maps = self.id_maps_of(&record);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(in_root(source, move |root| {
            let root = match root {
                Ok(root) => root,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            if let Err(e) = berth_image::export_root(&root, &maps, out) {
                stream_ended(&e, "container export");
            }
        }));
        ready_rx
            .await
            .map_err(|_| ApiError::system("exporting the container failed"))??;
        self.container_event(&container, "export", &[]);
        Ok(())
    }

    /// `GET /containers/{id}/changes`.
    pub async fn changes(&self, reference: &str) -> Result<Vec<FilesystemChange>, ApiError> {
        let container = self.lookup(reference)?;
        let record = container.snapshot();
        let lower = self.lower_dirs(&record).await?;
        let upper = self.paths.container_dir(&record.id).join("upper");
        let changes = blocking(move || {
            berth_image::container_changes(&upper, &lower, &DAEMON_PATHS).map_err(image_error)
        })
        .await?;
        Ok(changes
            .into_iter()
            .map(|change| FilesystemChange {
                path: change.path,
                kind: match change.kind {
                    ChangeKind::Modified => 0,
                    ChangeKind::Added => 1,
                    ChangeKind::Deleted => 2,
                },
            })
            .collect())
    }

    /// Where the container's files are: its init's root while it runs,
    /// its overlay with its binds and volumes otherwise (read-only if
    /// `read_only`). Caller holds the op lock.
    async fn root_source(
        &self,
        container: &Container,
        read_only: bool,
    ) -> Result<RootSource, ApiError> {
        if container.lifecycle().removed {
            return Err(ApiError::no_such_container(&container.id));
        }
        let record = container.snapshot();
        if record.running() {
            let pidfd = container
                .init_pidfd
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .and_then(|fd| fd.try_clone().ok());
            let Some(pidfd) = pidfd else {
                return Err(ApiError::system(format!(
                    "cannot reach the processes of container {}",
                    record.id
                )));
            };
            return Ok(RootSource::Process {
                pid: record.state.pid,
                pidfd,
            });
        }
        let dir = self.paths.container_dir(&record.id);
        let lower = self.lower_dirs(&record).await?;
        Ok(RootSource::Overlay(Overlay {
            idmap: self.layer_idmap_of(&record, lower.clone()),
            lower,
            upper: Some((dir.join("upper"), dir.join("work"))),
            target: dir.join("rootfs"),
            read_only,
            binds: self.root_binds(&record),
        }))
    }

    /// What a container that is not running has bound into its overlay for
    /// a copy: its binds and volumes, parents first (a tmpfs would hold
    /// nothing yet: the image's files show there, as with Docker).
    fn root_binds(&self, record: &Record) -> Vec<RootBind> {
        let mut mounts = record.mounts.clone();
        by_depth(&mut mounts);
        mounts
            .into_iter()
            .filter_map(|mount| {
                let (source, read_only, recursive) = match mount.kind {
                    MountKind::Tmpfs => return None,
                    MountKind::Bind => (PathBuf::from(&mount.source), false, true),
                    MountKind::Volume => {
                        let files = self.volumes.files(&mount.name);
                        (files.path, files.read_only, files.recursive)
                    }
                };
                Some(RootBind {
                    source,
                    destination: mount.destination,
                    read_only: read_only || !mount.rw,
                    recursive: recursive && !mount.non_recursive,
                })
            })
            .collect()
    }

    /// The container's image layers, topmost first.
    pub(super) async fn lower_dirs(&self, record: &Record) -> Result<Vec<PathBuf>, ApiError> {
        let images = self.images.clone();
        let image_id = record.image_id.clone();
        let mut lower = blocking(move || images.layer_dirs(&image_id).map_err(image_error)).await?;
        lower.reverse();
        Ok(lower)
    }

    /// The container's user namespace, if it has one.
    fn user_namespace(&self, record: &Record) -> Option<berth_runtime::UserNamespace> {
        self.userns_remap
            .clone()
            .filter(|_| !super::security::shares_host_userns(&record.host_config))
    }

    /// How the owners in the container's mounted root map back to the
    /// container's ids: through the remapped ids when the container has
    /// its own user namespace, or when the layers are shifted (then even
    /// a container with the host's ids sees shifted owners); as they are
    /// otherwise.
    pub(super) fn id_maps_of(&self, record: &Record) -> IdMaps {
        let shifted_layers = self.layer_idmap.is_none();
        self.userns_remap
            .as_ref()
            .filter(|_| shifted_layers || self.user_namespace(record).is_some())
            .map(image_id_maps)
            .unwrap_or_default()
    }

    /// `layers`, the container's image layers, to mount idmapped when the
    /// container has a user namespace and the store keeps the images' ids.
    pub(super) fn layer_idmap_of(
        &self,
        record: &Record,
        layers: Vec<PathBuf>,
    ) -> Option<LayerIdmap> {
        let userns = self.layer_idmap.clone()?;
        self.user_namespace(record)?;
        Some(LayerIdmap { userns, layers })
    }
}

/// Logs a tar stream that ended early: a client that went away is no
/// news, anything else is.
fn stream_ended(err: &berth_image::ImageError, what: &str) {
    match err {
        berth_image::ImageError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            tracing::debug!(error = %err, "{what}: the client went away");
        }
        _ => tracing::warn!(error = %err, "{what} ended early"),
    }
}

/// The directory a tar is extracted into: it must exist (404) and be a
/// directory (400), as with Docker. Returns its path with every symlink
/// resolved inside the root.
fn extraction_dir(root: &ContainerRoot, path: &str, container: &str) -> Result<PathBuf, ApiError> {
    let clean = berth_image::clean_path(path);
    let resolved = root.resolve(&clean);
    let info = root
        .stat(&resolved)
        .map_err(|e| path_error(&e, path, container))?;
    if info.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(ApiError::invalid("extraction point is not a directory"));
    }
    Ok(Path::new(&resolved).to_path_buf())
}

/// Whether `path` (resolved inside the root) is at or under one of the
/// container's mount points (`destination`, `rw`), the deepest of them,
/// and whether that one is writable.
fn mount_point_at(points: &[(PathBuf, bool)], path: &Path) -> Option<bool> {
    points
        .iter()
        .filter(|(destination, _)| path.starts_with(destination))
        .max_by_key(|(destination, _)| destination.components().count())
        .map(|(_, rw)| *rw)
}

/// Docker's errors for a path: a 404 naming the path and the container as
/// the client gave them when it does not exist.
fn path_error(err: &std::io::Error, path: &str, container: &str) -> ApiError {
    match err.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => ApiError::not_found(format!(
            "Could not find the file {path} in container {container}"
        )),
        _ => ApiError::system(format!("stat {path}: {err}")),
    }
}

/// The API's form of a path's stat.
fn path_stat(info: &PathInfo) -> PathStat {
    PathStat {
        name: info.name.clone(),
        size: info.size,
        mode: go_file_mode(info.mode),
        mtime: go_time(info.mtime_secs, info.mtime_nanos),
        link_target: info.link_target.clone(),
    }
}

/// A time as Go's JSON writes it (RFC 3339, fraction without trailing
/// zeros), in UTC.
fn go_time(secs: i64, nanos: u32) -> String {
    let time = chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_mount_point_holding_a_path_decides() {
        let points = [
            (PathBuf::from("/data"), true),
            (PathBuf::from("/data/ro"), false),
            (PathBuf::from("/"), true),
        ];
        assert_eq!(mount_point_at(&points[..2], Path::new("/data")), Some(true));
        assert_eq!(
            mount_point_at(&points[..2], Path::new("/data/x")),
            Some(true)
        );
        assert_eq!(
            mount_point_at(&points[..2], Path::new("/data/ro/x")),
            Some(false)
        );
        assert_eq!(mount_point_at(&points[..2], Path::new("/database")), None);
        assert_eq!(mount_point_at(&points[..2], Path::new("/")), None);
        assert_eq!(mount_point_at(&points, Path::new("/etc")), Some(true));
    }

    #[test]
    fn times_read_as_go_writes_them() {
        assert_eq!(go_time(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            go_time(1_700_000_000, 500_000_000),
            "2023-11-14T22:13:20.5Z"
        );
        assert_eq!(
            go_time(1_700_000_000, 123),
            "2023-11-14T22:13:20.000000123Z"
        );
    }
}
