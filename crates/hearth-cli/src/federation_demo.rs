//! `hearth demo`: a five-node federation in this process on loopback, with real mutual TLS,
//! real stores in throwaway data dirs and the real sync protocol. team-1 runs a case's filing
//! chain, submits it and escalates it to the municipal federation; the branch approves it; the branch is cut off; team-1 and the enterprise
//! each record aid while it is down; the branch comes back; every holder converges. team-2, a
//! sibling of team-1, must never see the case. Then the summaries, a conflict and its
//! resolution, and an offline bundle from team-2, whose site has no link.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::{ContentArrangement, Table, presets};
use hearth_archive::identity::sample_id_number;
use hearth_archive::money::format_yuan;
use hearth_archive::{
    AssistanceKind, Case, CaseFields, CaseForm, Cause, FederationSalt, IdNumber, Level,
    NewAssistance,
};
use hearth_node::local::{
    BRANCH as BR, ENTERPRISE as EN, Federation, MUNICIPAL as MU, TEAM_1 as T1, TEAM_2 as T2,
    wait_for,
};
use hearth_node::tls;
use hearth_ops as archive;

const LIMIT: Duration = Duration::from_secs(30);

/// Runs the demo; fails (exit 1) if the federation does not behave. Unless `exit`, the
/// federation then stays up with the branch's web console, until Ctrl-C.
pub fn run(exit: bool) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(demo(!exit))
}

/// Step 10: the branch restarts with its web console on a free loopback port and a first
/// admin account; the federation runs until Ctrl-C.
async fn console_scene(fed: &mut Federation) -> Result<()> {
    fed.br.stop().await;
    fed.br.config.console = Some("127.0.0.1:0".into());
    fed.br.start().await?;
    // team-1 and the enterprise dial the branch again at once, so that the console's sync page
    // shows them connected.
    for n in [&fed.t1, &fed.en] {
        n.node()?.sync_now(None).await?;
    }
    let branch = fed.br.node()?.handle();
    wait_for(LIMIT, || async {
        branch.status().await.is_ok_and(|peers| {
            peers
                .iter()
                .filter(|p| p.id == T1 || p.id == EN)
                .all(|p| p.connected)
        })
    })
    .await;
    let made = fed
        .br
        .archive("demo", |r, ctx| {
            archive::account_write(
                r,
                ctx,
                archive::AccountWrite::Add {
                    name: "admin".into(),
                    role: "admin".into(),
                },
            )
        })
        .await??;
    let addr = fed
        .br
        .node()?
        .console_addr()
        .context("the branch's console did not start")?;
    let password = made.password.unwrap_or_default();
    crate::out!(
        "\n10. the branch's web console 网页控制台: http://{addr}/\n    log in as 登录名 admin, password 密码 {password}\n    (the federation keeps running; Ctrl-C stops the demo 按 Ctrl-C 结束)"
    )?;
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    crate::out!("stopping 正在停止")?;
    Ok(())
}

fn ms(since: Instant) -> String {
    format!("{} ms", since.elapsed().as_millis())
}

/// The open conflict on the annual income at `node`, if any.
async fn open_income_conflict(
    node: &hearth_node::local::LocalNode,
) -> Option<hearth_archive::conflict::QueueEntry> {
    node.archive("demo", |r, _| archive::conflicts(r, false))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|list| list.into_iter().find(|c| c.field == "annual income"))
}

/// A household's fields for a demo case: a sample ID number (`seed`), income and rigid
/// spending a year in fen, the subsistence line at 800.00.
fn household(
    name: &str,
    seed: u32,
    size: u32,
    income_fen: i64,
    rigid_fen: i64,
    cause: Cause,
) -> CaseFields {
    CaseFields {
        name: Some(name.into()),
        identity_key: IdNumber::parse(&sample_id_number(seed))
            .ok()
            .map(|id| id.identity_key(&FederationSalt::from_bytes([7; 32]))),
        household_size: Some(size),
        annual_income_fen: Some(income_fen),
        rigid_spending_fen: Some(rigid_fen),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(cause),
        ..CaseFields::default()
    }
}

/// Step 9: team-2's site has no link; a signed bundle carries its new case to the branch.
async fn bundle_scene(fed: &mut Federation) -> Result<bool> {
    fed.t2.stop().await;
    for p in &mut fed.t2.config.peers {
        p.endpoint = None;
    }
    fed.t2.start().await?;
    let bound = hearth_archive::BoundId::new(T2, "demo-case-2");
    let case_id = bound.id();
    let case_id = case_id.as_str();
    let fields = household("李梅", 4343, 2, 18_000_00, 2_000_00, Cause::LaidOff);
    fed.t2
        .create("赵干事", move |actor, e| {
            Case::create(&bound, actor, e, &fields)
        })
        .await??;
    let id = case_id.to_owned();
    fed.t2
        .archive("赵干事", move |r, ctx| {
            let day = ctx.now.date() - hearth_archive::jiff::Span::new().days(21);
            archive::chain_writes(&id, day)
                .into_iter()
                .try_for_each(|w| archive::write(r, ctx, w).map(drop))
        })
        .await??;
    let started = Instant::now();
    let exported = fed.t2.node()?.export_bundle(BR, false).await??;
    let mut flipped = exported.file.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let refused = fed.br.node()?.import_bundle(flipped).await?;
    let report = fed
        .br
        .node()?
        .import_bundle(exported.file.clone())
        .await??;
    let again = fed
        .br
        .node()?
        .import_bundle(exported.file.clone())
        .await??;
    let same = fed.t2.heads(case_id).await? == fed.br.heads(case_id).await?
        && fed.br.heads(case_id).await?.is_some();
    let yes = |ok: bool| if ok { "yes 是" } else { "NO 否" };
    crate::out!(
        "\n9. team-2's site has no link: it runs the chain of case {case_id} offline, submits it and exports a signed \
         bundle for the branch ({} document(s), {} bytes)",
        exported.documents,
        exported.file.len()
    )?;
    crate::out!(
        "   imported at the branch ({}): {} new, {} updated; the branch holds the case as team-2 does: {}",
        ms(started),
        report.imported.added.len(),
        report.imported.changed.len(),
        yes(same)
    )?;
    crate::out!(
        "   a second import changes nothing: {}",
        yes(again.imported.added.is_empty() && again.imported.changed.is_empty())
    )?;
    match &refused {
        Err(e) => crate::out!("   a copy with one byte flipped is refused: {e}")?,
        Ok(_) => crate::out!("   a copy with one byte flipped was applied: NO 否")?,
    }
    Ok(same && refused.is_err() && again.imported.added.is_empty())
}

/// The heads of `case` at team-1, branch, enterprise and municipal (team-2 left out).
async fn upper(fed: &Federation, case: &str) -> Result<Vec<Option<[u8; 32]>>> {
    Ok(fed
        .holders(case)
        .await?
        .into_iter()
        .filter(|(id, _)| id != T2)
        .map(|(_, heads)| heads)
        .collect())
}

async fn demo(console: bool) -> Result<()> {
    crate::out!(
        "Hearth demo: five nodes on loopback, mutual TLS 1.3, each with its own store in a throwaway data dir"
    )?;
    crate::out!("  {MU} 市总工会 ← {EN} 企业工会 ← {BR} 基层工会 ← {T1}, {T2} 班组\n")?;
    let started = Instant::now();
    let mut fed = Federation::start(tls::new_ca("demo")?).await?;
    if !fed.connected(LIMIT).await {
        bail!("not every node reached its neighbours");
    }
    crate::out!(
        "1. all five nodes up and connected to their neighbours ({})",
        ms(started)
    )?;

    let bound = hearth_archive::BoundId::new(T1, "demo-case-1");
    let case_id = bound.id();
    let case_id = case_id.as_str();
    let fields = household(
        "王建国",
        4242,
        3,
        36_000_00,
        12_000_00,
        Cause::SeriousIllness,
    );
    fed.t1
        .create("李干事", move |actor, e| {
            Case::create(&bound, actor, e, &fields)
        })
        .await??;
    let started = Instant::now();
    let id = case_id.to_owned();
    fed.t1
        .archive("李干事", move |r, ctx| {
            // The chain ran on paper three weeks ago: review, home visit, civil affairs, notice.
            let day = ctx.now.date() - hearth_archive::jiff::Span::new().days(21);
            for w in archive::chain_writes(&id, day) {
                archive::write(r, ctx, w)?;
            }
            archive::write(
                r,
                ctx,
                archive::Write::Escalate {
                    case: id,
                    to_level: Level::Municipal.code().into(),
                    reason: "medical costs over the municipal threshold".into(),
                    via: None,
                },
            )
        })
        .await??;
    let reached = wait_for(LIMIT, || async {
        upper(&fed, case_id)
            .await
            .is_ok_and(|h| h.iter().all(Option::is_some))
    })
    .await;
    if !reached {
        bail!("the escalated case did not reach the municipal federation");
    }
    crate::out!(
        "2. team-1 ran the filing chain of case {case_id} (grade deep 深度困难), submitted it and \
         escalated it to municipal: branch, enterprise and municipal hold it ({})",
        ms(started)
    )?;
    let started = Instant::now();
    let id = case_id.to_owned();
    fed.br
        .archive("张主席", move |r, ctx| {
            archive::write(
                r,
                ctx,
                archive::Write::Decide {
                    case: id,
                    decision: "approve".into(),
                    note: "同意建档".into(),
                },
            )
        })
        .await??;
    let filed = wait_for(LIMIT, || async {
        let id = case_id.to_owned();
        fed.t1
            .archive("demo", move |r, _| archive::get(r, &id))
            .await
            .ok()
            .and_then(Result::ok)
            .is_some_and(|v| v.status == hearth_archive::Status::Filed)
    })
    .await;
    if !filed {
        bail!("the branch's approval did not reach team-1");
    }
    crate::out!(
        "   the branch, above team-1, approved it, and team-1 holds it on file (filed 建档) ({})",
        ms(started)
    )?;

    fed.br.stop().await;
    crate::out!("3. the branch goes offline: team-1 is cut off from everything above it")?;
    let aid = |id: &str, fen: i64| NewAssistance {
        id: id.into(),
        kind: AssistanceKind::Living,
        amount_fen: fen,
        date: hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now()),
        paying_node: None,
        approving_node: None,
        note: None,
    };
    let team_aid = aid("aid-team", 500_00);
    fed.t1
        .edit(case_id, "李干事", move |c, e| {
            c.add_assistance(e, &team_aid)
        })
        .await??;
    let ent_aid = aid("aid-enterprise", 2_000_00);
    fed.en
        .edit(case_id, "王主任", move |c, e| {
            c.add_assistance(e, &ent_aid)
        })
        .await??;
    crate::out!(
        "4. while cut: team-1 records living aid 500.00, the enterprise living aid 2,000.00"
    )?;

    let started = Instant::now();
    fed.br.start().await?;
    let converged = wait_for(LIMIT, || async {
        let Ok(h) = upper(&fed, case_id).await else {
            return false;
        };
        h[0].is_some() && h.iter().all(|heads| *heads == h[0])
    })
    .await;
    crate::out!(
        "5. the branch is back: {} ({})\n",
        if converged {
            "every holder converged"
        } else {
            "NOT converged"
        },
        ms(started)
    )?;

    let reference = fed.t1.heads(case_id).await?;
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
    for n in fed.all() {
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
    crate::out!("{table}")?;
    crate::out!(
        "team-2 never held the case: {}",
        if team2_clean { "yes" } else { "NO" }
    )?;

    // Aggregates up: team-2 opens two cases of its own, which never leave it; the municipal
    // node counts them through the summaries that flow up, without holding them.
    for (n, name) in [(4243, "李秀英"), (4244, "赵志强")] {
        let form = CaseForm {
            name: Some(name.into()),
            id_number: Some(sample_id_number(n)),
            household_size: Some("2".into()),
            annual_income: Some("30000".into()),
            rigid_spending: Some("2000".into()),
            subsistence_line: Some("800".into()),
            primary_cause: Some("laid_off".into()),
            ..CaseForm::default()
        };
        fed.t2
            .archive("张干事", move |r, ctx| {
                archive::write(r, ctx, archive::Write::NewCase { form })
            })
            .await??;
    }
    let started = Instant::now();
    let summed = wait_for(LIMIT, || async {
        fed.mu
            .archive("demo", |c, ctx| archive::stats(c, ctx, None))
            .await
            .is_ok_and(|s| s.is_ok_and(|s| s.total.cases == 3))
    })
    .await;
    let summary = fed
        .mu
        .archive("demo", |c, ctx| archive::stats(c, ctx, None))
        .await??;
    let held = fed
        .mu
        .archive("demo", |r, _| {
            archive::list(r, &archive::ListFilter::default())
        })
        .await??
        .len();
    crate::out!(
        "\n6. team-2 opened 2 cases of its own; summaries flowed up ({}). At {MU}, holding {held} case(s):",
        ms(started)
    )?;
    crate::out!("{}", crate::output::stats_table(&summary, true))?;

    // A conflict: the branch is cut off again, and team-1 and the enterprise each correct the
    // household's annual income to a different figure.
    fed.br.stop().await;
    for (node, person, yuan) in [(&fed.t1, "李干事", "31000"), (&fed.en, "王主任", "45000")] {
        let case = case_id.to_owned();
        node.archive(person, move |r, ctx| {
            archive::write(
                r,
                ctx,
                archive::Write::EditCase {
                    case,
                    form: CaseForm {
                        annual_income: Some(yuan.into()),
                        ..CaseForm::default()
                    },
                },
            )
        })
        .await??;
    }
    fed.br.start().await?;
    let started = Instant::now();
    let found = wait_for(LIMIT, || async {
        open_income_conflict(&fed.t1).await.is_some()
            && open_income_conflict(&fed.mu).await.is_some()
    })
    .await;
    let Some(entry) = open_income_conflict(&fed.en).await else {
        bail!("the income conflict was not detected");
    };
    crate::out!(
        "\n7. cut off again, team-1 set the annual income to 31,000 and the enterprise to 45,000; \
         after the heal every holder lists the conflict ({}):",
        ms(started)
    )?;
    crate::out!("{}", crate::output::conflict_details(&entry))?;
    let pick = entry
        .sides
        .iter()
        .position(|s| s.node.as_deref() == Some(EN))
        .map_or(1, |i| i + 1);
    let id = entry.id.clone();
    fed.en
        .archive("王主任", move |r, ctx| {
            archive::resolve_conflict(r, ctx, &id, archive::Resolve::Pick(pick))
        })
        .await??;
    let started = Instant::now();
    let closed = wait_for(LIMIT, || async {
        let mut all = true;
        for n in fed.all().into_iter().filter(|n| n.id != T2) {
            let id = entry.id.clone();
            let resolved = n
                .archive("demo", move |r, _| archive::conflict(r, &id))
                .await
                .ok()
                .and_then(Result::ok)
                .is_some_and(|c| !c.is_open());
            all &= resolved;
        }
        all
    })
    .await;
    crate::out!(
        "8. the enterprise kept its figure (side {pick}); the resolution synced and closed the conflict at {} ({})",
        if closed {
            "every holder"
        } else {
            "NOT every holder"
        },
        ms(started)
    )?;

    let carried = bundle_scene(&mut fed).await?;

    let behaved = carried && found && closed && summed && converged && team2_clean;
    if behaved && console {
        console_scene(&mut fed).await?;
    }
    fed.stop().await;
    if !carried {
        bail!("the offline bundle did not bring team-2's case to the branch");
    }
    if !found || !closed {
        bail!("the conflict was not detected and resolved everywhere");
    }
    if !summed {
        bail!("the municipal summary did not count the cases below it");
    }
    if !converged || !team2_clean {
        bail!("the federation did not behave: see the table above");
    }
    Ok(())
}
