//! `docker save`: one or many images as a classic docker-archive (`manifest.json` with
//! `RepoTags`, `repositories`, `<id>.json` configs, `<v1 id>/{VERSION,json,layer.tar}` with
//! uncompressed layer tars), the layout dockerd 20.10 writes and `docker load` reads.

use super::layers::{self, digest};
use super::reference::{self, ImageRef};
use super::{ImageRecord, Images, time};
use crate::error::{Error, Result};
use berth_image::digest::Digest;
use serde_json::{Map, Value, json};
use std::io::Write;

/// One image to save and the tags to save it under (none: saved by ID, `RepoTags: null`).
#[derive(Debug, Clone)]
pub struct SaveItem {
    pub record: ImageRecord,
    pub tags: Vec<String>,
}

/// The `ContainerConfig` dockerd writes for images it did not build.
fn empty_container_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

fn to_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

struct TarOut<W: Write> {
    builder: tar::Builder<W>,
    mtime: u64,
}

impl<W: Write> TarOut<W> {
    fn header(&self, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(self.mtime);
        header.set_uid(0);
        header.set_gid(0);
        header
    }
    fn dir(&mut self, name: &str) -> std::io::Result<()> {
        let mut header = self.header(tar::EntryType::Directory, 0, 0o755);
        self.builder
            .append_data(&mut header, name, std::io::empty())
    }
    fn file(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
        let mut header = self.header(tar::EntryType::Regular, data.len() as u64, 0o644);
        self.builder.append_data(&mut header, name, data)
    }
    fn stream(&mut self, name: &str, size: u64, data: impl std::io::Read) -> std::io::Result<()> {
        let mut header = self.header(tar::EntryType::Regular, size, 0o644);
        self.builder.append_data(&mut header, name, data)
    }
}

impl Images {
    /// What `GET /images/get?names=...` saves, resolved before anything is written (a missing
    /// image is a 404, not a broken stream). A repository name alone means all its tags.
    pub fn save_plan(&self, names: &[String]) -> Result<Vec<SaveItem>> {
        let mut items: Vec<SaveItem> = Vec::new();
        let mut add = |record: ImageRecord, tag: Option<String>| {
            let item = match items.iter_mut().position(|i| i.record.id == record.id) {
                Some(i) => &mut items[i],
                None => {
                    items.push(SaveItem {
                        record,
                        tags: Vec::new(),
                    });
                    let last = items.len() - 1;
                    &mut items[last]
                }
            };
            if let Some(tag) = tag
                && !item.tags.contains(&tag)
            {
                item.tags.push(tag);
            }
        };
        for name in names {
            match reference::parse_any(name) {
                Ok(ImageRef::Named(named)) if named.digest.is_none() => {
                    let tagged = named.tagged();
                    let by_tag = self
                        .records()?
                        .into_iter()
                        .find(|r| r.repo_tags.contains(&tagged));
                    if named.is_name_only() {
                        let prefix = format!("{}:", named.name);
                        let all: Vec<(ImageRecord, String)> = self
                            .records()?
                            .into_iter()
                            .flat_map(|r| {
                                r.repo_tags
                                    .iter()
                                    .filter(|t| t.starts_with(&prefix))
                                    .map(|t| (r.clone(), t.clone()))
                                    .collect::<Vec<_>>()
                            })
                            .collect();
                        if !all.is_empty() {
                            for (record, tag) in all {
                                add(record, Some(tag));
                            }
                            continue;
                        }
                    } else if let Some(record) = by_tag {
                        add(record, Some(tagged));
                        continue;
                    }
                    add(self.resolve(name)?, None);
                }
                _ => add(self.resolve(name)?, None),
            }
        }
        Ok(items)
    }

    /// Writes the archive of `items` to `out`.
    pub fn save(&self, items: &[SaveItem], out: impl Write) -> Result<()> {
        let write_err = |e: std::io::Error| Error::context("write the image archive", e);
        let mut tar = TarOut {
            builder: tar::Builder::new(out),
            mtime: 0,
        };
        let mut manifest = Vec::new();
        let mut repositories: Map<String, Value> = Map::new();
        let mut written = std::collections::BTreeSet::new();
        for item in items {
            let record = &item.record;
            let config_blob = self.config_blob(record)?;
            tar.mtime = record.created_unix().max(0) as u64;
            let created = record
                .config
                .created
                .clone()
                .unwrap_or_else(|| time::format_rfc3339(record.created_unix(), 0));
            let mut layer_names = Vec::new();
            let mut parent: Option<String> = None;
            for i in 0..record.layers.len() {
                let chain_id = record.chain_ids.get(i).cloned().unwrap_or_default();
                let v1_id = v1_id(&chain_id, parent.as_deref(), &created);
                let top = i + 1 == record.layers.len();
                if written.insert(v1_id.clone()) {
                    let mut v1 = json!({
                        "id": v1_id,
                        "created": created,
                        "container_config": empty_container_config(),
                        "os": record.config.os,
                    });
                    if let (Some(p), Value::Object(map)) = (&parent, &mut v1) {
                        map.insert("parent".to_string(), json!(p));
                    }
                    if top
                        && let (Ok(config), Value::Object(map)) =
                            (serde_json::to_value(&record.config.config), &mut v1)
                    {
                        map.insert("config".to_string(), config);
                        map.insert(
                            "architecture".to_string(),
                            json!(record.config.architecture),
                        );
                    }
                    tar.dir(&format!("{v1_id}/")).map_err(write_err)?;
                    tar.file(&format!("{v1_id}/VERSION"), b"1.0")
                        .map_err(write_err)?;
                    tar.file(&format!("{v1_id}/json"), &to_json(&v1))
                        .map_err(write_err)?;
                    self.write_layer(&mut tar, &format!("{v1_id}/layer.tar"), record, i)?;
                }
                layer_names.push(format!("{v1_id}/layer.tar"));
                parent = Some(v1_id);
            }
            let config_name = format!("{}.json", record.id.trim_start_matches("sha256:"));
            if written.insert(config_name.clone()) {
                tar.file(&config_name, &config_blob).map_err(write_err)?;
            }
            for tag in &item.tags {
                if let (Some(top), Some((name, t))) = (&parent, tag.rsplit_once(':')) {
                    let repo = repositories
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(repo) = repo {
                        repo.insert(t.to_string(), json!(top));
                    }
                }
            }
            manifest.push(json!({
                "Config": config_name,
                "RepoTags": if item.tags.is_empty() { Value::Null } else { json!(item.tags) },
                "Layers": layer_names,
            }));
        }
        tar.mtime = 0;
        tar.file("manifest.json", &to_json(&Value::Array(manifest)))
            .map_err(write_err)?;
        if !repositories.is_empty() {
            tar.file("repositories", &to_json(&Value::Object(repositories)))
                .map_err(write_err)?;
        }
        tar.builder
            .into_inner()
            .and_then(|mut out| out.flush())
            .map_err(write_err)
    }

    fn write_layer<W: Write>(
        &self,
        tar: &mut TarOut<W>,
        name: &str,
        record: &ImageRecord,
        index: usize,
    ) -> Result<()> {
        let layer = &record.layers[index];
        let what = format!("layer {} of image {}", layer.diff_id, record.id);
        let blob: Digest = digest(&layer.blob)?;
        let file = self
            .content
            .open_blob(&blob)
            .map_err(|e| Error::context(format!("{what}: open blob"), e))?;
        let reader = layers::decompressed(file, None)
            .map_err(|e| Error::context(format!("{what}: decompress"), e))?;
        tar.stream(name, layer.tar_size, reader)
            .map_err(|e| Error::context(format!("write {what} into the archive"), e))
    }
}

/// A stable v1 layer ID, from the layer's chain ID, its parent's v1 ID and the image time
/// (the shape of dockerd's `v1.CreateID`).
fn v1_id(chain_id: &str, parent: Option<&str>, created: &str) -> String {
    let mut config = Map::new();
    config.insert("created".to_string(), json!(created));
    config.insert("layer_id".to_string(), json!(chain_id));
    if let Some(p) = parent {
        config.insert("parent".to_string(), json!(format!("sha256:{p}")));
    }
    Digest::of(&to_json(&Value::Object(config)))
        .hex()
        .to_string()
}
