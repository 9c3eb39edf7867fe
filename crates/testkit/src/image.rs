//! An image: layers and config.

use crate::layer::Layer;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct ImageBuilder {
    pub layers: Vec<Layer>,
    pub tags: Vec<String>,
    pub architecture: String,
    pub os: String,
    pub created: String,
    pub author: Option<String>,
    /// The `config` object of the image config (Docker's field names).
    pub config: Map<String, Value>,
    /// Extra history entries without a layer (`empty_layer`), each a `created_by`.
    pub empty_history: Vec<String>,
    /// diffIDs to write into the config instead of the real ones (for mismatch tests).
    pub diff_ids_override: Option<Vec<String>>,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder::new()
    }
}

impl ImageBuilder {
    pub fn new() -> ImageBuilder {
        ImageBuilder {
            layers: Vec::new(),
            tags: Vec::new(),
            architecture: "amd64".to_string(),
            os: "linux".to_string(),
            created: "2020-09-13T12:26:40Z".to_string(),
            author: None,
            config: Map::new(),
            empty_history: Vec::new(),
            diff_ids_override: None,
        }
    }

    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }
    /// A tag for archives (`busybox:latest`, `example.com/x/y:t`).
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }
    pub fn architecture(mut self, arch: &str) -> Self {
        self.architecture = arch.to_string();
        self
    }
    pub fn os(mut self, os: &str) -> Self {
        self.os = os.to_string();
        self
    }
    /// RFC 3339 creation time; different times make different IDs of the same layers.
    pub fn created(mut self, created: &str) -> Self {
        self.created = created.to_string();
        self
    }
    pub fn author(mut self, author: &str) -> Self {
        self.author = Some(author.to_string());
        self
    }
    /// Any field of `config` (`"StopSignal"`, `"Healthcheck"`...).
    pub fn config_field(mut self, key: &str, value: Value) -> Self {
        self.config.insert(key.to_string(), value);
        self
    }
    pub fn cmd(self, cmd: &[&str]) -> Self {
        self.config_field("Cmd", json!(cmd))
    }
    pub fn entrypoint(self, entrypoint: &[&str]) -> Self {
        self.config_field("Entrypoint", json!(entrypoint))
    }
    pub fn env(mut self, var: &str) -> Self {
        let env = self
            .config
            .entry("Env")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = env {
            list.push(Value::String(var.to_string()));
        }
        self
    }
    pub fn workdir(self, dir: &str) -> Self {
        self.config_field("WorkingDir", json!(dir))
    }
    pub fn user(self, user: &str) -> Self {
        self.config_field("User", json!(user))
    }
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.insert_in("Labels", key, json!(value));
        self
    }
    /// `80/tcp`.
    pub fn expose(mut self, port: &str) -> Self {
        self.insert_in("ExposedPorts", port, json!({}));
        self
    }
    pub fn volume(mut self, path: &str) -> Self {
        self.insert_in("Volumes", path, json!({}));
        self
    }
    pub fn history_note(mut self, created_by: &str) -> Self {
        self.empty_history.push(created_by.to_string());
        self
    }

    fn insert_in(&mut self, field: &str, key: &str, value: Value) {
        let map = self
            .config
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = map {
            map.insert(key.to_string(), value);
        }
    }

    /// Writes `diff_ids` into the config in place of the layers' real ones.
    pub fn lie_about_diff_ids(mut self, diff_ids: &[&str]) -> Self {
        self.diff_ids_override = Some(diff_ids.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn diff_ids(&self) -> Vec<String> {
        if let Some(ids) = &self.diff_ids_override {
            return ids.clone();
        }
        self.layers.iter().map(Layer::diff_id).collect()
    }

    /// The config blob, exactly as archived.
    pub fn config_json(&self) -> Vec<u8> {
        let mut history: Vec<Value> = (0..self.layers.len())
            .map(|i| json!({"created": self.created, "created_by": format!("layer {i}")}))
            .collect();
        for note in &self.empty_history {
            history.push(json!({"created": self.created, "created_by": note, "empty_layer": true}));
        }
        let mut doc = json!({
            "architecture": self.architecture,
            "os": self.os,
            "created": self.created,
            "config": Value::Object(self.config.clone()),
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids()},
            "history": history,
        });
        if let (Some(author), Value::Object(map)) = (&self.author, &mut doc) {
            map.insert("author".to_string(), json!(author));
        }
        serde_json::to_vec(&doc).expect("serialize a JSON value")
    }

    /// `sha256:<hex>` of the config blob.
    pub fn id(&self) -> String {
        crate::sha256_digest(&self.config_json())
    }
}
