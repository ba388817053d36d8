//! The event stream: what happened to containers and images, in Docker's
//! shape, kept in a bounded ring so that `since` can look back, and
//! broadcast to every `GET /events` client.

use berth_api::Filters;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// How many past events `since` can reach.
const RING: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `container`, `image`, `network`, `volume`.
    pub kind: &'static str,
    /// Docker's action, e.g. `start`, `die`, `exec_start: sh -c x`.
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the epoch.
    pub time_nano: i128,
}

impl Event {
    pub fn new(
        kind: &'static str,
        action: impl Into<String>,
        actor_id: impl Into<String>,
    ) -> Event {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Event {
            kind,
            action: action.into(),
            actor_id: actor_id.into(),
            attributes: BTreeMap::new(),
            time_nano: now.as_nanos() as i128,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    /// The JSON object Docker sends, legacy `status`/`id`/`from` included.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "Type": self.kind,
            "Action": self.action,
            "Actor": { "ID": self.actor_id, "Attributes": self.attributes },
            "scope": "local",
            "time": (self.time_nano / 1_000_000_000) as i64,
            "timeNano": self.time_nano as i64,
        });
        if matches!(self.kind, "container" | "image") {
            value["status"] = json!(self.action);
            value["id"] = json!(self.actor_id);
            if let Some(image) = self.attributes.get("image") {
                value["from"] = json!(image);
            }
        }
        value
    }

    /// The action without an exec's command (`exec_start: sh` -> `exec_start`).
    fn base_action(&self) -> &str {
        self.action.split(':').next().unwrap_or(&self.action)
    }

    /// Docker's event filters: every key given must match one of its values.
    pub fn matches(&self, filters: &Filters) -> bool {
        let any = |key: &str, check: &dyn Fn(&str) -> bool| {
            let wanted = filters.get(key);
            wanted.is_empty() || wanted.iter().any(|w| check(w))
        };
        let name = self
            .attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or("");
        any("type", &|t| t == self.kind)
            && any("event", &|e| e == self.action || e == self.base_action())
            && any("container", &|c| {
                self.kind == "container" && (self.actor_id.starts_with(c) || c == name)
            })
            && any("image", &|i| {
                let wanted = berth_image::normalize_reference(i);
                let image = self.attributes.get("image");
                image.is_some_and(|image| berth_image::normalize_reference(image) == wanted)
                    || (self.kind == "image"
                        && (self.actor_id == i || berth_image::normalize_reference(name) == wanted))
            })
            && any("network", &|n| {
                self.kind == "network" && (self.actor_id == n || name == n)
            })
            && any("volume", &|v| self.kind == "volume" && self.actor_id == v)
            && filters.labels_match(&self.attributes)
    }
}

/// A container event with Docker's attributes (image, name, labels) plus `extra`.
pub fn container_event(
    container: &super::Container,
    action: &str,
    extra: &[(&str, String)],
) -> Event {
    let record = container.record();
    let mut event = Event::new("container", action, record.id.clone())
        .with("image", record.config.image.clone())
        .with("name", record.name.trim_start_matches('/'));
    for (k, v) in &record.config.labels {
        event = event.with(k, v.clone());
    }
    drop(record);
    for (k, v) in extra {
        event = event.with(k, v.clone());
    }
    event
}

/// The ring and the live broadcast.
pub struct EventBus {
    ring: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            ring: Mutex::new(VecDeque::with_capacity(RING)),
            live: broadcast::Sender::new(1024),
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        tracing::debug!(kind = event.kind, action = %event.action, actor = %event.actor_id, "event");
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(event.clone());
        // No receivers is fine: nobody is listening.
        let _ = self.live.send(event);
    }

    /// Past events at or after `since`, and a receiver for everything after
    /// them; taken under one lock, so nothing falls between the two.
    pub fn subscribe(&self, since: Option<i128>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let past = match since {
            Some(since) => ring
                .iter()
                .filter(|e| e.time_nano >= since)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (past, self.live.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(id: &str, name: &str) -> Event {
        Event::new("container", "start", id)
            .with("image", "busybox")
            .with("name", name)
            .with("team", "core")
    }

    #[test]
    fn json_has_dockers_shape_with_legacy_fields() {
        let value = start("abc", "web").to_json();
        assert_eq!(value["Type"], "container");
        assert_eq!(value["Action"], "start");
        assert_eq!(value["Actor"]["Attributes"]["name"], "web");
        assert_eq!(value["status"], "start");
        assert_eq!(value["id"], "abc");
        assert_eq!(value["from"], "busybox");
        assert_eq!(value["scope"], "local");
        assert!(
            value["timeNano"].as_i64().unwrap() / 1_000_000_000 == value["time"].as_i64().unwrap()
        );
    }

    #[test]
    fn filters_match_docker_keys() {
        let event = start("abcdef", "web");
        let f = |text: &str| Filters::parse(text).unwrap();
        assert!(event.matches(&f(r#"{"container":["web"]}"#)));
        assert!(event.matches(&f(r#"{"container":["abc"]}"#)));
        assert!(!event.matches(&f(r#"{"container":["db"]}"#)));
        assert!(event.matches(&f(r#"{"event":["start","die"],"type":["container"]}"#)));
        assert!(!event.matches(&f(r#"{"event":["die"]}"#)));
        assert!(event.matches(&f(r#"{"image":["busybox:latest"]}"#)));
        assert!(event.matches(&f(r#"{"label":["team=core"]}"#)));
        assert!(!event.matches(&f(r#"{"label":["team=web"]}"#)));
        let exec = Event::new("container", "exec_start: sh -c true", "abcdef");
        assert!(exec.matches(&f(r#"{"event":["exec_start"]}"#)));
    }

    #[test]
    fn ring_keeps_the_last_events_for_since() {
        let bus = EventBus::default();
        for i in 0..(RING + 10) {
            let mut e = start(&i.to_string(), "x");
            e.time_nano = i as i128;
            bus.publish(e);
        }
        let (past, _) = bus.subscribe(Some(0));
        assert_eq!(past.len(), RING);
        assert_eq!(past[0].actor_id, "10");
        let (recent, _) = bus.subscribe(Some((RING + 5) as i128));
        assert_eq!(recent.len(), 5);
        let (none, _) = bus.subscribe(None);
        assert!(none.is_empty());
    }
}
