//! `docker save`: one or many images as a classic docker-archive (`manifest.json` with
//! `RepoTags`, `repositories`, `<id>.json` configs, `<v1 id>/{VERSION,json,layer.tar}` with
//! uncompressed layer tars), the layout dockerd 20.10 writes and `docker load` reads.

use super::layers::{self, digest};
use super::reference::{self, ImageRef};
use super::{ImageRecord, Images};
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
            let raw: Value = serde_json::from_slice(&config_blob).unwrap_or(Value::Null);
            let mut layer_names = Vec::new();
            let mut parent: Option<String> = None;
            for i in 0..record.layers.len() {
                let chain_id = record.chain_ids.get(i).cloned().unwrap_or_default();
                let top = i + 1 == record.layers.len();
                let fields = v1_fields(&raw, top);
                let v1_id = v1_id(&fields, &chain_id, parent.as_deref());
                if written.insert(v1_id.clone()) {
                    let json = v1_json(&v1_id, parent.as_deref(), &fields, &record.config.os);
                    tar.dir(&format!("{v1_id}/")).map_err(write_err)?;
                    tar.file(&format!("{v1_id}/VERSION"), b"1.0")
                        .map_err(write_err)?;
                    tar.file(&format!("{v1_id}/json"), &json)
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

/// Go's `encoding/json` escapes these inside strings; the v1 IDs hash Go's bytes.
fn go_escape(json: String) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Go's `container.Config` marshalled (struct field order, `omitempty` where Go has it),
/// from an image config's `config` / `container_config` object (absent: the zero value).
fn go_container_config(config: Option<&Value>) -> String {
    let empty = Map::new();
    let config = config.and_then(Value::as_object).unwrap_or(&empty);
    let text = |k: &str| config.get(k).cloned().unwrap_or_else(|| json!(""));
    let nullable = |k: &str| config.get(k).cloned().unwrap_or(Value::Null);
    let boolean = |k: &str| config.get(k).cloned().unwrap_or(json!(false));
    let present = |k: &str| {
        config
            .get(k)
            .filter(|v| !v.is_null() && *v != &json!(false) && *v != &json!("") && *v != &json!({}))
            .cloned()
    };
    let mut fields: Vec<(&str, Value)> = Vec::new();
    for k in ["Hostname", "Domainname", "User"] {
        fields.push((k, text(k)));
    }
    for k in ["AttachStdin", "AttachStdout", "AttachStderr"] {
        fields.push((k, boolean(k)));
    }
    if let Some(v) = present("ExposedPorts") {
        fields.push(("ExposedPorts", v));
    }
    for k in ["Tty", "OpenStdin", "StdinOnce"] {
        fields.push((k, boolean(k)));
    }
    fields.push(("Env", nullable("Env")));
    fields.push(("Cmd", nullable("Cmd")));
    for k in ["Healthcheck", "ArgsEscaped"] {
        if let Some(v) = present(k) {
            fields.push((k, v));
        }
    }
    fields.push(("Image", text("Image")));
    fields.push(("Volumes", nullable("Volumes")));
    fields.push(("WorkingDir", text("WorkingDir")));
    fields.push(("Entrypoint", nullable("Entrypoint")));
    for k in ["NetworkDisabled", "MacAddress"] {
        if let Some(v) = present(k) {
            fields.push((k, v));
        }
    }
    fields.push(("OnBuild", nullable("OnBuild")));
    fields.push(("Labels", nullable("Labels")));
    for k in ["StopSignal", "StopTimeout", "Shell"] {
        if let Some(v) = present(k) {
            fields.push((k, v));
        }
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", compact(&json!(k)), compact(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Go's `time.Time` JSON of an RFC 3339 string (`RFC3339Nano`: no trailing zeros).
fn go_time(created: &str) -> String {
    match created.split_once('.') {
        Some((secs, rest)) => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let zone = &rest[digits.len()..];
            let digits = digits.trim_end_matches('0');
            if digits.is_empty() {
                format!("{secs}{zone}")
            } else {
                format!("{secs}.{digits}{zone}")
            }
        }
        None => created.to_string(),
    }
}

/// The v1 image of one layer as dockerd 20.10's `docker save` makes it: the image's own
/// fields for the top layer, only `created` (the Unix epoch) below. Returns
/// `(key, JSON)` members in Go's struct order, without `id` and `parent`.
fn v1_fields(raw: &Value, top: bool) -> Vec<(&'static str, String)> {
    let container_config = go_container_config(if top {
        raw.get("container_config")
    } else {
        None
    });
    if !top {
        return vec![
            ("created", compact(&json!("1970-01-01T00:00:00Z"))),
            ("container_config", container_config),
        ];
    }
    let text = |k: &str| raw.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut fields = Vec::new();
    if let Some(v) = text("comment") {
        fields.push(("comment", compact(&json!(v))));
    }
    let created = text("created")
        .map(go_time)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    fields.push(("created", compact(&json!(created))));
    if let Some(v) = text("container") {
        fields.push(("container", compact(&json!(v))));
    }
    fields.push(("container_config", container_config));
    for k in ["docker_version", "author"] {
        if let Some(v) = text(k) {
            fields.push((k, compact(&json!(v))));
        }
    }
    if raw.get("config").is_some_and(|c| !c.is_null()) {
        fields.push(("config", go_container_config(raw.get("config"))));
    }
    for k in ["architecture", "variant", "os"] {
        if let Some(v) = text(k) {
            fields.push((k, compact(&json!(v))));
        }
    }
    fields
}

/// dockerd's `v1.CreateID`: sha256 of the v1 image's fields plus `layer_id` (the chain ID)
/// and `parent` (the parent's v1 ID), keys sorted as Go marshals a map.
fn v1_id(fields: &[(&'static str, String)], chain_id: &str, parent: Option<&str>) -> String {
    let mut map: std::collections::BTreeMap<&str, String> =
        fields.iter().map(|(k, v)| (*k, v.clone())).collect();
    map.insert("layer_id", compact(&json!(chain_id)));
    if let Some(p) = parent {
        map.insert("parent", compact(&json!(format!("sha256:{p}"))));
    }
    let body: Vec<String> = map.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    Digest::of(go_escape(format!("{{{}}}", body.join(","))).as_bytes())
        .hex()
        .to_string()
}

/// The `<v1 id>/json` member: id, parent, then the v1 fields, in Go's order.
fn v1_json(id: &str, parent: Option<&str>, fields: &[(&'static str, String)], os: &str) -> Vec<u8> {
    let mut parts = vec![format!("\"id\":{}", compact(&json!(id)))];
    if let Some(p) = parent {
        parts.push(format!("\"parent\":{}", compact(&json!(p))));
    }
    parts.extend(fields.iter().map(|(k, v)| format!("\"{k}\":{v}")));
    if !fields.iter().any(|(k, _)| *k == "os") {
        parts.push(format!("\"os\":{}", compact(&json!(os))));
    }
    go_escape(format!("{{{}}}", parts.join(","))).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IDs dockerd 20.10.24 gave the layers of a testkit image (`docker save`, recorded).
    #[test]
    fn v1_ids_are_the_ones_dockerd_writes() {
        let raw: Value = serde_json::from_str(
            r#"{"architecture":"amd64","config":{},"created":"2020-09-13T12:26:40Z","os":"linux"}"#,
        )
        .unwrap();
        let c0 = "sha256:e2244cd39a2b140ede4b2c0debf478c781f024ec8dc7d0c8dff995165edcdb15";
        let c1 = Digest::of(
            format!("{c0} sha256:57b4b5d44e00d15f6c87a4b8ddbe3bf2933059130109e72070fca0cd2cf30894")
                .as_bytes(),
        )
        .to_string();
        let base = v1_id(&v1_fields(&raw, false), c0, None);
        assert_eq!(
            base,
            "66b20afd41915a1136c305b6c9a6091532cb6712aa5e2ecad0ffbfaed9227d86"
        );
        let top = v1_id(&v1_fields(&raw, true), &c1, Some(&base));
        assert_eq!(
            top,
            "91cebcf16aed79d94bbeb9780059fec347859b79d269a7e46a45c494e68eece0"
        );
    }
}
