//! The v2 device filter: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE`, written instruction by instruction as
//! crun, runc and youki do, loaded with `bpf(BPF_PROG_LOAD)` and attached to
//! the cgroup's directory with `BPF_PROG_ATTACH` (`BPF_CGROUP_DEVICE`,
//! `BPF_F_ALLOW_MULTI`, so programs of parent cgroups keep applying too).
//!
//! The kernel runs it on every mknod and open of a device node by a process
//! in the cgroup with `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (`access_type` is `access << 16 | type`) and allows
//! the operation if it returns 1. Only the cgroup keeps a reference to the
//! program: removing the cgroup frees it. Applying again attaches the new
//! program first and then detaches the old ones, so the cgroup is never
//! left without a filter.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::{Policy, Target, ALL};
use crate::error::{Error, Result};

// bpf(2) commands, program and attach types, flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
/// `bpf_cgroup_dev_ctx` device types.
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

/// The program's licence string (the crate's); no GPL-only helper is used.
const LICENSE: &[u8] = b"Apache-2.0\0";
/// The name `bpftool prog` shows.
const PROG_NAME: &[u8] = b"berth_devices";

// Opcodes: class | operation | source.
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54; // dst = (u32)dst & imm
const ALU32_RSH_K: u8 = 0x74; // dst = (u32)dst >> imm
const ALU32_MOV_K: u8 = 0xb4; // dst = (u32)imm
const ALU32_MOV_X: u8 = 0xbc; // dst = (u32)src
const JMP_JEQ_K: u8 = 0x15; // if dst == imm goto +off
const JMP_JNE_K: u8 = 0x55; // if dst != imm goto +off
const JMP_JNE_X: u8 = 0x5d; // if dst != src goto +off
const JMP_EXIT: u8 = 0x95; // return r0

// Registers: r1 holds the context on entry (then serves as scratch), r0
// the verdict; the prelude loads type, access, major and minor into r2-r5.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// `dst_reg:4, src_reg:4` bit fields, in the host's bit order.
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let regs = if cfg!(target_endian = "little") {
            dst | src << 4
        } else {
            dst << 4 | src
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    /// A jump to the end of its block (the offset is set by [`block`]).
    fn is_jump(&self) -> bool {
        self.code & 0x07 == 0x05 && self.code != JMP_EXIT
    }
}

fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(LDX_MEM_W, dst, src, off, 0)
}

fn alu32(code: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(code, dst, 0, 0, imm)
}

fn mov32_reg(dst: u8, src: u8) -> Insn {
    Insn::new(ALU32_MOV_X, dst, src, 0, 0)
}

fn jump_imm(code: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(code, dst, 0, 0, imm)
}

fn jump_reg(code: u8, dst: u8, src: u8) -> Insn {
    Insn::new(code, dst, src, 0, 0)
}

fn exit() -> Insn {
    Insn::new(JMP_EXIT, 0, 0, 0, 0)
}

/// The program for `policy`; `None` when it allows everything (nothing to
/// attach).
pub(crate) fn program(policy: &Policy) -> Option<Vec<Insn>> {
    if policy.default_allow && policy.exceptions.is_empty() {
        return None;
    }
    let mut insns = vec![
        ldx_w(R2, R1, 0),
        alu32(ALU32_AND_K, R2, 0xffff),
        ldx_w(R3, R1, 0),
        alu32(ALU32_RSH_K, R3, 16),
        ldx_w(R4, R1, 4),
        ldx_w(R5, R1, 8),
    ];
    // Exceptions go the other way from the default; the first that
    // matches decides.
    let verdict = !policy.default_allow;
    for (target, access) in &policy.exceptions {
        insns.extend(block(target, *access, verdict));
    }
    insns.extend([
        alu32(ALU32_MOV_K, R0, i32::from(policy.default_allow)),
        exit(),
    ]);
    Some(insns)
}

/// Returns `verdict` if the request matches `target` and `access`, else
/// falls through to the next block. As the kernel's v1 controller decides:
/// an allow exception must grant every requested access bit, a deny
/// exception matches if it takes away any of them.
fn block(target: &Target, access: u8, verdict: bool) -> Vec<Insn> {
    let kind = if target.kind == 'b' {
        BPF_DEVCG_DEV_BLOCK
    } else {
        BPF_DEVCG_DEV_CHAR
    };
    let mut insns = vec![jump_imm(JMP_JNE_K, R2, kind)];
    if access != ALL {
        insns.extend([mov32_reg(R1, R3), alu32(ALU32_AND_K, R1, i32::from(access))]);
        insns.push(if verdict {
            // if (requested & granted) != requested: no match
            jump_reg(JMP_JNE_X, R1, R3)
        } else {
            // if (requested & denied) == 0: no match
            jump_imm(JMP_JEQ_K, R1, 0)
        });
    }
    for (reg, number) in [(R4, target.major), (R5, target.minor)] {
        let Some(n) = number else { continue };
        // Immediates are sign-extended to 64 bits; the loaded numbers are
        // zero-extended, so large ones are compared through a register.
        match i32::try_from(n) {
            Ok(imm) => insns.push(jump_imm(JMP_JNE_K, reg, imm)),
            Err(_) => insns.extend([
                alu32(ALU32_MOV_K, R1, n as i32),
                jump_reg(JMP_JNE_X, reg, R1),
            ]),
        }
    }
    insns.extend([alu32(ALU32_MOV_K, R0, i32::from(verdict)), exit()]);
    let len = insns.len();
    for (i, insn) in insns.iter_mut().enumerate() {
        if insn.is_jump() {
            insn.off = i16::try_from(len - i - 1).expect("blocks are a few instructions long");
        }
    }
    insns
}

/// Makes `policy` the device filter of the v2 cgroup at `dir`: attaches its
/// program, then detaches whatever device programs were attached there
/// before.
pub(crate) fn apply(dir: &Path, policy: &Policy) -> Result<()> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |source| Error::Bpf {
            what,
            path: dir.to_path_buf(),
            source,
        }
    };
    let cgroup = File::open(dir).map_err(fail("opening the cgroup directory"))?;
    let old =
        attached(&cgroup).map_err(fail("listing attached device programs (BPF_PROG_QUERY)"))?;
    if let Some(insns) = program(policy) {
        let prog = load(&insns, dir)?;
        attach(BPF_PROG_ATTACH, &cgroup, &prog, BPF_F_ALLOW_MULTI).map_err(fail(
            "attaching the device program (BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI)",
        ))?;
    }
    for id in old {
        let gone = |e: &io::Error| e.raw_os_error() == Some(libc::ENOENT);
        let prog = match prog_fd(id) {
            Ok(fd) => fd,
            Err(e) if gone(&e) => continue,
            Err(e) => {
                return Err(fail(
                    "opening an old device program (BPF_PROG_GET_FD_BY_ID)",
                )(e))
            }
        };
        match attach(BPF_PROG_DETACH, &cgroup, &prog, 0) {
            Err(e) if !gone(&e) => {
                return Err(fail("detaching an old device program (BPF_PROG_DETACH)")(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// `bpf(cmd, attr, sizeof attr)`: `attr` is the leading part of `union
/// bpf_attr` that `cmd` uses; the kernel zero-fills the rest.
fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct of
    // the given size laid out as the kernel's bpf_attr member for `cmd`;
    // every pointer inside it refers to memory that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `bpf_attr` for BPF_PROG_LOAD, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// Loads the program. The verifier's log is only asked for (and put in the
/// error) when a load fails; a kernel that charges programs to
/// RLIMIT_MEMLOCK (before 5.11) gets one more try with the limit lifted.
fn load(insns: &[Insn], dir: &Path) -> Result<OwnedFd> {
    let fail = |what: String| {
        move |source| Error::Bpf {
            what,
            path: dir.to_path_buf(),
            source,
        }
    };
    let what = "loading the device program (BPF_PROG_LOAD)";
    match load_with_log(insns, &mut []) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            with_memlock_unlimited(|| load_with_log(insns, &mut [])).map_err(fail(what.into()))
        }
        Err(first) => {
            let mut log = vec![0u8; 64 << 10];
            match load_with_log(insns, &mut log) {
                Ok(fd) => Ok(fd),
                Err(_) => {
                    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]);
                    let tail: Vec<&str> = text.lines().rev().take(4).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    Err(fail(format!("{what}; verifier: {}", tail.join(" / ")))(
                        first,
                    ))
                }
            }
        }
    }
}

fn load_with_log(insns: &[Insn], log: &mut [u8]) -> io::Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name,
        ..Default::default()
    };
    if !log.is_empty() {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    let fd = sys_bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Runs `f` with RLIMIT_MEMLOCK lifted, then puts the old limit back (so
/// the containers the daemon starts later do not inherit the raise).
fn with_memlock_unlimited<T>(f: impl FnOnce() -> T) -> T {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit and setrlimit read and write the structs passed.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut old) == 0
            && libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) == 0
    };
    let out = f();
    if raised {
        // SAFETY: as above; lowering a limit back always succeeds.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &old) };
    }
    out
}

/// `bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn attach(cmd: libc::c_int, cgroup: &File, prog: &OwnedFd, flags: u32) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    sys_bpf(cmd, &mut attr).map(drop)
}

/// `bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt` (and its padding).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The ids of the device programs attached to the cgroup itself.
fn attached(cgroup: &File) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match sys_bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // The kernel says how many there are: make room and ask again.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids.resize(attr.prog_cnt as usize, 0)
            }
            Err(e) => return Err(e),
        }
    }
}

/// `bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn prog_fd(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    let fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{docker_default_rules, DeviceRule, MKNOD, READ, WRITE};

    fn regs(insn: &Insn) -> (usize, usize) {
        let (lo, hi) = ((insn.regs & 0x0f) as usize, (insn.regs >> 4) as usize);
        if cfg!(target_endian = "little") {
            (lo, hi)
        } else {
            (hi, lo)
        }
    }

    /// Runs the program the way the kernel would for one request.
    fn run(insns: &[Insn], kind: char, major: u32, minor: u32, access: u8) -> u64 {
        let dev_type = if kind == 'b' { 1 } else { 2 };
        let ctx = [u32::from(access) << 16 | dev_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0;
        loop {
            let insn = insns[pc];
            let (dst, src) = regs(&insn);
            let imm64 = i64::from(insn.imm) as u64;
            let mut next = pc + 1;
            let jump = |taken: bool| {
                if taken {
                    pc + 1 + insn.off as usize
                } else {
                    pc + 1
                }
            };
            match insn.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "only the context is read");
                    r[dst] = u64::from(ctx[insn.off as usize / 4]);
                }
                ALU32_AND_K => r[dst] = u64::from(r[dst] as u32 & insn.imm as u32),
                ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> insn.imm),
                ALU32_MOV_K => r[dst] = u64::from(insn.imm as u32),
                ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
                JMP_JEQ_K => next = jump(r[dst] == imm64),
                JMP_JNE_K => next = jump(r[dst] != imm64),
                JMP_JNE_X => next = jump(r[dst] != r[src]),
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc = next;
        }
    }

    fn deny(text: &str) -> DeviceRule {
        DeviceRule {
            allow: false,
            ..DeviceRule::parse(text).unwrap()
        }
    }

    #[test]
    fn the_program_decides_like_the_v1_controller() {
        let big = u32::MAX;
        let lists = [
            docker_default_rules(),
            vec![
                DeviceRule::deny_all(),
                DeviceRule::parse("c 1:3 r").unwrap(),
            ],
            vec![deny("b 8:* w"), deny(&format!("c {big}:1 m"))],
            vec![
                DeviceRule::deny_all(),
                DeviceRule::parse(&format!("c {big}:{} rw", 1u32 << 31)).unwrap(),
                DeviceRule::parse("b *:0 m").unwrap(),
            ],
        ];
        for rules in lists {
            let policy = Policy::from_rules(&rules).unwrap();
            let insns = program(&policy).expect("something to filter");
            for kind in ['b', 'c'] {
                for major in [0, 1, 5, 8, 10, 136, 254, 1 << 31, big] {
                    for minor in [0, 1, 2, 3, 5, 7, 200, 229, 1 << 31, big] {
                        for access in 1..=7 {
                            assert_eq!(
                                run(&insns, kind, major, minor, access) == 1,
                                policy.allows(kind, major, minor, access),
                                "{rules:?}: {kind} {major}:{minor} access {access}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn allow_all_needs_no_program_and_deny_all_is_only_the_verdict() {
        assert!(program(&Policy::from_rules(&[DeviceRule::allow_all()]).unwrap()).is_none());
        let insns = program(&Policy::from_rules(&[DeviceRule::deny_all()]).unwrap()).unwrap();
        assert_eq!(insns.len(), 8);
        assert_eq!(run(&insns, 'c', 1, 3, READ | WRITE | MKNOD), 0);
    }

    #[test]
    fn instructions_have_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
        let insn = ldx_w(R4, R1, 4);
        assert_eq!(regs(&insn), (4, 1));
        if cfg!(target_endian = "little") {
            assert_eq!(insn.regs, 0x14);
        }
    }
}
