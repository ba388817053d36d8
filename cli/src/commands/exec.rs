//! `berth exec`: runs a command in a running container, following docker's
//! flow — check the container exists, create the exec, start it (hijacked
//! unless `-d`), stream its stdio like `attach`, then exit with the exit
//! code the daemon recorded for it (126/127 when it could not be run).

use super::attach::DETACHED;
use super::options::collect_env;
use super::run::{exit_with, start_failure_status};
use super::session::{Session, SessionEnd, Streams, TtyOwner};
use super::StatusError;
use crate::detach::parse_detach_keys;
use crate::terminal;
use berth_client::{Client, ClientError, ExecConfig};
use std::path::PathBuf;
use std::time::Duration;

/// How long to wait for the daemon to record an exec's exit once its
/// output has ended.
const EXIT_RECORD_GRACE: Duration = Duration::from_secs(2);
const EXIT_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments, passed as they are
    #[arg(
        value_name = "CONTAINER COMMAND [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub container_and_command: Vec<String>,
}

impl ExecArgs {
    pub fn container(&self) -> &str {
        &self.container_and_command[0]
    }

    pub fn command(&self) -> &[String] {
        &self.container_and_command[1..]
    }

    /// The create body, as docker's `parseExec` builds it: everything is
    /// attached unless `-d`, stdin only with `-i`.
    pub fn exec_config(&self, env: Vec<String>, console_size: Option<[u16; 2]>) -> ExecConfig {
        let attach = !self.detach;
        ExecConfig {
            user: self.user.clone().unwrap_or_default(),
            privileged: self.privileged,
            tty: self.tty,
            console_size: if self.tty { console_size } else { None },
            attach_stdin: attach && self.interactive,
            attach_stdout: attach,
            attach_stderr: attach,
            detach_keys: self.detach_keys.clone().unwrap_or_default(),
            env,
            working_dir: self.workdir.clone().unwrap_or_default(),
            cmd: self.command().to_vec(),
        }
    }
}

/// `berth exec`.
pub async fn exec(client: &Client, args: ExecArgs) -> anyhow::Result<()> {
    let detach_keys =
        parse_detach_keys(args.detach_keys.as_deref().unwrap_or("")).map_err(anyhow::Error::msg)?;
    let env = collect_env(&args.env_file, &args.env).map_err(anyhow::Error::msg)?;
    if args.command().is_empty() {
        return Err(StatusError {
            status: 1,
            message: "\"berth exec\" requires at least 2 arguments.\n\
                      See 'berth exec --help'.\n\n\
                      Usage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n\
                      Execute a command in a running container"
                .to_string(),
        }
        .into());
    }
    let container = args.container();
    // "No such container" before anything else, as docker checks.
    client.inspect_container_raw(container).await?;
    let stdin = args.interactive && !args.detach;
    if stdin && args.tty && !terminal::stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let console_size = terminal::size().map(|(rows, columns)| [rows, columns]);
    let config = args.exec_config(env, console_size);
    let id = client.create_exec(container, &config).await?;
    if args.detach {
        return Ok(client.start_exec_detached(&id, args.tty).await?);
    }
    let connection = match client.start_exec(&id, args.tty, config.console_size).await {
        Ok(connection) => connection,
        Err(e) => return Err(start_failed(client, &id, e).await),
    };
    let streams = Streams {
        tty: args.tty,
        stdin,
        detach_keys,
    };
    let mut session = Session::begin(connection, streams);
    session.track_terminal_size(client, TtyOwner::Exec(id.clone()));
    if session.finish().await? == SessionEnd::Detached {
        anyhow::bail!(DETACHED);
    }
    exit_with(exit_code(client, &id).await?)
}

/// The exec's exit code once the daemon has recorded it (docker reads a
/// missing one as 0).
async fn exit_code(client: &Client, id: &str) -> Result<i64, ClientError> {
    let deadline = tokio::time::Instant::now() + EXIT_RECORD_GRACE;
    loop {
        let exec = client.inspect_exec(id).await?;
        if !exec.running || tokio::time::Instant::now() >= deadline {
            return Ok(exec.exit_code.unwrap_or(0));
        }
        tokio::time::sleep(EXIT_POLL).await;
    }
}

/// A start the daemon refused outright: its error, and the exit code it
/// recorded for the exec, or docker's 126/127 from the message, or 1.
async fn start_failed(client: &Client, id: &str, error: ClientError) -> anyhow::Error {
    let recorded = client
        .inspect_exec(id)
        .await
        .ok()
        .and_then(|exec| exec.exit_code)
        .filter(|code| *code != 0);
    let status = match recorded {
        Some(code) => i32::try_from(code).unwrap_or(1),
        None => match start_failure_status(&error.to_string()) {
            status @ (126 | 127) => status,
            _ => 1,
        },
    };
    StatusError {
        status,
        message: error.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        exec: ExecArgs,
    }

    fn parse(args: &[&str]) -> ExecArgs {
        Cli::try_parse_from(std::iter::once("exec").chain(args.iter().copied()))
            .unwrap()
            .exec
    }

    #[test]
    fn args_after_the_container_are_the_command_verbatim() {
        let exec = parse(&[
            "-it",
            "-e",
            "A=1",
            "box",
            "sh",
            "-c",
            "echo -e x",
            "--rm",
            "-d",
        ]);
        assert!(exec.interactive && exec.tty && !exec.detach);
        assert_eq!(exec.container(), "box");
        assert_eq!(exec.command(), ["sh", "-c", "echo -e x", "--rm", "-d"]);
        assert_eq!(exec.env, ["A=1"]);
        let exec = parse(&["-d", "-u", "app", "-w", "/tmp", "box", "ls", "-la"]);
        assert!(exec.detach);
        assert_eq!(exec.user.as_deref(), Some("app"));
        assert_eq!(exec.command(), ["ls", "-la"]);
        let exec = parse(&["box", "--", "x"]);
        assert_eq!(exec.command(), ["--", "x"]);
        let exec = parse(&["box", "-x", "--help"]);
        assert_eq!(exec.command(), ["-x", "--help"]);
    }

    #[tokio::test]
    async fn exec_needs_a_container_and_a_command() {
        assert!(Cli::try_parse_from(["exec"]).is_err());
        assert!(Cli::try_parse_from(["exec", "--bogus", "box", "ls"]).is_err());
        // Refused before any request is made: the client points nowhere.
        let client = Client::new("/nonexistent/berth.sock");
        let err = exec(&client, parse(&["box"])).await.unwrap_err();
        let status = err.downcast_ref::<StatusError>().unwrap();
        assert_eq!(status.status, 1);
        assert!(status.message.starts_with(
            "\"berth exec\" requires at least 2 arguments.\nSee 'berth exec --help'."
        ));
    }

    #[test]
    fn exec_config_attaches_unless_detached() {
        let exec = parse(&[
            "-i",
            "--privileged",
            "--detach-keys",
            "ctrl-a",
            "box",
            "cat",
        ]);
        let config = exec.exec_config(vec!["A=1".into()], Some([24, 80]));
        assert!(config.attach_stdin && config.attach_stdout && config.attach_stderr);
        assert!(config.privileged && !config.tty);
        assert_eq!(config.console_size, None, "only a TTY has a size");
        assert_eq!(config.detach_keys, "ctrl-a");
        assert_eq!(config.cmd, ["cat"]);
        assert_eq!(config.env, ["A=1"]);

        let exec = parse(&["-d", "-i", "-t", "box", "top"]);
        let config = exec.exec_config(Vec::new(), Some([24, 80]));
        assert!(!config.attach_stdin && !config.attach_stdout && !config.attach_stderr);
        assert!(config.tty);
        assert_eq!(config.console_size, Some([24, 80]));
    }
}
