//! The crate's one error type, and the reading of a registry's error replies.
//!
//! Each variant is a kind the daemon maps to an HTTP status (not found,
//! unauthorized, invalid parameter, bad gateway...). Messages use Docker's
//! wording where Docker has one, so that `docker pull` through Berth prints
//! what users (and their scripts) expect.

use std::io;

use http::StatusCode;
use serde::Deserialize;

use crate::digest::Digest;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reference string is not a valid image reference
    /// (`invalid reference format`, ...).
    #[error("{0}")]
    InvalidReference(String),
    /// The manifest, repository, blob or platform does not exist, or the
    /// registry denied a pull (Docker reports that as "not found" too).
    #[error("{0}")]
    NotFound(String),
    /// The registry (or its token server) refused the credentials, or asked
    /// for some and none were given.
    #[error("{0}")]
    Unauthorized(String),
    /// Content did not hash to the digest it was fetched by.
    #[error("{what} verification failed for digest {expected}")]
    DigestMismatch {
        /// `manifest`, `image config` or `filesystem layer`, as Docker says.
        what: &'static str,
        expected: Digest,
        actual: Digest,
    },
    /// A blob body was shorter or longer than its descriptor's size.
    #[error("size mismatch for {digest}: expected {expected} bytes, received {received}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        received: u64,
    },
    /// A manifest (or list) of a type this client cannot use.
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    /// A reply that does not parse: a bad manifest, token reply or header.
    #[error("{0}")]
    InvalidResponse(String),
    /// The request never got a (complete) answer: DNS, connect, TLS,
    /// timeouts, a connection cut mid-body. Worded like Go's `url.Error`.
    #[error("{method} \"{url}\": {reason}")]
    Transport {
        method: String,
        url: String,
        reason: String,
    },
    /// Any other error status, with the registry's own message.
    #[error("{message}")]
    Registry { status: u16, message: String },
    /// A bad client configuration (unreadable `certs.d` file, bad CIDR).
    #[error("{0}")]
    InvalidConfig(String),
    /// Reading the blob to push or writing the blob pulled failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn transport(method: &http::Method, url: &str, reason: impl ToString) -> Error {
        Error::Transport {
            method: method_word(method),
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Go prints methods capitalised in `url.Error`: `Get "https://..."`.
pub(crate) fn method_word(method: &http::Method) -> String {
    let m = method.as_str();
    let mut out = m[..1].to_string();
    out.push_str(&m[1..].to_ascii_lowercase());
    out
}

/// The first error of a registry's error reply, as distribution's `errcode`
/// sees it: a code (`MANIFEST_UNKNOWN`) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryError {
    pub code: String,
    pub message: String,
}

impl RegistryError {
    /// Docker's rendering: the code lower-cased with spaces, then the
    /// message (`manifest unknown: manifest unknown`).
    pub fn docker_text(&self) -> String {
        format!(
            "{}: {}",
            self.code.to_ascii_lowercase().replace('_', " "),
            self.message
        )
    }
}

#[derive(Deserialize)]
struct ErrorsBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Reads a 4xx reply the way distribution's client does: a JSON `errors`
/// list, or a `details` string, or else the bare body under a code chosen
/// by the status. `None` when the body says nothing usable.
pub(crate) fn parse_error_body(status: StatusCode, body: &[u8]) -> Option<RegistryError> {
    let status_code = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "DENIED",
        StatusCode::TOO_MANY_REQUESTS => "TOOMANYREQUESTS",
        _ => "UNKNOWN",
    };
    if let Ok(parsed) = serde_json::from_slice::<ErrorsBody>(body) {
        if let Some(first) = parsed.errors.into_iter().next() {
            let code = if first.code.is_empty() {
                status_code.to_string()
            } else {
                first.code
            };
            let message = if first.message.is_empty() {
                code.to_ascii_lowercase().replace('_', " ")
            } else {
                first.message
            };
            return Some(RegistryError { code, message });
        }
        if let Some(details) = parsed.details.filter(|d| !d.is_empty()) {
            return Some(RegistryError {
                code: status_code.to_string(),
                message: details,
            });
        }
        return None;
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() || text.starts_with('<') {
        return None;
    }
    Some(RegistryError {
        code: status_code.to_string(),
        message: text,
    })
}

/// The error for a reply with an unexpected status and what its body (or
/// challenge) said, with no operation-specific reading: 401 and 403 are
/// [`Error::Unauthorized`], the rest [`Error::Registry`] with the
/// registry's message (or Docker's `received unexpected HTTP status: 500
/// Internal Server Error`).
pub(crate) fn status_error(status: StatusCode, parsed: Option<RegistryError>) -> Error {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let e = parsed.unwrap_or_else(|| default_auth_error(status));
        return Error::Unauthorized(e.docker_text());
    }
    let unexpected = format!("received unexpected HTTP status: {}", status_line(status));
    let message = match parsed {
        Some(e) if status.is_server_error() => format!("{unexpected}: {}", e.docker_text()),
        Some(e) => e.docker_text(),
        None => unexpected,
    };
    Error::Registry {
        status: status.as_u16(),
        message,
    }
}

/// What a 401 or 403 without a readable body means.
fn default_auth_error(status: StatusCode) -> RegistryError {
    if status == StatusCode::UNAUTHORIZED {
        RegistryError {
            code: "UNAUTHORIZED".into(),
            message: "authentication required".into(),
        }
    } else {
        RegistryError {
            code: "DENIED".into(),
            message: "requested access to the resource is denied".into(),
        }
    }
}

/// `500 Internal Server Error`, as Go's `resp.Status` reads.
pub(crate) fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_body_gives_code_and_message() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let e = parse_error_body(StatusCode::NOT_FOUND, body).unwrap();
        assert_eq!(e.docker_text(), "manifest unknown: manifest unknown");
    }

    #[test]
    fn details_body_takes_the_status_code() {
        let body = br#"{"details":"incorrect username or password"}"#;
        let e = parse_error_body(StatusCode::UNAUTHORIZED, body).unwrap();
        assert_eq!(
            e.docker_text(),
            "unauthorized: incorrect username or password"
        );
    }

    #[test]
    fn plain_500_reads_like_docker() {
        let body = b"<html>oops</html>";
        let e = status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            parse_error_body(StatusCode::INTERNAL_SERVER_ERROR, body),
        );
        assert_eq!(
            e.to_string(),
            "received unexpected HTTP status: 500 Internal Server Error"
        );
    }

    #[test]
    fn json_500_keeps_the_registry_message() {
        let body = br#"{"errors":[{"code":"UNKNOWN","message":"storage is on fire"}]}"#;
        let e = status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            parse_error_body(StatusCode::INTERNAL_SERVER_ERROR, body),
        );
        assert_eq!(
            e.to_string(),
            "received unexpected HTTP status: 500 Internal Server Error: unknown: storage is on fire"
        );
    }

    #[test]
    fn bare_401_is_authentication_required() {
        let e = status_error(StatusCode::UNAUTHORIZED, None);
        assert!(
            matches!(e, Error::Unauthorized(ref m) if m == "unauthorized: authentication required")
        );
    }

    #[test]
    fn transport_error_reads_like_go() {
        let e = Error::transport(&http::Method::GET, "https://h/v2/", "connection refused");
        assert_eq!(e.to_string(), "Get \"https://h/v2/\": connection refused");
    }
}
