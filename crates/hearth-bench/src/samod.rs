//! `hearth-bench samod` (built with `--features samod`): the same case documents synced by
//! samod, the Rust automerge-repo from crates.io, between two repos over loopback TCP, beside
//! Hearth's two nodes over gRPC and mutual TLS — a cold sync, then a reconnect with some
//! documents changed while the link was down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use hearth_archive::automerge::transaction::Transactable;
use hearth_archive::automerge::{Automerge, ROOT};
use samod::tokio_io::TcpDialer;
use samod::{AcceptorHandle, BackoffConfig, DocHandle, Repo, Transport};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::{LIMIT, case_id, cold_sync, run_until_quiet, setup, table};

/// Messages and bytes one side of a samod connection sent and received.
#[derive(Default)]
struct Traffic {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl Traffic {
    fn count(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn now(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// A TCP connection framed as samod's own `Transport::from_tokio_io` frames it (length
/// delimited), counting every message either way.
fn counted(io: tokio::net::TcpStream, traffic: Arc<Traffic>) -> Transport {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(1 << 30)
        .new_codec();
    let (sink, stream) = Framed::new(io, codec).split();
    let inbound = traffic.clone();
    let stream = stream.map(move |m| {
        m.map(|m| {
            inbound.count(m.len());
            m.to_vec()
        })
    });
    let sink = sink.with(move |m: Vec<u8>| {
        traffic.count(m.len());
        futures::future::ready(Ok::<_, std::io::Error>(bytes::Bytes::from(m)))
    });
    Transport::new(stream, sink)
}

/// Accepts connections on a loopback port for `acceptor`, counting their traffic.
async fn listen(acceptor: AcceptorHandle, traffic: Arc<Traffic>) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            let _ = io.set_nodelay(true);
            if acceptor.accept(counted(io, traffic.clone())).is_err() {
                return;
            }
        }
    });
    Ok(port)
}

/// Waits until `traffic` has not moved for half a second: (messages, bytes) then.
async fn quiet(traffic: &Traffic) -> (u64, u64) {
    let mut last = traffic.now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = traffic.now();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// What samod did for `saved`: cold sync time, then a reconnect with `changed` documents
/// changed (messages, bytes, time until the other side has them).
struct SamodRun {
    cold: Duration,
    messages: u64,
    bytes: u64,
    reconnect: Duration,
}

async fn samod_run(saved: &[Vec<u8>], changed: usize) -> Result<SamodRun> {
    let a = Repo::build_tokio().load().await;
    let b = Repo::build_tokio().load().await;
    let mut handles: Vec<DocHandle> = Vec::with_capacity(saved.len());
    for bytes in saved {
        handles.push(a.create(Automerge::load(bytes)?).await?);
    }
    let traffic = Arc::new(Traffic::default());
    let acceptor = b.make_acceptor(samod::Url::parse("tcp://127.0.0.1")?)?;
    let port = listen(acceptor, traffic.clone()).await?;
    let dial = || {
        a.dial(
            BackoffConfig::default(),
            Arc::new(TcpDialer::new_host_port("127.0.0.1".into(), port)),
        )
    };

    let started = Instant::now();
    let dialer = dial()?;
    dialer.established().await?;
    let found = futures::future::join_all(
        handles
            .iter()
            .map(|h| b.find(h.document_id().clone()))
            .collect::<Vec<_>>(),
    );
    let found = tokio::time::timeout(LIMIT, found)
        .await
        .context("samod's cold sync did not finish")?;
    let cold = started.elapsed();
    let mut at_b = Vec::with_capacity(found.len());
    for f in found {
        at_b.push(f?.context("samod did not find a document")?);
    }
    quiet(&traffic).await;

    dialer.close();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let step = (handles.len() / changed.max(1)).max(1);
    let picked: Vec<usize> = (0..changed).map(|i| i * step % handles.len()).collect();
    for (n, &i) in picked.iter().enumerate() {
        handles[i].with_document(|d| {
            let mut tx = d.transaction();
            tx.put(ROOT, "bench_visit", n as i64)?;
            tx.commit();
            Ok::<_, hearth_archive::automerge::AutomergeError>(())
        })?;
    }
    let heads = |h: &DocHandle| h.with_document(|d| d.get_heads());
    let before = traffic.now();
    let started = Instant::now();
    let dialer = dial()?;
    dialer.established().await?;
    let caught_up = async {
        loop {
            if picked
                .iter()
                .all(|&i| heads(&handles[i]) == heads(&at_b[i]))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    if tokio::time::timeout(LIMIT, caught_up).await.is_err() {
        bail!("samod's reconnect did not bring the changes over");
    }
    let reconnect = started.elapsed();
    let after = quiet(&traffic).await;
    dialer.close();
    a.stop().await;
    b.stop().await;
    Ok(SamodRun {
        cold,
        messages: after.0 - before.0,
        bytes: after.1 - before.1,
        reconnect,
    })
}

/// Hearth's figures for the same: cold sync time, then a reconnect with `changed` cases
/// changed (frames, bytes, time until both sides are quiet).
async fn hearth_run(
    cases: u32,
    changed: u32,
) -> Result<(Duration, u64, u64, Duration, Vec<Vec<u8>>)> {
    let (mut branch, mut team, saved) = setup(cases).await?;
    let started = Instant::now();
    cold_sync(&mut branch, &mut team, cases).await?;
    let cold = started.elapsed();
    branch.stop().await;
    for i in 0..changed {
        let id = case_id(i * (cases / changed.max(1)).max(1) % cases);
        let visit = hearth_archive::NewVisit::sample(&format!("bench-{i}"));
        team.edit(&id, "bench", move |c, e| c.add_visit(e, &visit))
            .await??;
    }
    team.stop().await;
    branch.start().await?;
    let started = Instant::now();
    team.start().await?;
    let (frames, bytes) = run_until_quiet(&team, &branch).await?;
    let reconnect = started.elapsed();
    team.stop().await;
    branch.stop().await;
    Ok((cold, frames, bytes, reconnect, saved))
}

/// Runs both for each size and prints them side by side.
pub async fn compare(sizes: &[u32], changed: u32) -> Result<()> {
    let mut t = table(vec![
        "documents",
        "cold sync: samod",
        "cold sync: hearth",
        "hearth faster by",
        &format!("reconnect, {changed} changed: samod"),
        &format!("reconnect, {changed} changed: hearth"),
    ]);
    for &n in sizes {
        if changed > n {
            bail!("--changed must not exceed the number of documents");
        }
        let (cold, frames, bytes, reconnect, saved) = hearth_run(n, changed).await?;
        eprintln!("samod, {n} documents…");
        let s = samod_run(&saved, changed as usize).await?;
        t.add_row(vec![
            n.to_string(),
            format!("{:.2?}", s.cold),
            format!("{cold:.2?}"),
            format!(
                "{:.1}×",
                s.cold.as_secs_f64() / cold.as_secs_f64().max(1e-9)
            ),
            format!(
                "{} messages, {} bytes, {:.2?}",
                s.messages, s.bytes, s.reconnect
            ),
            format!("{frames} frames, {bytes} bytes, {reconnect:.2?}"),
        ]);
    }
    println!("{t}");
    println!(
        "(samod 0.16 over loopback TCP, length-delimited frames, in-memory storage, its default share policy; hearth: two nodes over gRPC + mTLS with redb stores. Cold sync until the receiver holds every document; reconnect from the dial until the receiver has the changes (samod) or both sides are quiet (hearth); traffic as sent by both sides)"
    );
    Ok(())
}
