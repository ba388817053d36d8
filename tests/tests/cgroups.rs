//! Each container runs in its own cgroup under the daemon's parent, with
//! the limits its HostConfig asks for; stats read from it.

use berth_tests::{eventually, Daemon};
use std::path::PathBuf;
use std::time::Duration;

fn v1_dir(d: &Daemon, controller: &str, id: &str) -> PathBuf {
    PathBuf::from("/sys/fs/cgroup")
        .join(controller)
        .join(d.cgroup_parent())
        .join(id)
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn is_v1_memory_host() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

#[test]
fn limits_land_in_the_containers_own_cgroup_and_it_goes_away_with_it() {
    if !is_v1_memory_host() {
        eprintln!("skipped: this check reads v1 files; the pure-v2 lane covers v2");
        return;
    }
    let d = Daemon::with_busybox();
    let id = d
        .docker(&[
            "run",
            "-d",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "busybox",
            "sleep",
            "300",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(
        read(v1_dir(&d, "memory", &id).join("memory.limit_in_bytes")),
        "67108864"
    );
    assert_eq!(read(v1_dir(&d, "pids", &id).join("pids.max")), "50");
    assert_eq!(
        read(v1_dir(&d, "cpu", &id).join("cpu.cfs_quota_us")),
        "50000"
    );
    assert_eq!(read(v1_dir(&d, "cpu", &id).join("cpu.shares")), "512");
    let pid = d
        .docker(&["inspect", "-f", "{{.State.Pid}}", &id])
        .ok()
        .stdout
        .trim()
        .to_string();
    let membership = read(PathBuf::from(format!("/proc/{pid}/cgroup")));
    let expected = format!("/{}/{}", d.cgroup_parent(), id);
    assert!(
        membership
            .lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&expected)),
        "{membership}"
    );
    d.docker(&["rm", "-f", &id]).ok();
    assert!(
        !v1_dir(&d, "memory", &id).exists(),
        "the cgroup outlived its container"
    );
}

#[test]
fn stats_report_real_memory_and_cpu_numbers() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--memory",
        "128m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 20000000 /dev/zero | tr '\\0' a); while true; do :; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(1500));
    let stats = d.get("/containers/busy/stats?stream=0").json();
    let usage = stats["memory_stats"]["usage"].as_u64().unwrap();
    assert!(usage > 1 << 20, "memory usage {usage}");
    assert_eq!(stats["memory_stats"]["limit"], 128 << 20);
    assert!(
        stats["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap()
            > stats["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_u64()
                .unwrap()
    );
    assert!(stats["pids_stats"]["current"].as_u64().unwrap() >= 1);
    assert_eq!(stats["name"], "/busy");
    let table = d
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.CPUPerc}}",
            "busy",
        ])
        .ok()
        .stdout;
    assert!(
        table.starts_with("busy ") && table.contains("/ 128MiB"),
        "{table}"
    );
    let cpu: f64 = table
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 10.0, "a busy loop should show CPU use: {table}");
    let ours = d.berth(&["stats", "--no-stream", "busy"]).ok().stdout;
    assert!(
        ours.lines().next().unwrap().contains("MEM USAGE / LIMIT") && ours.contains("128MiB"),
        "{ours}"
    );
}

#[test]
fn an_impossible_limit_is_refused_at_create() {
    let d = Daemon::with_busybox();
    let body = serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NanoCpus": 500000000, "CpuQuota": 1000}});
    let r = d.post_json("/containers/create", &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!r.json()["message"].as_str().unwrap().is_empty());
    for (host, message) in [
        (
            serde_json::json!({"Memory": 1048576}),
            "Minimum memory limit allowed is 6MB",
        ),
        (
            serde_json::json!({"CpusetCpus": "0-4095"}),
            "Requested CPUs are not available",
        ),
        (
            serde_json::json!({"Memory": -5}),
            "Memory must not be negative",
        ),
        (
            serde_json::json!({"CpuPeriod": 5}),
            "CPU cfs period can not be less than 1ms",
        ),
    ] {
        let r = d.post_json(
            "/containers/create",
            &serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host}),
        );
        assert_eq!(r.status, 400, "{host}: {}", r.text());
        assert!(
            r.json()["message"].as_str().unwrap().starts_with(message),
            "{}",
            r.text()
        );
    }
    assert!(
        d.container_ids().is_empty(),
        "a refused create left a container"
    );
}

#[test]
fn an_oom_kill_is_reported_as_137_with_oom_killed_and_an_event() {
    let d = Daemon::with_busybox();
    let r = d.docker(&[
        "run",
        "--name",
        "hog",
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(r.code, 137, "{} {}", r.stdout, r.stderr);
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "hog",
        ])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "true 137");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = d
        .get(&format!(
            "/events?since=0&until={now}&filters=%7B%22event%22%3A%5B%22oom%22%5D%7D"
        ))
        .text();
    assert!(events.contains("\"Action\":\"oom\""), "{events}");
    d.docker(&["start", "-a", "hog"]).ok_or_code(137);
    let r = d
        .docker(&[
            "run", "--name", "calm", "--memory", "64m", "busybox", "true",
        ])
        .ok();
    assert_eq!(r.code, 0);
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.State.OOMKilled}}", "calm"])
            .ok()
            .stdout
            .trim(),
        "false"
    );
}

#[test]
fn pause_freezes_every_process_and_unpause_resumes() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while true; do date +%s%N; sleep 0.05; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    d.docker(&["pause", "ticker"]).ok();
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
            "ticker",
        ])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "paused true true");
    let ps = d.docker(&["ps", "--format", "{{.Status}}"]).ok().stdout;
    assert!(ps.trim().ends_with("(Paused)"), "{ps}");
    let frozen = d.docker(&["logs", "ticker"]).ok().stdout.lines().count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        d.docker(&["logs", "ticker"]).ok().stdout.lines().count(),
        frozen,
        "a paused container kept running"
    );
    assert_ne!(d.docker(&["pause", "ticker"]).code, 0);
    let r = d.docker(&["exec", "ticker", "true"]);
    assert!(r.stderr.contains("is paused"), "{}", r.stderr);
    d.docker(&["unpause", "ticker"]).ok();
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["logs", "ticker"])
        .stdout
        .lines()
        .count()
        > frozen));
    assert_ne!(d.docker(&["unpause", "ticker"]).code, 0);
    d.docker(&["pause", "ticker"]).ok();
    d.docker(&["stop", "-t", "1", "ticker"]).ok();
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.State.Status}}", "ticker"])
            .ok()
            .stdout
            .trim(),
        "exited"
    );
    d.docker(&["start", "ticker"]).ok();
    d.docker(&["pause", "ticker"]).ok();
    d.docker(&["rm", "-f", "ticker"]).ok();
    assert!(d.container_ids().is_empty());
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    if !is_v1_memory_host() {
        eprintln!("skipped: this check reads v1 files; the pure-v2 lane covers v2");
        return;
    }
    let d = Daemon::with_busybox();
    let id = d
        .docker(&["run", "-d", "--memory", "64m", "busybox", "sleep", "300"])
        .ok()
        .stdout
        .trim()
        .to_string();
    d.docker(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "20",
        &id,
    ])
    .ok();
    assert_eq!(
        read(v1_dir(&d, "memory", &id).join("memory.limit_in_bytes")),
        (96u64 << 20).to_string()
    );
    assert_eq!(read(v1_dir(&d, "pids", &id).join("pids.max")), "20");
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &id])
            .ok()
            .stdout
            .trim(),
        (96u64 << 20).to_string()
    );
    let r = d.post_json(
        &format!("/containers/{id}/update"),
        &serde_json::json!({"NanoCpus": 500000000, "CpuQuota": 1000}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn berth_pause_and_unpause() {
    let d = Daemon::with_busybox();
    d.berth(&["run", "-d", "--name", "p1", "busybox", "sleep", "300"])
        .ok();
    assert_eq!(d.berth(&["pause", "p1"]).ok().stdout.trim(), "p1");
    let status = d.berth(&["ps", "--format", "{{.Status}}"]).ok().stdout;
    assert!(status.trim().ends_with("(Paused)"), "{status}");
    d.berth(&["unpause", "p1"]).ok();
    assert_eq!(
        d.berth(&["inspect", "-f", "{{.State.Status}}", "p1"])
            .ok()
            .stdout
            .trim(),
        "running"
    );
    let r = d.berth(&["unpause", "p1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not paused"), "{}", r.stderr);
}

#[test]
fn cgroupns_private_hides_the_host_path_and_host_shows_it() {
    let d = Daemon::with_busybox();
    let private = d
        .docker(&[
            "run",
            "--rm",
            "--cgroupns",
            "private",
            "busybox",
            "cat",
            "/proc/self/cgroup",
        ])
        .ok()
        .stdout;
    assert!(private.lines().all(|l| l.ends_with(":/")), "{private}");
    let host = d
        .docker(&[
            "run",
            "--rm",
            "--cgroupns",
            "host",
            "busybox",
            "cat",
            "/proc/self/cgroup",
        ])
        .ok()
        .stdout;
    assert!(
        host.lines()
            .any(|l| l.contains(&format!("/{}/", d.cgroup_parent()))),
        "{host}"
    );
    let r = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"CgroupnsMode": "shared"}}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn the_containers_own_cgroups_show_read_only_in_sys_fs_cgroup() {
    let d = Daemon::with_busybox();
    // The container's limit, in its own cgroup, at the root of its view.
    let limit = if is_v1_memory_host() {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    } else {
        "/sys/fs/cgroup/memory.max"
    };
    let script = format!("cat {limit}; mkdir /sys/fs/cgroup/x 2>&1; echo mkdir=$?");
    let out = d
        .docker(&[
            "run", "--rm", "--memory", "64m", "busybox", "sh", "-c", &script,
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "67108864", "{out}");
    assert!(lines[1].contains("Read-only file system"), "{out}");
    assert_eq!(lines[2], "mkdir=1", "{out}");
    // Privileged: writable, as with Docker.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "grep ' /sys/fs/cgroup ' /proc/self/mounts",
        ])
        .ok()
        .stdout;
    assert!(out.contains(" rw,"), "{out}");
}

#[test]
fn limits_the_host_cannot_apply_come_back_as_create_warnings() {
    let d = Daemon::with_busybox();
    let create = |host: serde_json::Value| {
        let r = d.post_json(
            "/containers/create",
            &serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["Warnings"].as_array().unwrap().clone()
    };
    assert!(create(serde_json::json!({"Memory": 67108864})).is_empty());
    // Whether this host takes a blkio weight shows only inside a child
    // cgroup; either way the reply must say the truth about it.
    for warning in create(serde_json::json!({"BlkioWeight": 300})) {
        assert!(
            warning.as_str().unwrap().to_lowercase().contains("weight"),
            "{warning}"
        );
    }
    let leftovers: Vec<_> = d
        .cgroup_parent_dirs()
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().flatten())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    assert!(
        leftovers.is_empty(),
        "the probe cgroup was left behind: {leftovers:?}"
    );
}

/// The first real disk, as `(/dev/NAME, "MAJ:MIN")`.
fn a_disk() -> Option<(String, String)> {
    std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("loop") || name.starts_with("zram") || name.starts_with("ram") {
                return None;
            }
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            let path = format!("/dev/{name}");
            std::path::Path::new(&path)
                .exists()
                .then(|| (path, dev.trim().to_string()))
        })
}

#[test]
fn device_throttles_oom_kill_disable_and_hugepages() {
    if !is_v1_memory_host() {
        eprintln!("skipped: this check reads v1 files; the pure-v2 lane covers v2");
        return;
    }
    let d = Daemon::with_busybox();
    if let Some((disk, numbers)) = a_disk() {
        let id = d
            .docker(&[
                "run",
                "-d",
                "--device-read-bps",
                &format!("{disk}:1mb"),
                "--device-write-iops",
                &format!("{disk}:100"),
                "--memory",
                "64m",
                "--oom-kill-disable",
                "busybox",
                "sleep",
                "300",
            ])
            .ok()
            .stdout
            .trim()
            .to_string();
        let blkio = v1_dir(&d, "blkio", &id);
        assert_eq!(
            read(blkio.join("blkio.throttle.read_bps_device")),
            format!("{numbers} 1048576")
        );
        assert_eq!(
            read(blkio.join("blkio.throttle.write_iops_device")),
            format!("{numbers} 100")
        );
        let oom = read(v1_dir(&d, "memory", &id).join("memory.oom_control"));
        assert!(oom.lines().any(|l| l == "oom_kill_disable 1"), "{oom}");
    }
    let r = d.post_json("/containers/create", &serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}}));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.post_json("/containers/create", &serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"HugepageLimits": [{"PageSize": "2MB", "Limit": 4194304}]}}));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = d.post_json("/containers/create", &serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"HugepageLimits": [{"PageSize": "../x", "Limit": 1}]}}));
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Field `index` (counted after the command name) of /proc/PID/stat.
fn stat_field(pid: i64, index: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(index).map(str::to_string)
}

#[test]
fn exec_processes_join_the_containers_cgroup_and_orphans_are_reaped() {
    let d = Daemon::with_busybox();
    let id = d
        .docker(&["run", "-d", "--name", "ce", "busybox", "sleep", "300"])
        .ok()
        .stdout
        .trim()
        .to_string();
    // Inside, with the container's cgroup namespace, its cgroup is the root.
    let inside = d
        .docker(&["exec", "ce", "cat", "/proc/self/cgroup"])
        .ok()
        .stdout;
    assert!(!inside.is_empty());
    assert!(inside.lines().all(|l| l.ends_with(":/")), "{inside}");

    // From the host: a detached exec's process is in the container's cgroup.
    let exec = d.post_json(
        "/containers/ce/exec",
        &serde_json::json!({"Cmd": ["sleep", "301"]}),
    );
    assert_eq!(exec.status, 201, "{}", exec.text());
    let exec_id = exec.json()["Id"].as_str().unwrap().to_string();
    let start = d.post_json(
        &format!("/exec/{exec_id}/start"),
        &serde_json::json!({"Detach": true}),
    );
    assert!(start.status < 300, "{}", start.text());
    let mut pid = 0;
    assert!(eventually(Duration::from_secs(5), || {
        pid = d.get(&format!("/exec/{exec_id}/json")).json()["Pid"]
            .as_i64()
            .unwrap_or(0);
        pid > 0
    }));
    // The same cgroups as the container's init, in every hierarchy.
    let membership = read(PathBuf::from(format!("/proc/{pid}/cgroup")));
    let init = d.get("/containers/ce/json").json()["State"]["Pid"]
        .as_i64()
        .unwrap();
    assert_eq!(
        membership,
        read(PathBuf::from(format!("/proc/{init}/cgroup")))
    );
    assert!(
        membership.contains(&format!("/{}/{id}", d.cgroup_parent())),
        "{membership}"
    );

    // Its monitor dies: berthd inherits the process, and reaps it once it
    // exits instead of leaving a zombie in the container's pid namespace.
    let monitor: i32 = stat_field(pid, 1).unwrap().parse().unwrap();
    assert_ne!(monitor as u32, d.pid());
    // SAFETY: kill with a pid and a signal number; the monitor is ours.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || {
        stat_field(pid, 1) == Some(d.pid().to_string())
    }));
    // SAFETY: as above; the process is the exec's, in our container.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(
        eventually(Duration::from_secs(5), || stat_field(pid, 0).is_none()),
        "process {pid} is still there: {:?}",
        stat_field(pid, 0)
    );
    assert!(d.get("/containers/ce/json").json()["State"]["Running"]
        .as_bool()
        .unwrap());
    d.docker(&["rm", "-f", "ce"]).ok();
}
