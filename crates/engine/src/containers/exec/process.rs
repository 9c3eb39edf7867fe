//! The OCI `process` an exec runs: the container's own process from its config.json (so its
//! capabilities, rlimits, no_new_privileges, AppArmor profile and OOM score carry over, as
//! dockerd takes them from the container's spec), with the exec's command, environment,
//! working directory, terminal, user and, with `--privileged`, every capability.

use super::Entry;
use crate::containers::Paths;
use crate::containers::record::ContainerRecord;
use crate::containers::spec;
use crate::error::{Error, Result};
use serde_json::{Value, json};

pub(super) fn build(entry: &Entry, record: &ContainerRecord, paths: &Paths) -> Result<Value> {
    let config_path = paths.bundle.join("config.json");
    let text = std::fs::read(&config_path)
        .map_err(|e| Error::context(format!("read {}", config_path.display()), e))?;
    let config: Value = serde_json::from_slice(&text)
        .map_err(|e| Error::context(format!("parse {}", config_path.display()), e))?;
    let mut process = config
        .get("process")
        .filter(|p| p.is_object())
        .cloned()
        .ok_or_else(|| Error::internal(format!("{} has no process", config_path.display())))?;
    let user = match entry.user.as_str() {
        "" => None,
        name => Some(spec::resolve_user(
            &paths.rootfs,
            name,
            &record.body.host_config.group_add,
        )?),
    };
    let capabilities = if entry.privileged {
        Some(spec::privileged_capabilities()?)
    } else {
        None
    };
    Ok(apply(&mut process, entry, user, capabilities))
}

/// The exec's parts over the container's process.
fn apply(
    process: &mut Value,
    entry: &Entry,
    user: Option<spec::ProcessUser>,
    capabilities: Option<Vec<String>>,
) -> Value {
    let args: Vec<&str> = std::iter::once(entry.entrypoint.as_str())
        .chain(entry.args.iter().map(String::as_str))
        .collect();
    process["args"] = json!(args);
    process["env"] = json!(entry.env);
    process["cwd"] = json!(if entry.working_dir.is_empty() {
        "/"
    } else {
        &entry.working_dir
    });
    process["terminal"] = json!(entry.tty);
    if let Some(p) = process.as_object_mut() {
        p.remove("consoleSize");
    }
    if let (true, Some((height, width))) = (entry.tty, entry.console_size) {
        process["consoleSize"] = json!({"height": height, "width": width});
    }
    if let Some(user) = user {
        process["user"] = json!({
            "uid": user.uid,
            "gid": user.gid,
            "additionalGids": user.additional_gids,
        });
    }
    if let Some(caps) = capabilities {
        process["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    }
    process.take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn entry() -> Entry {
        Entry {
            id: "e".into(),
            container_id: "c".into(),
            entrypoint: "sh".into(),
            args: vec!["-c".into(), "true".into()],
            user: String::new(),
            privileged: false,
            tty: false,
            console_size: Some((30, 100)),
            open_stdin: false,
            open_stdout: true,
            open_stderr: true,
            detach_keys: Vec::new(),
            env: vec!["PATH=/bin".into(), "A=1".into()],
            working_dir: String::new(),
            run: Mutex::default(),
        }
    }

    fn container_process() -> Value {
        json!({
            "terminal": true,
            "consoleSize": {"height": 1, "width": 2},
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [1000]},
            "args": ["sleep", "1000"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/srv",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}],
            "noNewPrivileges": true,
            "apparmorProfile": "docker-default",
            "oomScoreAdj": 5
        })
    }

    #[test]
    fn the_containers_security_settings_carry_over() {
        let p = apply(&mut container_process(), &entry(), None, None);
        assert_eq!(p["args"], json!(["sh", "-c", "true"]));
        assert_eq!(p["env"], json!(["PATH=/bin", "A=1"]));
        assert_eq!(p["cwd"], "/", "an empty working dir is /, as dockerd");
        assert_eq!(p["terminal"], false);
        assert!(p.get("consoleSize").is_none(), "no terminal, no size");
        assert_eq!(p["user"]["uid"], 1000, "the container's user");
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_KILL"]));
        assert_eq!(p["rlimits"][0]["soft"], 10);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["apparmorProfile"], "docker-default");
        assert_eq!(p["oomScoreAdj"], 5);
    }

    #[test]
    fn user_terminal_workdir_and_privileged_replace_the_containers() {
        let mut e = entry();
        e.tty = true;
        e.working_dir = "/tmp".into();
        let user = spec::ProcessUser {
            uid: 0,
            gid: 5,
            additional_gids: vec![5, 7],
        };
        let caps = vec!["CAP_SYS_ADMIN".to_string()];
        let p = apply(&mut container_process(), &e, Some(user), Some(caps));
        assert_eq!(p["terminal"], true);
        assert_eq!(p["consoleSize"], json!({"height": 30, "width": 100}));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(
            p["user"],
            json!({"uid": 0, "gid": 5, "additionalGids": [5, 7]})
        );
        let all = json!(["CAP_SYS_ADMIN"]);
        assert_eq!(
            p["capabilities"],
            json!({"bounding": all, "effective": all, "permitted": all})
        );
    }
}
