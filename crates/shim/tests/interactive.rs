//! End-to-end tests of a container's interactive I/O: stdin through the
//! monitor's control socket, terminals, resizes, and a monitor that never
//! blocks on a client. Run as root, on a busybox root.

mod common;

use berth_runtime::control::{self, Reply};
use berth_runtime::{ContainerSpec, RuntimeError};
use common::{log_text, read_log, wait_exit, wait_log_contains, Fixture};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn socket(spec: &ContainerSpec) -> &Path {
    spec.control_socket.as_deref().unwrap()
}

/// Deterministic pseudo-random bytes (xorshift64*), every byte value included.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The host's sha256sum of `data`, with busybox's `  -` suffix.
fn sha256_line(fx: &Fixture, data: &[u8]) -> String {
    let path = fx.dir.path().join("sent");
    std::fs::write(&path, data).unwrap();
    let output = std::process::Command::new("/bin/busybox")
        .arg("sha256sum")
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    format!("{}  -\n", text.split_whitespace().next().unwrap())
}

/// Sends one raw request line and returns everything the monitor answers.
fn raw_request(spec: &ContainerSpec, line: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket(spec)).unwrap();
    stream
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    stream.write_all(line).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// A terminal's output with its CR-LF line ends made LF.
fn terminal_text(spec: &ContainerSpec) -> String {
    log_text(spec).replace("\r\n", "\n")
}

#[test]
fn megabytes_of_binary_stdin_reach_the_container_byte_for_byte() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sha256sum"]);
    spec.process.open_stdin = true;
    spec.process.stdin_once = true;
    let data = random_bytes(6 * 1024 * 1024 + 12345, 0x9e37_79b9_7f4a_7c15);
    let expected = sha256_line(&fx, &data);
    fx.start(&spec);
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    for chunk in data.chunks(100_000) {
        stdin.write_all(chunk).unwrap();
    }
    stdin.shutdown(Shutdown::Write).unwrap();
    assert_eq!(wait_exit(&spec).exit_code, 0);
    fx.wait_monitors_gone();
    assert_eq!(
        read_log(&spec),
        [(expected, "stdout".to_string())],
        "the digest the container computed is the digest of what was sent"
    );
}

#[test]
fn stdin_lines_are_logged_in_order_and_stdin_once_eof_ends_cat() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["cat"]);
    spec.process.open_stdin = true;
    spec.process.stdin_once = true;
    fx.start(&spec);
    let text: String = (0..5000)
        .map(|i| format!("line {i} of the text\n"))
        .collect();
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    for piece in text.as_bytes().chunks(777) {
        stdin.write_all(piece).unwrap();
    }
    stdin.shutdown(Shutdown::Write).unwrap();
    assert_eq!(wait_exit(&spec).exit_code, 0, "cat saw EOF");
    fx.wait_monitors_gone();
    let log = read_log(&spec);
    assert_eq!(log.len(), 5000);
    assert!(log.iter().all(|(_, stream)| stream == "stdout"));
    assert_eq!(log.into_iter().map(|(l, _)| l).collect::<String>(), text);
}

#[test]
fn without_stdin_once_a_clients_eof_or_disconnect_leaves_stdin_open() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["cat"]);
    spec.process.open_stdin = true;
    let (pid, _) = fx.start(&spec);

    let mut first = control::open_stdin(socket(&spec)).unwrap();
    first.write_all(b"one\n").unwrap();
    first.shutdown(Shutdown::Write).unwrap();
    wait_log_contains(&spec, "one\n");

    // Gone mid-line, without a half-close: its bytes still count.
    let mut second = control::open_stdin(socket(&spec)).unwrap();
    second.write_all(b"thr").unwrap();
    drop(second);
    std::thread::sleep(Duration::from_millis(100));

    let mut third = control::open_stdin(socket(&spec)).unwrap();
    third.write_all(b"ee\n").unwrap();
    drop(third);
    assert_eq!(wait_log_contains(&spec, "three\n"), "one\nthree\n");

    // Two clients at once.
    let mut a = control::open_stdin(socket(&spec)).unwrap();
    let mut b = control::open_stdin(socket(&spec)).unwrap();
    a.write_all(b"from a\n").unwrap();
    wait_log_contains(&spec, "from a\n");
    b.write_all(b"from b\n").unwrap();
    wait_log_contains(&spec, "from b\n");
    drop((a, b));

    assert!(berth_runtime::read_exit_status(&spec.exit_path)
        .unwrap()
        .is_none());
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

#[test]
fn stdin_once_closes_stdin_for_everyone_after_the_first_eof() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "cat; echo stdin closed; sleep 1000"]);
    spec.process.open_stdin = true;
    spec.process.stdin_once = true;
    let (pid, _) = fx.start(&spec);
    let mut waiting = control::open_stdin(socket(&spec)).unwrap();
    waiting
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    let mut first = control::open_stdin(socket(&spec)).unwrap();
    first.write_all(b"hello\n").unwrap();
    first.shutdown(Shutdown::Write).unwrap();
    wait_log_contains(&spec, "hello\nstdin closed\n");
    // The other client was closed along with the container's stdin.
    assert_eq!(waiting.read(&mut [0u8; 16]).unwrap(), 0);
    let reply = raw_request(&spec, b"{\"stdin\":true}\n");
    assert!(reply.starts_with("{\"error\":"), "{reply}");
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

#[test]
fn a_terminal_is_dev_pts_0_of_the_container_sized_as_asked() {
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "tty; test -t 0 && test -t 1 && test -t 2 && echo all three; \
             ls -1 /dev/pts; stty size; echo to stderr >&2; exit 7",
        ],
    );
    spec.process.tty = true;
    spec.process.console_size = Some([33, 111]);
    let (code, log) = fx.run(&spec);
    assert_eq!(code, 7);
    assert!(
        log.iter().all(|(_, stream)| stream == "stdout"),
        "a terminal's output is all stdout: {log:?}"
    );
    assert_eq!(
        terminal_text(&spec),
        "/dev/pts/0\nall three\n0\nptmx\n33 111\nto stderr\n"
    );
}

#[test]
fn a_terminal_belongs_to_the_containers_user_and_controls_its_session() {
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "stat -c '%u %g %a' $(tty); id -u; cat /proc/self/stat",
        ],
    );
    spec.process.tty = true;
    spec.process.user = "app".into();
    let (code, _) = fx.run(&spec);
    assert_eq!(code, 0);
    let text = terminal_text(&spec);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1000 5 620"));
    assert_eq!(lines.next(), Some("1000"));
    let stat = lines.next().unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // tty_nr: major 136 (the first pty slave) and minor 0.
    assert_eq!(fields[4], (136 << 8).to_string(), "{stat}");
}

#[test]
fn a_terminals_output_is_drained_whole_after_the_init_exits() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["seq", "1", "50000"]);
    spec.process.tty = true;
    let (code, log) = fx.run(&spec);
    assert_eq!(code, 0);
    assert!(log.iter().all(|(_, stream)| stream == "stdout"));
    let expected: String = (1..=50000).map(|i| format!("{i}\n")).collect();
    assert_eq!(terminal_text(&spec), expected);
}

#[test]
fn a_zero_console_size_is_left_unset_and_the_terminal_works() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "tty; echo done"]);
    spec.process.tty = true;
    spec.process.console_size = Some([0, 0]);
    let (code, _) = fx.run(&spec);
    assert_eq!(code, 0);
    assert_eq!(terminal_text(&spec), "/dev/pts/0\ndone\n");
}

#[test]
fn resize_reaches_a_running_program_as_sigwinch() {
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "trap 'echo winch; stty size' WINCH; stty size; while :; do sleep 0.05; done",
        ],
    );
    spec.process.tty = true;
    spec.process.console_size = Some([24, 80]);
    let (pid, _) = fx.start(&spec);
    wait_log_contains(&spec, "24 80");
    control::resize(socket(&spec), 50, 132).unwrap();
    wait_log_contains(&spec, "winch\r\n50 132\r\n");
    control::resize(socket(&spec), 10, 20).unwrap();
    wait_log_contains(&spec, "winch\r\n10 20\r\n");
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

#[test]
fn terminal_stdin_is_read_and_echoed() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "read line; echo \"got [$line]\""]);
    spec.process.tty = true;
    spec.process.open_stdin = true;
    spec.process.stdin_once = true;
    fx.start(&spec);
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    stdin.write_all(b"hello there\n").unwrap();
    assert_eq!(wait_exit(&spec).exit_code, 0);
    fx.wait_monitors_gone();
    assert_eq!(terminal_text(&spec), "hello there\ngot [hello there]\n");
    // The monitor closed the client when the container exited.
    stdin
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    assert_eq!(stdin.read(&mut [0u8; 8]).unwrap(), 0);
}

#[test]
fn resize_without_a_terminal_is_refused_in_words() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, _) = fx.start(&spec);
    match control::resize(socket(&spec), 30, 100) {
        Err(RuntimeError::ControlRefused { message }) => {
            assert_eq!(message, "the container has no TTY")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        raw_request(&spec, b"{\"resize\":{\"height\":1,\"width\":2}}\n"),
        "{\"error\":\"the container has no TTY\"}\n"
    );
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

#[test]
fn unknown_requests_and_stdin_without_open_stdin_get_an_error_line() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, _) = fx.start(&spec);
    for request in [
        &b"{\"attach\":true}\n"[..],
        b"not json\n",
        b"{\"stdin\":false}\n",
        b"{\"stdin\":true}\n",
    ] {
        let reply = raw_request(&spec, request);
        assert!(
            reply.ends_with('\n') && reply.lines().count() == 1,
            "{reply}"
        );
        match serde_json::from_str::<Reply>(reply.trim_end()).unwrap() {
            Reply::Error(message) => assert!(!message.is_empty()),
            Reply::Ok(_) => panic!("{request:?} was accepted"),
        }
    }
    let mut long = vec![b' '; berth_runtime::control::MAX_REQUEST_LINE + 10];
    long.push(b'\n');
    let mut stream = UnixStream::connect(socket(&spec)).unwrap();
    let _ = stream.write_all(&long);
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.contains("too long"), "{reply}");
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

#[test]
fn a_container_that_does_not_read_stdin_blocks_the_client_not_the_monitor() {
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &["sh", "-c", "while :; do echo tick; sleep 0.02; done"],
    );
    spec.process.open_stdin = true;
    let (pid, _) = fx.start(&spec);
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    stdin.set_nonblocking(true).unwrap();
    let data = vec![b'x'; 10 * 1024 * 1024];
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while sent < data.len() && Instant::now() < deadline {
        match stdin.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        sent < 2 * 1024 * 1024,
        "the client is held back ({sent} bytes taken)"
    );
    assert!(sent > 0);
    // The monitor keeps logging and answering while the client is stuck.
    let ticks = || log_text(&spec).matches("tick\n").count();
    let before = ticks();
    std::thread::sleep(Duration::from_millis(300));
    assert!(ticks() > before + 3, "output is still logged");
    assert!(matches!(
        control::resize(socket(&spec), 1, 1),
        Err(RuntimeError::ControlRefused { .. })
    ));
    let mut other = control::open_stdin(socket(&spec)).unwrap();
    other.set_nonblocking(true).unwrap();
    other.write_all(b"more").unwrap();
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
    fx.wait_monitors_gone();
}

#[test]
fn no_descriptor_reaches_a_container_with_a_terminal_stdin_and_clients() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "read x; ls -1 /proc/self/fd"]);
    spec.process.tty = true;
    spec.process.open_stdin = true;
    fx.start(&spec);
    let waiting = control::open_stdin(socket(&spec)).unwrap();
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(wait_exit(&spec).exit_code, 0);
    fx.wait_monitors_gone();
    drop(waiting);
    assert_eq!(terminal_text(&spec), "go\n0\n1\n2\n3\n");

    let mut spec = fx.spec("d", &["sh", "-c", "read x; ls -1 /proc/self/fd"]);
    spec.process.open_stdin = true;
    fx.start(&spec);
    let mut stdin = control::open_stdin(socket(&spec)).unwrap();
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(wait_exit(&spec).exit_code, 0);
    assert_eq!(log_text(&spec), "0\n1\n2\n3\n");
}

#[test]
fn the_control_socket_is_private_replaces_a_stale_file_and_goes_with_the_container() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let path = socket(&spec).to_owned();
    std::fs::write(&path, "stale").unwrap();
    let (pid, _) = fx.start(&spec);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
    assert!(!path.exists(), "removed before the exit status is written");
    fx.wait_monitors_gone();
}

#[test]
fn a_failed_start_leaves_no_control_socket() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["nosuchcmd"]);
    assert!(matches!(
        fx.launch(&spec),
        berth_runtime::StartReport::Failed { .. }
    ));
    assert!(!socket(&spec).exists());
}

#[test]
fn a_spec_from_before_terminals_still_parses() {
    let old = r#"{"id":"abc","rootfs":{"lower":["/l"],"upper":"/u","work":"/w","target":"/t"},
        "process":{"args":["sh"],"env":[],"cwd":"/","open_stdin":true,"tty":false},
        "hostname":"h","log_path":"/log","exit_path":"/exit"}"#;
    let spec: ContainerSpec = serde_json::from_str(old).unwrap();
    assert_eq!(spec.control_socket, None);
    assert_eq!(spec.process.console_size, None);
    assert!(!spec.process.stdin_once);
    assert!(spec.process.open_stdin);
}
