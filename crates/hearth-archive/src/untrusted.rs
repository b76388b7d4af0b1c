//! Automerge applied to bytes from outside the node — a peer's sync message, a bundle's
//! document. Fuzzing found that Automerge's parser can panic on malformed bytes (a column that
//! ends inside a number; a Bloom filter of size zero) and can be made to allocate gigabytes by a
//! kilobyte of "bundle" chunk (a run length it expands without bound). So:
//!
//! - what comes from outside is screened before Automerge sees it: nothing but uncompressed
//!   change chunks (`screen_changes`), which is all that Hearth nodes send — sync messages in
//!   version 1 (this node never advertises version 2, whose changes come as one bundle chunk),
//!   bundles as the changes themselves;
//! - a panic inside Automerge is caught and becomes an error, so that no input a neighbour can
//!   send stops the node.
//!
//! Each function may leave the document or sync state it was given half changed when it fails:
//! callers apply untrusted bytes to copies, or drop what they passed in.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::AutoCommit;
use automerge::sync::{Message, State, SyncDoc};

use crate::error::{ArchiveError, Result};

/// Runs `f`, turning a panic into an error that says the bytes could not be read.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no reason given".into());
            Err(ArchiveError::Implausible(format!(
                "{what} cannot be read: the Automerge parser failed on it ({})",
                crate::text::escape(&why.chars().take(200).collect::<String>())
            )))
        }
    }
}

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of an uncompressed change.
const CHANGE_CHUNK: u8 = 1;

/// Checks that `bytes` are nothing but whole, uncompressed change chunks (no document, no
/// compressed change, no bundle chunk), without parsing what is inside them.
pub fn screen_changes(bytes: &[u8]) -> Result<()> {
    let bad = |why: String| ArchiveError::Implausible(format!("the changes {why}"));
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 10 || rest[..4] != MAGIC {
            return Err(bad("are not Automerge change chunks".into()));
        }
        if rest[8] != CHANGE_CHUNK {
            return Err(bad(format!(
                "hold a chunk of type {}; only uncompressed changes are taken",
                rest[8]
            )));
        }
        let (len, used) = leb128(&rest[9..])
            .ok_or_else(|| bad("have a chunk length that cannot be read".into()))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| (9 + used).checked_add(len))
            .filter(|end| *end <= rest.len())
            .ok_or_else(|| bad("end before their last chunk does".into()))?;
        rest = &rest[end..];
    }
    Ok(())
}

/// An unsigned LEB128 number at the start of `bytes`: (value, bytes used).
fn leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A whole document from bytes this node stored itself (a snapshot and its chunks): a panic on
/// damaged bytes becomes an error. Bytes from outside go through [`load_incremental`].
pub fn load(bytes: &[u8]) -> Result<AutoCommit> {
    guarded("the document", || Ok(AutoCommit::load(bytes)?))
}

/// Applies changes from outside to `doc` (a copy: it may be half changed on failure). They
/// must be change chunks ([`screen_changes`]).
pub fn load_incremental(doc: &mut AutoCommit, bytes: &[u8]) -> Result<()> {
    screen_changes(bytes)?;
    guarded("the changes", || {
        doc.load_incremental(bytes)?;
        Ok(())
    })
}

/// The (hash, actor) of each change a sync message carries, read from the message's bytes as a
/// peer sent them; `None` if they cannot be read. A hint only (to check signatures ahead of the
/// one who applies the message): everything is checked again where it is applied.
pub fn change_authors(bytes: &[u8]) -> Option<Vec<(automerge::ChangeHash, automerge::ActorId)>> {
    let message = decode_message(bytes).ok()?;
    guarded("the changes", || {
        let mut out = Vec::new();
        for chunk in message.changes.iter() {
            let change = automerge::Change::try_from(chunk)
                .map_err(|e| ArchiveError::Implausible(e.to_string()))?;
            out.push((change.hash(), change.actor_id().clone()));
        }
        Ok(out)
    })
    .ok()
}

/// A sync message from a peer: version 1, its changes change chunks ([`screen_changes`]), and
/// the capabilities it advertises left out, so that this node answers in version 1 too.
pub fn decode_message(bytes: &[u8]) -> Result<Message> {
    let mut message = guarded("the sync message", || {
        Message::decode(bytes).map_err(|e| ArchiveError::Implausible(e.to_string()))
    })?;
    if message.version != automerge::sync::MessageVersion::V1 {
        return Err(ArchiveError::Implausible(
            "the sync message is of version 2; Hearth nodes speak version 1".into(),
        ));
    }
    for chunk in message.changes.iter() {
        screen_changes(chunk)?;
    }
    message.flags = None;
    Ok(message)
}

/// Applies a sync message to `doc` and `state` (a copy, or a state to drop: either may be half
/// changed on failure).
pub fn receive(doc: &mut AutoCommit, state: &mut State, message: Message) -> Result<()> {
    guarded("the sync message", || {
        doc.sync().receive_sync_message(state, message)?;
        Ok(())
    })
}

/// The next sync message for `doc`, answering what `state` holds of the peer's (its heads,
/// needs and Bloom filter of what it has — a malformed filter made Automerge divide by zero).
/// On failure the state must be dropped.
/// The message carries no capabilities: peers answer in version 1.
pub fn generate(doc: &mut AutoCommit, state: &mut State) -> Result<Option<Message>> {
    let message = guarded("what the peer has", || {
        Ok(doc.sync().generate_sync_message(state))
    })?;
    Ok(message.map(|mut m| {
        m.flags = None;
        m
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_make_the_parser_panic_are_an_error() {
        // Found by the `document` fuzz target: a chunk whose column runs out mid-number.
        let crasher = include_bytes!(
            "../../hearth-fuzz/tests/crashers/document/crash-a0ce05d2d6cc97bfbd3a5b8dfc286aa770abea1f"
        );
        let e = load(crasher).unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
        let mut doc = AutoCommit::new();
        let e = load_incremental(&mut doc, crasher).unwrap_err().to_string();
        assert!(e.contains("type 3"), "{e}");
        assert!(load(b"not automerge").is_err());
    }

    #[test]
    fn what_a_node_sends_is_change_chunks_in_version_1_messages() {
        use automerge::transaction::Transactable;
        let mut doc = AutoCommit::new();
        for i in 0..40 {
            doc.put(automerge::ROOT, format!("k{i}"), "x".repeat(100))
                .unwrap();
            doc.commit();
        }
        screen_changes(&doc.save_after(&[])).unwrap();
        assert!(screen_changes(&doc.save()).is_err(), "a whole document");
        // Two nodes exchanging the document: every message version 1, every change a chunk.
        let (mut a, mut b) = (State::new(), State::new());
        let mut other = AutoCommit::new();
        for _ in 0..10 {
            if let Some(m) = generate(&mut doc, &mut a).unwrap() {
                let m = decode_message(&m.encode()).unwrap();
                receive(&mut other, &mut b, m).unwrap();
            }
            if let Some(m) = generate(&mut other, &mut b).unwrap() {
                let m = decode_message(&m.encode()).unwrap();
                receive(&mut doc, &mut a, m).unwrap();
            }
        }
        assert_eq!(doc.get_heads(), other.get_heads());
    }
}
