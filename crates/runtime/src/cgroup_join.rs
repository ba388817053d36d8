//! Placing a new process in its cgroups before it runs anything: the
//! container's init ([`crate::spawn_init`]) and an exec'd process
//! ([`crate::spawn_exec`]) alike.
//!
//! The `cgroup.procs` files are opened on the host, before the caller forks
//! (and, for an exec, before the monitor joins the container's namespaces):
//! the kernel checks a migration against the opener's credentials and cgroup
//! namespace, and the host's paths are not visible from inside a container.
//! The child blocks on a close-on-exec "go" pipe ([`crate::init::wait_for_go`])
//! until the parent has written its pid into every file; if the parent goes
//! away first, the child reads EOF and exits without doing anything.

use crate::failure::StartFailure;
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// Open `cgroup.procs` files, one per hierarchy.
#[derive(Debug, Default)]
pub struct CgroupProcs {
    /// Whose process joins, for messages ("the container's init").
    who: &'static str,
    files: Vec<(PathBuf, File)>,
}

impl CgroupProcs {
    /// Opens every file of `paths` for writing; fails naming the first one
    /// that cannot be opened.
    pub(crate) fn open(paths: &[PathBuf], who: &'static str) -> Result<CgroupProcs, StartFailure> {
        let files = paths
            .iter()
            .map(|path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(|file| (path.clone(), file))
                    .map_err(|e| failure(who, path, &e))
            })
            .collect::<Result<_, _>>()?;
        Ok(CgroupProcs { who, files })
    }

    /// Opens the files for an exec'd process (see [`crate::ExecSpec`]).
    pub fn open_for_exec(paths: &[PathBuf]) -> Result<CgroupProcs, String> {
        CgroupProcs::open(paths, "the exec'd process").map_err(|f| f.message)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// A go pipe when there is anything to join: (read end for the child,
    /// write end for [`CgroupProcs::enter`]).
    pub(crate) fn go_pipe(&self) -> Result<Option<(OwnedFd, OwnedFd)>, nix::Error> {
        if self.is_empty() {
            return Ok(None);
        }
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map(Some)
    }

    /// Writes `pid` into every file, one write each as the kernel wants it,
    /// then sends the go byte and closes the pipe. The caller kills the child
    /// on failure.
    pub(crate) fn enter(&self, pid: Pid, go: OwnedFd) -> Result<(), StartFailure> {
        let decimal = pid.as_raw().to_string();
        for (path, file) in &self.files {
            let mut file = file;
            file.write_all(decimal.as_bytes())
                .map_err(|e| failure(self.who, path, &e))?;
        }
        File::from(go)
            .write_all(b"1")
            .map_err(|e| StartFailure::io(format!("starting {}", self.who), &e))
    }
}

fn failure(who: &str, path: &std::path::Path, error: &std::io::Error) -> StartFailure {
    StartFailure::io(format!("adding {who} to cgroup {}", path.display()), error)
}
