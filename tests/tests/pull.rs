//! Pulling from a real registry (Debian's `docker-registry` on 127.0.0.1)
//! with the docker CLI, berth and docker-py's way of calling the API: the
//! progress stream, "up to date" on a second pull, pull by digest, a missing
//! tag, and `run` of an image that is not there yet.

use berth_tests::registry::Registry;
use berth_tests::Daemon;

#[test]
fn docker_pull_then_run_then_up_to_date_and_by_digest() {
    let d = Daemon::start();
    let registry = Registry::start();
    let digest = registry.push_busybox("tools/busybox:1");
    let name = format!("{}/tools/busybox:1", registry.host);

    let first = d.docker(&["pull", &name]).ok().stdout;
    assert!(first.contains("1: Pulling from tools/busybox"), "{first}");
    assert!(first.contains("Pull complete"), "{first}");
    assert!(first.contains(&format!("Digest: {digest}")), "{first}");
    assert!(
        first.contains(&format!("Status: Downloaded newer image for {name}")),
        "{first}"
    );
    assert_eq!(
        d.docker(&["run", "--rm", "--network", "none", &name, "echo", "pulled"])
            .ok()
            .stdout,
        "pulled\n"
    );
    let digests = d
        .docker(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name])
        .ok()
        .stdout;
    assert!(
        digests.contains(&format!("{}/tools/busybox@{digest}", registry.host)),
        "{digests}"
    );

    let again = d.docker(&["pull", &name]).ok().stdout;
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}")),
        "{again}"
    );

    let by_digest = format!("{}/tools/busybox@{digest}", registry.host);
    // The last tag of a repository takes its digest references along, so
    // the image is deleted, as with dockerd.
    let removed = d.docker(&["rmi", &name]).ok().stdout;
    assert!(
        removed.contains(&format!("Untagged: {by_digest}")),
        "{removed}"
    );
    assert!(removed.contains("Deleted: sha256:"), "{removed}");
    assert_eq!(d.get(&format!("/images/{by_digest}/json")).status, 404);
    let pulled = d.berth(&["pull", &by_digest]).ok().stdout;
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    let listed = d
        .docker(&["images", "--format", "{{.Repository}} {{.Tag}}"])
        .ok()
        .stdout;
    assert!(
        listed.contains(&format!("{}/tools/busybox <none>", registry.host)),
        "{listed}"
    );
    assert_eq!(
        d.berth(&[
            "run",
            "--rm",
            "--network",
            "none",
            &by_digest,
            "echo",
            "by-digest"
        ])
        .ok()
        .stdout,
        "by-digest\n"
    );
}

#[test]
fn a_missing_tag_is_a_clear_404_and_run_pulls_what_is_missing() {
    let d = Daemon::start();
    let registry = Registry::start();
    registry.push_busybox("app:v1");
    let missing = format!("{}/app:nope", registry.host);
    let r = d.post_json(
        &format!("/images/create?fromImage={missing}"),
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("manifest for {missing} not found")),
        "{message}"
    );
    let r = d.docker(&["pull", &missing]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);

    // `run` of an image that is not here: pulled first, as docker does.
    let name = format!("{}/app:v1", registry.host);
    let r = d
        .docker(&["run", "--rm", "--network", "none", &name, "echo", "auto"])
        .ok();
    assert_eq!(r.stdout, "auto\n");
    assert!(
        r.stderr
            .contains(&format!("Unable to find image '{name}' locally")),
        "{}",
        r.stderr
    );
    // The daemon keeps serving after the failed pull.
    assert_eq!(d.get("/_ping").status, 200);
}

#[test]
fn push_then_pull_back_with_docker_and_berth() {
    let d = Daemon::with_busybox();
    let registry = Registry::start();
    let name = format!("{}/pushed/busybox:2", registry.host);
    d.docker(&["tag", "busybox", &name]).ok();
    let pushed = d.docker(&["push", &name]).ok().stdout;
    assert!(
        pushed.contains(&format!(
            "The push refers to repository [{}/pushed/busybox]",
            registry.host
        )),
        "{pushed}"
    );
    assert!(pushed.contains("Pushed"), "{pushed}");
    assert!(pushed.contains("2: digest: sha256:"), "{pushed}");
    let again = d.berth(&["push", &name]).ok().stdout;
    assert!(again.contains("Layer already exists"), "{again}");

    d.docker(&["rmi", &name]).ok();
    let other = Daemon::start();
    other.docker(&["pull", &name]).ok();
    assert_eq!(
        other
            .docker(&[
                "run",
                "--rm",
                "--network",
                "none",
                &name,
                "echo",
                "round-trip"
            ])
            .ok()
            .stdout,
        "round-trip\n"
    );
    let missing = d.post_json(
        &format!("/images/{}/nothing/push?tag=1", registry.host),
        &serde_json::json!({}),
    );
    assert_eq!(missing.status, 404, "{}", missing.text());
}

#[test]
fn history_prune_and_disk_usage_with_the_docker_cli() {
    let d = Daemon::with_busybox();
    let history = d
        .docker(&["history", "--format", "{{.ID}} {{.Size}}", "busybox"])
        .ok()
        .stdout;
    let id = d
        .docker(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let first = history.lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with(&id[7..19]), "{history}");
    assert!(!first.ends_with(" 0B"), "{history}");

    // A dangling image (its only tag moved away) is pruned; busybox, used by
    // a container, stays even with -a.
    let (_, rootfs) = berth_tests::busybox_fixture();
    d.berth(&["import", rootfs.to_str().unwrap(), "scratchy:1"])
        .ok();
    d.berth(&["tag", "busybox", "scratchy:1"]).ok();
    d.docker(&["create", "--name", "keeper", "busybox", "true"])
        .ok();
    let pruned = d.docker(&["image", "prune", "-f"]).ok().stdout;
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    let all = d.docker(&["image", "prune", "-a", "-f"]).ok().stdout;
    assert!(!all.contains(&id), "{all}");
    assert!(d.get("/images/busybox/json").status == 200);

    let df = d.docker(&["system", "df"]).ok().stdout;
    assert!(df.contains("Images"), "{df}");
    assert!(df.contains("Containers"), "{df}");
    let r = d.request(
        "POST",
        "/images/prune?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn berth_history_prune_and_df() {
    let d = Daemon::with_busybox();
    let history = d.berth(&["history", "busybox"]).ok().stdout;
    assert!(history.starts_with("IMAGE"), "{history}");
    assert_eq!(history.lines().count(), 2, "{history}");
    let (_, rootfs) = berth_tests::busybox_fixture();
    d.berth(&["import", rootfs.to_str().unwrap(), "scratchy:1"])
        .ok();
    d.berth(&["tag", "busybox", "scratchy:1"]).ok();
    let pruned = d.berth(&["image", "prune", "-f"]).ok().stdout;
    assert!(pruned.starts_with("Deleted Images:\n"), "{pruned}");
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    let df = d.berth(&["system", "df"]).ok().stdout;
    let images = df
        .lines()
        .find(|l| l.starts_with("Images"))
        .unwrap_or_default();
    assert!(images.split_whitespace().nth(1) == Some("1"), "{df}");
}

/// The largest blob file in a `docker-registry`'s filesystem storage: the
/// busybox layer.
fn largest_blob(storage: &std::path::Path) -> std::path::PathBuf {
    fn walk(dir: &std::path::Path, found: &mut Vec<(u64, std::path::PathBuf)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.file_name().is_some_and(|n| n == "data") {
                found.push((entry.metadata().unwrap().len(), path));
            }
        }
    }
    let mut found = Vec::new();
    walk(&storage.join("docker/registry/v2/blobs"), &mut found);
    found.into_iter().max().expect("no blob stored").1
}

#[test]
fn a_corrupt_layer_fails_the_pull_leaves_nothing_and_a_retry_works() {
    let d = Daemon::start();
    let registry = Registry::start();
    registry.push_busybox("fragile:1");
    let name = format!("{}/fragile:1", registry.host);
    // The registry serves what its storage holds: flip bytes of the layer
    // in the middle (same size, so only the digest can tell).
    let blob = largest_blob(&registry.dir().join("data"));
    let good = std::fs::read(&blob).unwrap();
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    for byte in &mut bad[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    std::fs::write(&blob, &bad).unwrap();

    let r = d.docker(&["pull", &name]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("digest"), "{}", r.stderr);
    assert_eq!(d.get(&format!("/images/{name}/json")).status, 404);
    let image_root = d.root.join("data/image");
    let scratch: Vec<_> = std::fs::read_dir(image_root.join("tmp"))
        .unwrap()
        .chain(std::fs::read_dir(image_root.join("layers")).unwrap())
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");
    assert_eq!(d.get("/_ping").status, 200);

    std::fs::write(&blob, &good).unwrap();
    d.docker(&["pull", &name]).ok();
    assert_eq!(
        d.docker(&["run", "--rm", "--network", "none", &name, "echo", "retried"])
            .ok()
            .stdout,
        "retried\n"
    );
}
