//! Tests against this host's real cgroups (run as root). Each test works
//! under its own parent `berth-test-<pid>-<n>` in every hierarchy, and a
//! guard kills what it started and removes every directory it made, pass
//! or fail. Without root the tests print a note and pass.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_cgroups::{docker_default_rules, Cgroup, DeviceRule, Error, Layout, Resources};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A unique parent in every hierarchy, removed (with anything in it) on drop.
struct TestTree {
    layout: Layout,
    parent: String,
}

impl TestTree {
    fn new() -> Option<TestTree> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: cgroup tests need root");
            return None;
        }
        let layout = Layout::detect().expect("detect cgroup layout");
        let parent = format!(
            "berth-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Some(TestTree { layout, parent })
    }

    fn create(&self, name: &str) -> Cgroup {
        Cgroup::create(&self.layout, &self.parent, name).expect("create cgroup")
    }

    fn parent_dirs(&self) -> Vec<PathBuf> {
        self.layout
            .hierarchy_roots()
            .into_iter()
            .map(|r| r.join(&self.parent))
            .collect()
    }
}

impl Drop for TestTree {
    fn drop(&mut self) {
        for top in self.parent_dirs() {
            let mut dirs = Vec::new();
            collect_dirs(&top, &mut dirs);
            // Children before parents: collect_dirs lists parents first.
            for dir in dirs.iter().rev() {
                let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    let pids =
                        std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                    if pids.trim().is_empty() || Instant::now() > deadline {
                        break;
                    }
                    for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                for _ in 0..50 {
                    match std::fs::remove_dir(dir) {
                        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        _ => break,
                    }
                }
            }
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect_dirs(&entry.path(), out);
        }
    }
}

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Proc {
    fn sleep() -> Proc {
        Proc(
            Command::new("sleep")
                .arg("60")
                .spawn()
                .expect("spawn sleep"),
        )
    }

    /// `sh -c 'read x; SCRIPT'`: runs the script once released, so it can be
    /// moved into a cgroup first.
    fn gated(script: &str) -> Proc {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("read x; {script}"))
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        Proc(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn release(&mut self) {
        let mut stdin = self.0.stdin.take().expect("gated process stdin");
        stdin.write_all(b"go\n").expect("release gated process");
    }

    fn wait_timeout(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "child did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn v1_dir(cg: &Cgroup, controller: &str) -> Option<PathBuf> {
    cg.paths().v1.get(controller).cloned()
}

#[test]
fn layout_on_this_host_reports_a_version_and_cgroupfs() {
    let Some(t) = TestTree::new() else { return };
    assert!(matches!(t.layout.version(), "1" | "2"));
    assert_eq!(t.layout.driver(), "cgroupfs");
    if let Layout::Hybrid { v1, unified } = &t.layout {
        assert!(v1.get("memory").is_some());
        assert!(unified.join("cgroup.controllers").exists());
    }
}

#[test]
fn added_process_is_listed_and_its_proc_cgroup_names_our_path() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("join");
    let child = Proc::sleep();
    cg.add_process(child.pid()).unwrap();
    assert!(cg.procs().unwrap().contains(&child.pid()));
    let own = format!("/{}/join", t.parent);
    let proc_cgroup = read(Path::new(&format!("/proc/{}/cgroup", child.pid())));
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let ours = controllers.is_empty() // the v2 tree
            || controllers.split(',').any(|c| cg.paths().v1.contains_key(c));
        if ours {
            assert_eq!(path, own, "line {line:?}");
        }
    }
    assert!(cg
        .paths()
        .dirs()
        .iter()
        .all(|d| d.ends_with(format!("{}/join", t.parent))));
    if !matches!(t.layout, Layout::Legacy { .. }) {
        assert!(
            cg.paths().unified.is_some(),
            "CLONE_INTO_CGROUP needs a v2 dir"
        );
    }
}

#[test]
fn memory_limits_are_written_and_read_back() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("mem");
    let warnings = cg
        .apply(&Resources {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            memory_reservation: Some(32 << 20),
            ..Default::default()
        })
        .unwrap();
    match v1_dir(&cg, "memory") {
        Some(dir) => {
            assert_eq!(
                read(&dir.join("memory.limit_in_bytes")),
                (64 << 20).to_string()
            );
            assert_eq!(
                read(&dir.join("memory.soft_limit_in_bytes")),
                (32 << 20).to_string()
            );
            if dir.join("memory.memsw.limit_in_bytes").exists() {
                assert!(warnings.is_empty(), "{warnings:?}");
                assert_eq!(
                    read(&dir.join("memory.memsw.limit_in_bytes")),
                    (128 << 20).to_string()
                );
            } else {
                assert!(warnings.iter().any(|w| w.contains("swap")), "{warnings:?}");
            }
        }
        None => {
            let dir = cg.paths().unified.clone().unwrap();
            assert_eq!(read(&dir.join("memory.max")), (64 << 20).to_string());
            assert_eq!(read(&dir.join("memory.low")), (32 << 20).to_string());
            if dir.join("memory.swap.max").exists() {
                assert_eq!(read(&dir.join("memory.swap.max")), (64 << 20).to_string());
            }
        }
    }
    assert_eq!(cg.stats().unwrap().memory.unwrap().limit, Some(64 << 20));
    // Raising memory above the current memory+swap must still work.
    cg.apply(&Resources {
        memory: Some(256 << 20),
        memory_swap: Some(512 << 20),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cg.stats().unwrap().memory.unwrap().limit, Some(256 << 20));
}

#[test]
fn pids_limit_stops_forks_beyond_it() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("pids");
    cg.apply(&Resources {
        pids_limit: Some(5),
        ..Default::default()
    })
    .unwrap();
    let mut sh = Proc::gated("for i in $(seq 10); do sleep 30 & done; wait");
    cg.add_process(sh.pid()).unwrap();
    sh.release();
    std::thread::sleep(Duration::from_millis(500));
    let procs = cg.procs().unwrap();
    assert!(procs.len() <= 5, "pids limit exceeded: {procs:?}");
    assert!(
        procs.len() >= 2,
        "the sleeps that fit should run: {procs:?}"
    );
    let pids = cg.stats().unwrap().pids.unwrap();
    assert_eq!(pids.limit, Some(5));
    assert!(pids.current <= 5);
    let events_dir = v1_dir(&cg, "pids").or(cg.paths().unified.clone()).unwrap();
    if let Ok(events) = std::fs::read_to_string(events_dir.join("pids.events")) {
        let max: u64 = events
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(
            max >= 1,
            "forks beyond the limit should have failed: {events}"
        );
    }
    cg.kill_all().unwrap();
}

#[test]
fn cpu_quota_shares_and_cpuset_are_written() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("cpu");
    let warnings = cg
        .apply(&Resources {
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            cpuset_cpus: Some("0".into()),
            cpuset_mems: Some("0".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    if let Some(dir) = v1_dir(&cg, "cpu") {
        assert_eq!(read(&dir.join("cpu.shares")), "512");
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&dir.join("cpu.cfs_period_us")), "100000");
    } else {
        let dir = cg.paths().unified.clone().unwrap();
        assert_eq!(read(&dir.join("cpu.weight")), "20");
        assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
    }
    let cpuset = v1_dir(&cg, "cpuset")
        .or(cg.paths().unified.clone())
        .unwrap();
    assert_eq!(read(&cpuset.join("cpuset.cpus")), "0");

    cg.apply(&Resources {
        nano_cpus: Some(1_500_000_000),
        ..Default::default()
    })
    .unwrap();
    if let Some(dir) = v1_dir(&cg, "cpu") {
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "150000");
    } else {
        let dir = cg.paths().unified.clone().unwrap();
        assert_eq!(read(&dir.join("cpu.max")), "150000 100000");
    }
}

#[test]
fn cpuset_naming_missing_cpus_is_invalid_input() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("badcpus");
    let err = cg
        .apply(&Resources {
            cpuset_cpus: Some("1023".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert!(err.to_string().contains("cpuset.cpus"), "{err}");
}

#[test]
fn unsupported_blkio_weight_is_a_warning_not_silence() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("blkio");
    let warnings = cg
        .apply(&Resources {
            blkio_weight: Some(500),
            ..Default::default()
        })
        .unwrap();
    let dir = v1_dir(&cg, "blkio").or(cg.paths().unified.clone()).unwrap();
    let has_weight = [
        "blkio.weight",
        "blkio.bfq.weight",
        "io.weight",
        "io.bfq.weight",
    ]
    .iter()
    .any(|f| dir.join(f).exists());
    assert_eq!(warnings.is_empty(), has_weight, "{warnings:?}");
}

#[test]
fn stats_show_memory_and_cpu_usage_after_a_busy_loop() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("stats");
    let mut sh = Proc::gated("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 60");
    cg.add_process(sh.pid()).unwrap();
    sh.release();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let comm = read(Path::new(&format!("/proc/{}/comm", sh.pid())));
        if comm == "sleep" {
            break;
        }
        assert!(Instant::now() < deadline, "busy loop did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = cg.stats().unwrap();
    let mem = stats.memory.unwrap();
    assert!(mem.usage > 0, "{mem:?}");
    assert!(!mem.stat.is_empty());
    let cpu = stats.cpu.unwrap();
    assert!(cpu.usage_total_ns > 10_000_000, "{cpu:?}");
    if v1_dir(&cg, "cpuacct").is_some() {
        assert!(cpu.per_cpu_ns.iter().sum::<u64>() > 0, "{cpu:?}");
    }
    assert_eq!(stats.pids.unwrap().current, 1);
    serde_json::to_string(&cg.stats().unwrap()).unwrap();
}

#[test]
fn freeze_then_thaw_is_reported_by_the_cgroup() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("freeze");
    let child = Proc::sleep();
    cg.add_process(child.pid()).unwrap();
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    match &cg.paths().unified {
        Some(u) if u.join("cgroup.freeze").exists() => {
            assert!(read(&u.join("cgroup.events")).contains("frozen 1"))
        }
        _ => assert_eq!(
            read(&v1_dir(&cg, "freezer").unwrap().join("freezer.state")),
            "FROZEN"
        ),
    }
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert!(cg.procs().unwrap().contains(&child.pid()));
}

#[test]
fn kill_all_empties_the_cgroup_even_when_frozen() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("kill");
    let mut sh = Proc::gated("sleep 60 & sleep 60 & sleep 60 & wait");
    cg.add_process(sh.pid()).unwrap();
    sh.release();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cg.procs().unwrap().len() < 4 {
        assert!(Instant::now() < deadline, "children did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    cg.freeze().unwrap();
    cg.kill_all().unwrap();
    assert_eq!(cg.procs().unwrap(), Vec::<u32>::new());
    assert_eq!(sh.wait_timeout(Duration::from_secs(5)).signal(), Some(9));
}

#[test]
fn oom_kill_is_counted_for_the_cgroup() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("oom");
    cg.apply(&Resources {
        memory: Some(16 << 20),
        memory_swap: Some(16 << 20),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cg.oom_kill_count().unwrap(), 0);
    let mut sh = Proc::gated("x=$(head -c 64000000 /dev/zero | tr '\\0' a)");
    cg.add_process(sh.pid()).unwrap();
    sh.release();
    let status = sh.wait_timeout(Duration::from_secs(30));
    assert!(
        !status.success(),
        "allocation past the limit should fail: {status:?}"
    );
    assert!(cg.oom_kill_count().unwrap() >= 1);
}

#[test]
fn remove_leaves_nothing_behind_in_any_hierarchy() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("gone");
    let child = Proc::sleep();
    cg.add_process(child.pid()).unwrap();
    cg.kill_all().unwrap();
    cg.remove().unwrap();
    cg.remove().unwrap(); // already gone is fine
    for dir in t.parent_dirs() {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_dir())
            .map(|e| e.path())
            .collect();
        assert!(
            left.is_empty(),
            "left behind in {}: {left:?}",
            dir.display()
        );
    }
    let err = Cgroup::open(&t.layout, &t.parent, "gone").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn open_finds_an_existing_cgroup_with_the_same_paths() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("reopen");
    let child = Proc::sleep();
    cg.add_process(child.pid()).unwrap();
    let again = Cgroup::open(&t.layout, &t.parent, "reopen").unwrap();
    assert_eq!(again.paths(), cg.paths());
    assert_eq!(again.procs().unwrap(), vec![child.pid()]);
}

#[test]
fn nested_parent_chain_is_created_and_names_cannot_escape() {
    let Some(t) = TestTree::new() else { return };
    let parent = format!("/{}/a/b", t.parent);
    let cg = Cgroup::create(&t.layout, &parent, "leaf").unwrap();
    let child = Proc::sleep();
    cg.add_process(child.pid()).unwrap();
    assert!(cg.procs().unwrap().contains(&child.pid()));
    let err = Cgroup::create(&t.layout, &format!("{}/..", t.parent), "x").unwrap_err();
    assert!(err.is_invalid_input());
}

/// A whole disk's `major:minor` from `/sys/block` (not loop/ram/zram), if any.
fn some_disk() -> Option<(u64, u64)> {
    let mut disks: Vec<_> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            !["loop", "ram", "zram", "nbd"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .collect();
    disks.sort();
    let dev = disks.first()?;
    let (maj, min) = dev.trim().split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

#[test]
fn device_read_bps_is_written_and_read_back_for_a_real_disk() {
    let Some(t) = TestTree::new() else { return };
    let Some((major, minor)) = some_disk() else {
        eprintln!("skipping: no block device in /sys/block");
        return;
    };
    let cg = t.create("bps");
    let rate = vec![berth_cgroups::DeviceRate {
        major,
        minor,
        rate: 1 << 20,
    }];
    let warnings = cg
        .apply(&Resources {
            blkio_device_read_bps: rate,
            ..Default::default()
        })
        .unwrap();
    let want = format!("{major}:{minor}");
    if let Some(dir) = v1_dir(&cg, "blkio") {
        let file = dir.join("blkio.throttle.read_bps_device");
        if !file.exists() {
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("BPS Block I/O read limit"));
            return;
        }
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            read(&file).lines().any(|l| l == format!("{want} 1048576")),
            "{}",
            read(&file)
        );
    } else {
        let file = cg.paths().unified.clone().unwrap().join("io.max");
        if !file.exists() {
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("BPS Block I/O read limit"));
            return;
        }
        assert!(warnings.is_empty(), "{warnings:?}");
        let text = read(&file);
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{want} ")))
            .unwrap_or_else(|| panic!("no {want} in io.max: {text:?}"));
        assert!(line.contains("rbps=1048576"), "{line}");
    }
}

#[test]
fn oom_kill_disable_is_written_on_v1_and_a_warning_on_v2() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("oomctl");
    let warnings = cg
        .apply(&Resources {
            memory: Some(64 << 20),
            oom_kill_disable: Some(true),
            ..Default::default()
        })
        .unwrap();
    match v1_dir(&cg, "memory") {
        Some(dir) => {
            assert!(warnings.is_empty(), "{warnings:?}");
            let text = read(&dir.join("memory.oom_control"));
            assert!(text.lines().any(|l| l == "oom_kill_disable 1"), "{text}");
        }
        None => assert_eq!(
            warnings,
            ["Your kernel does not support OomKillDisable. OomKillDisable discarded."]
        ),
    }
}

#[test]
fn hugetlb_2mb_limit_is_written_and_bad_sizes_are_invalid_input() {
    // The host's own cgroup root is not ours to change: where it has not
    // delegated hugetlb, the warning path is what this host can show.
    let Some(t) = TestTree::new() else { return };
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipping: no 2MB huge pages on this host");
        return;
    }
    let cg = t.create("huge");
    let limit = |size: &str| Resources {
        hugepage_limits: vec![berth_cgroups::HugepageLimit {
            page_size: size.into(),
            limit: 4 << 20,
        }],
        ..Default::default()
    };
    let warnings = cg.apply(&limit("2MB")).unwrap();
    let file = v1_dir(&cg, "hugetlb")
        .map(|d| d.join("hugetlb.2MB.limit_in_bytes"))
        .or_else(|| {
            let f = cg.paths().unified.clone()?.join("hugetlb.2MB.max");
            f.exists().then_some(f)
        });
    let Some(file) = file else {
        assert_eq!(warnings, ["Your kernel does not support hugetlb limit."]);
        return;
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(read(&file), (4u64 << 20).to_string());
    let err = cg.apply(&limit("3MB")).unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert!(
        err.to_string().contains("Invalid hugepage size: 3MB"),
        "{err}"
    );
}

/// A device node of this host that Docker's default rules deny and that
/// this test process (root, outside any restriction) can open: a whole disk
/// if possible, else another block device (zram, loop, ...), else
/// `/dev/kmsg` (`c 1:11`). Tests only ever open it, never read or write it.
struct HostDevice {
    path: PathBuf,
    kind: char,
    major: u64,
    minor: u64,
}

fn denied_device() -> HostDevice {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Whole disks first, then the virtual kinds.
    names.sort_by_key(|n| {
        let virtual_disk = ["loop", "ram", "zram", "nbd"]
            .iter()
            .any(|p| n.starts_with(p));
        (virtual_disk, n.clone())
    });
    let block = names
        .into_iter()
        .map(|n| PathBuf::from("/dev").join(n))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
                && std::fs::File::open(p).is_ok()
        });
    let path = block.unwrap_or_else(|| PathBuf::from("/dev/kmsg"));
    std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let meta = std::fs::metadata(&path).unwrap();
    HostDevice {
        kind: if meta.file_type().is_block_device() {
            'b'
        } else {
            'c'
        },
        major: libc::major(meta.rdev()) as u64,
        minor: libc::minor(meta.rdev()) as u64,
        path,
    }
}

/// Runs `sh -c SCRIPT` (stderr into stdout) in `cg`: the shell is moved in
/// before it runs the script. Returns its exit code and output.
fn run_in(cg: &Cgroup, script: &str) -> (i32, String) {
    let mut sh = Proc(
        Command::new("sh")
            .arg("-c")
            .arg(format!("read x; exec 2>&1; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh"),
    );
    cg.add_process(sh.pid()).unwrap();
    sh.release();
    let status = sh.wait_timeout(Duration::from_secs(20));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut sh.0.stdout.take().unwrap(), &mut out).unwrap();
    (status.code().unwrap_or(-1), out)
}

/// A scratch directory for device nodes, removed on drop.
struct NodeDir(PathBuf);

impl NodeDir {
    fn new() -> NodeDir {
        let dir = std::env::temp_dir().join(format!(
            "berth-devnodes-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        NodeDir(dir)
    }
}

impl Drop for NodeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks, from inside `cg`, what Docker's default rules promise: the
/// standard nodes work, the host device cannot be opened, a node for it
/// can be made (runc's `b *:* m`, `c *:* m`) but not opened either.
fn assert_default_rules_enforced(cg: &Cgroup, dev: &HostDevice) {
    let nodes = NodeDir::new();
    let node = nodes.0.join("node");
    let (code, out) = run_in(
        cg,
        &format!(
            "true < /dev/null && echo null-ok; true > /dev/null && echo null-write-ok; \
             head -c1 /dev/zero | wc -c; \
             true < {dev}; echo open=$?; \
             mknod {node} {kind} {major} {minor} && echo mknod-ok; \
             true < {node}; echo node=$?",
            dev = dev.path.display(),
            node = node.display(),
            kind = dev.kind,
            major = dev.major,
            minor = dev.minor,
        ),
    );
    assert_eq!(code, 0, "{out}");
    for want in ["null-ok", "null-write-ok", "mknod-ok", "open=", "node="] {
        assert!(out.contains(want), "no {want:?} in {out:?}");
    }
    assert!(out.lines().any(|l| l.trim() == "1"), "/dev/zero: {out:?}");
    assert!(
        !out.contains("open=0"),
        "{} opened: {out:?}",
        dev.path.display()
    );
    assert!(!out.contains("node=0"), "the new node opened: {out:?}");
    assert_eq!(
        out.matches("Operation not permitted").count(),
        2,
        "both opens must be refused by the device cgroup: {out:?}"
    );
}

#[test]
fn docker_default_device_rules_deny_a_host_device_but_not_dev_null() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("devices");
    cg.apply_devices(&docker_default_rules()).unwrap();
    let dev = denied_device();
    assert_default_rules_enforced(&cg, &dev);
    if let Some(dir) = v1_dir(&cg, "devices") {
        let list = read(&dir.join("devices.list"));
        for want in [
            "c 1:3 rwm",
            "c *:* m",
            "b *:* m",
            "c 136:* rwm",
            "c 10:200 rwm",
        ] {
            assert!(list.lines().any(|l| l == want), "{want} not in {list}");
        }
        assert!(!list.contains("a *:* rwm"), "{list}");
        assert!(!list.contains("10:229"), "fuse is denied: {list}");
    }
}

#[test]
fn a_read_rule_for_a_device_lets_it_be_opened_for_reading_only() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("devread");
    let dev = denied_device();
    let mut rules = docker_default_rules();
    rules.push(DeviceRule::allow_device(
        dev.kind, dev.major, dev.minor, "r",
    ));
    cg.apply_devices(&rules).unwrap();
    // `<>` opens read-write; nothing is ever written.
    let (code, out) = run_in(
        &cg,
        &format!(
            "true < {dev} && echo read-ok; true <> {dev}; echo rw=$?",
            dev = dev.path.display()
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read-ok"), "{out:?}");
    assert!(!out.contains("rw=0"), "opened for writing: {out:?}");
    assert!(out.contains("Operation not permitted"), "{out:?}");
}

#[test]
fn deny_all_refuses_even_mknod_and_allow_all_replaces_it() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("devall");
    let dev = denied_device();
    let nodes = NodeDir::new();
    let script = format!(
        "mknod {node} c 1 3; echo mknod=$?; true < {dev}; echo open=$?",
        node = nodes.0.join("null").display(),
        dev = dev.path.display()
    );
    cg.apply_devices(&[DeviceRule::deny_all()]).unwrap();
    let (_, out) = run_in(&cg, &script);
    assert!(
        !out.contains("mknod=0") && !out.contains("open=0"),
        "{out:?}"
    );
    assert_eq!(out.matches("Operation not permitted").count(), 2, "{out:?}");
    // Applying again replaces the rules (v1: the `a` write resets them; v2:
    // the old program is detached): `--privileged` opens everything.
    cg.apply_devices(&[DeviceRule::allow_all()]).unwrap();
    let (_, out) = run_in(&cg, &script);
    assert!(out.contains("mknod=0") && out.contains("open=0"), "{out:?}");
}

#[test]
fn malformed_device_rules_are_invalid_input_and_change_nothing() {
    let Some(t) = TestTree::new() else { return };
    let cg = t.create("devbad");
    let bad = DeviceRule {
        access: "rx".into(),
        ..DeviceRule::allow_all()
    };
    let err = cg
        .apply_devices(&[DeviceRule::deny_all(), bad])
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    let (_, out) = run_in(&cg, "true < /dev/zero && echo zero-ok");
    assert!(out.contains("zero-ok"), "{out:?}");
}

/// bpf(2) with a `union bpf_attr` prefix.
fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a #[repr(C)] bpf_attr prefix valid for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// The ids of the device programs attached to the v2 cgroup at `dir`
/// (BPF_PROG_QUERY, BPF_CGROUP_DEVICE).
fn device_programs(dir: &Path) -> Vec<u32> {
    #[repr(C)]
    struct Query {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        pad: u32,
    }
    let cgroup = std::fs::File::open(dir).unwrap();
    let mut ids = [0u32; 16];
    let mut q = Query {
        target_fd: std::os::fd::AsRawFd::as_raw_fd(&cgroup) as u32,
        attach_type: 6,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        pad: 0,
    };
    sys_bpf(16, &mut q).expect("BPF_PROG_QUERY");
    ids[..q.prog_cnt as usize].to_vec()
}

/// Whether a bpf program with this id still exists (BPF_PROG_GET_FD_BY_ID).
fn program_exists(id: u32) -> bool {
    let mut attr = [id, 0, 0];
    match sys_bpf(13, &mut attr) {
        Ok(fd) => {
            // SAFETY: closing the descriptor the kernel just gave us.
            unsafe { libc::close(fd as libc::c_int) };
            true
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => false,
        Err(e) => panic!("BPF_PROG_GET_FD_BY_ID {id}: {e}"),
    }
}

#[test]
fn ebpf_device_program_enforces_the_rules_and_goes_with_the_cgroup() {
    // The v2 path: a cgroup in the v2 tree, also on a hybrid host (whose
    // kernel runs device programs of the v2 tree as well as the v1 checks).
    let Some(t) = TestTree::new() else { return };
    let v2_root = match &t.layout {
        Layout::Unified { root } => root.clone(),
        Layout::Hybrid { unified, .. } => unified.clone(),
        Layout::Legacy { .. } => {
            eprintln!("skipping: no cgroup v2 tree on this host");
            return;
        }
    };
    let v2 = Layout::Unified { root: v2_root };
    let cg = Cgroup::create(&v2, &t.parent, "ebpf").unwrap();
    let dir = cg.paths().unified.clone().unwrap();
    assert!(device_programs(&dir).is_empty());
    cg.apply_devices(&docker_default_rules()).unwrap();
    let first = device_programs(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_default_rules_enforced(&cg, &denied_device());
    // Applying again swaps the program: still exactly one, a new one.
    cg.apply_devices(&docker_default_rules()).unwrap();
    let second = device_programs(&dir);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
    assert!(!program_exists(first[0]), "the replaced program was freed");
    // Removing the cgroup frees the program (the kernel does it shortly
    // after the cgroup is released).
    cg.remove().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while program_exists(second[0]) {
        assert!(
            Instant::now() < deadline,
            "device program {} outlived its cgroup",
            second[0]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
