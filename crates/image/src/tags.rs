//! The tag index: familiar references (`busybox:latest`,
//! `localhost:5000/app@sha256:...`) to image ids, persisted atomically in
//! `repositories.json` in Docker's shape
//! (`{"Repositories": {"busybox": {"busybox:latest": "sha256:..."}}}`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ImageError, IoContext};
use crate::fsutil::write_atomic;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RepositoriesFile {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

/// Reference -> image id.
#[derive(Debug, Default, Clone)]
pub(crate) struct TagIndex {
    refs: BTreeMap<String, String>,
}

impl TagIndex {
    pub(crate) fn load(path: &Path) -> Result<TagIndex, ImageError> {
        let bytes = match fs::read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TagIndex::default()),
            other => other.ctx(|| format!("reading {}", path.display()))?,
        };
        let file: RepositoriesFile = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Internal(format!("corrupt {}: {e}", path.display())))?;
        let refs = file.repositories.into_values().flatten().collect();
        Ok(TagIndex { refs })
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), ImageError> {
        let mut file = RepositoriesFile::default();
        for (reference, id) in &self.refs {
            file.repositories
                .entry(repository_of(reference).to_string())
                .or_default()
                .insert(reference.clone(), id.clone());
        }
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| ImageError::Internal(e.to_string()))?;
        write_atomic(path, &bytes)
    }

    pub(crate) fn get(&self, reference: &str) -> Option<&str> {
        self.refs.get(reference).map(String::as_str)
    }

    pub(crate) fn set(&mut self, reference: &str, id: &str) {
        self.refs.insert(reference.to_string(), id.to_string());
    }

    pub(crate) fn remove(&mut self, reference: &str) -> Option<String> {
        self.refs.remove(reference)
    }

    pub(crate) fn len(&self) -> usize {
        self.refs.len()
    }

    /// Keeps only references whose image satisfies `keep`.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.refs.retain(|_, id| keep(id));
    }

    /// All references to `id`, sorted.
    pub(crate) fn refs_of(&self, id: &str) -> Vec<String> {
        self.refs
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(reference, _)| reference.clone())
            .collect()
    }
}

/// Whether a familiar reference is a digest reference (`name@sha256:...`).
pub(crate) fn is_digest_ref(reference: &str) -> bool {
    reference.contains('@')
}

/// The repository part of a familiar reference: `localhost:5000/x:1` -> `localhost:5000/x`.
pub(crate) fn repository_of(reference: &str) -> &str {
    let name = reference.split('@').next().unwrap_or(reference);
    match name.rfind(':') {
        Some(i) if !name[i + 1..].contains('/') => &name[..i],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_json_round_trips_grouped_by_repository() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.json");
        let mut index = TagIndex::default();
        index.set("busybox:latest", "sha256:a");
        index.set("busybox:1", "sha256:a");
        index.set("localhost:5000/x:2", "sha256:b");
        index.save(&path).unwrap();
        let raw: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["Repositories"]["busybox"]["busybox:1"], "sha256:a");
        assert_eq!(
            raw["Repositories"]["localhost:5000/x"]["localhost:5000/x:2"],
            "sha256:b"
        );
        let loaded = TagIndex::load(&path).unwrap();
        assert_eq!(loaded.refs_of("sha256:a"), ["busybox:1", "busybox:latest"]);
        assert_eq!(loaded.get("localhost:5000/x:2"), Some("sha256:b"));
    }
}
