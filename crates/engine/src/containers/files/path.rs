//! Container paths as dockerd reads them in the archive API: made absolute and cleaned
//! lexically (a trailing `/` or `/.` kept, since it means "the directory itself"), and symlinks
//! followed inside the root for a stat's `linkTarget`.

use crate::containers::spec::process::clean_path;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};

/// How many symlinks one resolution follows, as the kernel allows.
const MAX_SYMLINKS: usize = 40;

/// A requested path, split as dockerd splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ContainerPath {
    /// Absolute and clean, with the request's trailing `/` or `/.` kept.
    pub absolute: String,
    /// The directory part, resolved with every symlink followed (`/d/` of `/d/f`).
    pub dir: String,
    /// The last component, not followed; empty or `.` when the path names `dir` itself.
    pub base: String,
}

impl ContainerPath {
    pub fn parse(requested: &str) -> ContainerPath {
        let absolute = preserve_trailing(&clean_path(&format!("/{requested}")), requested);
        let split = absolute.rfind('/').map_or(0, |i| i + 1);
        ContainerPath {
            dir: absolute[..split].to_string(),
            base: absolute[split..].to_string(),
            absolute,
        }
    }

    /// Whether the last component is the directory itself (`/`, `d/`, `d/.`).
    pub fn names_dir(&self) -> bool {
        self.base.is_empty() || self.base == "."
    }

    /// Go's `filepath.Base` of the path: what a copy's entries are named after.
    pub fn base_name(&self) -> String {
        let trimmed = self.absolute.trim_end_matches('/');
        if trimmed.is_empty() {
            return "/".to_string();
        }
        trimmed.rsplit('/').next().unwrap_or("/").to_string()
    }
}

/// dockerd's `PreserveTrailingDotOrSeparator`.
fn preserve_trailing(cleaned: &str, original: &str) -> String {
    if (original.ends_with("/.") || original == ".") && !cleaned.ends_with('.') {
        return if cleaned.ends_with('/') {
            format!("{cleaned}.")
        } else {
            format!("{cleaned}/.")
        };
    }
    if original.ends_with('/') && !cleaned.ends_with('/') {
        return format!("{cleaned}/");
    }
    cleaned.to_string()
}

/// `absolute` with every symlink on the way followed inside `root`, as an absolute path in the
/// container. Missing components and those under a non-directory are kept as written, as
/// dockerd's `FollowSymlinkInScope` does; None after too many symlinks.
pub(super) fn follow_in_root(root: &OwnedFd, absolute: &str) -> Option<String> {
    let mut pending: VecDeque<String> = components(absolute);
    let mut done: Vec<String> = Vec::new();
    let mut dirs: Vec<OwnedFd> = vec![root.try_clone().ok()?];
    let mut followed = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            if done.pop().is_some() {
                dirs.pop();
            }
            continue;
        }
        let here = dirs.last()?;
        let stat = match rustix::fs::statat(here, part.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            Err(_) => {
                done.push(part);
                done.extend(pending.drain(..).filter(|p| p != ".."));
                break;
            }
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return None;
                }
                let target = rustix::fs::readlinkat(here, part.as_str(), Vec::new()).ok()?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                    dirs.truncate(1);
                }
                for p in components(&target).into_iter().rev() {
                    pending.push_front(p);
                }
            }
            FileType::Directory => {
                let next = rustix::fs::openat(
                    here.as_fd(),
                    part.as_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok()?;
                dirs.push(next);
                done.push(part);
            }
            _ => {
                done.push(part);
                done.extend(pending.drain(..).filter(|p| p != ".."));
                break;
            }
        }
    }
    Some(format!("/{}", done.join("/")))
}

fn components(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_as_dockerd_splits_them() {
        let p = ContainerPath::parse("/d/f");
        assert_eq!((p.dir.as_str(), p.base.as_str()), ("/d/", "f"));
        assert_eq!(ContainerPath::parse("relative").absolute, "/relative");
        let p = ContainerPath::parse("/d/abs/");
        assert_eq!((p.absolute.as_str(), p.base.as_str()), ("/d/abs/", ""));
        assert_eq!(p.base_name(), "abs");
        let p = ContainerPath::parse("/d/.");
        assert_eq!((p.dir.as_str(), p.base.as_str()), ("/d/", "."));
        assert_eq!(p.base_name(), ".");
        assert_eq!(ContainerPath::parse("/d/sub/..").absolute, "/d");
        assert_eq!(ContainerPath::parse("/../../etc").absolute, "/etc");
        let root = ContainerPath::parse("/");
        assert!(root.names_dir());
        assert_eq!(root.base_name(), "/");
    }
}
