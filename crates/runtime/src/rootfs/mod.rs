//! The container's root filesystem, set up by its init inside its mount namespace (new or joined):
//! the spec's mounts in order, the device nodes, then pivot_root. After the pivot: masked and
//! read-only paths. A container without a mount namespace of its own gets the same mounts in the
//! runtime's namespace and enters its root with chroot, as runc and crun do.

pub mod cgroupfs;
pub mod devices;
pub mod options;
pub mod resolve;

use crate::channel::InitFailure;
use crate::sys;
use oci_spec::runtime::{Mount, Spec};
use options::MountOptions;
use resolve::{Create, open_in_root};
use rustix::fs::{Mode, OFlags};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

type Step<T = ()> = Result<T, InitFailure>;

pub struct RootfsSetup<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    /// No mount namespace listed: the mounts are made (and stay) in the runtime's namespace.
    pub in_callers_mount_namespace: bool,
    pub in_user_namespace: bool,
    pub new_cgroup_namespace: bool,
    /// The container's cgroup (its path and the host's hierarchies, for the cgroupfs mount).
    pub cgroup: &'a berth_cgroups::Cgroup,
    pub idmapped: &'a [crate::idmap::IdmappedMount],
}

fn os(step: impl Into<String>) -> impl FnOnce(io::Error) -> InitFailure {
    let step = step.into();
    move |e| InitFailure::os(step, &e)
}

fn cpath(path: &Path) -> Step<CString> {
    sys::path_cstr(path).map_err(os(format!("path {}", path.display())))
}

impl RootfsSetup<'_> {
    /// Everything up to and including the pivot into the new root.
    pub fn prepare(&self) -> Step {
        self.prepare_with(|| Ok(()))
    }

    /// As `prepare`, running `before_pivot` once the mounts are made, while the host's root is
    /// still the root (where the createRuntime and createContainer hooks run).
    pub fn prepare_with(&self, before_pivot: impl FnOnce() -> Step) -> Step {
        let linux = self.spec.linux().as_ref();
        // The caller's / is not ours to change: without a mount namespace rootfsPropagation is
        // ignored, as crun does (runc makes the caller's whole tree a slave).
        let propagation = linux
            .and_then(|l| l.rootfs_propagation().as_deref())
            .filter(|p| !p.is_empty() && !self.in_callers_mount_namespace)
            .and_then(options::propagation_flag);
        let rootfs = cpath(self.rootfs)?;
        if !self.in_callers_mount_namespace {
            // Keep the host from seeing our mounts (and, by default, let host unmounts reach us).
            sys::mount(
                None,
                c"/",
                None,
                propagation.unwrap_or(libc::MS_SLAVE | libc::MS_REC),
                None,
            )
            .map_err(os("linux.rootfsPropagation: set propagation of /"))?;
            if propagation.is_some_and(|p| p & libc::MS_SHARED != 0 || p & libc::MS_REC == 0) {
                // pivot_root refuses a shared parent mount, and a non-recursive change of / leaves it shared.
                make_parent_mount_private(self.rootfs)?;
            }
        }
        match self.idmapped_root() {
            // An id-mapped bind at "/" is the root itself, seen through its mapping.
            Some(tree) => {
                let dir = rustix::fs::open(
                    self.rootfs,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| InitFailure::os("root.path: open", &e.into()))?;
                attach(tree, &dir)
                    .map_err(os("mounts (destination /): attach the id-mapped root"))?;
            }
            // chroot needs no mount at the root: in the caller's namespace the root is bound onto
            // itself only so that root.readonly remounts a mount of ours, not the caller's.
            None if self.in_callers_mount_namespace && !readonly_root(self.spec) => {}
            None => sys::mount(
                Some(&rootfs),
                &rootfs,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .map_err(os(format!(
                "root.path: bind {} onto itself",
                self.rootfs.display()
            )))?,
        }
        let root_fd = rustix::fs::open(
            self.rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| InitFailure::os("root.path: open", &e.into()))?;

        for (index, mount) in self.spec.mounts().iter().flatten().enumerate() {
            if is_root_destination(mount) && self.idmapped_root().is_some() {
                continue;
            }
            self.mount_one(&root_fd, index, mount)?;
        }
        let cwd = self
            .spec
            .process()
            .as_ref()
            .map(|p| p.cwd().clone())
            .unwrap_or_default();
        open_in_root(&root_fd, &cwd, Create::Directory)
            .map_err(|e| InitFailure::msg("process.cwd", e.to_string()))?;
        devices::create(
            &root_fd,
            linux
                .and_then(|l| l.devices().as_deref())
                .unwrap_or_default(),
            self.in_user_namespace,
        )?;
        drop(root_fd);
        before_pivot()?;
        if self.in_callers_mount_namespace {
            // pivot_root or a move onto / would change the root of everything in the caller's namespace.
            enter_root_with_chroot(self.rootfs)?;
        } else if self.no_pivot {
            move_root(self.rootfs)?;
        } else {
            pivot_root(self.rootfs)?;
        }
        if let Some(flag) = propagation {
            sys::mount(None, c"/", None, flag, None)
                .map_err(os("linux.rootfsPropagation: apply to /"))?;
        }
        Ok(())
    }

    fn idmapped_root(&self) -> Option<&OwnedFd> {
        let mounts = self.spec.mounts().as_deref().unwrap_or_default();
        self.idmapped
            .iter()
            .find(|m| mounts.get(m.index).is_some_and(is_root_destination))
            .map(|m| &m.tree)
    }

    fn mount_one(&self, root: &OwnedFd, index: usize, mount: &Mount) -> Step {
        let field = format!("mounts[{index}] ({})", mount.destination().display());
        let typ = mount.typ().as_deref().unwrap_or("");
        let opts = options::parse(mount.options().as_deref().unwrap_or_default());
        if typ == "cgroup" || typ == "cgroup2" {
            return cgroupfs::mount(
                root,
                mount.destination(),
                typ,
                &opts,
                self.new_cgroup_namespace,
                self.cgroup,
            )
            .map_err(|e| InitFailure {
                step: format!("{field}: {}", e.step),
                ..e
            });
        }
        let bind = opts.is_bind() || typ == "bind";
        let source = mount.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let source = if bind && source.is_relative() {
            self.bundle.join(source)
        } else {
            source
        };
        let kind = if bind && !source.is_dir() {
            Create::File
        } else {
            Create::Directory
        };
        if bind {
            std::fs::symlink_metadata(&source)
                .map_err(os(format!("{field}: source {}", source.display())))?;
        }
        let target = if typ == "proc" || typ == "sysfs" {
            resolve::open_ordinary_directory_in_root(root, mount.destination()).map_err(|e| {
                InitFailure::msg(format!("{field}: {typ} destination"), e.to_string())
            })?
        } else {
            open_in_root(root, mount.destination(), kind)
                .map_err(|e| InitFailure::msg(format!("{field}: destination"), e.to_string()))?
        };
        let target_path = sys::fd_path(target.as_fd());
        let source_c = cpath(&source)?;
        let idmapped = self.idmapped.iter().find(|m| m.index == index);
        if let Some(idmapped) = idmapped {
            attach(&idmapped.tree, &target).map_err(os(format!(
                "{field}: attach the id-mapped {}",
                source.display()
            )))?;
        } else if bind {
            sys::mount(
                Some(&source_c),
                &target_path,
                None,
                libc::MS_BIND | (opts.flags & libc::MS_REC),
                None,
            )
            .map_err(os(format!("{field}: bind {}", source.display())))?;
        } else {
            let data = crate::lsm::labelled_mount_data(self.spec, typ, &opts.data);
            let data = (!data.is_empty()).then(|| CString::new(data).unwrap_or_default());
            let fstype = cpath(Path::new(typ))?;
            let result = sys::mount(
                Some(&source_c),
                &target_path,
                Some(&fstype),
                opts.flags & !libc::MS_REMOUNT,
                data.as_deref(),
            );
            match result {
                // A sysfs needs a network namespace owned by our user namespace; runc falls back to a bind.
                Err(e)
                    if typ == "sysfs"
                        && self.in_user_namespace
                        && e.raw_os_error() == Some(libc::EPERM) =>
                {
                    sys::mount(
                        Some(c"/sys"),
                        &target_path,
                        None,
                        libc::MS_BIND | libc::MS_REC,
                        None,
                    )
                    .map_err(os(format!("{field}: bind /sys (sysfs not permitted)")))?;
                    return self.remount_bind(root, &field, mount, &opts);
                }
                other => other.map_err(os(format!("{field}: mount {typ}")))?,
            }
        }
        if bind {
            self.remount_bind(root, &field, mount, &opts)?;
        } else {
            self.apply_propagation_and_attrs(root, &field, mount, &opts)?;
        }
        Ok(())
    }

    /// Opens the mount now sitting on the destination (the descriptor taken before the mount names
    /// the directory underneath it).
    fn reopen(&self, root: &OwnedFd, field: &str, mount: &Mount) -> Step<OwnedFd> {
        open_in_root(root, mount.destination(), Create::Nothing)
            .map_err(|e| InitFailure::msg(format!("{field}: reopen destination"), e.to_string()))
    }

    fn remount_bind(
        &self,
        root: &OwnedFd,
        field: &str,
        mount: &Mount,
        opts: &MountOptions,
    ) -> Step {
        let wanted = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if wanted != 0 || opts.cleared != 0 {
            let fd = self.reopen(root, field, mount)?;
            // Keep the flags the source mount already has (in a user namespace they are locked) unless cleared.
            let current = mount_flags(&fd).map_err(os(format!("{field}: statfs")))?;
            let flags = (current | wanted) & !opts.cleared;
            sys::mount(
                None,
                &sys::fd_path(fd.as_fd()),
                None,
                libc::MS_BIND | libc::MS_REMOUNT | flags,
                None,
            )
            .map_err(os(format!("{field}: remount with options")))?;
        }
        self.apply_propagation_and_attrs(root, field, mount, opts)
    }

    fn apply_propagation_and_attrs(
        &self,
        root: &OwnedFd,
        field: &str,
        mount: &Mount,
        opts: &MountOptions,
    ) -> Step {
        if opts.propagation.is_empty() && opts.recursive_set == 0 && opts.recursive_clear == 0 {
            return Ok(());
        }
        let fd = self.reopen(root, field, mount)?;
        let path = sys::fd_path(fd.as_fd());
        for &flag in &opts.propagation {
            sys::mount(None, &path, None, flag, None)
                .map_err(os(format!("{field}: set propagation")))?;
        }
        if opts.recursive_set != 0 || opts.recursive_clear != 0 {
            sys::mount_setattr(&path, true, opts.recursive_set, opts.recursive_clear)
                .map_err(os(format!("{field}: recursive mount attributes")))?;
        }
        Ok(())
    }
}

fn is_root_destination(mount: &Mount) -> bool {
    mount.destination() == Path::new("/")
}

/// Attaches a detached mount (from open_tree) on the directory `target` refers to.
fn attach(tree: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
    rustix::mount::move_mount(
        tree.as_fd(),
        c"",
        target.as_fd(),
        c"",
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
            | rustix::mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(io::Error::from)
}

/// The mount(2) flags a mounted filesystem currently has.
pub fn mount_flags(fd: &OwnedFd) -> io::Result<libc::c_ulong> {
    let vfs = rustix::fs::fstatvfs(fd)?;
    let f = vfs.f_flag.bits();
    let pairs = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_SYNCHRONOUS, libc::MS_SYNCHRONOUS),
        (libc::ST_MANDLOCK, libc::MS_MANDLOCK),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st, _)| f & *st != 0)
        .fold(0, |acc, (_, ms)| acc | ms))
}

fn make_parent_mount_private(rootfs: &Path) -> Step {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(os("read /proc/self/mountinfo"))?;
    let parent = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|mp| rootfs.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/"));
    sys::mount(None, &cpath(&parent)?, None, libc::MS_PRIVATE, None).map_err(os(format!(
        "make parent mount {} private",
        parent.display()
    )))
}

pub fn unescape_mountinfo(field: &str) -> PathBuf {
    PathBuf::from(
        field
            .replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\"),
    )
}

fn pivot_root(rootfs: &Path) -> Step {
    let open_dir = |p: &Path| {
        rustix::fs::open(
            p,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| InitFailure::os(format!("pivot_root: open {}", p.display()), &e.into()))
    };
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    rustix::process::fchdir(&new_root)
        .map_err(|e| InitFailure::os("pivot_root: chdir", &e.into()))?;
    // pivot_root(".", ".") stacks the old root on top of the new one, so no put_old directory is needed.
    sys::pivot_root(c".", c".").map_err(os("pivot_root"))?;
    rustix::process::fchdir(&old_root)
        .map_err(|e| InitFailure::os("pivot_root: chdir old root", &e.into()))?;
    // The old root must not propagate our unmount to the host.
    sys::mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(os("pivot_root: make old root slave"))?;
    sys::umount_detach(c".").map_err(os("pivot_root: detach old root"))?;
    std::env::set_current_dir("/").map_err(os("pivot_root: chdir /"))
}

fn enter_root_with_chroot(rootfs: &Path) -> Step {
    std::env::set_current_dir(rootfs).map_err(os("chroot: chdir rootfs"))?;
    rustix::process::chroot(".").map_err(|e| InitFailure::os("chroot", &e.into()))?;
    std::env::set_current_dir("/").map_err(os("chroot: chdir /"))
}

fn move_root(rootfs: &Path) -> Step {
    std::env::set_current_dir(rootfs).map_err(os("no-pivot: chdir rootfs"))?;
    sys::mount(Some(&cpath(rootfs)?), c"/", None, libc::MS_MOVE, None)
        .map_err(os("no-pivot: move rootfs to /"))?;
    rustix::process::chroot(".").map_err(|e| InitFailure::os("no-pivot: chroot", &e.into()))?;
    std::env::set_current_dir("/").map_err(os("no-pivot: chdir /"))
}

/// After the pivot: the spec's read-only and masked paths, then the read-only root.
pub fn finalize(spec: &Spec) -> Step {
    let linux = spec.linux().as_ref();
    for path in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default()
    {
        readonly_path(path)?;
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default()
    {
        mask_path(path)?;
    }
    if readonly_root(spec) {
        let root = open_plain("/").map_err(os("root.readonly: open /"))?;
        let flags = mount_flags(&root).map_err(os("root.readonly: statfs /"))?;
        sys::mount(
            None,
            c"/",
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
            None,
        )
        .map_err(os("root.readonly: remount / read-only"))?;
    }
    Ok(())
}

fn readonly_root(spec: &Spec) -> bool {
    spec.root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
}

fn open_plain(path: &str) -> io::Result<OwnedFd> {
    rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(io::Error::from)
}

fn readonly_path(path: &str) -> Step {
    let step = format!("linux.readonlyPaths: {path}");
    let c = cpath(Path::new(path))?;
    match sys::mount(Some(&c), &c, None, libc::MS_BIND | libc::MS_REC, None) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        other => other.map_err(os(step.clone()))?,
    }
    let fd = open_plain(path).map_err(os(step.clone()))?;
    let flags = mount_flags(&fd).map_err(os(step.clone()))?;
    sys::mount(
        None,
        &c,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
        None,
    )
    .map_err(os(step))
}

fn mask_path(path: &str) -> Step {
    let step = format!("linux.maskedPaths: {path}");
    let c = cpath(Path::new(path))?;
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(os(step.clone()))?,
    };
    if meta.is_dir() {
        sys::mount(
            Some(c"tmpfs"),
            &c,
            Some(c"tmpfs"),
            libc::MS_RDONLY,
            Some(c"size=0"),
        )
    } else {
        sys::mount(Some(c"/dev/null"), &c, None, libc::MS_BIND, None)
    }
    .map_err(os(step))
}
