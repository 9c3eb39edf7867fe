use super::*;
use crate::testutil::TempDir;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

fn open_dir(path: &Path) -> OwnedFd {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// Everything `ls -lan --time-style=+%s` and `getfattr` would show of a tree, by relative path.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let kind = meta.file_type();
        let what = if kind.is_symlink() {
            format!("-> {}", fs::read_link(&path).unwrap().display())
        } else if kind.is_file() {
            format!("{:?} nlink={}", fs::read(&path).unwrap(), meta.nlink())
        } else if kind.is_dir() {
            let mut children: Vec<_> = fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            pending.extend(children);
            "dir".to_string()
        } else {
            format!("node rdev={}", meta.rdev())
        };
        let xattr = rustix::fs::lgetxattr(&path, "trusted.berth", &mut [0u8; 64][..])
            .map(|n| n.to_string())
            .unwrap_or_default();
        out.push(format!(
            "{rel:?} {what} mode={:o} {}:{} mtime={} xattr={xattr}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.mtime()
        ));
    }
    out.sort();
    out
}

fn set_times(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

fn sample_tree(src: &Path) {
    fs::create_dir_all(src.join("sub/deeper")).unwrap();
    fs::write(src.join("file"), b"content").unwrap();
    fs::set_permissions(src.join("file"), fs::Permissions::from_mode(0o4750)).unwrap();
    rustix::fs::chown(
        src.join("file"),
        Some(rustix::fs::Uid::from_raw_unchecked(1234)),
        Some(rustix::fs::Gid::from_raw_unchecked(5678)),
    )
    .unwrap();
    // chown cleared setuid.
    fs::set_permissions(src.join("file"), fs::Permissions::from_mode(0o4750)).unwrap();
    rustix::fs::lsetxattr(src.join("file"), "trusted.berth", b"x", XattrFlags::empty()).unwrap();
    fs::hard_link(src.join("file"), src.join("sub/deeper/link")).unwrap();
    fs::write(src.join("sub/other"), b"other").unwrap();
    fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o710)).unwrap();
    rustix::fs::chown(
        src.join("sub"),
        Some(rustix::fs::Uid::from_raw_unchecked(7)),
        Some(rustix::fs::Gid::from_raw_unchecked(8)),
    )
    .unwrap();
    symlink("/etc", src.join("escape")).unwrap();
    rustix::fs::chownat(
        rustix::fs::CWD,
        src.join("escape"),
        Some(rustix::fs::Uid::from_raw_unchecked(9)),
        Some(rustix::fs::Gid::from_raw_unchecked(9)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    fs::set_permissions(src.join("fifo"), fs::Permissions::from_mode(0o666)).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("null"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o600),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    fs::set_permissions(src, fs::Permissions::from_mode(0o750)).unwrap();
    for p in [
        "file",
        "sub/other",
        "sub/deeper",
        "sub",
        "escape",
        "fifo",
        "null",
        "",
    ] {
        set_times(&src.join(p), 1_600_000_000);
    }
}

#[test]
fn a_copy_keeps_owners_modes_times_xattrs_links_and_nodes() {
    let tmp = TempDir::new("tree-copy");
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    fs::create_dir(&src).unwrap();
    fs::create_dir(&dst).unwrap();
    sample_tree(&src);
    let (from, to) = (open_dir(&src), open_dir(&dst));
    copy_dir(from.as_fd(), to.as_fd()).unwrap();
    assert_eq!(describe(&dst), describe(&src));
    assert_eq!(
        fs::metadata(dst.join("file")).unwrap().ino(),
        fs::metadata(dst.join("sub/deeper/link")).unwrap().ino(),
        "hard links stay linked"
    );
    assert!(
        fs::symlink_metadata(dst.join("escape"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "a symlink is copied as a link, never followed"
    );
}

#[test]
fn a_destination_that_is_not_empty_is_refused_naming_the_entry() {
    let tmp = TempDir::new("tree-busy");
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::create_dir_all(dst.join("sub")).unwrap();
    let (from, to) = (open_dir(&src), open_dir(&dst));
    let err = copy_dir(from.as_fd(), to.as_fd()).unwrap_err();
    assert_eq!(err.source, Errno::EXIST);
    assert_eq!(
        err.to_string(),
        "creating the directory sub: File exists (os error 17)"
    );
}

#[test]
fn apparent_size_counts_files_once_and_not_directories() {
    let tmp = TempDir::new("tree-size");
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    sample_tree(&src);
    // file (7, twice linked) + sub/other (5) + the symlink's target length (4); dirs, the
    // fifo and the device are empty.
    assert_eq!(apparent_size(open_dir(&src).as_fd()).unwrap(), 7 + 5 + 4);
}
