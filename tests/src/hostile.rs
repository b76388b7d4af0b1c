//! A scripted hostile neighbour: a peer with a valid certificate from the federation CA that
//! speaks the sync protocol frame by frame and sends what no honest node sends — poisoned
//! documents, floods of document ids and digest entries, implausible summaries — or opens
//! connections and leaves them silent. The tests of `hearth-cli` run it against real
//! `hearth serve` processes, and its attacks can be run by hand the same way.

use std::sync::Arc;
use std::time::Duration;

use hearth_archive::automerge::AutoCommit;
use hearth_archive::automerge::sync::{State, SyncDoc};
use hearth_archive::{Case, CaseFields, Editor};
use hearth_node::Identity;
use hearth_proto::v1::SyncFrame;
use hearth_sync::{DigestEntry, ErrorCode, Frame, Hello, PROTOCOL_MAJOR, Refusal};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// What the hostile peer could not do (connect, send).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// An open sync stream to a node, as neighbour `me`.
#[derive(Debug)]
pub struct Peer {
    tx: mpsc::Sender<SyncFrame>,
    inbound: tonic::Streaming<SyncFrame>,
}

/// How a read of the node's answers ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The node refused a document.
    Refused(String, Refusal, String),
    /// The node ended the session.
    Ended(ErrorCode, String),
    /// The stream closed.
    Closed,
    /// Nothing of the kind came in time.
    Nothing,
}

impl Peer {
    /// Dials `server` at `addr` with `identity` and says hello as `me` (with no checkpoint).
    pub async fn open(
        addr: &str,
        server: &str,
        identity: &Identity,
        me: &str,
    ) -> Result<Peer, Error> {
        let channel =
            hearth_node::net::connect(server, addr, Arc::new(identity.client_config()?)).await?;
        let mut client = hearth_node::net::federation_client(channel);
        let (tx, rx) = mpsc::channel(1024);
        tx.send(SyncFrame::from(Frame::Hello(Hello {
            node: me.to_owned(),
            major: PROTOCOL_MAJOR,
            minor: 2,
            epoch: 1,
            resume: None,
            knows: Vec::new(),
        })))
        .await?;
        tx.send(SyncFrame::from(Frame::Certificates(vec![
            identity.chain_der(),
        ])))
        .await?;
        let inbound = client.sync(ReceiverStream::new(rx)).await?.into_inner();
        Ok(Peer { tx, inbound })
    }

    /// Sends one frame; `false` once the node has closed the stream.
    pub async fn send(&self, frame: Frame) -> bool {
        self.tx.send(SyncFrame::from(frame)).await.is_ok()
    }

    /// Reads the node's frames until it refuses `doc`, ends the session or closes the stream,
    /// for at most `secs` seconds.
    pub async fn hear(&mut self, doc: Option<&str>, secs: u64) -> Heard {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let next = tokio::time::timeout_at(deadline, self.inbound.next()).await;
            match next {
                Err(_) => return Heard::Nothing,
                Ok(None) | Ok(Some(Err(_))) => return Heard::Closed,
                Ok(Some(Ok(pb))) => match Frame::try_from(pb) {
                    Ok(Frame::Refused {
                        doc: d,
                        reason,
                        message,
                    }) if doc.is_none_or(|want| want == d) => {
                        return Heard::Refused(d, reason, message);
                    }
                    Ok(Frame::Error { code, message }) => return Heard::Ended(code, message),
                    _ => {}
                },
            }
        }
    }
}

/// An Automerge sync message carrying all of `doc`, as a peer that has nothing would receive it.
pub fn whole_doc_message(doc: &mut AutoCommit) -> Vec<u8> {
    let mut empty = AutoCommit::new();
    let (mut ours, mut theirs) = (State::new(), State::new());
    let message = empty.sync().generate_sync_message(&mut theirs);
    let _ = doc.sync().generate_sync_message(&mut ours);
    if let Some(mut ask) = message {
        // As a Hearth node asks: version 1 messages only (no capabilities advertised).
        ask.flags = None;
        let _ = doc.sync().receive_sync_message(&mut ours, ask);
    }
    doc.sync()
        .generate_sync_message(&mut ours)
        .map(|m| m.encode())
        .unwrap_or_default()
}

/// A sync message that names no change: what a node sends to offer a document it has nothing
/// of, about 20 bytes.
pub fn empty_offer() -> Vec<u8> {
    AutoCommit::new()
        .sync()
        .generate_sync_message(&mut State::new())
        .map(|mut m| {
            m.flags = None;
            m.encode()
        })
        .unwrap_or_default()
}

/// Who writes at `node`, now.
pub fn editor(node: &str) -> Editor {
    let now = hearth_archive::jiff::Zoned::now();
    Editor {
        node: node.to_owned(),
        by: "intruder".into(),
        at: now.timestamp(),
        today: now.date(),
    }
}

/// The id of the hostile node's `n`th case, bound to `home` as a real node's would be.
pub fn case_id(home: &str, n: u64) -> String {
    hearth_archive::BoundId::new(home, &format!("hostile-{n}")).id()
}

/// Case `n` ([`case_id`]) made at `home` (the hostile node) and reported to `to`, so that it
/// passes the scope rule at `to`; `poison` then changes the document as no honest node would.
pub fn case_for(n: u64, home: &str, to: &str, poison: impl FnOnce(&mut AutoCommit)) -> AutoCommit {
    let actor = hearth_archive::actor_id(home, &[7; 8]);
    let e = editor(home);
    let bound = hearth_archive::BoundId::new(home, &format!("hostile-{n}"));
    let mut case = match Case::create(&bound, actor, &e, &CaseFields::sample(900)) {
        Ok(c) => c,
        Err(err) => panic!("the sample case is valid: {err}"),
    };
    if let Err(err) = case.report_to(&e, to, "filed") {
        panic!("the sample case can be reported: {err}");
    }
    let mut doc = case.into_doc();
    poison(&mut doc);
    doc.commit();
    doc
}

/// The hostile node's signature over its newest change to `doc` (made with its own key: what
/// it writes under its own name passes the signature check, and what it writes is then judged
/// by the rules and the checks of a received document).
pub fn sign(
    identity: &Identity,
    id: &str,
    doc: &mut AutoCommit,
) -> Vec<hearth_sync::frame::ChangeSig> {
    let now = hearth_archive::jiff::Timestamp::now().as_second().max(0) as u64;
    let Some(last) = doc.get_last_local_change() else {
        return Vec::new();
    };
    match identity.keyring(now).and_then(|k| k.sign(id, &last.hash())) {
        Ok(sig) => vec![sig],
        Err(e) => panic!("the hostile node's key signs: {e}"),
    }
}

/// `me`'s summary claiming 10^12 cases and `i64::MAX` fen paid, as a sync frame.
pub fn implausible_summary(me: &str) -> Frame {
    use hearth_archive::summary::{NodeSummary, SUMMARY_ENTRY, Totals};
    let mut totals = Totals {
        cases: 1_000_000_000_000,
        ..Default::default()
    };
    totals
        .by_status
        .insert(hearth_archive::Status::Filed, 1_000_000_000_000);
    totals
        .paid_fen
        .insert(hearth_archive::AssistanceKind::Living, i64::MAX);
    let e = editor(me);
    let summary = NodeSummary::new(
        me,
        hearth_archive::Level::Team,
        2026,
        e.at,
        totals,
        Default::default(),
    );
    let id = hearth_archive::record::summary_id(me);
    let actor = hearth_archive::actor_id(me, &[7; 8]);
    let record = hearth_archive::Record::create(&id, actor, &e)
        .and_then(|mut r| r.put(&e, SUMMARY_ENTRY, &summary).map(|()| r));
    match record {
        Ok(r) => Frame::Sync {
            signatures: Vec::new(),
            doc: id,
            message: whole_doc_message(&mut r.into_doc()),
        },
        Err(err) => panic!("the summary record can be written: {err}"),
    }
}

/// A document id no node holds: 16 hex digits from `n`.
pub fn doc_id(n: u64) -> String {
    format!("{:016x}", 0xdead_0000_0000_0000u64 | n)
}

/// `count` frames, each offering a different unknown document with an empty sync message.
pub async fn flood_ids(peer: &Peer, count: u64) -> u64 {
    let offer = empty_offer();
    let mut sent = 0;
    for n in 0..count {
        let frame = Frame::Sync {
            signatures: Vec::new(),
            doc: doc_id(n),
            message: offer.clone(),
        };
        if !peer.send(frame).await {
            break;
        }
        sent += 1;
    }
    sent
}

/// A reconciliation digest of `count` unknown documents, in parts of `part` entries.
pub async fn flood_digest(peer: &Peer, count: u64, part: u64) -> u64 {
    let mut sent = 0;
    let mut n = 0;
    while n < count {
        let end = (n + part).min(count);
        let entries = (n..end)
            .map(|i| DigestEntry {
                doc: doc_id(1 << 40 | i),
                heads: [7; 32],
            })
            .collect();
        let upto = (end == count).then_some(1);
        if !peer.send(Frame::Digest { entries, upto }).await {
            break;
        }
        sent = end;
        n = end;
    }
    sent
}

/// The resident memory of process `pid` in bytes, from `/proc`.
pub fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// What a compromised team can try against the rules of DESIGN §4a, by name:
///
/// - `forge-actor`: a change under its parent's actor id (read off the shared case);
/// - `plant`: a case "of its sibling's", made by itself, naming the sibling and the parent;
/// - `squat`: a case of its own under the id its sibling's next case will have;
/// - `approval`: an approval naming the node `above` the parent;
/// - `participant`: its sibling added to the shared case;
/// - `rewrite`: the aid its parent paid on the shared case raised, and the escalation trail
///   emptied.
///
/// `shared` is the case shared with the parent (its id and Automerge bytes, as the team holds
/// it), needed by all but `plant` and `squat`. Returns the document id and the forged document,
/// written with an actor of `me` except where the attack says otherwise.
pub fn forgery(
    attack: &str,
    me: &str,
    parent: &str,
    sibling: &str,
    above: &str,
    shared: Option<(&str, &[u8])>,
) -> Result<(String, AutoCommit), Error> {
    use hearth_archive::automerge::{ROOT, ReadDoc, transaction::Transactable};
    let mine = hearth_archive::actor_id(me, &[7; 8]);
    let e = editor(me);
    match attack {
        "plant" => {
            let bound = hearth_archive::BoundId::new(sibling, &format!("planted-by-{me}"));
            let mut case = Case::create(&bound, mine, &editor(sibling), &CaseFields::sample(901))?;
            case.report_to(&editor(sibling), me, "to the team")?;
            case.report_to(&e, parent, "filed")?;
            return Ok((bound.id(), case.into_doc()));
        }
        "squat" => {
            let id = hearth_archive::BoundId::new(sibling, "their-next-case").id();
            let mut case = Case::create_legacy(&id, me, mine, &e, &CaseFields::sample(902))?;
            case.report_to(&e, parent, "filed")?;
            return Ok((id, case.into_doc()));
        }
        _ => {}
    }
    let (id, bytes) = shared.ok_or("this attack needs the case shared with the parent")?;
    let mut doc = hearth_archive::untrusted::load(bytes)?;
    match attack {
        "forge-actor" => {
            let theirs = doc
                .get_changes_meta(&[])
                .into_iter()
                .map(|m| m.actor.into_owned())
                .find(|a| hearth_archive::node_of_actor(a).as_deref() == Some(parent))
                .ok_or("the shared case has no change of the parent's to copy the actor from")?;
            let mut case = Case::from_doc(doc, theirs)?;
            let fields = CaseFields {
                annual_income_fen: Some(1_00),
                ..CaseFields::default()
            };
            case.edit(&editor(parent), &fields)?;
            doc = case.into_doc();
        }
        "approval" => {
            let mut case = Case::from_doc(doc, mine)?;
            case.decide(&editor(above), hearth_archive::Decision::Approve, "")?;
            doc = case.into_doc();
        }
        "participant" => {
            let mut case = Case::from_doc(doc, mine)?;
            case.report_to(&e, sibling, "to the sibling")?;
            doc = case.into_doc();
        }
        "rewrite" => {
            doc = doc.with_actor(mine);
            let aid = doc.get(ROOT, "assistance")?.ok_or("no assistance")?.1;
            for key in doc.keys(&aid).collect::<Vec<_>>() {
                let entry = doc.get(&aid, key.as_str())?.ok_or("no entry")?.1;
                let payer = match doc.get(&entry, "paying_node")? {
                    Some((v, _)) => v.as_str().map(str::to_owned),
                    None => None,
                };
                if payer.as_deref() == Some(parent) {
                    doc.put(&entry, "amount_fen", 99_999_00_i64)?;
                }
            }
            let esc = doc.get(ROOT, "escalation")?.ok_or("no escalation")?.1;
            let trail = doc.get(&esc, "trail")?.ok_or("no trail")?.1;
            while doc.length(&trail) > 0 {
                doc.delete(&trail, 0)?;
            }
            doc.commit();
        }
        other => return Err(format!("no attack {other:?}").into()),
    }
    Ok((id.to_owned(), doc))
}
