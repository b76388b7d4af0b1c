//! DESIGN §4a on the simulated network: every node has a keyring with a certificate from one
//! federation CA that names its level and parents; a hostile team-1 (a valid certificate and
//! key, a replica it changes at will) tries each attack, and the branch refuses it with the
//! rule's name and keeps nothing of it.

use std::sync::{Arc, RwLock};

use hearth_archive::automerge::{AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use hearth_archive::{Case, Decision};
use hearth_sync::sim::{NetConfig, Network, editor};
use hearth_sync::{Keyring, Refusal, Replica, SharedKeyring};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::{BR, EN, MU, T1, T2, aid, fields};

/// The federation CA.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = p.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    Ca {
        der,
        issuer: Issuer::new(p, key),
    }
}

/// A node certificate naming `node`, its level and parents.
fn issue(ca: &Ca, node: &str, level: &str, parents: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![node.to_owned()]).unwrap();
    let uri = |s: String| SanType::URI(s.try_into().unwrap());
    p.subject_alt_names
        .push(uri(format!("urn:hearth:level:{level}")));
    for parent in parents {
        p.subject_alt_names
            .push(uri(format!("urn:hearth:parent:{parent}")));
    }
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

/// Now, for certificate validity: mid-2026.
const NOW: u64 = 1_780_272_000;

fn keyring(ca: &Ca, node: &str, level: &str, parents: &[&str]) -> SharedKeyring {
    let (cert, key) = issue(ca, node, level, parents);
    let k = Keyring::new(vec![ca.der.clone()], NOW)
        .unwrap()
        .with_key(vec![cert], &key)
        .unwrap();
    Arc::new(RwLock::new(k))
}

/// The demo federation, every node with its keyring.
fn signed_federation(seed: u64) -> (Network, Ca) {
    let ca = ca();
    let mut net = super::federation(seed, NetConfig::default());
    for (node, level, parents) in [
        (T1, "team", &[BR][..]),
        (T2, "team", &[BR]),
        (BR, "branch", &[EN]),
        (EN, "enterprise", &[MU]),
        (MU, "municipal", &[]),
    ] {
        let k = keyring(&ca, node, level, parents);
        net.node(node).replica.set_keyring(k);
    }
    net.heal_all();
    (net, ca)
}

/// A case filed at team-1 and reported to the branch, synced.
fn shared_case(net: &mut Network) -> String {
    let id = net.open_case(T1, "n1", fields(1)).unwrap();
    net.edit(T1, &id, |c, e| {
        c.file(e)?;
        c.report_to(e, BR, "filed")
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    assert!(net.node(BR).replica.holds(&id));
    id
}

/// Changes `id` at `node` as if written by `actor` (the hostile replica writes what it likes),
/// then lets its sessions offer it.
fn forge(
    net: &mut Network,
    node: &str,
    id: &str,
    as_node: &str,
    actor: hearth_archive::automerge::ActorId,
    f: impl FnOnce(&mut Case, &hearth_archive::Editor),
) {
    let own = net.node(node).actor().clone();
    let replica = &mut net.node(node).replica;
    let doc = replica.take(id).unwrap();
    let mut case = Case::from_doc(doc, actor).unwrap();
    f(&mut case, &editor(as_node));
    let doc = case.into_doc().with_actor(own);
    replica.put_back(id, doc);
    replica.commit(id).unwrap();
    net.run_until_quiet(100_000).unwrap();
}

/// Team-1 sets the household's income under `node`'s actor (read off the network).
fn forge_income(net: &mut Network, id: &str, node: &str) {
    let actor = net.node(node).actor().clone();
    forge(net, T1, id, node, actor, |c, e| {
        let fields = hearth_archive::CaseFields {
            annual_income_fen: Some(1_00),
            ..Default::default()
        };
        c.edit(e, &fields).unwrap()
    });
}

/// Opens `node`'s upgrade window: it takes unsigned changes from its neighbours.
fn open_window(net: &mut Network, node: &str) {
    net.node(node)
        .replica
        .keyring()
        .unwrap()
        .write()
        .unwrap()
        .set_legacy(true);
}

/// Changes the raw document at `node` as `node` itself.
fn raw(net: &mut Network, node: &str, id: &str, f: impl FnOnce(&mut AutoCommit)) {
    let replica = &mut net.node(node).replica;
    let mut doc = replica.take(id).unwrap();
    f(&mut doc);
    doc.commit();
    replica.put_back(id, doc);
    replica.commit(id).unwrap();
    net.run_until_quiet(100_000).unwrap();
}

/// The branch refused something of team-1's for `rule` (a rule name, or "not signed"…), and
/// its copy of `id` has the heads it had before.
fn refused(
    net: &mut Network,
    id: &str,
    before: &[hearth_archive::automerge::ChangeHash],
    what: &str,
) {
    let refusals = net.refusals(BR, T1);
    assert!(
        refusals.iter().any(|r| r.message.contains(what)),
        "expected a refusal saying {what:?}; got {refusals:?}"
    );
    assert_eq!(
        net.node(BR).replica.heads(id).unwrap_or_default(),
        before,
        "nothing of it was applied"
    );
}

fn heads(net: &mut Network, node: &str, id: &str) -> Vec<hearth_archive::automerge::ChangeHash> {
    net.node(node).replica.heads(id).unwrap_or_default()
}

#[test]
fn honest_changes_travel_signed_three_hops_and_are_taken() {
    let (mut net, _) = signed_federation(1);
    let id = shared_case(&mut net);
    net.edit(BR, &id, |c, e| c.report_to(e, EN, "deep hardship"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    net.edit(EN, &id, |c, e| c.report_to(e, MU, "over the threshold"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    // The municipal node holds changes of team-1, the branch and the enterprise, the first two
    // relayed: each checked against its author's certificate, carried along.
    assert_eq!(heads(&mut net, MU, &id), heads(&mut net, T1, &id));
    let kept = net.node(MU).replica.signatures(&id, false).unwrap();
    assert_eq!(kept.kept().len(), 3, "{kept:?}");
    net.edit(T1, &id, |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("v1"))
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    assert_eq!(heads(&mut net, MU, &id), heads(&mut net, T1, &id));
    for (a, b) in [(BR, T1), (EN, BR), (MU, EN), (T1, BR)] {
        assert!(
            net.refusals(a, b).is_empty(),
            "{a} refused {b}: {:?}",
            net.refusals(a, b)
        );
    }
}

#[test]
fn a_change_under_another_nodes_actor_is_refused() {
    let (mut net, _) = signed_federation(2);
    let id = shared_case(&mut net);
    let before = heads(&mut net, BR, &id);
    forge_income(&mut net, &id, BR);
    refused(&mut net, &id, &before, "is not signed by demo.branch");
    assert!(
        net.refusals(BR, T1)
            .iter()
            .all(|r| r.reason == Refusal::Unsigned)
    );
}

#[test]
fn planted_and_squatted_cases_are_refused_and_the_real_case_still_arrives() {
    let (mut net, _) = signed_federation(3);
    // Planted: a case "of team-2's" made at team-1, reported to the branch.
    let bound = hearth_archive::BoundId::new(T2, "planted");
    let planted = bound.id();
    let t1 = net.node(T1).actor().clone();
    let mut case = Case::create(&bound, t1, &editor(T2), &fields(5)(T1)).unwrap();
    case.report_to(&editor(T2), T1, "to the sibling").unwrap();
    case.report_to(&editor(T1), BR, "filed").unwrap();
    net.node(T1)
        .replica
        .insert(&planted, case.into_doc())
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    refused(
        &mut net,
        &planted,
        &[],
        "rule home_creates: demo.team-1 created case",
    );
    // Squatted: team-1 takes the id team-2's next case will have, as its own.
    let real = hearth_archive::BoundId::new(T2, "next");
    let t1 = net.node(T1).actor().clone();
    let mut squat = Case::create_legacy(&real.id(), T1, t1, &editor(T1), &fields(6)(T1)).unwrap();
    squat.report_to(&editor(T1), BR, "filed").unwrap();
    net.node(T1)
        .replica
        .insert(&real.id(), squat.into_doc())
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    refused(
        &mut net,
        &real.id(),
        &[],
        "is not bound to its home demo.team-1",
    );
    // The real case then reaches the branch.
    let id = net.open_case(T2, "next", fields(6)).unwrap();
    assert_eq!(id, real.id());
    net.edit(T2, &id, |c, e| c.report_to(e, BR, "filed"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    assert_eq!(heads(&mut net, BR, &id), heads(&mut net, T2, &id));
}

/// A federation of its own (the hostile replica keeps what it forged) with a shared case on
/// which the branch paid aid `aid-br`; the case id and the branch's heads.
fn with_branch_aid(seed: u64) -> (Network, String, Vec<hearth_archive::automerge::ChangeHash>) {
    let (mut net, _) = signed_federation(seed);
    let id = shared_case(&mut net);
    net.edit(BR, &id, |c, e| {
        c.add_assistance(e, &aid("aid-br", 2_000_00))
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    let before = heads(&mut net, BR, &id);
    (net, id, before)
}

#[test]
fn entries_naming_another_node_or_changing_anothers_are_refused() {
    // A decision in the municipal node's name.
    let (mut net, id, before) = with_branch_aid(4);
    let t1 = net.node(T1).actor().clone();
    forge(&mut net, T1, &id, MU, t1, |c, e| {
        c.decide(e, Decision::Approve, "").unwrap();
    });
    refused(
        &mut net,
        &id,
        &before,
        "rule entry_by_its_node: demo.team-1 wrote an entry of approvals",
    );
    // Aid the branch paid: its amount changed.
    let (mut net, id, before) = with_branch_aid(14);
    raw(&mut net, T1, &id, |d| {
        let aid = d.get(ROOT, "assistance").unwrap().unwrap().1;
        let entry = d.get(&aid, "aid-br").unwrap().unwrap().1;
        d.put(&entry, "amount_fen", 9_000_00_i64).unwrap();
    });
    refused(
        &mut net,
        &id,
        &before,
        "demo.team-1 changed an entry of assistance in case",
    );
    // The entry deleted.
    let (mut net, id, before) = with_branch_aid(5);
    raw(&mut net, T1, &id, |d| {
        let aid = d.get(ROOT, "assistance").unwrap().unwrap().1;
        d.delete(&aid, "aid-br").unwrap();
    });
    refused(
        &mut net,
        &id,
        &before,
        "rule append_only: an entry of assistance",
    );
    // Aid "paid by the enterprise", recorded at team-1.
    let (mut net, id, before) = with_branch_aid(6);
    net.edit(T1, &id, |c, e| {
        let mut a = aid("aid-x", 1_000_00);
        a.paying_node = Some(EN.into());
        c.add_assistance(e, &a)
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    refused(&mut net, &id, &before, "rule aid_by_payer");
    // An escalation step "from the enterprise".
    let (mut net, id, before) = with_branch_aid(7);
    raw(&mut net, T1, &id, |d| {
        let esc = d.get(ROOT, "escalation").unwrap().unwrap().1;
        let trail = d.get(&esc, "trail").unwrap().unwrap().1;
        let n = d.length(&trail);
        let step = d
            .insert_object(&trail, n, hearth_archive::automerge::ObjType::Map)
            .unwrap();
        d.put(&step, "from", EN).unwrap();
        d.put(&step, "to", MU).unwrap();
    });
    refused(&mut net, &id, &before, "rule trail_by_from");
}

/// A "copy from a duplicate archive" naming another payer is the copier's entry: taken as its
/// claim and shown as a copy, never as the payer's own record; in the payer's name it is refused.
#[test]
fn aid_copied_from_a_duplicate_is_the_copiers_claim() {
    let (mut net, id, _) = with_branch_aid(15);
    net.edit(T1, &id, |c, e| {
        c.add_assistance(e, &aid("aid-copy", 700_00))
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    raw(&mut net, T1, &id, |d| {
        let aid = d.get(ROOT, "assistance").unwrap().unwrap().1;
        let entry = d.get(&aid, "aid-copy").unwrap().unwrap().1;
        d.put(&entry, "paying_node", EN).unwrap();
        d.put(&entry, "merged_node", EN).unwrap();
        d.put(&entry, "merged_from", "HC-elsewhere").unwrap();
    });
    assert!(
        net.refusals(BR, T1).is_empty(),
        "{:?}",
        net.refusals(BR, T1)
    );
    let doc = net.node(BR).replica.take(&id).unwrap();
    let case = Case::from_doc(doc.clone(), doc.get_actor().clone()).unwrap();
    net.node(BR).replica.put_back(&id, doc);
    let copy = case
        .view()
        .unwrap()
        .assistance
        .into_iter()
        .find(|a| a.id == "aid-copy")
        .unwrap();
    assert_eq!(copy.node.as_deref(), Some(T1), "the copier's entry");
    assert_eq!(copy.merged_from.as_deref(), Some("HC-elsewhere"));
    // The same copy claiming to be the enterprise's own entry.
    let before = heads(&mut net, BR, &id);
    raw(&mut net, T1, &id, |d| {
        let aid = d.get(ROOT, "assistance").unwrap().unwrap().1;
        let entry = d
            .put_object(&aid, "aid-copy-2", hearth_archive::automerge::ObjType::Map)
            .unwrap();
        d.put(&entry, "kind", "medical").unwrap();
        d.put(&entry, "amount_fen", 700_00_i64).unwrap();
        d.put(&entry, "date", "2026-05-01").unwrap();
        d.put(&entry, "paying_node", EN).unwrap();
        d.put(&entry, "node", EN).unwrap();
        d.put(&entry, "merged_from", "HC-elsewhere").unwrap();
    });
    refused(&mut net, &id, &before, "rule entry_by_its_node");
}

#[test]
fn a_participant_who_is_not_the_authors_neighbour_is_refused() {
    let (mut net, _) = signed_federation(8);
    let id = shared_case(&mut net);
    let before = heads(&mut net, BR, &id);
    net.edit(T1, &id, |c, e| c.report_to(e, T2, "to my sibling"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    refused(
        &mut net,
        &id,
        &before,
        "rule participant_by_neighbour: demo.team-1 added demo.team-2",
    );
    assert!(!net.node(T2).replica.holds(&id));
}

#[test]
fn a_forgery_let_through_in_an_upgrade_window_is_refused_at_the_next_hop() {
    let (mut net, _) = signed_federation(9);
    let id = shared_case(&mut net);
    net.edit(BR, &id, |c, e| c.report_to(e, EN, "deep hardship"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    // The branch is in its upgrade window (it takes unsigned changes); the enterprise is not.
    open_window(&mut net, BR);
    let before = heads(&mut net, EN, &id);
    forge_income(&mut net, &id, EN);
    assert_eq!(
        heads(&mut net, BR, &id),
        heads(&mut net, T1, &id),
        "taken at the branch"
    );
    let refusals = net.refusals(EN, BR);
    assert!(
        refusals.iter().any(|r| r.reason == Refusal::Unsigned
            && r.message.contains("is not signed by demo.enterprise")),
        "{refusals:?}"
    );
    assert_eq!(heads(&mut net, EN, &id), before);
}

#[test]
fn even_in_its_upgrade_window_a_node_takes_no_unsigned_change_in_its_own_name() {
    let (mut net, _) = signed_federation(11);
    let id = shared_case(&mut net);
    open_window(&mut net, BR);
    let before = heads(&mut net, BR, &id);
    let branch_actor = net.node(BR).actor().clone();
    forge(&mut net, T1, &id, BR, branch_actor, |c, e| {
        c.add_assistance(e, &aid("aid-as-branch", 5_000_00))
            .unwrap()
    });
    refused(&mut net, &id, &before, "is not signed by demo.branch");
}

#[test]
fn a_bundle_with_a_forged_or_unsigned_change_is_refused_whole() {
    use hearth_sync::bundle;
    let (mut net, _) = signed_federation(10);
    let id = shared_case(&mut net);
    let other = net.open_case(T1, "n2", fields(2)).unwrap();
    net.edit(T1, &other, |c, e| c.report_to(e, BR, "filed"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    net.cut(T1, BR);
    // Offline, team-1 writes an honest visit to one case and forges the branch's actor on the
    // other.
    net.edit(T1, &other, |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("v9"))
    })
    .unwrap();
    let branch_actor = net.node(BR).actor().clone();
    forge(&mut net, T1, &id, BR, branch_actor, |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("v-forged"))
            .unwrap()
    });
    let forged = bundle::export(&mut net.node(T1).replica, BR, false).unwrap();
    assert_eq!(forged.docs.len(), 2);
    let before = (heads(&mut net, BR, &id), heads(&mut net, BR, &other));
    let e = bundle::import(&mut net.node(BR).replica, &forged)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not signed by demo.branch"), "{e}");
    assert!(e.contains("nothing of the bundle was applied"), "{e}");
    assert_eq!(
        (heads(&mut net, BR, &id), heads(&mut net, BR, &other)),
        before
    );
    // An honest bundle with a signature stripped is refused too.
    let mut honest = bundle::export(&mut net.node(T1).replica, BR, false).unwrap();
    honest.docs.retain(|d| d.id == other);
    honest.docs[0].signatures.clear();
    let e = bundle::import(&mut net.node(BR).replica, &honest)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not signed by demo.team-1"), "{e}");
    assert_eq!(heads(&mut net, BR, &other), before.1);
    // With its signature the same document is taken.
    let mut honest = bundle::export(&mut net.node(T1).replica, BR, false).unwrap();
    honest.docs.retain(|d| d.id == other);
    bundle::import(&mut net.node(BR).replica, &honest).unwrap();
    assert_eq!(heads(&mut net, BR, &other), heads(&mut net, T1, &other));
}

#[test]
fn a_reconnect_with_nothing_changed_is_two_hellos_once_each_side_holds_the_others_certificate() {
    let (mut net, ca) = signed_federation(14);
    let id = shared_case(&mut net);
    net.edit(BR, &id, |c, e| c.report_to(e, EN, "deep hardship"))
        .unwrap();
    net.run_until_quiet(100_000).unwrap();
    for _ in 0..2 {
        net.cut(T1, BR);
        net.cut(BR, EN);
        net.heal(T1, BR);
        net.heal(BR, EN);
        let before = net.traffic();
        net.run_until_quiet(100_000).unwrap();
        let after = net.traffic();
        assert_eq!(
            after.frames - before.frames,
            4,
            "two hellos on each of two links"
        );
    }
    // A certificate reissued since (a new key) is sent at the next hello, as the branch holds
    // another one, and the changes signed with the new key are taken.
    let reissued = keyring(&ca, T1, "team", &[BR]);
    net.node(T1).replica.set_keyring(reissued);
    net.cut(T1, BR);
    net.heal(T1, BR);
    net.run_until_quiet(100_000).unwrap();
    net.edit(T1, &id, |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("after the new key"))
    })
    .unwrap();
    net.run_until_quiet(100_000).unwrap();
    assert_eq!(heads(&mut net, EN, &id), heads(&mut net, T1, &id));
    assert!(
        net.refusals(BR, T1).is_empty(),
        "{:?}",
        net.refusals(BR, T1)
    );
}

#[test]
fn a_peer_of_an_older_minor_version_is_sent_no_certificates() {
    use hearth_sync::{Frame, Hello, PROTOCOL_MAJOR, Session, SessionConfig};
    let (mut net, _) = signed_federation(12);
    let hello = |minor| {
        Frame::Hello(Hello {
            node: T1.into(),
            major: PROTOCOL_MAJOR,
            minor,
            epoch: 1,
            resume: None,
            knows: Vec::new(),
        })
    };
    for (minor, sent) in [(1, false), (2, true)] {
        let mut session = Session::new(T1, SessionConfig::default());
        let replica = &mut net.node(BR).replica;
        let mut out = session.open(replica);
        out.extend(session.receive(hello(minor), replica));
        let certificates = out.iter().any(|f| matches!(f, Frame::Certificates(_)));
        assert_eq!(certificates, sent, "minor {minor}: {out:?}");
    }
}

#[test]
fn signed_catch_up_after_a_cold_sync_of_many_cases_goes_quiet() {
    let (mut net, _) = signed_federation(13);
    let mut ids = Vec::new();
    for n in 0..600 {
        let id = net.open_case(T1, &format!("many-{n}"), fields(n)).unwrap();
        net.edit(T1, &id, |c, e| c.report_to(e, BR, "filed"))
            .unwrap();
        ids.push(id);
    }
    net.run_until_quiet(1_000_000).unwrap();
    net.cut(T1, BR);
    net.edit(T1, &ids[7], |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("late"))
    })
    .unwrap();
    net.heal(T1, BR);
    net.run_until_quiet(1_000_000).unwrap();
    assert_eq!(heads(&mut net, BR, &ids[7]), heads(&mut net, T1, &ids[7]));
}

#[test]
fn a_signature_found_good_is_remembered_only_for_what_it_signs() {
    // Signatures are checked ahead on the network's thread and remembered: the memory must
    // vouch for exactly the document, node and change that were checked, and never for a
    // signature that failed.
    let ca = ca();
    let t1 = keyring(&ca, T1, "team", &[BR]);
    let t2 = keyring(&ca, T2, "team", &[BR]);
    let br = keyring(&ca, BR, "branch", &[EN]);
    let mut here = br.write().unwrap();
    for k in [&t1, &t2] {
        let chain = k.read().unwrap().own_chain().unwrap().to_vec();
        here.learn(&chain).unwrap();
    }
    let hash = hearth_archive::automerge::ChangeHash([7; 32]);
    let sig = t1.read().unwrap().sign("c1", &hash).unwrap();
    let mut forged = sig.clone();
    forged.sig[10] ^= 1;
    assert!(here.verify("c1", T1, &forged).is_err());
    assert!(
        here.verify("c1", T1, &forged).is_err(),
        "a bad one is not remembered"
    );
    here.verify("c1", T1, &sig).unwrap();
    here.verify("c1", T1, &sig).unwrap();
    assert!(here.verify("c2", T1, &sig).is_err(), "another document");
    assert!(here.verify("c1", T2, &sig).is_err(), "another node");
    let other = hearth_archive::signed::ChangeSig {
        hash: hearth_archive::automerge::ChangeHash([8; 32]),
        sig: sig.sig.clone(),
    };
    assert!(here.verify("c1", T1, &other).is_err(), "another change");
}
