//! Writes the testkit's sample archives into a directory (for checking them with a real
//! `docker load`): `cargo run -p berth-testkit --example write_archives DIR`.
use berth_testkit::*;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("busybox.tar"),
        busybox_docker_archive("tk-busybox:latest"),
    )?;
    let two = ImageBuilder::new()
        .layer(Layer::new().dir("a/").file("a/x", b"1").file("a/y", b"2"))
        .layer(
            Layer::new()
                .whiteout("a/x")
                .opaque("a")
                .file("a/z", b"3")
                .gzip(),
        )
        .tag("tk-two:1")
        .tag("tk-two:2");
    std::fs::write(
        dir.join("many.tar"),
        docker_archive(&[&busybox_image("tk-bb:1"), &two]),
    )?;
    std::fs::write(dir.join("oci.tar"), oci_layout(&[&two]))?;
    std::fs::write(dir.join("blobs.tar"), docker_archive_blobs(&[&two]))?;
    Ok(())
}
