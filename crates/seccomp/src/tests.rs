//! Unit tests: decoding, validation, resolution, compilation, the cache.

use std::sync::Arc;
use std::time::Instant;

use libseccomp::{ScmpAction, ScmpArch};

use crate::compile::{resolve, Host};
use crate::*;

fn caps(names: &[&str]) -> Vec<String> {
    normalize_capabilities(names)
}

fn decode(json: &str) -> Profile {
    Profile::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn invalid(json: &str) -> String {
    match decode(json).validate() {
        Err(Error::Invalid(msg)) => msg,
        other => panic!("{json}: expected Invalid, got {other:?}"),
    }
}

fn decode_error(json: &str) -> String {
    match Profile::from_json(json.as_bytes()) {
        Err(e @ Error::Decode(_)) => {
            assert!(e.is_bad_input());
            e.to_string()
        }
        other => panic!("{json}: expected Decode, got {other:?}"),
    }
}

const AMD64_NEW: Host = Host {
    arch: "amd64",
    scmp_arch: "SCMP_ARCH_X86_64",
    kernel: Some(KernelVersion {
        kernel: 6,
        major: 1,
    }),
};

/// The resolved rules as (name, action, number of arg conditions).
fn rules_of(profile: &Profile, caps_: &[&str], host: &Host) -> Vec<(String, ScmpAction, usize)> {
    let resolved = resolve(profile, &caps(caps_), host).unwrap();
    resolved
        .rules
        .iter()
        .flat_map(|r| r.names.iter().map(|n| (n.clone(), r.action, r.args.len())))
        .collect()
}

fn has_rule(rules: &[(String, ScmpAction, usize)], name: &str, action: ScmpAction) -> bool {
    rules.iter().any(|(n, a, _)| n == name && *a == action)
}

#[test]
fn default_profile_decodes_validates_and_round_trips() {
    let p = default_profile();
    p.validate().unwrap();
    assert_eq!(p.default_action, Some(Action::Errno));
    assert_eq!(p.default_errno_ret, Some(libc::EPERM as u32));
    assert!(!p.is_unconfined());
    assert_eq!(p.filter_flags().unwrap(), 0);
    let again = Profile::from_json(&serde_json::to_vec(p).unwrap()).unwrap();
    assert_eq!(&again, p);
}

#[test]
fn docker_shaped_profile_decodes() {
    // nulls where Go writes them, the deprecated "name", comments, unknown
    // fields, an empty minKernel and defaultAction.
    let p = decode(
        r#"{
          "defaultAction": "SCMP_ACT_KILL_PROCESS",
          "archMap": [{"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
          "flags": null,
          "listenerPath": "",
          "syscalls": [
            {"name": "read", "names": null, "action": "SCMP_ACT_ALLOW", "args": null,
             "comment": "x", "includes": {}, "excludes": {"minKernel": null}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
             "includes": {"minKernel": "4.8", "caps": null}}
          ]
        }"#,
    );
    p.validate().unwrap();
    assert_eq!(p.syscalls[0].names(), ["read".to_string()]);
    assert_eq!(p.arch_map[0].sub_architectures, Vec::<String>::new());
    assert_eq!(
        p.syscalls[1].includes.as_ref().unwrap().min_kernel,
        Some(KernelVersion {
            kernel: 4,
            major: 8
        })
    );
    assert_eq!(
        p.syscalls[1].args[0],
        Arg {
            index: 0,
            value: 8,
            value_two: 0,
            op: Op::Equal
        }
    );
    assert!(decode(r#"{"defaultAction": ""}"#).is_unconfined());
    assert!(decode("{}").is_unconfined());
}

#[test]
fn every_action_and_op_decodes() {
    for a in [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
    ] {
        let p = decode(&format!(r#"{{"defaultAction": "{a}"}}"#));
        assert_eq!(p.default_action.unwrap().as_str(), a);
        p.validate().unwrap();
    }
    for op in [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ] {
        let p = decode(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["read"],
               "action": "SCMP_ACT_ERRNO", "args": [{{"index": 5, "value": 1, "op": "{op}"}}]}}]}}"#
        ));
        assert_eq!(p.syscalls[0].args[0].op.as_str(), op);
        p.validate().unwrap();
    }
}

#[test]
fn decode_errors_read_like_docker() {
    let e = decode_error("{ not json");
    assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");

    let e = decode_error(r#"{"defaultAction": "SCMP_ACT_FOO"}"#);
    assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");
    assert!(
        e.contains(r#"unknown seccomp action "SCMP_ACT_FOO""#),
        "{e}"
    );

    let e = decode_error(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#,
    );
    assert!(
        e.contains(r#"unknown seccomp operator "SCMP_CMP_XX""#),
        "{e}"
    );

    let e = decode_error(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BAD"}]}"#,
    );
    assert!(
        e.contains(r#"unknown seccomp action "SCMP_ACT_BAD""#),
        "{e}"
    );

    let e =
        decode_error(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}"#);
    assert!(e.contains("missing field `action`"), "{e}");

    let e = decode_error(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
            "includes": {"minKernel": "4"}}]}"#,
    );
    assert!(e.contains("invalid kernel version"), "{e}");

    let e = decode_error(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": -1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");

    let e = decode_error(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}"#);
    assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");
}

#[test]
fn validation_errors() {
    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    assert!(msg.contains("argument index 6 is out of range"), "{msg}");

    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(msg.contains("names no syscall"), "{msg}");
    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "", "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(msg.contains("names no syscall"), "{msg}");
    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(msg.contains("empty syscall name"), "{msg}");

    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(msg.contains("use either 'name' or 'names'"), "{msg}");

    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]}"#,
    );
    assert!(
        msg.contains("use either 'architectures' or 'archMap'"),
        "{msg}"
    );

    let msg = invalid(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}"#);
    assert!(
        msg.contains(r#"unknown seccomp architecture "SCMP_ARCH_VAX""#),
        "{msg}"
    );

    let msg =
        invalid(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}"#);
    assert!(msg.contains("unknown seccomp flag"), "{msg}");

    let msg = invalid(r#"{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#);
    assert!(msg.contains("no defaultAction"), "{msg}");
    let msg = invalid("{}");
    assert!(msg.contains("no defaultAction"), "{msg}");

    let msg = invalid(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
    assert!(msg.contains("SCMP_ACT_NOTIFY is not supported"), "{msg}");
    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(msg.contains("SCMP_ACT_NOTIFY is not supported"), "{msg}");

    let msg = invalid(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}"#);
    assert!(msg.contains("errno 65536 is out of range"), "{msg}");
    let msg = invalid(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100000}]}"#,
    );
    assert!(msg.contains("errno 100000 is out of range"), "{msg}");

    // compile() validates too, and the error says so.
    let err = compile_json(
        br#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x"]}"#,
        &[],
    )
    .unwrap_err();
    assert!(err.is_bad_input());
    assert!(
        err.to_string().starts_with("invalid seccomp profile: "),
        "{err}"
    );
}

#[test]
fn filter_flags_map_to_kernel_values() {
    let p = decode(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]}"#,
    );
    assert_eq!(p.filter_flags().unwrap(), 2 | 4 | 1);
}

#[test]
fn kernel_versions() {
    let v = |s: &str| KernelVersion::from_release(s);
    let kv = |kernel, major| Some(KernelVersion { kernel, major });
    assert_eq!(v("6.1.0-18-amd64"), kv(6, 1));
    assert_eq!(v("3.12-1-amd64"), kv(3, 12));
    assert_eq!(v("4.8"), kv(4, 8));
    assert_eq!(v("6.18.44-fc-v782"), kv(6, 18));
    assert_eq!(v("5"), None);
    assert_eq!(v("x.y"), None);
    assert!("0.0".parse::<KernelVersion>().is_err());
    assert!("4.8.1".parse::<KernelVersion>().is_err());
    assert!(kv(4, 10) > kv(4, 8) && kv(5, 0) > kv(4, 19));
}

#[test]
fn capabilities_are_normalized() {
    assert_eq!(
        normalize_capabilities(&["sys_admin", "CAP_NET_RAW", " CAP_SYS_ADMIN ", "chown", ""]),
        ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]
    );
}

#[test]
fn default_profile_resolution_by_capability() {
    let p = default_profile();
    let eperm = ScmpAction::Errno(libc::EPERM);
    let enosys = ScmpAction::Errno(libc::ENOSYS);
    let none = rules_of(p, &[], &AMD64_NEW);
    for name in [
        "read",
        "getpid",
        "mkdir",
        "execve",
        "socketpair",
        "arch_prctl",
    ] {
        assert!(has_rule(&none, name, ScmpAction::Allow), "{name}");
    }
    for name in [
        "unshare",
        "mount",
        "umount2",
        "setns",
        "pivot_root",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "reboot",
        "chroot",
        "init_module",
        "acct",
        "kcmp",
        "iopl",
        "settimeofday",
        "vhangup",
        "mbind",
        "syslog",
        "open_by_handle_at",
        "cacheflush",
        "s390_runtime_instr",
    ] {
        assert!(!none.iter().any(|(n, _, _)| n == name), "{name} allowed");
    }
    // clone only with the namespace mask, clone3 ENOSYS.
    let clone: Vec<_> = none.iter().filter(|(n, _, _)| n == "clone").collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].2, 1);
    assert!(has_rule(&none, "clone3", enosys));
    // personality only with its five arguments.
    let personality = none.iter().filter(|(n, _, _)| n == "personality");
    assert_eq!(personality.clone().count(), 5);
    assert!(personality
        .clone()
        .all(|(_, a, args)| *a == ScmpAction::Allow && *args == 1));
    // ptrace from kernel 4.8 on.
    assert!(has_rule(&none, "ptrace", ScmpAction::Allow));
    let old = Host {
        kernel: Some(KernelVersion {
            kernel: 4,
            major: 4,
        }),
        ..AMD64_NEW
    };
    assert!(!has_rule(
        &rules_of(p, &[], &old),
        "ptrace",
        ScmpAction::Allow
    ));
    assert!(has_rule(
        &rules_of(p, &["CAP_SYS_PTRACE"], &old),
        "ptrace",
        ScmpAction::Allow
    ));

    let admin = rules_of(p, &["CAP_SYS_ADMIN"], &AMD64_NEW);
    for name in [
        "unshare",
        "mount",
        "umount2",
        "setns",
        "clone3",
        "bpf",
        "sethostname",
    ] {
        assert!(has_rule(&admin, name, ScmpAction::Allow), "{name}");
    }
    assert!(!has_rule(&admin, "clone3", enosys));
    let clone: Vec<_> = admin.iter().filter(|(n, _, _)| n == "clone").collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].2, 0, "unconditional clone with CAP_SYS_ADMIN");
    assert!(!admin
        .iter()
        .any(|(n, _, _)| n == "pivot_root" || n == "keyctl"));

    for (cap, names) in [
        ("CAP_SYS_BOOT", &["reboot"][..]),
        ("CAP_SYS_CHROOT", &["chroot"]),
        (
            "CAP_SYS_MODULE",
            &["init_module", "finit_module", "delete_module"],
        ),
        ("CAP_SYS_PACCT", &["acct"]),
        (
            "CAP_SYS_PTRACE",
            &["kcmp", "process_vm_readv", "process_vm_writev", "ptrace"],
        ),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime"]),
        ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
        ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy"]),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ] {
        let rules = rules_of(p, &[cap], &AMD64_NEW);
        for name in names {
            assert!(has_rule(&rules, name, ScmpAction::Allow), "{cap} {name}");
        }
        // Short, lower-case capability names work too.
        let short = cap.trim_start_matches("CAP_").to_lowercase();
        assert!(has_rule(
            &rules_of(p, &[&short], &AMD64_NEW),
            names[0],
            ScmpAction::Allow
        ));
    }
    // The default action itself is EPERM.
    let resolved = resolve(p, &[], &AMD64_NEW).unwrap();
    assert_eq!(resolved.default_action, eperm);
}

#[test]
fn default_profile_resolution_by_architecture() {
    let p = default_profile();
    let resolved = resolve(p, &[], &AMD64_NEW).unwrap();
    assert_eq!(
        resolved.arches,
        [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
    );
    let arm64 = Host {
        arch: "arm64",
        scmp_arch: "SCMP_ARCH_AARCH64",
        ..AMD64_NEW
    };
    let resolved = resolve(p, &[], &arm64).unwrap();
    assert_eq!(resolved.arches, [ScmpArch::Aarch64, ScmpArch::Arm]);
    let rules = rules_of(p, &[], &arm64);
    assert!(has_rule(&rules, "cacheflush", ScmpAction::Allow));
    assert!(!has_rule(&rules, "arch_prctl", ScmpAction::Allow));

    let s390x = Host {
        arch: "s390x",
        scmp_arch: "SCMP_ARCH_S390X",
        ..AMD64_NEW
    };
    let rules = rules_of(p, &[], &s390x);
    let clone: Vec<_> = resolve(p, &[], &s390x)
        .unwrap()
        .rules
        .into_iter()
        .filter(|r| r.names.iter().any(|n| n == "clone"))
        .collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args[0].index, 1, "s390 clone flags are argument 1");
    assert!(has_rule(&rules, "s390_runtime_instr", ScmpAction::Allow));
}

#[test]
fn includes_and_excludes() {
    let p = decode(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_X", "CAP_Y"]}},
          {"names": ["b"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_X", "CAP_Y"]}},
          {"names": ["c"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "6.2"}},
          {"names": ["d"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "6.2"}},
          {"names": ["e"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64", "amd64"]}},
          {"names": ["f"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}}
        ]}"#,
    );
    let names = |caps_: &[&str], host: &Host| -> String {
        rules_of(&p, caps_, host)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect()
    };
    assert_eq!(names(&[], &AMD64_NEW), "bde");
    assert_eq!(names(&["CAP_X"], &AMD64_NEW), "de");
    assert_eq!(names(&["CAP_X", "CAP_Y"], &AMD64_NEW), "ade");
    let newer = Host {
        kernel: Some(KernelVersion {
            kernel: 6,
            major: 2,
        }),
        ..AMD64_NEW
    };
    assert_eq!(names(&[], &newer), "bce");
    let ppc = Host {
        arch: "ppc64le",
        scmp_arch: "SCMP_ARCH_PPC64LE",
        ..AMD64_NEW
    };
    assert_eq!(names(&[], &ppc), "bdf");
    // An unknown kernel version is an error only where a rule asks for one.
    let unknown = Host {
        kernel: None,
        ..AMD64_NEW
    };
    let err = resolve(&p, &[], &unknown).unwrap_err();
    assert!(matches!(err, Error::Compile(_)), "{err}");
    assert!(resolve(
        &decode(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#),
        &[],
        &unknown
    )
    .is_ok());
}

#[test]
fn errno_defaults_and_actions() {
    let p = decode(
        r#"{"defaultAction": "SCMP_ACT_TRACE", "syscalls": [
          {"names": ["a"], "action": "SCMP_ACT_ERRNO"},
          {"names": ["b"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
          {"names": ["c"], "action": "SCMP_ACT_KILL"},
          {"names": ["d"], "action": "SCMP_ACT_KILL_THREAD"},
          {"names": ["e"], "action": "SCMP_ACT_KILL_PROCESS"},
          {"names": ["f"], "action": "SCMP_ACT_TRAP"},
          {"names": ["g"], "action": "SCMP_ACT_LOG"},
          {"names": ["h"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
          {"names": ["i"], "action": "SCMP_ACT_ALLOW", "errnoRet": 7}
        ]}"#,
    );
    let resolved = resolve(&p, &[], &AMD64_NEW).unwrap();
    assert_eq!(
        resolved.default_action,
        ScmpAction::Trace(libc::EPERM as u16)
    );
    let actions: Vec<ScmpAction> = resolved.rules.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            ScmpAction::Errno(libc::EPERM),
            ScmpAction::Errno(libc::ENOSYS),
            ScmpAction::KillThread,
            ScmpAction::KillThread,
            ScmpAction::KillProcess,
            ScmpAction::Trap,
            ScmpAction::Log,
            ScmpAction::Trace(7),
            ScmpAction::Allow,
        ]
    );
}

/// The `k` operands of `BPF_JMP|BPF_JEQ|BPF_K` instructions.
fn jeq_constants(bpf: &[u8]) -> Vec<u32> {
    bpf.chunks_exact(SOCK_FILTER_SIZE)
        .filter(|i| u16::from_ne_bytes([i[0], i[1]]) == 0x15)
        .map(|i| u32::from_ne_bytes([i[4], i[5], i[6], i[7]]))
        .collect()
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

#[test]
fn compiled_default_is_a_bpf_program_for_the_native_arches() {
    let bpf = compile(default_profile(), &[]).unwrap();
    assert!(!bpf.is_empty());
    assert_eq!(bpf.len() % SOCK_FILTER_SIZE, 0);
    assert!(bpf.len() / SOCK_FILTER_SIZE <= BPF_MAXINSNS);
    // The first instruction loads seccomp_data.arch (offset 4): BPF_LD|BPF_W|BPF_ABS.
    assert_eq!(u16::from_ne_bytes([bpf[0], bpf[1]]), 0x20);
    assert_eq!(u32::from_ne_bytes([bpf[4], bpf[5], bpf[6], bpf[7]]), 4);
    let consts = jeq_constants(&bpf);
    if cfg!(target_arch = "x86_64") {
        assert!(consts.contains(&AUDIT_ARCH_X86_64));
        assert!(consts.contains(&AUDIT_ARCH_I386), "x86 sub-architecture");
    } else if cfg!(target_arch = "aarch64") {
        assert!(consts.contains(&AUDIT_ARCH_AARCH64));
        assert!(consts.contains(&AUDIT_ARCH_ARM), "arm sub-architecture");
    }
    // A profile without archMap covers the native architecture only.
    let native_only = compile_json(
        br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#,
        &[],
    )
    .unwrap();
    let consts = jeq_constants(&native_only);
    assert!(!consts.contains(&AUDIT_ARCH_I386) && !consts.contains(&AUDIT_ARCH_ARM));
    // Capabilities change the program.
    assert_ne!(
        bpf,
        compile(default_profile(), &caps(&["CAP_SYS_ADMIN"])).unwrap()
    );
    // Compiling is deterministic.
    assert_eq!(bpf, compile(default_profile(), &[]).unwrap());
}

#[test]
fn compile_tolerates_unknown_names_and_redundant_rules() {
    // Unknown syscall names are skipped; a rule repeating the default action
    // is dropped rather than refused by libseccomp; repeated argument
    // indexes become alternatives.
    let p = decode(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["no_such_syscall_berth", "getpid"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
          {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
             {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
             {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
          {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
             {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
             {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]}"#,
    );
    assert_eq!(unknown_syscalls(&p), ["no_such_syscall_berth"]);
    compile(&p, &[]).unwrap();
}

#[test]
fn first_rule_for_a_syscall_wins() {
    // libseccomp keeps the first action given to a syscall (as under runc).
    let both = compile_json(
        br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
          {"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]}"#,
        &[],
    )
    .unwrap();
    let first = compile_json(
        br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#,
        &[],
    )
    .unwrap();
    assert_eq!(both, first);
}

#[test]
fn compile_time_of_the_default_profile() {
    let cold = Instant::now();
    let bpf = compile(default_profile(), &[]).unwrap();
    let cold = cold.elapsed();
    let runs = 20;
    let warm = Instant::now();
    for _ in 0..runs {
        compile(default_profile(), &[]).unwrap();
    }
    let warm = warm.elapsed() / runs;
    let admin = Instant::now();
    let bpf_admin = compile(default_profile(), &caps(&["CAP_SYS_ADMIN"])).unwrap();
    let admin = admin.elapsed();
    let parse = Instant::now();
    for _ in 0..runs {
        Profile::from_json(DEFAULT_PROFILE_JSON.as_bytes()).unwrap();
    }
    let parse = parse.elapsed() / runs;
    println!(
        "default profile: first compile {cold:?}, mean of {runs} {warm:?}, with CAP_SYS_ADMIN {admin:?}; \
         JSON decode {parse:?}; {} instructions ({} bytes), {} with CAP_SYS_ADMIN",
        bpf.len() / SOCK_FILTER_SIZE,
        bpf.len(),
        bpf_admin.len() / SOCK_FILTER_SIZE
    );
    println!(
        "syscalls of the default profile unknown to libseccomp {:?}: {:?}",
        libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)),
        unknown_syscalls(default_profile())
    );
}

#[test]
fn cache_compiles_each_key_once() {
    let cache = FilterCache::new(8);
    assert!(cache.is_empty());
    let a = cache.get_or_compile_default(&[]).unwrap();
    let b = cache.get_or_compile_default(&[]).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(&*a, &compile(default_profile(), &[]).unwrap()[..]);
    // Same set, other spelling and order: same entry.
    let c1 = cache
        .get_or_compile_default(&caps(&["CAP_SYS_ADMIN", "CAP_NET_RAW"]))
        .unwrap();
    let c2 = cache
        .get_or_compile_default(&["net_raw".to_string(), "SYS_ADMIN".to_string()])
        .unwrap();
    assert!(Arc::ptr_eq(&c1, &c2));
    assert!(!Arc::ptr_eq(&a, &c1));
    assert_eq!(cache.len(), 2);
    // The same profile text is the same entry, another text another one.
    let user = br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#;
    let u1 = cache.get_or_compile(user, &[]).unwrap();
    let u2 = cache.get_or_compile(user, &[]).unwrap();
    assert!(Arc::ptr_eq(&u1, &u2));
    assert_eq!(cache.len(), 3);
    // Errors come back (and are cached).
    let err = cache.get_or_compile(b"{bad", &[]).unwrap_err();
    assert!(matches!(err, Error::Decode(_)));
    assert_eq!(cache.get_or_compile(b"{bad", &[]).unwrap_err(), err);
    assert_eq!(cache.len(), 4);
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn cache_is_bounded_and_evicts_the_least_recently_used() {
    let cache = FilterCache::new(2);
    let profile = |n: u32| {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": {n}}}]}}"#
        )
    };
    let p1 = cache.get_or_compile(profile(1).as_bytes(), &[]).unwrap();
    let _p2 = cache.get_or_compile(profile(2).as_bytes(), &[]).unwrap();
    // Touch 1, so 2 is the least recently used when 3 comes in.
    let again = cache.get_or_compile(profile(1).as_bytes(), &[]).unwrap();
    assert!(Arc::ptr_eq(&p1, &again));
    let _p3 = cache.get_or_compile(profile(3).as_bytes(), &[]).unwrap();
    assert_eq!(cache.len(), 2);
    let still = cache.get_or_compile(profile(1).as_bytes(), &[]).unwrap();
    assert!(Arc::ptr_eq(&p1, &still), "1 was kept");
    assert_eq!(cache.len(), 2);
}

#[test]
fn cache_is_shared_between_threads() {
    let cache = Arc::new(FilterCache::default());
    let results: Vec<Arc<[u8]>> = (0..8)
        .map(|i| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let caps = if i % 2 == 0 {
                    vec!["CAP_SYS_CHROOT".to_string()]
                } else {
                    vec!["sys_chroot".to_string()]
                };
                cache.get_or_compile_default(&caps).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
    assert_eq!(cache.len(), 1);
}
