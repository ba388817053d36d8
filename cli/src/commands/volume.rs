//! `berth volume`: `create`, `ls`, `inspect`, `rm` and `prune`, with
//! docker's flags, columns, prompts and exit statuses. The daemon judges
//! names, drivers and options.

use super::network::validate_label;
use super::options::parse_labels;
use super::ps::parse_filters;
use super::{confirm, inspect_template, natural_cmp, out, print_inspected, StatusError};
use crate::commands::progress::human_size;
use crate::format::table::ListFormat;
use berth_api::volume::{Volume, VolumeCreateRequest};
use berth_client::Client;
use serde_json::{json, Value};

/// Docker's default `volume ls` table.
const DEFAULT_FORMAT: &str = "table {{.Driver}}\t{{.Name}}";
/// What `volume ls -q` prints per volume.
const QUIET_FORMAT: &str = "{{.Name}}";

/// What `volume prune` asks before removing anonymous volumes.
const UNUSED_WARNING: &str = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?";
/// What `volume prune -a` asks.
const ALL_WARNING: &str = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?";

#[derive(Debug, clap::Args)]
pub struct VolumeArgs {
    #[command(subcommand)]
    pub command: VolumeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = validate_label)]
    pub labels: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true)]
    pub name_flag: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template subset (field paths, json, index, join)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// `berth volume ...`.
pub async fn volume(client: &Client, args: VolumeArgs) -> anyhow::Result<()> {
    match args.command {
        VolumeCommand::Create(args) => create(client, args).await,
        VolumeCommand::Inspect(args) => inspect(client, args).await,
        VolumeCommand::Ls(args) => ls(client, args).await,
        VolumeCommand::Prune(args) => prune(client, args).await,
        VolumeCommand::Rm(args) => rm(client, args).await,
    }
}

/// `volume create`: prints the volume's name (the daemon picks one for a
/// volume created without).
async fn create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let request = create_request(args).map_err(anyhow::Error::msg)?;
    let volume = client.create_volume(&request).await?;
    out(&format!("{}\n", volume.name));
    Ok(())
}

/// The create body docker's CLI sends: the options and labels as maps,
/// empty ones included.
fn create_request(args: CreateArgs) -> Result<VolumeCreateRequest, String> {
    let name = match (args.name_flag, args.name) {
        (Some(_), Some(_)) => {
            return Err("conflicting options: cannot specify a volume-name through both --name and as a positional arg".to_string())
        }
        (flag, positional) => positional.or(flag).unwrap_or_default(),
    };
    Ok(VolumeCreateRequest {
        name,
        driver: args.driver,
        driver_opts: Some(parse_labels(&args.options)),
        labels: Some(parse_labels(&args.labels)),
    })
}

/// `volume ls`: sorted by name in natural order.
async fn ls(client: &Client, args: LsArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filters, "-f, --filter")?;
    let format = list_format(args.format.as_deref(), args.quiet)?;
    let mut volumes = client.list_volumes(&filters).await?.volumes;
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    out(&format.render(&headers(), &rows(&volumes))?);
    Ok(())
}

/// `--format` and `-q` as docker resolves them: `-q` only replaces the
/// default table, not a template given.
fn list_format(
    format: Option<&str>,
    quiet: bool,
) -> Result<ListFormat, crate::format::template::TemplateError> {
    match format {
        None | Some("" | "table") if quiet => ListFormat::parse(Some(QUIET_FORMAT), false, ""),
        format => ListFormat::parse(format, false, DEFAULT_FORMAT),
    }
}

/// Column titles for each placeholder.
fn headers() -> Value {
    json!({
        "Availability": "AVAILABILITY",
        "Driver": "DRIVER",
        "Group": "GROUP",
        "ID": "ID",
        "Labels": "LABELS",
        "Links": "LINKS",
        "Mountpoint": "MOUNTPOINT",
        "Name": "VOLUME NAME",
        "Scope": "SCOPE",
        "Size": "SIZE",
        "Status": "STATUS",
    })
}

/// One volume's placeholders, keys in the order docker's `json` output has
/// them. The cluster fields are `N/A` for local volumes; `Links` and `Size`
/// too unless the daemon measured them.
fn rows(volumes: &[Volume]) -> Vec<Value> {
    volumes
        .iter()
        .map(|v| {
            let labels = v
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let (links, size) = match &v.usage_data {
                Some(usage) => (usage.ref_count.to_string(), human_size(usage.size)),
                None => ("N/A".to_string(), "N/A".to_string()),
            };
            json!({
                "Availability": "N/A",
                "Driver": v.driver,
                "Group": "N/A",
                "Labels": labels,
                "Links": links,
                "Mountpoint": v.mountpoint,
                "Name": v.name,
                "Scope": v.scope,
                "Size": size,
                "Status": "N/A",
            })
        })
        .collect()
}

/// `volume inspect`: a JSON array of what was found (or the template per
/// volume), then the failures, one per line, with status 1. Docker 28
/// prints the volume as its Go type marshals it, every object's keys in
/// alphabetical order, whatever order the daemon sent.
async fn inspect(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    let template = inspect_template(args.format.as_deref())?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.volumes {
        match client.inspect_volume_raw(name).await {
            Ok(mut value) => {
                value.sort_all_objects();
                found.push(value);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    print_inspected(&found, template.as_ref(), &failures)
}

/// `volume rm`: prints each volume removed, then the failures, one per
/// line, with status 1.
async fn rm(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.volumes {
        match client.remove_volume(name, args.force).await {
            Ok(()) => out(&format!("{name}\n")),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(failures.join("\n")))
    }
}

/// `volume prune`: asks first unless `-f`; a "no" ends quietly with
/// status 0, as docker's cancelled prune does.
async fn prune(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let mut filters = parse_filters(&args.filters, "--filter")?;
    let warning = if args.all {
        if !filters.get("all").is_empty() {
            anyhow::bail!("conflicting options: cannot specify both --all and --filter all=1");
        }
        filters.insert("all", "true");
        ALL_WARNING
    } else {
        UNUSED_WARNING
    };
    if !args.force && !confirm(warning) {
        return Err(StatusError::silent(0).into());
    }
    let report = client.prune_volumes(&filters).await?;
    out(&prune_output(
        &report.volumes_deleted,
        report.space_reclaimed,
    ));
    Ok(())
}

/// `Deleted Volumes:` with the names and a blank line, then the space
/// reclaimed (counted only when something went).
fn prune_output(deleted: &[String], space_reclaimed: u64) -> String {
    let reclaimed = if deleted.is_empty() {
        0
    } else {
        space_reclaimed
    };
    format!(
        "{}{}",
        super::prune::deleted_section("Volumes", deleted),
        super::prune::total_line(reclaimed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::volume::UsageData;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: VolumeCommand,
    }

    fn parse(args: &[&str]) -> VolumeCommand {
        Cli::try_parse_from(std::iter::once("volume").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    fn create_body(args: &[&str]) -> Result<Value, String> {
        match parse(&[&["create"], args].concat()) {
            VolumeCommand::Create(create) => {
                create_request(create).map(|r| serde_json::to_value(r).unwrap())
            }
            other => panic!("not create: {other:?}"),
        }
    }

    fn volume(name: &str, driver: &str) -> Volume {
        Volume {
            name: name.into(),
            driver: driver.into(),
            mountpoint: format!("/var/lib/berth/volumes/{name}/_data"),
            scope: "local".into(),
            ..Volume::default()
        }
    }

    fn render(volumes: &[Volume], format: Option<&str>, quiet: bool) -> String {
        list_format(format, quiet)
            .unwrap()
            .render(&headers(), &rows(volumes))
            .unwrap()
    }

    #[test]
    fn create_sends_what_docker_sends() {
        assert_eq!(
            create_body(&[
                "-o",
                "type=tmpfs",
                "--opt",
                "device=tmpfs",
                "--label",
                "a=1",
                "--label",
                "b",
                "data"
            ])
            .unwrap(),
            json!({
                "Name": "data",
                "Driver": "local",
                "DriverOpts": {"device": "tmpfs", "type": "tmpfs"},
                "Labels": {"a": "1", "b": ""}
            })
        );
        assert_eq!(
            create_body(&[]).unwrap(),
            json!({"Name": "", "Driver": "local", "DriverOpts": {}, "Labels": {}})
        );
        assert_eq!(
            create_body(&["-d", "other", "--name", "n"]).unwrap()["Name"],
            "n"
        );
        assert_eq!(
            create_body(&["--name", "a", "b"]).unwrap_err(),
            "conflicting options: cannot specify a volume-name through both --name and as a positional arg"
        );
    }

    #[test]
    fn create_takes_at_most_one_name_and_checks_labels() {
        assert!(Cli::try_parse_from(["volume", "create", "a", "b"]).is_err());
        let err = Cli::try_parse_from(["volume", "create", "--label", "a b=1"]).unwrap_err();
        assert!(
            err.to_string().contains("label 'a b' contains whitespaces"),
            "{err}"
        );
    }

    #[test]
    fn ls_table_matches_docker() {
        let mut volumes = vec![
            volume("volume", "local"),
            volume("foo", "bar"),
            volume("baz", "local"),
            volume("v10", "local"),
            volume("v2", "local"),
        ];
        volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        let want = "\
DRIVER    VOLUME NAME
local     baz
bar       foo
local     v2
local     v10
local     volume
";
        assert_eq!(render(&volumes, None, false), want);
        assert_eq!(render(&[], None, false), "DRIVER    VOLUME NAME\n");
    }

    #[test]
    fn ls_quiet_formats_and_json() {
        let mut v = volume("data", "local");
        v.labels = Some([("b".into(), "2".into()), ("a".into(), "1".into())].into());
        let vs = std::slice::from_ref(&v);
        assert_eq!(render(vs, None, true), "data\n");
        assert_eq!(render(vs, Some("table"), true), "data\n");
        assert_eq!(
            render(vs, Some("{{.Name}} {{.Driver}}"), true),
            "data local\n"
        );
        assert_eq!(
            render(
                vs,
                Some("{{.Name}}: {{.Labels}} {{.Scope}} {{.Links}} {{.Size}}"),
                false
            ),
            "data: a=1,b=2 local N/A N/A\n"
        );
        assert_eq!(
            render(vs, Some("table {{.Name}}\\t{{.Mountpoint}}"), false),
            "VOLUME NAME   MOUNTPOINT\ndata          /var/lib/berth/volumes/data/_data\n"
        );
        assert_eq!(
            render(vs, Some("json"), false),
            "{\"Availability\":\"N/A\",\"Driver\":\"local\",\"Group\":\"N/A\",\"Labels\":\"a=1,b=2\",\"Links\":\"N/A\",\"Mountpoint\":\"/var/lib/berth/volumes/data/_data\",\"Name\":\"data\",\"Scope\":\"local\",\"Size\":\"N/A\",\"Status\":\"N/A\"}\n"
        );
        v.usage_data = Some(UsageData {
            size: 1_234_567,
            ref_count: 2,
        });
        assert_eq!(
            render(
                std::slice::from_ref(&v),
                Some("{{.Links}} {{.Size}}"),
                false
            ),
            "2 1.235MB\n"
        );
    }

    #[test]
    fn subcommands_take_dockers_aliases_and_flags() {
        match parse(&["list", "-q", "-f", "dangling=true", "--filter", "label=a"]) {
            VolumeCommand::Ls(ls) => {
                assert!(ls.quiet);
                assert_eq!(ls.filters, ["dangling=true", "label=a"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["remove", "-f", "a", "b"]) {
            VolumeCommand::Rm(rm) => {
                assert!(rm.force);
                assert_eq!(rm.volumes, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["prune", "-af", "--filter", "label=x"]) {
            VolumeCommand::Prune(prune) => {
                assert!(prune.all && prune.force);
                assert_eq!(prune.filters, ["label=x"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["inspect", "-f", "{{.Name}}", "a"]) {
            VolumeCommand::Inspect(inspect) => {
                assert_eq!(inspect.format.as_deref(), Some("{{.Name}}"));
                assert_eq!(inspect.volumes, ["a"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["volume", "rm"]).is_err());
        assert!(Cli::try_parse_from(["volume", "inspect"]).is_err());
        assert!(Cli::try_parse_from(["volume", "ls", "extra"]).is_err());
    }

    #[test]
    fn prune_lists_what_went_a_blank_line_and_the_total() {
        assert_eq!(prune_output(&[], 0), "Total reclaimed space: 0B\n");
        assert_eq!(prune_output(&[], 99), "Total reclaimed space: 0B\n");
        assert_eq!(
            prune_output(&["a".into(), "b".into()], 0),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 0B\n"
        );
        assert_eq!(
            prune_output(&["a".into()], 2048),
            "Deleted Volumes:\na\n\nTotal reclaimed space: 2.048kB\n"
        );
    }
}
