//! Writes seed inputs for the fuzz targets into `DIR/<target>/`: a whole case as a sync frame,
//! a digest, a bundle payload with a case, and the case's bytes. Usage:
//! `cargo run -p hearth-fuzz --example seeds -- crates/hearth-fuzz/fuzz/corpus`.

use hearth_archive::automerge::AutoCommit;
use hearth_archive::automerge::sync::{State, SyncDoc};
use hearth_proto::v1::{BundlePayload, SyncFrame};
use hearth_sync::{DigestEntry, Frame, Replica};
use prost::Message;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let mut r = hearth_fuzz::replica();
    let mut doc: AutoCommit = match r.doc(hearth_fuzz::SHARED) {
        Ok(Some(d)) => d.clone(),
        _ => return Err(std::io::Error::other("no sample case")),
    };
    let mut empty = AutoCommit::new();
    let (mut ours, mut theirs) = (State::new(), State::new());
    let mut messages = Vec::new();
    if let Some(ask) = empty.sync().generate_sync_message(&mut theirs) {
        messages.push(ask.clone().encode());
        let _ = doc.sync().generate_sync_message(&mut ours);
        let _ = doc.sync().receive_sync_message(&mut ours, ask);
    }
    if let Some(m) = doc.sync().generate_sync_message(&mut ours) {
        messages.push(m.encode());
    }
    let write = |target: &str, name: String, bytes: Vec<u8>| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(name), bytes)
    };
    for (i, m) in messages.into_iter().enumerate() {
        for id in [hearth_fuzz::SHARED, "fedcba9876543210"] {
            let frame = SyncFrame::from(Frame::Sync {
                signatures: Vec::new(),
                doc: id.into(),
                message: m.clone(),
            });
            write("frame", format!("sync-{id}-{i}"), frame.encode_to_vec())?;
        }
    }
    let digest = SyncFrame::from(Frame::Digest {
        entries: vec![DigestEntry {
            doc: hearth_fuzz::SHARED.into(),
            heads: [1; 32],
        }],
        upto: Some(3),
    });
    write("frame", "digest".into(), digest.encode_to_vec())?;
    let bytes = doc.save_after(&[]);
    write("document", "case".into(), bytes.clone())?;
    let bundle = hearth_sync::Bundle {
        certificates: Vec::new(),
        from: "demo.team-1".into(),
        to: "demo.branch".into(),
        epoch: 1,
        since: 0,
        upto: 1,
        has_yours: None,
        docs: vec![hearth_sync::BundleDoc {
            signatures: Vec::new(),
            id: hearth_fuzz::SHARED.into(),
            heads: doc.get_heads(),
            data: bytes,
        }],
    };
    write(
        "bundle",
        "payload".into(),
        BundlePayload::of(&bundle, 0).encode_to_vec(),
    )?;
    Ok(())
}
