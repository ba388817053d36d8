//! `berth attach`: joins a running container's stdio, as docker does — the
//! exit status is the container's when it exits, and leaving with the
//! detach keys prints `read escape sequence` and exits 1.

use super::container::ContainerBrief;
use super::run::exit_with;
use super::session::{Session, SessionEnd, Streams, TtyOwner};
use crate::detach::parse_detach_keys;
use crate::terminal;
use berth_client::{AttachOptions, Client, WaitCondition};
use clap::ArgAction;

/// What docker's CLI reports when the user detaches from `attach` or `exec`.
pub const DETACHED: &str = "read escape sequence";

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process (without a TTY)
    #[arg(
        long,
        action = ArgAction::Set,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Why a container cannot be attached to, in docker's words.
fn not_attachable(container: &ContainerBrief) -> Option<&'static str> {
    let state = &container.state;
    if !state.running {
        Some("You cannot attach to a stopped container, start it first")
    } else if state.paused {
        Some("You cannot attach to a paused container, unpause it first")
    } else if state.restarting {
        Some("You cannot attach to a restarting container, wait until it is running")
    } else {
        None
    }
}

/// `berth attach`.
pub async fn attach(client: &Client, args: AttachArgs) -> anyhow::Result<()> {
    let detach_keys =
        parse_detach_keys(args.detach_keys.as_deref().unwrap_or("")).map_err(anyhow::Error::msg)?;
    let container = ContainerBrief::inspect(client, &args.container).await?;
    if let Some(reason) = not_attachable(&container) {
        anyhow::bail!(reason);
    }
    let streams = Streams {
        tty: container.config.tty,
        stdin: !args.no_stdin && container.config.open_stdin,
        detach_keys,
    };
    if streams.tty && streams.stdin && !terminal::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    // Ask for the exit status before attaching, so that an exit while we
    // attach is not missed.
    let wait = client
        .begin_wait(&container.id, WaitCondition::NotRunning)
        .await?;
    let options = AttachOptions {
        stream: true,
        stdin: streams.stdin,
        stdout: true,
        stderr: true,
        logs: false,
        detach_keys: args.detach_keys.clone(),
    };
    let connection = client.attach_container(&container.id, &options).await?;
    let mut session = Session::begin(connection, streams);
    session.track_terminal_size(client, TtyOwner::Container(container.id.clone()));
    if args.sig_proxy {
        session.forward_signals(client, &container.id);
    }
    if session.finish().await? == SessionEnd::Detached {
        anyhow::bail!(DETACHED);
    }
    let response = wait.result().await?;
    if let Some(error) = response.error.filter(|e| !e.message.is_empty()) {
        anyhow::bail!(error.message);
    }
    exit_with(response.status_code)
}

#[cfg(test)]
mod tests {
    use super::super::container::BriefState;
    use super::*;

    fn with_state(running: bool, paused: bool, restarting: bool) -> ContainerBrief {
        ContainerBrief {
            state: BriefState {
                running,
                paused,
                restarting,
            },
            ..ContainerBrief::default()
        }
    }

    #[test]
    fn only_running_containers_can_be_attached() {
        assert_eq!(
            not_attachable(&with_state(false, false, false)),
            Some("You cannot attach to a stopped container, start it first")
        );
        assert_eq!(
            not_attachable(&with_state(true, true, false)),
            Some("You cannot attach to a paused container, unpause it first")
        );
        assert_eq!(
            not_attachable(&with_state(true, false, true)),
            Some("You cannot attach to a restarting container, wait until it is running")
        );
        assert_eq!(not_attachable(&with_state(true, false, false)), None);
    }
}
