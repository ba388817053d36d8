//! Registries that misbehave, played by a fake server on 127.0.0.1: wrong
//! digests, short bodies, 500s, hangs, stalls, unknown manifest types,
//! redirects. Each must end in a clear error, quickly.

mod common;

use std::time::{Duration, Instant};

use berth_registry::media_type::*;
use berth_registry::{Client, ClientConfig, Descriptor, Digest, Error, Reference};
use common::fake::{Answer, FakeServer};
use common::image;

const BASIC_CHALLENGE: &str = r#"Basic realm="fake""#;

fn amd64() -> berth_registry::Platform {
    "linux/amd64".parse().unwrap()
}

fn fast_client() -> Client {
    Client::new(ClientConfig {
        connect_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(1),
        ..ClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn blob_with_the_wrong_digest_is_a_digest_mismatch() {
    let truth = b"the real layer".to_vec();
    let desc = Descriptor::new(OCI_LAYER_GZIP, Digest::sha256(&truth), truth.len() as u64);
    let server = FakeServer::start(|req| match req.path() {
        "/v2/" => Answer::status(200),
        _ => Answer::bytes(200, "application/octet-stream", b"a forged layer".to_vec()),
    })
    .await;
    let reference: Reference = format!("{}/app:1", server.host()).parse().unwrap();
    let err = image::fetch(&fast_client(), &reference, &desc, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "filesystem layer verification failed for digest {}",
            desc.digest
        )
    );
}

#[tokio::test]
async fn short_and_long_blob_bodies_are_size_mismatches() {
    let truth = b"0123456789".to_vec();
    let desc = Descriptor::new(OCI_CONFIG, Digest::sha256(&truth), truth.len() as u64);
    let server = FakeServer::start(|req| match req.path() {
        "/v2/" => Answer::status(200),
        p if p.starts_with("/v2/short/") => {
            Answer::bytes(200, "application/octet-stream", b"01234".to_vec())
        }
        _ => Answer::bytes(200, "application/octet-stream", b"0123456789AB".to_vec()),
    })
    .await;
    let client = fast_client();
    for (repo, received) in [("short", 5), ("long", 12)] {
        let reference: Reference = format!("{}/{repo}:1", server.host()).parse().unwrap();
        let err = image::fetch(&client, &reference, &desc, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::SizeMismatch { expected: 10, received: r, .. } if r == received),
            "{repo}: {err:?}"
        );
    }
}

#[tokio::test]
async fn manifest_that_does_not_match_the_pinned_digest_is_refused() {
    let img = image::simple_image("linux/amd64", "x");
    let served = img.manifest.bytes.clone();
    let server = FakeServer::start(move |req| match req.path() {
        "/v2/" => Answer::status(200),
        _ => Answer::bytes(200, DOCKER_MANIFEST, served.clone()),
    })
    .await;
    let other = Digest::sha256(b"another manifest");
    let reference: Reference = format!("{}/app@{other}", server.host()).parse().unwrap();
    let err = fast_client()
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("manifest verification failed for digest {other}")
    );
}

#[tokio::test]
async fn registry_500_is_an_error_with_its_message() {
    let server = FakeServer::start(|req| match req.path() {
        "/v2/" => Answer::status(200),
        _ => Answer::json(
            500,
            r#"{"errors":[{"code":"UNKNOWN","message":"storage backend unavailable"}]}"#,
        ),
    })
    .await;
    let reference: Reference = format!("{}/app:1", server.host()).parse().unwrap();
    let err = fast_client()
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    let Error::Registry { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 500);
    assert_eq!(
        message,
        "received unexpected HTTP status: 500 Internal Server Error: unknown: storage backend unavailable"
    );
}

#[tokio::test]
async fn hanging_registry_fails_within_the_timeout() {
    let server = FakeServer::start(|_| Answer::Hang).await;
    let reference: Reference = format!("{}/app:1", server.host()).parse().unwrap();
    let started = Instant::now();
    let err = fast_client()
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let Error::Transport { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("timeout awaiting response headers"),
        "{reason}"
    );
}

#[tokio::test]
async fn stalled_blob_body_fails_within_the_stall_timeout() {
    let server = FakeServer::start(|req| match req.path() {
        "/v2/" => Answer::status(200),
        _ => Answer::Stall {
            length: 1000,
            body: vec![1; 100],
        },
    })
    .await;
    let reference: Reference = format!("{}/app:1", server.host()).parse().unwrap();
    let desc = Descriptor::new(OCI_LAYER, Digest::sha256(&[1; 1000]), 1000);
    let started = Instant::now();
    let mut got = Vec::new();
    let err = fast_client()
        .fetch_blob(&reference, &desc, &mut got, |_| {}, None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let Error::Transport { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("body stalled"), "{reason}");
    assert_eq!(
        got.len(),
        100,
        "what came is in the sink, for the caller to discard"
    );
}

#[tokio::test]
async fn unknown_manifest_type_is_unsupported() {
    let server = FakeServer::start(|req| match req.path() {
        "/v2/" => Answer::status(200),
        _ => Answer::bytes(
            200,
            "application/vnd.example.thing+json",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}"#.to_vec(),
        ),
    })
    .await;
    let reference: Reference = format!("{}/app:1", server.host()).parse().unwrap();
    let err = fast_client()
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported media type application/vnd.example.thing+json"
    );
}

#[tokio::test]
async fn blob_redirects_are_followed_without_the_credentials() {
    let body = b"layer from the blob store".to_vec();
    let desc = Descriptor::new(OCI_LAYER, Digest::sha256(&body), body.len() as u64);
    let served = body.clone();
    let storage =
        FakeServer::start(move |_| Answer::bytes(200, "application/octet-stream", served.clone()))
            .await;
    let storage_url = format!("http://{}/blobs/abc?sig=1", storage.host());
    let registry = FakeServer::start(move |req| {
        let authed = req.header("authorization").is_some();
        match req.path() {
            _ if !authed => Answer::status(401).with_header("WWW-Authenticate", BASIC_CHALLENGE),
            "/v2/" => Answer::status(200),
            _ => Answer::status(307).with_header("Location", &storage_url),
        }
    })
    .await;
    let reference: Reference = format!("{}/app:1", registry.host()).parse().unwrap();
    let creds = berth_registry::Credentials::new("alice", "secret");
    let got = image::fetch(&fast_client(), &reference, &desc, Some(&creds))
        .await
        .unwrap();
    assert_eq!(got, body);
    let blob_request = registry
        .requests()
        .into_iter()
        .find(|r| r.path().contains("/blobs/"))
        .unwrap();
    assert!(blob_request
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert!(storage
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reference: Reference = format!("127.0.0.1:{port}/app:1").parse().unwrap();
    let err = fast_client()
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    let Error::Transport { method, url, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(method, "Get");
    assert_eq!(
        url,
        &format!("http://127.0.0.1:{port}/v2/"),
        "HTTPS first, then HTTP for loopback"
    );
}
