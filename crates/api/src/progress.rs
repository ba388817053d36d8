//! Docker's JSON progress stream: the messages `POST /images/create`,
//! `POST /images/{name}/push` (and load, import, build) write one per line.
//!
//! The field names and their omission rules follow moby's `jsonmessage`:
//! every field is left out when empty, and `progressDetail` is the one whose
//! presence matters: a message with an `id` and a `progressDetail` (even `{}`)
//! is a per-layer line that a terminal client updates in place; without it
//! the message is printed once, as a line of its own.

use serde::{Deserialize, Serialize};

/// One message of a progress stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressMessage {
    /// Free text to print as it is (build output, `Loaded image: ...\n`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// What happened: `Pulling fs layer`, `Download complete`, `Digest: ...`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Counters for a progress bar; `{}` marks a per-layer status line.
    #[serde(
        default,
        rename = "progressDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_detail: Option<Progress>,
    /// The bar pre-rendered by the daemon, for old clients; new clients draw
    /// their own from `progressDetail`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub progress: String,
    /// The layer (short id) or tag this message is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The failure that ended the stream.
    #[serde(
        default,
        rename = "errorDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<ProgressError>,
    /// The same failure as plain text, for old clients.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Out-of-band data for programs (push: `{"Tag","Digest","Size"}`);
    /// never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl ProgressMessage {
    /// The failure this message reports, if it reports one: `errorDetail`'s
    /// message, else the old `error` text.
    pub fn error_message(&self) -> Option<&str> {
        match &self.error_detail {
            Some(detail) if !detail.message.is_empty() => Some(detail.message.as_str()),
            Some(_) => Some(self.error.as_str()),
            None => Some(self.error.as_str()).filter(|e| !e.is_empty()),
        }
    }
}

/// `progressDetail`: how far an operation (a layer download, extraction or
/// upload) has come.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Done so far (bytes unless `units` says otherwise).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: i64,
    /// The end value; 0 when unknown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: i64,
    /// When the operation started, in Unix seconds; lets a client estimate
    /// the time left.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: i64,
    /// Show the bar only, without `current/total`.
    #[serde(default, rename = "hidecounts", skip_serializing_if = "is_false")]
    pub hide_counts: bool,
    /// What is counted, when not bytes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub units: String,
}

impl Progress {
    /// True when there is something to draw: a count or a total.
    pub fn has_counts(&self) -> bool {
        self.current > 0 || self.total > 0
    }
}

/// `errorDetail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressError {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lines_keep_an_empty_progress_detail() {
        let message = ProgressMessage {
            status: "Pulling fs layer".into(),
            progress_detail: Some(Progress::default()),
            id: "a1b2c3d4e5f6".into(),
            ..ProgressMessage::default()
        };
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(
            text,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2c3d4e5f6"}"#
        );
        assert_eq!(
            serde_json::from_str::<ProgressMessage>(&text).unwrap(),
            message
        );
    }

    #[test]
    fn moby_download_lines_parse() {
        let m: ProgressMessage = serde_json::from_str(
            r#"{"status":"Downloading","progressDetail":{"current":1200000,"total":5600000},"progress":"[====>    ]  1.2MB/5.6MB","id":"a1b2c3d4e5f6"}"#,
        )
        .unwrap();
        let detail = m.progress_detail.clone().unwrap();
        assert_eq!((detail.current, detail.total), (1_200_000, 5_600_000));
        assert!(detail.has_counts());
        assert_eq!(m.error_message(), None);
    }

    #[test]
    fn errors_come_from_error_detail_or_the_old_field() {
        let m: ProgressMessage = serde_json::from_str(
            r#"{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}"#,
        )
        .unwrap();
        assert_eq!(m.error_message(), Some("manifest unknown"));
        let m: ProgressMessage = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(m.error_message(), Some("boom"));
        let m: ProgressMessage =
            serde_json::from_str(r#"{"aux":{"Tag":"v1","Digest":"sha256:ab","Size":527}}"#)
                .unwrap();
        assert_eq!(m.aux.unwrap()["Size"], 527);
    }
}
