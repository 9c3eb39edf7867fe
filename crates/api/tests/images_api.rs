//! The /images endpoints through the real router (tower oneshot), on a temp data root.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_engine::{Engine, EngineConfig};
use berth_testkit::{ImageBuilder, Layer, busybox_docker_archive, busybox_image, docker_archive};
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

struct Daemon {
    root: PathBuf,
    engine: Option<Arc<Engine>>,
}

impl Daemon {
    fn new(name: &str) -> Daemon {
        let root =
            std::env::temp_dir().join(format!("berth-api-images-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let config = EngineConfig::new(
            root.join("data"),
            root.join("exec"),
            PathBuf::from("/nonexistent"),
        );
        let engine = Engine::open(config).unwrap();
        Daemon {
            root,
            engine: Some(engine),
        }
    }

    async fn call(&self, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>, String) {
        let app = berth_api::router(self.engine.clone().unwrap());
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/x-tar")
            .body(Body::from(body))
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, bytes, content_type)
    }

    async fn json(&self, method: &str, uri: &str) -> (StatusCode, Value) {
        let (status, body, _) = self.call(method, uri, Vec::new()).await;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, value)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.engine = None;
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn lines(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn images_api_load_list_inspect_history_tag_save_remove() {
    let d = Daemon::new("main");
    let (status, body, ctype) = d
        .call(
            "POST",
            "/images/load?quiet=1",
            busybox_docker_archive("busybox:latest"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    assert!(body.ends_with(b"\r\n"));
    assert_eq!(
        lines(&body),
        [serde_json::json!({"stream": "Loaded image: busybox:latest\n"})]
    );
    let id = busybox_image("x").id();

    let (status, list) = d.json("GET", "/images/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["Id"], id.as_str());
    assert_eq!(list[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(list[0]["RepoDigests"], Value::Null);
    assert_eq!(list[0]["Containers"], -1);
    assert_eq!(list[0]["Created"], 1_600_000_000);
    assert!(list[0]["Size"].as_u64().unwrap() > 500_000);

    let (status, inspect) = d.json("GET", "/images/busybox/json").await;
    assert_eq!(status, StatusCode::OK, "{inspect}");
    assert_eq!(inspect["Id"], id.as_str());
    assert_eq!(inspect["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(inspect["Created"], "2020-09-13T12:26:40Z");
    assert_eq!(inspect["GraphDriver"]["Name"], "overlay2");
    assert_eq!(inspect["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(inspect["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
    assert_eq!(inspect["RepoDigests"], serde_json::json!([]));

    let (status, missing) = d.json("GET", "/images/nothere/json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "No such image: nothere");

    let (status, _) = d
        .json("POST", "/images/busybox/tag?repo=127.0.0.1:5000/x/y&tag=t")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, inspect) = d.json("GET", "/images/127.0.0.1:5000/x/y:t/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(inspect["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
    let (_, history) = d.json("GET", "/images/127.0.0.1:5000/x/y:t/history").await;
    assert_eq!(history[0]["Id"], id.as_str());
    assert_eq!(history[0]["CreatedBy"], "layer 0");

    // Save both names → a tar our load (elsewhere) restores.
    let (status, tar, ctype) = d
        .call(
            "GET",
            "/images/get?names=busybox&names=127.0.0.1:5000/x/y:t",
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/x-tar");
    let other = Daemon::new("restore");
    let (_, body, _) = other.call("POST", "/images/load", tar).await;
    let messages: Vec<String> = lines(&body)
        .iter()
        .filter_map(|l| l["stream"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        messages,
        [
            "Loaded image: busybox:latest\n",
            "Loaded image: 127.0.0.1:5000/x/y:t\n"
        ]
    );
    let (_, restored) = other.json("GET", "/images/busybox/json").await;
    assert_eq!(restored["Id"], id.as_str());
    let (status, _, _) = d.call("GET", "/images/nothere/get", Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Remove: a tag of two untags; by ID with two tags is a 409 without force.
    let (status, conflict) = d.json("DELETE", &format!("/images/{}", &id[7..19])).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        conflict["message"]
            .as_str()
            .unwrap()
            .contains("must be forced")
    );
    let (status, untagged) = d.json("DELETE", "/images/127.0.0.1:5000/x/y:t").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        untagged,
        serde_json::json!([{"Untagged": "127.0.0.1:5000/x/y:t"}])
    );
    let (_, deleted) = d.json("DELETE", "/images/busybox").await;
    assert_eq!(
        deleted[0],
        serde_json::json!({"Untagged": "busybox:latest"})
    );
    assert_eq!(deleted[1], serde_json::json!({"Deleted": id}));
    let (_, list) = d.json("GET", "/images/json").await;
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn images_api_load_errors_arrive_in_the_stream() {
    let d = Daemon::new("errors");
    let (status, body, _) = d.call("POST", "/images/load", b"garbage".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let l = lines(&body);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["error"], l[0]["errorDetail"]["message"]);
    assert!(
        l[0]["error"].as_str().unwrap().contains("invalid archive"),
        "{}",
        l[0]
    );
    // Nothing left in the spool directory.
    assert_eq!(
        std::fs::read_dir(d.root.join("data/tmp/images"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn images_api_import_with_changes_and_prune() {
    let d = Daemon::new("import");
    let rootfs = Layer::new().file("hello", b"world").gzip().blob();
    let uri = "/images/create?fromSrc=-&repo=imp&tag=1&message=m\
               &changes=CMD%20%5B%22%2Fhello%22%5D&changes=ENV%20A%3D1";
    let (status, body, _) = d.call("POST", uri, rootfs.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let l = lines(&body);
    let id = l[0]["status"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"));
    let (_, inspect) = d.json("GET", "/images/imp:1/json").await;
    assert_eq!(inspect["Id"], id.as_str());
    assert_eq!(inspect["Config"]["Cmd"], serde_json::json!(["/hello"]));
    assert_eq!(inspect["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(inspect["Comment"], "m");
    let (status, refused) = d
        .json("POST", "/images/create?fromSrc=-&changes=RUN%20x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["message"], "run is not a valid change command");
    let (status, _) = d
        .json("POST", "/images/create?fromImage=busybox&tag=latest")
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);

    // A dangling image (its tag moved) is pruned; with dangling=false the rest too.
    let old = ImageBuilder::new()
        .layer(Layer::new().file("v", b"old"))
        .tag("p:1");
    d.call("POST", "/images/load", docker_archive(&[&old]))
        .await;
    let new = ImageBuilder::new()
        .layer(Layer::new().file("v", b"new"))
        .tag("p:1");
    d.call("POST", "/images/load", docker_archive(&[&new]))
        .await;
    let (_, dangling) = d
        .json(
            "GET",
            "/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D",
        )
        .await;
    assert_eq!(dangling.as_array().unwrap().len(), 1);
    assert_eq!(
        dangling[0]["RepoTags"],
        serde_json::json!(["<none>:<none>"])
    );
    let (_, report) = d.json("POST", "/images/prune").await;
    assert_eq!(report["ImagesDeleted"][0]["Deleted"], old.id().as_str());
    assert_eq!(report["SpaceReclaimed"], 3);
    let (_, report) = d
        .json(
            "POST",
            "/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D",
        )
        .await;
    assert_eq!(
        report["ImagesDeleted"].as_array().unwrap().len(),
        6,
        "{report}"
    );
    let (_, report) = d.json("POST", "/images/prune").await;
    assert_eq!(
        report,
        serde_json::json!({"ImagesDeleted": null, "SpaceReclaimed": 0})
    );
}
