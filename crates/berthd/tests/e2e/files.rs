//! A container's files from the outside: `cp` both ways (`-a`, `-L`, `-` streams; running,
//! created and exited containers), the archive API's stat header and status codes, crafted
//! tars and symlinks that try to reach the host, `diff`, `export` and `commit`.

use crate::common::images::Layer;
use crate::common::*;
use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// One HTTP/1.0 request (so that no answer is chunked): status, headers (lowercase names),
/// body.
fn request(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = UnixStream::connect(&d.socket).expect("connect to the daemon");
    s.set_read_timeout(Some(T)).unwrap();
    let mut head = format!("{method} /v1.41{path} HTTP/1.0\r\nHost: localhost\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/x-tar\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {raw:?}"));
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The decoded `X-Docker-Container-Path-Stat` of a `HEAD`, or the status when it failed.
fn stat(d: &Daemon, container: &str, path: &str) -> Result<serde_json::Value, u16> {
    let (status, headers, _) = request(
        d,
        "HEAD",
        &format!("/containers/{container}/archive?path={path}"),
        None,
    );
    if status != 200 {
        return Err(status);
    }
    let header = headers
        .iter()
        .find(|(k, _)| k == "x-docker-container-path-stat")
        .map(|(_, v)| v.clone())
        .expect("200 without X-Docker-Container-Path-Stat");
    Ok(serde_json::from_slice(&base64_decode(&header)).expect("stat header JSON"))
}

/// (name, uid, gid, mode, data) of each entry of `GET .../archive?path=`.
fn archive(d: &Daemon, container: &str, path: &str) -> Vec<(String, u64, u64, u32, Vec<u8>)> {
    let (status, _, body) = request(
        d,
        "GET",
        &format!("/containers/{container}/archive?path={path}"),
        None,
    );
    assert_eq!(
        status,
        200,
        "GET archive {path}: {}",
        String::from_utf8_lossy(&body)
    );
    entries(&body)
}

fn entries(tar_bytes: &[u8]) -> Vec<(String, u64, u64, u32, Vec<u8>)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap() & 0o7777,
                data,
            )
        })
        .collect()
}

/// Waits until `path` exists in the running container (its setup script wrote it).
fn wait_path(d: &Daemon, container: &str, path: &str) {
    let found = wait_for(T, || stat(d, container, path).ok());
    assert!(found.is_some(), "{path} never appeared in {container}");
}

/// A sleeping container that ran `script` first, and has /tmp/ready once done.
fn sleeper(d: &Daemon, name: &str, extra: &[&str], script: &str) {
    let script = format!("{script}; touch /tmp/ready; exec sleep 1000");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    d.client().ok(&args);
    wait_path(d, name, "/tmp/ready");
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

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

#[test]
fn archive_api_stat_header_and_status_codes() {
    let d = Daemon::start("archive_api").with_busybox();
    sleeper(
        &d,
        "api",
        &[],
        "mkdir -p /d/sub; printf abc > /d/f; ln -s /etc /d/abs; ln -s ../../../.. /d/up; \
         ln -s f /d/rel",
    );
    let s = stat(&d, "api", "/d/f").unwrap();
    assert_eq!(
        (s["name"].as_str(), s["size"].as_i64(), s["mode"].as_u64()),
        (Some("f"), Some(3), Some(0o644))
    );
    assert!(s["mtime"].as_str().unwrap().ends_with('Z'), "{s}");
    assert_eq!(s["linkTarget"], "");
    let dir = stat(&d, "api", "/d").unwrap();
    assert_eq!(
        dir["mode"].as_u64(),
        Some((1 << 31) | 0o755),
        "Go's ModeDir"
    );
    for (link, target) in [("/d/abs", "/etc"), ("/d/up", "/"), ("/d/rel", "/d/f")] {
        let s = stat(&d, "api", link).unwrap();
        assert_eq!(
            s["mode"].as_u64(),
            Some((1 << 27) | 0o777),
            "{link}: ModeSymlink"
        );
        assert_eq!(
            s["linkTarget"], target,
            "{link}: resolved inside the container"
        );
    }
    assert_eq!(stat(&d, "api", "/d/abs/").unwrap()["name"], "abs");
    assert_eq!(stat(&d, "api", "/").unwrap()["name"], "/");
    assert_eq!(stat(&d, "api", "/nope"), Err(404));
    assert_eq!(stat(&d, "api", "relative-is-absolute"), Err(404));
    assert_eq!(stat(&d, "nosuch", "/"), Err(404));

    let good = {
        let mut l = Layer::new();
        l.file("new.txt", 0o644, b"new\n");
        l.finish()
    };
    let put = |container: &str, query: &str| {
        let (status, _, body) = request(
            &d,
            "PUT",
            &format!("/containers/{container}/archive?{query}"),
            Some(&good),
        );
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(put("api", "path=/d").0, 200);
    assert_eq!(archive(&d, "api", "/d/new.txt")[0].4, b"new\n");
    let (status, body) = put("api", "path=/nope");
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("Could not find the file /nope in container api"),
        "{body}"
    );
    let (status, body) = put("api", "path=/d/f");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("extraction point is not a directory"),
        "{body}"
    );
    assert_eq!(put("api", "").0, 400);
    assert_eq!(request(&d, "GET", "/containers/api/archive", None).0, 400);
    // Through a symlink to a directory, inside the container.
    assert_eq!(put("api", "path=/d/abs").0, 200);
    assert!(archive(&d, "api", "/etc/new.txt").len() == 1);
    d.client()
        .ok(&["create", "--name", "ro", "--read-only", "busybox", "true"]);
    let (status, body) = put("ro", "path=/tmp");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("container rootfs is marked read-only"),
        "{body}"
    );
    let (status, _, body) = request(&d, "GET", "/containers/api/archive?path=/d/f/x", None);
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
}

/// Tars that try to write outside the directory they are extracted into.
fn crafted_tars(outside: &str) -> Vec<(&'static str, Vec<u8>)> {
    let up = "../".repeat(12);
    let rel_outside = outside.trim_start_matches('/');
    let mut cases = Vec::new();
    let mut l = Layer::new();
    l.raw(
        tar::EntryType::Regular,
        &format!("{up}{rel_outside}/dotdot"),
        None,
        b"x\n",
    );
    cases.push(("dotdot", l.finish()));
    let mut l = Layer::new();
    l.raw(
        tar::EntryType::Regular,
        &format!("{outside}/absolute"),
        None,
        b"x\n",
    );
    cases.push(("absolute", l.finish()));
    let mut l = Layer::new();
    l.raw(tar::EntryType::Symlink, "evil", Some(outside), b"");
    l.raw(
        tar::EntryType::Regular,
        "evil/through-symlink",
        None,
        b"x\n",
    );
    cases.push(("symlink then write through it", l.finish()));
    let mut l = Layer::new();
    l.raw(
        tar::EntryType::Link,
        "hard",
        Some(&format!("{up}{rel_outside}/marker")),
        b"",
    );
    cases.push(("hard link to outside", l.finish()));
    let mut l = Layer::new();
    l.raw(tar::EntryType::Char, "null", None, b"");
    cases.push(("device node", l.finish()));
    let mut b = tar::Builder::new(Vec::new());
    let huge = vec![b'a'; 2 << 20];
    b.append_pax_extensions([("comment", &huge[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "after-huge-pax", &b"x\n"[..])
        .unwrap();
    cases.push(("huge pax header", b.into_inner().unwrap()));
    cases
}

#[test]
fn crafted_tars_put_into_a_container_touch_nothing_outside_it() {
    let d = Daemon::start("cp_crafted").with_busybox();
    sleeper(&d, "target", &[], "mkdir -p /x");
    let outside = d.base.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("marker"), "untouched\n").unwrap();
    for (case, tar) in crafted_tars(outside.to_str().unwrap()) {
        let (status, _, body) =
            request(&d, "PUT", "/containers/target/archive?path=/x", Some(&tar));
        let listed: Vec<String> = fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(listed, ["marker"], "{case}: written outside the container");
        assert_eq!(
            fs::read_to_string(outside.join("marker")).unwrap(),
            "untouched\n",
            "{case}"
        );
        // dockerd cleans `..` and absolute names into the target and follows the tar's own
        // symlink inside the container; berthd refuses such tars, as the issue asks.
        if !is_dockerd() {
            assert_eq!(status, 400, "{case}: {}", String::from_utf8_lossy(&body));
        }
    }
    // The daemon is still fine and the container still takes a good tar.
    let mut l = Layer::new();
    l.file("fine", 0o644, b"fine\n");
    let (status, _, _) = request(
        &d,
        "PUT",
        "/containers/target/archive?path=/x",
        Some(&l.finish()),
    );
    assert_eq!(status, 200);
}

#[test]
fn symlinks_in_the_container_read_and_write_inside_it_only() {
    let d = Daemon::start("cp_symlinks").with_busybox();
    let c = d.client();
    let outside = d.base.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), "host secret\n").unwrap();
    let host_dir = outside.display().to_string();
    sleeper(
        &d,
        "links",
        &[],
        &format!(
            "mkdir -p /tmp/links; ln -s / /tmp/links/root; ln -s ../../../../../.. /tmp/links/up; \
             ln -s {host_dir} /tmp/links/host; ln -s {host_dir}/secret /tmp/links/secret"
        ),
    );
    // Reading through them gives the container's files, never the host's.
    let out = d.base.join("read");
    fs::create_dir_all(&out).unwrap();
    c.ok(&[
        "cp",
        "links:/tmp/links/up/etc/passwd",
        out.join("passwd").to_str().unwrap(),
    ]);
    assert!(
        fs::read_to_string(out.join("passwd"))
            .unwrap()
            .contains("e2e:x:1000"),
        "not the container's passwd"
    );
    let o = c.cmd(&[
        "cp",
        "-L",
        "links:/tmp/links/secret",
        out.join("s").to_str().unwrap(),
    ]);
    o.assert_fail();
    assert!(!out.join("s").exists());
    let o = c.cmd(&[
        "cp",
        "links:/tmp/links/host/secret",
        out.join("s").to_str().unwrap(),
    ]);
    o.assert_fail();

    // Writing through them lands in the container.
    let f = d.base.join("payload");
    fs::write(&f, "payload\n").unwrap();
    for dest in ["links:/tmp/links/root/", "links:/tmp/links/up/tmp/"] {
        c.ok(&["cp", f.to_str().unwrap(), dest]);
    }
    // The link names a directory the container does not have: the copy fails.
    c.cmd(&["cp", f.to_str().unwrap(), "links:/tmp/links/host"]);
    c.cmd(&["cp", f.to_str().unwrap(), "links:/tmp/links/host/"]);
    let listed: Vec<String> = fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["secret"], "a copy went to the host");
    assert_eq!(archive(&d, "links", "/payload")[0].4, b"payload\n");
    assert_eq!(archive(&d, "links", "/tmp/payload")[0].4, b"payload\n");
}

#[test]
fn a_container_swapping_directories_for_symlinks_during_copies_cannot_reach_the_host() {
    let d = Daemon::start("cp_race").with_busybox();
    let outside = d.base.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), "host secret\n").unwrap();
    let host_dir = outside.display().to_string();
    // /w/d is a directory one moment and a symlink to the host's directory the next (the
    // CVE-2018-15664 race); the loop ends by itself.
    sleeper(
        &d,
        "racer",
        &[],
        &format!(
            "mkdir -p /w; (i=0; while [ $i -lt 20000 ]; do mkdir /w/d 2>/dev/null; \
             echo inside > /w/d/secret; rm -rf /w/d; ln -s {host_dir} /w/d; rm -f /w/d; \
             i=$((i+1)); done) & :"
        ),
    );
    let mut l = Layer::new();
    l.file("d/payload", 0o644, b"payload\n");
    let tar = l.finish();
    for _ in 0..60 {
        request(&d, "PUT", "/containers/racer/archive?path=/w", Some(&tar));
        let (status, _, body) = request(
            &d,
            "GET",
            "/containers/racer/archive?path=/w/d/secret",
            None,
        );
        if status == 200 {
            let got = entries(&body);
            assert!(
                got.iter().all(|e| e.4 != b"host secret\n"),
                "a copy out read the host's file"
            );
        }
    }
    let listed: Vec<String> = fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["secret"], "a copy in wrote to the host");
    assert_eq!(
        fs::read_to_string(outside.join("secret")).unwrap(),
        "host secret\n"
    );
}

/// `docker diff` as (kind letter, path) pairs.
fn diff(c: &Client<'_>, container: &str) -> BTreeSet<(String, String)> {
    c.ok(&["diff", container])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect()
}

const CHANGE_SCRIPT: &str = "echo changed >> /etc/passwd; mkdir -p /tmp/new; \
    echo hi > /tmp/new/f; rm /bin/cat; ln -s /tmp/new/f /tmp/link";

fn changed_pairs() -> BTreeSet<(String, String)> {
    pairs(&[
        ("C", "/bin"),
        ("D", "/bin/cat"),
        ("C", "/etc"),
        ("C", "/etc/passwd"),
        ("C", "/tmp"),
        ("A", "/tmp/link"),
        ("A", "/tmp/new"),
        ("A", "/tmp/new/f"),
    ])
}

#[test]
fn diff_lists_what_the_container_added_changed_and_deleted() {
    let d = Daemon::start("diff").with_busybox();
    let c = d.client();
    c.ok(&["create", "--name", "fresh", "busybox", "true"]);
    assert_eq!(
        c.ok(&["diff", "fresh"]),
        "",
        "a new container has no changes"
    );
    c.ok(&["start", "-a", "fresh"]);
    assert_eq!(c.ok(&["diff", "fresh"]), "", "nor one that only ran");
    c.ok(&[
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        CHANGE_SCRIPT,
    ]);
    assert_eq!(diff(&c, "changer"), changed_pairs());
    let (status, _, body) = request(&d, "GET", "/containers/changer/changes", None);
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .contains(&serde_json::json!({"Path": "/bin/cat", "Kind": 2})),
        "{json}"
    );
    let o = c.cmd(&["diff", "nosuch"]);
    o.assert_fail();
    assert!(
        o.stderr.contains("No such container: nosuch"),
        "{}",
        o.describe()
    );
}

#[test]
fn export_writes_the_flattened_root() {
    let d = Daemon::start("export").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "--name",
        "exported",
        "busybox",
        "sh",
        "-c",
        CHANGE_SCRIPT,
    ]);
    let file = d.base.join("exported.tar");
    c.ok(&["export", "-o", file.to_str().unwrap(), "exported"]);
    let listed = entries(&fs::read(&file).unwrap());
    let by_name = |n: &str| listed.iter().find(|e| e.0 == n);
    assert_eq!(by_name("tmp/new/f").map(|e| &e.4[..]), Some(&b"hi\n"[..]));
    assert!(
        String::from_utf8_lossy(&by_name("etc/passwd").unwrap().4).ends_with("changed\n"),
        "the writable layer's passwd"
    );
    assert_eq!(by_name("bin/busybox").map(|e| e.3), Some(0o755));
    assert!(by_name("bin/cat").is_none(), "a deleted file was exported");
    assert!(
        listed
            .iter()
            .all(|e| !e.0.starts_with('/') && !e.0.starts_with("./"))
    );
    let o = c.cmd(&["export", "exported"]);
    o.assert_ok();
    assert!(o.stdout.len() > 1_000_000, "export to stdout");
}

#[test]
fn commit_makes_an_image_that_runs_and_saves_the_diffs_layer() {
    let d = Daemon::start("commit").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "--name",
        "source",
        "busybox",
        "sh",
        "-c",
        CHANGE_SCRIPT,
    ]);
    let id = c.ok(&[
        "commit",
        "-m",
        "a message",
        "-a",
        "an author",
        "--change",
        "CMD [\"head\", \"/tmp/new/f\"]",
        "--change",
        "ENV COMMITTED=yes",
        "source",
        "committed:1",
    ]);
    assert!(
        id.starts_with("sha256:"),
        "commit prints the image ID: {id}"
    );
    assert_eq!(c.ok(&["run", "--rm", "committed:1"]), "hi", "the new CMD");
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "committed:1",
            "sh",
            "-c",
            "echo $COMMITTED; test -e /bin/cat || echo no-cat; tail -n 1 /etc/passwd",
        ]),
        "yes\nno-cat\nchanged"
    );
    assert_eq!(
        c.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}",
            "committed:1"
        ]),
        "an author|a message"
    );
    assert!(c.ok(&["images", "committed"]).contains("committed"));
    let history = c.ok(&["history", "--format", "{{.Comment}}", "committed:1"]);
    assert_eq!(history.lines().next(), Some("a message"));

    // The saved image's top layer holds exactly what diff listed.
    let saved = d.base.join("committed.tar");
    c.ok(&["save", "-o", saved.to_str().unwrap(), "committed:1"]);
    let archive = entries(&fs::read(&saved).unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&archive.iter().find(|e| e.0 == "manifest.json").unwrap().4)
            .unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "busybox's layer and the committed one");
    let top = layers[1].as_str().unwrap();
    let top = &archive.iter().find(|e| e.0 == top).unwrap().4;
    let in_layer: BTreeSet<String> = entries(top)
        .into_iter()
        .map(|e| e.0.trim_end_matches('/').to_string())
        .collect();
    let from_diff: BTreeSet<String> = changed_pairs()
        .into_iter()
        .map(|(kind, path)| {
            let path = path.trim_start_matches('/');
            if kind == "D" {
                let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
                format!("{dir}/.wh.{name}")
            } else {
                path.to_string()
            }
        })
        .collect();
    assert_eq!(in_layer, from_diff);
}

#[test]
fn commit_of_a_running_container_pauses_it_only_while_the_layer_is_taken() {
    let d = Daemon::start("commit_running").with_busybox();
    let c = d.client();
    sleeper(&d, "running", &[], "echo live > /tmp/live");
    c.ok(&["commit", "running", "live:latest"]);
    assert_eq!(
        c.inspect("running", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    assert_eq!(c.ok(&["run", "--rm", "live", "cat", "/tmp/live"]), "live");
    c.ok(&["commit", "--pause=false", "running", "live:nopause"]);
    assert_eq!(
        c.ok(&["run", "--rm", "live:nopause", "cat", "/tmp/live"]),
        "live"
    );
    let o = c.cmd(&["commit", "--change", "RUN true", "running", "bad:1"]);
    o.assert_fail();
    assert!(
        o.stderr.contains("run is not a valid change command"),
        "{}",
        o.describe()
    );
}
