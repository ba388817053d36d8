//! Content digests (`sha256:<hex>`) and the hashing that verifies content
//! against them as it streams.
//!
//! Parsing follows `opencontainers/go-digest`: the algorithm must be one it
//! can compute (sha256, sha384, sha512) and the hex part must be lower-case
//! and of that algorithm's length.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// A validated content digest such as `sha256:9f86d0...`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The algorithm part (`sha256`).
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map(|(a, _)| a).unwrap_or_default()
    }

    /// The hex part.
    pub fn encoded(&self) -> &str {
        self.0.split_once(':').map(|(_, e)| e).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A hasher of this digest's algorithm, to verify content against it.
    pub(crate) fn verifier(&self) -> Verifier {
        let state = match self.algorithm() {
            "sha384" => Hasher::Sha384(Sha384::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            _ => Hasher::Sha256(Sha256::new()),
        };
        Verifier { state }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = String;

    /// Errors are go-digest's (`invalid checksum digest format`, ...).
    fn from_str(s: &str) -> Result<Digest, String> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err("invalid checksum digest format".into());
        };
        if algorithm.is_empty() || encoded.is_empty() {
            return Err("invalid checksum digest format".into());
        }
        let hex_len = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err("unsupported digest algorithm".into()),
        };
        if encoded.len() != hex_len {
            return Err("invalid checksum digest length".into());
        }
        if !encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("invalid checksum digest format".into());
        }
        Ok(Digest(s.to_string()))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

/// Hashes content as it streams past, with the algorithm of the digest it
/// will be checked against.
pub(crate) struct Verifier {
    state: Hasher,
}

impl Verifier {
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything seen.
    pub fn finish(self) -> Digest {
        let (algorithm, sum) = match self.state {
            Hasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            Hasher::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        Digest(format!("{algorithm}:{sum}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_is_well_known() {
        assert_eq!(
            Digest::sha256(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_checks_algorithm_and_length() {
        assert_eq!(
            "md5:abcd".parse::<Digest>().unwrap_err(),
            "unsupported digest algorithm"
        );
        assert_eq!(
            "sha256:abcd".parse::<Digest>().unwrap_err(),
            "invalid checksum digest length"
        );
        assert_eq!(
            "sha256".parse::<Digest>().unwrap_err(),
            "invalid checksum digest format"
        );
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(upper.parse::<Digest>().is_err());
    }

    #[test]
    fn verifier_uses_the_digest_algorithm() {
        let want = Digest::sha256(b"hello");
        let mut v = want.verifier();
        v.update(b"hel");
        v.update(b"lo");
        assert_eq!(v.finish(), want);

        let sha512: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
        assert_eq!(sha512.verifier().finish().algorithm(), "sha512");
    }
}
