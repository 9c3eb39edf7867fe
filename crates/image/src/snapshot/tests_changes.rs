//! `changes` and `write_changes` of both snapshotters: what a container did to its layer, and
//! the layer made of it, which must give the container's view back.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::tests::{names, three_layers, unpack_image};
use super::*;
use crate::digest::Digest;
use crate::testutil::{MountGuard, TempDir};

/// What the container does through its mounted root.
fn change_things(root: &Path) {
    fs::write(root.join("etc/keep"), b"changed").unwrap();
    fs::create_dir_all(root.join("new/dir")).unwrap();
    fs::write(root.join("new/dir/file"), b"added").unwrap();
    fs::remove_file(root.join("l0")).unwrap();
    fs::remove_dir_all(root.join("opq")).unwrap();
    fs::create_dir(root.join("opq")).unwrap();
    fs::write(root.join("opq/fresh"), b"fresh").unwrap();
    fs::set_permissions(root.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("lnk")).unwrap();
    // A mount point the engine makes: not the container's change.
    fs::write(root.join("etc/hosts"), b"").unwrap();
}

const EXPECTED: &[(&str, ChangeKind)] = &[
    ("/etc", ChangeKind::Modified),
    ("/etc/keep", ChangeKind::Modified),
    ("/l0", ChangeKind::Deleted),
    ("/lnk", ChangeKind::Added),
    ("/new", ChangeKind::Added),
    ("/new/dir", ChangeKind::Added),
    ("/new/dir/file", ChangeKind::Added),
    ("/opq", ChangeKind::Modified),
    ("/opq/fresh", ChangeKind::Added),
    ("/opq/new", ChangeKind::Deleted),
    ("/run", ChangeKind::Modified),
];

fn check(snapshotter: &dyn Snapshotter, tmp: &TempDir) {
    let chain = unpack_image(snapshotter, &three_layers());
    let mounts = snapshotter.prepare("ctr", Some(&chain[2])).unwrap();
    let root = tmp.path().join("root");
    {
        let _mounted = MountGuard::mount(&mounts, &root);
        assert!(snapshotter.changes("ctr", &[]).unwrap().is_empty());
        change_things(&root);
    }
    let ignore: &[&[u8]] = &[b"etc/hosts"];
    let changes = snapshotter.changes("ctr", ignore).unwrap();
    let got: Vec<(String, ChangeKind)> = changes.iter().map(|c| (c.absolute(), c.kind)).collect();
    let want: Vec<(String, ChangeKind)> =
        EXPECTED.iter().map(|(p, k)| (p.to_string(), *k)).collect();
    assert_eq!(got, want);

    let mut layer = Vec::new();
    snapshotter
        .write_changes("ctr", &changes, &mut layer)
        .unwrap();
    let mut archive = tar::Archive::new(&layer[..]);
    let entries: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(
        entries,
        [
            "etc/",
            "etc/keep",
            ".wh.l0",
            "lnk",
            "new/",
            "new/dir/",
            "new/dir/file",
            "opq/",
            "opq/fresh",
            "opq/.wh.new",
            "run/",
        ]
    );

    // The layer on top of the image gives what the container saw, stubs left out.
    let top = Digest::of(format!("{} {}", chain[2], Digest::of(&layer)).as_bytes()).to_string();
    snapshotter
        .prepare("extract-commit", Some(&chain[2]))
        .unwrap();
    snapshotter
        .unpack("extract-commit", &mut &layer[..], None)
        .unwrap();
    snapshotter.commit(&top, "extract-commit").unwrap();
    let view = snapshotter.view("view", Some(&top)).unwrap();
    let seen = tmp.path().join("seen");
    let _mounted = MountGuard::mount(&view, &seen);
    assert_eq!(fs::read(seen.join("etc/keep")).unwrap(), b"changed");
    assert_eq!(fs::read(seen.join("new/dir/file")).unwrap(), b"added");
    assert!(!seen.join("l0").exists() && !seen.join("etc/hosts").exists());
    assert_eq!(names(&seen.join("opq")), ["fresh"]);
    assert_eq!(
        fs::metadata(seen.join("run")).unwrap().mode() & 0o7777,
        0o700
    );
    assert_eq!(fs::read_link(seen.join("lnk")).unwrap(), Path::new("/etc"));
    assert_eq!(fs::read(seen.join("l1")).unwrap(), b"l1");
}

#[test]
fn overlay_changes_come_from_the_upper_dir_and_make_a_layer_that_gives_them_back() {
    let tmp = TempDir::new("changes-overlay");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    check(&snapshotter, &tmp);
}

#[test]
fn copy_changes_compare_the_whole_tree_with_the_parent_and_make_the_same_layer() {
    let tmp = TempDir::new("changes-copy");
    let snapshotter = CopySnapshotter::open(&tmp.path().join("s")).unwrap();
    check(&snapshotter, &tmp);
}

#[test]
fn changes_need_an_active_snapshot() {
    let tmp = TempDir::new("changes-committed");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(&snapshotter, &three_layers());
    assert!(matches!(
        snapshotter.changes(&chain[0], &[]),
        Err(SnapshotError::NotActive { .. })
    ));
}
