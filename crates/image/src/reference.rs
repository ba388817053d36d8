//! Docker image references: parsing, validation and normalization.
//!
//! A reference is `[domain[:port]/]path[:tag][@digest]`. The store keys tags by
//! the short "familiar" form Docker displays (`busybox:latest`,
//! `localhost:5000/app:v1`), so `docker.io/library/busybox` and `busybox` are
//! the same name. This module does not know which names exist.

use crate::error::ImageError;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, validated image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses and validates a reference the way Docker's normalizing parser does.
    pub(crate) fn parse(input: &str) -> Result<ImageRef, ImageError> {
        if input.is_empty() {
            return Err(invalid_format());
        }
        if input.len() == 64 && crate::digest::is_lower_hex(input) {
            return Err(ImageError::invalid(format!(
                "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                if !is_valid_digest(digest) {
                    return Err(invalid_format());
                }
                (name, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(i) if !name_and_tag[i + 1..].contains('/') => {
                let tag = &name_and_tag[i + 1..];
                if !is_valid_tag(tag) {
                    return Err(invalid_format());
                }
                (&name_and_tag[..i], Some(tag.to_string()))
            }
            _ => (name_and_tag, None),
        };
        let (domain, path) = split_domain(name);
        if path.to_lowercase() != path {
            return Err(ImageError::invalid(format!(
                "invalid reference format: repository name ({path}) must be lowercase"
            )));
        }
        if domain != DEFAULT_DOMAIN && !is_valid_domain(&domain) {
            return Err(invalid_format());
        }
        if path.is_empty() || !path.split('/').all(is_valid_path_component) {
            return Err(invalid_format());
        }
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(ImageError::invalid(
                "invalid reference format: repository name must not be more than 255 characters",
            ));
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Adds the `latest` tag when the reference has neither tag nor digest.
    pub(crate) fn with_default_tag(mut self) -> ImageRef {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    pub(crate) fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub(crate) fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository name as Docker shows it: `busybox`, `foo/bar`, `localhost:5000/app`.
    pub(crate) fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The familiar name with its tag and digest: `busybox:latest`.
    pub(crate) fn familiar(&self) -> String {
        self.with_suffixes(self.familiar_name())
    }

    /// The fully qualified form: `docker.io/library/busybox:latest`.
    pub(crate) fn full(&self) -> String {
        self.with_suffixes(format!("{}/{}", self.domain, self.path))
    }

    fn with_suffixes(&self, mut name: String) -> String {
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name
    }
}

/// Normalizes a reference for display and messages: `busybox` ->
/// `busybox:latest`, `docker.io/library/busybox` -> `busybox:latest`,
/// `localhost:5000/x` -> `localhost:5000/x:latest`; digest references keep
/// their digest. Input that is not a valid reference is returned unchanged.
pub fn normalize_reference(reference: &str) -> String {
    match ImageRef::parse(reference) {
        Ok(parsed) => parsed.with_default_tag().familiar(),
        Err(_) => reference.to_string(),
    }
}

/// Validates a tag target (`repo[:tag]`, no digest) and returns its familiar
/// form with the default tag: what `docker tag` and `docker import` store.
pub fn tag_target(target: &str) -> Result<String, ImageError> {
    let parsed = ImageRef::parse(target)?;
    if parsed.digest().is_some() {
        return Err(ImageError::invalid(
            "refusing to create a tag with a digest reference",
        ));
    }
    Ok(parsed.with_default_tag().familiar())
}

fn invalid_format() -> ImageError {
    ImageError::invalid("invalid reference format")
}

/// Splits `name` into domain and path, applying Docker Hub's defaults.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_PREFIX}{path}");
    }
    (domain, path)
}

/// `[a-z0-9]+` runs separated by `.`, `_`, `__` or one or more `-`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A hostname (labels of alphanumerics and inner hyphens) or a bracketed IPv6
/// address, with an optional numeric port.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.is_empty() {
        return domain.starts_with('[');
    }
    host.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    })
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_valid_digest(digest: &str) -> bool {
    matches!(digest.split_once(':'), Some(("sha256", hex)) if hex.len() == 64 && crate::digest::is_lower_hex(hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageErrorKind;

    #[test]
    fn normalize_strips_docker_hub_prefixes_and_adds_latest() {
        assert_eq!(normalize_reference("busybox"), "busybox:latest");
        assert_eq!(
            normalize_reference("docker.io/library/busybox"),
            "busybox:latest"
        );
        assert_eq!(
            normalize_reference("index.docker.io/library/busybox:1"),
            "busybox:1"
        );
        assert_eq!(normalize_reference("library/busybox"), "busybox:latest");
        assert_eq!(normalize_reference("foo/bar"), "foo/bar:latest");
        assert_eq!(
            normalize_reference("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(
            normalize_reference("registry.example.com/a/b:v2"),
            "registry.example.com/a/b:v2"
        );
    }

    #[test]
    fn normalize_keeps_digest_references() {
        let d = format!("x@sha256:{}", "a".repeat(64));
        assert_eq!(normalize_reference(&d), d);
    }

    #[test]
    fn full_form_is_fully_qualified() {
        let r = ImageRef::parse("busybox").unwrap().with_default_tag();
        assert_eq!(r.full(), "docker.io/library/busybox:latest");
        let r = ImageRef::parse("localhost:5000/x:1").unwrap();
        assert_eq!(r.full(), "localhost:5000/x:1");
    }

    #[test]
    fn uppercase_repository_is_rejected_with_docker_message() {
        let err = ImageRef::parse("Bad").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid reference format: repository name (library/Bad) must be lowercase"
        );
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
    }

    #[test]
    fn malformed_references_are_invalid_format() {
        for bad in [
            "",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "x:",
            "x:-tag",
            "x@sha256:abc",
            "a//b",
            "bad host:5000/x",
            "host:port/x",
            &format!("x:{}", "t".repeat(129)),
        ] {
            let err = ImageRef::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), "invalid reference format", "{bad:?}");
        }
    }

    #[test]
    fn valid_references_parse() {
        for good in [
            "a",
            "a.b_c__d---e",
            "my-registry.local:5000/team/app:v1.2_rc-3",
            "[::1]:5000/app",
            "localhost/app",
            &format!("x:{}", "t".repeat(128)),
        ] {
            ImageRef::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn sixty_four_hex_is_not_a_repository_name() {
        let err = ImageRef::parse(&"a".repeat(64)).unwrap_err();
        assert!(err
            .to_string()
            .contains("cannot specify 64-byte hexadecimal"));
    }
}
