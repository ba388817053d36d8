//! The HTTP server: the listeners (Unix sockets, and TCP with mutual TLS),
//! one hyper connection per client, the `/v1.NN/` prefix, and the headers
//! Docker puts on every reply.

use crate::engine::Engine;
use crate::http::{self, Request, Response};
use crate::routes;
use anyhow::{bail, Context};
use berth_api::{ApiError, API_VERSION, MIN_API_VERSION};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// dockerd's port for the API over TLS, used when `tcp://` names none.
const DEFAULT_TLS_PORT: u16 = 2376;
/// The group given access to the API sockets unless `--group` says otherwise.
const DEFAULT_SOCKET_GROUP: &str = "berth";
/// How long a TCP client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One `-H` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `unix:///path`: a socket file, mode 0660, owned by root and the
    /// socket group.
    Unix(PathBuf),
    /// `tcp://host:port`: TCP, always with TLS and client certificates.
    Tcp(String),
}

impl Host {
    /// Parses `unix:///path` or `tcp://host[:port]` (port 2376 if absent,
    /// host 127.0.0.1 if empty).
    pub fn parse(host: &str) -> anyhow::Result<Host> {
        if let Some(path) = host.strip_prefix("unix://") {
            if !path.starts_with('/') {
                bail!("invalid host {host:?}: a unix socket needs an absolute path, unix:///path");
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = host.strip_prefix("tcp://") {
            let addr = addr.strip_suffix('/').unwrap_or(addr);
            if addr.contains('/') {
                bail!("invalid host {host:?}: tcp:// takes host:port and no path");
            }
            let has_port = match addr.rsplit_once(':') {
                // `[::1]` alone is a host; `[::1]:2376` and `h:2376` have ports.
                Some((head, port)) => {
                    !port.contains(']') && (!head.contains(':') || head.ends_with(']'))
                }
                None => false,
            };
            let addr = if has_port {
                addr.to_string()
            } else {
                format!("{addr}:{DEFAULT_TLS_PORT}")
            };
            let addr = match addr.strip_prefix(':') {
                Some(port) => format!("127.0.0.1:{port}"),
                None => addr,
            };
            return Ok(Host::Tcp(addr));
        }
        bail!("unsupported host {host:?}: use unix:///path or tcp://host:port")
    }
}

/// Resolves `--group` to the gid the Unix sockets get, as dockerd's
/// `--group`: a group name or number; none given means `berth`, or, with a
/// warning, berthd's own group (root's) when no such group exists; an empty
/// name means berthd's own group.
pub fn socket_gid(group: Option<&str>) -> anyhow::Result<u32> {
    let own = || nix::unistd::getgid().as_raw();
    match group {
        None => Ok(lookup_group(DEFAULT_SOCKET_GROUP)?.unwrap_or_else(|| {
            tracing::warn!(
                group = DEFAULT_SOCKET_GROUP,
                "no such group: the API socket is accessible to root only (create the group, or choose one with --group)"
            );
            own()
        })),
        Some("") => Ok(own()),
        Some(name) => lookup_group(name)?.with_context(|| {
            format!("--group {name}: no such group (create it, or choose another group)")
        }),
    }
}

fn lookup_group(name: &str) -> anyhow::Result<Option<u32>> {
    let by_name =
        nix::unistd::Group::from_name(name).with_context(|| format!("looking up group {name}"))?;
    Ok(by_name
        .map(|group| group.gid.as_raw())
        .or_else(|| name.parse().ok()))
}

/// A bound listener, ready to serve.
pub enum Listener {
    Unix(UnixListener, SocketFile),
    Tls(TcpListener, TlsAcceptor),
}

/// A socket file berthd created: removed when dropped, so neither a
/// failed start nor a shutdown leaves it behind.
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds every host: Unix sockets with mode 0660 and group `socket_gid`,
/// TCP with `tls` (which must be given when a TCP host is).
pub fn bind(
    hosts: &[Host],
    socket_gid: u32,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for host in hosts {
        match host {
            Host::Unix(path) => {
                let (listener, file) = bind_unix(path, socket_gid)?;
                tracing::info!(socket = %path.display(), gid = socket_gid, "API listening");
                listeners.push(Listener::Unix(listener, file));
            }
            Host::Tcp(addr) => {
                let Some(tls) = &tls else {
                    bail!("tcp://{addr} needs --tlsverify");
                };
                let listener = std::net::TcpListener::bind(addr.as_str())
                    .with_context(|| format!("binding tcp://{addr}"))?;
                listener.set_nonblocking(true)?;
                let listener = TcpListener::from_std(listener)?;
                tracing::info!(addr = %listener.local_addr()?, "API listening with TLS, client certificates required");
                listeners.push(Listener::Tls(listener, TlsAcceptor::from(tls.clone())));
            }
        }
    }
    Ok(listeners)
}

/// Creates the directory of the socket `path` if missing (mode 0755) and
/// checks that no one else can replace the socket in it: done before the
/// engine opens, so that an unusable `-H` fails the start at once.
pub fn prepare_socket_dir(path: &Path) -> anyhow::Result<&Path> {
    let (Some(dir), Some(_)) = (path.parent(), path.file_name()) else {
        bail!("invalid socket path {}", path.display());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("creating socket directory {}", dir.display()))?;
    check_socket_dir(dir)?;
    Ok(dir)
}

/// Creates the socket `path` in its prepared directory: bound in a private
/// directory, given its mode and group there, and only then renamed into
/// place, so it is never reachable with looser permissions.
fn bind_unix(path: &Path, gid: u32) -> anyhow::Result<(UnixListener, SocketFile)> {
    let dir = prepare_socket_dir(path)?;
    if std::fs::symlink_metadata(path).is_ok()
        && std::os::unix::net::UnixStream::connect(path).is_ok()
    {
        bail!(
            "another daemon is already serving {}: stop it or choose another -H",
            path.display()
        );
    }
    let private = tempfile::Builder::new()
        .prefix(".b")
        .tempdir_in(dir)
        .with_context(|| format!("creating a private directory in {}", dir.display()))?;
    let staged = private.path().join("s");
    let listener = std::os::unix::net::UnixListener::bind(&staged)
        .with_context(|| format!("binding {}", path.display()))?;
    std::os::unix::fs::chown(&staged, None, Some(gid))
        .with_context(|| format!("giving {} to group {gid}", path.display()))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    std::fs::rename(&staged, path).with_context(|| format!("creating {}", path.display()))?;
    let file = SocketFile(path.to_path_buf());
    listener.set_nonblocking(true)?;
    Ok((UnixListener::from_std(listener)?, file))
}

/// Refuses a socket directory in which someone other than root or berthd's
/// user could remove or rename the socket and put their own in its place:
/// every directory on the way must be owned by one of them, and writable by
/// no one else unless it is sticky (as `/tmp` is).
fn check_socket_dir(dir: &Path) -> anyhow::Result<()> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    for ancestor in dir.ancestors() {
        let meta = std::fs::metadata(ancestor)
            .with_context(|| format!("inspecting {}", ancestor.display()))?;
        if meta.uid() != 0 && meta.uid() != me {
            bail!(
                "refusing to create the API socket in {}: {} belongs to uid {}, who could replace the socket",
                dir.display(),
                ancestor.display(),
                meta.uid()
            );
        }
        let mode = meta.mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            bail!(
                "refusing to create the API socket in {}: {} is writable by others (mode {:o}) without the sticky bit, so anyone could replace the socket",
                dir.display(),
                ancestor.display(),
                mode & 0o7777
            );
        }
    }
    Ok(())
}

/// SIGTERM and SIGINT, caught from before the sockets exist, so that a
/// stop, however early, removes them.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Serves every listener until `stop`, then removes the sockets.
pub async fn serve(
    listeners: Vec<Listener>,
    mut stop: StopSignals,
    engine: Arc<Engine>,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        tasks.spawn(accept_loop(listener, engine.clone()));
    }
    stop.recv().await;
    tracing::info!("shutting down; containers keep running");
    // Dropping the listeners removes the socket files.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn accept_loop(listener: Listener, engine: Arc<Engine>) {
    match listener {
        Listener::Unix(listener, _file) => loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, engine.clone()));
                }
                Err(e) => accept_failed(e).await,
            }
        },
        Listener::Tls(listener, acceptor) => loop {
            let (stream, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            };
            let (acceptor, engine) = (acceptor.clone(), engine.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(tls, engine).await,
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                    Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                }
            });
        },
    }
}

/// Logs a failed accept and pauses briefly, so that running out of file
/// descriptors does not turn into a busy loop.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Serves HTTP/1.1 (with upgrades, for attach and exec) on one connection.
async fn serve_connection<I>(io: I, engine: Arc<Engine>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let engine = engine.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(engine, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
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
    fn hosts_are_unix_paths_or_tcp_addresses() {
        assert_eq!(
            Host::parse("unix:///tmp/b.sock").unwrap(),
            Host::Unix(PathBuf::from("/tmp/b.sock"))
        );
        for (given, addr) in [
            ("tcp://127.0.0.1:2376", "127.0.0.1:2376"),
            ("tcp://127.0.0.1", "127.0.0.1:2376"),
            ("tcp://:4000", "127.0.0.1:4000"),
            ("tcp://0.0.0.0:4000/", "0.0.0.0:4000"),
            ("tcp://[::1]:4000", "[::1]:4000"),
            ("tcp://[::1]", "[::1]:2376"),
            ("tcp://localhost:4000", "localhost:4000"),
        ] {
            assert_eq!(
                Host::parse(given).unwrap(),
                Host::Tcp(addr.into()),
                "{given}"
            );
        }
        for bad in [
            "unix://",
            "unix://rel.sock",
            "tcp://h:1/path",
            "fd://",
            "/run/b.sock",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn socket_group_is_a_name_or_number_and_the_default_falls_back_to_ours() {
        assert_eq!(socket_gid(Some("root")).unwrap(), 0);
        assert_eq!(socket_gid(Some("4242")).unwrap(), 4242);
        assert_eq!(
            socket_gid(Some("")).unwrap(),
            nix::unistd::getgid().as_raw()
        );
        let err = socket_gid(Some("no-such-group-berth")).unwrap_err();
        assert!(format!("{err:#}").contains("no such group"), "{err:#}");
        let expected = lookup_group(DEFAULT_SOCKET_GROUP)
            .unwrap()
            .unwrap_or(nix::unistd::getgid().as_raw());
        assert_eq!(socket_gid(None).unwrap(), expected);
    }

    #[test]
    fn socket_directory_must_be_safe_from_other_users() {
        let tmp = tempfile::tempdir().unwrap();
        let safe = tmp.path().join("safe");
        std::fs::create_dir(&safe).unwrap();
        std::fs::set_permissions(&safe, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_socket_dir(&safe).unwrap();
        let sticky = tmp.path().join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_socket_dir(&sticky).unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_socket_dir(&open).unwrap_err().to_string();
        assert!(err.contains("writable by others"), "{err}");
        let below = open.join("below");
        std::fs::create_dir(&below).unwrap();
        let err = check_socket_dir(&below).unwrap_err().to_string();
        assert!(err.contains("writable by others"), "{err}");
        let foreign = tmp.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(4242), None).unwrap();
        let err = check_socket_dir(&foreign).unwrap_err().to_string();
        assert!(err.contains("belongs to uid 4242"), "{err}");
    }

    #[tokio::test]
    async fn unix_socket_is_0660_in_its_group_and_removed_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run/b.sock");
        let (_listener, file) = bind_unix(&path, 4242).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
        assert_eq!(meta.mode() & 0o7777, 0o660);
        assert_eq!(meta.gid(), 4242);
        assert_eq!(
            std::fs::read_dir(tmp.path().join("run")).unwrap().count(),
            1
        );
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        let err = bind_unix(&path, 0).unwrap_err().to_string();
        assert!(err.contains("already serving"), "{err}");
        drop(file);
        assert!(!path.exists());
    }

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
