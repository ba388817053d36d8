//! How a remapped daemon (`--userns-remap`) gives a container's root the
//! files of its image.
//!
//! Where the kernel allows it, layers are unpacked with the image's own
//! ids and every overlay of a remapped container stacks idmapped copies of
//! them ([`berth_runtime::idmap_layers`]): the init's root, and the
//! daemon's private mounts for `cp`, `export` and the like. Elsewhere, as
//! with dockerd, layers are unpacked with their owners shifted into the
//! remapped range. Containers that opt out (`--userns host`) see idmapped
//! layers with the image's ids, shifted ones with the shifted ids.
//!
//! A store is one or the other for good: the choice is written to
//! `<image root>/layer-owners` when the store is new. A store without that
//! file but with layers was made by a berthd that only shifted. Idmapped
//! layers are tried on the store's own filesystem first: an overlay over
//! an idmapped probe layer, mounted in a private namespace, must show the
//! probe file owned by the remapped root.

use super::private_root::{in_root, LayerIdmap, Overlay, RootSource};
use anyhow::{bail, Context};
use berth_runtime::UserNamespace;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

/// The file that records a store's choice.
const CHOICE_FILE: &str = "layer-owners";
const IDMAPPED: &str = "idmapped";
const SHIFTED: &str = "shifted";

/// Reads the store's choice under `image_root`, or makes it for a new
/// store: `Some` (the descriptor of a user namespace with the remapped
/// ids) for layers with the image's ids, mounted idmapped; `None` for
/// layers shifted when unpacked. Fails when the store's layers need
/// idmapped mounts that no longer work here.
pub(super) async fn choose(
    image_root: &Path,
    namespace: &UserNamespace,
) -> anyhow::Result<Option<Arc<OwnedFd>>> {
    let choice_file = image_root.join(CHOICE_FILE);
    let recorded = match std::fs::read_to_string(&choice_file) {
        Ok(text) => Some(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", choice_file.display())),
    };
    let idmapped = match recorded.as_deref() {
        Some(IDMAPPED) => match probe(image_root, namespace).await {
            Ok(userns) => return Ok(Some(userns)),
            Err(e) => bail!(
                "the layers under {} keep the images' own ids and need idmapped mounts, which fail here: {e:#}",
                image_root.display()
            ),
        },
        Some(SHIFTED) => return Ok(None),
        Some(other) => bail!("{}: unknown choice {other:?}", choice_file.display()),
        None if has_layers(image_root) => None,
        None => match probe(image_root, namespace).await {
            Ok(userns) => Some(userns),
            Err(e) => {
                tracing::info!(error = %format!("{e:#}"), "idmapped layers unavailable: layers are shifted when unpacked");
                None
            }
        },
    };
    std::fs::create_dir_all(image_root)
        .with_context(|| format!("creating {}", image_root.display()))?;
    std::fs::write(
        &choice_file,
        if idmapped.is_some() {
            IDMAPPED
        } else {
            SHIFTED
        },
    )
    .with_context(|| format!("writing {}", choice_file.display()))?;
    Ok(idmapped)
}

/// Whether the store already holds unpacked layers.
fn has_layers(image_root: &Path) -> bool {
    std::fs::read_dir(image_root.join("layers")).is_ok_and(|mut entries| entries.next().is_some())
}

/// Mounts an overlay over an idmapped probe layer in a private namespace
/// and checks that its file shows as the remapped root's; returns the
/// namespace used.
async fn probe(image_root: &Path, namespace: &UserNamespace) -> anyhow::Result<Arc<OwnedFd>> {
    let Some((uid, gid)) = namespace.host_root() else {
        bail!("the remapped namespace has no root");
    };
    let dir = image_root.join("idmap-probe");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cleaning {}", dir.display()))?;
    }
    // Overlayfs takes two lower layers at least when there is no upper.
    let (layer, base, target) = (dir.join("layer"), dir.join("base"), dir.join("merged"));
    for sub in [&layer, &base, &target] {
        std::fs::create_dir_all(sub).with_context(|| format!("creating {}", sub.display()))?;
    }
    std::fs::write(layer.join("owned"), b"").context("writing the probe file")?;
    let userns = Arc::new(
        berth_runtime::mapped_user_namespace(namespace)
            .context("making a user namespace with the remapped ids")?,
    );
    let lower = vec![layer.clone(), base];
    let overlay = Overlay {
        lower: lower.clone(),
        upper: None,
        target: target.clone(),
        read_only: true,
        binds: Vec::new(),
        idmap: Some(LayerIdmap {
            userns: userns.clone(),
            layers: lower,
        }),
    };
    let seen = in_root(RootSource::Overlay(overlay), move |root| {
        root.map_err(|e| anyhow::anyhow!(e.message))?;
        let meta = std::fs::metadata(target.join("owned")).context("reading the probe file")?;
        Ok::<_, anyhow::Error>((meta.uid(), meta.gid()))
    })
    .await
    .map_err(|e| anyhow::anyhow!(e.message));
    let _ = std::fs::remove_dir_all(&dir);
    let seen = seen??;
    if seen != (uid, gid) {
        bail!("the probe file shows as {seen:?}, not the remapped root's ({uid}, {gid})");
    }
    Ok(userns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_runtime::IdMapping;

    fn namespace() -> UserNamespace {
        let map = vec![IdMapping {
            container: 0,
            host: 1_600_000_000,
            size: 65536,
        }];
        UserNamespace {
            uid_map: map.clone(),
            gid_map: map,
        }
    }

    fn recorded(root: &Path) -> String {
        std::fs::read_to_string(root.join(CHOICE_FILE)).unwrap()
    }

    #[tokio::test]
    async fn a_new_store_is_idmapped_and_keeps_its_choice() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("image");
        assert!(choose(&root, &namespace()).await.unwrap().is_some());
        assert_eq!(recorded(&root), IDMAPPED);
        assert!(!root.join("idmap-probe").exists());
        assert!(choose(&root, &namespace()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn stores_with_shifted_layers_stay_shifted() {
        let dir = tempfile::tempdir().unwrap();
        let recorded_shifted = dir.path().join("recorded");
        std::fs::create_dir(&recorded_shifted).unwrap();
        std::fs::write(recorded_shifted.join(CHOICE_FILE), SHIFTED).unwrap();
        assert!(choose(&recorded_shifted, &namespace())
            .await
            .unwrap()
            .is_none());
        // Layers but no choice: made by a berthd that only shifted.
        let older = dir.path().join("older");
        std::fs::create_dir_all(older.join("layers/sha256-abc")).unwrap();
        assert!(choose(&older, &namespace()).await.unwrap().is_none());
        assert_eq!(recorded(&older), SHIFTED);
        let unknown = dir.path().join("unknown");
        std::fs::create_dir(&unknown).unwrap();
        std::fs::write(unknown.join(CHOICE_FILE), "sideways").unwrap();
        let error = choose(&unknown, &namespace()).await.unwrap_err();
        assert!(error.to_string().contains("sideways"), "{error}");
    }
}
