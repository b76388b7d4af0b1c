//! Offline bundles (sneakernet, DESIGN §5): what a neighbour is missing, carried in a file.
//!
//! [`export`] collects, for one peer, every document the two share that changed in this node's
//! feed since the peer last confirmed it (or all of them), each as the changes the peer lacks
//! according to the persisted sync state (the whole document when there is none). [`import`]
//! applies such a bundle under the same scope rule as a live session, all or nothing: every
//! document is first checked on a copy, and only if all pass are they applied. Applying is
//! idempotent. It then records what the bundle proves the two now share — the sync state of each
//! document and, when the bundle continues from the receiver's checkpoint, a checkpoint at the
//! bundle's feed head — so that the next network session sends only what the bundle did not
//! carry.
//!
//! Signing and the file format are the node's business; this module sees a checked [`Bundle`].

use std::collections::HashSet;

use automerge::AutoCommit;
use automerge::sync::State;
use hearth_archive::automerge;

pub use automerge::ChangeHash;

use hearth_archive::signed::{ChangeSig, SigSet};

use crate::frame::{Resume, heads_hash};
use crate::replica::{Replica, ReplicaError};
use crate::scope;

/// Documents handled between two [`Replica::trim`] hints.
const TRIM_EVERY: usize = 256;

/// What one node carries to a neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The exporting node.
    pub from: String,
    /// The node it is for.
    pub to: String,
    /// The exporter's feed epoch.
    pub epoch: u64,
    /// The exporter's feed sequence the bundle continues from (0: everything shared).
    pub since: u64,
    /// The exporter's feed head when it was made.
    pub upto: u64,
    /// How far the exporter has applied the recipient's feed: the recipient's next bundle back
    /// starts there.
    pub has_yours: Option<Resume>,
    /// The documents, each once.
    pub docs: Vec<BundleDoc>,
    /// Certificate chains of the nodes whose signatures or places the recipient needs to
    /// check the documents (DESIGN §4a).
    pub certificates: Vec<Vec<Vec<u8>>>,
}

/// One document in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleDoc {
    /// Document id.
    pub id: String,
    /// The exporter's heads of it.
    pub heads: Vec<ChangeHash>,
    /// Automerge bytes: the whole document, or the changes after what the two shared.
    pub data: Vec<u8>,
    /// The signatures covering the changes (the newest of each author's the exporter keeps).
    pub signatures: Vec<ChangeSig>,
}

/// Why a bundle was not applied. Nothing of it was.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Made for another node.
    #[error("this bundle is for {to}, not for {here}; import it at {to}")]
    NotForUs {
        /// Its recipient.
        to: String,
        /// This node.
        here: String,
    },
    /// A document is not shared, or the sender may not change it (scope rule).
    #[error("{0}; nothing of the bundle was applied")]
    OutOfScope(String),
    /// A document's bytes do not decode or apply.
    #[error("document {doc} in the bundle is damaged: {why}; nothing of the bundle was applied")]
    Damaged {
        /// Document id.
        doc: String,
        /// Why.
        why: String,
    },
    /// A document would not pass the checks of a received document (schema, sizes, plausible
    /// figures), or is set aside here.
    #[error("document {doc} in the bundle is refused: {why}; nothing of the bundle was applied")]
    Refused {
        /// Document id.
        doc: String,
        /// Why.
        why: String,
    },
    /// The bundle carries changes on top of changes this node does not have.
    #[error(
        "document {doc} in the bundle builds on changes this node does not have; ask {from} for a full bundle (`hearth bundle export --for {here} --full`); nothing of the bundle was applied"
    )]
    Incomplete {
        /// Document id.
        doc: String,
        /// The exporter.
        from: String,
        /// This node.
        here: String,
    },
    /// Reading or staging failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Documents new to this node.
    pub added: Vec<String>,
    /// Held documents that changed.
    pub changed: Vec<String>,
    /// Documents already up to date.
    pub unchanged: usize,
    /// Whether the checkpoint of the sender's feed moved to the bundle's head.
    pub checkpoint: bool,
}

/// Builds the bundle of everything `peer` is missing of what this node shares with it: documents
/// changed since the peer last confirmed this node's feed, or every shared document when
/// `full` or when there is no confirmation. Each carries only the changes after the heads the
/// persisted sync state says the two share; a document the peer already has is left out.
pub fn export(r: &mut impl Replica, peer: &str, full: bool) -> Result<Bundle, ReplicaError> {
    let since = if full {
        0
    } else {
        r.peer_has(peer)?.unwrap_or(0)
    };
    let upto = r.feed_head();
    let candidates: Vec<String> = if since == 0 {
        r.doc_ids()?
    } else {
        r.changed_since(since, usize::MAX)?
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    };
    let mut docs = Vec::new();
    let mut named: Vec<String> = Vec::new();
    for (n, id) in candidates.into_iter().enumerate() {
        if n % TRIM_EVERY == TRIM_EVERY - 1 {
            r.trim();
        }
        if !scope::shared(r, &id, peer)? {
            continue;
        }
        let shared = if full {
            Vec::new()
        } else {
            shared_heads(r, peer, &id)?
        };
        if !shared.is_empty() && r.heads_hash(&id)? == Some(heads_hash(&shared)) {
            continue;
        }
        if r.doc(&id)?.is_none() {
            continue;
        }
        let signatures = r.signatures(&id, true)?;
        named.extend(crate::replica::named_nodes(r, &id, &signatures)?);
        let Some(doc) = r.doc(&id)? else { continue };
        let heads = doc.get_heads();
        let known = shared.iter().all(|h| doc.get_change_by_hash(h).is_some());
        // Changes, never a whole document: the receiver takes nothing else from outside
        // (`hearth_archive::untrusted`).
        let data = if shared.is_empty() || !known {
            doc.save_after(&[])
        } else {
            doc.save_after(&shared)
        };
        docs.push(BundleDoc {
            id,
            heads,
            data,
            signatures: signatures.sigs().cloned().collect(),
        });
    }
    named.sort();
    named.dedup();
    let mut certificates = Vec::new();
    if let Some(keyring) = r.keyring() {
        let keyring = keyring
            .read()
            .map_err(|_| ReplicaError("the keyring is unusable after a failure".into()))?;
        for node in named.iter().filter(|n| *n != peer) {
            certificates.extend(keyring.chains(node));
        }
    }
    Ok(Bundle {
        from: r.node_id().to_owned(),
        to: peer.to_owned(),
        epoch: r.feed_epoch(),
        since,
        upto,
        has_yours: r.checkpoint(peer)?,
        docs,
        certificates,
    })
}

/// Applies a bundle whose sender has been authenticated, all or nothing (see the module doc).
/// The changes are staged in the replica; the caller makes them durable (the store's flush).
pub fn import(r: &mut impl Replica, bundle: &Bundle) -> Result<Imported, BundleError> {
    let here = r.node_id().to_owned();
    if bundle.to != here {
        return Err(BundleError::NotForUs {
            to: bundle.to.clone(),
            here,
        });
    }
    if let Some(keyring) = r.keyring() {
        let mut keyring = keyring
            .write()
            .map_err(|_| ReplicaError("the keyring is unusable after a failure".into()))?;
        for chain in bundle
            .certificates
            .iter()
            .take(crate::session::MAX_CHAINS_PER_SESSION)
        {
            // One that does not check is not kept; what it vouches for is then unverifiable.
            let _ = keyring.learn(chain);
        }
    }
    // Check every document on a copy first: nothing is staged unless all of them pass.
    let mut seen = HashSet::new();
    let mut outcome = Vec::with_capacity(bundle.docs.len());
    for (n, doc) in bundle.docs.iter().enumerate() {
        if n % TRIM_EVERY == TRIM_EVERY - 1 {
            r.trim();
        }
        if !crate::frame::valid_doc_id(&doc.id) {
            return Err(damaged(&doc.id, "its id is no document id"));
        }
        if !seen.insert(doc.id.as_str()) {
            return Err(damaged(&doc.id, "it appears twice"));
        }
        outcome.push(check(r, bundle, doc)?);
    }
    let mut imported = Imported::default();
    for (n, (doc, outcome)) in bundle.docs.iter().zip(outcome).enumerate() {
        if n % TRIM_EVERY == TRIM_EVERY - 1 {
            r.trim();
        }
        match outcome {
            Outcome::Unchanged => imported.unchanged += 1,
            Outcome::Changed(kept) => {
                if let Some(held) = r.doc(&doc.id)? {
                    held.load_incremental(&doc.data)
                        .map_err(|e| damaged(&doc.id, &e.to_string()))?;
                }
                if let Some(kept) = kept {
                    r.save_signatures(&doc.id, &kept)?;
                }
                r.commit(&doc.id)?;
                imported.changed.push(doc.id.clone());
            }
            Outcome::New(kept) => {
                r.insert(&doc.id, decode_new(&doc.id, &doc.data)?)?;
                if let Some(kept) = kept {
                    r.save_signatures(&doc.id, &kept)?;
                }
                imported.added.push(doc.id.clone());
            }
        }
        // Both now have the sender's heads: the next session need not offer them back. (A
        // second import of the same bundle finds them recorded and writes nothing.)
        if heads_hash(&shared_heads(r, &bundle.from, &doc.id)?) != heads_hash(&doc.heads) {
            // A persisted sync state keeps only the shared heads.
            let mut state = State::new();
            state.shared_heads.clone_from(&doc.heads);
            r.save_sync_state(&bundle.from, &doc.id, state.encode())?;
        }
    }
    // The bundle carries the sender's whole shared feed up to `upto` if it starts where this
    // node's checkpoint of that feed is (or from the beginning).
    let continues = bundle.since == 0
        || r.checkpoint(&bundle.from)?
            .is_some_and(|cp| cp.epoch == bundle.epoch && cp.seq >= bundle.since);
    if continues {
        let newer = r
            .checkpoint(&bundle.from)?
            .is_none_or(|cp| cp.epoch != bundle.epoch || cp.seq < bundle.upto);
        if newer {
            r.save_checkpoint(
                &bundle.from,
                Resume {
                    epoch: bundle.epoch,
                    seq: bundle.upto,
                },
            )?;
            imported.checkpoint = true;
        }
    }
    if let Some(has) = bundle.has_yours
        && has.epoch == r.feed_epoch()
        && has.seq <= r.feed_head()
        && r.peer_has(&bundle.from)?.is_none_or(|seq| seq < has.seq)
    {
        r.save_peer_has(&bundle.from, has.seq)?;
    }
    Ok(imported)
}

/// What a document of the bundle does here, with the signatures to keep for it.
enum Outcome {
    New(Option<SigSet>),
    Changed(Option<SigSet>),
    Unchanged,
}

/// The heads this node and `peer` are known to share for `doc` (empty if unknown).
fn shared_heads(
    r: &mut impl Replica,
    peer: &str,
    doc: &str,
) -> Result<Vec<ChangeHash>, ReplicaError> {
    Ok(r.sync_state(peer, doc)?
        .and_then(|bytes| State::decode(&bytes).ok())
        .map(|s| s.shared_heads)
        .unwrap_or_default())
}

fn damaged(doc: &str, why: &str) -> BundleError {
    BundleError::Damaged {
        doc: doc.to_owned(),
        why: why.to_owned(),
    }
}

/// Decodes a document new to this node; it must be whole.
fn decode_new(id: &str, data: &[u8]) -> Result<AutoCommit, BundleError> {
    let mut doc = AutoCommit::new();
    hearth_archive::untrusted::load_incremental(&mut doc, data)
        .map_err(|e| damaged(id, &e.to_string()))?;
    Ok(doc)
}

/// Checks one document of the bundle on a copy: scope, completeness, and what applying it does.
fn check(r: &mut impl Replica, bundle: &Bundle, doc: &BundleDoc) -> Result<Outcome, BundleError> {
    let here = r.node_id().to_owned();
    let from = bundle.from.as_str();
    let incomplete = || BundleError::Incomplete {
        doc: doc.id.clone(),
        from: from.to_owned(),
        here: here.clone(),
    };
    if let Some(why) = r.refused(&doc.id) {
        return Err(BundleError::Refused {
            doc: doc.id.clone(),
            why,
        });
    }
    let held = r.doc(&doc.id)?.is_some();
    let (mut copy, before) = if held {
        if !scope::shared(r, &doc.id, from)? {
            return Err(BundleError::OutOfScope(format!(
                "document {} is not shared between {from} and {here} here",
                doc.id
            )));
        }
        let Some(d) = r.doc(&doc.id)? else {
            return Err(incomplete());
        };
        let before = d.get_heads();
        let mut copy = d.clone();
        hearth_archive::untrusted::load_incremental(&mut copy, &doc.data)
            .map_err(|e| damaged(&doc.id, &e.to_string()))?;
        (copy, Some(before))
    } else {
        (decode_new(&doc.id, &doc.data)?, None)
    };
    if !copy.get_missing_deps(&[]).is_empty()
        || doc
            .heads
            .iter()
            .any(|h| copy.get_change_by_hash(h).is_none())
    {
        return Err(incomplete());
    }
    let refused = |e: hearth_archive::ArchiveError| BundleError::Refused {
        doc: doc.id.clone(),
        why: e.to_string(),
    };
    match before {
        Some(before) => {
            let mut after = copy.get_heads();
            let mut sorted = before.clone();
            after.sort();
            sorted.sort();
            if after == sorted {
                Ok(Outcome::Unchanged)
            } else if scope::writes(r, &doc.id, from) {
                hearth_archive::check::received(&doc.id, &copy).map_err(refused)?;
                Ok(Outcome::Changed(authorized(
                    r,
                    bundle,
                    doc,
                    Some(&before),
                    &mut copy,
                )?))
            } else {
                Err(BundleError::OutOfScope(format!(
                    "{from} may not change {} at {here}",
                    doc.id
                )))
            }
        }
        None if copy.get_heads().is_empty() => Err(damaged(&doc.id, "it holds no changes")),
        None if scope::accepts_new(r, &doc.id, &copy, from) => {
            hearth_archive::check::received(&doc.id, &copy).map_err(refused)?;
            Ok(Outcome::New(authorized(r, bundle, doc, None, &mut copy)?))
        }
        None => Err(BundleError::OutOfScope(format!(
            "document {} from {from} is not one {from} may give {here} (scope rule)",
            doc.id
        ))),
    }
}

/// The checks of DESIGN §4a on one document of the bundle (`copy` with it applied, `before` the
/// heads held before it): the signatures to keep, `None` without a keyring.
fn authorized(
    r: &mut impl Replica,
    bundle: &Bundle,
    doc: &BundleDoc,
    before: Option<&[ChangeHash]>,
    copy: &mut AutoCommit,
) -> Result<Option<SigSet>, BundleError> {
    let Some(keyring) = r.keyring() else {
        return Ok(None);
    };
    let kept = if before.is_some() {
        r.signatures(&doc.id, false)?
    } else {
        SigSet::default()
    };
    let keyring = keyring
        .read()
        .map_err(|_| ReplicaError("the keyring is unusable after a failure".into()))?;
    let held = match before {
        Some(_) => r.doc(&doc.id)?.map(|d| &*d),
        None => None,
    };
    crate::session::authorize(
        &keyring,
        &doc.id,
        held,
        before.unwrap_or_default(),
        copy,
        &doc.signatures,
        kept,
        &bundle.from,
    )
    .map(Some)
    .map_err(|(_, why)| BundleError::Refused {
        doc: doc.id.clone(),
        why,
    })
}
