//! Image commands: `images`, `import`, `load`, `save`, `tag`, `rmi`.

use super::ps::parse_filters;
use super::{open_error, out};
use crate::format::table::ListFormat;
use crate::format::{go_time, human_size, short_id, split_repo_tag, time_ago};
use crate::terminal;
use berth_api::image::ImageSummary;
use berth_client::{Client, ImportOptions, ImportSource, JsonMessages};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tokio::io::AsyncRead;

/// Docker's default `images` table.
const DEFAULT_FORMAT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
/// The same with `--digests`.
const DIGESTS_FORMAT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (key=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// A root filesystem tarball, `-` for stdin, or a URL
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `berth images`.
pub async fn images(client: &Client, args: ImagesArgs) -> anyhow::Result<()> {
    let mut filters = parse_filters(&args.filters, "-f, --filter")?;
    if let Some(reference) = &args.reference {
        filters.insert("reference", reference);
    }
    let default = if args.digests {
        DIGESTS_FORMAT
    } else {
        DEFAULT_FORMAT
    };
    let format = ListFormat::parse(args.format.as_deref(), args.quiet, default)?;
    let images = client.list_images(args.all, &filters).await?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Value> = images
        .iter()
        .flat_map(|image| rows(image, !args.no_trunc, now))
        .collect();
    out(&format.render(&headers(), &rows)?);
    Ok(())
}

fn headers() -> Value {
    json!({
        "ID": "IMAGE ID",
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "Digest": "DIGEST",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "Size": "SIZE",
        "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
        "VirtualSize": "VIRTUAL SIZE",
        "Containers": "CONTAINERS",
    })
}

/// The rows of one image: one per `repo:tag`, one per repository known only
/// by digest, or a single `<none> <none>` row for a dangling image.
fn rows(image: &ImageSummary, trunc: bool, now: i64) -> Vec<Value> {
    let tags: Vec<(&str, &str)> = image
        .repo_tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .map(|t| match split_repo_tag(t) {
            (repo, Some(tag)) => (repo, tag),
            (repo, None) => (repo, "<none>"),
        })
        .collect();
    let digests: Vec<(&str, &str)> = image
        .repo_digests
        .iter()
        .filter(|d| d.as_str() != "<none>@<none>")
        .filter_map(|d| d.split_once('@'))
        .collect();
    let digest_of = |repo: &str| {
        digests
            .iter()
            .find(|(r, _)| *r == repo)
            .map_or("<none>", |(_, d)| d)
    };
    let mut names: Vec<(&str, &str, &str)> = tags
        .iter()
        .map(|(repo, tag)| (*repo, *tag, digest_of(repo)))
        .collect();
    for (repo, digest) in &digests {
        if !tags.iter().any(|(r, _)| r == repo) {
            names.push((repo, "<none>", digest));
        }
    }
    if names.is_empty() {
        names.push(("<none>", "<none>", "<none>"));
    }
    let id = if trunc {
        short_id(&image.id)
    } else {
        image.id.clone()
    };
    let unknown = |n: i64, shown: String| if n < 0 { "N/A".to_string() } else { shown };
    names
        .into_iter()
        .map(|(repo, tag, digest)| {
            json!({
                "ID": id,
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "CreatedSince": time_ago(image.created, now),
                "CreatedAt": go_time(image.created),
                "Size": human_size(image.size),
                "SharedSize": unknown(image.shared_size, human_size(image.shared_size)),
                "UniqueSize": unknown(image.shared_size, human_size(image.size - image.shared_size)),
                "VirtualSize": human_size(image.virtual_size),
                "Containers": unknown(image.containers, image.containers.to_string()),
            })
        })
        .collect()
}

/// `berth import`: prints the new image's id.
pub async fn import(client: &Client, args: ImportArgs) -> anyhow::Result<()> {
    let (repo, tag) = match args.reference.as_deref() {
        Some(reference) => {
            if reference.contains('@') {
                anyhow::bail!(
                    "invalid reference format: {reference} (a digest cannot be imported to)"
                );
            }
            let (repo, tag) = split_repo_tag(reference);
            (Some(repo.to_string()), tag.map(str::to_string))
        }
        None => (None, None),
    };
    let source = if args.source == "-" {
        ImportSource::Tar(Box::new(tokio::io::stdin()))
    } else if args.source.starts_with("http://") || args.source.starts_with("https://") {
        ImportSource::Url(args.source.clone())
    } else {
        ImportSource::Tar(Box::new(open(Path::new(&args.source)).await?))
    };
    let options = ImportOptions {
        repo,
        tag,
        changes: args.changes,
        message: args.message,
    };
    let messages = client.import_image(source, &options).await?;
    display_messages(messages).await
}

/// `berth load`: prints `Loaded image: NAME` for each image.
pub async fn load(client: &Client, args: LoadArgs) -> anyhow::Result<()> {
    let messages = match &args.input {
        Some(path) => client.load_images(open(path).await?, args.quiet).await?,
        None => {
            if terminal::stdin_is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            client.load_images(tokio::io::stdin(), args.quiet).await?
        }
    };
    display_messages(messages).await
}

async fn open(path: &Path) -> anyhow::Result<impl AsyncRead + Send + Unpin + 'static> {
    tokio::fs::File::open(path)
        .await
        .map_err(|e| open_error(path, &e))
}

/// Prints a progress stream as docker does without a terminal: `stream`
/// text as it is, `status` lines (prefixed by `id: `), and stops at the
/// first error.
async fn display_messages(mut messages: JsonMessages) -> anyhow::Result<()> {
    while let Some(message) = messages.next_message().await? {
        if let Some(stream) = &message.stream {
            out(stream);
        } else if let Some(status) = &message.status {
            let progress = message.progress.as_deref().unwrap_or_default();
            match message.id.as_deref() {
                Some(id) if !id.is_empty() => out(&format!("{id}: {status} {progress}\n")),
                _ => out(&format!("{status} {progress}\n").replace(" \n", "\n")),
            }
        }
    }
    Ok(())
}

/// `berth save`: a tarball of the images, to `-o FILE` (written whole, then
/// renamed into place) or to stdout if that is not a terminal.
pub async fn save(client: &Client, args: SaveArgs) -> anyhow::Result<()> {
    match &args.output {
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            let mut stream = client.save_images(&args.images).await?;
            let mut stdout = tokio::io::stdout();
            tokio::io::copy(&mut stream, &mut stdout).await?;
            tokio::io::AsyncWriteExt::flush(&mut stdout).await?;
            Ok(())
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let temp = tempfile::Builder::new()
                .prefix(".berth-save-")
                .tempfile_in(&dir)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "failed to save image: failed to create temporary file in {}: {}",
                        dir.display(),
                        super::io_error_text(&e)
                    )
                })?;
            let mut stream = client.save_images(&args.images).await?;
            let mut file = tokio::fs::File::from_std(temp.reopen()?);
            tokio::io::copy(&mut stream, &mut file).await?;
            tokio::io::AsyncWriteExt::flush(&mut file).await?;
            file.sync_all().await?;
            temp.persist(path).map_err(|e| {
                anyhow::anyhow!("failed to save image: {}", super::io_error_text(&e.error))
            })?;
            Ok(())
        }
    }
}

/// `berth tag`: an untagged target means `:latest`.
pub async fn tag(client: &Client, args: TagArgs) -> anyhow::Result<()> {
    if args.target.contains('@') {
        anyhow::bail!("refusing to create a tag with a digest reference");
    }
    let (repo, tag) = split_repo_tag(&args.target);
    client
        .tag_image(&args.source, repo, Some(tag.unwrap_or("latest")))
        .await?;
    Ok(())
}

/// `berth rmi`: prints what each removal untagged and deleted; failures are
/// reported together at the end.
pub async fn rmi(client: &Client, args: RmiArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.images {
        match client.remove_image(name, args.force, args.no_prune).await {
            Ok(items) => {
                let mut text = String::new();
                for item in items {
                    match (item.deleted, item.untagged) {
                        (Some(deleted), _) => text.push_str(&format!("Deleted: {deleted}\n")),
                        (None, Some(untagged)) => text.push_str(&format!("Untagged: {untagged}\n")),
                        (None, None) => {}
                    }
                }
                out(&text);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], created: i64, size: i64) -> ImageSummary {
        ImageSummary {
            id: id.to_string(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            created,
            size,
            shared_size: -1,
            containers: -1,
            ..Default::default()
        }
    }

    fn table(images: &[ImageSummary], format: Option<&str>, trunc: bool) -> String {
        let format = ListFormat::parse(format, false, DEFAULT_FORMAT).unwrap();
        let rows: Vec<Value> = images
            .iter()
            .flat_map(|i| rows(i, trunc, 1_000_000))
            .collect();
        format.render(&headers(), &rows).unwrap()
    }

    #[test]
    fn images_table_matches_docker() {
        let images = [
            image(
                "sha256:0123456789abcdef0123456789abcdef",
                &["busybox:latest", "localhost:5000/busybox:1.36"],
                1_000_000 - 3 * 86400,
                4_264_000,
            ),
            image("sha256:fedcba9876543210", &[], 1_000_000 - 7200, 120_000),
        ];
        let want = "\
REPOSITORY               TAG       IMAGE ID       CREATED       SIZE
busybox                  latest    0123456789ab   3 days ago    4.26MB
localhost:5000/busybox   1.36      0123456789ab   3 days ago    4.26MB
<none>                   <none>    fedcba987654   2 hours ago   120kB
";
        assert_eq!(table(&images, None, true), want);
    }

    #[test]
    fn empty_list_is_the_docker_header() {
        assert_eq!(
            table(&[], None, true),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
    }

    #[test]
    fn quiet_and_no_trunc_ids() {
        let images = [image("sha256:0123456789abcdef", &["a:1", "b:2"], 0, 1)];
        let format = ListFormat::parse(None, true, DEFAULT_FORMAT).unwrap();
        let rows: Vec<Value> = images.iter().flat_map(|i| rows(i, false, 0)).collect();
        assert_eq!(
            format.render(&headers(), &rows).unwrap(),
            "sha256:0123456789abcdef\nsha256:0123456789abcdef\n"
        );
    }

    #[test]
    fn digests_without_tags_get_their_own_row() {
        let mut img = image("sha256:01", &[], 0, 1);
        img.repo_digests = vec!["busybox@sha256:feed".into()];
        let rows = rows(&img, true, 0);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["Repository"], "busybox");
        assert_eq!(rows[0]["Tag"], "<none>");
        assert_eq!(rows[0]["Digest"], "sha256:feed");
    }
}
