//! The `berth` commands, one module per group, and what they share: exit
//! statuses, output that tolerates a closed pipe, OS errors worded like Go's,
//! and running one operation over several containers.

pub mod attach;
pub mod container;
pub mod events;
pub mod exec;
pub mod image;
pub mod inspect;
pub mod options;
pub mod ps;
pub mod run;
pub mod session;
pub mod stats;
pub mod system;
pub mod top;

use berth_client::ClientError;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};

/// An error that ends `berth` with a given exit status (docker's
/// `cli.StatusError`); its message, if any, has yet to be printed.
#[derive(Debug)]
pub struct StatusError {
    pub status: i32,
    pub message: String,
}

impl StatusError {
    /// Exit with `status` and print nothing more.
    pub fn silent(status: i32) -> StatusError {
        StatusError {
            status,
            message: String::new(),
        }
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

/// Writes to stdout; a reader that went away (`berth ps | head -1`) is not
/// an error worth a panic.
pub fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("berth: writing output: {}", io_error_text(&e));
        }
    }
}

/// An OS error the way Go words it: `no such file or directory`.
pub fn io_error_text(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `open PATH: no such file or directory`, as Go's `os.Open` reports it.
pub fn open_error(path: &std::path::Path, error: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("open {}: {}", path.display(), io_error_text(error))
}

/// Runs `op` on every name at once and prints each name that succeeded, in
/// the order given; then returns the failures, one per line, as docker's
/// `stop`, `kill`, `rm` and `restart` do. Failures `ignore` accepts are
/// printed to stderr but do not fail the command (`rm -f` of a missing
/// container).
pub async fn for_each_container<F, Fut>(
    names: &[String],
    op: F,
    ignore: impl Fn(&ClientError) -> bool,
) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    let results = futures_util::future::join_all(names.iter().cloned().map(op)).await;
    let mut failures = Vec::new();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => out(&format!("{name}\n")),
            Err(e) if ignore(&e) => eprintln!("{e}"),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(failures.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_like_go() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_error_text(&e), "no such file or directory");
        let e = open_error(std::path::Path::new("x.env"), &e);
        assert_eq!(e.to_string(), "open x.env: no such file or directory");
    }
}
