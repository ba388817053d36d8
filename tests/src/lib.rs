//! The end-to-end test harness: a real `berthd` as root on a private socket,
//! data root and exec root, and ways to drive it (the `berth` CLI, the real
//! `docker` CLI, raw HTTP). Everything a test starts is stopped and removed
//! when its [`Daemon`] is dropped, pass or fail.
//!
//! The tests themselves live in `tests/tests/`.

pub mod registry;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where cargo put berthd, berth and berth-shim (`target/<profile>`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` before the tests",
        path.display()
    );
    path
}

/// The user `berthd --userns-remap default` stands for, which the daemon
/// makes if it is missing: a guard taken before the daemon starts removes
/// it (and its subordinate ranges with it) when dropped if it was not
/// there before, so the host is left as it was.
pub struct RemapUser {
    created: bool,
}

impl RemapUser {
    pub const NAME: &'static str = "berthremap";

    pub fn before_daemon() -> RemapUser {
        RemapUser {
            created: nix::unistd::User::from_name(Self::NAME).unwrap().is_none(),
        }
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel").arg(Self::NAME).status();
        }
    }
}

/// The busybox fixture: `(docker-archive, rootfs tarball)`, built once from
/// Debian's busybox-static by `scripts/make-busybox-image.sh`.
pub fn busybox_fixture() -> &'static (PathBuf, PathBuf) {
    static FIXTURE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = bin_dir().join("fixtures");
        let archive = dir.join("busybox.tar");
        let rootfs = dir.join("busybox-rootfs.tar");
        if !archive.exists() || !rootfs.exists() {
            // Build beside, then rename: other test processes may race us.
            let tmp = dir.join(format!("tmp-{}", std::process::id()));
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-busybox-image.sh");
            let out = Command::new("bash")
                .arg(&script)
                .arg(&tmp)
                .output()
                .expect("running make-busybox-image.sh");
            assert!(
                out.status.success(),
                "building the busybox fixture failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::rename(tmp.join("busybox.tar"), &archive).unwrap();
            std::fs::rename(tmp.join("busybox-rootfs.tar"), &rootfs).unwrap();
            let _ = std::fs::remove_dir_all(&tmp);
        }
        (archive, rootfs)
    })
}

/// A finished command's output as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn from_command(cmd: &mut Command) -> Run {
        Run::from(cmd.stdin(Stdio::null()).output().expect("running command"))
    }

    /// Panics with the whole output unless the command exited with `code`.
    pub fn ok_or_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics with the whole output unless the command succeeded.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// An HTTP reply read off the socket.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "reply is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running berthd with its own socket and roots.
pub struct Daemon {
    pub root: PathBuf,
    pub socket: PathBuf,
    /// This daemon's network slot: its default bridge and address pools.
    pub net: NetSlot,
    /// Flags given to berthd after the harness's own (on restarts too).
    extra_args: Vec<String>,
    child: Option<Child>,
}

/// Network resources of one test daemon, unique among all test daemons on
/// the machine (also those of other test processes): slot `index` is held by
/// an abstract unix socket bound for as long as this value lives (no file
/// left behind; the kernel frees it when the process ends).
pub struct NetSlot {
    pub index: u32,
    _lock: std::os::unix::net::UnixListener,
}

/// How many test daemons can have networks at once.
const NET_SLOTS: u32 = 120;

impl NetSlot {
    fn acquire() -> NetSlot {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixListener};
        let start = std::process::id() % NET_SLOTS;
        loop {
            for offset in 0..NET_SLOTS {
                let index = (start + offset) % NET_SLOTS;
                let name = format!("berth-test-netslot-{index}");
                let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
                if let Ok(lock) = UnixListener::bind_addr(&addr) {
                    return NetSlot { index, _lock: lock };
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The default bridge's device name.
    pub fn bridge(&self) -> String {
        format!("btest{}", self.index)
    }

    /// The default bridge's address: 10.(100+slot).255.1/24.
    pub fn bip(&self) -> String {
        format!("10.{}.255.1/24", 100 + self.index)
    }

    /// The pool user-defined networks get their subnets from.
    pub fn pool(&self) -> String {
        format!("base=10.{}.0.0/16,size=24", 100 + self.index)
    }
}

static SUBREAPER: OnceLock<()> = OnceLock::new();

impl Daemon {
    /// Starts a daemon with an empty data root.
    pub fn start() -> Daemon {
        Daemon::start_with_args(&[])
    }

    /// Starts a daemon with an empty data root and these extra berthd flags
    /// (`--certs-dir DIR`, `--registry-mirror URL`, ...).
    pub fn start_with_args(args: &[&str]) -> Daemon {
        Daemon::start_prepared(args, |_| {})
    }

    /// Starts a daemon with these extra flags on a data root that
    /// `prepare` has been given first (an empty directory).
    pub fn start_prepared(args: &[&str], prepare: impl FnOnce(&Path)) -> Daemon {
        // Monitors that outlive a killed daemon are re-parented to us, so we
        // can reap them by pid instead of leaving zombies to the host's init.
        SUBREAPER.get_or_init(|| {
            nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        });
        let root =
            std::env::temp_dir().join(format!("berth-test-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(root.join("data")).unwrap();
        prepare(&root.join("data"));
        let mut daemon = Daemon {
            socket: root.join("berth.sock"),
            root,
            net: NetSlot::acquire(),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        daemon.spawn();
        daemon
    }

    /// Starts a daemon and loads the busybox image into it.
    pub fn with_busybox() -> Daemon {
        let daemon = Daemon::start();
        let (archive, _) = busybox_fixture();
        daemon
            .berth(&["load", "-i", archive.to_str().unwrap()])
            .ok();
        daemon
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("berthd.log"))
            .unwrap();
        let child = Command::new(bin("berthd"))
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.root.join("data"))
            .arg("--exec-root")
            .arg(self.root.join("exec"))
            .arg("--pidfile")
            .arg(self.root.join("berthd.pid"))
            .arg("--log-level")
            .arg("debug")
            .arg("--cgroup-parent")
            .arg(self.cgroup_parent())
            .arg("--bridge")
            .arg(self.net.bridge())
            .arg("--bip")
            .arg(self.net.bip())
            .arg("--default-address-pool")
            .arg(self.net.pool())
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("berthd exited with {status} at start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// This daemon's own cgroup parent, removed at the end.
    pub fn cgroup_parent(&self) -> String {
        self.root
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The directories of this daemon's cgroup parent, in every hierarchy.
    pub fn cgroup_parent_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
            return Vec::new();
        };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join(self.cgroup_parent()))
            .collect();
        dirs.push(PathBuf::from("/sys/fs/cgroup").join(self.cgroup_parent()));
        dirs.retain(|d| d.is_dir());
        dirs
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("berthd.log")).unwrap_or_default()
    }

    /// `kill -9` the daemon, leaving its containers to their monitors.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("daemon running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Stops the daemon as an init system would (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("daemon running");
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap();
    }

    /// Starts the daemon again on the same socket and roots.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the daemon first");
        self.spawn();
    }

    pub fn berth(&self, args: &[&str]) -> Run {
        Run::from(self.berth_cmd(args).output().expect("running berth"))
    }

    pub fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("berth"));
        // The same private config.json as docker_cmd's, never root's own.
        cmd.env("DOCKER_CONFIG", self.docker_config())
            .env_remove("BERTH_CONFIG")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// The docker CLI's config dir (`DOCKER_CONFIG`) for this daemon's
    /// `docker` and `berth` commands: its `config.json` holds their logins.
    pub fn docker_config(&self) -> PathBuf {
        self.root.join("docker-config")
    }

    pub fn docker(&self, args: &[&str]) -> Run {
        Run::from(self.docker_cmd(args).output().expect("running docker"))
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.docker_config())
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// One raw HTTP request on the socket.
    pub fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Reply {
        let mut stream = UnixStream::connect(&self.socket).expect("connecting to berthd");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n");
        if let Some((content_type, bytes)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        if let Some((_, bytes)) = body {
            stream.write_all(bytes).unwrap();
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("reading reply");
        parse_reply(&raw)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.request(
            "POST",
            path,
            Some(("application/json", body.to_string().as_bytes())),
        )
    }

    /// `docker events` from the start until now, with `--filter` values
    /// and a `--format`. The CLI sends `until` in whole seconds, so this
    /// waits for the next second first: every event so far is in.
    pub fn events_so_far(&self, filters: &[&str], format: &str) -> String {
        std::thread::sleep(Duration::from_secs(1));
        let mut args = vec![
            "events", "--since", "0", "--until", "0s", "--format", format,
        ];
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        self.docker(&args).ok().stdout
    }

    /// Ids of every container the daemon knows.
    pub fn container_ids(&self) -> Vec<String> {
        let reply = self.get("/containers/json?all=1");
        reply
            .json()
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["Id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_none() && UnixStream::connect(&self.socket).is_err() {
            self.restart();
        }
        for id in self.container_ids() {
            let _ = self.request("DELETE", &format!("/containers/{id}?force=1"), None);
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        reap_orphaned_monitors();
        // berthd removes its bridge and firewall table when it stops with
        // nothing running; should it have failed to, they go here.
        let bridge = self.net.bridge();
        if Path::new("/sys/class/net").join(&bridge).exists() {
            let _ = Command::new("ip").args(["link", "del", &bridge]).status();
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &format!("berth_{bridge}")])
            .stderr(Stdio::null())
            .status();
        for dir in self.cgroup_parent_dirs() {
            // Container cgroups are gone with their containers; only our
            // empty parent is left to remove.
            if let Ok(children) = std::fs::read_dir(&dir) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        unmount_below(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Monitors re-parented to this process (after a daemon was killed) are
/// reaped by pid once they have exited, and so are processes from inside
/// containers (in a nested pid namespace) that were orphaned to this
/// process: a container's init cannot finish exiting while one of them is
/// an unreaped zombie, and its monitor waits for the init.
fn reap_orphaned_monitors() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut monitors_left = false;
        for (pid, state, comm) in own_children() {
            let pid = nix::unistd::Pid::from_raw(pid);
            if comm == "berth-shim" {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => monitors_left = true,
                    _ => continue,
                }
            } else if state == "Z" && in_nested_pid_namespace(pid.as_raw()) {
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
        }
        if !monitors_left || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// (pid, state, command name) of this process's children.
fn own_children() -> Vec<(i32, String, String)> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_string();
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.to_string();
            (fields.next()? == me).then_some((pid, state, comm))
        })
        .collect()
}

fn in_nested_pid_namespace(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("NSpid:"))
            .is_some_and(|pids| pids.split_whitespace().count() > 1)
    })
}

/// Lazily unmounts anything a failed test left mounted under `root`.
fn unmount_below(root: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = root.display().to_string();
    let mut targets: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    targets.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for target in targets {
        let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
    }
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// Splits Docker's multiplexed stream into (stdout, stderr).
pub fn demux(mut data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while data.len() >= 8 {
        let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let payload = &data[8..8 + len];
        match data[0] {
            2 => err.extend_from_slice(payload),
            _ => out.extend_from_slice(payload),
        }
        data = &data[8 + len..];
    }
    (out, err)
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
