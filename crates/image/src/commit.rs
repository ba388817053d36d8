//! `docker commit`: a container's overlay upper directory becomes a layer on
//! top of its image's layers, in a new image.
//!
//! The upper directory is written as a layer tar the way Docker's overlay2
//! driver writes a container's diff: overlayfs whiteouts become `.wh.name`
//! files and opaque directories a `.wh..wh..opq` entry, owners are shifted
//! back from a remapped container's host ids, and the mount points the
//! daemon made (when the image lacks them) are left out, as Docker keeps
//! them in its init layer. The tar is kept as the layer's blob and
//! unpacked like any layer; an empty diff adds no layer, only a history
//! entry marked `empty_layer`, as Docker does.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use nix::sys::stat::FileStat;
use serde_json::{Map, Value};

use crate::config::{History, ImageConfig, RootFs, RunConfig};
use crate::digest::chain_id;
use crate::error::{ImageError, IoContext};
use crate::fsat::open_dir_path;
use crate::idmap::IdMaps;
use crate::lower::LowerView;
use crate::reference::tag_target;
use crate::store::ImageStore;
use crate::treetar::{TreeOptions, TreeTar};

/// The diff id of a layer tar with nothing in it (two zero blocks): Docker
/// adds no such layer to an image.
const EMPTY_LAYER: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
/// Fields of the parent's config that a committed image keeps.
const INHERITED: [&str; 3] = ["variant", "os.version", "os.features"];

/// What `docker commit` stores.
#[derive(Debug, Clone)]
pub struct Commit<'a> {
    /// The container's overlay upper directory.
    pub upper: &'a Path,
    /// How its owners map back to the container's ids (the remapped ids of
    /// a container that had them).
    pub maps: &'a IdMaps,
    /// The container's image, whose layers lie under the upper directory.
    pub image: &'a str,
    /// The new image's config.
    pub config: RunConfig,
    pub container_id: &'a str,
    /// The container's config, kept as the image's `container_config`.
    pub container_config: Value,
    pub author: &'a str,
    pub comment: &'a str,
    /// The history entry's `created_by` (Docker: the container's command).
    pub created_by: &'a str,
    /// Mount points the daemon makes at start (`etc/hosts`, ...): left out
    /// when the image lacks them.
    pub daemon_paths: &'a [&'a str],
    /// `repo:tag` for the new image, if any.
    pub tag: Option<&'a str>,
}

impl ImageStore {
    /// Makes a new image of a container's changes (see the module
    /// documentation) and returns its id.
    pub fn commit(&self, commit: Commit<'_>) -> Result<String, ImageError> {
        let tag = commit.tag.map(tag_target).transpose()?;
        let (parent, parent_layers) = {
            let state = self.read_state();
            let id = state.resolve(commit.image)?.id;
            let entry = &state.images[&id];
            (entry.config.clone(), entry.layers.clone())
        };
        let lower: Vec<PathBuf> = parent_layers
            .iter()
            .rev()
            .map(|chain| self.layers.dir_of(chain))
            .collect();
        let mut blob = self.blobs.temp_file()?;
        self.write_diff(&commit, &lower, blob.as_file_mut())?;
        blob.as_file_mut()
            .seek(SeekFrom::Start(0))
            .ctx(|| "rereading the container's diff".to_string())?;
        let pending = self.layers.unpack(blob.as_file_mut())?;
        let diff_id = pending.unpacked.diff_id.clone();
        let empty = diff_id == EMPTY_LAYER;

        let _gate = self.lock_writes();
        let mut layers = parent_layers;
        let mut diff_ids = parent.rootfs.diff_ids.clone();
        let mut added = None;
        if !empty {
            let chain = chain_id(layers.last().map(String::as_str), &diff_id);
            if self.add_scratch_layer(pending, blob, &diff_id, &chain)? {
                added = Some(chain.clone());
            }
            layers.push(chain);
            diff_ids.push(diff_id);
        }
        let created = chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
        let author = (!commit.author.is_empty()).then(|| commit.author.to_string());
        let mut history = parent.history.clone();
        history.push(History {
            created: Some(created.clone()),
            created_by: (!commit.created_by.is_empty()).then(|| commit.created_by.to_string()),
            author: author.clone(),
            comment: (!commit.comment.is_empty()).then(|| commit.comment.to_string()),
            empty_layer: empty.then_some(true),
            ..History::default()
        });
        let mut extra: Map<String, Value> = INHERITED
            .iter()
            .filter_map(|key| Some((key.to_string(), parent.extra.get(*key)?.clone())))
            .collect();
        extra.insert(
            "container".to_string(),
            Value::String(commit.container_id.to_string()),
        );
        extra.insert("container_config".to_string(), commit.container_config);
        let config = ImageConfig {
            architecture: parent.architecture.clone(),
            os: parent.os.clone(),
            created: Some(created),
            author,
            config: Some(commit.config),
            rootfs: RootFs {
                diff_ids,
                ..parent.rootfs.clone()
            },
            history,
            extra,
        };
        self.add_new_image(config, layers, added.as_deref(), tag.as_deref())
    }

    /// Writes the upper directory as a layer tar into `out`.
    fn write_diff(
        &self,
        commit: &Commit<'_>,
        lower: &[PathBuf],
        out: &mut std::fs::File,
    ) -> Result<(), ImageError> {
        let view = LowerView::open(lower).ctx(|| "opening the image layers".to_string())?;
        let upper =
            open_dir_path(commit.upper).ctx(|| format!("opening {}", commit.upper.display()))?;
        let skip = |rel: &Path, _: &FileStat| {
            commit.daemon_paths.iter().any(|p| Path::new(p) == rel)
                && view.lookup(rel).is_ok_and(|found| found.is_none())
        };
        let mut tar = TreeTar::new(
            BufWriter::new(out),
            TreeOptions {
                maps: commit.maps,
                whiteouts: true,
                skip: Some(&skip),
            },
        );
        let failed = |e: std::io::Error| ImageError::Io {
            context: "writing the container's diff".to_string(),
            source: e,
        };
        tar.add_contents(&upper, b"", Path::new(""))
            .map_err(|e| failed(e.0))?;
        tar.finish()
            .map_err(|e| failed(e.0))?
            .flush()
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::tests::whiteout;
    use crate::testutil::{new_store, rootfs};
    use std::fs;

    /// The maps of a container without a user namespace of its own.
    static HOST_IDS: IdMaps = IdMaps {
        uids: Vec::new(),
        gids: Vec::new(),
    };

    fn commit_of<'a>(upper: &'a Path, image: &'a str, tag: Option<&'a str>) -> Commit<'a> {
        Commit {
            upper,
            maps: &HOST_IDS,
            image,
            config: RunConfig {
                cmd: Some(vec!["cat".into(), "/x".into()]),
                ..RunConfig::default()
            },
            container_id: "c0ffee",
            container_config: serde_json::json!({"Cmd": ["sh"]}),
            author: "me",
            comment: "a message",
            created_by: "sh",
            daemon_paths: &["etc/hosts"],
            tag,
        }
    }

    #[test]
    fn a_commit_adds_the_upper_directory_as_a_layer_with_whiteouts() {
        let (dir, store) = new_store();
        let base = store
            .import(&mut &rootfs("base")[..], Some("base:1"), &[], "")
            .unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir(&upper).unwrap();
        fs::write(upper.join("x"), b"hello").unwrap();
        whiteout(&upper.join("marker"));
        fs::create_dir(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/hosts"), b"").unwrap();
        let id = store
            .commit(commit_of(&upper, &base, Some("committed:v1")))
            .unwrap();
        let image = store.get("committed:v1").unwrap();
        assert_eq!(image.id, id);
        assert_eq!(image.config.rootfs.diff_ids.len(), 2);
        assert_eq!(image.config.author.as_deref(), Some("me"));
        assert_eq!(image.config.extra["container"], "c0ffee");
        assert_eq!(image.config.extra["container_config"]["Cmd"][0], "sh");
        let last = image.config.history.last().unwrap();
        assert_eq!(last.comment.as_deref(), Some("a message"));
        assert_eq!(last.created_by.as_deref(), Some("sh"));
        assert_eq!(last.empty_layer, None);
        assert_eq!(
            image.config.config.unwrap().cmd.unwrap(),
            ["cat".to_string(), "/x".to_string()]
        );
        let layers = store.layer_dirs(&id).unwrap();
        let top = layers.last().unwrap();
        assert_eq!(fs::read(top.join("x")).unwrap(), b"hello");
        let meta = fs::symlink_metadata(top.join("marker")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &meta.file_type()
        ));
        assert!(top.join("etc").is_dir());
        assert!(!top.join("etc/hosts").exists(), "the daemon's mount point");
    }

    #[test]
    fn an_empty_diff_adds_no_layer() {
        let (dir, store) = new_store();
        let base = store.import(&mut &rootfs("b")[..], None, &[], "").unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::remove_dir(upper.join("etc")).unwrap();
        let id = store.commit(commit_of(&upper, &base, None)).unwrap();
        let image = store.get(&id).unwrap();
        assert_eq!(image.config.rootfs.diff_ids.len(), 1);
        assert_eq!(image.config.history.last().unwrap().empty_layer, Some(true));
        assert_eq!(
            store.layer_dirs(&id).unwrap(),
            store.layer_dirs(&base).unwrap()
        );
    }
}
