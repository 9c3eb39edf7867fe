//! Device nodes in the container's /dev: the default set every container gets, the spec's
//! `linux.devices`, and the standard symlinks. In a user namespace mknod is not allowed, so the
//! host's node is bind-mounted instead, as runc does.

use super::resolve::{Create, open_in_root};
use crate::channel::InitFailure;
use crate::sys;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{AtFlags, Mode};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

struct Node {
    path: PathBuf,
    kind: libc::mode_t,
    major: i64,
    minor: i64,
    mode: u32,
    uid: u32,
    gid: u32,
}

const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

pub fn create(
    root: &OwnedFd,
    spec_devices: &[LinuxDevice],
    in_user_namespace: bool,
) -> Result<(), InitFailure> {
    let defaults = DEFAULT_DEVICES.iter().map(|&(path, major, minor)| Node {
        path: PathBuf::from(path),
        kind: libc::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    });
    let from_spec = spec_devices.iter().map(|d| Node {
        path: d.path().clone(),
        kind: match d.typ() {
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        },
        major: d.major(),
        minor: d.minor(),
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    });
    let dev_dir = open_dir(root, Path::new("/dev"))?;
    for (index, node) in defaults.chain(from_spec).enumerate() {
        let step = if index < DEFAULT_DEVICES.len() {
            format!("default device {}", node.path.display())
        } else {
            format!(
                "linux.devices[{}] ({})",
                index - DEFAULT_DEVICES.len(),
                node.path.display()
            )
        };
        make_node(root, &dev_dir, &node, in_user_namespace).map_err(|e| InitFailure {
            step: format!("{step}: {}", e.step),
            ..e
        })?;
    }
    for (name, target) in SYMLINKS {
        match rustix::fs::symlinkat(target, &dev_dir, name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(InitFailure::os(format!("symlink /dev/{name}"), &e.into())),
        }
    }
    Ok(())
}

/// A directory inside the rootfs, opened for *at calls (mknodat and fchownat refuse O_PATH descriptors).
fn open_dir(root: &OwnedFd, path: &Path) -> Result<OwnedFd, InitFailure> {
    let dir = open_in_root(root, path, Create::Directory)
        .map_err(|e| InitFailure::msg(path.display().to_string(), e.to_string()))?;
    rustix::fs::openat(
        &dir,
        ".",
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitFailure::os(format!("open {}", path.display()), &e.into()))
}

fn make_node(
    root: &OwnedFd,
    dev_dir: &OwnedFd,
    node: &Node,
    in_user_namespace: bool,
) -> Result<(), InitFailure> {
    let parent = node.path.parent().unwrap_or(Path::new("/dev"));
    let name = node
        .path
        .file_name()
        .unwrap_or(OsStr::new(""))
        .to_os_string();
    let opened;
    let dir = if parent == Path::new("/dev") {
        dev_dir
    } else {
        opened = open_dir(root, parent)?;
        &opened
    };
    let cname = sys::cstr(&name).map_err(|e| InitFailure::os("name", &e))?;
    let dev = sys::makedev(node.major as u64, node.minor as u64);
    let made = if in_user_namespace && node.kind != libc::S_IFIFO {
        Err(std::io::Error::from_raw_os_error(libc::EPERM))
    } else {
        sys::mknodat(dir.as_fd(), &cname, node.kind | node.mode, dev)
    };
    match made {
        Ok(()) => {
            rustix::fs::chownat(
                dir,
                name.as_os_str(),
                Some(rustix::fs::Uid::from_raw(node.uid)),
                Some(rustix::fs::Gid::from_raw(node.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| InitFailure::os("chown", &e.into()))?;
            rustix::fs::chmodat(
                dir,
                name.as_os_str(),
                Mode::from_raw_mode(node.mode),
                AtFlags::empty(),
            )
            .map_err(|e| InitFailure::os("chmod", &e.into()))
        }
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => bind_host_node(root, node),
        Err(e) => Err(InitFailure::os("mknod", &e)),
    }
}

fn bind_host_node(root: &OwnedFd, node: &Node) -> Result<(), InitFailure> {
    let target = open_in_root(root, &node.path, Create::File)
        .map_err(|e| InitFailure::msg("create bind target", e.to_string()))?;
    let source = sys::path_cstr(&node.path).map_err(|e| InitFailure::os("path", &e))?;
    sys::mount(
        Some(&source),
        &sys::fd_path(target.as_fd()),
        None,
        libc::MS_BIND,
        None,
    )
    .map_err(|e| InitFailure::os(format!("bind host {}", node.path.display()), &e))
}
