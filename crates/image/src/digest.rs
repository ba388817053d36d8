//! SHA-256 digests: hashing readers, layer chain ids and image-id helpers.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Length of the short id Docker shows (`docker images`, conflict messages).
const SHORT_ID_LEN: usize = 12;

/// A reader that hashes (and counts) every byte read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads the rest of the stream so the digest covers all of it.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// `sha256:<hex>` of everything read so far.
    pub(crate) fn digest(self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// OCI chain id: `chain(L1) = diff(L1)`, `chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln))`.
pub(crate) fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(parent) => sha256_digest(format!("{parent} {diff_id}").as_bytes()),
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex part of a `sha256:<64 hex>` digest, if `digest` is one.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && is_lower_hex(hex))
}

/// The 12-hex short form of an id (with or without `sha256:`).
pub(crate) fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(SHORT_ID_LEN)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_of_first_layer_is_its_diff_id_and_then_hashes_parent() {
        let d1 = sha256_digest(b"one");
        let d2 = sha256_digest(b"two");
        assert_eq!(chain_id(None, &d1), d1);
        assert_eq!(
            chain_id(Some(&d1), &d2),
            sha256_digest(format!("{d1} {d2}").as_bytes())
        );
    }

    #[test]
    fn hashing_reader_digest_matches_direct_hash() {
        let mut r = HashingReader::new(&b"hello world"[..]);
        r.drain().unwrap();
        assert_eq!(r.digest(), sha256_digest(b"hello world"));
    }

    #[test]
    fn short_id_takes_twelve_hex_digits() {
        assert_eq!(
            short_id(&format!("sha256:{}", "ab".repeat(32))),
            "abababababab"
        );
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
    }
}
