//! berth against docker CLI 28 on a private dockerd: the same commands through both clients
//! must print the same (IDs and times normalised) and exit with the same codes.
//!
//! Starts its own dockerd (own socket, data root, exec root under a temp dir), stops it by PID
//! and removes its dirs at the end. Skipped, with the reason printed, when dockerd or the
//! docker CLI is missing or we are not root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DOCKER: &str = "/usr/local/bin/docker";

struct Daemon {
    child: Child,
    dir: PathBuf,
    socket: String,
}

impl Daemon {
    fn start() -> Result<Daemon, String> {
        let dockerd = which("dockerd").ok_or("dockerd is not installed")?;
        if !Path::new(DOCKER).exists() {
            return Err(format!("{DOCKER} is not installed"));
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc_geteuid() } != 0 {
            return Err("not root".into());
        }
        let dir = PathBuf::from(format!("/tmp/berth-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let socket = format!("unix://{}/docker.sock", dir.display());
        let log = std::fs::File::create(dir.join("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(dockerd)
            .arg("--host")
            .arg(&socket)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let daemon = Daemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if docker(&daemon, &["version"], None).status.success() {
                return Ok(daemon);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("dockerd did not come up within 30 s".into())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill sends SIGTERM to the dockerd we spawned, by its PID.
        unsafe { libc_kill(pid, 15) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
        // dockerd unmounts its own mounts on shutdown; anything left below our dir goes too.
        Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.join("data"))
            .stderr(Stdio::null())
            .status()
            .ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .or_else(|| {
            ["/usr/sbin", "/usr/bin"]
                .iter()
                .map(|d| Path::new(d).join(name))
                .find(|p| p.exists())
        })
}

fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

fn run_with(bin: &str, d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("DOCKER_HOST", &d.socket)
        .env_remove("BERTH_HOST")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn docker(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with(DOCKER, d, args, stdin)
}

fn berth(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with(berth_bin(), d, args, stdin)
}

/// Replaces hex IDs and the client's name so both outputs compare.
fn normalise(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text).replace("docker", "berth");
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 64 {
            out.push_str("<ID64>");
        } else if run.len() == 12
            && run.chars().any(|c| c.is_ascii_digit())
            && run.chars().any(|c| c.is_ascii_alphabetic())
        {
            out.push_str("<ID12>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Runs `args` through both clients and asserts equal normalised stdout, stderr and exit code.
fn same(d: &Daemon, args: &[&str]) -> String {
    same_with_input(d, args, None)
}

fn same_with_input(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> String {
    let want = docker(d, args, stdin);
    let got = berth(d, args, stdin);
    assert_eq!(
        got.status.code(),
        want.status.code(),
        "exit code of {args:?}\nberth stderr: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(
        normalise(&got.stdout),
        normalise(&want.stdout),
        "stdout of {args:?}"
    );
    assert_eq!(
        normalise(&got.stderr),
        normalise(&want.stderr),
        "stderr of {args:?}"
    );
    normalise(&got.stdout)
}

/// For commands that change state: docker runs `a` then `undo`, then berth runs both; each
/// pair of outputs must match.
fn same_pair(d: &Daemon, a: &[&str], undo: &[&str]) {
    let want_a = docker(d, a, None);
    let want_undo = docker(d, undo, None);
    let got_a = berth(d, a, None);
    let got_undo = berth(d, undo, None);
    for (args, want, got) in [(a, want_a, got_a), (undo, want_undo, got_undo)] {
        assert_eq!(
            got.status.code(),
            want.status.code(),
            "exit code of {args:?}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(
            normalise(&got.stdout),
            normalise(&want.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(
            normalise(&got.stderr),
            normalise(&want.stderr),
            "stderr of {args:?}"
        );
    }
}

/// Runs a client on a fresh 40x120 pty, typing `inputs` (half a second apart), and returns
/// everything it printed and its exit code.
fn run_in_pty(bin: &str, d: &Daemon, args: &[&str], inputs: &[&[u8]]) -> (String, Option<i32>) {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("DOCKER_HOST", &d.socket)
        .env_remove("BERTH_HOST")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: setsid and TIOCSCTTY are async-signal-safe; they make the pty the child's
    // controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // The command keeps its copies of the slave until dropped; the master sees EOF only
    // once every copy is closed.
    drop(cmd);
    drop(slave);
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let collector = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let mut writer = std::fs::File::from(master);
    std::thread::sleep(Duration::from_millis(800));
    for input in inputs {
        writer.write_all(input).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    // Bounded, so a hung client cannot keep the test (and its dockerd) alive.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().ok();
    }
    let status = child.wait().unwrap();
    drop(writer);
    let out = collector.join().unwrap();
    (String::from_utf8_lossy(&out).into_owned(), status.code())
}

fn import_busybox(d: &Daemon) {
    let root = d.dir.join("bbroot");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).ok();
        }
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .output()
        .unwrap();
    let out = docker(d, &["import", "-", "busybox"], Some(&tar.stdout));
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn berth_matches_docker_cli_on_dockerd() {
    let daemon = match Daemon::start() {
        Ok(d) => d,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    let d = &daemon;
    import_busybox(d);

    // Foreground runs: output, stderr and exit codes (the container's, 127 for a missing command).
    same(d, &["run", "--rm", "busybox", "echo", "hello"]);
    same(
        d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    same(d, &["run", "--rm", "busybox", "nosuchcommand"]);
    same(
        d,
        &[
            "run",
            "--rm",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "-u",
            "1:2",
            "-h",
            "box",
            "busybox",
            "sh",
            "-c",
            "echo $FOO; pwd; id -u; id -g; hostname",
        ],
    );
    same(
        d,
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "from",
            "entrypoint",
        ],
    );
    same(d, &["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    same(
        d,
        &[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            "touch /scratch/x && ls /scratch",
        ],
    );
    same_with_input(
        d,
        &["run", "-i", "--rm", "busybox", "cat"],
        Some(b"piped-stdin\n"),
    );
    same(d, &["run", "--rm", "busybox", "ls", "-la", "/nonexistent"]);
    same(d, &["run", "--foo", "busybox"]);

    // Lifecycle by name.
    let id = berth(
        d,
        &[
            "run", "-d", "--name", "sleeper", "-l", "k=v", "busybox", "sleep", "1000",
        ],
        None,
    );
    assert!(id.status.success());
    assert_eq!(String::from_utf8_lossy(&id.stdout).trim().len(), 64);
    same(
        d,
        &[
            "ps",
            "--format",
            "{{.Names}} {{.Image}} {{.Command}} {{.Labels}} {{.State}}",
        ],
    );
    same(d, &["ps", "-q", "--no-trunc"]);
    same(d, &["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    same(
        d,
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.State.Running}} {{.Config.Cmd}} {{json .Config.Cmd}} {{.Config.Labels}} {{.Config.Labels.k}}",
            "sleeper",
        ],
    );
    same(
        d,
        &[
            "container",
            "inspect",
            "--format",
            "{{upper .Name}}",
            "sleeper",
        ],
    );
    same(d, &["kill", "-s", "USR1", "sleeper"]);
    same_pair(d, &["pause", "sleeper"], &["unpause", "sleeper"]);
    assert!(berth(d, &["pause", "sleeper"], None).status.success());
    same(d, &["ps", "--format", "{{.Status}}"]);
    assert!(berth(d, &["unpause", "sleeper"], None).status.success());
    same_pair(
        d,
        &["rename", "sleeper", "sleeper2"],
        &["rename", "sleeper2", "sleeper"],
    );
    assert_eq!(
        String::from_utf8_lossy(&berth(d, &["rename", "sleeper", "sleeper2"], None).stdout),
        ""
    );
    let killed = berth(d, &["kill", "sleeper2"], None);
    assert_eq!(String::from_utf8_lossy(&killed.stdout), "sleeper2\n");
    same(d, &["wait", "sleeper2"]);
    same(d, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    same(d, &["logs", "sleeper2"]);
    let removed = berth(d, &["rm", "sleeper2"], None);
    assert_eq!(String::from_utf8_lossy(&removed.stdout), "sleeper2\n");

    // create / start -a, logs.
    assert!(
        berth(
            d,
            &[
                "create",
                "--name",
                "made",
                "busybox",
                "sh",
                "-c",
                "echo one; echo two >&2; exit 4"
            ],
            None
        )
        .status
        .success()
    );
    let started = berth(d, &["start", "-a", "made"], None);
    assert_eq!(started.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&started.stdout), "one\n");
    assert_eq!(String::from_utf8_lossy(&started.stderr), "two\n");
    same(d, &["logs", "made"]);
    same(d, &["logs", "--tail", "1", "made"]);
    same(d, &["wait", "made"]);
    same(d, &["ps", "-a", "-n", "1", "--format", "{{.Names}}"]);
    assert!(berth(d, &["rm", "-f", "made"], None).status.success());

    // Errors: command-line mistakes and daemon errors, worded and coded like docker's.
    same(d, &["stop"]);
    same(d, &["ps", "--bogus"]);
    same(d, &["nosuchcmd"]);
    same(d, &["rm", "nosuch"]);
    same(d, &["stop", "nosuch"]);
    same(d, &["inspect", "nosuch"]);
    same(d, &["logs", "nosuch"]);

    // Images.
    same(d, &["images"]);
    same(d, &["images", "-q"]);
    same(
        d,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
    );
    same(d, &["tag", "busybox", "bb:two"]);
    same(
        d,
        &[
            "images",
            "--format",
            "table {{.Repository}}\t{{.Tag}}",
            "bb",
        ],
    );
    same(
        d,
        &[
            "image",
            "inspect",
            "-f",
            "{{.RepoTags}} {{json .Config.Cmd}}",
            "bb:two",
        ],
    );
    same_pair(d, &["rmi", "bb:two"], &["tag", "busybox", "bb:two"]);
    assert!(berth(d, &["rmi", "bb:two"], None).status.success());
    same(d, &["rmi", "nosuch:1"]);
    same(d, &["history", "busybox"]);
    same(d, &["history", "-q", "busybox"]);
    same(d, &["system", "df"]);

    // Volumes.
    same_pair(
        d,
        &["volume", "create", "--label", "k=v", "cv"],
        &["volume", "rm", "cv"],
    );
    assert!(
        berth(d, &["volume", "create", "--label", "k=v", "cv"], None)
            .status
            .success()
    );
    same(d, &["volume", "ls"]);
    same(d, &["volume", "ls", "-q", "--filter", "label=k"]);
    same(
        d,
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Links}} {{.Size}}",
        ],
    );
    same(
        d,
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{json .Labels}} {{json .Options}} {{.Scope}}",
            "cv",
        ],
    );
    same(d, &["volume", "inspect", "nosuch"]);
    same(d, &["volume", "rm", "nosuch"]);
    same(d, &["volume", "rm", "-f", "nosuch"]);
    same(d, &["volume", "create", "a"]);
    same(
        d,
        &[
            "run",
            "--rm",
            "-v",
            "cv:/v",
            "busybox",
            "sh",
            "-c",
            "echo hi > /v/f; cat /v/f",
        ],
    );
    same(
        d,
        &[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=cv,dst=/v,readonly",
            "busybox",
            "sh",
            "-c",
            "cat /v/f; touch /v/g",
        ],
    );
    same(
        d,
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ],
    );
    same_pair(
        d,
        &["volume", "rm", "cv"],
        &["volume", "create", "--label", "k=v", "cv"],
    );
    assert!(berth(d, &["volume", "rm", "cv"], None).status.success());
    same(d, &["volume", "prune", "-f"]);

    // save (berth) → load (docker) and back.
    let tar = d.dir.join("bb.tar");
    let tar = tar.to_str().unwrap();
    assert!(
        berth(d, &["save", "-o", tar, "busybox"], None)
            .status
            .success()
    );
    same(d, &["load", "-i", tar]);
    let imported = berth(
        d,
        &["import", "-c", "CMD [\"echo\",\"imported\"]", tar, "imp:1"],
        None,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    same(d, &["run", "--rm", "imp:1"]);
    assert!(berth(d, &["rmi", "imp:1"], None).status.success());

    // -it on a terminal: console size, typed input, the shell's exit code.
    let (out, code) = run_in_pty(
        berth_bin(),
        d,
        &["run", "-it", "--rm", "busybox", "sh"],
        &[b"stty size; echo typed-$((6*7)); exit 5\r"],
    );
    assert_eq!(code, Some(5), "{out}");
    assert!(
        out.contains("40 120\r\n") && out.contains("typed-42\r\n"),
        "{out:?}"
    );
    // Detach keys: ctrl-p ctrl-q leaves the container running; attach reports it like docker.
    assert!(
        berth(d, &["run", "-dit", "--name", "det", "busybox", "sh"], None)
            .status
            .success()
    );
    let (out, code) = run_in_pty(
        berth_bin(),
        d,
        &["attach", "det"],
        &[b"echo hi\r", b"\x10\x11"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("hi\r\n") && out.ends_with("read escape sequence\r\n"),
        "{out:?}"
    );
    same(d, &["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(berth(d, &["rm", "-f", "det"], None).status.success());

    // sig-proxy: a SIGTERM to the foreground client reaches the container.
    let mut child = Command::new(berth_bin())
        .args([
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .env("DOCKER_HOST", &d.socket)
        .env_remove("BERTH_HOST")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    // SAFETY: SIGTERM to the client we spawned, by its PID.
    unsafe { libc_kill(child.id() as i32, 15) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(child.wait().unwrap().code(), Some(7));

    // Host selection: -H beats BERTH_HOST beats DOCKER_HOST.
    let bad = "unix:///nonexistent/berth-test.sock";
    let with_env = |args: &[&str], berth_host: &str, docker_host: &str| {
        Command::new(berth_bin())
            .args(args)
            .env("BERTH_HOST", berth_host)
            .env("DOCKER_HOST", docker_host)
            .output()
            .unwrap()
    };
    assert!(
        with_env(&["-H", &d.socket, "ps"], bad, bad)
            .status
            .success()
    );
    assert!(with_env(&["ps"], &d.socket, bad).status.success());
    let refused = with_env(&["ps"], bad, &d.socket);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("/nonexistent/berth-test.sock"));

    // Prune.
    berth(d, &["create", "--name", "dead", "busybox", "true"], None);
    let pruned = berth(d, &["container", "prune", "-f"], None);
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("Total reclaimed space:"));
    same(d, &["ps", "-a", "-q"]);
}
