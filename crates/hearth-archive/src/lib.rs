//! Hearth's archive model: the hardship case (困难职工档案) as an Automerge document, with
//! grading, the lifecycle, identity keys, money and the coded lists of the domain.
//!
//! This crate does no IO and knows nothing of async, storage or the network: callers hand in the
//! time, the actor and fresh record ids, and get documents and bytes back.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

pub use automerge;
pub use jiff;

pub mod calendar;
pub mod case;
pub mod check;
pub mod codes;
pub mod conflict;
mod doc;
pub mod due;
pub mod error;
pub mod form;
pub mod grade;
pub mod identity;
pub mod ledger;
pub mod lifecycle;
pub mod listing;
pub mod money;
pub mod policy;
pub mod record;
pub mod rules;
pub mod signed;
pub mod summary;
pub mod text;
pub mod untrusted;
pub mod view;

pub use case::{
    BoundId, Case, CaseFields, ChainRules, Change, Editor, NewAidApproval, NewAssistance, NewLoan,
    NewMember, NewRepayment, NewReview, NewStep, NewVisit, StatusMove, participants_of,
};
pub use codes::{
    AssistanceKind, Cause, ChainStep, CheckResult, Decision, Exclusion, Gender, Grade,
    IncomeSource, Level, ReviewResult, Status, VisitKind,
};
pub use doc::{actor_id, heads_hash, node_of_actor};
pub use error::ArchiveError;
pub use form::CaseForm;
pub use grade::GradeStandard;
pub use identity::{FederationSalt, IdNumber, IdentityKey};
pub use policy::Policy;
pub use record::{DocId, Document, Record, RecordKind};
pub use view::{CaseSummary, CaseView, VoidedRecord};

#[cfg(test)]
mod tests;
