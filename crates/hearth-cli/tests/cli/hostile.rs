//! A hostile neighbour against real `hearth serve` processes over mutual TLS (issue 11): a
//! child of the branch with a valid certificate, scripted frame by frame
//! (`hearth_tests::hostile`), sends poisoned documents, floods of document ids and digest
//! entries, implausible summaries and oversized text, and opens silent connections. Each is
//! refused with a reason and nothing of it is kept; the branch stays up, its honest team keeps
//! syncing, and the branch's memory grows by less than the stated bound (read from /proc).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hearth_archive::automerge::transaction::Transactable;
use hearth_archive::automerge::{ROOT, ReadDoc};
use hearth_node::{Identity, NodeConfig};
use hearth_sync::{ErrorCode, Frame, Refusal};
use hearth_tests::hostile::{self, Heard, Peer};
use serde_json::Value;

use super::{Serving, file_wang, free_port, hearth, init_with_cert, must, serve, wait_until};

const BR: &str = "demo.branch";
const T2: &str = "demo.team-2";
/// How much one hostile session may grow a node (DESIGN §9).
const BOUND: u64 = 64 << 20;

/// A branch serving its honest team-1 and its hostile child team-2 (whose certificate is in
/// `t2`), with a metrics address and the `limits` given (TOML lines of `[limits]`).
struct Federation {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    br: PathBuf,
    t1: PathBuf,
    addr: String,
    metrics: String,
    branch: Serving,
    _team: Serving,
}

impl Federation {
    fn start(limits: &str) -> Federation {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        let ca = root.join("ca");
        must(&root, &["certs", "init-ca", "--out", ca.to_str().unwrap()]);
        let addr = format!("127.0.0.1:{}", free_port());
        let metrics = format!("127.0.0.1:{}", free_port());
        let (br, t1) = (root.join("br"), root.join("t1"));
        let br_args = ["--listen", &addr, "--metrics", &metrics];
        init_with_cert(&br, &ca, BR, "branch", &br_args);
        let salt = br.join("federation.salt");
        init_with_cert(
            &t1,
            &ca,
            "demo.team-1",
            "team",
            &["--federation-salt", salt.to_str().unwrap()],
        );
        let t2 = root.join("t2");
        super::issue_cert(&root, &ca, T2, &t2);
        for child in ["demo.team-1", T2] {
            must(&br, &["peer", "add", "--id", child, "--relation", "child"]);
        }
        let url = format!("https://{addr}");
        must(
            &t1,
            &[
                "peer",
                "add",
                "--id",
                BR,
                "--relation",
                "parent",
                "--endpoint",
                &url,
            ],
        );
        let file = br.join("hearth.toml");
        let text = format!(
            "{}\n[limits]\n{limits}\n",
            std::fs::read_to_string(&file).unwrap()
        );
        NodeConfig::parse(&text).expect("limits parse");
        std::fs::write(&file, text).unwrap();
        let branch = serve(&br);
        let team = serve(&t1);
        let connected = |dir: &Path| {
            let out = hearth(dir, &["sync", "status", "--json"]);
            serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| {
                v["peers"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["connected"] == true))
            })
        };
        wait_until("the team to connect to the branch", || connected(&t1));
        Federation {
            _tmp: tmp,
            root,
            br,
            t1,
            addr,
            metrics,
            branch,
            _team: team,
        }
    }

    fn pid(&self) -> u32 {
        self.branch.0.id()
    }

    fn rss(&self) -> u64 {
        hostile::rss(self.pid()).expect("the branch's /proc status")
    }

    /// The hostile child's TLS identity.
    fn team2(&self) -> Identity {
        Identity::load(&self.root.join("t2")).unwrap()
    }

    /// The branch is still running and answering.
    fn branch_alive(&mut self) {
        assert!(
            self.branch.0.try_wait().unwrap().is_none(),
            "the branch process stopped"
        );
        must(&self.br, &["sync", "status"]);
    }

    /// The honest team files a case and the branch gets it.
    fn honest_team_converges(&self) {
        let id = file_wang_again(&self.t1);
        must(&self.t1, &["sync", "now"]);
        wait_until("the honest team's case to reach the branch", || {
            hearth(&self.br, &["case", "show", &id]).status.success()
        });
    }

    /// A counter of the branch's metrics (`hearth_peers_refused_total{reason="…"}`, say).
    fn metric(&self, series: &str) -> f64 {
        let mut tcp = std::net::TcpStream::connect(&self.metrics).unwrap();
        write!(
            tcp,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        tcp.read_to_string(&mut text).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Case ids held at the branch.
    fn branch_cases(&self) -> Vec<String> {
        let out = must(&self.br, &["case", "list", "--json"]);
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Opens a new household's case at a team (each call another worker) and puts it on file,
/// which reports it to the branch. Returns its id.
fn file_wang_again(dir: &Path) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(500);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id_number = hearth_archive::identity::sample_id_number(n);
    let mut args = super::WANG.to_vec();
    let at = args.iter().position(|a| *a == "--id-number").unwrap() + 1;
    args[at] = &id_number;
    args.push("--json");
    let out = must(dir, &args);
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    super::submit(dir, &id);
    id
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn refused(heard: Heard, reason: Refusal, says: &str) {
    match heard {
        Heard::Refused(_, r, message) => {
            assert_eq!(r, reason, "{message}");
            assert!(message.contains(says), "{message:?} does not say {says:?}");
        }
        other => panic!("expected a refusal saying {says:?}, heard {other:?}"),
    }
}

#[test]
fn a_hostile_neighbour_s_documents_and_floods_are_refused_and_the_branch_keeps_serving() {
    let mut fed = Federation::start("");
    file_wang(&fed.t1);
    fed.honest_team_converges();
    let baseline = fed.rss();
    let identity = fed.team2();
    let rt = runtime();
    let (addr, id) = (fed.addr.clone(), |n: u64| hostile::case_id(T2, n));

    rt.block_on(async {
        let mut peer = Peer::open(&addr, BR, &identity, T2).await.unwrap();
        // A new case without the status the index needs.
        let mut doc = hostile::case_for(1, T2, BR, |d| d.delete(ROOT, "status").unwrap());
        let message = hostile::whole_doc_message(&mut doc);
        peer.send(Frame::Sync {
            signatures: hostile::sign(&identity, &id(1), &mut doc),
            doc: id(1),
            message,
        })
        .await;
        refused(
            peer.hear(Some(&id(1)), 20).await,
            Refusal::Invalid,
            "status is missing",
        );

        // A good case is taken; a later change that deletes its status is not.
        let mut good = hostile::case_for(2, T2, BR, |_| {});
        let message = hostile::whole_doc_message(&mut good);
        peer.send(Frame::Sync {
            signatures: hostile::sign(&identity, &id(2), &mut good),
            doc: id(2),
            message,
        })
        .await;
        let mut bad = good.fork();
        bad.delete(ROOT, "status").unwrap();
        bad.commit();
        let message = hostile::whole_doc_message(&mut bad);
        peer.send(Frame::Sync {
            signatures: Vec::new(),
            doc: id(2),
            message,
        })
        .await;
        refused(
            peer.hear(Some(&id(2)), 20).await,
            Refusal::Invalid,
            "status is missing",
        );

        // Oversized text, a newer schema, an implausible figure.
        let big = |d: &mut hearth_archive::automerge::AutoCommit| {
            let worker = d.get(ROOT, "worker").unwrap().unwrap().1;
            d.put(&worker, "address", "x".repeat(1 << 20)).unwrap();
        };
        let newer = |d: &mut hearth_archive::automerge::AutoCommit| {
            d.put(ROOT, "schema", 99).unwrap();
        };
        let rich = |d: &mut hearth_archive::automerge::AutoCommit| {
            let f = d.get(ROOT, "finances").unwrap().unwrap().1;
            d.put(&f, "annual_income_fen", i64::MAX).unwrap();
        };
        type Poison<'a> = &'a dyn Fn(&mut hearth_archive::automerge::AutoCommit);
        let poisons: [(u64, Poison, &str); 3] = [
            (3, &big, "more than 16384"),
            (4, &newer, "upgrade this node"),
            (5, &rich, "money figure"),
        ];
        for (n, poison, says) in poisons {
            let mut doc = hostile::case_for(n, T2, BR, poison);
            let message = hostile::whole_doc_message(&mut doc);
            peer.send(Frame::Sync {
                signatures: hostile::sign(&identity, &id(n), &mut doc),
                doc: id(n),
                message,
            })
            .await;
            refused(peer.hear(Some(&id(n)), 20).await, Refusal::Invalid, says);
        }

        // Control characters from another node are kept (an older node may have stored
        // them) but never reach a terminal raw.
        let mut doc = hostile::case_for(6, T2, BR, |d| {
            let worker = d.get(ROOT, "worker").unwrap().unwrap().1;
            d.put(&worker, "name", "王\u{1b}[2J\u{202e}gnp.exe")
                .unwrap();
        });
        let message = hostile::whole_doc_message(&mut doc);
        peer.send(Frame::Sync {
            signatures: hostile::sign(&identity, &id(6), &mut doc),
            doc: id(6),
            message,
        })
        .await;

        // A summary of 10^12 cases, and one whose entry does not parse.
        let summary_id = format!("summary.{T2}");
        peer.send(hostile::implausible_summary(T2)).await;
        refused(
            peer.hear(Some(&summary_id), 20).await,
            Refusal::Invalid,
            "more than 100000000",
        );
        let e = hostile::editor(T2);
        let mut record =
            hearth_archive::Record::create(&summary_id, hearth_archive::actor_id(T2, &[8; 8]), &e)
                .unwrap();
        record
            .put(&e, hearth_archive::summary::SUMMARY_ENTRY, &"not a summary")
            .unwrap();
        let message = hostile::whole_doc_message(&mut record.into_doc());
        peer.send(Frame::Sync {
            signatures: Vec::new(),
            doc: summary_id.clone(),
            message,
        })
        .await;
        refused(
            peer.hear(Some(&summary_id), 20).await,
            Refusal::Invalid,
            "cannot be read",
        );
        drop(peer);
    });
    let held = fed.branch_cases();
    for n in [1, 3, 4, 5] {
        assert!(!held.contains(&id(n)), "{} was kept", id(n));
    }
    assert!(held.contains(&id(2)) && held.contains(&id(6)));
    let show = must(&fed.br, &["case", "show", &id(2), "--json"]);
    assert!(
        show.contains("\"status\": \"draft\""),
        "the good case keeps its status"
    );
    let show = must(&fed.br, &["case", "show", &id(6)]);
    assert!(
        !show.contains('\u{1b}') && !show.contains('\u{202e}'),
        "{show}"
    );
    assert!(show.contains("\\u{1b}[2J\\u{202e}gnp.exe"), "{show}");
    let json = must(&fed.br, &["case", "show", &id(6), "--json"]);
    assert!(
        !json.contains('\u{202e}') && json.contains("\\u001b[2J\\u202egnp.exe"),
        "{json}"
    );
    // Through the running node's API: free text over its limit or with control characters
    // is refused, nothing written.
    let notes = "x".repeat(100_000);
    let long_by = "y".repeat(10_000);
    let (case2, notes_flag) = (id(2), "--notes");
    for extra in [
        [notes_flag, notes.as_str()],
        ["--by", long_by.as_str()],
        [notes_flag, "a\u{1b}[2Jb"],
    ] {
        let mut args = vec!["visit", "add", &case2, "--date", "2026-01-02"];
        args.extend(extra);
        let out = hearth(&fed.br, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("shorten it") || stderr.contains("control character"),
            "{stderr}"
        );
    }
    let visits = must(&fed.br, &["case", "show", &id(2), "--json"]);
    assert!(visits.contains("\"visits\": []"), "nothing was written");
    let stats = must(&fed.br, &["stats", "--by-child", "--json"]);
    assert!(!stats.contains("1000000000000"), "{stats}");
    fed.branch_alive();
    fed.honest_team_converges();

    // 50,000 frames each naming a new document: the session ends at the budget, and again
    // each time the peer comes back.
    rt.block_on(async {
        for _ in 0..3 {
            let mut peer = Peer::open(&addr, BR, &identity, T2).await.unwrap();
            hostile::flood_ids(&peer, 50_000).await;
            match peer.hear(None, 30).await {
                Heard::Ended(ErrorCode::Limit, message) => {
                    assert!(message.contains("under way at once"), "{message}")
                }
                other => panic!("the flood should end the session, heard {other:?}"),
            }
        }
    });
    let after_ids = fed.rss();
    fed.branch_alive();
    fed.honest_team_converges();
    assert!(fed.metric("hearth_peers_refused_total{reason=\"limit\"}") >= 3.0);

    // A digest of 1,000,000 unknown documents: the session queues what its budget holds and
    // the honest team goes on syncing while it stays open.
    rt.block_on(async {
        let peer = Peer::open(&addr, BR, &identity, T2).await.unwrap();
        let sent = hostile::flood_digest(&peer, 1_000_000, 50_000).await;
        assert_eq!(sent, 1_000_000);
        tokio::task::spawn_blocking({
            let t1 = fed.t1.clone();
            let br = fed.br.clone();
            move || {
                let id = file_wang_again(&t1);
                must(&t1, &["sync", "now"]);
                wait_until("the honest case during the digest flood", || {
                    hearth(&br, &["case", "show", &id]).status.success()
                });
            }
        })
        .await
        .unwrap();
        let during = hostile::rss(fed.pid()).unwrap();
        eprintln!(
            "branch RSS: {} MiB before, {} MiB after the id floods, {} MiB during the digest flood",
            baseline >> 20,
            after_ids >> 20,
            during >> 20
        );
        assert!(
            during < baseline + BOUND,
            "the digest flood grew the branch from {baseline} to {during} bytes"
        );
        drop(peer);
    });
    assert!(
        after_ids < baseline + BOUND,
        "the id floods grew the branch from {baseline} to {after_ids} bytes"
    );
    fed.branch_alive();
    let status = must(&fed.br, &["sync", "status", "--json"]);
    assert!(status.contains("status is missing"), "{status}");
    assert!(status.contains("under way at once"), "{status}");
}

#[test]
fn silent_half_open_too_many_and_two_name_connections_are_closed_and_counted() {
    let mut fed = Federation::start(
        "connections_per_peer = 3\nhandshake_secs = 2\npreface_secs = 2\nidle_secs = 30",
    );
    let baseline = fed.rss();
    let identity = fed.team2();
    let rt = runtime();
    let addr = fed.addr.clone();
    rt.block_on(async {
        // TCP without a TLS handshake, and TLS without HTTP/2: both closed by the branch.
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(
            identity.client_config().unwrap(),
        ));
        let name = rustls::pki_types::ServerName::try_from(BR).unwrap();
        let raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut silent = tls.connect(name, raw).await.unwrap();
        let closed = |r: std::io::Result<usize>| matches!(r, Ok(0) | Err(_));
        let mut buf = [0u8; 64];
        use tokio::io::AsyncReadExt;
        let read = tokio::time::timeout(std::time::Duration::from_secs(20), tcp.read(&mut buf));
        assert!(closed(read.await.expect("closed within 20 s")));
        let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            loop {
                // The server's TLS session tickets come first, then the close.
                match silent.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        read.await
            .expect("the silent TLS connection is closed within 20 s");

        // More connections with one certificate than it may have: the extra ones are closed.
        let mut open = Vec::new();
        for _ in 0..6 {
            if let Ok(mut peer) = Peer::open(&addr, BR, &identity, T2).await
                && peer.hear(None, 2).await == Heard::Nothing
            {
                open.push(peer);
            }
        }
        assert!(
            (1..=3).contains(&open.len()),
            "{} connections kept",
            open.len()
        );
        drop(open);

        // A certificate from the federation CA naming two nodes fails the handshake.
        let ca = hearth_node::tls::Pem {
            cert: std::fs::read_to_string(fed.root.join("ca/ca.pem")).unwrap(),
            key: std::fs::read_to_string(fed.root.join("ca/ca.key")).unwrap(),
        };
        let two = hearth_node::tls::issue_with_names(&ca, &[T2, "demo.team-1"]).unwrap();
        let two = Identity::from_pem(&ca.cert, &two).unwrap();
        let refused = match Peer::open(&addr, BR, &two, T2).await {
            Err(_) => true,
            Ok(mut peer) => peer.hear(None, 5).await == Heard::Closed,
        };
        assert!(refused, "a two-name certificate was let in");
    });
    assert!(fed.metric("hearth_peers_refused_total{reason=\"timeout\"}") >= 1.0);
    assert!(fed.metric("hearth_peers_refused_total{reason=\"handshake\"}") >= 1.0);
    assert!(fed.metric("hearth_peers_refused_total{reason=\"too_many_connections\"}") >= 1.0);
    assert!(fed.metric("hearth_peers_refused_total{reason=\"ambiguous_certificate\"}") >= 1.0);
    fed.branch_alive();
    fed.honest_team_converges();
    assert!(fed.rss() < baseline + BOUND);
}
