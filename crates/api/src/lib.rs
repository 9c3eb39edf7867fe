//! berth-api: the Docker Engine HTTP API over a Unix socket, on top of berth-engine.
//!
//! Paths are served unprefixed and under `/vN.NN/` for every version up to [`API_VERSION`];
//! the prefix is stripped before routing (`strip_version`), so handlers see `/containers/json`.
//! Errors are Docker's shape, `{"message": "..."}`, with the status of the engine error's kind.

// serde_json's json! for `info`'s body nests deeper than the default limit.
#![recursion_limit = "256"]

pub mod body;
pub mod error;
pub mod routes;

use berth_engine::Engine;
use std::sync::Arc;

/// The API version whose semantics berthd implements (dockerd 20.10's; docker CLI 28 negotiates
/// down to it through `_ping`'s `Api-Version`).
pub const API_VERSION: &str = "1.41";
/// The oldest version a client may ask for.
pub const MIN_API_VERSION: &str = "1.24";

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
}

/// The whole router, with state; `serve` wraps it with version stripping.
pub fn router(engine: Arc<Engine>) -> axum::Router {
    let state = AppState { engine };
    axum::Router::new()
        .merge(routes::system::router())
        .merge(routes::containers::router())
        .merge(routes::exec::router())
        .merge(routes::images::router())
        .merge(routes::volumes::router())
        .fallback(routes::system::unknown_endpoint)
        .with_state(state)
}

/// `/v1.41/containers/json` → `/containers/json`; a version above ours is refused by the
/// handler of `routes::system::unknown_endpoint` shape (dockerd answers 400 for it too).
pub fn strip_version(path: &str) -> Result<&str, String> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (version, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut parts = version.split('.');
    let (Some(major), Some(minor), None) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(path);
    };
    if !major.chars().all(|c| c.is_ascii_digit()) || !minor.chars().all(|c| c.is_ascii_digit()) {
        return Ok(path);
    }
    if compare_versions(version, API_VERSION) == std::cmp::Ordering::Greater {
        return Err(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        ));
    }
    Ok(tail)
}

/// Compares "1.41" and "1.9" numerically per component.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a).cmp(&parse(b))
}

/// Serves the API on `listener` until `shutdown` resolves. Each connection may be upgraded
/// (attach and exec hijack it).
pub async fn serve(
    engine: Arc<Engine>,
    listener: tokio::net::UnixListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower::ServiceExt;

    let app = router(engine);
    let service = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let req = req.map(axum::body::Body::new);
            let req = match rewrite_versioned(req) {
                Ok(req) => req,
                Err(resp) => return Ok::<_, std::convert::Infallible>(*resp),
            };
            app.oneshot(req).await
        }
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept on the API socket: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let service = service.clone();
        tokio::spawn(async move {
            let hyper_service = hyper_util::service::TowerToHyperService::new(service);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                .await
            {
                tracing::debug!("API connection ended: {e}");
            }
        });
    }
}

fn rewrite_versioned(
    mut req: axum::http::Request<axum::body::Body>,
) -> Result<axum::http::Request<axum::body::Body>, Box<axum::response::Response>> {
    let uri = req.uri().clone();
    let stripped = match strip_version(uri.path()) {
        Ok(p) => p,
        Err(message) => {
            return Err(Box::new(
                error::ApiError::new(axum::http::StatusCode::BAD_REQUEST, message)
                    .into_response_public(),
            ));
        }
    };
    if stripped.len() != uri.path().len() {
        let pq = match uri.query() {
            Some(q) => format!("{stripped}?{q}"),
            None => stripped.to_string(),
        };
        if let Ok(new) = pq.parse() {
            *req.uri_mut() = new;
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes_are_stripped_and_too_new_ones_refused() {
        assert_eq!(
            strip_version("/v1.41/containers/json"),
            Ok("/containers/json")
        );
        assert_eq!(strip_version("/v1.24/_ping"), Ok("/_ping"));
        assert_eq!(strip_version("/containers/json"), Ok("/containers/json"));
        assert_eq!(strip_version("/volumes"), Ok("/volumes"));
        assert!(strip_version("/v1.99/containers/json").is_err());
    }
}
