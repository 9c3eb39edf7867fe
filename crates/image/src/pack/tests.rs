use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::*;
use crate::layer::{ExtractOptions, Owner, extract};
use crate::testutil::TempDir;

fn open(dir: &Path) -> OwnedFd {
    rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
}

/// (name, type, link target, data) of every entry.
fn entries(tar: &[u8]) -> Vec<(String, EntryType, String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            let kind = e.header().entry_type();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, kind, link, data)
        })
        .collect()
}

fn tree(root: &Path) {
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::write(root.join("d/file"), b"content").unwrap();
    std::os::unix::fs::chown(root.join("d/file"), Some(1000), Some(1001)).unwrap();
    fs::set_permissions(root.join("d/file"), fs::Permissions::from_mode(0o4751)).unwrap();
    fs::hard_link(root.join("d/file"), root.join("d/link")).unwrap();
    std::os::unix::fs::symlink("/", root.join("d/to-root")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("d/up")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("d/fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let long = "n".repeat(150);
    fs::write(root.join("d/sub").join(&long), b"long").unwrap();
}

#[test]
fn a_tree_is_archived_in_order_without_following_symlinks_and_extracts_back() {
    let tmp = TempDir::new("pack-tree");
    let src = tmp.path().join("src");
    tree(&src);
    let mut packer = Packer::new(Vec::new());
    packer
        .append(open(&src).as_fd(), b"d", b"renamed", true)
        .unwrap();
    let tar = packer.finish().unwrap();
    let listed = entries(&tar);
    let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
    let long = format!("renamed/sub/{}", "n".repeat(150));
    assert_eq!(
        names,
        [
            "renamed/",
            "renamed/fifo",
            "renamed/file",
            "renamed/link",
            "renamed/sub/",
            long.as_str(),
            "renamed/to-root",
            "renamed/up",
        ]
    );
    let by_name = |n: &str| listed.iter().find(|e| e.0 == n).unwrap();
    assert_eq!(by_name("renamed/file").3, b"content");
    assert_eq!(
        (
            by_name("renamed/link").1,
            by_name("renamed/link").2.as_str()
        ),
        (EntryType::Link, "renamed/file")
    );
    assert_eq!(
        (
            by_name("renamed/to-root").1,
            by_name("renamed/to-root").2.as_str()
        ),
        (EntryType::Symlink, "/")
    );
    assert_eq!(by_name(&long).3, b"long");

    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    let options = ExtractOptions::copy(Owner::FromArchive, true);
    extract(&tar[..], open(&dst).as_fd(), &dst, &options).unwrap();
    let file = fs::metadata(dst.join("renamed/file")).unwrap();
    assert_eq!(
        (file.mode() & 0o7777, file.uid(), file.gid(), file.nlink()),
        (0o4751, 1000, 1001, 2)
    );
    assert_eq!(
        fs::read_link(dst.join("renamed/up")).unwrap(),
        Path::new("../../..")
    );
}

#[test]
fn single_objects_and_whiteouts_are_named_as_given() {
    let tmp = TempDir::new("pack-single");
    let src = tmp.path().join("src");
    tree(&src);
    let mut packer = Packer::new(Vec::new());
    let base = open(&src);
    packer.append(base.as_fd(), b"d", b"d", false).unwrap();
    packer
        .append(base.as_fd(), b"d/file", b"d/file", false)
        .unwrap();
    packer.append(base.as_fd(), b"", b"/", false).unwrap();
    packer.append_whiteout(b"d/gone").unwrap();
    packer.append_whiteout(b"top").unwrap();
    let listed = entries(&packer.finish().unwrap());
    let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["d/", "d/file", "/", "d/.wh.gone", ".wh.top"]);
    let missing = Packer::new(Vec::new())
        .append(base.as_fd(), b"d/nothing", b"x", false)
        .unwrap_err();
    assert_eq!(missing.errno(), Some(Errno::NOENT), "{missing}");
    let through_link = Packer::new(Vec::new())
        .append(base.as_fd(), b"d/to-root/etc", b"x", false)
        .unwrap_err();
    assert!(
        matches!(
            through_link.errno(),
            Some(Errno::LOOP | Errno::XDEV | Errno::NOTDIR)
        ),
        "{through_link}"
    );
}
