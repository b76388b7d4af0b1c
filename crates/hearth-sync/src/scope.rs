//! The scope rule (DESIGN §4): which documents two neighbours exchange, and whose changes to them
//! are applied.
//!
//! - A case is exchanged only between its participants, and either may change it.
//! - The federation policy goes to every neighbour, but only a parent's changes are applied: it
//!   is written at the top and flows down.
//! - A node's summary goes to its parents; only the node itself writes it.
//! - A node's fund ledger goes to its parents, for audit; the node writes it, and so may its
//!   parents (a grant they pay in). A sibling never sees another's.

use automerge::AutoCommit;
use hearth_archive::automerge;
use hearth_archive::record::{DocId, id_of, kind_of};

use crate::replica::{Replica, ReplicaError};

/// How a neighbour relates to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbour {
    /// A level above: this node reports to it.
    Parent,
    /// A level below.
    Child,
}

/// Whether a held document is shared between this node and `peer` on this node's copy.
pub fn shared(r: &mut impl Replica, doc: &str, peer: &str) -> Result<bool, ReplicaError> {
    let local = r.node_id().to_owned();
    let rel = r.neighbour(peer);
    Ok(match DocId::of(doc) {
        DocId::Case => r
            .participants(doc)?
            .is_some_and(|p| p.iter().any(|n| n == peer) && p.contains(&local)),
        DocId::Policy => rel.is_some(),
        DocId::Summary(owner) | DocId::Ledger(owner) => {
            (owner == local && rel == Some(Neighbour::Parent))
                || (owner == peer && rel == Some(Neighbour::Child))
        }
    })
}

/// Whether changes from `peer` to a shared document are applied here. Sync messages that carry
/// no change (what each side has and needs) are always taken.
pub fn writes(r: &impl Replica, doc: &str, peer: &str) -> bool {
    let rel = r.neighbour(peer);
    match DocId::of(doc) {
        DocId::Case => true,
        DocId::Policy => rel == Some(Neighbour::Parent),
        DocId::Summary(owner) => owner == peer,
        DocId::Ledger(owner) => {
            owner == peer || (owner == r.node_id() && rel == Some(Neighbour::Parent))
        }
    }
}

/// Whether a document new to this node may be kept. It must say it is the document it was sent
/// as (id and kind); a case must then list both the sender and this node as participants, and
/// any other document must be shared with the sender and written by it.
pub fn accepts_new(r: &mut impl Replica, id: &str, doc: &AutoCommit, peer: &str) -> bool {
    let kind = kind_of(doc);
    let claimed = DocId::of(id);
    if id_of(doc).as_deref() != Some(id) {
        return false;
    }
    match claimed {
        DocId::Case => {
            let local = r.node_id().to_owned();
            kind.as_deref() == Some("case")
                && hearth_archive::participants_of(doc)
                    .is_ok_and(|p| p.iter().any(|n| n == peer) && p.contains(&local))
        }
        record => {
            let rel = r.neighbour(peer);
            let local = r.node_id();
            let shared = match record {
                DocId::Policy => rel.is_some(),
                DocId::Summary(owner) | DocId::Ledger(owner) => {
                    (owner == local && rel == Some(Neighbour::Parent))
                        || (owner == peer && rel == Some(Neighbour::Child))
                }
                DocId::Case => false,
            };
            kind.as_deref() == record.record_kind().map(|k| k.code())
                && shared
                && writes(r, id, peer)
        }
    }
}
