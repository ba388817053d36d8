//! End-to-end tests of `berth-shim exec` on real containers (busybox root,
//! `sleep` as init): what an exec'd process shares with the container, what
//! it gets of its own, and what the exec monitor reports. Run as root.

mod common;

use berth_runtime::{
    all_capabilities, exec_command, ContainerSpec, ExecSpec, ExitStatus, Rlimit, SecuritySpec,
    StartReport,
};
use common::cgroups::TestCgroups;
use common::{wait_exit, Fixture, TIMEOUT};
use nix::fcntl::OFlag;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Applets the exec tests use beyond the fixture's own.
const EXTRA_APPLETS: &[&str] = &["tty", "stty", "sha256sum", "kill", "grep"];

/// A running container to exec into, and the fixture that owns it.
struct Container {
    fx: Fixture,
    spec: ContainerSpec,
    pid: i32,
}

impl Container {
    /// Starts `sh -c script` as the container's init; returns once the
    /// script has exec'd `sleep` (so whatever it did before is done).
    fn start_with(script: &str) -> Container {
        Container::start_in(script, Vec::new())
    }

    /// The same, in the cgroups whose `cgroup.procs` files are `cgroup_procs`.
    fn start_in(script: &str, cgroup_procs: Vec<PathBuf>) -> Container {
        Container::start_as(script, cgroup_procs, SecuritySpec::default())
    }

    /// `exec sleep 300` with `security` (which every exec spec copies).
    fn start_secured(security: SecuritySpec) -> Container {
        Container::start_as("exec sleep 300", Vec::new(), security)
    }

    fn start_as(script: &str, cgroup_procs: Vec<PathBuf>, security: SecuritySpec) -> Container {
        let fx = Fixture::new();
        for applet in EXTRA_APPLETS {
            let link = fx.lower.join("bin").join(applet);
            if link.symlink_metadata().is_err() {
                symlink("busybox", link).unwrap();
            }
        }
        let mut spec = fx.spec("c", &["sh", "-c", script]);
        spec.cgroup_procs = cgroup_procs;
        spec.security = security;
        let (pid, _) = fx.start(&spec);
        let deadline = Instant::now() + TIMEOUT;
        while std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
            != b"sleep\x00300\x00"
        {
            assert!(Instant::now() < deadline, "the init never exec'd sleep");
            std::thread::sleep(Duration::from_millis(2));
        }
        Container { fx, spec, pid }
    }

    fn start() -> Container {
        Container::start_with("exec sleep 300")
    }

    /// An exec spec for `args` as root in "/", no TTY.
    fn exec_spec(&self, args: &[&str]) -> ExecSpec {
        let mut process = self.spec.process.clone();
        process.args = args.iter().map(|s| s.to_string()).collect();
        process.cwd = String::new();
        ExecSpec {
            container_id: self.spec.id.clone(),
            init_pid: self.pid,
            process,
            control_socket: None,
            cgroup_procs: self.spec.cgroup_procs.clone(),
            security: self.spec.security.clone(),
        }
    }

    /// The same with a TTY of `size` and a control socket.
    fn tty_spec(&self, args: &[&str], size: [u16; 2]) -> ExecSpec {
        let mut spec = self.exec_spec(args);
        spec.process.tty = true;
        spec.process.console_size = Some(size);
        spec.control_socket = Some(self.fx.dir.path().join(format!("{}.sock", next_serial())));
        spec
    }

    /// Starts the exec monitor for `spec`; `stdin` piped or /dev/null.
    fn spawn(&self, spec: &ExecSpec, piped_stdin: bool) -> Exec {
        let path = self
            .fx
            .dir
            .path()
            .join(format!("exec-{}.json", next_serial()));
        std::fs::write(&path, serde_json::to_vec(spec).unwrap()).unwrap();
        let (report_read, report_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let shim = Path::new(env!("CARGO_BIN_EXE_berth-shim"));
        let mut command = exec_command(shim, &path, report_write);
        command
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut monitor = command.spawn().unwrap();
        drop(command);
        let stdout = collect(monitor.stdout.take().unwrap());
        let stderr = collect(monitor.stderr.take().unwrap());
        Exec {
            stdin: monitor.stdin.take(),
            monitor,
            reports: BufReader::new(std::fs::File::from(report_read)),
            stdout,
            stderr,
            socket: spec.control_socket.clone(),
            start: None,
        }
    }

    /// Runs `spec` to its end with `input` on stdin (or /dev/null).
    fn run(&self, spec: &ExecSpec, input: Option<Vec<u8>>) -> Finished {
        let mut exec = self.spawn(spec, input.is_some());
        if let (Some(input), Some(mut stdin)) = (input, exec.stdin.take()) {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        exec.finish()
    }

    /// Stdout of `args`, which must start, exit 0 and write no stderr.
    fn output(&self, args: &[&str]) -> String {
        let finished = self.run(&self.exec_spec(args), None);
        finished.assert_success();
        finished.stdout
    }
}

fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Reads `stream` to EOF on a thread; chunks arrive on the channel.
fn collect(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 65536];
        while let Ok(n @ 1..) = stream.read(&mut buffer) {
            if sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A running exec monitor.
struct Exec {
    monitor: Child,
    stdin: Option<ChildStdin>,
    reports: BufReader<std::fs::File>,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
    socket: Option<PathBuf>,
    /// The start report, once [`Exec::started`] has read it.
    start: Option<StartReport>,
}

/// How an exec ended, with all of its output.
struct Finished {
    start: StartReport,
    exit: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn assert_success(&self) {
        assert!(
            matches!(self.start, StartReport::Started { .. }),
            "{:?}",
            self.start
        );
        assert_eq!(self.exit_code(), 0, "stderr: {}", self.stderr);
        assert_eq!(self.stderr, "");
    }

    fn exit_code(&self) -> i32 {
        self.exit.as_ref().expect("an exit status").exit_code
    }
}

impl Exec {
    /// The next report line, `None` at EOF.
    fn report_line(&mut self) -> Option<String> {
        let mut line = String::new();
        self.reports.read_line(&mut line).unwrap();
        if line.is_empty() {
            return None;
        }
        assert!(line.ends_with('\n'), "{line:?}");
        Some(line)
    }

    fn start_report(&mut self) -> StartReport {
        let line = self.report_line().expect("a start report");
        serde_json::from_str(&line).unwrap()
    }

    fn exit_report(&mut self) -> Option<ExitStatus> {
        let line = self.report_line()?;
        Some(serde_json::from_str(&line).unwrap())
    }

    fn started(&mut self) -> (i32, i32) {
        let start = self.start_report();
        self.start = Some(start.clone());
        match start {
            StartReport::Started { pid, shim_pid } => (pid, shim_pid),
            failed => panic!("exec did not start: {failed:?}"),
        }
    }

    /// Collects stdout until it contains `text`; returns all of it.
    fn stdout_until(&mut self, seen: &mut String, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("never saw {text:?} on stdout, only {seen:?}"),
            }
        }
    }

    /// Reads the reports to EOF and the output streams to their end, and
    /// waits for the monitor, which must exit 0 with no report left over.
    fn finish(mut self) -> Finished {
        drop(self.stdin.take());
        let start = match self.start.take() {
            Some(start) => start,
            None => self.start_report(),
        };
        let exit = self.exit_report();
        assert_eq!(self.report_line(), None);
        let status = self.monitor.wait().unwrap();
        assert!(status.success(), "exec monitor: {status}");
        let drain = |receiver: &mpsc::Receiver<Vec<u8>>| {
            let mut bytes = Vec::new();
            while let Ok(chunk) = receiver.recv_timeout(TIMEOUT) {
                bytes.extend(chunk);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        };
        if let Some(socket) = &self.socket {
            assert!(!socket.exists(), "the control socket is removed");
        }
        Finished {
            start,
            exit,
            stdout: drain(&self.stdout),
            stderr: drain(&self.stderr),
        }
    }
}

/// `readlink /proc/PID/ns/NAME` on the host.
fn host_namespace(pid: i32, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn output_goes_to_stdout_and_stderr_and_the_exit_code_is_reported() {
    let c = Container::start();
    let finished = c.run(
        &c.exec_spec(&["sh", "-c", "echo hi; echo err >&2; exit 7"]),
        None,
    );
    let StartReport::Started { pid, shim_pid } = finished.start else {
        panic!("{:?}", finished.start);
    };
    assert!(pid > 0 && shim_pid > 0 && pid != shim_pid);
    assert_eq!(finished.stdout, "hi\n");
    assert_eq!(finished.stderr, "err\n");
    assert_eq!(finished.exit_code(), 7);
    assert_eq!(c.output(&["echo", "hi"]), "hi\n");
}

#[test]
fn a_process_killed_by_a_signal_exits_128_plus_its_number() {
    let c = Container::start();
    let finished = c.run(&c.exec_spec(&["sh", "-c", "kill -9 $$"]), None);
    assert_eq!(finished.exit_code(), 137);
    let finished = c.run(&c.exec_spec(&["sh", "-c", "kill -TERM $$"]), None);
    assert_eq!(finished.exit_code(), 143);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let finished = c.run(&c.exec_spec(&["true"]), None);
    assert!(finished.exit.unwrap().finished_unix_nanos >= before);
}

#[test]
fn the_process_shares_the_containers_namespaces_and_root() {
    let c =
        Container::start_with("mkdir -p /tmp && echo from-init > /tmp/marker && exec sleep 300");
    assert_eq!(c.output(&["hostname"]), "berth-test\n");
    assert_eq!(c.output(&["cat", "/proc/1/cmdline"]), "sleep\u{0}300\u{0}");
    assert_eq!(c.output(&["cat", "/tmp/marker"]), "from-init\n");
    let names = ["net", "uts", "ipc", "mnt", "pid", "cgroup"];
    let script = format!(
        "for ns in {}; do readlink /proc/self/ns/$ns; done",
        names.join(" ")
    );
    let expected: Vec<String> = names.iter().map(|ns| host_namespace(c.pid, ns)).collect();
    assert_eq!(c.output(&["sh", "-c", &script]), expected.join("\n") + "\n");
    // Writes land in the container's root, not the host's.
    c.output(&["sh", "-c", "echo from-exec > /tmp/written"]);
    let upper = c.spec.rootfs.upper.join("tmp/written");
    assert_eq!(std::fs::read_to_string(upper).unwrap(), "from-exec\n");
}

#[test]
fn the_process_joins_the_containers_cgroups_and_the_monitor_stays_out() {
    // Declared first, dropped last: after the fixture has killed its containers.
    let Some(cgroups) = TestCgroups::create() else {
        return;
    };
    let c = Container::start_in("exec sleep 300", cgroups.procs_files());
    // Inside, the container's cgroups are the root of every hierarchy.
    let inside = c.output(&["cat", "/proc/self/cgroup"]);
    assert!(!inside.is_empty());
    assert!(inside.lines().all(|l| l.ends_with(":/")), "{inside}");

    let mut exec = c.spawn(&c.exec_spec(&["sleep", "300"]), false);
    let (pid, shim_pid) = exec.started();
    cgroups.assert_member(pid);
    for dir in cgroups.dirs() {
        assert!(!TestCgroups::pids(dir).contains(&shim_pid), "{shim_pid}");
    }
    // Killing everything in the cgroups (as `rm -f` does) ends the exec and
    // the container; the exec monitor, outside, reports and exits cleanly.
    cgroups.kill_all();
    assert_eq!(exec.finish().exit_code(), 137);
    assert_eq!(wait_exit(&c.spec).exit_code, 137);
    c.fx.wait_monitors_gone();
}

#[test]
fn an_exec_that_cannot_join_the_cgroups_never_runs() {
    let Some(cgroups) = TestCgroups::create() else {
        return;
    };
    let c = Container::start_in("exec sleep 300", cgroups.procs_files());
    let missing = cgroups.missing_procs_file();
    let mut spec = c.exec_spec(&["touch", "/ran"]);
    spec.cgroup_procs.push(missing.clone());
    let mut exec = c.spawn(&spec, false);
    match exec.start_report() {
        StartReport::Failed { message, exit_code } => {
            assert_eq!(exit_code, 126, "{message}");
            let expected = format!("adding the exec'd process to cgroup {}", missing.display());
            assert!(message.contains(&expected), "{message}");
        }
        started => panic!("{started:?}"),
    }
    assert_eq!(exec.report_line(), None);
    // The monitor failed before it joined the container.
    assert!(!exec.monitor.wait().unwrap().success());
    assert!(!c.spec.rootfs.upper.join("ran").exists());
    assert_eq!(c.output(&["echo", "still", "there"]), "still there\n");
}

#[test]
fn environment_working_dir_and_user_are_the_execs() {
    let c = Container::start();
    let script = "id -u; id -g; id -G; pwd; echo $VAR; echo $HOME";
    let mut spec = c.exec_spec(&["sh", "-c", script]);
    spec.process.env.push("VAR=from exec".into());
    spec.process.cwd = "/etc".into();
    spec.process.user = "app".into();
    let finished = c.run(&spec, None);
    finished.assert_success();
    assert_eq!(
        finished.stdout,
        "1000\n1000\n1000 2000\n/etc\nfrom exec\n/home/app\n"
    );

    let mut spec = c.exec_spec(&["sh", "-c", script]);
    spec.process.user = "1000:1000".into();
    let finished = c.run(&spec, None);
    finished.assert_success();
    assert_eq!(finished.stdout, "1000\n1000\n1000\n/\n\n/home/app\n");

    assert_eq!(
        c.output(&["sh", "-c", "id -u; pwd; echo $HOME"]),
        "0\n/\n/root\n"
    );
}

/// The `Cap*` values of an exec's /proc/self/status: "Inh Prm Eff Bnd Amb".
fn exec_capabilities(c: &Container, spec: &mut ExecSpec) -> String {
    spec.process.args = ["grep", "^Cap", "/proc/self/status"]
        .map(String::from)
        .to_vec();
    let finished = c.run(spec, None);
    finished.assert_success();
    finished
        .stdout
        .lines()
        .map(|line| line.split_whitespace().nth(1).unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn an_exec_gets_the_containers_privileges_and_limits() {
    let c = Container::start_secured(SecuritySpec {
        capabilities: vec!["CAP_KILL".into(), "CAP_SETUID".into(), "CAP_SETGID".into()],
        no_new_privileges: true,
        rlimits: vec![Rlimit {
            name: "nofile".into(),
            soft: 100,
            hard: 200,
        }],
        oom_score_adj: Some(500),
        additional_groups: vec!["devs".into(), "777".into()],
        ..SecuritySpec::default()
    });
    let masks = format!("{:016x}", 1u64 << 5 | 1 << 6 | 1 << 7);
    let none = "0000000000000000";
    assert_eq!(
        exec_capabilities(&c, &mut c.exec_spec(&[])),
        format!("{none} {masks} {masks} {masks} {none}")
    );
    assert_eq!(
        c.output(&[
            "sh",
            "-c",
            "grep ^NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; \
             cat /proc/self/oom_score_adj; id -G"
        ]),
        "NoNewPrivs:\t1\n100\n200\n500\n0 777 2000\n"
    );
    let mut spec = c.exec_spec(&["id", "-G"]);
    spec.process.user = "app".into();
    let finished = c.run(&spec, None);
    finished.assert_success();
    assert_eq!(finished.stdout, "1000 777 2000\n");
    // Another user keeps only the bounding set.
    let mut spec = c.exec_spec(&[]);
    spec.process.user = "app".into();
    assert_eq!(
        exec_capabilities(&c, &mut spec),
        format!("{none} {none} {none} {masks} {none}")
    );
}

#[test]
fn a_privileged_exec_gets_every_capability_of_the_hosts_bounding_set() {
    let c = Container::start();
    let mut spec = c.exec_spec(&[]);
    spec.security.capabilities = all_capabilities();
    let host = common::proc_status(std::process::id() as i32, "CapBnd").unwrap();
    let none = "0000000000000000";
    assert_eq!(
        exec_capabilities(&c, &mut spec),
        format!("{none} {host} {host} {host} {none}")
    );
    // The container itself keeps Docker's defaults.
    let defaults = "00000000a80425fb";
    assert_eq!(
        common::proc_status(c.pid, "CapBnd").unwrap(),
        defaults,
        "the container's init"
    );
    assert_eq!(
        exec_capabilities(&c, &mut c.exec_spec(&[])),
        format!("{none} {defaults} {defaults} {defaults} {none}")
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn an_exec_loads_the_containers_seccomp_filter() {
    for no_new_privileges in [false, true] {
        let c = Container::start_secured(SecuritySpec {
            seccomp: Some(common::deny_mkdir_filter()),
            no_new_privileges,
            ..SecuritySpec::default()
        });
        let finished = c.run(
            &c.exec_spec(&[
                "sh",
                "-c",
                "grep ^Seccomp: /proc/self/status; mkdir /denied",
            ]),
            None,
        );
        assert_eq!(finished.exit_code(), 1);
        assert_eq!(finished.stdout, "Seccomp:\t2\n");
        assert_eq!(
            finished.stderr,
            "mkdir: can't create directory '/denied': Operation not permitted\n"
        );
    }
}

#[test]
fn an_exec_with_an_unknown_extra_group_fails_with_dockers_message() {
    let c = Container::start();
    let mut spec = c.exec_spec(&["true"]);
    spec.security.additional_groups = vec!["nosuch".into()];
    let finished = c.run(&spec, None);
    assert_eq!(
        finished.start,
        StartReport::Failed {
            message: "Unable to find group nosuch: no matching entries in group file".into(),
            exit_code: 126
        }
    );
}

#[test]
fn a_missing_command_fails_with_not_found_127() {
    let c = Container::start();
    let finished = c.run(&c.exec_spec(&["nope", "arg"]), None);
    assert_eq!(
        finished.start,
        StartReport::Failed {
            message: "exec: \"nope\": executable file not found in $PATH".into(),
            exit_code: 127
        }
    );
    assert!(finished.exit.is_none());
}

#[test]
fn a_file_without_execute_permission_fails_with_permission_denied_126() {
    let c = Container::start();
    let finished = c.run(&c.exec_spec(&["/etc/passwd"]), None);
    assert_eq!(
        finished.start,
        StartReport::Failed {
            message: "exec: \"/etc/passwd\": permission denied".into(),
            exit_code: 126
        }
    );
}

#[test]
fn a_missing_working_dir_fails_with_dockers_wording() {
    let c = Container::start();
    let mut spec = c.exec_spec(&["true"]);
    spec.process.cwd = "/nope".into();
    let finished = c.run(&spec, None);
    assert_eq!(
        finished.start,
        StartReport::Failed {
            message:
                "chdir to cwd (\"/nope\") set in config.json failed: no such file or directory"
                    .into(),
            exit_code: 126
        }
    );
}

#[test]
fn an_unknown_user_fails_with_dockers_wording() {
    let c = Container::start();
    let mut spec = c.exec_spec(&["true"]);
    spec.process.user = "ghost".into();
    let finished = c.run(&spec, None);
    assert_eq!(
        finished.start,
        StartReport::Failed {
            message: "unable to find user ghost: no matching entries in passwd file".into(),
            exit_code: 126
        }
    );
}

/// The start report of an exec of `true` into `init_pid`, and whether its
/// monitor exited 0.
fn join_attempt(c: &Container, init_pid: i32) -> (StartReport, bool) {
    let mut spec = c.exec_spec(&["true"]);
    spec.init_pid = init_pid;
    let mut exec = c.spawn(&spec, false);
    let report = exec.start_report();
    (report, exec.monitor.wait().unwrap().success())
}

#[test]
fn a_container_that_is_not_running_cannot_be_joined() {
    let c = Container::start();
    let (report, success) = join_attempt(&c, i32::MAX);
    let StartReport::Failed { message, exit_code } = report else {
        panic!("{report:?}");
    };
    let short_id = &c.spec.id[..12];
    assert!(
        message.starts_with(&format!("cannot join container {short_id}: ")),
        "{message}"
    );
    assert_eq!(exit_code, 126);
    assert!(!success, "the monitor itself failed");
}

#[test]
fn a_pid_that_is_not_the_containers_init_is_refused() {
    let c = Container::start();
    let me = std::process::id() as i32;
    let (report, _) = join_attempt(&c, me);
    let StartReport::Failed { message, .. } = report else {
        panic!("{report:?}");
    };
    assert!(
        message.ends_with(&format!(
            "process {me} is not the init of container {}",
            c.spec.id
        )),
        "{message}"
    );
}

#[test]
fn megabytes_of_stdin_arrive_whole() {
    let c = Container::start();
    let input: Vec<u8> = (0..6_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let finished = c.run(&c.exec_spec(&["sha256sum"]), Some(input.clone()));
    finished.assert_success();

    let mut host = std::process::Command::new("/bin/busybox")
        .arg("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = host.stdin.take().unwrap();
    std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let expected = String::from_utf8(host.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(finished.stdout, expected);
}

#[test]
fn without_stdin_the_process_reads_eof() {
    let c = Container::start();
    assert_eq!(c.output(&["cat"]), "");
}

#[test]
fn the_process_gets_only_fds_0_1_and_2() {
    let c = Container::start();
    // ls's own directory descriptor is 3.
    assert_eq!(c.output(&["ls", "/proc/self/fd"]), "0\n1\n2\n3\n");
    let finished = c.run(&c.tty_spec(&["ls", "-1", "/proc/self/fd"], [24, 80]), None);
    finished.assert_success();
    assert_eq!(finished.stdout, "0\r\n1\r\n2\r\n3\r\n");
    let status = c.output(&["cat", "/proc/self/status"]);
    for field in ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"] {
        assert!(status.lines().any(|l| l == field), "{field} in {status}");
    }
}

#[test]
fn a_tty_is_a_terminal_of_the_containers_devpts_with_the_console_size() {
    let c = Container::start();
    let script = "tty; stty size; test -t 0 && test -t 1 && echo both-ttys; \
                  test -c $(tty) && echo node-exists; echo err >&2";
    let finished = c.run(&c.tty_spec(&["sh", "-c", script], [30, 100]), None);
    finished.assert_success();
    let lines: Vec<&str> = finished.stdout.split("\r\n").collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{:?}", finished.stdout);
    assert_eq!(
        &lines[1..],
        ["30 100", "both-ttys", "node-exists", "err", ""],
        "everything, stderr too, arrives on stdout"
    );
}

#[test]
fn a_tty_is_owned_by_the_execs_user() {
    let c = Container::start();
    let mut spec = c.tty_spec(&["sh", "-c", "stat -c %u $(tty)"], [24, 80]);
    spec.process.user = "app".into();
    let finished = c.run(&spec, None);
    finished.assert_success();
    assert_eq!(finished.stdout, "1000\r\n");
}

#[test]
fn a_tty_is_resized_through_the_control_socket_and_relays_stdin() {
    let c = Container::start();
    let spec = c.tty_spec(
        &[
            "sh",
            "-c",
            "stty size; read line; echo got-$line; stty size",
        ],
        [30, 100],
    );
    let socket = spec.control_socket.clone().unwrap();
    let mut exec = c.spawn(&spec, true);
    exec.started();
    let mut seen = String::new();
    exec.stdout_until(&mut seen, "30 100\r\n");

    let mode = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    berth_runtime::control::resize(&socket, 40, 120).unwrap();
    let mut stdin = exec.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    exec.stdout_until(&mut seen, "40 120\r\n");
    assert!(seen.contains("got-hello\r\n"), "{seen:?}");
    exec.stdin = Some(stdin);
    let finished = exec.finish();
    assert_eq!(finished.exit_code(), 0);
}

#[test]
fn an_exec_dies_with_its_container() {
    let c = Container::start();
    let mut exec = c.spawn(&c.exec_spec(&["sleep", "300"]), false);
    let (pid, _) = exec.started();
    assert_eq!(
        std::fs::read(format!("/proc/{pid}/cmdline")).unwrap(),
        b"sleep\x00300\x00"
    );
    c.fx.kill(c.pid);
    let finished = exec.finish();
    assert_eq!(finished.exit_code(), 137);
    c.fx.wait_monitors_gone();
}

#[test]
fn a_tty_exec_dies_with_its_container() {
    let c = Container::start();
    let mut exec = c.spawn(&c.tty_spec(&["sleep", "300"], [24, 80]), false);
    exec.started();
    c.fx.kill(c.pid);
    assert_eq!(exec.finish().exit_code(), 137);
}

/// Median wall time of `exec true`, from spawning the monitor to reading its
/// exit status. `cargo test --release -p berth-shim --test exec -- --ignored
/// --nocapture exec_true_timing`
#[test]
#[ignore = "a measurement; run in a release build"]
fn exec_true_timing() {
    let c = Container::start();
    let spec = c.exec_spec(&["true"]);
    let mut times: Vec<Duration> = (0..31)
        .map(|_| {
            let began = Instant::now();
            let mut exec = c.spawn(&spec, false);
            exec.started();
            let exit = exec.exit_report().unwrap();
            let took = began.elapsed();
            assert_eq!(exit.exit_code, 0);
            exec.monitor.wait().unwrap();
            took
        })
        .collect();
    times.sort();
    println!(
        "exec true: median {:?}, min {:?}, max {:?}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
