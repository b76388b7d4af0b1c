//! What Hearth's fuzz targets run, one function a target, each over the bytes a hostile
//! neighbour controls (DESIGN §4a):
//!
//! - [`frame`]: a protobuf sync frame, decoded and handed to a session of a node that holds a
//!   case shared with the sender;
//! - [`bundle`]: a bundle file, through the file decoder and signature check, and its payload
//!   straight into an import (a compromised neighbour signs whatever it likes);
//! - [`document`]: Automerge bytes as a document received under each kind of id (screened as
//!   a node screens them: change chunks only).
//!
//! Each must never panic, and each checks what must hold afterwards: a document that passes
//! the checks of a received document can be indexed by the store (its view, summary and
//! conflicts read without error), and a node never holds a document that fails them.
//!
//! The targets themselves are in `fuzz/` (cargo-fuzz, libFuzzer, nightly); every input that
//! once failed is kept under `tests/crashers/<target>/` and replayed by `tests/replay.rs` in
//! the normal test run.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::sync::OnceLock;

use hearth_archive::automerge::AutoCommit;
use hearth_archive::{Case, CaseFields, Document, Editor, Policy, actor_id};
use hearth_proto::v1::{BundlePayload, SyncFrame};
use hearth_sync::{Frame, Hello, MemReplica, Neighbour, PROTOCOL_MAJOR, Replica, Session};
use prost::Message;

const HERE: &str = "demo.branch";
const PEER: &str = "demo.team-1";
/// The case the node and the peer share.
pub const SHARED: &str = "0123456789abcdef";

fn editor(node: &str) -> Editor {
    Editor {
        node: node.to_owned(),
        by: "fuzz".into(),
        at: hearth_archive::jiff::Timestamp::from_second(1_780_000_000).unwrap_or_default(),
        today: hearth_archive::jiff::civil::date(2026, 5, 28),
    }
}

/// A node (`demo.branch`) holding one case shared with its child `demo.team-1`.
pub fn replica() -> MemReplica {
    let mut r = MemReplica::new(HERE, 1);
    r.set_neighbour(PEER, Neighbour::Child);
    r.set_neighbour("demo.enterprise", Neighbour::Parent);
    let e = editor(PEER);
    let case = Case::create_legacy(
        SHARED,
        PEER,
        actor_id(PEER, &[1; 8]),
        &e,
        &CaseFields::sample(1),
    )
    .and_then(|mut c| c.report_to(&e, HERE, "filed").map(|()| c));
    match case {
        Ok(case) => {
            let _ = r.insert(SHARED, case.into_doc());
        }
        Err(e) => panic!("the sample case is valid: {e}"),
    }
    r
}

/// Every document `r` holds passes the checks of a received document and can be indexed.
fn holds_only_good_documents(r: &mut MemReplica) {
    for id in r.doc_ids().unwrap_or_default() {
        if let Ok(Some(doc)) = r.doc(&id) {
            let doc = doc.clone();
            if let Err(e) = hearth_archive::check::received(&id, &doc) {
                panic!("the node holds {id}, which fails the checks: {e}");
            }
            indexable(&id, doc);
        }
    }
}

/// What the store reads of a document it writes: a case's view, summary and conflicts.
fn indexable(id: &str, doc: AutoCommit) {
    match Document::from_doc(doc, actor_id(HERE, &[2; 8])) {
        Ok(Document::Case(mut case)) => {
            let view = match case.view() {
                Ok(v) => v,
                Err(e) => panic!("{id} passed the checks but has no view: {e}"),
            };
            let _ = hearth_archive::CaseSummary::of(&view);
            if let Err(e) = case.open_conflicts(&view, Some(&Policy::builtin())) {
                panic!("{id} passed the checks but its conflicts cannot be read: {e}");
            }
        }
        Ok(Document::Record(mut record)) => {
            if let Err(e) = hearth_archive::conflict::fund_below_zero(&mut record) {
                panic!("{id} passed the checks but its ledger cannot be read: {e}");
            }
        }
        Err(e) => panic!("{id} passed the checks but does not load: {e}"),
    }
}

/// A protobuf sync frame from the neighbour, after its hello.
pub fn frame(data: &[u8]) {
    let Ok(pb) = SyncFrame::decode(data) else {
        return;
    };
    let Ok(frame) = Frame::try_from(pb) else {
        return;
    };
    let mut r = replica();
    let mut session = Session::new(PEER, hearth_sync::SessionConfig::default());
    session.open(&mut r);
    session.receive(
        Frame::Hello(Hello {
            node: PEER.into(),
            major: PROTOCOL_MAJOR,
            minor: 1,
            epoch: 7,
            resume: None,
            knows: Vec::new(),
        }),
        &mut r,
    );
    session.receive(frame, &mut r);
    holds_only_good_documents(&mut r);
}

fn identity() -> &'static hearth_node::Identity {
    static IDENTITY: OnceLock<hearth_node::Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let made = hearth_node::tls::new_ca("fuzz").and_then(|ca| {
            let node = hearth_node::tls::issue(&ca, HERE, None)?;
            hearth_node::Identity::from_pem(&ca.cert, &node)
        });
        match made {
            Ok(identity) => identity,
            Err(e) => panic!("cannot make the fuzz identity: {e}"),
        }
    })
}

/// A bundle file, and its payload as if a neighbour had signed it.
pub fn bundle(data: &[u8]) {
    // The file decoder and the signature check: refused, never a panic.
    let _ = hearth_node::bundle::open(identity(), data);
    let Ok(payload) = BundlePayload::decode(data) else {
        return;
    };
    let Ok(mut bundle) = hearth_sync::Bundle::try_from(payload) else {
        return;
    };
    bundle.from = PEER.into();
    bundle.to = HERE.into();
    let mut r = replica();
    let _ = hearth_sync::bundle::import(&mut r, &bundle);
    holds_only_good_documents(&mut r);
}

/// Automerge bytes received as a case, a summary, a ledger and the policy (as a node takes a
/// document from outside: as changes, into an empty document).
pub fn document(data: &[u8]) {
    let mut doc = AutoCommit::new();
    if hearth_archive::untrusted::load_incremental(&mut doc, data).is_err() {
        return;
    }
    for id in [
        SHARED,
        "summary.demo.team-1",
        "ledger.demo.team-1",
        "policy",
    ] {
        if hearth_archive::check::received(id, &doc).is_ok() {
            indexable(id, doc.clone());
        }
    }
}
