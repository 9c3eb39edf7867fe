//! Image metadata: manifests, indexes, image configs, platforms, layer media types and the
//! chain IDs that name a stack of layers.
//!
//! OCI and Docker schema 2 documents have the same shape (a config descriptor plus layer
//! descriptors; a list of platform-tagged manifest descriptors), so one [`Manifest`] and one
//! [`Index`] type cover both, and [`MediaKind`] records which one a document claimed to be.
//! Descriptors carry a parsed [`Digest`], so a document with a malformed or non-sha256 digest is
//! refused when it is parsed, not when the digest is used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::layer::Compression;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{what} is not valid JSON of that kind: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedDocument(String),
    #[error("document of media type {media_type:?} looks like neither a manifest nor an index")]
    Unrecognized { media_type: Option<String> },
    #[error("manifest schemaVersion is {0}; only 2 is supported")]
    SchemaVersion(u32),
    #[error(
        "layer media type {0:?} is a foreign/non-distributable layer, which berth does not fetch or unpack"
    )]
    NonDistributableLayer(String),
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    #[error("no manifest in the index matches platform {wanted}; it has: {available}")]
    NoMatchingPlatform { wanted: String, available: String },
    #[error("image config rootfs.type is {0:?}; expected \"layers\"")]
    RootfsType(String),
}

/// Which specification a manifest or index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Oci,
    Docker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// One image for one platform: its config and its layers, base first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub kind: MediaKind,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

/// A multi-platform image: manifests tagged with their platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub kind: MediaKind,
    pub manifests: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

/// What a manifest-ish blob turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    Manifest(Box<Manifest>),
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    schema_version: u32,
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Parses a manifest or index. `media_type` is what the registry or the referring descriptor
/// said (a Content-Type); without it the document's own `mediaType` field decides, and without
/// that its shape does (OCI allows omitting both).
pub fn parse_document(media_type: Option<&str>, json: &[u8]) -> Result<Document, ManifestError> {
    let raw: RawDocument = serde_json::from_slice(json).map_err(|source| ManifestError::Json {
        what: "manifest",
        source,
    })?;
    if raw.schema_version != 2 {
        return Err(ManifestError::SchemaVersion(raw.schema_version));
    }
    let claimed = media_type.map(str::to_owned).or(raw.media_type);
    let shape_is_index = raw.manifests.is_some();
    let (kind, is_index) = match claimed.as_deref() {
        Some(OCI_MANIFEST) => (MediaKind::Oci, false),
        Some(OCI_INDEX) => (MediaKind::Oci, true),
        Some(DOCKER_MANIFEST) => (MediaKind::Docker, false),
        Some(DOCKER_MANIFEST_LIST) => (MediaKind::Docker, true),
        Some(other) => return Err(ManifestError::UnsupportedDocument(other.to_owned())),
        None => (MediaKind::Oci, shape_is_index),
    };
    let unrecognized = || ManifestError::Unrecognized {
        media_type: claimed.clone(),
    };
    if is_index {
        let manifests = raw.manifests.ok_or_else(unrecognized)?;
        Ok(Document::Index(Index {
            kind,
            manifests,
            annotations: raw.annotations,
        }))
    } else {
        let (Some(config), Some(layers)) = (raw.config, raw.layers) else {
            return Err(unrecognized());
        };
        Ok(Document::Manifest(Box::new(Manifest {
            kind,
            config,
            layers,
            annotations: raw.annotations,
        })))
    }
}

/// The compression of a layer blob, from its media type. Foreign (non-distributable) layers
/// are refused: their content lives outside the registry and they are deprecated.
pub fn layer_compression(media_type: &str) -> Result<Compression, ManifestError> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Ok(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd"
        | "application/vnd.docker.image.rootfs.diff.tar+zstd" => Ok(Compression::Zstd),
        m if m.contains("nondistributable") || m.contains("foreign") => {
            Err(ManifestError::NonDistributableLayer(m.to_owned()))
        }
        m => Err(ManifestError::UnsupportedLayer(m.to_owned())),
    }
}

/// The default process and metadata an image asks for (`config` in the image config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Keys of Go's `map[string]struct{}`, e.g. `80/tcp`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
}

/// The `{}` value of a Go `map[string]struct{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Docker's HEALTHCHECK; durations are in nanoseconds, as Docker writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True for history entries that made no layer (ENV, CMD...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The image config blob (OCI `application/vnd.oci.image.config.v1+json` or Docker's
/// `application/vnd.docker.container.image.v1+json`; same fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    pub rootfs: RootFs,
    #[serde(default, deserialize_with = "nullable")]
    pub history: Vec<History>,
}

impl ImageConfig {
    pub fn parse(json: &[u8]) -> Result<ImageConfig, ManifestError> {
        let config: ImageConfig =
            serde_json::from_slice(json).map_err(|source| ManifestError::Json {
                what: "image config",
                source,
            })?;
        if config.rootfs.kind != "layers" {
            return Err(ManifestError::RootfsType(config.rootfs.kind));
        }
        Ok(config)
    }

    /// The chain ID of each layer prefix, base first: the keys of the committed snapshots.
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.rootfs.diff_ids)
    }
}

/// Go writes `null` for empty slices and maps; treat it as empty.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        };
        chain.push(next);
    }
    chain
}

/// The image ID: the digest of the config blob's exact bytes.
pub fn image_id(config_json: &[u8]) -> Digest {
    Digest::of(config_json)
}

/// A platform to pick from an index, normalized (`x86_64` is `amd64`, arm64's default variant
/// is `v8`, arm's is `v7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformWanted {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformWanted {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> PlatformWanted {
        let (architecture, variant) = normalize_arch(architecture, variant);
        PlatformWanted {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        }
    }

    pub fn linux_amd64() -> PlatformWanted {
        PlatformWanted::new("linux", "amd64", None)
    }

    /// The platform this binary was built for (the host's, for a native build).
    pub fn host() -> PlatformWanted {
        let variant = match std::env::consts::ARCH {
            "arm" => Some("v7"),
            _ => None,
        };
        PlatformWanted::new(std::env::consts::OS, std::env::consts::ARCH, variant)
    }

    /// How well a candidate fits: `None` if it cannot run here, else a rank where higher is
    /// better (an exact variant beats an older compatible one).
    fn rank(&self, candidate: &Platform) -> Option<u32> {
        if candidate.os.to_ascii_lowercase() != self.os {
            return None;
        }
        let (arch, variant) = normalize_arch(&candidate.architecture, candidate.variant.as_deref());
        if arch != self.architecture {
            return None;
        }
        if variant == self.variant {
            return Some(u32::MAX);
        }
        // A CPU runs code built for older variants of its architecture (arm v7 runs v6 and v5;
        // amd64 v3 runs v2 and the v1 baseline).
        let order = variant_order(&arch)?;
        let level = |v: &Option<String>| match v {
            None => Some(0),
            Some(v) => order.iter().position(|o| o == v).map(|p| p as u32 + 1),
        };
        let (have, want) = (level(&variant)?, level(&self.variant)?);
        (have <= want).then_some(have)
    }
}

impl std::fmt::Display for PlatformWanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn variant_order(arch: &str) -> Option<&'static [&'static str]> {
    match arch {
        "arm" => Some(&["v5", "v6", "v7", "v8"]),
        "amd64" => Some(&["v2", "v3", "v4"]),
        _ => None,
    }
}

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.map(|v| {
        let v = v.to_ascii_lowercase();
        if v.starts_with('v') {
            v
        } else {
            format!("v{v}")
        }
    });
    match arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), Some(variant.unwrap_or_else(|| "v8".into()))),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => ("arm".into(), Some(variant.unwrap_or_else(|| "v7".into()))),
        "i386" | "386" | "x86" => ("386".into(), variant),
        _ => (arch, variant),
    }
}

impl Index {
    /// The manifest for `wanted`: the best-ranked match, the first one on a tie. Entries without
    /// a platform (e.g. attestation manifests) never match.
    pub fn select(&self, wanted: &PlatformWanted) -> Result<&Descriptor, ManifestError> {
        let mut best: Option<(u32, &Descriptor)> = None;
        for descriptor in &self.manifests {
            let Some(rank) = descriptor.platform.as_ref().and_then(|p| wanted.rank(p)) else {
                continue;
            };
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, descriptor));
            }
        }
        best.map(|(_, d)| d)
            .ok_or_else(|| ManifestError::NoMatchingPlatform {
                wanted: wanted.to_string(),
                available: self.platform_list(),
            })
    }

    fn platform_list(&self) -> String {
        let names: Vec<String> = self
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect();
        if names.is_empty() {
            "no platforms".into()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests;
