//! `cp` both ways: contents, modes and owners, `-a`, `-L`, `-` streams, stopped containers.

use super::*;
use crate::common::images::Layer;
use std::os::unix::fs::PermissionsExt;

#[test]
fn cp_into_and_out_of_a_running_container_keeps_contents_modes_and_owners() {
    let d = Daemon::start("cp_running").with_busybox();
    let c = d.client();
    sleeper(&d, "box", &[], "ln -s /tmp/f /tmp/link");
    let src = d.base.join("src");
    fs::create_dir_all(src.join("tree/sub")).unwrap();
    fs::write(src.join("f"), "file\n").unwrap();
    std::os::unix::fs::chown(src.join("f"), Some(1234), Some(5678)).unwrap();
    fs::set_permissions(src.join("f"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(src.join("tree/sub/inner"), "inner\n").unwrap();
    fs::set_permissions(src.join("tree/sub"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("sub/inner", src.join("tree/link")).unwrap();
    let src_s = |p: &str| src.join(p).display().to_string();

    // Host to container: a file to a new name, a directory into a directory and to a new name.
    c.ok(&["cp", &src_s("f"), "box:/tmp/f"]);
    c.ok(&["cp", &src_s("tree"), "box:/tmp/"]);
    c.ok(&["cp", &src_s("tree"), "box:/tmp/renamed"]);
    let f = archive(&d, "box", "/tmp/f");
    assert_eq!(
        (f[0].0.as_str(), f[0].1, f[0].2, f[0].3, f[0].4.as_slice()),
        ("f", 1234, 5678, 0o640, &b"file\n"[..]),
        "the copy keeps the archive's owner and mode"
    );
    for dir in ["tree", "renamed"] {
        let names: Vec<String> = archive(&d, "box", &format!("/tmp/{dir}"))
            .into_iter()
            .map(|e| e.0)
            .collect();
        let want: Vec<String> = ["/", "/link", "/sub/", "/sub/inner"]
            .iter()
            .map(|s| format!("{dir}{s}"))
            .collect();
        assert_eq!(names, want);
    }

    // Container to host: contents and modes kept, owned by whoever runs the client.
    let out = d.base.join("out");
    fs::create_dir_all(&out).unwrap();
    let out_s = |p: &str| out.join(p).display().to_string();
    c.ok(&["cp", "box:/tmp/f", &out_s("f")]);
    assert_eq!(fs::read_to_string(out.join("f")).unwrap(), "file\n");
    assert_eq!(mode(&out.join("f")), 0o640);
    assert_eq!(fs::metadata(out.join("f")).unwrap().uid(), 0);
    c.ok(&["cp", "box:/tmp/tree", &out_s("")]);
    assert_eq!(
        fs::read_to_string(out.join("tree/sub/inner")).unwrap(),
        "inner\n"
    );
    assert_eq!(mode(&out.join("tree/sub")), 0o700);
    assert_eq!(
        fs::read_link(out.join("tree/link")).unwrap(),
        Path::new("sub/inner")
    );
    c.ok(&["cp", "box:/tmp/tree/.", &out_s("contents")]);
    assert!(out.join("contents/sub/inner").is_file());

    // -L follows a symlink in the source; without it the link itself is copied.
    c.ok(&["cp", "box:/tmp/link", &out_s("link")]);
    assert_eq!(
        fs::read_link(out.join("link")).unwrap(),
        Path::new("/tmp/f")
    );
    c.ok(&["cp", "-L", "box:/tmp/link", &out_s("followed")]);
    assert_eq!(fs::read_to_string(out.join("followed")).unwrap(), "file\n");

    // `-` streams a tar both ways.
    let o = c.cmd(&["cp", "box:/tmp/f", "-"]);
    o.assert_ok();
    let streamed = entries(o.stdout.as_bytes());
    assert_eq!(
        (streamed[0].0.as_str(), &streamed[0].4[..]),
        ("f", &b"file\n"[..])
    );
    let mut l = Layer::new();
    l.file("from-stdin", 0o600, b"stdin\n");
    c.cmd_stdin(&["cp", "-", "box:/tmp"], &l.finish())
        .assert_ok();
    let got = archive(&d, "box", "/tmp/from-stdin");
    assert_eq!((got[0].3, &got[0].4[..]), (0o600, &b"stdin\n"[..]));
    let o = c.cmd_stdin(&["cp", "-", "box:/tmp/f"], &Layer::new().finish());
    o.assert_fail();
    assert!(o.stderr.contains("must be a directory"), "{}", o.describe());

    // Errors the client reports.
    let o = c.cmd(&["cp", "box:/no/such/file", &out_s("x")]);
    o.assert_fail();
    assert!(
        o.stderr
            .contains("Could not find the file /no/such/file in container box"),
        "{}",
        o.describe()
    );
    let o = c.cmd(&["cp", &src_s("f"), "box:/tmp/f/below"]);
    o.assert_fail();
}

#[test]
fn cp_archive_mode_gives_copies_the_containers_user() {
    let d = Daemon::start("cp_archive").with_busybox();
    let c = d.client();
    c.ok(&[
        "run", "-d", "--name", "user", "-u", "e2e", "busybox", "sleep", "1000",
    ]);
    c.wait_status("user", "running");
    let f = d.base.join("f");
    fs::write(&f, "x\n").unwrap();
    std::os::unix::fs::chown(&f, Some(1234), Some(1234)).unwrap();
    c.ok(&["cp", f.to_str().unwrap(), "user:/tmp/plain"]);
    assert_eq!(archive(&d, "user", "/tmp/plain")[0].1, 1234);
    let o = c.cmd(&["cp", "-a", f.to_str().unwrap(), "user:/tmp/archived"]);
    // dockerd looks the user up in the host's passwd (where e2e is missing) and fails.
    if !is_dockerd() {
        o.assert_ok();
        let got = archive(&d, "user", "/tmp/archived");
        assert_eq!(
            (got[0].1, got[0].2),
            (1000, 1000),
            "-a: owned by the container's user"
        );
    }
}

#[test]
fn cp_into_created_and_exited_containers_mounts_their_root_only_for_the_copy() {
    let d = Daemon::start("cp_stopped").with_busybox();
    let c = d.client();
    let f = d.base.join("in");
    fs::write(&f, "copied in\n").unwrap();
    let id = c.ok(&["create", "--name", "later", "busybox", "cat", "/in"]);
    c.ok(&["cp", f.to_str().unwrap(), "later:/in"]);
    c.ok(&["start", "-a", "later"]);
    assert_eq!(c.ok(&["logs", "later"]), "copied in");

    c.ok(&["wait", "later"]);
    let mounted = || {
        mounts_naming(&id)
            .into_iter()
            .filter(|m| m.ends_with("rootfs"))
            .count()
    };
    if !is_dockerd() {
        assert_eq!(mounted(), 0, "an exited container's root stays mounted");
    }
    c.ok(&["cp", f.to_str().unwrap(), "later:/tmp/second"]);
    let out = d.base.join("out");
    c.ok(&["cp", "later:/tmp/second", out.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&out).unwrap(), "copied in\n");
    if !is_dockerd() {
        assert_eq!(mounted(), 0, "the copy left the root mounted");
    }
    c.ok(&["start", "-a", "later"]);
}
