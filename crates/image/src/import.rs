//! `docker import`: a root filesystem tarball becomes a one-layer image;
//! and the two steps it shares with `docker commit`: adding a layer
//! unpacked into scratch space, and storing and tagging a new image.

use std::io::{self, Read, Write};

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

use crate::changes::apply_changes;
use crate::config::{host_architecture, History, ImageConfig, RootFs, RunConfig};
use crate::error::{ImageError, IoContext};
use crate::layers::PendingLayer;
use crate::reference::tag_target;
use crate::store::ImageStore;
use tempfile::NamedTempFile;

impl ImageStore {
    /// Imports a root filesystem tarball (plain, gzip or zstd) as a new
    /// one-layer image, optionally tagged `repo_tag`, with Dockerfile
    /// `changes` applied to its config and `message` as its history comment.
    /// Returns the image id.
    pub fn import(
        &self,
        tar: &mut dyn Read,
        repo_tag: Option<&str>,
        changes: &[String],
        message: &str,
    ) -> Result<String, ImageError> {
        let tag = repo_tag.map(tag_target).transpose()?;
        let mut run = RunConfig::default();
        apply_changes(&mut run, changes)?;

        let mut tee = TeeReader {
            inner: tar,
            copy: self.blobs.temp_file()?,
            hasher: Sha256::new(),
            write_error: None,
        };
        let unpacked = self.layers.unpack(&mut tee).and_then(|pending| {
            io::copy(&mut tee, &mut io::sink())
                .map_err(|e| ImageError::invalid(format!("reading import stream: {e}")))?;
            Ok(pending)
        });
        if let Some(e) = tee.write_error.take() {
            return Err(e).ctx(|| "storing import stream".to_string());
        }
        let pending = unpacked?;
        let blob = format!("sha256:{}", hex::encode(tee.hasher.finalize()));
        let diff_id = pending.unpacked.diff_id.clone();

        // The stream is unpacked without the write gate (it may be slow);
        // only publishing the result is serialized.
        let _gate = self.lock_writes();
        let added = self.add_scratch_layer(pending, tee.copy, &blob, &diff_id)?;

        let created = chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
        let config = ImageConfig {
            architecture: host_architecture().to_string(),
            os: "linux".to_string(),
            created: Some(created.clone()),
            config: Some(run),
            rootfs: RootFs {
                diff_ids: vec![diff_id.clone()],
                ..RootFs::default()
            },
            history: vec![History {
                created: Some(created),
                comment: (!message.is_empty()).then(|| message.to_string()),
                ..History::default()
            }],
            ..ImageConfig::default()
        };
        self.add_new_image(
            config,
            vec![diff_id.clone()],
            added.then_some(diff_id.as_str()),
            tag.as_deref(),
        )
    }

    /// Adds a layer unpacked into scratch space, with its blob (a scratch
    /// file holding the stream it was unpacked from, `blob` its digest), as
    /// `chain_id`, unless the store has that layer already. Returns whether
    /// it was added. Caller holds the write gate.
    pub(crate) fn add_scratch_layer(
        &self,
        pending: PendingLayer,
        blob_file: NamedTempFile,
        blob: &str,
        chain_id: &str,
    ) -> Result<bool, ImageError> {
        if self.read_state().layers.contains_key(chain_id) {
            return Ok(false);
        }
        self.blobs.adopt(blob_file, blob)?;
        self.add_layer(pending, chain_id, blob)?;
        Ok(true)
    }

    /// Stores `config` as a new image of the layers `layers` (chain ids,
    /// bottom first) and tags it `tag` (a normalized tag); if storing it
    /// fails, the layer `added` (just added for it) is removed again.
    /// Returns the image id. Caller holds the write gate.
    pub(crate) fn add_new_image(
        &self,
        config: ImageConfig,
        layers: Vec<String>,
        added: Option<&str>,
        tag: Option<&str>,
    ) -> Result<String, ImageError> {
        let bytes = serde_json::to_vec(&config).map_err(|e| ImageError::Internal(e.to_string()))?;
        let id = match self.add_image(&bytes, config, layers) {
            Ok(id) => id,
            Err(e) => {
                if let Some(added) = added {
                    self.collect_layers(&[added.to_string()])?;
                }
                return Err(e);
            }
        };
        if let Some(tag) = tag {
            self.update_tags(|tags| tags.set(tag, &id))?;
        }
        Ok(id)
    }
}

/// Copies everything read from `inner` into `copy` and hashes it: the
/// import stream is stored as a blob while it is unpacked. A failure to write
/// the copy is kept apart, so it is reported as the store's fault and not the
/// stream's.
struct TeeReader<'a, W> {
    inner: &'a mut dyn Read,
    copy: W,
    hasher: Sha256,
    write_error: Option<io::Error>,
}

impl<W: Write> Read for TeeReader<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.copy.write_all(&buf[..n]) {
            let kind = e.kind();
            self.write_error = Some(e);
            return Err(io::Error::new(kind, "storing the import stream failed"));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::digest::sha256_digest;
    use crate::error::ImageErrorKind;
    use crate::testutil::{entries, gzip, new_store, rootfs, zstd, TarBuilder};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn changes(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn import_creates_a_one_layer_image_that_get_list_and_layer_dirs_see() {
        let (dir, store) = new_store();
        let tar = rootfs("one");
        let id = store
            .import(
                &mut &tar[..],
                Some("docker.io/library/mine:v1"),
                &[],
                "Imported from -",
            )
            .unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 71);

        let image = store.get("mine:v1").unwrap();
        assert_eq!(image.id, id);
        assert_eq!(image.repo_tags, ["mine:v1"]);
        assert!(image.repo_digests.is_empty());
        assert_eq!(image.config.os, "linux");
        assert_eq!(
            image.config.architecture,
            crate::config::host_architecture()
        );
        assert_eq!(image.config.rootfs.kind, "layers");
        assert_eq!(image.config.rootfs.diff_ids, [sha256_digest(&tar)]);
        assert_eq!(
            image.config.history[0].comment.as_deref(),
            Some("Imported from -")
        );
        assert_eq!(image.size, 13 + 3);
        assert!(image.created_unix > 1_600_000_000);
        let stored = fs::read(dir.path().join("image/blobs/sha256").join(&id[7..])).unwrap();
        assert_eq!(sha256_digest(&stored), id);

        let list = store.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, id);

        let layers = store.layer_dirs(&id).unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(fs::read(layers[0].join("marker")).unwrap(), b"one");
        let root_mode = fs::metadata(&layers[0]).unwrap().permissions().mode();
        assert_eq!(root_mode & 0o7777, 0o755);
        assert!(entries(&dir.path().join("image/tmp")).is_empty());
    }

    #[test]
    fn import_applies_changes_to_the_config() {
        let (_dir, store) = new_store();
        let id = store
            .import(
                &mut &rootfs("c")[..],
                None,
                &changes(&[
                    "CMD echo hello",
                    r#"ENTRYPOINT ["/bin/sh", "-c"]"#,
                    "ENV A=1 B=\"two words\"",
                    "WORKDIR /srv",
                    "USER 1000:1000",
                    "LABEL org.example=yes",
                    "EXPOSE 80 53/udp",
                    "STOPSIGNAL SIGTERM",
                ]),
                "",
            )
            .unwrap();
        let image = store.get(&id).unwrap();
        assert!(image.repo_tags.is_empty());
        assert_eq!(image.config.history[0].comment, None);
        let run = image.config.config.unwrap();
        assert_eq!(run.cmd.unwrap(), ["/bin/sh", "-c", "echo hello"]);
        assert_eq!(run.entrypoint.unwrap(), ["/bin/sh", "-c"]);
        assert_eq!(run.env.unwrap(), ["A=1", "B=two words"]);
        assert_eq!(run.working_dir.as_deref(), Some("/srv"));
        assert_eq!(run.user.as_deref(), Some("1000:1000"));
        assert_eq!(run.labels.unwrap()["org.example"], "yes");
        let ports: Vec<String> = run.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        assert_eq!(run.stop_signal.as_deref(), Some("SIGTERM"));
    }

    #[test]
    fn import_rejects_invalid_change_and_tag_and_stores_nothing() {
        let (dir, store) = new_store();
        let err = store
            .import(&mut &rootfs("x")[..], None, &changes(&["FROM scratch"]), "")
            .unwrap_err();
        assert_eq!(err.to_string(), "FROM is not a valid change command");
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
        let err = store
            .import(&mut &rootfs("x")[..], Some("Bad:tag"), &[], "")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid reference format: repository name (library/Bad) must be lowercase"
        );
        assert!(store.list().unwrap().is_empty());
        assert!(entries(&dir.path().join("image/blobs/sha256")).is_empty());
    }

    #[test]
    fn compressed_imports_share_the_layer_of_the_same_rootfs() {
        let (dir, store) = new_store();
        let tar = rootfs("same");
        let a = store.import(&mut &tar[..], None, &[], "").unwrap();
        let b = store.import(&mut &gzip(&tar)[..], None, &[], "").unwrap();
        let c = store.import(&mut &zstd(&tar)[..], None, &[], "").unwrap();
        assert_ne!(a, b);
        let dirs: Vec<_> = [&a, &b, &c]
            .iter()
            .map(|id| store.layer_dirs(id).unwrap())
            .collect();
        assert_eq!(dirs[0], dirs[1]);
        assert_eq!(dirs[1], dirs[2]);
        let layer_entries = entries(&dir.path().join("image/layers"));
        assert_eq!(layer_entries.len(), 2, "{layer_entries:?}");
        let blobs = entries(&dir.path().join("image/blobs/sha256"));
        assert_eq!(blobs.len(), 3 + 1, "three configs and one layer blob");
    }

    #[test]
    fn failed_import_leaves_no_layer_blob_or_temp_file() {
        let (dir, store) = new_store();
        let hostile = TarBuilder::new()
            .file("ok", b"1")
            .file("../escape", b"x")
            .finish();
        let err = store
            .import(&mut &hostile[..], Some("x"), &[], "")
            .unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
        for sub in ["layers", "blobs/sha256", "tmp", "images"] {
            assert!(
                entries(&dir.path().join("image").join(sub)).is_empty(),
                "{sub}"
            );
        }
        assert_eq!(
            store.get("x").unwrap_err().to_string(),
            "No such image: x:latest"
        );
    }
}
