//! `hearth-bench`: measures Hearth's sync between two real nodes (real stores, gRPC over mutual
//! TLS on loopback) and prints a table. A benchmark, not a test: run it in release mode.
//!
//! - `catchup --cases N --changed D`: after a cold sync of N cases, the branch goes offline, D
//!   cases change at the team, the branch comes back. Frames, payload bytes and wall time until
//!   both sides are quiet, for Hearth's checkpointed catch-up and, in the same run, for a naive
//!   reconnect that runs Automerge's handshake for every shared document (what automerge-repo
//!   does), over the same transport.
//! - `cold --cases N`: a branch with nothing syncs N cases from a team, beside the in-memory
//!   Automerge sync of the same documents.
//! - `scale --cases N,N,…`: one node holding N cases (written in batches into its real store),
//!   for each N side by side: loading rate, start-up until it serves, `stats`, the first page of
//!   `case list`, one case opened and one edit, and the process's RSS after each (issue 17's
//!   starting figures: the work that still grows with the number of cases).
//! - `fanin --children C --cases M`: one branch with C teams in one process, each filing and
//!   escalating M cases: the parent's intake and memory.
//! - `csv --cases N`: an import file of N made-up cases on standard output, to build a node of
//!   that size with `hearth case import` as an operator would.
//! - `samod --docs N,N,… --changed D` (built with `--features samod`): the same documents
//!   synced by samod, the Rust automerge-repo, beside Hearth (see `samod.rs`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use comfy_table::{Table, presets};
use hearth_archive::automerge::AutoCommit;
use hearth_archive::automerge::sync::{State, SyncDoc};
use hearth_archive::identity::sample_id_number;
use hearth_archive::{
    AssistanceKind, Case, CaseFields, Cause, FederationSalt, IdNumber, Level, NewAssistance,
};
use hearth_node::Relation::{Child, Parent};
use hearth_node::local::{LocalNode, editor, peer, wait_for, wait_for_every};
use hearth_node::tls::{self, Pem};
use hearth_store::Store;
use hearth_sync::{Replica, SessionConfig};

#[cfg(feature = "samod")]
mod samod;

const TEAM: &str = "bench.team";
const BRANCH: &str = "bench.branch";
const ENTERPRISE: &str = "bench.enterprise";
const MUNICIPAL: &str = "bench.municipal";
const LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, Parser)]
#[command(name = "hearth-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reconnect catch-up after a few changes: Hearth beside a per-document handshake
    Catchup {
        /// Cases shared by the two nodes
        #[arg(long, default_value_t = 10_000)]
        cases: u32,
        /// Cases changed while the branch was offline
        #[arg(long, default_value_t = 10)]
        changed: u32,
    },
    /// Cold sync of every case to an empty node, beside in-memory Automerge sync
    Cold {
        /// Cases to sync
        #[arg(long, default_value_t = 10_000)]
        cases: u32,
    },
    /// One parent with many children in one process, each child filing and escalating cases
    Fanin {
        /// Children of the parent
        #[arg(long, default_value_t = 200)]
        children: u32,
        /// Cases each child files and escalates
        #[arg(long, default_value_t = 50)]
        cases: u32,
    },
    /// Writes an import file of made-up cases (CSV, on standard output), for `case import`
    Csv {
        /// Cases to write
        #[arg(long, default_value_t = 1_000_000)]
        cases: u32,
    },
    /// The same documents synced by samod (automerge-repo in Rust) beside Hearth; needs
    /// `--features samod`
    Samod {
        /// The numbers of documents, comma separated
        #[arg(long, value_delimiter = ',', default_values_t = [1_000, 2_000, 4_000])]
        docs: Vec<u32>,
        /// Documents changed while the link was down
        #[arg(long, default_value_t = 10)]
        changed: u32,
    },
    /// One node at several sizes: what its reads and writes cost as the cases grow
    Scale {
        /// The sizes, comma separated
        #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
        cases: Vec<u32>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Catchup { cases, changed } => catchup(cases, changed).await,
            Command::Cold { cases } => cold(cases).await,
            Command::Scale { cases } => scale(&cases).await,
            Command::Fanin { children, cases } => fanin(children, cases).await,
            Command::Csv { cases } => csv(cases),
            #[cfg(feature = "samod")]
            Command::Samod { docs, changed } => samod::compare(&docs, changed).await,
            #[cfg(not(feature = "samod"))]
            Command::Samod { .. } => bail!(
                "this hearth-bench was built without samod: cargo run --release -p hearth-bench --features samod -- samod"
            ),
        }
    })
}

fn fields(n: u32) -> CaseFields {
    CaseFields {
        name: Some(format!("worker {n}")),
        identity_key: IdNumber::parse(&sample_id_number(n))
            .ok()
            .map(|id| id.identity_key(&FederationSalt::from_bytes([8; 32]))),
        household_size: Some(1 + n % 5),
        annual_income_fen: Some(i64::from(10_000 + n % 40_000) * 100),
        rigid_spending_fen: Some(2_000_00),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(Cause::SeriousIllness),
        phone: Some(format!("139{n:08}")),
        address: Some(format!("某市某区某路{n}号")),
        ..CaseFields::default()
    }
}

fn bound(n: u32) -> hearth_archive::BoundId {
    hearth_archive::BoundId::new(TEAM, &format!("case-{n:06}"))
}

fn case_id(n: u32) -> String {
    bound(n).id()
}

/// Writes N filed cases, reported to the branch, straight into the team's store (one
/// transaction), the way an import would.
fn preload(team: &LocalNode, cases: u32) -> Result<Vec<Vec<u8>>> {
    let store = Store::open(&team.data_dir().join("hearth.redb"))?;
    let actor = hearth_archive::actor_id(TEAM, store.incarnation());
    let ed = editor(TEAM, "bench");
    let mut batch = store.begin()?;
    let mut saved = Vec::with_capacity(cases as usize);
    for n in 0..cases {
        let mut case = Case::create(&bound(n), actor.clone(), &ed, &fields(n))?;
        case.file(&ed)?;
        case.report_to(&ed, BRANCH, "filed")?;
        batch.put(&mut case)?;
        saved.push(case.save());
    }
    batch.commit()?;
    Ok(saved)
}

async fn pair(ca: &Pem) -> Result<(LocalNode, LocalNode)> {
    let mut branch = LocalNode::new(BRANCH, Level::Branch, ca, vec![peer(TEAM, Child, None)])?;
    branch.start().await?;
    let team = LocalNode::new(
        TEAM,
        Level::Team,
        ca,
        vec![peer(BRANCH, Parent, Some(branch.endpoint()?))],
    )?;
    branch.stop().await;
    Ok((branch, team))
}

/// A team holding `cases` cases reported to a branch that holds none (both stopped), and the
/// saved documents.
async fn setup(cases: u32) -> Result<(LocalNode, LocalNode, Vec<Vec<u8>>)> {
    let ca = tls::new_ca("bench")?;
    let (branch, team) = pair(&ca).await?;
    eprintln!("preparing {cases} cases at the team…");
    let saved = preload(&team, cases)?;
    Ok((branch, team, saved))
}

/// Starts both nodes and waits until the branch holds every case and both sides are quiet.
async fn cold_sync(branch: &mut LocalNode, team: &mut LocalNode, cases: u32) -> Result<(u64, u64)> {
    branch.start().await?;
    team.start().await?;
    let all = cases as usize;
    if !wait_for(LIMIT, || async { held(branch).await == all }).await {
        bail!("cold sync did not finish");
    }
    run_until_quiet(team, branch).await
}

async fn held(node: &LocalNode) -> usize {
    match node.node() {
        Ok(n) => n
            .local(|r| {
                // Cases only: the team's summary document travels too.
                r.doc_ids().map_or(0, |ids| {
                    ids.iter()
                        .filter(|id| hearth_archive::DocId::of(id) == hearth_archive::DocId::Case)
                        .count()
                })
            })
            .await
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// Frames and payload bytes both sides sent in their current sessions, once both are quiet.
async fn quiet_traffic(a: &LocalNode, b: &LocalNode) -> Option<(u64, u64)> {
    let mut frames = 0;
    let mut bytes = 0;
    for (n, other) in [(a, b), (b, a)] {
        let status = n.node().ok()?.status().await.ok()?;
        let p = status.iter().find(|p| p.id == other.id)?;
        if !p.quiet {
            return None;
        }
        frames += p.stats.frames_out;
        bytes += p.stats.bytes_out;
    }
    Some((frames, bytes))
}

async fn run_until_quiet(team: &LocalNode, branch: &LocalNode) -> Result<(u64, u64)> {
    // The figures of the check that found both quiet (a later look may find a new session
    // under way: the summary a node sends after a change).
    let found = std::sync::Mutex::new(None);
    let done = wait_for_every(LIMIT, Duration::from_millis(1), || async {
        let traffic = quiet_traffic(team, branch).await;
        let quiet = traffic.is_some();
        if let Ok(mut f) = found.lock() {
            *f = traffic;
        }
        quiet
    })
    .await;
    if !done {
        for n in [team, branch] {
            if let Ok(node) = n.node()
                && let Ok(status) = node.status().await
            {
                for p in status {
                    eprintln!(
                        "{} with {}: connected {}, quiet {}, backlog {}, frames in/out {}/{}, last error {:?}, refusals {:?}",
                        n.id,
                        p.id,
                        p.connected,
                        p.quiet,
                        p.backlog,
                        p.stats.frames_in,
                        p.stats.frames_out,
                        p.last_error,
                        p.refusals.last()
                    );
                }
            }
        }
        bail!("the two nodes did not go quiet within {LIMIT:?}");
    }
    found
        .into_inner()
        .ok()
        .flatten()
        .context("no traffic figures")
}

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::ASCII_MARKDOWN).set_header(header);
    t
}

async fn catchup(cases: u32, changed: u32) -> Result<()> {
    if changed > cases {
        bail!("--changed must not exceed --cases");
    }
    let (mut branch, mut team, _) = setup(cases).await?;
    let started = Instant::now();
    cold_sync(&mut branch, &mut team, cases).await?;
    eprintln!("cold sync of {cases} cases: {:.2?}", started.elapsed());

    let mut t = table(vec![
        "approach",
        "cases",
        "changed",
        "frames",
        "payload bytes",
        "wall time",
    ]);
    for (name, resume) in [
        ("hearth: feed checkpoints", true),
        ("naive: handshake per document", false),
    ] {
        branch.stop().await;
        for i in 0..changed {
            let id = case_id(i * (cases / changed.max(1)).max(1) % cases);
            let aid = NewAssistance {
                id: format!("{name}-{i}"),
                kind: AssistanceKind::Living,
                amount_fen: 100_00,
                date: hearth_archive::jiff::Zoned::now().date(),
                paying_node: None,
                approving_node: None,
                note: None,
            };
            team.edit(&id, "bench", move |c, e| c.add_assistance(e, &aid))
                .await??;
        }
        team.stop().await;
        let cfg = SessionConfig {
            resume,
            ..SessionConfig::default()
        };
        branch.start_with(cfg).await?;
        // From the moment the team (which dials) starts: connect, TLS, hellos, catch-up.
        let started = Instant::now();
        team.start_with(cfg).await?;
        let (frames, bytes) = run_until_quiet(&team, &branch).await?;
        let wall = started.elapsed();
        t.add_row(vec![
            name.to_owned(),
            cases.to_string(),
            changed.to_string(),
            frames.to_string(),
            bytes.to_string(),
            format!("{wall:.2?}"),
        ]);
    }
    println!("{t}");
    println!(
        "(frames and payload bytes as sent by both sides; wall time from the team's restart until both sides are quiet: dial, TLS handshake, hellos, catch-up)"
    );
    team.stop().await;
    branch.stop().await;
    Ok(())
}

/// Syncs each saved document into an empty one in memory, message by message.
fn in_memory(saved: &[Vec<u8>]) -> Result<Duration> {
    let started = Instant::now();
    for bytes in saved {
        let mut a = AutoCommit::load(bytes)?;
        let mut b = AutoCommit::new();
        let (mut sa, mut sb) = (State::new(), State::new());
        loop {
            let ma = a.sync().generate_sync_message(&mut sa);
            let mb = b.sync().generate_sync_message(&mut sb);
            if ma.is_none() && mb.is_none() {
                break;
            }
            if let Some(m) = ma {
                b.sync().receive_sync_message(&mut sb, m)?;
            }
            if let Some(m) = mb {
                a.sync().receive_sync_message(&mut sa, m)?;
            }
        }
    }
    Ok(started.elapsed())
}

async fn cold(cases: u32) -> Result<()> {
    let (mut branch, mut team, saved) = setup(cases).await?;
    let memory = in_memory(&saved)?;
    let started = Instant::now();
    let (frames, bytes) = cold_sync(&mut branch, &mut team, cases).await?;
    let wall = started.elapsed();
    let mut t = table(vec![
        "sync",
        "cases",
        "frames",
        "payload bytes",
        "wall time",
        "per case",
        "vs in-memory",
    ]);
    let per = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6 / f64::from(cases.max(1)));
    t.add_row(vec![
        "hearth: gRPC + mTLS + redb, two nodes".into(),
        cases.to_string(),
        frames.to_string(),
        bytes.to_string(),
        format!("{wall:.2?}"),
        per(wall),
        format!(
            "{:.2}×",
            wall.as_secs_f64() / memory.as_secs_f64().max(1e-9)
        ),
    ]);
    t.add_row(vec![
        "automerge in memory, same documents".into(),
        cases.to_string(),
        "—".into(),
        "—".into(),
        format!("{memory:.2?}"),
        per(memory),
        "1.00×".into(),
    ]);
    println!("{t}");
    team.stop().await;
    branch.stop().await;
    Ok(())
}

/// The process's resident memory now, in MB (Linux; 0 elsewhere).
fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Writes `cases` filed cases, reported to the branch, into the team's store in batches of
/// 10,000 (memory stays bounded by a batch; one thread makes the documents while another
/// stores them), then copies the store to the branch: two nodes that already agree, as after
/// a cold sync (the copy is bound to the branch when it starts; the actors differ by node).
/// Returns the cases written per second.
fn load(team: &LocalNode, branch: &LocalNode, cases: u32) -> Result<f64> {
    let path = team.data_dir().join("hearth.redb");
    let started = Instant::now();
    {
        let store = Store::open(&path)?;
        let actor = hearth_archive::actor_id(TEAM, store.incarnation());
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Case>>(1_000);
        std::thread::scope(|s| -> Result<()> {
            s.spawn(move || {
                let ed = editor(TEAM, "bench");
                for k in 0..cases {
                    let made = Case::create(&bound(k), actor.clone(), &ed, &fields(k))
                        .and_then(|mut case| {
                            case.file(&ed)?;
                            case.report_to(&ed, BRANCH, "filed")?;
                            Ok(case)
                        })
                        .map_err(anyhow::Error::from);
                    if tx.send(made).is_err() {
                        return;
                    }
                }
            });
            let mut batch = store.begin()?;
            for (k, case) in rx.into_iter().enumerate() {
                batch.put(&mut case?)?;
                if (k + 1) % 10_000 == 0 {
                    batch.commit()?;
                    batch = store.begin()?;
                }
            }
            batch.commit()?;
            Ok(())
        })?;
    }
    let rate = f64::from(cases) / started.elapsed().as_secs_f64();
    std::fs::copy(&path, branch.data_dir().join("hearth.redb"))?;
    Ok(rate)
}

/// Milliseconds since `since`, as a table shows them.
fn ms(since: Instant) -> String {
    format!("{:.0} ms", since.elapsed().as_secs_f64() * 1000.0)
}

/// Adds a visit to case `id` at `node` through the operations, as a caseworker would.
async fn visit(node: &LocalNode, id: String) -> Result<()> {
    node.archive("bench", move |r, ctx| {
        hearth_ops::write(
            r,
            ctx,
            hearth_ops::Write::AddVisit {
                case: id,
                date: ctx.now.date().to_string(),
                kind: "follow_up".into(),
                visitor: None,
                notes: None,
                consent: false,
            },
        )
    })
    .await??;
    Ok(())
}

/// Restarts both nodes (the team dials) and waits until both are quiet: the frames both sent
/// and the time from the team's start.
async fn reconnect(team: &mut LocalNode, branch: &mut LocalNode) -> Result<(u64, Duration)> {
    team.stop().await;
    branch.stop().await;
    branch.start().await?;
    let started = Instant::now();
    team.start().await?;
    let (frames, _) = run_until_quiet(team, branch).await?;
    Ok((frames, started.elapsed()))
}

/// A team under a branch under an enterprise under a municipal union, the three above
/// started (the enterprise and the municipal union keep running), the team and the branch
/// stopped: (team, branch, [enterprise, municipal]).
async fn chain(ca: &Pem) -> Result<(LocalNode, LocalNode, [LocalNode; 2])> {
    // From the top down: each node dials the one above it, which must be running to be dialled.
    let levels = [
        (MUNICIPAL, Level::Municipal),
        (ENTERPRISE, Level::Enterprise),
        (BRANCH, Level::Branch),
        (TEAM, Level::Team),
    ];
    let mut nodes: Vec<LocalNode> = Vec::with_capacity(levels.len());
    for (i, (id, level)) in levels.iter().enumerate() {
        let mut peers = Vec::new();
        if let Some(above) = nodes.last() {
            peers.push(peer(&above.id, Parent, Some(above.endpoint()?)));
        }
        if let Some((below, _)) = levels.get(i + 1) {
            peers.push(peer(below, Child, None));
        }
        let mut node = LocalNode::new(id, *level, ca, peers)?;
        if i + 1 < levels.len() {
            node.start().await?;
        }
        nodes.push(node);
    }
    let (Some(team), Some(mut branch), Some(en), Some(mu)) =
        (nodes.pop(), nodes.pop(), nodes.pop(), nodes.pop())
    else {
        bail!("the chain has four nodes");
    };
    branch.stop().await;
    Ok((team, branch, [en, mu]))
}

/// Five visits to `case` at `from`, each timed until `up` holds the same heads: the median and
/// the slowest.
async fn seen_up(from: &LocalNode, up: &LocalNode, case: &str) -> Result<String> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let at = Instant::now();
        visit(from, case.to_owned()).await?;
        let want = from.heads(case).await?;
        if !wait_for_every(LIMIT, Duration::from_millis(1), || async {
            up.heads(case).await.ok().flatten() == want
        })
        .await
        {
            bail!("an edit did not reach {}", up.id);
        }
        times.push(at.elapsed());
    }
    times.sort();
    Ok(format!(
        "{:.0} ms (≤ {:.0})",
        times[2].as_secs_f64() * 1000.0,
        times[4].as_secs_f64() * 1000.0
    ))
}

async fn scale(sizes: &[u32]) -> Result<()> {
    let mut t = table(vec![
        "cases",
        "load (cases/s)",
        "start-up",
        "stats",
        "first page of case list",
        "open one case",
        "one edit",
        "edit seen 1 hop up",
        "edit seen 3 hops up",
        "catch-up of 10 changed",
        "reconnect, nothing changed",
        "RSS after (MB)",
    ]);
    for &cases in sizes {
        let ca = tls::new_ca("bench")?;
        let (mut team, mut branch, mut above) = chain(&ca).await?;
        eprintln!("writing {cases} cases at the team and the branch…");
        let rate = load(&team, &branch, cases)?;
        let started = Instant::now();
        team.start().await?;
        let start_up = started.elapsed();
        let at = Instant::now();
        team.archive("bench", |r, ctx| hearth_ops::stats(r, ctx, None))
            .await??;
        let stats = ms(at);
        let at = Instant::now();
        let page = team
            .archive("bench", |r, ctx| {
                hearth_ops::execute(
                    r,
                    ctx,
                    None,
                    hearth_ops::Request::ListCases {
                        filter: hearth_ops::ListFilter::default(),
                        page: hearth_ops::PageRequest {
                            size: Some(100),
                            token: None,
                        },
                    },
                )
            })
            .await??;
        let first_page = ms(at);
        if !matches!(page, hearth_ops::Reply::Cases(p) if p.items.len() == 100.min(cases as usize))
        {
            bail!("the first page is not a page of cases");
        }
        let id = case_id(cases / 2);
        let at = Instant::now();
        let open = id.clone();
        team.archive("bench", move |r, ctx| {
            hearth_ops::execute(r, ctx, None, hearth_ops::Request::GetCase { case: open })
        })
        .await??;
        let opened = ms(at);
        let at = Instant::now();
        visit(&team, id.clone()).await?;
        let edited = ms(at);

        // The branch joins: the first session after the load compares every document's digest
        // once; what is measured comes after it.
        branch.start().await?;
        run_until_quiet(&team, &branch).await?;
        // A case opened now and escalated to the top, which the enterprise and the municipal
        // union hold alone (opened by the running node, so that its every change is signed:
        // the loaded ones carry no signatures, which a node above would refuse).
        let top = case_id(cases);
        team.create("bench", move |actor, ed| {
            let mut case = Case::create(&bound(cases), actor, ed, &fields(cases))?;
            case.file(ed)?;
            case.set_escalation_target(ed, Level::Municipal, "bench: seen three hops up")?;
            case.report_to(ed, BRANCH, "filed")?;
            Ok(case)
        })
        .await??;
        // Forwarded level by level: each level adds its step, and the team hears of them.
        if !wait_for_every(LIMIT, Duration::from_millis(5), || async {
            let at_top = above[1].heads(&top).await.ok().flatten();
            at_top.is_some() && team.heads(&top).await.ok().flatten() == at_top
        })
        .await
        {
            bail!("the escalation did not reach the municipal union");
        }
        run_until_quiet(&team, &branch).await?;
        let one_hop = seen_up(&team, &branch, &id).await?;
        let three_hops = seen_up(&team, &above[1], &top).await?;
        run_until_quiet(&team, &branch).await?;

        // Ten cases changed while the branch was away, then a restart of both.
        branch.stop().await;
        for i in 0..10 {
            visit(&team, case_id(i * (cases / 10).max(1) % cases)).await?;
        }
        let (frames, wall) = reconnect(&mut team, &mut branch).await?;
        let caught_up = format!("{:.0} ms, {frames} frames", wall.as_secs_f64() * 1000.0);
        let (frames, wall) = reconnect(&mut team, &mut branch).await?;
        let nothing = format!("{:.0} ms, {frames} frames", wall.as_secs_f64() * 1000.0);
        t.add_row(vec![
            cases.to_string(),
            format!("{rate:.0}"),
            format!("{:.0} ms", start_up.as_secs_f64() * 1000.0),
            stats,
            first_page,
            opened,
            edited,
            one_hop,
            three_hops,
            caught_up,
            nothing,
            rss_mb().to_string(),
        ]);
        team.stop().await;
        branch.stop().await;
        for node in &mut above {
            node.stop().await;
        }
    }
    println!("{t}");
    println!(
        "(one process holds the four nodes; edits seen up: median and slowest of 5, from the write until the node above holds the same heads; load writes the cases at the team, two threads, in batches of 10,000, and the branch starts on a copy of the team's store; catch-up and reconnect from the team's restart until both sides are quiet, with dial and TLS handshake)"
    );
    Ok(())
}

/// One branch with `children` teams, all in this process: every team files `cases` cases and
/// escalates each to the branch as it is filed, all at once; how fast the branch takes them in
/// and what memory it all takes.
async fn fanin(children: u32, cases: u32) -> Result<()> {
    let ca = tls::new_ca("bench")?;
    let ids: Vec<String> = (0..children)
        .map(|i| format!("bench.team-{i:03}"))
        .collect();
    let mut parent = LocalNode::new(
        BRANCH,
        Level::Branch,
        &ca,
        ids.iter().map(|id| peer(id, Child, None)).collect(),
    )?;
    parent.start().await?;
    let endpoint = parent.endpoint()?;
    eprintln!("starting {children} children…");
    let mut teams = Vec::new();
    for id in &ids {
        let mut team = LocalNode::new(
            id,
            Level::Team,
            &ca,
            vec![peer(BRANCH, Parent, Some(endpoint.clone()))],
        )?;
        team.start().await?;
        teams.push(team);
    }
    let all_connected = || async {
        match parent.node() {
            Ok(n) => n
                .status()
                .await
                .is_ok_and(|s| s.iter().filter(|p| p.connected).count() == ids.len()),
            Err(_) => false,
        }
    };
    if !wait_for_every(LIMIT, Duration::from_millis(20), all_connected).await {
        bail!("the children did not all connect within {LIMIT:?}");
    }
    let idle = rss_mb();
    let total = (children * cases) as usize;
    eprintln!("{children} children filing {cases} cases each…");
    let started = Instant::now();
    let mut filing = tokio::task::JoinSet::new();
    for team in teams {
        filing.spawn(async move {
            let home = team.id.clone();
            for k in 0..cases {
                let home = home.clone();
                team.create("bench", move |actor, ed| {
                    let bound = hearth_archive::BoundId::new(&home, &format!("case-{k:06}"));
                    let mut case = Case::create(&bound, actor, ed, &fields(k))?;
                    case.file(ed)?;
                    case.report_to(ed, BRANCH, "filed")?;
                    Ok(case)
                })
                .await??;
            }
            Ok::<_, anyhow::Error>(team)
        });
    }
    let mut teams = Vec::new();
    while let Some(done) = filing.join_next().await {
        teams.push(done??);
    }
    let filed = started.elapsed();
    if !wait_for_every(LIMIT, Duration::from_millis(20), || async {
        held(&parent).await == total
    })
    .await
    {
        bail!("the parent did not receive every case within {LIMIT:?}");
    }
    let received = started.elapsed();
    let busy = rss_mb();
    let mut t = table(vec![
        "children",
        "cases each",
        "cases in all",
        "filed at the children",
        "all at the parent",
        "parent's intake (cases/s)",
        "RSS idle / after (MB, all nodes)",
    ]);
    t.add_row(vec![
        children.to_string(),
        cases.to_string(),
        total.to_string(),
        format!("{:.2?}", filed),
        format!("{:.2?}", received),
        format!("{:.0}", total as f64 / received.as_secs_f64()),
        format!("{idle} / {busy}"),
    ]);
    println!("{t}");
    println!(
        "(one process holds the parent and every child, each a node with its own store, core thread and mutual-TLS connection; times from the first filing)"
    );
    for mut team in teams {
        team.stop().await;
    }
    parent.stop().await;
    Ok(())
}

/// Writes `cases` made-up cases as a CSV import file on standard output: every household its
/// own (valid) ID number, a quarter of them filed.
fn csv(cases: u32) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,secondary_causes,phone,status"
    )?;
    for n in 0..cases {
        let cause = 1 + n % 9;
        let secondary = if n % 2 == 0 && cause != 9 { "9" } else { "" };
        writeln!(
            out,
            "职工{n},{},{},{},2000,{},{cause},{secondary},139{n:08},{}",
            sample_id_number(n),
            1 + n % 5,
            10_000 + (n % 50) * 1_000,
            600 + n % 3 * 100,
            if n % 4 == 0 { "filed" } else { "draft" }
        )?;
    }
    out.flush()?;
    Ok(())
}
