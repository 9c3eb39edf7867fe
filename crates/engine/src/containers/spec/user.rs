//! `--user` / the image's USER resolved against the rootfs's /etc/passwd and /etc/group, as
//! runc's libcontainer/user (which dockerd uses) does, plus `--group-add`.

use super::{SpecInput, in_root};
use crate::error::{Error, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessUser {
    pub uid: u32,
    pub gid: u32,
    /// The primary group first, then supplementary groups from /etc/group, then `--group-add`.
    pub additional_gids: Vec<u32>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

const MAX_ID: u64 = 2147483647;

fn parse_id(s: &str) -> Option<u32> {
    s.parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_ID)
        .map(|n| n as u32)
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: parse_id(f.get(2)?)?,
                gid: parse_id(f.get(3)?)?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: parse_id(f.get(2)?)?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn numeric(s: &str) -> Result<Option<u32>> {
    match s.parse::<u64>() {
        Ok(n) if n <= MAX_ID => Ok(Some(n as u32)),
        Ok(_) => Err(Error::invalid(
            "uids and gids must be in range 0-2147483647",
        )),
        Err(_) => Ok(None),
    }
}

pub fn resolve(input: &SpecInput<'_>) -> Result<ProcessUser> {
    let spec = if input.config.user.is_empty() {
        input.image.config.config.user.clone().unwrap_or_default()
    } else {
        input.config.user.clone()
    };
    resolve_user(input.rootfs, &spec, &input.host_config.group_add)
}

/// `USER[:GROUP]` against the /etc/passwd and /etc/group of the root at `rootfs`, plus
/// `--group-add` (also what an exec's `-u` gets, as with dockerd).
pub fn resolve_user(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<ProcessUser> {
    let passwd = in_root::read_file(rootfs, "/etc/passwd")?.unwrap_or_default();
    let group = in_root::read_file(rootfs, "/etc/group")?.unwrap_or_default();
    resolve_in(
        spec,
        group_add,
        &parse_passwd(&passwd),
        &parse_group(&group),
    )
}

/// The uid and gid `spec` (`user[:group]`, names or numbers) has in the container mounted at
/// `rootfs`, as a process started with `--user spec` would get them.
pub(crate) fn ids_in(rootfs: &std::path::Path, spec: &str) -> Result<(u32, u32)> {
    let passwd = in_root::read_file(rootfs, "/etc/passwd")?.unwrap_or_default();
    let group = in_root::read_file(rootfs, "/etc/group")?.unwrap_or_default();
    let user = resolve_in(spec, &[], &parse_passwd(&passwd), &parse_group(&group))?;
    Ok((user.uid, user.gid))
}

fn resolve_in(
    spec: &str,
    group_add: &[String],
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<ProcessUser> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let (mut uid, mut gid) = (0u32, 0u32);
    let uid_arg = numeric(user_arg)?;
    let matched = passwd.iter().find(|p| match (user_arg, uid_arg) {
        ("", _) => p.uid == 0,
        (_, Some(n)) => p.uid == n,
        (name, None) => p.name == name,
    });
    let mut matched_name = None;
    if let Some(entry) = matched {
        matched_name = Some(entry.name.as_str());
        uid = entry.uid;
        gid = entry.gid;
    } else if !user_arg.is_empty() {
        match uid_arg {
            Some(n) => uid = n,
            None => {
                return Err(Error::invalid(format!(
                    "unable to find user {user_arg}: no matching entries in passwd file"
                )));
            }
        }
    }
    let mut supplementary = Vec::new();
    if !group_arg.is_empty() {
        let gid_arg = numeric(group_arg)?;
        let found = groups.iter().find(|g| match gid_arg {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::invalid(format!(
                    "unable to find group {group_arg}: no matching entries in group file"
                )));
            }
        };
    } else if let Some(name) = matched_name {
        // Supplementary groups only in the implicit form, as libcontainer does.
        supplementary = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }
    let mut additional_gids = vec![gid];
    additional_gids.extend(supplementary);
    for wanted in group_add {
        let id = match groups.iter().find(|g| &g.name == wanted) {
            Some(g) => g.gid,
            None => match numeric(wanted)? {
                Some(n) => groups.iter().find(|g| g.gid == n).map_or(n, |g| g.gid),
                None => {
                    return Err(Error::invalid(format!("Unable to find group {wanted}")));
                }
            },
        };
        additional_gids.push(id);
    }
    Ok(ProcessUser {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        www:x:33:33:www:/var/www:/bin/false\n\
        # comment\n\
        bad line\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        www:x:33:\n\
        audio:x:29:www,daemon\n\
        video:x:44:www\n\
        staff:x:50:\n";

    fn r(spec: &str, add: &[&str]) -> Result<ProcessUser> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve_in(spec, &add, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[test]
    fn user_forms_resolve_like_libcontainer() {
        assert_eq!(
            r("", &[]).unwrap(),
            ProcessUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![0]
            }
        );
        assert_eq!(
            r("www", &[]).unwrap(),
            ProcessUser {
                uid: 33,
                gid: 33,
                additional_gids: vec![33, 29, 44]
            }
        );
        assert_eq!(r("33", &[]).unwrap().additional_gids, vec![33, 29, 44]);
        assert_eq!(
            r("www:staff", &[]).unwrap(),
            ProcessUser {
                uid: 33,
                gid: 50,
                additional_gids: vec![50]
            }
        );
        assert_eq!(
            r("1234:5678", &[]).unwrap(),
            ProcessUser {
                uid: 1234,
                gid: 5678,
                additional_gids: vec![5678]
            }
        );
        assert_eq!(
            r("1234", &[]).unwrap(),
            ProcessUser {
                uid: 1234,
                gid: 0,
                additional_gids: vec![0]
            }
        );
        assert_eq!(
            r("daemon", &["staff", "777"]).unwrap().additional_gids,
            vec![1, 29, 50, 777]
        );
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let e = r("nobody", &[]).unwrap_err();
        assert_eq!(
            e.message,
            "unable to find user nobody: no matching entries in passwd file"
        );
        let e = r("www:nogroup", &[]).unwrap_err();
        assert_eq!(
            e.message,
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(
            r("root", &["wheel"]).unwrap_err().message,
            "Unable to find group wheel"
        );
        assert!(r("99999999999", &[]).is_err());
    }
}
