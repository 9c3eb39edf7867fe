use super::*;
use crate::containers::options::{Mount, TmpfsOptions, VolumeDriver, VolumeOptions};
use crate::error::ErrorKind;
use std::path::Path;

fn bind_err(raw: &str) -> String {
    parse_bind(raw).unwrap_err().message
}

fn mount_err(spec: Mount) -> String {
    parse_mount(&spec).unwrap_err().message
}

fn mount(kind: &str, source: &str, target: &str) -> Mount {
    Mount {
        r#type: kind.into(),
        source: source.into(),
        target: target.into(),
        ..Mount::default()
    }
}

#[test]
fn v_specs_become_binds_and_volumes() {
    let (bind, wanted) = parse_bind("/h:/c//d/").unwrap();
    assert_eq!(
        (bind.kind, bind.source.as_str(), bind.destination.as_str()),
        (MountKind::Bind, "/h", "/c/d")
    );
    assert_eq!(bind.propagation, "rprivate");
    assert!(bind.rw && bind.create_source && wanted.is_none());
    let (bind, _) = parse_bind("/h:/c:ro,rslave").unwrap();
    assert_eq!((bind.rw, bind.propagation.as_str()), (false, "rslave"));
    assert_eq!(bind.mode, "ro,rslave");

    let (named, wanted) = parse_bind("data:/data:ro,nocopy").unwrap();
    assert_eq!(named.kind, MountKind::Volume);
    assert_eq!((named.name.as_str(), named.named), ("data", true));
    assert!(!named.rw && !named.copy_data);
    assert_eq!(named.propagation, "");
    assert_eq!(wanted.map(|w| w.name), Some("data".into()));

    let (anonymous, _) = parse_bind("/data").unwrap();
    assert!(!anonymous.named && anonymous.copy_data && anonymous.rw);
    assert_eq!(anonymous.name.len(), 64);
    assert!(anonymous.name.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn bad_v_specs_get_dockerds_messages() {
    assert_eq!(
        bind_err("/a:relative"),
        "invalid volume specification: '/a:relative': invalid mount config for type \"bind\": \
         invalid mount path: 'relative' mount path must be absolute"
    );
    assert_eq!(bind_err("/a:/b:ro,rw"), "invalid mode: ro,rw");
    assert_eq!(bind_err("/a:/b:foo"), "invalid mode: foo");
    assert_eq!(
        bind_err("/a:/b:nocopy,nocopy"),
        "invalid mode: nocopy,nocopy"
    );
    for spec in ["/a:/b:c:d", "/foo:rw", ":/x"] {
        assert_eq!(
            bind_err(spec),
            format!("invalid volume specification: '{spec}'")
        );
    }
    assert_eq!(
        bind_err("/tmp:/x:nocopy"),
        "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type \
         \"bind\": field VolumeOptions must not be specified"
    );
    assert_eq!(
        bind_err("vol:/x:shared"),
        "invalid volume specification: 'vol:/x:shared': invalid mount config for type \
         \"volume\": field BindOptions must not be specified"
    );
    assert_eq!(
        bind_err("vol:/"),
        "invalid volume specification: 'vol:/': invalid mount config for type \"volume\": \
         invalid specification: destination can't be '/'"
    );
    assert_eq!(
        parse_bind("/a:/b:ro,rw").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn mount_objects_are_checked_like_dockerd() {
    assert_eq!(
        mount_err(mount("bind", "/nonexistent-berth-src", "/x")),
        "invalid mount config for type \"bind\": bind source path does not exist: \
         /nonexistent-berth-src"
    );
    assert_eq!(
        mount_err(mount("bind", "", "/x")),
        "invalid mount config for type \"bind\": field Source must not be empty"
    );
    assert_eq!(
        mount_err(Mount {
            read_only: true,
            ..mount("volume", "", "/x")
        }),
        "invalid mount config for type \"volume\": must not set ReadOnly mode when using \
         anonymous volumes"
    );
    assert_eq!(
        mount_err(mount("tmpfs", "ab", "/x")),
        "invalid mount config for type \"tmpfs\": field Source must not be specified"
    );
    assert_eq!(
        mount_err(mount("foo", "", "/x")),
        "invalid mount config for type \"foo\": mount type unknown"
    );
    assert_eq!(
        mount_err(mount("volume", "ab", "relative")),
        "invalid mount config for type \"volume\": invalid mount path: 'relative' mount path \
         must be absolute"
    );

    let (tmpfs, _) = parse_mount(&Mount {
        tmpfs_options: Some(TmpfsOptions {
            size_bytes: 1 << 20,
            mode: 0o1770,
        }),
        read_only: true,
        ..mount("tmpfs", "", "/t")
    })
    .unwrap();
    assert_eq!(tmpfs.kind, MountKind::Tmpfs);
    assert_eq!(tmpfs.tmpfs_data, "ro,mode=1770,size=1m");
    let (bind, _) = parse_mount(&mount("bind", "/tmp", "/b")).unwrap();
    assert!(!bind.create_source, "a --mount bind's source is never made");
}

#[test]
fn volumes_from_specs() {
    assert_eq!(parse_volumes_from("c2").unwrap(), ("c2", true));
    assert_eq!(parse_volumes_from("c2:ro").unwrap(), ("c2", false));
    assert_eq!(parse_volumes_from("c2:z").unwrap(), ("c2", true));
    assert_eq!(
        parse_volumes_from("").unwrap_err().message,
        "volumes-from specification cannot be an empty string"
    );
    for (spec, mode) in [
        ("c:nocopy", "nocopy"),
        ("c:ro,rw", "ro,rw"),
        ("c:rprivate", "rprivate"),
    ] {
        assert_eq!(
            parse_volumes_from(spec).unwrap_err().message,
            format!("invalid mode: {mode}")
        );
    }
}

fn body(binds: &[&str], mounts: Vec<Mount>, from: &[&str], tmpfs: &[&str]) -> CreateBody {
    let mut body = CreateBody::default();
    body.host_config.binds = binds.iter().map(|s| s.to_string()).collect();
    body.host_config.mounts = mounts;
    body.host_config.volumes_from = from.iter().map(|s| s.to_string()).collect();
    body.host_config.tmpfs = tmpfs
        .iter()
        .map(|d| (d.to_string(), String::new()))
        .collect();
    body
}

fn volumes(paths: &[&str]) -> BTreeMap<String, Empty> {
    paths.iter().map(|p| (p.to_string(), Empty {})).collect()
}

fn no_containers(reference: &str) -> Result<Vec<MountPoint>> {
    Err(Error::invalid(format!("No such container: {reference}")))
}

#[test]
fn later_sources_win_and_config_volumes_fill_the_rest() {
    let theirs = vec![
        MountPoint {
            kind: MountKind::Volume,
            name: "shared".into(),
            source: "/v/shared/_data".into(),
            destination: "/shared".into(),
            driver: "local".into(),
            mode: "z".into(),
            rw: true,
            named: true,
            copy_data: true,
            ..MountPoint::default()
        },
        MountPoint {
            kind: MountKind::Bind,
            source: "/h".into(),
            destination: "/over".into(),
            rw: true,
            propagation: "rprivate".into(),
            ..MountPoint::default()
        },
    ];
    let from = |reference: &str| {
        assert_eq!(reference, "data");
        Ok(theirs.clone())
    };
    let mounts = vec![Mount {
        volume_options: Some(VolumeOptions {
            labels: [("k".to_string(), "v".to_string())].into(),
            driver_config: Some(VolumeDriver {
                name: String::new(),
                options: [("type".to_string(), "tmpfs".to_string())].into(),
            }),
            ..VolumeOptions::default()
        }),
        ..mount("volume", "m1", "/m1")
    }];
    let resolved = resolve(
        &body(
            &["named:/data", "/host:/over:ro"],
            mounts,
            &["data:ro"],
            &["/t"],
        ),
        &volumes(&["/data", "/image", "/t", "/shared"]),
        &from,
        &[],
    )
    .unwrap();
    let by_dest: BTreeMap<&str, &MountPoint> = resolved
        .points
        .iter()
        .map(|p| (p.destination.as_str(), p))
        .collect();
    assert_eq!(
        by_dest.keys().copied().collect::<Vec<_>>(),
        ["/data", "/image", "/m1", "/over", "/shared"],
        "sorted by destination; /t is a --tmpfs"
    );
    let shared = by_dest["/shared"];
    assert!(!shared.rw && !shared.copy_data && shared.named);
    assert_eq!(shared.mode, "", "an imported mount keeps no mode");
    assert_eq!(
        by_dest["/over"].source, "/host",
        "a bind replaces the imported one"
    );
    assert_eq!(by_dest["/data"].name, "named");
    assert_eq!(by_dest["/data"].mode, "z");
    let image = by_dest["/image"];
    assert!(image.is_volume() && !image.named && image.copy_data && image.mode.is_empty());
    let wanted: BTreeMap<&str, &WantedVolume> = resolved
        .volumes
        .iter()
        .map(|w| (w.name.as_str(), w))
        .collect();
    assert_eq!(wanted.len(), 4, "{wanted:?}");
    assert_eq!(wanted["m1"].labels.get("k").map(String::as_str), Some("v"));
    assert_eq!(
        wanted["m1"].options.get("type").map(String::as_str),
        Some("tmpfs")
    );
    assert!(wanted.contains_key("shared") && wanted.contains_key(image.name.as_str()));
}

#[test]
fn a_destination_claimed_twice_is_refused() {
    let dup = |b: CreateBody| {
        resolve(&b, &BTreeMap::new(), &no_containers, &[])
            .unwrap_err()
            .message
    };
    assert_eq!(
        dup(body(&["a:/x", "b:/x"], vec![], &[], &[])),
        "Duplicate mount point: /x"
    );
    assert_eq!(
        dup(body(&["a:/x"], vec![], &[], &["/x"])),
        "Duplicate mount point: /x"
    );
    assert_eq!(
        dup(body(&["a:/x"], vec![mount("volume", "b", "/x/")], &[], &[])),
        "Duplicate mount point: /x/"
    );
    let missing = resolve(
        &body(&[], vec![], &["nosuch"], &[]),
        &BTreeMap::new(),
        &no_containers,
        &[],
    )
    .unwrap_err();
    assert_eq!(
        (missing.kind, missing.message.as_str()),
        (ErrorKind::InvalidArgument, "No such container: nosuch")
    );
}

#[test]
fn binds_of_the_engines_roots_get_rslave() {
    let root = Path::new("/var/lib/berth");
    let resolve_one =
        |b: CreateBody| resolve(&b, &BTreeMap::new(), &no_containers, &[root]).map(|r| r.points);
    for raw in ["/var/lib/berth/volumes:/v", "/var/lib:/v", "/:/v"] {
        let points = resolve_one(body(&[raw], vec![], &[], &[])).unwrap();
        assert_eq!(points[0].propagation, "rslave", "{raw}");
    }
    let points = resolve_one(body(
        &["/var/lib/berth-other:/v", "/tmp:/t"],
        vec![],
        &[],
        &[],
    ))
    .unwrap();
    assert!(
        points.iter().all(|p| p.propagation == "rprivate"),
        "{points:?}"
    );
    let points = resolve_one(body(&["/var/lib:/v:rshared"], vec![], &[], &[])).unwrap();
    assert_eq!(points[0].propagation, "rshared");
    let e = resolve_one(body(
        &[],
        vec![Mount {
            bind_options: Some(crate::containers::options::BindOptions {
                propagation: "private".into(),
                non_recursive: false,
            }),
            ..mount("bind", "/var/lib", "/v")
        }],
        &[],
        &[],
    ))
    .unwrap_err();
    assert!(
        e.message.starts_with(
            "invalid mount config: must use either propagation mode \"rslave\" or \"rshared\""
        ),
        "{}",
        e.message
    );
}

#[test]
fn mount_points_show_as_dockerd_shows_them() {
    let (bind, _) = parse_bind("/h:/c:ro").unwrap();
    assert_eq!(
        bind.to_api(),
        serde_json::json!({"Type": "bind", "Source": "/h", "Destination": "/c", "Mode": "ro",
                           "RW": false, "Propagation": "rprivate"})
    );
    let volume = MountPoint {
        kind: MountKind::Volume,
        name: "v1".into(),
        source: "/d/volumes/v1/_data".into(),
        destination: "/data".into(),
        driver: "local".into(),
        mode: "z".into(),
        rw: true,
        ..MountPoint::default()
    };
    assert_eq!(
        volume.to_api(),
        serde_json::json!({"Type": "volume", "Name": "v1", "Source": "/d/volumes/v1/_data",
                           "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true,
                           "Propagation": ""})
    );
}
