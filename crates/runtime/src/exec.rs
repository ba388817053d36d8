//! Finding the container's command and exec'ing it, with Docker's wording for
//! every way that can fail.
//!
//! The lookup follows Go's `exec.LookPath` (which Docker's runtime uses), so
//! the messages match what `docker run` prints and what the Docker CLI turns
//! into exit statuses 127 ("executable file not found", "no such file or
//! directory") and 126 ("permission denied", "is a directory").

use crate::failure::{errno_text, StartFailure, EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND};
use nix::errno::Errno;
use nix::sys::stat::SFlag;
use nix::unistd::AccessFlags;
use std::ffi::CString;

/// `PATH` when the container's environment has none (Docker's default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a candidate file cannot be run.
enum NotRunnable {
    Stat(Errno),
    Directory,
    Access(Errno),
}

/// Resolves `name` (argv\[0\]) to the file to exec. Names with a `/` are used
/// as they are (relative to the working directory); others are searched in
/// `path` (the container's `PATH`, [`DEFAULT_PATH`] when unset). Relative
/// `PATH` entries are never searched. Checks run with the caller's
/// credentials, so call this after switching user.
pub(crate) fn find_executable(name: &str, path: Option<&str>) -> Result<String, StartFailure> {
    if name.contains('/') {
        return match runnable(name) {
            Ok(()) => Ok(name.to_owned()),
            Err(NotRunnable::Stat(errno)) => Err(StartFailure::new(
                format!("exec: \"{name}\": stat {name}: {}", errno_text(errno)),
                if matches!(errno, Errno::ENOENT | Errno::ENOTDIR) {
                    EXIT_NOT_FOUND
                } else {
                    EXIT_CANNOT_INVOKE
                },
            )),
            Err(NotRunnable::Directory) => Err(StartFailure::new(
                format!("exec: \"{name}\": is a directory"),
                EXIT_CANNOT_INVOKE,
            )),
            Err(NotRunnable::Access(errno)) => Err(StartFailure::new(
                format!("exec: \"{name}\": {}", errno_text(errno)),
                EXIT_CANNOT_INVOKE,
            )),
        };
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .find(|candidate| runnable(candidate).is_ok())
        .ok_or_else(|| {
            StartFailure::new(
                format!("exec: \"{name}\": executable file not found in $PATH"),
                EXIT_NOT_FOUND,
            )
        })
}

fn runnable(path: &str) -> Result<(), NotRunnable> {
    let stat = nix::sys::stat::stat(path).map_err(NotRunnable::Stat)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        return Err(NotRunnable::Directory);
    }
    nix::unistd::access(path, AccessFlags::X_OK).map_err(NotRunnable::Access)
}

/// Replaces this process with `path`. Returns only on failure: a missing file
/// (for instance a script's interpreter) exits 127, anything else 126.
pub(crate) fn exec(path: &str, args: &[String], env: &[String]) -> StartFailure {
    let failure = |errno: Errno| {
        let exit_code = if errno == Errno::ENOENT {
            EXIT_NOT_FOUND
        } else {
            EXIT_CANNOT_INVOKE
        };
        StartFailure::new(format!("exec {path}: {}", errno_text(errno)), exit_code)
    };
    let c_strings = |items: &[String]| -> Result<Vec<CString>, Errno> {
        items
            .iter()
            .map(|s| CString::new(s.as_str()).map_err(|_| Errno::EINVAL))
            .collect()
    };
    let prepared = CString::new(path)
        .map_err(|_| Errno::EINVAL)
        .and_then(|p| Ok((p, c_strings(args)?, c_strings(env)?)));
    match prepared {
        Ok((path, args, env)) => match nix::unistd::execve(&path, &args, &env) {
            Err(errno) => failure(errno),
            Ok(never) => match never {},
        },
        Err(errno) => failure(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn write_file(path: &Path, content: &str, mode: u32) {
        fs::write(path, content).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// `first/` has a non-executable `tool` and a directory `prog`, `second/`
    /// has executable `tool` and `prog`.
    fn two_bin_dirs() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        fs::create_dir(&first).unwrap();
        fs::create_dir(&second).unwrap();
        write_file(&first.join("tool"), "", 0o644);
        fs::create_dir(first.join("prog")).unwrap();
        write_file(&second.join("tool"), "#!/bin/sh\n", 0o755);
        write_file(&second.join("prog"), "#!/bin/sh\n", 0o700);
        let path = format!("relative:{}:{}/", first.display(), second.display());
        (dir, path)
    }

    #[test]
    fn path_search_skips_non_executables_and_directories() {
        let (dir, path) = two_bin_dirs();
        let second = dir.path().join("second");
        assert_eq!(
            find_executable("tool", Some(&path)).unwrap(),
            second.join("tool").to_str().unwrap()
        );
        assert_eq!(
            find_executable("prog", Some(&path)).unwrap(),
            second.join("prog").to_str().unwrap()
        );
    }

    #[test]
    fn command_missing_from_path_is_not_found_127() {
        let (_dir, path) = two_bin_dirs();
        let failure = find_executable("nosuchcmd", Some(&path)).unwrap_err();
        assert_eq!(
            failure,
            StartFailure::new(
                "exec: \"nosuchcmd\": executable file not found in $PATH",
                127
            )
        );
    }

    #[test]
    fn empty_path_finds_nothing_and_unset_path_uses_default() {
        assert_eq!(find_executable("sh", Some("")).unwrap_err().exit_code, 127);
        assert!(find_executable("sh", None).unwrap().ends_with("/sh"));
    }

    #[test]
    fn explicit_missing_path_reports_stat_error_127() {
        assert_eq!(
            find_executable("/x/y", None).unwrap_err(),
            StartFailure::new("exec: \"/x/y\": stat /x/y: no such file or directory", 127)
        );
    }

    #[test]
    fn explicit_non_executable_file_is_permission_denied_126() {
        let (dir, _) = two_bin_dirs();
        let tool = dir.path().join("first/tool");
        let name = tool.to_str().unwrap();
        assert_eq!(
            find_executable(name, None).unwrap_err(),
            StartFailure::new(format!("exec: \"{name}\": permission denied"), 126)
        );
    }

    #[test]
    fn explicit_directory_is_a_directory_126() {
        let (dir, _) = two_bin_dirs();
        let prog = dir.path().join("first/prog");
        let name = prog.to_str().unwrap();
        assert_eq!(
            find_executable(name, None).unwrap_err(),
            StartFailure::new(format!("exec: \"{name}\": is a directory"), 126)
        );
    }

    #[test]
    fn exec_of_unknown_format_is_exec_format_error_126() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        write_file(&junk, "\u{1}\u{2}\u{3} not a program", 0o755);
        let path = junk.to_str().unwrap();
        assert_eq!(
            exec(path, &["junk".into()], &[]),
            StartFailure::new(format!("exec {path}: exec format error"), 126)
        );
    }

    #[test]
    fn exec_of_script_with_missing_interpreter_is_no_such_file_127() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        write_file(&script, "#!/nonexistent/interpreter\n", 0o755);
        let path = script.to_str().unwrap();
        assert_eq!(
            exec(path, &["script".into()], &[]),
            StartFailure::new(format!("exec {path}: no such file or directory"), 127)
        );
    }

    #[test]
    fn exec_with_nul_in_an_argument_fails_without_execing() {
        let failure = exec("/bin/true", &["a\0b".into()], &[]);
        assert_eq!(failure.message, "exec /bin/true: invalid argument");
    }
}
