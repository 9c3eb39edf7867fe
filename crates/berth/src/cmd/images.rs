//! images, history, tag, rmi, image prune, load, save, import.

use std::fs::File;
use std::io::{self, Read, Write};

use gtmpl::Value as T;
use serde_json::Value;

use crate::api::{CliError, Client, Result, path_escape, query};
use crate::cli::{
    HistoryArgs, ImagePruneArgs, ImagesArgs, ImportArgs, LoadArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::cmd::lifecycle::confirm;
use crate::cmd::observe::go_time;
use crate::cmd::{filters_json, print_rows, refuse_terminal, write_output};
use crate::http::Body;
use crate::template::row;
use crate::units::{self, ago, human_size_precision, truncate_id};

const IMAGE_HEADER: [(&str, &str); 10] = [
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// "busybox:latest" → ("busybox", "latest"); docker.io/library/ dropped as docker's familiar form.
fn split_reference(reference: &str) -> (String, String) {
    let familiar = reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference);
    match familiar.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (familiar.to_string(), "<none>".to_string()),
    }
}

pub(crate) fn image_rows(img: &Value, trunc: bool, with_digest: bool) -> Vec<T> {
    let strings = |key: &str| -> Vec<String> {
        img.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let tags: Vec<String> = strings("RepoTags")
        .into_iter()
        .filter(|t| t != "<none>:<none>")
        .collect();
    let digests: Vec<String> = strings("RepoDigests")
        .into_iter()
        .filter(|d| d != "<none>@<none>")
        .collect();
    let id = img.get("Id").and_then(Value::as_str).unwrap_or("");
    let created = img.get("Created").and_then(Value::as_i64).unwrap_or(0);
    let size = img.get("Size").and_then(Value::as_f64).unwrap_or(0.0);
    let shared = img.get("SharedSize").and_then(Value::as_i64).unwrap_or(-1);
    let containers = img.get("Containers").and_then(Value::as_i64).unwrap_or(-1);
    let make = |repo: &str, tag: &str, digest: &str| {
        row(vec![
            (
                "ID",
                T::String(if trunc {
                    truncate_id(id)
                } else {
                    id.to_string()
                }),
            ),
            ("Repository", T::String(repo.into())),
            ("Tag", T::String(tag.into())),
            ("Digest", T::String(digest.into())),
            (
                "CreatedSince",
                T::String(if created > 0 {
                    ago(created)
                } else {
                    String::new()
                }),
            ),
            ("CreatedAt", T::String(go_time(created))),
            ("Size", T::String(human_size_precision(size, 3))),
            (
                "Containers",
                T::String(if containers < 0 {
                    "N/A".into()
                } else {
                    containers.to_string()
                }),
            ),
            (
                "SharedSize",
                T::String(if shared < 0 {
                    "N/A".into()
                } else {
                    units::human_size(shared as f64)
                }),
            ),
            (
                "UniqueSize",
                T::String(if shared < 0 {
                    "N/A".into()
                } else {
                    units::human_size(size - shared as f64)
                }),
            ),
        ])
    };
    if tags.is_empty() && digests.is_empty() {
        return vec![make("<none>", "<none>", "<none>")];
    }
    let digest_of = |repo: &str| -> Vec<String> {
        digests
            .iter()
            .filter_map(|d| d.split_once('@'))
            .filter(|(r, _)| split_reference(&format!("{r}:x")).0 == repo)
            .map(|(_, d)| d.to_string())
            .collect()
    };
    let mut out = Vec::new();
    let mut repos_with_tags = Vec::new();
    for t in &tags {
        let (repo, tag) = split_reference(t);
        let ds = if with_digest {
            digest_of(&repo)
        } else {
            Vec::new()
        };
        if ds.is_empty() {
            out.push(make(&repo, &tag, "<none>"));
        } else {
            for d in ds {
                out.push(make(&repo, &tag, &d));
            }
        }
        repos_with_tags.push(repo);
    }
    for d in &digests {
        if let Some((r, dg)) = d.split_once('@') {
            let repo = split_reference(&format!("{r}:x")).0;
            if !repos_with_tags.contains(&repo) {
                out.push(make(&repo, "<none>", if with_digest { dg } else { "" }));
            }
        }
    }
    out
}

pub fn images(client: &mut Client, args: &ImagesArgs) -> Result<i32> {
    let mut filters = args.filter.clone();
    if let Some(r) = &args.reference {
        filters.push(format!("reference={r}"));
    }
    let mut q: Vec<(&str, String)> = Vec::new();
    if args.all {
        q.push(("all", "1".into()));
    }
    if let Some(f) = filters_json(&filters)? {
        q.push(("filters", f));
    }
    let list = client.get_json(&format!("/images/json{}", query(&q)))?;
    let source = args.format.clone().unwrap_or_else(|| "table".into());
    let with_digest = args.digests || source.contains("{{.Digest}}");
    let mut rows: Vec<T> = Vec::new();
    for img in list.as_array().into_iter().flatten() {
        rows.extend(image_rows(img, !args.no_trunc, with_digest));
    }
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else if source == "table" {
        if args.digests {
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}".into()
        } else {
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}".into()
        }
    } else if source.starts_with("table") && args.digests && !source.contains("{{.Digest}}") {
        format!("{source}\t{{{{.Digest}}}}")
    } else {
        source
    };
    if args.quiet {
        // docker prints each image ID once with -q.
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| match r {
            T::Map(m) => seen.insert(m.get("ID").map(|v| v.to_string()).unwrap_or_default()),
            _ => true,
        });
    }
    print_rows(&format, &IMAGE_HEADER, &rows)?;
    Ok(0)
}

pub fn history(client: &mut Client, args: &HistoryArgs) -> Result<i32> {
    let list = client.get_json(&format!("/images/{}/history", path_escape(&args.image)))?;
    let trunc = !args.no_trunc;
    let rows: Vec<T> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = h.get("Id").and_then(Value::as_str).unwrap_or("");
            let created = h.get("Created").and_then(Value::as_i64).unwrap_or(0);
            let by = h
                .get("CreatedBy")
                .and_then(Value::as_str)
                .unwrap_or("")
                .replace('\t', " ");
            let by = if trunc { units::ellipsis(&by, 45) } else { by };
            let size = h.get("Size").and_then(Value::as_f64).unwrap_or(0.0);
            let id = if id.starts_with("sha256:") && trunc {
                truncate_id(id)
            } else {
                id.to_string()
            };
            row(vec![
                ("ID", T::String(id)),
                (
                    "CreatedSince",
                    T::String(if args.human {
                        ago(created)
                    } else {
                        go_time(created)
                    }),
                ),
                ("CreatedAt", T::String(go_time(created))),
                ("CreatedBy", T::String(by)),
                (
                    "Size",
                    T::String(if args.human {
                        human_size_precision(size, 3)
                    } else {
                        (size as i64).to_string()
                    }),
                ),
                (
                    "Comment",
                    T::String(
                        h.get("Comment")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .into(),
                    ),
                ),
            ])
        })
        .collect();
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else {
        match args.format.as_deref() {
            None | Some("table") => {
                "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
                    .to_string()
            }
            Some(f) => f.to_string(),
        }
    };
    let header = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    print_rows(&format, &header, &rows)?;
    Ok(0)
}

pub fn tag(client: &mut Client, args: &TagArgs) -> Result<i32> {
    let (repo, tag) = match args.target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (args.target.clone(), "latest".to_string()),
    };
    client.post(&format!(
        "/images/{}/tag{}",
        path_escape(&args.source),
        query(&[("repo", repo), ("tag", tag)])
    ))?;
    Ok(0)
}

pub fn rmi(client: &mut Client, args: &RmiArgs) -> Result<i32> {
    let mut q: Vec<(&str, String)> = Vec::new();
    if args.force {
        q.push(("force", "1".into()));
    }
    if args.no_prune {
        q.push(("noprune", "1".into()));
    }
    let q = query(&q);
    let mut failed = false;
    for image in &args.images {
        match client.delete_json(&format!("/images/{}{q}", path_escape(image))) {
            Ok(v) => print_deleted(&v),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn print_deleted(v: &Value) {
    for item in v.as_array().into_iter().flatten() {
        if let Some(u) = item.get("Untagged").and_then(Value::as_str) {
            println!("Untagged: {u}");
        }
        if let Some(d) = item.get("Deleted").and_then(Value::as_str) {
            println!("Deleted: {d}");
        }
    }
}

pub fn prune(client: &mut Client, args: &ImagePruneArgs) -> Result<i32> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning) {
        return Ok(0);
    }
    let mut filters = args.filter.clone();
    filters.push(format!("dangling={}", !args.all));
    let q = match filters_json(&filters)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/images/prune{q}"), None)?;
    if let Some(deleted) = v.get("ImagesDeleted").and_then(Value::as_array)
        && !deleted.is_empty()
    {
        println!("Deleted Images:");
        print_deleted(&Value::Array(deleted.clone()));
        println!();
    }
    let space = v
        .get("SpaceReclaimed")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    println!("Total reclaimed space: {}", units::human_size(space));
    Ok(0)
}

/// Prints a JSON-lines progress stream (load/import): `stream` text, `status` lines, and fails
/// on an `error` line.
fn print_progress(response: &mut impl Read, quiet: bool) -> Result<()> {
    let text = {
        let mut bytes = Vec::new();
        response.read_to_end(&mut bytes)?;
        String::from_utf8_lossy(&bytes).into_owned()
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => {
                println!("{line}");
                continue;
            }
        };
        if let Some(e) = v
            .pointer("/errorDetail/message")
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
        {
            return Err(CliError::msg(e.to_string()));
        }
        if quiet {
            continue;
        }
        if let Some(s) = v.get("stream").and_then(Value::as_str) {
            print!("{s}");
        } else if let Some(s) = v.get("status").and_then(Value::as_str) {
            match v.get("id").and_then(Value::as_str) {
                Some(id) => println!("{id}: {s}"),
                None => println!("{s}"),
            }
        }
    }
    io::stdout().flush().ok();
    Ok(())
}

/// A reader that draws Docker's progress line for the bytes through it, on stderr when `show`.
fn with_progress<R: Read>(
    inner: R,
    total: Option<u64>,
    show: bool,
    label: &'static str,
) -> indicatif::ProgressBarIter<R> {
    let target = if show {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let template = match total {
        Some(t) if t > 0 => "{msg}: [{bar:50.=>}]  {bytes}/{total_bytes}",
        _ => "{msg}: {bytes}",
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = indicatif::ProgressBar::with_draw_target(total.filter(|t| *t > 0), target)
        .with_style(style)
        .with_message(label);
    bar.wrap_read(inner)
}

pub fn load(client: &mut Client, args: &LoadArgs) -> Result<i32> {
    let (input, total): (Box<dyn Read>, Option<u64>) = match &args.input {
        Some(path) => {
            let f = File::open(path).map_err(|e| CliError::msg(format!("open {path}: {e}")))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(f), len)
        }
        None => {
            if crate::term::is_tty(0) {
                return Err(CliError::msg(
                    "requested load from stdin, but stdin is empty",
                ));
            }
            (Box::new(io::stdin()), None)
        }
    };
    let show = !args.quiet && crate::term::is_tty(2);
    let mut progress = with_progress(input, total, show, "Loading layer");
    let quiet = if crate::term::is_tty(1) && !args.quiet {
        "0"
    } else {
        "1"
    };
    let path = format!("/images/load?quiet={quiet}");
    let mut response = client.send(
        "POST",
        &path,
        &[],
        Body::Stream(&mut progress, "application/x-tar"),
    )?;
    progress.progress.finish();
    print_progress(&mut response, false)?;
    Ok(0)
}

pub fn save(client: &mut Client, args: &SaveArgs) -> Result<i32> {
    refuse_terminal(args.output.as_deref())?;
    let q: Vec<(&str, String)> = args.images.iter().map(|i| ("names", i.clone())).collect();
    let mut response = client.send(
        "GET",
        &format!("/images/get{}", query(&q)),
        &[],
        Body::Empty,
    )?;
    let show = args.output.is_some() && crate::term::is_tty(2);
    let mut progress = with_progress(&mut response, None, show, "Saving");
    write_output(
        &mut progress,
        args.output.as_deref(),
        "failed to save image",
    )?;
    progress.progress.finish();
    Ok(0)
}

/// `repo` and `tag` query parameters of `name[:tag]`.
pub fn repo_and_tag(reference: &str) -> Vec<(&'static str, String)> {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => {
            vec![("repo", repo.to_string()), ("tag", tag.to_string())]
        }
        _ => vec![("repo", reference.to_string())],
    }
}

pub fn import(client: &mut Client, args: &ImportArgs) -> Result<i32> {
    let mut q: Vec<(&str, String)> = Vec::new();
    let (mut input, total): (Box<dyn Read>, Option<u64>) = if args.source == "-" {
        q.push(("fromSrc", "-".into()));
        (Box::new(io::stdin()), None)
    } else if args.source.contains("://") {
        return Err(CliError::msg(
            "berth import reads a file or -; URLs need network access",
        ));
    } else {
        q.push(("fromSrc", "-".into()));
        let f = File::open(&args.source)
            .map_err(|e| CliError::msg(format!("open {}: {e}", args.source)))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    if let Some(m) = &args.message {
        q.push(("message", m.clone()));
    }
    if let Some(r) = &args.reference {
        q.extend(repo_and_tag(r));
    }
    for c in &args.change {
        q.push(("changes", c.clone()));
    }
    if let Some(p) = &args.platform {
        q.push(("platform", p.clone()));
    }
    let show = crate::term::is_tty(2);
    let mut progress = with_progress(&mut input, total, show, "Importing");
    let path = format!("/images/create{}", query(&q));
    let mut response = client.send(
        "POST",
        &path,
        &[],
        Body::Stream(&mut progress, "application/x-tar"),
    )?;
    progress.progress.finish();
    print_progress(&mut response, false)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("busybox:latest"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("docker.io/library/busybox:1"),
            ("busybox".into(), "1".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/bb:x"),
            ("127.0.0.1:5000/bb".into(), "x".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/bb"),
            ("127.0.0.1:5000/bb".into(), "<none>".into())
        );
    }

    #[test]
    fn dangling_images_show_none() {
        let rows = image_rows(
            &serde_json::json!({"Id": "sha256:abcdef0123456789", "RepoTags": null, "Created": 0, "Size": 1880}),
            true,
            false,
        );
        assert_eq!(rows.len(), 1);
        if let T::Map(m) = &rows[0] {
            assert_eq!(m["Repository"].to_string(), "<none>");
            assert_eq!(m["ID"].to_string(), "abcdef012345");
            assert_eq!(m["Size"].to_string(), "1.88kB");
        }
    }
}
