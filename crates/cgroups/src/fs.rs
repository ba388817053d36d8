//! Small helpers for cgroupfs files: single-write values, flat-keyed and
//! nested-keyed parsers. Every error carries the file's path.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a whole cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file that may be absent: `Ok(None)` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads a single unsigned number; `max` reads as `u64::MAX`.
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let text = read(path)?;
    parse_u64(text.trim()).ok_or_else(|| Error::Parse {
        path: path.to_path_buf(),
        msg: format!("expected a number, found {:?}", text.trim()),
    })
}

/// Reads a single number from a file that may be absent.
pub(crate) fn read_u64_opt(path: &Path) -> Result<Option<u64>> {
    if !path.exists() {
        return Ok(None);
    }
    read_u64(path).map(Some)
}

/// Parses a cgroup number; `max` is `u64::MAX`, negative values (v1 `-1`) too.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        return Some(u64::MAX);
    }
    match s.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => s.parse::<i64>().ok().filter(|v| *v < 0).map(|_| u64::MAX),
    }
}

/// Writes `value` to a cgroup file in one `write(2)`, as cgroupfs expects.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    tracing::trace!(path = %path.display(), value, "cgroup write");
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)
}

/// Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...).
/// Lines whose value is not a number are skipped.
pub(crate) fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let key = it.next()?;
            let value = parse_u64(it.next()?)?;
            Some((key.to_string(), value))
        })
        .collect()
}

/// Parses the pid list of `cgroup.procs`.
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<u32>> {
    text.split_whitespace()
        .map(|p| {
            p.parse::<u32>().map_err(|_| Error::Parse {
                path: path.to_path_buf(),
                msg: format!("bad pid {p:?}"),
            })
        })
        .collect()
}

/// Reads the pids in a cgroup directory (its `cgroup.procs`).
pub(crate) fn read_procs(dir: &Path) -> Result<Vec<u32>> {
    let path = dir.join("cgroup.procs");
    let text = read(&path)?;
    parse_pids(&path, &text)
}

/// Creates a directory if missing; returns whether it was created.
pub(crate) fn mkdir(path: &Path) -> Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(Error::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Removes a cgroup directory: fine if already gone; retries briefly while
/// the kernel still reports it busy (tasks just exited, css not yet released).
pub(crate) fn rmdir(path: &Path) -> Result<()> {
    let mut delay = std::time::Duration::from_millis(5);
    for attempt in 0.. {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 10 => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(200));
            }
            Err(source) => {
                return Err(Error::Remove {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    unreachable!("the retry loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_parses_numbers_and_skips_others() {
        let m = parse_flat_keyed("usage_usec 42\nnr_periods 0\nbogus x\nmax max\n");
        assert_eq!(m["usage_usec"], 42);
        assert_eq!(m["nr_periods"], 0);
        assert_eq!(m["max"], u64::MAX);
        assert!(!m.contains_key("bogus"));
    }

    #[test]
    fn parse_u64_treats_max_and_negative_as_unlimited() {
        assert_eq!(parse_u64("max"), Some(u64::MAX));
        assert_eq!(parse_u64("-1"), Some(u64::MAX));
        assert_eq!(parse_u64("17"), Some(17));
        assert_eq!(parse_u64("x"), None);
    }
}
