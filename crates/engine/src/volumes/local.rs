//! The local driver's options (`-o type=… -o device=… -o o=…`), checked as dockerd checks
//! them, and the mount they describe: `mount(device, _data, type, flags from o, rest of o)`,
//! made when the first container using the volume starts and undone after the last one stops
//! (`type=tmpfs,device=tmpfs,o=size=64m`, or `o=bind,device=/host/dir`).

use crate::error::{Error, Result};
use rustix::mount::MountFlags;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::Path;

const KNOWN: [&str; 4] = ["type", "o", "device", "size"];

/// Checks driver options for volume `name`, with dockerd's messages. `size` (an xfs quota)
/// is refused, as by a dockerd whose data root has no quota support.
pub fn validate(name: &str, options: &BTreeMap<String, String>) -> Result<()> {
    let fail = |why: String| Error::invalid(format!("create {name}: {why}"));
    for key in options.keys() {
        if !KNOWN.contains(&key.as_str()) {
            return Err(fail(format!("invalid option: {key:?}")));
        }
    }
    let required: [(&str, &[&str]); 3] = [
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (option, needs) in required {
        if options.contains_key(option) {
            for need in needs {
                if !options.contains_key(*need) {
                    return Err(fail(format!("missing required option: {need:?}")));
                }
            }
        }
    }
    if options.contains_key("size") {
        return Err(fail("quota size requested but no quota support".into()));
    }
    parse_o(options.get("o").map(String::as_str).unwrap_or(""))
        .map_err(|why| fail(format!("o={why}")))?;
    Ok(())
}

/// Whether a volume with these options is a mount rather than a plain directory.
pub fn needs_mount(options: Option<&BTreeMap<String, String>>) -> bool {
    options.is_some_and(|o| o.contains_key("type") || o.contains_key("device"))
}

/// `o=`'s flag words as mount flags (set, cleared) and the rest as the filesystem's data.
struct MountOptions {
    set: MountFlags,
    bind: bool,
    data: Vec<String>,
}

fn parse_o(o: &str) -> std::result::Result<MountOptions, String> {
    let mut parsed = MountOptions {
        set: MountFlags::empty(),
        bind: false,
        data: Vec::new(),
    };
    for word in o.split(',').filter(|w| !w.is_empty()) {
        let (flag, on) = match word {
            "defaults" => continue,
            "bind" => {
                parsed.bind = true;
                (MountFlags::BIND, true)
            }
            "rbind" => {
                parsed.bind = true;
                (MountFlags::BIND | MountFlags::REC, true)
            }
            "ro" => (MountFlags::RDONLY, true),
            "rw" => (MountFlags::RDONLY, false),
            "nosuid" => (MountFlags::NOSUID, true),
            "suid" => (MountFlags::NOSUID, false),
            "nodev" => (MountFlags::NODEV, true),
            "dev" => (MountFlags::NODEV, false),
            "noexec" => (MountFlags::NOEXEC, true),
            "exec" => (MountFlags::NOEXEC, false),
            "sync" => (MountFlags::SYNCHRONOUS, true),
            "async" => (MountFlags::SYNCHRONOUS, false),
            "dirsync" => (MountFlags::DIRSYNC, true),
            "noatime" => (MountFlags::NOATIME, true),
            "atime" => (MountFlags::NOATIME, false),
            "nodiratime" => (MountFlags::NODIRATIME, true),
            "diratime" => (MountFlags::NODIRATIME, false),
            "relatime" => (MountFlags::RELATIME, true),
            "norelatime" => (MountFlags::RELATIME, false),
            "strictatime" => (MountFlags::STRICTATIME, true),
            "nostrictatime" => (MountFlags::STRICTATIME, false),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" | "remount" | "mand" | "nomand" => {
                return Err(format!("{o}: {word} is not supported for a volume"));
            }
            data => {
                parsed.data.push(data.to_string());
                continue;
            }
        };
        if on {
            parsed.set |= flag;
        } else {
            parsed.set &= !flag;
        }
    }
    Ok(parsed)
}

/// Mounts the volume's filesystem on its data directory.
pub fn mount(name: &str, options: &BTreeMap<String, String>, data_dir: &Path) -> Result<()> {
    let get = |key: &str| options.get(key).map(String::as_str).unwrap_or("");
    let (kind, device) = (get("type"), get("device"));
    let fail = |e: rustix::io::Errno| {
        Error::internal(format!(
            "error while mounting volume '{name}': failed to mount local volume: mount \
             {device}:{} (type {kind:?}, o {:?}): {e}",
            data_dir.display(),
            get("o"),
        ))
    };
    if device.is_empty() {
        return Err(Error::internal(format!(
            "error while mounting volume '{name}': missing device in volume options"
        )));
    }
    let parsed =
        parse_o(get("o")).map_err(|why| Error::invalid(format!("volume {name}: o={why}")))?;
    if parsed.bind {
        let recursive = parsed.set.contains(MountFlags::REC);
        if recursive {
            rustix::mount::mount_bind_recursive(device, data_dir)
        } else {
            rustix::mount::mount_bind(device, data_dir)
        }
        .map_err(fail)?;
        let extra = parsed.set - MountFlags::BIND - MountFlags::REC;
        if !extra.is_empty()
            && let Err(e) = rustix::mount::mount_remount(data_dir, MountFlags::BIND | extra, "")
        {
            let _ = berth_image::mount::unmount(data_dir);
            return Err(fail(e));
        }
        return Ok(());
    }
    let data = CString::new(parsed.data.join(","))
        .map_err(|_| Error::invalid(format!("volume {name}: o= has a NUL byte")))?;
    rustix::mount::mount(device, data_dir, kind, parsed.set, data.as_c_str()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_with_dockers_messages() {
        let err = |pairs: &[(&str, &str)]| validate("vol", &opts(pairs)).unwrap_err().message;
        assert_eq!(
            err(&[("bogus", "1")]),
            "create vol: invalid option: \"bogus\""
        );
        assert_eq!(
            err(&[("type", "tmpfs")]),
            "create vol: missing required option: \"device\""
        );
        assert_eq!(
            err(&[("o", "size=1m"), ("device", "tmpfs")]),
            "create vol: missing required option: \"type\""
        );
        assert_eq!(
            err(&[("size", "1m")]),
            "create vol: quota size requested but no quota support"
        );
        assert!(
            err(&[("type", "none"), ("device", "/x"), ("o", "bind,shared")]).contains("shared")
        );
        assert!(
            validate(
                "vol",
                &opts(&[
                    ("type", "tmpfs"),
                    ("device", "tmpfs"),
                    ("o", "size=1m,uid=1000")
                ])
            )
            .is_ok()
        );
        assert!(!needs_mount(None));
        assert!(needs_mount(Some(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs")
        ]))));
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        let parsed = parse_o("size=1m,ro,noexec,exec,uid=1000,defaults").unwrap();
        assert_eq!(parsed.set, MountFlags::RDONLY);
        assert_eq!(parsed.data, ["size=1m", "uid=1000"]);
        assert!(!parsed.bind);
        assert!(parse_o("rbind").unwrap().bind);
    }
}
