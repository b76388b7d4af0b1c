//! Authorization by role (DESIGN §4a): what each node may write, checked at every receiver on
//! the state a message produces, against the state before it.
//!
//! Who wrote a value is read off the document itself: every value and every object carries the
//! id of the operation that wrote or made it, and that id names the actor, whose node a verified
//! signature vouches for (`signed`). The rules are data where they can be ([`FIXED`], [`OWNED`]):
//!
//! | rule | what it says |
//! |---|---|
//! | `participants_write` | only a case's participants change it |
//! | `home_creates` | a case is made by its home, under an id bound to the home ([`crate::case::bound_case_id`]) |
//! | `fixed_at_creation` | identity fields and containers never change after the first change |
//! | `participant_by_neighbour` | a node adds to `participants` only its own neighbours (by the certificates) |
//! | `append_only` | entries of a case's ledgers (approvals, aid, visits, …) and participants are never removed or replaced |
//! | `entry_by_its_node` | an entry is written whole by the node it names (`node`, `added_by`) |
//! | `aid_by_payer` | aid is recorded by its paying node |
//! | `trail_by_from` | an escalation step is written by its `from` node |
//! | `summary_by_its_node` | a summary is written by its node |
//! | `ledger_by_owner` | a fund ledger is written by its owner; a grant into it by the owner's parent |
//! | `policy_by_top` | the federation policy is written at the top |
//!
//! Shared fields of a case (household, finances, causes, profile, status, grade) may be written
//! by any participant. What was there before a message is not checked again: it was checked when
//! it came (or, for data older than signatures, is trusted as the node's own history).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};

use crate::doc::node_of_actor;
use crate::record::DocId;

/// The name of every rule, as refusals and metrics name them.
pub const RULES: &[&str] = &[
    "participants_write",
    "home_creates",
    "fixed_at_creation",
    "participant_by_neighbour",
    "append_only",
    "entry_by_its_node",
    "aid_by_payer",
    "trail_by_from",
    "summary_by_its_node",
    "ledger_by_owner",
    "policy_by_top",
];

/// A rule broken by what a peer sent: the rule's name and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The rule's name (see the module doc).
    pub rule: &'static str,
    /// What was done, by whom, to what (node and document ids, no personal data).
    pub message: String,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: {}", self.rule, self.message)
    }
}

/// Where nodes sit in the federation, as the federation CA attested it.
pub trait Topology {
    /// The parents of `node` as its certificate names them (empty for the top), or `None` if no
    /// certificate of `node` saying its place is known here.
    fn parents(&self, node: &str) -> Option<Vec<String>>;
}

/// Whether `a` and `b` are neighbours (one a parent of the other) by their certificates;
/// `None` if that cannot be told.
pub fn are_neighbours(t: &(impl Topology + ?Sized), a: &str, b: &str) -> Option<bool> {
    let pa = t.parents(a);
    let pb = t.parents(b);
    if pa.as_ref().is_some_and(|p| p.iter().any(|x| x == b))
        || pb.as_ref().is_some_and(|p| p.iter().any(|x| x == a))
    {
        return Some(true);
    }
    (pa.is_some() && pb.is_some()).then_some(false)
}

/// Root fields of a case fixed by its first change: identity and every container.
pub const FIXED: &[&str] = &[
    "schema",
    "kind",
    "id",
    "id_nonce",
    "home",
    "created_at",
    "created_by",
    "created_node",
    "worker",
    "household",
    "finances",
    "causes",
    "profile",
    "grade",
    "participants",
    "escalation",
    "status_history",
    "approvals",
    "assistance",
    "loans",
    "visits",
    "reviews",
];

/// Root fields of a record document fixed by its first change.
const RECORD_FIXED: &[&str] = &[
    "schema",
    "kind",
    "id",
    "created_node",
    "created_at",
    "entries",
];

/// A container of entries, each written whole by the node it names.
#[derive(Debug)]
pub struct Owned {
    /// Where the container is.
    pub path: &'static [&'static str],
    /// What it is called in messages.
    pub what: &'static str,
    /// A list (else a map keyed by record id).
    pub list: bool,
    /// Fields that must name the entry's writer, with the rule each stands for.
    pub authors: &'static [(&'static str, &'static str)],
    /// A map of entries inside each entry, written by their own nodes (a loan's repayments).
    pub nested: Option<&'static str>,
}

const BY_NODE: &[(&str, &str)] = &[("node", "entry_by_its_node")];

/// The owned containers of a case.
pub const OWNED: &[Owned] = &[
    Owned {
        path: &["status_history"],
        what: "status history",
        list: true,
        authors: BY_NODE,
        nested: None,
    },
    Owned {
        path: &["approvals"],
        what: "approvals",
        list: true,
        authors: BY_NODE,
        nested: None,
    },
    Owned {
        path: &["escalation", "trail"],
        what: "the escalation trail",
        list: true,
        authors: &[("from", "trail_by_from")],
        nested: None,
    },
    Owned {
        path: &["assistance"],
        what: "assistance",
        list: false,
        authors: &[
            ("node", "entry_by_its_node"),
            ("paying_node", "aid_by_payer"),
        ],
        nested: None,
    },
    Owned {
        path: &["loans"],
        what: "loans",
        list: false,
        authors: BY_NODE,
        nested: Some("repayments"),
    },
    Owned {
        path: &["visits"],
        what: "visits",
        list: false,
        authors: BY_NODE,
        nested: None,
    },
    Owned {
        path: &["reviews"],
        what: "reviews",
        list: false,
        authors: BY_NODE,
        nested: None,
    },
    Owned {
        path: &["household", "members"],
        what: "household members",
        list: false,
        authors: BY_NODE,
        nested: None,
    },
];

/// Checks what a message did to document `id`: `after` is the document with the message
/// applied, `before` the receiver's copy before it (`None` for a document new to it), and
/// `authors` the nodes whose changes the message brought (their signatures checked). With
/// `legacy` (an upgrade window), cases whose id is not bound and places that no certificate
/// attests are let through; nothing else is.
pub fn check(
    id: &str,
    before: Option<&AutoCommit>,
    after: &AutoCommit,
    authors: &[String],
    topo: &(impl Topology + ?Sized),
    legacy: bool,
) -> Result<(), Breach> {
    let ctx = Ctx {
        id,
        before,
        after,
        topo,
        legacy,
    };
    match DocId::of(id) {
        DocId::Case => ctx.case(authors),
        DocId::Summary(owner) => {
            ctx.record_fixed()?;
            match authors.iter().find(|a| *a != owner) {
                Some(a) => Err(breach(
                    "summary_by_its_node",
                    format!(
                        "{a} wrote the summary of {owner}; a summary is written by its node only"
                    ),
                )),
                // Its figures are replaced as they change, by its node only.
                None => Ok(()),
            }
        }
        DocId::Ledger(owner) => ctx.ledger(owner, authors),
        DocId::Policy => {
            ctx.record_fixed()?;
            for a in authors {
                match topo.parents(a).map(|p| p.is_empty()) {
                    Some(true) => {}
                    None if legacy => {}
                    Some(false) => {
                        return Err(breach(
                            "policy_by_top",
                            format!(
                                "{a} wrote the federation policy, which only the top of the federation writes"
                            ),
                        ));
                    }
                    None => return Err(unattested("policy_by_top", a)),
                }
            }
            ctx.append_only_record(|_| false)
        }
    }
}

fn breach(rule: &'static str, message: String) -> Breach {
    Breach { rule, message }
}

fn unattested(rule: &'static str, node: &str) -> Breach {
    breach(
        rule,
        format!(
            "cannot be checked: no certificate of {node} saying its place in the federation is known here; reissue it with `hearth certs issue --level … --parent …`"
        ),
    )
}

/// The actor of an operation id.
fn actor(op: &ObjId) -> Option<&ActorId> {
    match op {
        ObjId::Id(_, actor, _) => Some(actor),
        ObjId::Root => None,
    }
}

/// The node of the actor of an operation id (`?` if it names none).
fn node(op: &ObjId) -> String {
    actor(op)
        .and_then(node_of_actor)
        .unwrap_or_else(|| "?".into())
}

/// The ids of every value at `obj[key]` (several when concurrent writes left them).
fn ids(doc: &AutoCommit, obj: &ObjId, key: &str) -> Vec<ObjId> {
    let mut ids: Vec<ObjId> = doc
        .get_all(obj, key)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    ids.sort();
    ids
}

/// Every field of map `obj`: key → the ids of its values.
fn fields(doc: &AutoCommit, obj: &ObjId) -> BTreeMap<String, Vec<ObjId>> {
    let mut out = BTreeMap::new();
    for item in doc.map_range(obj, ..) {
        let key = item.key.to_string();
        let v = if item.conflict {
            ids(doc, obj, &key)
        } else {
            vec![item.id()]
        };
        out.insert(key, v);
    }
    out
}

/// The entries of a container: (label, entry object id); every value of a map key, concurrent
/// ones included.
fn entries(doc: &AutoCommit, obj: &ObjId, list: bool) -> Vec<(String, ObjId)> {
    if list {
        doc.list_range(obj, ..)
            .map(|item| (item.index.to_string(), item.id()))
            .collect()
    } else {
        fields(doc, obj)
            .into_iter()
            .flat_map(|(k, ids)| ids.into_iter().map(move |id| (k.clone(), id)))
            .collect()
    }
}

fn text(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            automerge::ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The map at `path`, if there is one.
fn map_at(doc: &AutoCommit, path: &[&str]) -> Option<ObjId> {
    let mut obj = ROOT;
    for key in path {
        match doc.get(&obj, *key).ok().flatten() {
            Some((Value::Object(ObjType::Map | ObjType::List), id)) => obj = id,
            _ => return None,
        }
    }
    Some(obj)
}

struct Ctx<'a, T: Topology + ?Sized> {
    id: &'a str,
    before: Option<&'a AutoCommit>,
    after: &'a AutoCommit,
    topo: &'a T,
    legacy: bool,
}

impl<T: Topology + ?Sized> Ctx<'_, T> {
    fn case(&self, authors: &[String]) -> Result<(), Breach> {
        let id = self.id;
        let home = text(self.after, &ROOT, "home").unwrap_or_default();
        let participants = crate::case::participants_of(self.after).unwrap_or_default();
        if let Some(a) = authors.iter().find(|a| !participants.contains(a)) {
            return Err(breach(
                "participants_write",
                format!("{a} changed case {id}, which it does not hold"),
            ));
        }
        for key in FIXED {
            let now = ids(self.after, &ROOT, key);
            match self.before {
                None => {
                    if let Some(op) = now.iter().find(|op| node(op) != home) {
                        return Err(breach(
                            "home_creates",
                            format!(
                                "{} created case {id} whose home is {home}; a case is made by its home",
                                node(op)
                            ),
                        ));
                    }
                }
                Some(b) if ids(b, &ROOT, key) != now => {
                    return Err(breach(
                        "fixed_at_creation",
                        format!(
                            "{key} of case {id} was changed; it is fixed when the case is made"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if self.before.is_none() && !self.legacy {
            let bound = text(self.after, &ROOT, "id_nonce")
                .is_some_and(|nonce| crate::case::bound_case_id(&home, &nonce) == id);
            if !bound {
                return Err(breach(
                    "home_creates",
                    format!("case id {id} is not bound to its home {home}"),
                ));
            }
        }
        self.participants(&home)?;
        for owned in OWNED {
            let Some(after) = map_at(self.after, owned.path) else {
                continue;
            };
            let before = self.before.and_then(|b| map_at(b, owned.path));
            self.container(owned, before.as_ref(), &after)?;
        }
        // A manual grade names its writer too; any participant may set or remove one.
        if let Some(grade) = map_at(self.after, &["grade"]) {
            let old: HashSet<ObjId> = self
                .before
                .and_then(|b| map_at(b, &["grade"]).map(|g| ids(b, &g, "override")))
                .unwrap_or_default()
                .into_iter()
                .collect();
            for e in ids(self.after, &grade, "override") {
                if !(old.contains(&e) && self.unchanged(&e)) {
                    self.entry("the grade override", BY_NODE, None, &e)?;
                }
            }
        }
        Ok(())
    }

    fn participants(&self, home: &str) -> Result<(), Breach> {
        let id = self.id;
        let Some(map) = map_at(self.after, &["participants"]) else {
            return Ok(());
        };
        let now = fields(self.after, &map);
        let old = self
            .before
            .and_then(|b| map_at(b, &["participants"]).map(|m| fields(b, &m)))
            .unwrap_or_default();
        for (p, ids) in &old {
            if ids
                .iter()
                .any(|e| !now.get(p).is_some_and(|n| n.contains(e)))
            {
                return Err(breach(
                    "append_only",
                    format!("participant {p} of case {id} was removed or replaced"),
                ));
            }
        }
        for (p, ids) in &now {
            for e in ids {
                if old.get(p).is_some_and(|o| o.contains(e)) && self.unchanged(e) {
                    continue;
                }
                let writer = self.entry(
                    "participants",
                    &[("added_by", "entry_by_its_node")],
                    None,
                    e,
                )?;
                if text(self.after, e, "role").as_deref() == Some("home") {
                    if p != home || writer != home {
                        return Err(breach(
                            "home_creates",
                            format!(
                                "{writer} made {p} the home of case {id}, whose home is {home}"
                            ),
                        ));
                    }
                    continue;
                }
                match are_neighbours(self.topo, &writer, p) {
                    Some(true) => {}
                    None if self.legacy => {}
                    Some(false) => {
                        return Err(breach(
                            "participant_by_neighbour",
                            format!(
                                "{writer} added {p} to case {id}, but {p} is not its neighbour (by the certificates of both)"
                            ),
                        ));
                    }
                    None => {
                        let unknown = if self.topo.parents(&writer).is_none() {
                            &writer
                        } else {
                            p
                        };
                        return Err(unattested("participant_by_neighbour", unknown));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether entry `e` has the same fields, written by the same operations, before and after.
    fn unchanged(&self, e: &ObjId) -> bool {
        self.before
            .is_some_and(|b| fields(b, e) == fields(self.after, e))
    }

    fn container(
        &self,
        owned: &Owned,
        before: Option<&ObjId>,
        after: &ObjId,
    ) -> Result<(), Breach> {
        let id = self.id;
        let now = entries(self.after, after, owned.list);
        let old: HashSet<ObjId> = match (self.before, before) {
            (Some(b), Some(obj)) => entries(b, obj, owned.list)
                .into_iter()
                .map(|(_, e)| e)
                .collect(),
            _ => HashSet::new(),
        };
        let present: HashSet<&ObjId> = now.iter().map(|(_, e)| e).collect();
        if old.iter().any(|e| !present.contains(e)) {
            return Err(breach(
                "append_only",
                format!(
                    "an entry of {} in case {id} was removed or replaced; entries are only ever added",
                    owned.what
                ),
            ));
        }
        for (_, e) in &now {
            if !(old.contains(e) && self.unchanged(e)) {
                self.entry(owned.what, owned.authors, owned.nested, e)?;
            }
            if let Some(nested) = owned.nested {
                let inner = self.after.get(e, nested).ok().flatten();
                if let Some((Value::Object(ObjType::Map), inner)) = inner {
                    let inner_before = self
                        .before
                        .and_then(|b| b.get(e, nested).ok().flatten())
                        .map(|(_, id)| id);
                    let child = Owned {
                        path: &[],
                        what: nested,
                        list: false,
                        authors: BY_NODE,
                        nested: None,
                    };
                    self.container(&child, inner_before.as_ref(), &inner)?;
                }
            }
        }
        Ok(())
    }

    /// Checks one new or changed entry: every field written by the node that made it, which
    /// the author fields must name. Returns that node.
    fn entry(
        &self,
        what: &str,
        authors: &[(&str, &'static str)],
        nested: Option<&str>,
        e: &ObjId,
    ) -> Result<String, Breach> {
        let id = self.id;
        let writer = node(e);
        let maker = actor(e);
        for (key, ops) in fields(self.after, e) {
            if Some(key.as_str()) == nested && ops.len() == 1 && actor(&ops[0]) == maker {
                continue;
            }
            if let Some(op) = ops.iter().find(|op| actor(op) != maker) {
                return Err(breach(
                    "entry_by_its_node",
                    format!(
                        "{} changed an entry of {what} in case {id} written by {writer}",
                        node(op)
                    ),
                ));
            }
        }
        let merged = text(self.after, e, "merged_from").is_some();
        for (field, rule) in authors {
            if *field == "paying_node" && merged {
                // Aid taken in from a duplicate archive keeps the node that paid it; the merge
                // itself is the merger's entry (`node`).
                continue;
            }
            match text(self.after, e, field) {
                Some(named) if named == writer => {}
                named => {
                    return Err(breach(
                        rule,
                        format!(
                            "{writer} wrote an entry of {what} in case {id} that names {} as its {field}",
                            named.as_deref().unwrap_or("nobody")
                        ),
                    ));
                }
            }
        }
        Ok(writer)
    }

    fn record_fixed(&self) -> Result<(), Breach> {
        let Some(b) = self.before else {
            return Ok(());
        };
        for key in RECORD_FIXED {
            if ids(b, &ROOT, key) != ids(self.after, &ROOT, key) {
                return Err(breach(
                    "fixed_at_creation",
                    format!(
                        "{key} of {} was changed; it is fixed when the document is made",
                        self.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Entries of a record are written whole and never replaced or removed (but those
    /// `may_replace` allows).
    fn append_only_record(&self, may_replace: impl Fn(&str) -> bool) -> Result<(), Breach> {
        let (Some(b), Some(now)) = (self.before, map_at(self.after, &["entries"])) else {
            return Ok(());
        };
        let Some(old) = map_at(b, &["entries"]) else {
            return Ok(());
        };
        let now = fields(self.after, &now);
        for (key, ops) in fields(b, &old) {
            if may_replace(&key) {
                continue;
            }
            if ops
                .iter()
                .any(|op| !now.get(&key).is_some_and(|n| n.contains(op)))
            {
                return Err(breach(
                    "append_only",
                    format!("entry {key} of {} was removed or replaced", self.id),
                ));
            }
        }
        Ok(())
    }

    fn ledger(&self, owner: &str, authors: &[String]) -> Result<(), Breach> {
        let id = self.id;
        self.record_fixed()?;
        let parents = self.topo.parents(owner);
        for a in authors.iter().filter(|a| *a != owner) {
            match &parents {
                Some(p) if p.contains(a) => {}
                None if self.legacy => {}
                Some(_) => {
                    return Err(breach(
                        "ledger_by_owner",
                        format!(
                            "{a} wrote in the fund ledger of {owner}; only {owner} and its parents' grants do"
                        ),
                    ));
                }
                None => return Err(unattested("ledger_by_owner", owner)),
            }
        }
        // A year's budget is a plan its owner may set again; money entries stay as written.
        self.append_only_record(|key| key.starts_with("budget-"))?;
        let Some(now) = map_at(self.after, &["entries"]) else {
            return Ok(());
        };
        let old: HashSet<ObjId> = self
            .before
            .and_then(|b| map_at(b, &["entries"]).map(|m| fields(b, &m)))
            .unwrap_or_default()
            .into_values()
            .flatten()
            .collect();
        for (key, ops) in fields(self.after, &now) {
            for op in ops.iter().filter(|op| !old.contains(op)) {
                let writer = node(op);
                if key.starts_with("ack:") {
                    continue; // an acknowledgement: its writer was checked above
                }
                let entry = text(self.after, &now, &key)
                    .and_then(|json| serde_json::from_str::<crate::ledger::Entry>(&json).ok());
                let Some(entry) = entry else {
                    continue; // unreadable entries are refused by the checks of a received record
                };
                if entry.stamp().node != writer {
                    return Err(breach(
                        "ledger_by_owner",
                        format!(
                            "{writer} wrote entry {key} of {id} that names {} as its node",
                            entry.stamp().node
                        ),
                    ));
                }
                let grant = matches!(
                    &entry,
                    crate::ledger::Entry::Income { source: crate::codes::IncomeSource::Grant, from_node: Some(from), .. } if *from == writer
                );
                if writer != owner && !grant {
                    return Err(breach(
                        "ledger_by_owner",
                        format!(
                            "{writer} wrote entry {key} of {id}; a parent writes only grants into a child's ledger"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{BoundId, Case, CaseFields, Editor, NewVisit};
    use crate::codes::VisitKind;

    struct Demo;

    impl Topology for Demo {
        fn parents(&self, node: &str) -> Option<Vec<String>> {
            Some(match node {
                "demo.team-1" | "demo.team-2" => vec!["demo.branch".into()],
                "demo.branch" => vec!["demo.enterprise".into()],
                _ => Vec::new(),
            })
        }
    }

    fn editor(node: &str) -> Editor {
        Editor {
            node: node.into(),
            by: "x".into(),
            at: jiff::Timestamp::from_second(1_780_272_000).unwrap(),
            today: jiff::civil::date(2026, 6, 1),
        }
    }

    fn case_at(home: &str, nonce: &str) -> Case {
        let actor = crate::actor_id(home, &[1; 8]);
        let mut c = Case::create(
            &BoundId::new(home, nonce),
            actor,
            &editor(home),
            &CaseFields::sample(1),
        )
        .unwrap();
        c.report_to(&editor(home), "demo.branch", "filed").unwrap();
        c
    }

    fn at_branch(c: &mut Case) -> Case {
        Case::from_doc(c_doc(c), crate::actor_id("demo.branch", &[2; 8])).unwrap()
    }

    fn c_doc(c: &mut Case) -> AutoCommit {
        c.doc_mut().clone()
    }

    #[test]
    fn a_new_case_from_its_home_passes_and_a_merge_by_the_branch_is_allowed() {
        let mut d1 = case_at("demo.team-1", "a");
        let mut d2 = case_at("demo.team-2", "b");
        d2.add_visit(
            &editor("demo.team-2"),
            &NewVisit {
                id: "v2".into(),
                date: jiff::civil::date(2026, 4, 2),
                kind: VisitKind::Home,
                visitor: None,
                notes: None,
                consent: true,
            },
        )
        .unwrap();
        let id1 = d1.id().unwrap();
        let id2 = d2.id().unwrap();
        let authors = ["demo.team-1".to_owned()];
        check(&id1, None, &c_doc(&mut d1), &authors, &Demo, false).unwrap();
        let mut b1 = at_branch(&mut d1);
        let mut b2 = at_branch(&mut d2);
        let (before1, before2) = (c_doc(&mut b1), c_doc(&mut b2));
        b1.absorb(&editor("demo.branch"), "dup", &mut b2).unwrap();
        let branch = ["demo.branch".to_owned()];
        check(&id1, Some(&before1), &c_doc(&mut b1), &branch, &Demo, false).unwrap();
        check(&id2, Some(&before2), &c_doc(&mut b2), &branch, &Demo, false).unwrap();
    }
}
