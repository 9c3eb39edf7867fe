//! One error type for the runtime library: every variant says what failed, on which object, and why.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is unreadable, malformed or asks for something invalid.
    #[error("{file}: {field}: {reason}")]
    Config {
        file: PathBuf,
        field: String,
        reason: String,
    },
    /// A command-line argument or container ID is not acceptable.
    #[error("{0}")]
    Usage(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// The container is in a state that does not allow the operation.
    #[error("container {id:?} is {status}: {reason}")]
    WrongState {
        id: String,
        status: String,
        reason: String,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The container's init process reported a failure while setting the container up.
    #[error("container init: {0}")]
    Init(crate::channel::InitFailure),
    /// A process being exec'd into a container reported a failure before it could run.
    #[error("exec'd process: {0}")]
    Exec(crate::channel::InitFailure),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "what was being done" to an io::Error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Sys {
            what: what(),
            source,
        })
    }
}

impl<T> Context<T> for rustix::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            what: what(),
            source: io::Error::from(errno),
        })
    }
}

impl Error {
    pub fn config(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Config {
            file: file.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}
