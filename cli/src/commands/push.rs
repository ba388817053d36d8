//! `berth push`, as docker's `cli/command/image/push.go`: one tag (the
//! default `latest`, or every tag with `-a`) with the registry's stored
//! credentials. The lines about the repository, each layer and the
//! resulting digest (`v1: digest: sha256:... size: 527`) are the daemon's
//! progress messages; with `-q` only the reference is printed, once the
//! push has succeeded.

use super::out;
use super::progress::{self, Target};
use super::pull::registry_auth;
use super::reference::Reference;
use berth_client::Client;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image to push
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

/// `berth push`.
pub async fn push(client: &Client, args: PushArgs) -> anyhow::Result<()> {
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
    if reference.digest().is_some() {
        anyhow::bail!("cannot push a digest reference");
    }
    let auth = registry_auth(reference.domain())?;
    let tag = if args.all_tags { None } else { reference.tag() };
    let mut stream = client
        .push_image(&reference.familiar_name(), tag, Some(&auth))
        .await?;
    if args.quiet {
        progress::show(&mut stream, Target::Discard).await?;
        out(&format!("{reference}\n"));
    } else {
        progress::show(&mut stream, Target::Stdout).await?;
    }
    Ok(())
}
