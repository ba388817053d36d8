//! User namespace remapping through the store's public API: a store opened
//! with id maps unpacks layers owned by the host's subordinate ids, refuses
//! a layer with an id it cannot map (leaving nothing behind), and a store
//! opened without maps keeps the archive's owners. Runs as root on the real
//! filesystem.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_image::{IdMaps, IdRange, ImageErrorKind, ImageStore};
use tar::{EntryType, Header};

/// Container ids 0..65536 are host ids 100000..165536, uids and gids alike.
fn maps() -> IdMaps {
    let range = IdRange {
        container: 0,
        host: 100_000,
        size: 65_536,
    };
    IdMaps {
        uids: vec![range],
        gids: vec![range],
    }
}

/// Tar archives whose entries have the owners given.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: EntryType, mode: u32, (uid, gid): (u64, u64)) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(1_700_000_000);
        header
    }

    fn file(mut self, path: &str, data: &[u8], mode: u32, owner: (u64, u64)) -> Tar {
        let mut header = Tar::header(EntryType::Regular, mode, owner);
        header.set_size(data.len() as u64);
        self.0.append_data(&mut header, path, data).unwrap();
        self
    }

    fn dir(mut self, path: &str, owner: (u64, u64)) -> Tar {
        let mut header = Tar::header(EntryType::Directory, 0o755, owner);
        self.0.append_data(&mut header, path, &b""[..]).unwrap();
        self
    }

    fn link(mut self, kind: EntryType, path: &str, target: &str, owner: (u64, u64)) -> Tar {
        let mut header = Tar::header(kind, 0o777, owner);
        self.0.append_link(&mut header, path, target).unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A layer with entries of every kind and owner the tests look at.
fn layer() -> Vec<u8> {
    Tar::new()
        .dir("./", (0, 0))
        .file("etc/passwd", b"root:x:0:0\n", 0o644, (0, 0))
        .file("bin/busybox", b"#!fake\n", 0o4755, (0, 0))
        .link(EntryType::Link, "bin/ls", "bin/busybox", (7, 7))
        .link(EntryType::Symlink, "bin/sh", "/bin/busybox", (5, 5))
        .dir("home/user", (1000, 1000))
        .file("home/user/notes", b"hello\n", 0o600, (1000, 1000))
        .file("home/user/shared", b"", 0o640, (1000, 2000))
        .dir("opaque", (0, 0))
        .file("opaque/.wh..wh..opq", b"", 0o644, (0, 0))
        .file(".wh.gone", b"", 0o644, (1000, 1000))
        .finish()
}

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the id map tests must run as root"
    );
}

/// Imports `layer` into `store` and returns its unpacked directory.
fn import(store: &ImageStore, layer: &[u8]) -> PathBuf {
    let id = store
        .import(&mut &layer[..], Some("remapped:1"), &[], "")
        .unwrap();
    let mut dirs = store.layer_dirs(&id).unwrap();
    assert_eq!(dirs.len(), 1);
    dirs.remove(0)
}

/// The owner of `path` itself (never of a symlink's target).
fn owner(root: &Path, path: &str) -> (u32, u32) {
    let meta = fs::symlink_metadata(root.join(path)).unwrap();
    (meta.uid(), meta.gid())
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let name = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 64];
    // SAFETY: NUL-terminated strings and a writable buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[test]
fn remapped_store_shifts_every_owner_into_the_subordinate_range() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open_with_id_maps(dir.path().join("store"), maps()).unwrap();
    let root = import(&store, &layer());

    assert_eq!(owner(&root, ""), (100_000, 100_000), "layer root");
    assert_eq!(owner(&root, "etc"), (100_000, 100_000), "implied directory");
    assert_eq!(owner(&root, "etc/passwd"), (100_000, 100_000));
    assert_eq!(owner(&root, "bin/busybox"), (100_000, 100_000));
    assert_eq!(
        owner(&root, "bin/ls"),
        (100_000, 100_000),
        "a hard link keeps its target's owner"
    );
    assert_eq!(
        fs::symlink_metadata(root.join("bin/ls")).unwrap().ino(),
        fs::symlink_metadata(root.join("bin/busybox"))
            .unwrap()
            .ino()
    );
    let sh = fs::symlink_metadata(root.join("bin/sh")).unwrap();
    assert!(sh.file_type().is_symlink());
    assert_eq!((sh.uid(), sh.gid()), (100_005, 100_005), "symlink");
    assert_eq!(owner(&root, "home"), (100_000, 100_000));
    assert_eq!(owner(&root, "home/user"), (101_000, 101_000), "directory");
    assert_eq!(owner(&root, "home/user/notes"), (101_000, 101_000));
    assert_eq!(owner(&root, "home/user/shared"), (101_000, 102_000));

    // Modes survive the chown (setuid included) and contents are intact.
    let busybox = fs::symlink_metadata(root.join("bin/busybox")).unwrap();
    assert_eq!(busybox.mode() & 0o7777, 0o4755);
    assert_eq!(fs::read(root.join("etc/passwd")).unwrap(), b"root:x:0:0\n");

    // Whiteouts stay as overlayfs wants them.
    let gone = fs::symlink_metadata(root.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert_eq!(
        get_xattr(&root.join("opaque"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!root.join("opaque/.wh..wh..opq").exists());
}

#[test]
fn an_id_outside_every_range_fails_the_layer_and_leaves_nothing() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let store_root = dir.path().join("store");
    let store = ImageStore::open_with_id_maps(&store_root, maps()).unwrap();
    let by_uid = Tar::new()
        .file("ok", b"fine", 0o644, (0, 0))
        .file("far", b"away", 0o644, (70_000, 0))
        .finish();
    let by_gid = Tar::new()
        .dir("d", (0, 0))
        .link(EntryType::Symlink, "d/far", "/", (0, 70_000))
        .finish();
    for layer in [by_uid, by_gid] {
        let err = store
            .import(&mut &layer[..], Some("unmappable:1"), &[], "")
            .expect_err("a layer with an unmappable id was imported");
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert_eq!(
            err.to_string(),
            "Container ID 70000 cannot be mapped to a host ID"
        );
        assert!(store.list().unwrap().is_empty());
        for sub in ["layers", "images", "tmp"] {
            let left: Vec<_> = fs::read_dir(store_root.join(sub))
                .map(|d| d.map(|e| e.unwrap().file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{sub} has leftovers: {left:?}");
        }
    }

    // The store still works with a layer it can map.
    let good = Tar::new().file("ok", b"fine", 0o644, (65_535, 0)).finish();
    let root = import(&store, &good);
    assert_eq!(owner(&root, "ok"), (165_535, 100_000));
}

#[test]
fn maps_without_container_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut no_root = maps();
    no_root.gids[0].container = 1;
    let err = ImageStore::open_with_id_maps(dir.path().join("store"), no_root)
        .err()
        .expect("maps without container root accepted");
    assert_eq!(
        err.to_string(),
        "Container ID 0 cannot be mapped to a host ID"
    );
}

#[test]
fn store_without_maps_keeps_the_archive_owners() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path().join("store")).unwrap();
    let root = import(&store, &layer());

    assert_eq!(owner(&root, ""), (0, 0), "layer root");
    assert_eq!(owner(&root, "etc"), (0, 0));
    assert_eq!(owner(&root, "etc/passwd"), (0, 0));
    assert_eq!(owner(&root, "bin/ls"), (0, 0));
    assert_eq!(owner(&root, "bin/sh"), (5, 5));
    assert_eq!(owner(&root, "home/user"), (1000, 1000));
    assert_eq!(owner(&root, "home/user/notes"), (1000, 1000));
    assert_eq!(owner(&root, "home/user/shared"), (1000, 2000));

    let far = Tar::new().file("far", b"away", 0o644, (70_000, 0)).finish();
    let root = import(&store, &far);
    assert_eq!(owner(&root, "far"), (70_000, 0));
}
