//! The crate-wide error type and its mapping to HTTP and SIP status codes.
//!
//! Invariant: this file is the only place that decides which error means which status and
//! which stable `code` string a caller sees. Internal errors (`Corrupt`, `Store`, `Io`) carry
//! details for the log only; `public_message` never reveals them.

use std::fmt;

use crate::clock::UnixSecs;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure the API and the store can report.
#[derive(Debug)]
pub enum Error {
    /// A required request parameter is absent. The payload is the parameter name.
    MissingParameter(&'static str),
    /// Malformed input or a failed validation rule. The message is safe to show.
    Invalid(String),
    /// Missing or wrong credentials, or an account that may not authenticate.
    Unauthorized,
    /// Authenticated but not allowed. The message is safe to show.
    Forbidden(String),
    /// No such resource, or one outside the caller's reach. The payload names the kind.
    NotFound(&'static str),
    /// The path exists but not with this method. The payload is the `Allow` header value.
    MethodNotAllowed(&'static str),
    /// A precondition of the request is not met (Restcomm's migration answers 412 for a
    /// missing target organization). The message is safe to show.
    PreconditionFailed(&'static str),
    /// The request conflicts with the current state (duplicate email, closed account, …).
    Conflict(String),
    /// The request body is larger than the limit.
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The body is not `application/x-www-form-urlencoded`.
    UnsupportedMediaType(String),
    /// Too many failed authentications from one address; try again later.
    TooManyRequests {
        /// Seconds until the block ends.
        retry_after: UnixSecs,
    },
    /// A registration asked for a shorter time than the minimum (SIP 423, with `Min-Expires`).
    IntervalTooBrief {
        /// The shortest registration accepted, seconds.
        min: u32,
    },
    /// Stored bytes could not be decoded: a bug or corruption, never shown to callers.
    Corrupt(String),
    /// A failure inside the embedded database, never shown to callers.
    Store(String),
    /// Another I/O failure, never shown to callers.
    Io(std::io::Error),
}

impl Error {
    /// The HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::MissingParameter(_) | Error::Invalid(_) | Error::IntervalTooBrief { .. } => 400,
            Error::Unauthorized => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) => 409,
            Error::PreconditionFailed(_) => 412,
            Error::TooLarge { .. } => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::TooManyRequests { .. } => 429,
            Error::Corrupt(_) | Error::Store(_) | Error::Io(_) => 500,
        }
    }

    /// The SIP status line for this error, for the registrar's error path.
    pub fn sip_status(&self) -> (u16, &'static str) {
        match self {
            Error::MissingParameter(_)
            | Error::Invalid(_)
            | Error::UnsupportedMediaType(_)
            | Error::PreconditionFailed(_) => (400, "Bad Request"),
            Error::Unauthorized => (401, "Unauthorized"),
            Error::Forbidden(_) | Error::Conflict(_) => (403, "Forbidden"),
            Error::NotFound(_) => (404, "Not Found"),
            Error::MethodNotAllowed(_) => (405, "Method Not Allowed"),
            Error::TooLarge { .. } => (513, "Message Too Large"),
            Error::TooManyRequests { .. } => (503, "Service Unavailable"),
            Error::IntervalTooBrief { .. } => (423, "Interval Too Brief"),
            Error::Corrupt(_) | Error::Store(_) | Error::Io(_) => (500, "Server Internal Error"),
        }
    }

    /// The stable machine-readable code callers can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingParameter(_) => "missing_parameter",
            Error::Invalid(_) => "invalid_parameter",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::PreconditionFailed(_) => "precondition_failed",
            Error::TooLarge { .. } => "body_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::IntervalTooBrief { .. } => "interval_too_brief",
            Error::Corrupt(_) | Error::Store(_) | Error::Io(_) => "internal_error",
        }
    }

    /// The message shown to callers: precise for their mistakes, generic for our faults.
    pub fn public_message(&self) -> String {
        match self {
            Error::MissingParameter(name) => format!("{name} is required"),
            Error::Invalid(msg)
            | Error::Forbidden(msg)
            | Error::Conflict(msg)
            | Error::UnsupportedMediaType(msg) => msg.clone(),
            Error::Unauthorized => "missing or invalid credentials".to_string(),
            Error::NotFound(kind) => format!("{kind} not found"),
            Error::PreconditionFailed(msg) => msg.to_string(),
            Error::MethodNotAllowed(allow) => format!("method not allowed; allowed: {allow}"),
            Error::TooLarge { limit } => {
                format!("request body too large (limit {} KiB)", limit / 1024)
            }
            Error::TooManyRequests { .. } => {
                "too many failed authentications from this address; retry later".to_string()
            }
            Error::IntervalTooBrief { min } => {
                format!("registrations last at least {min} seconds")
            }
            Error::Corrupt(_) | Error::Store(_) | Error::Io(_) => {
                "internal server error".to_string()
            }
        }
    }

    /// True for errors whose details must be logged and hidden from the peer.
    pub fn is_internal(&self) -> bool {
        self.http_status() >= 500
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Corrupt(detail) => write!(f, "corrupt record: {detail}"),
            Error::Store(detail) => write!(f, "store: {detail}"),
            Error::Io(err) => write!(f, "io: {err}"),
            other => f.write_str(&other.public_message()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::Io(err)
    }
}
