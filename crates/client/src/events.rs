//! `GET /events`: the daemon's event stream, one JSON object per event,
//! until `until` passes or the caller stops reading.

use crate::body::{nullable, JsonStream};
use crate::client::ApiRequest;
use crate::query::Query;
use crate::{Client, Result};
use berth_api::Filters;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /events` parameters.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Unix timestamp (`sec[.nanos]`): replay events from then on.
    pub since: Option<String>,
    /// Unix timestamp (`sec[.nanos]`): end the stream then.
    pub until: Option<String>,
    pub filters: Filters,
}

/// What an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Attributes", default, deserialize_with = "nullable")]
    pub attributes: BTreeMap<String, String>,
}

/// One event (Docker's `events.Message`); serializes to the same JSON, in
/// the same field order, as Docker sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Deprecated duplicate of `action` for container events.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Deprecated duplicate of `actor.id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Deprecated: the image of a container event.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `network`, ...
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "Actor", default)]
    pub actor: EventActor,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano", default, skip_serializing_if = "is_zero")]
    pub time_nano: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// A stream of events, read one at a time.
pub type EventStream = JsonStream<Event>;

impl Client {
    /// `GET /events?since=&until=&filters=`: returns once the daemon has
    /// answered; events then arrive as they happen.
    pub async fn events(&self, options: &EventsOptions) -> Result<EventStream> {
        let mut query = Query::new();
        query
            .push_opt("since", options.since.as_deref())
            .push_opt("until", options.until.as_deref());
        query.filters(&options.filters);
        let response = self.send(ApiRequest::get("/events").query(query)).await?;
        Ok(JsonStream::new(response.into_body()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_and_write_dockers_json() {
        let text = r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"web"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#;
        let event: Event = serde_json::from_str(text).unwrap();
        assert_eq!(event.kind, "container");
        assert_eq!(event.actor.attributes["name"], "web");
        assert_eq!(event.time_nano, 1_700_000_000_123_456_789);
        assert_eq!(serde_json::to_string(&event).unwrap(), text);
    }

    #[test]
    fn sparse_events_parse_and_omit_what_is_empty() {
        let event: Event = serde_json::from_str(
            r#"{"Type":"image","Action":"tag","Actor":{"ID":"sha256:x","Attributes":null},"time":5}"#,
        )
        .unwrap();
        assert!(event.actor.attributes.is_empty());
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"Type":"image","Action":"tag","Actor":{"ID":"sha256:x","Attributes":{}},"time":5}"#
        );
    }
}
