//! Errors of the archive model: bad input from a caseworker and documents that do not fit the
//! schema.

use crate::codes::Status;

/// What went wrong while reading or changing an archive document.
///
/// Messages are written for the person at the terminal: lowercase, no trailing full stop, and
/// never quoting personal data such as an ID number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A value that should be one of a coded list is not.
    #[error("unknown {what} {value:?}; use one of: {expected}")]
    UnknownCode {
        /// Which list.
        what: &'static str,
        /// What was given.
        value: String,
        /// The codes that are accepted.
        expected: String,
    },
    /// A money amount that is not yuan with at most two decimals, or out of range.
    #[error("invalid amount {value:?} for {field}: {reason}")]
    Amount {
        /// Which field.
        field: &'static str,
        /// What was given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A date that is not a real `YYYY-MM-DD` date.
    #[error("invalid date {value:?} for {field}: write it as YYYY-MM-DD, e.g. 2026-03-15")]
    Date {
        /// Which field.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// A national ID number that fails validation (the number itself is never quoted).
    #[error("invalid ID number: {0}")]
    IdNumber(&'static str),
    /// A field value that breaks a rule of the model.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why it is refused, with what to do.
        reason: String,
    },
    /// A status change that the lifecycle does not allow.
    #[error("cannot move a case from {from} to {to}; from {from} it may go to: {allowed}")]
    Transition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
        /// Allowed targets, comma separated.
        allowed: String,
    },
    /// Filing needs fields that the case does not have yet.
    #[error("case cannot be filed yet: missing {0}; set them by editing the case")]
    NotReadyToFile(String),
    /// A record (loan, …) named by id is not in the case.
    #[error("no {what} {id:?} in this case; showing the case lists them")]
    NoSuchRecord {
        /// Kind of record.
        what: &'static str,
        /// Id given.
        id: String,
    },
    /// Aid over a cap of the policy in force (the message says which and what to do).
    #[error("{0}")]
    OverCap(String),
    /// A rule of the union's: the filing chain out of order, aid or a loan outside the rules
    /// (the message says which rule and what to do).
    #[error("{0}")]
    Rule(String),
    /// A second archive for a household already on file (one household, one file).
    #[error("{0}")]
    OneFile(String),
    /// The case is closed, so no aid, loan or visit may be added.
    #[error("case is closed; reopen it only through a new case")]
    Closed,
    /// The document does not fit the schema of its kind (a field missing or of another type,
    /// an unknown code); one of a newer schema is [`ArchiveError::NewerSchema`].
    #[error("the document does not fit Hearth's schema: {0}")]
    Schema(String),
    /// A document from another node was written by a newer Hearth (its schema is newer than
    /// this node's); the node keeps working and takes it once upgraded.
    #[error(
        "the document has {what} schema {found}, newer than the {known} this node knows; upgrade this node"
    )]
    NewerSchema {
        /// Which kind of document.
        what: &'static str,
        /// Schema version found.
        found: i64,
        /// Newest version this code knows.
        known: i64,
    },
    /// A document from another node holds what no honest node writes: a value out of range, a
    /// text or a collection larger than allowed, a figure that cannot be.
    #[error("the document holds implausible data: {0}")]
    Implausible(String),
    /// Automerge refused to load or change the document.
    #[error("archive document is damaged or unreadable: {0}")]
    Document(#[from] automerge::AutomergeError),
}

impl ArchiveError {
    /// Whether the error is about the input given (the person can correct it), rather than a
    /// document that is damaged, of a newer schema or implausible.
    pub fn is_input(&self) -> bool {
        !matches!(
            self,
            ArchiveError::Schema(_)
                | ArchiveError::Document(_)
                | ArchiveError::NewerSchema { .. }
                | ArchiveError::Implausible(_)
        )
    }
}

/// Result of archive operations.
pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;
