//! Protection of the runtime binary against being overwritten from inside a container (the class of
//! CVE-2019-5736): before making a container, the runtime re-executes itself from a sealed memfd copy,
//! so /proc/<init>/exe names an immutable in-memory file, never the binary on disk.

use crate::error::{Context, Result};
use crate::sys;
use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// True when the running executable is a memfd carrying all our seals.
pub fn is_sealed() -> bool {
    let Ok(exe) = rustix::fs::open(
        "/proc/self/exe",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    sys::get_seals(exe.as_fd()).is_ok_and(|seals| seals & SEALS == SEALS)
}

/// Re-executes the current command from a sealed copy of the binary; returns only if already sealed.
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe = std::fs::File::open("/proc/self/exe").context(|| "open /proc/self/exe".into())?;
    let len = exe
        .metadata()
        .context(|| "stat /proc/self/exe".into())?
        .len() as usize;
    let memfd = sys::memfd_create(
        c"berth-runtime",
        libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
    )
    .context(|| "memfd_create for the sealed runtime copy".into())?;
    sys::sendfile_all(memfd.as_fd(), exe.as_fd(), len)
        .context(|| "copy the runtime binary into a memfd".into())?;
    sys::add_seals(memfd.as_fd(), SEALS).context(|| "seal the runtime memfd".into())?;
    let to_c = |s: std::ffi::OsString| CString::new(s.into_vec()).unwrap_or_default();
    let argv: Vec<CString> = std::env::args_os().map(to_c).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let err = sys::fexecve(memfd.as_fd(), &argv, &envp);
    Err(crate::error::Error::Sys {
        what: "re-execute from the sealed runtime copy".into(),
        source: err,
    })
}
