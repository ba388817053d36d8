//! Why a container's init could not start, worded for the user.
//!
//! The message reaches `docker run` verbatim, and the Docker CLI picks its own
//! exit status by searching it for Go's lowercase errno texts ("no such file
//! or directory", "permission denied", "is a directory"), so errno texts here
//! are lowercase like Go's, never glibc's capitalised `strerror`.

use nix::errno::Errno;
use std::fmt::Display;
use std::io;

/// Exit code of a container whose command was not found.
pub(crate) const EXIT_NOT_FOUND: i32 = 127;
/// Exit code of a container whose command could not be invoked.
pub(crate) const EXIT_CANNOT_INVOKE: i32 = 126;
/// Exit code of a container that failed in any other way before its command ran.
pub(crate) const EXIT_SETUP_FAILED: i32 = 128;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartFailure {
    pub message: String,
    pub exit_code: i32,
}

impl StartFailure {
    pub fn new(message: impl Into<String>, exit_code: i32) -> Self {
        StartFailure {
            message: message.into(),
            exit_code,
        }
    }

    /// A setup step failed with `errno`. Docker's daemon gives 126 to any start
    /// error that says "permission denied", and 128 to the rest.
    pub fn sys(context: impl Display, errno: Errno) -> Self {
        let exit_code = if errno == Errno::EACCES {
            EXIT_CANNOT_INVOKE
        } else {
            EXIT_SETUP_FAILED
        };
        StartFailure::new(format!("{context}: {}", errno_text(errno)), exit_code)
    }

    pub fn io(context: impl Display, error: &io::Error) -> Self {
        match error.raw_os_error() {
            Some(errno) => StartFailure::sys(context, Errno::from_raw(errno)),
            None => StartFailure::new(format!("{context}: {error}"), EXIT_SETUP_FAILED),
        }
    }
}

/// Longest message sent over the error pipe; one pipe write of at most
/// PIPE_BUF bytes is atomic, so the monitor never sees half a report.
const MAX_REPORT_MESSAGE: usize = 4000;

impl StartFailure {
    /// The error pipe's wire form: the exit code (4 bytes, little-endian),
    /// then the message, cut to [`MAX_REPORT_MESSAGE`] bytes on a character
    /// boundary.
    pub fn encode(&self) -> Vec<u8> {
        let mut end = self.message.len().min(MAX_REPORT_MESSAGE);
        while !self.message.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = Vec::with_capacity(4 + end);
        bytes.extend_from_slice(&self.exit_code.to_le_bytes());
        bytes.extend_from_slice(&self.message.as_bytes()[..end]);
        bytes
    }

    /// Reads what [`StartFailure::encode`] wrote; anything shorter than the
    /// exit code is reported as an unexplained failure.
    pub fn decode(bytes: &[u8]) -> StartFailure {
        match bytes.split_first_chunk::<4>() {
            Some((code, message)) => {
                StartFailure::new(String::from_utf8_lossy(message), i32::from_le_bytes(*code))
            }
            None => StartFailure::new(
                "the container's init failed before exec without saying why",
                EXIT_SETUP_FAILED,
            ),
        }
    }
}

/// The errno's description as Go prints it: glibc's text, first letter lowercase.
pub(crate) fn errno_text(errno: Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_lowercase_like_go() {
        assert_eq!(errno_text(Errno::ENOENT), "no such file or directory");
        assert_eq!(errno_text(Errno::EACCES), "permission denied");
        assert_eq!(errno_text(Errno::ENOEXEC), "exec format error");
    }

    #[test]
    fn error_pipe_encoding_round_trips_and_truncates_on_char_boundary() {
        let failure = StartFailure::new("exec: \"x\": permission denied", 126);
        assert_eq!(StartFailure::decode(&failure.encode()), failure);
        let long = StartFailure::new("é".repeat(3000), 127);
        let decoded = StartFailure::decode(&long.encode());
        assert_eq!(decoded.exit_code, 127);
        assert_eq!(decoded.message, "é".repeat(MAX_REPORT_MESSAGE / 2));
        assert_eq!(StartFailure::decode(&[1, 2]).exit_code, EXIT_SETUP_FAILED);
    }

    #[test]
    fn permission_denied_setup_failures_exit_126_others_128() {
        assert_eq!(StartFailure::sys("chdir", Errno::EACCES).exit_code, 126);
        assert_eq!(StartFailure::sys("mount", Errno::EINVAL).exit_code, 128);
        assert_eq!(
            StartFailure::sys("chdir to /x", Errno::ENOENT).message,
            "chdir to /x: no such file or directory"
        );
    }
}
