//! The prunes: `berth image prune` (dangling images, or with `-a` every
//! image no container uses), `berth container prune` (every container that
//! is not running) and `berth system prune` (containers, networks, with
//! `--volumes` anonymous volumes, and images), each after docker's
//! confirmation prompt, reporting as docker does.

use super::ps::parse_filters;
use super::{confirm, out, StatusError};
use crate::commands::progress::human_size;
use berth_api::Filters;
use berth_client::{Client, ImagePruneReport};

/// What `image prune` asks before removing dangling images.
const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
/// What `image prune -a` asks.
const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";
/// What `container prune` asks.
const CONTAINER_WARNING: &str =
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?";

#[derive(Debug, clap::Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// `image prune`: a "no" at the prompt ends quietly with status 0, as
/// docker's cancelled prune does.
pub async fn image_prune(client: &Client, args: ImagePruneArgs) -> anyhow::Result<()> {
    let mut filters = parse_filters(&args.filters, "--filter")?;
    filters.insert("dangling", if args.all { "false" } else { "true" });
    let warning = if args.all {
        ALL_WARNING
    } else {
        DANGLING_WARNING
    };
    if !args.force && !confirm(warning) {
        return Err(StatusError::silent(0).into());
    }
    let report = client.prune_images(&filters).await?;
    out(&prune_output(&report));
    Ok(())
}

/// `container prune`: a "no" at the prompt ends quietly with status 0.
pub async fn container_prune(client: &Client, args: ContainerPruneArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filters, "--filter")?;
    if !args.force && !confirm(CONTAINER_WARNING) {
        return Err(StatusError::silent(0).into());
    }
    let report = client.prune_containers(&filters).await?;
    let deleted = report.containers_deleted.unwrap_or_default();
    out(&format!(
        "{}{}",
        deleted_section("Containers", &deleted),
        total_line(reclaimed(&deleted, report.space_reclaimed))
    ));
    Ok(())
}

/// `system prune`: containers, networks, anonymous volumes with
/// `--volumes`, then images, in docker's order and with its prompt; one
/// total at the end.
pub async fn system_prune(client: &Client, args: SystemPruneArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filters, "--filter")?;
    if !args.force && !confirm(&system_warning(&args, &filters)) {
        return Err(StatusError::silent(0).into());
    }
    let mut text = String::new();
    let mut total = 0;
    let containers = client.prune_containers(&filters).await?;
    let deleted = containers.containers_deleted.unwrap_or_default();
    total += reclaimed(&deleted, containers.space_reclaimed);
    text.push_str(&deleted_section("Containers", &deleted));
    let networks = client.prune_networks(&filters).await?;
    text.push_str(&deleted_section(
        "Networks",
        &networks.networks_deleted.unwrap_or_default(),
    ));
    if args.volumes {
        let volumes = client.prune_volumes(&filters).await?;
        total += reclaimed(&volumes.volumes_deleted, volumes.space_reclaimed);
        text.push_str(&deleted_section("Volumes", &volumes.volumes_deleted));
    }
    let mut image_filters = filters.clone();
    image_filters.insert("dangling", if args.all { "false" } else { "true" });
    let images = client.prune_images(&image_filters).await?;
    total += images
        .images_deleted
        .as_ref()
        .map_or(0, |d| reclaimed(d, images.space_reclaimed));
    text.push_str(&images_section(&images));
    text.push_str(&total_line(total));
    out(&text);
    Ok(())
}

/// docker's `system prune` prompt: what goes, and the filters given.
fn system_warning(args: &SystemPruneArgs, filters: &Filters) -> String {
    let mut warnings = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        warnings.push("all anonymous volumes not used by at least one container");
    }
    warnings.push(if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    let mut text = "WARNING! This will remove:".to_string();
    for warning in warnings {
        text.push_str(&format!("\n  - {warning}"));
    }
    text.push('\n');
    let given: Vec<String> = filters
        .keys()
        .flat_map(|key| {
            filters
                .get(key)
                .iter()
                .map(move |value| format!("{key}={value}"))
        })
        .collect();
    if !given.is_empty() {
        text.push_str("\n  Items to be pruned will be filtered with:");
        for filter in given {
            text.push_str(&format!("\n  - {filter}"));
        }
        text.push('\n');
    }
    text.push_str("\nAre you sure you want to continue?");
    text
}

/// The space a prune reclaimed, counted only when something went (as
/// docker's CLI counts it).
fn reclaimed<T>(deleted: &[T], space: u64) -> u64 {
    if deleted.is_empty() {
        0
    } else {
        space
    }
}

/// `Deleted <what>:` with one line per item and the blank line docker's
/// `Println` of that text adds; nothing when nothing went.
pub fn deleted_section(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut text = format!("Deleted {what}:\n");
    for item in items {
        text.push_str(item);
        text.push('\n');
    }
    text.push('\n');
    text
}

/// `Total reclaimed space: <size>`.
pub fn total_line(bytes: u64) -> String {
    format!(
        "Total reclaimed space: {}\n",
        human_size(i64::try_from(bytes).unwrap_or(i64::MAX))
    )
}

/// `Deleted Images:` with one `untagged:` or `deleted:` line per item.
fn images_section(report: &ImagePruneReport) -> String {
    let lines: Vec<String> = report
        .images_deleted
        .iter()
        .flatten()
        .map(
            |item| match item.untagged.as_deref().filter(|u| !u.is_empty()) {
                Some(untagged) => format!("untagged: {untagged}"),
                None => format!("deleted: {}", item.deleted.as_deref().unwrap_or_default()),
            },
        )
        .collect();
    deleted_section("Images", &lines)
}

/// `image prune`'s report: the deleted images, then the space reclaimed.
fn prune_output(report: &ImagePruneReport) -> String {
    let deleted = report.images_deleted.as_deref().unwrap_or_default();
    format!(
        "{}{}",
        images_section(report),
        total_line(reclaimed(deleted, report.space_reclaimed))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::image::DeleteItem;

    #[test]
    fn prune_lists_untagged_and_deleted_then_a_blank_line_and_the_total() {
        let report = ImagePruneReport {
            images_deleted: Some(vec![
                DeleteItem {
                    untagged: Some("busybox:old".into()),
                    deleted: None,
                },
                DeleteItem {
                    untagged: None,
                    deleted: Some("sha256:abc".into()),
                },
            ]),
            space_reclaimed: 1_234_567,
        };
        assert_eq!(
            prune_output(&report),
            "Deleted Images:\nuntagged: busybox:old\ndeleted: sha256:abc\n\nTotal reclaimed space: 1.235MB\n"
        );
    }

    #[test]
    fn system_prune_asks_about_what_it_takes_and_the_filters() {
        let args = |all, volumes| SystemPruneArgs {
            all,
            force: false,
            volumes,
            filters: Vec::new(),
        };
        assert_eq!(
            system_warning(&args(false, false), &Filters::default()),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue?"
        );
        let mut filters = Filters::default();
        filters.insert("label", "a=b");
        filters.insert("until", "24h");
        assert_eq!(
            system_warning(&args(true, true), &filters),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n\n  Items to be pruned will be filtered with:\n  - label=a=b\n  - until=24h\n\nAre you sure you want to continue?"
        );
        assert_eq!(deleted_section("Containers", &[]), "");
        assert_eq!(
            deleted_section("Containers", &["a".into(), "b".into()]),
            "Deleted Containers:\na\nb\n\n"
        );
    }

    #[test]
    fn nothing_pruned_prints_only_a_zero_total() {
        let report = ImagePruneReport {
            images_deleted: None,
            space_reclaimed: 99,
        };
        assert_eq!(prune_output(&report), "Total reclaimed space: 0B\n");
    }
}
