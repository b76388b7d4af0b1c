//! `hearth demo`: a five-node federation in this process on loopback, with real mutual TLS,
//! real stores in throwaway data dirs and the real sync protocol. team-1 files a case and
//! escalates it to the municipal federation; the branch is cut off; team-1 and the enterprise
//! each record aid while it is down; the branch comes back; every holder converges. team-2, a
//! sibling of team-1, must never see the case.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::{ContentArrangement, Table, presets};
use hearth_archive::identity::sample_id_number;
use hearth_archive::money::format_yuan;
use hearth_archive::{
    AssistanceKind, Case, CaseFields, Cause, FederationSalt, IdNumber, Level, NewAssistance,
};
use hearth_node::Relation::{Child, Parent};
use hearth_node::local::{LocalNode, peer, wait_for};
use hearth_node::tls;

const T1: &str = "demo.team-1";
const T2: &str = "demo.team-2";
const BR: &str = "demo.branch";
const EN: &str = "demo.enterprise";
const MU: &str = "demo.municipal";
const LIMIT: Duration = Duration::from_secs(30);

/// Runs the demo; fails (exit 1) if the federation does not behave.
pub fn run() -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(demo())
}

fn ms(since: Instant) -> String {
    format!("{} ms", since.elapsed().as_millis())
}

async fn holders(nodes: &[&LocalNode], case: &str) -> Result<Vec<(String, Option<[u8; 32]>)>> {
    let mut out = Vec::new();
    for n in nodes {
        out.push((n.id.clone(), n.heads(case).await?));
    }
    Ok(out)
}

async fn demo() -> Result<()> {
    println!(
        "Hearth demo: five nodes on loopback, mutual TLS 1.3, each with its own store in a throwaway data dir"
    );
    println!("  {MU} 市总工会 ← {EN} 企业工会 ← {BR} 基层工会 ← {T1}, {T2} 班组\n");
    let ca = tls::new_ca("demo")?;
    let started = Instant::now();
    let mut mu = LocalNode::new(MU, Level::Municipal, &ca, vec![peer(EN, Child, None)])?;
    mu.start().await?;
    let mut en = LocalNode::new(
        EN,
        Level::Enterprise,
        &ca,
        vec![
            peer(MU, Parent, Some(mu.endpoint()?)),
            peer(BR, Child, None),
        ],
    )?;
    en.start().await?;
    let mut br = LocalNode::new(
        BR,
        Level::Branch,
        &ca,
        vec![
            peer(EN, Parent, Some(en.endpoint()?)),
            peer(T1, Child, None),
            peer(T2, Child, None),
        ],
    )?;
    br.start().await?;
    let mut t1 = LocalNode::new(
        T1,
        Level::Team,
        &ca,
        vec![peer(BR, Parent, Some(br.endpoint()?))],
    )?;
    t1.start().await?;
    let mut t2 = LocalNode::new(
        T2,
        Level::Team,
        &ca,
        vec![peer(BR, Parent, Some(br.endpoint()?))],
    )?;
    t2.start().await?;
    for n in [&t1, &t2, &br, &en, &mu] {
        let up = wait_for(LIMIT, || async {
            match n.node() {
                Ok(r) => r
                    .status()
                    .await
                    .is_ok_and(|s| s.iter().all(|p| p.connected)),
                Err(_) => false,
            }
        })
        .await;
        if !up {
            bail!("{} did not reach its neighbours", n.id);
        }
    }
    println!(
        "1. all five nodes up and connected to their neighbours ({})",
        ms(started)
    );

    let case_id = "demo-case-1";
    let fields = CaseFields {
        name: Some("王建国".into()),
        identity_key: IdNumber::parse(&sample_id_number(4242))
            .ok()
            .map(|id| id.identity_key(&FederationSalt::from_bytes([7; 32]))),
        household_size: Some(3),
        annual_income_fen: Some(36_000_00),
        rigid_spending_fen: Some(12_000_00),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(Cause::SeriousIllness),
        ..CaseFields::default()
    };
    t1.create("李干事", move |actor, e| {
        Case::create(case_id, T1, actor, e, &fields)
    })
    .await??;
    let started = Instant::now();
    t1.edit(case_id, "李干事", |c, e| {
        c.file(e)?;
        c.set_escalation_target(
            e,
            Level::Municipal,
            "medical costs over the municipal threshold",
        )?;
        c.report_to(e, BR, "filed: reported to the branch")
    })
    .await??;
    let reached = wait_for(LIMIT, || async {
        holders(&[&t1, &br, &en, &mu], case_id)
            .await
            .is_ok_and(|h| h.iter().all(|(_, heads)| heads.is_some()))
    })
    .await;
    if !reached {
        bail!("the escalated case did not reach the municipal federation");
    }
    println!(
        "2. team-1 filed case {case_id} (grade deep 深度困难) and escalated it to municipal: \
         branch, enterprise and municipal hold it ({})",
        ms(started)
    );

    br.stop().await;
    println!("3. the branch goes offline: team-1 is cut off from everything above it");
    let aid = |id: &str, fen: i64| NewAssistance {
        id: id.into(),
        kind: AssistanceKind::Medical,
        amount_fen: fen,
        date: hearth_archive::jiff::Zoned::now().date(),
        paying_node: None,
        approving_node: None,
        note: None,
    };
    let team_aid = aid("aid-team", 500_00);
    t1.edit(case_id, "李干事", move |c, e| {
        c.add_assistance(e, &team_aid)
    })
    .await??;
    let ent_aid = aid("aid-enterprise", 2_000_00);
    en.edit(case_id, "王主任", move |c, e| {
        c.add_assistance(e, &ent_aid)
    })
    .await??;
    println!(
        "4. while cut: team-1 records medical aid 500.00, the enterprise medical aid 2,000.00"
    );

    let started = Instant::now();
    br.start().await?;
    let converged = wait_for(LIMIT, || async {
        let Ok(h) = holders(&[&t1, &br, &en, &mu], case_id).await else {
            return false;
        };
        let first = h[0].1;
        first.is_some() && h.iter().all(|(_, heads)| *heads == first)
    })
    .await;
    println!(
        "5. the branch is back: {} ({})\n",
        if converged {
            "every holder converged"
        } else {
            "NOT converged"
        },
        ms(started)
    );

    let reference = t1.heads(case_id).await?;
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "Node 节点",
            "Holds case 持有档案",
            "Heads 版本",
            "Identical 一致",
            "Aid paid 已帮扶",
        ]);
    let mut team2_clean = true;
    for n in [&t1, &t2, &br, &en, &mu] {
        let heads = n.heads(case_id).await?;
        let total = n
            .read(case_id, |c| {
                c.view().map(|v| v.assistance_total_fen).unwrap_or(0)
            })
            .await?;
        if n.id == T2 && heads.is_some() {
            team2_clean = false;
        }
        table.add_row(vec![
            n.id.clone(),
            if heads.is_some() {
                "yes 是".into()
            } else {
                "no 否".into()
            },
            heads
                .map(|h| {
                    h[..4]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                })
                .unwrap_or_else(|| "—".into()),
            match heads {
                Some(h) if Some(h) == reference => "yes 是".into(),
                Some(_) => "NO 否".into(),
                None => "—".into(),
            },
            total.map(format_yuan).unwrap_or_else(|| "—".into()),
        ]);
    }
    println!("{table}");
    println!(
        "team-2 never held the case: {}",
        if team2_clean { "yes" } else { "NO" }
    );

    for n in [&mut t1, &mut t2, &mut br, &mut en, &mut mu] {
        n.stop().await;
    }
    if !converged || !team2_clean {
        bail!("the federation did not behave: see the table above");
    }
    Ok(())
}
