//! Detach keys: docker's `--detach-keys` values (`ctrl-p,ctrl-q`, `ctrl-a`,
//! `x`) and spotting that sequence in what the user types, so that an
//! attached TTY session can be left while the process keeps running.
//!
//! Like docker, the CLI watches for the sequence itself (only on a TTY,
//! where keystrokes arrive raw) and also passes it to the daemon.

/// `ctrl-p,ctrl-q`.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Parses a comma-separated key list: each key is one character taken as
/// is, or `ctrl-X` for `X` in `@`, `a`..`z`, `[`, `\`, `]`, `^`, `_` (any
/// case). An empty value means the default sequence.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, String> {
    if keys.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    keys.split(',')
        .map(|key| match key.as_bytes() {
            [byte] => Some(*byte),
            _ => control_code(key),
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("Invalid detach keys ({keys}) provided"))
}

/// `ctrl-a` -> 1, `ctrl-@` -> 0, `ctrl-_` -> 31.
fn control_code(key: &str) -> Option<u8> {
    let name = key.to_ascii_lowercase();
    let [byte] = name.strip_prefix("ctrl-")?.as_bytes() else {
        return None;
    };
    match byte {
        b'@' => Some(0),
        b'a'..=b'z' => Some(byte - b'a' + 1),
        b'[' | b'\\' | b']' | b'^' | b'_' => Some(byte - b'[' + 27),
        _ => None,
    }
}

/// Watches a byte stream for the detach sequence. Bytes that might begin
/// the sequence are held back until the next bytes show whether they do;
/// everything else passes through unchanged.
#[derive(Debug, Clone)]
pub struct EscapeDetector {
    keys: Vec<u8>,
    /// How many of `keys` the held-back bytes match.
    matched: usize,
}

impl EscapeDetector {
    pub fn new(keys: Vec<u8>) -> EscapeDetector {
        EscapeDetector { keys, matched: 0 }
    }

    /// Appends to `forward` the bytes of `input` that are not (yet) part of
    /// the sequence; returns true once the whole sequence has been typed, in
    /// which case the rest of `input` is dropped.
    pub fn feed(&mut self, input: &[u8], forward: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            forward.extend_from_slice(input);
            return false;
        }
        for &byte in input {
            let mut held = self.keys[..self.matched].to_vec();
            held.push(byte);
            // The longest tail of what is held that could still start the
            // sequence stays held; whatever comes before it goes through.
            let keep_from = (0..=held.len())
                .find(|&start| self.keys.starts_with(&held[start..]))
                .unwrap_or(held.len());
            forward.extend_from_slice(&held[..keep_from]);
            self.matched = held.len() - keep_from;
            if self.matched == self.keys.len() {
                self.matched = 0;
                return true;
            }
        }
        false
    }

    /// The bytes held back so far, to pass on when the input ends.
    pub fn pending(&self) -> &[u8] {
        &self.keys[..self.matched]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a").unwrap(), [1]);
        assert_eq!(parse_detach_keys("CTRL-Z").unwrap(), [26]);
        assert_eq!(parse_detach_keys("a,b").unwrap(), b"ab");
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse_detach_keys("X").unwrap(), b"X");
    }

    #[test]
    fn bad_detach_keys_are_rejected_with_dockers_words() {
        for keys in ["x,", "ctrl-", "ctrl-1", "ctrl-ab", "alt-a", "ab", "é", ","] {
            assert_eq!(
                parse_detach_keys(keys).unwrap_err(),
                format!("Invalid detach keys ({keys}) provided"),
                "{keys:?}"
            );
        }
    }

    fn feed_all(keys: &[u8], pieces: &[&[u8]]) -> (Vec<u8>, bool, Vec<u8>) {
        let mut detector = EscapeDetector::new(keys.to_vec());
        let mut forward = Vec::new();
        for piece in pieces {
            if detector.feed(piece, &mut forward) {
                return (forward, true, Vec::new());
            }
        }
        let pending = detector.pending().to_vec();
        (forward, false, pending)
    }

    #[test]
    fn the_sequence_detaches_and_is_not_forwarded() {
        let (forward, detached, _) = feed_all(&[16, 17], &[b"ls\r", &[16], &[17], b"more"]);
        assert!(detached);
        assert_eq!(forward, b"ls\r");
        let (forward, detached, _) = feed_all(&[16, 17], &[b"ab\x10\x11cd"]);
        assert!(detached);
        assert_eq!(forward, b"ab");
    }

    #[test]
    fn a_broken_sequence_passes_through_in_order() {
        let (forward, detached, pending) = feed_all(&[16, 17], &[&[16], b"x", &[16, 16]]);
        assert!(!detached);
        assert_eq!(forward, [16, b'x', 16]);
        assert_eq!(pending, [16]);
        // A held prefix that turns out to overlap a real start is not lost.
        let (forward, detached, _) = feed_all(b"aab", &[b"a", b"a", b"a", b"b"]);
        assert!(detached);
        assert_eq!(forward, b"a");
    }

    #[test]
    fn single_key_sequences_detach_at_once() {
        let (forward, detached, _) = feed_all(&[1], &[b"hello\x01world"]);
        assert!(detached);
        assert_eq!(forward, b"hello");
        let (forward, detached, pending) = feed_all(&[1], &[b"plain bytes"]);
        assert!(!detached);
        assert_eq!(forward, b"plain bytes");
        assert!(pending.is_empty());
    }
}
