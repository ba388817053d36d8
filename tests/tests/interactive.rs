//! Interactive I/O and streams: exec, stdin, attach, TTY, events, top,
//! rename — through the real docker CLI, the berth CLI and raw HTTP.

use berth_tests::{demux, eventually, Daemon};
use serde_json::json;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

fn random_bytes(len: usize) -> Vec<u8> {
    // xorshift: deterministic, incompressible enough, every byte value.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sha256_hex(data: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Runs a command with `input` on its stdin.
fn with_stdin(mut cmd: std::process::Command, input: &[u8]) -> berth_tests::Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    berth_tests::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn docker_exec_runs_inside_the_container() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "box",
        "--hostname",
        "insidebox",
        "busybox",
        "sh",
        "-c",
        "echo mark > /tmp/mark; exec sleep 300",
    ])
    .ok();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["exec", "box", "cat", "/tmp/mark"])
        .stdout
        == "mark\n"));
    let r = d
        .docker(&[
            "exec",
            "box",
            "sh",
            "-c",
            "echo out; echo err >&2; hostname; cat /proc/1/cmdline | tr '\\0' ' '",
        ])
        .ok();
    assert_eq!(r.stdout, "out\ninsidebox\nsleep 300 ");
    assert_eq!(r.stderr, "err\n");
    assert_eq!(d.docker(&["exec", "box", "sh", "-c", "exit 5"]).code, 5);
    let r = d
        .docker(&[
            "exec",
            "-u",
            "app",
            "-w",
            "/tmp",
            "-e",
            "X=from-exec",
            "box",
            "sh",
            "-c",
            "id -un; pwd; echo $X",
        ])
        .ok();
    assert_eq!(r.stdout, "app\n/tmp\nfrom-exec\n");
    let r = d.docker(&["exec", "box", "no-such-cmd"]);
    assert_eq!(r.code, 127, "{} {}", r.stdout, r.stderr);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("executable file not found in $PATH"));
    let r = d.docker(&["exec", "box", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{} {}", r.stdout, r.stderr);
    d.docker(&["stop", "-t", "0", "box"]).ok();
    let r = d.docker(&["exec", "box", "true"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
}

#[test]
fn exec_state_is_final_when_the_stream_ends() {
    let d = Daemon::with_busybox();
    d.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "300"])
        .ok();
    let exec = d.post_json("/containers/box/exec", &json!({"AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", "echo hi; exit 9"]}));
    assert_eq!(exec.status, 201, "{}", exec.text());
    let id = exec.json()["Id"].as_str().unwrap().to_string();
    let before = d.get(&format!("/exec/{id}/json")).json();
    assert_eq!(before["Running"], false);
    assert_eq!(before["ExitCode"], serde_json::Value::Null);
    let started = d.post_json(
        &format!("/exec/{id}/start"),
        &json!({"Detach": false, "Tty": false}),
    );
    assert_eq!(started.status, 200);
    let (out, _) = demux(&started.body);
    assert_eq!(out, b"hi\n");
    let after = d.get(&format!("/exec/{id}/json")).json();
    assert_eq!(
        (after["Running"].clone(), after["ExitCode"].clone()),
        (json!(false), json!(9))
    );
    assert_eq!(after["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(d.get("/exec/nope/json").status, 404);
    assert_eq!(
        d.post_json(&format!("/exec/{id}/start"), &json!({})).status,
        409
    );
    let r = d.request("POST", "/containers/box/resize?h=10&w=20", None);
    assert_eq!(r.status, 400, "resize without a TTY: {}", r.text());
}

#[test]
fn stdin_is_piped_byte_exact_into_run_and_exec() {
    let d = Daemon::with_busybox();
    let data = random_bytes(4 << 20);
    let digest = sha256_hex(&data);
    let r = with_stdin(
        d.docker_cmd(&["run", "--rm", "-i", "busybox", "sha256sum"]),
        &data,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.split_whitespace().next(), Some(digest.as_str()));
    let r = with_stdin(
        d.berth_cmd(&["run", "--rm", "-i", "busybox", "sha256sum"]),
        &data,
    );
    assert_eq!(
        r.stdout.split_whitespace().next(),
        Some(digest.as_str()),
        "{}",
        r.stderr
    );
    d.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "300"])
        .ok();
    let r = with_stdin(d.docker_cmd(&["exec", "-i", "box", "sha256sum"]), &data);
    assert_eq!(
        r.stdout.split_whitespace().next(),
        Some(digest.as_str()),
        "{}",
        r.stderr
    );
}

#[test]
fn attach_to_a_running_shell_sends_stdin_and_returns_its_exit_code() {
    let d = Daemon::with_busybox();
    d.docker(&["run", "-d", "-i", "--name", "shell", "busybox", "sh"])
        .ok();
    let r = with_stdin(
        d.docker_cmd(&["attach", "shell"]),
        b"echo from-attach\nexit 3\n",
    );
    assert_eq!(r.stdout, "from-attach\n", "{}", r.stderr);
    assert_eq!(r.code, 3);
    let r = d.docker(&["attach", "shell"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("You cannot attach to a stopped container"),
        "{}",
        r.stderr
    );
}

#[test]
fn events_describe_a_whole_lifecycle() {
    let d = Daemon::with_busybox();
    let since = now_secs() - 1;
    d.docker(&[
        "run",
        "--name",
        "life",
        "-l",
        "suite=events",
        "busybox",
        "sh",
        "-c",
        "exit 4",
    ])
    .ok_or_code(4);
    d.docker(&["tag", "busybox", "evtag:1"]).ok();
    d.docker(&["rm", "life"]).ok();
    let until = now_secs() + 1;
    let r = d
        .docker(&[
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            "container=life",
            "--format",
            "{{.Action}} {{index .Actor.Attributes \"suite\"}}",
        ])
        .ok();
    let actions: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        actions,
        [
            "create events",
            "attach events",
            "start events",
            "die events",
            "destroy events"
        ],
        "{}",
        r.stdout
    );
    let r = d.get(&format!(
        "/events?since={since}&until={until}&filters=%7B%22event%22%3A%5B%22die%22%5D%7D"
    ));
    let line: serde_json::Value = serde_json::from_str(r.text().lines().next().unwrap()).unwrap();
    assert_eq!(line["Actor"]["Attributes"]["exitCode"], "4");
    assert_eq!(line["status"], "die");
    let r = d
        .docker(&[
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            "type=image",
            "--format",
            "{{.Action}}",
        ])
        .ok();
    assert!(r.stdout.lines().any(|l| l == "tag"), "{}", r.stdout);
}

#[test]
fn top_and_rename() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "old",
        "busybox",
        "sh",
        "-c",
        "sleep 300 & exec sleep 301",
    ])
    .ok();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["top", "old"])
        .stdout
        .lines()
        .count()
        == 3));
    let top = d.docker(&["top", "old"]).ok().stdout;
    assert!(
        top.starts_with("UID") && top.contains("sleep 300") && top.contains("sleep 301"),
        "{top}"
    );
    let top = d.get("/containers/old/top?ps_args=-o%20pid,comm").json();
    assert_eq!(top["Titles"], json!(["PID", "COMMAND"]));
    d.docker(&["run", "-d", "--name", "other", "busybox", "sleep", "300"])
        .ok();
    let r = d.docker(&["rename", "old", "other"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is already in use"), "{}", r.stderr);
    d.docker(&["rename", "old", "new"]).ok();
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.Name}}", "new"])
            .ok()
            .stdout
            .trim(),
        "/new"
    );
    assert_ne!(d.docker(&["inspect", "old"]).code, 0);
    d.docker(&["stop", "-t", "0", "new"]).ok();
    assert_eq!(d.request("GET", "/containers/new/top", None).status, 409);
}

#[test]
fn berth_cli_exec_events_top_and_rename() {
    let d = Daemon::with_busybox();
    d.berth(&["run", "-d", "--name", "bx", "busybox", "sleep", "300"])
        .ok();
    assert_eq!(
        d.berth(&["exec", "bx", "echo", "via-berth"]).ok().stdout,
        "via-berth\n"
    );
    assert_eq!(d.berth(&["exec", "bx", "sh", "-c", "exit 6"]).code, 6);
    assert_eq!(d.berth(&["exec", "bx", "nope"]).code, 127);
    let top = d.berth(&["top", "bx"]).ok().stdout;
    assert!(top.contains("sleep 300"), "{top}");
    d.berth(&["rename", "bx", "by"]).ok();
    let r = d
        .berth(&[
            "events",
            "--since",
            "0",
            "--until",
            &(now_secs() + 1).to_string(),
            "--filter",
            "event=rename",
        ])
        .ok();
    assert!(
        r.stdout.contains("container rename") && r.stdout.contains("name=by"),
        "{}",
        r.stdout
    );
}

/// A terminal session driven through tmux.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(d: &Daemon, command: &str) -> Tmux {
        let name = format!(
            "berth-{}-{}",
            std::process::id(),
            d.root.file_name().unwrap().to_string_lossy()
        );
        let status = std::process::Command::new("tmux")
            .args(["new-session", "-d", "-x", "120", "-y", "40", "-s", &name])
            .arg(format!(
                "DOCKER_HOST={} DOCKER_CONFIG={} {command}",
                d.host(),
                d.root.join("docker-config").display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
        Tmux { name }
    }
    fn keys(&self, keys: &[&str]) {
        let status = std::process::Command::new("tmux")
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }
    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn resize(&self, width: u16, height: u16) {
        let status = std::process::Command::new("tmux")
            .args([
                "resize-window",
                "-t",
                &self.name,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    fn alive(&self) -> bool {
        std::process::Command::new("tmux")
            .args(["has-session", "-t", &self.name])
            .status()
            .unwrap()
            .success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

#[test]
fn run_it_under_a_real_terminal_resizes_and_detaches() {
    let d = Daemon::with_busybox();
    let term = Tmux::start(&d, "docker run -it --name tty busybox sh");
    assert!(eventually(Duration::from_secs(10), || d
        .docker(&["ps", "-q", "--filter", "name=tty"])
        .stdout
        .trim()
        .len()
        == 12));
    std::thread::sleep(Duration::from_millis(300));
    term.keys(&["tty; stty size", "Enter"]);
    assert!(
        eventually(Duration::from_secs(5), || term
            .screen()
            .contains("/dev/pts/0")),
        "{}",
        term.screen()
    );
    assert!(
        eventually(Duration::from_secs(5), || term.screen().contains("40 120")),
        "{}",
        term.screen()
    );
    term.resize(100, 30);
    std::thread::sleep(Duration::from_millis(300));
    term.keys(&["clear; stty size", "Enter"]);
    assert!(
        eventually(Duration::from_secs(5), || term.screen().contains("30 100")),
        "{}",
        term.screen()
    );
    term.keys(&["C-p", "C-q"]);
    assert!(
        eventually(Duration::from_secs(5), || !term.alive()
            || !term.screen().contains("/ #")),
        "{}",
        term.screen()
    );
    let state = d
        .docker(&["inspect", "-f", "{{.State.Status}}", "tty"])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "running", "detach keys stopped the container");
    let term = Tmux::start(&d, "docker exec -it tty sh");
    std::thread::sleep(Duration::from_millis(500));
    term.keys(&["tty; echo exec-$((40+2))", "Enter"]);
    assert!(
        eventually(Duration::from_secs(5), || term.screen().contains("exec-42")),
        "{}",
        term.screen()
    );
    assert!(term.screen().contains("/dev/pts/"), "{}", term.screen());
}

#[test]
fn clients_that_vanish_mid_stream_leave_containers_and_daemon_unaffected() {
    use std::io::Read;
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "-i",
        "--name",
        "chatty",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.01; done",
    ])
    .ok();
    let exec_id = d
        .post_json("/containers/chatty/exec", &json!({"AttachStdout": true, "AttachStdin": true, "Cmd": ["sh", "-c", "while true; do echo e; sleep 0.01; done"]}))
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let heads = [
        "POST /containers/chatty/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_string(),
        "GET /containers/chatty/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        "GET /events HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        format!("POST /exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"),
    ];
    for head in &heads {
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        let mut some = [0u8; 64];
        let _ = s.read(&mut some).unwrap();
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.State.Status}}", "chatty"])
            .ok()
            .stdout
            .trim(),
        "running"
    );
    let before = d.docker(&["logs", "chatty"]).ok().stdout.len();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["logs", "chatty"])
        .stdout
        .len()
        > before));
    assert_eq!(
        d.docker(&["exec", "chatty", "echo", "still-fine"])
            .ok()
            .stdout,
        "still-fine\n"
    );
    assert_eq!(d.get("/_ping").status, 200);
}

#[test]
fn logs_follow_continues_across_a_restart_and_ends_on_stop() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "rs",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 300",
    ])
    .ok();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["logs", "rs"])
        .stdout
        == "up\n"));
    let follower = d
        .docker_cmd(&["logs", "-f", "rs"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    d.docker(&["restart", "-t", "0", "rs"]).ok();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["logs", "rs"])
        .stdout
        == "up\nup\n"));
    d.docker(&["stop", "-t", "0", "rs"]).ok();
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "up\nup\n");
}

#[test]
fn a_client_that_never_reads_blocks_neither_the_container_nor_other_clients() {
    use std::io::Read;
    let d = Daemon::with_busybox();
    let id = d
        .post_json("/containers/create", &json!({"Image": "busybox", "Cmd": ["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' x | fold -w 100"]}))
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stuck = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    stuck
        .write_all(format!("POST /containers/{id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = [0u8; 16];
    stuck.read_exact(&mut head).unwrap();
    let mut reader = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    reader
        .write_all(format!("POST /containers/{id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").as_bytes())
        .unwrap();
    let reading = std::thread::spawn(move || {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        all
    });
    d.docker(&["start", &id]).ok();
    assert_eq!(
        d.docker(&["wait", &id]).ok().stdout.trim(),
        "0",
        "the container finished despite a stuck client"
    );
    let all = reading.join().unwrap();
    let body = &all[all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let (out, _) = demux(body);
    // fold ends the last line without a newline: 199,999 of them.
    assert_eq!(
        out.len(),
        20_000_000 + 199_999,
        "the reading client got everything"
    );
    drop(stuck);
}

#[test]
fn berth_run_it_under_a_real_terminal() {
    let d = Daemon::with_busybox();
    let berth = berth_tests::bin("berth");
    let term = Tmux::start(
        &d,
        &format!(
            "{} -H {} run -it --name bt busybox sh",
            berth.display(),
            d.host()
        ),
    );
    assert!(eventually(Duration::from_secs(10), || d
        .berth(&["ps", "-q", "--filter", "name=bt"])
        .stdout
        .trim()
        .len()
        == 12));
    std::thread::sleep(Duration::from_millis(300));
    term.keys(&["tty; stty size", "Enter"]);
    assert!(
        eventually(Duration::from_secs(5), || term
            .screen()
            .contains("/dev/pts/0")
            && term.screen().contains("40 120")),
        "{}",
        term.screen()
    );
    term.keys(&["exit 7", "Enter"]);
    assert!(eventually(Duration::from_secs(5), || d
        .berth(&["inspect", "-f", "{{.State.ExitCode}}", "bt"])
        .stdout
        .trim()
        == "7"));
}

#[test]
fn force_remove_with_a_live_exec_finishes() {
    let d = Daemon::with_busybox();
    d.docker(&["run", "-d", "--name", "busy", "busybox", "sleep", "300"])
        .ok();
    let mut exec = d
        .docker_cmd(&["exec", "-i", "busy", "sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = std::time::Instant::now();
    d.docker(&["rm", "-f", "busy"]).ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "rm -f took {:?}",
        started.elapsed()
    );
    let _ = exec.kill();
    let _ = exec.wait();
    assert!(d.container_ids().is_empty());
}
