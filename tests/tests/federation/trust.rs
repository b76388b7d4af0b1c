//! DESIGN §4a over real gRPC and mutual TLS: team-1 is compromised — its node is stopped, and an
//! attacker holds its key and certificate from the federation CA — and tries each attack of
//! `hearth_tests::hostile::forgery` against the branch. Every one is refused with its rule and
//! changes nothing at any holder; the honest team-1 then goes on.

use hearth_node::local::{BRANCH as BR, ENTERPRISE as EN, TEAM_1 as T1, TEAM_2 as T2};
use hearth_node::tls;
use hearth_sync::{Frame, Refusal};
use hearth_tests::hostile::{self, Heard, Peer};
use hearth_tests::{create_case, edit, heads, wait_for};

use super::{aid, connected, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_team_can_neither_forge_nor_widen_what_it_holds() {
    let mut fed = start().await;
    connected(&fed).await;
    let case = create_case(&fed.t1, "trust", 7).await;
    edit(&fed.t1, case, |c, e| {
        c.file(e)?;
        c.report_to(e, BR, "filed")
    })
    .await;
    wait_for("the case at the branch", 20, || async {
        heads(&fed.br, case).await.is_some()
    })
    .await;
    edit(&fed.br, case, |c, e| {
        c.add_assistance(e, &aid("aid-br", 2_000_00))
    })
    .await;
    wait_for("the branch's aid at team-1", 20, || async {
        heads(&fed.t1, case).await == heads(&fed.br, case).await
    })
    .await;
    let bytes = fed
        .br
        .node()
        .unwrap()
        .local(move |r| {
            hearth_sync::Replica::doc(r, case)
                .unwrap()
                .map(|d| d.save())
        })
        .await
        .unwrap()
        .unwrap();

    // team-1's node stops; its key and a certificate the CA issued to it are the attacker's.
    fed.t1.stop().await;
    let place = tls::Place {
        level: "team".into(),
        parents: vec![BR.into()],
    };
    let identity = hearth_node::Identity::from_pem(
        &fed.ca.cert,
        &tls::issue(&fed.ca, T1, Some(&place)).unwrap(),
    )
    .unwrap();
    let addr = fed.br.node().unwrap().addr().unwrap().to_string();
    let before = (heads(&fed.br, case).await, heads(&fed.en, case).await);
    let mut peer = Peer::open(&addr, BR, &identity, T1).await.unwrap();
    for (attack, reason, says) in [
        (
            "forge-actor",
            Refusal::Unsigned,
            "demo.branch over its change",
        ),
        (
            "plant",
            Refusal::Forbidden,
            "rule home_creates: demo.team-1 created case",
        ),
        ("squat", Refusal::Forbidden, "rule home_creates: case id"),
        (
            "approval",
            Refusal::Forbidden,
            "rule entry_by_its_node: demo.team-1 wrote an entry of approvals",
        ),
        (
            "participant",
            Refusal::Forbidden,
            "rule participant_by_neighbour: demo.team-1 added demo.team-2",
        ),
        (
            "rewrite",
            Refusal::Forbidden,
            "rule append_only: an entry of the escalation trail",
        ),
    ] {
        let (id, mut doc) =
            hostile::forgery(attack, T1, BR, T2, EN, Some((case, bytes.as_slice()))).unwrap();
        let frame = Frame::Sync {
            signatures: hostile::sign(&identity, &id, &mut doc),
            message: hostile::whole_doc_message(&mut doc),
            doc: id.clone(),
        };
        assert!(peer.send(frame).await, "{attack}: the branch hung up");
        match peer.hear(Some(&id), 20).await {
            Heard::Refused(_, r, message) => {
                assert_eq!(r, reason, "{attack}: {message}");
                assert!(
                    message.contains(says),
                    "{attack}: {message:?} does not say {says:?}"
                );
            }
            other => panic!("{attack}: expected a refusal, heard {other:?}"),
        }
        if id != case {
            assert!(
                heads(&fed.br, &id).await.is_none(),
                "{attack}: nothing kept"
            );
        }
    }
    drop(peer);
    assert_eq!(
        (heads(&fed.br, case).await, heads(&fed.en, case).await),
        before,
        "every holder's copy is as it was"
    );
    assert!(
        heads(&fed.t2, case).await.is_none(),
        "the sibling holds nothing"
    );
    let refused = fed.br.node().unwrap().status().await.unwrap();
    let listed: usize = refused
        .iter()
        .filter(|p| p.id == T1)
        .map(|p| p.refusals.len())
        .sum();
    assert!(
        listed >= 6,
        "the branch lists the refusals for its admins: {refused:?}"
    );
    let metrics = fed.br.node().unwrap().metrics();
    for (rule, at_least) in [
        ("signature", 1),
        ("home_creates", 2),
        ("entry_by_its_node", 1),
        ("participant_by_neighbour", 1),
        ("append_only", 1),
    ] {
        assert!(metrics.changes_refused(rule) >= at_least, "{rule} counted");
    }

    // The honest team-1 comes back and goes on.
    fed.t1.start().await.unwrap();
    edit(&fed.t1, case, |c, e| {
        c.add_visit(e, &hearth_archive::NewVisit::sample("after"))
    })
    .await;
    wait_for("team-1's honest change at the branch", 20, || async {
        heads(&fed.br, case).await == heads(&fed.t1, case).await
    })
    .await;
    assert!(
        heads(&fed.mu, case).await.is_none(),
        "nothing went further up"
    );
    fed.stop().await;
}
