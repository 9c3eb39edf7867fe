use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::digest::Digest;
use crate::manifest::chain_ids;
use crate::mount::Mount;
use crate::testutil::{MountGuard, Tar, TempDir, mounts_under};

pub(super) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Unpacks `layers` one by one as the engine will (prepare, unpack, check the diffID,
/// commit under the chain ID) and returns the chain IDs.
pub(super) fn unpack_image(snapshotter: &dyn Snapshotter, layers: &[Vec<u8>]) -> Vec<String> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let chain: Vec<String> = chain_ids(&diff_ids).iter().map(Digest::to_string).collect();
    for (i, layer) in layers.iter().enumerate() {
        let key = format!("extract-{i}");
        let parent = i.checked_sub(1).map(|p| chain[p].as_str());
        snapshotter.prepare(&key, parent).unwrap();
        let unpacked = snapshotter.unpack(&key, &mut &layer[..], None).unwrap();
        assert_eq!(unpacked.diff_id, diff_ids[i]);
        snapshotter.commit(&chain[i], &key).unwrap();
    }
    chain
}

pub(super) fn three_layers() -> Vec<Vec<u8>> {
    vec![
        Tar::new()
            .dir("etc")
            .file("etc/keep", b"base")
            .file("etc/gone", b"x")
            .dir("opq")
            .file("opq/old", b"o")
            .file("l0", b"l0")
            .owned_file("bin/tool", b"tool", 7, ("trusted.origin", b"l0"))
            .hardlink("bin/tool-link", "bin/tool")
            .symlink("bin/sh", "/bin/tool")
            .node("dev/tty0", tar::EntryType::Char, 4, 0)
            .node("run/fifo", tar::EntryType::Fifo, 0, 0)
            .bytes(),
        Tar::new()
            .file("etc/.wh.gone", b"")
            .dir("opq")
            .file("opq/.wh..wh..opq", b"")
            .file("opq/new", b"n")
            .file("l1", b"l1")
            .bytes(),
        Tar::new()
            .file("l2", b"l2")
            .file("etc/keep", b"top")
            .bytes(),
    ]
}

/// The merged view of `three_layers` as a container sees it.
fn assert_merged_view(rootfs: &Path) {
    assert!(
        !rootfs.join("etc/gone").exists(),
        "a whited-out file is visible"
    );
    assert_eq!(fs::read(rootfs.join("etc/keep")).unwrap(), b"top");
    assert_eq!(
        names(&rootfs.join("opq")),
        ["new"],
        "an opaque dir shows lower entries"
    );
    for (file, content) in [("l0", "l0"), ("l1", "l1"), ("l2", "l2")] {
        assert_eq!(fs::read_to_string(rootfs.join(file)).unwrap(), content);
    }
    let tool = fs::symlink_metadata(rootfs.join("bin/tool")).unwrap();
    assert_eq!(
        (tool.uid(), tool.mode() & 0o7777, tool.nlink()),
        (7, 0o4750, 2)
    );
    let mut origin = [0u8; 8];
    let n =
        rustix::fs::getxattr(rootfs.join("bin/tool"), "trusted.origin", &mut origin[..]).unwrap();
    assert_eq!(&origin[..n], b"l0");
    assert_eq!(
        fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("/bin/tool")
    );
    let tty = fs::symlink_metadata(rootfs.join("dev/tty0")).unwrap();
    assert!(tty.file_type().is_char_device());
    assert_eq!(
        (tty.rdev(), tty.mode() & 0o7777),
        (rustix::fs::makedev(4, 0), 0o620)
    );
    assert!(
        fs::symlink_metadata(rootfs.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn overlay_stack_hides_whiteouts_honours_opaque_dirs_and_writes_to_the_upper_dir() {
    let tmp = TempDir::new("snap-overlay");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(&snapshotter, &three_layers());

    let mounts = snapshotter.prepare("ctr", Some(&chain[2])).unwrap();
    let snapshots = tmp.path().join("s/snapshots");
    let Mount::Overlay {
        lower,
        upper: Some(upper),
        work: Some(_),
    } = &mounts[0]
    else {
        panic!("{mounts:?}")
    };
    assert_eq!(
        lower,
        &[
            snapshots.join("2/fs"),
            snapshots.join("1/fs"),
            snapshots.join("0/fs")
        ]
    );
    let rootfs = tmp.path().join("rootfs");
    {
        let _mounted = MountGuard::mount(&mounts, &rootfs);
        assert_merged_view(&rootfs);

        fs::write(rootfs.join("written"), b"w").unwrap();
        fs::remove_file(rootfs.join("l0")).unwrap();
        assert_eq!(fs::read(upper.join("written")).unwrap(), b"w");
        let whiteout = fs::symlink_metadata(upper.join("l0")).unwrap();
        assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
        assert!(snapshots.join("0/fs/l0").exists(), "a lower layer changed");
        assert!(!snapshots.join("2/fs/written").exists());
        assert!(snapshotter.usage("ctr").unwrap().inodes >= 3);
    }
    assert!(mounts_under(tmp.path()).is_empty());

    // The lower layers hold overlay's markers, as unpacked.
    let marker = fs::symlink_metadata(snapshots.join("1/fs/etc/gone")).unwrap();
    assert!(marker.file_type().is_char_device());
    assert_eq!(names(&snapshots.join("1/fs/opq")), ["new"]);

    let err = snapshotter.remove(&chain[2]).unwrap_err();
    assert!(
        matches!(&err, SnapshotError::HasChildren { children, .. } if children == &["ctr"]),
        "{err}"
    );
    snapshotter.remove("ctr").unwrap();
    for key in chain.iter().rev() {
        snapshotter.remove(key).unwrap();
    }
    assert!(snapshotter.list().unwrap().is_empty());
    assert!(names(&snapshots).is_empty());
}

#[test]
fn views_are_read_only_and_committed_snapshots_have_no_mounts() {
    let tmp = TempDir::new("snap-view");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(&snapshotter, &three_layers());

    let one = snapshotter.view("v1", Some(&chain[0])).unwrap();
    assert!(
        matches!(&one[..], [Mount::Bind { readonly: true, .. }]),
        "{one:?}"
    );
    let many = snapshotter.view("v3", Some(&chain[2])).unwrap();
    assert!(
        matches!(&many[..], [Mount::Overlay { upper: None, .. }]),
        "{many:?}"
    );
    for (mounts, name) in [(one, "v1"), (many, "v3")] {
        let target = tmp.path().join(name);
        let _mounted = MountGuard::mount(&mounts, &target);
        assert!(target.join("l0").exists());
        let err = fs::write(target.join("new"), b"").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{name}");
    }
    assert!(mounts_under(tmp.path()).is_empty());

    assert!(matches!(
        snapshotter.mounts(&chain[0]),
        Err(SnapshotError::NotActive { .. })
    ));
    assert!(matches!(
        snapshotter.commit("x", "v1"),
        Err(SnapshotError::NotActive { .. })
    ));
    assert!(matches!(
        snapshotter.prepare("p", Some("v1")),
        Err(SnapshotError::ParentNotCommitted { .. })
    ));
    assert!(matches!(
        snapshotter.prepare("v1", None),
        Err(SnapshotError::AlreadyExists { .. })
    ));
    assert!(matches!(
        snapshotter.prepare("q", Some("nope")),
        Err(SnapshotError::NotFound { .. })
    ));
    assert_eq!(
        snapshotter.stat("v3").unwrap(),
        Info {
            key: "v3".into(),
            kind: Kind::View,
            parent: Some(chain[2].clone())
        }
    );
}

fn layers_with_one_file_each(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            Tar::new()
                .file(&format!("layer-{i}"), format!("{i}").as_bytes())
                .bytes()
        })
        .collect()
}

fn assert_every_layer_visible(rootfs: &Path, count: usize) {
    for i in 0..count {
        assert_eq!(
            fs::read_to_string(rootfs.join(format!("layer-{i}"))).unwrap(),
            i.to_string()
        );
    }
}

#[test]
fn a_130_layer_image_mounts_and_shows_every_layer() {
    let tmp = TempDir::new("snap-130");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(&snapshotter, &layers_with_one_file_each(130));
    let mounts = snapshotter.prepare("ctr", Some(&chain[129])).unwrap();
    let Mount::Overlay {
        lower,
        upper: Some(upper),
        work: Some(work),
    } = &mounts[0]
    else {
        panic!()
    };
    assert_eq!(lower.len(), 130);
    let absolute: usize = lower.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        absolute > 4096,
        "the test must exceed one page of absolute paths ({absolute})"
    );

    let rootfs = tmp.path().join("rootfs");
    {
        let _mounted = MountGuard::mount(&mounts, &rootfs);
        if !crate::mount::kernel_has_lowerdir_plus() {
            let shown = mounts_under(&rootfs).join("\n");
            assert!(
                shown.contains("lowerdir=129/fs:128/fs:"),
                "no relative paths on an old kernel: {shown}"
            );
            eprintln!("this kernel has no lowerdir+: mounted 130 layers with relative paths");
        }
        assert_every_layer_visible(&rootfs, 130);
        fs::write(rootfs.join("top"), b"t").unwrap();
        assert!(upper.join("top").exists());
    }
    // The path for kernels without lowerdir+ (this kernel's, inside vm-run), forced here.
    {
        crate::mount::overlay_with_one_page(lower, Some(upper), Some(work), &rootfs).unwrap();
        let _mounted = MountGuard::adopt(&rootfs);
        let shown = mounts_under(&rootfs).join("\n");
        assert!(
            shown.contains("lowerdir=129/fs:128/fs:"),
            "not mounted with relative paths: {shown}"
        );
        assert_every_layer_visible(&rootfs, 130);
        assert!(rootfs.join("top").exists());
    }
    assert!(mounts_under(tmp.path()).is_empty());
    snapshotter.remove("ctr").unwrap();
}

#[test]
fn too_many_layers_for_one_page_are_refused_clearly() {
    let lower: Vec<PathBuf> = (0..600)
        .map(|i| PathBuf::from(format!("/nonexistent/berth/{i}/fs")))
        .collect();
    let err =
        crate::mount::overlay_with_one_page(&lower, None, None, Path::new("/nonexistent/target"))
            .unwrap_err();
    assert!(
        matches!(err, MountError::TooManyLayers { layers: 600, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("600 lower layers"), "{err}");
}

#[test]
fn copy_snapshotter_gives_the_same_merged_view_with_bind_mounts() {
    let tmp = TempDir::new("snap-copy");
    let snapshotter = CopySnapshotter::open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(&snapshotter, &three_layers());
    let mounts = snapshotter.prepare("ctr", Some(&chain[2])).unwrap();
    assert!(
        matches!(
            &mounts[..],
            [Mount::Bind {
                readonly: false,
                ..
            }]
        ),
        "{mounts:?}"
    );
    let snapshots = tmp.path().join("s/snapshots");
    let rootfs = tmp.path().join("rootfs");
    {
        let _mounted = MountGuard::mount(&mounts, &rootfs);
        assert_merged_view(&rootfs);
        fs::write(rootfs.join("written"), b"w").unwrap();
        assert!(snapshots.join("3/fs/written").exists());
        assert!(
            !snapshots.join("2/fs/written").exists(),
            "a write reached the parent"
        );
    }
    // Each committed layer is whole: the middle one already lacks the whited-out file.
    assert!(!snapshots.join("1/fs/etc/gone").exists());
    assert_eq!(names(&snapshots.join("1/fs/opq")), ["new"]);

    let view = snapshotter.view("v", Some(&chain[1])).unwrap();
    assert_eq!(
        view,
        [Mount::Bind {
            source: snapshots.join("1/fs"),
            readonly: true
        }]
    );
    assert!(mounts_under(tmp.path()).is_empty());
}

#[test]
fn open_chooses_overlay_where_it_works_and_copying_on_an_overlay() {
    let tmp = TempDir::new("snap-choose");
    let snapshotter = open(&tmp.path().join("s")).unwrap();
    let chain = unpack_image(snapshotter.as_ref(), &three_layers()[..2]);
    let mounts = snapshotter.prepare("ctr", Some(&chain[1])).unwrap();
    assert!(matches!(&mounts[..], [Mount::Overlay { .. }]), "{mounts:?}");

    // Overlay cannot put its upper dir on overlay, so a root inside a container's rootfs copies.
    let rootfs = tmp.path().join("rootfs");
    let _mounted = MountGuard::mount(&mounts, &rootfs);
    assert!(!overlay_works_in(&rootfs).unwrap());
    let nested = open(&rootfs.join("nested")).unwrap();
    nested.prepare("base", None).unwrap();
    nested.commit("c", "base").unwrap();
    let inner = nested.prepare("ctr", Some("c")).unwrap();
    assert!(matches!(&inner[..], [Mount::Bind { .. }]), "{inner:?}");
    drop(nested);
    assert_eq!(
        names(&rootfs)
            .iter()
            .filter(|n| n.starts_with(".overlay-probe"))
            .count(),
        0
    );
}

#[test]
fn metadata_survives_reopening_and_crash_leftovers_are_removed() {
    let tmp = TempDir::new("snap-reopen");
    let root = tmp.path().join("s");
    let snapshotter = OverlaySnapshotter::open(&root).unwrap();
    let chain = unpack_image(&snapshotter, &three_layers());
    snapshotter.prepare("ctr", Some(&chain[2])).unwrap();
    let before = snapshotter.list().unwrap();
    assert!(matches!(
        OverlaySnapshotter::open(&root),
        Err(SnapshotError::InUse { .. })
    ));
    drop(snapshotter);

    // What a kill -9 can leave: a half-made snapshot dir and a half-written metadata file.
    fs::create_dir_all(root.join("snapshots/4/fs/half")).unwrap();
    fs::write(root.join("metadata.json.tmp"), b"{\"next_id\": 9").unwrap();
    let snapshotter = OverlaySnapshotter::open(&root).unwrap();
    assert_eq!(snapshotter.list().unwrap(), before);
    assert_eq!(names(&root.join("snapshots")), ["0", "1", "2", "3"]);
    assert!(!root.join("metadata.json.tmp").exists());
    // The id of the crashed snapshot is free again and comes up clean.
    snapshotter.prepare("next", None).unwrap();
    assert!(names(&root.join("snapshots/4/fs")).is_empty());
}

#[test]
fn metadata_json_of_earlier_versions_is_imported_once() {
    let tmp = TempDir::new("snap-legacy");
    let root = tmp.path().join("s");
    for dir in [
        "snapshots/0/fs/d",
        "snapshots/0/work",
        "snapshots/3/fs",
        "snapshots/3/work",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("snapshots/0/fs/d/f"), b"old").unwrap();
    fs::write(
        root.join("metadata.json"),
        br#"{"next_id": 4, "snapshots": {
            "sha256:base": {"id": 0, "kind": "committed", "parent": null},
            "ctr": {"id": 3, "kind": "active", "parent": "sha256:base"}}}"#,
    )
    .unwrap();
    let snapshotter = OverlaySnapshotter::open(&root).unwrap();
    assert!(!root.join("metadata.json").exists());
    let keys: Vec<String> = snapshotter
        .list()
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(keys, ["ctr", "sha256:base"]);
    assert_eq!(names(&root.join("snapshots")), ["0", "3"]);
    // New ids continue after the imported ones, and the import is not repeated on reopening.
    snapshotter.prepare("next", Some("sha256:base")).unwrap();
    drop(snapshotter);
    let snapshotter = OverlaySnapshotter::open(&root).unwrap();
    assert_eq!(names(&root.join("snapshots")), ["0", "3", "4"]);
    assert_eq!(snapshotter.list().unwrap().len(), 3);
}

const CRASH_ROOT: &str = "BERTH_SNAPSHOT_CRASH_ROOT";

/// The victim of `kill_9_at_any_instant_leaves_a_consistent_store`: churns snapshots until
/// killed. As a normal test (without the variable) it does nothing.
#[test]
fn crash_victim() {
    let Some(root) = std::env::var_os(CRASH_ROOT) else {
        return;
    };
    let snapshotter = OverlaySnapshotter::open(Path::new(&root)).unwrap();
    let layer = Tar::new().dir("d").file("d/f", &[7u8; 20000]).bytes();
    let pid = std::process::id();
    for round in 0u64.. {
        let (key, name) = (format!("{pid}-k{round}"), format!("{pid}-c{round}"));
        let parent = round.checked_sub(1).map(|p| format!("{pid}-c{p}"));
        snapshotter.prepare(&key, parent.as_deref()).unwrap();
        snapshotter.unpack(&key, &mut &layer[..], None).unwrap();
        snapshotter.commit(&name, &key).unwrap();
        // The parent counts these to know the victim made progress.
        println!("committed {round}");
        if round % 3 == 2 {
            let scratch = format!("{pid}-scratch");
            snapshotter.prepare(&scratch, Some(&name)).unwrap();
            snapshotter.remove(&scratch).unwrap();
        }
    }
}

#[test]
fn kill_9_at_any_instant_leaves_a_consistent_store() {
    let tmp = TempDir::new("snap-crash");
    let root = tmp.path().join("s");
    let exe = std::env::current_exe().unwrap();
    let mut committed = 0;
    const ROUNDS: u64 = 10;
    for round in 0..ROUNDS {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "snapshot::tests::crash_victim", "--nocapture"])
            .env(CRASH_ROOT, &root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill only once the victim has committed something (so every round makes progress on
        // a loaded machine), then at a different instant of its work each round.
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        while let Some(Ok(line)) = lines.next() {
            if line.starts_with("committed ") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(round * 7 % 40));
        child.kill().unwrap(); // SIGKILL, to our own child by its pid
        child.wait().unwrap();

        let snapshotter = OverlaySnapshotter::open(&root).unwrap();
        let infos = snapshotter.list().unwrap();
        let mut ids = Vec::new();
        for info in &infos {
            // Every record resolves its parent chain and has its dir.
            let snap = snapshotter.store.get(&info.key).unwrap();
            assert!(snap.dir.join("fs").is_dir(), "{info:?} has no fs dir");
            if info.kind == Kind::Committed {
                assert_eq!(
                    fs::read(snap.dir.join("fs/d/f")).unwrap().len(),
                    20000,
                    "{info:?} is half unpacked"
                );
            }
            ids.push(snap.dir.file_name().unwrap().to_string_lossy().into_owned());
        }
        ids.sort();
        assert_eq!(
            names(&root.join("snapshots")),
            ids,
            "dirs without records survived the open"
        );
        committed = infos.iter().filter(|i| i.kind == Kind::Committed).count();
        // Keep going from a non-empty but tidy state: drop the active leftovers.
        for info in infos.iter().filter(|i| i.kind != Kind::Committed) {
            snapshotter.remove(&info.key).unwrap();
        }
    }
    eprintln!("{committed} snapshots committed across {ROUNDS} kills");
    assert!(
        committed >= ROUNDS as usize,
        "the victim made too little progress to test anything ({committed} commits)"
    );
}

/// Inside vm-run the crate dir is a 9p share, which overlay refuses as an upper dir.
#[test]
fn on_9p_the_copying_snapshotter_is_chosen() {
    if std::env::var_os("VM_RUN").is_none() {
        eprintln!("skipped: needs the 9p share of vm-run (VM_RUN=1)");
        return;
    }
    let root = std::env::current_dir()
        .unwrap()
        .join(format!("berth-test-9p-{}", std::process::id()));
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0);
        }
    }
    fs::create_dir_all(&root).unwrap();
    let _cleanup = Cleanup(&root);
    assert!(!overlay_works_in(&root).unwrap());
    let snapshotter = open(&root.join("s")).unwrap();
    snapshotter.prepare("base", None).unwrap();
    snapshotter
        .unpack(
            "base",
            &mut &Tar::new().dir("d").file("d/f", b"9p").bytes()[..],
            None,
        )
        .unwrap();
    snapshotter.commit("c", "base").unwrap();
    let mounts = snapshotter.prepare("ctr", Some("c")).unwrap();
    let [
        Mount::Bind {
            source,
            readonly: false,
        },
    ] = &mounts[..]
    else {
        panic!("{mounts:?}")
    };
    assert_eq!(fs::read(source.join("d/f")).unwrap(), b"9p");
    assert!(
        names(&root)
            .iter()
            .all(|n| !n.starts_with(".overlay-probe"))
    );
}

#[test]
fn usage_counts_one_layers_blocks_and_inodes_with_hard_links_once() {
    let tmp = TempDir::new("snap-usage");
    let snapshotter = OverlaySnapshotter::open(&tmp.path().join("s")).unwrap();
    let layer = Tar::new()
        .file("f", &[1u8; 8192])
        .hardlink("g", "f")
        .dir("d")
        .bytes();
    let chain = unpack_image(&snapshotter, &[layer]);
    let usage = snapshotter.usage(&chain[0]).unwrap();
    // The layer root, d, and f (g is the same inode); directories take a block on ext4.
    assert_eq!(usage.inodes, 3);
    assert!((8192..8192 + 3 * 4096).contains(&usage.bytes), "{usage:?}");
    let mounts = snapshotter.prepare("ctr", Some(&chain[0])).unwrap();
    let empty = snapshotter.usage("ctr").unwrap();
    assert!(
        empty.inodes == 1 && empty.bytes <= 4096,
        "{empty:?} for {mounts:?}"
    );
}
