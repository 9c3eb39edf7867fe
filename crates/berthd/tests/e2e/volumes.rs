//! Volumes: named volumes that outlive containers and get the image's content (copy-up),
//! anonymous ones from `VOLUME` and `-v /path` (gone with `rm -v` and `--rm`),
//! `--volumes-from`, `--mount` (volume, bind, tmpfs) and `--tmpfs`, the `volume` commands and
//! their API, the local driver's tmpfs volumes. Run against dockerd too
//! (BERTH_E2E_DAEMON=dockerd): the expectations are dockerd's.

use crate::common::images::{VOLIMG, import_volume_image};
use crate::common::*;
use std::path::PathBuf;

fn with_volume_image(name: &str) -> Daemon {
    let d = Daemon::start(name).with_busybox();
    import_volume_image(&d);
    d
}

fn volume_dir(d: &Daemon, name: &str) -> PathBuf {
    d.data_root.join("volumes").join(name).join("_data")
}

fn volume_names(c: &Client<'_>) -> Vec<String> {
    c.cmd(&["volume", "ls", "-q"]).assert_ok().lines()
}

/// The command failed and said `text` on stderr.
#[track_caller]
fn fails_with(o: &Out, text: &str) {
    o.assert_fail();
    assert!(o.stderr.contains(text), "{}", o.describe());
}

fn sorted_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    words.sort();
    words
}

fn is_hex64(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Mount points in berth's mount namespace below the daemon's volumes.
fn mounts_below_volumes(d: &Daemon) -> Vec<String> {
    mounts_naming(&d.data_root.join("volumes").display().to_string())
}

#[test]
fn a_named_volume_gets_the_image_content_once_and_keeps_data_across_containers() {
    let d = with_volume_image("vol_named");
    let c = d.client();
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        "data1:/data",
        VOLIMG,
        "sh",
        "-c",
        "stat -c '%n %u:%g %a' /data /data/f /data/sub /data/sub/g; readlink /data/link; \
         cat /data/f; echo new > /data/new",
    ]);
    o.assert_ok();
    assert_eq!(
        o.stdout,
        "/data 1234:5678 750\n/data/f 1234:5678 640\n/data/sub 1234:5678 700\n\
         /data/sub/g 1234:5678 644\nf\nhi\n",
        "copy-up keeps owners and modes: {}",
        o.describe()
    );
    // Another container, of an image without /data: the data is the volume's.
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        "data1:/data",
        "busybox",
        "cat",
        "/data/new",
        "/data/f",
    ]);
    assert_eq!(o.stdout, "new\nhi\n", "{}", o.describe());
    assert_eq!(
        std::fs::read_to_string(volume_dir(&d, "data1").join("new")).unwrap_or_default(),
        "new\n",
        "the data lives in <data-root>/volumes/NAME/_data"
    );
    // A volume that is not empty gets nothing copied over what it has.
    std::fs::remove_file(volume_dir(&d, "data1").join("f")).expect("remove f in the volume");
    let o = c.cmd(&["run", "--rm", "-v", "data1:/data", VOLIMG, "ls", "/data"]);
    assert_eq!(o.stdout, "link\nnew\nsub\n", "{}", o.describe());

    // nocopy, in both spellings, leaves the new volume empty.
    for flags in [
        ["-v", "empty1:/data:nocopy"],
        ["--mount", "type=volume,src=empty2,dst=/data,volume-nocopy"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend([VOLIMG, "ls", "-A", "/data"]);
        let o = c.cmd(&args);
        o.assert_ok();
        assert_eq!(o.stdout, "", "{flags:?}: {}", o.describe());
    }
    // A file where a new volume would go is refused at create.
    let o = c.cmd(&["create", "-v", "fresh:/etc/passwd", VOLIMG]);
    o.assert_fail();
    assert!(
        o.stderr.contains("not a directory")
            || o.stderr.contains("not directory")
            || o.stderr.contains("existing file"),
        "{}",
        o.describe()
    );
}

/// An image whose volume path is a symlink out of the root (absolute, and `..` after `..`)
/// gets nothing of the host copied into the volume.
#[test]
fn copy_up_never_follows_an_image_symlink_out_of_the_root() {
    let d = Daemon::start("vol_escape").with_busybox();
    let outside = d.base.join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::fs::write(outside.join("secret"), b"host secret\n").expect("secret");
    let up = "../".repeat(12);
    let mut l =
        crate::common::images::Layer::extending(crate::common::images::busybox_rootfs_tar());
    l.symlink("abs", &outside.display().to_string()).symlink(
        "rel",
        &format!(
            "{up}{}",
            outside.display().to_string().trim_start_matches('/')
        ),
    );
    let o = d.docker().cmd_stdin(
        &["import", "--change", "CMD [\"sh\"]", "-", "escape:latest"],
        &l.finish(),
    );
    o.assert_ok();
    let c = d.client();
    for (volume, path) in [("esc1", "/abs"), ("esc2", "/rel")] {
        let o = c.cmd(&["create", "-v", &format!("{volume}:{path}"), "escape:latest"]);
        o.assert_ok();
        assert!(
            !volume_dir(&d, volume).join("secret").exists(),
            "{path}: the host's file was copied into the volume"
        );
    }
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_with_rm() {
    let d = with_volume_image("vol_anon");
    let c = d.client();
    let id = c.ok(&["create", "--name", "a1", VOLIMG, "true"]);
    let mounts = c.inspect(
        "a1",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.RW}} {{.Source}}\n{{end}}",
    );
    let fields: Vec<&str> = mounts.split_whitespace().collect();
    assert_eq!(fields.len(), 6, "one mount: {mounts}");
    let name = fields[1].to_string();
    assert_eq!(
        (fields[0], fields[2], fields[3], fields[4]),
        ("volume", "/data", "local", "true")
    );
    assert!(
        is_hex64(&name),
        "an anonymous volume has a random name: {name}"
    );
    assert_eq!(fields[5], volume_dir(&d, &name).display().to_string());
    assert_eq!(
        std::fs::read_to_string(volume_dir(&d, &name).join("f")).unwrap_or_default(),
        "hi\n",
        "the image's /data was copied up at create"
    );
    assert!(volume_names(&c).contains(&name));
    // rm without -v keeps it.
    c.ok(&["rm", &id]);
    assert!(volume_names(&c).contains(&name));
    c.ok(&["volume", "rm", &name]);

    // rm -v takes the image's and -v /path's anonymous volumes, not a named one.
    c.ok(&[
        "create",
        "--name",
        "a2",
        "-v",
        "/extra",
        "-v",
        "kept:/named",
        VOLIMG,
        "true",
    ]);
    let names = volume_names(&c);
    let anonymous: Vec<&String> = names.iter().filter(|n| is_hex64(n)).collect();
    assert_eq!(anonymous.len(), 2, "{names:?}");
    c.ok(&["rm", "-v", "a2"]);
    assert_eq!(volume_names(&c), ["kept"]);

    // --rm does the same when the container is gone.
    let o = c.cmd(&["run", "--rm", "-v", "/more", VOLIMG, "sh", "-c", "ls /data"]);
    assert_eq!(o.stdout, "f\nlink\nsub\n", "{}", o.describe());
    assert_eq!(volume_names(&c), ["kept"]);
    assert!(
        mounts_below_volumes(&d).is_empty(),
        "{:?}",
        mounts_below_volumes(&d)
    );
}

#[test]
fn volumes_from_sees_the_data_and_ro_is_enforced() {
    let d = with_volume_image("vol_from");
    let c = d.client();
    c.ok(&[
        "create",
        "--name",
        "src",
        "-v",
        "shared:/data",
        "-v",
        "/anon",
        VOLIMG,
        "true",
    ]);
    let o = c.cmd(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo w > /data/w && echo w2 > /anon/w2",
    ]);
    o.assert_ok();
    let o = c.cmd(&[
        "run",
        "--name",
        "reader",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "cat /data/w /anon/w2 /data/f; touch /data/x",
    ]);
    assert_eq!(o.code(), 1, "{}", o.describe());
    assert_eq!(o.stdout, "w\nw2\nhi\n", "{}", o.describe());
    assert!(
        o.stderr.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    assert_eq!(
        sorted_words(&c.inspect(
            "reader",
            "{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}"
        )),
        ["/anon=false", "/data=false"]
    );
    // rm -v of the importer leaves src's anonymous volume to src.
    c.ok(&["rm", "-v", "reader"]);
    assert_eq!(volume_names(&c).len(), 2);
    c.ok(&["rm", "-v", "src"]);
    assert_eq!(volume_names(&c), ["shared"]);
    let o = c.cmd(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    fails_with(&o, "No such container: nosuch");
}

#[test]
fn mount_and_tmpfs_flags() {
    let d = Daemon::start("vol_mount").with_busybox();
    let c = d.client();
    let o = c.cmd(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "--tmpfs",
        "/tt:size=2m",
        "busybox",
        "sh",
        "-c",
        "grep -E ' /tt? ' /proc/mounts",
    ]);
    o.assert_ok();
    let t = o
        .lines()
        .into_iter()
        .find(|l| l.contains(" /t "))
        .unwrap_or_default();
    assert!(
        t.starts_with("tmpfs /t tmpfs ") && t.contains("size=1024k") && t.contains("mode=1770"),
        "{}",
        o.describe()
    );
    assert!(o.stdout.contains("size=2048k"), "{}", o.describe());

    let host = d.base.join("host");
    std::fs::create_dir_all(&host).expect("host dir");
    let bind = |extra: &str| format!("type=bind,src={},dst=/b{extra}", host.display());
    let o = c.cmd(&[
        "run",
        "--rm",
        "--mount",
        &bind(""),
        "busybox",
        "sh",
        "-c",
        "echo hi > /b/f",
    ]);
    o.assert_ok();
    assert_eq!(
        std::fs::read_to_string(host.join("f")).unwrap_or_default(),
        "hi\n"
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "--mount",
        &bind(",readonly"),
        "busybox",
        "touch",
        "/b/x",
    ]);
    fails_with(&o, "Read-only file system");
    assert!(!host.join("x").exists());
    for flags in [
        ["--mount", "type=volume,src=rov,dst=/v,readonly"],
        ["-v", "rov:/v:ro"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "touch", "/v/x"]);
        let o = c.cmd(&args);
        fails_with(&o, "Read-only file system");
    }
    c.ok(&[
        "create",
        "--name",
        "shown",
        "--mount",
        &bind(",readonly"),
        "-v",
        &format!("{}:/h:ro", host.display()),
        "busybox",
    ]);
    let mut shown: Vec<String> = c
        .inspect(
            "shown",
            "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}};{{end}}",
        )
        .split(';')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    let mut expected = vec![
        format!("bind {} /b  false rprivate", host.display()),
        format!("bind {} /h ro false rprivate", host.display()),
    ];
    expected.sort();
    shown.sort();
    assert_eq!(shown, expected);

    let o = c.cmd(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,src=/nonexistent-berth,dst=/x",
        "busybox",
        "true",
    ]);
    fails_with(&o, "bind source path does not exist: /nonexistent-berth");
    let o = c.cmd(&[
        "run", "--rm", "-v", "a1:/x", "-v", "b1:/x", "busybox", "true",
    ]);
    fails_with(&o, "Duplicate mount point: /x");
}

#[test]
fn volume_commands_filters_inspect_rm_of_an_used_volume_and_prune() {
    let d = Daemon::start("vol_cmds").with_busybox();
    let c = d.client();
    assert_eq!(
        c.ok(&["volume", "create", "--label", "env=test", "v1"]),
        "v1"
    );
    assert_eq!(c.ok(&["volume", "create", "v2"]), "v2");
    let anonymous = c.ok(&["volume", "create"]);
    assert!(is_hex64(&anonymous), "{anonymous}");
    assert!(volume_dir(&d, "v1").is_dir());
    let user = c.ok(&["create", "--name", "user", "-v", "v1:/d", "busybox", "true"]);

    let ls = |filter: &[&str]| {
        let mut args = vec!["volume", "ls", "-q"];
        args.extend(filter);
        c.cmd(&args).assert_ok().lines()
    };
    let mut all = vec![anonymous.clone(), "v1".into(), "v2".into()];
    all.sort();
    assert_eq!(ls(&[]), all);
    assert_eq!(ls(&["--filter", "dangling=false"]), ["v1"]);
    assert_eq!(ls(&["-f", "dangling=true"]).len(), 2);
    assert_eq!(ls(&["--filter", "name=v"]), ["v1", "v2"]);
    assert_eq!(ls(&["--filter", "label=env=test"]), ["v1"]);
    assert_eq!(ls(&["--filter", "label=env"]), ["v1"]);
    assert_eq!(ls(&["--filter", "driver=local"]).len(), 3);
    let o = c.cmd(&["volume", "ls"]);
    assert_eq!(
        o.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    assert!(o.stdout.contains("local     v1\n"), "{}", o.describe());
    let o = c.cmd(&["volume", "ls", "--filter", "dangling=maybe"]);
    fails_with(&o, "Invalid filter 'dangling=[maybe]'");

    assert_eq!(
        c.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{json .Labels}} {{json .Options}}",
            "v1"
        ]),
        format!(
            "v1 local local {} {{\"env\":\"test\"}} null",
            volume_dir(&d, "v1").display()
        )
    );
    let (status, body) = d.http("GET", "/v1.41/volumes/v2", None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("volume JSON");
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(
        (v["Labels"].is_null(), v["Options"].is_null()),
        (true, true)
    );
    let created = v["CreatedAt"].as_str().unwrap_or("");
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    let o = c.cmd(&["volume", "inspect", "nosuch"]);
    fails_with(&o, "no such volume");

    // In use by a container that is not even running: 409, naming the container.
    let o = c.cmd(&["volume", "rm", "v1"]);
    fails_with(&o, &format!("remove v1: volume is in use - [{user}]"));
    let (status, body) = d.http("DELETE", "/v1.41/volumes/v1", None);
    assert_eq!(status, 409, "{body}");
    let o = c.cmd(&["volume", "rm", "-f", "v1"]);
    o.assert_fail();
    assert_eq!(c.cmd(&["volume", "rm", "nosuch"]).code(), 1);
    assert_eq!(c.ok(&["volume", "rm", "-f", "nosuch"]), "nosuch");

    // prune: only what no container uses, and what the label filters select.
    let o = c.cmd(&["volume", "prune", "-f", "--filter", "label=env=test"]);
    o.assert_ok();
    assert!(!o.stdout.contains("v1"), "{}", o.describe());
    let o = c.cmd(&["volume", "prune", "-f"]);
    o.assert_ok();
    assert!(
        o.stdout.starts_with("Deleted Volumes:\n"),
        "{}",
        o.describe()
    );
    assert!(
        o.stdout.contains("v2\n") && o.stdout.contains(&anonymous),
        "{}",
        o.describe()
    );
    assert!(
        o.stdout.contains("Total reclaimed space:"),
        "{}",
        o.describe()
    );
    assert_eq!(ls(&[]), ["v1"]);
    assert!(!volume_dir(&d, "v2").exists());
    c.ok(&["rm", "user"]);
    assert_eq!(c.ok(&["volume", "rm", "v1"]), "v1");
    assert!(ls(&[]).is_empty());
    assert!(!d.data_root.join("volumes/v1").exists());

    // Names and options dockerd refuses.
    for (args, message) in [
        (vec!["volume", "create", "a"], "volume name is too short"),
        (
            vec!["volume", "create", "bad name"],
            "includes invalid characters for a local volume name",
        ),
        (
            vec!["volume", "create", "-o", "bogus=1", "xx"],
            "invalid option: \"bogus\"",
        ),
        (
            vec!["volume", "create", "-o", "type=tmpfs", "xx"],
            "missing required option: \"device\"",
        ),
        (
            vec!["run", "--rm", "-v", "bad name:/x", "busybox", "true"],
            "includes invalid characters",
        ),
    ] {
        let o = c.cmd(&args);
        fails_with(&o, message);
    }
    assert!(ls(&[]).is_empty(), "a refused create leaves no volume");
    c.ok(&["volume", "create", "plain"]);
    assert_eq!(c.inspect("plain", "{{.Driver}} {{.Name}}"), "local plain");
}

#[test]
fn system_df_counts_volumes() {
    let d = Daemon::start("vol_df").with_busybox();
    let c = d.client();
    c.ok(&[
        "run",
        "-v",
        "used:/d",
        "busybox",
        "sh",
        "-c",
        "printf 12345 > /d/f",
    ]);
    c.ok(&["volume", "create", "unused"]);
    let o = c.cmd(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    o.assert_ok();
    assert!(o.stdout.contains("Local Volumes 2 1\n"), "{}", o.describe());
    let o = c.cmd(&["system", "df", "-v"]);
    o.assert_ok();
    let line = o
        .lines()
        .into_iter()
        .find(|l| l.starts_with("used "))
        .unwrap_or_default();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["used", "1", "5B"],
        "{}",
        o.describe()
    );
}

#[test]
fn a_tmpfs_volume_is_mounted_while_a_container_uses_it() {
    let d = Daemon::start("vol_tmpfs").with_busybox();
    let c = d.client();
    c.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    assert_eq!(
        c.ok(&["volume", "inspect", "-f", "{{json .Options}}", "tv"]),
        r#"{"device":"tmpfs","o":"size=1m","type":"tmpfs"}"#
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        "tv:/data",
        "busybox",
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts; echo x > /data/y",
    ]);
    o.assert_ok();
    assert!(
        o.stdout.starts_with("tmpfs /data tmpfs ") && o.stdout.contains("size=1024k"),
        "{}",
        o.describe()
    );
    assert!(
        mounts_below_volumes(&d).is_empty(),
        "unmounted after the container: {:?}",
        mounts_below_volumes(&d)
    );
    c.ok(&[
        "run", "-d", "--name", "holder", "-v", "tv:/data", "busybox", "sleep", "1000",
    ]);
    assert_eq!(
        mounts_below_volumes(&d).len(),
        1,
        "mounted while a container runs"
    );
    let o = c.cmd(&[
        "run",
        "--rm",
        "-v",
        "tv:/data",
        "busybox",
        "sh",
        "-c",
        "echo shared > /data/s",
    ]);
    o.assert_ok();
    assert_eq!(
        std::fs::read_to_string(volume_dir(&d, "tv").join("s")).unwrap_or_default(),
        "shared\n",
        "the running container's tmpfs stays mounted on the host"
    );
    c.ok(&["rm", "-f", "holder"]);
    assert!(
        mounts_below_volumes(&d).is_empty(),
        "{:?}",
        mounts_below_volumes(&d)
    );
    assert!(
        !volume_dir(&d, "tv").join("s").exists(),
        "the tmpfs held the data"
    );
}

/// Only berth takes `-a` at API 1.41 (docker CLI refuses it below 1.42); prune at 1.41 takes
/// named volumes too, with or without it.
#[test]
fn volume_prune_all_through_berth() {
    if client_kind() != ClientKind::Berth {
        eprintln!("skipped: the docker CLI refuses volume prune -a at API 1.41");
        return;
    }
    let d = Daemon::start("vol_prune_a").with_busybox();
    let c = d.client();
    c.ok(&["volume", "create", "named"]);
    let o = c.cmd(&["volume", "prune", "-a", "-f"]);
    o.assert_ok();
    assert_eq!(
        o.stdout,
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    );
    assert!(volume_names(&c).is_empty());
}
