//! docker CLI 28 against our API on a real Unix socket: load, images, inspect, tag, history,
//! save, rmi, import, prune as a user types them.

use berth_engine::{Engine, EngineConfig};
use berth_testkit::{busybox_docker_archive, busybox_image};
use std::path::{Path, PathBuf};
use std::process::Command;

fn docker(host: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("/usr/local/bin/docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", "/nonexistent-berth-docker-config")
        .output()
        .expect("run docker CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(host: &str, args: &[&str]) -> String {
    let (success, stdout, stderr) = docker(host, args);
    assert!(success, "docker {args:?} failed: {stderr}");
    stdout
}

/// Removes the test's directory even when an assertion fails.
struct CleanDir(PathBuf);

impl Drop for CleanDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn images_docker_cli_load_images_inspect_tag_save_rmi_import_prune() {
    if !Path::new("/usr/local/bin/docker").exists() {
        return;
    }
    let root: PathBuf = std::env::temp_dir().join(format!("berth-api-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let _clean = CleanDir(root.clone());
    let config = EngineConfig::new(
        root.join("data"),
        root.join("exec"),
        PathBuf::from("/nonexistent"),
    );
    let engine = Engine::open(config).unwrap();
    let socket = root.join("api.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(berth_api::serve(engine, listener, async {
        let _ = stopped.await;
    }));
    let host = format!("unix://{}", socket.display());
    let archive = root.join("busybox.tar");
    std::fs::write(&archive, busybox_docker_archive("busybox:latest")).unwrap();
    let root2 = root.clone();
    tokio::task::spawn_blocking(move || {
        let h = host.as_str();
        let id = busybox_image("x").id();
        let out = ok(h, &["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(out.trim(), "Loaded image: busybox:latest");
        let out = ok(
            h,
            &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
        );
        assert_eq!(out.trim(), format!("busybox:latest {}", &id[7..19]));
        let out = ok(
            h,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Id}} {{.Config.Cmd}} {{.Os}}",
                "busybox",
            ],
        );
        assert_eq!(out.trim(), format!("{id} [sh] linux"));
        ok(h, &["tag", "busybox", "127.0.0.1:5000/busybox:latest"]);
        let out = ok(
            h,
            &["images", "-q", "--filter", "reference=127.0.0.1:5000/*"],
        );
        assert_eq!(out.trim(), &id[7..19]);
        let out = ok(
            h,
            &["history", "--format", "{{.ID}} {{.CreatedBy}}", "busybox"],
        );
        assert_eq!(out.trim(), format!("{} layer 0", &id[7..19]));
        let saved = root2.join("saved.tar");
        ok(
            h,
            &["save", "-o", saved.to_str().unwrap(), "busybox:latest"],
        );
        assert!(std::fs::metadata(&saved).unwrap().len() > 500_000);
        let out = ok(h, &["rmi", "127.0.0.1:5000/busybox:latest"]);
        assert_eq!(out.trim(), "Untagged: 127.0.0.1:5000/busybox:latest");
        let out = ok(h, &["rmi", "busybox"]);
        assert!(
            out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: {id}")),
            "{out}"
        );
        let out = ok(h, &["load", "-i", saved.to_str().unwrap()]);
        assert_eq!(out.trim(), "Loaded image: busybox:latest");
        let (success, _, stderr) = docker(h, &["image", "inspect", "nothere"]);
        assert!(
            !success && stderr.contains("No such image: nothere"),
            "{stderr}"
        );

        let rootfs = root2.join("rootfs.tar");
        std::fs::write(&rootfs, berth_testkit::busybox_rootfs_tar()).unwrap();
        let out = ok(
            h,
            &[
                "import",
                "--change",
                "CMD [\"/bin/sh\"]",
                "--change",
                "ENV A=1",
                "-m",
                "imported",
                rootfs.to_str().unwrap(),
                "imp:1",
            ],
        );
        assert!(out.trim().starts_with("sha256:"), "{out}");
        let out = ok(
            h,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Config.Cmd}} {{.Config.Env}} {{.Comment}}",
                "imp:1",
            ],
        );
        assert_eq!(out.trim(), "[/bin/sh] [A=1] imported");
        let out = ok(h, &["image", "prune", "-a", "-f"]);
        assert!(
            out.contains("untagged: imp:1") && out.contains("Total reclaimed space"),
            "{out}"
        );
        let out = ok(h, &["images", "-q"]);
        assert_eq!(out.trim(), "");
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
