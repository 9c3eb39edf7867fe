use berth_testkit::*;
use std::collections::BTreeMap;
use std::io::Read;

fn members(tar_bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

#[test]
fn docker_archive_names_config_layers_and_tags() {
    let image = busybox_image("busybox:latest");
    let tar = docker_archive(&[&image]);
    let m = members(&tar);
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "busybox:latest");
    let config_name = manifest[0]["Config"].as_str().unwrap();
    assert_eq!(sha256_digest(&m[config_name]), image.id());
    let layer = manifest[0]["Layers"][0].as_str().unwrap();
    assert_eq!(sha256_digest(&m[layer]), image.layers[0].diff_id());
    let layer_members = members(&m[layer]);
    assert!(layer_members.contains_key("bin/busybox"));
    assert!(layer_members.contains_key("bin/sh"));
    assert!(m.contains_key("repositories"));
}

#[test]
fn the_same_builder_gives_the_same_bytes() {
    let a = Layer::new()
        .file("a", b"1")
        .whiteout("x/y")
        .opaque("d")
        .gzip();
    assert_eq!(a.blob(), a.clone().blob());
    let names: Vec<String> = members(&a.tar()).into_keys().collect();
    assert_eq!(names, ["a", "d/.wh..wh..opq", "x/.wh.y"]);
}

#[test]
fn crafted_names_go_into_the_header_unchanged() {
    let layer = Layer::new()
        .raw(Entry::file("../escape", b"x"))
        .raw(Entry::file("/abs", b"x"));
    let bytes = layer.tar();
    let mut archive = tar::Archive::new(&bytes[..]);
    let names: Vec<Vec<u8>> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path_bytes().into_owned())
        .collect();
    assert_eq!(names, [b"../escape".to_vec(), b"/abs".to_vec()]);
}

#[test]
fn oci_layouts_have_index_and_blobs() {
    let image = ImageBuilder::new()
        .layer(Layer::new().file("f", b"x").zstd())
        .tag("x:1");
    let m = members(&oci_layout(&[&image]));
    let index: serde_json::Value = serde_json::from_slice(&m["index.json"]).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    assert!(m.contains_key(&format!("blobs/sha256/{}", &digest[7..])));
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/x:1"
    );
    let arm = image.clone().architecture("arm64");
    let m = members(&oci_layout_multi_platform(&[&arm, &image], Some("x:1")));
    let index: serde_json::Value = serde_json::from_slice(&m["index.json"]).unwrap();
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let m2 = members(&docker_archive_blobs(&[&image]));
    assert!(m2.contains_key("manifest.json") && m2.contains_key("index.json"));
}
