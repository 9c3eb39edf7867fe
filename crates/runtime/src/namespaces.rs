//! How the container's namespaces are made and joined.
//!
//! Common case (nothing to join but maybe pid/time): one clone() with every new namespace's flag,
//! and the child is the container's init. Joining other namespaces by path needs an order that one
//! clone cannot give (join first, then create the user namespace, then the rest), so then the child
//! joins and unshares itself and, for a new PID namespace, forks the init as runc's nsexec does.
//! PID and time namespaces given by path only take effect for children, so the runtime joins them
//! itself before forking.

use crate::error::{Context, Result};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub fn clone_flag(kind: LinuxNamespaceType) -> libc::c_int {
    match kind {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// Where the container's mounts are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MountNamespace {
    /// Not listed: the container shares the runtime's (the runtime spec says unlisted namespaces
    /// are inherited), so its root is set up there and entered with chroot.
    #[default]
    Inherited,
    New,
    /// Given by path: the root is set up inside it as in a new one (runc and crun do the same).
    Joined,
}

pub struct JoinTarget {
    pub kind: LinuxNamespaceType,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

#[derive(Default)]
pub struct NamespacePlan {
    /// Joined by the runtime before forking (pid, time): they apply to its children.
    pub parent_join: Vec<JoinTarget>,
    /// A new time namespace, unshared by the runtime so the offsets can be written before the init enters.
    pub parent_new_time: bool,
    /// Flags for the clone() that makes the child.
    pub clone_flags: libc::c_int,
    /// Joined by the child, user namespace first.
    pub child_join: Vec<JoinTarget>,
    /// The child unshares a new user namespace itself (after joining).
    pub child_new_user: bool,
    /// Unshared by the child after the user namespace.
    pub child_unshare: libc::c_int,
    /// The child forks the init after unsharing (a new PID namespace applies to children only).
    pub second_fork: bool,
    pub new_user: bool,
    pub new_pid: bool,
    pub new_cgroup: bool,
    pub mount: MountNamespace,
}

impl NamespacePlan {
    /// A new cgroup namespace is rooted at the cgroup its creator is in, so the child makes it itself
    /// once the runtime has placed it in the container's cgroup.
    pub fn new_cgroup_namespace_after_placement(&mut self) {
        self.clone_flags &= !libc::CLONE_NEWCGROUP;
        self.child_unshare &= !libc::CLONE_NEWCGROUP;
    }
}

impl NamespacePlan {
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> Result<Self> {
        let mut plan = NamespacePlan::default();
        let mut new_flags = 0;
        for ns in namespaces {
            let kind = ns.typ();
            match ns.path() {
                Some(path) => {
                    let fd = rustix::fs::open(
                        path,
                        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    )
                    .context(|| {
                        format!("linux.namespaces: open {kind} namespace {}", path.display())
                    })?;
                    let target = JoinTarget {
                        kind,
                        path: path.clone(),
                        fd,
                    };
                    if kind == LinuxNamespaceType::Mount {
                        plan.mount = MountNamespace::Joined;
                    }
                    if matches!(kind, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                        plan.parent_join.push(target);
                    } else {
                        plan.child_join.push(target);
                    }
                }
                None if kind == LinuxNamespaceType::Time => plan.parent_new_time = true,
                None => new_flags |= clone_flag(kind),
            }
        }
        plan.child_join
            .sort_by_key(|t| t.kind != LinuxNamespaceType::User);
        plan.new_user = new_flags & libc::CLONE_NEWUSER != 0;
        plan.new_pid = new_flags & libc::CLONE_NEWPID != 0;
        plan.new_cgroup = new_flags & libc::CLONE_NEWCGROUP != 0;
        if new_flags & libc::CLONE_NEWNS != 0 {
            plan.mount = MountNamespace::New;
        }
        if plan.child_join.is_empty() {
            plan.clone_flags = new_flags;
        } else {
            plan.child_new_user = plan.new_user;
            plan.child_unshare = new_flags & !libc::CLONE_NEWUSER;
            plan.second_fork = plan.new_pid;
        }
        Ok(plan)
    }

    /// In the runtime, before forking: join pid/time namespaces and make a new time namespace.
    pub fn enter_in_parent(&self, time_offsets: &str) -> Result<()> {
        for target in &self.parent_join {
            crate::sys::setns(
                std::os::fd::AsFd::as_fd(&target.fd),
                clone_flag(target.kind),
            )
            .context(|| {
                format!(
                    "linux.namespaces: join {} namespace {}",
                    target.kind,
                    target.path.display()
                )
            })?;
        }
        if self.parent_new_time {
            crate::sys::unshare(libc::CLONE_NEWTIME)
                .context(|| "linux.namespaces: new time namespace".into())?;
            if !time_offsets.is_empty() {
                std::fs::write("/proc/self/timens_offsets", time_offsets)
                    .context(|| "linux.timeOffsets: write /proc/self/timens_offsets".into())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(kind: LinuxNamespaceType) -> LinuxNamespace {
        LinuxNamespaceBuilder::default().typ(kind).build().unwrap()
    }

    #[test]
    fn all_new_is_one_clone() {
        let plan = NamespacePlan::from_spec(&[
            ns(LinuxNamespaceType::Pid),
            ns(LinuxNamespaceType::Mount),
            ns(LinuxNamespaceType::User),
            ns(LinuxNamespaceType::Time),
        ])
        .unwrap();
        assert_eq!(
            plan.clone_flags,
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUSER
        );
        assert!(plan.parent_new_time && !plan.second_fork && plan.new_user);
        assert_eq!(plan.mount, MountNamespace::New);
    }

    #[test]
    fn mount_namespace_new_joined_or_inherited() {
        let joined = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Mount)
            .path("/proc/self/ns/mnt")
            .build()
            .unwrap();
        let plan = NamespacePlan::from_spec(&[joined]).unwrap();
        assert_eq!(plan.mount, MountNamespace::Joined);
        assert_eq!(plan.child_unshare & libc::CLONE_NEWNS, 0);
        let plan = NamespacePlan::from_spec(&[ns(LinuxNamespaceType::Pid)]).unwrap();
        assert_eq!(plan.mount, MountNamespace::Inherited);
        assert_eq!(plan.clone_flags, libc::CLONE_NEWPID);
    }

    #[test]
    fn joining_forces_the_child_path() {
        let net = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path("/proc/self/ns/net")
            .build()
            .unwrap();
        let plan = NamespacePlan::from_spec(&[
            ns(LinuxNamespaceType::Pid),
            ns(LinuxNamespaceType::Mount),
            net,
        ])
        .unwrap();
        assert_eq!(plan.clone_flags, 0);
        assert_eq!(plan.child_unshare, libc::CLONE_NEWPID | libc::CLONE_NEWNS);
        assert!(plan.second_fork);
    }
}
