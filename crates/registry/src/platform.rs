//! Platforms (`linux/amd64`, `linux/arm/v7`) and the choice of one manifest
//! from a multi-platform list.
//!
//! The matching is containerd's default (`platforms.Only`): names are
//! normalized (`x86_64` is `amd64`, `aarch64` is `arm64`, amd64 `v1` and
//! arm64 `v8` are no variant, bare `arm` is `v7`), and a platform also
//! accepts the older ones it can run, best first: amd64/vN then vN-1...v1
//! then 386; arm/vN down to v5; arm64 then arm/v8 down to v5.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An OCI platform, as in an image index entry or an image config.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            os_version: None,
            os_features: Vec::new(),
            variant: variant.map(str::to_string),
        }
    }

    /// The platform of the machine this runs on (`linux/amd64` on x86-64).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, None).normalized()
    }

    /// containerd's `Normalize`: canonical names and variants.
    pub fn normalized(&self) -> Platform {
        let os = match self.os.to_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = self.architecture.to_lowercase();
        let variant = self.variant.as_deref().unwrap_or("").to_lowercase();
        let (arch, variant) = match arch.as_str() {
            "i386" => ("386".to_string(), String::new()),
            "x86_64" | "x86-64" | "amd64" => {
                let v = if variant == "v1" {
                    String::new()
                } else {
                    variant
                };
                ("amd64".to_string(), v)
            }
            "aarch64" | "arm64" => {
                let v = match variant.as_str() {
                    "8" | "v8" | "v8.0" => String::new(),
                    "9" | "9.0" | "v9.0" => "v9".to_string(),
                    _ => variant,
                };
                ("arm64".to_string(), v)
            }
            "armhf" => ("arm".to_string(), "v7".to_string()),
            "armel" => ("arm".to_string(), "v6".to_string()),
            "arm" => {
                let v = match variant.as_str() {
                    "" | "7" => "v7".to_string(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
                ("arm".to_string(), v)
            }
            _ => (arch, variant),
        };
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            architecture: arch,
            os,
            os_version: self.os_version.clone(),
            os_features,
            variant: (!variant.is_empty()).then_some(variant),
        }
    }
}

impl Default for Platform {
    /// The host's platform, as containerd's and Docker's default.
    fn default() -> Platform {
        Platform::host()
    }
}

/// `os/arch[/variant]`.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = String;

    /// `linux`, `linux/arm64`, `linux/arm/v7` (what `docker pull --platform`
    /// takes).
    fn from_str(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let invalid =
            || format!("\"{s}\": unknown operating system or architecture: invalid argument");
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(invalid());
        }
        let platform = match parts.as_slice() {
            [os] => Platform::new(os, &Platform::host().architecture, None),
            [os, arch] => Platform::new(os, arch, None),
            [os, arch, variant] => Platform::new(os, arch, Some(variant)),
            _ => return Err(invalid()),
        };
        Ok(platform.normalized())
    }
}

/// Ranks candidate platforms for a wanted one: `rank` is `None` for a
/// platform that cannot run, else its place in the preference order
/// (0 is best).
pub(crate) struct Matcher {
    order: Vec<Platform>,
}

impl Matcher {
    pub fn new(wanted: &Platform) -> Matcher {
        let order = compatible(&wanted.normalized())
            .into_iter()
            .map(|p| p.normalized())
            .collect();
        Matcher { order }
    }

    pub fn rank(&self, candidate: &Platform) -> Option<usize> {
        let c = candidate.normalized();
        self.order.iter().position(|w| {
            w.os == c.os
                && w.architecture == c.architecture
                && w.variant == c.variant
                && c.os_features.iter().all(|f| w.os_features.contains(f))
        })
    }
}

/// containerd's `platformVector`: the platform, then the older ones it runs.
fn compatible(p: &Platform) -> Vec<Platform> {
    let with = |arch: &str, variant: Option<String>| Platform {
        architecture: arch.to_string(),
        variant,
        ..p.clone()
    };
    let version = |prefix: &str| {
        p.variant
            .as_deref()
            .and_then(|v| v.strip_prefix(prefix))
            .and_then(|v| v.parse::<u32>().ok())
    };
    let mut out = vec![p.clone()];
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(n) = version("v").filter(|n| *n > 1) {
                out.extend((1..n).rev().map(|k| with("amd64", Some(format!("v{k}")))));
            }
            out.push(with("386", None));
        }
        "arm" => {
            if let Some(n) = version("v").filter(|n| *n > 5) {
                out.extend((5..n).rev().map(|k| with("arm", Some(format!("v{k}")))));
            }
        }
        "arm64" => {
            out = arm64_levels(p.variant.as_deref())
                .into_iter()
                .map(|v| with("arm64", v))
                .collect();
            let arm32 = match p.variant.as_deref() {
                None => Some("v8"),
                Some(v) if v.starts_with("v8") || v.starts_with("v9") => Some("v8"),
                Some(_) => None,
            };
            if let Some(v) = arm32 {
                out.extend(compatible(&with("arm", Some(v.to_string()))));
            }
        }
        _ => {}
    }
    out
}

/// arm64 feature levels a variant runs, best first: v9.N down to v9.0,
/// then v8.(N+5) down to v8.0 (which is no variant); v8.N down to v8.0.
fn arm64_levels(variant: Option<&str>) -> Vec<Option<String>> {
    let level = |major: u32, minor: u32| match minor {
        0 if major == 8 => None,
        0 => Some(format!("v{major}")),
        m => Some(format!("v{major}.{m}")),
    };
    let parse = |v: &str| -> Option<(u32, u32)> {
        let v = v.strip_prefix('v')?;
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    match variant.map_or(Some((8, 0)), parse) {
        Some((8, minor)) if minor <= 9 => (0..=minor).rev().map(|m| level(8, m)).collect(),
        Some((9, minor)) if minor <= 7 => {
            let v8_top = (minor + 5).min(9);
            (0..=minor)
                .rev()
                .map(|m| level(9, m))
                .chain((0..=v8_top).rev().map(|m| level(8, m)))
                .collect()
        }
        _ => vec![variant.map(str::to_string)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn normalizes_aliases() {
        assert_eq!(
            Platform::new("linux", "x86_64", None).normalized(),
            p("linux/amd64")
        );
        assert_eq!(p("linux/amd64/v1"), p("linux/amd64"));
        assert_eq!(p("linux/aarch64/v8"), p("linux/arm64"));
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(
            Platform::new("linux", "armhf", None).normalized(),
            p("linux/arm/v7")
        );
    }

    #[test]
    fn amd64_prefers_itself_then_386() {
        let m = Matcher::new(&p("linux/amd64"));
        assert_eq!(m.rank(&p("linux/amd64")), Some(0));
        assert_eq!(m.rank(&p("linux/386")), Some(1));
        assert_eq!(m.rank(&p("linux/arm64")), None);
        assert_eq!(m.rank(&p("windows/amd64")), None);
        assert_eq!(m.rank(&p("linux/amd64/v3")), None);
    }

    #[test]
    fn amd64_v3_accepts_older_levels() {
        let m = Matcher::new(&p("linux/amd64/v3"));
        assert_eq!(m.rank(&p("linux/amd64/v3")), Some(0));
        assert_eq!(m.rank(&p("linux/amd64/v2")), Some(1));
        assert_eq!(m.rank(&p("linux/amd64")), Some(2));
        assert_eq!(m.rank(&p("linux/amd64/v4")), None);
    }

    #[test]
    fn arm_variants_run_older_ones() {
        let m = Matcher::new(&p("linux/arm/v7"));
        assert_eq!(m.rank(&p("linux/arm/v6")), Some(1));
        assert_eq!(m.rank(&p("linux/arm/v8")), None);
        let m = Matcher::new(&p("linux/arm64"));
        assert_eq!(m.rank(&p("linux/arm64/v8")), Some(0));
        assert!(m.rank(&p("linux/arm/v7")).is_some());
        let m = Matcher::new(&p("linux/arm64/v8.2"));
        assert_eq!(m.rank(&p("linux/arm64/v8.1")), Some(1));
        assert_eq!(m.rank(&p("linux/arm64")), Some(2));
        let m = Matcher::new(&p("linux/arm64/v9"));
        assert_eq!(m.rank(&p("linux/arm64/v8.5")), Some(1));
    }

    #[test]
    fn parse_rejects_empty_parts() {
        assert!("linux/".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }
}
