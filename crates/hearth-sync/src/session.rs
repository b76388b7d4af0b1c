//! One side of a sync session between two neighbouring nodes: frames in, frames out, no IO.
//!
//! Each side offers the other the documents of its own feed that the two share:
//!
//! - **Catch-up.** The peer's hello says how far it has applied our feed (a checkpoint in our
//!   feed epoch). We offer only documents changed since then — O(changed), whatever the number of
//!   documents — at most `max_in_flight` at a time, and confirm progress with `Checkpoint`
//!   frames, which the peer stores.
//! - **Reconcile.** Without a valid checkpoint we send a digest of (document, heads hash) for
//!   everything we share with the peer; the peer pulls only the documents whose hash differs
//!   from its own and, once they are in sync, stores our digest's feed head as its checkpoint.
//! - **Live push.** [`Session::poll`] offers documents changed locally since the last scan.
//!
//! Per document, the two run Automerge's sync protocol until both have the same heads. The scope
//! rule (DESIGN §4) is applied both ways: we offer only shared documents, and we apply changes to
//! a document only if the peer is a participant on our copy before applying; a document new to
//! us is kept only if, once received, it lists both nodes.
//!
//! The session relies on its transport to deliver frames in order while the session lives (an
//! HTTP/2 stream does); a lost connection ends the session and a new one starts from the
//! checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use automerge::AutoCommit;
use automerge::sync::{Message, State};
use hearth_archive::automerge;

use hearth_archive::automerge::ChangeHash;
use hearth_archive::signed::{ChangeSig, SigSet};

use crate::frame::{
    DigestEntry, ErrorCode, Frame, Hello, PROTOCOL_MAJOR, PROTOCOL_MINOR, Refusal, Resume,
    heads_hash, valid_doc_id,
};
use crate::replica::{Replica, ReplicaError};
use crate::scope;
use crate::trust::{Keyring, TrustError};

/// Limits of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Documents being offered (and, separately, pulled) at once.
    pub max_in_flight: usize,
    /// Entries per digest frame.
    pub digest_chunk: usize,
    /// Largest sync message accepted.
    pub max_message_bytes: usize,
    /// Confirm progress at least every this many feed sequences during a long catch-up.
    pub checkpoint_every: u64,
    /// Resume from the peer's checkpoint. Off, a reconnect offers every shared document and runs
    /// Automerge's handshake for each, as automerge-repo does: only for comparison benchmarks.
    pub resume: bool,
    /// Documents new to this node being received at once (each an empty document and a sync
    /// state until its changes come); a peer that opens more ends its session.
    pub max_new_docs: usize,
    /// Bytes of sync messages held in documents new to this node not yet accepted.
    pub max_new_bytes: usize,
    /// Entries of a peer's reconciliation digest queued for pulling; beyond, the rest waits for
    /// the next session (which reconciles again from where this one got).
    pub max_digest_queue: usize,
    /// Automerge sync states kept in memory for documents that are in sync (they are stored;
    /// keeping some saves a round trip when they change again).
    pub max_idle_states: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_in_flight: 512,
            digest_chunk: 4096,
            max_message_bytes: 16 << 20,
            checkpoint_every: 1024,
            resume: true,
            max_new_docs: 2048,
            max_new_bytes: 24 << 20,
            max_digest_queue: 100_000,
            max_idle_states: 8192,
        }
    }
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Approximate bytes received.
    pub bytes_in: u64,
    /// Approximate bytes sent.
    pub bytes_out: u64,
    /// Documents changed or added here by what the peer sent.
    pub docs_applied: u64,
    /// Documents of the peer refused here.
    pub refused_here: u64,
    /// Documents of ours the peer refused.
    pub refused_by_peer: u64,
}

impl std::ops::Add for SessionStats {
    type Output = SessionStats;

    /// The counters of two sessions together.
    fn add(self, b: SessionStats) -> SessionStats {
        SessionStats {
            frames_in: self.frames_in + b.frames_in,
            frames_out: self.frames_out + b.frames_out,
            bytes_in: self.bytes_in + b.bytes_in,
            bytes_out: self.bytes_out + b.bytes_out,
            docs_applied: self.docs_applied + b.docs_applied,
            refused_here: self.refused_here + b.refused_here,
            refused_by_peer: self.refused_by_peer + b.refused_by_peer,
        }
    }
}

/// A document of the peer's refused here, and why (kept for the node's status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Document id.
    pub doc: String,
    /// Why, in a word.
    pub reason: Refusal,
    /// What is wrong and what to do.
    pub message: String,
}

impl Refused {
    /// What DESIGN §4a rule it enforced: `signature` for a change not signed by its author, the
    /// rule's name (`hearth_archive::rules::RULES`) for one its author may not write, `None` for
    /// the other refusals.
    pub fn rule(&self) -> Option<&str> {
        match self.reason {
            Refusal::Unsigned => Some("signature"),
            Refusal::Forbidden => hearth_archive::rules::RULES
                .iter()
                .copied()
                .find(|rule| self.message.contains(&format!("rule {rule}:"))),
            _ => None,
        }
    }
}

/// Refusals kept per session, newest last.
const KEPT_REFUSALS: usize = 16;
/// Longest text of a peer's (an error or refusal message) kept or logged here.
const MAX_PEER_TEXT: usize = 500;

/// A peer's message, shortened and with control characters escaped, for logs and status.
fn peer_text(message: &str) -> String {
    let short: String = message.chars().take(MAX_PEER_TEXT).collect();
    hearth_archive::text::escape(&short).into_owned()
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// This side ended it (and told the peer).
    Local(ErrorCode, String),
    /// The peer ended it.
    Peer(ErrorCode, String),
}

/// Where the reconciliation of the peer's digest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    /// No digest is being received.
    None,
    /// Parts are arriving; pulls may be under way.
    Receiving,
    /// The last part arrived with the peer's feed head; pulls may still be under way.
    Complete(u64),
}

struct Fatal(ErrorCode, String);

impl From<ReplicaError> for Fatal {
    fn from(e: ReplicaError) -> Self {
        Fatal(
            ErrorCode::Storage,
            format!("cannot store what the peer sent: {e}"),
        )
    }
}

/// One side of a session with one peer.
#[derive(Debug)]
pub struct Session {
    peer: String,
    cfg: SessionConfig,
    opened: bool,
    peer_hello: Option<Hello>,
    /// Our feed has been scanned up to here for offers.
    cursor: u64,
    /// Offers under way, by the feed sequence they were offered at.
    offers: BTreeMap<u64, String>,
    offer_seq: HashMap<String, u64>,
    /// Highest checkpoint of our feed confirmed to the peer.
    confirmed: u64,
    /// A document was sent to the peer since the last checkpoint frame.
    sent_since_checkpoint: bool,
    /// Documents of the peer's digest still to pull (a set: each once, and small per entry).
    pull_queue: BTreeSet<String>,
    pulls: HashSet<String>,
    digest: Digest,
    /// The digest had more entries than this session queues: once pulled, the session ends so
    /// that the next one reconciles the rest.
    digest_cut: bool,
    /// The peer's feed has another epoch than the one this node last applied: its data dir was
    /// restored or made anew, so what the stored sync states say it has is not to be trusted.
    peer_reset: bool,
    /// A checkpoint that arrived while a digest was being reconciled.
    deferred: Option<Resume>,
    states: HashMap<String, State>,
    /// Documents whose sync state was reloaded from the store in this session, with nothing
    /// sent for them since. The stored state counts the last exchange as ended, so a peer that
    /// opens a new one for a document both already agree on would get no answer and its offer
    /// would never complete: such an opener gets one answer anyway.
    reloaded: HashSet<String>,
    /// Documents given such an answer in this session: once each, so that two sides whose
    /// states are let go and reloaded between messages do not answer each other forever.
    forced: HashSet<String>,
    /// Documents in sync, oldest first: beyond `max_idle_states` the oldest one's sync state
    /// is let go (it is stored, and [`state_for`] reloads it).
    settled: VecDeque<String>,
    /// Documents new to us that the peer offered or we pulled, not yet received (each has a
    /// sync state; a document only once its first changes come, in `scratch`).
    incoming: HashSet<String>,
    /// Documents new to us, being received, not yet checked against the scope rule.
    scratch: HashMap<String, AutoCommit>,
    /// An empty document: what we have of a new document until its changes come (answers are
    /// generated from it, so an offer costs a sync state and nothing more).
    empty: AutoCommit,
    /// Bytes of sync messages applied to each `scratch` document, and their sum.
    scratch_sizes: HashMap<String, usize>,
    scratch_bytes: usize,
    /// The peer's documents refused here lately, newest last.
    refusals: VecDeque<Refused>,
    closed: Option<Closed>,
    stats: SessionStats,
    /// Nodes whose certificates were sent to the peer in this session.
    certs_sent: HashSet<String>,
    /// Certificate chains the peer sent in this session.
    chains_taken: usize,
    /// Signatures the peer sent for documents new to us, until their changes come.
    scratch_sigs: HashMap<String, Vec<ChangeSig>>,
}

/// The protocol minor version from which a peer takes `Certificates` frames (an older one
/// closes the connection on a frame it does not know; signatures in a sync frame it ignores).
pub const CERTIFICATES_MINOR: u32 = 2;

/// Most signatures taken in one frame.
pub const MAX_SIGS_PER_FRAME: usize = 1024;
/// Most signatures kept for a document new to this node while it is received.
pub const MAX_SIGS_PER_NEW_DOC: usize = 256;
/// Most certificate chains taken from a peer in one session.
pub const MAX_CHAINS_PER_SESSION: usize = 4096;

impl Session {
    /// A session with `peer`, not yet opened.
    pub fn new(peer: &str, cfg: SessionConfig) -> Session {
        Session {
            peer: peer.to_owned(),
            cfg,
            opened: false,
            peer_hello: None,
            cursor: 0,
            offers: BTreeMap::new(),
            offer_seq: HashMap::new(),
            confirmed: 0,
            sent_since_checkpoint: false,
            pull_queue: BTreeSet::new(),
            pulls: HashSet::new(),
            digest: Digest::None,
            digest_cut: false,
            peer_reset: false,
            deferred: None,
            states: HashMap::new(),
            reloaded: HashSet::new(),
            forced: HashSet::new(),
            settled: VecDeque::new(),
            incoming: HashSet::new(),
            scratch: HashMap::new(),
            empty: AutoCommit::new(),
            scratch_sizes: HashMap::new(),
            scratch_bytes: 0,
            refusals: VecDeque::new(),
            closed: None,
            stats: SessionStats::default(),
            certs_sent: HashSet::new(),
            chains_taken: 0,
            scratch_sigs: HashMap::new(),
        }
    }

    /// The peer's node id.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Sequences of our feed up to `head` not yet confirmed to the peer in this session.
    pub fn backlog(&self, head: u64) -> u64 {
        head.saturating_sub(self.confirmed)
    }

    /// Why the session ended, once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// The peer's documents refused here lately, newest last (at most 16).
    pub fn refusals(&self) -> impl Iterator<Item = &Refused> {
        self.refusals.iter()
    }

    /// The first frames to send: our hello.
    pub fn open(&mut self, r: &mut impl Replica) -> Vec<Frame> {
        if self.opened {
            return Vec::new();
        }
        self.opened = true;
        let hello = Hello {
            node: r.node_id().to_owned(),
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
            epoch: r.feed_epoch(),
            // An unreadable checkpoint is no checkpoint: the peer then reconciles by digest.
            resume: r.checkpoint(&self.peer).ok().flatten(),
            knows: r
                .keyring()
                .and_then(|k| {
                    let k = k.read().ok()?;
                    k.chains(&self.peer)
                        .last()
                        .and_then(|c| c.first())
                        .map(|leaf| cert_hash(leaf))
                })
                .unwrap_or_default(),
        };
        self.account_out(vec![Frame::Hello(hello)])
    }

    /// Handles one frame from the peer; returns the frames to send back. After an error the
    /// session is closed ([`Session::closed`]) and the last frame returned tells the peer why.
    pub fn receive(&mut self, frame: Frame, r: &mut impl Replica) -> Vec<Frame> {
        if self.closed.is_some() {
            return Vec::new();
        }
        self.stats.frames_in += 1;
        self.stats.bytes_in += frame.approx_size() as u64;
        let mut out = Vec::new();
        let result = match frame {
            Frame::Hello(hello) => self.on_hello(hello, r, &mut out),
            _ if self.peer_hello.is_none() => Err(Fatal(
                ErrorCode::Protocol,
                format!("node {} sent data before its hello", self.peer),
            )),
            Frame::Sync { doc, .. } | Frame::Refused { doc, .. } if !valid_doc_id(&doc) => {
                Err(self.bad_doc_id(&doc))
            }
            Frame::Digest { entries, .. } if entries.iter().any(|e| !valid_doc_id(&e.doc)) => {
                let doc = entries
                    .iter()
                    .find(|e| !valid_doc_id(&e.doc))
                    .map(|e| e.doc.clone())
                    .unwrap_or_default();
                Err(self.bad_doc_id(&doc))
            }
            Frame::Sync {
                doc,
                message,
                signatures,
            } => self.on_sync(&doc, &message, signatures, r, &mut out),
            Frame::Certificates(chains) => self.on_certificates(chains, r),
            Frame::Digest { entries, upto } => self.on_digest(entries, upto, r),
            Frame::Checkpoint(resume) => self.on_checkpoint(resume, r),
            Frame::Refused { doc, .. } => {
                self.stats.refused_by_peer += 1;
                self.forget(&doc);
                Ok(())
            }
            Frame::Error { code, message } => {
                self.closed = Some(Closed::Peer(code, peer_text(&message)));
                return Vec::new();
            }
        };
        let result = result.and_then(|()| self.progress(r, &mut out));
        if let Err(Fatal(code, message)) = result {
            out.push(Frame::Error {
                code,
                message: message.clone(),
            });
            self.closed = Some(Closed::Local(code, message));
        }
        self.account_out(out)
    }

    /// Offers what changed locally since the last scan (live push) and confirms progress.
    pub fn poll(&mut self, r: &mut impl Replica) -> Vec<Frame> {
        if self.closed.is_some() || self.peer_hello.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Err(Fatal(code, message)) = self.progress(r, &mut out) {
            out.push(Frame::Error {
                code,
                message: message.clone(),
            });
            self.closed = Some(Closed::Local(code, message));
        }
        self.account_out(out)
    }

    /// Nothing is under way in either direction and every local change has been offered.
    pub fn is_quiet(&self, r: &impl Replica) -> bool {
        self.closed.is_some()
            || (self.peer_hello.is_some()
                && self.offers.is_empty()
                && self.pulls.is_empty()
                && self.pull_queue.is_empty()
                && self.digest == Digest::None
                && self.cursor >= r.feed_head()
                && self.confirmed >= self.cursor)
    }

    fn account_out(&mut self, out: Vec<Frame>) -> Vec<Frame> {
        self.stats.frames_out += out.len() as u64;
        self.sent_since_checkpoint |= out.iter().any(|f| matches!(f, Frame::Sync { .. }));
        self.stats.bytes_out += out.iter().map(|f| f.approx_size() as u64).sum::<u64>();
        out
    }

    // ----- frames --------------------------------------------------------------------------

    fn on_hello(
        &mut self,
        hello: Hello,
        r: &mut impl Replica,
        out: &mut Vec<Frame>,
    ) -> Result<(), Fatal> {
        if hello.major != PROTOCOL_MAJOR {
            return Err(Fatal(
                ErrorCode::Version,
                format!(
                    "node {} speaks sync protocol {}.{}, this node {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}; upgrade the older node",
                    hello.node, hello.major, hello.minor
                ),
            ));
        }
        if hello.node != self.peer {
            return Err(Fatal(
                ErrorCode::Identity,
                format!(
                    "expected node {} but the peer says it is {}; check the peer configuration",
                    self.peer, hello.node
                ),
            ));
        }
        match &self.peer_hello {
            Some(previous) if *previous == hello => return Ok(()),
            Some(_) => {
                return Err(Fatal(
                    ErrorCode::Protocol,
                    format!("node {} sent a second hello", self.peer),
                ));
            }
            None => {}
        }
        let resume = hello.resume;
        if hello.minor >= CERTIFICATES_MINOR
            && let Some(keyring) = r.keyring()
            && let Ok(keyring) = keyring.read()
            && let Some(chain) = keyring.own_chain()
        {
            // This node's own certificate, so that the peer can check its signatures and its
            // place whatever the transport told it; not again to a peer that holds it already
            // (a reconnect then costs the two hellos alone).
            if chain
                .first()
                .is_none_or(|leaf| cert_hash(leaf) != hello.knows)
            {
                out.push(Frame::Certificates(vec![chain.to_vec()]));
            }
            if let Some(node) = keyring.node() {
                self.certs_sent.insert(node.to_owned());
            }
        }
        self.peer_reset = r
            .checkpoint(&self.peer)
            .ok()
            .flatten()
            .is_some_and(|cp| cp.epoch != hello.epoch);
        self.peer_hello = Some(hello);
        match resume {
            _ if !self.cfg.resume => {
                self.cursor = 0;
                self.confirmed = 0;
            }
            Some(res) if res.epoch == r.feed_epoch() && res.seq <= r.feed_head() => {
                self.cursor = res.seq;
                self.confirmed = res.seq;
                r.save_peer_has(&self.peer, res.seq)?;
            }
            _ => self.send_digest(r, out)?,
        }
        Ok(())
    }

    fn on_certificates(
        &mut self,
        chains: Vec<Vec<Vec<u8>>>,
        r: &mut impl Replica,
    ) -> Result<(), Fatal> {
        self.chains_taken += chains.len();
        if self.chains_taken > MAX_CHAINS_PER_SESSION {
            return Err(Fatal(
                ErrorCode::Limit,
                format!(
                    "node {} sent more than {MAX_CHAINS_PER_SESSION} certificate chains in one session",
                    self.peer
                ),
            ));
        }
        let Some(keyring) = r.keyring() else {
            return Ok(());
        };
        let mut keyring = keyring.write().map_err(|_| poisoned())?;
        for chain in chains {
            // A chain that does not check against the federation CA is not kept; what it was
            // meant to vouch for is then refused as unverifiable.
            let _ = keyring.learn(&chain);
        }
        Ok(())
    }

    fn on_sync(
        &mut self,
        doc: &str,
        bytes: &[u8],
        signatures: Vec<ChangeSig>,
        r: &mut impl Replica,
        out: &mut Vec<Frame>,
    ) -> Result<(), Fatal> {
        if signatures.len() > MAX_SIGS_PER_FRAME {
            let message = format!(
                "sync message for {doc} carries {} signatures, more than the {MAX_SIGS_PER_FRAME} this node accepts",
                signatures.len()
            );
            return self.refuse(doc, Refusal::TooLarge, message, out);
        }
        if bytes.len() > self.cfg.max_message_bytes {
            let message = format!(
                "sync message for {doc} has {} bytes, more than the {} this node accepts",
                bytes.len(),
                self.cfg.max_message_bytes
            );
            return self.refuse(doc, Refusal::TooLarge, message, out);
        }
        let message = match hearth_archive::untrusted::decode_message(bytes) {
            Ok(m) => m,
            Err(e) => {
                let message = format!("sync message for {doc} cannot be decoded: {e}");
                return self.refuse(doc, Refusal::Invalid, message, out);
            }
        };
        if let Some(why) = r.refused(doc) {
            let message = format!("document {doc} is not taken here: {why}");
            return self.refuse(doc, Refusal::Invalid, message, out);
        }
        let local = r.node_id().to_owned();
        if r.doc(doc)?.is_some() {
            if !scope::shared(r, doc, &self.peer)? {
                let message = format!(
                    "document {doc} is not shared between {local} and {} here; nothing of it was applied",
                    self.peer
                );
                return self.refuse(doc, Refusal::OutOfScope, message, out);
            }
            if let Err((reason, message)) = self.apply_held(doc, message, &signatures, r)? {
                return self.refuse(doc, reason, message, out);
            }
        } else {
            if !self.incoming.contains(doc) {
                if self.incoming.len() >= self.cfg.max_new_docs {
                    return Err(Fatal(
                        ErrorCode::Limit,
                        format!(
                            "node {} has more than {} documents new to {local} under way at once; the session ends and the next one goes on",
                            self.peer, self.cfg.max_new_docs
                        ),
                    ));
                }
                self.incoming.insert(doc.to_owned());
            }
            if !signatures.is_empty() {
                // Held until the changes come: counted in the bytes of new documents.
                let size: usize = signatures.iter().map(|s| 32 + s.sig.len()).sum();
                *self.scratch_sizes.entry(doc.to_owned()).or_default() += size;
                self.scratch_bytes += size;
                let kept = self.scratch_sigs.entry(doc.to_owned()).or_default();
                kept.extend(signatures);
                if kept.len() > MAX_SIGS_PER_NEW_DOC {
                    let message = format!(
                        "new document {doc} came with more than {MAX_SIGS_PER_NEW_DOC} signatures; it was not kept"
                    );
                    return self.refuse(doc, Refusal::TooLarge, message, out);
                }
            }
            if message.changes.is_empty() && !self.scratch.contains_key(doc) {
                // An offer, or what the peer has: nothing to keep but the sync state.
                let state = self.states.entry(doc.to_owned()).or_default();
                let received = hearth_archive::untrusted::receive(&mut self.empty, state, message);
                if let Err(e) = received {
                    // It may have been half changed: start again from an empty one.
                    self.empty = AutoCommit::new();
                    let message =
                        format!("sync message for new document {doc} cannot be applied: {e}");
                    return self.refuse(doc, Refusal::Invalid, message, out);
                }
                self.generate(doc, r, out)?;
                return Ok(());
            }
            self.scratch.entry(doc.to_owned()).or_default();
            *self.scratch_sizes.entry(doc.to_owned()).or_default() += bytes.len();
            self.scratch_bytes += bytes.len();
            if self.scratch_bytes > self.cfg.max_new_bytes {
                return Err(Fatal(
                    ErrorCode::Limit,
                    format!(
                        "node {} sent more than {} bytes of documents new to {local} not yet complete; the session ends and the next one goes on",
                        self.peer, self.cfg.max_new_bytes
                    ),
                ));
            }
            let Some(scratch) = self.scratch.get_mut(doc) else {
                return Ok(());
            };
            let state = self.states.entry(doc.to_owned()).or_default();
            let received = hearth_archive::untrusted::receive(scratch, state, message);
            if let Err(e) = received {
                let message = format!("sync message for new document {doc} cannot be applied: {e}");
                return self.refuse(doc, Refusal::Invalid, message, out);
            }
            if !scratch.get_heads().is_empty() {
                if !scope::accepts_new(r, doc, scratch, &self.peer) {
                    let message = format!(
                        "document {doc} from {} does not list both {} and {local} as participants; it was not kept",
                        self.peer, self.peer
                    );
                    return self.refuse(doc, Refusal::OutOfScope, message, out);
                }
                let checked = match hearth_archive::check::received(doc, scratch) {
                    Ok(checked) => checked,
                    Err(e) => {
                        let message = format!(
                            "document {doc} from {} was refused: {e}; nothing of it was kept",
                            self.peer
                        );
                        return self.refuse(doc, Refusal::Invalid, message, out);
                    }
                };
                let offered = self.scratch_sigs.remove(doc).unwrap_or_default();
                let kept = match r.keyring() {
                    None => None,
                    Some(keyring) => {
                        let keyring = keyring.read().map_err(|_| poisoned())?;
                        match authorize(
                            &keyring,
                            doc,
                            None,
                            &[],
                            scratch,
                            &offered,
                            SigSet::default(),
                            &self.peer,
                        ) {
                            Ok(kept) => Some(kept),
                            Err((reason, message)) => {
                                drop(keyring);
                                return self.refuse(doc, reason, message, out);
                            }
                        }
                    }
                };
                if let Some(value) = self.take_scratch(doc) {
                    self.incoming.remove(doc);
                    r.insert_checked(doc, value, checked.into_view())?;
                    if let Some(kept) = kept.filter(|k| !k.is_empty()) {
                        r.save_signatures(doc, &kept)?;
                    }
                    self.stats.docs_applied += 1;
                }
            }
        }
        self.answer(doc, r, out)?;
        self.settle(doc, r)
    }

    /// Answers a message of the peer's about `doc`: with the next sync message if there is one,
    /// and once anyway if the stored state this session reloaded says the exchange had ended
    /// (see `reloaded`).
    fn answer(
        &mut self,
        doc: &str,
        r: &mut impl Replica,
        out: &mut Vec<Frame>,
    ) -> Result<(), Fatal> {
        if !self.generate(doc, r, out)?
            && self.reloaded.remove(doc)
            && self.forced.insert(doc.to_owned())
        {
            if let Some(state) = self.states.get_mut(doc) {
                state.have_responded = false;
            }
            self.generate(doc, r, out)?;
        }
        Ok(())
    }

    /// Applies a sync message to a held document. A message that carries changes is applied to
    /// a copy first: it is taken only if the peer may change the document and the copy passes
    /// the checks of a received document; otherwise nothing of it is kept and the refusal says
    /// why.
    fn apply_held(
        &mut self,
        doc: &str,
        message: Message,
        offered: &[ChangeSig],
        r: &mut impl Replica,
    ) -> Result<Result<(), (Refusal, String)>, Fatal> {
        let local = r.node_id().to_owned();
        let changes = !message.changes.is_empty();
        let writes = scope::writes(r, doc, &self.peer);
        let keyring = r.keyring();
        let kept = match (&keyring, changes) {
            (Some(_), true) => Some(r.signatures(doc, false)?),
            _ => None,
        };
        let state = state_for(
            &mut self.states,
            &mut self.reloaded,
            r,
            &self.peer,
            doc,
            self.peer_reset,
        )?;
        let Some(d) = r.doc(doc)? else {
            return Ok(Ok(()));
        };
        if !changes {
            // What each side has and needs: nothing in it can change the document (a state
            // half changed by a failure is dropped with the refusal).
            if let Err(e) = hearth_archive::untrusted::receive(d, state, message) {
                let message = format!("sync message for {doc} cannot be applied: {e}");
                return Ok(Err((Refusal::Invalid, message)));
            }
            return Ok(Ok(()));
        }
        let before = d.get_heads();
        let mut probe = d.clone();
        let mut probe_state = state.clone();
        if let Err(e) = hearth_archive::untrusted::receive(&mut probe, &mut probe_state, message) {
            let message = format!("sync message for {doc} cannot be applied: {e}");
            return Ok(Err((Refusal::Invalid, message)));
        }
        let changed = probe.get_heads() != before;
        if changed && !writes {
            let message = format!(
                "{} may not change {doc} at {local}; nothing of it was applied",
                self.peer
            );
            return Ok(Err((Refusal::OutOfScope, message)));
        }
        if changed && let Err(e) = hearth_archive::check::received(doc, &probe) {
            let message = format!(
                "changes to {doc} from {} were refused: {e}; nothing of them was applied",
                self.peer
            );
            return Ok(Err((Refusal::Invalid, message)));
        }
        let mut to_keep = None;
        if changed && let (Some(keyring), Some(kept)) = (&keyring, kept) {
            let keyring = keyring.read().map_err(|_| poisoned())?;
            let result = authorize(
                &keyring,
                doc,
                Some(d),
                &before,
                &mut probe,
                offered,
                kept.clone(),
                &self.peer,
            );
            match result {
                Ok(new) if new != kept => to_keep = Some(new),
                Ok(_) => {}
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
        *d = probe;
        *state = probe_state;
        if let Some(kept) = to_keep {
            r.save_signatures(doc, &kept)?;
        }
        if changed && r.commit(doc)?.is_some() {
            self.stats.docs_applied += 1;
        }
        Ok(Ok(()))
    }

    /// Takes a document new to us out of the scratch space, giving back its bytes.
    fn take_scratch(&mut self, doc: &str) -> Option<AutoCommit> {
        let size = self.scratch_sizes.remove(doc).unwrap_or(0);
        self.scratch_bytes = self.scratch_bytes.saturating_sub(size);
        self.scratch.remove(doc)
    }

    fn bad_doc_id(&self, doc: &str) -> Fatal {
        Fatal(
            ErrorCode::Protocol,
            format!(
                "node {} named a document {:?}, which is no document id",
                self.peer,
                peer_text(doc)
            ),
        )
    }

    fn on_digest(
        &mut self,
        entries: Vec<DigestEntry>,
        upto: Option<u64>,
        r: &mut impl Replica,
    ) -> Result<(), Fatal> {
        if self.digest == Digest::None {
            self.digest = Digest::Receiving;
        }
        for entry in entries {
            if self.pull_queue.len() >= self.cfg.max_digest_queue {
                self.digest_cut = true;
                break;
            }
            let wanted = match r.heads_hash(&entry.doc)? {
                Some(ours) => ours != entry.heads && scope::shared(r, &entry.doc, &self.peer)?,
                None => r.refused(&entry.doc).is_none(),
            };
            if wanted && !self.pulls.contains(&entry.doc) {
                self.pull_queue.insert(entry.doc);
            }
        }
        if let Some(upto) = upto {
            self.digest = Digest::Complete(upto);
        }
        Ok(())
    }

    fn on_checkpoint(&mut self, resume: Resume, r: &mut impl Replica) -> Result<(), Fatal> {
        let Some(hello) = &self.peer_hello else {
            return Ok(());
        };
        if resume.epoch != hello.epoch {
            return Err(Fatal(
                ErrorCode::Protocol,
                format!(
                    "node {} confirmed a feed epoch it did not announce",
                    self.peer
                ),
            ));
        }
        if self.digest != Digest::None {
            // Pulls from the digest are not done yet: storing a later checkpoint now could skip
            // them after a lost connection.
            self.deferred = Some(resume.max_with(self.deferred));
            return Ok(());
        }
        save_if_newer(r, &self.peer, resume)?;
        Ok(())
    }

    // ----- the two directions --------------------------------------------------------------

    /// After any frame: finish what is in sync, start more pulls and offers, confirm progress.
    fn progress(&mut self, r: &mut impl Replica, out: &mut Vec<Frame>) -> Result<(), Fatal> {
        if self.peer_hello.is_none() {
            return Ok(());
        }
        self.start_pulls(r, out)?;
        self.finish_digest(r)?;
        self.offer_more(r, out)?;
        self.confirm(r, out)?;
        Ok(())
    }

    /// A document's exchange moved: complete its offer or pull if the two are now in sync.
    fn settle(&mut self, doc: &str, r: &mut impl Replica) -> Result<(), Fatal> {
        if !self.in_sync(doc, r)? {
            return Ok(());
        }
        if let Some(seq) = self.offer_seq.remove(doc) {
            self.offers.remove(&seq);
        }
        self.pulls.remove(doc);
        if let Some(state) = self.states.get(doc) {
            r.save_sync_state(&self.peer, doc, state.encode())?;
            self.settled.push_back(doc.to_owned());
            while self.settled.len() > self.cfg.max_idle_states {
                let Some(old) = self.settled.pop_front() else {
                    break;
                };
                let busy = self.offer_seq.contains_key(&old)
                    || self.pulls.contains(&old)
                    || self.incoming.contains(&old);
                if !busy {
                    // Stored: a later exchange of it starts from the stored state.
                    self.states.remove(&old);
                    self.reloaded.remove(&old);
                }
            }
        }
        Ok(())
    }

    fn start_pulls(&mut self, r: &mut impl Replica, out: &mut Vec<Frame>) -> Result<(), Fatal> {
        while self.pulls.len() < self.cfg.max_in_flight {
            let Some(doc) = self.pull_queue.pop_first() else {
                break;
            };
            if r.doc(&doc)?.is_none() {
                if self.incoming.len() >= self.cfg.max_new_docs {
                    // Pulled once the ones under way are in.
                    self.pull_queue.insert(doc);
                    break;
                }
                self.incoming.insert(doc.clone());
            }
            self.pulls.insert(doc.clone());
            if !self.generate(&doc, r, out)? && self.in_sync(&doc, r)? {
                self.pulls.remove(&doc);
            }
        }
        Ok(())
    }

    fn finish_digest(&mut self, r: &mut impl Replica) -> Result<(), Fatal> {
        let Digest::Complete(upto) = self.digest else {
            return Ok(());
        };
        if !self.pulls.is_empty() || !self.pull_queue.is_empty() {
            return Ok(());
        }
        let Some(hello) = &self.peer_hello else {
            return Ok(());
        };
        if self.digest_cut {
            // Only part of the digest was pulled: no checkpoint, and a new session reconciles
            // the rest (what was pulled now matches and is not pulled again).
            return Err(Fatal(
                ErrorCode::Limit,
                format!(
                    "the digest of node {} had more than {} documents to pull; pulled those, the next session reconciles the rest",
                    self.peer, self.cfg.max_digest_queue
                ),
            ));
        }
        let resume = Resume {
            epoch: hello.epoch,
            seq: upto,
        }
        .max_with(self.deferred.take());
        r.save_checkpoint(&self.peer, resume)?;
        self.digest = Digest::None;
        Ok(())
    }

    fn offer_more(&mut self, r: &mut impl Replica, out: &mut Vec<Frame>) -> Result<(), Fatal> {
        loop {
            let room = self.cfg.max_in_flight.saturating_sub(self.offers.len());
            if room == 0 {
                return Ok(());
            }
            let batch = r.changed_since(self.cursor, room)?;
            if batch.is_empty() {
                return Ok(());
            }
            for (seq, doc) in batch {
                self.cursor = seq;
                if !scope::shared(r, &doc, &self.peer)? {
                    continue;
                }
                if let Some(old) = self.offer_seq.insert(doc.clone(), seq) {
                    self.offers.remove(&old);
                }
                self.offers.insert(seq, doc.clone());
                // (Not in the comparison mode without resume, which must run every handshake.)
                if (self.cfg.resume && !self.peer_reset && self.peer_has_all(&doc, r)?)
                    || (!self.generate(&doc, r, out)? && self.in_sync(&doc, r)?)
                {
                    self.offer_seq.remove(&doc);
                    self.offers.remove(&seq);
                }
            }
        }
    }

    /// Confirms how far the peer has our feed: when every offer is done and nothing else is
    /// being said (so confirmations ride at the end of an exchange), or during a long catch-up
    /// every `checkpoint_every` sequences.
    ///
    /// The confirmation (like the checkpoint in the peer's hello) is also remembered here, as
    /// where an offline bundle for the peer starts.
    fn confirm(&mut self, r: &mut impl Replica, out: &mut Vec<Frame>) -> Result<(), Fatal> {
        let done_upto = match self.offers.keys().next() {
            Some(first) => first - 1,
            None => self.cursor,
        };
        if done_upto <= self.confirmed {
            return Ok(());
        }
        let idle = self.offers.is_empty() && out.iter().all(|f| !matches!(f, Frame::Sync { .. }));
        let far = done_upto - self.confirmed >= self.cfg.checkpoint_every;
        if idle || far {
            self.confirmed = done_upto;
            r.save_peer_has(&self.peer, done_upto)?;
            // Where the peer was sent nothing since the last confirmation (the feed moved on
            // with documents it does not share), no frame is needed: at its next hello it
            // resumes a little further back, and those few sequences are passed over again.
            if self.sent_since_checkpoint || far {
                self.sent_since_checkpoint = false;
                out.push(Frame::Checkpoint(Resume {
                    epoch: r.feed_epoch(),
                    seq: done_upto,
                }));
            }
        }
        Ok(())
    }

    fn send_digest(&mut self, r: &mut impl Replica, out: &mut Vec<Frame>) -> Result<(), Fatal> {
        let head = r.feed_head();
        let mut entries = Vec::new();
        for doc in r.doc_ids()? {
            if scope::shared(r, &doc, &self.peer)?
                && let Some(heads) = r.heads_hash(&doc)?
            {
                entries.push(DigestEntry { doc, heads });
            }
        }
        let mut parts: Vec<Vec<DigestEntry>> = Vec::new();
        let mut rest = entries.into_iter().peekable();
        while rest.peek().is_some() {
            parts.push(rest.by_ref().take(self.cfg.digest_chunk.max(1)).collect());
        }
        let last = parts.len().saturating_sub(1);
        if parts.is_empty() {
            parts.push(Vec::new());
        }
        for (i, entries) in parts.into_iter().enumerate() {
            out.push(Frame::Digest {
                entries,
                upto: (i == last).then_some(head),
            });
        }
        self.cursor = head;
        self.confirmed = head;
        Ok(())
    }

    // ----- per document --------------------------------------------------------------------

    /// Sends the next Automerge sync message for `doc`, if there is one; returns whether it did.
    fn generate(
        &mut self,
        doc: &str,
        r: &mut impl Replica,
        out: &mut Vec<Frame>,
    ) -> Result<bool, Fatal> {
        use hearth_archive::untrusted::generate as answer;
        let state = state_for(
            &mut self.states,
            &mut self.reloaded,
            r,
            &self.peer,
            doc,
            self.peer_reset,
        )?;
        let message = match self.scratch.get_mut(doc) {
            Some(d) => answer(d, state),
            None => match r.doc(doc)? {
                Some(d) => answer(d, state),
                None if self.incoming.contains(doc) => answer(&mut self.empty, state),
                None => Ok(None),
            },
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                self.forget(doc);
                self.empty = AutoCommit::new();
                return Err(Fatal(
                    ErrorCode::Protocol,
                    format!(
                        "node {} sent a sync message for {doc} that cannot be answered: {e}",
                        self.peer
                    ),
                ));
            }
        };
        Ok(match message {
            Some(m) => {
                self.reloaded.remove(doc);
                let signatures = if m.changes.is_empty() {
                    Vec::new()
                } else {
                    self.signatures_for(doc, r, out)?
                };
                out.push(Frame::Sync {
                    doc: doc.to_owned(),
                    message: m.encode(),
                    signatures,
                });
                true
            }
            None => false,
        })
    }

    /// The signatures to send with changes to `doc` (this node's newest change signed first if
    /// it was not yet), preceded in `out` by the certificates the peer needs to check them and
    /// the places of the nodes the document names, each once per session.
    fn signatures_for(
        &mut self,
        doc: &str,
        r: &mut impl Replica,
        out: &mut Vec<Frame>,
    ) -> Result<Vec<ChangeSig>, Fatal> {
        let Some(keyring) = r.keyring() else {
            return Ok(Vec::new());
        };
        let sigs = r.signatures(doc, true)?;
        let nodes = crate::replica::named_nodes(r, doc, &sigs)?;
        let keyring = keyring.read().map_err(|_| poisoned())?;
        let mut chains = Vec::new();
        let minor = self.peer_hello.as_ref().map_or(0, |h| h.minor);
        for node in nodes.into_iter().filter(|_| minor >= CERTIFICATES_MINOR) {
            if node == self.peer || self.certs_sent.contains(&node) {
                continue;
            }
            let known = match keyring.own_chain() {
                // This node's own certificate, so that the peer can check its signatures and
                // its place whatever the transport told it: sent with the first of its
                // changes, not at every hello.
                Some(own) if keyring.node() == Some(node.as_str()) => vec![own.to_vec()],
                _ => keyring.chains(&node),
            };
            // A node whose certificate is not known here yet is looked for again with the
            // next document that names it.
            if !known.is_empty() {
                self.certs_sent.insert(node);
                chains.extend(known);
            }
        }
        if !chains.is_empty() {
            out.push(Frame::Certificates(chains));
        }
        Ok(sigs.sigs().cloned().collect())
    }

    /// The sync state says the peer already has every change of ours to `doc` (after an offline
    /// bundle, say): nothing to offer. Compares hashes, so the document need not be loaded.
    fn peer_has_all(&mut self, doc: &str, r: &mut impl Replica) -> Result<bool, Fatal> {
        let state = state_for(
            &mut self.states,
            &mut self.reloaded,
            r,
            &self.peer,
            doc,
            self.peer_reset,
        )?;
        if state.shared_heads.is_empty() {
            return Ok(false);
        }
        let shared = heads_hash(&state.shared_heads);
        Ok(r.heads_hash(doc)? == Some(shared))
    }

    /// Both sides have the same heads for `doc`.
    fn in_sync(&mut self, doc: &str, r: &mut impl Replica) -> Result<bool, Fatal> {
        let Some(theirs) = self.states.get(doc).and_then(|s| s.their_heads.clone()) else {
            return Ok(false);
        };
        let Some(d) = r.doc(doc)? else {
            return Ok(false);
        };
        let mut ours = d.get_heads();
        let mut theirs = theirs;
        ours.sort();
        theirs.sort();
        Ok(ours == theirs)
    }

    fn refuse(
        &mut self,
        doc: &str,
        reason: Refusal,
        message: String,
        out: &mut Vec<Frame>,
    ) -> Result<(), Fatal> {
        self.stats.refused_here += 1;
        self.forget(doc);
        if self.refusals.len() == KEPT_REFUSALS {
            self.refusals.pop_front();
        }
        self.refusals.push_back(Refused {
            doc: doc.to_owned(),
            reason,
            message: message.clone(),
        });
        out.push(Frame::Refused {
            doc: doc.to_owned(),
            reason,
            message,
        });
        Ok(())
    }

    /// Drops everything under way for `doc` in this session.
    fn forget(&mut self, doc: &str) {
        if let Some(seq) = self.offer_seq.remove(doc) {
            self.offers.remove(&seq);
        }
        self.pulls.remove(doc);
        self.pull_queue.remove(doc);
        self.incoming.remove(doc);
        self.take_scratch(doc);
        self.scratch_sigs.remove(doc);
        self.states.remove(doc);
        self.reloaded.remove(doc);
    }
}

/// The session's sync state for a document: in memory, else the persisted one (unless the peer
/// was `reset`: restored or made anew since; marked in `reloaded`), else new.
fn state_for<'s>(
    states: &'s mut HashMap<String, State>,
    reloaded: &mut HashSet<String>,
    r: &mut impl Replica,
    peer: &str,
    doc: &str,
    reset: bool,
) -> Result<&'s mut State, ReplicaError> {
    if !states.contains_key(doc) {
        // A persisted state that no longer decodes is dropped: a fresh one only costs a round.
        let stored = if reset {
            None
        } else {
            r.sync_state(peer, doc)?
        };
        let mut state = stored
            .and_then(|bytes| State::decode(&bytes).ok())
            .unwrap_or_default();
        if !state.shared_heads.is_empty() {
            // Both had these heads, so the peer has been told them: a last message of an
            // exchange that ended (answered from a reloaded state) needs no answer, and the
            // exchange does not start again.
            state.last_sent_heads.clone_from(&state.shared_heads);
            state.have_responded = true;
            reloaded.insert(doc.to_owned());
        }
        states.insert(doc.to_owned(), state);
    }
    states
        .get_mut(doc)
        .ok_or_else(|| ReplicaError(format!("sync state of {doc} vanished")))
}

fn save_if_newer(r: &mut impl Replica, peer: &str, resume: Resume) -> Result<(), ReplicaError> {
    match r.checkpoint(peer)? {
        Some(cp) if cp.epoch == resume.epoch && cp.seq >= resume.seq => Ok(()),
        _ => r.save_checkpoint(peer, resume),
    }
}

impl Resume {
    /// The later of two checkpoints of the same epoch.
    fn max_with(self, other: Option<Resume>) -> Resume {
        match other {
            Some(o) if o.epoch == self.epoch && o.seq > self.seq => o,
            _ => self,
        }
    }
}

fn poisoned() -> Fatal {
    Fatal(
        ErrorCode::Storage,
        "the keyring is unusable after a failure; restart the node".into(),
    )
}

/// The checks of DESIGN §4a on what a message brought to document `doc`: `after` is the
/// document with it applied, `before` (with heads `before_heads`) the copy before it, `None`
/// for a document new to this node. Every new change must be covered by a signature of its
/// author that checks against the author's certificate, and the message must keep the rules
/// of what each author may write. Returns the signatures to keep, or the refusal.
#[allow(clippy::too_many_arguments)]
pub(crate) fn authorize(
    keyring: &Keyring,
    doc: &str,
    before: Option<&AutoCommit>,
    before_heads: &[ChangeHash],
    after: &mut AutoCommit,
    offered: &[ChangeSig],
    mut kept: SigSet,
    peer: &str,
) -> Result<SigSet, (Refusal, String)> {
    use hearth_archive::signed;
    let new = signed::new_changes(after, before_heads);
    if new.is_empty() {
        return Ok(kept);
    }
    let legacy = keyring.legacy();
    let refused = |reason, why: String| {
        (
            reason,
            format!(
                "changes to {doc} from {peer} were refused: {why}; nothing of them was applied"
            ),
        )
    };
    let mut authors: Vec<String> = Vec::new();
    for c in &new {
        match hearth_archive::node_of_actor(&c.actor) {
            Some(n) if !authors.contains(&n) => authors.push(n),
            Some(_) => {}
            None => {
                return Err(refused(
                    Refusal::Unsigned,
                    format!("change {} names no node as its author", c.hash),
                ));
            }
        }
    }
    let (covers, uncovered) = signed::cover_all(&new, offered.iter().chain(kept.sigs()));
    // In the upgrade window changes need no signature (every signature given must still be
    // right) — but a change in this node's own name is taken only with its own signature: this
    // node would otherwise sign it as its own when it passes it on.
    let own = |u: &signed::Uncovered| {
        hearth_archive::node_of_actor(&u.actor).as_deref() == keyring.node()
    };
    if let Some(u) = uncovered.iter().find(|u| !legacy || own(u)) {
        let node = hearth_archive::node_of_actor(&u.actor).unwrap_or_default();
        return Err(refused(
            Refusal::Unsigned,
            format!("change {} of {node} is not signed by {node}", u.hash),
        ));
    }
    for c in covers {
        let node = hearth_archive::node_of_actor(&c.actor).unwrap_or_default();
        match keyring.verify(doc, &node, &c.sig) {
            Ok(()) => {
                kept.keep(c.actor, c.seq, c.sig);
            }
            Err(TrustError::Unknown(_)) if legacy => {}
            Err(e) => return Err(refused(Refusal::Unsigned, e.to_string())),
        }
    }
    hearth_archive::rules::check(doc, before, after, &authors, keyring, legacy)
        .map_err(|b| refused(Refusal::Forbidden, b.to_string()))?;
    Ok(kept)
}

/// The hash a hello names a certificate by.
fn cert_hash(der: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .to_vec()
}
