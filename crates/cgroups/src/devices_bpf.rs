//! Device rules on cgroup v2: the kernel asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
//! cgroup for every device access. We compile the rules into such a program: the last matching rule
//! decides (as writes to v1's devices.allow/deny accumulate), and no match means deny.

use crate::resources::DeviceRule;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One eBPF instruction, as the kernel lays out struct bpf_insn.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND32_K: u8 = 0x54;
const RSH32_K: u8 = 0x74;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const JNE_K: u8 = 0x55; // if dst != imm goto +off
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// struct bpf_cgroup_dev_ctx { u32 access_type /* (access << 16) | type */; u32 major; u32 minor; }
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// The program for these rules (in the order the spec gives them).
pub fn compile(rules: &[DeviceRule]) -> Vec<Insn> {
    // r2 = type, r3 = requested access, r4 = major, r5 = minor.
    let mut prog = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut checks = Vec::new();
        match rule.kind {
            'c' => checks.push(insn(JNE_K, 2, 0, 0, DEV_CHAR)),
            'b' => checks.push(insn(JNE_K, 2, 0, 0, DEV_BLOCK)),
            _ => {}
        }
        let access = rule.access.chars().fold(0, |acc, c| {
            acc | match c {
                'm' => ACC_MKNOD,
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => 0,
            }
        });
        if access != ACC_MKNOD | ACC_READ | ACC_WRITE {
            // The rule covers the request only if every requested access is in the rule's.
            checks.push(insn(MOV64_X, 1, 3, 0, 0));
            checks.push(insn(AND32_K, 1, 0, 0, !access));
            checks.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(major) = rule.major.filter(|m| *m >= 0) {
            checks.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor.filter(|m| *m >= 0) {
            checks.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        // Each failed check jumps past the rest of this rule's block (the checks after it, then 2).
        let count = checks.len();
        for (i, check) in checks
            .iter_mut()
            .enumerate()
            .filter(|(_, c)| c.code == JNE_K)
        {
            check.off = (count - i - 1 + 2) as i16;
        }
        prog.extend(checks);
        prog.push(insn(MOV64_K, 0, 0, 0, rule.allow as i32));
        prog.push(insn(EXIT, 0, 0, 0, 0));
        if count == 0 {
            // This rule matches everything: earlier rules can never decide (and the verifier
            // refuses unreachable instructions).
            return prog;
        }
    }
    prog.push(insn(MOV64_K, 0, 0, 0, 0));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

const BPF_PROG_LOAD: libc::c_long = 5;

/// BPF_PROG_LOAD of a CGROUP_DEVICE program, with the verifier's log in `log` when given.
fn load(prog: &[Insn], log: Option<&mut Vec<u8>>) -> io::Result<libc::c_long> {
    let license = c"Apache-2.0";
    let mut attr = [0u8; 128];
    put_u32(&mut attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
    put_u32(&mut attr, 4, prog.len() as u32);
    put_u64(&mut attr, 8, prog.as_ptr() as u64);
    put_u64(&mut attr, 16, license.as_ptr() as u64);
    if let Some(log) = log {
        put_u32(&mut attr, 24, 1);
        put_u32(&mut attr, 28, log.len() as u32);
        put_u64(&mut attr, 32, log.as_mut_ptr() as u64);
    }
    bpf(BPF_PROG_LOAD, &mut attr)
}
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> io::Result<libc::c_long> {
    // SAFETY: attr is a zero-filled union bpf_attr buffer large enough for the commands we use.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn put_u32(attr: &mut [u8; 128], at: usize, value: u32) {
    attr[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

fn put_u64(attr: &mut [u8; 128], at: usize, value: u64) {
    attr[at..at + 8].copy_from_slice(&value.to_ne_bytes());
}

/// Loads the program and attaches it to the cgroup directory.
pub fn attach(cgroup_dir: &std::path::Path, rules: &[DeviceRule]) -> io::Result<()> {
    let prog = compile(rules);
    // Without a verifier log: a log buffer too small for a long rule list fails the load (ENOSPC).
    let fd = load(&prog, None).map_err(|e| {
        // Load again with the verifier's log, only to say why.
        let mut log = vec![0u8; 1 << 20];
        let _ = load(&prog, Some(&mut log));
        let text = String::from_utf8_lossy(&log);
        let text = text.trim_end_matches('\0').trim();
        let last = text.lines().rev().take(3).collect::<Vec<_>>();
        io::Error::new(
            e.kind(),
            format!(
                "load device program ({} instructions): {e}: {}",
                prog.len(),
                last.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ),
        )
    })?;
    // SAFETY: the kernel just returned this descriptor to us.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let dir = std::fs::File::open(cgroup_dir)?;
    let mut attr = [0u8; 128];
    put_u32(&mut attr, 0, dir.as_raw_fd() as u32);
    put_u32(&mut attr, 4, prog_fd.as_raw_fd() as u32);
    put_u32(&mut attr, 8, BPF_CGROUP_DEVICE);
    put_u32(&mut attr, 12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one request, as the kernel would (enough of an interpreter for our opcodes).
    fn run(prog: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> i64 {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize] as i64,
                AND32_K => r[dst] = ((r[dst] as u32) & (i.imm as u32)) as i64,
                RSH32_K => r[dst] = ((r[dst] as u32) >> i.imm) as i64,
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as i64,
                JNE_K => {
                    if r[dst] != i.imm as i64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn last_matching_rule_decides() {
        let rules = vec![
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(136), None, "rw"),
        ];
        let prog = compile(&rules);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ | ACC_WRITE, 136, 7), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_MKNOD, 136, 7), 0, "m is not in rw");
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 11), 0);
        assert_eq!(run(&prog, DEV_BLOCK, ACC_READ, 1, 3), 0);
    }

    #[test]
    fn nothing_follows_a_rule_that_matches_everything() {
        let prog = compile(&[
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ]);
        assert_eq!(prog.last().map(|i| i.code), Some(EXIT));
        assert_eq!(prog.iter().filter(|i| i.code == EXIT).count(), 2);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 11), 0);
    }

    #[test]
    fn only_jumps_carry_offsets() {
        let prog = compile(&[rule(true, 'c', Some(136), None, "rw")]);
        assert!(prog
            .iter()
            .filter(|i| i.code != JNE_K && i.code != LDX_W)
            .all(|i| i.off == 0));
    }

    #[test]
    fn allow_all_then_deny_one() {
        let rules = vec![
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'c', Some(1), Some(11), "rwm"),
        ];
        let prog = compile(&rules);
        assert_eq!(run(&prog, DEV_CHAR, ACC_READ, 1, 11), 0);
        assert_eq!(run(&prog, DEV_BLOCK, ACC_WRITE, 8, 0), 1);
    }
}
