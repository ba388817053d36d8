//! Files in and out of containers: the stat of a path
//! (`X-Docker-Container-Path-Stat`), `docker diff` entries and the reply of
//! `POST /commit`.

use serde::{Deserialize, Serialize};

/// Go's `os.FileMode` bits that Docker sends for a path.
pub mod mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
    /// Go's `ModeIrregular`: a file of no known type.
    pub const IRREGULAR: u32 = 1 << 19;
}

/// The header `X-Docker-Container-Path-Stat` carries (base64 of this as
/// JSON): a path in a container as Go's `os.Lstat` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` (see [`mode`]).
    pub mode: u32,
    /// RFC 3339 with nanoseconds, as Go writes a `time.Time`.
    pub mtime: String,
    /// For a symlink, the path it finally leads to in the container.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & mode::DIR != 0
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & mode::SYMLINK != 0
    }

    /// A regular file: none of the type bits set.
    pub fn is_regular(&self) -> bool {
        self.mode
            & (mode::DIR
                | mode::SYMLINK
                | mode::DEVICE
                | mode::NAMED_PIPE
                | mode::SOCKET
                | mode::CHAR_DEVICE
                | mode::IRREGULAR)
            == 0
    }
}

/// Go's `os.FileMode` of a Unix `st_mode`: the permission bits, the file
/// type as Go's mode bits, and setuid, setgid and sticky.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const S_IFMT: u32 = 0o170000;
    let mut out = st_mode & 0o777;
    out |= match st_mode & S_IFMT {
        0o060000 => mode::DEVICE,
        0o020000 => mode::DEVICE | mode::CHAR_DEVICE,
        0o040000 => mode::DIR,
        0o010000 => mode::NAMED_PIPE,
        0o120000 => mode::SYMLINK,
        0o140000 => mode::SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        out |= mode::SETUID;
    }
    if st_mode & 0o2000 != 0 {
        out |= mode::SETGID;
    }
    if st_mode & 0o1000 != 0 {
        out |= mode::STICKY;
    }
    out
}

/// One entry of `GET /containers/{id}/changes`: `Kind` 0 modified, 1
/// added, 2 deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesystemChange {
    pub path: String,
    pub kind: u8,
}

impl FilesystemChange {
    /// `C`, `A` or `D`, as `docker diff` prints the kind.
    pub fn letter(&self) -> &'static str {
        match self.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        }
    }
}

/// The reply of `POST /commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResponse {
    #[serde(rename = "Id")]
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_modes_become_go_file_modes() {
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o040755), mode::DIR | 0o755);
        assert_eq!(go_file_mode(0o041777), mode::DIR | mode::STICKY | 0o777);
        assert_eq!(go_file_mode(0o120777), mode::SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o104755), mode::SETUID | 0o755);
        assert_eq!(go_file_mode(0o102755), mode::SETGID | 0o755);
        assert_eq!(
            go_file_mode(0o020666),
            mode::DEVICE | mode::CHAR_DEVICE | 0o666
        );
        assert_eq!(go_file_mode(0o060660), mode::DEVICE | 0o660);
        assert_eq!(go_file_mode(0o010644), mode::NAMED_PIPE | 0o644);
        assert_eq!(go_file_mode(0o140755), mode::SOCKET | 0o755);
    }

    #[test]
    fn a_stat_reads_as_docker_writes_it() {
        let stat: PathStat = serde_json::from_str(
            r#"{"name":"etc","size":4096,"mode":2147484141,"mtime":"2024-01-02T03:04:05.5Z","linkTarget":""}"#,
        )
        .unwrap();
        assert!(stat.is_dir() && !stat.is_symlink() && !stat.is_regular());
        assert_eq!(stat.mode & 0o777, 0o755);
        let json = serde_json::to_string(&stat).unwrap();
        assert!(json.contains(r#""linkTarget":"""#), "{json}");
        let change: FilesystemChange = serde_json::from_str(r#"{"Path":"/etc","Kind":2}"#).unwrap();
        assert_eq!(change.letter(), "D");
    }
}
