//! `cp`: copies between a container and the local filesystem, deciding as the docker CLI does
//! where a copy lands and under which name (a stat of the destination first, then an archive
//! renamed to fit), and doing the local side's reading and writing through berth-image's
//! packer and unpacker: the one place that writes a tar to disk, never following a symlink on
//! the way, so an archive from a container cannot write outside the destination either.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use berth_image::layer::{ExtractOptions, Owner, Whiteouts, extract};
use berth_image::pack::Packer;
use serde_json::Value;

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::CpArgs;
use crate::http::Body;

/// Go's `os.ModeDir` and `os.ModeSymlink`, in the stat header's `mode`.
const GO_DIR: u64 = 1 << 31;
const GO_SYMLINK: u64 = 1 << 27;
/// Go's `os.ModeDevice` and `os.ModeIrregular`: what a copy may not be written onto.
const GO_DEVICE_OR_IRREGULAR: u64 = (1 << 26) | (1 << 19);

/// `CONTAINER:PATH` → (Some(CONTAINER), PATH); a local path (absolute, `./x:y`, no `:`) → None.
fn split_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => (Some(container), path),
        _ => (None, arg),
    }
}

pub fn cp(client: &mut Client, args: &CpArgs) -> Result<i32> {
    match (split_arg(&args.source), split_arg(&args.dest)) {
        ((Some(_), _), (Some(_), _)) => {
            Err(CliError::msg("copying between containers is not supported"))
        }
        ((None, _), (None, _)) => Err(CliError::msg("must specify at least one container source")),
        ((Some(container), path), (None, local)) => {
            copy_from(client, container, path, local, args.follow_link)?;
            Ok(0)
        }
        ((None, local), (Some(container), path)) => {
            copy_to(
                client,
                local,
                container,
                path,
                args.archive,
                args.follow_link,
            )?;
            Ok(0)
        }
    }
}

// ---- paths, as Go's filepath and docker's archive package treat them --------------------

/// Go's `filepath.Clean`.
fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            p => parts.push(p),
        }
    }
    match (absolute, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

/// Go's `filepath.Dir` and `filepath.Base` of a cleaned path.
fn dir_and_base(cleaned: &str) -> (String, String) {
    match cleaned.rfind('/') {
        Some(0) if cleaned.len() == 1 => ("/".into(), "/".into()),
        Some(0) => ("/".into(), cleaned[1..].into()),
        Some(i) => (cleaned[..i].into(), cleaned[i + 1..].into()),
        None => (".".into(), cleaned.into()),
    }
}

fn names_current_dir(path: &str) -> bool {
    path == "." || path.ends_with("/.")
}

fn asserts_directory(path: &str) -> bool {
    path.ends_with('/') || names_current_dir(path)
}

/// docker's `SplitPathDirEntry`: the parent and the entry, `.` kept as the entry of `d/.`.
fn split_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if names_current_dir(path) {
        cleaned = if cleaned == "/" {
            "/.".into()
        } else {
            format!("{cleaned}/.")
        };
    }
    dir_and_base(&cleaned)
}

fn join(dir: &str, name: &str) -> String {
    clean(&format!("{dir}/{name}"))
}

/// `path` made absolute against the working directory, its trailing `/` or `/.` kept.
fn absolute(path: &str) -> Result<String> {
    let cwd = std::env::current_dir()?;
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", cwd.display())
    };
    let mut out = clean(&joined);
    if names_current_dir(path) && !out.ends_with('.') {
        out = if out == "/" {
            "/.".into()
        } else {
            format!("{out}/.")
        };
    } else if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// docker's `GetRebaseName`: the resolved path with the requested one's trailing `/` or `/.`,
/// and the name entries must take when resolving changed the last component.
fn rebase_name(requested: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if names_current_dir(requested) && !names_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if requested.ends_with('/') && !resolved.ends_with('/') {
        resolved.push('/');
    }
    let (base_req, base_res) = (base(requested), base(&resolved));
    let rebase = (base_req != base_res).then_some(base_req);
    (resolved, rebase)
}

/// Go's `filepath.Base` of an uncleaned path.
fn base(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() {
            ".".into()
        } else {
            "/".into()
        };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// What one side of a copy is.
#[derive(Debug, Clone, Default)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    rebase_name: Option<String>,
}

/// docker's `PrepareArchiveCopy`: the directory to extract into, and the renaming of the
/// archive's top entry (old → new) that gives the copy its name there. The archive's entries
/// are named after the source's last component.
fn prepare(src: &CopyInfo, dst: &CopyInfo) -> Result<(String, Option<(String, String)>)> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, src_base) = split_dir_entry(&src.path);
    if dst.exists && dst.is_dir {
        let kept = src.rebase_name.clone().map(|name| (src_base, name));
        return Ok((dst.path.clone(), kept));
    }
    if dst.exists && src.is_dir {
        return Err(CliError::msg("cannot copy directory"));
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(CliError::msg("no such directory"));
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

// ---- the daemon's side -------------------------------------------------------------------

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text
        .trim_end_matches('=')
        .bytes()
        .map(value)
        .collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn parse_stat(header: Option<&str>) -> Result<Value> {
    let decoded = header
        .and_then(decode_base64)
        .ok_or_else(|| CliError::msg("the daemon sent no valid X-Docker-Container-Path-Stat"))?;
    crate::api::parse_json(&decoded)
}

fn mode_of(stat: &Value) -> u64 {
    stat.get("mode").and_then(Value::as_u64).unwrap_or(0)
}

/// `HEAD .../archive?path=`: the stat, or the daemon's error.
fn stat_path(client: &mut Client, container: &str, path: &str) -> Result<Value> {
    let mut response = client.send(
        "HEAD",
        &archive_path(container, &[("path", path.to_string())]),
        &[],
        Body::Empty,
    )?;
    let stat = parse_stat(response.header("x-docker-container-path-stat"));
    response.body_bytes()?;
    stat
}

fn archive_path(container: &str, q: &[(&str, String)]) -> String {
    format!("/containers/{}/archive{}", path_escape(container), query(q))
}

/// A symlink's target as the stat gives it, joined to the link's directory when relative.
fn link_target(path: &str, stat: &Value) -> String {
    let target = stat.get("linkTarget").and_then(Value::as_str).unwrap_or("");
    if target.starts_with('/') {
        target.to_string()
    } else {
        join(&split_dir_entry(path).0, target)
    }
}

fn copy_from(
    client: &mut Client,
    container: &str,
    src: &str,
    dst: &str,
    follow_link: bool,
) -> Result<()> {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        absolute(dst)?
    };
    let mut src = src.to_string();
    let mut rebase = None;
    if follow_link
        && let Ok(stat) = stat_path(client, container, &src)
        && mode_of(&stat) & GO_SYMLINK != 0
    {
        let (resolved, name) = rebase_name(&src, &link_target(&src, &stat));
        src = resolved;
        rebase = name;
    }
    let mut response = client.send(
        "GET",
        &archive_path(container, &[("path", src.clone())]),
        &[],
        Body::Empty,
    )?;
    if dst == "-" {
        io::copy(&mut response, &mut io::stdout().lock())?;
        return Ok(());
    }
    let stat = parse_stat(response.header("x-docker-container-path-stat"))?;
    let src_info = CopyInfo {
        path: src,
        exists: true,
        is_dir: mode_of(&stat) & GO_DIR != 0,
        rebase_name: rebase,
    };
    let dst_info = local_destination(&dst)?;
    let (dir, renamed) = prepare(&src_info, &dst_info)?;
    let options = ExtractOptions {
        whiteouts: Whiteouts::Literal,
        owner: Owner::Caller,
        no_overwrite_dir_non_dir: true,
        devices: false,
        root_metadata: false,
        absolute_names: true,
        rebase: renamed.map(|(old, new)| (old.into_bytes(), new.into_bytes())),
    };
    let target = open_dir(&dir)?;
    extract(&mut response, target.as_fd(), Path::new(&dir), &options)
        .map_err(|e| CliError::msg(e.to_string()))?;
    Ok(())
}

// ---- the local side ----------------------------------------------------------------------

fn local_error(op: &str, path: &str, e: io::Error) -> CliError {
    let reason = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::NotADirectory => "not a directory".to_string(),
        _ => e.to_string(),
    };
    CliError::msg(format!("{op} {path}: {reason}"))
}

fn open_dir(path: &str) -> Result<OwnedFd> {
    let dir = fs::File::open(path).map_err(|e| local_error("open", path, e))?;
    let meta = dir.metadata().map_err(|e| local_error("stat", path, e))?;
    if !meta.is_dir() {
        return Err(CliError::msg(format!("open {path}: not a directory")));
    }
    Ok(OwnedFd::from(dir))
}

/// docker's `CopyInfoDestinationPath`: a local destination with its symlinks followed; a
/// missing one needs an existing parent directory.
fn local_destination(path: &str) -> Result<CopyInfo> {
    let mut path = path.to_string();
    for _ in 0..=10 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path).map_err(|e| local_error("readlink", &path, e))?;
                let target = target.to_string_lossy().into_owned();
                path = if target.starts_with('/') {
                    target
                } else {
                    join(&split_dir_entry(&path).0, &target)
                };
            }
            Ok(meta) => {
                return Ok(CopyInfo {
                    path,
                    exists: true,
                    is_dir: meta.is_dir(),
                    rebase_name: None,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = split_dir_entry(&path).0;
                let meta = fs::metadata(&parent).map_err(|e| local_error("stat", &parent, e))?;
                if !meta.is_dir() {
                    return Err(CliError::msg("not a directory"));
                }
                return Ok(CopyInfo {
                    path,
                    ..CopyInfo::default()
                });
            }
            Err(e) => return Err(local_error("lstat", &path, e)),
        }
    }
    Err(CliError::msg(format!("too many symlinks in {path}")))
}

/// docker's `CopyInfoSourcePath`: the local source with its parent's symlinks resolved (and
/// its own too with `-L`).
fn local_source(path: &str, follow_link: bool) -> Result<CopyInfo> {
    let canonical = |p: &str| -> Result<String> {
        fs::canonicalize(p)
            .map(|c| c.to_string_lossy().into_owned())
            .map_err(|e| local_error("lstat", p, e))
    };
    let (resolved, rebase) = if follow_link {
        rebase_name(path, &canonical(path)?)
    } else {
        let split = path.rfind('/').map_or(0, |i| i + 1);
        let (dir, name) = path.split_at(split);
        let dir = if dir.is_empty() { "." } else { dir };
        let resolved = format!("{}/{name}", canonical(dir)?.trim_end_matches('/'));
        let rebase = (path.ends_with('/') && base(path) != base(&resolved)).then(|| base(path));
        (resolved, rebase)
    };
    let meta = fs::symlink_metadata(&resolved).map_err(|e| local_error("lstat", path, e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name: rebase,
    })
}

/// A reader of the tar of `src` (its entries named `top` + what is below), packed by a thread.
fn pack_local(
    src: &CopyInfo,
    top: String,
) -> Result<(impl Read, std::thread::JoinHandle<Result<()>>)> {
    let (dir, entry) = split_dir_entry(&src.path);
    let base_dir = open_dir(&dir)?;
    let rel = if entry == "." {
        Vec::new()
    } else {
        entry.into_bytes()
    };
    let (reader, writer) = io::pipe()?;
    let packer = std::thread::spawn(move || -> Result<()> {
        let mut packer = Packer::new(io::BufWriter::with_capacity(256 * 1024, writer));
        packer
            .append(base_dir.as_fd(), &rel, top.as_bytes(), true)
            .and_then(|()| packer.finish().map(drop))
            .map_err(|e| CliError::msg(e.to_string()))
    });
    Ok((reader, packer))
}

fn copy_to(
    client: &mut Client,
    src: &str,
    container: &str,
    dst: &str,
    archive: bool,
    follow_link: bool,
) -> Result<()> {
    let src = if src == "-" {
        src.to_string()
    } else {
        absolute(src)?
    };
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..CopyInfo::default()
    };
    let mut stat = stat_path(client, container, dst);
    if let Ok(s) = &stat
        && mode_of(s) & GO_SYMLINK != 0
    {
        dst_info.path = link_target(dst, s);
        stat = stat_path(client, container, &dst_info.path);
    }
    if let Ok(s) = &stat {
        let mode = mode_of(s);
        if mode & GO_DEVICE_OR_IRREGULAR != 0 {
            return Err(CliError::msg(format!(
                "destination \"{container}:{dst}\" must be a directory or a regular file"
            )));
        }
        dst_info.exists = true;
        dst_info.is_dir = mode & GO_DIR != 0;
    }
    let mut q = vec![("noOverwriteDirNonDir", "true".to_string())];
    if archive {
        q.push(("copyUIDGID", "true".into()));
    }
    if src == "-" {
        if !dst_info.is_dir {
            return Err(CliError::msg(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        q.insert(0, ("path", dst_info.path.clone()));
        let mut stdin = io::stdin().lock();
        client
            .send(
                "PUT",
                &archive_path(container, &q),
                &[],
                Body::Stream(&mut stdin, "application/x-tar"),
            )?
            .body_bytes()?;
        return Ok(());
    }
    let src_info = local_source(&src, follow_link)?;
    let (dir, renamed) = prepare(&src_info, &dst_info)?;
    let top = match renamed {
        Some((_, new)) => new,
        None => split_dir_entry(&src_info.path).1,
    };
    let (mut content, packer) = pack_local(&src_info, top)?;
    q.insert(0, ("path", dir));
    let sent = client
        .send(
            "PUT",
            &archive_path(container, &q),
            &[],
            Body::Stream(&mut content, "text/plain"),
        )
        .and_then(|mut r| Ok(r.body_bytes()?));
    drop(content);
    let packed = packer
        .join()
        .unwrap_or_else(|_| Err(CliError::msg("the archive thread panicked")));
    sent?;
    packed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_a_container_unless_they_are_local_paths() {
        assert_eq!(split_arg("box:/tmp/x"), (Some("box"), "/tmp/x"));
        assert_eq!(split_arg("/abs:olute"), (None, "/abs:olute"));
        assert_eq!(split_arg("./file:name"), (None, "./file:name"));
        assert_eq!(split_arg("plain"), (None, "plain"));
        assert_eq!(split_arg("-"), (None, "-"));
    }

    #[test]
    fn paths_are_split_as_docker_splits_them() {
        assert_eq!(split_dir_entry("/tmp/d/."), ("/tmp/d".into(), ".".into()));
        assert_eq!(split_dir_entry("/tmp/d/"), ("/tmp".into(), "d".into()));
        assert_eq!(split_dir_entry("/"), ("/".into(), "/".into()));
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/a/../../b"), "/b");
        assert_eq!(
            rebase_name("/tmp/link/", "/tmp/real"),
            ("/tmp/real/".into(), Some("link".into()))
        );
    }

    #[test]
    fn copies_take_the_destinations_name_unless_it_is_a_directory() {
        let src = CopyInfo {
            path: "/src/tree".into(),
            exists: true,
            is_dir: true,
            rebase_name: None,
        };
        let existing_dir = CopyInfo {
            path: "/dst".into(),
            exists: true,
            is_dir: true,
            rebase_name: None,
        };
        assert_eq!(prepare(&src, &existing_dir).unwrap(), ("/dst".into(), None));
        let new = CopyInfo {
            path: "/dst/renamed".into(),
            ..CopyInfo::default()
        };
        assert_eq!(
            prepare(&src, &new).unwrap(),
            ("/dst".into(), Some(("tree".into(), "renamed".into())))
        );
        let file = CopyInfo {
            path: "/dst/file".into(),
            exists: true,
            ..CopyInfo::default()
        };
        assert!(prepare(&src, &file).is_err(), "a directory onto a file");
        let one = CopyInfo {
            path: "/src/f".into(),
            exists: true,
            ..CopyInfo::default()
        };
        let missing_dir = CopyInfo {
            path: "/dst/nope/".into(),
            ..CopyInfo::default()
        };
        assert!(
            prepare(&one, &missing_dir).is_err(),
            "a file into a missing directory"
        );
    }

    #[test]
    fn stat_headers_decode() {
        assert_eq!(decode_base64("e30=").unwrap(), b"{}");
        assert_eq!(decode_base64("Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64("Zg==").unwrap(), b"f");
        assert!(decode_base64("not base64!").is_none());
    }
}
