//! The archive API: `HEAD` (stat), `GET` (a path as a tar) and `PUT` (a tar extracted into a
//! directory) on `/containers/{id}/archive?path=`, with dockerd 20.10's answers: 404 for a
//! path that is not there, 500 for an extraction point that is not a directory and for a
//! read-only root.

use super::Root;
use super::path::{ContainerPath, follow_in_root};
use crate::containers::Inner;
use crate::containers::record::ContainerRecord;
use crate::containers::spec::{in_root, user};
use crate::containers::timefmt;
use crate::error::{Error, Result};
use berth_image::layer::{ExtractOptions, LayerError, Owner};
use berth_image::pack::{ObjectStat, PackError, Packer, stat_at};
use rustix::fs::{FileType, OFlags};
use rustix::io::Errno;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// What `X-Docker-Container-Path-Stat` carries (Go's `os.FileMode` bits in `mode`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// Go's `FileMode.IsDir`.
    pub fn is_dir(&self) -> bool {
        self.mode & GO_DIR != 0
    }
}

const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHAR_DEVICE: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

/// A Unix mode as Go's `os.FileMode`, which the docker CLI decodes.
fn go_mode(stat: &ObjectStat) -> u32 {
    let mut mode = stat.mode & 0o777;
    mode |= match stat.file_type {
        FileType::Directory => GO_DIR,
        FileType::Symlink => GO_SYMLINK,
        FileType::Fifo => GO_PIPE,
        FileType::Socket => GO_SOCKET,
        FileType::BlockDevice => GO_DEVICE,
        FileType::CharacterDevice => GO_DEVICE | GO_CHAR_DEVICE,
        _ => 0,
    };
    for (bit, go) in [
        (0o4000, GO_SETUID),
        (0o2000, GO_SETGID),
        (0o1000, GO_STICKY),
    ] {
        if stat.mode & bit != 0 {
            mode |= go;
        }
    }
    mode
}

/// `path` of the request, refused when empty as dockerd refuses it.
fn parse(path: &str) -> Result<ContainerPath> {
    if path.is_empty() {
        return Err(Error::invalid("bad parameter: pathcannot be empty"));
    }
    Ok(ContainerPath::parse(path))
}

fn not_found(path: &str, record: &ContainerRecord) -> Error {
    Error::not_found(format!(
        "Could not find the file {path} in container {}",
        record.name
    ))
}

/// The object a path names: its resolved directory and its last component, not followed.
struct Located {
    dir: OwnedFd,
    name: CString,
    stat: ObjectStat,
}

fn locate(
    root: &Root,
    record: &ContainerRecord,
    requested: &str,
    path: &ContainerPath,
) -> Result<Located> {
    let failed = |e: Errno| match e {
        Errno::NOENT => not_found(requested, record),
        e => Error::internal(format!("lstat {}: {e}", path.absolute)),
    };
    let dir = in_root::open_at(
        &root.fd,
        Path::new(&path.dir),
        OFlags::PATH | OFlags::DIRECTORY,
    )
    .map_err(failed)?;
    let name = if path.names_dir() {
        c".".to_owned()
    } else {
        CString::new(path.base.as_str()).map_err(|_| Error::invalid("path contains a NUL byte"))?
    };
    let stat = stat_at(dir.as_fd(), &name).map_err(failed)?;
    Ok(Located { dir, name, stat })
}

fn path_stat(root: &Root, path: &ContainerPath, stat: &ObjectStat) -> PathStat {
    let link_target = if stat.file_type == FileType::Symlink {
        follow_in_root(&root.fd, &path.absolute).unwrap_or_default()
    } else {
        String::new()
    };
    PathStat {
        name: path.base_name(),
        size: i64::try_from(stat.size).unwrap_or(i64::MAX),
        mode: go_mode(stat),
        mtime: timefmt::format_unix(stat.mtime, stat.mtime_nsec),
        link_target,
    }
}

impl Inner {
    /// `HEAD /containers/{id}/archive?path=`.
    pub(crate) fn stat_path(&self, reference: &str, requested: &str) -> Result<PathStat> {
        let path = parse(requested)?;
        self.with_root(reference, |record, root| {
            let located = locate(root, record, requested, &path)?;
            Ok(path_stat(root, &path, &located.stat))
        })
    }

    /// `GET /containers/{id}/archive?path=`: calls `ready` with the stat once the path is
    /// found, then writes the tar to `out`.
    pub(crate) fn archive_path(
        &self,
        reference: &str,
        requested: &str,
        ready: &mut dyn FnMut(&PathStat),
        out: &mut dyn Write,
    ) -> Result<()> {
        let path = parse(requested)?;
        self.with_root(reference, |record, root| {
            let located = locate(root, record, requested, &path)?;
            ready(&path_stat(root, &path, &located.stat));
            // The object is archived from its own directory, named as the request named it
            // (`d/...`, `./...` for `d/.`, `/...` for the root).
            let mut packer = Packer::new(out);
            let base = located.dir.as_fd();
            let rel: &[u8] = if path.names_dir() {
                b""
            } else {
                located.name.as_bytes()
            };
            packer
                .append(base, rel, path.base_name().as_bytes(), true)
                .and_then(|()| packer.finish().map(drop))
                .map_err(|e| pack_error(&path.absolute, e))
        })
    }

    /// `PUT /containers/{id}/archive?path=`: extracts the tar read from `content` into the
    /// directory `path` names (symlinks followed inside the root).
    pub(crate) fn extract_to_dir(
        &self,
        reference: &str,
        requested: &str,
        copy_uid_gid: bool,
        no_overwrite_dir_non_dir: bool,
        content: &mut dyn Read,
    ) -> Result<()> {
        let path = parse(requested)?;
        self.with_root(reference, |record, root| {
            let target = match in_root::open_at(
                &root.fd,
                Path::new(&path.absolute),
                OFlags::RDONLY | OFlags::DIRECTORY,
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Err(not_found(requested, record)),
                Err(Errno::NOTDIR) => {
                    // The path itself is something else, or a component on the way is.
                    let exists =
                        in_root::open_at(&root.fd, Path::new(&path.absolute), OFlags::PATH).is_ok();
                    return Err(Error::internal(if exists {
                        "extraction point is not a directory".to_string()
                    } else {
                        format!("lstat {}: not a directory", path.absolute)
                    }));
                }
                Err(e) => {
                    return Err(Error::internal(format!(
                        "open {} in the container: {e}",
                        path.absolute
                    )));
                }
            };
            if record.body.host_config.readonly_rootfs {
                return Err(Error::internal("container rootfs is marked read-only"));
            }
            let owner = match (copy_uid_gid, record.config.user.as_str()) {
                (true, spec) if !spec.is_empty() => {
                    let (uid, gid) = user::ids_in(&root.rootfs, spec)?;
                    Owner::Fixed { uid, gid }
                }
                _ => Owner::FromArchive,
            };
            let options = ExtractOptions::copy(owner, no_overwrite_dir_non_dir);
            berth_image::layer::extract(
                content,
                target.as_fd(),
                Path::new(&path.absolute),
                &options,
            )
            .map(drop)
            .map_err(|e| match e {
                LayerError::Entry { .. } => {
                    Error::invalid(format!("Error processing tar file: {e}"))
                }
                LayerError::Stream { source, .. } => {
                    Error::invalid(format!("Error processing tar file: {source}"))
                }
                other => Error::context(format!("extract into {}", path.absolute), other),
            })
        })
    }
}

/// A failure while archiving (a file that could not be read, a client that went away): the
/// engine's, not the request's.
pub(super) fn pack_error(what: &str, e: PackError) -> Error {
    Error::context(format!("archive {what}"), e)
}
