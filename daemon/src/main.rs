//! berthd: the Berth daemon.
//!
//! Parses dockerd-style flags, prepares the data and exec roots, opens the
//! engine (which re-adopts containers that outlived a previous daemon) and
//! serves the Docker Engine API on a Unix socket until SIGTERM or SIGINT.

mod engine;
mod http;
mod reaper;
mod routes;
mod server;

use anyhow::{bail, Context};
use clap::Parser;
use std::path::PathBuf;

/// Command-line flags, named as dockerd names them.
#[derive(Parser, Debug)]
#[command(name = "berthd", version, about = "The Berth container engine daemon")]
struct Flags {
    /// Socket to listen on (unix:///path).
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    host: String,
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

fn socket_path(host: &str) -> anyhow::Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => bail!("unsupported host {host:?}: berthd listens on unix:///path only"),
    }
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
    let socket = socket_path(&flags.host)?;
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
                data_root: flags.data_root.clone(),
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
        )
        .await?;
        if let Some(pidfile) = &flags.pidfile {
            std::fs::write(pidfile, format!("{}\n", std::process::id()))
                .with_context(|| format!("writing pid file {}", pidfile.display()))?;
        }
        let result = server::serve(&socket, engine.clone()).await;
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

    #[test]
    fn host_must_be_a_unix_socket() {
        assert_eq!(
            socket_path("unix:///tmp/b.sock").unwrap(),
            PathBuf::from("/tmp/b.sock")
        );
        assert!(socket_path("tcp://127.0.0.1:2375").is_err());
        assert!(socket_path("unix://").is_err());
    }

    #[test]
    fn log_levels_are_dockerds() {
        assert_eq!(log_filter("fatal").unwrap(), "error");
        assert!(log_filter("chatty").is_err());
    }
}
