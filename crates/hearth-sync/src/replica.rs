//! What a session needs from the node it runs in: documents, the local feed, and the per-peer
//! state that outlives a connection. `hearth-node` implements it over the store; [`MemReplica`]
//! implements it in memory for tests and the simulated network.

use std::collections::{BTreeMap, HashMap};

use automerge::{AutoCommit, ChangeHash};
use hearth_archive::automerge;

use hearth_archive::signed::SigSet;

use crate::frame::{Resume, heads_hash};
use crate::trust::SharedKeyring;

/// A replica could not persist or read something; the session ends with a storage error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReplicaError(pub String);

/// The local side of a sync session.
pub trait Replica {
    /// This node's id.
    fn node_id(&self) -> &str;
    /// This node's feed epoch (changes when the data dir is recreated).
    fn feed_epoch(&self) -> u64;
    /// Latest local feed sequence.
    fn feed_head(&self) -> u64;
    /// Documents updated after `seq`, oldest first, at most `limit`, each once at its latest
    /// sequence.
    fn changed_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, String)>, ReplicaError>;
    /// Ids of every document held.
    fn doc_ids(&self) -> Result<Vec<String>, ReplicaError>;
    /// The participants of a held case (`None` if not held or not a case).
    fn participants(&mut self, doc: &str) -> Result<Option<Vec<String>>, ReplicaError>;
    /// How `peer` relates to this node (`None` if it is no neighbour), for the documents that
    /// follow the topology rather than a participants list: policy, summaries, ledgers.
    fn neighbour(&self, peer: &str) -> Option<crate::scope::Neighbour> {
        let _ = peer;
        None
    }
    /// The document, if held.
    fn doc(&mut self, doc: &str) -> Result<Option<&mut AutoCommit>, ReplicaError>;
    /// [`heads_hash`] of a held document.
    fn heads_hash(&mut self, doc: &str) -> Result<Option<[u8; 32]>, ReplicaError> {
        Ok(self.doc(doc)?.map(|d| heads_hash(&d.get_heads())))
    }
    /// Persists the changes made to a held document in place; returns its new feed sequence,
    /// or `None` if nothing changed.
    fn commit(&mut self, doc: &str) -> Result<Option<u64>, ReplicaError>;
    /// Stores a document new to this node; returns its feed sequence.
    fn insert(&mut self, doc: &str, value: AutoCommit) -> Result<u64, ReplicaError>;
    /// Stores a document new to this node that passed the checks of a received document, with
    /// the case's view they read (so that storing it need not read it again).
    fn insert_checked(
        &mut self,
        doc: &str,
        value: AutoCommit,
        view: Option<hearth_archive::CaseView>,
    ) -> Result<u64, ReplicaError> {
        let _ = view;
        self.insert(doc, value)
    }
    /// The persisted Automerge sync state for a peer and document.
    fn sync_state(&mut self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, ReplicaError>;
    /// Persists the sync state for a peer and document.
    fn save_sync_state(
        &mut self,
        peer: &str,
        doc: &str,
        state: Vec<u8>,
    ) -> Result<(), ReplicaError>;
    /// How far this node has applied the peer's feed.
    fn checkpoint(&self, peer: &str) -> Result<Option<Resume>, ReplicaError>;
    /// Records how far this node has applied the peer's feed.
    fn save_checkpoint(&mut self, peer: &str, resume: Resume) -> Result<(), ReplicaError>;
    /// How far the peer is known to have applied this node's feed (confirmed in a session), in
    /// this node's feed epoch: where an offline bundle for it starts.
    fn peer_has(&self, peer: &str) -> Result<Option<u64>, ReplicaError>;
    /// Records how far the peer has applied this node's feed.
    fn save_peer_has(&mut self, peer: &str, seq: u64) -> Result<(), ReplicaError>;
    /// A hint during long scans (bundles): documents loaded so far may be let go.
    fn trim(&mut self) {}
    /// Why a document is not taken here at all (set aside after it could not be stored), if
    /// it is not; sessions and bundles then refuse it at once.
    fn refused(&self, doc: &str) -> Option<String> {
        let _ = doc;
        None
    }
    /// The node's keyring (DESIGN §4a): with one, every change a peer sends must be signed by
    /// its author and allowed by the rules, and this node's own changes are signed as they are
    /// sent. A node always has one; a replica without one (the sync logic's own tests) checks
    /// neither.
    fn keyring(&self) -> Option<SharedKeyring> {
        None
    }
    /// The signatures kept for a held document; with `sign`, this node's newest change to it
    /// is signed first if it was not yet (its own changes are signed when they first leave the
    /// node: in a session or a bundle).
    fn signatures(&mut self, doc: &str, sign: bool) -> Result<SigSet, ReplicaError> {
        let _ = (doc, sign);
        Ok(SigSet::default())
    }
    /// Keeps the signatures of a document (after changes they cover were taken).
    fn save_signatures(&mut self, doc: &str, sigs: &SigSet) -> Result<(), ReplicaError> {
        let _ = (doc, sigs);
        Ok(())
    }
}

/// The nodes whose certificates a peer needs to check what this node sends of `doc`: the
/// signers of `sigs`, and the nodes whose places the rules read (a case's participants, a
/// summary's or ledger's owner).
pub fn named_nodes(
    r: &mut impl Replica,
    doc: &str,
    sigs: &SigSet,
) -> Result<Vec<String>, ReplicaError> {
    use hearth_archive::record::DocId;
    let mut nodes: Vec<String> = sigs
        .kept()
        .iter()
        .filter_map(|k| hearth_archive::node_of_actor(&k.actor))
        .collect();
    match DocId::of(doc) {
        DocId::Case => nodes.extend(r.participants(doc)?.unwrap_or_default()),
        DocId::Summary(owner) | DocId::Ledger(owner) => nodes.push(owner.to_owned()),
        DocId::Policy => {}
    }
    Ok(nodes)
}

/// [`Replica::signatures`] for a replica that holds `kept` for `doc`: signs this node's newest
/// change if `kept` has no signature of it; returns whether it did.
pub fn sign_own(
    keyring: Option<&SharedKeyring>,
    doc_id: &str,
    doc: &mut AutoCommit,
    kept: &mut SigSet,
) -> Result<bool, ReplicaError> {
    let Some(keyring) = keyring else {
        return Ok(false);
    };
    let Some((seq, hash)) = hearth_archive::signed::unsigned_own(doc, kept) else {
        return Ok(false);
    };
    let keyring = keyring
        .read()
        .map_err(|_| ReplicaError("the keyring is unusable after a failure".into()))?;
    if keyring.node().is_none() {
        return Ok(false);
    }
    let sig = keyring
        .sign(doc_id, &hash)
        .map_err(|e| ReplicaError(e.to_string()))?;
    Ok(kept.keep(doc.get_actor().clone(), seq, sig))
}

/// An in-memory replica: documents, a feed with one entry per document, checkpoints and sync
/// states. What a crash would keep is all of it; [`MemReplica::lose_sync_metadata`] models a data
/// dir restored without its sync metadata.
#[derive(Debug)]
pub struct MemReplica {
    id: String,
    epoch: u64,
    head: u64,
    feed: BTreeMap<u64, String>,
    doc_seq: HashMap<String, u64>,
    docs: HashMap<String, AutoCommit>,
    committed: HashMap<String, Vec<ChangeHash>>,
    sync_states: HashMap<(String, String), Vec<u8>>,
    checkpoints: HashMap<String, Resume>,
    peers_have: HashMap<String, u64>,
    neighbours: HashMap<String, crate::scope::Neighbour>,
    keyring: Option<SharedKeyring>,
    sigs: HashMap<String, SigSet>,
}

impl MemReplica {
    /// Gives the replica a keyring: it then signs its own changes and checks everything a peer
    /// sends (DESIGN §4a).
    pub fn set_keyring(&mut self, keyring: SharedKeyring) {
        self.keyring = Some(keyring);
    }

    /// Records how `peer` relates to this node (for policy, summaries and ledgers).
    pub fn set_neighbour(&mut self, peer: &str, relation: crate::scope::Neighbour) {
        self.neighbours.insert(peer.to_owned(), relation);
    }

    /// An empty replica.
    pub fn new(id: &str, epoch: u64) -> MemReplica {
        MemReplica {
            id: id.to_owned(),
            epoch,
            head: 0,
            feed: BTreeMap::new(),
            doc_seq: HashMap::new(),
            docs: HashMap::new(),
            committed: HashMap::new(),
            sync_states: HashMap::new(),
            checkpoints: HashMap::new(),
            peers_have: HashMap::new(),
            neighbours: HashMap::new(),
            keyring: None,
            sigs: HashMap::new(),
        }
    }

    /// Whether the document is held.
    pub fn holds(&self, doc: &str) -> bool {
        self.docs.contains_key(doc)
    }

    /// Current heads of a held document.
    pub fn heads(&mut self, doc: &str) -> Option<Vec<ChangeHash>> {
        self.docs.get_mut(doc).map(AutoCommit::get_heads)
    }

    /// Takes a held document out to change it; [`MemReplica::put_back`] returns it, and
    /// [`Replica::commit`] then records the change in the feed.
    pub fn take(&mut self, doc: &str) -> Option<AutoCommit> {
        self.docs.remove(doc)
    }

    /// Returns a document taken with [`MemReplica::take`].
    pub fn put_back(&mut self, doc: &str, value: AutoCommit) {
        self.docs.insert(doc.to_owned(), value);
    }

    /// Drops checkpoints and sync states and starts a new feed epoch, as a node restored from a
    /// backup without its sync metadata would.
    pub fn lose_sync_metadata(&mut self, new_epoch: u64) {
        self.epoch = new_epoch;
        self.sync_states.clear();
        self.checkpoints.clear();
        self.peers_have.clear();
    }

    fn bump(&mut self, doc: &str) -> u64 {
        self.head += 1;
        if let Some(old) = self.doc_seq.insert(doc.to_owned(), self.head) {
            self.feed.remove(&old);
        }
        self.feed.insert(self.head, doc.to_owned());
        self.head
    }
}

impl Replica for MemReplica {
    fn node_id(&self) -> &str {
        &self.id
    }

    fn feed_epoch(&self) -> u64 {
        self.epoch
    }

    fn feed_head(&self) -> u64 {
        self.head
    }

    fn changed_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, String)>, ReplicaError> {
        Ok(self
            .feed
            .range(seq.saturating_add(1)..)
            .take(limit)
            .map(|(s, d)| (*s, d.clone()))
            .collect())
    }

    fn doc_ids(&self) -> Result<Vec<String>, ReplicaError> {
        let mut ids: Vec<String> = self.docs.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    fn participants(&mut self, doc: &str) -> Result<Option<Vec<String>>, ReplicaError> {
        Ok(self
            .docs
            .get(doc)
            .and_then(|d| hearth_archive::participants_of(d).ok()))
    }

    fn neighbour(&self, peer: &str) -> Option<crate::scope::Neighbour> {
        self.neighbours.get(peer).copied()
    }

    fn doc(&mut self, doc: &str) -> Result<Option<&mut AutoCommit>, ReplicaError> {
        Ok(self.docs.get_mut(doc))
    }

    fn commit(&mut self, doc: &str) -> Result<Option<u64>, ReplicaError> {
        let heads = self
            .docs
            .get_mut(doc)
            .ok_or_else(|| ReplicaError(format!("no document {doc}")))?
            .get_heads();
        if self.committed.get(doc) == Some(&heads) {
            return Ok(None);
        }
        self.committed.insert(doc.to_owned(), heads);
        Ok(Some(self.bump(doc)))
    }

    fn insert(&mut self, doc: &str, mut value: AutoCommit) -> Result<u64, ReplicaError> {
        if self.docs.contains_key(doc) {
            return Err(ReplicaError(format!("document {doc} is already held")));
        }
        self.committed.insert(doc.to_owned(), value.get_heads());
        self.docs.insert(doc.to_owned(), value);
        Ok(self.bump(doc))
    }

    fn sync_state(&mut self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        Ok(self
            .sync_states
            .get(&(peer.to_owned(), doc.to_owned()))
            .cloned())
    }

    fn save_sync_state(
        &mut self,
        peer: &str,
        doc: &str,
        state: Vec<u8>,
    ) -> Result<(), ReplicaError> {
        self.sync_states
            .insert((peer.to_owned(), doc.to_owned()), state);
        Ok(())
    }

    fn checkpoint(&self, peer: &str) -> Result<Option<Resume>, ReplicaError> {
        Ok(self.checkpoints.get(peer).copied())
    }

    fn save_checkpoint(&mut self, peer: &str, resume: Resume) -> Result<(), ReplicaError> {
        self.checkpoints.insert(peer.to_owned(), resume);
        Ok(())
    }

    fn peer_has(&self, peer: &str) -> Result<Option<u64>, ReplicaError> {
        Ok(self.peers_have.get(peer).copied())
    }

    fn save_peer_has(&mut self, peer: &str, seq: u64) -> Result<(), ReplicaError> {
        self.peers_have.insert(peer.to_owned(), seq);
        Ok(())
    }

    fn keyring(&self) -> Option<SharedKeyring> {
        self.keyring.clone()
    }

    fn signatures(&mut self, doc: &str, sign: bool) -> Result<SigSet, ReplicaError> {
        let mut kept = self.sigs.get(doc).cloned().unwrap_or_default();
        if sign
            && let Some(d) = self.docs.get_mut(doc)
            && sign_own(self.keyring.as_ref(), doc, d, &mut kept)?
        {
            self.sigs.insert(doc.to_owned(), kept.clone());
        }
        Ok(kept)
    }

    fn save_signatures(&mut self, doc: &str, sigs: &SigSet) -> Result<(), ReplicaError> {
        self.sigs.insert(doc.to_owned(), sigs.clone());
        Ok(())
    }
}
