//! The HTTP server: the Unix socket, one hyper connection per client, the
//! `/v1.NN/` prefix, and the headers Docker puts on every reply.

use crate::engine::Engine;
use crate::http::{self, Request, Response};
use crate::routes;
use anyhow::{bail, Context};
use berth_api::{ApiError, API_VERSION, MIN_API_VERSION};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tracing::Instrument;

/// Binds the socket (mode 0660) and serves until SIGTERM or SIGINT.
pub async fn serve(socket: &Path, engine: Arc<Engine>) -> anyhow::Result<()> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating socket directory {}", dir.display()))?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            bail!(
                "another daemon is already serving {}: stop it or choose another -H",
                socket.display()
            );
        }
        std::fs::remove_file(socket)
            .with_context(|| format!("removing stale socket {}", socket.display()))?;
    }
    let listener =
        UnixListener::bind(socket).with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    tracing::info!(socket = %socket.display(), "API listening");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let engine = engine.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let engine = engine.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(engine, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down; containers keep running");
    let _ = std::fs::remove_file(socket);
    Ok(())
}

/// Splits `/v1.45/containers/json` into the version and the bare path.
fn split_version(path: &str) -> Result<(Option<&str>, &str), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let (version, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(parsed) = parse_version(version) else {
        return Ok((None, path));
    };
    if parsed < parse_version(MIN_API_VERSION).expect("constant") {
        return Err(ApiError::invalid(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if parsed > parse_version(API_VERSION).expect("constant") {
        return Err(ApiError::invalid(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok((Some(version), tail))
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

async fn handle(engine: Arc<Engine>, req: Request) -> Response {
    let method = req.method().clone();
    let full_path = req.uri().path().to_string();
    let span = tracing::info_span!("request", %method, path = %full_path);
    let mut response = async {
        let path = match split_version(&full_path) {
            Ok((_, path)) => path.to_string(),
            Err(e) => return http::error(&e),
        };
        let query = http::Query::parse(req.uri().query());
        match routes::route(engine, req, &path, query).await {
            Ok(response) => response,
            Err(e) => {
                if e.status() >= 500 {
                    tracing::error!(error = %e.message, "request failed");
                } else {
                    tracing::debug!(status = e.status(), error = %e.message, "request refused");
                }
                http::error(&e)
            }
        }
    }
    .instrument(span)
    .await;
    let headers = response.headers_mut();
    let server = concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)");
    for (name, value) in [
        ("api-version", API_VERSION),
        ("ostype", "linux"),
        ("server", server),
        ("docker-experimental", "false"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_split_and_checked() {
        assert_eq!(
            split_version("/v1.45/containers/json").unwrap(),
            (Some("1.45"), "/containers/json")
        );
        assert_eq!(
            split_version("/v1.24/_ping").unwrap(),
            (Some("1.24"), "/_ping")
        );
        assert_eq!(split_version("/_ping").unwrap(), (None, "/_ping"));
        assert_eq!(split_version("/volumes").unwrap(), (None, "/volumes"));
        let old = split_version("/v1.12/info").unwrap_err();
        assert_eq!(old.status(), 400);
        assert!(old.message.contains("too old"));
        assert!(split_version("/v1.99/info")
            .unwrap_err()
            .message
            .contains("too new"));
    }
}
