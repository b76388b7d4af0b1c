//! Small typed accessors over Automerge maps and lists, shared by the document models.
//!
//! Readers are strict about types (a document from a peer that does not fit the schema is an
//! error, never a panic) and lenient about absence (a missing optional field is `None`).
//!
//! They read from a [`Source`]: the document itself, where every key is a seek through its
//! columns, or a [`Snapshot`] of it, which reads each map or list it is asked about once, in one
//! pass — several times cheaper when a reader wants most fields of a map, as the whole-case view
//! does.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
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

/// A value of a map or list, owned.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    /// A scalar.
    Scalar(ScalarValue),
    /// A nested map, list or text.
    Object(ObjId),
}

impl Field {
    fn of(value: Value<'_>, id: ObjId) -> Field {
        match value {
            Value::Object(_) => Field::Object(id),
            Value::Scalar(s) => Field::Scalar(s.into_owned()),
        }
    }
}

/// Where readers get values from (see the module doc).
pub(crate) trait Source {
    /// The value at `key` of the map `obj` (the winner, if concurrent writes left several).
    fn field(&self, obj: &ObjId, key: &str) -> Result<Option<Field>>;
    /// The keys of the map `obj`, sorted.
    fn field_keys(&self, obj: &ObjId) -> Result<Vec<String>>;
    /// The values of the list `obj`, in order.
    fn list_fields(&self, list: &ObjId) -> Result<Vec<Field>>;
}

impl Source for AutoCommit {
    fn field(&self, obj: &ObjId, key: &str) -> Result<Option<Field>> {
        Ok(self.get(obj, key)?.map(|(v, id)| Field::of(v, id)))
    }

    fn field_keys(&self, obj: &ObjId) -> Result<Vec<String>> {
        Ok(self.keys(obj).collect())
    }

    fn list_fields(&self, list: &ObjId) -> Result<Vec<Field>> {
        (0..self.length(list))
            .map(|i| {
                self.get(list, i)?
                    .map(|(v, id)| Field::of(v, id))
                    .ok_or_else(|| schema("a list entry vanished"))
            })
            .collect()
    }
}

/// A document read map by map: the first question about a map reads all of it in one pass.
/// For reading, never across a change of the document.
#[derive(Debug)]
pub(crate) struct Snapshot<'a> {
    doc: &'a AutoCommit,
    maps: RefCell<HashMap<ObjId, Rc<BTreeMap<String, Field>>>>,
}

impl<'a> Snapshot<'a> {
    pub(crate) fn new(doc: &'a AutoCommit) -> Snapshot<'a> {
        Snapshot {
            doc,
            maps: RefCell::new(HashMap::new()),
        }
    }

    fn map(&self, obj: &ObjId) -> Rc<BTreeMap<String, Field>> {
        if let Some(map) = self.maps.borrow().get(obj) {
            return map.clone();
        }
        let map: BTreeMap<String, Field> = self
            .doc
            .map_range(obj, ..)
            .map(|item| {
                let id = item.id();
                let value = Value::from(item.value);
                (item.key.into_owned(), Field::of(value, id))
            })
            .collect();
        let map = Rc::new(map);
        self.maps.borrow_mut().insert(obj.clone(), map.clone());
        map
    }
}

/// How large a document from another node may be, object by object (see [`Snapshot::bounded`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Entries of one map or list.
    pub entries: usize,
    /// Bytes of one text or byte value.
    pub text: usize,
    /// Objects nested inside each other.
    pub depth: usize,
}

impl Snapshot<'_> {
    /// Walks every object of the document and refuses one that is larger than `bounds` allow:
    /// a map or list with too many entries, a text too long, objects nested too deep. The maps
    /// read on the way stay in the snapshot, so reading the document afterwards costs little.
    pub(crate) fn bounded(&self, bounds: Bounds) -> Result<()> {
        self.bounded_at(&automerge::ROOT, bounds, 0)
    }

    fn bounded_at(&self, obj: &ObjId, bounds: Bounds, depth: usize) -> Result<()> {
        let too = |what: String| ArchiveError::Implausible(what);
        if depth > bounds.depth {
            return Err(too(format!(
                "objects nested more than {} deep",
                bounds.depth
            )));
        }
        let list;
        let map;
        // A map's fields are read in place from the snapshot (which the typed read reuses);
        // a list's are read here.
        let (len, fields): (usize, Box<dyn Iterator<Item = &Field>>) =
            match self.doc.object_type(obj) {
                Ok(ObjType::Map | ObjType::Table) => {
                    map = self.map(obj);
                    (map.len(), Box::new(map.values()))
                }
                Ok(ObjType::List) => {
                    list = self.list_fields(obj)?;
                    (list.len(), Box::new(list.iter()))
                }
                Ok(ObjType::Text) => {
                    return if self.doc.length(obj) > bounds.text {
                        Err(too(format!("a text longer than {} bytes", bounds.text)))
                    } else {
                        Ok(())
                    };
                }
                Err(e) => return Err(e.into()),
            };
        if len > bounds.entries {
            return Err(too(format!(
                "a collection of {len} entries, more than {}",
                bounds.entries
            )));
        }
        for field in fields {
            match field {
                Field::Scalar(ScalarValue::Str(t)) if t.len() > bounds.text => {
                    return Err(too(format!(
                        "a text of {} bytes, more than {}",
                        t.len(),
                        bounds.text
                    )));
                }
                Field::Scalar(ScalarValue::Bytes(b)) if b.len() > bounds.text => {
                    return Err(too(format!(
                        "a value of {} bytes, more than {}",
                        b.len(),
                        bounds.text
                    )));
                }
                Field::Scalar(_) => {}
                Field::Object(child) => self.bounded_at(child, bounds, depth + 1)?,
            }
        }
        Ok(())
    }
}

impl Source for Snapshot<'_> {
    fn field(&self, obj: &ObjId, key: &str) -> Result<Option<Field>> {
        Ok(self.map(obj).get(key).cloned())
    }

    fn field_keys(&self, obj: &ObjId) -> Result<Vec<String>> {
        Ok(self.map(obj).keys().cloned().collect())
    }

    fn list_fields(&self, list: &ObjId) -> Result<Vec<Field>> {
        Ok(self
            .doc
            .list_range(list, ..)
            .map(|item| {
                let id = item.id();
                Field::of(Value::from(item.value), id)
            })
            .collect())
    }
}

fn scalar(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<ScalarValue>> {
    match doc.field(obj, key)? {
        None => Ok(None),
        Some(Field::Scalar(ScalarValue::Null)) => Ok(None),
        Some(Field::Scalar(s)) => Ok(Some(s)),
        Some(Field::Object(_)) => Err(schema(format!("{key} is an object, not a value"))),
    }
}

pub(crate) fn get_str(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<String>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match &s {
            ScalarValue::Str(v) => Ok(Some(v.to_string())),
            _ => Err(schema(format!("{key} is not text"))),
        },
    }
}

pub(crate) fn get_bool(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<bool>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match &s {
            ScalarValue::Boolean(v) => Ok(Some(*v)),
            _ => Err(schema(format!("{key} is not true or false"))),
        },
    }
}

pub(crate) fn get_i64(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<i64>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match &s {
            ScalarValue::Int(v) => Ok(Some(*v)),
            ScalarValue::Uint(v) => i64::try_from(*v)
                .map(Some)
                .map_err(|_| schema(format!("{key} is out of range"))),
            _ => Err(schema(format!("{key} is not a number"))),
        },
    }
}

pub(crate) fn get_timestamp(
    doc: &impl Source,
    obj: &ObjId,
    key: &str,
) -> Result<Option<jiff::Timestamp>> {
    match scalar(doc, obj, key)? {
        None => Ok(None),
        Some(s) => match &s {
            ScalarValue::Timestamp(ms) => jiff::Timestamp::from_millisecond(*ms)
                .map(Some)
                .map_err(|_| schema(format!("{key} is out of range"))),
            _ => Err(schema(format!("{key} is not a timestamp"))),
        },
    }
}

pub(crate) fn get_code<T: FromStr>(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<T>> {
    match get_str(doc, obj, key)? {
        None => Ok(None),
        Some(code) => code
            .parse()
            .map(Some)
            .map_err(|_| schema(format!("{key} has the unknown code {code:?}"))),
    }
}

pub(crate) fn get_date(
    doc: &impl Source,
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

pub(crate) fn get_obj(doc: &impl Source, obj: &ObjId, key: &str) -> Result<Option<ObjId>> {
    match doc.field(obj, key)? {
        None => Ok(None),
        Some(Field::Object(id)) => Ok(Some(id)),
        Some(Field::Scalar(_)) => Err(schema(format!("{key} is a value, not an object"))),
    }
}

pub(crate) fn need_obj(doc: &impl Source, obj: &ObjId, key: &str) -> Result<ObjId> {
    get_obj(doc, obj, key)?.ok_or_else(|| schema(format!("{key} is missing")))
}

/// The entries of a map whose values are objects (records keyed by id), sorted by key.
pub(crate) fn map_objects(doc: &impl Source, obj: &ObjId) -> Result<Vec<(String, ObjId)>> {
    doc.field_keys(obj)?
        .into_iter()
        .map(|key| {
            let id = need_obj(doc, obj, &key)?;
            Ok((key, id))
        })
        .collect()
}

/// The objects of a list, in order.
pub(crate) fn list_objects(doc: &impl Source, list: &ObjId) -> Result<Vec<ObjId>> {
    doc.list_fields(list)?
        .into_iter()
        .map(|f| match f {
            Field::Object(id) => Ok(id),
            Field::Scalar(_) => Err(schema("a list entry is not an object")),
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
