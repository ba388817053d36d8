//! `berth pull`, and the pull `run` and `create` do for a missing image,
//! as docker's `cli/command/image/pull.go` and `container/create.go`: the
//! reference is checked and given its default tag here, the registry's
//! stored credentials go along in `X-Registry-Auth`, the daemon's progress
//! is shown as docker shows it, and `pull` ends with the full reference
//! (`docker.io/library/busybox:latest`).

use super::credentials::ConfigFile;
use super::out;
use super::progress::{self, Target};
use super::reference::Reference;
use berth_client::{AuthConfig, Client};

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// The image to pull
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// `berth pull`.
pub async fn pull(client: &Client, args: PullArgs) -> anyhow::Result<()> {
    let mut reference = Reference::parse(&args.name).map_err(anyhow::Error::msg)?;
    if args.all_tags && !reference.is_name_only() {
        anyhow::bail!("tag can't be used with --all-tags/-a");
    }
    if !args.all_tags && reference.is_name_only() {
        reference = reference.with_default_tag();
        if !args.quiet {
            out("Using default tag: latest\n");
        }
    }
    let auth = registry_auth(reference.domain())?;
    let tag = if args.all_tags {
        None
    } else {
        reference.api_tag()
    };
    let mut stream = client
        .pull_image(
            &reference.familiar_name(),
            tag,
            args.platform.as_deref(),
            Some(&auth),
        )
        .await?;
    let target = if args.quiet {
        Target::Discard
    } else {
        Target::Stdout
    };
    progress::show(&mut stream, target).await?;
    out(&format!("{reference}\n"));
    Ok(())
}

/// The reference `run` and `create` may pull for `image`: none for an
/// image id (64 hex digits, or `sha256:` and them), which no registry
/// serves, nor for a name that does not parse.
pub fn pullable(image: &str) -> Option<Reference> {
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex(image) || image.strip_prefix("sha256:").is_some_and(hex) {
        return None;
    }
    Reference::parse(image)
        .ok()
        .map(Reference::with_default_tag)
}

/// The pull of `run` and `create`: the image as given, its progress on
/// stderr (nothing with `quiet`), and no reference printed after it.
pub async fn pull_for_container(
    client: &Client,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> anyhow::Result<()> {
    let reference = Reference::parse(image)
        .map_err(anyhow::Error::msg)?
        .with_default_tag();
    let auth = registry_auth(reference.domain())?;
    let mut stream = client
        .pull_image(
            &reference.familiar_name(),
            reference.api_tag(),
            platform,
            Some(&auth),
        )
        .await?;
    let target = if quiet {
        Target::Discard
    } else {
        Target::Stderr
    };
    progress::show(&mut stream, target).await?;
    Ok(())
}

/// The stored credentials for `domain` (`docker.io`, `localhost:5000`),
/// empty when there are none. As docker, a config file that cannot be
/// read is warned about and pulls go on without credentials; a credential
/// helper that fails stops the pull.
pub fn registry_auth(domain: &str) -> anyhow::Result<AuthConfig> {
    match ConfigFile::load_default() {
        Ok(config) => config.get(domain),
        Err(e) => {
            eprintln!("WARNING: Error {e:#}");
            Ok(AuthConfig::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_pull_names_not_ids() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(pullable(id), None);
        assert_eq!(pullable(&format!("sha256:{id}")), None);
        assert_eq!(pullable("Busybox"), None);
        assert_eq!(pullable("busybox").unwrap().familiar(), "busybox:latest");
        assert_eq!(
            pullable("localhost:5000/app:v1").unwrap().familiar(),
            "localhost:5000/app:v1"
        );
    }
}
