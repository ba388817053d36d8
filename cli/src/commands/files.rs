//! A container's filesystem as a whole: `export`, `diff`, `commit`.

use super::{io_error_text, out};
use crate::format::split_repo_tag;
use crate::terminal;
use berth_client::{Client, CommitOptions};
use clap::ArgAction;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

/// The chunk streams are copied to stdout and files in.
const COPY_BUFFER: usize = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Pause container during commit
    #[arg(
        short = 'p',
        long,
        action = ArgAction::Set,
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true",
        require_equals = true,
        value_name = "BOOL"
    )]
    pub pause: bool,
    /// Disable pausing container during commit
    #[arg(long, conflicts_with = "pause")]
    pub no_pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `berth export`: a tarball of the container's filesystem, to `-o FILE`
/// (written whole, then renamed into place) or to stdout if that is not a
/// terminal.
pub async fn export(client: &Client, args: ExportArgs) -> anyhow::Result<()> {
    let Some(path) = &args.output else {
        if terminal::stdout_is_terminal() {
            anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        let stream = client.export_container(&args.container).await?;
        copy_out(stream, tokio::io::stdout()).await?;
        return Ok(());
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let temp = tempfile::Builder::new()
        .prefix(".berth-export-")
        .tempfile_in(&dir)
        .map_err(|e| {
            anyhow::anyhow!(
                "failed to export container: failed to create temporary file in {}: {}",
                dir.display(),
                io_error_text(&e)
            )
        })?;
    let stream = client.export_container(&args.container).await?;
    let file = copy_out(stream, tokio::fs::File::from_std(temp.reopen()?)).await?;
    file.sync_all().await?;
    temp.persist(path)
        .map_err(|e| anyhow::anyhow!("failed to export container: {}", io_error_text(&e.error)))?;
    Ok(())
}

/// Copies a (tar) stream to `out` in large chunks: stdout and files are
/// written from blocking threads, one write at a time. Returns `out`,
/// flushed.
pub(super) async fn copy_out<W: AsyncWrite + Unpin>(
    stream: impl AsyncRead + Unpin,
    out: W,
) -> std::io::Result<W> {
    let mut reader = BufReader::with_capacity(COPY_BUFFER, stream);
    let mut writer = BufWriter::with_capacity(COPY_BUFFER, out);
    tokio::io::copy_buf(&mut reader, &mut writer).await?;
    writer.flush().await?;
    Ok(writer.into_inner())
}

/// `berth diff`: `C /etc`, `A /etc/x`, `D /x`, as the daemon lists them.
pub async fn diff(client: &Client, args: DiffArgs) -> anyhow::Result<()> {
    let changes = client.container_changes(&args.container).await?;
    let text: String = changes
        .iter()
        .map(|change| format!("{} {}\n", change.letter(), change.path))
        .collect();
    out(&text);
    Ok(())
}

/// `berth commit`: prints the new image's id.
pub async fn commit(client: &Client, args: CommitArgs) -> anyhow::Result<()> {
    let (repo, tag) = match args.reference.as_deref() {
        Some(reference) => {
            if reference.contains('@') {
                anyhow::bail!("refusing to create a tag with a digest reference");
            }
            let (repo, tag) = split_repo_tag(reference);
            (Some(repo.to_string()), tag.map(str::to_string))
        }
        None => (None, None),
    };
    let options = CommitOptions {
        container: args.container,
        repo,
        tag,
        comment: args.message,
        author: args.author,
        changes: args.changes,
        no_pause: args.no_pause || !args.pause,
        config: None,
    };
    let id = client.commit_container(&options).await?;
    out(&format!("{id}\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Commit {
        #[command(flatten)]
        args: CommitArgs,
    }

    fn parse(args: &[&str]) -> Result<CommitArgs, clap::Error> {
        Commit::try_parse_from(std::iter::once("commit").chain(args.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn commit_takes_dockers_flags() {
        let args = parse(&[
            "-a",
            "Ann",
            "-m",
            "msg",
            "-c",
            "CMD [\"sh\"]",
            "--change",
            "ENV A=1",
            "web",
            "repo:tag",
        ])
        .unwrap();
        assert_eq!(args.author.as_deref(), Some("Ann"));
        assert_eq!(args.message.as_deref(), Some("msg"));
        assert_eq!(args.changes, ["CMD [\"sh\"]", "ENV A=1"]);
        assert_eq!(args.container, "web");
        assert_eq!(args.reference.as_deref(), Some("repo:tag"));
        assert!(args.pause && !args.no_pause);
        assert!(!parse(&["--pause=false", "web"]).unwrap().pause);
        assert!(!parse(&["-p=false", "web"]).unwrap().pause);
        assert!(parse(&["-p", "web"]).unwrap().pause);
        assert!(parse(&["--no-pause", "web"]).unwrap().no_pause);
        assert!(parse(&[]).is_err());
    }
}
