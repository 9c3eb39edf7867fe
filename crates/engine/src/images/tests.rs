//! Image service tests: real archives from berth-testkit, a real store and snapshotter in a
//! temp data root (run as root: snapshots need mounts, ownership and xattrs).

use super::*;
use crate::ErrorKind;
use berth_testkit::{
    Entry, ImageBuilder, Layer, busybox_docker_archive, busybox_image, docker_archive,
    docker_archive_blobs, oci_layout, oci_layout_multi_platform,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Env {
    root: PathBuf,
    images: Option<Images>,
}

fn no_users(_: &str) -> Result<Vec<String>> {
    Ok(Vec::new())
}

impl Env {
    fn new(name: &str) -> Env {
        let root = std::env::temp_dir().join(format!(
            "berth-images-{name}-{}-{}",
            std::process::id(),
            layers::unique_suffix()
        ));
        std::fs::create_dir_all(&root).unwrap();
        let mut env = Env { root, images: None };
        env.reopen();
        env
    }

    fn reopen(&mut self) {
        self.images = None;
        let config = EngineConfig::new(
            self.root.join("data"),
            self.root.join("exec"),
            PathBuf::from("/nonexistent/berth-shim"),
        );
        config.create_dirs().unwrap();
        let store = Store::open(&config.data_root.join("metadata.redb")).unwrap();
        self.images = Some(Images::open(&config, store).unwrap());
    }

    fn images(&self) -> &Images {
        self.images.as_ref().unwrap()
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.root.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    /// Loads `archive`; returns the messages.
    fn load(&self, archive: &[u8]) -> Result<Vec<String>> {
        let path = self.write("archive.tar", archive);
        let mut messages = Vec::new();
        self.images().load(&path, &mut |e| {
            if let LoadEvent::Message(m) = e {
                messages.push(m)
            }
        })?;
        Ok(messages)
    }

    fn snapshot_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .images()
            .snapshotter()
            .list()
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        keys.sort();
        keys
    }

    fn blob_count(&self) -> usize {
        self.images().content.list().unwrap().len()
    }

    /// Mounts a read-only view of `record`'s top layer, runs `f` on it, unmounts.
    fn with_rootfs<T>(&self, record: &ImageRecord, f: impl FnOnce(&Path) -> T) -> T {
        let target = self.root.join("view");
        std::fs::create_dir_all(&target).unwrap();
        let snapshots = self.images().snapshotter();
        let mounts = snapshots.view("test-view", record.top_layer()).unwrap();
        berth_image::mount::mount_all(&mounts, &target).unwrap();
        let out = f(&target);
        berth_image::mount::unmount(&target).unwrap();
        snapshots.remove("test-view").unwrap();
        out
    }

    fn remove(&self, reference: &str, force: bool) -> Result<Vec<Deleted>> {
        self.images().remove(reference, force, false, &no_users)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let view = self.root.join("view");
        if view.exists() {
            let _ = berth_image::mount::unmount(&view);
        }
        self.images = None;
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn two_layer_image(tag: &str) -> ImageBuilder {
    ImageBuilder::new()
        .layer(
            Layer::new()
                .dir("a/")
                .file("a/gone", b"lower")
                .file("a/kept", b"lower")
                .dir("d/")
                .file("d/old", b"old"),
        )
        .layer(
            Layer::new()
                .whiteout("a/gone")
                .opaque("d")
                .file("d/new", b"new")
                .file_with("top", b"top!", 0o640, 1000, 1000)
                .gzip(),
        )
        .cmd(&["sh"])
        .tag(tag)
}

#[test]
fn images_load_a_docker_archive_and_resolve_every_reference_form() {
    let env = Env::new("resolve");
    let messages = env.load(&busybox_docker_archive("busybox:latest")).unwrap();
    assert_eq!(messages, ["Loaded image: busybox:latest\n"]);
    let id = busybox_image("busybox:latest").id();
    let hex = id.trim_start_matches("sha256:").to_string();
    for reference in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
        id.as_str(),
        hex.as_str(),
        &hex[..12],
        &hex[..1],
        &format!("sha256:{}", &hex[..6]),
    ] {
        assert_eq!(
            env.images().resolve(reference).unwrap().id,
            id,
            "{reference}"
        );
    }
    let record = env.images().resolve("busybox").unwrap();
    assert_eq!(record.repo_tags, ["busybox:latest"]);
    assert!(record.size > 500_000, "size {}", record.size);
    for missing in ["busybox:other", "nothere", "0000", "127.0.0.1:5000/x/y:t"] {
        let e = env.images().resolve(missing).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, format!("No such image: {missing}"));
    }
    assert_eq!(
        env.images().resolve("Busy").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    env.images()
        .tag("busybox", "127.0.0.1:5000/x/y", Some("t"))
        .unwrap();
    assert_eq!(env.images().resolve("127.0.0.1:5000/x/y:t").unwrap().id, id);
    // A busybox that runs: the binary and its applet links are in the layer.
    env.with_rootfs(&record, |root| {
        assert!(root.join("bin/busybox").is_file());
        assert_eq!(
            std::fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(
            std::fs::read_to_string(root.join("etc/passwd"))
                .unwrap()
                .contains("nobody:x:65534")
        );
    });
}

#[test]
fn images_ambiguous_short_ids_resolve_to_nothing() {
    let env = Env::new("ambiguous");
    let images: Vec<ImageBuilder> = (0..20)
        .map(|i| ImageBuilder::new().layer(Layer::new().file("f", format!("{i}").as_bytes())))
        .collect();
    let refs: Vec<&ImageBuilder> = images.iter().collect();
    env.load(&docker_archive(&refs)).unwrap();
    let ids: Vec<String> = images.iter().map(|i| i.id()[7..].to_string()).collect();
    // With 20 images at least two share a first hex digit.
    let shared = ids
        .iter()
        .find(|a| ids.iter().filter(|b| b[..1] == a[..1]).count() > 1)
        .unwrap();
    assert_eq!(
        env.images().resolve(&shared[..1]).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        env.images().resolve(&shared[..20]).unwrap().id[7..],
        shared[..]
    );
}

#[test]
fn images_load_many_images_in_both_docker_layouts_and_untagged_ones() {
    let env = Env::new("many");
    let a = busybox_image("a:1").tag("a:2");
    let b = two_layer_image("b:latest");
    let untagged = ImageBuilder::new().layer(Layer::new().file("u", b"u"));
    let messages = env.load(&docker_archive(&[&a, &b, &untagged])).unwrap();
    assert_eq!(
        messages,
        [
            "Loaded image: a:1\n".to_string(),
            "Loaded image: a:2\n".to_string(),
            "Loaded image: b:latest\n".to_string(),
            format!("Loaded image ID: {}\n", untagged.id()),
        ]
    );
    assert_eq!(env.images().records().unwrap().len(), 3);
    assert_eq!(
        env.images().resolve("a:2").unwrap().repo_tags,
        ["a:1", "a:2"]
    );

    let env2 = Env::new("blobs");
    let messages = env2.load(&docker_archive_blobs(&[&b])).unwrap();
    assert_eq!(messages, ["Loaded image: b:latest\n"]);
    assert_eq!(env2.images().resolve("b").unwrap().id, b.id());
}

#[test]
fn images_load_oci_layouts_with_gzip_and_zstd_layers_and_pick_amd64_from_an_index() {
    let env = Env::new("oci");
    let zstd = ImageBuilder::new()
        .layer(Layer::new().file("base", b"zstd base").zstd())
        .layer(Layer::new().file("top", b"gzip top").gzip())
        .tag("example.com/oci/img:v1");
    let messages = env.load(&oci_layout(&[&zstd])).unwrap();
    assert_eq!(messages, ["Loaded image: example.com/oci/img:v1\n"]);
    let record = env.images().resolve("example.com/oci/img:v1").unwrap();
    assert_eq!(record.id, zstd.id());
    assert_eq!(record.layers.len(), 2);
    env.with_rootfs(&record, |root| {
        assert_eq!(std::fs::read(root.join("base")).unwrap(), b"zstd base");
        assert_eq!(std::fs::read(root.join("top")).unwrap(), b"gzip top");
    });
    // The digest reference of the manifest resolves too.
    let digested = record.repo_digests[0].clone();
    assert!(digested.starts_with("example.com/oci/img@sha256:"));
    assert_eq!(env.images().resolve(&digested).unwrap().id, record.id);

    let amd64 = ImageBuilder::new().layer(Layer::new().file("arch", b"amd64"));
    let arm64 = ImageBuilder::new()
        .layer(Layer::new().file("arch", b"arm64"))
        .architecture("arm64");
    env.load(&oci_layout_multi_platform(
        &[&arm64, &amd64],
        Some("multi:1"),
    ))
    .unwrap();
    let chosen = env.images().resolve("multi:1").unwrap();
    assert_eq!(chosen.id, amd64.id());
    assert!(env.images().get(&arm64.id()).unwrap().is_none());
}

#[test]
fn images_whiteouts_and_opaque_dirs_behave_as_layered() {
    let env = Env::new("whiteout");
    env.load(&docker_archive(&[&two_layer_image("w:1")]))
        .unwrap();
    let record = env.images().resolve("w:1").unwrap();
    env.with_rootfs(&record, |root| {
        assert!(
            !root.join("a/gone").exists(),
            "whiteout did not hide a/gone"
        );
        assert_eq!(std::fs::read(root.join("a/kept")).unwrap(), b"lower");
        assert!(!root.join("d/old").exists(), "opaque dir still shows d/old");
        assert_eq!(std::fs::read(root.join("d/new")).unwrap(), b"new");
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(root.join("top")).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()),
            (0o640, 1000, 1000)
        );
    });
}

/// Loads an image whose second layer is `bad`; the load must fail naming `entry`, write
/// nothing outside, record nothing and leave no snapshot.
fn assert_refused(env: &Env, bad: Layer, entry: &str) {
    let snapshots_before = env.snapshot_keys();
    let blobs_before = env.blob_count();
    let image = ImageBuilder::new()
        .layer(Layer::new().dir("ok/").file("ok/f", b"fine"))
        .layer(bad)
        .tag("evil:1");
    let e = env.load(&docker_archive(&[&image])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert!(e.message.contains(entry), "{e} does not name {entry}");
    assert!(env.images().resolve("evil:1").is_err());
    assert_eq!(env.snapshot_keys(), snapshots_before, "a snapshot was left");
    assert_eq!(env.blob_count(), blobs_before, "a blob was left");
}

#[test]
fn images_crafted_escape_layers_are_refused_naming_the_entry() {
    let env = Env::new("escape");
    env.load(&busybox_docker_archive("busybox:latest")).unwrap();
    let outside = env.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let outside_str = outside.to_str().unwrap().to_string();

    assert_refused(
        &env,
        Layer::new().raw(Entry::file("../../../../../../x-escape", b"x")),
        "x-escape",
    );
    assert_refused(
        &env,
        Layer::new()
            .symlink("link", &outside_str)
            .raw(Entry::file("link/pwned", b"x")),
        "link/pwned",
    );
    assert_refused(
        &env,
        Layer::new().hardlink("hl", "../../../../../../../etc/passwd"),
        "hl",
    );
    assert_refused(
        &env,
        Layer::new()
            .symlink("up", "..")
            .hardlink("hl2", "up/up/etc/passwd"),
        "hl2",
    );
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "written outside"
    );

    // An absolute name is refused (dockerd would confine it to the layer), never written there.
    let target = outside.join("abs");
    let image = ImageBuilder::new()
        .layer(Layer::new().raw(Entry::file(target.to_str().unwrap(), b"inside")))
        .tag("abs:1");
    let err = env.load(&docker_archive(&[&image])).unwrap_err();
    assert!(err.message.contains("absolute"), "{}", err.message);
    assert!(
        !target.exists(),
        "an absolute entry was written on the host"
    );
    assert!(env.images().resolve("abs:1").is_err());

    // A diffID that does not match the content fails the load too.
    let lying = ImageBuilder::new()
        .layer(Layer::new().file("f", b"x"))
        .lie_about_diff_ids(&[&format!("sha256:{}", "1".repeat(64))])
        .tag("liar:1");
    let before = env.snapshot_keys();
    let e = env.load(&docker_archive(&[&lying])).unwrap_err();
    assert!(e.message.contains("diffID"), "{e}");
    assert_eq!(env.snapshot_keys(), before);
}

#[test]
fn images_save_then_load_round_trips_with_the_same_ids_and_tags() {
    let env = Env::new("save");
    let b = two_layer_image("b:1").tag("b:2");
    env.load(&docker_archive(&[&busybox_image("busybox:latest"), &b]))
        .unwrap();
    let items = env
        .images()
        .save_plan(&["busybox".to_string(), "b:1".to_string(), b.id()])
        .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].tags, ["b:1"]);
    let mut archive = Vec::new();
    env.images().save(&items, &mut archive).unwrap();

    // The layout dockerd writes: manifest.json, repositories, <id>.json, <v1>/layer.tar.
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(&archive[..]);
    for entry in tar.entries().unwrap() {
        names.push(
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert!(names.contains(&"manifest.json".to_string()));
    assert!(names.contains(&"repositories".to_string()));
    assert!(names.contains(&format!("{}.json", &b.id()[7..])));
    assert_eq!(
        names.iter().filter(|n| n.ends_with("/layer.tar")).count(),
        3
    );

    let other = Env::new("save-restore");
    let messages = other.load(&archive).unwrap();
    assert_eq!(
        messages,
        ["Loaded image: busybox:latest\n", "Loaded image: b:1\n"]
    );
    assert_eq!(other.images().resolve("b:1").unwrap().id, b.id());
    assert_eq!(
        other.images().resolve("busybox").unwrap().id,
        busybox_image("x").id()
    );
    let record = other.images().resolve("b:1").unwrap();
    other.with_rootfs(&record, |root| {
        assert!(!root.join("a/gone").exists());
        assert_eq!(std::fs::read(root.join("d/new")).unwrap(), b"new");
    });
    assert!(env.images().save_plan(&["nothere".to_string()]).is_err());
}

#[test]
fn images_import_a_rootfs_with_changes() {
    let env = Env::new("import");
    let rootfs = Layer::new()
        .dir("bin/")
        .file_with("bin/tool", b"#!/bin/sh\n", 0o755, 0, 0)
        .gzip()
        .blob();
    let path = env.write("rootfs.tar.gz", &rootfs);
    let options = ImportOptions {
        repo: Some("imported".to_string()),
        tag: Some("v1".to_string()),
        message: "from a tarball".to_string(),
        changes: vec![
            "CMD echo hi".to_string(),
            "ENV A=1".to_string(),
            "WORKDIR /srv".to_string(),
            "USER nobody".to_string(),
            "EXPOSE 8080".to_string(),
            "VOLUME /data".to_string(),
            "LABEL k=v".to_string(),
            "ENTRYPOINT [\"/bin/tool\"]".to_string(),
        ],
    };
    let id = env.images().import(&path, &options).unwrap();
    let record = env.images().resolve("imported:v1").unwrap();
    assert_eq!(record.id, id);
    let c = &record.config.config;
    assert_eq!(c.cmd.as_deref().unwrap(), ["/bin/sh", "-c", "echo hi"]);
    assert_eq!(c.entrypoint.as_deref().unwrap(), ["/bin/tool"]);
    assert_eq!(c.env, ["A=1"]);
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!(c.user.as_deref(), Some("nobody"));
    assert!(c.exposed_ports.contains_key("8080/tcp"));
    assert!(c.volumes.contains_key("/data"));
    assert_eq!(c.labels["k"], "v");
    let history = env.images().history("imported:v1").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].comment, "from a tarball");
    assert_eq!(history[0].id, id);
    env.with_rootfs(&record, |root| {
        assert_eq!(
            std::fs::read(root.join("bin/tool")).unwrap(),
            b"#!/bin/sh\n"
        );
    });
    let refused = ImportOptions {
        changes: vec!["RUN true".to_string()],
        ..ImportOptions::default()
    };
    let e = env.images().import(&path, &refused).unwrap_err();
    assert_eq!(e.message, "run is not a valid change command");
}

#[test]
fn images_tag_rmi_and_prune_count_references_to_layers_and_blobs() {
    let env = Env::new("rmi");
    let base = Layer::new().file("base", b"shared");
    let one = ImageBuilder::new()
        .layer(base.clone())
        .layer(Layer::new().file("one", b"1"))
        .tag("one:1");
    let two = ImageBuilder::new()
        .layer(base.clone())
        .layer(Layer::new().file("two", b"2"))
        .tag("two:1");
    env.load(&docker_archive(&[&one, &two])).unwrap();
    assert_eq!(env.snapshot_keys().len(), 3);

    // A second tag: removing one tag only untags.
    env.images().tag("one:1", "one", Some("2")).unwrap();
    assert_eq!(
        env.remove("one:2", false).unwrap(),
        [Deleted::Untagged("one:2".into())]
    );
    // By ID with two tags needs force.
    env.images().tag("one:1", "one", Some("3")).unwrap();
    let e = env.remove(&one.id()[7..19], false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(
        e.message,
        format!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            &one.id()[7..19]
        )
    );
    let deleted = env.remove(&one.id()[7..19], true).unwrap();
    let one_chain = env.images().snapshotter().list().unwrap().len();
    assert_eq!(one_chain, 2, "the shared base and two's top stay");
    assert_eq!(deleted[0], Deleted::Untagged("one:1".into()));
    assert_eq!(deleted[1], Deleted::Untagged("one:3".into()));
    assert_eq!(deleted[2], Deleted::Deleted(one.id()));
    assert_eq!(deleted.len(), 4, "{deleted:?}");
    // Two still reads its shared base.
    let record = env.images().resolve("two:1").unwrap();
    env.with_rootfs(&record, |root| {
        assert_eq!(std::fs::read(root.join("base")).unwrap(), b"shared");
    });

    // A container's snapshot keeps its layers even after a forced rmi; its users block rmi.
    let users = |id: &str| -> Result<Vec<String>> {
        Ok(if id == two.id() {
            vec!["c0ffee".repeat(10) + "abcd"]
        } else {
            vec![]
        })
    };
    let e = env
        .images()
        .remove("two:1", false, false, &users)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("is using its referenced image"), "{e}");
    env.images()
        .snapshotter()
        .prepare("container-1", record.top_layer())
        .unwrap();
    let deleted = env.remove(&two.id(), true).unwrap();
    assert_eq!(
        deleted,
        [
            Deleted::Untagged("two:1".into()),
            Deleted::Deleted(two.id())
        ]
    );
    assert_eq!(
        env.snapshot_keys().len(),
        3,
        "container-1 and its two layers"
    );
    env.images().snapshotter().remove("container-1").unwrap();

    // Prune: a tag moved away leaves a dangling image; prune removes it, -a the rest.
    let mut env = env;
    env.reopen();
    assert!(
        env.snapshot_keys().is_empty(),
        "reopen collects unreferenced layers"
    );
    assert_eq!(env.blob_count(), 0);
    let old = ImageBuilder::new()
        .layer(Layer::new().file("v", b"old"))
        .tag("p:1");
    let new = ImageBuilder::new()
        .layer(Layer::new().file("v", b"new"))
        .tag("p:1");
    env.load(&docker_archive(&[&old])).unwrap();
    let messages = env.load(&docker_archive(&[&new])).unwrap();
    assert_eq!(
        messages[0],
        format!(
            "The image p:1 already exists, renaming the old one with ID {} to empty string\n",
            old.id()
        )
    );
    let dangling = env
        .images()
        .list(&BTreeMap::from([(
            "dangling".to_string(),
            vec!["true".to_string()],
        )]))
        .unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].repo_tags, ["<none>:<none>"]);
    let report = env.images().prune(&BTreeMap::new(), &no_users).unwrap();
    assert_eq!(report.deleted[0], Deleted::Deleted(old.id()));
    assert_eq!(report.space_reclaimed, 3);
    let report = env
        .images()
        .prune(
            &BTreeMap::from([("dangling".to_string(), vec!["false".to_string()])]),
            &no_users,
        )
        .unwrap();
    assert_eq!(
        report.deleted,
        [
            Deleted::Untagged("p:1".into()),
            Deleted::Deleted(new.id()),
            Deleted::Deleted(new.layers[0].diff_id())
        ]
    );
    assert!(env.images().records().unwrap().is_empty());
    assert!(env.snapshot_keys().is_empty());
    assert_eq!(env.blob_count(), 0);
}

#[test]
fn images_reopen_after_a_crash_keeps_records_and_cleans_leftovers() {
    let mut env = Env::new("reopen");
    env.load(&busybox_docker_archive("busybox:latest")).unwrap();
    env.load(&docker_archive(&[&two_layer_image("w:1")]))
        .unwrap();
    let mut before = env.images().records().unwrap();
    // What a kill -9 mid-load leaves: an extract snapshot, a committed layer of no image,
    // a blob of no image, an upload temp file.
    let snapshots = env.images().snapshotter();
    snapshots.prepare("extract-crashed", None).unwrap();
    let orphan = format!("sha256:{}", "9".repeat(64));
    snapshots.prepare("extract-orphan", None).unwrap();
    snapshots.commit(&orphan, "extract-orphan").unwrap();
    env.images().content.write_bytes(b"orphan blob").unwrap();
    std::fs::write(env.images().temp_path("load"), b"partial upload").unwrap();
    let keys_with_leftovers = env.snapshot_keys().len();
    let blobs_with_leftovers = env.blob_count();
    env.reopen();
    let mut after = env.images().records().unwrap();
    before.sort_by(|a, b| a.id.cmp(&b.id));
    after.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(before, after);
    assert_eq!(env.snapshot_keys().len(), keys_with_leftovers - 2);
    assert_eq!(env.blob_count(), blobs_with_leftovers - 1);
    assert_eq!(
        std::fs::read_dir(env.images().temp_dir()).unwrap().count(),
        0
    );
    assert!(env.images().resolve("w:1").is_ok());
}

#[test]
fn images_list_filters_history_and_disk_usage() {
    let env = Env::new("list");
    let old = ImageBuilder::new()
        .layer(Layer::new().file("f", b"12345"))
        .label("tier", "base")
        .created("2020-01-01T00:00:00Z")
        .history_note("ENV x")
        .tag("old:1");
    let new = ImageBuilder::new()
        .layer(Layer::new().file("f", b"12345"))
        .layer(Layer::new().file("g", b"xy"))
        .created("2021-01-01T00:00:00Z")
        .tag("new:1");
    env.load(&docker_archive(&[&old, &new])).unwrap();
    let list = |k: &str, v: &str| -> Vec<String> {
        env.images()
            .list(&BTreeMap::from([(k.to_string(), vec![v.to_string()])]))
            .unwrap()
            .into_iter()
            .map(|l| l.record.id)
            .collect()
    };
    assert_eq!(
        env.images().list(&BTreeMap::new()).unwrap()[0].record.id,
        new.id()
    );
    assert_eq!(list("label", "tier=base"), [old.id()]);
    assert_eq!(list("before", "new:1"), [old.id()]);
    assert_eq!(list("since", "old:1"), [new.id()]);
    assert_eq!(list("reference", "ne*"), [new.id()]);
    assert_eq!(list("dangling", "true"), Vec::<String>::new());
    assert!(
        env.images()
            .list(&BTreeMap::from([("bogus".to_string(), vec![])]))
            .is_err()
    );
    let history = env.images().history("old:1").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].created_by.as_str(), history[0].size),
        ("ENV x", 0)
    );
    assert_eq!(history[1].size, 5);
    assert_eq!(history[0].tags, ["old:1"]);
    let usage = env.images().disk_usage(&no_users).unwrap();
    assert_eq!(usage.layers_size, 7);
    let new_usage = usage.images.iter().find(|i| i.id == new.id()).unwrap();
    assert_eq!(
        (new_usage.size, new_usage.shared_size, new_usage.containers),
        (7, 5, 0)
    );
}

/// `docker load` of our save on a real dockerd: runs when `BERTH_TEST_DOCKERD_HOST` names a
/// private dockerd (`unix:///tmp/x/docker.sock`), else only checks the archive is readable.
#[test]
fn images_save_is_restored_by_dockerd_when_one_is_given() {
    let env = Env::new("dockerd");
    let b = two_layer_image("berth-save-check:1");
    env.load(&docker_archive(&[&busybox_image("berth-save-bb:1"), &b]))
        .unwrap();
    let items = env
        .images()
        .save_plan(&[
            "berth-save-bb:1".to_string(),
            "berth-save-check:1".to_string(),
        ])
        .unwrap();
    let path = env.root.join("saved.tar");
    env.images()
        .save(&items, std::fs::File::create(&path).unwrap())
        .unwrap();
    let Ok(host) = std::env::var("BERTH_TEST_DOCKERD_HOST") else {
        return;
    };
    let docker = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let loaded = docker(&["load", "-i", path.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: berth-save-check:1"),
        "{loaded}"
    );
    let id = docker(&["image", "inspect", "-f", "{{.Id}}", "berth-save-check:1"]);
    assert_eq!(id.trim(), b.id());
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "berth-save-bb:1",
        "echo",
        "saved-by-berth",
    ]);
    assert_eq!(out.trim(), "saved-by-berth");
    // dockerd's own save of the same images names every member as ours does.
    let theirs = env.root.join("theirs.tar");
    docker(&[
        "save",
        "-o",
        theirs.to_str().unwrap(),
        "berth-save-bb:1",
        "berth-save-check:1",
    ]);
    let names = |p: &Path| -> std::collections::BTreeSet<String> {
        let mut archive = tar::Archive::new(std::fs::File::open(p).unwrap());
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&path), names(&theirs));
    docker(&["rmi", "berth-save-check:1", "berth-save-bb:1"]);
}

#[test]
fn images_concurrent_loads_of_the_same_layers_all_succeed() {
    let env = Env::new("concurrent");
    let archive = docker_archive(&[&two_layer_image("c:1")]);
    let paths: Vec<PathBuf> = (0..4)
        .map(|i| env.write(&format!("c{i}.tar"), &archive))
        .collect();
    std::thread::scope(|scope| {
        for path in &paths {
            let images = env.images();
            scope.spawn(move || images.load(path, &mut |_| {}).unwrap());
        }
    });
    assert_eq!(env.images().records().unwrap().len(), 1);
    assert_eq!(env.snapshot_keys().len(), 2, "{:?}", env.snapshot_keys());
}
