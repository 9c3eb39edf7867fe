use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

use super::*;
use crate::testutil::TempDir;

/// Builds tars entry by entry, writing names straight into the header so that hostile names
/// (`..`, absolute) the tar crate would refuse can be crafted.
struct TarBuilder {
    builder: tar::Builder<Vec<u8>>,
}

struct Entry<'a> {
    kind: EntryType,
    path: &'a str,
    link: &'a str,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    device: (u32, u32),
    data: &'a [u8],
}

fn entry(kind: EntryType, path: &str) -> Entry<'_> {
    let mode = if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    };
    Entry {
        kind,
        path,
        link: "",
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        device: (0, 0),
        data: b"",
    }
}

fn file<'a>(path: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        data,
        ..entry(EntryType::Regular, path)
    }
}

fn dir(path: &str) -> Entry<'_> {
    entry(EntryType::Directory, path)
}

fn symlink<'a>(path: &'a str, target: &'a str) -> Entry<'a> {
    Entry {
        link: target,
        mode: 0o777,
        ..entry(EntryType::Symlink, path)
    }
}

fn hardlink<'a>(path: &'a str, target: &'a str) -> Entry<'a> {
    Entry {
        link: target,
        ..entry(EntryType::Link, path)
    }
}

impl TarBuilder {
    fn new() -> Self {
        TarBuilder {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn add(&mut self, e: Entry<'_>) -> &mut Self {
        let mut header = Header::new_gnu();
        header.set_entry_type(e.kind);
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(e.mtime);
        header.set_size(e.data.len() as u64);
        header.set_device_major(e.device.0).unwrap();
        header.set_device_minor(e.device.1).unwrap();
        if e.path.len() <= 100 && e.link.len() <= 100 {
            let old = header.as_old_mut();
            old.name[..e.path.len()].copy_from_slice(e.path.as_bytes());
            old.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
            header.set_cksum();
            self.builder.append(&header, e.data).unwrap();
        } else if e.kind == EntryType::Link || e.kind == EntryType::Symlink {
            self.builder
                .append_link(&mut header, e.path, e.link)
                .unwrap();
        } else {
            // Long names go out as GNU long-name entries.
            self.builder
                .append_data(&mut header, e.path, e.data)
                .unwrap();
        }
        self
    }

    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.builder
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    fn finish(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().unwrap()
    }
}

fn unpack_plain(tar: &[u8], target: &Path) -> Result<Unpacked, LayerError> {
    unpack(tar, None, target, Whiteouts::Overlay)
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    Some(buf[..n].to_vec())
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A VFS_CAP_REVISION_2 blob granting CAP_NET_BIND_SERVICE (bit 10), permitted + effective.
const NET_BIND_CAP: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn unpacks_every_entry_type_with_owner_mode_times_and_xattrs() {
    let tmp = TempDir::new("layer-types");
    let root = tmp.path();
    let long_dir = "d".repeat(150);
    let long_file = format!("{long_dir}/{}", "f".repeat(120));
    let pax_name = format!("pax/{}", "p".repeat(200));
    let tar = TarBuilder::new()
        .add(Entry {
            mode: 0o750,
            uid: 1,
            gid: 2,
            mtime: 1000,
            ..dir("etc/")
        })
        // trusted.*, not user.*: tmpfs (the test root) has user xattrs only from kernel 6.6.
        .pax(&[
            ("SCHILY.xattr.trusted.note", b"hi"),
            ("SCHILY.xattr.security.capability", &NET_BIND_CAP),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/elsewhere"),
            ("mtime", b"1700000000.123456789"),
            ("atime", b"1700000001.5"),
        ])
        .add(Entry {
            mode: 0o4755,
            uid: 1000,
            gid: 1001,
            ..file("etc/app", b"binary")
        })
        .add(Entry {
            uid: 5,
            gid: 6,
            mtime: 777,
            ..symlink("etc/link", "/etc/app")
        })
        .add(hardlink("etc/hard", "etc/app"))
        .add(Entry {
            mode: 0o1777,
            ..dir("tmp")
        })
        .add(Entry {
            mode: 0o666,
            device: (1, 3),
            ..entry(EntryType::Char, "dev/null")
        })
        .add(Entry {
            mode: 0o660,
            gid: 6,
            device: (7, 9),
            ..entry(EntryType::Block, "dev/loop9")
        })
        .add(Entry {
            mode: 0o600,
            ..entry(EntryType::Fifo, "run/fifo")
        })
        .add(file(&long_file, b"long"))
        .pax(&[("path", pax_name.as_bytes())])
        .add(file("short-name-replaced-by-pax", b"pax"))
        .finish();

    let unpacked = unpack_plain(&tar, root).unwrap();
    assert_eq!(unpacked.diff_id, crate::digest::Digest::of(&tar));
    assert_eq!(unpacked.size, tar.len() as u64);

    let etc = fs::symlink_metadata(root.join("etc")).unwrap();
    assert!(etc.is_dir());
    assert_eq!((etc.mode() & 0o7777, etc.uid(), etc.gid()), (0o750, 1, 2));
    // Set after its four entries were created inside it.
    assert_eq!(etc.mtime(), 1000);

    let app = fs::symlink_metadata(root.join("etc/app")).unwrap();
    assert_eq!(fs::read(root.join("etc/app")).unwrap(), b"binary");
    assert_eq!(
        (app.mode() & 0o7777, app.uid(), app.gid()),
        (0o4755, 1000, 1001)
    );
    assert_eq!(
        (app.mtime(), app.mtime_nsec()),
        (1_700_000_000, 123_456_789)
    );
    assert_eq!(
        (app.atime(), app.atime_nsec()),
        (1_700_000_001, 500_000_000)
    );
    assert_eq!(app.nlink(), 2);
    assert_eq!(
        xattr(&root.join("etc/app"), "trusted.note").as_deref(),
        Some(&b"hi"[..])
    );
    assert_eq!(
        xattr(&root.join("etc/app"), "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(
        xattr(&root.join("etc/app"), "trusted.overlay.redirect"),
        None
    );

    let hard = fs::symlink_metadata(root.join("etc/hard")).unwrap();
    assert_eq!(hard.ino(), app.ino());

    let link = fs::symlink_metadata(root.join("etc/link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(root.join("etc/link")).unwrap(),
        Path::new("/etc/app")
    );
    assert_eq!((link.uid(), link.gid(), link.mtime()), (5, 6, 777));

    assert_eq!(
        fs::symlink_metadata(root.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );

    let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (null.rdev(), null.mode() & 0o7777),
        (rustix::fs::makedev(1, 3), 0o666)
    );
    let lo = fs::symlink_metadata(root.join("dev/loop9")).unwrap();
    assert!(lo.file_type().is_block_device());
    assert_eq!(
        (lo.rdev(), lo.gid(), lo.mode() & 0o7777),
        (rustix::fs::makedev(7, 9), 6, 0o660)
    );
    let fifo = fs::symlink_metadata(root.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o600);
    // Parents that had no entry of their own are made like tar makes them.
    let run = fs::symlink_metadata(root.join("run")).unwrap();
    assert_eq!((run.mode() & 0o7777, run.uid()), (0o755, 0));

    assert_eq!(fs::read(root.join(&long_file)).unwrap(), b"long");
    assert_eq!(fs::read(root.join(&pax_name)).unwrap(), b"pax");
    assert!(!root.join("short-name-replaced-by-pax").exists());
}

#[test]
fn gzip_and_zstd_layers_unpack_by_media_type_or_magic_and_report_the_uncompressed_digest() {
    let tar = TarBuilder::new()
        .add(dir("a"))
        .add(file("a/b", b"content"))
        .finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for (blob, compression) in [
        (&gz, Some(Compression::Gzip)),
        (&gz, None),
        (&zst, Some(Compression::Zstd)),
        (&zst, None),
        (&tar, None),
    ] {
        let tmp = TempDir::new("layer-compressed");
        let unpacked = unpack(&blob[..], compression, tmp.path(), Whiteouts::Overlay).unwrap();
        assert_eq!(
            unpacked.diff_id,
            crate::digest::Digest::of(&tar),
            "{compression:?}"
        );
        assert_eq!(fs::read(tmp.path().join("a/b")).unwrap(), b"content");
    }
    assert_eq!(Compression::sniff(&gz), Compression::Gzip);
    assert_eq!(Compression::sniff(&zst), Compression::Zstd);
    assert_eq!(Compression::sniff(&tar), Compression::None);

    let tmp = TempDir::new("layer-corrupt");
    let err = unpack(
        &gz[..20],
        Some(Compression::Gzip),
        tmp.path(),
        Whiteouts::Overlay,
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::Stream { .. }), "{err}");
}

#[test]
fn overlay_whiteouts_become_char_devices_and_opaque_xattrs() {
    let tmp = TempDir::new("layer-wh-overlay");
    let root = tmp.path();
    let tar = TarBuilder::new()
        .add(dir("a"))
        .add(Entry {
            uid: 7,
            gid: 8,
            ..file("a/.wh.gone", b"")
        })
        .add(dir("b"))
        .add(file("b/.wh..wh..opq", b""))
        .add(file("b/kept", b"k"))
        .add(file(".wh..wh.plnk", b""))
        .finish();
    unpack_plain(&tar, root).unwrap();
    let gone = fs::symlink_metadata(root.join("a/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!((gone.rdev(), gone.uid(), gone.gid()), (0, 7, 8));
    assert_eq!(
        xattr(&root.join("b"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(names(&root.join("b")), ["kept"]);
    assert_eq!(names(root), ["a", "b"]);
    assert_eq!(names(&root.join("a")), ["gone"]);
}

#[test]
fn applied_whiteouts_delete_files_and_empty_opaque_dirs() {
    let tmp = TempDir::new("layer-wh-apply");
    let root = tmp.path();
    let base = TarBuilder::new()
        .add(dir("a"))
        .add(file("a/gone", b"1"))
        .add(file("a/stay", b"2"))
        .add(dir("a/gonedir"))
        .add(file("a/gonedir/x", b"3"))
        .add(dir("b"))
        .add(file("b/old", b"4"))
        .add(dir("b/sub"))
        .add(file("b/sub/older", b"5"))
        .finish();
    unpack(&base[..], None, root, Whiteouts::Apply).unwrap();
    let top = TarBuilder::new()
        .add(file("a/.wh.gone", b""))
        .add(file("a/.wh.gonedir", b""))
        .add(dir("b"))
        .add(file("b/.wh..wh..opq", b""))
        .add(file("b/new", b"6"))
        .add(dir("b/sub"))
        .add(file("b/sub/newer", b"7"))
        .finish();
    unpack(&top[..], None, root, Whiteouts::Apply).unwrap();
    assert_eq!(names(&root.join("a")), ["stay"]);
    assert_eq!(names(&root.join("b")), ["new", "sub"]);
    assert_eq!(names(&root.join("b/sub")), ["newer"]);
    assert_eq!(xattr(&root.join("b"), "trusted.overlay.opaque"), None);
}

#[test]
fn a_later_entry_replaces_an_earlier_one_and_directories_merge() {
    let tmp = TempDir::new("layer-replace");
    let root = tmp.path();
    let tar = TarBuilder::new()
        .add(dir("d"))
        .add(file("d/inner", b"i"))
        .add(Entry {
            mode: 0o700,
            ..dir("d")
        })
        .add(file("x", b"first"))
        .add(dir("x"))
        .add(dir("y"))
        .add(file("y/z", b""))
        .add(file("y", b"file now"))
        .finish();
    unpack_plain(&tar, root).unwrap();
    assert_eq!(names(&root.join("d")), ["inner"]);
    assert_eq!(fs::metadata(root.join("d")).unwrap().mode() & 0o777, 0o700);
    assert!(root.join("x").is_dir());
    assert_eq!(fs::read(root.join("y")).unwrap(), b"file now");
}

/// A target dir next to a sentinel dir holding one file; every hostile layer must leave the
/// sentinel exactly as it was.
struct Sandbox {
    _tmp: TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let tmp = TempDir::new(name);
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("victim"), b"original").unwrap();
        Sandbox {
            _tmp: tmp,
            root,
            outside,
        }
    }

    fn assert_outside_untouched(&self) {
        assert_eq!(names(&self.outside), ["victim"]);
        assert_eq!(fs::read(self.outside.join("victim")).unwrap(), b"original");
        let meta = fs::metadata(self.outside.join("victim")).unwrap();
        assert_eq!((meta.nlink(), meta.mode() & 0o7777), (1, 0o644));
    }

    fn refused(&self, tar: &[u8], entry: &str) -> EntryError {
        let err = unpack_plain(tar, &self.root).unwrap_err();
        self.assert_outside_untouched();
        assert!(
            err.to_string().contains(entry),
            "error does not name {entry:?}: {err}"
        );
        match err {
            LayerError::Entry {
                entry: named,
                reason,
            } => {
                assert_eq!(named, entry);
                reason
            }
            other => panic!("expected an entry error, got {other}"),
        }
    }
}

#[test]
fn dot_dot_escapes_and_absolute_names_are_refused() {
    let sandbox = Sandbox::new("layer-dotdot");
    let tar = TarBuilder::new()
        .add(file("../outside/evil", b"x"))
        .finish();
    assert!(matches!(
        sandbox.refused(&tar, "../outside/evil"),
        EntryError::EscapesRoot
    ));
    let tar = TarBuilder::new()
        .add(dir("a"))
        .add(file("a/../../outside/victim", b"x"))
        .finish();
    assert!(matches!(
        sandbox.refused(&tar, "a/../../outside/victim"),
        EntryError::EscapesRoot
    ));

    // An absolute name is refused, never written at the host's path nor inside.
    let absolute = format!("{}/evil", sandbox.outside.display());
    let tar = TarBuilder::new().add(file(&absolute, b"inside")).finish();
    assert!(matches!(
        sandbox.refused(&tar, &absolute),
        EntryError::AbsolutePath
    ));
    sandbox.assert_outside_untouched();
}

#[test]
fn a_symlinked_parent_is_never_followed() {
    let sandbox = Sandbox::new("layer-symlink-parent");
    let outside = sandbox.outside.to_str().unwrap();
    let tar = TarBuilder::new()
        .add(symlink("abs", outside))
        .add(file("abs/victim", b"pwned"))
        .finish();
    let reason = sandbox.refused(&tar, "abs/victim");
    assert!(
        matches!(reason, EntryError::SymlinkInParent { ref parent } if parent == "abs"),
        "{reason}"
    );

    let sandbox = Sandbox::new("layer-symlink-rel");
    let tar = TarBuilder::new()
        .add(symlink("rel", "../outside"))
        .add(dir("rel/sub"))
        .finish();
    assert!(matches!(
        sandbox.refused(&tar, "rel/sub"),
        EntryError::SymlinkInParent { .. }
    ));

    // A symlink deeper in the path, and a whiteout under a symlink, are refused too.
    let sandbox = Sandbox::new("layer-symlink-deep");
    let tar = TarBuilder::new()
        .add(dir("a"))
        .add(symlink("a/b", outside))
        .add(file("a/b/.wh.victim", b""))
        .finish();
    let reason = sandbox.refused(&tar, "a/b/.wh.victim");
    assert!(
        matches!(reason, EntryError::SymlinkInParent { ref parent } if parent == "a/b"),
        "{reason}"
    );
}

#[test]
fn an_entry_over_a_symlink_replaces_the_symlink_not_its_target() {
    let sandbox = Sandbox::new("layer-over-symlink");
    let victim = sandbox.outside.join("victim");
    let tar = TarBuilder::new()
        .add(symlink("x", victim.to_str().unwrap()))
        .add(file("x", b"pwned"))
        .add(symlink("y", victim.to_str().unwrap()))
        .add(Entry {
            mode: 0o777,
            ..entry(EntryType::Fifo, "y")
        })
        .finish();
    unpack_plain(&tar, &sandbox.root).unwrap();
    sandbox.assert_outside_untouched();
    assert_eq!(fs::read(sandbox.root.join("x")).unwrap(), b"pwned");
    assert!(
        fs::symlink_metadata(sandbox.root.join("y"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn hard_links_must_point_inside_the_layer() {
    let sandbox = Sandbox::new("layer-hardlink");
    let tar = TarBuilder::new()
        .add(hardlink("passwd", "../outside/victim"))
        .finish();
    let reason = sandbox.refused(&tar, "passwd");
    assert!(
        matches!(reason, EntryError::LinkEscapesRoot { ref target } if target == "../outside/victim")
    );

    // "/etc/passwd" means the layer's etc/passwd, which does not exist: the host's is untouched.
    let host_links = fs::metadata("/etc/passwd").unwrap().nlink();
    let tar = TarBuilder::new()
        .add(hardlink("passwd", "/etc/passwd"))
        .finish();
    let reason = sandbox.refused(&tar, "passwd");
    assert!(
        matches!(
            reason,
            EntryError::LinkTarget {
                source: Errno::NOENT,
                ..
            }
        ),
        "{reason}"
    );
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), host_links);
    assert!(!sandbox.root.join("passwd").exists());

    // Through a symlinked parent, and "to" a symlink that escapes: the latter links the
    // symlink itself, which stays a symlink and gives no access to its target.
    let outside = sandbox.outside.to_str().unwrap();
    let tar = TarBuilder::new()
        .add(symlink("out", outside))
        .add(hardlink("h", "out/victim"))
        .finish();
    let reason = sandbox.refused(&tar, "h");
    assert!(
        matches!(reason, EntryError::LinkThroughSymlink { ref parent, .. } if parent == "out"),
        "{reason}"
    );
    let sandbox = Sandbox::new("layer-hardlink-symlink");
    let victim = sandbox.outside.join("victim");
    let tar = TarBuilder::new()
        .add(symlink("esc", victim.to_str().unwrap()))
        .add(hardlink("h", "esc"))
        .finish();
    unpack_plain(&tar, &sandbox.root).unwrap();
    sandbox.assert_outside_untouched();
    assert!(
        fs::symlink_metadata(sandbox.root.join("h"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn huge_names_are_refused_with_the_entry_named() {
    let sandbox = Sandbox::new("layer-huge-name");
    let huge = "n/".repeat(3000);
    let tar = TarBuilder::new()
        .pax(&[("path", huge.as_bytes())])
        .add(file("x", b""))
        .finish();
    let err = unpack_plain(&tar, &sandbox.root).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Entry {
                reason: EntryError::NameTooLong {
                    len: 6000,
                    max: 4095
                },
                ..
            }
        ),
        "{err}"
    );
    let component = "c".repeat(300);
    let tar = TarBuilder::new().add(file(&component, b"")).finish();
    assert!(matches!(
        sandbox.refused(&tar, &component),
        EntryError::NameTooLong { len: 300, max: 255 }
    ));
    assert!(names(&sandbox.root).is_empty());
}

#[test]
fn the_root_entry_sets_the_roots_metadata_and_cannot_be_replaced() {
    let tmp = TempDir::new("layer-root");
    let tar = TarBuilder::new()
        .add(Entry {
            mode: 0o711,
            uid: 3,
            mtime: 42,
            ..dir("./")
        })
        .add(file("f", b""))
        .finish();
    unpack_plain(&tar, tmp.path()).unwrap();
    let meta = fs::metadata(tmp.path()).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.mtime()),
        (0o711, 3, 42)
    );
    let tar = TarBuilder::new().add(file("./", b"")).finish();
    let err = unpack_plain(&tar, tmp.path()).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Entry {
                reason: EntryError::ReplacesRoot { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_stream_that_ends_inside_a_file_is_an_error_naming_it() {
    let tmp = TempDir::new("layer-truncated");
    let tar = TarBuilder::new().add(file("big", &[1u8; 5000])).finish();
    // Cut inside the data, after the header: the header's size is a promise the stream breaks.
    let err = unpack_plain(&tar[..512 + 1000], tmp.path()).unwrap_err();
    assert!(
        matches!(&err, LayerError::Entry { entry, reason: EntryError::Truncated { expected: 5000, copied: 1000 } } if entry == "big"),
        "{err}"
    );
}

#[test]
fn an_oversized_long_name_header_is_refused_before_it_is_buffered() {
    let sandbox = Sandbox::new("layer-huge-header");
    let mut tar = TarBuilder::new();
    let mut long_name = Header::new_gnu();
    long_name.set_entry_type(EntryType::GNULongName);
    long_name.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    let name = vec![b'a'; 4 << 20];
    long_name.set_size(name.len() as u64);
    long_name.set_cksum();
    tar.builder.append(&long_name, &name[..]).unwrap();
    let tar = tar.add(file("x", b"")).finish();
    let err = unpack_plain(&tar, &sandbox.root).unwrap_err();
    assert!(matches!(err, LayerError::Stream { .. }), "{err}");
    assert!(err.to_string().contains("bytes of tar headers"), "{err}");
    sandbox.assert_outside_untouched();

    // File data is not limited.
    let big = vec![7u8; 3 << 20];
    let tar = TarBuilder::new().add(file("big", &big)).finish();
    unpack_plain(&tar, &sandbox.root).unwrap();
    assert_eq!(
        fs::metadata(sandbox.root.join("big")).unwrap().len(),
        big.len() as u64
    );
}

/// Every entry under `dir` with what unpacking must preserve, for comparing two trees.
fn tree_facts(dir: &Path) -> Vec<String> {
    let mut facts = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(dir).unwrap().display().to_string();
        let kind = meta.file_type();
        let detail = if kind.is_symlink() {
            format!("-> {}", fs::read_link(&path).unwrap().display())
        } else if kind.is_file() {
            format!(
                "{:?} nlink={}",
                crate::digest::Digest::of(&fs::read(&path).unwrap()),
                meta.nlink()
            )
        } else {
            format!("rdev={}", meta.rdev())
        };
        let mode = if kind.is_symlink() { 0 } else { meta.mode() };
        // Directory mtimes are set from the archive only for directories below the root.
        let mtime = if rel.is_empty() { 0 } else { meta.mtime() };
        facts.push(format!(
            "{rel:?} mode={mode:o} {}:{} mtime={mtime} {detail} xattr={:?}",
            meta.uid(),
            meta.gid(),
            xattr(&path, "trusted.origin")
        ));
        if kind.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
    }
    facts.sort();
    facts
}

#[test]
fn layers_written_by_gnu_tar_unpack_to_an_identical_tree() {
    if std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: GNU tar is not installed");
        return;
    }
    let tmp = TempDir::new("layer-gnu-tar");
    let src = tmp.path().join("src");
    let long = src.join("d".repeat(120)).join("e".repeat(120));
    fs::create_dir_all(&long).unwrap();
    fs::write(long.join("f".repeat(200)), b"deep").unwrap();
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    rustix::fs::chown(
        src.join("bin/tool"),
        Some(rustix::fs::Uid::from_raw(123)),
        Some(rustix::fs::Gid::from_raw(45)),
    )
    .unwrap();
    fs::set_permissions(
        src.join("bin/tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o6755),
    )
    .unwrap();
    rustix::fs::setxattr(
        src.join("bin/tool"),
        "trusted.origin",
        b"gnu",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    fs::hard_link(src.join("bin/tool"), src.join("bin/tool2")).unwrap();
    std::os::unix::fs::symlink("tool", src.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink(format!("/{}", "x/".repeat(80)), src.join("bin/long-target"))
        .unwrap();
    fs::create_dir(src.join("tmp")).unwrap();
    fs::set_permissions(
        src.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    fs::create_dir(src.join("dev")).unwrap();
    let dev = |name: &str, kind, major, minor| {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join("dev").join(name),
            kind,
            rustix::fs::Mode::from_raw_mode(0o640),
            rustix::fs::makedev(major, minor),
        )
        .unwrap()
    };
    dev("null", rustix::fs::FileType::CharacterDevice, 1, 3);
    dev("sda", rustix::fs::FileType::BlockDevice, 8, 0);
    dev("fifo", rustix::fs::FileType::Fifo, 0, 0);

    for format in ["posix", "gnu"] {
        let xattrs: &[&str] = if format == "posix" {
            &["--xattrs", "--xattrs-include=*"]
        } else {
            &[]
        };
        let out = std::process::Command::new("tar")
            .args(xattrs)
            .args(["--numeric-owner", "-C"])
            .arg(&src)
            .args([&format!("--format={format}"), "-cf", "-", "."])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dst = tmp.path().join(format!("dst-{format}"));
        fs::create_dir(&dst).unwrap();
        let unpacked = unpack(&out.stdout[..], None, &dst, Whiteouts::Overlay).unwrap();
        assert_eq!(unpacked.diff_id, crate::digest::Digest::of(&out.stdout));
        let (want, got) = (tree_facts(&src), tree_facts(&dst));
        if format == "posix" {
            assert_eq!(got, want);
        } else {
            // The GNU format has no xattrs: everything else must match.
            let strip = |facts: Vec<String>| -> Vec<String> {
                facts
                    .into_iter()
                    .map(|f| f.replace("xattr=Some([103, 110, 117])", "xattr=None"))
                    .collect()
            };
            assert_eq!(strip(got), strip(want));
        }
    }
}
