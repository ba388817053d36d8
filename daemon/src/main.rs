//! berthd: the Berth daemon.
//!
//! Parses dockerd-style flags, prepares the data and exec roots, opens the
//! engine (which re-adopts containers that outlived a previous daemon) and
//! serves the Docker Engine API on Unix sockets, and on TCP with mutual TLS
//! when asked, until SIGTERM or SIGINT.

mod engine;
mod http;
mod reaper;
mod routes;
mod server;
mod tls;
mod userns_remap;

use anyhow::{bail, Context};
use clap::Parser;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Command-line flags, named as dockerd names them.
#[derive(Parser, Debug)]
#[command(name = "berthd", version, about = "The Berth container engine daemon")]
struct Flags {
    /// Address to listen on: unix:///path, or tcp://host:port with
    /// --tlsverify (repeatable).
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    host: Vec<String>,
    /// Group of the unix sockets, a name or number [default: berth, or
    /// root's group when there is no such group].
    #[arg(short = 'G', long = "group")]
    group: Option<String>,
    /// Serve tcp:// hosts with TLS, accepting only clients with a
    /// certificate issued under --tlscacert (required for tcp://).
    #[arg(long = "tlsverify")]
    tlsverify: bool,
    /// CA certificates (PEM) that client certificates must chain to.
    #[arg(long = "tlscacert", requires = "tlsverify")]
    tlscacert: Option<PathBuf>,
    /// berthd's TLS certificate chain (PEM).
    #[arg(long = "tlscert", requires = "tlsverify")]
    tlscert: Option<PathBuf>,
    /// berthd's TLS private key (PEM).
    #[arg(long = "tlskey", requires = "tlsverify")]
    tlskey: Option<PathBuf>,
    /// Root of persistent state: containers, images, logs.
    #[arg(long = "data-root", default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Root of runtime state: sockets, monitor specs and exit files.
    #[arg(long = "exec-root", default_value = "/run/berth")]
    exec_root: PathBuf,
    /// File to write the daemon's pid to.
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Parent cgroup of containers that name none (HostConfig.CgroupParent).
    #[arg(long = "cgroup-parent", default_value = "berth")]
    cgroup_parent: String,
    /// Device name of the default bridge network (created if missing).
    #[arg(short = 'b', long = "bridge", default_value = "berth0")]
    bridge: String,
    /// The default bridge's address and subnet, e.g. 172.17.0.1/16 (picked
    /// from the address pools when unset).
    #[arg(long = "bip")]
    bip: Option<ipnet::Ipv4Net>,
    /// Address pool for networks created without a subnet:
    /// base=CIDR,size=PREFIX (repeatable; Docker's pools when unset).
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<berth_network::ipam::Pool>,
    /// MTU of container interfaces.
    #[arg(long = "mtu", default_value_t = 1500)]
    mtu: u32,
    /// A registry (host[:port] or CIDR) spoken to without verified TLS, as
    /// dockerd's flag (repeatable; 127.0.0.0/8 and ::1 always are).
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// A Docker Hub mirror tried before Docker Hub (repeatable).
    #[arg(long = "registry-mirror")]
    registry_mirror: Vec<String>,
    /// Directory of per-registry CA certificates: <dir>/<host:port>/ca.crt.
    #[arg(long = "certs-dir", default_value = "/etc/berth/certs.d")]
    certs_dir: PathBuf,
    /// debug, info, warn, error or fatal.
    #[arg(short = 'l', long = "log-level", default_value = "info")]
    log_level: String,
    /// Run containers in a user namespace mapped onto this user's
    /// subordinate ids: default (user berthremap), USER[:GROUP] or UID[:GID].
    #[arg(long = "userns-remap")]
    userns_remap: Option<String>,
    /// The most one image layer may unpack to, e.g. 64g (0: no limit).
    #[arg(long = "max-layer-size", default_value = "64g", value_parser = parse_size)]
    max_layer_size: u64,
    /// How many times its compressed size a layer may unpack to once past
    /// its first 256 MiB (0: no limit).
    #[arg(long = "max-layer-ratio", default_value_t = 64)]
    max_layer_ratio: u64,
}

/// A size as dockerd's flags take it: bytes, or a number with k, m, g or t
/// (binary multiples; a trailing `b` or `ib` is allowed).
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let unit_start = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(unit_start);
    let shift = match unit.trim_start() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "invalid size {text:?}: use bytes or a number with k, m, g or t"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("invalid size {text:?}"))
}

/// The hosts to listen on and the TLS config the tcp:// ones need.
fn listen_config(
    flags: &Flags,
) -> anyhow::Result<(
    Vec<server::Host>,
    Option<std::sync::Arc<rustls::ServerConfig>>,
)> {
    let hosts = flags
        .host
        .iter()
        .map(|h| server::Host::parse(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some(tcp) = hosts.iter().find_map(|h| match h {
        server::Host::Tcp(addr) => Some(addr),
        server::Host::Unix(_) => None,
    }) else {
        return Ok((hosts, None));
    };
    if !flags.tlsverify {
        bail!(
            "refusing to listen on tcp://{tcp} without --tlsverify: whoever reaches the API is root on this host; \
             give --tlsverify with --tlscacert, --tlscert and --tlskey"
        );
    }
    let (Some(ca), Some(cert), Some(key)) = (&flags.tlscacert, &flags.tlscert, &flags.tlskey)
    else {
        bail!("--tlsverify needs --tlscacert, --tlscert and --tlskey");
    };
    let config = tls::server_config(&tls::TlsFiles { ca, cert, key })?;
    Ok((hosts, Some(config)))
}

/// Creates the data root, or tightens an existing one, to mode 0700: it
/// holds unpacked layers, whose setuid files and device nodes no other
/// user of the host may reach.
fn prepare_data_root(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data root {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of data root {}", dir.display()))
}

fn registry_config(flags: &Flags) -> berth_registry::ClientConfig {
    let mut config = berth_registry::ClientConfig::default();
    config
        .insecure_registries
        .extend(flags.insecure_registry.iter().cloned());
    config.mirrors = flags.registry_mirror.clone();
    config.certs_dir = Some(flags.certs_dir.clone());
    config
}

fn log_filter(level: &str) -> anyhow::Result<&'static str> {
    Ok(match level {
        "debug" => "debug",
        "info" => "info",
        "warn" => "warn",
        "error" | "fatal" => "error",
        other => bail!("invalid log level {other:?}: use debug, info, warn, error or fatal"),
    })
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTHD_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(log_filter(&flags.log_level).unwrap_or("info"))
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    log_filter(&flags.log_level)?;
    let (hosts, tls) = listen_config(&flags)?;
    for host in &hosts {
        if let server::Host::Unix(path) = host {
            server::prepare_socket_dir(path)?;
        }
    }
    let socket_gid = server::socket_gid(flags.group.as_deref())?;
    berth_image::ImageStore::set_unpack_limits(flags.max_layer_size, flags.max_layer_ratio);
    prepare_data_root(&flags.data_root)?;
    // As dockerd: a remapped daemon keeps its images and containers apart,
    // under `<data-root>/<uid>.<gid>` of the mapped root.
    let remap = flags
        .userns_remap
        .as_deref()
        .map(userns_remap::RemapConfig::resolve)
        .transpose()
        .context("--userns-remap")?;
    let data_root = match &remap {
        Some(remap) => {
            let (uid, gid) = remap.root_pair();
            let dir = flags.data_root.join(format!("{uid}.{gid}"));
            prepare_data_root(&dir)?;
            dir
        }
        None => flags.data_root.clone(),
    };
    let user_namespace = remap
        .as_ref()
        .map(userns_remap::RemapConfig::user_namespace);
    let shim = std::env::current_exe()
        .context("locating berthd's own executable")?
        .with_file_name("berth-shim");
    if !shim.exists() {
        bail!("berth-shim not found beside berthd at {}", shim.display());
    }
    // Monitors detach by double fork; as a subreaper berthd inherits them
    // and reaps each one when it exits, whatever the host's init does.
    nix::sys::prctl::set_child_subreaper(true).context("becoming a child subreaper")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        tokio::spawn(reaper::run());
        let engine = engine::Engine::open(
            engine::Paths {
                data_root,
                exec_root: flags.exec_root.clone(),
                shim,
            },
            flags.cgroup_parent.clone(),
            engine::networks::Config {
                bridge: flags.bridge.clone(),
                bip: flags.bip,
                pools: if flags.default_address_pool.is_empty() {
                    berth_network::ipam::Pool::defaults()
                } else {
                    flags.default_address_pool.clone()
                },
                mtu: flags.mtu,
            },
            registry_config(&flags),
            user_namespace,
        )
        .await?;
        if let Some(pidfile) = &flags.pidfile {
            std::fs::write(pidfile, format!("{}\n", std::process::id()))
                .with_context(|| format!("writing pid file {}", pidfile.display()))?;
        }
        let result = match server::StopSignals::install()
            .context("catching SIGTERM and SIGINT")
            .and_then(|stop| Ok((stop, server::bind(&hosts, socket_gid, tls)?)))
        {
            Ok((stop, listeners)) => server::serve(listeners, stop, engine.clone()).await,
            Err(e) => Err(e),
        };
        engine.shutdown().await;
        if let Some(pidfile) = &flags.pidfile {
            let _ = std::fs::remove_file(pidfile);
        }
        result
    });
    // Log followers run on blocking threads; never let one hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("berthd").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn tcp_is_refused_without_tlsverify_and_tls_needs_all_three_files() {
        let (hosts, tls) = listen_config(&flags(&[])).unwrap();
        assert_eq!(hosts, [server::Host::Unix("/run/berth/berth.sock".into())]);
        assert!(tls.is_none());
        let err = listen_config(&flags(&[
            "-H",
            "unix:///b.sock",
            "-H",
            "tcp://127.0.0.1:2376",
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("without --tlsverify"), "{err}");
        let err = listen_config(&flags(&["-H", "tcp://127.0.0.1", "--tlsverify"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--tlscacert, --tlscert and --tlskey"), "{err}");
        assert!(Flags::try_parse_from(["berthd", "--tlscert", "c.pem"]).is_err());
    }

    #[test]
    fn sizes_take_dockers_units() {
        assert_eq!(parse_size("64g").unwrap(), 64 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("10 kb").unwrap(), 10 << 10);
        assert_eq!(parse_size("1234").unwrap(), 1234);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("1.5g").is_err());
        assert!(parse_size("g").is_err());
        assert!(parse_size("99999999999t").is_err());
    }

    #[test]
    fn data_root_is_private() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/data");
        prepare_data_root(&root).unwrap();
        assert_eq!(std::fs::metadata(&root).unwrap().mode() & 0o7777, 0o700);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_data_root(&root).unwrap();
        assert_eq!(std::fs::metadata(&root).unwrap().mode() & 0o7777, 0o700);
    }

    #[test]
    fn log_levels_are_dockerds() {
        assert_eq!(log_filter("fatal").unwrap(), "error");
        assert!(log_filter("chatty").is_err());
    }
}
