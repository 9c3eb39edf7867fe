//! Turning a tar entry's name into a path that cannot leave the layer root.

use std::ffi::CString;

use super::EntryError;

/// Linux's NAME_MAX and PATH_MAX (which counts the NUL).
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;

/// A cleaned, relative entry path: its parent directories and its final name. An empty
/// `name` is the layer root itself (`./` in most layers).
#[derive(Debug, Clone)]
pub(crate) struct EntryPath {
    pub parent: Vec<u8>,
    pub name: CString,
}

impl EntryPath {
    pub fn is_root(&self) -> bool {
        self.name.as_bytes().is_empty()
    }

    /// The whole relative path, `parent/name`.
    pub fn full(&self) -> Vec<u8> {
        if self.parent.is_empty() {
            return self.name.as_bytes().to_vec();
        }
        let mut full = self.parent.clone();
        full.push(b'/');
        full.extend_from_slice(self.name.as_bytes());
        full
    }
}

/// Absolute names become relative to the layer root and `.` and empty components go; a `..`
/// that would climb above the root is refused rather than clamped, because such an entry is
/// either broken or hostile. The walk is lexical: on disk, parents are then opened without
/// following symlinks, so the lexical answer is the one that holds.
pub(crate) fn clean(raw: &[u8]) -> Result<EntryPath, EntryError> {
    if raw.len() >= PATH_MAX {
        return Err(EntryError::NameTooLong {
            len: raw.len(),
            max: PATH_MAX - 1,
        });
    }
    if raw.contains(&0) {
        return Err(EntryError::NulInName);
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(EntryError::EscapesRoot);
                }
            }
            part if part.len() > NAME_MAX => {
                return Err(EntryError::NameTooLong {
                    len: part.len(),
                    max: NAME_MAX,
                });
            }
            part => parts.push(part),
        }
    }
    let name = parts.pop().unwrap_or_default();
    // No NUL anywhere (checked above), so CString::new cannot fail.
    let name = CString::new(name).map_err(|_| EntryError::NulInName)?;
    Ok(EntryPath {
        parent: parts.join(&b'/'),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(raw: &str) -> Result<String, EntryError> {
        clean(raw.as_bytes()).map(|p| String::from_utf8(p.full()).unwrap())
    }

    #[test]
    fn names_are_made_relative_and_dots_resolved() {
        assert_eq!(full("/etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(full("./a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(full("a/b/../c").unwrap(), "a/c");
        assert_eq!(full("./").unwrap(), "");
        assert!(clean(b"./").unwrap().is_root());
        let p = clean(b"usr/bin/env").unwrap();
        assert_eq!(
            (p.parent.as_slice(), p.name.as_bytes()),
            (&b"usr/bin"[..], &b"env"[..])
        );
    }

    #[test]
    fn escapes_and_oversized_names_are_refused() {
        assert!(matches!(full("../x"), Err(EntryError::EscapesRoot)));
        assert!(matches!(full("a/../../x"), Err(EntryError::EscapesRoot)));
        assert!(matches!(full("/../x"), Err(EntryError::EscapesRoot)));
        let long_component = "a".repeat(256);
        assert!(matches!(
            full(&long_component),
            Err(EntryError::NameTooLong { len: 256, max: 255 })
        ));
        let long_path = "a/".repeat(2048);
        assert!(matches!(
            full(&long_path),
            Err(EntryError::NameTooLong { max: 4095, .. })
        ));
    }
}
