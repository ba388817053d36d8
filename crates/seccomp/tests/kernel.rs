//! Compiled filters loaded into the real kernel (run as root).
//!
//! Each check forks a child of the (multi-threaded) test process. The child
//! only makes raw syscalls and writes a fixed-size failure record to a pipe
//! before `_exit`: no allocation, no locks. It sets no_new_privs, loads the
//! filter from the bytes `compile` returned with `seccomp(2)`, and runs its
//! checks; the parent reports the failing line, return value and errno.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use berth_seccomp::{compile, compile_json, default_profile, FilterCache, SOCK_FILTER_SIZE};

/// The first failed expectation in a child.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fail {
    line: u32,
    errno: i32,
    ret: i64,
}

type Check<'a> = &'a (dyn Fn() -> Result<(), Fail> + Sync);

fn errno() -> i32 {
    // SAFETY: the thread's errno location.
    unsafe { *libc::__errno_location() }
}

/// `ret` must be -1 with `errno == want`.
fn expect_err(line: u32, ret: i64, want: i32) -> Result<(), Fail> {
    let e = errno();
    if ret == -1 && e == want {
        Ok(())
    } else {
        Err(Fail {
            line,
            errno: if ret == -1 { e } else { 0 },
            ret,
        })
    }
}

/// `ret` must not be -1.
fn expect_ok(line: u32, ret: i64) -> Result<i64, Fail> {
    let e = errno();
    if ret != -1 {
        Ok(ret)
    } else {
        Err(Fail {
            line,
            errno: e,
            ret,
        })
    }
}

macro_rules! err {
    ($call:expr, $errno:expr) => {
        expect_err(line!(), $call as i64, $errno)?
    };
}

macro_rules! ok {
    ($call:expr) => {
        expect_ok(line!(), $call as i64)?
    };
}

macro_rules! ensure {
    ($cond:expr, $value:expr) => {
        if !$cond {
            return Err(Fail {
                line: line!(),
                errno: 0,
                ret: $value as i64,
            });
        }
    };
}

/// The compiled bytes as the kernel's `struct sock_filter` array.
fn program(bpf: &[u8]) -> Vec<libc::sock_filter> {
    assert_eq!(bpf.len() % SOCK_FILTER_SIZE, 0);
    bpf.chunks_exact(SOCK_FILTER_SIZE)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed(Fail),
    Exited(i32),
    Signaled(i32),
}

/// Forks; the child loads `bpf` (if any) and runs `check`.
fn run_in_child(bpf: Option<&[u8]>, check: Check<'_>) -> Outcome {
    let filters = bpf.map(program);
    let prog = filters.as_ref().map(|f| libc::sock_fprog {
        len: f.len() as u16,
        filter: f.as_ptr() as *mut libc::sock_filter,
    });
    let mut fds = [0; 2];
    // SAFETY: plain syscalls; the child below only makes async-signal-safe
    // calls and leaves with _exit.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        let pid = libc::fork();
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            libc::close(fds[0]);
            let result = (|| {
                if let Some(prog) = &prog {
                    ok!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
                    ok!(libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0,
                        prog as *const libc::sock_fprog
                    ));
                }
                check()
            })();
            if let Err(fail) = result {
                libc::write(
                    fds[1],
                    &fail as *const Fail as *const libc::c_void,
                    std::mem::size_of::<Fail>(),
                );
                libc::_exit(1);
            }
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let mut fail = Fail::default();
        let n = libc::read(
            fds[0],
            &mut fail as *mut Fail as *mut libc::c_void,
            std::mem::size_of::<Fail>(),
        );
        libc::close(fds[0]);
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        if n == std::mem::size_of::<Fail>() as isize {
            Outcome::Failed(fail)
        } else if libc::WIFSIGNALED(status) {
            Outcome::Signaled(libc::WTERMSIG(status))
        } else if libc::WEXITSTATUS(status) == 0 {
            Outcome::Passed
        } else {
            Outcome::Exited(libc::WEXITSTATUS(status))
        }
    }
}

fn assert_passes(bpf: Option<&[u8]>, check: Check<'_>) {
    match run_in_child(bpf, check) {
        Outcome::Passed => {}
        Outcome::Failed(f) => panic!(
            "check failed at {}:{}: returned {}, errno {} ({})",
            file!(),
            f.line,
            f.ret,
            f.errno,
            std::io::Error::from_raw_os_error(f.errno)
        ),
        other => panic!("child: {other:?}"),
    }
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests load filters and test privileged calls: run them as root"
    );
}

fn caps(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A path that does not exist: privileged calls on it fail with ENOENT (or
/// EBADF, EINVAL) when the filter lets them through, EPERM when it does not.
const MISSING: &std::ffi::CStr = c"/nonexistent-berth-seccomp-test";

/// Forks (glibc's fork is a plain clone) and expects the child's exit 7.
fn fork_works() -> Result<(), Fail> {
    // SAFETY: the grandchild only calls _exit.
    unsafe {
        let pid = ok!(libc::fork());
        if pid == 0 {
            libc::_exit(7);
        }
        let mut status = 0;
        ok!(libc::waitpid(pid as libc::pid_t, &mut status, 0));
        ensure!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7,
            status
        );
    }
    Ok(())
}

/// Raw `clone(flags, 0, 0, 0, 0)`: fork-like without CLONE_VM.
unsafe fn raw_clone(flags: libc::c_ulong) -> i64 {
    let ret = libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0);
    if ret == 0 {
        libc::_exit(0);
    }
    if ret > 0 {
        let mut status = 0;
        libc::waitpid(ret as libc::pid_t, &mut status, 0);
    }
    ret
}

/// What the default profile denies a container without CAP_SYS_ADMIN.
fn default_denials() -> Result<(), Fail> {
    // SAFETY: raw syscalls with valid or deliberately bogus arguments.
    unsafe {
        err!(libc::unshare(libc::CLONE_NEWNS), libc::EPERM);
        err!(libc::unshare(libc::CLONE_NEWUTS), libc::EPERM);
        err!(libc::unshare(libc::CLONE_NEWUSER), libc::EPERM);
        err!(
            libc::mount(
                c"none".as_ptr(),
                MISSING.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null()
            ),
            libc::EPERM
        );
        err!(libc::umount2(MISSING.as_ptr(), 0), libc::EPERM);
        err!(libc::setns(-1, 0), libc::EPERM);
        err!(
            libc::syscall(libc::SYS_pivot_root, MISSING.as_ptr(), MISSING.as_ptr()),
            libc::EPERM
        );
        err!(libc::chroot(MISSING.as_ptr()), libc::EPERM);
        // clone3 answers ENOSYS (libc then falls back to clone).
        err!(
            libc::syscall(libc::SYS_clone3, std::ptr::null::<libc::c_void>(), 0),
            libc::ENOSYS
        );
        // clone with a namespace flag is denied, without one it works.
        err!(
            raw_clone(libc::CLONE_NEWUTS as libc::c_ulong | libc::SIGCHLD as libc::c_ulong),
            libc::EPERM
        );
        err!(
            raw_clone(libc::CLONE_NEWNET as libc::c_ulong | libc::SIGCHLD as libc::c_ulong),
            libc::EPERM
        );
        ok!(raw_clone(libc::SIGCHLD as libc::c_ulong));
        err!(
            libc::syscall(libc::SYS_bpf, 0, std::ptr::null::<libc::c_void>(), 0),
            libc::EPERM
        );
        err!(
            libc::syscall(
                libc::SYS_perf_event_open,
                std::ptr::null::<libc::c_void>(),
                0,
                -1,
                -1,
                0
            ),
            libc::EPERM
        );
        // KEYCTL_GET_KEYRING_ID of the session keyring.
        err!(libc::syscall(libc::SYS_keyctl, 0, -3, 0), libc::EPERM);
        err!(
            libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"berth".as_ptr(),
                std::ptr::null::<libc::c_void>(),
                0,
                -3
            ),
            libc::EPERM
        );
        err!(
            libc::syscall(
                libc::SYS_request_key,
                c"user".as_ptr(),
                c"berth".as_ptr(),
                0,
                0
            ),
            libc::EPERM
        );
        err!(libc::syscall(libc::SYS_kcmp, 1, 1, 0, 0, 0), libc::EPERM);
        err!(libc::sethostname(c"x".as_ptr(), 1), libc::EPERM);
        // personality: only the safe personas.
        err!(
            libc::personality(0x0040000 /* ADDR_NO_RANDOMIZE */),
            libc::EPERM
        );
        err!(
            libc::personality(0x0400000 /* READ_IMPLIES_EXEC */),
            libc::EPERM
        );
        // socket: AF_ALG and AF_VSOCK are denied.
        err!(
            libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0),
            libc::EPERM
        );
        err!(
            libc::socket(libc::AF_ALG, libc::SOCK_SEQPACKET, 0),
            libc::EPERM
        );
    }
    Ok(())
}

/// What the default profile leaves working.
fn default_allowances() -> Result<(), Fail> {
    // SAFETY: ordinary syscalls on valid arguments.
    unsafe {
        let pid = ok!(libc::syscall(libc::SYS_getpid));
        ensure!(pid > 0, pid);
        ok!(libc::syscall(libc::SYS_gettid));
        let mut uts: libc::utsname = std::mem::zeroed();
        ok!(libc::uname(&mut uts));
        let mut buf = [0 as libc::c_char; 256];
        ok!(libc::getcwd(buf.as_mut_ptr(), buf.len()) as isize);
        fork_works()?;
        // personality: querying (0xffffffff) and PER_LINUX.
        let persona = ok!(libc::personality(0xffff_ffff));
        ok!(libc::personality(0));
        ok!(libc::personality(persona as libc::c_ulong));
        let fd = ok!(libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0));
        ok!(libc::close(fd as i32));
        let fd = ok!(libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0));
        ok!(libc::close(fd as i32));
        let fd = ok!(libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, 0));
        ok!(libc::close(fd as i32));
        let mut fds = [0; 2];
        ok!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC));
        ok!(libc::write(fds[1], b"x".as_ptr() as *const libc::c_void, 1));
        let mut byte = 0u8;
        ok!(libc::read(
            fds[0],
            &mut byte as *mut u8 as *mut libc::c_void,
            1
        ));
        ensure!(byte == b'x', byte);
        // ptrace is allowed from kernel 4.8: a missing pid gives ESRCH.
        err!(
            libc::ptrace(libc::PTRACE_ATTACH, 0x7fff_fff0, 0, 0),
            libc::ESRCH
        );
        let mut ts: libc::timespec = std::mem::zeroed();
        ok!(libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts));
        // Setting the clock needs CAP_SYS_TIME in the list.
        err!(libc::clock_settime(libc::CLOCK_REALTIME, &ts), libc::EPERM);
    }
    Ok(())
}

#[test]
fn default_profile_denies_namespaces_mounts_and_privileged_calls() {
    require_root();
    let bpf = compile(default_profile(), &[]).unwrap();
    assert_passes(Some(&bpf), &default_denials);
}

#[test]
fn default_profile_allows_the_everyday_calls() {
    require_root();
    let bpf = compile(default_profile(), &[]).unwrap();
    assert_passes(Some(&bpf), &default_allowances);
}

#[test]
fn without_a_filter_the_checks_fail() {
    // The denials are real: as root without the filter they do not hold.
    require_root();
    match run_in_child(None, &default_denials) {
        Outcome::Failed(f) => assert_ne!(f.errno, libc::EPERM, "{f:?}"),
        other => panic!("the denial checks passed without a filter: {other:?}"),
    }
}

#[test]
fn cap_sys_admin_allows_namespaces() {
    require_root();
    let cache = FilterCache::default();
    let bpf = cache
        .get_or_compile_default(&caps(&["CAP_SYS_ADMIN"]))
        .unwrap();
    assert_passes(Some(&bpf), &|| {
        // SAFETY: raw syscalls; the UTS namespace is the child's own.
        unsafe {
            ok!(libc::unshare(libc::CLONE_NEWUTS));
            ok!(libc::sethostname(c"berth-seccomp".as_ptr(), 13));
            // Now the kernel, not the filter, answers.
            err!(
                libc::syscall(libc::SYS_clone3, std::ptr::null::<libc::c_void>(), 0),
                libc::EINVAL
            );
            err!(
                libc::mount(
                    c"none".as_ptr(),
                    MISSING.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null()
                ),
                libc::ENOENT
            );
            ok!(raw_clone(
                libc::CLONE_NEWUTS as libc::c_ulong | libc::SIGCHLD as libc::c_ulong
            ));
            // Still denied: not covered by CAP_SYS_ADMIN in the profile.
            err!(libc::syscall(libc::SYS_keyctl, 0, -3, 0), libc::EPERM);
            err!(libc::chroot(MISSING.as_ptr()), libc::EPERM);
        }
        Ok(())
    });
}

#[test]
fn other_capabilities_open_their_syscalls() {
    require_root();
    let bpf = compile(
        default_profile(),
        &caps(&["CAP_SYS_CHROOT", "CAP_SYS_TIME"]),
    )
    .unwrap();
    assert_passes(Some(&bpf), &|| {
        // SAFETY: raw syscalls on a missing path / a bogus clock.
        unsafe {
            err!(libc::chroot(MISSING.as_ptr()), libc::ENOENT);
            let ts: libc::timespec = std::mem::zeroed();
            err!(
                libc::clock_settime(-1 as libc::clockid_t, &ts),
                libc::EINVAL
            );
            err!(libc::unshare(libc::CLONE_NEWUTS), libc::EPERM);
        }
        Ok(())
    });
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-seccomp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn user_profile_allow_by_default_denies_mkdir() {
    require_root();
    let profile = br#"{
      "defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["fchdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95,
         "args": [{"index": 0, "value": 12345, "op": "SCMP_CMP_EQ"}]},
        {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
         "args": [{"index": 0, "value": 7, "valueTwo": 5, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"}
      ]
    }"#;
    let bpf = compile_json(profile, &[]).unwrap();
    let dir = scratch_dir("mkdir");
    let target = dir.join("made");
    let target_c = CString::new(target.as_os_str().as_bytes()).unwrap();
    let file = dir.join("file");
    let file_c = CString::new(file.as_os_str().as_bytes()).unwrap();
    assert_passes(Some(&bpf), &|| {
        // SAFETY: syscalls on paths owned by this test.
        unsafe {
            err!(libc::mkdir(target_c.as_ptr(), 0o755), libc::EPERM);
            err!(
                libc::mkdirat(libc::AT_FDCWD, target_c.as_ptr(), 0o755),
                libc::EPERM
            );
            // Everything else is allowed.
            let fd = ok!(libc::open(
                file_c.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644
            ));
            ok!(libc::close(fd as i32));
            ok!(libc::unlink(file_c.as_ptr()));
            fork_works()?;
            // Argument conditions: only fchdir(12345) gets EOPNOTSUPP.
            err!(libc::fchdir(12345), libc::EOPNOTSUPP);
            err!(libc::fchdir(12346), libc::EBADF);
            // (mask & 7) == 5 gets EXDEV.
            err!(libc::syscall(libc::SYS_umask, 0o15), libc::EXDEV);
            ok!(libc::syscall(libc::SYS_umask, 0o22));
        }
        Ok(())
    });
    assert!(!target.exists(), "mkdir went through");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_process_action_kills_with_sigsys() {
    require_root();
    let bpf = compile_json(
        br#"{"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#,
        &[],
    )
    .unwrap();
    let outcome = run_in_child(Some(&bpf), &|| {
        // SAFETY: getppid has no preconditions.
        unsafe {
            ok!(libc::syscall(libc::SYS_getpid));
            libc::syscall(libc::SYS_getppid);
        }
        Ok(())
    });
    assert_eq!(outcome, Outcome::Signaled(libc::SIGSYS));
}

/// A 32-bit syscall from this 64-bit process through `int 0x80`.
#[cfg(target_arch = "x86_64")]
unsafe fn int80(nr: u32, arg1: u32) -> i64 {
    let ret: u32;
    std::arch::asm!(
        "xchg {a1}, rbx",
        "int 0x80",
        "xchg {a1}, rbx",
        a1 = inout(reg) arg1 as u64 => _,
        inlateout("eax") nr => ret,
        out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        out("r12") _, out("r13") _, out("r14") _, out("r15") _,
    );
    let ret = ret as i32;
    if ret < 0 {
        *libc::__errno_location() = -ret;
        -1
    } else {
        ret as i64
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_covers_x86_compat_syscalls() {
    // i386 numbers: getpid 20, unshare 310.
    require_root();
    let probe = run_in_child(None, &|| {
        // SAFETY: a 32-bit getpid.
        let pid = unsafe { ok!(int80(20, 0)) };
        ensure!(pid > 0, pid);
        Ok(())
    });
    if probe != Outcome::Passed {
        println!("skipped: no 32-bit syscall entry on this kernel ({probe:?})");
        return;
    }
    let bpf = compile(default_profile(), &[]).unwrap();
    assert_passes(Some(&bpf), &|| {
        // SAFETY: 32-bit getpid and unshare.
        unsafe {
            let pid = ok!(int80(20, 0));
            ensure!(pid > 0, pid);
            err!(int80(310, libc::CLONE_NEWUTS as u32), libc::EPERM);
        }
        Ok(())
    });
    // A filter for the native architecture only kills the 32-bit caller.
    let native_only = compile_json(br#"{"defaultAction": "SCMP_ACT_ALLOW"}"#, &[]).unwrap();
    let outcome = run_in_child(Some(&native_only), &|| {
        // SAFETY: a 32-bit getpid.
        unsafe { ok!(int80(20, 0)) };
        Ok(())
    });
    assert_eq!(outcome, Outcome::Signaled(libc::SIGSYS));
}
