//! Image references for `pull`, `push` and the pull of `run`: parsed and
//! normalized by berth-registry (Docker's rules and wording), plus what the
//! CLI needs beyond that: whether the user named a tag at all (docker says
//! `Using default tag: latest` then, and `-a` wants none).

use std::fmt;

/// A parsed reference that remembers whether it named a tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    inner: berth_registry::Reference,
    /// Neither tag nor digest was given (berth-registry assumes `latest`).
    name_only: bool,
}

impl Reference {
    /// Parses `input` as docker does; errors in docker's words.
    pub fn parse(input: &str) -> Result<Reference, String> {
        let inner: berth_registry::Reference = input.parse().map_err(|e| format!("{e}"))?;
        let last = input.rsplit('/').next().unwrap_or(input);
        Ok(Reference {
            inner,
            name_only: !input.contains('@') && !last.contains(':'),
        })
    }

    /// Neither tag nor digest: `busybox`.
    pub fn is_name_only(&self) -> bool {
        self.name_only
    }

    /// Adds the `latest` tag to a name-only reference (docker's
    /// `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        self.name_only = false;
        self
    }

    /// The registry: `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        self.inner.domain()
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag().filter(|_| !self.name_only)
    }

    pub fn digest(&self) -> Option<&str> {
        self.inner.digest().map(|d| d.as_str())
    }

    /// What the API's `tag` parameter takes: the digest if there is one,
    /// else the tag.
    pub fn api_tag(&self) -> Option<&str> {
        self.digest().or(self.tag())
    }

    /// The name as docker shows it: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        self.inner.familiar_name()
    }

    /// The familiar name with tag and digest: `busybox:latest`.
    pub fn familiar(&self) -> String {
        if self.name_only {
            self.inner.familiar_name()
        } else {
            self.inner.familiar()
        }
    }
}

/// The full name: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name_only {
            f.write_str(&self.inner.name())
        } else {
            write!(f, "{}", self.inner)
        }
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
