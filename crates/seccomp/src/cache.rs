//! A bounded, thread-safe cache of compiled filters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::compile::normalize_capabilities;
use crate::{compile_json, Error, DEFAULT_PROFILE_JSON};

type Compiled = Result<Arc<[u8]>, Error>;

/// The key: SHA-256 of the profile's JSON bytes and the normalized, sorted
/// capability set. The host (architecture, kernel) is fixed for a process.
type Key = ([u8; 32], Vec<String>);

struct Entry {
    last_used: u64,
    cell: Arc<OnceLock<Compiled>>,
}

#[derive(Default)]
struct State {
    clock: u64,
    entries: HashMap<Key, Entry>,
}

/// Compiled filters keyed by (SHA-256 of the profile JSON, sorted capability
/// set), so that each distinct pair is compiled once.
///
/// Shareable between threads (`&self` methods; wrap it in an `Arc` or a
/// `static`). Concurrent requests for the same key wait for one compilation
/// rather than repeating it; different keys compile one after the other
/// (libseccomp is serialized). A compilation takes milliseconds of CPU, so
/// async callers should call it from `spawn_blocking` on a miss, or accept
/// the short block. Failed compilations are cached too (they are
/// deterministic). When full, the least recently used entry is dropped.
pub struct FilterCache {
    capacity: usize,
    state: Mutex<State>,
}

impl FilterCache {
    /// Default capacity of [`FilterCache::default`].
    pub const DEFAULT_CAPACITY: usize = 64;

    /// A cache holding at most `capacity` filters (at least one).
    pub fn new(capacity: usize) -> FilterCache {
        FilterCache {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// The filter of the profile `profile_json` (Docker's JSON format) for a
    /// container holding `capabilities` (`"CAP_SYS_ADMIN"` or
    /// `"SYS_ADMIN"`), compiled on first use. The bytes are as
    /// [`crate::compile`] returns them.
    pub fn get_or_compile(
        &self,
        profile_json: &[u8],
        capabilities: &[String],
    ) -> Result<Arc<[u8]>, Error> {
        let caps = normalize_capabilities(capabilities);
        let key: Key = (Sha256::digest(profile_json).into(), caps);
        let cell = self.slot(&key);
        cell.get_or_init(|| compile_json(profile_json, &key.1).map(Arc::from))
            .clone()
    }

    /// The filter of the built-in default profile for `capabilities`.
    pub fn get_or_compile_default(&self, capabilities: &[String]) -> Result<Arc<[u8]>, Error> {
        self.get_or_compile(DEFAULT_PROFILE_JSON.as_bytes(), capabilities)
    }

    /// Number of cached entries (compiled, failed or being compiled).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `key`, created (and the oldest entry evicted when full)
    /// if absent.
    fn slot(&self, key: &Key) -> Arc<OnceLock<Compiled>> {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        if let Some(entry) = state.entries.get_mut(key) {
            entry.last_used = now;
            return entry.cell.clone();
        }
        if state.entries.len() >= self.capacity {
            if let Some(oldest) = state
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            {
                state.entries.remove(&oldest);
            }
        }
        let cell = Arc::new(OnceLock::new());
        state.entries.insert(
            key.clone(),
            Entry {
                last_used: now,
                cell: cell.clone(),
            },
        );
        cell
    }
}

impl Default for FilterCache {
    fn default() -> FilterCache {
        FilterCache::new(FilterCache::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for FilterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}
