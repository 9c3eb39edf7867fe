//! `extract`: the options copies use, and crafted tars that must not get out of the target.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use tar::EntryType;

use super::*;
use crate::testutil::{Tar, TempDir};

fn open(dir: &Path) -> OwnedFd {
    rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
}

fn run(tar: &[u8], target: &Path, options: &ExtractOptions) -> Result<u64, LayerError> {
    extract(tar, open(target).as_fd(), target, options)
}

fn copy() -> ExtractOptions {
    ExtractOptions::copy(Owner::FromArchive, true)
}

#[test]
fn a_copy_is_renamed_keeps_whiteout_names_and_links_inside_the_copy() {
    let tmp = TempDir::new("extract-copy");
    let tar = Tar::new()
        .dir("src")
        .file("src/a", b"a")
        .file("src/.wh.b", b"")
        .hardlink("src/c", "src/a")
        .bytes();
    let options = ExtractOptions {
        rebase: Some((b"src".to_vec(), b"dst".to_vec())),
        ..copy()
    };
    run(&tar, tmp.path(), &options).unwrap();
    let dst = tmp.path().join("dst");
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"a");
    assert!(fs::metadata(dst.join(".wh.b")).unwrap().is_file());
    assert_eq!(
        fs::metadata(dst.join("c")).unwrap().ino(),
        fs::metadata(dst.join("a")).unwrap().ino()
    );
    assert!(!tmp.path().join("src").exists());
}

#[test]
fn owners_come_from_the_archive_a_fixed_pair_or_the_caller() {
    let tmp = TempDir::new("extract-owner");
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(0o640);
    header.set_uid(1234);
    header.set_gid(5678);
    header.set_size(1);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut header, "owned", &b"x"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    for (owner, want) in [
        (Owner::FromArchive, (1234, 5678)),
        (Owner::Fixed { uid: 7, gid: 8 }, (7, 8)),
        (Owner::Caller, (0, 0)),
    ] {
        let dir = tmp
            .path()
            .join(format!("{owner:?}").replace([' ', '{', '}', ':', ','], ""));
        fs::create_dir(&dir).unwrap();
        run(&tar, &dir, &ExtractOptions::copy(owner, false)).unwrap();
        let meta = fs::metadata(dir.join("owned")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), want, "{owner:?}");
        assert_eq!(meta.mode() & 0o7777, 0o640);
    }
}

#[test]
fn no_overwrite_dir_non_dir_refuses_type_changes_that_replacing_would_allow() {
    let tmp = TempDir::new("extract-overwrite");
    fs::create_dir(tmp.path().join("d")).unwrap();
    fs::write(tmp.path().join("f"), b"old").unwrap();
    let file_over_dir = Tar::new().file("d", b"file").bytes();
    let dir_over_file = Tar::new().dir("f").bytes();
    let err = run(&file_over_dir, tmp.path(), &copy()).unwrap_err();
    assert!(
        matches!(
            &err,
            LayerError::Entry {
                reason: EntryError::WouldReplaceDir { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = run(&dir_over_file, tmp.path(), &copy()).unwrap_err();
    assert!(
        err.to_string().contains("cannot overwrite non-directory"),
        "{err}"
    );
    assert!(tmp.path().join("d").is_dir() && tmp.path().join("f").is_file());
    let replacing = ExtractOptions::copy(Owner::FromArchive, false);
    run(&file_over_dir, tmp.path(), &replacing).unwrap();
    run(&dir_over_file, tmp.path(), &replacing).unwrap();
    assert!(tmp.path().join("d").is_file() && tmp.path().join("f").is_dir());
}

#[test]
fn copies_refuse_device_nodes_but_take_fifos_and_leave_the_target_itself_alone() {
    let tmp = TempDir::new("extract-devices");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o711)).unwrap();
    let tar = Tar::new()
        .dir(".")
        .node("fifo", EntryType::Fifo, 0, 0)
        .bytes();
    run(&tar, tmp.path(), &copy()).unwrap();
    assert!(
        fs::symlink_metadata(tmp.path().join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        fs::metadata(tmp.path()).unwrap().mode() & 0o7777,
        0o711,
        "the ./ entry changed the target's mode"
    );
    for kind in [EntryType::Char, EntryType::Block] {
        let tar = Tar::new().node("dev", kind, 1, 3).bytes();
        let err = run(&tar, tmp.path(), &copy()).unwrap_err();
        assert!(
            err.to_string().contains("device nodes are not allowed"),
            "{err}"
        );
        assert!(!tmp.path().join("dev").exists());
    }
}

#[test]
fn crafted_copies_fail_and_write_nothing_outside_the_target() {
    let tmp = TempDir::new("extract-escape");
    let target = tmp.path().join("target");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&target).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("marker"), b"untouched").unwrap();
    let outside_abs = outside.display().to_string();
    let cases = [
        Tar::new()
            .raw(EntryType::Regular, "../outside/marker", "", b"escaped")
            .bytes(),
        Tar::new()
            .raw(
                EntryType::Regular,
                &format!("{outside_abs}/marker"),
                "",
                b"escaped",
            )
            .bytes(),
        Tar::new()
            .raw(EntryType::Symlink, "link", &outside_abs, b"")
            .raw(EntryType::Regular, "link/marker", "", b"escaped")
            .bytes(),
        Tar::new()
            .raw(EntryType::Link, "hard", "../outside/marker", b"")
            .bytes(),
    ];
    for tar in &cases {
        let err = run(tar, &target, &copy()).unwrap_err();
        assert!(matches!(err, LayerError::Entry { .. }), "{err}");
        assert_eq!(fs::read(outside.join("marker")).unwrap(), b"untouched");
    }
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    // Taken as tar takes them, absolute names land inside the target.
    let options = ExtractOptions {
        absolute_names: true,
        ..copy()
    };
    let tar = Tar::new()
        .raw(EntryType::Regular, "/inside", "", b"in")
        .bytes();
    run(&tar, &target, &options).unwrap();
    assert_eq!(fs::read(target.join("inside")).unwrap(), b"in");
}
