//! Which daemon to talk to: `-H/--host`, then `BERTH_HOST`, then `DOCKER_HOST`, then the
//! default socket.

use std::path::PathBuf;

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// Picks the host string by precedence; empty values count as unset.
pub fn select(flag: Option<&str>, berth_host: Option<&str>, docker_host: Option<&str>) -> String {
    [flag, berth_host, docker_host]
        .into_iter()
        .flatten()
        .find(|h| !h.is_empty())
        .unwrap_or(DEFAULT_HOST)
        .to_string()
}

/// The socket path inside a `unix://PATH` host (a bare absolute path is accepted too).
pub fn socket_path(host: &str) -> Result<PathBuf, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(format!(
                "invalid host {host:?}: the unix socket path is empty"
            ));
        }
        return Ok(PathBuf::from(path));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    let scheme = host.split("://").next().unwrap_or(host);
    Err(format!(
        "invalid host {host:?}: berth only speaks to a unix:// socket (got scheme {scheme:?})"
    ))
}

/// The host from the environment of this process.
pub fn from_env(flag: Option<&str>) -> String {
    let berth = std::env::var("BERTH_HOST").ok();
    let docker = std::env::var("DOCKER_HOST").ok();
    select(flag, berth.as_deref(), docker.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_then_berth_then_docker_then_default() {
        assert_eq!(
            select(Some("unix:///a"), Some("unix:///b"), Some("unix:///c")),
            "unix:///a"
        );
        assert_eq!(
            select(None, Some("unix:///b"), Some("unix:///c")),
            "unix:///b"
        );
        assert_eq!(select(None, Some(""), Some("unix:///c")), "unix:///c");
        assert_eq!(select(None, None, None), DEFAULT_HOST);
    }

    #[test]
    fn socket_paths() {
        assert_eq!(
            socket_path("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert_eq!(
            socket_path("/run/y.sock").unwrap(),
            PathBuf::from("/run/y.sock")
        );
        assert!(socket_path("tcp://127.0.0.1:2375").is_err());
        assert!(socket_path("unix://").is_err());
    }
}
