//! `berth history` (and `image history`): an image's layers, newest first,
//! in docker's columns: IMAGE, CREATED, CREATED BY, SIZE, COMMENT.

use super::out;
use crate::format::table::ListFormat;
use crate::format::{ellipsis, human_size, short_id, time_ago};
use berth_client::{Client, HistoryItem};
use clap::ArgAction;
use serde_json::{json, Value};

/// Docker's default `history` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
/// The same with `--human=false`: RFC 3339 dates and sizes in bytes.
const NON_HUMAN_FORMAT: &str =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
/// How much of CREATED BY a truncated table shows.
const CREATED_BY_WIDTH: usize = 45;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(
        long,
        action = ArgAction::Set,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `berth history IMAGE`.
pub async fn history(client: &Client, args: HistoryArgs) -> anyhow::Result<()> {
    let format = resolve_format(&args)?;
    let items = client.image_history(&args.image).await?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Value> = items
        .iter()
        .map(|item| row(item, args.human, !args.no_trunc, now))
        .collect();
    out(&format.render(&headers(), &rows)?);
    Ok(())
}

/// `-q` wins only over the table formats, as in docker's `NewHistoryFormat`.
fn resolve_format(args: &HistoryArgs) -> anyhow::Result<ListFormat> {
    let table = matches!(args.format.as_deref(), None | Some("") | Some("table"));
    let default = if args.human {
        DEFAULT_FORMAT
    } else {
        NON_HUMAN_FORMAT
    };
    Ok(ListFormat::parse(
        args.format.as_deref(),
        args.quiet && table,
        default,
    )?)
}

fn headers() -> Value {
    json!({
        "ID": "IMAGE",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY",
        "Size": "SIZE",
        "Comment": "COMMENT",
    })
}

fn row(item: &HistoryItem, human: bool, trunc: bool, now: i64) -> Value {
    let id = if trunc {
        short_id(&item.id)
    } else {
        item.id.clone()
    };
    let created_at = rfc3339(item.created);
    let created_since = if human {
        time_ago(item.created, now)
    } else {
        created_at.clone()
    };
    let created_by = item.created_by.replace('\t', " ");
    let created_by = if trunc {
        ellipsis(&created_by, CREATED_BY_WIDTH)
    } else {
        created_by
    };
    let size = if human {
        human_size(item.size)
    } else {
        item.size.to_string()
    };
    json!({
        "ID": id,
        "CreatedSince": created_since,
        "CreatedAt": created_at,
        "CreatedBy": created_by,
        "Size": size,
        "Comment": item.comment,
    })
}

/// Go's `time.RFC3339` of a Unix time, in local time.
fn rfc3339(unix: i64) -> String {
    use chrono::{Local, SecondsFormat, TimeZone};
    Local
        .timestamp_opt(unix, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: HistoryArgs,
    }

    fn args(argv: &[&str]) -> HistoryArgs {
        Wrapper::parse_from(std::iter::once("history").chain(argv.iter().copied())).args
    }

    fn item(id: &str, created_by: &str, size: i64) -> HistoryItem {
        HistoryItem {
            id: id.into(),
            created: 1_000,
            created_by: created_by.into(),
            size,
            ..HistoryItem::default()
        }
    }

    #[test]
    fn human_is_on_by_default_and_takes_an_explicit_value() {
        assert!(args(&["busybox"]).human);
        assert!(!args(&["--human=false", "busybox"]).human);
        assert!(args(&["--human", "busybox"]).human);
    }

    #[test]
    fn table_truncates_created_by_to_45_characters_and_shows_missing_ids() {
        let items = [
            item(
                "sha256:0123456789abcdef0123456789abcdef",
                "/bin/sh -c #(nop)  CMD [\"sh\"]",
                0,
            ),
            item(
                "<missing>",
                "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ",
                4_261_000,
            ),
        ];
        let rows: Vec<Value> = items
            .iter()
            .map(|i| row(i, true, true, 7_200 + 1_000))
            .collect();
        let format = resolve_format(&args(&["busybox"])).unwrap();
        let want = "\
IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT
0123456789ab   2 hours ago   /bin/sh -c #(nop)  CMD [\"sh\"]                   0B        
<missing>      2 hours ago   /bin/sh -c #(nop) ADD file:0123456789abcdef0…   4.26MB    
";
        assert_eq!(format.render(&headers(), &rows).unwrap(), want);
    }

    #[test]
    fn no_trunc_keeps_full_ids_and_commands_and_non_human_sizes_are_bytes() {
        let long = "x".repeat(60);
        let r = row(&item("sha256:abc", &long, 4_261_000), false, false, 0);
        assert_eq!(r["ID"], "sha256:abc");
        assert_eq!(r["CreatedBy"], long.as_str());
        assert_eq!(r["Size"], "4261000");
        assert_eq!(r["CreatedSince"], r["CreatedAt"]);
    }

    #[test]
    fn quiet_prints_ids_unless_a_custom_format_is_given() {
        let rows = [row(
            &item("sha256:0123456789abcdef", "sh", 1),
            true,
            true,
            0,
        )];
        let quiet = resolve_format(&args(&["-q", "busybox"])).unwrap();
        assert_eq!(quiet.render(&headers(), &rows).unwrap(), "0123456789ab\n");
        let custom = resolve_format(&args(&["-q", "--format", "{{.Size}}", "busybox"])).unwrap();
        assert_eq!(custom.render(&headers(), &rows).unwrap(), "1B\n");
    }
}
