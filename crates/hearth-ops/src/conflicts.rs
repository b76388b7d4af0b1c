//! The conflict queue and its resolution by an admin.

use hearth_archive::DocId;
use hearth_archive::Document;
use hearth_archive::conflict::{ConflictKind, QueueEntry, typed_value};

use crate::{Cases, Ctx, OpError, Result, not_a_record};

/// The conflict queue: open conflicts, or all of them.
pub fn conflicts(cases: &mut impl Cases, all: bool) -> Result<Vec<QueueEntry>> {
    Ok(cases
        .conflicts()?
        .into_iter()
        .filter(|c| all || c.is_open())
        .collect())
}

/// The conflict whose id starts with `prefix`.
pub fn conflict(cases: &mut impl Cases, prefix: &str) -> Result<QueueEntry> {
    let prefix = prefix.trim();
    let mut hits: Vec<QueueEntry> = cases
        .conflicts()?
        .into_iter()
        .filter(|c| !prefix.is_empty() && c.id.starts_with(prefix))
        .collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(OpError::NotFound(format!(
            "no conflict {prefix:?} here; the conflict list shows them"
        ))),
        _ => Err(OpError::input(format!(
            "conflict id {prefix:?} matches several; give more of it"
        ))),
    }
}

/// How an admin resolves a field conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolve {
    /// Keep side N (from 1, as listed).
    Pick(usize),
    /// Write a new value, as typed.
    Value(String),
    /// Acknowledge a broken invariant that needs no data change, with a note.
    Acknowledge(String),
    /// Duplicate archives: this case (id or prefix) keeps every record; the others are closed
    /// as merged into it.
    MergeInto(String),
}

/// Resolves a field conflict with a normal change to the case, which syncs; the conflict closes
/// here at once and at every other node when the change arrives.
pub fn resolve_conflict(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    prefix: &str,
    how: Resolve,
) -> Result<QueueEntry> {
    let entry = conflict(cases, prefix)?;
    if !entry.is_open() {
        return Err(OpError::input(format!(
            "conflict {} is already resolved; showing it says how",
            entry.id
        )));
    }
    let editor = ctx.editor();
    let invariant = entry.kind() == ConflictKind::Invariant;
    if entry.kind() == ConflictKind::Duplicate {
        let Resolve::MergeInto(keep) = how else {
            return Err(OpError::input(format!(
                "conflict {} is a duplicate archive: resolve it by merging into the case to keep",
                entry.id
            )));
        };
        let keep = cases.resolve(&keep)?;
        if !entry.sides.iter().any(|s| s.value == keep) {
            return Err(OpError::input(format!(
                "case {keep} is not one of the duplicates of conflict {}; they are {}",
                entry.id,
                entry
                    .sides
                    .iter()
                    .map(|s| s.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut ids: Vec<&str> = entry
            .sides
            .iter()
            .map(|s| s.value.as_str())
            .filter(|c| *c != keep)
            .collect();
        ids.push(&keep);
        let cid = entry.id.clone();
        cases.update_many(&ids, &editor, |docs| {
            let Some((kept, others)) = docs.split_last_mut() else {
                return Ok(());
            };
            let Document::Case(kept) = kept else {
                return Err(not_a_record(&cid));
            };
            for other in others {
                if let Document::Case(other) = other {
                    kept.absorb(&editor, &cid, other)?;
                }
            }
            Ok(())
        })?;
        return conflict(cases, &entry.id);
    }
    let (value, how) = match how {
        Resolve::MergeInto(_) => {
            return Err(OpError::input(format!(
                "merging is for duplicate archives; conflict {} is not one",
                entry.id
            )));
        }
        Resolve::Acknowledge(note) if invariant => {
            let id = entry.id.clone();
            if DocId::of(&entry.case) == DocId::Case {
                cases.update(&entry.case, |c| Ok(c.acknowledge(&editor, &id, &note)?))?;
            } else {
                // A fund below zero: acknowledged in the ledger itself.
                cases.update_record(&entry.case, &editor, |r| {
                    Ok(r.acknowledge(&editor, &id, &note)?)
                })?;
            }
            return conflict(cases, &entry.id);
        }
        Resolve::Acknowledge(_) => {
            return Err(OpError::input(format!(
                "conflict {} is between values of {}: keep one side or write a value",
                entry.id, entry.field
            )));
        }
        _ if invariant => {
            return Err(OpError::input(format!(
                "conflict {} is a broken rule, not a field: change the records it names, or acknowledge it with a note",
                entry.id
            )));
        }
        Resolve::Pick(n) => (None, (n, String::new())),
        Resolve::Value(text) => {
            let v = typed_value(&entry.path, &text)?;
            (Some(v), (0, format!("set {}", text.trim())))
        }
    };
    let (id, path) = (entry.id.clone(), entry.path.clone());
    cases.update(&entry.case, |c| {
        let (value, how) = match value {
            Some(v) => (v, how.1),
            None => {
                let n = how.0;
                let values = c.field_values(&path)?;
                let Some(v) = n.checked_sub(1).and_then(|i| values.get(i)) else {
                    return Err(OpError::input(format!(
                        "pick a side from 1 to {}",
                        values.len()
                    )));
                };
                let text = hearth_archive::conflict::value_text(&path, v);
                (v.clone(), format!("picked side {n}: {text}"))
            }
        };
        c.resolve_field(&editor, &id, &path, value, &how)?;
        Ok(())
    })?;
    conflict(cases, &entry.id)
}
