//! The documents a node keeps besides cases — the federation policy, its summary, its fund
//! ledger — and [`Document`], either kind, as storage and sync handle them.
//!
//! A record document is a map of entries, each written whole by one node (a policy version, a
//! summary, a ledger entry) and never edited in place, so a merge never mixes two halves of one
//! entry. Entries are JSON values inside the Automerge document: their shape is versioned by the
//! Rust type that reads them, and the document's own schema stays tiny.
//!
//! Document ids say what a document is: a case id is 16 hex digits; `policy` is the federation
//! policy; `summary.<node>` and `ledger.<node>` belong to one node.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::case::{Case, Editor};
use crate::doc::{get_i64, get_obj, get_str, need_obj, put_timestamp};
use crate::error::{ArchiveError, Result};

/// Schema version of record documents written by this code.
pub const RECORD_SCHEMA: i64 = 1;

/// The id of the federation policy document.
pub const POLICY_ID: &str = "policy";

/// What a record document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// The federation policy: one entry per version. Written at the top; flows down.
    Policy,
    /// A node's aggregates. Written by the node; flows to its parents.
    Summary,
    /// A node's fund ledger (帮扶资金). Written by the node (and grants by its parents); its
    /// parents hold it for audit.
    Ledger,
}

impl RecordKind {
    /// The `kind` stored in the document.
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Policy => "policy",
            RecordKind::Summary => "summary",
            RecordKind::Ledger => "ledger",
        }
    }

    fn from_code(code: &str) -> Option<RecordKind> {
        [RecordKind::Policy, RecordKind::Summary, RecordKind::Ledger]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// What a document id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocId<'a> {
    /// A case.
    Case,
    /// The federation policy.
    Policy,
    /// The summary of a node.
    Summary(&'a str),
    /// The fund ledger of a node.
    Ledger(&'a str),
}

impl<'a> DocId<'a> {
    /// Reads a document id.
    pub fn of(id: &'a str) -> DocId<'a> {
        if id == POLICY_ID {
            DocId::Policy
        } else if let Some(node) = id.strip_prefix("summary.") {
            DocId::Summary(node)
        } else if let Some(node) = id.strip_prefix("ledger.") {
            DocId::Ledger(node)
        } else {
            DocId::Case
        }
    }

    /// The record kind, for a record id.
    pub fn record_kind(self) -> Option<RecordKind> {
        match self {
            DocId::Case => None,
            DocId::Policy => Some(RecordKind::Policy),
            DocId::Summary(_) => Some(RecordKind::Summary),
            DocId::Ledger(_) => Some(RecordKind::Ledger),
        }
    }
}

/// The id of `node`'s summary document.
pub fn summary_id(node: &str) -> String {
    format!("summary.{node}")
}

/// The id of `node`'s ledger document.
pub fn ledger_id(node: &str) -> String {
    format!("ledger.{node}")
}

/// A record document.
#[derive(Debug)]
pub struct Record {
    doc: AutoCommit,
    saved: Vec<ChangeHash>,
}

impl Record {
    /// A new, empty record document with id `id` (which says its kind).
    pub fn create(id: &str, actor: ActorId, editor: &Editor) -> Result<Record> {
        let kind = DocId::of(id)
            .record_kind()
            .ok_or_else(|| ArchiveError::Schema(format!("{id} is not a record id")))?;
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", RECORD_SCHEMA)?;
        doc.put(ROOT, "kind", kind.code())?;
        doc.put(ROOT, "id", id)?;
        doc.put(ROOT, "created_node", editor.node.as_str())?;
        put_timestamp(&mut doc, &ROOT, "created_at", editor.at)?;
        doc.put_object(ROOT, "entries", ObjType::Map)?;
        doc.commit_with(
            CommitOptions::default()
                .with_message(format!("{} new", kind.code()))
                .with_time(editor.at.as_second()),
        );
        Ok(Record {
            doc,
            saved: Vec::new(),
        })
    }

    /// Loads a record from its saved bytes.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Record> {
        Record::from_doc(crate::untrusted::load(bytes)?, actor)
    }

    /// Wraps a document in memory, writing as `actor` from now on.
    pub fn from_doc(doc: AutoCommit, actor: ActorId) -> Result<Record> {
        let mut doc = doc.with_actor(actor);
        let saved = doc.get_heads();
        let record = Record { doc, saved };
        record.kind()?;
        match get_i64(&record.doc, &ROOT, "schema")? {
            Some(v) if v <= RECORD_SCHEMA => Ok(record),
            other => Err(ArchiveError::Schema(format!(
                "record schema {}",
                other.map_or("missing".into(), |v| v.to_string())
            ))),
        }
    }

    /// The kind, from the document.
    pub fn kind(&self) -> Result<RecordKind> {
        get_str(&self.doc, &ROOT, "kind")?
            .as_deref()
            .and_then(RecordKind::from_code)
            .ok_or_else(|| ArchiveError::Schema("kind is not a record kind".into()))
    }

    /// The document id.
    pub fn id(&self) -> Result<String> {
        get_str(&self.doc, &ROOT, "id")?.ok_or_else(|| ArchiveError::Schema("id is missing".into()))
    }

    /// Writes entry `key` whole, as one change.
    pub fn put<T: Serialize>(&mut self, editor: &Editor, key: &str, value: &T) -> Result<()> {
        crate::case::check_editor(editor)?;
        let json = serde_json::to_string(value).map_err(|e| ArchiveError::Invalid {
            field: "record entry",
            reason: e.to_string(),
        })?;
        let entries = need_obj(&self.doc, &ROOT, "entries")?;
        self.doc.put(&entries, key, json)?;
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(format!("put {key}"))
                .with_time(editor.at.as_second()),
        );
        Ok(())
    }

    /// Entry `key`, if written.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(entries) = get_obj(&self.doc, &ROOT, "entries")? else {
            return Ok(None);
        };
        get_str(&self.doc, &entries, key)?
            .map(|json| parse_entry(key, &json))
            .transpose()
    }

    /// Every entry, in key order (acknowledgements of conflicts, `ack:…`, left out).
    pub fn entries<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>> {
        entries_of(&self.doc)
    }

    /// Every entry as its JSON text, in key order.
    pub fn raw_entries(&self) -> Result<Vec<(String, String)>> {
        use automerge::ReadDoc;
        let Some(entries) = get_obj(&self.doc, &ROOT, "entries")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for key in self.doc.keys(&entries) {
            if let Some(json) = get_str(&self.doc, &entries, &key)? {
                out.push((key.clone(), json));
            }
        }
        Ok(out)
    }

    /// The document, for sync.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The document inside.
    pub fn into_doc(self) -> AutoCommit {
        self.doc
    }

    /// Current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether there are changes not yet handed to storage.
    pub fn has_unsaved_changes(&mut self) -> bool {
        self.doc.get_heads() != self.saved
    }

    /// The changes since the last hand-over to storage, as one chunk.
    pub fn take_changes(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&self.saved);
        self.saved = self.doc.get_heads();
        bytes
    }

    /// The whole document, compacted (columns not deflated).
    pub fn save(&mut self) -> Vec<u8> {
        // Uncompressed: a deflate stream costs more to set up than a case-sized document is worth
        // (it was a third of storing a received case). Compaction writes compressed snapshots.
        let bytes = self.doc.save_nocompress();
        self.saved = self.doc.get_heads();
        bytes
    }
}

/// Every entry of a record document, in key order (acknowledgements of conflicts, `ack:…`,
/// left out).
pub fn entries_of<T: DeserializeOwned>(doc: &AutoCommit) -> Result<Vec<(String, T)>> {
    use automerge::ReadDoc;
    let Some(entries) = get_obj(doc, &ROOT, "entries")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in doc.keys(&entries).filter(|k| !k.starts_with("ack:")) {
        if let Some(json) = get_str(doc, &entries, &key)? {
            out.push((key.clone(), parse_entry(&key, &json)?));
        }
    }
    Ok(out)
}

fn parse_entry<T: DeserializeOwned>(key: &str, json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| ArchiveError::Schema(format!("entry {key} cannot be read: {e}")))
}

/// The `kind` a document says it is (`case`, `policy`, `summary`, `ledger`), if any.
pub fn kind_of(doc: &AutoCommit) -> Option<String> {
    get_str(doc, &ROOT, "kind").ok().flatten()
}

/// The `id` a document says it has, if any.
pub fn id_of(doc: &AutoCommit) -> Option<String> {
    get_str(doc, &ROOT, "id").ok().flatten()
}

/// Any document a node stores: a case or a record.
#[derive(Debug)]
pub enum Document {
    /// A case.
    Case(Case),
    /// A policy, summary or ledger.
    Record(Record),
}

impl Document {
    /// Loads a document from its saved bytes, whatever its kind.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Document> {
        Document::from_doc(crate::untrusted::load(bytes)?, actor)
    }

    /// Wraps a document in memory, whatever its kind.
    pub fn from_doc(doc: AutoCommit, actor: ActorId) -> Result<Document> {
        match get_str(&doc, &ROOT, "kind")?.as_deref() {
            Some("case") => Ok(Document::Case(Case::from_doc(doc, actor)?)),
            _ => Ok(Document::Record(Record::from_doc(doc, actor)?)),
        }
    }

    /// The document id.
    pub fn id(&self) -> Result<String> {
        match self {
            Document::Case(c) => c.id(),
            Document::Record(r) => r.id(),
        }
    }

    /// The Automerge document, for sync.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        match self {
            Document::Case(c) => c.doc_mut(),
            Document::Record(r) => r.doc_mut(),
        }
    }

    /// Current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc_mut().get_heads()
    }

    /// Whether there are changes not yet handed to storage.
    pub fn has_unsaved_changes(&mut self) -> bool {
        match self {
            Document::Case(c) => c.has_unsaved_changes(),
            Document::Record(r) => r.has_unsaved_changes(),
        }
    }

    /// The changes since the last hand-over to storage, as one chunk.
    pub fn take_changes(&mut self) -> Vec<u8> {
        match self {
            Document::Case(c) => c.take_changes(),
            Document::Record(r) => r.take_changes(),
        }
    }

    /// The whole document, compacted (columns not deflated).
    pub fn save(&mut self) -> Vec<u8> {
        match self {
            Document::Case(c) => c.save(),
            Document::Record(r) => r.save(),
        }
    }

    /// The case, if this is one.
    pub fn as_case_mut(&mut self) -> Option<&mut Case> {
        match self {
            Document::Case(c) => Some(c),
            Document::Record(_) => None,
        }
    }

    /// The record, if this is one.
    pub fn as_record_mut(&mut self) -> Option<&mut Record> {
        match self {
            Document::Record(r) => Some(r),
            Document::Case(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor() -> Editor {
        Editor {
            node: "demo.municipal".into(),
            by: "admin".into(),
            at: jiff::Timestamp::from_second(1_780_000_000).unwrap(),
            today: jiff::civil::date(2026, 5, 28),
        }
    }

    #[test]
    fn entries_round_trip_and_ids_name_their_kind() {
        let actor = crate::actor_id("demo.municipal", &[1; 8]);
        let mut r = Record::create(POLICY_ID, actor.clone(), &editor()).unwrap();
        r.put(&editor(), "0001", &vec![1, 2, 3]).unwrap();
        let bytes = r.save();
        let loaded = Document::load(&bytes, actor).unwrap();
        let Document::Record(loaded) = loaded else {
            panic!("a record loads as a record")
        };
        assert_eq!(loaded.kind().unwrap(), RecordKind::Policy);
        assert_eq!(loaded.get::<Vec<i32>>("0001").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(
            DocId::of("summary.demo.branch"),
            DocId::Summary("demo.branch")
        );
        assert_eq!(DocId::of("ledger.t1"), DocId::Ledger("t1"));
        assert_eq!(DocId::of("82099a1aaccb4fd2"), DocId::Case);
        assert!(Record::create("82099a1aaccb4fd2", crate::actor_id("x", &[0]), &editor()).is_err());
    }
}
