//! Hostile layers through the store's public API (`import` and `load`): each
//! is refused with a clear message, nothing is written outside the store
//! (a sentinel directory beside it is compared before and after), nothing
//! is left inside it, and the store keeps working.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, SystemTime};

use berth_image::{ImageErrorKind, ImageStore};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// The limits every test in this process runs with (they are process-wide).
const MAX_LAYER_SIZE: u64 = 8 << 20;

fn set_limits() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| ImageStore::set_unpack_limits(MAX_LAYER_SIZE, 64));
}

/// A store and, beside it, a sentinel tree that must never change.
struct World {
    dir: tempfile::TempDir,
    store: ImageStore,
}

impl World {
    fn new() -> World {
        set_limits();
        let dir = tempfile::tempdir().unwrap();
        let sentinel = dir.path().join("sentinel");
        fs::create_dir_all(sentinel.join("etc")).unwrap();
        fs::write(sentinel.join("etc/passwd"), b"root:x:0:0\n").unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for path in ["etc/passwd", "etc", ""] {
            let file = fs::File::open(sentinel.join(path)).unwrap();
            file.set_modified(old).unwrap();
        }
        let store = ImageStore::open(dir.path().join("store")).unwrap();
        World { dir, store }
    }

    fn sentinel(&self) -> PathBuf {
        self.dir.path().join("sentinel")
    }

    fn sentinel_str(&self) -> String {
        self.sentinel().to_str().unwrap().to_string()
    }

    /// The sentinel is exactly as made: same names, contents, mtimes, and
    /// no extra hard links to its file.
    fn assert_sentinel_untouched(&self) {
        let root = self.sentinel();
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let meta = fs::symlink_metadata(&dir).unwrap();
            assert_eq!(meta.mtime(), 1_000_000, "{} was modified", dir.display());
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                assert_eq!(meta.mtime(), 1_000_000, "{} was modified", path.display());
                if meta.is_dir() {
                    stack.push(path.clone());
                } else {
                    assert_eq!(meta.nlink(), 1, "{} was hard-linked", path.display());
                }
                found.push(path.strip_prefix(&root).unwrap().to_path_buf());
            }
        }
        found.sort();
        assert_eq!(
            found,
            [PathBuf::from("etc"), PathBuf::from("etc/passwd")],
            "files appeared outside the store"
        );
        assert_eq!(fs::read(root.join("etc/passwd")).unwrap(), b"root:x:0:0\n");
    }

    /// Nothing half-made is left in the store, and it has no image.
    fn assert_store_empty(&self) {
        assert!(self.store.list().unwrap().is_empty());
        let store = self.dir.path().join("store");
        for sub in ["layers", "images", "tmp"] {
            let left: Vec<_> = fs::read_dir(store.join(sub))
                .map(|d| d.map(|e| e.unwrap().file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{sub} has leftovers: {left:?}");
        }
    }

    /// Imports `layer`, which must be refused with a message containing
    /// `expected`; then checks that nothing changed and the store still works.
    fn refuse_import(&self, layer: &[u8], expected: &str) {
        let err = self
            .store
            .import(&mut &layer[..], Some("hostile:1"), &[], "")
            .expect_err("hostile layer was imported");
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        self.assert_sentinel_untouched();
        self.assert_store_empty();
        self.assert_still_works();
    }

    fn assert_still_works(&self) {
        let good = Tar::new().file("ok", b"fine").finish();
        let id = self
            .store
            .import(&mut &good[..], Some("good:1"), &[], "")
            .unwrap();
        let layers = self.store.layer_dirs(&id).unwrap();
        assert_eq!(fs::read(layers[0].join("ok")).unwrap(), b"fine");
        self.store.remove("good:1", false, &|_| None).unwrap();
        self.assert_store_empty();
    }
}

/// Tar archives with entry names and link targets written verbatim, so
/// `..` and absolute names can be produced.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn entry(mut self, path: &str, kind: EntryType, link: &str, data: &[u8]) -> Tar {
        let mut header = Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        self.0.extend_from_slice(header.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }

    fn file(self, path: &str, data: &[u8]) -> Tar {
        self.entry(path, EntryType::Regular, "", data)
    }

    fn dir(self, path: &str) -> Tar {
        self.entry(path, EntryType::Directory, "", b"")
    }

    fn symlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, EntryType::Symlink, target, b"")
    }

    fn hardlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, EntryType::Link, target, b"")
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[test]
fn relative_paths_climbing_out_are_refused() {
    let w = World::new();
    let climb = format!("../../../../../../../../..{}/pwned", w.sentinel_str());
    w.refuse_import(
        &Tar::new().file(&climb, b"x").finish(),
        "escapes the layer root",
    );
    w.refuse_import(
        &Tar::new().file("a/../../sentinel/pwned", b"x").finish(),
        "escapes the layer root",
    );
}

#[test]
fn absolute_paths_land_inside_the_layer() {
    let w = World::new();
    let inside = format!("{}/etc/passwd", w.sentinel_str());
    let layer = Tar::new().file(&inside, b"pwned").finish();
    let id = w
        .store
        .import(&mut &layer[..], Some("abs:1"), &[], "")
        .unwrap();
    let layer_dir = &w.store.layer_dirs(&id).unwrap()[0];
    let written = layer_dir.join(inside.trim_start_matches('/'));
    assert_eq!(fs::read(written).unwrap(), b"pwned");
    w.assert_sentinel_untouched();
}

#[test]
fn files_through_a_symlink_to_the_outside_are_refused() {
    let w = World::new();
    w.refuse_import(
        &Tar::new()
            .symlink("evil", "/")
            .file(&format!("evil{}/etc/passwd", w.sentinel_str()), b"pwned")
            .finish(),
        "traverses symlink evil",
    );
    w.refuse_import(
        &Tar::new()
            .symlink("evil", &w.sentinel_str())
            .dir("evil/etc/new")
            .finish(),
        "traverses symlink evil",
    );
}

#[test]
fn symlink_chains_escaping_are_refused() {
    let w = World::new();
    w.refuse_import(
        &Tar::new()
            .symlink("c", "../../../../../../../../..")
            .symlink("b", "c")
            .symlink("a", "b")
            .file(&format!("a{}/etc/passwd", w.sentinel_str()), b"pwned")
            .finish(),
        "traverses symlink a",
    );
    w.refuse_import(
        &Tar::new()
            .dir("d")
            .symlink("d/up", "..")
            .symlink("d/up2", "up/..")
            .file("d/up2/x", b"pwned")
            .finish(),
        "traverses symlink d/up2",
    );
}

#[test]
fn hard_links_to_files_outside_are_refused() {
    let w = World::new();
    w.refuse_import(
        &Tar::new()
            .hardlink("passwd", "../../../../../../../../etc/passwd")
            .finish(),
        "points outside the layer",
    );
    w.refuse_import(
        &Tar::new().hardlink("passwd", "/etc/passwd").finish(),
        "refers to a missing directory",
    );
    let outside = format!("{}/etc/passwd", w.sentinel_str());
    w.refuse_import(
        &Tar::new().hardlink("passwd", &outside).finish(),
        "refers to a missing directory",
    );
}

#[test]
fn hard_links_through_a_symlink_are_refused() {
    let w = World::new();
    w.refuse_import(
        &Tar::new()
            .symlink("s", &format!("{}/etc", w.sentinel_str()))
            .hardlink("h", "s/passwd")
            .finish(),
        "traverses symlink s",
    );
}

#[test]
fn whiteouts_outside_the_layer_are_refused() {
    let w = World::new();
    w.refuse_import(
        &Tar::new().file("../.wh.sentinel", b"").finish(),
        "escapes the layer root",
    );
    w.refuse_import(
        &Tar::new()
            .symlink("etc", &format!("{}/etc", w.sentinel_str()))
            .file("etc/.wh.passwd", b"")
            .finish(),
        "traverses symlink etc",
    );
}

/// A gzip stream of a tar header for one file of `file_size` bytes, then
/// `members` gzip members of 1 MiB of zeros each; counts what is read.
struct GzipBomb {
    bytes: Vec<u8>,
    zeros: usize,
    members: usize,
    pos: usize,
}

impl GzipBomb {
    fn new(file_size: u64, members: usize) -> GzipBomb {
        let mut header = Header::new_gnu();
        header.set_path("zeros").unwrap();
        header.set_entry_type(EntryType::Regular);
        header.set_size(file_size);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        let mut bytes = gzip(header.as_bytes());
        let zeros = gzip(&vec![0u8; 1 << 20]);
        let zeros_len = zeros.len();
        bytes.extend_from_slice(&zeros);
        GzipBomb {
            zeros: zeros_len,
            bytes,
            members,
            pos: 0,
        }
    }

    fn len(&self) -> usize {
        self.bytes.len() - self.zeros + self.zeros * self.members
    }
}

impl Read for GzipBomb {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let head = self.bytes.len() - self.zeros;
        if self.pos >= self.len() {
            return Ok(0);
        }
        let offset = if self.pos < head {
            self.pos
        } else {
            head + (self.pos - head) % self.zeros
        };
        let end = if offset < head {
            head
        } else {
            self.bytes.len()
        };
        let n = buf.len().min(end - offset);
        buf[..n].copy_from_slice(&self.bytes[offset..offset + n]);
        self.pos += n;
        Ok(n)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn decompression_bomb_is_refused_early() {
    let w = World::new();
    // 16 GiB of zeros from about 16 MiB of gzip.
    let mut bomb = GzipBomb::new(16 << 30, 16 << 10);
    let total = bomb.len();
    let err = w
        .store
        .import(&mut bomb, Some("bomb:1"), &[], "")
        .expect_err("bomb was imported");
    assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("more than 8 MiB"), "{err}");
    assert!(
        bomb.pos < total / 64,
        "read {} of {total} bytes before stopping",
        bomb.pos
    );
    w.assert_sentinel_untouched();
    w.assert_store_empty();
    w.assert_still_works();
}

/// A docker-archive (`docker save` layout) of one image with `layer`.
fn docker_archive(layer: &[u8], diff_id: &str) -> Vec<u8> {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["loaded:1"],
        "Layers": ["l/layer.tar"],
    }]))
    .unwrap();
    Tar::new()
        .file(&config_name, &config)
        .file("l/layer.tar", layer)
        .file("manifest.json", &manifest)
        .finish()
}

#[test]
fn docker_load_of_hostile_layers_is_refused() {
    let w = World::new();
    let benign = Tar::new().file("ok", b"fine").finish();
    let loaded = w
        .store
        .load(&mut &docker_archive(&benign, &sha256(&benign))[..])
        .unwrap();
    assert_eq!(loaded.len(), 1, "the archive format itself must load");
    w.store.remove("loaded:1", false, &|_| None).unwrap();
    w.assert_store_empty();

    let hostile = [
        (
            Tar::new()
                .symlink("evil", &w.sentinel_str())
                .file("evil/etc/passwd", b"pwned")
                .finish(),
            "traverses symlink evil",
        ),
        (
            Tar::new().hardlink("h", "../../../etc/passwd").finish(),
            "points outside the layer",
        ),
        (
            Tar::new().file("../../../../pwned", b"x").finish(),
            "escapes the layer root",
        ),
    ];
    for (layer, expected) in hostile {
        let archive = docker_archive(&layer, &sha256(&layer));
        let err = w
            .store
            .load(&mut &archive[..])
            .expect_err("hostile archive was loaded");
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        w.assert_sentinel_untouched();
        w.assert_store_empty();
    }

    let mut bomb = Vec::new();
    GzipBomb::new(1 << 30, 1024).read_to_end(&mut bomb).unwrap();
    let err = w
        .store
        .load(&mut &docker_archive(&bomb, &sha256(b"unknown"))[..])
        .expect_err("bomb was loaded");
    assert!(err.to_string().contains("more than 8 MiB"), "{err}");
    w.assert_sentinel_untouched();
    w.assert_store_empty();
    w.assert_still_works();
}
