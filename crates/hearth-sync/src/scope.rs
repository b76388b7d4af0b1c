//! The scope rule (DESIGN §4): two nodes exchange a case only if both are its participants.

use automerge::AutoCommit;
use hearth_archive::automerge;

use crate::replica::{Replica, ReplicaError};

/// Whether a held document is shared between this node and `peer` on this node's copy.
pub fn shared(r: &mut impl Replica, doc: &str, peer: &str) -> Result<bool, ReplicaError> {
    let local = r.node_id().to_owned();
    Ok(r.participants(doc)?
        .is_some_and(|p| p.iter().any(|n| n == peer) && p.contains(&local)))
}

/// Whether a document new to this node may be kept: once received, it must list both the
/// sender and this node as participants.
pub fn accepts_new(doc: &AutoCommit, local: &str, peer: &str) -> bool {
    hearth_archive::participants_of(doc)
        .is_ok_and(|p| p.iter().any(|n| n == peer) && p.iter().any(|n| n == local))
}
