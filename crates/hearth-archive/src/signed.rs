//! Authorship (DESIGN §4a): which bytes a node signs for its changes, which changes a signature
//! vouches for, and the signatures a node keeps per document. No cryptography here — signing
//! and checking are the sync layer's (`hearth_sync::trust`); this is what is signed and what a
//! signature covers.
//!
//! **What is signed.** A node signs `(document id, hash)` of its newest change to a document.
//! An Automerge change hash covers the hashes of the change's dependencies, so one signature
//! vouches for every change of the same actor beneath it in the document's history: a writer
//! signs once per write, and a receiver checks one signature per author per message, however
//! many changes of that author the message carries.
//!
//! **What is checked.** Every change new to a receiver must lie beneath (or be) a change of its
//! own actor that a signature given with it names ([`cover`]). The walk goes through the new
//! changes only (a change already held was checked when it came), so it costs O(new changes).
//! Automerge's `seq` is not trusted for coverage; it only picks the newest signature to keep.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, AutoCommit, ChangeHash};

use crate::error::{ArchiveError, Result};

/// Domain separation of the signed bytes: a change signature cannot be taken for another.
const CONTEXT: &[u8] = b"hearth/v1/change-signature\0";

/// Longest signature kept or taken (an ECDSA P-256 signature in DER is at most 72 bytes).
pub const MAX_SIG_BYTES: usize = 128;

/// Most signatures kept per document (one per actor that wrote it; more is no honest case).
pub const MAX_SIGS_PER_DOC: usize = 64;

/// The bytes a node signs for its change `hash` to document `doc`.
pub fn signed_bytes(doc: &str, hash: &ChangeHash) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTEXT.len() + doc.len() + 1 + 32);
    out.extend_from_slice(CONTEXT);
    out.extend_from_slice(doc.as_bytes());
    out.push(0);
    out.extend_from_slice(&hash.0);
    out
}

/// A node's signature over one of its changes to a document, named by hash. The signer is the
/// node of the change's actor ([`crate::node_of_actor`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeSig {
    /// The change signed.
    pub hash: ChangeHash,
    /// The signature over [`signed_bytes`].
    pub sig: Vec<u8>,
}

/// A signature kept for a document: the newest one of its actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The actor of the signed change.
    pub actor: ActorId,
    /// The change's sequence number among the actor's (picks the newest; not trusted).
    pub seq: u64,
    /// The signature.
    pub sig: ChangeSig,
}

/// The signatures a node keeps for one document: the newest of each actor that wrote it, which
/// together cover every change the node holds of the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigSet {
    kept: Vec<Kept>,
}

/// Version byte of [`SigSet::encode`].
const SIGSET_V1: u8 = 1;

impl SigSet {
    /// Every signature kept.
    pub fn sigs(&self) -> impl Iterator<Item = &ChangeSig> {
        self.kept.iter().map(|k| &k.sig)
    }

    /// Every kept signature with its actor.
    pub fn kept(&self) -> &[Kept] {
        &self.kept
    }

    /// The kept signature of `actor`.
    pub fn of_actor(&self, actor: &ActorId) -> Option<&Kept> {
        self.kept.iter().find(|k| &k.actor == actor)
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Keeps `sig` as `actor`'s if it is newer than the one kept; returns whether it was kept.
    pub fn keep(&mut self, actor: ActorId, seq: u64, sig: ChangeSig) -> bool {
        let full = self.kept.len() >= MAX_SIGS_PER_DOC;
        match self.kept.iter_mut().find(|k| k.actor == actor) {
            Some(k) if k.seq >= seq => false,
            Some(k) => {
                k.seq = seq;
                k.sig = sig;
                true
            }
            None if full => false,
            None => {
                self.kept.push(Kept { actor, seq, sig });
                true
            }
        }
    }

    /// The set as bytes, for storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SIGSET_V1];
        for k in &self.kept {
            // Lengths as u16: an actor of a 253-character node id is 262 bytes.
            let actor = k.actor.to_bytes();
            out.extend_from_slice(&(actor.len() as u16).to_be_bytes());
            out.extend_from_slice(actor);
            out.extend_from_slice(&k.seq.to_be_bytes());
            out.extend_from_slice(&k.sig.hash.0);
            out.extend_from_slice(&(k.sig.sig.len() as u16).to_be_bytes());
            out.extend_from_slice(&k.sig.sig);
        }
        out
    }

    /// Reads [`SigSet::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<SigSet> {
        let bad = || ArchiveError::Implausible("a stored signature set cannot be read".into());
        let (&version, mut rest) = bytes.split_first().ok_or_else(bad)?;
        if version != SIGSET_V1 {
            return Err(bad());
        }
        let mut take = |n: usize| -> Result<&[u8]> {
            if rest.len() < n {
                return Err(bad());
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let mut set = SigSet::default();
        let len16 = |b: &[u8]| usize::from(u16::from_be_bytes([b[0], b[1]]));
        loop {
            let Ok(len) = take(2) else { break };
            let actor = ActorId::from(take(len16(len))?);
            let seq = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?);
            let hash = ChangeHash(take(32)?.try_into().map_err(|_| bad())?);
            let n = len16(take(2)?);
            let sig = take(n)?.to_vec();
            set.kept.push(Kept {
                actor,
                seq,
                sig: ChangeSig { hash, sig },
            });
        }
        Ok(set)
    }
}

/// A change new to a receiver: what authorship needs of it.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// Its hash.
    pub hash: ChangeHash,
    /// Its actor.
    pub actor: ActorId,
    /// Its sequence number among the actor's.
    pub seq: u64,
    /// The changes it depends on.
    pub deps: Vec<ChangeHash>,
}

/// The changes of `doc` that are not beneath `before` (the heads a receiver had): what a
/// message brought. Reads the change graph's metadata, not the operations.
pub fn new_changes(doc: &mut AutoCommit, before: &[ChangeHash]) -> Vec<NewChange> {
    doc.get_changes_meta(before)
        .into_iter()
        .map(|m| NewChange {
            hash: m.hash,
            actor: m.actor.into_owned(),
            seq: m.seq,
            deps: m.deps,
        })
        .collect()
}

/// A signature that covers new changes of its actor: it must be checked against the node of
/// `actor`, and may then be kept.
#[derive(Debug, Clone)]
pub struct Cover {
    /// The actor of the signed change.
    pub actor: ActorId,
    /// Its sequence number.
    pub seq: u64,
    /// The signature.
    pub sig: ChangeSig,
}

/// A new change no signature given with it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    /// The change's actor.
    pub actor: ActorId,
    /// The change.
    pub hash: ChangeHash,
}

/// The signatures among `offered` needed to cover every change of `new` by a signature over a
/// change of the same actor at or above it; the fewest that do it, newest first. Each returned
/// signature must still be checked against its actor's node.
pub fn cover<'a>(
    new: &[NewChange],
    offered: impl IntoIterator<Item = &'a ChangeSig>,
) -> std::result::Result<Vec<Cover>, Uncovered> {
    let (covers, mut uncovered) = cover_all(new, offered);
    match uncovered.is_empty() {
        true => Ok(covers),
        false => Err(uncovered.swap_remove(0)),
    }
}

/// Like [`cover`], but goes on past an actor whose changes are not all covered: the signatures
/// needed for the others, and the first uncovered change of each actor that has one.
pub fn cover_all<'a>(
    new: &[NewChange],
    offered: impl IntoIterator<Item = &'a ChangeSig>,
) -> (Vec<Cover>, Vec<Uncovered>) {
    let by_hash: HashMap<&ChangeHash, &NewChange> = new.iter().map(|c| (&c.hash, c)).collect();
    // Signatures over new changes, by the actor of the change they name, newest first.
    let mut candidates: HashMap<&ActorId, Vec<(&NewChange, &ChangeSig)>> = HashMap::new();
    for sig in offered {
        if let Some(change) = by_hash.get(&sig.hash) {
            candidates
                .entry(&change.actor)
                .or_default()
                .push((change, sig));
        }
    }
    let mut actors: Vec<&ActorId> = new.iter().map(|c| &c.actor).collect();
    actors.sort();
    actors.dedup();
    let mut needed = Vec::new();
    let mut uncovered = Vec::new();
    for actor in actors {
        let mut todo: HashSet<&ChangeHash> = new
            .iter()
            .filter(|c| &c.actor == actor)
            .map(|c| &c.hash)
            .collect();
        let mut mine = candidates.remove(actor).unwrap_or_default();
        mine.sort_by_key(|c| std::cmp::Reverse(c.0.seq));
        let mut seen: HashSet<&ChangeHash> = HashSet::new();
        for (change, sig) in mine {
            if !todo.contains(&change.hash) {
                continue; // covered by a newer signature already
            }
            needed.push(Cover {
                actor: change.actor.clone(),
                seq: change.seq,
                sig: sig.clone(),
            });
            let mut stack = vec![&change.hash];
            while let Some(h) = stack.pop() {
                if !seen.insert(h) {
                    continue;
                }
                if let Some(c) = by_hash.get(h) {
                    if &c.actor == actor {
                        todo.remove(h);
                    }
                    stack.extend(c.deps.iter());
                }
            }
            if todo.is_empty() {
                break;
            }
        }
        if let Some(hash) = new
            .iter()
            .find(|c| &c.actor == actor && todo.contains(&c.hash))
            .map(|c| c.hash)
        {
            uncovered.push(Uncovered {
                actor: actor.clone(),
                hash,
            });
        }
    }
    (needed, uncovered)
}

/// Whether `actor`'s newest change in `doc` is the one `kept` names: if not, the node whose
/// actor it is has changes not yet signed. Returns the change to sign, if any.
pub fn unsigned_own(doc: &mut AutoCommit, kept: &SigSet) -> Option<(u64, ChangeHash)> {
    let actor = doc.get_actor().clone();
    let last = doc.get_last_local_change()?;
    if last.actor_id() != &actor {
        return None;
    }
    match kept.of_actor(&actor) {
        Some(k) if k.sig.hash == last.hash() => None,
        _ => Some((last.seq(), last.hash())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn sig(hash: ChangeHash) -> ChangeSig {
        ChangeSig {
            hash,
            sig: vec![7; 64],
        }
    }

    #[test]
    fn one_signature_over_the_newest_change_covers_the_actors_earlier_ones() {
        let mut a = AutoCommit::new().with_actor(ActorId::from(b"a\0\x01".as_slice()));
        a.put(automerge::ROOT, "x", 1).unwrap();
        a.commit();
        let mut b = a.fork().with_actor(ActorId::from(b"b\0\x01".as_slice()));
        b.put(automerge::ROOT, "y", 1).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        a.put(automerge::ROOT, "x", 2).unwrap();
        a.commit();
        let new = new_changes(&mut a, &[]);
        assert_eq!(new.len(), 3);
        let newest_a = a.get_last_local_change().unwrap().hash();
        let b_change = new.iter().find(|c| c.actor != *a.get_actor()).unwrap().hash;
        // Both authors' newest: covered, one signature each.
        let covers = cover(&new, &[sig(newest_a), sig(b_change)]).unwrap();
        assert_eq!(covers.len(), 2);
        // Without b's signature, b's change is uncovered, though a's newest lies above it.
        let e = cover(&new, &[sig(newest_a)]).unwrap_err();
        assert_eq!(e.hash, b_change);
        // a's first change alone does not cover its later one.
        let first_a = new.iter().find(|c| c.seq == 1 && c.actor == *a.get_actor());
        let e = cover(&new, &[sig(first_a.unwrap().hash), sig(b_change)]).unwrap_err();
        assert_eq!(e.hash, newest_a);
        // Only the changes after `before` are new.
        let heads = a.get_heads();
        a.put(automerge::ROOT, "z", 3).unwrap();
        a.commit();
        assert_eq!(new_changes(&mut a, &heads).len(), 1);
    }

    #[test]
    fn a_sig_set_keeps_the_newest_per_actor_and_round_trips() {
        let mut set = SigSet::default();
        let a = ActorId::from(b"a\0\x01".as_slice());
        assert!(set.keep(a.clone(), 2, sig(ChangeHash([2; 32]))));
        assert!(!set.keep(a.clone(), 1, sig(ChangeHash([1; 32]))));
        assert!(set.keep(a.clone(), 3, sig(ChangeHash([3; 32]))));
        assert!(set.keep(
            ActorId::from(b"b\0\x01".as_slice()),
            1,
            sig(ChangeHash([9; 32]))
        ));
        assert_eq!(set.kept().len(), 2);
        assert_eq!(SigSet::decode(&set.encode()).unwrap(), set);
        assert!(SigSet::decode(&set.encode()[..20]).is_err());
        assert!(SigSet::decode(b"").is_err());
    }

    #[test]
    fn the_actor_of_the_longest_node_id_round_trips() {
        // 253 characters of node id, a zero byte and 8 of incarnation: 262 bytes.
        let long = format!("{}\0{}", "n".repeat(253), "12345678");
        let mut set = SigSet::default();
        assert!(set.keep(ActorId::from(long.as_bytes()), 1, sig(ChangeHash([8; 32]))));
        assert_eq!(SigSet::decode(&set.encode()).unwrap(), set);
    }
}
