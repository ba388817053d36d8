//! Detach keys: the byte sequence (default ctrl-p ctrl-q) that ends an
//! attach without stopping the container.

use berth_api::ApiError;

/// Docker's default.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// Parses `ctrl-p,ctrl-q`, `ctrl-a`, `x,y`: each key a `ctrl-<c>` or one character.
pub fn parse(keys: &str) -> Result<Vec<u8>, ApiError> {
    let invalid = || ApiError::invalid(format!("Invalid detach keys ({keys}) provided"));
    keys.split(',')
        .map(|key| {
            let key = key.trim();
            if let Some(c) = key.strip_prefix("ctrl-") {
                let c = c.as_bytes();
                if c.len() != 1 {
                    return Err(invalid());
                }
                match c[0].to_ascii_lowercase() {
                    b'a'..=b'z' => Ok(c[0].to_ascii_lowercase() - b'a' + 1),
                    b'@' => Ok(0),
                    b'[' => Ok(27),
                    b'\\' => Ok(28),
                    b']' => Ok(29),
                    b'^' => Ok(30),
                    b'_' => Ok(31),
                    _ => Err(invalid()),
                }
            } else if key.len() == 1 {
                Ok(key.as_bytes()[0])
            } else {
                Err(invalid())
            }
        })
        .collect()
}

/// Watches a stream of stdin bytes for the sequence; bytes that might be
/// its start are held back until it is clear they are not.
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

/// What to do with a chunk of stdin.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Forward these bytes.
    Forward(Vec<u8>),
    /// The sequence was typed: forward these bytes (typed before it), then detach.
    Detach(Vec<u8>),
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, matched: 0 }
    }

    pub fn scan(&mut self, input: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(input.len());
        for &byte in input {
            if self.keys.is_empty() {
                out.push(byte);
                continue;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(byte);
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        assert_eq!(parse(DEFAULT).unwrap(), [16, 17]);
        assert_eq!(parse("ctrl-a").unwrap(), [1]);
        assert_eq!(parse("a,b,ctrl-[").unwrap(), [b'a', b'b', 27]);
        assert_eq!(
            parse("ctrl-").unwrap_err().message,
            "Invalid detach keys (ctrl-) provided"
        );
        assert!(parse("abc").is_err());
    }

    #[test]
    fn detects_the_sequence_across_chunks_and_forwards_near_misses() {
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.scan(b"ab\x10"), Scan::Forward(b"ab".to_vec()));
        assert_eq!(m.scan(b"c"), Scan::Forward(b"\x10c".to_vec()));
        assert_eq!(m.scan(b"x\x10"), Scan::Forward(b"x".to_vec()));
        assert_eq!(m.scan(b"\x11rest"), Scan::Detach(Vec::new()));
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.scan(b"\x10\x10\x11"), Scan::Detach(b"\x10".to_vec()));
    }
}
