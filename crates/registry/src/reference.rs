//! Image references (`busybox`, `host:5000/team/app:1.0`, `repo@sha256:...`)
//! and Docker's normalization of them.
//!
//! The grammar and the rules are those of `distribution/reference`
//! (`ParseNormalizedNamed` then `TagNameOnly`): a first path component is a
//! registry when it is `localhost`, contains `.` or `:`, or has upper-case
//! letters; otherwise the image is on Docker Hub (`docker.io`), where a
//! single component gets the `library/` prefix. A reference with neither
//! tag nor digest gets `:latest`. Error texts are Docker's.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::digest::Digest;
use crate::error::Error;

/// The domain Docker Hub images are named under.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host Docker Hub's registry API is served from.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
const LEGACY_HUB_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;

const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const TAG: &str = r"[\w][\w.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

fn domain_and_port() -> String {
    let domain_name = format!(r"{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*");
    let ipv6 = r"\[(?:[a-fA-F0-9:]+)\]";
    format!("(?:{domain_name}|{ipv6})(?::[0-9]+)?")
}

fn remote_name() -> String {
    let component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{component}(?:/{component})*")
}

/// `name[:tag][@digest]`, capturing the three parts.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    Regex::new(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$")).expect("reference regexp")
});

/// A name split into its domain and path.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
    .expect("name regexp")
});

static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-f0-9]{64}$").expect("identifier regexp"));

/// A normalized image reference: a domain, a repository path, and a tag
/// and/or a digest (at least one of them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// The domain as Docker names it: `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The host (and port) whose `/v2/` API serves this image:
    /// `registry-1.docker.io` for `docker.io`, else the domain.
    pub fn registry(&self) -> &str {
        if self.domain == DOCKER_HUB_DOMAIN {
            DOCKER_HUB_REGISTRY
        } else {
            &self.domain
        }
    }

    /// The repository path on the registry: `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository at another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, Error> {
        if !anchored_match(TAG, tag) {
            return Err(Error::InvalidReference("invalid tag format".into()));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (and no tag): what Docker
    /// records as a RepoDigest.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The full name without tag or digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.repository)
    }

    /// The name as Docker shows it: `busybox`, `team/app`,
    /// `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DOCKER_HUB_DOMAIN {
            return self.name();
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.repository.clone(),
        }
    }

    /// The reference as Docker shows it: `busybox:latest`,
    /// `localhost:5000/app@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        self.push_suffix(&mut out);
        out
    }

    /// What to ask the registry for: the digest when there is one (it is
    /// exact), else the tag.
    pub(crate) fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
    }
}

/// The full form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Reference, Error> {
        parse_normalized(s).map_err(Error::InvalidReference)
    }
}

fn parse_normalized(s: &str) -> Result<Reference, String> {
    if IDENTIFIER.is_match(s) {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder
        .split_once(':')
        .map_or(remainder.as_str(), |(r, _)| r);
    if remote.to_lowercase() != remote {
        return Err(format!(
            "invalid reference format: repository name ({remote}) must be lowercase"
        ));
    }
    let mut reference = parse(&format!("{domain}/{remainder}"))?;
    if reference.tag.is_none() && reference.digest.is_none() {
        reference.tag = Some(DEFAULT_TAG.to_string());
    }
    Ok(reference)
}

/// `splitDockerDomain`: which part of a familiar name is the registry.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return (DOCKER_HUB_DOMAIN.into(), format!("{OFFICIAL_PREFIX}{name}"));
    };
    let (domain, remote) =
        if first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first {
            (first.to_string(), rest.to_string())
        } else {
            (DOCKER_HUB_DOMAIN.to_string(), name.to_string())
        };
    let domain = if domain == LEGACY_HUB_DOMAIN {
        DOCKER_HUB_DOMAIN.to_string()
    } else {
        domain
    };
    if domain == DOCKER_HUB_DOMAIN && !remote.contains('/') {
        return (domain, format!("{OFFICIAL_PREFIX}{remote}"));
    }
    (domain, remote)
}

/// `reference.Parse` on an already domain-qualified string.
fn parse(s: &str) -> Result<Reference, String> {
    let Some(caps) = REFERENCE.captures(s) else {
        if s.is_empty() {
            return Err("repository name must have at least one component".into());
        }
        if REFERENCE.is_match(&s.to_lowercase()) {
            return Err("repository name must be lowercase".into());
        }
        return Err("invalid reference format".into());
    };
    let name = &caps[1];
    let name_caps = NAME.captures(name).ok_or("invalid reference format")?;
    let domain = name_caps.get(1).map_or("", |m| m.as_str()).to_string();
    let repository = name_caps[2].to_string();
    if repository.len() > NAME_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_MAX} characters"
        ));
    }
    let digest = caps
        .get(3)
        .map(|m| m.as_str().parse::<Digest>())
        .transpose()?;
    Ok(Reference {
        domain,
        repository,
        tag: caps.get(2).map(|m| m.as_str().to_string()),
        digest,
    })
}

fn anchored_match(pattern: &str, s: &str) -> bool {
    Regex::new(&format!("^{pattern}$")).is_ok_and(|r| r.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        s.parse::<Reference>().unwrap().to_string()
    }

    fn err(s: &str) -> String {
        s.parse::<Reference>().unwrap_err().to_string()
    }

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn familiar_names_go_to_docker_hub_library() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("team/app"), "docker.io/team/app:latest");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn first_component_with_dot_colon_or_localhost_is_a_registry() {
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(full("127.0.0.1:5000/a/b/c"), "127.0.0.1:5000/a/b/c:latest");
        assert_eq!(full("quay.io/org/app"), "quay.io/org/app:latest");
        assert_eq!(full("[::1]:5000/app"), "[::1]:5000/app:latest");
        let r: Reference = "localhost:5000/app".parse().unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "app");
    }

    #[test]
    fn docker_hub_is_served_from_registry_1() {
        let r: Reference = "busybox".parse().unwrap();
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.registry(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.familiar(), "busybox:latest");
    }

    #[test]
    fn digest_references_get_no_default_tag() {
        let r: Reference = format!("busybox@sha256:{HEX}").parse().unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().encoded(), HEX);
        assert_eq!(r.familiar(), format!("busybox@sha256:{HEX}"));
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));

        let both: Reference = format!("h:1/x:t@sha256:{HEX}").parse().unwrap();
        assert_eq!(both.tag(), Some("t"));
        assert_eq!(both.manifest_reference(), format!("sha256:{HEX}"));
    }

    #[test]
    fn errors_use_dockers_wording() {
        assert_eq!(
            err("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(err("busybox:"), "invalid reference format");
        assert_eq!(err("a b"), "invalid reference format");
        assert_eq!(err(""), "invalid reference format");
        assert_eq!(err("busybox@sha256:abc"), "invalid reference format");
        assert_eq!(
            err(&format!("busybox@sha256:{}", &HEX[..40])),
            "invalid checksum digest length"
        );
        assert_eq!(
            err(HEX),
            format!("invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings")
        );
        assert_eq!(
            err(&format!("x/{}", "a".repeat(260))),
            "repository name must not be more than 255 characters"
        );
    }

    #[test]
    fn uppercase_first_component_is_a_registry() {
        assert_eq!(full("Registry/app"), "Registry/app:latest");
    }

    #[test]
    fn familiar_keeps_non_hub_domains_and_nested_library() {
        let r: Reference = "localhost:5000/library/app:1".parse().unwrap();
        assert_eq!(r.familiar(), "localhost:5000/library/app:1");
        let r: Reference = "docker.io/library/a/b".parse().unwrap();
        assert_eq!(r.familiar_name(), "library/a/b");
    }

    #[test]
    fn with_tag_and_digest_replace_the_suffix() {
        let r: Reference = "localhost:5000/app:1".parse().unwrap();
        assert_eq!(r.with_tag("2").unwrap().to_string(), "localhost:5000/app:2");
        assert!(r.with_tag("-bad").is_err());
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(
            r.with_digest(d).to_string(),
            format!("localhost:5000/app@sha256:{HEX}")
        );
    }
}
