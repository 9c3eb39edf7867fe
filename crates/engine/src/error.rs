//! One error type for the engine. Its kind is what a client needs to react (the API maps it to
//! an HTTP status); its message says what failed, on which object, and why.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such container, image, exec, volume (404).
    NotFound,
    /// The object exists but its state forbids the request: name in use, image in use,
    /// container running (409).
    Conflict,
    /// The request itself is wrong: bad option, bad reference, bad archive (400).
    InvalidArgument,
    /// Nothing to do: start of a started container, stop of a stopped one (304).
    NotModified,
    /// Refused by design, not by state: a feature berth does not have (501 for the API).
    NotImplemented,
    /// The engine, the kernel, the shim or the disk failed (500).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_modified(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotModified, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Wraps a lower error as internal, saying what was being done: `Error::context("unpack layer sha256:..", e)`.
    pub fn context(what: impl fmt::Display, cause: impl fmt::Display) -> Self {
        Self::internal(format!("{what}: {cause}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
