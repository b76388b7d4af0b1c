//! Conflicts an admin must see (DESIGN §7): fields of a case that concurrent edits left with
//! more than one value. Automerge keeps every concurrent value and shows one; this finds the
//! fields where that happened and says, for each side, the value, the node and actor that wrote
//! it, and when.

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::doc::node_of_actor;
use crate::error::Result;

/// The fields watched for concurrent values: (path of maps from the root, key, name shown).
const WATCHED: &[(&[&str], &str, &str)] = &[
    (&[], "status", "status"),
    (&["grade"], "derived", "grade"),
    (&["grade"], "override", "grade override"),
    (&["finances"], "annual_income_fen", "annual income"),
    (&["finances"], "rigid_spending_fen", "rigid spending"),
    (&["finances"], "hardship_costs_fen", "hardship costs"),
    (&["finances"], "subsistence_line_fen", "subsistence line"),
    (&["finances"], "medical_costs_fen", "medical costs"),
    (&["household"], "size", "household size"),
    (&["worker"], "address", "address"),
    (&["worker"], "region", "region"),
    (&["escalation"], "target_level", "escalation target"),
    (&["causes"], "primary", "primary cause"),
    (&["causes"], "secondary", "secondary causes"),
];

/// One side of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// The value, as text (`null` if it was removed; `{…}` for a map such as an override).
    pub value: String,
    /// The node that wrote it, read off the actor.
    pub node: Option<String>,
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

fn text_of(value: &Value<'_>) -> String {
    match value {
        Value::Object(_) => "{…}".into(),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(t) => t.to_string(),
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

impl Case {
    /// Every watched field with more than one concurrent value, in a fixed order.
    pub fn field_conflicts(&mut self) -> Result<Vec<FieldConflict>> {
        let mut out = Vec::new();
        for (path, key, name) in WATCHED {
            let doc = self.doc_mut();
            let Some(obj) = object_at(doc, path)? else {
                continue;
            };
            let values: Vec<(String, automerge::ObjId)> = doc
                .get_all(&obj, *key)?
                .iter()
                .map(|(value, id)| (text_of(value), id.clone()))
                .collect();
            if values.len() < 2 {
                continue;
            }
            let mut sides = Vec::with_capacity(values.len());
            for (text, id) in values {
                let (actor, at) = match doc.hash_for_opid(&id) {
                    Some(hash) => match doc.get_change_by_hash(&hash) {
                        Some(change) => (change.actor_id().clone(), change.timestamp()),
                        None => continue,
                    },
                    None => continue,
                };
                sides.push(Side {
                    value: text,
                    node: node_of_actor(&actor),
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
        let mut a = Case::create(
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
                    "3100000".into(),
                    Some("demo.branch-a".into()),
                    1_780_000_100
                ),
                (
                    "4500000".into(),
                    Some("demo.branch-b".into()),
                    1_780_000_200
                ),
            ]
        );
    }
}
