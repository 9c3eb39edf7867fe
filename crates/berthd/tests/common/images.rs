//! Images made offline: busybox from Debian's busybox-static as a rootfs tar (for `import`), a
//! multi-layer docker-archive with whiteouts and an opaque dir (for `load`), and layer archives
//! crafted to write outside their snapshot.

use super::Daemon;
use sha2::{Digest, Sha256};
use std::process::Command;
use std::sync::OnceLock;

pub const BUSYBOX: &str = "busybox:latest";
pub const LAYERED: &str = "layered:latest";
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const MTIME: u64 = 1_700_000_000;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// A layer being written: entries in the order given.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    pub fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        self.0
            .append_data(&mut h, path, std::io::empty())
            .expect("tar dir");
        self
    }
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> &mut Self {
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        self.0.append_data(&mut h, path, data).expect("tar file");
        self
    }
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        self.0
            .append_link(&mut h, path, target)
            .expect("tar symlink");
        self
    }
    /// An entry whose name is written into the header as given: the tar crate refuses `..` and
    /// absolute names through its normal API, and these are exactly what the escape tests need.
    pub fn raw(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        link: Option<&str>,
        data: &[u8],
    ) -> &mut Self {
        let mut h = header(kind, 0o644, data.len() as u64);
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                old.linkname = [0; 100];
                old.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_cksum();
        self.0.append(&h, data).expect("tar raw entry");
        self
    }
    /// An entry owned by `uid:gid` (the other builders make root's).
    pub fn owned(
        &mut self,
        kind: tar::EntryType,
        path: &str,
        mode: u32,
        (uid, gid): (u64, u64),
        data: &[u8],
    ) -> &mut Self {
        let mut h = header(kind, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.0.append_data(&mut h, path, data).expect("tar entry");
        self
    }
    /// A layer that starts with every entry of the plain tar `base` (names under 100 bytes).
    pub fn extending(base: &[u8]) -> Layer {
        use std::io::Read;
        let mut layer = Layer::new();
        let mut archive = tar::Archive::new(base);
        for entry in archive.entries().expect("tar entries") {
            let mut entry = entry.expect("tar entry");
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("tar entry data");
            layer.0.append(&header, &data[..]).expect("copy tar entry");
        }
        layer
    }
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().expect("finish tar")
    }
}

fn applets() -> Vec<String> {
    let out = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "busybox")
        .collect()
}

/// Debian's static busybox with every applet linked in /bin, /etc/passwd and /etc/group, and
/// the empty mount points: the busybox image's single layer.
pub fn busybox_rootfs_tar() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let busybox = std::fs::read("/bin/busybox").expect("read /bin/busybox (apt-get install busybox-static)");
        let mut l = Layer::new();
        for d in ["bin", "dev", "etc", "home", "home/e2e", "proc", "root", "sys", "tmp", "usr", "var"] {
            l.dir(d);
        }
        l.file("bin/busybox", 0o755, &busybox);
        for a in applets() {
            l.symlink(&format!("bin/{a}"), "busybox");
        }
        l.file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\ne2e:x:1000:1000:e2e:/home/e2e:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        );
        l.file("etc/group", 0o644, b"root:x:0:\ne2e:x:1000:\nnogroup:x:65534:\n");
        l.finish()
    })
}

/// `import - busybox:latest` with CMD sh (through the docker CLI: setup, not the test).
pub fn import_busybox(d: &Daemon) {
    let o = d.docker().cmd_stdin(
        &["import", "--change", "CMD [\"sh\"]", "-", BUSYBOX],
        busybox_rootfs_tar(),
    );
    o.assert_ok();
}

pub const VOLIMG: &str = "volimg:latest";

/// busybox plus `/data` (0750, 1234:5678) holding `f` ("hi\n", 0640), `sub/` (0700) with
/// `g`, and a symlink `link -> f`, all owned by 1234:5678 but the link; `VOLUME ["/data"]`.
/// Imported as [`VOLIMG`] (through the docker CLI: setup, not the test).
pub fn import_volume_image(d: &Daemon) {
    use tar::EntryType::{Directory, Regular};
    let owner = (1234, 5678);
    let mut l = Layer::extending(busybox_rootfs_tar());
    l.owned(Directory, "data", 0o750, owner, b"")
        .owned(Regular, "data/f", 0o640, owner, b"hi\n")
        .owned(Directory, "data/sub", 0o700, owner, b"")
        .owned(Regular, "data/sub/g", 0o644, owner, b"deep\n")
        .symlink("data/link", "f");
    let o = d.docker().cmd_stdin(
        &[
            "import",
            "--change",
            "VOLUME [\"/data\"]",
            "--change",
            "CMD [\"sh\"]",
            "-",
            VOLIMG,
        ],
        &l.finish(),
    );
    o.assert_ok();
}

pub fn sha256_hex(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A docker-archive (`docker save` format) of one image named `tag` made of `layers`.
pub fn docker_archive(tag: &str, layers: &[Vec<u8>], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let history: Vec<serde_json::Value> = (0..layers.len())
        .map(|i| serde_json::json!({"created": "2023-11-14T22:13:20Z", "created_by": format!("e2e layer {i}")}))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": cmd, "Env": [PATH_ENV]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    })
    .to_string();
    let config_hex = sha256_hex(config.as_bytes());
    let mut out = Layer::new();
    let mut layer_paths = Vec::new();
    for (l, id) in layers.iter().zip(&diff_ids) {
        let dir = id.trim_start_matches("sha256:");
        out.dir(dir);
        out.file(&format!("{dir}/VERSION"), 0o644, b"1.0");
        out.file(&format!("{dir}/layer.tar"), 0o644, l);
        layer_paths.push(format!("{dir}/layer.tar"));
    }
    out.file(&format!("{config_hex}.json"), 0o644, config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [tag],
        "Layers": layer_paths,
    }])
    .to_string();
    out.file("manifest.json", 0o644, manifest.as_bytes());
    out.finish()
}

/// Three layers: busybox; then /data/{keep,gone}, /opq/{old,sub/old2}, /etc/layer=2; then a
/// whiteout of /data/gone, /opq made opaque with /opq/new, /etc/layer=3.
pub fn layered_archive() -> Vec<u8> {
    let base = busybox_rootfs_tar().to_vec();
    let mut two = Layer::new();
    two.dir("data")
        .file("data/keep", 0o644, b"keep\n")
        .file("data/gone", 0o644, b"gone\n")
        .dir("opq")
        .file("opq/old", 0o644, b"old\n")
        .dir("opq/sub")
        .file("opq/sub/old2", 0o644, b"old2\n")
        .dir("etc")
        .file("etc/layer", 0o644, b"2\n");
    let mut three = Layer::new();
    three
        .dir("data")
        .file("data/.wh.gone", 0o644, b"")
        .dir("opq")
        .file("opq/.wh..wh..opq", 0o644, b"")
        .file("opq/new", 0o644, b"new\n")
        .dir("etc")
        .file("etc/layer", 0o644, b"3\n");
    docker_archive(LAYERED, &[base, two.finish(), three.finish()], &["sh"])
}

/// Ways a layer tries to write outside its snapshot. `outside` is an absolute directory the
/// test owns; each case aims one file into it.
#[derive(Clone, Copy, Debug)]
pub enum Escape {
    DotDot,
    Absolute,
    SymlinkParent,
    HardlinkOutside,
}

pub fn escaping_archive(case: Escape, outside: &str, tag: &str) -> Vec<u8> {
    let up = "../".repeat(12);
    let target = format!("{}/{:?}", outside.trim_start_matches('/'), case);
    let mut l = Layer::new();
    l.dir("etc").file("etc/ok", 0o644, b"ok\n");
    match case {
        Escape::DotDot => {
            l.raw(
                tar::EntryType::Regular,
                &format!("{up}{target}"),
                None,
                b"escaped\n",
            );
        }
        Escape::Absolute => {
            l.raw(
                tar::EntryType::Regular,
                &format!("/{target}"),
                None,
                b"escaped\n",
            );
        }
        Escape::SymlinkParent => {
            l.raw(tar::EntryType::Symlink, "evil", Some(outside), b"");
            l.raw(
                tar::EntryType::Regular,
                &format!("evil/{case:?}"),
                None,
                b"escaped\n",
            );
        }
        Escape::HardlinkOutside => {
            l.raw(
                tar::EntryType::Link,
                "evil-link",
                Some(&format!("{up}{}/victim", outside.trim_start_matches('/'))),
                b"",
            );
        }
    }
    docker_archive(tag, &[busybox_rootfs_tar().to_vec(), l.finish()], &["sh"])
}
