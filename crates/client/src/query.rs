//! Query strings and path segments, percent-encoded the way Go's `net/url`
//! builds them for the docker client.

use std::fmt::Write;

/// An ordered list of query parameters; keys may repeat (`names=a&names=b`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(Vec<(&'static str, String)>);

impl Query {
    pub(crate) fn new() -> Self {
        Query::default()
    }

    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.0.push((key, value.into()));
        self
    }

    pub(crate) fn push_opt(
        &mut self,
        key: &'static str,
        value: Option<impl ToString>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.0.push((key, value.to_string()));
        }
        self
    }

    /// `filters=<JSON>`, left out when there are none.
    pub(crate) fn filters(&mut self, filters: &berth_api::Filters) -> &mut Self {
        if !filters.is_empty() {
            self.0.push(("filters", filters.to_json()));
        }
        self
    }

    /// Adds `key=1` when `on`; Docker reads a missing key as false.
    pub(crate) fn flag(&mut self, key: &'static str, on: bool) -> &mut Self {
        if on {
            self.0.push((key, "1".to_string()));
        }
        self
    }

    /// `?k=v&...`, or nothing when empty.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.0.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            escape_into(&mut out, key, b"");
            out.push('=');
            escape_into(&mut out, value, b"");
        }
        out
    }
}

/// Escapes a path segment such as a container name or an image reference;
/// `/`, `:` and `@` stay as they are, as in Docker's image routes.
pub(crate) fn path_segment(value: &str) -> String {
    let mut out = String::new();
    escape_into(&mut out, value, b"/:@");
    out
}

fn escape_into(out: &mut String, value: &str, keep: &[u8]) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            write!(out, "%{byte:02X}").expect("writing to a String never fails");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_values_and_repeats_keys() {
        let mut q = Query::new();
        q.push("names", "busybox:latest")
            .push("names", "a b")
            .flag("force", true)
            .flag("noprune", false)
            .push_opt("t", Some(5))
            .push_opt("signal", None::<&str>);
        assert_eq!(
            q.encode(),
            "?names=busybox%3Alatest&names=a%20b&force=1&t=5"
        );
    }

    #[test]
    fn json_filters_are_escaped() {
        let mut q = Query::new();
        q.push("filters", r#"{"name":["web"]}"#);
        assert_eq!(q.encode(), "?filters=%7B%22name%22%3A%5B%22web%22%5D%7D");
        assert_eq!(Query::new().encode(), "");
    }

    #[test]
    fn image_references_keep_their_separators_in_paths() {
        assert_eq!(
            path_segment("localhost:5000/app@sha256:ab"),
            "localhost:5000/app@sha256:ab"
        );
        assert_eq!(path_segment("we b?x"), "we%20b%3Fx");
    }
}
