//! `berth ps`: the container list, with docker's columns, truncation and
//! `--format` placeholders.

use super::{out, StatusError};
use crate::format::table::ListFormat;
use crate::format::{ellipsis, go_quote, go_time, human_size as human_size_3, short_id, time_ago};
use berth_api::container::ContainerSummary;
use berth_api::network::Port;
use berth_api::Filters;
use berth_client::{Client, ListContainersOptions};
use serde::Deserialize;
use serde_json::{json, Value};

/// Docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
/// The default table with `-s`.
const SIZE_FORMAT: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}";

/// Longest COMMAND shown without `--no-trunc`.
const COMMAND_WIDTH: usize = 20;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter output based on conditions provided (key=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

/// Turns repeated `--filter key=value` into the API's filters.
pub fn parse_filters(values: &[String], flag: &str) -> anyhow::Result<Filters> {
    let mut filters = Filters::default();
    for value in values {
        let Some((key, val)) = value.split_once('=') else {
            return Err(StatusError {
                status: 125,
                message: format!(
                    "invalid argument {} for \"{flag}\" flag: bad format of filter (expected name=value)",
                    go_quote(value)
                ),
            }
            .into());
        };
        filters.insert(key.trim().to_lowercase().as_str(), val.trim());
    }
    Ok(filters)
}

/// `berth ps`.
pub async fn ps(client: &Client, args: PsArgs) -> anyhow::Result<()> {
    let limit = if args.latest { 1 } else { args.last };
    // As docker: sizes when asked for, or when the format shows them.
    let size = args.size || args.format.as_deref().is_some_and(|f| f.contains(".Size"));
    let options = ListContainersOptions {
        all: args.all,
        limit: (limit > 0).then_some(limit),
        filters: parse_filters(&args.filters, "-f, --filter")?,
        size,
    };
    let default = if args.size {
        SIZE_FORMAT
    } else {
        DEFAULT_FORMAT
    };
    let format = ListFormat::parse(args.format.as_deref(), args.quiet, default)?;
    let containers = client.list_containers(&options).await?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| row(c, !args.no_trunc, now))
        .collect();
    out(&format.render(&headers(), &rows)?);
    Ok(())
}

/// Column titles for each placeholder.
fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED",
        "Status": "STATUS",
        "State": "STATE",
        "Ports": "PORTS",
        "Names": "NAMES",
        "Labels": "LABELS",
        "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES",
        "Size": "SIZE",
    })
}

/// One container's placeholders, as docker's `ContainerContext` shows them.
fn row(c: &ContainerSummary, trunc: bool, now: i64) -> Value {
    let command = if trunc {
        ellipsis(&c.command, COMMAND_WIDTH)
    } else {
        c.command.clone()
    };
    let labels = c
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let networks = c
        .network_settings
        .get("Networks")
        .and_then(Value::as_object)
        .map(|n| n.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mounts = c
        .mounts
        .iter()
        .map(|m| {
            let name = if m.name.is_empty() {
                m.source.as_str()
            } else {
                m.name.as_str()
            };
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    json!({
        "ID": if trunc { short_id(&c.id) } else { c.id.clone() },
        "Image": image(c, trunc),
        "Command": go_quote(&command),
        "CreatedAt": go_time(c.created),
        "RunningFor": time_ago(c.created, now),
        "Status": c.status,
        "State": c.state,
        "Ports": ports(&c.ports),
        "Names": names(&c.names, trunc),
        "Labels": labels,
        "Mounts": mounts,
        "Networks": networks,
        "LocalVolumes": local_volumes.to_string(),
        "Size": size(c),
    })
}

/// SIZE: the writable layer, and with the image's when known, as docker
/// shows them (`1.05MB (virtual 5.3MB)`).
fn size(c: &ContainerSummary) -> String {
    let rw = human_size_3(c.size_rw.unwrap_or_default());
    match c.size_root_fs.filter(|s| *s > 0) {
        Some(root_fs) => format!("{rw} (virtual {})", human_size_3(root_fs)),
        None => rw,
    }
}

/// The IMAGE column: short ids for images run by id, digests dropped.
fn image(c: &ContainerSummary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return c.image.clone();
    }
    if !c.image_id.is_empty() && short_id(&c.image_id) == short_id(&c.image) {
        return short_id(&c.image);
    }
    match c.image.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => c.image.clone(),
    }
}

/// NAMES: without the leading `/`; truncated output skips link names
/// (`/web/db`) in favour of the container's own.
fn names(names: &[String], trunc: bool) -> String {
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n))
        .collect();
    if trunc {
        if let Some(own) = names.iter().find(|n| !n.contains('/')) {
            return own.to_string();
        }
    }
    names.join(",")
}

/// PORTS, as docker's `DisplayablePorts` shows them: sorted by container
/// port; consecutive ports published on their own number (or not at all)
/// with the same address and protocol shown as one range
/// (`0.0.0.0:8000-8001->8000-8001/tcp`, `53-54/udp`); then the ports
/// published on another number (`[::]:8080->80/tcp`).
fn ports(ports: &[Value]) -> String {
    let mut ports: Vec<Port> = ports
        .iter()
        .filter_map(|p| Port::deserialize(p).ok())
        .collect();
    ports.sort_by(compare_ports);
    let mut groups: Vec<PortGroup> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for port in &ports {
        let current = port.private_port;
        let key = if port.ip.is_empty() {
            port.kind.clone()
        } else if port.public_port != current {
            let host = join_host_port(&port.ip, &port.public_port.to_string());
            host_mappings.push(format!("{host}->{current}/{}", port.kind));
            continue;
        } else {
            format!("{}/{}", port.ip, port.kind)
        };
        match groups.iter_mut().find(|g| g.key == key) {
            None => groups.push(PortGroup {
                key,
                first: current,
                last: current,
            }),
            Some(group) if current == group.last.wrapping_add(1) => group.last = current,
            Some(group) => {
                result.push(group.to_string());
                (group.first, group.last) = (current, current);
            }
        }
    }
    result.extend(groups.iter().map(PortGroup::to_string));
    result.extend(host_mappings);
    result.join(", ")
}

/// A run of ports keyed `proto` or `ip/proto`.
struct PortGroup {
    key: String,
    first: u16,
    last: u16,
}

impl std::fmt::Display for PortGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ip, proto) = self.key.split_once('/').unwrap_or(("", &self.key));
        let mut range = self.first.to_string();
        if self.first != self.last {
            range = format!("{range}-{}", self.last);
        }
        if ip.is_empty() {
            write!(f, "{range}/{proto}")
        } else {
            write!(f, "{}->{range}/{proto}", join_host_port(ip, &range))
        }
    }
}

/// Container port, then host address (numerically), host port, protocol.
fn compare_ports(a: &Port, b: &Port) -> std::cmp::Ordering {
    let address = |p: &Port| p.ip.parse::<std::net::IpAddr>().ok();
    a.private_port
        .cmp(&b.private_port)
        .then_with(|| match (address(a), address(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.ip.cmp(&b.ip),
        })
        .then_with(|| a.public_port.cmp(&b.public_port))
        .then_with(|| a.kind.cmp(&b.kind))
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(
        id: &str,
        name: &str,
        command: &str,
        created: i64,
        status: &str,
    ) -> ContainerSummary {
        ContainerSummary {
            id: id.to_string(),
            names: vec![format!("/{name}")],
            image: "busybox".to_string(),
            image_id: "sha256:ffffffffffffffff".to_string(),
            command: command.to_string(),
            created,
            status: status.to_string(),
            state: "running".to_string(),
            ..Default::default()
        }
    }

    fn table(containers: &[ContainerSummary], format: Option<&str>, trunc: bool) -> String {
        let format = ListFormat::parse(format, false, DEFAULT_FORMAT).unwrap();
        let rows: Vec<Value> = containers.iter().map(|c| row(c, trunc, 1000)).collect();
        format.render(&headers(), &rows).unwrap()
    }

    #[test]
    fn empty_list_is_the_docker_header() {
        assert_eq!(
            table(&[], None, true),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn rows_align_like_docker() {
        let containers = [
            container(
                "0123456789abcdef0123456789abcdef",
                "web",
                "sleep 100",
                955,
                "Up 44 seconds",
            ),
            container(
                "fedcba9876543210fedcba9876543210",
                "quizzical_turing",
                "/bin/sh -c 'while true; do date; done'",
                400,
                "Exited (0) 2 minutes ago",
            ),
        ];
        let want = "\
CONTAINER ID   IMAGE     COMMAND                  CREATED          STATUS                     PORTS     NAMES
0123456789ab   busybox   \"sleep 100\"              45 seconds ago   Up 44 seconds                        web
fedcba987654   busybox   \"/bin/sh -c 'while t…\"   10 minutes ago   Exited (0) 2 minutes ago             quizzical_turing
";
        assert_eq!(table(&containers, None, true), want);
    }

    #[test]
    fn no_trunc_shows_everything() {
        let c = container(
            "0123456789abcdef0123456789abcdef",
            "web",
            "/bin/sh -c 'while true; do date; done'",
            955,
            "Up",
        );
        let text = table(&[c], Some("{{.ID}} {{.Command}}"), false);
        assert_eq!(
            text,
            "0123456789abcdef0123456789abcdef \"/bin/sh -c 'while true; do date; done'\"\n"
        );
    }

    #[test]
    fn custom_tables_and_placeholders() {
        let mut c = container("0123456789abcdef", "web", "sh", 955, "Up 1 second");
        c.labels.insert("a".into(), "1".into());
        c.labels.insert("b".into(), "2".into());
        c.names.push("/other/web".into());
        assert_eq!(
            table(
                &[c.clone()],
                Some("table {{.Names}}\\t{{.Labels}}\\t{{.State}}"),
                true
            ),
            "NAMES     LABELS    STATE\nweb       a=1,b=2   running\n"
        );
        assert_eq!(table(&[c], Some("{{.Names}}"), false), "web,other/web\n");
    }

    #[test]
    fn image_column_shortens_ids_and_drops_digests() {
        let mut c = container("x", "web", "sh", 0, "");
        c.image = "sha256:ffffffffffffffff".into();
        assert_eq!(image(&c, true), "ffffffffffff");
        c.image = "busybox@sha256:abc".into();
        assert_eq!(image(&c, true), "busybox");
        assert_eq!(image(&c, false), "busybox@sha256:abc");
        c.image = String::new();
        assert_eq!(image(&c, true), "<no image>");
    }

    #[test]
    fn ports_read_like_docker() {
        let list = vec![
            json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"PrivatePort": 53, "Type": "udp"}),
        ];
        assert_eq!(
            ports(&list),
            "53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
    }

    #[test]
    fn consecutive_ports_group_into_ranges_like_docker() {
        let port = |ip: &str, private: u16, public: u16, kind: &str| json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": kind});
        // docker run -p 8000-8002:8000-8002 -p 9090:90 --expose 53-54/udp
        let list = vec![
            port("::", 8001, 8001, "tcp"),
            port("0.0.0.0", 8000, 8000, "tcp"),
            port("0.0.0.0", 8002, 8002, "tcp"),
            port("0.0.0.0", 90, 9090, "tcp"),
            json!({"PrivatePort": 54, "Type": "udp"}),
            json!({"PrivatePort": 53, "Type": "udp"}),
            port("0.0.0.0", 8001, 8001, "tcp"),
            port("::", 8000, 8000, "tcp"),
            port("::", 8002, 8002, "tcp"),
        ];
        assert_eq!(
            ports(&list),
            "53-54/udp, 0.0.0.0:8000-8002->8000-8002/tcp, [::]:8000-8002->8000-8002/tcp, \
             0.0.0.0:9090->90/tcp"
        );
        let gap = vec![
            json!({"PrivatePort": 80, "Type": "tcp"}),
            json!({"PrivatePort": 82, "Type": "tcp"}),
        ];
        assert_eq!(ports(&gap), "80/tcp, 82/tcp");
    }

    #[test]
    fn filters_need_key_value() {
        let f =
            parse_filters(&["status=exited".into(), "name=web".into()], "-f, --filter").unwrap();
        assert_eq!(f.get("status"), ["exited"]);
        let error = parse_filters(&["nope".into()], "--filter").unwrap_err();
        let error = error.downcast_ref::<StatusError>().unwrap();
        assert_eq!(error.status, 125);
        assert_eq!(
            error.message,
            "invalid argument \"nope\" for \"--filter\" flag: bad format of filter (expected name=value)"
        );
    }
}
