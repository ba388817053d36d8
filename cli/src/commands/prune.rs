//! `berth image prune`: removes dangling images, or with `-a` every image no
//! container uses, after docker's confirmation prompt.

use super::ps::parse_filters;
use super::{confirm, out, StatusError};
use crate::commands::progress::human_size;
use berth_client::{Client, ImagePruneReport};

/// What `image prune` asks before removing dangling images.
const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
/// What `image prune -a` asks.
const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";

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

/// `Deleted Images:` with one `untagged:` or `deleted:` line per item and a
/// blank line, then the space reclaimed (counted only when something went).
fn prune_output(report: &ImagePruneReport) -> String {
    let deleted = report.images_deleted.as_deref().unwrap_or_default();
    let mut text = String::new();
    let mut reclaimed = 0;
    if !deleted.is_empty() {
        text.push_str("Deleted Images:\n");
        for item in deleted {
            match item.untagged.as_deref().filter(|u| !u.is_empty()) {
                Some(untagged) => text.push_str(&format!("untagged: {untagged}\n")),
                None => text.push_str(&format!(
                    "deleted: {}\n",
                    item.deleted.as_deref().unwrap_or_default()
                )),
            }
        }
        text.push('\n');
        reclaimed = i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX);
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(reclaimed)
    ));
    text
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
    fn nothing_pruned_prints_only_a_zero_total() {
        let report = ImagePruneReport {
            images_deleted: None,
            space_reclaimed: 99,
        };
        assert_eq!(prune_output(&report), "Total reclaimed space: 0B\n");
    }
}
