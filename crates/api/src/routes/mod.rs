//! One module per API area; each gives a `Router<AppState>` merged in `crate::router`.

pub mod containers;
pub mod exec;
pub mod hijack;
pub mod images;
pub mod system;
pub mod volumes;
