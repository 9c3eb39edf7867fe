//! Whole archives: docker-archive (classic and blobs layout) and OCI image layouts.

use crate::image::ImageBuilder;
use crate::layer::archive_tar;
use crate::sha256_digest;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// Members added once by name, in order (layers shared by images appear once).
#[derive(Default)]
struct Members {
    list: Vec<(String, Vec<u8>)>,
    names: BTreeSet<String>,
}

impl Members {
    fn add(&mut self, name: String, data: Vec<u8>) {
        if self.names.insert(name.clone()) {
            self.list.push((name, data));
        }
    }
    fn add_blob(&mut self, data: Vec<u8>) -> (String, usize) {
        let digest = sha256_digest(&data);
        let size = data.len();
        self.add(format!("blobs/sha256/{}", hex(&digest)), data);
        (digest, size)
    }
}

/// `repositories`: `{"name": {"tag": "<top layer id>"}}` as docker save writes it.
fn repositories(entries: &[(String, String)]) -> Vec<u8> {
    let mut repos: Map<String, Value> = Map::new();
    for (tag, top) in entries {
        let (name, tag) = split_tag(tag);
        let repo = repos
            .entry(name.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(repo) = repo {
            repo.insert(tag.to_string(), json!(top));
        }
    }
    serde_json::to_vec(&Value::Object(repos)).expect("serialize a JSON value")
}

/// `name:tag` → (name, tag); a `:` inside a registry host:port is not a tag.
fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rfind(':') {
        Some(i) if !reference[i + 1..].contains('/') => (&reference[..i], &reference[i + 1..]),
        _ => (reference, "latest"),
    }
}

/// The classic `docker save` layout: `<id>.json` configs, `<dir>/layer.tar` layers (the blob
/// as the layer says: plain, gzip or zstd), `manifest.json` and `repositories`.
pub fn docker_archive(images: &[&ImageBuilder]) -> Vec<u8> {
    let mut members = Members::default();
    let mut manifest = Vec::new();
    let mut repo_entries = Vec::new();
    for image in images {
        let mut layer_names = Vec::new();
        for layer in &image.layers {
            let dir = hex(&layer.diff_id()).to_string();
            members.add(format!("{dir}/VERSION"), b"1.0".to_vec());
            members.add(format!("{dir}/layer.tar"), layer.blob());
            layer_names.push(format!("{dir}/layer.tar"));
        }
        let config_name = format!("{}.json", hex(&image.id()));
        members.add(config_name.clone(), image.config_json());
        manifest.push(json!({
            "Config": config_name,
            "RepoTags": if image.tags.is_empty() { Value::Null } else { json!(image.tags) },
            "Layers": layer_names,
        }));
        if let Some(top) = layer_names.last() {
            let top = top.trim_end_matches("/layer.tar").to_string();
            for tag in &image.tags {
                repo_entries.push((tag.clone(), top.clone()));
            }
        }
    }
    members.add(
        "manifest.json".to_string(),
        serde_json::to_vec(&manifest).expect("serialize a JSON value"),
    );
    if !repo_entries.is_empty() {
        members.add("repositories".to_string(), repositories(&repo_entries));
    }
    archive_tar(&members.list)
}

/// An OCI image manifest for `image` whose blobs go into `members`; returns its descriptor
/// fields (digest, size).
fn oci_manifest(members: &mut Members, image: &ImageBuilder) -> (String, usize) {
    let (config_digest, config_size) = members.add_blob(image.config_json());
    let layers: Vec<Value> = image
        .layers
        .iter()
        .map(|layer| {
            let media_type = layer.oci_media_type();
            let (digest, size) = members.add_blob(layer.blob());
            json!({"mediaType": media_type, "digest": digest, "size": size})
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": layers,
    });
    members.add_blob(serde_json::to_vec(&manifest).expect("serialize a JSON value"))
}

/// Docker's `io.containerd.image.name` form of a tag: `docker.io/library/busybox:latest`.
fn full_name(tag: &str) -> String {
    let (name, tag) = split_tag(tag);
    let first = name.split('/').next().unwrap_or(name);
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let name = if has_domain {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{name}:{tag}")
}

fn ref_annotations(tag: Option<&str>) -> Value {
    match tag {
        None => Value::Null,
        Some(tag) => json!({
            "io.containerd.image.name": full_name(tag),
            "org.opencontainers.image.ref.name": split_tag(tag).1,
        }),
    }
}

fn descriptor(media_type: &str, (digest, size): (String, usize), tag: Option<&str>) -> Value {
    let mut d = json!({"mediaType": media_type, "digest": digest, "size": size});
    let annotations = ref_annotations(tag);
    if let (Value::Object(map), false) = (&mut d, annotations.is_null()) {
        map.insert("annotations".to_string(), annotations);
    }
    d
}

fn layout_tar(mut members: Members, index_manifests: Vec<Value>) -> Vec<u8> {
    members.add(
        "oci-layout".to_string(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index_manifests,
    });
    members.add(
        "index.json".to_string(),
        serde_json::to_vec(&index).expect("serialize a JSON value"),
    );
    archive_tar(&members.list)
}

/// An OCI image layout: `index.json` lists one manifest descriptor per tag of each image
/// (annotated with `org.opencontainers.image.ref.name` and `io.containerd.image.name`), or one
/// without annotations for an untagged image.
pub fn oci_layout(images: &[&ImageBuilder]) -> Vec<u8> {
    let mut members = Members::default();
    let mut index_manifests = Vec::new();
    for image in images {
        let manifest = oci_manifest(&mut members, image);
        let media_type = "application/vnd.oci.image.manifest.v1+json";
        if image.tags.is_empty() {
            index_manifests.push(descriptor(media_type, manifest.clone(), None));
        }
        for tag in &image.tags {
            index_manifests.push(descriptor(media_type, manifest.clone(), Some(tag)));
        }
    }
    layout_tar(members, index_manifests)
}

/// An OCI image layout whose `index.json` points at an image index listing every image of
/// `platforms` with its platform (`architecture`/`os` of each builder); the index descriptor
/// carries `tag`.
pub fn oci_layout_multi_platform(platforms: &[&ImageBuilder], tag: Option<&str>) -> Vec<u8> {
    let mut members = Members::default();
    let manifests: Vec<Value> = platforms
        .iter()
        .map(|image| {
            let (digest, size) = oci_manifest(&mut members, image);
            json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "platform": {"architecture": image.architecture, "os": image.os},
            })
        })
        .collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let index_blob = members.add_blob(serde_json::to_vec(&index).expect("serialize a JSON value"));
    let top = descriptor("application/vnd.oci.image.index.v1+json", index_blob, tag);
    layout_tar(members, vec![top])
}

/// Docker 25+'s `docker save` layout: an OCI layout whose `manifest.json` names blobs under
/// `blobs/sha256/`.
pub fn docker_archive_blobs(images: &[&ImageBuilder]) -> Vec<u8> {
    let mut members = Members::default();
    let mut index_manifests = Vec::new();
    let mut manifest_json = Vec::new();
    for image in images {
        let manifest = oci_manifest(&mut members, image);
        let media_type = "application/vnd.oci.image.manifest.v1+json";
        let tag = image.tags.first().map(String::as_str);
        index_manifests.push(descriptor(media_type, manifest, tag));
        manifest_json.push(json!({
            "Config": format!("blobs/sha256/{}", hex(&image.id())),
            "RepoTags": if image.tags.is_empty() { Value::Null } else { json!(image.tags) },
            "Layers": image.layers.iter()
                .map(|l| format!("blobs/sha256/{}", hex(&sha256_digest(&l.blob()))))
                .collect::<Vec<_>>(),
        }));
    }
    members.add(
        "manifest.json".to_string(),
        serde_json::to_vec(&manifest_json).expect("serialize a JSON value"),
    );
    layout_tar(members, index_manifests)
}
