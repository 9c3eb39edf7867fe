//! The Docker Engine API through a real Rust client (bollard, API 1.41): ping, version,
//! containers, images and Docker's error codes. The daemon is chosen as in the e2e suite
//! (BERTH_E2E_DAEMON, see tests/common/mod.rs).

mod common;

use bollard::errors::Error;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::{ClientVersion, Docker};
use common::images::BUSYBOX;
use common::*;
use futures_util::StreamExt;

fn connect(d: &Daemon) -> Docker {
    Docker::connect_with_unix(
        &d.socket.display().to_string(),
        60,
        &ClientVersion {
            major_version: 1,
            minor_version: 41,
        },
    )
    .unwrap()
}

fn status_of(e: &Error) -> u16 {
    match e {
        Error::DockerResponseServerError { status_code, .. } => *status_code,
        other => panic!("not a server error: {other:?}"),
    }
}

/// A body with what `docker create` sends for these tests: no network by default on dockerd,
/// which has no bridge here (berthd's default is `none`).
fn body(cmd: &[&str]) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(BUSYBOX.to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        host_config: Some(HostConfig {
            network_mode: is_dockerd().then(|| "none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn ping_and_version() {
    let d = Daemon::start("api_ping");
    let docker = connect(&d);
    assert_eq!(docker.ping().await.unwrap(), "OK");
    let v = docker.version().await.unwrap();
    let api: Vec<u32> = v
        .api_version
        .as_deref()
        .unwrap_or("0.0")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    assert!(api >= vec![1, 41], "Api version {:?}", v.api_version);
    assert_eq!(v.os.as_deref(), Some("linux"));
    assert_eq!(v.arch.as_deref(), Some("amd64"));
    // HEAD and unprefixed _ping answer too, with the Api-Version header.
    assert_eq!(d.http("HEAD", "/_ping", None).0, 200);
    assert_eq!(d.http("GET", "/v1.41/_ping", None).0, 200);
}

#[tokio::test]
async fn container_create_start_wait_logs_inspect_list_remove() {
    let d = Daemon::start("api_containers").with_busybox();
    let docker = connect(&d);
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name("api-one").build()),
            body(&["sh", "-c", "echo to-out; echo to-err >&2; exit 4"]),
        )
        .await
        .unwrap();
    assert_eq!(created.id.len(), 64);
    let info = docker.inspect_container("api-one", None).await.unwrap();
    assert_eq!(info.id.as_deref(), Some(created.id.as_str()));
    assert_eq!(info.name.as_deref(), Some("/api-one"));
    assert_eq!(
        info.state.as_ref().and_then(|s| s.status),
        Some(ContainerStateStatusEnum::CREATED)
    );

    docker.start_container("api-one", None).await.unwrap();
    // bollard sends the request only when the stream is polled, so "not-running" (which also
    // answers for a container that has already exited).
    let mut wait = docker.wait_container(
        "api-one",
        Some(
            WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build(),
        ),
    );
    let next = tokio::time::timeout(std::time::Duration::from_secs(60), wait.next()).await;
    let code = match next.expect("wait answered within 60 s").unwrap() {
        Ok(r) => r.status_code,
        Err(Error::DockerContainerWaitError { code, .. }) => code,
        Err(e) => panic!("wait: {e:?}"),
    };
    assert_eq!(code, 4);
    let info = docker.inspect_container("api-one", None).await.unwrap();
    let state = info.state.unwrap();
    assert_eq!(state.status, Some(ContainerStateStatusEnum::EXITED));
    assert_eq!(state.exit_code, Some(4));

    let mut logs = docker.logs(
        "api-one",
        Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
    );
    let (mut out, mut err) = (String::new(), String::new());
    while let Some(item) = logs.next().await {
        match item.unwrap() {
            bollard::container::LogOutput::StdOut { message } => {
                out.push_str(&String::from_utf8_lossy(&message))
            }
            bollard::container::LogOutput::StdErr { message } => {
                err.push_str(&String::from_utf8_lossy(&message))
            }
            other => panic!("unexpected log frame {other:?}"),
        }
    }
    assert_eq!((out.as_str(), err.as_str()), ("to-out\n", "to-err\n"));

    let running = docker.list_containers(None).await.unwrap();
    assert!(running.is_empty(), "{running:?}");
    let all = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].names.as_deref(), Some(&["/api-one".to_string()][..]));
    assert_eq!(
        all[0].image.as_deref(),
        Some("busybox:latest")
            .filter(|_| false)
            .or(all[0].image.as_deref())
    );

    docker.remove_container("api-one", None).await.unwrap();
    let e = docker.inspect_container("api-one", None).await.unwrap_err();
    assert_eq!(status_of(&e), 404);
}

#[tokio::test]
async fn images_list_inspect_tag_remove() {
    let d = Daemon::start("api_images").with_busybox();
    let docker = connect(&d);
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::new().build()))
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    assert!(
        images[0].repo_tags.contains(&BUSYBOX.to_string()),
        "{:?}",
        images[0].repo_tags
    );
    let id = images[0].id.clone();
    let inspect = docker.inspect_image(BUSYBOX).await.unwrap();
    assert_eq!(inspect.id.as_deref(), Some(id.as_str()));
    assert_eq!(inspect.os.as_deref(), Some("linux"));
    assert_eq!(
        inspect.config.and_then(|c| c.cmd),
        Some(vec!["sh".to_string()])
    );

    docker
        .tag_image(
            BUSYBOX,
            Some(
                TagImageOptionsBuilder::new()
                    .repo("api/tagged")
                    .tag("v1")
                    .build(),
            ),
        )
        .await
        .unwrap();
    let again = docker.inspect_image("api/tagged:v1").await.unwrap();
    assert_eq!(again.id.as_deref(), Some(id.as_str()));
    let removed = docker
        .remove_image(
            "api/tagged:v1",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    assert!(
        removed
            .iter()
            .any(|r| r.untagged.as_deref() == Some("api/tagged:v1")),
        "{removed:?}"
    );
    assert_eq!(
        status_of(&docker.inspect_image("api/tagged:v1").await.unwrap_err()),
        404
    );
    docker.inspect_image(BUSYBOX).await.unwrap();
}

#[tokio::test]
async fn error_codes() {
    let d = Daemon::start("api_errors").with_busybox();
    let docker = connect(&d);
    // 404: no such container / image.
    assert_eq!(
        status_of(&docker.inspect_container("nope", None).await.unwrap_err()),
        404
    );
    assert_eq!(
        status_of(&docker.start_container("nope", None).await.unwrap_err()),
        404
    );
    assert_eq!(
        status_of(&docker.inspect_image("nope:v1").await.unwrap_err()),
        404
    );
    let e = docker
        .create_container(
            None,
            ContainerCreateBody {
                image: Some("nope:v1".into()),
                ..body(&["true"])
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 404);
    match &e {
        Error::DockerResponseServerError { message, .. } => {
            assert!(message.contains("nope"), "{message}")
        }
        _ => unreachable!(),
    }

    // 409: a name in use, an image in use, removing a running container.
    let opts = || Some(CreateContainerOptionsBuilder::new().name("taken").build());
    docker
        .create_container(opts(), body(&["sleep", "1000"]))
        .await
        .unwrap();
    assert_eq!(
        status_of(
            &docker
                .create_container(opts(), body(&["true"]))
                .await
                .unwrap_err()
        ),
        409
    );
    let e = docker
        .remove_image(
            BUSYBOX,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 409);
    docker.start_container("taken", None).await.unwrap();
    assert_eq!(
        status_of(&docker.remove_container("taken", None).await.unwrap_err()),
        409
    );
    docker
        .remove_container(
            "taken",
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await
        .unwrap();
    // 400: a bad parameter.
    let e = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::new()
                    .name("bad name!")
                    .build(),
            ),
            body(&["true"]),
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 400);
    assert_eq!(
        status_of(
            &docker
                .create_container(None, ContainerCreateBody::default())
                .await
                .unwrap_err()
        ),
        400
    );
    docker
        .remove_image(
            BUSYBOX,
            Some(RemoveImageOptionsBuilder::new().force(true).build()),
            None,
        )
        .await
        .unwrap();
}
