//! Mounting what a snapshotter returns: overlay stacks and bind mounts.
//!
//! An overlay of any depth is mounted with the new mount API where the kernel has
//! `lowerdir+` (6.8 and later): one `fsconfig` call per layer, no length limit. Older kernels
//! only take the whole `lowerdir=` list in one string, and through mount(2) that string must fit
//! in one page (4096 bytes), which absolute paths of 100+ layers exceed. There the lower, upper
//! and work dirs are given relative to the directory they share, from a short-lived thread that
//! has unshared its filesystem context (`unshare(CLONE_FS)`) and `fchdir`ed there: the rest of the
//! process keeps its working directory, and nothing forks. With short numeric snapshot dirs
//! (`12/fs`) that fits overlay's own limit of 500 layers in one page.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
};

/// One mount a snapshot needs, applied in order onto the same target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A bind mount of one directory, read-only if asked.
    Bind { source: PathBuf, readonly: bool },
    /// An overlay: `lower` is top-most first. Without `upper` (and `work`) the stack is
    /// read-only and needs at least two lower dirs.
    Overlay {
        lower: Vec<PathBuf>,
        upper: Option<PathBuf>,
        work: Option<PathBuf>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("bind mount of {source_path} on {target}: {source}")]
    Bind {
        source_path: PathBuf,
        target: PathBuf,
        source: Errno,
    },
    #[error("overlay mount on {target} ({layers} lower layers): {step}: {source}")]
    Overlay {
        target: PathBuf,
        layers: usize,
        step: &'static str,
        source: Errno,
    },
    #[error(
        "overlay mount on {target}: {layers} lower layers need {bytes} bytes of options even with \
         relative paths, over the kernel's one-page limit; this kernel has no lowerdir+"
    )]
    TooManyLayers {
        target: PathBuf,
        layers: usize,
        bytes: usize,
    },
    #[error("overlay mount on {target}: path {path} cannot be passed to overlay: {reason}")]
    UnusablePath {
        target: PathBuf,
        path: PathBuf,
        reason: &'static str,
    },
    #[error(
        "overlay mount on {target}: a read-only overlay needs at least 2 lower dirs, got {layers}"
    )]
    TooFewLayers { target: PathBuf, layers: usize },
    #[error("unmounting {target}: {source}")]
    Unmount { target: PathBuf, source: Errno },
}

/// Mounts `mounts` in order on `target`. If one fails, those already mounted are undone.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<(), MountError> {
    for (done, mount) in mounts.iter().enumerate() {
        let result = match mount {
            Mount::Bind { source, readonly } => bind(source, target, *readonly),
            Mount::Overlay { lower, upper, work } => {
                overlay(lower, upper.as_deref(), work.as_deref(), target)
            }
        };
        if let Err(e) = result {
            for _ in 0..done {
                let _ = rustix::mount::unmount(target, UnmountFlags::NOFOLLOW);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Unmounts everything stacked on `target` and returns how many mounts that was; a target
/// with nothing mounted is not an error.
pub fn unmount(target: &Path) -> Result<usize, MountError> {
    let mut count = 0;
    loop {
        match rustix::mount::unmount(target, UnmountFlags::NOFOLLOW) {
            Ok(()) => count += 1,
            Err(Errno::INVAL) => return Ok(count),
            Err(source) => {
                return Err(MountError::Unmount {
                    target: target.to_owned(),
                    source,
                });
            }
        }
    }
}

fn bind(source: &Path, target: &Path, readonly: bool) -> Result<(), MountError> {
    let err = |e| MountError::Bind {
        source_path: source.to_owned(),
        target: target.to_owned(),
        source: e,
    };
    rustix::mount::mount_bind(source, target).map_err(err)?;
    if readonly {
        // MS_RDONLY is ignored on the bind itself; it takes a remount of the new mount.
        if let Err(e) =
            rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")
        {
            let _ = rustix::mount::unmount(target, UnmountFlags::NOFOLLOW);
            return Err(err(e));
        }
    }
    Ok(())
}

fn overlay(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    target: &Path,
) -> Result<(), MountError> {
    if upper.is_none() && lower.len() < 2 {
        return Err(MountError::TooFewLayers {
            target: target.to_owned(),
            layers: lower.len(),
        });
    }
    if !kernel_has_lowerdir_plus() {
        return overlay_with_one_page(lower, upper, work, target);
    }
    match overlay_with_lowerdir_plus(lower, upper, work, target) {
        Err(MountError::Overlay {
            source: Errno::INVAL,
            step: LOWERDIR_PLUS,
            ..
        }) => overlay_with_one_page(lower, upper, work, target),
        other => other,
    }
}

/// `lowerdir+` came with overlay's move to the new mount API in 6.8. It cannot be probed: on
/// older kernels overlay takes fsconfig strings through the legacy shim, which accepts any
/// key and fails only at create time, indistinguishably from other option errors.
pub(crate) fn kernel_has_lowerdir_plus() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        kernel_at_least(&release, (6, 8))
    })
}

fn kernel_at_least(release: &str, wanted: (u32, u32)) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= wanted
}

const LOWERDIR_PLUS: &str = "adding a lower dir (lowerdir+)";

fn overlay_with_lowerdir_plus(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    target: &Path,
) -> Result<(), MountError> {
    let err = |step| {
        move |source| MountError::Overlay {
            target: target.to_owned(),
            layers: lower.len(),
            step,
            source,
        }
    };
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(err("fsopen(overlay)"))?;
    for dir in lower {
        rustix::mount::fsconfig_set_string(&fs, "lowerdir+", dir.as_path())
            .map_err(err(LOWERDIR_PLUS))?;
    }
    if let Some(upper) = upper {
        rustix::mount::fsconfig_set_string(&fs, "upperdir", upper)
            .map_err(err("setting upperdir"))?;
    }
    if let Some(work) = work {
        rustix::mount::fsconfig_set_string(&fs, "workdir", work).map_err(err("setting workdir"))?;
    }
    rustix::mount::fsconfig_create(&fs)
        .map_err(err("creating the overlay (FSCONFIG_CMD_CREATE)"))?;
    let attrs = if upper.is_none() {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
        .map_err(err("fsmount"))?;
    rustix::mount::move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(err("move_mount onto the target"))
}

/// The largest mount(2) data the kernel copies (one page, with the NUL).
const MOUNT_DATA_MAX: usize = 4095;

/// Mounts through mount(2) with all options in one page; for kernels without `lowerdir+`.
pub(crate) fn overlay_with_one_page(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    target: &Path,
) -> Result<(), MountError> {
    let all: Vec<&Path> = lower
        .iter()
        .map(PathBuf::as_path)
        .chain(upper)
        .chain(work)
        .collect();
    for path in &all {
        let bytes = path.as_os_str().as_bytes();
        if bytes.iter().any(|b| matches!(b, b',' | b':' | b'\\')) {
            return Err(MountError::UnusablePath {
                target: target.to_owned(),
                path: path.to_path_buf(),
                reason: "contains ',', ':' or '\\', which separate overlay options",
            });
        }
    }
    let absolute = overlay_options(lower.iter().map(|p| p.as_path()), upper, work);
    if absolute.len() <= MOUNT_DATA_MAX {
        return legacy_mount(&absolute, target, lower.len(), upper.is_none());
    }
    let Some(base) = common_parent(&all) else {
        return Err(MountError::TooManyLayers {
            target: target.to_owned(),
            layers: lower.len(),
            bytes: absolute.len(),
        });
    };
    let relative = |p: &Path| {
        p.strip_prefix(&base)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let rel_lower: Vec<PathBuf> = lower.iter().map(|p| relative(p)).collect();
    let (rel_upper, rel_work) = (upper.map(relative), work.map(relative));
    let options = overlay_options(
        rel_lower.iter().map(|p| p.as_path()),
        rel_upper.as_deref(),
        rel_work.as_deref(),
    );
    if options.len() > MOUNT_DATA_MAX {
        return Err(MountError::TooManyLayers {
            target: target.to_owned(),
            layers: lower.len(),
            bytes: options.len(),
        });
    }
    let err = |step| {
        move |source| MountError::Overlay {
            target: target.to_owned(),
            layers: lower.len(),
            step,
            source,
        }
    };
    let base_fd = rustix::fs::open(
        &base,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("opening the layers' common directory"))?;
    let target = if target.is_absolute() {
        target.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(target))
            .unwrap_or_else(|_| target.to_path_buf())
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: CLONE_FS gives only this thread its own cwd/root/umask; it changes no
                // memory and the thread ends right after the mount.
                unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }
                    .map_err(err("unshare(CLONE_FS) in the mount thread"))?;
                rustix::process::fchdir(&base_fd)
                    .map_err(err("fchdir to the layers' common directory"))?;
                legacy_mount(&options, &target, lower.len(), upper.is_none())
            })
            .join()
            .unwrap_or_else(|_| Err(err("the mount thread panicked")(Errno::IO)))
    })
}

fn legacy_mount(
    options: &str,
    target: &Path,
    layers: usize,
    readonly: bool,
) -> Result<(), MountError> {
    let err = |step| {
        move |source| MountError::Overlay {
            target: target.to_owned(),
            layers,
            step,
            source,
        }
    };
    let data = CString::new(options).map_err(|_| err("building the options")(Errno::INVAL))?;
    let flags = if readonly {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    rustix::mount::mount("overlay", target, "overlay", flags, data.as_c_str())
        .map_err(err("mount(2)"))
}

fn overlay_options<'a>(
    lower: impl Iterator<Item = &'a Path>,
    upper: Option<&Path>,
    work: Option<&Path>,
) -> String {
    let lower: Vec<String> = lower.map(|p| p.display().to_string()).collect();
    let mut options = format!("lowerdir={}", lower.join(":"));
    if let (Some(upper), Some(work)) = (upper, work) {
        options.push_str(&format!(
            ",upperdir={},workdir={}",
            upper.display(),
            work.display()
        ));
    }
    options
}

/// The deepest directory containing every path, if they are all absolute.
fn common_parent(paths: &[&Path]) -> Option<PathBuf> {
    let first = paths.first()?;
    let mut base = first.parent()?.to_path_buf();
    while !paths.iter().all(|p| p.starts_with(&base) && *p != base) {
        base = base.parent()?.to_path_buf();
    }
    base.is_absolute().then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_parent_is_the_deepest_shared_dir() {
        let paths = [
            Path::new("/s/snapshots/1/fs"),
            Path::new("/s/snapshots/22/fs"),
            Path::new("/s/snapshots/3/work"),
        ];
        assert_eq!(common_parent(&paths), Some(PathBuf::from("/s/snapshots")));
        let one = [Path::new("/a/b/fs")];
        assert_eq!(common_parent(&one), Some(PathBuf::from("/a/b")));
        assert_eq!(
            common_parent(&[Path::new("rel/a"), Path::new("other/b")]),
            None
        );
    }

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        assert!(kernel_at_least("6.18.44-fc-v1045", (6, 8)));
        assert!(kernel_at_least("6.8.0", (6, 8)));
        assert!(!kernel_at_least("6.1.0-56-amd64", (6, 8)));
        assert!(!kernel_at_least("5.19.1", (6, 8)));
        assert!(!kernel_at_least("garbage", (6, 8)));
    }

    #[test]
    fn options_list_lower_dirs_top_first() {
        let lower = [PathBuf::from("3/fs"), PathBuf::from("2/fs")];
        let options = overlay_options(
            lower.iter().map(|p| p.as_path()),
            Some(Path::new("4/fs")),
            Some(Path::new("4/work")),
        );
        assert_eq!(options, "lowerdir=3/fs:2/fs,upperdir=4/fs,workdir=4/work");
    }
}
