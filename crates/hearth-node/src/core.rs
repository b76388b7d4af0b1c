//! The core: one thread that owns the store and every sync session. Connection tasks hand it
//! frames; it runs the sessions, commits what they applied in one transaction per round (group
//! commit), and only then lets frames out — so no acknowledgement or checkpoint ever promises
//! something a crash could take back.

use std::collections::HashMap;
use std::time::SystemTime;

use hearth_sync::{Closed, Frame, Refused, Replica, Session, SessionConfig, SessionStats};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use hearth_archive::jiff;
use hearth_archive::{Editor, Level};

use crate::config::{NodeConfig, Peer, Relation};
use crate::replica::StoreReplica;

/// Commands handled per round before a commit.
const ROUND: usize = 256;
/// Least time between two computations of the node's summary.
pub const SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Work done on the core thread with the replica, for local changes and queries.
pub type LocalFn = Box<dyn FnOnce(&mut StoreReplica) + Send>;

/// What the core is asked to do.
pub enum Cmd {
    /// A connection with a neighbour is up; frames for it go to `out`.
    Connected {
        /// Neighbour.
        peer: String,
        /// Connection id, unique in this process.
        conn: u64,
        /// Frames to send on this connection.
        out: mpsc::Sender<Frame>,
        /// Whether this node dialled it.
        dialled: bool,
    },
    /// A frame arrived.
    Frame {
        /// Neighbour.
        peer: String,
        /// Connection id.
        conn: u64,
        /// The frame.
        frame: Frame,
        /// Its share of the connection's budget of bytes in flight, given back once handled.
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// A connection ended.
    Disconnected {
        /// Neighbour.
        peer: String,
        /// Connection id.
        conn: u64,
    },
    /// Run something on the replica (a local change or a read); sessions then offer any change.
    Local(LocalFn),
    /// Report on every neighbour.
    Status(oneshot::Sender<Vec<PeerStatus>>),
    /// Time passes: recompute the node's summary if it is due.
    Tick,
    /// Commit and stop.
    Shutdown,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Connected { peer, conn, .. } => write!(f, "Connected({peer}, {conn})"),
            Cmd::Frame { peer, conn, .. } => write!(f, "Frame({peer}, {conn})"),
            Cmd::Disconnected { peer, conn } => write!(f, "Disconnected({peer}, {conn})"),
            Cmd::Local(_) => f.write_str("Local"),
            Cmd::Status(_) => f.write_str("Status"),
            Cmd::Tick => f.write_str("Tick"),
            Cmd::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// One neighbour as seen from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its node id.
    pub id: String,
    /// Parent or child.
    pub relation: Relation,
    /// Whether a session is up.
    pub connected: bool,
    /// When a frame last came from it.
    pub last_heard: Option<SystemTime>,
    /// Sequences of our feed not yet confirmed to it in the current session.
    pub backlog: u64,
    /// Connected and nothing under way in either direction.
    pub quiet: bool,
    /// Counters of the current (or last) session.
    pub stats: SessionStats,
    /// Counters of every session with it since the node started.
    pub total: SessionStats,
    /// When it last had everything of ours with nothing under way (now, if it has).
    pub in_step: Option<SystemTime>,
    /// Its documents refused here lately (current or last session), newest last.
    pub refusals: Vec<Refused>,
    /// Why its last session ended, if it ended abnormally.
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Live {
    conn: u64,
    dialled: bool,
    session: Session,
    out: mpsc::Sender<Frame>,
}

/// The core's state.
#[derive(Debug)]
pub struct Core {
    local: String,
    level: Level,
    parents: Vec<String>,
    children: Vec<String>,
    replica: StoreReplica,
    last_summary: Option<std::time::Instant>,
    peers: Vec<Peer>,
    cfg: SessionConfig,
    live: HashMap<String, Live>,
    last_heard: HashMap<String, SystemTime>,
    last_stats: HashMap<String, SessionStats>,
    /// Counters of the sessions that ended, per neighbour.
    ended: HashMap<String, SessionStats>,
    /// Refusals of the last session that ended, per neighbour.
    last_refusals: HashMap<String, Vec<Refused>>,
    /// Why the last session with each neighbour ended abnormally.
    last_error: HashMap<String, String>,
    in_step: HashMap<String, SystemTime>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Core {
    /// A core for `replica`, configured by `config`.
    pub fn new(
        replica: StoreReplica,
        config: &NodeConfig,
        cfg: SessionConfig,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Core {
        Core {
            local: replica.node_id().to_owned(),
            level: config.level,
            parents: config.parents().map(|p| p.id.clone()).collect(),
            children: config
                .peers
                .iter()
                .filter(|p| p.relation == Relation::Child)
                .map(|p| p.id.clone())
                .collect(),
            replica,
            last_summary: None,
            peers: config.peers.clone(),
            cfg,
            live: HashMap::new(),
            last_heard: HashMap::new(),
            last_stats: HashMap::new(),
            ended: HashMap::new(),
            last_refusals: HashMap::new(),
            last_error: HashMap::new(),
            in_step: HashMap::new(),
            metrics,
        }
    }

    /// A session with `peer` is over: its counters join the totals.
    fn ended(&mut self, peer: String, session: &Session) {
        let stats = session.stats();
        let total = self.ended.entry(peer.clone()).or_default();
        *total = *total + stats;
        let refusals: Vec<Refused> = session.refusals().cloned().collect();
        if !refusals.is_empty() {
            self.last_refusals.insert(peer.clone(), refusals);
        }
        self.last_stats.insert(peer, stats);
    }

    /// Runs until [`Cmd::Shutdown`] or until every sender is gone.
    pub fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        while let Some(first) = rx.blocking_recv() {
            let failures = self.replica.failures();
            let mut outbox = Vec::new();
            let mut stop = self.handle(first, &mut outbox);
            for _ in 1..ROUND {
                match rx.try_recv() {
                    Ok(cmd) => stop |= self.handle(cmd, &mut outbox),
                    Err(_) => break,
                }
            }
            self.forward_escalations();
            self.refresh_summary();
            for (peer, live) in &mut self.live {
                for frame in live.session.poll(&mut self.replica) {
                    outbox.push((peer.clone(), live.conn, frame));
                }
            }
            let was_failing = self.replica.failing().is_some();
            let mut flushed = self.replica.flush();
            self.note_store_health();
            if flushed.is_ok() && self.replica.failures() != failures {
                // A commit failed earlier in this round (a local write's): what peers sent
                // before it was dropped, so their sessions start again from the checkpoints.
                flushed = Err(hearth_sync::ReplicaError(
                    "a commit failed in this round".into(),
                ));
            }
            if let Err(e) = flushed {
                // Nothing of this round may leave: drop the sessions, peers will resume from
                // their checkpoints once the disk is back. Told once, not at every retry.
                if was_failing {
                    debug!(error = %e, "still cannot commit");
                } else {
                    error!(error = %e, "cannot commit; ending all sync sessions");
                }
                self.end_all("the node could not commit");
                continue;
            }
            let set_aside = self.replica.take_set_aside();
            if !set_aside.is_empty() {
                // The rest was committed; but a session may believe a set-aside document was
                // taken. Sessions start again from the checkpoints, and the document is refused
                // when it comes again.
                for (doc, why) in &set_aside {
                    error!(doc = %doc, reason = %why, "document could not be stored and was set aside; ending the sync sessions");
                }
                self.metrics.set_aside(set_aside.len() as u64);
                self.end_all("a document could not be stored here");
                outbox.clear();
            }
            self.send(outbox);
            self.drop_closed();
            let now = SystemTime::now();
            for (peer, live) in &self.live {
                if live.session.is_quiet(&self.replica) {
                    self.in_step.insert(peer.clone(), now);
                }
            }
            if stop {
                break;
            }
        }
        if let Err(e) = self.replica.flush() {
            error!(error = %e, "cannot commit on shutdown");
        }
        info!(node = %self.local, "core stopped");
    }

    /// Records how the store is for metrics, health and status, and logs when that changes.
    fn note_store_health(&mut self) {
        let free_bytes = self
            .replica
            .store()
            .path()
            .parent()
            .and_then(|dir| rustix::fs::statvfs(dir).ok())
            .map(|v| v.f_bavail.saturating_mul(v.f_frsize));
        let health = crate::metrics::StoreHealth {
            failing: self.replica.failing().map(str::to_owned),
            free_bytes,
        };
        let before = self.metrics.store();
        if before.problem().is_some() != health.problem().is_some() {
            match health.problem() {
                Some(problem) => warn!(problem = %problem, "store"),
                None => info!("the store is well again: commits succeed and space is free"),
            }
        }
        self.metrics.set_store(health);
    }

    fn handle(&mut self, cmd: Cmd, outbox: &mut Vec<(String, u64, Frame)>) -> bool {
        match cmd {
            Cmd::Connected {
                peer,
                conn,
                out,
                dialled,
            } => {
                if let Some(existing) = self.live.get(&peer) {
                    // Both sides may dial: keep the connection dialled by the smaller node id,
                    // so both ends choose the same one; a newer one of that kind replaces an older.
                    let preferred = |dialled: bool| dialled == (self.local < peer);
                    if preferred(existing.dialled) && !preferred(dialled) {
                        debug!(peer = %peer, "second connection refused; one is up");
                        return false;
                    }
                }
                let mut session = Session::new(&peer, self.cfg);
                for frame in session.open(&mut self.replica) {
                    outbox.push((peer.clone(), conn, frame));
                }
                info!(peer = %peer, conn, dialled, "sync session started");
                let replaced = self.live.insert(
                    peer.clone(),
                    Live {
                        conn,
                        dialled,
                        session,
                        out,
                    },
                );
                if let Some(old) = replaced {
                    self.ended(peer, &old.session);
                }
            }
            Cmd::Frame {
                peer,
                conn,
                frame,
                permit,
            } => {
                let Some(live) = self.live.get_mut(&peer).filter(|l| l.conn == conn) else {
                    return false;
                };
                self.last_heard.insert(peer.clone(), SystemTime::now());
                let refused_before = live.session.stats().refused_here;
                for reply in live.session.receive(frame, &mut self.replica) {
                    outbox.push((peer.clone(), conn, reply));
                }
                let refused = live.session.stats().refused_here - refused_before;
                let newest: Vec<&Refused> = live.session.refusals().collect();
                for r in newest.iter().rev().take(refused as usize) {
                    warn!(peer = %peer, doc = %r.doc, reason = ?r.reason, message = %r.message, "document refused");
                    if let Some(rule) = r.rule() {
                        self.metrics.change_refused(rule);
                    }
                }
                drop(permit);
            }
            Cmd::Disconnected { peer, conn } => {
                if self.live.get(&peer).is_some_and(|l| l.conn == conn)
                    && let Some(live) = self.live.remove(&peer)
                {
                    info!(peer = %peer, conn, "sync session ended");
                    self.ended(peer, &live.session);
                }
            }
            Cmd::Local(f) => f(&mut self.replica),
            Cmd::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Cmd::Tick => {}
            Cmd::Shutdown => return true,
        }
        false
    }

    /// Escalation level by level (逐级上报): a case changed this round whose target level is above
    /// this node's, held here but not yet by any parent, is reported to the first parent.
    fn forward_escalations(&mut self) {
        if self.parents.is_empty() {
            return;
        }
        for doc in self.replica.pending_docs() {
            let Ok(Some(case)) = self.replica.case_mut(&doc) else {
                continue;
            };
            let now = hearth_archive::calendar::zoned(jiff::Timestamp::now());
            let editor = Editor {
                node: self.local.clone(),
                by: "hearth (escalation)".into(),
                at: now.timestamp(),
                today: now.date(),
            };
            match case.forward_escalation(&editor, self.level, &self.parents) {
                Ok(None) => {}
                Ok(Some(parent)) => {
                    if let Err(e) = self.replica.commit(&doc) {
                        error!(case = %doc, error = %e, "cannot record a forwarded escalation");
                    } else {
                        info!(case = %doc, parent = %parent, "escalation forwarded");
                    }
                }
                Err(e) => warn!(case = %doc, error = %e, "cannot forward an escalation"),
            }
        }
    }

    /// Recomputes the node's summary when a case or a child's summary changed, at most once per
    /// [`SUMMARY_EVERY`] (the ticker brings the last change in). It reads the listing index, not
    /// the documents.
    fn refresh_summary(&mut self) {
        if !self.replica.aggregates_stale()
            || self
                .last_summary
                .is_some_and(|t| t.elapsed() < SUMMARY_EVERY)
        {
            return;
        }
        self.replica.aggregates_computed();
        self.last_summary = Some(std::time::Instant::now());
        match hearth_ops::refresh_summary(
            &mut self.replica,
            &self.local,
            self.level,
            &self.children,
            &hearth_archive::calendar::zoned(jiff::Timestamp::now()),
        ) {
            Ok(true) => debug!("summary updated"),
            Ok(false) => {}
            Err(e) => error!(error = %e, "cannot update the node's summary"),
        }
    }

    fn send(&mut self, outbox: Vec<(String, u64, Frame)>) {
        for (peer, conn, frame) in outbox {
            let Some(live) = self.live.get(&peer).filter(|l| l.conn == conn) else {
                continue;
            };
            match live.out.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    warn!(peer = %peer, "peer is not reading fast enough; ending the session");
                    if let Some(live) = self.live.remove(&peer) {
                        self.last_error
                            .insert(peer.clone(), "it did not read fast enough".into());
                        self.ended(peer, &live.session);
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    if let Some(live) = self.live.remove(&peer) {
                        self.ended(peer, &live.session);
                    }
                }
            }
        }
    }

    fn drop_closed(&mut self) {
        let closed: Vec<(String, Closed)> = self
            .live
            .iter()
            .filter_map(|(p, l)| l.session.closed().map(|c| (p.clone(), c.clone())))
            .collect();
        for (peer, why) in closed {
            let text = match why {
                Closed::Local(code, message) => {
                    warn!(peer = %peer, ?code, message = %message, "sync session refused");
                    if let Some(reason) = crate::metrics::Refusal::of_session(code) {
                        self.metrics.refused(reason);
                    }
                    format!("ended here: {message}")
                }
                Closed::Peer(code, message) => {
                    warn!(peer = %peer, ?code, message = %message, "peer ended the sync session");
                    format!("ended by the peer: {message}")
                }
            };
            self.last_error.insert(peer.clone(), text);
            if let Some(live) = self.live.remove(&peer) {
                self.ended(peer, &live.session);
            }
        }
    }

    /// Ends every session (each neighbour resumes from its checkpoints in a new one).
    fn end_all(&mut self, why: &str) {
        for (peer, live) in std::mem::take(&mut self.live) {
            self.last_error.insert(peer.clone(), why.to_owned());
            self.ended(peer, &live.session);
        }
    }

    fn status(&self) -> Vec<PeerStatus> {
        let head = self.replica.feed_head();
        self.peers
            .iter()
            .map(|p| {
                let live = self.live.get(&p.id);
                let current = live.map(|l| l.session.stats()).unwrap_or_default();
                PeerStatus {
                    id: p.id.clone(),
                    relation: p.relation,
                    connected: live.is_some(),
                    last_heard: self.last_heard.get(&p.id).copied(),
                    backlog: live.map_or(0, |l| l.session.backlog(head)),
                    quiet: live.is_some_and(|l| l.session.is_quiet(&self.replica)),
                    stats: live
                        .map(|l| l.session.stats())
                        .or_else(|| self.last_stats.get(&p.id).copied())
                        .unwrap_or_default(),
                    total: self.ended.get(&p.id).copied().unwrap_or_default() + current,
                    in_step: self.in_step.get(&p.id).copied(),
                    refusals: match live {
                        Some(l) if l.session.refusals().next().is_some() => {
                            l.session.refusals().cloned().collect()
                        }
                        _ => self.last_refusals.get(&p.id).cloned().unwrap_or_default(),
                    },
                    last_error: self.last_error.get(&p.id).cloned(),
                }
            })
            .collect()
    }
}
