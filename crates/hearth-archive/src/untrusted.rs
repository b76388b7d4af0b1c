//! Automerge applied to bytes from outside the node — a peer's sync message, a bundle's
//! document. Automerge's parser can panic on malformed bytes (fuzzing found one in its column
//! decoder); here such a panic is caught and becomes an error, so that no input a neighbour can
//! send stops the node. Each function may leave the document or sync state it was given half
//! changed when it fails: callers apply untrusted bytes to copies, or drop what they passed in.

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

/// A whole document from bytes.
pub fn load(bytes: &[u8]) -> Result<AutoCommit> {
    guarded("the document", || Ok(AutoCommit::load(bytes)?))
}

/// Applies changes from bytes to `doc` (a copy: it may be half changed on failure).
pub fn load_incremental(doc: &mut AutoCommit, bytes: &[u8]) -> Result<()> {
    guarded("the changes", || {
        doc.load_incremental(bytes)?;
        Ok(())
    })
}

/// A sync message from bytes.
pub fn decode_message(bytes: &[u8]) -> Result<Message> {
    guarded("the sync message", || {
        Message::decode(bytes).map_err(|e| ArchiveError::Implausible(e.to_string()))
    })
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
pub fn generate(doc: &mut AutoCommit, state: &mut State) -> Result<Option<Message>> {
    guarded("what the peer has", || {
        Ok(doc.sync().generate_sync_message(state))
    })
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
        assert!(load_incremental(&mut doc, crasher).is_err());
        assert!(load(b"not automerge").is_err());
    }
}
