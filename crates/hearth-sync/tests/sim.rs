//! The sync engine on a simulated network: escalation reaches exactly the participants, offline
//! edits converge, catch-up costs O(changed), reconciliation without checkpoints, refusals, and a
//! property test of convergence and scope under random edits and link schedules.

use std::collections::BTreeSet;

use hearth_archive::automerge::AutoCommit;
use hearth_archive::automerge::sync::{State, SyncDoc};
use hearth_archive::{AssistanceKind, Case, CaseFields, NewAssistance, actor_id};
use hearth_sync::sim::{NetConfig, Network};
use hearth_sync::{
    Closed, ErrorCode, Frame, Hello, MemReplica, PROTOCOL_MAJOR, Refusal, Replica, Session,
    SessionConfig,
};
use proptest::prelude::*;

#[path = "sim/trust.rs"]
mod trust;

const T1: &str = "demo.team-1";
const T2: &str = "demo.team-2";
const BR: &str = "demo.branch";
const EN: &str = "demo.enterprise";
const MU: &str = "demo.municipal";

/// The demo federation: two teams under a branch, then enterprise, then municipal.
fn federation(seed: u64, cfg: NetConfig) -> Network {
    let mut net = Network::new(seed, cfg);
    for n in [T1, T2, BR, EN, MU] {
        net.add_node(n);
    }
    for (a, b) in [(T1, BR), (T2, BR), (BR, EN), (EN, MU)] {
        net.add_link(a, b);
    }
    net
}

fn parent(node: &str) -> Option<&'static str> {
    match node {
        T1 | T2 => Some(BR),
        BR => Some(EN),
        EN => Some(MU),
        _ => None,
    }
}

fn fields(n: u32) -> impl FnOnce(&str) -> CaseFields {
    move |_| CaseFields::sample(n)
}

fn aid(id: &str, fen: i64) -> NewAssistance {
    NewAssistance {
        id: id.into(),
        kind: AssistanceKind::Medical,
        amount_fen: fen,
        date: hearth_archive::jiff::civil::date(2026, 5, 1),
        paying_node: None,
        approving_node: None,
        note: None,
    }
}

fn report(net: &mut Network, node: &str, case: &str) {
    let to = parent(node).unwrap();
    net.edit(node, case, |c, e| c.report_to(e, to, "escalate"))
        .unwrap();
}

/// Which nodes hold the case, and whether all holders have the same heads.
fn holders(net: &mut Network, case: &str) -> (BTreeSet<String>, bool) {
    let mut holders = BTreeSet::new();
    let mut heads = BTreeSet::new();
    for n in net.node_ids() {
        let r = &mut net.node(&n).replica;
        if let Some(mut h) = r.heads(case) {
            h.sort();
            heads.insert(h);
            holders.insert(n);
        }
    }
    (holders, heads.len() <= 1)
}

fn participants(net: &mut Network, node: &str, case: &str) -> BTreeSet<String> {
    net.node(node)
        .replica
        .participants(case)
        .unwrap()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn set(nodes: &[&str]) -> BTreeSet<String> {
    nodes.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn an_escalated_case_reaches_exactly_its_participants() {
    let mut net = federation(1, NetConfig::default());
    net.heal_all();
    net.create_case(T1, "c1", fields(1)).unwrap();
    net.create_case(T2, "c2", fields(2)).unwrap();
    net.run_until_quiet(10_000).unwrap();
    assert_eq!(
        holders(&mut net, "c1").0,
        set(&[T1]),
        "a draft stays at home"
    );

    report(&mut net, T1, "c1");
    net.run_until_quiet(10_000).unwrap();
    report(&mut net, BR, "c1");
    net.run_until_quiet(10_000).unwrap();
    report(&mut net, EN, "c1");
    net.run_until_quiet(10_000).unwrap();
    report(&mut net, T2, "c2");
    net.run_until_quiet(10_000).unwrap();

    let (held, same) = holders(&mut net, "c1");
    assert_eq!(held, set(&[T1, BR, EN, MU]));
    assert!(same);
    assert_eq!(participants(&mut net, MU, "c1"), held);
    let (held, same) = holders(&mut net, "c2");
    assert_eq!(
        held,
        set(&[T2, BR]),
        "a sibling never sees the other team's case"
    );
    assert!(same);
    assert!(net.closures().is_empty(), "{:?}", net.closures());
}

#[test]
fn offline_edits_at_two_nodes_converge_after_heal() {
    let mut net = federation(2, NetConfig::default());
    net.heal_all();
    net.create_case(T1, "c1", fields(1)).unwrap();
    for node in [T1, BR, EN] {
        report(&mut net, node, "c1");
        net.run_until_quiet(10_000).unwrap();
    }
    net.cut(T1, BR);
    net.cut(BR, EN);
    net.edit(T1, "c1", |c, e| c.add_assistance(e, &aid("a-team", 500_00)))
        .unwrap();
    net.edit(EN, "c1", |c, e| {
        c.add_assistance(e, &aid("a-ent", 2_000_00))
    })
    .unwrap();
    net.run_until_quiet(10_000).unwrap();
    assert!(net.node(MU).replica.holds("c1"));
    let (_, same) = holders(&mut net, "c1");
    assert!(!same, "cut off, the holders differ");

    net.heal_all();
    net.run_until_quiet(10_000).unwrap();
    let (held, same) = holders(&mut net, "c1");
    assert_eq!(held, set(&[T1, BR, EN, MU]));
    assert!(same);
    let doc = net.node(T1).replica.take("c1").unwrap();
    let case = Case::from_doc(doc, actor_id("x", &[0])).unwrap();
    assert_eq!(case.view().unwrap().assistance_total_fen, 2_500_00);
}

/// With the team-1–branch link up, opens a case for each id at team-1 (worker `i` for the i-th),
/// files it with the branch, and runs until quiet.
fn file_at_branch(net: &mut Network, ids: impl Iterator<Item = String>) {
    net.heal(T1, BR);
    for (i, id) in ids.enumerate() {
        net.create_case(T1, &id, fields(i as u32)).unwrap();
        net.edit(T1, &id, |c, e| c.report_to(e, BR, "filed"))
            .unwrap();
    }
    net.run_until_quiet(1_000_000).unwrap();
}

/// Syncs `n` cases from team-1 to the branch, cuts the link, changes `changed` of them, heals,
/// and returns the traffic of the catch-up.
fn catch_up_traffic(n: u32, changed: u32) -> hearth_sync::sim::Traffic {
    let mut net = federation(3, NetConfig::default());
    file_at_branch(&mut net, (0..n).map(|i| format!("c{i:05}")));
    assert_eq!(net.node(BR).replica.doc_ids().unwrap().len(), n as usize);
    net.cut(T1, BR);
    for i in 0..changed {
        let id = format!("c{:05}", i * 7 % n);
        net.edit(T1, &id, |c, e| {
            c.add_assistance(e, &aid(&format!("a{i}"), 100_00))
        })
        .unwrap();
    }
    let before = net.traffic();
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    for i in 0..changed {
        let id = format!("c{:05}", i * 7 % n);
        let (held, same) = holders(&mut net, &id);
        assert!(same && held.len() == 2, "{id} did not converge");
    }
    let after = net.traffic();
    hearth_sync::sim::Traffic {
        frames: after.frames - before.frames,
        bytes: after.bytes - before.bytes,
    }
}

#[test]
fn catch_up_costs_frames_for_the_changed_documents_only() {
    let small = catch_up_traffic(100, 10);
    let large = catch_up_traffic(600, 10);
    eprintln!("catch-up, 10 changed: of 100 {small:?}, of 600 {large:?}");
    assert!(large.frames <= 60, "{large:?}");
    assert!(large.bytes <= 16_000, "{large:?}");
    assert_eq!(
        small.frames, large.frames,
        "frames grew with the number of cases"
    );
    let quiet = catch_up_traffic(300, 0);
    assert_eq!(
        quiet.frames, 2,
        "a reconnect with nothing changed is two hellos: {quiet:?}"
    );
}

#[test]
fn a_reconnect_that_offers_every_document_again_goes_quiet() {
    // Without resuming (the comparison mode), every document is offered again after a
    // reconnect, and each side starts from its stored sync state: one that says the exchange
    // ended must still answer the peer's opener once, or the offer never completes (with few
    // offers in flight at once, the two sides offer different documents at a time).
    let mut net = federation(5, NetConfig::default());
    // Filed while offline and pulled by digest: the branch's feed has them in another order.
    let ids: Vec<String> = (0..40).map(|i| format!("c{:04}", i * 17 % 40)).collect();
    for (i, id) in ids.iter().enumerate() {
        net.create_case(T1, id, fields(i as u32)).unwrap();
        net.edit(T1, id, |c, e| c.report_to(e, BR, "filed"))
            .unwrap();
    }
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    net.cut(T1, BR);
    net.edit(T1, &ids[3], |c, e| {
        c.add_assistance(e, &aid("late", 100_00))
    })
    .unwrap();
    net.set_session(SessionConfig {
        resume: false,
        max_in_flight: 4,
        ..SessionConfig::default()
    });
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    assert!(net.closures().is_empty(), "{:?}", net.closures());
    for id in &ids {
        let (held, same) = holders(&mut net, id);
        assert!(same && held.len() == 2, "{id} did not converge");
    }
}

#[test]
fn without_a_checkpoint_only_differing_documents_are_synced() {
    let mut net = federation(4, NetConfig::default());
    file_at_branch(&mut net, (0..200).map(|i| format!("c{i:04}")));
    net.cut(T1, BR);
    for i in 0..5 {
        net.edit(T1, &format!("c{i:04}"), |c, e| {
            c.add_assistance(e, &aid("x", 1_00))
        })
        .unwrap();
    }
    // The branch lost its checkpoints and sync states (restored from an old backup, say).
    net.node(BR).replica.lose_sync_metadata(99);
    net.node(T1).replica.lose_sync_metadata(98);
    let before = net.traffic();
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    let used = net.traffic().frames - before.frames;
    // Two hellos, a digest each way, and both sides pull the 5 differing documents (up to eight
    // messages each when both start at once): independent of the 195 that agree.
    eprintln!("reconcile of 200 cases, 5 differing: {used} frames");
    assert!(used <= 4 + 5 * 8, "reconciling took {used} frames");
    for i in 0..200 {
        assert!(holders(&mut net, &format!("c{i:04}")).1);
    }
    // And the checkpoints are back: the next reconnect is two hellos.
    net.cut(T1, BR);
    let before = net.traffic();
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    assert_eq!(net.traffic().frames - before.frames, 2);
}

#[test]
fn honest_sessions_stay_within_budgets_far_smaller_than_what_they_sync() {
    // Budgets a tenth of what is synced: an honest peer never runs into them, because what is
    // under way at once is bounded by the sender's window, and what is done is given back.
    let session = hearth_sync::SessionConfig {
        max_in_flight: 16,
        max_new_docs: 40,
        max_new_bytes: 64 << 10,
        max_idle_states: 8,
        ..Default::default()
    };
    let mut net = federation(
        11,
        NetConfig {
            session,
            ..NetConfig::default()
        },
    );
    file_at_branch(&mut net, (0..400).map(|i| format!("b{i:04}")));
    assert!(net.closures().is_empty(), "{:?}", net.closures());
    assert_eq!(net.node(BR).replica.doc_ids().unwrap().len(), 400);
    // A reconcile after lost sync metadata, with 60 documents changed on the team's side.
    net.cut(T1, BR);
    for i in 0..60 {
        net.edit(T1, &format!("b{i:04}"), |c, e| {
            c.add_assistance(e, &aid("y", 1_00))
        })
        .unwrap();
    }
    net.node(BR).replica.lose_sync_metadata(77);
    net.node(T1).replica.lose_sync_metadata(78);
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    assert!(net.closures().is_empty(), "{:?}", net.closures());
    for i in 0..60 {
        assert!(holders(&mut net, &format!("b{i:04}")).1);
    }
}

/// A sync message for `doc` as a peer with nothing would first receive it.
fn full_message(doc: &mut AutoCommit) -> Vec<u8> {
    let mut theirs = AutoCommit::new();
    let (mut s_ours, mut s_theirs) = (State::new(), State::new());
    let mut ask = theirs.sync().generate_sync_message(&mut s_theirs).unwrap();
    // As a Hearth node asks: version 1 messages only (no capabilities advertised).
    ask.flags = None;
    let _ = doc.sync().generate_sync_message(&mut s_ours);
    doc.sync().receive_sync_message(&mut s_ours, ask).unwrap();
    doc.sync()
        .generate_sync_message(&mut s_ours)
        .unwrap()
        .encode()
}

fn hello(node: &str, epoch: u64) -> Frame {
    Frame::Hello(Hello {
        node: node.to_owned(),
        major: PROTOCOL_MAJOR,
        minor: 0,
        epoch,
        resume: None,
        knows: Vec::new(),
    })
}

fn case_doc(home: &str, report_to: Option<&str>) -> AutoCommit {
    let editor = hearth_archive::Editor {
        node: home.to_owned(),
        by: "x".into(),
        at: hearth_archive::jiff::Timestamp::UNIX_EPOCH,
        today: hearth_archive::jiff::civil::date(2026, 6, 1),
    };
    let mut case =
        Case::create_legacy("c9", home, actor_id(home, &[1]), &editor, &fields(9)(home)).unwrap();
    if let Some(to) = report_to {
        case.report_to(&editor, to, "filed").unwrap();
    }
    case.into_doc()
}

#[test]
fn a_new_document_that_does_not_list_the_receiver_is_refused_and_not_kept() {
    let mut branch = MemReplica::new(BR, 7);
    let mut session = Session::new(T1, SessionConfig::default());
    session.open(&mut branch);
    session.receive(hello(T1, 1), &mut branch);
    let mut doc = case_doc(T1, None);
    let out = session.receive(
        Frame::Sync {
            signatures: Vec::new(),
            doc: "c9".into(),
            message: full_message(&mut doc),
        },
        &mut branch,
    );
    assert!(
        matches!(out.as_slice(), [Frame::Refused { reason: Refusal::OutOfScope, message, .. }] if message.contains("does not list both")),
        "{out:?}"
    );
    assert!(!branch.holds("c9"));
    assert_eq!(branch.feed_head(), 0, "nothing was written");
    assert_eq!(session.stats().refused_here, 1);
    assert!(
        session.closed().is_none(),
        "a refusal does not end the session"
    );
}

#[test]
fn changes_from_a_peer_that_is_not_a_participant_are_refused_before_applying() {
    // The branch holds a case shared with team-1; team-2 (not a participant) sends changes.
    let mut branch = MemReplica::new(BR, 7);
    branch.insert("c9", case_doc(T1, Some(BR))).unwrap();
    let head = branch.feed_head();
    let heads = branch.heads("c9").unwrap();
    let mut session = Session::new(T2, SessionConfig::default());
    session.open(&mut branch);
    session.receive(hello(T2, 2), &mut branch);
    // Same history as the branch's copy (case_doc is deterministic), plus a forged payment.
    let mut forged = Case::from_doc(case_doc(T1, Some(BR)), actor_id(T2, &[2])).unwrap();
    let editor = hearth_archive::Editor {
        node: T2.into(),
        by: "x".into(),
        at: hearth_archive::jiff::Timestamp::UNIX_EPOCH,
        today: hearth_archive::jiff::civil::date(2026, 6, 1),
    };
    forged
        .add_assistance(&editor, &aid("forged", 9_999_00))
        .unwrap();
    let out = session.receive(
        Frame::Sync {
            signatures: Vec::new(),
            doc: "c9".into(),
            message: full_message(&mut forged.into_doc()),
        },
        &mut branch,
    );
    assert!(
        matches!(
            out.as_slice(),
            [Frame::Refused {
                reason: Refusal::OutOfScope,
                ..
            }]
        ),
        "{out:?}"
    );
    assert_eq!(
        branch.heads("c9").unwrap(),
        heads,
        "nothing of it was applied"
    );
    assert_eq!(branch.feed_head(), head);
}

#[test]
fn a_peer_with_another_major_version_or_identity_is_refused() {
    let mut r = MemReplica::new(BR, 7);
    let mut s = Session::new(T1, SessionConfig::default());
    s.open(&mut r);
    let out = s.receive(
        Frame::Hello(Hello {
            node: T1.into(),
            major: PROTOCOL_MAJOR + 1,
            minor: 0,
            epoch: 1,
            resume: None,
            knows: Vec::new(),
        }),
        &mut r,
    );
    assert!(
        matches!(out.last(), Some(Frame::Error { code: ErrorCode::Version, message }) if message.contains("upgrade"))
    );
    assert!(matches!(
        s.closed(),
        Some(Closed::Local(ErrorCode::Version, _))
    ));

    let mut s = Session::new(T1, SessionConfig::default());
    s.open(&mut r);
    let out = s.receive(hello(T2, 1), &mut r);
    assert!(matches!(
        out.last(),
        Some(Frame::Error {
            code: ErrorCode::Identity,
            ..
        })
    ));

    let mut s = Session::new(T1, SessionConfig::default());
    s.open(&mut r);
    let out = s.receive(
        Frame::Sync {
            signatures: Vec::new(),
            doc: "c".into(),
            message: vec![1],
        },
        &mut r,
    );
    assert!(matches!(
        out.last(),
        Some(Frame::Error {
            code: ErrorCode::Protocol,
            ..
        })
    ));
}

#[test]
fn garbage_sync_messages_are_refused_without_ending_the_session() {
    let mut r = MemReplica::new(BR, 7);
    let mut s = Session::new(T1, SessionConfig::default());
    s.open(&mut r);
    s.receive(hello(T1, 1), &mut r);
    let out = s.receive(
        Frame::Sync {
            signatures: Vec::new(),
            doc: "c".into(),
            message: vec![0x42, 1, 2, 3],
        },
        &mut r,
    );
    assert!(
        matches!(
            out.as_slice(),
            [Frame::Refused {
                reason: Refusal::Invalid,
                ..
            }]
        ),
        "{out:?}"
    );
    assert!(s.closed().is_none());
    assert_eq!(r.feed_head(), 0);
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        node: usize,
        case: usize,
    },
    Report {
        case: usize,
        holder: usize,
    },
    Aid {
        case: usize,
        holder: usize,
        fen: i64,
    },
    Cut {
        link: usize,
    },
    Heal {
        link: usize,
    },
    Run {
        steps: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..6usize).prop_map(|(node, case)| Op::Create { node, case }),
        (0..6usize, 0..5usize).prop_map(|(case, holder)| Op::Report { case, holder }),
        (0..6usize, 0..5usize, 1..100_000i64).prop_map(|(case, holder, fen)| Op::Aid {
            case,
            holder,
            fen
        }),
        (0..4usize).prop_map(|link| Op::Cut { link }),
        (0..4usize).prop_map(|link| Op::Heal { link }),
        (1..40usize).prop_map(|steps| Op::Run { steps }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random edits at random holders, random link cuts and heals, random delays and duplicated
    /// frames; then every link heals and the network runs until quiet: every participant of each
    /// case holds an identical copy, and no other node holds it.
    #[test]
    fn all_participants_converge_and_nobody_else_holds_a_case(
        seed in any::<u64>(),
        duplicate in prop_oneof![Just(0.0), Just(0.2)],
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let cfg = NetConfig { max_delay: 8, duplicate, session: SessionConfig { max_in_flight: 3, ..SessionConfig::default() } };
        let mut net = federation(seed, cfg);
        let homes = [T1, T2, BR];
        let all = [T1, T2, BR, EN, MU];
        let links = net.link_ids();
        let mut created = BTreeSet::new();
        net.heal_all();
        for op in ops {
            match op {
                Op::Create { node, case } => {
                    let id = format!("case{case}");
                    if created.insert(id.clone()) {
                        net.create_case(homes[node], &id, fields(case as u32)).unwrap();
                    }
                }
                Op::Report { case, holder } => {
                    let id = format!("case{case}");
                    let node = all[holder];
                    if let Some(to) = parent(node)
                        && net.node(node).replica.holds(&id)
                        && !participants(&mut net, node, &id).contains(to)
                    {
                        report(&mut net, node, &id);
                    }
                }
                Op::Aid { case, holder, fen } => {
                    let id = format!("case{case}");
                    let node = all[holder];
                    if net.node(node).replica.holds(&id) {
                        net.edit(node, &id, |c, e| c.add_assistance(e, &aid(&format!("{node}-{fen}"), fen))).unwrap();
                    }
                }
                Op::Cut { link } => net.cut(&links[link].0, &links[link].1),
                Op::Heal { link } => net.heal(&links[link].0, &links[link].1),
                Op::Run { steps } => {
                    for _ in 0..steps {
                        net.step();
                    }
                }
            }
        }
        net.heal_all();
        net.run_until_quiet(1_000_000).map_err(TestCaseError::fail)?;
        prop_assert!(net.closures().is_empty(), "{:?}", net.closures());
        for id in created {
            let (held, same) = holders(&mut net, &id);
            prop_assert!(same, "holders of {} differ", id);
            let any = held.iter().next().cloned().unwrap();
            let expected = participants(&mut net, &any, &id);
            prop_assert_eq!(&held, &expected, "{} is held by {:?} but lists {:?}", id, held, expected);
            prop_assert!(!(held.contains(T1) && held.contains(T2)), "{} reached both teams", id);
        }
    }
}

/// A replica whose disk fails for reads of the feed.
struct FailingFeed(MemReplica);

impl Replica for FailingFeed {
    fn node_id(&self) -> &str {
        self.0.node_id()
    }
    fn feed_epoch(&self) -> u64 {
        self.0.feed_epoch()
    }
    fn feed_head(&self) -> u64 {
        self.0.feed_head()
    }
    fn changed_since(
        &self,
        _: u64,
        _: usize,
    ) -> Result<Vec<(u64, String)>, hearth_sync::ReplicaError> {
        Err(hearth_sync::ReplicaError("disk read failed".into()))
    }
    fn doc_ids(&self) -> Result<Vec<String>, hearth_sync::ReplicaError> {
        self.0.doc_ids()
    }
    fn participants(
        &mut self,
        doc: &str,
    ) -> Result<Option<Vec<String>>, hearth_sync::ReplicaError> {
        self.0.participants(doc)
    }
    fn doc(&mut self, doc: &str) -> Result<Option<&mut AutoCommit>, hearth_sync::ReplicaError> {
        self.0.doc(doc)
    }
    fn commit(&mut self, doc: &str) -> Result<Option<u64>, hearth_sync::ReplicaError> {
        self.0.commit(doc)
    }
    fn insert(&mut self, doc: &str, value: AutoCommit) -> Result<u64, hearth_sync::ReplicaError> {
        self.0.insert(doc, value)
    }
    fn sync_state(
        &mut self,
        peer: &str,
        doc: &str,
    ) -> Result<Option<Vec<u8>>, hearth_sync::ReplicaError> {
        self.0.sync_state(peer, doc)
    }
    fn save_sync_state(
        &mut self,
        peer: &str,
        doc: &str,
        state: Vec<u8>,
    ) -> Result<(), hearth_sync::ReplicaError> {
        self.0.save_sync_state(peer, doc, state)
    }
    fn checkpoint(
        &self,
        peer: &str,
    ) -> Result<Option<hearth_sync::Resume>, hearth_sync::ReplicaError> {
        self.0.checkpoint(peer)
    }
    fn save_checkpoint(
        &mut self,
        peer: &str,
        resume: hearth_sync::Resume,
    ) -> Result<(), hearth_sync::ReplicaError> {
        self.0.save_checkpoint(peer, resume)
    }
    fn peer_has(&self, peer: &str) -> Result<Option<u64>, hearth_sync::ReplicaError> {
        self.0.peer_has(peer)
    }
    fn save_peer_has(&mut self, peer: &str, seq: u64) -> Result<(), hearth_sync::ReplicaError> {
        self.0.save_peer_has(peer, seq)
    }
}

#[test]
fn a_failing_disk_ends_the_session_instead_of_confirming_anything() {
    let mut r = FailingFeed(MemReplica::new(T1, 7));
    r.0.insert("c9", case_doc(T1, Some(BR))).unwrap();
    let mut s = Session::new(BR, SessionConfig::default());
    s.open(&mut r);
    let out = s.receive(
        Frame::Hello(Hello {
            node: BR.into(),
            major: PROTOCOL_MAJOR,
            minor: 0,
            epoch: 2,
            resume: Some(hearth_sync::Resume { epoch: 7, seq: 0 }),
            knows: Vec::new(),
        }),
        &mut r,
    );
    assert!(
        matches!(out.as_slice(), [Frame::Error { code: ErrorCode::Storage, message }] if message.contains("disk read failed")),
        "{out:?}"
    );
    assert!(!out.iter().any(|f| matches!(f, Frame::Checkpoint(_))));
    assert!(matches!(
        s.closed(),
        Some(Closed::Local(ErrorCode::Storage, _))
    ));
}

/// Node `node` writes entry `key` into record `id` (creating the record if it has none).
fn put_record(net: &mut Network, node: &str, id: &str, key: &str, value: u32) {
    use hearth_archive::Record;
    let editor = hearth_archive::Editor {
        node: node.into(),
        by: "admin".into(),
        at: hearth_archive::jiff::Timestamp::from_second(1_780_000_000).unwrap(),
        today: hearth_archive::jiff::civil::date(2026, 5, 28),
    };
    let actor = actor_id(node, &[9; 8]);
    let replica = &mut net.node(node).replica;
    let mut record = match replica.take(id) {
        Some(doc) => Record::from_doc(doc, actor).unwrap(),
        None => Record::create(id, actor, &editor).unwrap(),
    };
    // An entry of the record's kind, one that varies with `value`.
    match hearth_archive::DocId::of(id) {
        hearth_archive::DocId::Policy => {
            let mut policy = hearth_archive::Policy::builtin();
            policy.version = value;
            record.put(&editor, key, &policy).unwrap();
        }
        hearth_archive::DocId::Summary(owner) => {
            let summary = hearth_archive::summary::NodeSummary::new(
                owner,
                hearth_archive::Level::Team,
                2026,
                hearth_archive::jiff::Timestamp::from_second(i64::from(value)).unwrap(),
                Default::default(),
                Default::default(),
            );
            record.put(&editor, key, &summary).unwrap();
        }
        _ => {
            let entry = hearth_archive::ledger::Entry::Budget {
                year: 2026,
                amount_fen: i64::from(value) * 100,
                stamp: hearth_archive::ledger::Stamp {
                    by: editor.by.clone(),
                    node: editor.node.clone(),
                    at: editor.at,
                },
            };
            record.put(&editor, key, &entry).unwrap();
        }
    }
    if replica.doc(id).unwrap().is_none() && !replica.doc_ids().unwrap().contains(&id.to_owned()) {
        replica.insert(id, record.into_doc()).unwrap();
    } else {
        replica.put_back(id, record.into_doc());
        replica.commit(id).unwrap();
    }
}

fn record_heads(net: &mut Network, node: &str, id: &str) -> Option<[u8; 32]> {
    net.node(node).replica.heads_hash(id).unwrap()
}

#[test]
fn policy_flows_down_summaries_and_ledgers_go_only_to_parents_and_forgeries_are_refused() {
    use hearth_sync::Neighbour::{Child, Parent};
    let mut net = federation(7, NetConfig::default());
    for node in [T1, T2, BR, EN, MU] {
        if let Some(p) = parent(node) {
            net.node(node).replica.set_neighbour(p, Parent);
            net.node(p).replica.set_neighbour(node, Child);
        }
    }
    put_record(&mut net, MU, "policy", "0001", 1);
    put_record(&mut net, T1, "summary.demo.team-1", "current", 20);
    put_record(&mut net, T1, "ledger.demo.team-1", "income-1", 5000);
    net.heal_all();
    net.run_until_quiet(100_000).unwrap();
    let policy = record_heads(&mut net, MU, "policy");
    for node in [T1, T2, BR, EN] {
        assert_eq!(
            record_heads(&mut net, node, "policy"),
            policy,
            "policy at {node}"
        );
    }
    for id in ["summary.demo.team-1", "ledger.demo.team-1"] {
        assert!(
            record_heads(&mut net, BR, id).is_some(),
            "{id} reaches the parent"
        );
        for node in [T2, EN, MU] {
            assert!(
                record_heads(&mut net, node, id).is_none(),
                "{id} stays off {node}"
            );
        }
    }

    // A child may not change the policy, nor speak for a sibling.
    put_record(&mut net, T2, "policy", "0002", 2);
    put_record(&mut net, T2, "summary.demo.team-1", "current", 999);
    let t1_summary = record_heads(&mut net, BR, "summary.demo.team-1");
    net.run_until_quiet(100_000).unwrap();
    for node in [BR, EN, MU, T1] {
        assert_eq!(
            record_heads(&mut net, node, "policy"),
            policy,
            "policy at {node}"
        );
    }
    assert_eq!(
        record_heads(&mut net, BR, "summary.demo.team-1"),
        t1_summary
    );
}

#[test]
fn a_new_record_is_kept_only_from_the_node_that_may_write_it() {
    use hearth_archive::Record;
    use hearth_sync::Neighbour::{Child, Parent};
    use hearth_sync::scope::accepts_new;
    let editor = hearth_archive::Editor {
        node: T2.into(),
        by: "x".into(),
        at: hearth_archive::jiff::Timestamp::from_second(1_780_000_000).unwrap(),
        today: hearth_archive::jiff::civil::date(2026, 5, 28),
    };
    let mut br = MemReplica::new(BR, 1);
    br.set_neighbour(T1, Child);
    br.set_neighbour(T2, Child);
    br.set_neighbour(EN, Parent);
    let doc = |id: &str| {
        Record::create(id, actor_id(T2, &[1]), &editor)
            .unwrap()
            .into_doc()
    };
    let t1_summary = doc("summary.demo.team-1");
    assert!(accepts_new(&mut br, "summary.demo.team-1", &t1_summary, T1));
    assert!(
        !accepts_new(&mut br, "summary.demo.team-1", &t1_summary, T2),
        "a sibling's summary"
    );
    assert!(
        !accepts_new(&mut br, "summary.demo.team-2", &t1_summary, T2),
        "another id inside"
    );
    assert!(
        !accepts_new(&mut br, "policy", &doc("policy"), T2),
        "policy from a child"
    );
    assert!(accepts_new(&mut br, "policy", &doc("policy"), EN));
    assert!(
        !accepts_new(
            &mut br,
            "summary.demo.enterprise",
            &doc("summary.demo.enterprise"),
            EN
        ),
        "summaries do not come down"
    );
    assert!(
        accepts_new(
            &mut br,
            "ledger.demo.branch",
            &doc("ledger.demo.branch"),
            EN
        ),
        "a parent pays a grant into a new ledger"
    );
}

// ----- offline bundles ------------------------------------------------------------------------

/// Team-1 and the branch share `n` cases, synced over the network (and reconnected once); then
/// the link is cut.
fn synced_pair(seed: u64, n: u32) -> Network {
    let mut net = federation(seed, NetConfig::default());
    file_at_branch(&mut net, (0..n).map(|i| format!("c{i:03}")));
    // A reconnect: each side's hello tells the other how far it has its feed.
    net.cut(T1, BR);
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    net.cut(T1, BR);
    net
}

#[test]
fn a_bundle_carries_what_the_peer_misses_once_and_a_later_sync_sends_only_the_rest() {
    let mut net = synced_pair(11, 50);
    // Offline at team-1: five cases change and one new case is filed.
    for i in 0..5 {
        net.edit(T1, &format!("c{i:03}"), |c, e| {
            c.add_assistance(e, &aid(&format!("a{i}"), 100_00))
        })
        .unwrap();
    }
    net.create_case(T1, "new", fields(99)).unwrap();
    net.edit(T1, "new", |c, e| c.report_to(e, BR, "filed"))
        .unwrap();

    let bundle = hearth_sync::bundle::export(&mut net.node(T1).replica, BR, false).unwrap();
    assert!(bundle.since > 0, "continues from the branch's confirmation");
    let mut carried: Vec<&str> = bundle.docs.iter().map(|d| d.id.as_str()).collect();
    carried.sort();
    assert_eq!(carried, ["c000", "c001", "c002", "c003", "c004", "new"]);
    let full = hearth_sync::bundle::export(&mut net.node(T1).replica, BR, true).unwrap();
    assert_eq!(full.docs.len(), 51, "--full carries every shared case");
    let delta: usize = bundle.docs.iter().map(|d| d.data.len()).sum();
    let whole: usize = full.docs.iter().map(|d| d.data.len()).sum();
    assert!(
        delta * 4 < whole,
        "a delta bundle is small: {delta} of {whole} bytes"
    );

    let head = net.node(BR).replica.feed_head();
    let first = hearth_sync::bundle::import(&mut net.node(BR).replica, &bundle).unwrap();
    assert_eq!(first.added, ["new"]);
    assert_eq!(first.changed.len(), 5);
    assert!(first.checkpoint);
    for id in ["c000", "c004", "new"] {
        let (held, same) = holders(&mut net, id);
        assert_eq!(held, set(&[T1, BR]));
        assert!(same, "{id} differs after the import");
    }
    let head_after = net.node(BR).replica.feed_head();
    assert_eq!(head_after - head, 6);

    let again = hearth_sync::bundle::import(&mut net.node(BR).replica, &bundle).unwrap();
    assert!(again.added.is_empty() && again.changed.is_empty());
    assert_eq!(again.unchanged, 6);
    assert_eq!(
        net.node(BR).replica.feed_head(),
        head_after,
        "a second import changes nothing"
    );

    // One more edit after the export; then the link comes back.
    net.edit(T1, "c010", |c, e| c.add_assistance(e, &aid("late", 1_00)))
        .unwrap();
    let before = net.traffic();
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    let used = net.traffic().frames - before.frames;
    eprintln!("sync after the bundle: {used} frames");
    // Two hellos, the one late document's exchange (four messages), a checkpoint each way, and
    // the branch's checkpoint over the six imported documents it did not need to offer back:
    // none of the six is offered again either way.
    assert!(
        used <= 2 + 4 + 3,
        "the sync after the bundle took {used} frames"
    );
    assert!(holders(&mut net, "c010").1);
    assert!(net.closures().is_empty(), "{:?}", net.closures());
}

#[test]
fn a_bad_bundle_is_refused_whole_and_nothing_of_it_is_applied() {
    use hearth_sync::BundleError;
    let mut net = synced_pair(12, 3);
    net.edit(T1, "c000", |c, e| c.add_assistance(e, &aid("x", 100_00)))
        .unwrap();
    net.create_case(T1, "new", fields(7)).unwrap();
    net.edit(T1, "new", |c, e| c.report_to(e, BR, "filed"))
        .unwrap();
    let good = hearth_sync::bundle::export(&mut net.node(T1).replica, BR, false).unwrap();
    assert_eq!(good.docs.len(), 2);
    let head = net.node(BR).replica.feed_head();
    let try_import = |net: &mut Network, bundle: &hearth_sync::Bundle| {
        let err = hearth_sync::bundle::import(&mut net.node(BR).replica, bundle).unwrap_err();
        assert_eq!(
            net.node(BR).replica.feed_head(),
            head,
            "{err}: something was applied"
        );
        assert!(!net.node(BR).replica.holds("new"), "{err}");
        err
    };

    // Made for another node.
    let mut other = good.clone();
    other.to = T2.into();
    assert!(matches!(
        try_import(&mut net, &other),
        BundleError::NotForUs { .. }
    ));

    // Signed by team-2, which is no participant of these cases.
    let mut foreign = good.clone();
    foreign.from = T2.into();
    let err = try_import(&mut net, &foreign);
    assert!(matches!(err, BundleError::OutOfScope(_)), "{err}");
    assert!(
        err.to_string()
            .contains("nothing of the bundle was applied")
    );

    // The second document damaged: the first, valid, is not applied either.
    let mut damaged = good.clone();
    let last = damaged.docs.len() - 1;
    let data = &mut damaged.docs[last].data;
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    let err = try_import(&mut net, &damaged);
    assert!(
        matches!(
            err,
            BundleError::Damaged { .. } | BundleError::Incomplete { .. }
        ),
        "{err}"
    );

    // Changes on top of what the receiver never had.
    let mut fresh = MemReplica::new(BR, 77);
    let err = hearth_sync::bundle::import(&mut fresh, &good).unwrap_err();
    assert!(matches!(err, BundleError::Incomplete { .. }), "{err}");
    assert!(err.to_string().contains("--full"));
    assert_eq!(fresh.feed_head(), 0);

    // The good one still applies.
    let done = hearth_sync::bundle::import(&mut net.node(BR).replica, &good).unwrap();
    assert_eq!(done.added, ["new"]);
    assert_eq!(done.changed, ["c000"]);
}
