//! `docker load`: docker-archive tars (classic `<id>/layer.tar` and Docker 25's `blobs/sha256`,
//! one or many images) and OCI image layouts (`index.json` → manifest, or index → platform).
//!
//! Everything is checked and written (blobs, snapshots) before one transaction records all the
//! images and tags of the archive; a failure records nothing and leaves no snapshot.

use super::archive::Archive;
use super::layers::{self, digest_of};
use super::reference;
use super::{ImageRecord, Images, LayerInfo, time};
use crate::error::{Error, Result};
use berth_image::digest::Digest;
use berth_image::layer::Compression;
use berth_image::manifest::{
    self, Descriptor, Document, ImageConfig, PlatformWanted, layer_compression, parse_document,
};
use serde::Deserialize;
use std::path::Path;

/// What a load reports while it runs (the API turns them into dockerd's JSON messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEvent {
    /// A layer was unpacked (not reported for layers already present).
    Layer { short_id: String, size: u64 },
    /// A line of the result: `Loaded image: busybox:latest\n`.
    Message(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: String,
    pub tags: Vec<String>,
}

/// One image found in the archive, not yet checked.
struct Candidate {
    what: String,
    config: Vec<u8>,
    /// Config digest announced by a descriptor (OCI), checked against the bytes.
    config_digest: Option<Digest>,
    tags: Vec<String>,
    repo_digests: Vec<String>,
    layers: Vec<LayerSource>,
}

struct LayerSource {
    member: String,
    /// Digest announced by the descriptor (OCI); classic archives name layers otherwise.
    digest: Option<Digest>,
    compression: Option<Compression>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

fn blob_member(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

fn bad_json(what: &str, e: serde_json::Error) -> Error {
    Error::invalid(format!("invalid archive: {what}: {e}"))
}

impl Images {
    /// Loads every image of the archive at `path`.
    pub fn load(&self, path: &Path, events: &mut dyn FnMut(LoadEvent)) -> Result<Vec<LoadedImage>> {
        let archive = Archive::open(path)?;
        let candidates = if archive.contains("manifest.json") {
            docker_candidates(&archive)?
        } else if archive.contains("index.json") {
            oci_candidates(&archive)?
        } else {
            return Err(Error::invalid(
                "invalid archive: it has neither manifest.json (docker save) nor index.json (OCI \
                 image layout)",
            ));
        };
        let result = self.store_candidates(&archive, candidates, events);
        if result.is_err() {
            // Layers this load committed that no image records.
            if let Err(e) = self.collect_unreferenced() {
                tracing::warn!("clean up after a failed load: {e}");
            }
        }
        result
    }

    fn store_candidates(
        &self,
        archive: &Archive,
        candidates: Vec<Candidate>,
        events: &mut dyn FnMut(LoadEvent),
    ) -> Result<Vec<LoadedImage>> {
        let shared = self.gc_lock.read().map_err(|_| poisoned())?;
        let mut records = Vec::new();
        for candidate in candidates {
            let record = self.store_candidate(archive, &candidate, events)?;
            records.push((record, candidate.tags));
        }
        let moved = self.store.write(|txn| {
            let mut moved = Vec::new();
            for (record, tags) in &records {
                moved.push(self.commit_record(txn, record, tags)?);
            }
            Ok(moved)
        })?;
        drop(shared);
        let mut loaded = Vec::new();
        for ((record, tags), moved) in records.into_iter().zip(moved) {
            for tag in &tags {
                if let Some((_, old)) = moved.iter().find(|(t, _)| t == tag) {
                    events(LoadEvent::Message(format!(
                        "The image {tag} already exists, renaming the old one with ID {old} to \
                         empty string\n"
                    )));
                }
                events(LoadEvent::Message(format!("Loaded image: {tag}\n")));
            }
            if tags.is_empty() {
                events(LoadEvent::Message(format!(
                    "Loaded image ID: {}\n",
                    record.id
                )));
            }
            loaded.push(LoadedImage {
                id: record.id,
                tags,
            });
        }
        Ok(loaded)
    }

    fn store_candidate(
        &self,
        archive: &Archive,
        candidate: &Candidate,
        events: &mut dyn FnMut(LoadEvent),
    ) -> Result<ImageRecord> {
        let what = &candidate.what;
        let config = ImageConfig::parse(&candidate.config)
            .map_err(|e| Error::invalid(format!("invalid archive: config of {what}: {e}")))?;
        let id = manifest::image_id(&candidate.config);
        if let Some(expected) = &candidate.config_digest
            && *expected != id
        {
            return Err(Error::invalid(format!(
                "invalid archive: config of {what} has digest {id}, its manifest says {expected}"
            )));
        }
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != candidate.layers.len() {
            return Err(Error::invalid(format!(
                "invalid archive: {what} has {} layers but its config lists {} diff IDs",
                candidate.layers.len(),
                diff_ids.len()
            )));
        }
        self.content
            .write_bytes(&candidate.config)
            .map_err(|e| Error::context(format!("store the config of {what}"), e))?;
        let chain = config.chain_ids();
        let mut infos = Vec::new();
        for (i, source) in candidate.layers.iter().enumerate() {
            let layer_what = format!("layer {} of {what}", source.member);
            let blob = self.store_member_blob(archive, source, &layer_what)?;
            let chain_key = chain[i].to_string();
            let parent = i.checked_sub(1).map(|p| chain[p].to_string());
            let expected = &diff_ids[i];
            let tar_size = if self.snapshots.stat(&chain_key).is_ok() {
                None
            } else {
                let outcome =
                    self.unpack_layer(parent.as_deref(), &blob, source.compression, &layer_what, |u| {
                        if u.diff_id == *expected {
                            Ok(chain_key.clone())
                        } else {
                            Err(Error::invalid(format!(
                                "{layer_what}: its content has diffID {}, the config says {expected}",
                                u.diff_id
                            )))
                        }
                    })?;
                Some(outcome.unpacked.size)
            };
            let blob_file = self
                .content
                .open_blob(&blob)
                .map_err(|e| Error::context(format!("{layer_what}: open blob"), e))?;
            let size = layers::content_size(blob_file, source.compression)?;
            if tar_size.is_some() {
                events(LoadEvent::Layer {
                    short_id: blob.hex()[..12].to_string(),
                    size,
                });
            }
            let tar_size = match tar_size {
                Some(s) => s,
                None => self.tar_size_of(&blob, source.compression, &layer_what)?,
            };
            infos.push(LayerInfo {
                blob: blob.to_string(),
                diff_id: expected.to_string(),
                tar_size,
                size,
            });
        }
        Ok(ImageRecord {
            id: id.to_string(),
            repo_tags: Vec::new(),
            repo_digests: candidate.repo_digests.clone(),
            size: infos.iter().map(|l| l.size).sum(),
            chain_ids: chain.iter().map(Digest::to_string).collect(),
            config,
            stored_at: time::now_unix(),
            layers: infos,
            last_tag_time: None,
        })
    }

    /// Copies a layer member into the content store (digest computed, or checked when the
    /// descriptor gave one).
    fn store_member_blob(
        &self,
        archive: &Archive,
        source: &LayerSource,
        what: &str,
    ) -> Result<Digest> {
        let digest = match &source.digest {
            Some(d) => d.clone(),
            None => {
                let (reader, _) = archive.open_member(&source.member)?;
                digest_of(reader, what)?.0
            }
        };
        let (reader, size) = archive.open_member(&source.member)?;
        self.content
            .write(&digest, Some(size), reader)
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        Ok(digest)
    }

    /// Length of a blob's uncompressed tar (for layers already unpacked by another image).
    pub(super) fn tar_size_of(
        &self,
        blob: &Digest,
        compression: Option<Compression>,
        what: &str,
    ) -> Result<u64> {
        let file = self
            .content
            .open_blob(blob)
            .map_err(|e| Error::context(format!("{what}: open blob"), e))?;
        let reader = layers::decompressed(file, compression)
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        Ok(digest_of(reader, what)?.1)
    }
}

pub(super) fn poisoned() -> Error {
    Error::internal("the image service lock is poisoned by an earlier panic")
}

fn normalize_tags(tags: &[String], what: &str) -> Result<Vec<String>> {
    tags.iter()
        .map(|t| {
            reference::tag_key(t, None)
                .map_err(|e| Error::invalid(format!("invalid archive: tag of {what}: {e}")))
        })
        .collect()
}

fn docker_candidates(archive: &Archive) -> Result<Vec<Candidate>> {
    let json = archive.read_member("manifest.json")?;
    let manifests: Vec<ArchiveManifest> =
        serde_json::from_slice(&json).map_err(|e| bad_json("manifest.json", e))?;
    if manifests.is_empty() {
        return Err(Error::invalid(
            "invalid archive: manifest.json lists no image",
        ));
    }
    manifests
        .into_iter()
        .map(|m| {
            let what = format!("image {}", m.config);
            Ok(Candidate {
                config: archive.read_member(&m.config)?,
                config_digest: None,
                tags: normalize_tags(&m.repo_tags.unwrap_or_default(), &what)?,
                repo_digests: Vec::new(),
                layers: m
                    .layers
                    .into_iter()
                    .map(|member| LayerSource {
                        member,
                        digest: None,
                        compression: None,
                    })
                    .collect(),
                what,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct OciIndexFile {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

fn oci_candidates(archive: &Archive) -> Result<Vec<Candidate>> {
    let json = archive.read_member("index.json")?;
    let index: OciIndexFile =
        serde_json::from_slice(&json).map_err(|e| bad_json("index.json", e))?;
    if index.manifests.is_empty() {
        return Err(Error::invalid(
            "invalid archive: index.json lists no manifest",
        ));
    }
    index
        .manifests
        .iter()
        .map(|top| oci_candidate(archive, top))
        .collect()
}

/// The `name:tag` an OCI descriptor's annotations give, if any.
fn oci_tag(descriptor: &Descriptor) -> Result<Option<String>> {
    let named = descriptor
        .annotations
        .get("io.containerd.image.name")
        .or_else(|| {
            descriptor
                .annotations
                .get("org.opencontainers.image.ref.name")
                .filter(|n| n.contains(':') || n.contains('/'))
        });
    named
        .map(|n| {
            reference::tag_key(n, None)
                .map_err(|e| Error::invalid(format!("invalid archive: image name {n:?}: {e}")))
        })
        .transpose()
}

fn oci_candidate(archive: &Archive, top: &Descriptor) -> Result<Candidate> {
    let tag = oci_tag(top)?;
    let mut descriptor = top.clone();
    // An index (multi-platform image) leads to the manifest of our platform.
    let manifest = loop {
        let bytes = archive.read_member(&blob_member(&descriptor.digest))?;
        if Digest::of(&bytes) != descriptor.digest {
            return Err(Error::invalid(format!(
                "invalid archive: blob {} does not match its digest",
                descriptor.digest
            )));
        }
        let document = parse_document(Some(&descriptor.media_type), &bytes).map_err(|e| {
            Error::invalid(format!(
                "invalid archive: manifest {}: {e}",
                descriptor.digest
            ))
        })?;
        match document {
            Document::Manifest(m) => break m,
            Document::Index(index) => {
                let chosen = index
                    .select(&PlatformWanted::linux_amd64())
                    .or_else(|_| index.select(&PlatformWanted::host()))
                    .map_err(|e| {
                        Error::invalid(format!("invalid archive: index {}: {e}", descriptor.digest))
                    })?;
                descriptor = chosen.clone();
            }
        }
    };
    let what = match &tag {
        Some(t) => format!("image {t}"),
        None => format!("manifest {}", descriptor.digest),
    };
    let repo_digests = match &tag {
        Some(t) => {
            let name = reference::parse_named(t)?.name;
            vec![format!("{name}@{}", top.digest)]
        }
        None => Vec::new(),
    };
    let layers = manifest
        .layers
        .iter()
        .map(|l| {
            let compression = layer_compression(&l.media_type)
                .map_err(|e| Error::invalid(format!("invalid archive: {what}: {e}")))?;
            Ok(LayerSource {
                member: blob_member(&l.digest),
                digest: Some(l.digest.clone()),
                compression: Some(compression),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Candidate {
        config: archive.read_member(&blob_member(&manifest.config.digest))?,
        config_digest: Some(manifest.config.digest.clone()),
        tags: tag.into_iter().collect(),
        repo_digests,
        layers,
        what,
    })
}
