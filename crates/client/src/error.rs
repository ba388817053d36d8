//! The client's error type: daemon replies, transport failures, bad replies.

use std::io;

/// Everything a call to berthd can fail with.
///
/// `Display` reads the way the docker CLI prints the same failure, so the
/// CLI can show it as is.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error status and `{"message": ...}`.
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },
    /// The socket is missing or nobody listens on it.
    #[error("Cannot connect to berthd at {host}. Is berthd running?")]
    Connect { host: String },
    /// The socket exists but this user may not open it.
    #[error("permission denied while trying to connect to berthd at {host}")]
    PermissionDenied { host: String },
    /// A `-H` value that is not a `unix://` socket.
    #[error("invalid host {0:?}: only unix:// sockets are supported")]
    InvalidHost(String),
    /// The HTTP exchange failed after the connection was made.
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    /// Reading or writing a stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The daemon sent something that is not what the API promises.
    #[error("unexpected reply from berthd: {0}")]
    InvalidResponse(String),
    /// An error reported inside a JSON progress stream (load, import).
    #[error("{0}")]
    Stream(String),
}

impl ClientError {
    /// The HTTP status of a daemon error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a daemon 404 (no such container, image, ...).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The daemon's message without the "Error response from daemon" prefix.
    pub fn daemon_message(&self) -> Option<&str> {
        match self {
            ClientError::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Builds the error for a failed reply from its status and body, taking
    /// the message from Docker's `{"message": ...}`, or the body's text.
    pub(crate) fn from_reply(status: http::StatusCode, body: &[u8]) -> ClientError {
        let message = serde_json::from_slice::<berth_api::ErrorResponse>(body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_string());
        let message = if message.is_empty() {
            status.to_string()
        } else {
            message
        };
        ClientError::Api {
            status: status.as_u16(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn daemon_errors_read_like_docker() {
        let e = ClientError::from_reply(
            StatusCode::NOT_FOUND,
            br#"{"message":"No such container: web"}"#,
        );
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: web"
        );
        assert!(e.is_not_found());
        assert_eq!(e.daemon_message(), Some("No such container: web"));
    }

    #[test]
    fn non_json_and_empty_bodies_still_say_something() {
        let e = ClientError::from_reply(StatusCode::BAD_GATEWAY, b"upstream down\n");
        assert_eq!(e.to_string(), "Error response from daemon: upstream down");
        let e = ClientError::from_reply(StatusCode::INTERNAL_SERVER_ERROR, b"");
        assert_eq!(
            e.to_string(),
            "Error response from daemon: 500 Internal Server Error"
        );
    }

    #[test]
    fn connect_error_names_the_socket() {
        let e = ClientError::Connect {
            host: "unix:///x.sock".into(),
        };
        assert_eq!(
            e.to_string(),
            "Cannot connect to berthd at unix:///x.sock. Is berthd running?"
        );
    }
}
