//! The archive API itself: the stat header and the status codes dockerd answers with.

use super::*;
use crate::common::images::Layer;

#[test]
fn archive_api_stat_header_and_status_codes() {
    let d = Daemon::start("archive_api").with_busybox();
    sleeper(
        &d,
        "api",
        &[],
        "mkdir -p /d/sub; printf abc > /d/f; ln -s /etc /d/abs; ln -s ../../../.. /d/up; \
         ln -s f /d/rel",
    );
    let s = stat(&d, "api", "/d/f").unwrap();
    assert_eq!(
        (s["name"].as_str(), s["size"].as_i64(), s["mode"].as_u64()),
        (Some("f"), Some(3), Some(0o644))
    );
    assert!(s["mtime"].as_str().unwrap().ends_with('Z'), "{s}");
    assert_eq!(s["linkTarget"], "");
    let dir = stat(&d, "api", "/d").unwrap();
    assert_eq!(
        dir["mode"].as_u64(),
        Some((1 << 31) | 0o755),
        "Go's ModeDir"
    );
    for (link, target) in [("/d/abs", "/etc"), ("/d/up", "/"), ("/d/rel", "/d/f")] {
        let s = stat(&d, "api", link).unwrap();
        assert_eq!(
            s["mode"].as_u64(),
            Some((1 << 27) | 0o777),
            "{link}: ModeSymlink"
        );
        assert_eq!(
            s["linkTarget"], target,
            "{link}: resolved inside the container"
        );
    }
    assert_eq!(stat(&d, "api", "/d/abs/").unwrap()["name"], "abs");
    assert_eq!(stat(&d, "api", "/").unwrap()["name"], "/");
    assert_eq!(stat(&d, "api", "/nope"), Err(404));
    assert_eq!(stat(&d, "api", "relative-is-absolute"), Err(404));
    assert_eq!(stat(&d, "nosuch", "/"), Err(404));

    let good = {
        let mut l = Layer::new();
        l.file("new.txt", 0o644, b"new\n");
        l.finish()
    };
    let put = |container: &str, query: &str| {
        let (status, _, body) = request(
            &d,
            "PUT",
            &format!("/containers/{container}/archive?{query}"),
            Some(&good),
        );
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(put("api", "path=/d").0, 200);
    assert_eq!(archive(&d, "api", "/d/new.txt")[0].4, b"new\n");
    let (status, body) = put("api", "path=/nope");
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("Could not find the file /nope in container api"),
        "{body}"
    );
    let (status, body) = put("api", "path=/d/f");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("extraction point is not a directory"),
        "{body}"
    );
    assert_eq!(put("api", "").0, 400);
    assert_eq!(request(&d, "GET", "/containers/api/archive", None).0, 400);
    // Through a symlink to a directory, inside the container.
    assert_eq!(put("api", "path=/d/abs").0, 200);
    assert!(archive(&d, "api", "/etc/new.txt").len() == 1);
    d.client()
        .ok(&["create", "--name", "ro", "--read-only", "busybox", "true"]);
    let (status, body) = put("ro", "path=/tmp");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("container rootfs is marked read-only"),
        "{body}"
    );
    let (status, _, body) = request(&d, "GET", "/containers/api/archive?path=/d/f/x", None);
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
}
