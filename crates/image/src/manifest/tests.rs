use super::*;

const D1: &str = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
const D2: &str = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
const D3: &str = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";

fn descriptor_json(media_type: &str, digest: &str, platform: &str) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":7{platform}}}"#)
}

#[test]
fn chain_ids_follow_the_spec_formula() {
    // Expected values computed with coreutils: printf '%s %s' "$parent" "$diff" | sha256sum.
    let diff_ids: Vec<Digest> = [D1, D2, D3].iter().map(|d| d.parse().unwrap()).collect();
    let chain = chain_ids(&diff_ids);
    let expected = [
        D1,
        "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676",
        "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106",
    ];
    let chain: Vec<String> = chain.iter().map(|d| d.to_string()).collect();
    assert_eq!(chain, expected);
    assert!(chain_ids(&[]).is_empty());
}

#[test]
fn oci_and_docker_manifests_parse_by_header_field_or_shape() {
    let layer = descriptor_json("application/vnd.oci.image.layer.v1.tar+gzip", D2, "");
    let config = descriptor_json(OCI_CONFIG, D1, "");
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{config},"layers":[{layer}],"annotations":{{"a":"b"}}}}"#
    );
    let Document::Manifest(m) = parse_document(None, body.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(m.kind, MediaKind::Oci);
    assert_eq!(m.config.digest.to_string(), D1);
    assert_eq!(m.layers[0].digest.to_string(), D2);
    assert_eq!(m.annotations["a"], "b");

    let docker_layer = descriptor_json("application/vnd.docker.image.rootfs.diff.tar.gzip", D2, "");
    let docker_config = descriptor_json(DOCKER_CONFIG, D1, "");
    let docker = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{docker_config},"layers":[{docker_layer}]}}"#
    );
    let Document::Manifest(m) = parse_document(Some(DOCKER_MANIFEST), docker.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(m.kind, MediaKind::Docker);
    assert_eq!(
        layer_compression(&m.layers[0].media_type).unwrap(),
        Compression::Gzip
    );

    // No media type anywhere: the shape decides.
    let bare = format!(r#"{{"schemaVersion":2,"config":{config},"layers":[]}}"#);
    assert!(matches!(
        parse_document(None, bare.as_bytes()).unwrap(),
        Document::Manifest(_)
    ));
}

#[test]
fn bad_documents_are_refused_with_the_reason() {
    let config = descriptor_json(OCI_CONFIG, D1, "");
    let v1 = format!(r#"{{"schemaVersion":1,"config":{config},"layers":[]}}"#);
    assert!(matches!(
        parse_document(None, v1.as_bytes()),
        Err(ManifestError::SchemaVersion(1))
    ));

    let sha512 = format!("sha512:{}", "a".repeat(128));
    let bad_digest = descriptor_json(OCI_CONFIG, &sha512, "");
    let body = format!(r#"{{"schemaVersion":2,"config":{bad_digest},"layers":[]}}"#);
    let err = parse_document(None, body.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("only sha256"), "{err}");

    let other = parse_document(Some("text/html"), v1.replace(":1", ":2").as_bytes()).unwrap_err();
    assert!(matches!(other, ManifestError::UnsupportedDocument(t) if t == "text/html"));

    let index_without_manifests = r#"{"schemaVersion":2,"layers":[]}"#;
    assert!(matches!(
        parse_document(Some(OCI_INDEX), index_without_manifests.as_bytes()),
        Err(ManifestError::Unrecognized { .. })
    ));
}

#[test]
fn layer_media_types_map_to_compressions_and_foreign_layers_are_refused() {
    for (media_type, compression) in [
        ("application/vnd.oci.image.layer.v1.tar", Compression::None),
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::Zstd,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar",
            Compression::None,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar.zstd",
            Compression::Zstd,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar+zstd",
            Compression::Zstd,
        ),
    ] {
        assert_eq!(
            layer_compression(media_type).unwrap(),
            compression,
            "{media_type}"
        );
    }
    for foreign in [
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ] {
        let err = layer_compression(foreign).unwrap_err();
        assert!(
            matches!(err, ManifestError::NonDistributableLayer(_)),
            "{foreign}: {err}"
        );
        assert!(err.to_string().contains(foreign));
    }
    assert!(matches!(
        layer_compression("application/octet-stream"),
        Err(ManifestError::UnsupportedLayer(_))
    ));
}

fn index_with(platforms: &[(&str, &str, Option<&str>)]) -> Index {
    let entries: Vec<String> = platforms
        .iter()
        .enumerate()
        .map(|(i, (os, arch, variant))| {
            let variant = variant
                .map(|v| format!(r#","variant":"{v}""#))
                .unwrap_or_default();
            let platform =
                format!(r#","platform":{{"os":"{os}","architecture":"{arch}"{variant}}}"#);
            let digest = Digest::of(format!("{i}").as_bytes()).to_string();
            descriptor_json(OCI_MANIFEST, &digest, &platform)
        })
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        entries.join(",")
    );
    let Document::Index(index) = parse_document(Some(OCI_INDEX), body.as_bytes()).unwrap() else {
        panic!()
    };
    index
}

fn selected(index: &Index, wanted: &PlatformWanted) -> usize {
    let d = index.select(wanted).unwrap();
    index.manifests.iter().position(|m| m == d).unwrap()
}

#[test]
fn platform_selection_prefers_exact_variants_and_accepts_older_ones() {
    let index = index_with(&[
        ("unknown", "unknown", None),
        ("linux", "arm", Some("v6")),
        ("linux", "arm", Some("v7")),
        ("linux", "arm64", Some("v8")),
        ("linux", "amd64", None),
        ("windows", "amd64", None),
    ]);
    assert_eq!(selected(&index, &PlatformWanted::linux_amd64()), 4);
    assert_eq!(
        selected(&index, &PlatformWanted::new("linux", "x86_64", None)),
        4
    );
    // An arm64 index entry without variant and a wanted arm64 without variant both mean v8.
    assert_eq!(
        selected(&index, &PlatformWanted::new("linux", "aarch64", None)),
        3
    );
    assert_eq!(
        selected(&index, &PlatformWanted::new("linux", "arm", Some("v7"))),
        2
    );
    // v6 hardware cannot run v7 code, but v8 runs the best older one (v7).
    assert_eq!(
        selected(&index, &PlatformWanted::new("linux", "arm", Some("v6"))),
        1
    );
    assert_eq!(
        selected(&index, &PlatformWanted::new("linux", "arm", Some("v8"))),
        2
    );
    assert_eq!(
        selected(&index, &PlatformWanted::new("windows", "amd64", None)),
        5
    );

    let err = index
        .select(&PlatformWanted::new("linux", "arm", Some("v5")))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("linux/arm/v5") && text.contains("linux/arm64/v8"),
        "{text}"
    );

    // amd64 v3 hardware takes the baseline image when there is no v3 build.
    let amd = index_with(&[("linux", "amd64", Some("v4")), ("linux", "amd64", None)]);
    assert_eq!(
        selected(&amd, &PlatformWanted::new("linux", "amd64", Some("v3"))),
        1
    );
    assert_eq!(
        selected(&amd, &PlatformWanted::new("linux", "amd64", Some("v4"))),
        0
    );
}

#[test]
fn host_platform_is_normalized() {
    let host = PlatformWanted::host();
    assert_eq!(host.os, "linux");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(host, PlatformWanted::linux_amd64());
    }
}

#[test]
fn docker_image_config_parses_every_field_and_go_nulls() {
    let json = format!(
        r#"{{
        "architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
        "config":{{
            "User":"1000:1000","Env":["PATH=/usr/bin","A=b"],"Entrypoint":["/init"],
            "Cmd":["sh","-c","true"],"WorkingDir":"/srv","ExposedPorts":{{"80/tcp":{{}},"53/udp":{{}}}},
            "Volumes":{{"/data":{{}}}},"Labels":{{"org.example":"yes"}},"StopSignal":"SIGQUIT",
            "Healthcheck":{{"Test":["CMD","true"],"Interval":1000000000,"Retries":3}},
            "OnBuild":null,"ArgsEscaped":true
        }},
        "rootfs":{{"type":"layers","diff_ids":["{D1}","{D2}"]}},
        "history":[{{"created_by":"ADD x /","created":"2024-01-01T00:00:00Z"}},{{"created_by":"CMD","empty_layer":true}}]
    }}"#
    );
    let config = ImageConfig::parse(json.as_bytes()).unwrap();
    let c = &config.config;
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(c.env, ["PATH=/usr/bin", "A=b"]);
    assert_eq!(c.entrypoint.as_deref(), Some(&["/init".to_string()][..]));
    assert_eq!(c.cmd.as_ref().unwrap().len(), 3);
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!(
        c.exposed_ports.keys().collect::<Vec<_>>(),
        ["53/udp", "80/tcp"]
    );
    assert!(c.volumes.contains_key("/data"));
    assert_eq!(c.labels["org.example"], "yes");
    assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
    let health = c.healthcheck.as_ref().unwrap();
    assert_eq!(health.interval, Some(1_000_000_000));
    assert_eq!(health.retries, Some(3));
    assert_eq!(config.rootfs.diff_ids.len(), 2);
    assert_eq!(config.chain_ids()[0].to_string(), D1);
    assert_eq!(config.history.len(), 2);
    assert!(config.history[1].empty_layer);
    assert_eq!(image_id(json.as_bytes()), Digest::of(json.as_bytes()));

    let nulls = r#"{"architecture":"amd64","os":"linux","config":{"Env":null,"Labels":null,"ExposedPorts":null},
        "rootfs":{"type":"layers","diff_ids":[]},"history":null}"#;
    let config = ImageConfig::parse(nulls.as_bytes()).unwrap();
    assert!(config.config.env.is_empty() && config.history.is_empty());

    let bad =
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:00"]}}"#;
    let err = ImageConfig::parse(bad.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("image config"), "{err}");
    let wrong_type =
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"dirs","diff_ids":[]}}"#;
    assert!(matches!(
        ImageConfig::parse(wrong_type.as_bytes()),
        Err(ManifestError::RootfsType(_))
    ));
}

#[test]
fn a_docker_manifest_list_is_an_index_of_kind_docker() {
    let platform = r#","platform":{"os":"linux","architecture":"arm64","variant":"v8"}"#;
    let entry = descriptor_json(DOCKER_MANIFEST, D1, platform);
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[{entry}]}}"#
    );
    let Document::Index(index) = parse_document(None, body.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(index.kind, MediaKind::Docker);
    let chosen = index
        .select(&PlatformWanted::new("linux", "arm64", None))
        .unwrap();
    assert_eq!(
        (chosen.media_type.as_str(), chosen.digest.to_string()),
        (DOCKER_MANIFEST, D1.to_string())
    );
    assert!(index.select(&PlatformWanted::linux_amd64()).is_err());
}
