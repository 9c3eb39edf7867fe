//! `images` (with filters), `history`, and the per-image numbers of `system df`.

use super::{ImageRecord, Images, time};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// Docker's `filters` of `GET /images/json`, decoded: key → values.
pub type ListFilters = BTreeMap<String, Vec<String>>;

/// An image as `docker images` lists it: the record and the references to show
/// (filtered by `reference=`; `<none>:<none>` for a dangling image).
#[derive(Debug, Clone)]
pub struct ListedImage {
    pub record: ImageRecord,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// One line of `docker history`, top first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The image ID on the top line, `<missing>` below.
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: u64,
    pub comment: String,
}

/// One image in `system df`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: u64,
    /// Bytes of its layers that other images use too.
    pub shared_size: u64,
    pub containers: usize,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskUsage {
    /// Bytes of all layers, each counted once.
    pub layers_size: u64,
    pub images: Vec<ImageUsage>,
}

/// `label=key` / `label=key=value` all match, and no `label!=...` does.
pub(super) fn labels_match(
    image: &ImageRecord,
    wanted: Option<&Vec<String>>,
    unwanted: Option<&Vec<String>>,
) -> bool {
    let labels = &image.config.config.labels;
    let has = |filter: &String| match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(filter.as_str()),
    };
    wanted.is_none_or(|w| w.iter().all(has)) && unwanted.is_none_or(|u| !u.iter().any(has))
}

/// Docker's timestamps for `until`/`since`: Unix seconds (with a fraction), RFC 3339, or a
/// duration before now (`10m`, `24h`).
pub(super) fn parse_timestamp(value: &str) -> Result<i64> {
    if let Ok(secs) = value.parse::<f64>() {
        return Ok(secs as i64);
    }
    if let Some(secs) = time::parse_rfc3339(value) {
        return Ok(secs);
    }
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => 0.0,
    };
    match number.parse::<f64>() {
        Ok(n) if scale > 0.0 => Ok(time::now_unix() - (n * scale) as i64),
        _ => Err(Error::invalid(format!(
            "invalid timestamp {value:?}: expected Unix seconds, RFC 3339 or a duration"
        ))),
    }
}

/// Go's `path.Match` for `*`, `?` and `[...]` (a `*` stops at `/`).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name)
                || (name.first().is_some_and(|c| *c != b'/') && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&pattern[1..], &name[1..]),
        (Some(b'['), Some(c)) => match pattern.iter().position(|b| *b == b']') {
            Some(end) => {
                let class = &pattern[1..end];
                let (negate, class) = match class.first() {
                    Some(b'^') | Some(b'!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= (class[i]..=class[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && glob(&pattern[end + 1..], &name[1..])
            }
            None => false,
        },
        (Some(p), Some(c)) => p == c && glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Docker's `reference.FamiliarMatch`: the pattern against `name:tag` or the name alone.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = match tag.rfind(':') {
        Some(i) if !tag[i + 1..].contains('/') => &tag[..i],
        _ => tag.split('@').next().unwrap_or(tag),
    };
    glob(pattern.as_bytes(), tag.as_bytes()) || glob(pattern.as_bytes(), name.as_bytes())
}

impl Images {
    /// `GET /images/json`: newest first. Filters: `dangling`, `label`, `label!`, `before`,
    /// `since`, `reference`; unknown ones are refused as dockerd does.
    pub fn list(&self, filters: &ListFilters) -> Result<Vec<ListedImage>> {
        let mut dangling = None;
        for (key, values) in filters {
            match key.as_str() {
                "dangling" => {
                    for v in values {
                        dangling = Some(match v.as_str() {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => {
                                return Err(Error::invalid(format!(
                                    "Invalid filter 'dangling={v}'"
                                )));
                            }
                        });
                    }
                }
                "label" | "label!" | "before" | "since" | "reference" => {}
                other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
            }
        }
        let created_of = |key: &str| -> Result<Option<i64>> {
            match filters.get(key).and_then(|v| v.first()) {
                Some(r) => Ok(Some(self.resolve(r)?.created_unix())),
                None => Ok(None),
            }
        };
        let before = created_of("before")?;
        let since = created_of("since")?;
        let patterns = filters.get("reference");
        let mut out = Vec::new();
        for record in self.records()? {
            let created = record.created_unix();
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            if !labels_match(&record, filters.get("label"), filters.get("label!")) {
                continue;
            }
            let keep =
                |r: &String| patterns.is_none_or(|p| p.iter().any(|p| reference_matches(p, r)));
            let mut repo_tags: Vec<String> = record
                .repo_tags
                .iter()
                .filter(|r| keep(r))
                .cloned()
                .collect();
            let mut repo_digests: Vec<String> = record
                .repo_digests
                .iter()
                .filter(|r| keep(r))
                .cloned()
                .collect();
            if repo_tags.is_empty() && repo_digests.is_empty() {
                if dangling == Some(false) || patterns.is_some() {
                    continue;
                }
                repo_tags = vec!["<none>:<none>".to_string()];
                repo_digests = vec!["<none>@<none>".to_string()];
            } else if dangling == Some(true) && !record.repo_tags.is_empty() {
                continue;
            }
            out.push(ListedImage {
                record,
                repo_tags,
                repo_digests,
            });
        }
        out.sort_by_key(|l| std::cmp::Reverse(l.record.created_unix()));
        Ok(out)
    }

    /// `docker history REF`, top first.
    pub fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>> {
        let image = self.resolve(reference)?;
        let mut layer_sizes = image.layers.iter().map(|l| l.size);
        let mut entries: Vec<HistoryEntry> = if image.config.history.is_empty() {
            image
                .layers
                .iter()
                .map(|l| HistoryEntry {
                    id: "<missing>".to_string(),
                    created: image.created_unix(),
                    created_by: String::new(),
                    tags: Vec::new(),
                    size: l.size,
                    comment: String::new(),
                })
                .collect()
        } else {
            image
                .config
                .history
                .iter()
                .map(|h| HistoryEntry {
                    id: "<missing>".to_string(),
                    created: h
                        .created
                        .as_deref()
                        .and_then(time::parse_rfc3339)
                        .unwrap_or(0),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    tags: Vec::new(),
                    size: if h.empty_layer {
                        0
                    } else {
                        layer_sizes.next().unwrap_or(0)
                    },
                    comment: h.comment.clone().unwrap_or_default(),
                })
                .collect()
        };
        entries.reverse();
        if entries.is_empty() {
            entries.push(HistoryEntry {
                id: String::new(),
                created: image.created_unix(),
                created_by: String::new(),
                tags: Vec::new(),
                size: 0,
                comment: String::new(),
            });
        }
        entries[0].id = image.id.clone();
        entries[0].tags = image.repo_tags.clone();
        Ok(entries)
    }

    /// Per-image numbers for `system df`; `users` counts each image's containers.
    pub fn disk_usage(&self, users: super::remove::ImageUsers<'_>) -> Result<DiskUsage> {
        let records = self.records()?;
        let mut layer_users: HashMap<&str, usize> = HashMap::new();
        let mut layer_sizes: HashMap<&str, u64> = HashMap::new();
        for record in &records {
            for (chain, layer) in record.chain_ids.iter().zip(&record.layers) {
                *layer_users.entry(chain).or_default() += 1;
                layer_sizes.insert(chain, layer.size);
            }
        }
        let mut images = Vec::new();
        for record in &records {
            let shared_size = record
                .chain_ids
                .iter()
                .zip(&record.layers)
                .filter(|(c, _)| layer_users.get(c.as_str()).copied().unwrap_or(0) > 1)
                .map(|(_, l)| l.size)
                .sum();
            images.push(ImageUsage {
                id: record.id.clone(),
                repo_tags: record.repo_tags.clone(),
                repo_digests: record.repo_digests.clone(),
                created: record.created_unix(),
                size: record.size,
                shared_size,
                containers: users(&record.id)?.len(),
                labels: record.config.config.labels.clone(),
            });
        }
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(DiskUsage {
            layers_size: layer_sizes.values().sum(),
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns_match_like_docker() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:l*", "busybox:latest"));
        assert!(!reference_matches("busy", "busybox:latest"));
        assert!(!reference_matches("*", "foo/bar:1"));
        assert!(reference_matches("*/*", "foo/bar:1"));
    }
}
