//! `berth events`: the daemon's events as they happen (or between `--since`
//! and `--until`), one line each — docker's plain line, the event's JSON, or
//! a `--format` template over docker's `events.Message` fields.

use super::ps::parse_filters;
use super::{out, StatusError};
use crate::format::template::{Missing, Template};
use crate::timestamp::api_timestamp;
use berth_client::{Client, Event, EventsOptions};
use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (key=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output using a custom template ('json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

/// How each event is printed.
#[derive(Debug)]
enum EventFormat {
    /// `2024-05-01T10:00:00.123456789Z container start ID (k=v, ...)`.
    Plain,
    /// The event's JSON as the daemon sent it.
    Json,
    Template(Template),
}

impl EventFormat {
    fn parse(format: Option<&str>) -> anyhow::Result<EventFormat> {
        Ok(match format.unwrap_or("") {
            "" => EventFormat::Plain,
            "json" => EventFormat::Json,
            format if format.trim() == "{{json .}}" => EventFormat::Json,
            format => EventFormat::Template(Template::parse(format)?),
        })
    }

    fn line(&self, event: &Event) -> anyhow::Result<String> {
        Ok(match self {
            EventFormat::Plain => plain_line(event, local_offset),
            EventFormat::Json => serde_json::to_string(event)?,
            EventFormat::Template(template) => {
                template.render(&template_data(event), Missing::NoValue)?
            }
        })
    }
}

/// `berth events`.
pub async fn events(client: &Client, args: EventsArgs) -> anyhow::Result<()> {
    let format = EventFormat::parse(args.format.as_deref())?;
    let now = Local::now();
    let timestamp = |value: &Option<String>| {
        value
            .as_deref()
            .map(|v| api_timestamp(v, now))
            .transpose()
            .map_err(|message| StatusError { status: 1, message })
    };
    let options = EventsOptions {
        since: timestamp(&args.since)?,
        until: timestamp(&args.until)?,
        filters: parse_filters(&args.filters, "-f, --filter")?,
    };
    let mut stream = client.events(&options).await?;
    while let Some(event) = stream.next().await? {
        out(&format!("{}\n", format.line(&event)?));
    }
    Ok(())
}

/// The UTC offset of the local timezone at `unix` seconds.
fn local_offset(unix: i64) -> FixedOffset {
    Local
        .timestamp_opt(unix, 0)
        .single()
        .map(|time| time.offset().fix())
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero is a valid offset"))
}

/// docker's plain event line: the time (RFC 3339 with nine fraction digits,
/// in the zone `offset_at` gives), type, action, actor id, then the
/// attributes sorted by key.
fn plain_line(event: &Event, offset_at: impl Fn(i64) -> FixedOffset) -> String {
    let nanos = if event.time_nano != 0 {
        Some(event.time_nano)
    } else if event.time != 0 {
        event.time.checked_mul(1_000_000_000)
    } else {
        None
    };
    let mut line = String::new();
    if let Some(nanos) = nanos {
        let utc = DateTime::from_timestamp_nanos(nanos);
        let offset = offset_at(utc.timestamp());
        line.push_str(&rfc3339_nano_fixed(&utc.with_timezone(&offset)));
        line.push(' ');
    }
    line.push_str(&format!(
        "{} {} {}",
        event.kind, event.action, event.actor.id
    ));
    if !event.actor.attributes.is_empty() {
        let attributes: Vec<String> = event
            .actor
            .attributes
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        line.push_str(&format!(" ({})", attributes.join(", ")));
    }
    line
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00`: `Z` for a zero offset.
fn rfc3339_nano_fixed(time: &DateTime<FixedOffset>) -> String {
    let zone = if time.offset().local_minus_utc() == 0 {
        "Z".to_string()
    } else {
        time.format("%:z").to_string()
    };
    format!("{}{zone}", time.format("%Y-%m-%dT%H:%M:%S%.9f"))
}

/// The event under the Go field names templates use (`{{.Actor.ID}}`,
/// `{{.Status}}`, `{{.TimeNano}}`).
fn template_data(event: &Event) -> Value {
    json!({
        "Status": event.status,
        "ID": event.id,
        "From": event.from,
        "Type": event.kind,
        "Action": event.action,
        "Actor": {
            "ID": event.actor.id,
            "Attributes": event.actor.attributes,
        },
        "Scope": event.scope,
        "Time": event.time,
        "TimeNano": event.time_nano,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_client::EventActor;

    fn start_event() -> Event {
        Event {
            status: "start".into(),
            id: "3f2b0c".into(),
            from: "busybox".into(),
            kind: "container".into(),
            action: "start".into(),
            actor: EventActor {
                id: "3f2b0c".into(),
                attributes: [("name", "web"), ("image", "busybox"), ("a.label", "x y")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: 1_700_000_000,
            time_nano: 1_700_000_000_123_456_789,
        }
    }

    fn utc(_: i64) -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn plain_lines_read_like_docker() {
        assert_eq!(
            plain_line(&start_event(), utc),
            "2023-11-14T22:13:20.123456789Z container start 3f2b0c (a.label=x y, image=busybox, name=web)"
        );
    }

    #[test]
    fn plain_lines_use_the_local_offset_and_fall_back_to_seconds() {
        let mut event = start_event();
        event.time_nano = 0;
        event.actor.attributes.clear();
        let plus_two = |_| FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            plain_line(&event, plus_two),
            "2023-11-15T00:13:20.000000000+02:00 container start 3f2b0c"
        );
        event.time = 0;
        assert_eq!(plain_line(&event, utc), "container start 3f2b0c");
    }

    #[test]
    fn json_and_templates() {
        let event = start_event();
        let json = EventFormat::parse(Some("json")).unwrap();
        let line = json.line(&event).unwrap();
        assert!(line.starts_with(r#"{"status":"start","id":"3f2b0c","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"3f2b0c","Attributes":{"a.label":"x y","#), "{line}");
        assert!(matches!(
            EventFormat::parse(Some("{{json .}}")).unwrap(),
            EventFormat::Json
        ));
        let template =
            EventFormat::parse(Some(r#"{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "image"}} {{.TimeNano}}"#))
                .unwrap();
        assert_eq!(
            template.line(&event).unwrap(),
            "container start web busybox 1700000000123456789"
        );
        let missing = EventFormat::parse(Some("{{.Actor.Attributes.exitCode}}")).unwrap();
        assert_eq!(missing.line(&event).unwrap(), "<no value>");
        assert!(matches!(
            EventFormat::parse(None).unwrap(),
            EventFormat::Plain
        ));
        assert!(EventFormat::parse(Some("{{.Type")).is_err());
    }
}
