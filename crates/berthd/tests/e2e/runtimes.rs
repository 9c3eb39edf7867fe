//! Other runc-compatible runtimes through `--add-runtime` and `--runtime`: Debian's runc and crun
//! run the same containers as berth's own runtime. crun refuses a hybrid cgroup layout, so on
//! this host its containers must fail clearly and leave nothing; in a pure cgroup v2 VM
//! (scripts/test.sh runs this module there too) they run.

use crate::common::*;

fn which(name: &str) -> Option<String> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|path| std::path::Path::new(path).exists())
}

#[test]
fn runc_and_crun_run_containers_through_add_runtime() {
    let (Some(runc), Some(crun)) = (which("runc"), which("crun")) else {
        eprintln!("skipped: runc or crun is not installed");
        return;
    };
    let d = Daemon::start_with_args(
        "runtimes",
        &[
            "--add-runtime",
            &format!("runc={runc}"),
            "--add-runtime",
            &format!("crun={crun}"),
        ],
    )
    .with_busybox();
    let c = d.client();
    let runtimes = c.ok(&["info", "--format", "{{json .Runtimes}}"]);
    assert!(
        runtimes.contains("\"runc\"") && runtimes.contains("\"crun\""),
        "{runtimes}"
    );
    let hybrid = !is_cgroup_v2() && std::path::Path::new("/sys/fs/cgroup/unified").exists();
    for runtime in ["runc", "crun"] {
        let name = format!("by-{runtime}");
        let o = c.cmd(&[
            "run",
            "-d",
            "--runtime",
            runtime,
            "--name",
            &name,
            "busybox",
            "sleep",
            "1000",
        ]);
        if runtime == "crun" && hybrid {
            assert!(
                !o.ok(),
                "crun ran on a hybrid cgroup layout: {}",
                o.describe()
            );
            assert!(
                o.stderr.contains("OCI runtime create failed") && o.stderr.contains("hybrid"),
                "{}",
                o.describe()
            );
            assert!(pids_naming(&name).is_empty());
            c.ok(&["rm", "-f", &name]);
            continue;
        }
        assert!(o.ok(), "{}", o.describe());
        assert_eq!(c.inspect(&name, "{{.HostConfig.Runtime}}"), runtime);
        // Its init is the container's process, in the container's own pid namespace.
        let pid = c.pid_of(&name);
        assert!(cmdline(pid).starts_with("sleep"), "{}", cmdline(pid));
        let o = c.cmd(&[
            "run",
            "--rm",
            "--runtime",
            runtime,
            "busybox",
            "sh",
            "-c",
            "echo $$; hostname",
        ]);
        assert!(o.ok(), "{}", o.describe());
        assert_eq!(
            o.lines().first().map(String::as_str),
            Some("1"),
            "{}",
            o.describe()
        );
        c.ok(&["stop", "-t", "1", &name]);
        assert_eq!(c.inspect(&name, "{{.State.Status}}"), "exited");
        c.ok(&["start", &name]);
        assert_eq!(c.inspect(&name, "{{.State.Status}}"), "running");
        c.ok(&["rm", "-f", &name]);
        assert!(!pid_alive(pid));
    }
}
