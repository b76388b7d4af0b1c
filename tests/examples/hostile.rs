//! The hostile neighbour by hand: runs one attack of `hearth_tests::hostile` against a running
//! node and prints what the node answered. Only ever point it at your own test nodes.
//!
//! ```text
//! cargo run -p hearth-tests --example hostile -- TLS_DIR ME SERVER HOST:PORT ATTACK
//! ```
//! `TLS_DIR` holds `ca.pem`, `node.pem` and `node.key` of a neighbour `ME` of node `SERVER`;
//! `ATTACK` is one of `poison`, `shared-poison`, `big-text`, `newer`, `summary`, `ids`,
//! `digest`, `silent`, `idle N`, `two-names CA_DIR`, or one of the attacks of DESIGN §4a
//! (`hostile::forgery`) with the sibling and the node above the server:
//! `forge-actor|approval|participant|rewrite SIBLING ABOVE STORE CASE` (`STORE` the
//! `hearth.redb` of `ME`'s stopped node, `CASE` a case it shares with `SERVER`) or
//! `plant|squat SIBLING ABOVE`.

use std::time::Duration;

use hearth_archive::automerge::transaction::Transactable;
use hearth_archive::automerge::{ROOT, ReadDoc};
use hearth_sync::Frame;
use hearth_tests::hostile::{self, Peer};

type Result<T> = std::result::Result<T, hostile::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tls, me, server, addr, attack, rest @ ..] = args.as_slice() else {
        return Err("usage: hostile TLS_DIR ME SERVER HOST:PORT ATTACK [N]".into());
    };
    let identity = hearth_node::Identity::load(std::path::Path::new(tls))?;
    let id = |n: u64| hostile::case_id(me, n);
    let send_doc = |n: u64, poison: &dyn Fn(&mut hearth_archive::automerge::AutoCommit)| {
        let mut doc = hostile::case_for(n, me, server, poison);
        Frame::Sync {
            signatures: hostile::sign(&identity, &id(n), &mut doc),
            doc: id(n),
            message: hostile::whole_doc_message(&mut doc),
        }
    };
    match attack.as_str() {
        "poison" | "big-text" | "newer" => {
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            let frame = match attack.as_str() {
                "poison" => send_doc(1, &|d| d.delete(ROOT, "status").unwrap_or_default()),
                "big-text" => send_doc(2, &|d| {
                    if let Ok(Some((_, w))) = d.get(ROOT, "worker") {
                        let _ = d.put(&w, "address", "x".repeat(8 << 20));
                    }
                }),
                _ => send_doc(3, &|d| d.put(ROOT, "schema", 99).unwrap_or_default()),
            };
            peer.send(frame).await;
            println!("{:?}", peer.hear(None, 20).await);
        }
        "shared-poison" => {
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            let mut good = hostile::case_for(4, me, server, |_| {});
            let message = hostile::whole_doc_message(&mut good);
            peer.send(Frame::Sync {
                signatures: hostile::sign(&identity, &id(4), &mut good),
                doc: id(4),
                message,
            })
            .await;
            let mut bad = good.fork();
            bad.delete(ROOT, "status")?;
            bad.commit();
            let message = hostile::whole_doc_message(&mut bad);
            peer.send(Frame::Sync {
                signatures: Vec::new(),
                doc: id(4),
                message,
            })
            .await;
            println!("{:?}", peer.hear(Some(&id(4)), 20).await);
        }
        "summary" => {
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            peer.send(hostile::implausible_summary(me)).await;
            println!("{:?}", peer.hear(Some(&format!("summary.{me}")), 20).await);
        }
        "ids" => {
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            let sent = hostile::flood_ids(&peer, 50_000).await;
            println!("sent {sent} frames: {:?}", peer.hear(None, 30).await);
        }
        "digest" => {
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            let sent = hostile::flood_digest(&peer, 1_000_000, 50_000).await;
            println!("sent {sent} digest entries; holding the session 20 s");
            println!("{:?}", peer.hear(None, 20).await);
        }
        "silent" => {
            let connector =
                tokio_rustls::TlsConnector::from(std::sync::Arc::new(identity.client_config()?));
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let name = rustls::pki_types::ServerName::try_from(server.clone())?;
            let mut tls = connector.connect(name, tcp).await?;
            let started = std::time::Instant::now();
            let mut buf = [0u8; 256];
            use tokio::io::AsyncReadExt;
            loop {
                match tokio::time::timeout(Duration::from_secs(120), tls.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => continue,
                    Err(_) => return Err("still open after 120 s".into()),
                }
            }
            println!(
                "TLS connection without HTTP/2 closed by the node after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        "idle" => {
            let n: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(20);
            let mut kept = Vec::new();
            for _ in 0..n {
                if let Ok(mut peer) = Peer::open(addr, server, &identity, me).await
                    && peer.hear(None, 1).await == hostile::Heard::Nothing
                {
                    kept.push(peer);
                }
            }
            println!(
                "{} of {n} idle authenticated connections kept open",
                kept.len()
            );
        }
        "two-names" => {
            // A certificate from the federation CA naming this node and another: the CA's
            // folder is the next argument.
            let ca_dir = std::path::Path::new(rest.first().ok_or("two-names needs the CA folder")?);
            let ca = hearth_node::tls::Pem {
                cert: std::fs::read_to_string(ca_dir.join("ca.pem"))?,
                key: std::fs::read_to_string(ca_dir.join("ca.key"))?,
            };
            let two = hearth_node::tls::issue_with_names(&ca, &[me.as_str(), "demo.team-1"])?;
            let two = hearth_node::Identity::from_pem(&ca.cert, &two)?;
            match Peer::open(addr, server, &two, me).await {
                Err(e) => println!("refused: {e}"),
                Ok(mut peer) => println!("{:?}", peer.hear(None, 5).await),
            }
        }
        "forge-actor" | "plant" | "squat" | "approval" | "participant" | "rewrite" => {
            let [sibling, above, more @ ..] = rest else {
                return Err("give the sibling and the node above the server".into());
            };
            let bytes;
            let shared = match more {
                [store, case] => {
                    let store = hearth_store::Store::open(std::path::Path::new(store))?;
                    let actor = hearth_archive::actor_id(me, store.incarnation());
                    let mut doc = store.load_doc(case, actor)?.ok_or("no such case")?;
                    bytes = doc.doc_mut().save();
                    Some((case.as_str(), bytes.as_slice()))
                }
                _ => None,
            };
            let (id, mut doc) = hostile::forgery(attack, me, server, sibling, above, shared)?;
            let mut peer = Peer::open(addr, server, &identity, me).await?;
            peer.send(Frame::Sync {
                signatures: hostile::sign(&identity, &id, &mut doc),
                message: hostile::whole_doc_message(&mut doc),
                doc: id.clone(),
            })
            .await;
            println!("{:?}", peer.hear(Some(&id), 20).await);
        }
        other => return Err(format!("unknown attack {other}").into()),
    }
    Ok(())
}
