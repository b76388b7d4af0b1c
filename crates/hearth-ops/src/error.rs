//! One classification of what went wrong, mapped once to a gRPC status (`hearth-proto`) and
//! once to an exit code (`hearth-cli`).

use hearth_archive::ArchiveError;

/// What kind of failure an operation met: who can do something about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Input the person can correct; the message says how.
    Input,
    /// No such case, conflict or record here.
    NotFound,
    /// The asker may not do this here.
    Forbidden,
    /// A failing disk, a damaged document, a node that ended: not the person's input.
    Internal,
}

impl ErrorKind {
    /// Every kind, for tests of the mappings.
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Input,
        ErrorKind::NotFound,
        ErrorKind::Forbidden,
        ErrorKind::Internal,
    ];
}

/// Why a read or write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Input the person can correct; the message says how, in domain words.
    #[error("{0}")]
    Input(String),
    /// No such case, conflict or record.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed here.
    #[error("{0}")]
    Forbidden(String),
    /// The archive model refused the input, or a document is unreadable.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The storage failed (its error kept, with its causes).
    #[error(transparent)]
    Storage(Box<dyn std::error::Error + Send + Sync>),
    /// An import with bad lines: each problem, then a summary. Nothing was imported.
    #[error("{}", .problems.iter().chain(std::iter::once(.summary)).cloned().collect::<Vec<_>>().join("\n"))]
    Import {
        /// One line per bad input line (at most [`crate::MAX_LISTED`], then a count of the rest).
        problems: Vec<String>,
        /// What was refused.
        summary: String,
    },
}

impl OpError {
    pub(crate) fn input(message: impl Into<String>) -> OpError {
        OpError::Input(message.into())
    }

    /// The error of `kind` saying `message`, as a client reads it back from a node.
    pub fn of_kind(kind: ErrorKind, message: String) -> OpError {
        match kind {
            ErrorKind::Input => OpError::Input(message),
            ErrorKind::NotFound => OpError::NotFound(message),
            ErrorKind::Forbidden => OpError::Forbidden(message),
            ErrorKind::Internal => OpError::Storage(message.into()),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpError::Input(_) | OpError::Import { .. } => ErrorKind::Input,
            OpError::NotFound(_) => ErrorKind::NotFound,
            OpError::Forbidden(_) => ErrorKind::Forbidden,
            OpError::Archive(e) => archive_kind(e),
            OpError::Storage(_) => ErrorKind::Internal,
        }
    }

    /// Whether the person can correct it (bad input, an unknown case), as opposed to a failing
    /// disk or a damaged document.
    pub fn is_input(&self) -> bool {
        matches!(self.kind(), ErrorKind::Input | ErrorKind::NotFound)
    }
}

/// What kind of failure an archive error is: about the input, or about a document.
pub fn archive_kind(e: &ArchiveError) -> ErrorKind {
    if e.is_input() {
        ErrorKind::Input
    } else {
        ErrorKind::Internal
    }
}

/// Result of operations.
pub type Result<T, E = OpError> = std::result::Result<T, E>;
