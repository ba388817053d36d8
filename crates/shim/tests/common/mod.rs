//! Test fixture: a busybox root filesystem as the single lower layer, specs
//! for containers on it, and guards that leave no process behind.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

pub mod cgroups;

use berth_runtime::{
    launch, read_exit_status, ContainerSpec, ExitStatus, FilesystemSpec, NetworkNamespace,
    ProcessSpec, RootfsSpec, SecuritySpec, StartReport,
};
use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const APPLETS: &[&str] = &[
    "sh",
    "echo",
    "cat",
    "hostname",
    "id",
    "sleep",
    "ls",
    "pwd",
    "env",
    "head",
    "tr",
    "wc",
    "test",
    "touch",
    "mkdir",
    "stat",
    "readlink",
    "true",
    "tty",
    "stty",
    "sha256sum",
    "seq",
];
const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000::/home/app:/bin/sh
";
const GROUP: &str = "\
root:x:0:
app:x:1000:
devs:x:2000:app
nogroup:x:65534:
";
pub const TIMEOUT: Duration = Duration::from_secs(20);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A temporary directory with a busybox lower layer; containers started from
/// it are killed and their monitors waited for when it is dropped.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    started: RefCell<Vec<Started>>,
}

/// A started container: pidfds of its init and monitor, so that signals can
/// never reach a recycled pid.
pub struct Started {
    pub pid: i32,
    pub shim_pid: i32,
    init: Option<OwnedFd>,
    shim: Option<OwnedFd>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("berth-shim-test")
            .tempdir()
            .unwrap();
        let lower = dir.path().join("lower");
        std::fs::create_dir_all(lower.join("bin")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
        for applet in APPLETS {
            symlink("busybox", lower.join("bin").join(applet)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(lower.join("etc/group"), GROUP).unwrap();
        Fixture {
            dir,
            lower,
            started: RefCell::new(Vec::new()),
        }
    }

    /// A spec for container `name` running `args`, with its own upper, work
    /// and target directories, and a control socket (kept short: a socket
    /// path has at most 107 bytes).
    pub fn spec(&self, name: &str, args: &[&str]) -> ContainerSpec {
        let serial = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:032x}{serial:032x}", std::process::id());
        let root = self.dir.path().join(name).join(&id);
        for sub in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        ContainerSpec {
            rootfs: RootfsSpec {
                lower: vec![self.lower.clone()],
                upper: root.join("upper"),
                work: root.join("work"),
                target: root.join("rootfs"),
                idmapped: false,
            },
            process: ProcessSpec {
                args: args.iter().map(|s| s.to_string()).collect(),
                env: vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ],
                cwd: "/".into(),
                user: String::new(),
                open_stdin: false,
                tty: false,
                console_size: None,
                stdin_once: false,
            },
            hostname: "berth-test".into(),
            file_binds: vec![],
            log_path: root.join(format!("{id}-json.log")),
            exit_path: root.join("exit.json"),
            control_socket: Some(self.dir.path().join(format!("{serial}.sock"))),
            cgroup_procs: vec![],
            cgroupns_host: false,
            network: NetworkNamespace::New,
            devices: vec![],
            security: SecuritySpec::default(),
            filesystem: FilesystemSpec::default(),
            user_namespace: None,
            sysctls: Default::default(),
            mounts: Vec::new(),
            id,
        }
    }

    /// Writes the spec beside the container's files and launches its monitor.
    pub fn launch(&self, spec: &ContainerSpec) -> StartReport {
        let spec_path = spec_path(spec);
        std::fs::write(&spec_path, serde_json::to_vec(spec).unwrap()).unwrap();
        let report = launch(Path::new(env!("CARGO_BIN_EXE_berth-shim")), &spec_path).unwrap();
        if let StartReport::Started { pid, shim_pid } = report {
            self.started.borrow_mut().push(Started {
                pid,
                shim_pid,
                init: pidfd_open(pid),
                shim: pidfd_open(shim_pid),
            });
        }
        report
    }

    /// Launches and expects a start; returns (init pid, monitor pid).
    pub fn start(&self, spec: &ContainerSpec) -> (i32, i32) {
        match self.launch(spec) {
            StartReport::Started { pid, shim_pid } => (pid, shim_pid),
            failed => panic!("container did not start: {failed:?}"),
        }
    }

    /// Runs a container to its end; returns its exit code and its log as
    /// (log, stream) pairs.
    pub fn run(&self, spec: &ContainerSpec) -> (i32, Vec<(String, String)>) {
        self.start(spec);
        let status = wait_exit(spec);
        self.wait_monitors_gone();
        (status.exit_code, read_log(spec))
    }

    /// A fixture whose busybox also answers to `applets` (links to it).
    pub fn with_applets(applets: &[&str]) -> Fixture {
        let fx = Fixture::new();
        for applet in applets {
            let link = fx.lower.join("bin").join(applet);
            if link.symlink_metadata().is_err() {
                symlink("busybox", link).unwrap();
            }
        }
        fx
    }

    /// `sh -c script` in a container of its own.
    pub fn shell(&self, script: &str) -> ContainerSpec {
        self.spec("c", &["sh", "-c", script])
    }

    /// Everything the container printed (both streams) and its exit code.
    pub fn run_all(&self, spec: &ContainerSpec) -> (i32, String) {
        let (code, log) = self.run(spec);
        (code, log.into_iter().map(|(line, _)| line).collect())
    }

    /// Stdout of a container that must exit 0 and write nothing to stderr.
    pub fn output(&self, spec: &ContainerSpec) -> String {
        let (code, log) = self.run(spec);
        assert_eq!(code, 0, "{log:?}");
        assert!(log.iter().all(|(_, stream)| stream == "stdout"), "{log:?}");
        log.into_iter().map(|(line, _)| line).collect()
    }

    /// Sends SIGKILL to a started container's init.
    pub fn kill(&self, pid: i32) {
        let started = self.started.borrow();
        let container = started.iter().find(|s| s.pid == pid).expect("started here");
        if let Some(init) = &container.init {
            pidfd_send_sigkill(init);
        }
    }

    /// Waits until every monitor started here has exited.
    pub fn wait_monitors_gone(&self) {
        for started in self.started.borrow().iter() {
            if let Some(shim) = &started.shim {
                assert!(
                    wait_readable(shim, TIMEOUT),
                    "monitor {} did not exit",
                    started.shim_pid
                );
            }
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for started in self.started.borrow().iter() {
            if let Some(init) = &started.init {
                pidfd_send_sigkill(init);
            }
            if let Some(shim) = &started.shim {
                if !wait_readable(shim, TIMEOUT) {
                    pidfd_send_sigkill(shim);
                    wait_readable(shim, TIMEOUT);
                }
            }
        }
        // Monitors that reported a failure have no pid in their report.
        let marker = self.dir.path().to_string_lossy().into_owned();
        let deadline = Instant::now() + TIMEOUT;
        while !processes_mentioning(&marker).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for pid in processes_mentioning(&marker) {
            // SAFETY: kill with a pid and a signal number.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

pub fn spec_path(spec: &ContainerSpec) -> PathBuf {
    spec.log_path.parent().unwrap().join("spec.json")
}

/// Polls for the exit status the monitor writes.
pub fn wait_exit(spec: &ContainerSpec) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = read_exit_status(&spec.exit_path).unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "no exit status at {}",
            spec.exit_path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The container's log as (log, stream) pairs.
pub fn read_log(spec: &ContainerSpec) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(&spec.log_path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(value["time"].as_str().unwrap().ends_with('Z'));
            (
                value["log"].as_str().unwrap().to_owned(),
                value["stream"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Everything the container printed so far, in order, with the streams
/// mixed; read while the monitor may be appending, so an entry not yet
/// written whole ends the text.
pub fn log_text(spec: &ContainerSpec) -> String {
    let text = std::fs::read_to_string(&spec.log_path).unwrap_or_default();
    text.split_inclusive('\n')
        .map_while(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|entry| entry["log"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the container's log contains `needle`; returns the log's text.
pub fn wait_log_contains(spec: &ContainerSpec, needle: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = log_text(spec);
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pids of processes whose command line contains `marker`.
pub fn processes_mentioning(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

/// A field of /proc/PID/status, e.g. "PPid".
pub fn proc_status(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        Some(value.trim().to_owned())
    })
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_sigkill(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal with a valid pidfd and no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Whether the process behind `pidfd` exited within `timeout`.
fn wait_readable(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut fd, 1, timeout.as_millis() as i32) == 1 }
}

/// A filter that fails mkdir and mkdirat with EPERM and allows the rest
/// (x86_64 only; other architectures are allowed everything).
#[cfg(target_arch = "x86_64")]
pub fn deny_mkdir_filter() -> Vec<u8> {
    const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let program: [(u16, u8, u8, u32); 7] = [
        (LD_ABS, 0, 0, 4),              // arch
        (JEQ, 0, 4, AUDIT_ARCH_X86_64), // other arch: allow
        (LD_ABS, 0, 0, 0),              // nr
        (JEQ, 1, 0, libc::SYS_mkdir as u32),
        (JEQ, 0, 1, libc::SYS_mkdirat as u32),
        (RET, 0, 0, 0x0005_0000 | libc::EPERM as u32), // SECCOMP_RET_ERRNO
        (RET, 0, 0, 0x7fff_0000),                      // SECCOMP_RET_ALLOW
    ];
    program
        .iter()
        .flat_map(|&(code, jt, jf, k)| {
            let mut insn = code.to_ne_bytes().to_vec();
            insn.extend([jt, jf]);
            insn.extend(k.to_ne_bytes());
            insn
        })
        .collect()
}
