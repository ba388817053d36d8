//! docker-py, the Python SDK that Testcontainers and scripts use, against berthd.

use berth_tests::Daemon;
use std::process::Command;

#[test]
fn docker_py_suite_passes() {
    let d = Daemon::with_busybox();
    let suite = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    let out = Command::new("python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(&suite)
        .env("DOCKER_HOST", d.host())
        .output()
        .expect("running pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "docker-py suite failed:\n{text}");
    assert!(text.contains(" passed"), "pytest ran no test:\n{text}");
}
