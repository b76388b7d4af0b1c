//! Hearth's sync engine, sans IO: a session state machine per pair of neighbouring nodes that
//! takes frames in and gives frames out, the scope rule, feed checkpoints, and a deterministic
//! simulated network to test it on, and offline bundles that carry the same changes in a file.
//!
//! This crate knows nothing about sockets, tonic, tokio or files: the gRPC layer of
//! `hearth-node` (and, in tests, [`sim::Network`]) carries the frames, and a [`Replica`] gives
//! access to the node's documents and persisted sync state.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

pub mod bundle;
pub mod frame;
pub mod replica;
pub mod scope;
pub mod session;
pub mod sim;
pub mod trust;

pub use bundle::{Bundle, BundleDoc, BundleError, Imported};
pub use frame::{
    DigestEntry, ErrorCode, Frame, Hello, MAX_DOC_ID, PROTOCOL_MAJOR, Refusal, Resume, valid_doc_id,
};
pub use replica::{MemReplica, Replica, ReplicaError};
pub use scope::Neighbour;
pub use session::{Closed, Refused, Session, SessionConfig, SessionStats};
pub use trust::{Keyring, SharedKeyring, TrustError};
