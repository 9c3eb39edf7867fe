//! A runnable busybox image from the host's `/bin/busybox` (Debian's busybox-static).

use crate::image::ImageBuilder;
use crate::layer::Layer;

const HOST_BUSYBOX: &str = "/bin/busybox";

/// Applets linked even if `busybox --list` cannot be run.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "sleep", "true", "false", "id", "env", "mkdir", "rm", "touch",
    "printf", "test", "grep", "wc", "head", "ps", "kill", "hostname", "stat", "readlink",
];

fn applets() -> Vec<String> {
    let mut list: Vec<String> = APPLETS.iter().map(|s| s.to_string()).collect();
    if let Ok(out) = std::process::Command::new(HOST_BUSYBOX)
        .arg("--list")
        .output()
    {
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            let name = name.trim();
            let plain = !name.is_empty()
                && name != "busybox"
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.[".contains(&b));
            if plain && !list.iter().any(|l| l == name) {
                list.push(name.to_string());
            }
        }
    }
    list
}

/// The busybox root filesystem as a layer: /bin/busybox, a /bin symlink per applet,
/// /etc/passwd (root, nobody 65534), /etc/group, /tmp (1777), /proc, /sys, /dev, /root, /etc.
///
/// Panics if the host has no /bin/busybox (tests need busybox-static installed).
pub fn busybox_layer() -> Layer {
    let binary = std::fs::read(HOST_BUSYBOX)
        .unwrap_or_else(|e| panic!("read {HOST_BUSYBOX} (install busybox-static): {e}"));
    let mut layer = Layer::new()
        .dir("bin/")
        .file_with("bin/busybox", &binary, 0o755, 0, 0);
    for applet in applets() {
        layer = layer.symlink(&format!("bin/{applet}"), "busybox");
    }
    layer
        .dir("dev/")
        .dir("etc/")
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .file("etc/group", b"root:x:0:\nnobody:x:65534:\n")
        .dir("home/")
        .dir("proc/")
        .dir_with("root/", 0o700, 0, 0)
        .dir("sys/")
        .dir_with("tmp/", 0o1777, 0, 0)
        .dir("usr/")
        .dir("var/")
}

/// The busybox layer's uncompressed tar.
pub fn busybox_rootfs_tar() -> Vec<u8> {
    busybox_layer().tar()
}

/// A one-layer busybox image (`Cmd ["sh"]`, a PATH) tagged `tag`.
pub fn busybox_image(tag: &str) -> ImageBuilder {
    ImageBuilder::new()
        .layer(busybox_layer())
        .env("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .cmd(&["sh"])
        .tag(tag)
}

/// A classic docker-archive of [`busybox_image`]`(tag)`, for `load`.
pub fn busybox_docker_archive(tag: &str) -> Vec<u8> {
    crate::docker_archive(&[&busybox_image(tag)])
}
