//! `docker rmi`: untagging and deleting images with Docker's conflict rules.

use crate::digest::short_id;
use crate::error::ImageError;
use crate::store::ImageStore;
use crate::tags::{is_digest_ref, repository_of};

/// One line of `docker rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// `Untagged: busybox:latest`
    Untagged(String),
    /// `Deleted: sha256:...` (the image, then each removed layer's chain id)
    Deleted(String),
}

impl ImageStore {
    /// Removes a reference or an image.
    ///
    /// By name: the tag goes; if it was the last one the image is deleted too,
    /// unless a container uses it (then `force` is needed and the data is
    /// kept, dangling, so the container keeps working). By id: every tag goes
    /// and the image is deleted; several tags need `force`, and an image in
    /// use is only untagged, with `force`. `in_use(image_id)` returns the id
    /// of a container using the image, if any; it is called with the store's
    /// write lock held and must not call back into the store.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Removed>, ImageError> {
        let _gate = self.lock_writes();
        let resolved = self.read_state().resolve(reference)?;
        let id = resolved.id;
        let refs = self.read_state().tags.refs_of(&id);
        let user = in_use(&id);
        let mut removed = Vec::new();
        match resolved.by_name {
            Some(name) => {
                let going = going_with(&name, &refs);
                if let (Some(container), false, true) = (&user, force, going.len() == refs.len()) {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to remove repository reference {reference:?} (must force) - container {} is using its referenced image {}",
                        short_id(container),
                        short_id(&id)
                    )));
                }
                self.update_tags(|tags| {
                    for name in &going {
                        tags.remove(name);
                    }
                })?;
                let last = going.len() == refs.len();
                removed.extend(going.into_iter().map(Removed::Untagged));
                if !last || user.is_some() {
                    return Ok(removed);
                }
            }
            None => {
                if let Some(container) = &user {
                    if !force {
                        return Err(ImageError::Conflict(format!(
                            "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                            short_id(&id),
                            short_id(container)
                        )));
                    }
                }
                if refs.len() > 1 && !force {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short_id(&id)
                    )));
                }
                self.update_tags(|tags| {
                    for name in &refs {
                        tags.remove(name);
                    }
                })?;
                removed.extend(refs.into_iter().map(Removed::Untagged));
                if user.is_some() {
                    return Ok(removed);
                }
            }
        }
        let layers = self.delete_image(&id)?;
        removed.push(Removed::Deleted(id));
        removed.extend(layers.into_iter().map(Removed::Deleted));
        Ok(removed)
    }
}

/// The references that go with `name`: itself and, when it is the last tag
/// of its repository, that repository's digest references too (as dockerd
/// does, so that `rmi repo:tag` of a pulled image deletes it).
fn going_with(name: &str, refs: &[String]) -> Vec<String> {
    let mut going = vec![name.to_string()];
    if is_digest_ref(name) {
        return going;
    }
    let repository = repository_of(name);
    let same_repo = |r: &&String| repository_of(r) == repository && r.as_str() != name;
    if !refs.iter().filter(same_repo).any(|r| !is_digest_ref(r)) {
        going.extend(refs.iter().filter(same_repo).cloned());
    }
    going
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageErrorKind;
    use crate::testutil::{
        docker_archive, entries, new_store, rootfs, unused, TarBuilder, TestImage,
    };

    fn import(store: &ImageStore, marker: &str, tag: Option<&str>) -> String {
        store
            .import(&mut &rootfs(marker)[..], tag, &[], "")
            .unwrap()
    }

    fn untagged(name: &str) -> Removed {
        Removed::Untagged(name.to_string())
    }

    #[test]
    fn removing_one_of_several_tags_only_untags() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("app:1"));
        store.tag(&id, "app:2").unwrap();
        let removed = store.remove("app:1", false, &unused).unwrap();
        assert_eq!(removed, [untagged("app:1")]);
        assert_eq!(store.get(&id).unwrap().repo_tags, ["app:2"]);
    }

    #[test]
    fn removing_the_last_tag_deletes_image_layers_and_blobs_from_disk() {
        let (dir, store) = new_store();
        let id = import(&store, "a", Some("busybox"));
        let layer = store.layer_dirs(&id).unwrap().remove(0);
        assert!(layer.is_dir());
        let chain = format!("sha256:{}", layer.file_name().unwrap().to_string_lossy());
        let removed = store.remove("busybox", false, &unused).unwrap();
        assert_eq!(
            removed,
            [
                untagged("busybox:latest"),
                Removed::Deleted(id.clone()),
                Removed::Deleted(chain)
            ]
        );
        assert!(!layer.exists());
        let root = dir.path().join("image");
        for sub in ["layers", "blobs/sha256", "images"] {
            assert!(entries(&root.join(sub)).is_empty(), "{sub}");
        }
        assert_eq!(store.get(&id).unwrap_err().kind(), ImageErrorKind::NotFound);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn the_last_tag_of_a_repository_takes_its_digest_references_along() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let refs: Vec<String> = [
            format!("app@{digest}"),
            "app:1".to_string(),
            format!("mirror/app@{digest}"),
        ]
        .into();
        assert_eq!(
            going_with("app:1", &refs),
            ["app:1".to_string(), format!("app@{digest}")]
        );
        let mut tagged = refs.clone();
        tagged.push("app:2".into());
        assert_eq!(going_with("app:1", &tagged), ["app:1"]);
        assert_eq!(
            going_with(&format!("app@{digest}"), &refs),
            [format!("app@{digest}")]
        );
        let registry = [
            "localhost:5000/app:1".to_string(),
            format!("localhost:5000/app@{digest}"),
        ];
        assert_eq!(going_with("localhost:5000/app:1", &registry), registry);
    }

    #[test]
    fn removing_by_id_with_several_tags_needs_force() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("app:1"));
        store.tag(&id, "other:2").unwrap();
        let err = store.remove(&id, false, &unused).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                &id[7..19]
            )
        );
        let removed = store.remove(&id[7..15], true, &unused).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert_eq!(removed[..2], [untagged("app:1"), untagged("other:2")]);
        assert_eq!(removed[2], Removed::Deleted(id));
    }

    #[test]
    fn removing_by_id_with_one_tag_untags_and_deletes() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("app:1"));
        let removed = store.remove(&id, false, &unused).unwrap();
        assert_eq!(removed[..2], [untagged("app:1"), Removed::Deleted(id)]);
    }

    #[test]
    fn image_in_use_conflicts_by_name_and_by_id() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("busybox"));
        let container = "c0ffee".repeat(10);
        let in_use = |_: &str| Some(container.clone());
        let err = store.remove("busybox", false, &in_use).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to remove repository reference \"busybox\" (must force) - container c0ffeec0ffee is using its referenced image {}",
                &id[7..19]
            )
        );
        let err = store.remove(&id, false, &in_use).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: unable to delete {} (must be forced) - image is being used by stopped container c0ffeec0ffee",
                &id[7..19]
            )
        );
        assert_eq!(store.get("busybox").unwrap().id, id);
    }

    #[test]
    fn force_removing_an_image_in_use_untags_but_keeps_its_data() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("busybox"));
        store.tag(&id, "busybox:2").unwrap();
        let in_use = |_: &str| Some("abc".to_string());
        let removed = store.remove("busybox", true, &in_use).unwrap();
        assert_eq!(removed, [untagged("busybox:latest")]);
        let removed = store.remove(&id, true, &in_use).unwrap();
        assert_eq!(removed, [untagged("busybox:2")]);
        let layers = store.layer_dirs(&id).unwrap();
        assert!(layers[0].join("marker").exists());
        assert!(store.get(&id).unwrap().repo_tags.is_empty());
        store.tag(&id, "busybox").unwrap();
        let removed = store.remove("busybox", true, &in_use).unwrap();
        assert_eq!(removed, [untagged("busybox:latest")]);
        assert!(layers[0].join("marker").exists());
    }

    #[test]
    fn shared_layers_survive_until_their_last_image_is_removed() {
        let (_dir, store) = new_store();
        let base = TarBuilder::new().file("base", b"b").finish();
        let top = TarBuilder::new().file("top", b"t").finish();
        let small = TestImage::new(&[&base], &["small:1"]);
        let big = TestImage::new(&[&base, &top], &["big:1"]);
        store.load(&mut &docker_archive(&[small, big])[..]).unwrap();
        let big_layers = store.layer_dirs("big:1").unwrap();
        assert_eq!(store.layer_dirs("small:1").unwrap(), big_layers[..1]);

        let removed = store.remove("big:1", false, &unused).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(big_layers[0].is_dir());
        assert!(!big_layers[1].exists());

        let removed = store.remove("small:1", false, &unused).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(!big_layers[0].exists());
    }

    #[test]
    fn removing_unknown_reference_is_not_found() {
        let (_dir, store) = new_store();
        let err = store.remove("ghost", false, &unused).unwrap_err();
        assert_eq!(err.to_string(), "No such image: ghost:latest");
    }
}
