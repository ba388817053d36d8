//! `berth`: a docker-compatible command line for berthd.
//!
//! This file holds the command tree (clap) and the dispatch to the command
//! modules; it turns their results into docker's exit statuses: 0, the
//! status a command asks for (a container's exit code, 125 for a failed
//! `run`), 125 for bad flags, 1 for everything else.

mod commands;
mod detach;
mod format;
mod terminal;
mod timestamp;

use berth_client::{Client, DEFAULT_HOST};
use clap::{ArgAction, Parser, Subcommand};
use commands::attach::AttachArgs;
use commands::container::{KillArgs, LogsArgs, RenameArgs, RmArgs, StartArgs, StopArgs, WaitArgs};
use commands::cp::CpArgs;
use commands::df::DfArgs;
use commands::events::EventsArgs;
use commands::exec::ExecArgs;
use commands::files::{CommitArgs, DiffArgs, ExportArgs};
use commands::history::HistoryArgs;
use commands::image::{ImagesArgs, ImportArgs, LoadArgs, RmiArgs, SaveArgs, TagArgs};
use commands::inspect::InspectArgs;
use commands::login::{LoginArgs, LogoutArgs};
use commands::network::NetworkArgs;
use commands::port::PortArgs;
use commands::prune::{ContainerPruneArgs, ImagePruneArgs, SystemPruneArgs};
use commands::ps::PsArgs;
use commands::pull::PullArgs;
use commands::push::PushArgs;
use commands::run::{CreateArgs, RunArgs};
use commands::stats::StatsArgs;
use commands::system::{InfoArgs, VersionArgs};
use commands::top::TopArgs;
use commands::volume::VolumeArgs;
use commands::StatusError;

/// A self-sufficient runtime for containers
#[derive(Debug, Parser)]
#[command(name = "berth", version, disable_version_flag = true)]
struct Cli {
    /// Daemon socket to connect to
    #[arg(
        short = 'H',
        long,
        global = true,
        env = "BERTH_HOST",
        hide_env_values = true,
        default_value = DEFAULT_HOST,
        value_name = "HOST"
    )]
    host: String,
    /// Print version information and quit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    _version: Option<bool>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Pause all processes within one or more containers
    Pause(WaitArgs),
    /// Unpause all processes within one or more containers
    Unpause(WaitArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// List containers
    Ps(PsArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Manage containers
    Container(ContainerArgs),
    /// Manage networks
    Network(NetworkArgs),
    /// Manage volumes
    Volume(VolumeArgs),
    /// Manage images
    Image(ImageArgs),
    /// List images
    Images(ImagesArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Authenticate to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Show the berth version information
    Version(VersionArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Manage berth
    System(SystemArgs),
}

#[derive(Debug, clap::Args)]
struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

/// `berth image ...`: docker's management commands, the same as the
/// top-level ones (`image ls` is `images`).
#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Show the history of an image
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
}

impl ImageCommand {
    /// The top-level command this one is, or the prune (which has none).
    fn into_command(self) -> Result<Command, ImagePruneArgs> {
        Ok(match self {
            ImageCommand::History(args) => Command::History(args),
            ImageCommand::Import(args) => Command::Import(args),
            ImageCommand::Inspect(mut args) => {
                args.kind = Some(commands::inspect::ObjectType::Image);
                Command::Inspect(args)
            }
            ImageCommand::Load(args) => Command::Load(args),
            ImageCommand::Ls(args) => Command::Images(args),
            ImageCommand::Prune(args) => return Err(args),
            ImageCommand::Pull(args) => Command::Pull(args),
            ImageCommand::Push(args) => Command::Push(args),
            ImageCommand::Rm(args) => Command::Rmi(args),
            ImageCommand::Save(args) => Command::Save(args),
            ImageCommand::Tag(args) => Command::Tag(args),
        })
    }
}

#[derive(Debug, clap::Args)]
struct ContainerArgs {
    #[command(subcommand)]
    command: ContainerCommand,
}

/// `berth container ...`: docker's management commands, the same as the
/// top-level ones (`container ls` is `ps`).
#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Pause all processes within one or more containers
    Pause(WaitArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Unpause all processes within one or more containers
    Unpause(WaitArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
}

impl ContainerCommand {
    /// The top-level command this one is, or the prune (which has none).
    fn into_command(self) -> Result<Command, ContainerPruneArgs> {
        Ok(match self {
            ContainerCommand::Attach(args) => Command::Attach(args),
            ContainerCommand::Commit(args) => Command::Commit(args),
            ContainerCommand::Cp(args) => Command::Cp(args),
            ContainerCommand::Create(args) => Command::Create(args),
            ContainerCommand::Diff(args) => Command::Diff(args),
            ContainerCommand::Exec(args) => Command::Exec(args),
            ContainerCommand::Export(args) => Command::Export(args),
            ContainerCommand::Inspect(mut args) => {
                args.kind = Some(commands::inspect::ObjectType::Container);
                Command::Inspect(args)
            }
            ContainerCommand::Kill(args) => Command::Kill(args),
            ContainerCommand::Logs(args) => Command::Logs(args),
            ContainerCommand::Ls(args) => Command::Ps(args),
            ContainerCommand::Pause(args) => Command::Pause(args),
            ContainerCommand::Port(args) => Command::Port(args),
            ContainerCommand::Prune(args) => return Err(args),
            ContainerCommand::Rename(args) => Command::Rename(args),
            ContainerCommand::Restart(args) => Command::Restart(args),
            ContainerCommand::Rm(args) => Command::Rm(args),
            ContainerCommand::Run(args) => Command::Run(args),
            ContainerCommand::Start(args) => Command::Start(args),
            ContainerCommand::Stats(args) => Command::Stats(args),
            ContainerCommand::Stop(args) => Command::Stop(args),
            ContainerCommand::Top(args) => Command::Top(args),
            ContainerCommand::Unpause(args) => Command::Unpause(args),
            ContainerCommand::Wait(args) => Command::Wait(args),
        })
    }
}

#[derive(Debug, clap::Args)]
struct SystemArgs {
    #[command(subcommand)]
    command: SystemCommand,
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Show berth disk usage
    Df(DfArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let client = Client::from_host(&cli.host)?;
    run_command(&client, cli.command).await
}

async fn run_command(client: &Client, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => commands::run::run(client, args).await,
        Command::Create(args) => commands::run::create(client, args).await,
        Command::Start(args) => commands::container::start(client, args).await,
        Command::Stop(args) => commands::container::stop(client, args).await,
        Command::Kill(args) => commands::container::kill(client, args).await,
        Command::Pause(args) => commands::container::pause(client, args).await,
        Command::Unpause(args) => commands::container::unpause(client, args).await,
        Command::Restart(args) => commands::container::restart(client, args).await,
        Command::Rm(args) => commands::container::rm(client, args).await,
        Command::Attach(args) => commands::attach::attach(client, args).await,
        Command::Exec(args) => commands::exec::exec(client, args).await,
        Command::Top(args) => commands::top::top(client, args).await,
        Command::Cp(args) => commands::cp::cp(client, args).await,
        Command::Export(args) => commands::files::export(client, args).await,
        Command::Diff(args) => commands::files::diff(client, args).await,
        Command::Commit(args) => commands::files::commit(client, args).await,
        Command::Rename(args) => commands::container::rename(client, args).await,
        Command::Stats(args) => commands::stats::stats(client, args).await,
        Command::Events(args) => commands::events::events(client, args).await,
        Command::Wait(args) => commands::container::wait(client, args).await,
        Command::Logs(args) => commands::container::logs(client, args).await,
        Command::Inspect(args) => commands::inspect::inspect(client, args).await,
        Command::Ps(args) => commands::ps::ps(client, args).await,
        Command::Port(args) => commands::port::port(client, args).await,
        Command::Container(ContainerArgs { command }) => match command.into_command() {
            Ok(command) => Box::pin(run_command(client, command)).await,
            Err(prune) => commands::prune::container_prune(client, prune).await,
        },
        Command::Network(args) => commands::network::network(client, args).await,
        Command::Volume(args) => commands::volume::volume(client, args).await,
        Command::Image(ImageArgs { command }) => match command.into_command() {
            Ok(command) => Box::pin(run_command(client, command)).await,
            Err(prune) => commands::prune::image_prune(client, prune).await,
        },
        Command::Images(args) => commands::image::images(client, args).await,
        Command::History(args) => commands::history::history(client, args).await,
        Command::Import(args) => commands::image::import(client, args).await,
        Command::Load(args) => commands::image::load(client, args).await,
        Command::Save(args) => commands::image::save(client, args).await,
        Command::Tag(args) => commands::image::tag(client, args).await,
        Command::Rmi(args) => commands::image::rmi(client, args).await,
        Command::Pull(args) => commands::pull::pull(client, args).await,
        Command::Push(args) => commands::push::push(client, args).await,
        Command::Login(args) => commands::login::login(client, args).await,
        Command::Logout(args) => commands::login::logout(args).await,
        Command::Version(args) => commands::system::version(client, args).await,
        Command::Info(args) => commands::system::info(client, args).await,
        Command::System(SystemArgs { command }) => match command {
            SystemCommand::Df(args) => commands::df::df(client, args).await,
            SystemCommand::Info(args) => commands::system::info(client, args).await,
            SystemCommand::Prune(args) => commands::prune::system_prune(client, args).await,
        },
    }
}

/// The exit status for a command's result, after printing its error.
fn exit_status(result: anyhow::Result<()>) -> i32 {
    let Err(error) = result else {
        return 0;
    };
    match error.downcast_ref::<StatusError>() {
        Some(status) => {
            if !status.message.is_empty() {
                eprintln!("{}", status.message);
            }
            status.status
        }
        None => {
            eprintln!("{error:#}");
            1
        }
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with status 0; a command
            // group's help shown for a missing command (`berth network`) goes
            // to stderr, also with 0; usage errors exit 125, as docker's
            // flag errors do.
            let _ = error.print();
            let help = !error.use_stderr()
                || error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
            std::process::exit(if help { 0 } else { 125 });
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let status = exit_status(runtime.block_on(dispatch(cli)));
    // Exit without waiting for the runtime: a blocking read of stdin (an
    // attached `-i` session) would otherwise hold the process open.
    std::process::exit(status);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied())).unwrap()
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).command {
            Command::Run(run) => run,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn args_after_the_image_are_never_berth_flags() {
        let run = run_args(&["run", "busybox", "ls", "-la"]);
        assert_eq!(run.options.image(), "busybox");
        assert_eq!(run.options.command(), ["ls", "-la"]);

        let run = run_args(&["run", "--rm", "-e", "A=1", "busybox", "-l", "--rm", "-d"]);
        assert!(run.options.rm);
        assert!(!run.detach);
        assert!(run.options.labels.is_empty());
        assert_eq!(run.options.env, ["A=1"]);
        assert_eq!(run.options.command(), ["-l", "--rm", "-d"]);

        let run = run_args(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo hi; sleep 1",
        ]);
        assert!(run.detach);
        assert_eq!(run.options.name.as_deref(), Some("web"));
        assert_eq!(run.options.command(), ["sh", "-c", "echo hi; sleep 1"]);

        let run = run_args(&["run", "busybox", "--", "x"]);
        assert_eq!(run.options.command(), ["--", "x"]);
    }

    #[test]
    fn run_h_is_hostname_and_help_is_long_only() {
        let run = run_args(&["run", "-h", "box", "-it", "busybox"]);
        assert_eq!(run.options.hostname.as_deref(), Some("box"));
        assert!(run.options.interactive && run.options.tty);
        assert!(run.options.command().is_empty());
        let help = Cli::try_parse_from(["berth", "run", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(Cli::try_parse_from(["berth", "ps", "-h"]).is_err());
    }

    #[test]
    fn run_needs_an_image_and_rejects_unknown_flags() {
        assert!(Cli::try_parse_from(["berth", "run"]).is_err());
        assert!(Cli::try_parse_from(["berth", "run", "-d"]).is_err());
        let err = Cli::try_parse_from(["berth", "run", "--bogus", "busybox"]).unwrap_err();
        assert!(err.use_stderr());
    }

    #[test]
    fn run_flags_reach_the_create_request() {
        let run = run_args(&[
            "run",
            "-t",
            "--entrypoint",
            "",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "-l",
            "a=b",
            "--network",
            "none",
            "--stop-signal",
            "SIGUSR1",
            "--stop-timeout",
            "3",
            "--rm",
            "busybox",
        ]);
        let request = run.options.create_request(true).unwrap();
        let config = &request.config;
        assert_eq!(config.entrypoint, Some(vec![String::new()]));
        assert_eq!(config.cmd, None);
        assert!(config.tty && config.attach_stdout && config.attach_stderr);
        assert!(!config.attach_stdin && !config.open_stdin);
        assert_eq!(config.working_dir, "/tmp");
        assert_eq!(config.user, "1000:1000");
        assert_eq!(config.labels["a"], "b");
        assert_eq!(config.stop_signal.as_deref(), Some("SIGUSR1"));
        assert_eq!(config.stop_timeout, Some(3));
        let host = request.host_config.as_ref().unwrap();
        assert_eq!(host.network_mode, "none");
        assert!(host.auto_remove);

        let detached = run_args(&["run", "-d", "-i", "busybox"]);
        let config = detached.options.create_request(false).unwrap().config;
        assert!(!config.attach_stdout && !config.attach_stdin && !config.stdin_once);
        assert!(config.open_stdin);
    }

    #[test]
    fn rm_and_restart_conflict() {
        let run = run_args(&["run", "--rm", "--restart", "always", "busybox"]);
        assert_eq!(
            run.options.create_request(true).unwrap_err(),
            "Conflicting options: --restart and --rm"
        );
    }

    #[test]
    fn host_comes_from_flag_or_default() {
        let cli = parse(&["-H", "unix:///tmp/b.sock", "ps"]);
        assert_eq!(cli.host, "unix:///tmp/b.sock");
        let cli = parse(&["ps", "-a", "--host", "unix:///tmp/c.sock"]);
        assert_eq!(cli.host, "unix:///tmp/c.sock");
    }

    #[test]
    fn multi_container_commands_take_several_names() {
        match parse(&["stop", "-t", "3", "-s", "SIGINT", "a", "b"]).command {
            Command::Stop(stop) => {
                assert_eq!(stop.time, Some(3));
                assert_eq!(stop.signal.as_deref(), Some("SIGINT"));
                assert_eq!(stop.containers, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["rm", "-fv", "a"]).command {
            Command::Rm(rm) => assert!(rm.force && rm.volumes),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "ps",
            "-n",
            "3",
            "--filter",
            "status=exited",
            "--format",
            "{{.ID}}",
        ])
        .command
        {
            Command::Ps(ps) => {
                assert_eq!(ps.last, 3);
                assert_eq!(ps.filters, ["status=exited"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attach_and_run_take_dockers_stream_flags() {
        match parse(&[
            "attach",
            "--no-stdin",
            "--sig-proxy=false",
            "--detach-keys",
            "ctrl-a",
            "web",
        ])
        .command
        {
            Command::Attach(attach) => {
                assert!(attach.no_stdin && !attach.sig_proxy);
                assert_eq!(attach.detach_keys.as_deref(), Some("ctrl-a"));
                assert_eq!(attach.container, "web");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["attach", "--sig-proxy", "web"]).command {
            Command::Attach(attach) => assert!(attach.sig_proxy && !attach.no_stdin),
            other => panic!("{other:?}"),
        }
        let run = run_args(&[
            "run",
            "-it",
            "--detach-keys=ctrl-x,x",
            "--sig-proxy=false",
            "busybox",
            "sh",
        ]);
        assert_eq!(run.detach_keys.as_deref(), Some("ctrl-x,x"));
        assert!(!run.sig_proxy);
        assert_eq!(run.options.command(), ["sh"]);
        assert!(run_args(&["run", "busybox"]).sig_proxy);
        match parse(&["start", "-ai", "--detach-keys", "a", "c1"]).command {
            Command::Start(start) => assert_eq!(start.detach_keys.as_deref(), Some("a")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_stats_rename_and_top_parse() {
        match parse(&[
            "events",
            "--since",
            "10m",
            "-f",
            "type=container",
            "--filter",
            "event=die",
            "--format",
            "json",
        ])
        .command
        {
            Command::Events(events) => {
                assert_eq!(events.since.as_deref(), Some("10m"));
                assert_eq!(events.filters, ["type=container", "event=die"]);
                assert_eq!(events.format.as_deref(), Some("json"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "stats",
            "--no-stream",
            "-a",
            "--format",
            "{{.Name}}",
            "a",
            "b",
        ])
        .command
        {
            Command::Stats(stats) => {
                assert!(stats.no_stream && stats.all && !stats.no_trunc);
                assert_eq!(stats.containers, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["rename", "old", "new"]).command {
            Command::Rename(rename) => assert_eq!(
                (rename.container.as_str(), rename.new_name.as_str()),
                ("old", "new")
            ),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["berth", "rename", "old"]).is_err());
        match parse(&["top", "web", "-eo", "pid,comm"]).command {
            Command::Top(top) => assert_eq!(top.ps_args().as_deref(), Some("-eo pid,comm")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
