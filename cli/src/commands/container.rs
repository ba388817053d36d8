//! Container lifecycle commands — `start`, `stop`, `kill`, `restart`, `rm`,
//! `wait`, `rename` — and `logs`.

use super::run::{exit_with, run_attached, Attached, AttachedError, RunEnd};
use super::session::Streams;
use super::{for_each_container, out, StatusError};
use crate::detach::parse_detach_keys;
use crate::terminal;
use crate::timestamp::api_timestamp;
use berth_client::demux::copy_demuxed;
use berth_client::{Client, LogsOptions, WaitCondition};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

/// The little of a container's inspect these commands need, read leniently
/// so that a field the daemon leaves out cannot break `logs`, `start -a` or
/// `attach`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerBrief {
    pub id: String,
    pub state: BriefState,
    pub config: BriefConfig,
    pub host_config: BriefHostConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BriefState {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BriefConfig {
    pub tty: bool,
    pub open_stdin: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BriefHostConfig {
    pub auto_remove: bool,
}

impl ContainerBrief {
    pub async fn inspect(client: &Client, name: &str) -> anyhow::Result<ContainerBrief> {
        let raw = client.inspect_container_raw(name).await?;
        Ok(serde_json::from_value(raw)?)
    }
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub time: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth start`: several containers print their names; `-a` attaches to
/// one and exits with its status.
pub async fn start(client: &Client, args: StartArgs) -> anyhow::Result<()> {
    if args.attach || args.interactive {
        let [name] = args.containers.as_slice() else {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        };
        let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)?;
        let container = ContainerBrief::inspect(client, name).await?;
        let streams = Streams {
            tty: container.config.tty,
            stdin: args.interactive && container.config.open_stdin,
            detach_keys,
        };
        if streams.tty && streams.stdin && !terminal::stdin_is_terminal() {
            anyhow::bail!("the input device is not a TTY");
        }
        let attached = Attached {
            streams,
            detach_keys: args.detach_keys.clone(),
            sig_proxy: true,
            condition: if container.host_config.auto_remove {
                WaitCondition::Removed
            } else {
                WaitCondition::NextExit
            },
        };
        let end = run_attached(client, &container.id, attached)
            .await
            .map_err(|e| match e {
                AttachedError::Start(e) => e.into(),
                AttachedError::Other(e) => e,
            })?;
        return match end {
            RunEnd::Detached => Ok(()),
            RunEnd::Exited(status) => exit_with(status),
        };
    }
    let mut failed = Vec::new();
    for name in &args.containers {
        match client.start_container(name).await {
            Ok(()) => out(&format!("{name}\n")),
            Err(e) => {
                eprintln!("{e}");
                failed.push(name.as_str());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("Error: failed to start containers: {}", failed.join(", "))
    }
}

/// `berth stop`.
pub async fn stop(client: &Client, args: StopArgs) -> anyhow::Result<()> {
    let signal = args.signal.as_deref();
    for_each_container(
        &args.containers,
        |name| async move { client.stop_container(&name, args.time, signal).await },
        |_| false,
    )
    .await
}

/// `berth pause`.
pub async fn pause(client: &Client, args: WaitArgs) -> anyhow::Result<()> {
    for_each_container(
        &args.containers,
        |name| async move { client.pause_container(&name).await },
        |_| false,
    )
    .await
}

/// `berth unpause`.
pub async fn unpause(client: &Client, args: WaitArgs) -> anyhow::Result<()> {
    for_each_container(
        &args.containers,
        |name| async move { client.unpause_container(&name).await },
        |_| false,
    )
    .await
}

/// `berth restart`.
pub async fn restart(client: &Client, args: StopArgs) -> anyhow::Result<()> {
    let signal = args.signal.as_deref();
    for_each_container(
        &args.containers,
        |name| async move { client.restart_container(&name, args.time, signal).await },
        |_| false,
    )
    .await
}

/// `berth kill`.
pub async fn kill(client: &Client, args: KillArgs) -> anyhow::Result<()> {
    let signal = args.signal.as_deref();
    for_each_container(
        &args.containers,
        |name| async move { client.kill_container(&name, signal).await },
        |_| false,
    )
    .await
}

/// `berth rm`; with `-f`, containers that do not exist are reported but do
/// not fail the command.
pub async fn rm(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    let (force, volumes) = (args.force, args.volumes);
    for_each_container(
        &args.containers,
        |name| async move { client.remove_container(&name, force, volumes).await },
        |e| force && e.is_not_found(),
    )
    .await
}

/// `berth rename`: prints nothing on success; a failure is the daemon's
/// error, then docker's summary line.
pub async fn rename(client: &Client, args: RenameArgs) -> anyhow::Result<()> {
    let (old, new) = (args.container.trim(), args.new_name.trim());
    if old.is_empty() || new.is_empty() {
        anyhow::bail!("Error: Neither old nor new names may be empty");
    }
    if let Err(e) = client.rename_container(old, new).await {
        eprintln!("{e}");
        anyhow::bail!("Error: failed to rename container named {old}");
    }
    Ok(())
}

/// `berth wait`: prints each container's exit status.
pub async fn wait(client: &Client, args: WaitArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.containers {
        match client.wait_container(name, WaitCondition::NotRunning).await {
            Ok(response) => out(&format!("{}\n", response.status_code)),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

/// `berth logs`: inspects first, because only a container without a TTY
/// has its output multiplexed.
pub async fn logs(client: &Client, args: LogsArgs) -> anyhow::Result<()> {
    let container = ContainerBrief::inspect(client, &args.container).await?;
    let now = chrono::Local::now();
    let timestamp = |value: &Option<String>| {
        value
            .as_deref()
            .map(|v| api_timestamp(v, now))
            .transpose()
            .map_err(|e| StatusError {
                status: 1,
                message: e,
            })
    };
    let options = LogsOptions {
        follow: args.follow,
        stdout: true,
        stderr: true,
        tail: Some(args.tail.clone()),
        since: timestamp(&args.since)?,
        until: timestamp(&args.until)?,
        timestamps: args.timestamps,
    };
    let mut stream = client.container_logs(&container.id, &options).await?;
    let (mut stdout, mut stderr) = (tokio::io::stdout(), tokio::io::stderr());
    let copied = if container.config.tty {
        tokio::io::copy(&mut stream, &mut stdout).await.map(drop)
    } else {
        copy_demuxed(stream, &mut stdout, &mut stderr).await
    };
    let flushed = stdout.flush().await;
    match copied.and(flushed) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
