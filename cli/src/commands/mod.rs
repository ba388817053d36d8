//! The `berth` commands, one module per group, and what they share: exit
//! statuses, output that tolerates a closed pipe, OS errors worded like Go's,
//! running one operation over several containers, confirmation prompts, and
//! the natural sort order docker lists things in.

pub mod attach;
pub mod container;
pub mod cp;
pub mod credentials;
pub mod df;
pub mod events;
pub mod exec;
pub mod files;
pub mod history;
pub mod image;
pub mod inspect;
pub mod isolation;
pub mod login;
pub mod mounts;
pub mod network;
pub mod options;
pub mod port;
pub mod progress;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod reference;
pub mod run;
pub mod session;
pub mod stats;
pub mod system;
pub mod top;
pub mod volume;

use crate::format::template::{Missing, Template};
use berth_client::ClientError;
use std::cmp::Ordering;
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

/// Asks `message [y/N] ` on stdout and reads one line of stdin; only `y`
/// (any case) agrees, as docker's `PromptForConfirmation`.
pub fn confirm(message: &str) -> bool {
    out(&format!("{message} [y/N] "));
    let mut answer = String::new();
    match io::stdin().read_line(&mut answer) {
        Ok(_) => answer.trim().eq_ignore_ascii_case("y"),
        Err(_) => false,
    }
}

/// `-f/--format` of an inspect command; a bad template is status 64.
pub fn inspect_template(format: Option<&str>) -> Result<Option<Template>, StatusError> {
    format
        .map(Template::parse)
        .transpose()
        .map_err(|e| StatusError {
            status: 64,
            message: format!("template parsing error: {e}"),
        })
}

/// Prints what an inspect command found: one JSON array indented as docker
/// indents it, or the template once per object; then the failures, one per
/// line, with status 1.
pub fn print_inspected(
    found: &[serde_json::Value],
    template: Option<&Template>,
    failures: &[String],
) -> anyhow::Result<()> {
    match template {
        Some(template) => {
            let mut text = String::new();
            for value in found {
                text.push_str(&template.render(value, Missing::NoValue)?);
                text.push('\n');
            }
            out(&text);
        }
        None => out(&format!("{}\n", indented_json(&found))),
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(StatusError {
        status: 1,
        message: failures.join("\n"),
    }
    .into())
}

/// JSON indented by four spaces, as docker's `inspect` commands print it.
pub fn indented_json(value: &impl serde::Serialize) -> String {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    value
        .serialize(&mut serializer)
        .expect("JSON values always serialize");
    String::from_utf8(buffer).expect("serde_json writes UTF-8")
}

/// The order docker sorts names and ports in (`sortorder.NaturalLess`):
/// runs of digits compare as numbers, digits sort before other bytes.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (digit_a, digit_b) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if digit_a != digit_b {
            return if digit_a {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !digit_a {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let (start_a, start_b) = (skip_zeros(a, i), skip_zeros(b, j));
        (i, j) = (end_of_digits(a, start_a), end_of_digits(b, start_b));
        let ordering = (i - start_a)
            .cmp(&(j - start_b))
            .then_with(|| a[start_a..i].cmp(&b[start_b..j]))
            .then_with(|| start_a.cmp(&start_b));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn skip_zeros(s: &[u8], from: usize) -> usize {
    from + s[from..].iter().take_while(|&&c| c == b'0').count()
}

fn end_of_digits(s: &[u8], from: usize) -> usize {
    from + s[from..].iter().take_while(|c| c.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {

    #[test]
    fn inspect_output_is_an_array_indented_by_four_spaces_in_the_daemons_key_order() {
        let values = vec![serde_json::json!({"Args": [], "Id": "abc", "State": {"Pid": 1}})];
        assert_eq!(
            indented_json(&values),
            "[\n    {\n        \"Args\": [],\n        \"Id\": \"abc\",\n        \"State\": {\n            \"Pid\": 1\n        }\n    }\n]"
        );
        assert_eq!(indented_json(&Vec::<serde_json::Value>::new()), "[]");
    }

    use super::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut names = vec!["net10", "net2", "Net1", "net02", "net1", "a", "1x", ""];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["", "1x", "Net1", "a", "net1", "net2", "net02", "net10"]
        );
        let mut ports = vec![
            "8080/tcp -> 0.0.0.0:8080",
            "443/tcp -> 0.0.0.0:8443",
            "80/tcp -> [::]:80",
            "80/tcp -> 0.0.0.0:80",
        ];
        ports.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            ports,
            [
                "80/tcp -> 0.0.0.0:80",
                "80/tcp -> [::]:80",
                "443/tcp -> 0.0.0.0:8443",
                "8080/tcp -> 0.0.0.0:8080"
            ]
        );
    }

    #[test]
    fn inspect_json_is_indented_by_four_spaces() {
        let values = vec![serde_json::json!({"Name": "app", "Labels": {}})];
        assert_eq!(
            indented_json(&values),
            "[\n    {\n        \"Name\": \"app\",\n        \"Labels\": {}\n    }\n]"
        );
    }

    #[test]
    fn os_errors_read_like_go() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_error_text(&e), "no such file or directory");
        let e = open_error(std::path::Path::new("x.env"), &e);
        assert_eq!(e.to_string(), "open x.env: no such file or directory");
    }
}
