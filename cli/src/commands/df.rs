//! `berth system df`: what images, containers, local volumes and the build
//! cache hold on disk, and how much of it could be reclaimed. The daemon
//! sends the lists; the sums and percentages are worked out here, as the
//! docker CLI does.

use super::out;
use crate::commands::progress::human_size;
use crate::format::table::ListFormat;
use crate::format::template::{Missing, Template};
use crate::format::time_ago;
use crate::format::{ellipsis, go_quote, human_size as human_size_3, short_id, split_repo_tag};
use berth_api::image::ImageSummary;
use berth_client::{BuildCacheRecord, Client, ContainerUsage, DiskUsage, VolumeUsage};
use serde_json::{json, Value};

/// Docker's summary table.
const SUMMARY_FORMAT: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
/// The summary as `--format raw` prints it.
const RAW_FORMAT: &str = "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n";
const IMAGES_FORMAT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const CONTAINERS_FORMAT: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const VOLUMES_FORMAT: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const BUILD_CACHE_FORMAT: &str = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
}

/// `berth system df`.
pub async fn df(client: &Client, args: DfArgs) -> anyhow::Result<()> {
    let usage = client.disk_usage().await?;
    let now = chrono::Utc::now().timestamp();
    let format = args.format.as_deref().unwrap_or("");
    let text = if args.verbose {
        verbose(&usage, format, now)?
    } else {
        let format = if format == "raw" { RAW_FORMAT } else { format };
        let format = ListFormat::parse(Some(format), false, SUMMARY_FORMAT)?;
        format.render(&summary_headers(), &summary(&usage))?
    };
    out(&text);
    Ok(())
}

fn summary_headers() -> Value {
    json!({
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    })
}

/// The four summary rows: Images, Containers, Local Volumes, Build Cache.
fn summary(usage: &DiskUsage) -> Vec<Value> {
    let images = usage.images.as_deref().unwrap_or_default();
    let containers = usage.containers.as_deref().unwrap_or_default();
    let volumes = usage.volumes.as_deref().unwrap_or_default();
    let cache = usage.build_cache.as_deref().unwrap_or_default();

    let used_by_containers: i64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    let image_row = summary_row(
        "Images",
        images.len(),
        images.iter().filter(|i| i.containers > 0).count(),
        usage.layers_size,
        Some(usage.layers_size - used_by_containers),
    );

    let container_size: i64 = containers.iter().filter_map(|c| c.size_rw).sum();
    let idle: i64 = containers
        .iter()
        .filter(|c| !is_active(c))
        .filter_map(|c| c.size_rw)
        .sum();
    let container_row = summary_row(
        "Containers",
        containers.len(),
        containers.iter().filter(|c| is_active(c)).count(),
        container_size,
        Some(idle),
    );

    let sized = || {
        volumes
            .iter()
            .filter_map(|v| v.usage_data.as_ref())
            .filter(|u| u.size != -1)
    };
    let volume_row = summary_row(
        "Local Volumes",
        volumes.len(),
        volumes
            .iter()
            .filter(|v| v.usage_data.as_ref().is_some_and(|u| u.ref_count > 0))
            .count(),
        sized().map(|u| u.size).sum(),
        Some(sized().filter(|u| u.ref_count == 0).map(|u| u.size).sum()),
    );

    let unshared = || cache.iter().filter(|b| !b.shared);
    let cache_reclaimable: i64 = unshared().filter(|b| !b.in_use).map(|b| b.size).sum();
    let mut cache_row = summary_row(
        "Build Cache",
        cache.len(),
        cache.iter().filter(|b| b.in_use).count(),
        unshared().map(|b| b.size).sum(),
        None,
    );
    // Docker shows no percentage for the build cache.
    cache_row["Reclaimable"] = human_size(cache_reclaimable).into();

    vec![image_row, container_row, volume_row, cache_row]
}

fn summary_row(
    kind: &str,
    total: usize,
    active: usize,
    size: i64,
    reclaimable: Option<i64>,
) -> Value {
    json!({
        "Type": kind,
        "TotalCount": total.to_string(),
        "Active": active.to_string(),
        "Size": human_size(size),
        "Reclaimable": reclaimable.map(|r| reclaimable_text(r, size)).unwrap_or_default(),
    })
}

/// `1.2GB (45%)`: the reclaimable size and its whole percentage of the
/// total, or the size alone when the total is zero.
fn reclaimable_text(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            human_size(reclaimable),
            reclaimable * 100 / total
        )
    } else {
        human_size(reclaimable)
    }
}

/// Running, paused and restarting containers hold their layers.
fn is_active(container: &ContainerUsage) -> bool {
    let state = &container.state;
    ["running", "paused", "restarting"]
        .iter()
        .any(|s| state.contains(s))
}

/// `-v`: a table per kind under its heading, or a custom template run once
/// over `{Images, Containers, Volumes, BuildCache}`.
fn verbose(usage: &DiskUsage, format: &str, now: i64) -> anyhow::Result<String> {
    let trunc = format.is_empty() || format.starts_with("table");
    let images: Vec<Value> = usage
        .images
        .iter()
        .flatten()
        .map(|i| image_row(i, trunc, now))
        .collect();
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .flatten()
        .map(|c| container_row(c, trunc, now))
        .collect();
    let volumes: Vec<Value> = usage.volumes.iter().flatten().map(volume_row).collect();
    let cache: Vec<Value> = usage
        .build_cache
        .iter()
        .flatten()
        .map(|b| cache_row(b, trunc, now))
        .collect();
    if !(format.is_empty() || format == "table") {
        let all = json!({
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": cache,
        });
        return Ok(Template::parse(format)?.render(&all, Missing::Error)?);
    }
    let table = |default: &str, headers: Value, rows: &[Value]| {
        ListFormat::parse(None, false, default)?.render(&headers, rows)
    };
    let cache_size: i64 = usage
        .build_cache
        .iter()
        .flatten()
        .filter(|b| !b.shared)
        .map(|b| b.size)
        .sum();
    let mut text = String::from("Images space usage:\n\n");
    text.push_str(&table(IMAGES_FORMAT, image_headers(), &images)?);
    text.push_str("\nContainers space usage:\n\n");
    text.push_str(&table(CONTAINERS_FORMAT, container_headers(), &containers)?);
    text.push_str("\nLocal Volumes space usage:\n\n");
    text.push_str(&table(VOLUMES_FORMAT, volume_headers(), &volumes)?);
    text.push_str(&format!(
        "\nBuild cache usage: {}\n\n",
        human_size(cache_size)
    ));
    text.push_str(&table(BUILD_CACHE_FORMAT, cache_headers(), &cache)?);
    Ok(text)
}

fn image_headers() -> Value {
    json!({
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "ID": "IMAGE ID",
        "CreatedSince": "CREATED",
        "Size": "SIZE",
        "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS",
    })
}

fn image_row(image: &ImageSummary, trunc: bool, now: i64) -> Value {
    let (repo, tag) = image
        .repo_tags
        .first()
        .filter(|t| t.as_str() != "<none>:<none>")
        .map(|t| split_repo_tag(t))
        .map_or(("<none>", "<none>"), |(r, t)| (r, t.unwrap_or("<none>")));
    let id = if trunc {
        short_id(&image.id)
    } else {
        image.id.clone()
    };
    let unknown = |n: i64, text: String| if n == -1 { "N/A".into() } else { text };
    json!({
        "Repository": repo,
        "Tag": tag,
        "ID": id,
        "CreatedSince": time_ago(image.created, now),
        "Size": human_size_3(image.size),
        "SharedSize": unknown(image.shared_size, human_size(image.shared_size)),
        "UniqueSize": if image.size == -1 || image.shared_size == -1 {
            "N/A".to_string()
        } else {
            human_size(image.size - image.shared_size)
        },
        "Containers": unknown(image.containers, image.containers.to_string()),
    })
}

fn container_headers() -> Value {
    json!({
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "LocalVolumes": "LOCAL VOLUMES",
        "Size": "SIZE",
        "RunningFor": "CREATED",
        "Status": "STATUS",
        "Names": "NAMES",
    })
}

fn container_row(container: &ContainerUsage, trunc: bool, now: i64) -> Value {
    let c = container;
    let (id, command) = if trunc {
        (short_id(&c.id), go_quote(&ellipsis(&c.command, 20)))
    } else {
        (c.id.clone(), go_quote(&c.command))
    };
    let names: Vec<&str> = c
        .names
        .iter()
        .map(|n| n.trim_start_matches('/'))
        .filter(|n| !trunc || !n.contains('/'))
        .collect();
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    json!({
        "ID": id,
        "Image": c.image,
        "Command": command,
        "LocalVolumes": local_volumes.to_string(),
        "Size": human_size_3(container.size_rw.unwrap_or_default()),
        "RunningFor": time_ago(c.created, now),
        "Status": c.status,
        "Names": names.join(","),
    })
}

fn volume_headers() -> Value {
    json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"})
}

fn volume_row(volume: &VolumeUsage) -> Value {
    let (links, size) = match &volume.usage_data {
        Some(u) => (u.ref_count.to_string(), human_size(u.size)),
        None => ("N/A".into(), "N/A".into()),
    };
    json!({"Name": volume.name, "Links": links, "Size": size})
}

fn cache_headers() -> Value {
    json!({
        "ID": "CACHE ID",
        "CacheType": "CACHE TYPE",
        "Size": "SIZE",
        "CreatedSince": "CREATED",
        "LastUsedSince": "LAST USED",
        "UsageCount": "USAGE",
        "Shared": "SHARED",
    })
}

fn cache_row(record: &BuildCacheRecord, trunc: bool, now: i64) -> Value {
    let mut id = if trunc {
        short_id(&record.id)
    } else {
        record.id.clone()
    };
    if record.in_use {
        id.push('*');
    }
    let since = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| time_ago(t.timestamp(), now))
            .unwrap_or_default()
    };
    json!({
        "ID": id,
        "CacheType": record.kind,
        "Size": human_size_3(record.size),
        "CreatedSince": since(&record.created_at),
        "LastUsedSince": record.last_used_at.as_deref().map(since).unwrap_or_default(),
        "UsageCount": record.usage_count.to_string(),
        "Shared": record.shared.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::container::ContainerSummary;
    use berth_client::VolumeUsageData;

    fn image(size: i64, shared: i64, containers: i64) -> ImageSummary {
        ImageSummary {
            size,
            shared_size: shared,
            containers,
            ..ImageSummary::default()
        }
    }

    fn container(state: &str, size_rw: i64) -> ContainerUsage {
        ContainerSummary {
            state: state.into(),
            size_rw: Some(size_rw),
            ..ContainerSummary::default()
        }
    }

    fn volume(size: i64, ref_count: i64) -> VolumeUsage {
        VolumeUsage {
            usage_data: Some(VolumeUsageData { size, ref_count }),
            ..VolumeUsage::default()
        }
    }

    #[test]
    fn reclaimable_shows_a_whole_percentage_of_a_nonzero_total() {
        assert_eq!(reclaimable_text(0, 0), "0B");
        assert_eq!(reclaimable_text(1_234_567, 4_000_000), "1.235MB (30%)");
        assert_eq!(reclaimable_text(4_261_000, 4_261_000), "4.261MB (100%)");
    }

    #[test]
    fn summary_counts_active_items_and_what_could_be_reclaimed() {
        let usage = DiskUsage {
            layers_size: 10_000_000,
            images: Some(vec![image(4_000_000, 1_000_000, 1), image(6_000_000, 0, 0)]),
            containers: Some(vec![container("running", 100), container("exited", 300)]),
            volumes: Some(vec![volume(2_000, 1), volume(6_000, 0), volume(-1, 0)]),
            build_cache: Some(vec![BuildCacheRecord {
                size: 5_000,
                ..BuildCacheRecord::default()
            }]),
        };
        let want = "\
TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          2         1         10MB      7MB (70%)
Containers      2         1         400B      300B (75%)
Local Volumes   3         1         8kB       6kB (75%)
Build Cache     1         0         5kB       5kB
";
        let format = ListFormat::parse(None, false, SUMMARY_FORMAT).unwrap();
        assert_eq!(
            format.render(&summary_headers(), &summary(&usage)).unwrap(),
            want
        );
    }

    #[test]
    fn empty_daemon_reports_zeros_without_percentages() {
        let rows = summary(&DiskUsage::default());
        assert_eq!(rows[0]["Reclaimable"], "0B");
        assert_eq!(rows[2]["Type"], "Local Volumes");
        assert_eq!(rows[3]["TotalCount"], "0");
    }

    #[test]
    fn verbose_prints_a_table_per_kind_under_its_heading() {
        let text = verbose(&DiskUsage::default(), "", 0).unwrap();
        assert!(text.starts_with("Images space usage:\n\nREPOSITORY   TAG "));
        assert!(text.contains("\nContainers space usage:\n\nCONTAINER ID   IMAGE "));
        assert!(text.contains("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n"));
        assert!(text.contains("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE "));
    }

    #[test]
    fn daemon_volumes_fill_the_summary_and_the_verbose_table() {
        let usage: DiskUsage = serde_json::from_value(json!({
            "LayersSize": 0,
            "Volumes": [
                {"CreatedAt": "2024-05-01T10:00:00Z", "Driver": "local", "Labels": null,
                 "Mountpoint": "/var/lib/berth/volumes/data/_data", "Name": "data",
                 "Options": null, "Scope": "local", "UsageData": {"RefCount": 2, "Size": 12_288}},
                {"Driver": "local", "Labels": {"a": "b"}, "Mountpoint": "/x", "Name": "0123abcd",
                 "Options": {}, "Scope": "local", "UsageData": {"RefCount": 0, "Size": 4096}}
            ]
        }))
        .unwrap();
        let volumes = &summary(&usage)[2];
        assert_eq!(volumes["TotalCount"], "2");
        assert_eq!(volumes["Active"], "1");
        assert_eq!(volumes["Size"], "16.38kB");
        assert_eq!(volumes["Reclaimable"], "4.096kB (25%)");
        let text = verbose(&usage, "", 0).unwrap();
        assert!(
            text.contains(
                "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          2         12.29kB\n0123abcd      0         4.096kB\n"
            ),
            "{text}"
        );
    }
}
