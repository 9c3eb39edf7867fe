//! Image references as Docker spells them, and the one normalization every command shares.
//!
//! `busybox`, `busybox:latest`, `docker.io/library/busybox` and `index.docker.io/busybox`
//! all name the tag `busybox:latest` (Docker's "familiar" form, the key of the `tags` table
//! and what `RepoTags` shows); `127.0.0.1:5000/x/y:t` keeps its registry.

use crate::error::{Error, Result};

const DEFAULT_DOMAIN: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";

/// A parsed reference: a repository, with a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Familiar repository name: `busybox`, `foo/bar`, `127.0.0.1:5000/x/y`.
    pub name: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

/// What a string given to `inspect`, `rmi`, `run`... stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `sha256:<64 hex>` or 64 hex: an image ID.
    Id(String),
    /// A repository reference, perhaps also a short ID prefix (`7d2d` parses as a name).
    Named(Reference),
}

impl Reference {
    /// `busybox:latest`; the tag defaults to `latest`.
    pub fn tagged(&self) -> String {
        format!("{}:{}", self.name, self.tag.as_deref().unwrap_or("latest"))
    }

    /// `busybox@sha256:...` when there is a digest.
    pub fn digested(&self) -> Option<String> {
        self.digest.as_ref().map(|d| format!("{}@{d}", self.name))
    }

    /// Whether the reference names only a repository (no tag, no digest).
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The fully qualified name: `docker.io/library/busybox`.
    pub fn full_name(&self) -> String {
        let first = self.name.split('/').next().unwrap_or_default();
        if self.name.contains('/') && is_domain(first) {
            self.name.clone()
        } else if self.name.contains('/') {
            format!("{DEFAULT_DOMAIN}/{}", self.name)
        } else {
            format!("{DEFAULT_DOMAIN}/{OFFICIAL_PREFIX}{}", self.name)
        }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `sha256:<64 hex>`, if `s` is one (or 64 bare hex digits).
pub fn full_id(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (hex.len() == 64 && is_hex(hex)).then(|| format!("sha256:{hex}"))
}

/// A short ID prefix (`7d2d`, `sha256:7d2d`) as the hex to match, if `s` can be one.
pub fn id_prefix(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (hex.len() <= 64 && is_hex(hex)).then_some(hex)
}

fn is_domain(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn invalid(reference: &str, why: &str) -> Error {
    Error::invalid(format!("invalid reference format: {why}: {reference:?}"))
}

/// Parses anything a client may name an image by.
pub fn parse_any(reference: &str) -> Result<ImageRef> {
    if let Some(id) = full_id(reference)
        && (!reference.starts_with("sha256:") || reference.len() == 71)
    {
        return Ok(ImageRef::Id(id));
    }
    parse_named(reference).map(ImageRef::Named)
}

/// Parses `[domain/]path[:tag][@digest]` and normalizes it to its familiar form.
pub fn parse_named(reference: &str) -> Result<Reference> {
    if reference.is_empty() {
        return Err(invalid(
            reference,
            "repository name must have at least one component",
        ));
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| invalid(reference, "unsupported digest algorithm"))?;
            if hex.len() != 64 || !is_hex(hex) {
                return Err(invalid(reference, "invalid digest"));
            }
            (rest, Some(digest.to_string()))
        }
        None => (reference, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(reference, tag)?;
    }
    let name = normalize_name(reference, name)?;
    Ok(Reference {
        name,
        tag: tag.map(str::to_string),
        digest,
    })
}

fn check_tag(reference: &str, tag: &str) -> Result<()> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !first_ok || !rest_ok || tag.len() > 128 {
        return Err(invalid(reference, "invalid tag"));
    }
    Ok(())
}

/// Strips Docker Hub's domain and `library/`, and checks each path component.
fn normalize_name(reference: &str, name: &str) -> Result<String> {
    let mut components: Vec<&str> = name.split('/').collect();
    let domain = match components.first() {
        Some(first) if components.len() > 1 && is_domain(first) => Some(components.remove(0)),
        _ => None,
    };
    if let Some(domain) = domain {
        check_domain(reference, domain)?;
    }
    for component in &components {
        check_component(reference, component)?;
    }
    let hub = matches!(domain, None | Some("docker.io") | Some("index.docker.io"));
    if hub && components.len() > 1 && components[0] == "library" {
        components.remove(0);
    }
    let path = components.join("/");
    if path.len() + domain.map_or(0, |d| d.len() + 1) > 255 {
        return Err(invalid(
            reference,
            "repository name must not be more than 255 characters",
        ));
    }
    Ok(match domain {
        Some(d) if !hub => format!("{d}/{path}"),
        _ => path,
    })
}

fn check_domain(reference: &str, domain: &str) -> Result<()> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !host_ok || !port_ok {
        return Err(invalid(reference, "invalid registry domain"));
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn check_component(reference: &str, component: &str) -> Result<()> {
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(reference, "repository name must be lowercase"));
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut ok = !bytes.is_empty() && alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]);
    let mut i = 0;
    while ok && i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
    }
    if !ok {
        return Err(invalid(reference, "invalid repository name component"));
    }
    Ok(())
}

/// `repo` + `tag` of `POST /images/{name}/tag` or of import to the `tags` key: a tag given
/// separately replaces one inside `repo`; digests are refused; the default tag is `latest`.
pub fn tag_key(repo: &str, tag: Option<&str>) -> Result<String> {
    let mut reference = parse_named(repo)?;
    if reference.digest.is_some() {
        return Err(Error::invalid(format!(
            "refusing to create a tag with a digest reference: {repo:?}"
        )));
    }
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        check_tag(repo, tag)?;
        reference.tag = Some(tag.to_string());
    }
    if reference.name == "sha256" || full_id(&reference.name).is_some() {
        return Err(Error::invalid(format!(
            "refusing to create an ambiguous tag using digest algorithm as name: {repo:?}"
        )));
    }
    Ok(reference.tagged())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(s: &str) -> Reference {
        parse_named(s).unwrap()
    }

    #[test]
    fn hub_names_are_familiar_and_registries_kept() {
        assert_eq!(named("busybox").tagged(), "busybox:latest");
        assert_eq!(named("busybox:latest").tagged(), "busybox:latest");
        assert_eq!(
            named("docker.io/library/busybox").tagged(),
            "busybox:latest"
        );
        assert_eq!(
            named("index.docker.io/library/busybox:1").tagged(),
            "busybox:1"
        );
        assert_eq!(named("docker.io/foo/bar:x").tagged(), "foo/bar:x");
        assert_eq!(
            named("127.0.0.1:5000/x/y:t").tagged(),
            "127.0.0.1:5000/x/y:t"
        );
        assert_eq!(named("localhost/x").tagged(), "localhost/x:latest");
        assert_eq!(
            named("127.0.0.1:5000/x/y:t").full_name(),
            "127.0.0.1:5000/x/y"
        );
        assert_eq!(named("busybox").full_name(), "docker.io/library/busybox");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = named(&format!("busybox@{d}"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
    }

    #[test]
    fn ids_and_prefixes() {
        let hex = "b".repeat(64);
        assert_eq!(
            parse_any(&hex).unwrap(),
            ImageRef::Id(format!("sha256:{hex}"))
        );
        assert_eq!(
            parse_any(&format!("sha256:{hex}")).unwrap(),
            ImageRef::Id(format!("sha256:{hex}"))
        );
        assert!(matches!(parse_any("7d2d").unwrap(), ImageRef::Named(_)));
        assert_eq!(id_prefix("sha256:7d2d"), Some("7d2d"));
        assert_eq!(id_prefix("busybox"), None);
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "a//b",
            "a:",
            "-a",
            "a@sha256:12",
            "a:b c",
            "x/y:-t",
        ] {
            assert!(parse_named(bad).is_err(), "{bad:?} accepted");
        }
        assert!(tag_key(&format!("a@sha256:{}", "c".repeat(64)), None).is_err());
        assert_eq!(tag_key("a:b", Some("c")).unwrap(), "a:c");
        assert_eq!(tag_key("docker.io/library/a", None).unwrap(), "a:latest");
    }
}
