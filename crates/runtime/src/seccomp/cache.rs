//! Compiled programs on disk, one file per distinct seccomp section: the exact key (the section as
//! JSON plus the versions that shape the program) on the first line, then whether a rule
//! notifies, then the BPF instructions. The file name is only a hash of the key; a file whose key
//! differs is ignored, so a hash collision costs a compile, never a wrong filter.

use super::{BPF_INSTRUCTION_SIZE, BPF_MAX_INSTRUCTIONS, library_version};
use oci_spec::runtime::LinuxSeccomp;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Entry {
    dir: PathBuf,
    path: PathBuf,
    key: String,
}

impl Entry {
    pub fn for_section(dir: &Path, seccomp: &LinuxSeccomp) -> Option<Entry> {
        let section = serde_json::to_string(seccomp).ok()?;
        let kernel = rustix::system::uname();
        let key = format!(
            "berth {} libseccomp {} kernel {} {}",
            env!("CARGO_PKG_VERSION"),
            library_version(),
            kernel.release().to_string_lossy(),
            section
        );
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        Some(Entry {
            dir: dir.to_path_buf(),
            path: dir.join(format!("{:016x}.bpf", hasher.finish())),
            key,
        })
    }

    /// The cached program and whether it notifies; None when absent, stale or damaged.
    pub fn read(&self) -> Option<(Vec<libc::sock_filter>, bool)> {
        let bytes = std::fs::read(&self.path).ok()?;
        let rest = bytes
            .strip_prefix(self.key.as_bytes())?
            .strip_prefix(b"\n")?;
        let (notify, program) = match rest.split_first()? {
            (b'1', program) => (true, program),
            (b'0', program) => (false, program),
            _ => return None,
        };
        let program = program.strip_prefix(b"\n")?;
        let count = program.len() / BPF_INSTRUCTION_SIZE;
        if program.len() % BPF_INSTRUCTION_SIZE != 0 || count == 0 || count > BPF_MAX_INSTRUCTIONS {
            return None;
        }
        Some((super::decode(program), notify))
    }

    /// Written to a temporary file and renamed, so readers see a whole entry or none.
    pub fn write(&self, program: &[libc::sock_filter], notify: bool) -> std::io::Result<()> {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&self.dir)?;
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        let mut bytes = Vec::with_capacity(self.key.len() + 3 + program.len() * 8);
        bytes.extend_from_slice(self.key.as_bytes());
        bytes.extend_from_slice(if notify { b"\n1\n" } else { b"\n0\n" });
        for insn in program {
            bytes.extend_from_slice(&insn.code.to_ne_bytes());
            bytes.extend_from_slice(&[insn.jt, insn.jf]);
            bytes.extend_from_slice(&insn.k.to_ne_bytes());
        }
        let written = file
            .write_all(&bytes)
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}
