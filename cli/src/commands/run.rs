//! `berth run` and `berth create`, following the docker CLI's flow: create
//! (pulling the image first with `--pull always`, or when the daemon does
//! not have it with the default `--pull missing`, then creating again),
//! then for an attached run attach, send the wait, start, stream until the
//! output ends, and exit with the container's status.

use super::options::ContainerOptions;
use super::pull::{pull_for_container, pullable};
use super::session::{Session, SessionEnd, Streams, TtyOwner};
use super::{out, StatusError};
use crate::detach::parse_detach_keys;
use crate::terminal;
use berth_api::container::CreateRequest;
use berth_client::{AttachOptions, Client, ClientError, WaitCondition};
use clap::ArgAction;
use std::fmt;
use std::time::Duration;

/// How long a failed `run --rm` waits for the daemon to remove the container.
const REMOVAL_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process (without a TTY)
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
    #[command(flatten)]
    pub pull: PullOptions,
    #[command(flatten)]
    pub options: ContainerOptions,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub pull: PullOptions,
    #[command(flatten)]
    pub options: ContainerOptions,
}

/// How `run` and `create` get their image.
#[derive(Debug, Clone, clap::Args)]
pub struct PullOptions {
    /// Pull image before creating the container ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_name = "string")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
}

/// `--pull`: when to pull the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

impl PullOptions {
    /// The policy, or docker's message for a value it does not know.
    pub fn policy(&self) -> Result<PullPolicy, String> {
        match self.pull.as_str() {
            "always" => Ok(PullPolicy::Always),
            "missing" | "" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            )),
        }
    }
}

/// `berth create`: prints the new container's id.
pub async fn create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let CreateArgs { pull, options } = args;
    let policy = pull.policy().map_err(|e| usage_error("create", &e))?;
    let request = options
        .create_request(true)
        .map_err(|e| usage_error("create", &e))?;
    // Like docker create, a daemon error here exits 1 (run's exit 125).
    let id = create_container(client, &options, &request, &pull, policy).await?;
    out(&format!("{id}\n"));
    Ok(())
}

/// `berth run`.
pub async fn run(client: &Client, args: RunArgs) -> anyhow::Result<()> {
    let options = &args.options;
    let policy = args.pull.policy().map_err(|e| usage_error("run", &e))?;
    let request = options
        .create_request(!args.detach)
        .map_err(|e| usage_error("run", &e))?;
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or(""))
        .map_err(|e| usage_error("run", &e))?;
    let streams = Streams {
        tty: request.config.tty,
        stdin: request.config.attach_stdin,
        detach_keys,
    };
    if !args.detach && streams.tty && streams.stdin && !terminal::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let id = create_container(client, options, &request, &args.pull, policy)
        .await
        .map_err(|e| run_error(&format!("{e:#}"), true))?;
    if args.detach {
        client
            .start_container(&id)
            .await
            .map_err(|e| run_error(&e, false))?;
        out(&format!("{id}\n"));
        return Ok(());
    }
    let attached = Attached {
        streams,
        detach_keys: args.detach_keys.clone(),
        sig_proxy: args.sig_proxy,
        condition: if options.rm {
            WaitCondition::Removed
        } else {
            WaitCondition::NextExit
        },
    };
    let end = run_attached(client, &id, attached)
        .await
        .map_err(|e| match e {
            AttachedError::Start(e) => run_error(&e, false),
            AttachedError::Other(e) => e,
        })?;
    match end {
        // As docker: leaving with the detach keys is a success.
        RunEnd::Detached => Ok(()),
        RunEnd::Exited(status) => exit_with(status),
    }
}

/// How `run` and `start -a` attach to the container they start.
pub struct Attached {
    pub streams: Streams,
    /// `--detach-keys` as given, passed on to the daemon.
    pub detach_keys: Option<String>,
    /// Forward our signals to the container (without a TTY).
    pub sig_proxy: bool,
    /// What to wait for: the next exit, or the removal with `--rm`.
    pub condition: WaitCondition,
}

/// How an attached run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The container exited with this status.
    Exited(i64),
    /// The user detached; the container keeps running.
    Detached,
}

/// How an attached run can fail: starting (whose message decides the exit
/// status), or anything else.
pub enum AttachedError {
    Start(ClientError),
    Other(anyhow::Error),
}

/// Attach, wait, start, stream: the shared core of `run` and `start -a`.
pub async fn run_attached(
    client: &Client,
    id: &str,
    attached: Attached,
) -> Result<RunEnd, AttachedError> {
    let other = |e: ClientError| AttachedError::Other(e.into());
    let options = AttachOptions {
        stream: true,
        stdin: attached.streams.stdin,
        stdout: true,
        stderr: true,
        logs: false,
        detach_keys: attached.detach_keys,
    };
    let connection = client.attach_container(id, &options).await.map_err(other)?;
    let mut session = Session::begin(connection, attached.streams);
    if attached.sig_proxy {
        session.forward_signals(client, id);
    }
    let condition = attached.condition;
    let wait = client.begin_wait(id, condition).await.map_err(other)?;
    if let Err(e) = client.start_container(id).await {
        drop(session);
        if condition == WaitCondition::Removed {
            // The daemon removes a container that failed to start; wait
            // until it has, but not forever if it never does.
            let _ = tokio::time::timeout(REMOVAL_GRACE, wait.result()).await;
        }
        return Err(AttachedError::Start(e));
    }
    session.track_terminal_size(client, TtyOwner::Container(id.to_string()));
    let streamed = session.finish().await;
    if let Ok(SessionEnd::Detached) = streamed {
        return Ok(RunEnd::Detached);
    }
    let waited = wait.result().await;
    streamed.map_err(|e| AttachedError::Other(e.into()))?;
    match waited {
        Ok(response) => match response.error {
            Some(error) if !error.message.is_empty() => {
                eprintln!("{}", error.message);
                Ok(RunEnd::Exited(125))
            }
            _ => Ok(RunEnd::Exited(response.status_code)),
        },
        Err(e) => {
            eprintln!("{e}");
            Ok(RunEnd::Exited(125))
        }
    }
}

/// Ends `berth` with the container's status.
pub fn exit_with(status: i64) -> anyhow::Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(StatusError::silent(i32::try_from(status).unwrap_or(125)).into())
    }
}

/// Creates the container, printing the daemon's warnings. The image is
/// pulled first with `--pull always`; with `--pull missing`, an image the
/// daemon does not have is announced and pulled as docker does (progress on
/// stderr), and the create is tried once more.
async fn create_container(
    client: &Client,
    options: &ContainerOptions,
    request: &CreateRequest,
    pull: &PullOptions,
    policy: PullPolicy,
) -> anyhow::Result<String> {
    let image = options.image();
    let platform = pull.platform.as_deref();
    if policy == PullPolicy::Always {
        pull_for_container(client, image, platform, pull.quiet).await?;
    }
    let name = options.name.as_deref();
    let created = match client.create_container(name, request).await {
        Err(e) if policy == PullPolicy::Missing && is_missing_image(&e) => {
            let Some(reference) = pullable(image) else {
                return Err(e.into());
            };
            if !pull.quiet {
                eprintln!("Unable to find image '{}' locally", reference.familiar());
            }
            pull_for_container(client, image, platform, pull.quiet).await?;
            client.create_container(name, request).await?
        }
        result => result?,
    };
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(created.id)
}

fn is_missing_image(error: &ClientError) -> bool {
    error.is_not_found()
        && error
            .daemon_message()
            .is_some_and(|m| m.starts_with("No such image"))
}

/// A bad flag value: `berth: <message>.` and a pointer to help, status 125.
fn usage_error(command: &str, message: &str) -> anyhow::Error {
    StatusError {
        status: 125,
        message: format!(
            "berth: {}.\nSee 'berth {command} --help'.",
            message.trim_end_matches('.')
        ),
    }
    .into()
}

/// A failed create or start in `run`, reported as docker does, with its
/// exit status: 127 when the command cannot be found, 126 when it cannot be
/// run, else 125.
fn run_error(error: &dyn fmt::Display, with_help: bool) -> anyhow::Error {
    let text = error.to_string();
    let mut message = format!("berth: {}.", text.trim_end_matches('.'));
    if with_help {
        message.push_str("\nSee 'berth run --help'.");
    }
    StatusError {
        status: start_failure_status(&text),
        message,
    }
    .into()
}

/// Docker's `runStartContainerErr`.
pub fn start_failure_status(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_to_docker_exit_statuses() {
        assert_eq!(
            start_failure_status(r#"exec: "nope": executable file not found in $PATH"#),
            127
        );
        assert_eq!(
            start_failure_status("exec /x: no such file or directory"),
            127
        );
        assert_eq!(start_failure_status("exec /etc: permission denied"), 126);
        assert_eq!(start_failure_status("exec /etc: is a directory"), 126);
        assert_eq!(start_failure_status("cgroup setup failed"), 125);
    }

    #[test]
    fn run_errors_read_like_docker() {
        let e = ClientError::Api {
            status: 404,
            message: "No such image: busybox:latest".into(),
        };
        assert!(is_missing_image(&e));
        let err = run_error(&e, true);
        let status = err.downcast_ref::<StatusError>().unwrap();
        assert_eq!(status.status, 125);
        assert_eq!(
            status.message,
            "berth: Error response from daemon: No such image: busybox:latest.\nSee 'berth run --help'."
        );
    }

    #[test]
    fn pull_policies_are_dockers_three() {
        let options = |pull: &str| PullOptions {
            pull: pull.to_string(),
            quiet: false,
            platform: None,
        };
        assert_eq!(options("always").policy(), Ok(PullPolicy::Always));
        assert_eq!(options("missing").policy(), Ok(PullPolicy::Missing));
        assert_eq!(options("").policy(), Ok(PullPolicy::Missing));
        assert_eq!(options("never").policy(), Ok(PullPolicy::Never));
        assert_eq!(
            options("sometimes").policy().unwrap_err(),
            r#"invalid pull option: 'sometimes': must be one of "always", "missing" or "never""#
        );
    }
}
