//! `docker commit`, the container side: the writable layer (with the container frozen while it
//! is read, unless `pause=0`) and the config the new image gets.

use super::changes::ENGINE_MOUNT_POINTS;
use crate::containers::Inner;
use crate::containers::options::Config;
use crate::containers::record::{ContainerRecord, State};
use crate::error::{Error, ErrorKind, Result};
use crate::images::{CommitImage, apply_changes};
use berth_image::manifest::{ContainerConfig, Empty, Healthcheck};
use serde_json::{Value, json};
use std::io::{BufWriter, Write};

/// `POST /commit` query parameters (and body).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: String,
    pub author: String,
    /// Freeze the container while its layer is read (the API's default).
    pub pause: bool,
    /// Dockerfile lines (`CMD ["sh"]`, `ENV A=b`, ...).
    pub changes: Vec<String>,
    /// A config from the request body: its non-empty fields replace the container's.
    pub config: Option<Config>,
}

/// Thaws the container when dropped, if it was frozen for the commit.
struct Thaw<'a> {
    inner: &'a Inner,
    record: &'a ContainerRecord,
    frozen: bool,
}

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        if self.frozen
            && let Err(e) = self.inner.freeze(self.record, false)
        {
            tracing::warn!("thaw {} after commit: {e}", self.record.id);
        }
    }
}

impl Inner {
    /// `POST /commit?container=`: returns the new image's ID.
    pub(crate) fn commit(&self, reference: &str, options: &CommitOptions) -> Result<String> {
        self.with_container(reference, |record| {
            let parent = self.images.resolve(&record.image_id).map_err(|e| {
                if e.kind == ErrorKind::NotFound {
                    Error::conflict(format!(
                        "cannot commit container {}: its image {} was removed, and the new \
                         image needs its layers",
                        record.id, record.image_id
                    ))
                } else {
                    e
                }
            })?;
            let mut own = record.config.clone();
            if own.hostname.is_empty() {
                own.hostname = record.short_id().to_string();
            }
            let container_config = image_config_of(&own, options.config.as_ref());
            let mut changed = container_config.clone();
            apply_changes(&mut changed, &options.changes)?;

            let layer = self.images.temp_path("commit");
            let written = self.write_layer(record, options.pause, &layer);
            let result = written.and_then(|has_changes| {
                self.images.commit(&CommitImage {
                    parent: &parent,
                    layer: has_changes.then_some(layer.as_path()),
                    config: docker_config(&own, &changed),
                    container_config: docker_config(&own, &container_config),
                    container_id: &record.id,
                    author: &options.author,
                    comment: &options.comment,
                    created_by: record.config.cmd.clone().unwrap_or_default().join(" "),
                    repo: options.repo.as_deref(),
                    tag: options.tag.as_deref(),
                })
            });
            if let Err(e) = std::fs::remove_file(&layer)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("remove {}: {e}", layer.display());
            }
            result
        })
    }

    /// Writes the container's changes to `path` as a tar; false when there are none.
    fn write_layer(
        &self,
        record: &ContainerRecord,
        pause: bool,
        path: &std::path::Path,
    ) -> Result<bool> {
        let frozen = pause && record.state == State::Running;
        if frozen {
            self.freeze(record, true)?;
        }
        let _thaw = Thaw {
            inner: self,
            record,
            frozen,
        };
        let snapshots = self.images.snapshotter();
        let what = |e: berth_image::snapshot::SnapshotError| {
            Error::context(format!("take the layer of {}", record.id), e)
        };
        let changes = snapshots
            .changes(&record.id, ENGINE_MOUNT_POINTS)
            .map_err(what)?;
        if changes.is_empty() {
            return Ok(false);
        }
        let file = std::fs::File::create(path)
            .map_err(|e| Error::context(format!("create {}", path.display()), e))?;
        let mut out = BufWriter::new(file);
        snapshots
            .write_changes(&record.id, &changes, &mut out)
            .map_err(what)?;
        out.flush()
            .map_err(|e| Error::context(format!("write {}", path.display()), e))?;
        Ok(true)
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The container's config in the image config's terms, with a request body's config (if any)
/// taking precedence field by field, as dockerd merges them.
fn image_config_of(config: &Config, body: Option<&Config>) -> ContainerConfig {
    let keys = |m: &std::collections::BTreeMap<String, crate::containers::options::Empty>| {
        m.keys().map(|k| (k.clone(), Empty {})).collect()
    };
    let mut out = ContainerConfig {
        user: non_empty(&config.user),
        env: config.env.clone(),
        entrypoint: config.entrypoint.clone(),
        cmd: config.cmd.clone(),
        working_dir: non_empty(&config.working_dir),
        exposed_ports: keys(&config.exposed_ports),
        volumes: keys(&config.volumes),
        labels: config.labels.clone(),
        stop_signal: non_empty(&config.stop_signal),
        healthcheck: config
            .healthcheck
            .clone()
            .and_then(|h| serde_json::from_value::<Healthcheck>(h).ok()),
    };
    if let Some(b) = body {
        if !b.user.is_empty() {
            out.user = Some(b.user.clone());
        }
        if !b.env.is_empty() {
            out.env = b.env.clone();
        }
        if b.entrypoint.is_some() {
            out.entrypoint = b.entrypoint.clone();
        }
        if b.cmd.is_some() {
            out.cmd = b.cmd.clone();
        }
        if !b.working_dir.is_empty() {
            out.working_dir = Some(b.working_dir.clone());
        }
        if !b.exposed_ports.is_empty() {
            out.exposed_ports = keys(&b.exposed_ports);
        }
        if !b.volumes.is_empty() {
            out.volumes = keys(&b.volumes);
        }
        if !b.labels.is_empty() {
            out.labels = b.labels.clone();
        }
    }
    out
}

/// Go's `container.Config` as dockerd writes it into a committed image: the container's own
/// fields (hostname, stdio, image) with `image`'s process and metadata fields.
fn docker_config(container: &Config, image: &ContainerConfig) -> Value {
    let or_null = |v: Value| {
        if v == json!([]) || v == json!({}) {
            Value::Null
        } else {
            v
        }
    };
    let mut out = json!({
        "Hostname": container.hostname,
        "Domainname": container.domainname,
        "User": image.user.clone().unwrap_or_default(),
        "AttachStdin": container.attach_stdin,
        "AttachStdout": container.attach_stdout,
        "AttachStderr": container.attach_stderr,
        "Tty": container.tty,
        "OpenStdin": container.open_stdin,
        "StdinOnce": container.stdin_once,
        "Env": or_null(json!(image.env)),
        "Cmd": image.cmd,
        "Image": container.image,
        "Volumes": or_null(json!(image.volumes)),
        "WorkingDir": image.working_dir.clone().unwrap_or_default(),
        "Entrypoint": image.entrypoint,
        "OnBuild": Value::Null,
        "Labels": image.labels,
    });
    if !image.exposed_ports.is_empty() {
        out["ExposedPorts"] = json!(image.exposed_ports);
    }
    if let Some(h) = &image.healthcheck {
        out["Healthcheck"] = json!(h);
    }
    if let Some(s) = &image.stop_signal {
        out["StopSignal"] = json!(s);
    }
    out
}
