//! Each container runs in its own cgroup under the daemon's parent, with
//! the limits its HostConfig asks for; stats read from it.

use berth_tests::Daemon;
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
    let inside = d
        .docker(&["exec", &id, "cat", "/proc/self/cgroup"])
        .ok()
        .stdout;
    // The exec joined the container's cgroup and cgroup namespace: its
    // cgroup is the namespace's root.
    assert!(inside.lines().any(|l| l.ends_with(":memory:/")), "{inside}");
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
    assert!(d.container_ids().is_empty());
}
