//! Resolving paths inside the container's root filesystem, one component at a time through
//! O_PATH descriptors, so that neither `..` nor a symlink (absolute or relative) can lead outside it.
//! Absolute symlinks are taken relative to the rootfs, as the container will see them; a relative one
//! that climbs above the rootfs is refused.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{FileType, Mode, OFlags};
use std::os::unix::ffi::OsStrExt;

const MAX_SYMLINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{path:?} leads outside the root filesystem")]
    Escapes { path: String },
    #[error("{path:?}: a component is not a directory")]
    NotDirectory { path: String },
    #[error("{path:?}: too many levels of symbolic links")]
    Loop { path: String },
    #[error("{path:?} is {found}, not an ordinary directory")]
    NotOrdinaryDirectory { path: String, found: &'static str },
    #[error("{path:?}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// What to make of a missing final component.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Nothing,
    Directory,
    File,
}

/// Opens `path` (taken as inside `root`) as an O_PATH descriptor, creating missing directories on
/// the way, and the final component as `create` says.
pub fn open_in_root(root: &OwnedFd, path: &Path, create: Create) -> Result<OwnedFd, ResolveError> {
    resolve(root, path, create, false)
}

/// As `open_in_root` with `Create::Directory`, but the final component must itself be a directory:
/// a symlink there is refused, not followed (a proc or sysfs mounted through one lands wherever
/// the link points, the class of CVE-2023-28642).
pub fn open_ordinary_directory_in_root(
    root: &OwnedFd,
    path: &Path,
) -> Result<OwnedFd, ResolveError> {
    resolve(root, path, Create::Directory, true)
}

fn resolve(
    root: &OwnedFd,
    path: &Path,
    create: Create,
    last_is_directory: bool,
) -> Result<OwnedFd, ResolveError> {
    let shown = path.display().to_string();
    let io_err = |source: io::Error| ResolveError::Io {
        path: shown.clone(),
        source,
    };
    let mut remaining: VecDeque<OsString> = components(path);
    let mut stack: Vec<OwnedFd> = vec![dup(root).map_err(io_err)?];
    let mut symlinks = 0;

    while let Some(name) = remaining.pop_front() {
        if name == ".." {
            if stack.len() == 1 {
                return Err(ResolveError::Escapes { path: shown });
            }
            stack.pop();
            continue;
        }
        let is_last = remaining.is_empty();
        let dir = stack.last().ok_or_else(|| ResolveError::Escapes {
            path: shown.clone(),
        })?;
        let fd = match open_path(dir, &name) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound && (create != Create::Nothing) => {
                make(dir, &name, if is_last { create } else { Create::Directory })
                    .map_err(io_err)?;
                open_path(dir, &name).map_err(io_err)?
            }
            Err(e) => return Err(io_err(e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| io_err(e.into()))?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        if is_last && last_is_directory && file_type != FileType::Directory {
            return Err(ResolveError::NotOrdinaryDirectory {
                path: shown,
                found: describe(file_type),
            });
        }
        match file_type {
            FileType::Symlink => {
                symlinks += 1;
                if symlinks > MAX_SYMLINKS {
                    return Err(ResolveError::Loop { path: shown });
                }
                let target =
                    rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| io_err(e.into()))?;
                let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    stack.truncate(1);
                }
                for part in components(target).into_iter().rev() {
                    remaining.push_front(part);
                }
            }
            FileType::Directory => stack.push(fd),
            _ if is_last => return Ok(fd),
            _ => return Err(ResolveError::NotDirectory { path: shown }),
        }
    }
    stack.pop().ok_or(ResolveError::Escapes { path: shown })
}

fn describe(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Symlink => "a symbolic link (not followed)",
        FileType::RegularFile => "a regular file",
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "not a directory",
    }
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
}

fn open_path(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir.as_fd(),
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

fn make(dir: &OwnedFd, name: &OsStr, what: Create) -> io::Result<()> {
    let result = match what {
        Create::Directory => rustix::fs::mkdirat(dir.as_fd(), name, Mode::from_raw_mode(0o755)),
        Create::File => rustix::fs::openat(
            dir.as_fd(),
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(drop),
        Create::Nothing => return Ok(()),
    };
    match result {
        Err(rustix::io::Errno::EXIST) => Ok(()),
        other => other.map_err(io::Error::from),
    }
}

/// True when the O_PATH descriptor is a directory.
pub fn is_directory(fd: &OwnedFd) -> io::Result<bool> {
    let stat = rustix::fs::fstat(fd)?;
    Ok(FileType::from_raw_mode(stat.st_mode) == FileType::Directory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn symlinks_stay_inside_and_escapes_are_refused() {
        let tmp = std::env::temp_dir().join(format!("berth-resolve-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../..", root.join("rel-escape")).unwrap();
        symlink("etc", root.join("rel-ok")).unwrap();
        let fd = root_fd(&root);

        let inside = open_in_root(&fd, Path::new("/abs/new/dir"), Create::Directory).unwrap();
        assert!(is_directory(&inside).unwrap());
        assert!(root.join("etc/new/dir").is_dir());
        assert!(open_in_root(&fd, Path::new("/rel-ok"), Create::Nothing).is_ok());
        assert!(matches!(
            open_in_root(&fd, Path::new("/rel-escape/x"), Create::Directory),
            Err(ResolveError::Escapes { .. })
        ));
        assert!(matches!(
            open_in_root(&fd, Path::new("/../x"), Create::Directory),
            Err(ResolveError::Escapes { .. })
        ));
        let file = open_in_root(&fd, Path::new("/etc/file"), Create::File).unwrap();
        assert!(!is_directory(&file).unwrap());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn ordinary_directory_refuses_a_final_symlink_or_file() {
        let tmp = std::env::temp_dir().join(format!("berth-resolve-dir-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("tmp/x")).unwrap();
        std::fs::write(root.join("file"), "").unwrap();
        symlink("/tmp/x", root.join("proc")).unwrap();
        symlink("tmp", root.join("via")).unwrap();
        let fd = root_fd(&root);
        for (path, found) in [
            ("/proc", "a symbolic link (not followed)"),
            ("/file", "a regular file"),
        ] {
            match open_ordinary_directory_in_root(&fd, Path::new(path)) {
                Err(ResolveError::NotOrdinaryDirectory { found: f, .. }) => assert_eq!(f, found),
                other => panic!("{path}: {other:?}"),
            }
        }
        // Links before the final component are still resolved (inside the root); missing
        // directories are made.
        let x = open_ordinary_directory_in_root(&fd, Path::new("/via/x")).unwrap();
        assert!(is_directory(&x).unwrap());
        let made = open_ordinary_directory_in_root(&fd, Path::new("/sys")).unwrap();
        assert!(is_directory(&made).unwrap() && root.join("sys").is_dir());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
