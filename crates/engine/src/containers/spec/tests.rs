//! build_spec for each family of `docker run` flags, asserting the config.json's fields.

use super::*;
use crate::containers::mount_points::{MountPoint, parse_bind};
use crate::containers::options::{DeviceMapping, Ulimit};
use crate::error::ErrorKind;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicUsize, Ordering};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "berth-spec-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A container's inputs: an image config, a rootfs with /etc/passwd and /etc/group, a dir.
struct Case {
    dir: TempDir,
    image: ImageRecord,
    config: Config,
    host_config: HostConfig,
    init: Option<PathBuf>,
    mounts: Vec<MountPoint>,
}

fn host(unified: bool) -> HostFacts {
    HostFacts {
        cgroup_unified: unified,
        kernel: (6, 1),
        cap_last_cap: 40,
        bounding: u64::MAX,
    }
}

impl Case {
    fn new(image_config: Value) -> Self {
        let dir = TempDir::new();
        let rootfs = dir.0.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(dir.0.join("container")).unwrap();
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nwww:x:33:\naudio:x:29:www\nstaff:x:50:\n",
        )
        .unwrap();
        let config = serde_json::from_value(json!({
            "architecture": "amd64", "os": "linux", "config": image_config,
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let image = ImageRecord {
            id: "sha256:00".into(),
            repo_tags: vec![],
            repo_digests: vec![],
            config,
            chain_ids: vec![],
            size: 0,
            stored_at: 0,
            layers: Vec::new(),
            last_tag_time: None,
        };
        Case {
            dir,
            image,
            config: Config::default(),
            host_config: HostConfig::default(),
            init: None,
            mounts: Vec::new(),
        }
    }

    fn busybox() -> Self {
        Case::new(
            json!({"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}),
        )
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.0.join("rootfs")
    }

    fn container_dir(&self) -> PathBuf {
        self.dir.0.join("container")
    }

    fn with<R>(&self, f: impl FnOnce(&SpecInput<'_>) -> R) -> R {
        let rootfs = self.rootfs();
        let container_dir = self.container_dir();
        let input = SpecInput {
            id: ID,
            image: &self.image,
            config: &self.config,
            host_config: &self.host_config,
            rootfs: &rootfs,
            container_dir: &container_dir,
            init_binary: self.init.as_deref(),
            mounts: &self.mounts,
        };
        f(&input)
    }

    fn spec_on(&self, host: &HostFacts) -> Result<Value> {
        self.with(|input| build_spec_on(input, host))
            .map(|spec| serde_json::to_value(spec).unwrap())
    }

    fn spec(&self) -> Value {
        self.spec_on(&host(false)).unwrap()
    }

    fn error(&self) -> Error {
        self.spec_on(&host(false)).unwrap_err()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn mount<'a>(spec: &'a Value, destination: &str) -> Option<&'a Value> {
    spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == destination)
}

fn syscall_names(spec: &Value) -> Vec<String> {
    spec["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| strings(&s["names"]))
        .collect()
}

#[test]
fn defaults_are_dockers() {
    let case = Case::busybox();
    let spec = case.spec();
    let p = &spec["process"];
    assert_eq!(strings(&p["args"]), ["sh"]);
    assert_eq!(
        strings(&p["env"]),
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=0123456789ab"
        ]
    );
    assert_eq!(p["cwd"], "/");
    assert_eq!(
        p["user"],
        json!({"uid": 0, "gid": 0, "additionalGids": [0]})
    );
    assert_eq!(p["terminal"], false);
    assert!(p.get("noNewPrivileges").is_none_or(|v| v == false));
    let default_caps = sorted(
        security::DEFAULT_CAPABILITIES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(
            sorted(strings(&p["capabilities"][set])),
            default_caps,
            "{set}"
        );
    }
    assert!(strings(&p["capabilities"]["inheritable"]).is_empty());
    assert!(strings(&p["capabilities"]["ambient"]).is_empty());
    assert_eq!(spec["hostname"], "0123456789ab");
    assert_eq!(spec["root"]["path"], json!(case.rootfs()));
    assert_eq!(spec["root"]["readonly"], false);

    let linux = &spec["linux"];
    let types: Vec<&str> = linux["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["mount", "network", "uts", "pid", "ipc"],
        "cgroup v1 host: no cgroupns"
    );
    assert_eq!(linux["cgroupsPath"], format!("/berth/{ID}"));
    assert_eq!(strings(&linux["maskedPaths"]).len(), 11);
    assert!(strings(&linux["maskedPaths"]).contains(&"/proc/kcore".to_string()));
    assert_eq!(
        strings(&linux["readonlyPaths"]),
        [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ]
    );
    assert_eq!(linux["devices"].as_array().map_or(0, Vec::len), 0);
    let rules = linux["resources"]["devices"].as_array().unwrap();
    assert_eq!(rules.len(), 8);
    assert_eq!(rules[0], json!({"allow": false, "access": "rwm"}));
    assert!(
        rules.contains(
            &json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        )
    );
    assert!(rules.contains(
        &json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    ));
    if Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists() {
        assert_eq!(linux["sysctl"]["net.ipv4.ip_unprivileged_port_start"], "0");
    }

    let destinations: Vec<&str> = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    assert_eq!(
        destinations,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    assert_eq!(
        strings(&mount(&spec, "/dev/shm").unwrap()["options"]),
        ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]
    );
    assert!(strings(&mount(&spec, "/sys").unwrap()["options"]).contains(&"ro".into()));
    assert!(strings(&mount(&spec, "/sys/fs/cgroup").unwrap()["options"]).contains(&"ro".into()));

    let seccomp = &linux["seccomp"];
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(
        strings(&seccomp["architectures"]),
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
}

#[test]
fn cgroup_namespace_follows_the_host_layout_and_cgroupns() {
    let mut case = Case::busybox();
    let has_cgroupns = |spec: &Value| {
        spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "cgroup")
    };
    assert!(has_cgroupns(&case.spec_on(&host(true)).unwrap()));
    assert!(!has_cgroupns(&case.spec_on(&host(false)).unwrap()));
    case.host_config.cgroupns_mode = "private".into();
    assert!(has_cgroupns(&case.spec_on(&host(false)).unwrap()));
    case.host_config.cgroupns_mode = "host".into();
    assert!(!has_cgroupns(&case.spec_on(&host(true)).unwrap()));
    case.host_config.cgroupns_mode = "bogus".into();
    assert_eq!(case.error().kind, ErrorKind::InvalidArgument);
}

#[test]
fn entrypoint_and_cmd_follow_dockers_merge() {
    let image = json!({"Entrypoint": ["/entry", "-x"], "Cmd": ["default"]});
    let args = |entrypoint: Option<Vec<&str>>, cmd: Option<Vec<&str>>| {
        let mut case = Case::new(image.clone());
        case.config.entrypoint = entrypoint.map(|v| v.iter().map(|s| s.to_string()).collect());
        case.config.cmd = cmd.map(|v| v.iter().map(|s| s.to_string()).collect());
        case.spec_on(&host(false))
            .map(|s| strings(&s["process"]["args"]))
    };
    assert_eq!(args(None, None).unwrap(), ["/entry", "-x", "default"]);
    assert_eq!(
        args(None, Some(vec!["ls", "-l"])).unwrap(),
        ["/entry", "-x", "ls", "-l"]
    );
    assert_eq!(args(Some(vec!["/bin/sh"]), None).unwrap(), ["/bin/sh"]);
    assert_eq!(
        args(Some(vec!["/bin/sh"]), Some(vec!["-c", "id"])).unwrap(),
        ["/bin/sh", "-c", "id"]
    );
    assert_eq!(args(Some(vec![""]), Some(vec!["id"])).unwrap(), ["id"]);
    assert_eq!(
        args(Some(vec![""]), None).unwrap_err().message,
        "No command specified"
    );
    assert_eq!(args(Some(vec![]), None).unwrap(), ["default"]);
    let mut empty = Case::new(json!({}));
    empty.config.cmd = Some(vec![]);
    assert_eq!(empty.error().message, "No command specified");
}

#[test]
fn environment_merges_image_and_run_values() {
    let mut case =
        Case::new(json!({"Cmd": ["sh"], "Env": ["PATH=/opt/bin", "FOO=image", "KEEP=1"]}));
    case.config.env = vec![
        "FOO=run".into(),
        "BAR=1".into(),
        "BAR=2".into(),
        "HOSTNAME".into(),
    ];
    case.config.tty = true;
    case.config.hostname = "box".into();
    let env = strings(&case.spec()["process"]["env"]);
    assert_eq!(
        env,
        ["PATH=/opt/bin", "TERM=xterm", "FOO=run", "BAR=2", "KEEP=1"]
    );
}

#[test]
fn an_execs_environment_is_dockerds() {
    let mut case = Case::new(json!({"Cmd": ["sh"], "Env": ["FOO=image", "KEEP=1"]}));
    case.config.env = vec!["BAR=run".into()];
    case.config.hostname = "box".into();
    // No TERM without the exec's -t (even in a -t container); -e replaces, appends, unsets.
    case.config.tty = false;
    let overrides = ["FOO=exec", "NEW=1", "HOSTNAME", "ABSENT"].map(String::from);
    let env = case.with(|input| super::exec_environment(input, &overrides));
    assert_eq!(
        env,
        [
            format!("PATH={}", super::process::DEFAULT_PATH),
            "BAR=run".into(),
            "FOO=exec".into(),
            "KEEP=1".into(),
            "NEW=1".into(),
        ]
    );
    case.config.tty = true;
    let env = case.with(|input| super::exec_environment(input, &[]));
    assert!(env.contains(&"TERM=xterm".to_string()), "{env:?}");
}

#[test]
fn tty_sets_terminal_and_console_size() {
    let mut case = Case::busybox();
    case.config.tty = true;
    case.host_config.console_size = vec![40, 120];
    let p = &case.spec()["process"];
    assert_eq!(p["terminal"], true);
    assert_eq!(p["consoleSize"], json!({"height": 40, "width": 120}));
}

#[test]
fn workdir_is_created_inside_the_rootfs() {
    let mut case = Case::new(json!({"Cmd": ["sh"], "WorkingDir": "/srv/app"}));
    assert_eq!(case.spec()["process"]["cwd"], "/srv/app");
    assert!(case.rootfs().join("srv/app").is_dir());

    // A symlink in the image that points outside resolves inside the rootfs.
    let unique = format!("berth-spec-escape-{}", std::process::id());
    symlink("/../../../..", case.rootfs().join("escape")).unwrap();
    case.config.working_dir = format!("/escape/{unique}/../{unique}/x/");
    assert_eq!(case.spec()["process"]["cwd"], format!("/escape/{unique}/x"));
    assert!(case.rootfs().join(&unique).join("x").is_dir());
    assert!(!Path::new("/").join(&unique).exists());

    std::fs::write(case.rootfs().join("file"), "").unwrap();
    case.config.working_dir = "/file/sub".into();
    assert_eq!(
        case.error().message,
        "Cannot mkdir: /file is not a directory"
    );
    case.config.working_dir = "relative".into();
    assert_eq!(
        case.error().message,
        "the working directory 'relative' is invalid, it needs to be an absolute path"
    );
}

#[test]
fn user_is_resolved_in_the_rootfs() {
    let mut case = Case::new(json!({"Cmd": ["sh"], "User": "www"}));
    let p = case.spec()["process"].clone();
    assert_eq!(
        p["user"],
        json!({"uid": 33, "gid": 33, "additionalGids": [33, 29]})
    );
    // A non-root process starts with no effective or permitted capabilities, as with execve.
    assert_eq!(strings(&p["capabilities"]["bounding"]).len(), 14);
    assert!(strings(&p["capabilities"]["effective"]).is_empty());
    assert!(strings(&p["capabilities"]["permitted"]).is_empty());

    case.config.user = "1000:staff".into();
    case.host_config.group_add = vec!["audio".into(), "4242".into()];
    assert_eq!(
        case.spec()["process"]["user"],
        json!({"uid": 1000, "gid": 50, "additionalGids": [50, 29, 4242]})
    );
    case.host_config.group_add.clear();
    case.config.user = "nobody".into();
    let e = case.error();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(
        e.message,
        "unable to find user nobody: no matching entries in passwd file"
    );

    // /etc/passwd linking out of the image does not read the host's.
    std::fs::remove_file(case.rootfs().join("etc/passwd")).unwrap();
    symlink(
        "../../../../../../../../etc/passwd",
        case.rootfs().join("etc/passwd"),
    )
    .unwrap();
    case.config.user = "daemon".into();
    assert!(
        case.error()
            .message
            .starts_with("unable to find user daemon")
    );
}

#[test]
fn capabilities_add_drop_all_and_privileged() {
    let mut case = Case::busybox();
    let caps = |case: &Case| sorted(strings(&case.spec()["process"]["capabilities"]["bounding"]));
    case.host_config.cap_add = vec!["sys_admin".into(), "CAP_NET_ADMIN".into()];
    case.host_config.cap_drop = vec!["mknod".into(), "Cap_Chown".into()];
    let got = caps(&case);
    assert_eq!(got.len(), 14);
    assert!(got.contains(&"CAP_SYS_ADMIN".into()) && got.contains(&"CAP_NET_ADMIN".into()));
    assert!(!got.contains(&"CAP_MKNOD".into()) && !got.contains(&"CAP_CHOWN".into()));

    case.host_config.cap_add = vec!["ALL".into()];
    case.host_config.cap_drop = vec!["NET_RAW".into()];
    assert_eq!(caps(&case).len(), 40);
    case.host_config.cap_add = vec!["kill".into()];
    case.host_config.cap_drop = vec!["all".into()];
    assert_eq!(caps(&case), ["CAP_KILL"]);

    case.host_config.cap_add = vec!["NOPE".into()];
    let e = case.error();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(e.message, "unknown capability: \"CAP_NOPE\"");

    case.host_config.cap_add.clear();
    case.host_config.cap_drop.clear();
    case.host_config.privileged = true;
    assert_eq!(caps(&case).len(), 41);
    let mut older = host(false);
    older.cap_last_cap = 37;
    let spec = case.spec_on(&older).unwrap();
    assert_eq!(
        strings(&spec["process"]["capabilities"]["bounding"]).len(),
        38
    );

    // berthd without CAP_SYS_RESOURCE cannot hand it out: privileged leaves it out, and
    // asking for it by name is a clear error.
    let mut confined = host(false);
    confined.bounding = !(1 << 24);
    let spec = case.spec_on(&confined).unwrap();
    let bounding = strings(&spec["process"]["capabilities"]["bounding"]);
    assert_eq!(bounding.len(), 40);
    assert!(!bounding.contains(&"CAP_SYS_RESOURCE".to_string()));
    case.host_config.privileged = false;
    case.host_config.cap_add = vec!["sys_resource".into()];
    let e = case.spec_on(&confined).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("CAP_SYS_RESOURCE"), "{}", e.message);
}

#[test]
fn privileged_lifts_confinement() {
    let mut case = Case::busybox();
    case.host_config.privileged = true;
    let spec = case.spec();
    let linux = &spec["linux"];
    assert!(linux.get("seccomp").is_none_or(Value::is_null));
    assert!(strings(&linux["maskedPaths"]).is_empty());
    assert!(strings(&linux["readonlyPaths"]).is_empty());
    assert!(!strings(&mount(&spec, "/sys").unwrap()["options"]).contains(&"ro".into()));
    assert!(!strings(&mount(&spec, "/sys/fs/cgroup").unwrap()["options"]).contains(&"ro".into()));
    assert_eq!(
        linux["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    let nodes = linux["devices"].as_array().unwrap();
    assert!(
        nodes
            .iter()
            .any(|d| d["path"] == "/dev/null" && d["major"] == 1 && d["minor"] == 3)
    );
    assert!(
        !nodes
            .iter()
            .any(|d| d["path"].as_str().unwrap().starts_with("/dev/pts/"))
    );
    // Explicit paths still apply, as dockerd applies them after --privileged.
    case.host_config.masked_paths = Some(vec!["/proc/kcore".into()]);
    assert_eq!(
        strings(&case.spec()["linux"]["maskedPaths"]),
        ["/proc/kcore"]
    );
}

#[test]
fn seccomp_profile_follows_the_capabilities() {
    let mut case = Case::busybox();
    let spec = case.spec();
    let names = syscall_names(&spec);
    let count = spec["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .len();
    assert!(names.len() > 300, "{}", names.len());
    assert!(names.contains(&"read".into()) && names.contains(&"ptrace".into()));
    assert!(names.contains(&"arch_prctl".into()), "amd64 rules apply");
    assert!(
        !names.contains(&"sync_file_range2".into()),
        "ppc64le rules do not"
    );
    assert!(!names.contains(&"mount".into()) && !names.contains(&"bpf".into()));
    assert!(!names.contains(&"chroot".into()) || names.contains(&"chroot".into()));
    // clone is allowed only without namespace flags for a container without CAP_SYS_ADMIN.
    let clone = spec["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| strings(&s["names"]) == ["clone"])
        .unwrap()
        .clone();
    assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    assert_eq!(clone["args"][0]["value"], 2114060288u64);

    case.host_config.cap_add = vec!["SYS_ADMIN".into()];
    let admin = case.spec();
    let admin_names = syscall_names(&admin);
    assert!(admin_names.contains(&"mount".into()) && admin_names.contains(&"setns".into()));
    let clone_rules: Vec<&Value> = admin["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| strings(&s["names"]).contains(&"clone".to_string()))
        .collect();
    assert!(
        clone_rules
            .iter()
            .all(|r| r.get("args").is_none_or(Value::is_null))
    );
    assert_ne!(
        admin["linux"]["seccomp"]["syscalls"]
            .as_array()
            .unwrap()
            .len(),
        count
    );

    // minKernel: ptrace is allowed by default only from Linux 4.8.
    case.host_config.cap_add.clear();
    let mut old = host(false);
    old.kernel = (4, 4);
    assert!(!syscall_names(&case.spec_on(&old).unwrap()).contains(&"ptrace".into()));
}

#[test]
fn seccomp_unconfined_and_custom_profiles() {
    let mut case = Case::busybox();
    case.host_config.security_opt = vec!["seccomp=unconfined".into()];
    assert!(
        case.spec()["linux"]
            .get("seccomp")
            .is_none_or(Value::is_null)
    );

    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "args": []},
            {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}}
        ]
    });
    case.host_config.security_opt = vec![format!("seccomp={profile}"), "no-new-privileges".into()];
    let spec = case.spec();
    let seccomp = &spec["linux"]["seccomp"];
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ALLOW");
    assert_eq!(strings(&seccomp["architectures"]), ["SCMP_ARCH_X86_64"]);
    assert_eq!(syscall_names(&spec), ["mkdir", "chmod", "fchmod"]);
    assert_eq!(seccomp["syscalls"][1]["errnoRet"], 13);
    assert_eq!(spec["process"]["noNewPrivileges"], true);

    case.host_config.security_opt = vec!["seccomp={not json".into()];
    assert!(
        case.error()
            .message
            .starts_with("Decoding seccomp profile failed")
    );
    case.host_config.security_opt = vec!["bogus".into()];
    assert_eq!(case.error().message, "invalid --security-opt 1: \"bogus\"");
    case.host_config.security_opt = vec!["no-new-privileges=maybe".into()];
    assert_eq!(
        case.error().message,
        "invalid --security-opt 2: \"no-new-privileges=maybe\""
    );
    case.host_config.security_opt = vec!["no-new-privileges=false".into(), "apparmor=x".into()];
    assert!(
        case.spec()["process"]
            .get("noNewPrivileges")
            .is_none_or(|v| v == false)
    );
}

#[test]
fn host_namespaces_and_their_sysctls() {
    let mut case = Case::busybox();
    case.host_config.network_mode = "host".into();
    case.host_config.pid_mode = "host".into();
    case.host_config.ipc_mode = "host".into();
    case.host_config.uts_mode = "host".into();
    let spec = case.spec();
    let types: Vec<&str> = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["mount"]);
    assert!(spec.get("hostname").is_none_or(Value::is_null));
    assert!(
        spec["linux"]["sysctl"]
            .as_object()
            .is_none_or(|m| m.is_empty())
    );
    assert_eq!(mount(&spec, "/dev/shm").unwrap()["source"], "/dev/shm");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(strings(&spec["process"]["env"]).contains(&format!("HOSTNAME={}", host_name.trim())));

    case.host_config.sysctls = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
    assert_eq!(
        case.error().message,
        "sysctl \"net.ipv4.ip_forward\" is not allowed in the hosts network namespace"
    );
    case.host_config.sysctls = [("kernel.shmmax".to_string(), "1".to_string())].into();
    assert_eq!(
        case.error().message,
        "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"
    );

    let mut private = Case::busybox();
    private.host_config.network_mode = "none".into();
    private.host_config.sysctls = [
        (
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "1024".to_string(),
        ),
        ("kernel.msgmax".to_string(), "8192".to_string()),
        ("fs.mqueue.msg_max".to_string(), "10".to_string()),
    ]
    .into();
    let sysctl = private.spec()["linux"]["sysctl"].clone();
    assert_eq!(sysctl["net.ipv4.ip_unprivileged_port_start"], "1024");
    assert_eq!(sysctl["kernel.msgmax"], "8192");
    private.host_config.sysctls = [("vm.swappiness".to_string(), "1".to_string())].into();
    assert_eq!(
        private.error().message,
        "sysctl \"vm.swappiness\" is not in a separate kernel namespace"
    );
}

#[test]
fn network_and_joined_modes_that_are_not_supported_yet() {
    let mut case = Case::busybox();
    for (mode, kind) in [
        ("bridge", ErrorKind::NotImplemented),
        ("container:abc", ErrorKind::NotImplemented),
        ("mynet", ErrorKind::NotFound),
    ] {
        case.host_config.network_mode = mode.into();
        assert_eq!(case.error().kind, kind, "{mode}");
    }
    case.host_config.network_mode = "default".into();
    case.host_config.pid_mode = "container:abc".into();
    assert_eq!(case.error().kind, ErrorKind::NotImplemented);
    case.host_config.pid_mode = "".into();
    case.host_config.ipc_mode = "none".into();
    assert!(mount(&case.spec(), "/dev/shm").is_none());
    case.host_config.ipc_mode = "weird".into();
    assert_eq!(case.error().message, "Invalid IPC mode: weird");
}

#[test]
fn binds_tmpfs_shm_and_read_only_root() {
    let mut case = Case::busybox();
    let host_dir = case.dir.0.join("data");
    let created = case.dir.0.join("made/by/docker");
    std::fs::create_dir_all(&host_dir).unwrap();
    case.mounts = [
        format!("{}:/data:ro", host_dir.display()),
        format!("{}:/deep/in/tree", created.display()),
        "vol:/vol".to_string(),
    ]
    .iter()
    .map(|raw| parse_bind(raw).unwrap().0)
    .collect();
    case.mounts[2].source = case.dir.0.join("volumes/vol/_data").display().to_string();
    case.host_config.tmpfs = [
        ("/run".to_string(), "".to_string()),
        (
            "/scratch".to_string(),
            "exec,size=1m,size=2m,mode=700".to_string(),
        ),
    ]
    .into();
    case.host_config.shm_size = 1 << 20;
    case.host_config.readonly_rootfs = true;
    let spec = case.spec();
    assert!(created.is_dir(), "-v creates a missing host directory");
    let data = mount(&spec, "/data").unwrap();
    assert_eq!(data["type"], "bind");
    assert_eq!(data["source"], json!(host_dir));
    assert_eq!(strings(&data["options"]), ["rbind", "ro", "rprivate"]);
    assert_eq!(
        strings(&mount(&spec, "/deep/in/tree").unwrap()["options"]),
        ["rbind", "rprivate"]
    );
    assert_eq!(
        strings(&mount(&spec, "/run").unwrap()["options"]),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    assert_eq!(
        strings(&mount(&spec, "/scratch").unwrap()["options"]),
        ["nosuid", "nodev", "rprivate", "exec", "size=2m", "mode=700"]
    );
    assert!(
        strings(&mount(&spec, "/dev/shm").unwrap()["options"]).contains(&"size=1048576".into())
    );
    assert!(!strings(&mount(&spec, "/dev/shm").unwrap()["options"]).contains(&"ro".into()));
    assert!(!strings(&mount(&spec, "/proc").unwrap()["options"]).contains(&"ro".into()));
    assert_eq!(spec["root"]["readonly"], true);
    // Sorted by depth after the defaults, as dockerd sorts the container's own mounts.
    let own: Vec<&str> = spec["mounts"].as_array().unwrap()[7..]
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    assert_eq!(own, ["/data", "/vol", "/run", "/scratch", "/deep/in/tree"]);
    // A volume is bound without a propagation option, as dockerd does.
    assert_eq!(
        strings(&mount(&spec, "/vol").unwrap()["options"]),
        ["rbind"]
    );

    case.mounts.clear();
    case.host_config.tmpfs = [("/t".to_string(), "bogus".to_string())].into();
    assert_eq!(case.error().message, "Invalid tmpfs option \"bogus\"");
}

#[test]
fn etc_files_are_written_and_mounted() {
    let mut case = Case::busybox();
    case.config.hostname = "web".into();
    case.host_config.extra_hosts = vec!["db:198.18.0.2".into()];
    case.host_config.dns = vec!["198.18.0.53".into()];
    case.with(write_etc_files).unwrap();
    let dir = case.container_dir();
    assert_eq!(
        std::fs::read_to_string(dir.join("hostname")).unwrap(),
        "web\n"
    );
    let hosts = std::fs::read_to_string(dir.join("hosts")).unwrap();
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
    assert!(hosts.ends_with("198.18.0.2\tdb\n"));
    let resolv = std::fs::read_to_string(dir.join("resolv.conf")).unwrap();
    assert!(resolv.contains("nameserver 198.18.0.53\n"), "{resolv}");
    assert!(!resolv.contains("nameserver 127."), "{resolv}");

    let spec = case.spec();
    for (name, destination) in [
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
    ] {
        let m = mount(&spec, destination).unwrap();
        assert_eq!(m["source"], json!(dir.join(name)));
        assert_eq!(strings(&m["options"]), ["rbind", "rprivate"]);
    }
    case.host_config.readonly_rootfs = true;
    let spec = case.spec();
    assert_eq!(
        strings(&mount(&spec, "/etc/hosts").unwrap()["options"]),
        ["rbind", "ro", "rprivate"]
    );

    // Host networking: the host's own files when nothing is added.
    case.host_config.network_mode = "host".into();
    case.host_config.extra_hosts.clear();
    case.host_config.dns.clear();
    case.with(write_etc_files).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("hosts")).unwrap(),
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("resolv.conf")).unwrap(),
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    );
}

#[test]
fn init_runs_the_command_under_berth_init() {
    let mut case = Case::new(json!({"Entrypoint": ["/entry"], "Cmd": ["arg"]}));
    case.host_config.init = Some(true);
    case.init = Some(PathBuf::from("/usr/libexec/berth-init"));
    let spec = case.spec();
    assert_eq!(
        strings(&spec["process"]["args"]),
        ["/sbin/docker-init", "--", "/entry", "arg"]
    );
    let m = mount(&spec, "/sbin/docker-init").unwrap();
    assert_eq!(m["source"], "/usr/libexec/berth-init");
    assert_eq!(strings(&m["options"]), ["bind", "ro"]);
    // No init of ours in the host's PID namespace.
    case.host_config.pid_mode = "host".into();
    let spec = case.spec();
    assert_eq!(strings(&spec["process"]["args"]), ["/entry", "arg"]);
    assert!(mount(&spec, "/sbin/docker-init").is_none());
    case.host_config.pid_mode.clear();
    case.init = None;
    assert_eq!(case.error().kind, ErrorKind::Internal);
}

#[test]
fn devices_and_device_cgroup_rules() {
    let mut case = Case::busybox();
    case.host_config.devices = vec![DeviceMapping {
        path_on_host: "/dev/null".into(),
        path_in_container: "/dev/mynull".into(),
        cgroup_permissions: "rw".into(),
    }];
    case.host_config.device_cgroup_rules = vec!["c 13:* rm".into()];
    let spec = case.spec();
    let node = &spec["linux"]["devices"][0];
    assert_eq!(node["path"], "/dev/mynull");
    assert_eq!(node["type"], "c");
    assert_eq!(
        (node["major"].clone(), node["minor"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(node["fileMode"], 0o666);
    let rules = spec["linux"]["resources"]["devices"].as_array().unwrap();
    assert!(
        rules
            .contains(&json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}))
    );
    assert!(rules.contains(&json!({"allow": true, "type": "c", "major": 13, "access": "rm"})));

    case.host_config.device_cgroup_rules = vec!["x 1:2 rwm".into()];
    assert_eq!(
        case.error().message,
        "invalid device cgroup rule format: 'x 1:2 rwm'"
    );
    case.host_config.device_cgroup_rules.clear();
    case.host_config.devices[0].path_on_host = "/dev/does-not-exist".into();
    assert_eq!(
        case.error().message,
        "error gathering device information while adding custom device \"/dev/does-not-exist\": no such file or directory"
    );
    case.host_config.devices[0].path_on_host = "/dev/null".into();
    case.host_config.devices[0].cgroup_permissions = "rwx".into();
    assert_eq!(case.error().message, "invalid device mode: rwx");
}

#[test]
fn resources_and_their_checks() {
    let mut case = Case::busybox();
    let hc = &mut case.host_config;
    hc.memory = 64 << 20;
    hc.memory_reservation = 32 << 20;
    hc.memory_swappiness = Some(10);
    hc.oom_kill_disable = Some(true);
    hc.nano_cpus = 500_000_000;
    hc.cpu_shares = 512;
    hc.cpuset_cpus = "0".into();
    hc.pids_limit = Some(100);
    hc.blkio_weight = 300;
    hc.cgroup_parent = "/custom/parent".into();
    let spec = case.spec();
    let r = &spec["linux"]["resources"];
    assert_eq!(r["memory"]["limit"], 64 << 20);
    assert_eq!(r["memory"]["swap"], 128 << 20, "0 swap is twice the memory");
    assert_eq!(r["memory"]["reservation"], 32 << 20);
    assert_eq!(r["memory"]["swappiness"], 10);
    assert_eq!(r["memory"]["disableOOMKiller"], true);
    assert_eq!(r["cpu"]["quota"], 50_000);
    assert_eq!(r["cpu"]["period"], 100_000);
    assert_eq!(r["cpu"]["shares"], 512);
    assert_eq!(r["cpu"]["cpus"], "0");
    assert_eq!(r["pids"]["limit"], 100);
    assert_eq!(r["blockIO"]["weight"], 300);
    assert_eq!(spec["linux"]["cgroupsPath"], format!("/custom/parent/{ID}"));

    case.host_config.memory_swap = -1;
    case.host_config.pids_limit = Some(-1);
    case.host_config.memory_swappiness = Some(-1);
    let spec = case.spec();
    let r = &spec["linux"]["resources"];
    assert!(
        r["memory"].get("swap").is_none_or(Value::is_null),
        "-1: unlimited swap"
    );
    assert!(r["memory"].get("swappiness").is_none_or(Value::is_null));
    assert_eq!(r["pids"]["limit"], -1);

    let refused = |change: &dyn Fn(&mut HostConfig)| {
        let mut case = Case::busybox();
        change(&mut case.host_config);
        let e = case.error();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        e.message
    };
    assert_eq!(
        refused(&|h| h.memory = 1024),
        "Minimum memory limit allowed is 6MB"
    );
    assert_eq!(
        refused(&|h| {
            h.memory = 64 << 20;
            h.memory_swap = 32 << 20;
        }),
        "Minimum memoryswap limit should be larger than memory limit, see usage"
    );
    assert_eq!(
        refused(&|h| h.memory_swap = 64 << 20),
        "You should always set the Memory limit when using Memoryswap limit, see usage"
    );
    assert_eq!(
        refused(&|h| h.memory_swappiness = Some(101)),
        "Invalid value: 101, valid memory swappiness range is 0-100"
    );
    assert_eq!(
        refused(&|h| h.blkio_weight = 5),
        "Range of blkio weight is from 10 to 1000"
    );
    assert_eq!(
        refused(&|h| {
            h.nano_cpus = 1_000_000_000;
            h.cpu_period = 100_000;
        }),
        "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    );
    assert!(
        refused(&|h| h.nano_cpus = 100_000 * 1_000_000_000)
            .starts_with("Range of CPUs is from 0.01")
    );
    assert!(
        refused(&|h| h.cpuset_cpus = "9999".into()).starts_with("Requested CPUs are not available")
    );
    assert_eq!(
        refused(&|h| h.oom_score_adj = 2000),
        "Invalid value 2000, range for oom score adj is [-1000, 1000]"
    );
    assert_eq!(
        refused(&|h| h.shm_size = -1),
        "SHM size can not be less than 0"
    );
}

#[test]
fn ulimits_become_rlimits() {
    let mut case = Case::busybox();
    case.host_config.oom_score_adj = 500;
    case.host_config.ulimits = vec![
        Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 2048,
        },
        Ulimit {
            name: "core".into(),
            soft: -1,
            hard: -1,
        },
    ];
    let spec = case.spec();
    assert_eq!(
        spec["process"]["rlimits"],
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
            {"type": "RLIMIT_CORE", "soft": u64::MAX, "hard": u64::MAX}
        ])
    );
    assert_eq!(spec["process"]["oomScoreAdj"], 500);
    case.host_config.ulimits = vec![Ulimit {
        name: "bogus".into(),
        soft: 1,
        hard: 1,
    }];
    assert_eq!(case.error().message, "invalid ulimit type: bogus");
    case.host_config.ulimits = vec![Ulimit {
        name: "nproc".into(),
        soft: 10,
        hard: 5,
    }];
    assert_eq!(
        case.error().message,
        "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
    );
}

#[test]
fn build_spec_detects_the_host() {
    let case = Case::busybox();
    let spec = case.with(build_spec).unwrap();
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
}
