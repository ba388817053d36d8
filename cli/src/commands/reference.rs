//! Image references as the docker CLI reads them before it asks the daemon
//! anything (distribution's `ParseNormalizedNamed`): `busybox` is
//! `docker.io/library/busybox`, a first component with a `.` or `:` (or
//! `localhost`) is a registry host. Pull and push need the registry (whose
//! credentials to send), the familiar name (what the API takes) and the
//! full name (what `pull` prints last).
//!
//! Only the grammar is checked here; whether the image exists is the
//! daemon's business.

use std::fmt;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A parsed image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses `input` with Docker Hub's defaults, failing with docker's
    /// words: `invalid reference format`, `... must be lowercase`.
    pub fn parse(input: &str) -> Result<Reference, String> {
        if input.len() == 64 && is_hex(input) {
            return Err(format!(
                "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
            ));
        }
        let (domain, remainder) = split_domain(input);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            return Err(format!(
                "invalid reference format: repository name ({remote_name}) must be lowercase"
            ));
        }
        let invalid = || "invalid reference format".to_string();
        let (name_and_tag, digest) = match remainder.split_once('@') {
            Some((name, digest)) if is_valid_digest(digest) => (name, Some(digest.to_string())),
            Some(_) => return Err(invalid()),
            None => (remainder.as_str(), None),
        };
        let (path, tag) = match name_and_tag.split_once(':') {
            Some((path, tag)) if is_valid_tag(tag) => (path, Some(tag.to_string())),
            Some(_) => return Err(invalid()),
            None => (name_and_tag, None),
        };
        if !is_valid_domain(&domain) || path.is_empty() || !path.split('/').all(is_valid_component)
        {
            return Err(invalid());
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(format!(
                "repository name must not be more than {NAME_MAX} characters"
            ));
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// Neither tag nor digest: `busybox`.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Adds the `latest` tag to a name-only reference (docker's
    /// `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The registry: `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What the API's `tag` parameter takes: the digest if there is one,
    /// else the tag.
    pub fn api_tag(&self) -> Option<&str> {
        self.digest().or(self.tag())
    }

    /// The name as docker shows it: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return format!("{}/{}", self.domain, self.path);
        }
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The familiar name with tag and digest: `busybox:latest`.
    pub fn familiar(&self) -> String {
        self.with_suffixes(self.familiar_name())
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

/// The full name: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_suffixes(format!("{}/{}", self.domain, self.path)))
    }
}

/// docker's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
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
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        rest = format!("{OFFICIAL_PREFIX}{rest}");
    }
    (domain, rest)
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_valid_component(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|separator| !separator.is_empty())
        .all(|separator| {
            matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-')
        })
}

/// Host labels (alphanumerics, inner hyphens) joined by dots, or a bracketed
/// IPv6 address; then an optional numeric port.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((addr, after)) => {
                let ok =
                    !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
                if !ok {
                    return false;
                }
                match after {
                    "" => return true,
                    _ => ("", after.strip_prefix(':')),
                }
            }
            None => return false,
        },
        None => match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        },
    };
    let port_ok = match port {
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => true,
    };
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    port_ok && (domain.starts_with('[') || host.split('.').all(label_ok))
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `sha256:` and 64 lowercase hex digits (or sha384, sha512).
fn is_valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && is_hex(hex),
        Some(("sha384", hex)) => hex.len() == 96 && is_hex(hex),
        Some(("sha512", hex)) => hex.len() == 128 && is_hex(hex),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:2d7e9a3c4b5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0";

    #[test]
    fn docker_hub_names_are_normalized() {
        let r = Reference::parse("busybox").unwrap();
        assert!(r.is_name_only());
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        let r = r.with_default_tag();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.api_tag(), Some("latest"));

        let r = Reference::parse("index.docker.io/me/app:v1").unwrap();
        assert_eq!(r.to_string(), "docker.io/me/app:v1");
        assert_eq!(r.familiar(), "me/app:v1");
        let r = Reference::parse("docker.io/library/busybox:1.36").unwrap();
        assert_eq!(r.familiar(), "busybox:1.36");
    }

    #[test]
    fn private_registries_keep_their_host() {
        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.familiar_name(), "localhost:5000/app");
        assert_eq!(r.to_string(), "localhost:5000/app");
        let r = Reference::parse(&format!("registry.example.com/team/app@{DIGEST}")).unwrap();
        assert_eq!(r.domain(), "registry.example.com");
        assert_eq!(r.api_tag(), Some(DIGEST));
        assert!(!r.is_name_only());
        assert_eq!(r.clone().with_default_tag(), r);
        let r = Reference::parse("localhost/app:v2").unwrap();
        assert_eq!(r.domain(), "localhost");
        let r = Reference::parse("[::1]:5000/app").unwrap();
        assert_eq!(r.domain(), "[::1]:5000");
    }

    #[test]
    fn bad_references_fail_with_dockers_words() {
        for bad in [
            "",
            "a b",
            "busybox:",
            "busybox:-x",
            "-x",
            "app@sha256:12",
            "host:/x",
            "a//b",
        ] {
            assert_eq!(
                Reference::parse(bad).unwrap_err(),
                "invalid reference format",
                "{bad:?}"
            );
        }
        assert_eq!(
            Reference::parse("Busybox").unwrap_err(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            Reference::parse("localhost:5000/App:v1").unwrap_err(),
            "invalid reference format: repository name (App) must be lowercase"
        );
        let id = "a".repeat(64);
        assert_eq!(
            Reference::parse(&id).unwrap_err(),
            format!("invalid repository name ({id}), cannot specify 64-byte hexadecimal strings")
        );
        let long = format!("x/{}", "a".repeat(260));
        assert!(Reference::parse(&long).unwrap_err().contains("255"));
    }
}
