//! A real five-node federation over tonic and mutual TLS on loopback: team-1 and team-2 under
//! one branch, then enterprise, then municipal. Escalation reaches exactly the participants,
//! offline edits converge after the middle node comes back, and peers the federation does not
//! know are refused at the TLS handshake.

use std::sync::Arc;

use hearth_archive::{AssistanceKind, Level, NewAssistance};
use std::time::Duration;

use hearth_node::Relation::Child;
use hearth_node::local::{
    BRANCH as BR, ENTERPRISE as EN, Federation, MUNICIPAL as MU, TEAM_1 as T1, TEAM_2 as T2,
};
use hearth_node::tls::{self, Pem};
use hearth_tests::{LocalNode, create_case, edit, heads, peer, wait_for};

#[path = "federation/trust.rs"]
mod trust;

async fn start() -> Federation {
    Federation::start(tls::new_ca("test").unwrap())
        .await
        .unwrap()
}

async fn connected(fed: &Federation) {
    assert!(
        fed.connected(Duration::from_secs(20)).await,
        "not every node reached its neighbours"
    );
}

/// Which nodes hold the case, and whether they all have the same heads.
async fn holders(fed: &Federation, case: &str) -> (Vec<String>, bool) {
    let all = fed.holders(case).await.unwrap();
    let mut held: Vec<String> = all
        .iter()
        .filter(|(_, h)| h.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    held.sort();
    let distinct: std::collections::BTreeSet<_> = all.iter().filter_map(|(_, h)| *h).collect();
    (held, distinct.len() <= 1)
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn aid(id: &str, fen: i64) -> NewAssistance {
    NewAssistance {
        id: id.into(),
        kind: AssistanceKind::Living,
        amount_fen: fen,
        date: hearth_archive::jiff::civil::date(2026, 5, 1),
        paying_node: None,
        approving_node: None,
        note: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_reaches_exactly_the_participants_and_offline_edits_converge() {
    let mut fed = start().await;
    connected(&fed).await;

    let c1 = create_case(&fed.t1, "c1", 1).await;
    let c2 = create_case(&fed.t2, "c2", 2).await;
    edit(&fed.t1, c1, |c, e| {
        c.report_to(e, BR, "filed: report to the branch")
    })
    .await;
    wait_for("c1 at the branch", 20, || async {
        heads(&fed.br, c1).await.is_some()
    })
    .await;
    edit(&fed.br, c1, |c, e| c.report_to(e, EN, "deep hardship")).await;
    wait_for("c1 at the enterprise", 20, || async {
        heads(&fed.en, c1).await.is_some()
    })
    .await;
    edit(&fed.en, c1, |c, e| {
        c.report_to(e, MU, "medical costs over the municipal threshold")
    })
    .await;
    edit(&fed.t2, c2, |c, e| c.report_to(e, BR, "filed")).await;
    wait_for("c1 everywhere it was reported, identical", 20, || async {
        holders(&fed, c1).await == (sorted(&[T1, BR, EN, MU]), true)
    })
    .await;
    wait_for("c2 at the branch", 20, || async {
        holders(&fed, c2).await == (sorted(&[T2, BR]), true)
    })
    .await;
    assert!(
        heads(&fed.t2, c1).await.is_none(),
        "team-2 never holds team-1's case"
    );
    assert!(heads(&fed.t1, c2).await.is_none());
    assert!(heads(&fed.en, c2).await.is_none());

    // The branch goes down; team-1 and the enterprise both change the case meanwhile.
    fed.br.stop().await;
    edit(&fed.t1, c1, |c, e| {
        c.add_assistance(e, &aid("from-team", 500_00))
    })
    .await;
    edit(&fed.en, c1, |c, e| {
        c.add_assistance(e, &aid("from-enterprise", 2_000_00))
    })
    .await;
    wait_for("the enterprise's edit at municipal", 20, || async {
        heads(&fed.mu, c1).await == heads(&fed.en, c1).await
    })
    .await;
    assert_ne!(heads(&fed.t1, c1).await, heads(&fed.en, c1).await);

    // It comes back on the same data dir and port; everyone converges.
    fed.br.start().await.unwrap();
    wait_for("c1 to converge after the branch returns", 30, || async {
        holders(&fed, c1).await == (sorted(&[T1, BR, EN, MU]), true)
    })
    .await;
    let total = fed
        .t1
        .node()
        .unwrap()
        .local(|r| {
            r.case_mut(c1)
                .unwrap()
                .unwrap()
                .view()
                .unwrap()
                .assistance_total_fen
        })
        .await
        .unwrap();
    assert_eq!(total, 2_500_00);
    fed.stop().await;
}

/// A TLS client with this CA and certificate; returns whether a gRPC-level exchange worked.
async fn handshake_works(addr: std::net::SocketAddr, server: &str, ca: &Pem, client: &Pem) -> bool {
    let identity = hearth_node::Identity::from_pem(&ca.cert, client).unwrap();
    let config = Arc::new(identity.client_config().unwrap());
    let connector = tokio_rustls::TlsConnector::from(config);
    let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let name = rustls::pki_types::ServerName::try_from(server.to_owned()).unwrap();
    let Ok(mut tls) = connector.connect(name, tcp).await else {
        return false;
    };
    // In TLS 1.3 the server checks the client certificate after the client finishes: a refusal
    // arrives as an alert on the first read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if tls
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 9];
    matches!(tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut buf)).await, Ok(Ok(n)) if n > 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_at_the_handshake() {
    let ca = tls::new_ca("test").unwrap();
    let mut br = LocalNode::new(BR, Level::Branch, &ca, vec![peer(T1, Child, None)]).unwrap();
    br.start().await.unwrap();
    let addr = br.node().unwrap().addr().unwrap();

    let t1 = tls::issue(&ca, T1, None).unwrap();
    assert!(
        handshake_works(addr, BR, &ca, &t1).await,
        "a configured child gets in"
    );

    let other_ca = tls::new_ca("elsewhere").unwrap();
    let forged = tls::issue(&other_ca, T1, None).unwrap();
    assert!(
        !handshake_works(addr, BR, &ca, &forged).await,
        "a certificate from another CA is refused"
    );

    let stranger = tls::issue(&ca, "demo.team-9", None).unwrap();
    assert!(
        !handshake_works(addr, BR, &ca, &stranger).await,
        "a node that is not a neighbour is refused"
    );

    let status = br.node().unwrap().status().await.unwrap();
    assert_eq!(status.len(), 1);
    br.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_target_is_forwarded_level_by_level() {
    let mut fed = start().await;
    connected(&fed).await;
    let c3 = create_case(&fed.t1, "c3", 3).await;
    edit(&fed.t1, c3, |c, e| {
        c.set_escalation_target(
            e,
            Level::Municipal,
            "medical costs 120,000 over the municipal threshold",
        )?;
        c.report_to(e, BR, "filed")
    })
    .await;
    wait_for(
        "c3 forwarded up to municipal, identical everywhere",
        20,
        || async { holders(&fed, c3).await == (sorted(&[T1, BR, EN, MU]), true) },
    )
    .await;
    assert!(heads(&fed.t2, c3).await.is_none());
    let trail = fed
        .mu
        .node()
        .unwrap()
        .local(|r| {
            r.case_mut(c3)
                .unwrap()
                .unwrap()
                .view()
                .unwrap()
                .escalation
                .trail
        })
        .await
        .unwrap();
    let hops: Vec<(String, String)> = trail
        .iter()
        .map(|s| (s.from.clone().unwrap(), s.to.clone().unwrap()))
        .collect();
    assert_eq!(
        hops,
        [
            (T1.into(), BR.into()),
            (BR.into(), EN.into()),
            (EN.into(), MU.into())
        ]
    );
    fed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_from_a_non_participant_are_refused_over_the_wire_and_nothing_is_kept() {
    use hearth_proto::v1::SyncFrame;
    use hearth_sync::{Frame, Hello, PROTOCOL_MAJOR, Refusal};
    use tokio_stream::StreamExt;

    let mut fed = start().await;
    connected(&fed).await;
    let c4 = create_case(&fed.t1, "c4", 4).await;
    edit(&fed.t1, c4, |c, e| c.report_to(e, BR, "filed")).await;
    wait_for("c4 at the branch", 20, || async {
        heads(&fed.br, c4).await.is_some()
    })
    .await;
    let before = heads(&fed.br, c4).await;

    // team-2 has a valid certificate and is the branch's child, but not a participant of c4.
    let bytes = fed
        .br
        .node()
        .unwrap()
        .local(|r| hearth_sync::Replica::doc(r, c4).unwrap().map(|d| d.save()))
        .await
        .unwrap()
        .unwrap();
    let mut forged =
        hearth_archive::Case::load(&bytes, hearth_archive::actor_id(T2, &[9])).unwrap();
    forged
        .add_assistance(
            &hearth_node::local::editor(T2, "intruder"),
            &aid("forged", 9_999_00),
        )
        .unwrap();
    let message = hearth_tests::hostile::whole_doc_message(&mut forged.into_doc());

    let t2_identity =
        hearth_node::Identity::from_pem(&fed.ca.cert, &tls::issue(&fed.ca, T2, None).unwrap())
            .unwrap();
    let addr = fed.br.node().unwrap().addr().unwrap().to_string();
    let channel =
        hearth_node::net::connect(BR, &addr, Arc::new(t2_identity.client_config().unwrap()))
            .await
            .unwrap();
    let mut client = hearth_node::net::federation_client(channel);
    let frames = vec![
        Frame::Hello(Hello {
            node: T2.into(),
            major: PROTOCOL_MAJOR,
            minor: 0,
            epoch: 1,
            resume: None,
            knows: Vec::new(),
        }),
        Frame::Sync {
            signatures: Vec::new(),
            doc: c4.into(),
            message,
        },
    ];
    // Like a real peer, keep the stream open while waiting for the answer.
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    for frame in frames {
        tx.send(SyncFrame::from(frame)).await.unwrap();
    }
    let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut inbound = client.sync(outbound).await.unwrap().into_inner();
    let mut refused = None;
    while let Some(Ok(pb)) = inbound.next().await {
        if let Ok(Frame::Refused {
            doc,
            reason,
            message,
        }) = Frame::try_from(pb)
        {
            refused = Some((doc, reason, message));
            break;
        }
    }
    drop(tx);
    let (doc, reason, message) = refused.expect("a refusal comes back");
    assert_eq!((doc.as_str(), reason), (c4, Refusal::OutOfScope));
    assert!(message.contains("not shared"), "{message}");
    assert_eq!(
        heads(&fed.br, c4).await,
        before,
        "nothing of it was applied"
    );
    let total = fed
        .br
        .read(c4, |c| c.view().unwrap().assistance_total_fen)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total, 0);
    fed.stop().await;
}

/// An `Archive` client over mTLS with a certificate for `name` signed by `ca`; `None` when the
/// connection is refused.
async fn archive_client(
    node: &LocalNode,
    ca: &Pem,
    signer: &Pem,
    name: &str,
) -> Option<hearth_node::archive_api::ArchiveRemote> {
    let identity =
        hearth_node::Identity::from_pem(&ca.cert, &tls::issue(signer, name, None).unwrap())
            .unwrap();
    let addr = node.node().unwrap().addr().unwrap().to_string();
    let channel =
        hearth_node::net::connect(&node.id, &addr, Arc::new(identity.client_config().unwrap()))
            .await
            .ok()?;
    Some(hearth_node::archive_api::ArchiveRemote::new(channel, ""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_and_change_cases_over_mtls_and_no_one_else_does() {
    use hearth_archive::CaseForm;
    use hearth_ops::{ListFilter, Write};
    use tonic::Code;

    let ca = tls::new_ca("test").unwrap();
    let mut br = LocalNode::new(BR, Level::Branch, &ca, vec![peer(T1, Child, None)]).unwrap();
    br.admit("console.ops");
    br.start().await.unwrap();

    let mut admin = archive_client(&br, &ca, &ca, "console.ops").await.unwrap();
    let form = CaseForm {
        name: Some("王建国".into()),
        id_number: Some(hearth_archive::identity::sample_id_number(7)),
        household_size: Some("3".into()),
        annual_income: Some("30000".into()),
        rigid_spending: Some("6000".into()),
        subsistence_line: Some("800".into()),
        primary_cause: Some("serious_illness".into()),
        ..CaseForm::default()
    };
    let (made, _) = admin
        .write(Write::NewCase { form: form.clone() })
        .await
        .unwrap();
    let id = made.case.id.clone();
    assert_eq!(made.case.created_by.as_deref(), Some("console.ops"));
    admin
        .fund_write(hearth_ops::FundWrite::Income {
            source: "budget".into(),
            amount: "10000".into(),
            date: "2026-01-05".into(),
            note: None,
        })
        .await
        .unwrap();
    // Emergency relief (临时救助): the one kind paid before a case is filed.
    let aid = Write::AddAssistance {
        case: id[..6].to_owned(),
        kind: "emergency".into(),
        amount: "1500".into(),
        date: "2026-05-01".into(),
        paying_node: None,
        approving_node: None,
        note: None,
    };
    admin.write(aid.clone()).await.unwrap();
    let (shown, _) = admin.get(&id).await.unwrap();
    assert_eq!(shown.assistance_total_fen, 1500_00);
    assert_eq!(
        admin
            .list_page(ListFilter::default(), Default::default())
            .await
            .unwrap()
            .items[0]
            .id,
        id
    );
    assert!(heads(&br, &id).await.is_some(), "stored at the node");

    // Bad input is refused with the field named, and nothing is written.
    let before = heads(&br, &id).await;
    let Write::AddAssistance {
        case, kind, date, ..
    } = aid
    else {
        unreachable!()
    };
    let bad = Write::AddAssistance {
        case,
        kind,
        amount: "-5".into(),
        date,
        paying_node: None,
        approving_node: None,
        note: None,
    };
    let err = admin.write(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("amount"), "{}", err.message());
    let err = admin.write(Write::NewCase { form }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "one household, one file");
    assert_eq!(heads(&br, &id).await, before);
    assert_eq!(
        admin
            .list_page(ListFilter::default(), Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let err = admin.get("ffffffff").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // An import streams in pieces of at most IMPORT_PIECE rows and is written only once its
    // last piece came: one cut off, one with an oversized piece and one whose pieces name two
    // people write nothing, so the same rows import afterwards (one household, one file).
    use hearth_node::archive_api::IMPORT_PIECE;
    use hearth_proto::archive::import_to;
    let rows: Vec<hearth_ops::ImportRow> = (0..2_500u32)
        .map(|n| hearth_ops::ImportRow {
            line: u64::from(n) + 2,
            form: self::form(100 + n, None),
            ..hearth_ops::ImportRow::default()
        })
        .collect();
    let pieces = |sizes: &[usize], by: &[&str], last: bool| {
        let mut rest = rows.iter().cloned();
        let n = sizes.len();
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let piece = rest.by_ref().take(*size).collect();
                import_to(piece, by[i % by.len()].to_owned(), last && i + 1 == n)
            })
            .collect::<Vec<_>>()
    };
    let refusals = [
        (
            pieces(&[1000, 1000, 500], &[""], false),
            Code::Aborted,
            "cut off",
        ),
        (
            pieces(&[1000, IMPORT_PIECE + 1], &[""], true),
            Code::InvalidArgument,
            "at most 1000 rows",
        ),
        (
            pieces(&[1000, 1000, 500], &["", "someone else"], true),
            Code::InvalidArgument,
            "same `by`",
        ),
        (Vec::new(), Code::InvalidArgument, "sent no rows"),
    ];
    for (sent, code, words) in refusals {
        let err = admin
            .import_pieces(tokio_stream::iter(sent))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
        assert!(err.message().contains(words), "{}", err.message());
    }
    assert_eq!(heads(&br, &id).await, before);
    let ids = admin.import(rows.clone()).await.unwrap();
    assert_eq!(ids.len(), 2_500);
    let (last, _) = admin.get(&ids[2_499]).await.unwrap();
    assert_eq!(last.worker.name, rows[2_499].form.name);

    // A neighbour may sync but is no admin; a stranger does not get through the handshake.
    let mut child = archive_client(&br, &ca, &ca, T1).await.unwrap();
    let err = child.get(&id).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let other_ca = tls::new_ca("other").unwrap();
    let refused = match archive_client(&br, &ca, &other_ca, "console.ops").await {
        None => true,
        Some(mut c) => c.get(&id).await.is_err(),
    };
    assert!(refused, "a certificate of another CA is refused");
    br.stop().await;
}

/// Runs an archive operation at `node` as caseworker li, unwrapping both layers.
async fn op<R: Send + 'static>(
    node: &LocalNode,
    f: impl FnOnce(
        &mut hearth_node::StoreReplica,
        &hearth_ops::Ctx<'_>,
    ) -> Result<R, hearth_ops::OpError>
    + Send
    + 'static,
) -> R {
    node.archive("caseworker li", f).await.unwrap().unwrap()
}

fn form(n: u32, medical_costs: Option<&str>) -> hearth_archive::CaseForm {
    hearth_archive::CaseForm {
        name: Some(format!("职工{n:02}号")),
        id_number: Some(hearth_archive::identity::sample_id_number(n)),
        household_size: Some("3".into()),
        // 40,000 less 6,000 over 12 months and 3 people is 944 a month: relative hardship.
        annual_income: Some("40000".into()),
        rigid_spending: Some("6000".into()),
        subsistence_line: Some("800".into()),
        primary_cause: Some(
            if n.is_multiple_of(2) {
                "serious_illness"
            } else {
                "laid_off"
            }
            .into(),
        ),
        medical_costs: medical_costs.map(str::to_owned),
        phone: Some(format!("1390000{n:04}")),
        address: Some(format!("开元路{n}号")),
        ..hearth_archive::CaseForm::default()
    }
}

/// Issue 4's scenario: the policy set at the top flows down; a team files 20 cases, the policy
/// sends 3 to municipal and the team escalates them; municipal totals equal the teams' own
/// figures; a return and an approval at the enterprise reach the team; the disclosure carries
/// no name, ID number, address or phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn union_work_flows_up_and_down_the_federation() {
    use hearth_ops::{self as archive, FundWrite, ListFilter, Write};
    let mut fed = start().await;
    connected(&fed).await;

    // The top node sets the policy: yearly medical costs from 80,000 go to municipal.
    let file = archive::parse_policy_file(
        "effective_from = \"2026-01-01\"\n[escalation]\nmedical_yearly = \"80000\"\n",
    )
    .unwrap();
    let set = op(&fed.mu, move |r, ctx| archive::set_policy(r, ctx, &file)).await;
    assert_eq!(set.version, 1);
    let refused = fed
        .t1
        .archive("x", |r, ctx| {
            let file = archive::parse_policy_file("").unwrap();
            archive::set_policy(r, ctx, &file)
        })
        .await
        .unwrap();
    assert!(refused.is_err(), "only the top node sets the policy");
    wait_for("the policy to reach team-1", 20, || async {
        op(&fed.t1, |r, _| archive::policy_versions(r)).await.len() == 1
    })
    .await;

    // Team-1 files 20 cases; 3 have yearly medical costs of 120,000. Team-2 files 2.
    op(&fed.t1, |r, ctx| {
        archive::fund_write(
            r,
            ctx,
            FundWrite::Income {
                source: "budget".into(),
                amount: "200000".into(),
                date: "2026-01-05".into(),
                note: None,
            },
        )
    })
    .await;
    let mut ids = Vec::new();
    for n in 1..=20 {
        let costs = (n % 7 == 0 || n == 20).then_some("120000");
        let id = op(&fed.t1, move |r, ctx| {
            let made = archive::write(
                r,
                ctx,
                Write::NewCase {
                    form: form(n, costs),
                },
            )?;
            // The chain ran three weeks ago; the submission reports the case to the branch.
            let day = ctx.now.date() - hearth_archive::jiff::Span::new().days(21);
            for w in archive::chain_writes(&made.case.id, day) {
                archive::write(r, ctx, w)?;
            }
            Ok(made.case.id)
        })
        .await;
        ids.push(id);
    }
    for n in 21..=22 {
        op(&fed.t2, move |r, ctx| {
            archive::write(
                r,
                ctx,
                Write::NewCase {
                    form: form(n, None),
                },
            )
        })
        .await;
    }

    // The policy (version 1, reached by sync) tells which must go up, and why.
    let pending = op(&fed.t1, archive::pending).await;
    assert_eq!(pending.len(), 3, "{pending:?}");
    for (case, advice) in &pending {
        assert_eq!(advice.must_reach, Some(Level::Municipal));
        assert!(advice.policy.contains("version 1"), "{}", advice.policy);
        assert!(
            advice.requirements[0]
                .reason
                .contains("yearly medical costs 120,000.00 ≥ 80,000.00"),
            "{:?}",
            advice.requirements
        );
        let id = case.id.clone();
        op(&fed.t1, move |r, ctx| {
            archive::write(
                r,
                ctx,
                Write::Escalate {
                    case: id,
                    to_level: "municipal".into(),
                    reason: "yearly medical costs over the municipal threshold".into(),
                    via: None,
                },
            )
        })
        .await;
    }
    assert!(op(&fed.t1, archive::pending).await.is_empty());
    let mut escalated: Vec<String> = pending.iter().map(|(c, _)| c.id.clone()).collect();
    escalated.sort();
    let held = |node: &'static str| {
        let fed = &fed;
        async move {
            let n = match node {
                "mu" => &fed.mu,
                "en" => &fed.en,
                _ => &fed.br,
            };
            let mut ids: Vec<String> = op(n, |r, _| archive::list(r, &ListFilter::default()))
                .await
                .into_iter()
                .map(|c| c.id)
                .collect();
            ids.sort();
            ids
        }
    };
    wait_for("exactly the 3 escalated cases at municipal", 20, || async {
        held("mu").await == escalated && held("en").await == escalated
    })
    .await;
    assert_eq!(
        held("br").await.len(),
        20,
        "the branch holds every filed case"
    );

    // The branch approves five of them (审批建档); the approvals reach the team.
    for id in ids.iter().take(5).cloned() {
        op(&fed.br, move |r, ctx| {
            archive::write(
                r,
                ctx,
                Write::Decide {
                    case: id,
                    decision: "approve".into(),
                    note: String::new(),
                },
            )
        })
        .await;
    }
    wait_for("the branch's approvals to reach team-1", 20, || async {
        let first: Vec<String> = ids.iter().take(5).cloned().collect();
        op(&fed.t1, move |r, _| {
            first
                .iter()
                .map(|id| archive::get(r, id).map(|v| v.status))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .iter()
        .all(|s| *s == hearth_archive::Status::Filed)
    })
    .await;

    // Aid (within the team's authority of 1,000) and visits at the team, paid from its fund,
    // today: the day of filing, which aid may not come before.
    let today =
        hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now()).to_string();
    for id in ids.iter().take(5).cloned() {
        let date = today.clone();
        op(&fed.t1, move |r, ctx| {
            archive::write(
                r,
                ctx,
                Write::AddAssistance {
                    case: id.clone(),
                    kind: "living".into(),
                    amount: "900".into(),
                    date: date.clone(),
                    paying_node: None,
                    approving_node: None,
                    note: None,
                },
            )?;
            archive::write(
                r,
                ctx,
                Write::AddVisit {
                    case: id,
                    date,
                    kind: "home".into(),
                    visitor: None,
                    notes: None,
                    consent: true,
                },
            )
        })
        .await;
    }

    // Municipal totals equal the teams' own figures (nothing else has cases of its own).
    let t1 = op(&fed.t1, |c, ctx| archive::stats(c, ctx, None)).await;
    let t2 = op(&fed.t2, |c, ctx| archive::stats(c, ctx, None)).await;
    let mut below = t1.own.clone();
    below.add(&t2.own);
    assert_eq!(below.cases, 22);
    assert_eq!(below.paid_total_fen(), 5 * 900_00);
    wait_for("municipal totals to equal the sums below", 30, || async {
        let mu = op(&fed.mu, |c, ctx| archive::stats(c, ctx, None)).await;
        mu.total == below && mu.own.cases == 0
    })
    .await;
    let mu = op(&fed.mu, |c, ctx| archive::stats(c, ctx, None)).await;
    assert_eq!(mu.children.keys().collect::<Vec<_>>(), [EN]);
    assert_eq!(mu.total.households_helped, 5);
    // The five visits of today and, when three weeks ago was this year, the chain's home
    // visit of each of team-1's 20 cases.
    let today = hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now());
    let chain_this_year =
        (today - hearth_archive::jiff::Span::new().days(21)).year() == today.year();
    assert_eq!(mu.total.visits, 5 + if chain_this_year { 20 } else { 0 });
    assert_eq!(
        op(&fed.mu, |r, _| archive::list(r, &ListFilter::default()))
            .await
            .len(),
        3,
        "municipal holds only the escalated cases"
    );

    // A return and an approval at the enterprise reach the team; the returned case stays upstairs.
    let (returned, approved) = (escalated[0].clone(), escalated[1].clone());
    let r2 = returned.clone();
    op(&fed.en, move |r, ctx| {
        archive::write(
            r,
            ctx,
            Write::Decide {
                case: r2,
                decision: "return".into(),
                note: "hospital invoices missing".into(),
            },
        )
    })
    .await;
    let a2 = approved.clone();
    op(&fed.en, move |r, ctx| {
        archive::write(
            r,
            ctx,
            Write::Decide {
                case: a2,
                decision: "approve".into(),
                note: "checked".into(),
            },
        )
    })
    .await;
    wait_for("the decisions to reach team-1", 20, || async {
        let (ret, app) = (returned.clone(), approved.clone());
        let views = op(&fed.t1, move |r, _| {
            Ok((archive::get(r, &ret)?, archive::get(r, &app)?))
        })
        .await;
        views.0.status == hearth_archive::Status::Returned
            && views.0.approvals.iter().any(|a| {
                a.node.as_deref() == Some(EN)
                    && a.note.as_deref() == Some("hospital invoices missing")
            })
            && views
                .1
                .approvals
                .iter()
                .any(|a| a.decision.as_deref() == Some("approve"))
    })
    .await;
    let ret = returned.clone();
    let at_mu = op(&fed.mu, move |r, _| archive::get(r, &ret)).await;
    assert_eq!(
        at_mu.status,
        hearth_archive::Status::Returned,
        "visible upstairs"
    );

    // The branch audits the team's fund; the disclosure shows no personal data.
    wait_for("the team's ledger at the branch", 20, || async {
        op(&fed.br, |r, ctx| archive::fund_show(r, ctx, Some(T1), None))
            .await
            .disbursed_total_fen()
            == 5 * 900_00
    })
    .await;
    let year = hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now())
        .year()
        .to_string();
    let disclosure = op(&fed.t1, move |r, ctx| archive::disclosure(r, ctx, &year)).await;
    assert_eq!(disclosure.payments.len(), 5);
    let text = serde_json::to_string(&disclosure).unwrap();
    for n in 1..=20 {
        let f = form(n, None);
        for secret in [f.name, f.id_number, f.phone, f.address]
            .into_iter()
            .flatten()
        {
            assert!(!text.contains(&secret), "disclosure leaks {secret:?}");
        }
    }
    assert!(text.contains("职***号"), "names are masked");
    fed.stop().await;
}

/// Issue 5: the same case's annual income changed at team-1 and at the enterprise while the
/// branch between them is down; after it returns the conflict is listed at both with both values
/// and writers, and resolving it at one node closes it at every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_from_offline_edits_is_listed_everywhere_and_one_resolution_closes_it() {
    use hearth_archive::CaseForm;
    use hearth_ops::{self as archive, Resolve, Write};
    let mut fed = start().await;
    connected(&fed).await;
    let c5 = create_case(&fed.t1, "c5", 5).await;
    edit(&fed.t1, c5, |c, e| {
        c.set_escalation_target(e, Level::Enterprise, "deep hardship")?;
        c.report_to(e, BR, "filed")
    })
    .await;
    wait_for("c5 at the enterprise", 20, || async {
        heads(&fed.en, c5).await.is_some()
    })
    .await;

    fed.br.stop().await;
    let income = |yuan: &'static str| {
        move |r: &mut hearth_node::StoreReplica, ctx: &archive::Ctx<'_>| {
            archive::write(
                r,
                ctx,
                Write::EditCase {
                    case: c5.into(),
                    form: CaseForm {
                        annual_income: Some(yuan.into()),
                        ..CaseForm::default()
                    },
                },
            )
        }
    };
    op(&fed.t1, income("31000")).await;
    op(&fed.en, income("45000")).await;
    fed.br.start().await.unwrap();

    let open_at = |node: &'static str| {
        let fed = &fed;
        async move {
            let n = if node == "t1" { &fed.t1 } else { &fed.en };
            op(n, |r, _| archive::conflicts(r, false)).await
        }
    };
    wait_for(
        "the income conflict at team-1 and the enterprise",
        20,
        || async {
            let (a, b) = (open_at("t1").await, open_at("en").await);
            a.iter().any(|c| c.field == "annual income") && a == b
        },
    )
    .await;
    let listed = open_at("t1").await;
    let entry = listed
        .iter()
        .find(|c| c.field == "annual income")
        .unwrap()
        .clone();
    let mut sides: Vec<(String, Option<String>)> = entry
        .sides
        .iter()
        .map(|s| (s.value.clone(), s.node.clone()))
        .collect();
    sides.sort();
    assert_eq!(
        sides,
        [
            ("31,000.00".to_owned(), Some(T1.to_owned())),
            ("45,000.00".to_owned(), Some(EN.to_owned()))
        ]
    );

    assert_eq!(
        entry.route.as_deref(),
        Some(T1),
        "routed to the case's home"
    );

    // The enterprise keeps its own figure; the resolution syncs and closes it everywhere.
    let pick = entry
        .sides
        .iter()
        .position(|s| s.value == "45,000.00")
        .unwrap()
        + 1;
    let id = entry.id.clone();
    let closed = op(&fed.en, move |r, ctx| {
        archive::resolve_conflict(r, ctx, &id, Resolve::Pick(pick))
    })
    .await;
    assert!(!closed.is_open());
    for node in [&fed.t1, &fed.br] {
        let id = entry.id.clone();
        wait_for("the resolution to close the conflict", 20, || {
            let id = id.clone();
            async move {
                op(node, move |r, _| archive::conflict(r, &id))
                    .await
                    .resolution
                    .is_some_and(|r| r.node.as_deref() == Some(EN) && r.by.is_some())
            }
        })
        .await;
    }
    let income_at_t1 = op(&fed.t1, |r, _| archive::get(r, c5))
        .await
        .finances
        .annual_income_fen;
    assert_eq!(income_at_t1, Some(45_000_00));
    fed.stop().await;
}

/// Issue 5: two disbursements recorded at two nodes while cut off, each under the yearly cap of
/// living aid (12,000 in the built-in policy) but together over it, are flagged after the heal at
/// both; acknowledging at one node closes it everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_aid_that_together_passes_the_yearly_cap_is_flagged() {
    use hearth_ops::{self as archive, Resolve};
    let mut fed = start().await;
    connected(&fed).await;
    let c6 = create_case(&fed.t1, "c6", 6).await;
    edit(&fed.t1, c6, |c, e| {
        c.set_escalation_target(e, Level::Enterprise, "deep hardship")?;
        c.report_to(e, BR, "filed")
    })
    .await;
    wait_for("c6 at the enterprise", 20, || async {
        heads(&fed.en, c6).await.is_some()
    })
    .await;
    fed.br.stop().await;
    edit(&fed.t1, c6, |c, e| {
        c.add_assistance(e, &aid("a-team", 8_000_00))
    })
    .await;
    edit(&fed.en, c6, |c, e| {
        c.add_assistance(e, &aid("a-ent", 7_000_00))
    })
    .await;
    assert!(
        op(&fed.t1, |r, _| archive::conflicts(r, false))
            .await
            .is_empty(),
        "each node alone is under the cap"
    );
    fed.br.start().await.unwrap();
    let flagged = |node: &'static str| {
        let fed = &fed;
        async move {
            let n = if node == "t1" { &fed.t1 } else { &fed.en };
            op(n, |r, _| archive::conflicts(r, false))
                .await
                .into_iter()
                .find(|c| c.path.starts_with("invariant.yearly_cap"))
        }
    };
    wait_for("the cap break at team-1 and the enterprise", 20, || async {
        let (a, b) = (flagged("t1").await, flagged("en").await);
        a.is_some() && a == b
    })
    .await;
    let entry = flagged("t1").await.unwrap();
    assert!(
        entry
            .field
            .contains("15,000.00 over the yearly cap of 12,000.00"),
        "{}",
        entry.field
    );
    let mut nodes: Vec<_> = entry.sides.iter().filter_map(|s| s.node.clone()).collect();
    nodes.sort();
    assert_eq!(nodes, [EN, T1]);

    let id = entry.id.clone();
    let refused = fed
        .en
        .archive("x", move |r, ctx| {
            archive::resolve_conflict(r, ctx, &id, Resolve::Pick(1))
        })
        .await
        .unwrap();
    assert!(
        refused.is_err(),
        "a broken rule is not resolved by picking a side"
    );
    let id = entry.id.clone();
    op(&fed.en, move |r, ctx| {
        archive::resolve_conflict(
            r,
            ctx,
            &id,
            Resolve::Acknowledge("approved as a special case by the enterprise union".into()),
        )
    })
    .await;
    let id = entry.id.clone();
    wait_for("the acknowledgement to close it at team-1", 20, || {
        let id = id.clone();
        let fed = &fed;
        async move {
            op(&fed.t1, move |r, _| archive::conflict(r, &id))
                .await
                .resolution
                .is_some_and(|r| r.how.starts_with("acknowledged") && r.node.as_deref() == Some(EN))
        }
    })
    .await;
    fed.stop().await;
}

/// Issue 5: the same household filed at two teams is found at their common branch, and
/// merging keeps one open archive holding both histories; the other closes as merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_filed_at_two_teams_is_found_at_the_branch_and_merged() {
    use hearth_archive::{NewVisit, Status, VisitKind};
    use hearth_ops::{self as archive, Resolve};
    let mut fed = start().await;
    connected(&fed).await;
    let d1 = create_case(&fed.t1, "d1", 9).await;
    let d2 = create_case(&fed.t2, "d2", 9).await;
    edit(&fed.t1, d1, |c, e| {
        c.add_assistance(e, &aid("aid-t1", 800_00))?;
        c.report_to(e, BR, "filed")
    })
    .await;
    edit(&fed.t2, d2, |c, e| {
        c.add_visit(
            e,
            &NewVisit {
                id: "visit-t2".into(),
                date: hearth_archive::jiff::civil::date(2026, 4, 2),
                kind: VisitKind::Home,
                visitor: None,
                notes: None,
                consent: true,
            },
        )?;
        c.report_to(e, BR, "filed")
    })
    .await;
    let duplicate = |node: &'static str| {
        let fed = &fed;
        async move {
            let n = match node {
                "br" => &fed.br,
                "t1" => &fed.t1,
                _ => &fed.t2,
            };
            op(n, |r, _| archive::conflicts(r, false))
                .await
                .into_iter()
                .find(|c| c.path.starts_with("duplicate."))
        }
    };
    wait_for("the duplicate found at the branch", 20, || async {
        duplicate("br").await.is_some()
    })
    .await;
    let entry = duplicate("br").await.unwrap();
    let cases: Vec<_> = entry.sides.iter().map(|s| s.value.as_str()).collect();
    assert_eq!(cases, [d1, d2]);
    assert_eq!(
        entry.route.as_deref(),
        Some(BR),
        "routed to the lowest node holding both"
    );
    assert!(
        duplicate("t1").await.is_none() && duplicate("t2").await.is_none(),
        "each team holds one"
    );

    // Visible to the branch's ancestors through the summaries, though they hold neither case.
    let seen_at_mu = || {
        let id = entry.id.clone();
        let fed = &fed;
        async move {
            op(&fed.mu, |c, ctx| archive::stats(c, ctx, None))
                .await
                .conflicts
                .iter()
                .any(|c| c.id == id && c.route.as_deref() == Some(BR))
        }
    };
    wait_for("the duplicate listed at municipal, below", 20, seen_at_mu).await;

    let id = entry.id.clone();
    op(&fed.br, move |r, ctx| {
        archive::resolve_conflict(r, ctx, &id, Resolve::MergeInto(d1.into()))
    })
    .await;
    wait_for("the merge to clear it below municipal", 20, || async {
        !seen_at_mu().await
    })
    .await;
    assert!(duplicate("br").await.is_none(), "resolved at the branch");
    wait_for(
        "both histories in team-1's archive, team-2's closed",
        20,
        || async {
            let v1 = op(&fed.t1, |r, _| archive::get(r, d1)).await;
            let v2 = op(&fed.t2, |r, _| archive::get(r, d2)).await;
            v1.status != Status::Closed
                && v1.assistance.iter().any(|a| a.id == "aid-t1")
                && v1.visits.iter().any(|v| v.id == "visit-t2")
                && v1
                    .status_history
                    .iter()
                    .any(|s| s.merged_from.as_deref() == Some(d2))
                && v2.status == Status::Closed
                && v2
                    .status_history
                    .last()
                    .and_then(|s| s.reason.as_deref())
                    .is_some_and(|r| r.contains(&format!("merged into {d1}")))
        },
    )
    .await;
    let resolved = {
        let id = entry.id.clone();
        op(&fed.br, move |r, _| archive::conflict(r, &id)).await
    };
    let how = resolved.resolution.unwrap().how;
    assert!(how.contains(d1), "{how}");
    fed.stop().await;
}

/// `GET path` on a plain-HTTP address: (status line, body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await.unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// The value of one sample line in Prometheus text, e.g. `hearth_cases_held`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_neighbours_sync_cases_conflicts_and_refusals_and_no_personal_data() {
    let ca = tls::new_ca("test").unwrap();
    let mut br = LocalNode::new(BR, Level::Branch, &ca, vec![peer(T1, Child, None)]).unwrap();
    br.config.metrics = Some("127.0.0.1:0".into());
    br.start().await.unwrap();
    let metrics = br.node().unwrap().metrics_addr().unwrap();
    let mut t1 = LocalNode::new(
        T1,
        Level::Team,
        &ca,
        vec![peer(
            BR,
            hearth_node::Relation::Parent,
            Some(br.endpoint().unwrap()),
        )],
    )
    .unwrap();
    t1.start().await.unwrap();
    let id = create_case(&t1, "case-metrics-7f3a", 3).await;
    edit(&t1, id, |c, e| c.report_to(e, BR, "filed")).await;
    wait_for("the case to reach the branch", 20, || async {
        heads(&br, id).await.is_some()
    })
    .await;

    // Two strangers knock: a certificate of another CA, and one of this CA for no neighbour.
    let addr = br.node().unwrap().addr().unwrap();
    let other_ca = tls::new_ca("elsewhere").unwrap();
    assert!(!handshake_works(addr, BR, &ca, &tls::issue(&other_ca, T1, None).unwrap()).await);
    assert!(
        !handshake_works(
            addr,
            BR,
            &ca,
            &tls::issue(&ca, "demo.team-9", None).unwrap()
        )
        .await
    );

    let (status, text) = http_get(metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        sample(&text, "hearth_neighbours_connected"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "hearth_cases_held"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "hearth_conflicts_open"), Some(0.0), "{text}");
    let peer_series = |name: &str, dir: &str| {
        sample(
            &text,
            &format!("{name}{{peer=\"{T1}\",direction=\"{dir}\"}}"),
        )
        .or_else(|| {
            sample(
                &text,
                &format!("{name}{{direction=\"{dir}\",peer=\"{T1}\"}}"),
            )
        })
    };
    assert!(
        peer_series("hearth_sync_frames_total", "in").unwrap() > 0.0,
        "{text}"
    );
    assert!(
        peer_series("hearth_sync_bytes_total", "out").unwrap() > 0.0,
        "{text}"
    );
    assert!(sample(&text, &format!("hearth_sync_backlog{{peer=\"{T1}\"}}")).is_some());
    assert!(sample(&text, &format!("hearth_sync_lag_seconds{{peer=\"{T1}\"}}")).is_some());
    assert_eq!(
        sample(&text, "hearth_peers_refused_total{reason=\"unknown_ca\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "hearth_peers_refused_total{reason=\"not_configured\"}"
        ),
        Some(1.0),
        "{text}"
    );
    // Node ids and numbers only: nothing of the case itself.
    let view = t1.read(id, |c| c.view()).await.unwrap().unwrap().unwrap();
    let name = view.worker.name.unwrap();
    for personal in [name.as_str(), id] {
        assert!(!text.contains(personal), "metrics mention {personal}");
    }
    let (status, body) = http_get(metrics, "/healthz").await;
    assert!(
        status.contains("200") && body.trim() == "ok",
        "{status} {body}"
    );
    t1.stop().await;
    br.stop().await;
}

/// Writes a certificate and key as `name.pem` and `name.key` in `dir`.
fn write_pem(dir: &std::path::Path, name: &str, pem: &Pem) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, &pem.cert).unwrap();
    std::fs::write(&key, &pem.key).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

/// The issue's real client: Python with the official grpcio packages (pinned, in a virtualenv
/// made once under the target dir, see [`hearth_tests::python`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpcio_client_checks_health_lists_services_reads_a_case_lists_in_pages_and_strangers_are_refused()
 {
    let python_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    let python = hearth_tests::python(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));

    let ca = tls::new_ca("test").unwrap();
    let mut br = LocalNode::new(BR, Level::Branch, &ca, vec![peer(T1, Child, None)]).unwrap();
    br.admit("console.ops");
    br.start().await.unwrap();
    let socket = br.serve_local().unwrap();
    let id = create_case(&br, "case-grpcio", 5).await;
    let more = [
        create_case(&br, "case-grpcio-2", 6).await,
        create_case(&br, "case-grpcio-3", 7).await,
    ];

    let files = tempfile::tempdir().unwrap();
    let ca_file = files.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.cert).unwrap();
    let (cert, key) = write_pem(
        files.path(),
        "admin",
        &tls::issue(&ca, "console.ops", None).unwrap(),
    );
    let other_ca = tls::new_ca("elsewhere").unwrap();
    let (f_cert, f_key) = write_pem(
        files.path(),
        "foreign",
        &tls::issue(&other_ca, "console.ops", None).unwrap(),
    );
    let addr = br.node().unwrap().addr().unwrap().to_string();
    let mut client = std::process::Command::new(&python);
    client
        .arg(python_dir.join("client.py"))
        .args(["--addr", &addr, "--server-name", BR])
        .args(["--ca", &ca_file.display().to_string()])
        .args(["--cert", &cert, "--key", &key])
        .args(["--foreign-cert", &f_cert, "--foreign-key", &f_key])
        .args(["--case", id])
        .args(["--socket", &socket.display().to_string()]);
    // The client has its own timeouts (10 s a call), so it ends by itself.
    let out = tokio::task::spawn_blocking(move || client.output())
        .await
        .unwrap()
        .expect("run client.py");
    assert!(
        out.status.success(),
        "client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["health"], "SERVING", "{seen}");
    assert_eq!(seen["health_archive"], "SERVING", "{seen}");
    let services: Vec<&str> = seen["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for s in [
        "hearth.v1.Archive",
        "hearth.v1.Federation",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(&s), "{s} not listed: {services:?}");
    }
    assert!(
        !services.contains(&"hearth.v1.Local"),
        "Local is only on the Unix socket"
    );
    assert_eq!(seen["case"]["id"], id);
    assert_eq!(seen["case"]["home"], BR);
    assert_eq!(seen["case"]["status"], "draft");
    assert!(seen["case"]["grade"].is_string(), "{seen}");
    assert_eq!(seen["advice_policy"], "built-in policy version 0", "{seen}");
    // The listing, typed and in pages of two: three cases come in two pages.
    assert_eq!(seen["list_pages"], 2, "{seen}");
    let mut listed: Vec<&str> = seen["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "draft", "{c}");
            assert_eq!(c["home"], BR, "{c}");
            c["id"].as_str().unwrap()
        })
        .collect();
    listed.sort_unstable();
    let mut all = vec![id, more[0], more[1]];
    all.sort_unstable();
    assert_eq!(listed, all);
    assert_eq!(seen["socket_health"], "SERVING", "{seen}");
    assert_eq!(
        seen["socket_services"],
        serde_json::json!([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "hearth.v1.Archive",
            "hearth.v1.Local"
        ]),
        "the local socket lists Local, and Federation only on the mTLS port"
    );
    assert_eq!(seen["without_certificate"], "UNAVAILABLE", "{seen}");
    assert_eq!(seen["foreign_ca"], "UNAVAILABLE", "{seen}");
    br.stop().await;
}
