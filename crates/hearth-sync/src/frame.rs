//! The frames two nodes exchange on their one sync stream, as domain types. The gRPC edge maps
//! them to and from protobuf; nothing here knows about the wire encoding.

pub use hearth_archive::signed::ChangeSig;

/// Major protocol version: a peer with another major version is refused.
pub const PROTOCOL_MAJOR: u32 = 1;
/// Minor protocol version: additions a peer of the same major version may ignore.
pub const PROTOCOL_MINOR: u32 = 2;

/// Where a node is in another node's feed: "I have applied everything you listed up to `seq`
/// in feed epoch `epoch`". A feed epoch changes when a data dir is recreated, which makes every
/// checkpoint against the old feed invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The feed epoch of the node whose feed this is.
    pub epoch: u64,
    /// Last feed sequence fully applied.
    pub seq: u64,
}

/// First frame each side sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Sender's node id.
    pub node: String,
    /// Sender's major protocol version.
    pub major: u32,
    /// Sender's minor protocol version.
    pub minor: u32,
    /// Sender's feed epoch.
    pub epoch: u64,
    /// How far the sender has applied the receiver's feed, if it has a checkpoint.
    pub resume: Option<Resume>,
    /// SHA-256 of the receiver's node certificate as the sender already holds it (empty: it
    /// holds none): a receiver whose certificate is that one need not send it at this hello.
    pub knows: Vec<u8>,
}

/// One entry of a reconciliation digest: a document and a hash of its heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    /// Document id.
    pub doc: String,
    /// [`heads_hash`] of the sender's copy.
    pub heads: [u8; 32],
}

/// Why one document was refused; the session goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The document is not shared between the two nodes (scope rule, DESIGN §4).
    OutOfScope,
    /// The sync message could not be decoded or applied.
    Invalid,
    /// The document or message is larger than the receiver accepts.
    TooLarge,
    /// A change is not signed by the node its actor names, or its signature does not check
    /// (DESIGN §4a, authorship).
    Unsigned,
    /// A change breaks a rule of what its author may write (DESIGN §4a, authorization); the
    /// message says which rule.
    Forbidden,
}

impl Refusal {
    /// A word for it: `out_of_scope`, `invalid`, `too_large`, `unsigned`, `forbidden`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::OutOfScope => "out_of_scope",
            Refusal::Invalid => "invalid",
            Refusal::TooLarge => "too_large",
            Refusal::Unsigned => "unsigned",
            Refusal::Forbidden => "forbidden",
        }
    }
}

/// Why a whole session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Protocol major versions differ.
    Version,
    /// The peer is not who it should be.
    Identity,
    /// The peer broke the protocol.
    Protocol,
    /// The receiver could not store what it received.
    Storage,
    /// The peer sent more than the receiver holds for one session (documents under way, digest
    /// entries); the next session goes on from the checkpoints.
    Limit,
}

/// Longest document id accepted in a frame: `summary.` or `ledger.` and a node id of at most
/// 253 characters.
pub const MAX_DOC_ID: usize = 270;

/// Whether a document id from a peer is one a node could have made: printable ASCII without
/// spaces, at most [`MAX_DOC_ID`] bytes.
pub fn valid_doc_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_DOC_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A frame on the sync stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens the session.
    Hello(Hello),
    /// An Automerge sync message for one document.
    Sync {
        /// Document id.
        doc: String,
        /// Encoded `automerge::sync::Message`.
        message: Vec<u8>,
        /// Signatures covering the changes the message carries (DESIGN §4a): the newest of
        /// each author's the sender keeps, relayed as their authors made them.
        signatures: Vec<ChangeSig>,
    },
    /// Certificate chains (each the node's certificate first) of nodes whose signatures or
    /// places the receiver needs to check what follows; sent once per node per session.
    Certificates(Vec<Vec<Vec<u8>>>),
    /// Part of a reconciliation digest of every document the sender shares with the receiver;
    /// `upto` is set on the last part: the sender's feed head the digest reflects.
    Digest {
        /// Entries of this part.
        entries: Vec<DigestEntry>,
        /// Set on the last part.
        upto: Option<u64>,
    },
    /// "You have applied my feed up to here": the receiver may store it as its checkpoint.
    Checkpoint(Resume),
    /// One document was refused, with a message for the operator.
    Refused {
        /// Document id.
        doc: String,
        /// Why.
        reason: Refusal,
        /// Says what is wrong and what to do.
        message: String,
    },
    /// The session ends.
    Error {
        /// Why.
        code: ErrorCode,
        /// Says what is wrong and what to do.
        message: String,
    },
}

impl Frame {
    /// Bytes this frame takes on the wire, near enough for accounting (payload plus ids).
    pub fn approx_size(&self) -> usize {
        match self {
            Frame::Hello(h) => 32 + h.node.len(),
            Frame::Sync {
                doc,
                message,
                signatures,
            } => {
                8 + doc.len()
                    + message.len()
                    + signatures.iter().map(|s| 34 + s.sig.len()).sum::<usize>()
            }
            Frame::Certificates(chains) => {
                4 + chains.iter().flatten().map(|c| 4 + c.len()).sum::<usize>()
            }
            Frame::Digest { entries, .. } => {
                16 + entries.iter().map(|e| 36 + e.doc.len()).sum::<usize>()
            }
            Frame::Checkpoint(_) => 20,
            Frame::Refused { doc, message, .. } => 8 + doc.len() + message.len(),
            Frame::Error { message, .. } => 8 + message.len(),
        }
    }
}

impl Frame {
    /// Bytes this frame holds in memory once decoded, near enough to budget what a peer may
    /// have waiting (more than [`Frame::approx_size`]: every id is its own allocation).
    pub fn memory(&self) -> usize {
        const ID: usize = std::mem::size_of::<String>() + 16;
        match self {
            Frame::Digest { entries, .. } => {
                64 + entries
                    .iter()
                    .map(|e| std::mem::size_of::<DigestEntry>() + e.doc.len() + 16)
                    .sum::<usize>()
            }
            other => 64 + ID + other.approx_size(),
        }
    }
}

pub use hearth_archive::heads_hash;
