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
//! | `aid_by_payer` | aid is recorded by its paying node (a merged copy, see below, by the merger) |
//! | `trail_by_from` | an escalation step is written by its `from` node |
//! | `decided_above_home` | a case's home never returns or rejects it, nor approves aid above its authority on it; it approves its own filing only at the top (no parent, by its certificate) |
//! | `summary_by_its_node` | a summary is written by its node |
//! | `ledger_by_owner` | a fund ledger is written by its owner; a grant into it by the owner's parent |
//! | `policy_by_top` | the federation policy is written at the top |
//!
//! An entry copied in from a duplicate archive when two are merged (`merged_from` set) is the
//! merging node's entry: it names that node in `node` and carries its signature, like any other.
//! What it says about the original (`merged_node`, and an aid copy's `paying_node`) is what the
//! merger copied, and every view shows it as such ([`crate::view::Assistance::merged_from`]); the
//! original, signed by the node that wrote it, stays in the closed duplicate. So a participant
//! can claim in a copy that another node paid, but never in that node's name.
//!
//! Shared fields of a case (household, finances, causes, profile, status, grade) may be written
//! by any participant. What was there before a message is not checked again: it was checked when
//! it came (or, for data older than signatures, is trusted as the node's own history).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use automerge::{
    ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValueRef, Value, ValueRef,
};

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
    "decided_above_home",
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
        before: before.map(Doc::new),
        after: Doc::new(after),
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
            {
                let (old, now) = ctx.record_entries();
                ctx.append_only_record(&old, &now, |_| false)
            }
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

/// One key of a map: the ids of the operations that wrote its values (several when concurrent
/// writes left them), the winning one, and the winner's text if it is text.
#[derive(Debug, Clone)]
struct Slot {
    ids: Vec<ObjId>,
    winner: ObjId,
    object: bool,
    text: Option<String>,
}

/// A map read in one pass (every key a seek would cost several times more).
#[derive(Debug, Clone, Default)]
struct Map(BTreeMap<String, Slot>);

impl Map {
    fn read(doc: &AutoCommit, obj: &ObjId) -> Map {
        let mut out = BTreeMap::new();
        for item in doc.map_range(obj, ..) {
            let key = item.key.to_string();
            let winner = item.id();
            let (object, text) = match &item.value {
                ValueRef::Object(_) => (true, None),
                ValueRef::Scalar(ScalarValueRef::Str(s)) => (false, Some(s.to_string())),
                ValueRef::Scalar(_) => (false, None),
            };
            let ids = if item.conflict {
                let mut ids: Vec<ObjId> = doc
                    .get_all(obj, key.as_str())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, id)| id)
                    .collect();
                ids.sort();
                ids
            } else {
                vec![winner.clone()]
            };
            out.insert(
                key,
                Slot {
                    ids,
                    winner,
                    object,
                    text,
                },
            );
        }
        Map(out)
    }

    /// The map at `key`, read, if the winning value there is one.
    fn child(&self, doc: &AutoCommit, key: &str) -> Option<(ObjId, Map)> {
        let slot = self.0.get(key).filter(|s| s.object)?;
        Some((slot.winner.clone(), Map::read(doc, &slot.winner)))
    }

    fn ids(&self, key: &str) -> &[ObjId] {
        self.0.get(key).map_or(&[], |s| s.ids.as_slice())
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|s| s.text.as_deref())
    }

    /// Whether both were written by the same operations, key by key.
    fn same_ops(&self, other: &Map) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((ka, a), (kb, b))| ka == kb && a.ids == b.ids)
    }
}

/// The entries of a container: every value of a list, or of each key of a map (concurrent
/// ones included), as operation ids.
fn entries(doc: &AutoCommit, obj: &ObjId, list: bool) -> Vec<ObjId> {
    if list {
        doc.list_range(obj, ..).map(|item| item.id()).collect()
    } else {
        Map::read(doc, obj)
            .0
            .into_values()
            .flat_map(|s| s.ids)
            .collect()
    }
}

/// The map at `path` from the root map `root`.
fn map_at(doc: &AutoCommit, root: &Map, path: &[&str]) -> Option<ObjId> {
    let (first, rest) = path.split_first()?;
    let mut obj = root.0.get(*first).filter(|s| s.object)?.winner.clone();
    for key in rest {
        match doc.get(&obj, *key).ok().flatten() {
            Some((Value::Object(ObjType::Map | ObjType::List), id)) => obj = id,
            _ => return None,
        }
    }
    Some(obj)
}

/// A document as the rules read it: the document and its root map.
struct Doc<'a> {
    doc: &'a AutoCommit,
    root: Map,
}

impl<'a> Doc<'a> {
    fn new(doc: &'a AutoCommit) -> Doc<'a> {
        Doc {
            doc,
            root: Map::read(doc, &ROOT),
        }
    }

    fn at(&self, path: &[&str]) -> Option<ObjId> {
        map_at(self.doc, &self.root, path)
    }
}

struct Ctx<'a, T: Topology + ?Sized> {
    id: &'a str,
    before: Option<Doc<'a>>,
    after: Doc<'a>,
    topo: &'a T,
    legacy: bool,
}

impl<T: Topology + ?Sized> Ctx<'_, T> {
    fn case(&self, authors: &[String]) -> Result<(), Breach> {
        let id = self.id;
        let home = self.after.root.text("home").unwrap_or_default().to_owned();
        let participants = self.after.root.child(self.after.doc, "participants");
        if let Some(a) = authors.iter().find(|a| {
            !participants
                .as_ref()
                .is_some_and(|(_, p)| p.0.contains_key(a.as_str()))
        }) {
            return Err(breach(
                "participants_write",
                format!("{a} changed case {id}, which it does not hold"),
            ));
        }
        for key in FIXED {
            let now = self.after.root.ids(key);
            match &self.before {
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
                Some(b) if b.root.ids(key) != now => {
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
            let bound = self
                .after
                .root
                .text("id_nonce")
                .is_some_and(|nonce| crate::case::bound_case_id(&home, nonce) == id);
            if !bound {
                return Err(breach(
                    "home_creates",
                    format!("case id {id} is not bound to its home {home}"),
                ));
            }
        }
        if let Some((_, now)) = &participants {
            self.participants(&home, now)?;
        }
        for owned in OWNED {
            let Some(after) = self.after.at(owned.path) else {
                continue;
            };
            let before = self.before.as_ref().and_then(|b| b.at(owned.path));
            self.container(owned, before.as_ref(), &after)?;
        }
        // A manual grade names its writer too; any participant may set or remove one.
        if let Some((_, grade)) = self.after.root.child(self.after.doc, "grade") {
            let old: HashSet<ObjId> = self
                .before
                .as_ref()
                .and_then(|b| b.root.child(b.doc, "grade"))
                .map(|(_, g)| g.ids("override").iter().cloned().collect())
                .unwrap_or_default();
            for e in grade.ids("override") {
                self.entry("the grade override", BY_NODE, None, e, old.contains(e))?;
            }
        }
        Ok(())
    }

    fn participants(&self, home: &str, now: &Map) -> Result<(), Breach> {
        let id = self.id;
        let old = self
            .before
            .as_ref()
            .and_then(|b| b.root.child(b.doc, "participants"))
            .map(|(_, m)| m)
            .unwrap_or_default();
        for (p, slot) in &old.0 {
            if slot.ids.iter().any(|e| !now.ids(p).contains(e)) {
                return Err(breach(
                    "append_only",
                    format!("participant {p} of case {id} was removed or replaced"),
                ));
            }
        }
        for (p, slot) in &now.0 {
            for e in &slot.ids {
                let held = old.ids(p).contains(e);
                let Some((writer, fields)) = self.entry(
                    "participants",
                    &[("added_by", "entry_by_its_node")],
                    None,
                    e,
                    held,
                )?
                else {
                    continue;
                };
                if fields.text("role") == Some("home") {
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
                            writer.as_str()
                        } else {
                            p.as_str()
                        };
                        return Err(unattested("participant_by_neighbour", unknown));
                    }
                }
            }
        }
        Ok(())
    }

    fn container(
        &self,
        owned: &Owned,
        before: Option<&ObjId>,
        after: &ObjId,
    ) -> Result<(), Breach> {
        let id = self.id;
        let now = entries(self.after.doc, after, owned.list);
        let old: HashSet<ObjId> = match (&self.before, before) {
            (Some(b), Some(obj)) => entries(b.doc, obj, owned.list).into_iter().collect(),
            _ => HashSet::new(),
        };
        let present: HashSet<&ObjId> = now.iter().collect();
        if old.iter().any(|e| !present.contains(e)) {
            return Err(breach(
                "append_only",
                format!(
                    "an entry of {} in case {id} was removed or replaced; entries are only ever added",
                    owned.what
                ),
            ));
        }
        for e in &now {
            let checked =
                self.entry(owned.what, owned.authors, owned.nested, e, old.contains(e))?;
            if let Some((writer, fields)) = &checked {
                self.decided_above_home(owned, writer, fields)?;
            }
            let Some(nested) = owned.nested else {
                continue;
            };
            let inner = match checked {
                Some((_, fields)) => fields
                    .0
                    .get(nested)
                    .filter(|s| s.object)
                    .map(|s| s.winner.clone()),
                None => match self.after.doc.get(e, nested).ok().flatten() {
                    Some((Value::Object(ObjType::Map), inner)) => Some(inner),
                    _ => None,
                },
            };
            if let Some(inner) = inner {
                let inner_before = self
                    .before
                    .as_ref()
                    .and_then(|b| b.doc.get(e, nested).ok().flatten())
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
        Ok(())
    }

    /// A new decision or status change written by the case's home: the home does not return
    /// or reject its own case, nor approve aid above its authority on it, and approves its own
    /// filing only when it has no parent. (A status of `filed` written by the home is not
    /// refused: an import of cases on file in the paper records writes it, and a receiver
    /// cannot tell the two apart.)
    fn decided_above_home(&self, owned: &Owned, writer: &str, fields: &Map) -> Result<(), Breach> {
        let home = self.after.root.text("home").unwrap_or_default();
        if writer != home {
            return Ok(());
        }
        let id = self.id;
        let what = match owned.path {
            ["approvals"] => match (fields.text("step"), fields.text("decision")) {
                (_, Some("return" | "reject")) => Some("returned or rejected its own case"),
                (Some(crate::case::AID_APPROVAL), _) => {
                    Some("approved aid above its own authority on its own case")
                }
                (Some("review"), Some("approve")) => match self.topo.parents(home) {
                    Some(p) if p.is_empty() => None,
                    None if self.legacy => None,
                    None => return Err(unattested("decided_above_home", home)),
                    Some(_) => Some("approved its own case, which its parent approves"),
                },
                _ => None,
            },
            ["status_history"] if fields.text("to") == Some("returned") => {
                Some("returned its own case")
            }
            _ => None,
        };
        match what {
            Some(what) => Err(breach(
                "decided_above_home",
                format!("{writer}, the home of case {id}, {what}; a superior decides"),
            )),
            None => Ok(()),
        }
    }

    /// Checks one entry, unless it was `held` before and is unchanged: every field written by
    /// the node that made it, which the author fields must name. Returns that node and the
    /// entry's fields, or `None` for an unchanged entry.
    fn entry(
        &self,
        what: &str,
        authors: &[(&str, &'static str)],
        nested: Option<&str>,
        e: &ObjId,
        held: bool,
    ) -> Result<Option<(String, Map)>, Breach> {
        let id = self.id;
        let fields = Map::read(self.after.doc, e);
        if held
            && let Some(b) = &self.before
            && Map::read(b.doc, e).same_ops(&fields)
        {
            return Ok(None);
        }
        let writer = node(e);
        let maker = actor(e);
        for (key, slot) in &fields.0 {
            let ops = &slot.ids;
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
        let merged = fields.text("merged_from").is_some();
        for (field, rule) in authors {
            if *field == "paying_node" && merged {
                // Aid copied in from a duplicate archive keeps the payer the original names;
                // the copy is the merger's entry (`node`), shown as a copy (module doc).
                continue;
            }
            match fields.text(field) {
                Some(named) if named == writer => {}
                named => {
                    return Err(breach(
                        rule,
                        format!(
                            "{writer} wrote an entry of {what} in case {id} that names {} as its {field}",
                            named.unwrap_or("nobody")
                        ),
                    ));
                }
            }
        }
        Ok(Some((writer, fields)))
    }

    fn record_fixed(&self) -> Result<(), Breach> {
        let Some(b) = &self.before else {
            return Ok(());
        };
        for key in RECORD_FIXED {
            if b.root.ids(key) != self.after.root.ids(key) {
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

    /// The entries of a record, before and after.
    fn record_entries(&self) -> (Map, Map) {
        let read = |d: &Doc<'_>| {
            d.root
                .child(d.doc, "entries")
                .map(|(_, m)| m)
                .unwrap_or_default()
        };
        (
            self.before.as_ref().map(read).unwrap_or_default(),
            read(&self.after),
        )
    }

    /// Entries of a record are written whole and never replaced or removed (but those
    /// `may_replace` allows).
    fn append_only_record(
        &self,
        old: &Map,
        now: &Map,
        may_replace: impl Fn(&str) -> bool,
    ) -> Result<(), Breach> {
        for (key, slot) in &old.0 {
            if may_replace(key) {
                continue;
            }
            if slot.ids.iter().any(|op| !now.ids(key).contains(op)) {
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
        let (old, now) = self.record_entries();
        // A year's budget is a plan its owner may set again; money entries stay as written.
        self.append_only_record(&old, &now, |key| key.starts_with("budget-"))?;
        let old: HashSet<&ObjId> = old.0.values().flat_map(|s| &s.ids).collect();
        for (key, slot) in &now.0 {
            if key.starts_with("ack:") || slot.ids.iter().all(|op| old.contains(op)) {
                continue; // an acknowledgement (its writer was checked above), or as it was
            }
            let writer = node(&slot.winner);
            if slot
                .ids
                .iter()
                .any(|op| !old.contains(op) && node(op) != writer)
            {
                return Err(breach(
                    "ledger_by_owner",
                    format!("entry {key} of {id} was written twice at once by different nodes"),
                ));
            }
            let Some(entry) = slot
                .text
                .as_deref()
                .and_then(|json| serde_json::from_str::<crate::ledger::Entry>(json).ok())
            else {
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
        d2.add_assistance(
            &editor("demo.team-2"),
            &crate::case::NewAssistance {
                id: "a2".into(),
                kind: crate::codes::AssistanceKind::Living,
                amount_fen: 800_00,
                date: jiff::civil::date(2026, 4, 1),
                paying_node: Some("demo.team-2".into()),
                approving_node: None,
                note: None,
            },
        )
        .unwrap();
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
        // The copied aid is the branch's entry, naming the payer it copied and where from.
        let copy = b1.view().unwrap().assistance.pop().unwrap();
        assert_eq!(copy.node.as_deref(), Some("demo.branch"));
        assert_eq!(copy.paying_node.as_deref(), Some("demo.team-2"));
        assert_eq!(copy.merged_node.as_deref(), Some("demo.team-2"));
        assert_eq!(copy.merged_from.as_deref(), Some(id2.as_str()));
    }

    /// Appends to the approvals of `c` as `node` would, with `fields`, bypassing the case's own
    /// checks (as a hostile node's software would).
    fn forge_approval(c: &mut Case, node: &str, fields: &[(&str, &str)]) {
        use automerge::transaction::Transactable;
        let doc = c.doc_mut();
        let list = match doc.get(ROOT, "approvals").unwrap() {
            Some((_, id)) => id,
            None => panic!("a case has approvals"),
        };
        let at = doc.length(&list);
        let e = doc.insert_object(&list, at, ObjType::Map).unwrap();
        doc.put(&e, "node", node).unwrap();
        for (k, v) in fields {
            doc.put(&e, *k, *v).unwrap();
        }
        doc.commit();
    }

    #[test]
    fn the_home_does_not_decide_on_its_own_case() {
        let mut c = case_at("demo.team-1", "a");
        let id = c.id().unwrap();
        let team = ["demo.team-1".to_owned()];
        let before = c_doc(&mut c);
        for fields in [
            &[("step", "review"), ("decision", "return"), ("note", "x")][..],
            &[("step", "review"), ("decision", "approve")],
            &[("step", crate::case::AID_APPROVAL), ("decision", "approve")],
        ] {
            let mut forged =
                Case::from_doc(before.clone(), crate::actor_id("demo.team-1", &[1; 8])).unwrap();
            forge_approval(&mut forged, "demo.team-1", fields);
            let e =
                check(&id, Some(&before), &c_doc(&mut forged), &team, &Demo, false).unwrap_err();
            assert_eq!(e.rule, "decided_above_home", "{fields:?}: {e}");
        }
        // The branch, above the team, decides.
        let mut b = at_branch(&mut c);
        let held = c_doc(&mut b);
        forge_approval(
            &mut b,
            "demo.branch",
            &[("step", "review"), ("decision", "return"), ("note", "x")],
        );
        let branch = ["demo.branch".to_owned()];
        check(&id, Some(&held), &c_doc(&mut b), &branch, &Demo, false).unwrap();
        // A node with no parent approves its own.
        let mut top = case_at("demo.enterprise", "t");
        let top_id = top.id().unwrap();
        let held = c_doc(&mut top);
        forge_approval(
            &mut top,
            "demo.enterprise",
            &[("step", "review"), ("decision", "approve")],
        );
        let ent = ["demo.enterprise".to_owned()];
        check(&top_id, Some(&held), &c_doc(&mut top), &ent, &Demo, false).unwrap();
    }

    #[test]
    fn only_the_node_that_made_a_record_voids_it() {
        let mut c = case_at("demo.team-1", "v");
        let id = c.id().unwrap();
        let visit = crate::NewVisit::sample("visit-1");
        c.add_visit(&editor("demo.team-1"), &visit).unwrap();
        let held = c_doc(&mut c);
        // The team voids its own visit: every receiver takes it.
        let mut own =
            Case::from_doc(held.clone(), crate::actor_id("demo.team-1", &[1; 8])).unwrap();
        own.void_record(&editor("demo.team-1"), "visit-1", "wrong household")
            .unwrap();
        let team = ["demo.team-1".to_owned()];
        check(&id, Some(&held), &c_doc(&mut own), &team, &Demo, false).unwrap();
        assert_eq!(own.view().unwrap().voided.len(), 1);
        assert!(own.view().unwrap().visits.is_empty());
        // The branch may not: refused where it is written, and at every receiver if forged.
        let mut b = Case::from_doc(held.clone(), crate::actor_id("demo.branch", &[2; 8])).unwrap();
        let e = b
            .void_record(&editor("demo.branch"), "visit-1", "no")
            .unwrap_err();
        assert!(e.to_string().contains("only demo.team-1 voids"), "{e}");
        {
            use automerge::transaction::Transactable;
            let doc = b.doc_mut();
            let (_, visits) = doc.get(ROOT, "visits").unwrap().unwrap();
            let (_, entry) = doc.get(&visits, "visit-1").unwrap().unwrap();
            doc.put(&entry, "voided_reason", "forged").unwrap();
            doc.commit();
        }
        let branch = ["demo.branch".to_owned()];
        let e = check(&id, Some(&held), &c_doc(&mut b), &branch, &Demo, false).unwrap_err();
        assert_eq!(e.rule, "entry_by_its_node", "{e}");
    }
}
