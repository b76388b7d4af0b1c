//! Conflicts an admin must see (DESIGN §7): fields of a case that concurrent edits left with
//! more than one value. Automerge keeps every concurrent value and shows one; this finds the
//! fields where that happened and says, for each side, the value, the node and actor that wrote
//! it, and when.

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::doc::node_of_actor;
use crate::error::Result;
use crate::view::CaseSummary;

/// What a watched field holds, so that a value typed to resolve its conflict is parsed as
/// the field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// A status code.
    Status,
    /// A grade code.
    Grade,
    /// The grade override: resolved by setting the grade again (or clearing it), not by a value.
    Override,
    /// Money, yuan as typed, fen as stored.
    Money,
    /// The number of people in the household.
    HouseholdSize,
    /// A line of text.
    Text,
    /// A region code.
    Region,
    /// A level code.
    Level,
    /// A cause code.
    Cause,
    /// A list of causes: resolved by editing the case.
    Causes,
}

/// The fields watched for concurrent values: (path of maps from the root, key, name shown,
/// what it holds).
const WATCHED: &[(&[&str], &str, &str, Holds)] = &[
    (&[], "status", "status", Holds::Status),
    (&["grade"], "derived", "grade", Holds::Grade),
    (&["grade"], "override", "grade override", Holds::Override),
    (
        &["finances"],
        "annual_income_fen",
        "annual income",
        Holds::Money,
    ),
    (
        &["finances"],
        "rigid_spending_fen",
        "rigid spending",
        Holds::Money,
    ),
    (
        &["finances"],
        "hardship_costs_fen",
        "hardship costs",
        Holds::Money,
    ),
    (
        &["finances"],
        "subsistence_line_fen",
        "subsistence line",
        Holds::Money,
    ),
    (
        &["finances"],
        "medical_costs_fen",
        "medical costs",
        Holds::Money,
    ),
    (
        &["finances"],
        "compensation_fen",
        "compensation",
        Holds::Money,
    ),
    (
        &["household"],
        "size",
        "household size",
        Holds::HouseholdSize,
    ),
    (&["worker"], "address", "address", Holds::Text),
    (&["worker"], "region", "region", Holds::Region),
    (
        &["escalation"],
        "target_level",
        "escalation target",
        Holds::Level,
    ),
    (&["causes"], "primary", "primary cause", Holds::Cause),
    (&["causes"], "secondary", "secondary causes", Holds::Causes),
];

/// What a watched field at `path` (`finances.annual_income_fen`) holds.
fn holds(path: &str) -> Option<Holds> {
    let (parents, key) = split_path(path);
    WATCHED
        .iter()
        .find(|(p, k, _, _)| *k == key && p.iter().copied().eq(parents.iter().copied()))
        .map(|w| w.3)
}

/// The value `text`, as a person typed it to resolve the conflict on the field at `path`, as
/// the field stores it: money in fen, codes as codes, checked as a normal edit would be.
pub fn typed_value(path: &str, text: &str) -> Result<ScalarValue> {
    use crate::error::ArchiveError;
    let code = |c: &str| ScalarValue::Str(c.into());
    let text = text.trim();
    Ok(match holds(path) {
        None => {
            return Err(ArchiveError::Invalid {
                field: "conflict",
                reason: format!("{path} is not a field conflicts are resolved on"),
            });
        }
        Some(Holds::Money) => ScalarValue::Int(crate::money::parse_yuan("value", text)?),
        Some(Holds::HouseholdSize) => {
            let n: u32 = crate::form::parse_number("household size", text)?;
            let most = crate::case::MAX_HOUSEHOLD;
            if !(1..=most).contains(&n) {
                return Err(ArchiveError::Invalid {
                    field: "household size",
                    reason: format!("a household has 1 to {most} people"),
                });
            }
            ScalarValue::Int(i64::from(n))
        }
        Some(Holds::Status) => code(text.parse::<crate::codes::Status>()?.code()),
        Some(Holds::Grade) => code(text.parse::<crate::codes::Grade>()?.code()),
        Some(Holds::Level) => code(text.parse::<crate::codes::Level>()?.code()),
        Some(Holds::Cause) => code(text.parse::<crate::codes::Cause>()?.code()),
        Some(Holds::Region) => {
            crate::policy::check_region(text)?;
            code(text)
        }
        Some(Holds::Override) => {
            return Err(ArchiveError::Invalid {
                field: "grade override",
                reason: "a grade override is resolved by setting the grade again with a reason, or by clearing the override".into(),
            });
        }
        Some(Holds::Causes) => {
            return Err(ArchiveError::Invalid {
                field: "secondary causes",
                reason: "the secondary causes are resolved by editing the case's causes, or by keeping one side".into(),
            });
        }
        Some(Holds::Text) => ScalarValue::Str(text.into()),
    })
}

/// A value of the watched field at `path` as a person reads it: money in yuan, the rest as
/// stored.
pub fn value_text(path: &str, value: &ScalarValue) -> String {
    match (holds(path), value) {
        (Some(Holds::Money), ScalarValue::Int(fen)) => crate::money::format_yuan(*fen),
        (_, ScalarValue::Str(text)) => text.to_string(),
        (_, other) => other.to_string(),
    }
}

/// What kind of conflict a queue entry is, which says how it is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A field with concurrent values: keep one side, or write a new value.
    Field,
    /// A rule broken by merged records (a cap, aid paid twice, a fund below zero): change the
    /// records, or acknowledge it with a note.
    Invariant,
    /// Two archives of one household: merge them into one.
    Duplicate,
}

/// Path prefixes of the conflicts that are not fields.
const INVARIANT: &str = "invariant.";
const DUPLICATE: &str = "duplicate.";

/// One side of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// The value, as text (`null` if it was removed; `{…}` for a map such as an override).
    pub value: String,
    /// The node that wrote it, read off the actor.
    pub node: Option<String>,
    /// The person who wrote it, as the change that wrote it says (changes made before changes
    /// named their person say nothing).
    #[serde(default)]
    pub by: Option<String>,
    /// The Automerge actor, hex.
    pub actor: String,
    /// When the change was made, seconds since the Unix epoch.
    pub at: i64,
}

/// A field with concurrent values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// Name of the field, e.g. "annual income".
    pub field: String,
    /// Where it is in the document, e.g. "finances.annual_income_fen".
    pub path: String,
    /// Every concurrent value, the one Automerge shows first.
    pub sides: Vec<Side>,
}

/// A value as people read it; money (fields in fen) in yuan.
fn text_of(value: &Value<'_>, money: bool) -> String {
    match value {
        Value::Object(_) => "{…}".into(),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(t) => t.to_string(),
            ScalarValue::Int(i) if money => crate::money::format_yuan(*i),
            ScalarValue::Int(i) => i.to_string(),
            ScalarValue::Uint(u) => u.to_string(),
            ScalarValue::Null => "null".into(),
            other => other.to_string(),
        },
    }
}

fn object_at(doc: &AutoCommit, path: &[&str]) -> Result<Option<ObjId>> {
    let mut obj = ROOT;
    for key in path {
        match doc.get(&obj, *key)? {
            Some((Value::Object(_), id)) => obj = id,
            _ => return Ok(None),
        }
    }
    Ok(Some(obj))
}

/// Whether every change of `doc` follows the one before it: one first change, no change with
/// more than one dependency, one head. Then no two operations are concurrent, so no field has
/// concurrent values. Reads the change graph's metadata only.
fn linear_history(doc: &mut AutoCommit) -> bool {
    if doc.get_heads().len() > 1 {
        return false;
    }
    let mut roots = 0;
    for change in doc.get_changes_meta(&[]) {
        match change.deps.len() {
            0 => roots += 1,
            1 => {}
            _ => return false,
        }
    }
    roots <= 1
}

impl Case {
    /// Every watched field with more than one concurrent value, in a fixed order.
    pub fn field_conflicts(&mut self) -> Result<Vec<FieldConflict>> {
        let mut out = Vec::new();
        if linear_history(self.doc_mut()) {
            // Nothing was written concurrently (most cases): no need to look at each field.
            return Ok(out);
        }
        for (path, key, name, _) in WATCHED {
            let doc = self.doc_mut();
            let Some(obj) = object_at(doc, path)? else {
                continue;
            };
            let values: Vec<(String, automerge::ObjId)> = doc
                .get_all(&obj, *key)?
                .iter()
                .map(|(value, id)| (text_of(value, key.ends_with("_fen")), id.clone()))
                .collect();
            if values.len() < 2 {
                continue;
            }
            let mut sides = Vec::with_capacity(values.len());
            for (text, id) in values {
                let (actor, at, by) = match doc.hash_for_opid(&id) {
                    Some(hash) => match doc.get_change_by_hash(&hash) {
                        Some(change) => (
                            change.actor_id().clone(),
                            change.timestamp(),
                            change.message().and_then(crate::case::person_of_message),
                        ),
                        None => continue,
                    },
                    None => continue,
                };
                sides.push(Side {
                    value: text,
                    node: node_of_actor(&actor),
                    by,
                    actor: actor.to_hex_string(),
                    at,
                });
            }
            let mut dotted: Vec<&str> = path.to_vec();
            dotted.push(key);
            out.push(FieldConflict {
                field: (*name).to_owned(),
                path: dotted.join("."),
                sides,
            });
        }
        Ok(out)
    }
}

/// The invariants of DESIGN §2 that a merge can break inside one case, found in `view`:
/// aid of one kind in a year over the policy's cap, the same aid paid twice (same kind, date and
/// amount recorded at two nodes), aid recorded on a closed case after it was closed. Each comes
/// as a conflict whose path names the rule and the records, so its id is stable. Breaks
/// acknowledged in the case (`acknowledged`) are left out.
pub fn invariant_breaks(
    view: &crate::view::CaseView,
    policy: Option<&crate::policy::Policy>,
    acknowledged: &[String],
) -> Vec<FieldConflict> {
    use std::collections::BTreeMap;
    let side = |a: &crate::view::Assistance| Side {
        value: format!(
            "{} {} {}",
            a.kind.code(),
            crate::money::format_yuan(a.amount_fen),
            a.date
        ),
        node: a.node.clone(),
        by: a.by.clone(),
        actor: String::new(),
        at: a.at.map_or(0, |t| t.as_second()),
    };
    let mut out = Vec::new();
    let mut push = |rule: &str, field: String, mut records: Vec<&crate::view::Assistance>| {
        records.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<&str> = records.iter().map(|a| a.id.as_str()).collect();
        let path = format!("{INVARIANT}{rule}.{}", ids.join("+"));
        out.push(FieldConflict {
            field,
            path,
            sides: records.into_iter().map(side).collect(),
        });
    };
    if let Some(policy) = policy {
        let mut by_year_kind: BTreeMap<
            (i16, crate::codes::AssistanceKind),
            Vec<&crate::view::Assistance>,
        > = BTreeMap::new();
        for a in &view.assistance {
            by_year_kind
                .entry((a.date.year(), a.kind))
                .or_default()
                .push(a);
        }
        for ((year, kind), records) in by_year_kind {
            let total: i64 = records.iter().map(|a| a.amount_fen).sum();
            if let Some(cap) = policy.over_yearly_cap(kind, total) {
                push(
                    "yearly_cap",
                    format!(
                        "{} in {year}: {} over the yearly cap of {} ({})",
                        kind.label(),
                        crate::money::format_yuan(total),
                        crate::money::format_yuan(cap),
                        policy.label()
                    ),
                    records,
                );
            }
        }
    }
    let mut same: BTreeMap<
        (crate::codes::AssistanceKind, jiff::civil::Date, i64),
        Vec<&crate::view::Assistance>,
    > = BTreeMap::new();
    for a in &view.assistance {
        same.entry((a.kind, a.date, a.amount_fen))
            .or_default()
            .push(a);
    }
    for records in same.into_values() {
        let nodes: std::collections::BTreeSet<_> = records.iter().map(|a| &a.node).collect();
        if records.len() > 1 && nodes.len() > 1 {
            push("paid_twice", "the same aid paid twice".into(), records);
        }
    }
    if view.status == crate::codes::Status::Closed
        && let Some(closed_at) = view
            .status_history
            .iter()
            .rev()
            .find(|s| s.to == crate::codes::Status::Closed)
            .and_then(|s| s.at)
    {
        let after: Vec<&crate::view::Assistance> = view
            .assistance
            .iter()
            .filter(|a| a.at.is_some_and(|at| at > closed_at))
            .collect();
        for a in after {
            push(
                "aid_on_closed",
                "aid recorded on a closed case".into(),
                vec![a],
            );
        }
    }
    out.retain(|c| !acknowledged.contains(&QueueEntry::new(&view.id, c).id));
    out
}

#[cfg(test)]
mod tests {
    use crate::case::{CaseFields, Editor};
    use crate::{Case, actor_id};

    fn editor(node: &str, second: i64) -> Editor {
        Editor {
            node: node.into(),
            by: "li".into(),
            at: jiff::Timestamp::from_second(second).unwrap(),
            today: jiff::civil::date(2026, 5, 28),
        }
    }

    #[test]
    fn concurrent_incomes_are_a_conflict_with_both_writers() {
        let mut a = Case::create_legacy(
            "c1",
            "demo.branch-a",
            actor_id("demo.branch-a", &[1; 8]),
            &editor("demo.branch-a", 1_780_000_000),
            &CaseFields::sample(1),
        )
        .unwrap();
        assert!(a.field_conflicts().unwrap().is_empty());
        let bytes = a.save();
        let mut b = Case::load(&bytes, actor_id("demo.branch-b", &[2; 8])).unwrap();
        let income = |fen| CaseFields {
            annual_income_fen: Some(fen),
            ..CaseFields::default()
        };
        a.edit(&editor("demo.branch-a", 1_780_000_100), &income(31_000_00))
            .unwrap();
        b.edit(&editor("demo.branch-b", 1_780_000_200), &income(45_000_00))
            .unwrap();
        a.doc_mut().merge(b.doc_mut()).unwrap();
        let conflicts = a.field_conflicts().unwrap();
        let income = conflicts
            .iter()
            .find(|c| c.field == "annual income")
            .expect("the income conflict");
        assert_eq!(income.path, "finances.annual_income_fen");
        let mut sides: Vec<(String, Option<String>, i64)> = income
            .sides
            .iter()
            .map(|s| (s.value.clone(), s.node.clone(), s.at))
            .collect();
        sides.sort();
        assert_eq!(
            sides,
            [
                (
                    "31,000.00".into(),
                    Some("demo.branch-a".into()),
                    1_780_000_100
                ),
                (
                    "45,000.00".into(),
                    Some("demo.branch-b".into()),
                    1_780_000_200
                ),
            ]
        );
    }
}

/// An entry of the conflict queue: one conflict, with a stable id (the same at every node that
/// detects it), and once it is gone, how it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Stable id: the same conflict has the same id everywhere; a new conflict on the same field
    /// gets a new one.
    pub id: String,
    /// The case.
    pub case: String,
    /// The field's name.
    pub field: String,
    /// Its path in the document.
    pub path: String,
    /// Every concurrent value.
    pub sides: Vec<Side>,
    /// The time of the newest side, seconds since the Unix epoch.
    pub since: i64,
    /// The node that should resolve it: the lowest node that holds every side (a case's home;
    /// for duplicate archives, the first node up the chain that holds them all). Its ancestors
    /// that hold the sides list it too.
    #[serde(default)]
    pub route: Option<String>,
    /// How it was resolved, once it was.
    pub resolution: Option<Resolution>,
}

/// Who resolved a conflict, where, when and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// The person, as recorded in the resolving change.
    pub by: Option<String>,
    /// The node that wrote the resolving change.
    pub node: Option<String>,
    /// When, seconds since the Unix epoch.
    pub at: i64,
    /// What was done, e.g. "picked side 2: 4500000" or "set 40000.00".
    pub how: String,
}

impl QueueEntry {
    /// The queue entry for a conflict found in `case`.
    pub fn new(case: &str, c: &FieldConflict) -> QueueEntry {
        use sha2::{Digest, Sha256};
        let mut sides: Vec<&Side> = c.sides.iter().collect();
        sides.sort_by(|a, b| (&a.actor, a.at, &a.value).cmp(&(&b.actor, b.at, &b.value)));
        let mut h = Sha256::new();
        h.update(case.as_bytes());
        h.update([0]);
        h.update(c.path.as_bytes());
        for s in sides {
            h.update([0]);
            h.update(s.actor.as_bytes());
            h.update(s.at.to_be_bytes());
            h.update(s.value.as_bytes());
        }
        let id = hex::encode(&h.finalize()[..6]);
        QueueEntry {
            id,
            case: case.to_owned(),
            field: c.field.clone(),
            path: c.path.clone(),
            since: c.sides.iter().map(|s| s.at).max().unwrap_or(0),
            sides: c.sides.clone(),
            route: None,
            resolution: None,
        }
    }

    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }

    /// What kind of conflict it is.
    pub fn kind(&self) -> ConflictKind {
        if self.path.starts_with(INVARIANT) {
            ConflictKind::Invariant
        } else if self.path.starts_with(DUPLICATE) {
            ConflictKind::Duplicate
        } else {
            ConflictKind::Field
        }
    }
}

/// How conflict `id` was resolved in `doc`: from the change that says it resolved it, or,
/// failing that, from the newest change.
fn resolution_in(doc: &mut AutoCommit, id: &str) -> Resolution {
    let prefix = format!("conflict resolve {id} by ");
    let changes = doc.get_changes(&[]);
    let marked = changes
        .iter()
        .rev()
        .find(|c| c.message().is_some_and(|m| m.starts_with(&prefix)));
    match marked.or(changes.last()) {
        Some(change) => {
            let message = change.message().unwrap_or_default().to_owned();
            let (by, how) = match message.strip_prefix(&prefix) {
                Some(rest) => match rest.split_once(": ") {
                    Some((by, how)) => (Some(by.to_owned()), how.to_owned()),
                    None => (Some(rest.to_owned()), String::new()),
                },
                None => (None, format!("superseded by a later change ({message})")),
            };
            Resolution {
                by,
                node: node_of_actor(change.actor_id()),
                at: change.timestamp(),
                how,
            }
        }
        None => Resolution {
            by: None,
            node: None,
            at: 0,
            how: String::new(),
        },
    }
}

/// A fund ledger that pays out more than came in — which a merge of payments recorded apart can
/// cause — as a conflict naming the payments; `None` if the balance holds or the break is
/// acknowledged in the ledger.
pub fn fund_below_zero(ledger: &mut crate::record::Record) -> Result<Option<QueueEntry>> {
    use crate::ledger::{Entry, LedgerView};
    let id = ledger.id()?;
    let owner = match crate::record::DocId::of(&id) {
        crate::record::DocId::Ledger(owner) => owner.to_owned(),
        _ => return Ok(None),
    };
    let (acks, entries): (Vec<_>, Vec<_>) = ledger
        .raw_entries()?
        .into_iter()
        .partition(|(k, _)| k.starts_with(ACK));
    let entries: Vec<(String, Entry)> = entries
        .into_iter()
        .filter_map(|(k, json)| serde_json::from_str(&json).ok().map(|e| (k, e)))
        .collect();
    let view = LedgerView::of(&owner, 0, entries.clone());
    if view.balance_fen >= 0 {
        return Ok(None);
    }
    let mut outflows: Vec<(String, Entry)> = entries
        .into_iter()
        .filter(|(_, e)| e.flow_fen() < 0)
        .collect();
    outflows.sort_by(|a, b| a.0.cmp(&b.0));
    let sides = outflows
        .iter()
        .map(|(k, e)| {
            let stamp = Some(e.stamp());
            Side {
                value: format!(
                    "{k}: {} on {}",
                    crate::money::format_yuan(-e.flow_fen()),
                    e.date()
                ),
                node: stamp.map(|s| s.node.clone()),
                by: stamp.map(|s| s.by.clone()),
                actor: String::new(),
                at: stamp.map_or(0, |s| s.at.as_second()),
            }
        })
        .collect();
    let conflict = FieldConflict {
        field: format!(
            "fund of {owner} paid below zero: balance {}",
            crate::money::format_yuan(view.balance_fen)
        ),
        path: format!("{INVARIANT}fund_below_zero.{id}"),
        sides,
    };
    let entry = QueueEntry {
        route: Some(owner),
        ..QueueEntry::new(&id, &conflict)
    };
    let acked = acks
        .iter()
        .any(|(k, _)| k.strip_prefix(ACK) == Some(entry.id.as_str()));
    Ok((!acked).then_some(entry))
}

impl crate::record::Record {
    /// How conflict `id` was resolved in this record.
    pub fn resolution_of(&mut self, id: &str) -> Resolution {
        resolution_in(self.doc_mut(), id)
    }

    /// Acknowledges a broken rule of this record (a fund below zero) with a note, kept as an
    /// entry (which ledger readers skip).
    pub fn acknowledge(
        &mut self,
        editor: &crate::case::Editor,
        conflict: &str,
        note: &str,
    ) -> Result<()> {
        let doc = self.doc_mut();
        let entries = object_at(doc, &["entries"])?
            .ok_or_else(|| crate::error::ArchiveError::Schema("entries are missing".into()))?;
        // Entries are JSON text.
        let value = serde_json::Value::String(note.to_owned()).to_string();
        acknowledge_in(doc, &entries, editor, conflict, note, &value)
    }
}

/// Writes the acknowledgement of `conflict` as key `ack:<conflict>` of map `obj` (holding
/// `value`), as one change that names the conflict, the person and the note.
fn acknowledge_in(
    doc: &mut AutoCommit,
    obj: &ObjId,
    editor: &crate::case::Editor,
    conflict: &str,
    note: &str,
    value: &str,
) -> Result<()> {
    use automerge::transaction::Transactable;
    crate::case::check_editor(editor)?;
    crate::case::check_notes_field("note", note)?;
    if note.trim().is_empty() {
        return Err(crate::error::ArchiveError::Invalid {
            field: "note",
            reason: "say why no change is needed, in a note".into(),
        });
    }
    doc.put(obj, format!("{ACK}{conflict}"), value)?;
    commit_resolution(doc, editor, conflict, &format!("acknowledged: {note}"));
    Ok(())
}

/// Root key prefix of acknowledgements.
const ACK: &str = "ack:";

/// The commit message of a change that resolves conflict `id`.
fn resolve_message(id: &str, by: &str, how: &str) -> String {
    format!("conflict resolve {id} by {by}: {how}")
}

/// Commits what is pending in `doc` as one change that resolves `conflict` (`how` says what was
/// done), with the editor's name and time.
fn commit_resolution(
    doc: &mut AutoCommit,
    editor: &crate::case::Editor,
    conflict: &str,
    how: &str,
) {
    use automerge::transaction::CommitOptions;
    doc.commit_with(
        CommitOptions::default()
            .with_message(resolve_message(conflict, &editor.by, how))
            .with_time(editor.at.as_second()),
    );
}

/// A watched path split into its parent objects and its key: `finances.annual_income_fen`.
fn split_path(path: &str) -> (Vec<&str>, &str) {
    match path.rsplit_once('.') {
        Some((p, k)) => (p.split('.').collect(), k),
        None => (Vec::new(), path),
    }
}

impl Case {
    /// How conflict `id` was resolved: from the change that says it resolved it, or, failing
    /// that (a later edit made the field single-valued), from the newest change.
    pub fn resolution_of(&mut self, id: &str) -> Resolution {
        resolution_in(self.doc_mut(), id)
    }

    /// Resolves a field conflict by writing `value` to the field at `path` (one of the watched
    /// paths), as one change that names the conflict, the person and what was done.
    pub fn resolve_field(
        &mut self,
        editor: &crate::case::Editor,
        conflict: &str,
        path: &str,
        value: ScalarValue,
        how: &str,
    ) -> Result<()> {
        use automerge::transaction::Transactable;
        crate::case::check_editor(editor)?;
        if let ScalarValue::Str(text) = &value {
            crate::text::check_line("value", text, crate::text::ADDRESS)?;
        }
        let (parents, key) = split_path(path);
        if holds(path).is_none() {
            return Err(crate::error::ArchiveError::Invalid {
                field: "conflict",
                reason: format!("{path} is not a field conflicts are resolved on"),
            });
        }
        let doc = self.doc_mut();
        let obj = object_at(doc, &parents)?.ok_or_else(|| {
            crate::error::ArchiveError::Schema(format!("{path} is not in this case"))
        })?;
        doc.put(&obj, key, value)?;
        // The grade follows the figures: derive it again in the same change.
        self.regrade_now()?;
        commit_resolution(self.doc_mut(), editor, conflict, how);
        Ok(())
    }

    /// Conflicts this case has now: fields with concurrent values, and broken invariants
    /// (checked against `policy`, if given) not acknowledged.
    pub fn open_conflicts(
        &mut self,
        view: &crate::view::CaseView,
        policy: Option<&crate::policy::Policy>,
    ) -> Result<Vec<FieldConflict>> {
        let mut out = self.field_conflicts()?;
        out.extend(invariant_breaks(view, policy, &self.acknowledged()));
        Ok(out)
    }

    /// The conflict queue's entries for what this case has open now (see
    /// [`Case::open_conflicts`]), each routed to the case's home; `view` is this case read.
    pub fn queue_entries(
        &mut self,
        view: &crate::view::CaseView,
        policy: Option<&crate::policy::Policy>,
    ) -> Result<Vec<QueueEntry>> {
        Ok(self
            .open_conflicts(view, policy)?
            .iter()
            .map(|c| QueueEntry {
                route: Some(view.home.clone()),
                ..QueueEntry::new(&view.id, c)
            })
            .collect())
    }

    /// Ids of the invariant breaks acknowledged in this case.
    pub fn acknowledged(&mut self) -> Vec<String> {
        self.doc_mut()
            .keys(ROOT)
            .filter_map(|k| k.strip_prefix(ACK).map(str::to_owned))
            .collect()
    }

    /// Acknowledges invariant break `conflict` with a note (no data changes), as one change.
    pub fn acknowledge(
        &mut self,
        editor: &crate::case::Editor,
        conflict: &str,
        note: &str,
    ) -> Result<()> {
        acknowledge_in(self.doc_mut(), &ROOT, editor, conflict, note, note)
    }

    /// The values of the field at `path` (a watched path), as stored, in the order
    /// [`Case::field_conflicts`] lists the sides.
    pub fn field_values(&mut self, path: &str) -> Result<Vec<ScalarValue>> {
        let (parents, key) = split_path(path);
        let doc = self.doc_mut();
        let Some(obj) = object_at(doc, &parents)? else {
            return Ok(Vec::new());
        };
        Ok(doc
            .get_all(&obj, key)?
            .into_iter()
            .filter_map(|(v, _)| match v {
                Value::Scalar(s) => Some(s.into_owned()),
                Value::Object(_) => None,
            })
            .collect())
    }
}

/// Copies map `from` of `src` into map `to` of `dst`, key by key, nested maps included; keys
/// `dst` already has are left alone.
fn copy_map(src: &AutoCommit, from: &ObjId, dst: &mut AutoCommit, to: &ObjId) -> Result<()> {
    use automerge::ObjType;
    use automerge::transaction::Transactable;
    for key in src.keys(from).collect::<Vec<_>>() {
        if dst.get(to, key.as_str())?.is_some() {
            continue;
        }
        match src.get(from, key.as_str())? {
            Some((Value::Scalar(s), _)) => {
                dst.put(to, key.as_str(), s.into_owned())?;
            }
            Some((Value::Object(ObjType::Map), child)) => {
                let copy = dst.put_object(to, key.as_str(), ObjType::Map)?;
                copy_map(src, &child, dst, &copy)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Marks an entry copied from a duplicate archive as the merger's (§4a: an entry names the node
/// that wrote it): `node` becomes the merging node, the original kept as `merged_node`, and
/// `merged_from` names the other archive.
fn mark_merged(
    doc: &mut AutoCommit,
    entry: &ObjId,
    editor: &crate::case::Editor,
    other_id: &str,
) -> Result<()> {
    use automerge::transaction::Transactable;
    if let Some(original) = crate::doc::get_str(doc, entry, "node")? {
        doc.put(entry, "merged_node", original)?;
    }
    doc.put(entry, "node", editor.node.as_str())?;
    doc.put(entry, "merged_from", other_id)?;
    Ok(())
}

impl Case {
    /// Takes in the records of a duplicate archive of the same household (assistance, loans,
    /// visits, reviews, household members), as one change resolving conflict `conflict`; the
    /// other case is then closed as merged into this one.
    pub fn absorb(
        &mut self,
        editor: &crate::case::Editor,
        conflict: &str,
        other: &mut Case,
    ) -> Result<()> {
        crate::case::check_editor(editor)?;
        let other_id = other.id()?;
        let here = self.id()?;
        let src = other.doc_mut().clone();
        let dst = self.doc_mut();
        for path in [
            &["assistance"][..],
            &["loans"],
            &["visits"],
            &["reviews"],
            &["household", "members"],
        ] {
            let (Some(from), Some(to)) = (object_at(&src, path)?, object_at(dst, path)?) else {
                continue;
            };
            let fresh: Vec<String> = src
                .keys(&from)
                .filter(|k| dst.get(&to, k.as_str()).ok().flatten().is_none())
                .collect();
            copy_map(&src, &from, dst, &to)?;
            for key in fresh {
                let Some(entry) = crate::doc::get_obj(dst, &to, &key)? else {
                    continue;
                };
                mark_merged(dst, &entry, editor, &other_id)?;
                if let Some(reps) = crate::doc::get_obj(dst, &entry, "repayments")? {
                    for rep in dst.keys(&reps).collect::<Vec<_>>() {
                        if let Some(r) = crate::doc::get_obj(dst, &reps, &rep)? {
                            mark_merged(dst, &r, editor, &other_id)?;
                        }
                    }
                }
            }
        }
        // The other archive's history comes along, each entry marked with where it came from.
        for list in ["status_history", "approvals"] {
            let (Some(from), Some(to)) = (object_at(&src, &[list])?, object_at(dst, &[list])?)
            else {
                continue;
            };
            for item in crate::doc::list_objects(&src, &from)? {
                use automerge::transaction::Transactable;
                let at = dst.length(&to);
                let copy = dst.insert_object(&to, at, automerge::ObjType::Map)?;
                copy_map(&src, &item, dst, &copy)?;
                mark_merged(dst, &copy, editor, &other_id)?;
            }
        }
        commit_resolution(
            dst,
            editor,
            conflict,
            &format!("merged {other_id} into {here}"),
        );
        let from = other.status()?;
        crate::lifecycle::check(from, crate::codes::Status::Closed)?;
        let what = resolve_message(conflict, &editor.by, &format!("closed: merged into {here}"));
        other.change(editor, &what, |c| {
            c.write_status(
                editor,
                from,
                crate::codes::Status::Closed,
                &format!("merged into {here} (one household, one file)"),
            )
        })
    }
}

/// One household, one file, after the fact: the duplicate archives of the household of `view`
/// held here — open cases with the same identity key (`household`, besides `this`, its
/// summary), which offline nodes opened apart — as one conflict whose sides are the cases, to
/// be merged.
pub fn duplicates_of(
    view: &crate::view::CaseView,
    this: &CaseSummary,
    household: &[CaseSummary],
) -> Option<QueueEntry> {
    use crate::codes::Status;
    if view.status == Status::Closed {
        return None;
    }
    let open: Vec<&CaseSummary> = std::iter::once(this)
        .chain(household.iter().filter(|s| s.status != Status::Closed))
        .collect();
    if open.len() < 2 {
        return None;
    }
    // The nodes that hold every one of the archives.
    let common: Vec<&String> = this
        .participants
        .iter()
        .filter(|n| open.iter().all(|s| s.participants.contains(n)))
        .collect();
    let mut sides: Vec<Side> = open
        .iter()
        .map(|s| Side {
            value: s.id.clone(),
            node: Some(s.home.clone()),
            by: None,
            actor: String::new(),
            at: s.created_at.map_or(0, |t| t.as_second()),
        })
        .collect();
    sides.sort_by(|a, b| a.value.cmp(&b.value));
    let ids: Vec<&str> = sides.iter().map(|s| s.value.as_str()).collect();
    let conflict = FieldConflict {
        field: "duplicate archive: one household, one file".into(),
        path: format!("{DUPLICATE}{}", ids.join("+")),
        sides: sides.clone(),
    };
    // Up this case's chain (home, then each report up), the first node that holds them all.
    let route = std::iter::once(view.home.as_str())
        .chain(view.escalation.trail.iter().filter_map(|s| s.to.as_deref()))
        .find(|n| common.iter().any(|c| c.as_str() == *n))
        .or(common.first().map(|c| c.as_str()))
        .map(str::to_owned);
    Some(QueueEntry {
        route,
        ..QueueEntry::new(&sides[0].value, &conflict)
    })
}
