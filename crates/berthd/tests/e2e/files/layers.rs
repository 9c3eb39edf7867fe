//! The writable layer: `diff`, `export`, and `commit` (whose saved layer is what diff listed).

use super::*;
use std::collections::BTreeSet;

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
    // Committing no changes adds a history entry but no layer.
    c.ok(&["commit", "fresh", "unchanged:1"]);
    assert_eq!(
        c.ok(&[
            "image",
            "inspect",
            "-f",
            "{{len .RootFS.Layers}}",
            "unchanged:1"
        ]),
        "1"
    );
    assert_eq!(
        c.ok(&["history", "-q", "unchanged:1"]).lines().count(),
        c.ok(&["history", "-q", "busybox"]).lines().count() + 1
    );
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
