//! The `filters` of `GET /volumes` (dangling, name, driver, label) and `POST /volumes/prune`
//! (label, label!), with dockerd's rules and messages.

use super::VolumeRecord;
use crate::containers::parse_filters;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

type Filters = BTreeMap<String, Vec<String>>;

fn parse(text: &str, accepted: &[&str]) -> Result<Filters> {
    let filters = parse_filters(text)?;
    for key in filters.keys() {
        if !accepted.contains(&key.as_str()) {
            return Err(Error::invalid(format!("Invalid filter '{key}'")));
        }
    }
    Ok(filters)
}

/// `label=KEY` or `label=KEY=VALUE`, all of them: dockerd's MatchKVList.
fn labels_match(wanted: &[String], labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
        None => labels.contains_key(w.as_str()),
    })
}

/// dockerd matches names by regular expression; berth takes the common forms of one: a
/// substring, optionally anchored with `^` and `$`.
fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, core) = match rest.strip_suffix('$') {
        Some(core) => (true, core),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => name == core,
        (true, false) => name.starts_with(core),
        (false, true) => name.ends_with(core),
        (false, false) => name.contains(core),
    }
}

pub struct ListFilter {
    filters: Filters,
    /// `dangling=true` (Some(true)) lists unused volumes, `false` used ones.
    dangling: Option<bool>,
}

impl ListFilter {
    pub fn parse(text: &str) -> Result<Self> {
        let filters = parse(text, &["dangling", "name", "driver", "label"])?;
        let dangling = match filters.get("dangling") {
            None => None,
            Some(values) => {
                let has = |v: &str| values.iter().any(|x| x == v);
                if has("true") || has("1") {
                    Some(true)
                } else if has("false") || has("0") {
                    Some(false)
                } else {
                    let list = values.join(" ");
                    return Err(Error::invalid(format!(
                        "Invalid filter 'dangling=[{list}]'"
                    )));
                }
            }
        };
        Ok(ListFilter { filters, dangling })
    }

    pub fn matches(&self, record: &VolumeRecord, in_use: bool) -> bool {
        let any = |key: &str, test: &dyn Fn(&str) -> bool| {
            self.filters
                .get(key)
                .is_none_or(|values| values.is_empty() || values.iter().any(|v| test(v)))
        };
        any("driver", &|d| d == record.driver)
            && any("name", &|n| name_matches(n, &record.name))
            && self
                .filters
                .get("label")
                .is_none_or(|wanted| labels_match(wanted, &record.labels()))
            && self.dangling.is_none_or(|dangling| dangling != in_use)
    }
}

pub struct PruneFilter {
    filters: Filters,
}

impl PruneFilter {
    pub fn parse(text: &str) -> Result<Self> {
        Ok(PruneFilter {
            filters: parse(text, &["label", "label!"])?,
        })
    }

    pub fn matches(&self, record: &VolumeRecord) -> bool {
        let labels = record.labels();
        let selected = self
            .filters
            .get("label")
            .is_none_or(|wanted| labels_match(wanted, &labels));
        let excluded = self
            .filters
            .get("label!")
            .is_some_and(|unwanted| !unwanted.is_empty() && labels_match(unwanted, &labels));
        selected && !excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(name: &str, labels: &[(&str, &str)]) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            created_at: String::new(),
            labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            options: None,
        }
    }

    #[test]
    fn list_filters_select_as_dockerd_does() {
        let lab = volume("lab", &[("k", "v"), ("k2", "")]);
        let plain = volume("plain", &[]);
        let f = |text: &str| ListFilter::parse(text).unwrap();
        assert!(f(r#"{"name":["la"]}"#).matches(&lab, false));
        assert!(!f(r#"{"name":["^ab"]}"#).matches(&lab, false));
        assert!(f(r#"{"name":["^la"]}"#).matches(&lab, false));
        assert!(f(r#"{"label":["k=v"]}"#).matches(&lab, false));
        assert!(f(r#"{"label":["k2"]}"#).matches(&lab, false));
        assert!(!f(r#"{"label":["k=x"]}"#).matches(&lab, false));
        assert!(!f(r#"{"label":["k"]}"#).matches(&plain, false));
        assert!(!f(r#"{"driver":["loc"]}"#).matches(&plain, false));
        assert!(f(r#"{"driver":{"local":true}}"#).matches(&plain, false));
        assert!(f(r#"{"dangling":["true"]}"#).matches(&plain, false));
        assert!(!f(r#"{"dangling":["1"]}"#).matches(&plain, true));
        assert!(f(r#"{"dangling":["false"]}"#).matches(&plain, true));
        assert_eq!(
            ListFilter::parse(r#"{"dangling":["maybe"]}"#)
                .err()
                .map(|e| e.message),
            Some("Invalid filter 'dangling=[maybe]'".into())
        );
        assert_eq!(
            ListFilter::parse(r#"{"bogus":["1"]}"#)
                .err()
                .map(|e| e.message),
            Some("Invalid filter 'bogus'".into())
        );
    }

    #[test]
    fn prune_filters_take_labels_only() {
        let lab = volume("lab", &[("k", "v")]);
        let plain = volume("plain", &[]);
        let f = |text: &str| PruneFilter::parse(text).unwrap();
        assert!(f("").matches(&lab) && f("").matches(&plain));
        assert!(f(r#"{"label":["k"]}"#).matches(&lab));
        assert!(!f(r#"{"label":["k"]}"#).matches(&plain));
        assert!(!f(r#"{"label!":["k"]}"#).matches(&lab));
        assert!(f(r#"{"label!":["k"]}"#).matches(&plain));
        for bad in [r#"{"all":["true"]}"#, r#"{"dangling":["true"]}"#] {
            assert!(PruneFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
