//! A deterministic simulated network of nodes for testing sessions: links that go up and down,
//! frames delayed by random amounts (so deliveries on different links interleave in any order),
//! frames duplicated, and everything in flight lost when a link is cut. Within one live link
//! direction frames stay in order, as on an HTTP/2 stream.
//!
//! It is a test harness: naming a node or link that was never added is a bug in the test and
//! panics.

#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};

use automerge::ActorId;
use hearth_archive::{ArchiveError, Case, automerge};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::frame::Frame;
use crate::replica::{MemReplica, Replica};
use crate::session::{Closed, Session, SessionConfig};

/// How the network misbehaves.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Largest delay of a frame, in steps.
    pub max_delay: u64,
    /// Chance that a delivered frame is delivered a second time.
    pub duplicate: f64,
    /// Session limits.
    pub session: SessionConfig,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            max_delay: 5,
            duplicate: 0.0,
            session: SessionConfig::default(),
        }
    }
}

/// A node of the simulated network.
#[derive(Debug)]
pub struct SimNode {
    /// Its documents and sync state.
    pub replica: MemReplica,
    actor: ActorId,
}

impl SimNode {
    /// The actor id the node writes with.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }
}

#[derive(Debug)]
struct Direction {
    session: Session,
    inbox: VecDeque<(u64, Frame)>,
    last_at: u64,
}

/// A link between two neighbours; `ends` are present while it is up.
#[derive(Debug)]
struct Link {
    ends: Option<[Direction; 2]>,
}

/// Frames and bytes delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Frames delivered.
    pub frames: u64,
    /// Approximate bytes delivered.
    pub bytes: u64,
}

/// The simulated network.
#[derive(Debug)]
pub struct Network {
    nodes: BTreeMap<String, SimNode>,
    links: BTreeMap<(String, String), Link>,
    rng: StdRng,
    cfg: NetConfig,
    clock: u64,
    traffic: Traffic,
    closures: Vec<(String, String, Closed)>,
}

fn key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

impl Network {
    /// An empty network whose randomness comes from `seed`.
    pub fn new(seed: u64, cfg: NetConfig) -> Network {
        Network {
            nodes: BTreeMap::new(),
            links: BTreeMap::new(),
            rng: StdRng::seed_from_u64(seed),
            cfg,
            clock: 0,
            traffic: Traffic::default(),
            closures: Vec::new(),
        }
    }

    /// Sets the limits of sessions started from now on.
    pub fn set_session(&mut self, session: SessionConfig) {
        self.cfg.session = session;
    }

    /// Adds a node with a fresh feed epoch.
    pub fn add_node(&mut self, id: &str) {
        let epoch = self.rng.random();
        let actor = hearth_archive::actor_id(id, &u64::to_be_bytes(epoch));
        self.nodes.insert(
            id.to_owned(),
            SimNode {
                replica: MemReplica::new(id, epoch),
                actor,
            },
        );
    }

    /// Declares two nodes neighbours; the link starts down.
    pub fn add_link(&mut self, a: &str, b: &str) {
        self.links.insert(key(a, b), Link { ends: None });
    }

    /// The node, for inspection.
    pub fn node(&mut self, id: &str) -> &mut SimNode {
        self.nodes
            .get_mut(id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Node ids.
    pub fn node_ids(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Links as pairs of node ids.
    pub fn link_ids(&self) -> Vec<(String, String)> {
        self.links.keys().cloned().collect()
    }

    /// Whether a link is up.
    pub fn is_up(&self, a: &str, b: &str) -> bool {
        self.links.get(&key(a, b)).is_some_and(|l| l.ends.is_some())
    }

    /// Traffic delivered so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Sessions that ended with an error: (node, peer, why).
    pub fn closures(&self) -> &[(String, String, Closed)] {
        &self.closures
    }

    /// What `node` refused of `peer`'s in their current session (none if the link is down).
    pub fn refusals(&self, node: &str, peer: &str) -> Vec<crate::session::Refused> {
        let k = key(node, peer);
        let side = usize::from(k.1 == node);
        self.links
            .get(&k)
            .and_then(|l| l.ends.as_ref())
            .map(|ends| ends[side].session.refusals().cloned().collect())
            .unwrap_or_default()
    }

    /// Brings a link up: a new session on each side, hellos on their way.
    pub fn heal(&mut self, a: &str, b: &str) {
        let k = key(a, b);
        let Some(link) = self.links.get(&k) else {
            panic!("no link {a}-{b}")
        };
        if link.ends.is_some() {
            return;
        }
        let (x, y) = (k.0.clone(), k.1.clone());
        let mut sx = Session::new(&y, self.cfg.session);
        let mut sy = Session::new(&x, self.cfg.session);
        let hello_x = sx.open(&mut self.node(&x).replica);
        let hello_y = sy.open(&mut self.node(&y).replica);
        let mut ends = [
            Direction {
                session: sx,
                inbox: VecDeque::new(),
                last_at: self.clock,
            },
            Direction {
                session: sy,
                inbox: VecDeque::new(),
                last_at: self.clock,
            },
        ];
        // Direction 0 is x's session; its inbox holds frames from y.
        self.enqueue(&mut ends[1], hello_x);
        self.enqueue(&mut ends[0], hello_y);
        if let Some(link) = self.links.get_mut(&k) {
            link.ends = Some(ends);
        }
    }

    /// Cuts a link: both sessions end and every frame in flight is lost.
    pub fn cut(&mut self, a: &str, b: &str) {
        if let Some(link) = self.links.get_mut(&key(a, b)) {
            link.ends = None;
        }
    }

    /// Brings every link up.
    pub fn heal_all(&mut self) {
        for (a, b) in self.link_ids() {
            self.heal(&a, &b);
        }
    }

    fn enqueue(&mut self, to: &mut Direction, frames: Vec<Frame>) {
        for frame in frames {
            let at = (self.clock + self.rng.random_range(0..=self.cfg.max_delay)).max(to.last_at);
            to.last_at = at;
            to.inbox.push_back((at, frame));
        }
    }

    /// Opens a new case at `node` (its home) under the id bound to `node` and `nonce`, with the
    /// fields of `make`; returns the id.
    pub fn open_case(
        &mut self,
        node: &str,
        nonce: &str,
        make: impl FnOnce(&str) -> hearth_archive::CaseFields,
    ) -> Result<String, ArchiveError> {
        let editor = editor(node);
        let n = self.node(node);
        let bound = hearth_archive::BoundId::new(node, nonce);
        let id = bound.id();
        let case = Case::create(&bound, n.actor.clone(), &editor, &make(node))?;
        n.replica
            .insert(&id, case.into_doc())
            .map_err(|e| ArchiveError::Schema(e.0))?;
        self.poll_node(node);
        Ok(id)
    }

    /// Opens a new case at `node` (its home) with the fields of `make`, under an id not bound
    /// to it (as before ids were bound: nodes with a keyring refuse it outside the upgrade
    /// window).
    pub fn create_case(
        &mut self,
        node: &str,
        id: &str,
        make: impl FnOnce(&str) -> hearth_archive::CaseFields,
    ) -> Result<(), ArchiveError> {
        let editor = editor(node);
        let n = self.node(node);
        let case = Case::create_legacy(id, node, n.actor.clone(), &editor, &make(node))?;
        n.replica
            .insert(id, case.into_doc())
            .map_err(|e| ArchiveError::Schema(e.0))?;
        self.poll_node(node);
        Ok(())
    }

    /// Changes a case held at `node` through the archive API, then lets the node's sessions
    /// offer the change (live push).
    pub fn edit(
        &mut self,
        node: &str,
        id: &str,
        f: impl FnOnce(&mut Case, &hearth_archive::Editor) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        let editor = editor(node);
        let n = self.node(node);
        let actor = n.actor.clone();
        let doc = n
            .replica
            .take(id)
            .ok_or_else(|| ArchiveError::Schema(format!("{node} does not hold {id}")))?;
        let mut case = Case::from_doc(doc, actor)?;
        let result = f(&mut case, &editor);
        n.replica.put_back(id, case.into_doc());
        n.replica
            .commit(id)
            .map_err(|e| ArchiveError::Schema(e.0))?;
        self.poll_node(node);
        result
    }

    /// Lets every session of `node` offer local changes.
    fn poll_node(&mut self, node: &str) {
        let keys: Vec<(String, String)> = self
            .links
            .keys()
            .filter(|(a, b)| a == node || b == node)
            .cloned()
            .collect();
        for k in keys {
            self.poll_link_side(&k, node);
        }
    }

    fn poll_link_side(&mut self, k: &(String, String), node: &str) {
        let side = usize::from(k.1 == node);
        let Some(mut link) = self.links.remove(k) else {
            return;
        };
        if let Some(ends) = link.ends.as_mut() {
            let replica = &mut self.nodes.get_mut(node).expect("node of a link").replica;
            let frames = ends[side].session.poll(replica);
            let [d0, d1] = ends;
            let other = if side == 0 { d1 } else { d0 };
            self.enqueue(other, frames);
        }
        self.links.insert(k.clone(), link);
    }

    /// Delivers the next frame (the earliest due on any live link); `false` if none is in flight.
    pub fn step(&mut self) -> bool {
        let mut best: Option<((String, String), usize, u64)> = None;
        for (k, link) in &self.links {
            let Some(ends) = &link.ends else { continue };
            for (side, d) in ends.iter().enumerate() {
                if let Some((at, _)) = d.inbox.front()
                    && best.as_ref().is_none_or(|(_, _, b)| at < b)
                {
                    best = Some((k.clone(), side, *at));
                }
            }
        }
        let Some((k, side, at)) = best else {
            return false;
        };
        self.clock = self.clock.max(at);
        let node = if side == 0 { k.0.clone() } else { k.1.clone() };
        let peer = if side == 0 { k.1.clone() } else { k.0.clone() };
        let Some(mut link) = self.links.remove(&k) else {
            return false;
        };
        let mut cut = false;
        if let Some(ends) = link.ends.as_mut() {
            let Some((_, frame)) = ends[side].inbox.pop_front() else {
                return false;
            };
            let copies = if self.rng.random_bool(self.cfg.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.traffic.frames += 1;
                self.traffic.bytes += frame.approx_size() as u64;
                let replica = &mut self.nodes.get_mut(&node).expect("node of a link").replica;
                let out = ends[side].session.receive(frame.clone(), replica);
                let [d0, d1] = &mut *ends;
                let other = if side == 0 { d1 } else { d0 };
                self.enqueue(other, out);
                if let Some(closed) = ends[side].session.closed() {
                    self.closures
                        .push((node.clone(), peer.clone(), closed.clone()));
                    cut = true;
                    break;
                }
            }
        }
        if cut {
            link.ends = None;
        }
        self.links.insert(k, link);
        // What was applied may have changed the node's feed: its other sessions offer it on.
        self.poll_node(&node);
        true
    }

    /// Delivers frames until nothing is in flight and every session is quiet, or `max_steps`.
    /// Returns the number of steps.
    pub fn run_until_quiet(&mut self, max_steps: usize) -> Result<usize, String> {
        let mut steps = 0;
        loop {
            while self.step() {
                steps += 1;
                if steps > max_steps {
                    return Err(format!("not quiet after {max_steps} steps"));
                }
            }
            for node in self.node_ids() {
                self.poll_node(&node);
            }
            if !self.in_flight() {
                break;
            }
        }
        if let Some((a, b)) = self.link_ids().into_iter().find(|(a, b)| !self.quiet(a, b)) {
            return Err(format!(
                "link {a}-{b} has nothing in flight but is not quiet"
            ));
        }
        Ok(steps)
    }

    fn in_flight(&self) -> bool {
        self.links
            .values()
            .filter_map(|l| l.ends.as_ref())
            .any(|ends| ends.iter().any(|d| !d.inbox.is_empty()))
    }

    fn quiet(&self, a: &str, b: &str) -> bool {
        let k = key(a, b);
        let Some(Some(ends)) = self.links.get(&k).map(|l| l.ends.as_ref()) else {
            return true;
        };
        let (x, y) = (&self.nodes[&k.0].replica, &self.nodes[&k.1].replica);
        ends[0].session.is_quiet(x) && ends[1].session.is_quiet(y)
    }
}

/// The editor a node writes as in the simulation.
pub fn editor(node: &str) -> hearth_archive::Editor {
    hearth_archive::Editor {
        node: node.to_owned(),
        by: format!("worker at {node}"),
        at: hearth_archive::jiff::Timestamp::from_second(1_780_272_000).unwrap_or_default(),
        today: hearth_archive::jiff::civil::date(2026, 6, 1),
    }
}
