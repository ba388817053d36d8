//! Authenticated registries: a real `docker-registry` with htpasswd (Basic)
//! auth over TLS whose CA is in the client's `certs.d`, and one with token
//! auth whose token server is a fake on 127.0.0.1 signing real JWTs.

mod common;

use std::sync::Arc;

use berth_registry::{Client, ClientConfig, Credentials, Error, Platform, Reference};
use common::fake::FakeServer;
use common::image;
use common::pki::{self, TokenIssuer};
use common::registry::{Options, Registry, Tls, TokenAuth};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

/// A TLS registry with Basic auth, and the CA that signed its certificate.
fn basic_tls_registry() -> (Registry, String) {
    let pki = pki::server_pki();
    let registry = Registry::start_with(Options {
        tls: Some(Tls {
            cert_pem: pki.cert_pem,
            key_pem: pki.key_pem,
        }),
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..Options::default()
    });
    (registry, pki.ca_pem)
}

/// A client that verifies TLS for every host (loopback included), with
/// `ca_pem` as `certs.d/<host>/ca.crt` when given.
fn verifying_client(host: &str, ca_pem: Option<&str>) -> (Client, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    if let Some(pem) = ca_pem {
        std::fs::create_dir(certs.path().join(host)).unwrap();
        std::fs::write(certs.path().join(host).join("ca.crt"), pem).unwrap();
    }
    let client = Client::new(ClientConfig {
        insecure_registries: Vec::new(),
        certs_dir: Some(certs.path().to_path_buf()),
        ..common::quick_config()
    })
    .unwrap();
    (client, certs)
}

#[tokio::test]
async fn basic_auth_over_tls_with_the_ca_in_certs_d() {
    let (registry, ca) = basic_tls_registry();
    let (client, _certs) = verifying_client(&registry.host, Some(&ca));
    let creds = Credentials::new(USER, PASSWORD);
    client.login(&registry.host, &creds).await.unwrap();

    let reference: Reference = registry.reference("private/app:1").parse().unwrap();
    let img = image::simple_image("linux/amd64", "secret");
    let (_, digest) = image::push(&client, &reference, &img, Some(&creds)).await;
    let resolved = client
        .resolve(&reference, &amd64(), Some(&creds))
        .await
        .unwrap();
    assert_eq!(resolved.digest, digest);
    let layer = image::fetch(&client, &reference, &resolved.layers[0], Some(&creds))
        .await
        .unwrap();
    assert_eq!(layer, img.layers[0].bytes);
}

#[tokio::test]
async fn tls_registry_without_its_ca_is_refused() {
    let (registry, _ca) = basic_tls_registry();
    let (client, _certs) = verifying_client(&registry.host, None);
    let reference: Reference = registry.reference("private/app:1").parse().unwrap();
    let err = client
        .resolve(
            &reference,
            &amd64(),
            Some(&Credentials::new(USER, PASSWORD)),
        )
        .await
        .unwrap_err();
    let Error::Transport { url, reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        url.starts_with("https://"),
        "no plain HTTP fallback for a secure registry: {url}"
    );
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
}

#[tokio::test]
async fn loopback_registry_skips_verification_like_dockerd() {
    let (registry, _ca) = basic_tls_registry();
    let client = common::client();
    client
        .login(
            &format!("https://{}", registry.host),
            &Credentials::new(USER, PASSWORD),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_or_missing_basic_credentials_are_unauthorized() {
    let (registry, ca) = basic_tls_registry();
    let (client, _certs) = verifying_client(&registry.host, Some(&ca));
    let wrong = Credentials::new(USER, "wrong");

    let err = client.login(&registry.host, &wrong).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "login attempt to https://{}/v2/ failed with status: 401 Unauthorized",
            registry.host
        )
    );

    let reference: Reference = registry.reference("private/app:1").parse().unwrap();
    for creds in [Some(&wrong), None] {
        let err = client
            .resolve(&reference, &amd64(), creds)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
        assert_eq!(err.to_string(), "unauthorized: authentication required");
    }
}

/// A token server (fake, on 127.0.0.1) and a registry that trusts it.
async fn token_registry() -> (Registry, FakeServer) {
    let issuer = Arc::new(TokenIssuer::new(USER, PASSWORD));
    let answering = issuer.clone();
    let server = FakeServer::start(move |req| answering.answer(req)).await;
    let registry = Registry::start_with(Options {
        token: Some(TokenAuth {
            realm: format!("http://{}/token", server.host()),
            service: issuer.service.clone(),
            issuer: issuer.issuer.clone(),
            root_pem: issuer.cert_pem.clone(),
        }),
        ..Options::default()
    });
    (registry, server)
}

#[tokio::test]
async fn token_auth_push_and_pull_reuse_one_token_per_scope() {
    let (registry, tokens) = token_registry().await;
    let client = common::client();
    let creds = Credentials::new(USER, PASSWORD);
    client.login(&registry.host, &creds).await.unwrap();

    let reference: Reference = registry.reference("team/app:1").parse().unwrap();
    let tar = image::tar_of(&[("a", b"1")]);
    let tar2 = image::tar_of(&[("b", b"2")]);
    let img = image::image(
        "linux/amd64",
        &[
            (berth_registry::Compression::Gzip, tar),
            (berth_registry::Compression::Gzip, tar2),
        ],
        true,
    );
    image::push(&client, &reference, &img, Some(&creds)).await;

    let before = tokens.requests().len();
    let resolved = client
        .resolve(&reference, &amd64(), Some(&creds))
        .await
        .unwrap();
    for layer in &resolved.layers {
        image::fetch(&client, &reference, layer, Some(&creds))
            .await
            .unwrap();
    }
    let pulls = &tokens.requests()[before..];
    assert_eq!(pulls.len(), 1, "one token for the pull scope: {pulls:?}");
    assert!(
        pulls[0]
            .target
            .contains("scope=repository%3Ateam%2Fapp%3Apull"),
        "{}",
        pulls[0].target
    );
    assert!(pulls[0].target.contains("service=berth-test-registry"));
}

#[tokio::test]
async fn token_auth_bad_password_is_unauthorized_with_the_servers_message() {
    let (registry, _tokens) = token_registry().await;
    let client = common::client();
    let wrong = Credentials::new(USER, "nope");

    let err = client.login(&registry.host, &wrong).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "Get \"http://{}/v2/\": unauthorized: incorrect username or password",
            registry.host
        )
    );

    let reference: Reference = registry.reference("team/app:1").parse().unwrap();
    let err = client
        .resolve(&reference, &amd64(), Some(&wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("unauthorized: incorrect username or password"),
        "{err}"
    );
}

#[tokio::test]
async fn token_auth_anonymous_pull_is_denied_like_docker() {
    let (registry, _tokens) = token_registry().await;
    let client = common::client();
    let reference: Reference = registry.reference("team/app:1").parse().unwrap();
    let err = client
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "pull access denied for {}/team/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            registry.host
        )
    );
}
