//! Mount options as the runtime spec (and runc) spell them, turned into mount(2) flags,
//! propagation changes, recursive attributes (mount_setattr) and filesystem data.

use libc::c_ulong;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The access-time field of mount_setattr(2): one mode of three, not a set of flags.
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2) (and for the remount of a bind mount).
    pub flags: c_ulong,
    /// Flags explicitly cleared ("rw", "suid", ...), so a bind remount does not keep them.
    pub cleared: c_ulong,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<c_ulong>,
    /// Attributes for mount_setattr(AT_RECURSIVE): set and cleared ("rro", "rnosuid", ...).
    pub recursive_set: u64,
    pub recursive_clear: u64,
    /// Comma-joined filesystem-specific options ("size=64k,mode=755").
    pub data: String,
    /// "idmap" / "ridmap": an id-mapped bind mount (the second also maps its submounts).
    pub idmap: bool,
    pub idmap_recursive: bool,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
}

pub fn propagation_flag(name: &str) -> Option<c_ulong> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// (set, clear) of a plain flag option.
fn flag_option(name: &str) -> Option<(c_ulong, c_ulong)> {
    Some(match name {
        "defaults" => (0, 0),
        "ro" => (libc::MS_RDONLY, 0),
        "rw" => (0, libc::MS_RDONLY),
        "suid" => (0, libc::MS_NOSUID),
        "nosuid" => (libc::MS_NOSUID, 0),
        "dev" => (0, libc::MS_NODEV),
        "nodev" => (libc::MS_NODEV, 0),
        "exec" => (0, libc::MS_NOEXEC),
        "noexec" => (libc::MS_NOEXEC, 0),
        "sync" => (libc::MS_SYNCHRONOUS, 0),
        "async" => (0, libc::MS_SYNCHRONOUS),
        "dirsync" => (libc::MS_DIRSYNC, 0),
        "remount" => (libc::MS_REMOUNT, 0),
        "mand" => (libc::MS_MANDLOCK, 0),
        "nomand" => (0, libc::MS_MANDLOCK),
        "atime" => (0, libc::MS_NOATIME),
        "noatime" => (libc::MS_NOATIME, 0),
        "diratime" => (0, libc::MS_NODIRATIME),
        "nodiratime" => (libc::MS_NODIRATIME, 0),
        "relatime" => (libc::MS_RELATIME, 0),
        "norelatime" => (0, libc::MS_RELATIME),
        "strictatime" => (libc::MS_STRICTATIME, 0),
        "nostrictatime" => (0, libc::MS_STRICTATIME),
        "bind" => (libc::MS_BIND, 0),
        "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
        "silent" => (libc::MS_SILENT, 0),
        "loud" => (0, libc::MS_SILENT),
        "iversion" => (libc::MS_I_VERSION, 0),
        "noiversion" => (0, libc::MS_I_VERSION),
        "lazytime" => (libc::MS_LAZYTIME, 0),
        "nolazytime" => (0, libc::MS_LAZYTIME),
        "nosymfollow" => (libc::MS_NOSYMFOLLOW, 0),
        "symfollow" => (0, libc::MS_NOSYMFOLLOW),
        _ => return None,
    })
}

/// (set, clear) of a recursive attribute option, applied with mount_setattr(AT_RECURSIVE).
fn recursive_option(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// The access-time mode of a recursive atime option. `ratime` ("not noatime") is the kernel's
/// default mode, relatime, as `mount -o atime` gives.
fn recursive_atime(name: &str) -> Option<u64> {
    Some(match name {
        "rnoatime" => MOUNT_ATTR_NOATIME,
        "rstrictatime" => MOUNT_ATTR_STRICTATIME,
        "rrelatime" | "ratime" => MOUNT_ATTR_RELATIME,
        _ => return None,
    })
}

/// Options the runtime understands, for the features document.
pub fn known_options() -> Vec<&'static str> {
    let names = [
        "defaults",
        "ro",
        "rw",
        "suid",
        "nosuid",
        "dev",
        "nodev",
        "exec",
        "noexec",
        "sync",
        "async",
        "dirsync",
        "remount",
        "mand",
        "nomand",
        "atime",
        "noatime",
        "diratime",
        "nodiratime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "bind",
        "rbind",
        "silent",
        "loud",
        "iversion",
        "noiversion",
        "lazytime",
        "nolazytime",
        "nosymfollow",
        "symfollow",
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rnoatime",
        "ratime",
        "rrelatime",
        "rstrictatime",
        "rnosymfollow",
        "rsymfollow",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "idmap",
        "ridmap",
    ];
    names.to_vec()
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    let mut atime = None;
    for option in options {
        if let Some((set, clear)) = flag_option(option) {
            out.flags = (out.flags & !clear) | set;
            out.cleared = (out.cleared & !set) | clear;
        } else if let Some(flag) = propagation_flag(option) {
            out.propagation.push(flag);
        } else if let Some((set, clear)) = recursive_option(option) {
            out.recursive_set = (out.recursive_set & !clear) | set;
            out.recursive_clear = (out.recursive_clear & !set) | clear;
        } else if let Some(mode) = recursive_atime(option) {
            atime = Some(mode);
        } else if option == "idmap" || option == "ridmap" {
            out.idmap = true;
            out.idmap_recursive = option == "ridmap";
        } else if option == "tmpcopyup" || option.is_empty() {
            // runc's tmpcopyup is a docker-era extension we do not support; ignore like crun does.
        } else {
            data.push(option.as_str());
        }
    }
    // The kernel takes a new mode only with the whole field cleared (else EINVAL), and the last
    // mode given wins.
    if let Some(mode) = atime {
        out.recursive_set |= mode;
        out.recursive_clear |= MOUNT_ATTR__ATIME;
    }
    out.data = data.join(",");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = parse(&strings(&[
            "rbind", "ro", "nosuid", "rprivate", "size=64k", "mode=755", "rro",
        ]));
        assert_eq!(
            o.flags,
            libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY | libc::MS_NOSUID
        );
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        assert_eq!(o.data, "size=64k,mode=755");
        assert_eq!(o.recursive_set, MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn recursive_atime_modes_clear_the_whole_field() {
        for (option, mode) in [
            ("rnoatime", MOUNT_ATTR_NOATIME),
            ("rstrictatime", MOUNT_ATTR_STRICTATIME),
            ("rrelatime", MOUNT_ATTR_RELATIME),
            ("ratime", MOUNT_ATTR_RELATIME),
        ] {
            let o = parse(&strings(&["rbind", option]));
            assert_eq!(
                (o.recursive_set, o.recursive_clear),
                (mode, MOUNT_ATTR__ATIME)
            );
        }
        let o = parse(&strings(&["rnoatime", "rnodiratime", "rstrictatime"]));
        assert_eq!(
            (o.recursive_set, o.recursive_clear),
            (
                MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NODIRATIME,
                MOUNT_ATTR__ATIME
            )
        );
        let o = parse(&strings(&["rdiratime"]));
        assert_eq!(
            (o.recursive_set, o.recursive_clear),
            (0, MOUNT_ATTR_NODIRATIME)
        );
    }

    #[test]
    fn later_options_win() {
        let o = parse(&strings(&["ro", "rw", "nosuid", "suid"]));
        assert_eq!(o.flags, 0);
        assert_eq!(o.cleared, libc::MS_RDONLY | libc::MS_NOSUID);
    }
}
