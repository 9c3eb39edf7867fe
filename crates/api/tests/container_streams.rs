//! `docker run`'s four requests over a real Unix socket (as root): create, a hijacked attach,
//! a wait whose headers arrive before the start, and the start; then the attach stream's
//! frames and the wait's body.

use berth_engine::{Engine, EngineConfig};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

fn shim_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("berth-shim")
}

async fn request(sock: &PathBuf, head: &str, body: &str) -> (UnixStream, String) {
    let mut conn = UnixStream::connect(sock).await.unwrap();
    let msg = format!(
        "{head}\r\nHost: berth\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(msg.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(
            conn.read(&mut byte).await.unwrap(),
            1,
            "connection closed in the head"
        );
        got.push(byte[0]);
    }
    (conn, String::from_utf8(got).unwrap())
}

async fn read_to_end(conn: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_through_the_socket_frames_output_and_reports_the_exit() {
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("SKIP: needs root");
        return;
    }
    let tag = format!("ctrapi-{}", std::process::id());
    let base = PathBuf::from(format!("/run/berth-test-{tag}"));
    std::fs::create_dir_all(&base).unwrap();
    let config = EngineConfig::new(base.join("d"), base.join("e"), shim_binary());
    let engine = Engine::open(config).unwrap();
    let archive = base.join("busybox.tar");
    std::fs::write(
        &archive,
        berth_testkit::busybox_docker_archive("tk-busybox:latest"),
    )
    .unwrap();
    engine.images.load(&archive, &mut |_| {}).unwrap();
    let sock = base.join("api.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(berth_api::serve(engine.clone(), listener, async {
        let _ = stop_rx.await;
    }));

    let create = format!(
        r#"{{"Image":"tk-busybox:latest","Cmd":["sh","-c","echo out; echo err >&2; exit 3"],
        "HostConfig":{{"CgroupParent":"berth-test-{tag}","NetworkMode":"default","AutoRemove":true}}}}"#
    );
    let (mut c1, head) = request(
        &sock,
        "POST /v1.41/containers/create HTTP/1.1\r\nContent-Type: application/json",
        &create,
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let mut buf = vec![0u8; 4096];
    let n = c1.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let id = text.split("\"Id\":\"").nth(1).unwrap()[..64].to_string();

    let (mut attach, head) = request(
        &sock,
        &format!("POST /v1.41/containers/{id}/attach?stderr=1&stdout=1&stream=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("application/vnd.docker.raw-stream"), "{head}");
    attach.shutdown().await.unwrap(); // no stdin, as the CLI does

    // A client that does not ask to upgrade gets the same frames as a 200 response's body.
    let (mut plain, head) = request(
        &sock,
        &format!("POST /v1.41/containers/{id}/attach?stderr=1&stdout=1&stream=1 HTTP/1.1\r\nConnection: close"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/vnd.docker.raw-stream"), "{head}");

    // The wait's head must come before the start, or `docker run` deadlocks.
    let (mut wait, head) = request(
        &sock,
        &format!("POST /v1.41/containers/{id}/wait?condition=removed HTTP/1.1"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let (_c3, head) = request(
        &sock,
        &format!("POST /v1.41/containers/{id}/start HTTP/1.1"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");

    let stream = read_to_end(&mut attach).await;
    let mut rest = &stream[..];
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some((kind, payload, used)) = parse_frame(rest) {
        match kind {
            1 => stdout.extend_from_slice(payload),
            2 => stderr.extend_from_slice(payload),
            other => panic!("stream {other}"),
        }
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "trailing bytes {rest:?}");
    assert_eq!(stdout, b"out\n");
    assert_eq!(stderr, b"err\n");
    let plain_body = dechunk(&read_to_end(&mut plain).await);
    let mut frames = Vec::new();
    let mut rest = &plain_body[..];
    while let Some((kind, payload, used)) = parse_frame(rest) {
        frames.push((kind, payload.to_vec()));
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "trailing bytes {rest:?}");
    frames.sort();
    assert_eq!(frames, [(1, b"out\n".to_vec()), (2, b"err\n".to_vec())]);

    let mut body = Vec::new();
    while !String::from_utf8_lossy(&body).contains("StatusCode") {
        let n = wait.read(&mut buf).await.unwrap();
        assert!(n > 0, "wait closed without a body");
        body.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&body).contains(r#""StatusCode":3"#),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // AutoRemove: it is gone.
    let (_c, head) = request(
        &sock,
        &format!("GET /v1.41/containers/{id}/json HTTP/1.1"),
        "",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    let _ = stop_tx.send(());
    let _ = server.await;
    drop(engine);
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(format!("berth-test-{tag}")));
    }
    std::fs::remove_dir_all(&base).unwrap();
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Docker's 8-byte stream header: [stream, 0, 0, 0, len as u32 big-endian].
fn parse_frame(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let h = buf.get(..8)?;
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    Some((h[0], buf.get(8..8 + len)?, 8 + len))
}
