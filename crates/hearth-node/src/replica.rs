//! The node's documents for the sync sessions: the store plus a bounded cache of loaded cases,
//! with group commit. Changes get their feed sequence at once (sessions need it) but reach the
//! disk at [`StoreReplica::flush`], which the core calls before any frame leaves the node, so no
//! peer ever hears of a change, or a checkpoint, that a crash could take back.

use std::collections::{BTreeMap, HashMap, HashSet};

use hearth_archive::automerge::{ActorId, AutoCommit};
use hearth_archive::signed::SigSet;
use hearth_archive::{Case, Document, Record, actor_id};
use hearth_ops::OpError;
use hearth_store::{Store, StoreError};

use crate::cases::OrOp;
use hearth_sync::{Neighbour, Replica, ReplicaError, Resume, SharedKeyring};

/// Loaded documents kept after a flush; the least recently used beyond this are dropped.
pub const CACHE_DOCS: usize = 2048;
/// Most memory the loaded documents kept after a flush may take, by [`doc_bytes`]: a few
/// documents of thousands of records each are dropped as soon as many small ones would be.
pub const CACHE_MEMORY: usize = 64 << 20;

/// The memory a loaded document takes, estimated from its operations: measured with
/// automerge 0.12 on cases of 60 to 1,000 operations, about 20 KiB each plus 65 to 350 bytes an
/// operation.
fn doc_bytes(doc: &mut Document) -> usize {
    use hearth_archive::automerge::ReadDoc;
    let ops = usize::try_from(doc.doc_mut().stats().num_ops).unwrap_or(usize::MAX);
    (20 << 10) + ops.saturating_mul(96)
}
/// Ids of documents not held kept to answer "not here" without a read; beyond, they are
/// forgotten and read again.
const ABSENT_KEPT: usize = 65_536;
/// Documents remembered as set aside (they could not be stored); the oldest are forgotten
/// beyond this, and would be checked again if sent again.
pub const QUARANTINE: usize = 10_000;

/// The store as a sync replica.
#[derive(Debug)]
pub struct StoreReplica {
    node_id: String,
    store: Store,
    actor: ActorId,
    epoch: u64,
    cache: HashMap<String, (Document, u64)>,
    /// Documents looked for and not held (a document new to this node is looked for at each
    /// of its first frames): every way a document comes in goes through this replica, which
    /// takes it out of here.
    absent: HashSet<String>,
    neighbours: HashMap<String, Neighbour>,
    /// A case or a child's summary changed since the node's summary was last computed.
    aggregates_stale: bool,
    /// The policy in force, and the day it was read for.
    policy: Option<(jiff::civil::Date, hearth_archive::Policy)>,
    tick: u64,
    /// Next feed sequence to hand out.
    next_seq: u64,
    /// Changes handed a sequence but not yet flushed.
    pending: BTreeMap<u64, String>,
    pending_seq: HashMap<String, u64>,
    checkpoints: HashMap<String, Resume>,
    peers_have: HashMap<String, u64>,
    sync_states: HashMap<(String, String), Vec<u8>>,
    /// Documents set aside because the store could not index them, with why; refused when
    /// sent again.
    quarantine: BTreeMap<String, String>,
    /// Documents the last flush set aside (their changes were dropped, the rest committed).
    set_aside: Vec<(String, String)>,
    /// The node's keyring (DESIGN §4a).
    keyring: Option<SharedKeyring>,
    /// Signatures kept since the last flush.
    sigs: HashMap<String, SigSet>,
    /// The request key the next local write is made under (see [`StoreReplica::expect_request`]).
    request: Option<String>,
    /// Request keys of local writes since the last flush, with the document each wrote: written
    /// in the same transaction as the write.
    requests: Vec<(String, String)>,
    /// Why the last commit failed, while the store is failing (see [`StoreReplica::flush`]).
    failing: Option<String>,
    /// Flushes that failed since the replica was made.
    failures: u64,
    /// Most memory the documents kept loaded may take ([`CACHE_MEMORY`]).
    cache_memory: usize,
}

fn storage(e: StoreError) -> ReplicaError {
    ReplicaError(e.to_string())
}

impl StoreReplica {
    /// Wraps an open store for the node `node_id`.
    pub fn new(node_id: &str, store: Store) -> Result<StoreReplica, StoreError> {
        let next_seq = store.next_seq()?;
        Ok(StoreReplica {
            node_id: node_id.to_owned(),
            actor: actor_id(node_id, store.incarnation()),
            epoch: store.feed_epoch(),
            store,
            cache: HashMap::new(),
            absent: HashSet::new(),
            neighbours: HashMap::new(),
            aggregates_stale: true,
            policy: None,
            tick: 0,
            next_seq,
            pending: BTreeMap::new(),
            pending_seq: HashMap::new(),
            checkpoints: HashMap::new(),
            peers_have: HashMap::new(),
            sync_states: HashMap::new(),
            quarantine: BTreeMap::new(),
            set_aside: Vec::new(),
            cache_memory: CACHE_MEMORY,
            keyring: None,
            sigs: HashMap::new(),
            request: None,
            requests: Vec::new(),
            failing: None,
            failures: 0,
        })
    }

    /// Gives the replica the node's keyring: from then on it signs this node's changes as
    /// they leave it and checks what peers send (DESIGN §4a). The certificates of other nodes
    /// kept in the store are learned again (and checked again).
    pub fn with_keyring(mut self, keyring: SharedKeyring) -> Result<StoreReplica, StoreError> {
        let chains = self.store.certificates()?;
        if let Ok(mut k) = keyring.write() {
            for chain in chains {
                if let Some(chain) = hearth_sync::trust::decode_chain(&chain) {
                    // One that no longer checks (expired, another CA) is not taken again.
                    let _ = k.learn(&chain);
                }
            }
            k.take_learned();
        }
        self.keyring = Some(keyring);
        Ok(self)
    }

    /// Documents the last [`StoreReplica::flush`] set aside instead of storing, with why (see
    /// there); taken, so each is reported once.
    pub fn take_set_aside(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.set_aside)
    }

    /// Flushes, and fails if one of `ids` (a local change) was set aside rather than stored.
    pub fn flush_for(&mut self, ids: &[&str]) -> Result<(), ReplicaError> {
        self.flush()?;
        match self
            .set_aside
            .iter()
            .find(|(doc, _)| ids.contains(&doc.as_str()))
        {
            Some((doc, why)) => Err(ReplicaError(format!(
                "the change to {doc} could not be stored: {why}; nothing of it was written"
            ))),
            None => Ok(()),
        }
    }

    /// Records the node's neighbours, for the documents that follow the topology.
    pub fn with_topology(mut self, config: &crate::NodeConfig) -> StoreReplica {
        self.neighbours = config
            .peers
            .iter()
            .map(|p| {
                let rel = match p.relation {
                    crate::Relation::Parent => Neighbour::Parent,
                    crate::Relation::Child => Neighbour::Child,
                };
                (p.id.clone(), rel)
            })
            .collect();
        self
    }

    /// The store underneath (for reads that need no pending state, e.g. listings after a flush).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store underneath, to change what is not a document (the indexes it keeps).
    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Documents changed since the last flush.
    pub fn pending_docs(&self) -> Vec<String> {
        self.pending.values().cloned().collect()
    }

    /// Whether anything waits for [`StoreReplica::flush`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
            || !self.checkpoints.is_empty()
            || !self.peers_have.is_empty()
            || !self.sync_states.is_empty()
            || !self.sigs.is_empty()
            || !self.requests.is_empty()
            || self
                .keyring
                .as_ref()
                .is_some_and(|k| k.read().is_ok_and(|k| k.has_learned()))
    }

    /// A case for a local change through the archive API (loaded if need be).
    pub fn case_mut(&mut self, id: &str) -> Result<Option<&mut Case>, ReplicaError> {
        if !self.load(id)? {
            return Ok(None);
        }
        Ok(self.cache.get_mut(id).and_then(|(d, _)| d.as_case_mut()))
    }

    /// A record (policy, summary, ledger) for a local change (loaded if need be).
    pub fn record_mut(&mut self, id: &str) -> Result<Option<&mut Record>, ReplicaError> {
        if !self.load(id)? {
            return Ok(None);
        }
        Ok(self.cache.get_mut(id).and_then(|(d, _)| d.as_record_mut()))
    }

    /// Adds a case made locally.
    pub fn add_case(&mut self, case: Case) -> Result<u64, ReplicaError> {
        self.add_doc(Document::Case(case))
    }

    /// Adds a record made locally.
    pub fn add_record(&mut self, record: Record) -> Result<u64, ReplicaError> {
        self.add_doc(Document::Record(record))
    }

    fn add_doc(&mut self, doc: Document) -> Result<u64, ReplicaError> {
        let id = doc.id().map_err(|e| ReplicaError(e.to_string()))?;
        self.cache_put(&id, doc);
        self.commit(&id)?
            .ok_or_else(|| ReplicaError(format!("case {id} has no changes")))
    }

    /// Takes a loaded document out of the cache (loading it first), to change it beside another;
    /// give it back with [`StoreReplica::give_back`].
    pub(crate) fn take_loaded(&mut self, id: &str) -> Result<Option<Document>, ReplicaError> {
        if !self.load(id)? {
            return Ok(None);
        }
        Ok(self.cache.remove(id).map(|(d, _)| d))
    }

    /// Puts back a document taken with [`StoreReplica::take_loaded`].
    pub(crate) fn give_back(&mut self, id: &str, doc: Document) {
        self.cache_put(id, doc);
    }

    /// Puts a document in the cache as the newest used.
    fn cache_put(&mut self, id: &str, doc: Document) {
        self.tick += 1;
        self.absent.remove(id);
        self.cache.insert(id.to_owned(), (doc, self.tick));
    }

    /// The federation policy in force today, as held here (the built-in one if none). Read
    /// once a day, or again when the policy document changes, not at every flush.
    fn policy_now(&mut self) -> Result<hearth_archive::Policy, ReplicaError> {
        let today = hearth_archive::calendar::day_of(jiff::Timestamp::now());
        if let Some((day, policy)) = &self.policy
            && *day == today
        {
            return Ok(policy.clone());
        }
        let policy =
            hearth_ops::policy_in_force(self, today).map_err(|e| ReplicaError(e.to_string()))?;
        self.policy = Some((today, policy.clone()));
        Ok(policy)
    }

    /// Drops a case from the cache, with any change not yet committed (after a refused local
    /// change). Its committed state stays in the store.
    pub fn forget(&mut self, id: &str) {
        if !self.pending_seq.contains_key(id) {
            self.cache.remove(id);
        }
    }

    /// Stores new local cases in one durable transaction (all or none), each at the next feed
    /// sequence, without caching them: an import of many thousands stays flat in memory.
    pub fn insert_all(
        &mut self,
        cases: &mut dyn Iterator<Item = Result<Case, OpError>>,
    ) -> Result<Vec<String>, OpError> {
        self.flush().op()?;
        let mut batch = self.store.begin().op()?;
        batch.set_policy(self.policy_now().op()?);
        let mut ids = Vec::new();
        let mut seq = self.next_seq;
        for case in cases {
            let mut case = case?;
            batch.put_at(&mut case, seq).op()?;
            seq += 1;
            let id = case.id()?;
            self.absent.remove(&id);
            ids.push(id);
        }
        if let (Some(key), Some(first)) = (self.request.take(), ids.first()) {
            batch.put_request(&key, first).op()?;
        }
        batch.commit().op()?;
        self.next_seq = seq;
        self.aggregates_stale |= !ids.is_empty();
        Ok(ids)
    }

    /// Folds every document's change chunks into its snapshot (see [`Store::compact`]).
    pub fn compact(&mut self) -> Result<hearth_store::CompactStats, ReplicaError> {
        self.flush()?;
        self.store.compact().map_err(storage)
    }

    /// Writes a consistent copy of the store, with everything staged, to the new file `out`
    /// (see [`Store::backup_to`]): (bytes, documents).
    pub fn backup_to(&mut self, out: &std::path::Path) -> Result<(u64, u64), ReplicaError> {
        self.flush()?;
        let bytes = self.store.backup_to(out).map_err(storage)?;
        let documents = self.store.stats().map_err(storage)?.documents;
        Ok((bytes, documents))
    }

    /// Makes the next local write one under request key `key` (`None`: none): the key is
    /// recorded with the document it writes, in the write's own transaction.
    pub fn expect_request(&mut self, key: Option<String>) {
        self.request = key;
    }

    /// The request key of the write about to be committed, with `doc`, the document it wrote.
    pub(crate) fn note_request(&mut self, doc: &str) {
        if let Some(key) = self.request.take() {
            self.requests.push((key, doc.to_owned()));
        }
    }

    /// The document the write with request key `key` wrote, if one was made here.
    pub fn request(&self, key: &str) -> Result<Option<String>, ReplicaError> {
        if let Some((_, doc)) = self.requests.iter().find(|(k, _)| k == key) {
            return Ok(Some(doc.clone()));
        }
        self.store.request(key).map_err(storage)
    }

    /// The actor local changes are written with.
    pub fn actor(&self) -> ActorId {
        self.actor.clone()
    }

    /// Writes every pending change, checkpoint and sync state in one durable transaction.
    ///
    /// A document the store cannot index (its content breaks what the index needs, which the
    /// checks on receipt should have caught) does not stop the others: it is set aside — its
    /// unstored changes dropped, its sync states not saved, and it is refused if sent again —
    /// and everything else is committed. [`StoreReplica::take_set_aside`] says which.
    ///
    /// A failed commit (a full disk, say) loses nothing written before, but nothing of what
    /// waited may be taken as written: the local write under way is told it failed, and what
    /// peers sent is dropped (they send it again from their checkpoints). The store is opened
    /// again (redb refuses a handle after an IO error), and [`StoreReplica::failing`] says why
    /// until a commit succeeds again; while failing, a flush with nothing to write tries a write
    /// that needs room ([`Store::probe`]), so that the node sees the disk come back without a
    /// restart.
    pub fn flush(&mut self) -> Result<(), ReplicaError> {
        if !self.has_pending() && self.failing.is_none() {
            return Ok(());
        }
        let flushed = if self.has_pending() {
            self.flush_pending()
        } else {
            // Failing, nothing to write: whether a write that needs room succeeds now.
            self.store.probe().map_err(storage)
        };
        match flushed {
            Ok(()) => {
                self.failing = None;
                Ok(())
            }
            Err(e) => {
                self.failures += 1;
                self.discard_pending();
                self.failing = Some(e.0.clone());
                // Closed until it opens again; every use meanwhile is an error that says so.
                let _ = self.store.reopen();
                Err(e)
            }
        }
    }

    /// Flushes that failed so far: one that failed drops what peers sent, so the sessions that
    /// sent it must start again from their checkpoints.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Why the store is failing, if it is (the last commit failed and none has succeeded since).
    pub fn failing(&self) -> Option<&str> {
        self.failing.as_deref()
    }

    /// Drops everything that waited for a commit that failed.
    fn discard_pending(&mut self) {
        for id in self.pending.values() {
            self.cache.remove(id);
        }
        self.clear_staged();
        self.request = None;
    }

    /// Empties what waited for the commit, once it is written or dropped.
    fn clear_staged(&mut self) {
        self.pending.clear();
        self.pending_seq.clear();
        self.checkpoints.clear();
        self.peers_have.clear();
        self.sync_states.clear();
        self.sigs.clear();
        self.requests.clear();
    }

    fn flush_pending(&mut self) -> Result<(), ReplicaError> {
        let policy = self.policy_now()?;
        let mut batch = self.store.begin().map_err(storage)?;
        batch.set_policy(policy);
        let mut set_aside = Vec::new();
        for (seq, id) in &self.pending {
            let Some((doc, _)) = self.cache.get_mut(id) else {
                return Err(ReplicaError(format!(
                    "pending document {id} left the cache"
                )));
            };
            match batch.put_at(doc, *seq) {
                Ok(_) => {}
                Err(e @ (StoreError::Archive(_) | StoreError::Corrupt { .. })) => {
                    set_aside.push((id.clone(), e.to_string()));
                }
                Err(e) => return Err(storage(e)),
            }
        }
        for (id, why) in &set_aside {
            self.cache.remove(id);
            self.sync_states.retain(|(_, doc), _| doc != id);
            if self.quarantine.len() >= QUARANTINE
                && let Some(oldest) = self.quarantine.keys().next().cloned()
            {
                self.quarantine.remove(&oldest);
            }
            self.quarantine.insert(id.clone(), why.clone());
        }
        for (peer, r) in &self.checkpoints {
            batch
                .save_peer_checkpoint(peer, r.epoch, r.seq)
                .map_err(storage)?;
        }
        for (peer, seq) in &self.peers_have {
            batch.save_peer_has(peer, *seq).map_err(storage)?;
        }
        for ((peer, doc), state) in &self.sync_states {
            batch.save_sync_state(peer, doc, state).map_err(storage)?;
        }
        for (doc, sigs) in &self.sigs {
            if !set_aside.iter().any(|(id, _)| id == doc) {
                batch.save_signatures(doc, sigs).map_err(storage)?;
            }
        }
        let learned = match &self.keyring {
            Some(k) => k
                .write()
                .map_err(|_| ReplicaError("the keyring is unusable after a failure".into()))?
                .take_learned(),
            None => Vec::new(),
        };
        for chain in learned {
            batch
                .save_certificate(&hearth_sync::trust::encode_chain(&chain))
                .map_err(storage)?;
        }
        for (key, doc) in &self.requests {
            if !set_aside.iter().any(|(id, _)| id == doc) {
                batch.put_request(key, doc).map_err(storage)?;
            }
        }
        // A conflict opened or closed changes what the summary carries up.
        self.aggregates_stale |= batch.conflicts_changed();
        batch.commit().map_err(storage)?;
        self.clear_staged();
        self.set_aside.extend(set_aside);
        self.evict();
        Ok(())
    }

    fn evict(&mut self) {
        let mut ages = Vec::with_capacity(self.cache.len());
        let mut bytes = 0usize;
        for (id, (doc, used)) in &mut self.cache {
            let size = doc_bytes(doc);
            bytes = bytes.saturating_add(size);
            if !self.pending_seq.contains_key(id) {
                ages.push((*used, size, id.clone()));
            }
        }
        if self.cache.len() <= CACHE_DOCS && bytes <= self.cache_memory {
            return;
        }
        ages.sort_unstable();
        for (_, size, id) in ages {
            if self.cache.len() <= CACHE_DOCS && bytes <= self.cache_memory {
                break;
            }
            self.cache.remove(&id);
            bytes -= size;
        }
    }

    /// Whether the node's summary must be computed again: one of its cases, a child's summary,
    /// its ledger or the conflict queue changed since [`StoreReplica::aggregates_computed`].
    pub fn aggregates_stale(&self) -> bool {
        self.aggregates_stale
    }

    /// The node's summary is being computed from what the replica holds now.
    pub fn aggregates_computed(&mut self) {
        self.aggregates_stale = false;
    }

    fn note_change(&mut self, doc: &str) {
        use hearth_archive::DocId;
        match DocId::of(doc) {
            // Only this node's own cases count in its summary.
            DocId::Case => {
                let home = self
                    .cache
                    .get_mut(doc)
                    .and_then(|(d, _)| d.as_case_mut())
                    .and_then(|c| c.home().ok().flatten());
                if home.as_deref().is_none_or(|h| h == self.node_id) {
                    self.aggregates_stale = true;
                }
            }
            DocId::Summary(owner) if owner != self.node_id => self.aggregates_stale = true,
            DocId::Policy => self.policy = None,
            // A fund below zero is an open conflict the summary carries up.
            DocId::Ledger(owner) if owner == self.node_id => self.aggregates_stale = true,
            _ => {}
        }
    }

    /// Hands a document the next feed sequence; written at the next flush.
    fn stage(&mut self, doc: &str) -> u64 {
        self.note_change(doc);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self.pending_seq.insert(doc.to_owned(), seq) {
            self.pending.remove(&old);
        }
        self.pending.insert(seq, doc.to_owned());
        seq
    }

    /// Makes sure a document is in the cache; `false` if it is not held.
    fn load(&mut self, id: &str) -> Result<bool, ReplicaError> {
        self.tick += 1;
        if let Some(entry) = self.cache.get_mut(id) {
            entry.1 = self.tick;
            return Ok(true);
        }
        if self.absent.contains(id) {
            return Ok(false);
        }
        match self
            .store
            .load_doc(id, self.actor.clone())
            .map_err(storage)?
        {
            Some(doc) => {
                self.cache_put(id, doc);
                Ok(true)
            }
            None => {
                if self.absent.len() >= ABSENT_KEPT {
                    self.absent.clear();
                }
                self.absent.insert(id.to_owned());
                Ok(false)
            }
        }
    }
}

impl Replica for StoreReplica {
    fn node_id(&self) -> &str {
        &self.node_id
    }

    fn neighbour(&self, peer: &str) -> Option<Neighbour> {
        self.neighbours.get(peer).copied()
    }

    fn feed_epoch(&self) -> u64 {
        self.epoch
    }

    fn feed_head(&self) -> u64 {
        self.next_seq - 1
    }

    fn changed_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, String)>, ReplicaError> {
        let stored = self
            .store
            .changes_since_limit(seq, limit.saturating_add(self.pending.len()))
            .map_err(storage)?;
        let mut merged: Vec<(u64, String)> = stored
            .into_iter()
            .filter(|(_, id)| !self.pending_seq.contains_key(id))
            .chain(
                self.pending
                    .range(seq.saturating_add(1)..)
                    .map(|(s, id)| (*s, id.clone())),
            )
            .collect();
        merged.sort();
        merged.truncate(limit);
        Ok(merged)
    }

    fn doc_ids(&self) -> Result<Vec<String>, ReplicaError> {
        let mut ids = self.store.doc_ids().map_err(storage)?;
        for id in self.pending_seq.keys() {
            if let Err(at) = ids.binary_search(id) {
                ids.insert(at, id.clone());
            }
        }
        Ok(ids)
    }

    fn participants(&mut self, doc: &str) -> Result<Option<Vec<String>>, ReplicaError> {
        if let Some((d, _)) = self.cache.get(doc) {
            return Ok(match d {
                Document::Case(case) => case.participants().ok(),
                Document::Record(_) => None,
            });
        }
        Ok(self
            .store
            .case_summary(doc)
            .map_err(storage)?
            .map(|s| s.participants))
    }

    fn doc(&mut self, doc: &str) -> Result<Option<&mut AutoCommit>, ReplicaError> {
        if !self.load(doc)? {
            return Ok(None);
        }
        Ok(self.cache.get_mut(doc).map(|(d, _)| d.doc_mut()))
    }

    fn heads_hash(&mut self, doc: &str) -> Result<Option<[u8; 32]>, ReplicaError> {
        if let Some((d, _)) = self.cache.get_mut(doc) {
            return Ok(Some(hearth_archive::heads_hash(&d.heads())));
        }
        self.store.heads_hash(doc).map_err(storage)
    }

    fn commit(&mut self, doc: &str) -> Result<Option<u64>, ReplicaError> {
        let Some((d, _)) = self.cache.get_mut(doc) else {
            return Err(ReplicaError(format!("no document {doc} to commit")));
        };
        if !d.has_unsaved_changes() && !self.pending_seq.contains_key(doc) {
            return Ok(None);
        }
        Ok(Some(self.stage(doc)))
    }

    fn insert(&mut self, doc: &str, value: AutoCommit) -> Result<u64, ReplicaError> {
        self.insert_checked(doc, value, None)
    }

    fn insert_checked(
        &mut self,
        doc: &str,
        value: AutoCommit,
        view: Option<hearth_archive::CaseView>,
    ) -> Result<u64, ReplicaError> {
        let value = match Document::from_doc(value, self.actor.clone()) {
            Ok(Document::Case(case)) => match view {
                Some(view) => Document::Case(case.with_checked_view(view)),
                None => Document::Case(case),
            },
            Ok(record) => record,
            Err(e) => return Err(ReplicaError(e.to_string())),
        };
        self.cache_put(doc, value);
        Ok(self.stage(doc))
    }

    fn sync_state(&mut self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        if let Some(state) = self.sync_states.get(&(peer.to_owned(), doc.to_owned())) {
            return Ok(Some(state.clone()));
        }
        self.store.sync_state(peer, doc).map_err(storage)
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
        if let Some(r) = self.checkpoints.get(peer) {
            return Ok(Some(*r));
        }
        Ok(self
            .store
            .peer_checkpoint(peer)
            .map_err(storage)?
            .map(|(epoch, seq)| Resume { epoch, seq }))
    }

    fn save_checkpoint(&mut self, peer: &str, resume: Resume) -> Result<(), ReplicaError> {
        self.checkpoints.insert(peer.to_owned(), resume);
        Ok(())
    }

    fn peer_has(&self, peer: &str) -> Result<Option<u64>, ReplicaError> {
        if let Some(seq) = self.peers_have.get(peer) {
            return Ok(Some(*seq));
        }
        self.store.peer_has(peer).map_err(storage)
    }

    fn save_peer_has(&mut self, peer: &str, seq: u64) -> Result<(), ReplicaError> {
        self.peers_have.insert(peer.to_owned(), seq);
        Ok(())
    }

    fn trim(&mut self) {
        self.evict();
    }

    fn refused(&self, doc: &str) -> Option<String> {
        self.quarantine
            .get(doc)
            .map(|why| format!("it was set aside here after it could not be stored ({why})"))
    }

    fn keyring(&self) -> Option<SharedKeyring> {
        self.keyring.clone()
    }

    fn signatures(&mut self, doc: &str, sign: bool) -> Result<SigSet, ReplicaError> {
        let mut kept = match self.sigs.get(doc) {
            Some(kept) => kept.clone(),
            None => self.store.signatures(doc).map_err(storage)?,
        };
        if sign
            && self.load(doc)?
            && let Some((d, _)) = self.cache.get_mut(doc)
            && hearth_sync::replica::sign_own(self.keyring.as_ref(), doc, d.doc_mut(), &mut kept)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_documents_used_last_within_its_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("hearth.redb"), b"test").unwrap();
        let mut replica = StoreReplica::new("demo.team-1", store).unwrap();
        let editor = crate::local::editor("demo.team-1", "test");
        let made: Vec<Result<Case, OpError>> = (0..10)
            .map(|n| {
                let bound = hearth_archive::BoundId::new("demo.team-1", &format!("case-{n}"));
                let fields = hearth_archive::CaseFields {
                    name: Some(format!("职工{n}")),
                    ..hearth_archive::CaseFields::default()
                };
                Ok(Case::create(
                    &bound,
                    replica.actor.clone(),
                    &editor,
                    &fields,
                )?)
            })
            .collect();
        let ids = replica.insert_all(&mut made.into_iter()).unwrap();
        // A case with a long history takes the memory of many small ones.
        let big = &ids[0];
        let case = replica.case_mut(big).unwrap().unwrap();
        for n in 0..300 {
            let fields = hearth_archive::CaseFields {
                household_size: Some(1 + n % 7),
                ..hearth_archive::CaseFields::default()
            };
            case.edit(&editor, &fields).unwrap();
        }
        replica.stage(big);
        replica.flush().unwrap();
        let small = {
            let id = &ids[1];
            replica.load(id).unwrap();
            doc_bytes(&mut replica.cache.get_mut(id.as_str()).unwrap().0)
        };
        let large = doc_bytes(&mut replica.cache.get_mut(big.as_str()).unwrap().0);
        assert!(large > 2 * small, "{large} against {small}");

        // Room for three small ones: loading every small one after the big one leaves the
        // three used last; the big one goes first, as the least recently used.
        replica.cache_memory = 3 * small + small / 2;
        for id in &ids[1..] {
            replica.load(id).unwrap();
        }
        replica.evict();
        let mut kept: Vec<&String> = replica.cache.keys().collect();
        kept.sort();
        let mut last: Vec<&String> = ids[7..].iter().collect();
        last.sort();
        assert_eq!(kept, last);

        // Unbounded by memory, the count bound still holds.
        replica.cache_memory = usize::MAX;
        for id in &ids {
            replica.load(id).unwrap();
        }
        replica.evict();
        assert_eq!(replica.cache.len(), ids.len());
    }
}
