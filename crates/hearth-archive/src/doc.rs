//! Small typed accessors over Automerge maps and lists, shared by the document models.
//!
//! Readers are strict about types (a document from a peer that does not fit the schema is an
//! error, never a panic) and lenient about absence (a missing optional field is `None`).

use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::error::{ArchiveError, Result};

/// A fixed-size digest of a document's heads, independent of their order: two replicas with the
/// same heads have the same digest.
pub fn heads_hash(heads: &[automerge::ChangeHash]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&automerge::ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for h in sorted {
        hasher.update(h.0);
    }
    hasher.finalize().into()
}

/// The actor id a node writes with: its node id, a zero byte, and the store's incarnation bytes
/// (so two data dirs that claim one node id never reuse each other's sequence numbers).
pub fn actor_id(node_id: &str, incarnation: &[u8]) -> ActorId {
    let mut bytes = Vec::with_capacity(node_id.len() + 1 + incarnation.len());
    bytes.extend_from_slice(node_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(incarnation);
    ActorId::from(bytes)
}

/// The node id inside an actor id made by [`actor_id`], if it is one.
pub fn node_of_actor(actor: &ActorId) -> Option<String> {
    let bytes = actor.to_bytes();
    let end = bytes.iter().position(|&b| b == 0)?;
    String::from_utf8(bytes[..end].to_vec()).ok()
}

fn schema(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Schema(what.into())
}

fn scalar<'a>(
    doc: &'a AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<Option<std::borrow::Cow<'a, ScalarValue>>> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) if matches!(*s, ScalarValue::Null) => Ok(None),
        Some((Value::Scalar(s), _)) => Ok(Some(s)),
        Some((Value::Object(_), _)) => Err(schema(format!("{key} is an object, not a value"))),
    }
}

pub(crate) fn get_str(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<String>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match s.as_ref() {
            ScalarValue::Str(v) => Ok(Some(v.to_string())),
            _ => Err(schema(format!("{key} is not text"))),
        },
    }
}

pub(crate) fn get_bool(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<bool>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match s.as_ref() {
            ScalarValue::Boolean(v) => Ok(Some(*v)),
            _ => Err(schema(format!("{key} is not true or false"))),
        },
    }
}

pub(crate) fn get_i64(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<i64>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match s.as_ref() {
            ScalarValue::Int(v) => Ok(Some(*v)),
            ScalarValue::Uint(v) => i64::try_from(*v)
                .map(Some)
                .map_err(|_| schema(format!("{key} is out of range"))),
            _ => Err(schema(format!("{key} is not a number"))),
        },
    }
}

pub(crate) fn get_timestamp(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<Option<jiff::Timestamp>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match s.as_ref() {
            ScalarValue::Timestamp(ms) => jiff::Timestamp::from_millisecond(*ms)
                .map(Some)
                .map_err(|_| schema(format!("{key} is out of range"))),
            _ => Err(schema(format!("{key} is not a timestamp"))),
        },
    }
}

pub(crate) fn get_code<T: FromStr>(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<T>> {
    match get_str(doc, obj, key)? {
        None => Ok(None),
        Some(code) => code
            .parse()
            .map(Some)
            .map_err(|_| schema(format!("{key} has the unknown code {code:?}"))),
    }
}

pub(crate) fn get_date(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<Option<jiff::civil::Date>> {
    match get_str(doc, obj, key)? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| schema(format!("{key} is not a date"))),
    }
}

pub(crate) fn get_obj(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Object(_), id)) => Ok(Some(id)),
        Some((Value::Scalar(_), _)) => Err(schema(format!("{key} is a value, not an object"))),
    }
}

pub(crate) fn need_obj(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    get_obj(doc, obj, key)?.ok_or_else(|| schema(format!("{key} is missing")))
}

/// The entries of a map whose values are objects (records keyed by id), sorted by key.
pub(crate) fn map_objects(doc: &AutoCommit, obj: &ObjId) -> Result<Vec<(String, ObjId)>> {
    doc.keys(obj)
        .map(|key| Ok((key.clone(), need_obj(doc, obj, &key)?)))
        .collect()
}

/// The objects of a list, in order.
pub(crate) fn list_objects(doc: &AutoCommit, list: &ObjId) -> Result<Vec<ObjId>> {
    (0..doc.length(list))
        .map(|i| match doc.get(list, i)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(schema("a list entry is not an object")),
        })
        .collect()
}

/// Writes text, or removes the key when the text is empty.
pub(crate) fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<()> {
    let value = value.trim();
    if value.is_empty() {
        if doc.get(obj, key)?.is_some() {
            doc.delete(obj, key)?;
        }
    } else if get_str(doc, obj, key).ok().flatten().as_deref() != Some(value) {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

/// Writes a number unless it is already the value (unchanged values make no operation, so they
/// cannot conflict with a concurrent edit elsewhere).
pub(crate) fn put_i64(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: i64) -> Result<()> {
    if get_i64(doc, obj, key).ok().flatten() != Some(value) {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

pub(crate) fn put_timestamp(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    at: jiff::Timestamp,
) -> Result<()> {
    doc.put(obj, key, ScalarValue::Timestamp(at.as_millisecond()))?;
    Ok(())
}

/// Appends a new map to the end of a list and returns it.
pub(crate) fn push_map(doc: &mut AutoCommit, list: &ObjId) -> Result<ObjId> {
    let len = doc.length(list);
    Ok(doc.insert_object(list, len, ObjType::Map)?)
}
