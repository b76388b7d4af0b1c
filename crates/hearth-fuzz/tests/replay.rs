//! Replays every input a fuzz target ever failed on (`tests/crashers/<target>/`, committed as
//! found), and the poisoned inputs that issue 11 measured against real nodes, through the same
//! functions the fuzz targets run. Each must be refused without a panic, and leave the node
//! holding only documents that pass the checks.

use std::path::Path;

use hearth_archive::automerge::transaction::Transactable;
use hearth_archive::automerge::{ROOT, ReadDoc};
use hearth_proto::v1::SyncFrame;
use hearth_sync::Frame;
use hearth_tests::hostile::whole_doc_message;
use prost::Message;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/crashers")
        .join(target);
    let mut n = 0;
    // A target none of whose inputs ever failed has no folder (git keeps no empty ones).
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        run(&bytes);
        n += 1;
    }
    n
}

#[test]
fn every_crasher_is_refused_without_a_panic() {
    let replayed = replay("frame", hearth_fuzz::frame)
        + replay("bundle", hearth_fuzz::bundle)
        + replay("document", hearth_fuzz::document);
    eprintln!("{replayed} crashers replayed");
}

fn frame_of(doc: &str, message: Vec<u8>) -> Vec<u8> {
    SyncFrame::from(Frame::Sync {
        signatures: Vec::new(),
        doc: doc.into(),
        message,
    })
    .encode_to_vec()
}

#[test]
fn the_poisons_measured_against_real_nodes_are_refused() {
    // The shared case with its status deleted (the change that halted a node), as a frame and
    // as a document.
    let mut r = hearth_fuzz::replica();
    let mut doc = hearth_sync::Replica::doc(&mut r, hearth_fuzz::SHARED)
        .unwrap()
        .unwrap()
        .clone();
    doc.delete(ROOT, "status").unwrap();
    doc.commit();
    assert!(hearth_archive::check::received(hearth_fuzz::SHARED, &doc).is_err());
    hearth_fuzz::frame(&frame_of(hearth_fuzz::SHARED, whole_doc_message(&mut doc)));
    hearth_fuzz::document(&doc.save_after(&[]));

    // Types swapped, a container replaced by a value, a list where a map belongs.
    let mut odd = hearth_sync::Replica::doc(&mut r, hearth_fuzz::SHARED)
        .unwrap()
        .unwrap()
        .clone();
    let worker = odd.get(ROOT, "worker").unwrap().unwrap().1;
    odd.put(&worker, "name", 12).unwrap();
    odd.put(ROOT, "assistance", "none").unwrap();
    odd.put_object(
        ROOT,
        "participants",
        hearth_archive::automerge::ObjType::List,
    )
    .unwrap();
    odd.commit();
    hearth_fuzz::frame(&frame_of(hearth_fuzz::SHARED, whole_doc_message(&mut odd)));
    hearth_fuzz::document(&odd.save_after(&[]));

    // Garbage where a sync message, a digest or a bundle belongs.
    hearth_fuzz::frame(&frame_of(hearth_fuzz::SHARED, vec![0x42; 64]));
    hearth_fuzz::frame(&[0x1a, 0xff, 0xff, 0xff, 0x0f]);
    hearth_fuzz::bundle(b"HEARTHB\x01\x0a\x03abc");
    hearth_fuzz::bundle(&[0x3a, 0x04, 0x0a, 0x02, 0x69, 0x64]);
    hearth_fuzz::document(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0]);
}
