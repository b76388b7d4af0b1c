//! Reading and changing cases for a person: the operations behind `hearth.v1.Archive` and the
//! `hearth` command line. They run against [`Cases`] — the store itself when no node runs on the
//! data dir, or the running node's replica on its core thread — so both paths parse, check and
//! write alike. Every input is text as typed and is parsed here, completely, before anything is
//! written; a refused write leaves nothing behind.

use std::collections::HashMap;
use std::sync::mpsc;

use hearth_archive::DocId;
use hearth_archive::automerge::ActorId;
use hearth_archive::conflict::QueueEntry;
use hearth_archive::form::{parse_date, parse_number};
use hearth_archive::ledger::{Entry, LedgerView, Stamp, mask_name};
use hearth_archive::money::format_yuan;
use hearth_archive::money::parse_positive_yuan;
use hearth_archive::record::{POLICY_ID, ledger_id, summary_id};
use hearth_archive::summary::{ConflictBrief, NodeSummary, SUMMARY_ENTRY, Totals};
use hearth_archive::{
    ArchiveError, AssistanceKind, Case, CaseForm, CaseSummary, CaseView, Cause, Decision, Document,
    Editor, FederationSalt, Grade, Level, NewAssistance, NewLoan, NewMember, NewRepayment,
    NewReview, NewVisit, Policy, Record, ReviewResult, Status, VisitKind, actor_id,
};
use hearth_store::{Store, StoreError};
use hearth_sync::ReplicaError;

use crate::config::NodeConfig;
use crate::replica::StoreReplica;

/// Why a read or write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Input the person can correct; the message says how.
    #[error("{0}")]
    Input(String),
    /// The archive model refused the input, or a document is unreadable.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The store failed, or has no such case (boxed: the error is large).
    #[error(transparent)]
    Store(Box<StoreError>),
    /// The node's replica failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// An import with bad lines: each problem, then a summary. Nothing was imported.
    #[error("{}", .problems.iter().chain(std::iter::once(.summary)).cloned().collect::<Vec<_>>().join("\n"))]
    Import {
        /// One line per bad input line (at most [`MAX_LISTED`], then a count of the rest).
        problems: Vec<String>,
        /// What was refused.
        summary: String,
    },
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> OpError {
        OpError::Store(Box::new(e))
    }
}

impl OpError {
    fn input(message: impl Into<String>) -> OpError {
        OpError::Input(message.into())
    }

    /// Whether the person can correct it (bad input, an unknown case), as opposed to a failing
    /// disk or a damaged document.
    pub fn is_input(&self) -> bool {
        match self {
            OpError::Input(_) | OpError::Import { .. } => true,
            OpError::Archive(e) => archive_input(e),
            OpError::Store(e) => store_input(e),
            OpError::Replica(_) => false,
        }
    }
}

/// Whether an archive error is about the input rather than a document.
pub fn archive_input(e: &ArchiveError) -> bool {
    !matches!(
        e,
        ArchiveError::Schema(_)
            | ArchiveError::Document(_)
            | ArchiveError::NewerSchema { .. }
            | ArchiveError::Implausible(_)
    )
}

/// Whether a store error is about the input (an unknown or ambiguous case id).
pub fn store_input(e: &StoreError) -> bool {
    match e {
        StoreError::NotFound(_) | StoreError::Ambiguous(_) => true,
        StoreError::Archive(a) => archive_input(a),
        _ => false,
    }
}

/// Result of archive operations.
pub type Result<T, E = OpError> = std::result::Result<T, E>;

/// Where cases live: the store, or the running node's replica.
pub trait Cases {
    /// The actor this node writes with.
    fn actor(&self) -> ActorId;
    /// The full id of the case whose id starts with `prefix`.
    fn resolve(&mut self, prefix: &str) -> Result<String>;
    /// Runs `f` on a case; a change it makes is durable when this returns `Ok`, and discarded
    /// when `f` fails.
    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T>;
    /// Reads a case.
    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T>;
    /// Stores new cases in one durable transaction: all of them, or none if one fails.
    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>>;
    /// The listing index of every case held.
    fn summaries(&mut self) -> Result<Vec<CaseSummary>>;
    /// Cases on file for a household, by its identity key.
    fn with_identity(&mut self, key: &str) -> Result<Vec<String>>;
    /// Reads a record (policy, summary, ledger); `None` if not held.
    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>>;
    /// Runs `f` on several documents together (a record not held is made empty first; a case
    /// must be held): every change is durable in one transaction when this returns `Ok`, and
    /// none when `f` fails. The documents come in the order of `ids`.
    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T>;
    /// The conflict queue, newest first.
    fn conflicts(&mut self) -> Result<Vec<QueueEntry>>;
    /// Runs `f` on a record, made empty first if not held; durable when this returns `Ok`.
    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T>;
    /// Makes the next write (the next `update`, `create`, `update_many` or `update_record`)
    /// one under request key `key`, recorded in its own transaction; `None` clears it.
    fn expect_request(&mut self, key: Option<String>);
    /// The document the write with request key `key` wrote, if one was made here.
    fn answered(&mut self, key: &str) -> Result<Option<String>>;
}

/// The store of a data dir no node is running on.
#[derive(Debug)]
pub struct StoreCases<'a> {
    store: &'a Store,
    actor: ActorId,
    request: Option<String>,
}

impl<'a> StoreCases<'a> {
    /// Cases in `store`, written as `node_id`.
    pub fn new(store: &'a Store, node_id: &str) -> StoreCases<'a> {
        StoreCases {
            store,
            actor: actor_id(node_id, store.incarnation()),
            request: None,
        }
    }
}

impl Cases for StoreCases<'_> {
    fn actor(&self) -> ActorId {
        self.actor.clone()
    }

    fn resolve(&mut self, prefix: &str) -> Result<String> {
        Ok(self.store.resolve_case_id(prefix)?)
    }

    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T> {
        let mut case = self.store.load_case(id, self.actor.clone())?;
        let value = f(&mut case)?;
        let mut batch = self.begin()?;
        batch.put(&mut case)?;
        self.seal_request(&mut batch, id)?;
        batch.commit()?;
        Ok(value)
    }

    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T> {
        f(&self.store.load_case(id, self.actor.clone())?)
    }

    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>> {
        let mut batch = self.begin()?;
        let mut ids = Vec::new();
        for case in cases {
            let mut case = case?;
            batch.put(&mut case)?;
            ids.push(case.id()?);
        }
        if let Some(first) = ids.first() {
            self.seal_request(&mut batch, first)?;
        }
        batch.commit()?;
        Ok(ids)
    }

    fn summaries(&mut self) -> Result<Vec<CaseSummary>> {
        Ok(self.store.case_summaries()?)
    }

    fn with_identity(&mut self, key: &str) -> Result<Vec<String>> {
        Ok(self.store.cases_with_identity(key)?)
    }

    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.store.load_doc(id, self.actor.clone())? {
            Some(Document::Record(r)) => f(&r).map(Some),
            Some(Document::Case(_)) => Err(not_a_record(id)),
            None => Ok(None),
        }
    }

    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T> {
        let mut record = self.load_record(id, editor)?;
        let value = f(&mut record)?;
        let mut batch = self.begin()?;
        batch.put(&mut record)?;
        self.seal_request(&mut batch, id)?;
        batch.commit()?;
        Ok(value)
    }

    fn conflicts(&mut self) -> Result<Vec<QueueEntry>> {
        Ok(self.store.conflicts()?)
    }

    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T> {
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            docs.push(match self.store.load_doc(id, self.actor.clone())? {
                Some(d) => d,
                None if DocId::of(id) == DocId::Case => {
                    return Err(StoreError::NotFound((*id).to_owned()).into());
                }
                None => Document::Record(Record::create(id, self.actor.clone(), editor)?),
            });
        }
        let value = f(&mut docs)?;
        let mut batch = self.begin()?;
        for d in &mut docs {
            batch.put(d)?;
        }
        if let Some(first) = ids.first() {
            self.seal_request(&mut batch, first)?;
        }
        batch.commit()?;
        Ok(value)
    }

    fn expect_request(&mut self, key: Option<String>) {
        self.request = key;
    }

    fn answered(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.store.request(key)?)
    }
}

impl StoreCases<'_> {
    /// Records the request key of the write being committed in `batch`, with `doc`.
    fn seal_request(&mut self, batch: &mut hearth_store::Batch, doc: &str) -> Result<()> {
        if let Some(key) = self.request.take() {
            batch.put_request(&key, doc)?;
        }
        Ok(())
    }

    /// A write checked against the policy in force today.
    fn begin(&mut self) -> Result<hearth_store::Batch> {
        let policy = policy_in_force(self, jiff::Zoned::now().date())?;
        let mut batch = self.store.begin()?;
        batch.set_policy(policy);
        Ok(batch)
    }

    fn load_record(&self, id: &str, editor: &Editor) -> Result<Record> {
        match self.store.load_doc(id, self.actor.clone())? {
            Some(Document::Record(r)) => Ok(r),
            Some(Document::Case(_)) => Err(not_a_record(id)),
            None => Ok(Record::create(id, self.actor.clone(), editor)?),
        }
    }
}

fn not_a_record(id: &str) -> OpError {
    OpError::Archive(ArchiveError::Schema(format!(
        "{id} is not a record document"
    )))
}

impl Cases for StoreReplica {
    fn actor(&self) -> ActorId {
        StoreReplica::actor(self)
    }

    fn resolve(&mut self, prefix: &str) -> Result<String> {
        self.flush()?;
        Ok(self.store().resolve_case_id(prefix)?)
    }

    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Case) -> Result<T>) -> Result<T> {
        // Changes from peers applied earlier in this round go to disk first, so that dropping
        // the case after a failed `f` loses nothing but `f`'s own change.
        self.flush()?;
        let case = self
            .case_mut(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        match f(case) {
            Ok(value) => {
                hearth_sync::Replica::commit(self, id)?;
                self.note_request(id);
                self.flush_for(&[id])?;
                Ok(value)
            }
            Err(e) => {
                self.forget(id);
                Err(e)
            }
        }
    }

    fn read<T>(&mut self, id: &str, f: impl FnOnce(&Case) -> Result<T>) -> Result<T> {
        let case = self
            .case_mut(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        f(case)
    }

    fn create(&mut self, cases: &mut dyn Iterator<Item = Result<Case>>) -> Result<Vec<String>> {
        self.insert_all(cases)
    }

    fn summaries(&mut self) -> Result<Vec<CaseSummary>> {
        self.flush()?;
        Ok(self.store().case_summaries()?)
    }

    fn with_identity(&mut self, key: &str) -> Result<Vec<String>> {
        self.flush()?;
        Ok(self.store().cases_with_identity(key)?)
    }

    fn read_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Record) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.record_mut(id)? {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }

    fn update_many<T>(
        &mut self,
        ids: &[&str],
        editor: &Editor,
        f: impl FnOnce(&mut [Document]) -> Result<T>,
    ) -> Result<T> {
        self.flush()?;
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            let taken = match self.take_loaded(id) {
                Ok(Some(d)) => Ok(d),
                Ok(None) if DocId::of(id) != DocId::Case => {
                    Record::create(id, StoreReplica::actor(self), editor)
                        .map(Document::Record)
                        .map_err(OpError::from)
                }
                Ok(None) => Err(StoreError::NotFound((*id).to_owned()).into()),
                Err(e) => Err(e.into()),
            };
            match taken {
                Ok(d) => docs.push(d),
                Err(e) => {
                    for (id, d) in ids.iter().zip(docs) {
                        self.give_back(id, d);
                    }
                    return Err(e);
                }
            }
        }
        let result = f(&mut docs);
        for (id, d) in ids.iter().zip(docs) {
            self.give_back(id, d);
        }
        match result {
            Ok(value) => {
                for id in ids {
                    hearth_sync::Replica::commit(self, id)?;
                }
                if let Some(first) = ids.first() {
                    self.note_request(first);
                }
                self.flush_for(ids)?;
                Ok(value)
            }
            Err(e) => {
                for id in ids {
                    self.forget(id);
                }
                Err(e)
            }
        }
    }

    fn conflicts(&mut self) -> Result<Vec<QueueEntry>> {
        self.flush()?;
        Ok(self.store().conflicts()?)
    }

    fn update_record<T>(
        &mut self,
        id: &str,
        editor: &Editor,
        f: impl FnOnce(&mut Record) -> Result<T>,
    ) -> Result<T> {
        self.flush()?;
        if self.record_mut(id)?.is_none() {
            let record = Record::create(id, StoreReplica::actor(self), editor)?;
            self.add_record(record)?;
        }
        let record = self.record_mut(id)?.ok_or_else(|| not_a_record(id))?;
        match f(record) {
            Ok(value) => {
                hearth_sync::Replica::commit(self, id)?;
                self.note_request(id);
                self.flush_for(&[id])?;
                Ok(value)
            }
            Err(e) => {
                self.forget(id);
                Err(e)
            }
        }
    }

    fn expect_request(&mut self, key: Option<String>) {
        StoreReplica::expect_request(self, key);
    }

    fn answered(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.request(key)?)
    }
}

/// Who asks, and at which node.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The node's config.
    pub config: &'a NodeConfig,
    /// The federation salt, for identity keys.
    pub salt: &'a FederationSalt,
    /// The person making the change.
    pub by: &'a str,
}

impl Ctx<'_> {
    /// Who, where and when, for a change made now.
    pub fn editor(&self) -> Editor {
        let now = jiff::Zoned::now();
        Editor {
            node: self.config.node_id.clone(),
            by: self.by.to_owned(),
            at: now.timestamp(),
            today: now.date(),
        }
    }
}

/// Refuses aid over the policy's caps (in force on the day paid): the one-off cap for one
/// payment, and the yearly cap of its kind for the case.
fn check_caps(policy: &Policy, case: &CaseSummary, aid: &NewAssistance) -> Result<()> {
    if aid.kind == AssistanceKind::OneOff && aid.amount_fen > policy.one_off_cap_fen {
        return Err(OpError::input(format!(
            "a one-off payment of {} is over the cap of {} ({}); split it or ask the level above",
            format_yuan(aid.amount_fen),
            format_yuan(policy.one_off_cap_fen),
            policy.label()
        )));
    }
    if let Some(cap) = policy.yearly_caps_fen.get(&aid.kind) {
        let paid = case
            .aid_by_year
            .get(&aid.date.year())
            .and_then(|k| k.get(&aid.kind))
            .copied()
            .unwrap_or(0);
        if paid + aid.amount_fen > *cap {
            return Err(OpError::input(format!(
                "{} for this case in {} would come to {}, over the yearly cap of {} ({})",
                aid.kind.label(),
                aid.date.year(),
                format_yuan(paid + aid.amount_fen),
                format_yuan(*cap),
                policy.label()
            )));
        }
    }
    Ok(())
}

/// Fills the subsistence line from the policy in force today when a region is given without a
/// line and the policy has one for it.
fn with_policy_line(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    mut fields: hearth_archive::CaseFields,
) -> Result<hearth_archive::CaseFields> {
    if let (Some(region), None) = (&fields.region, fields.subsistence_line_fen) {
        let policy = policy_in_force(cases, ctx.editor().today)?;
        fields.subsistence_line_fen = policy.subsistence_lines_fen.get(region).copied();
    }
    Ok(fields)
}

/// Resolves `prefix` and changes that case with `f`; returns the case as it is afterwards.
fn change<T>(
    cases: &mut impl Cases,
    prefix: &str,
    f: impl FnOnce(&mut Case) -> hearth_archive::error::Result<T>,
) -> Result<CaseView> {
    let id = cases.resolve(prefix)?;
    cases.update(&id, |c| {
        f(c)?;
        Ok(c.view()?)
    })
}

/// A new random nonce for a case id bound to its home ([`hearth_archive::BoundId`]).
pub fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// A new random record id inside a case: 8 hex digits.
fn new_record_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// A change to one case (or a new case), as typed. Case ids may be unique prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Write {
    /// Open a case; needs at least the name.
    NewCase { form: CaseForm },
    /// Change fields of a case.
    EditCase { case: String, form: CaseForm },
    /// Put a case on file (from draft through under_review) and report it to the parent.
    FileCase { case: String, via: Option<String> },
    /// Move a case to another status.
    Transition {
        case: String,
        to: String,
        reason: String,
    },
    /// Override the derived grade (`set`, with a reason) or clear the override (`set: None`).
    Grade {
        case: String,
        set: Option<String>,
        reason: Option<String>,
    },
    /// Send a case up to a higher level, through a parent.
    Escalate {
        case: String,
        to_level: String,
        reason: String,
        via: Option<String>,
    },
    /// Add a household member.
    AddMember {
        case: String,
        relation: String,
        age: Option<String>,
        health: Option<String>,
        occupation: Option<String>,
    },
    /// Record an assistance payment.
    AddAssistance {
        case: String,
        kind: String,
        amount: String,
        date: String,
        paying_node: Option<String>,
        approving_node: Option<String>,
        note: Option<String>,
    },
    /// Record a loan.
    AddLoan {
        case: String,
        amount: String,
        date: String,
        due: String,
        note: Option<String>,
    },
    /// Record a repayment (on the only open loan when `loan` is `None`).
    RepayLoan {
        case: String,
        loan: Option<String>,
        amount: String,
        date: String,
        note: Option<String>,
    },
    /// Record a visit.
    AddVisit {
        case: String,
        date: String,
        kind: String,
        visitor: Option<String>,
        notes: Option<String>,
        consent: bool,
    },
    /// Record the household's income for a month (`YYYY-MM`).
    MonthlyIncome {
        case: String,
        month: String,
        amount: String,
    },
    /// Decide on a reported case here: approve, return (with the reason) or reject.
    Decide {
        case: String,
        decision: String,
        note: String,
    },
    /// Record an annual review.
    AddReview {
        case: String,
        date: String,
        result: String,
        reviewer: Option<String>,
        notes: Option<String>,
    },
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The case afterwards.
    pub case: CaseView,
    /// The record added (member, aid, loan, repayment, visit, review).
    pub record: Option<String>,
    /// The loan repaid, for a repayment.
    pub loan: Option<String>,
    /// The parent the case was reported to by this write.
    pub reported_to: Option<String>,
    /// The write's request key had been used already: nothing was written again, and `case` is
    /// the case as it is now (see [`write_keyed`]).
    pub repeated: bool,
}

/// The parent a case is reported to: `via` if given (it must be a parent), else the only
/// parent; `None` at a node with no parent.
pub fn parent_for(config: &NodeConfig, via: Option<&str>) -> Result<Option<String>> {
    let parents: Vec<&str> = config.parents().map(|p| p.id.as_str()).collect();
    match (via, parents.as_slice()) {
        (Some(v), _) if parents.contains(&v) => Ok(Some(v.to_owned())),
        (Some(v), []) => Err(OpError::input(format!(
            "--via {v}: this node has no parent"
        ))),
        (Some(v), _) => Err(OpError::input(format!(
            "--via {v} is not a parent of this node; its parents are {}",
            parents.join(", ")
        ))),
        (None, []) => Ok(None),
        (None, [one]) => Ok(Some((*one).to_owned())),
        (None, many) => Err(OpError::input(format!(
            "this node has several parents ({}); say which with --via ID",
            many.join(", ")
        ))),
    }
}

/// Refuses a second file for a household already on file here.
fn check_one_file(
    cases: &mut impl Cases,
    key: Option<&str>,
    this_case: Option<&str>,
) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    let existing = cases
        .with_identity(key)?
        .into_iter()
        .find(|id| Some(id.as_str()) != this_case);
    match existing {
        None => Ok(()),
        Some(existing) => Err(OpError::input(format!(
            "a case for this ID number already exists: {existing} (one household, one file); see `hearth case show {existing}`"
        ))),
    }
}

fn parse_opt<T: std::str::FromStr<Err = ArchiveError>>(text: Option<&str>) -> Result<Option<T>> {
    Ok(text.map(str::parse).transpose()?)
}

/// The case whose id starts with `prefix`, as it is now.
pub fn get(cases: &mut impl Cases, prefix: &str) -> Result<CaseView> {
    let id = cases.resolve(prefix)?;
    cases.read(&id, |case| Ok(case.view()?))
}

/// Filters for [`list`]; each given value must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// A status code.
    pub status: Option<String>,
    /// A grade code.
    pub grade: Option<String>,
    /// A cause code (primary or secondary).
    pub cause: Option<String>,
}

/// The cases held, oldest first, from the listing index (no document is loaded).
pub fn list(cases: &mut impl Cases, filter: &ListFilter) -> Result<Vec<CaseSummary>> {
    let status: Option<Status> = parse_opt(filter.status.as_deref())?;
    let grade: Option<Grade> = parse_opt(filter.grade.as_deref())?;
    let cause: Option<Cause> = parse_opt(filter.cause.as_deref())?;
    let mut found: Vec<CaseSummary> = cases
        .summaries()?
        .into_iter()
        .filter(|c| status.is_none_or(|s| c.status == s))
        .filter(|c| grade.is_none_or(|g| c.grade == Some(g)))
        .filter(|c| cause.is_none_or(|k| c.has_cause(k)))
        .collect();
    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(found)
}

/// Carries out one write.
pub fn write(cases: &mut impl Cases, ctx: &Ctx<'_>, write: Write) -> Result<Written> {
    write_with(cases, ctx, RecordIds::new(None), write)
}

/// Ids of the records a write adds: random, or — for a write under a request key — derived
/// from the key, so that the answer to a repeated write names the record the first one added.
struct RecordIds<'k> {
    key: Option<&'k str>,
    made: u32,
}

impl<'k> RecordIds<'k> {
    fn new(key: Option<&'k str>) -> RecordIds<'k> {
        RecordIds { key, made: 0 }
    }

    /// The next id: 8 hex digits.
    fn next(&mut self) -> String {
        use sha2::{Digest, Sha256};
        let Some(key) = self.key else {
            return new_record_id();
        };
        let mut hash = Sha256::new();
        hash.update(b"hearth/record-id/v1\0");
        hash.update(key.as_bytes());
        hash.update(self.made.to_be_bytes());
        self.made += 1;
        hash.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn write_with(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    mut ids: RecordIds<'_>,
    write: Write,
) -> Result<Written> {
    let editor = ctx.editor();
    let mut record = None;
    let mut loan_repaid = None;
    let mut reported_to = None;
    let view = match write {
        Write::NewCase { form } => {
            if form.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(OpError::input(
                    "a new case needs at least the worker's --name",
                ));
            }
            let fields = with_policy_line(cases, ctx, form.parse(ctx.salt)?)?;
            fields.validate()?;
            check_one_file(
                cases,
                fields.identity_key.as_ref().map(|k| k.as_str()),
                None,
            )?;
            let bound = hearth_archive::BoundId::new(&ctx.config.node_id, &new_nonce());
            let id = bound.id();
            let case = Case::create(&bound, cases.actor(), &editor, &fields)?;
            cases.create(&mut std::iter::once(Ok(case)))?;
            cases.read(&id, |c| Ok(c.view()?))?
        }
        Write::EditCase { case, form } => {
            let fields = with_policy_line(cases, ctx, form.parse(ctx.salt)?)?;
            let id = cases.resolve(&case)?;
            check_one_file(
                cases,
                fields.identity_key.as_ref().map(|k| k.as_str()),
                Some(&id),
            )?;
            cases.update(&id, |c| {
                c.edit(&editor, &fields)?;
                Ok(c.view()?)
            })?
        }
        Write::FileCase { case, via } => {
            let parent = parent_for(ctx.config, via.as_deref())?;
            let id = cases.resolve(&case)?;
            let (view, reported) = cases.update(&id, |c| {
                c.file(&editor)?;
                let mut reported = None;
                if let Some(parent) = parent
                    && !c.participants()?.contains(&parent)
                {
                    c.report_to(&editor, &parent, "filed: reported to the parent union")?;
                    reported = Some(parent);
                }
                Ok((c.view()?, reported))
            })?;
            reported_to = reported;
            view
        }
        Write::Transition { case, to, reason } => {
            let to: Status = to.parse()?;
            change(cases, &case, |c| c.transition(&editor, to, &reason))?
        }
        Write::Grade { case, set, reason } => {
            let grade: Option<Grade> = parse_opt(set.as_deref())?;
            let reason = reason.unwrap_or_default();
            change(cases, &case, |c| {
                c.override_grade(&editor, grade.map(|g| (g, reason.as_str())))
            })?
        }
        Write::Escalate {
            case,
            to_level,
            reason,
            via,
        } => {
            let level: Level = to_level.parse()?;
            if level <= ctx.config.level {
                return Err(OpError::input(format!(
                    "this node is already at level {}; escalate to a higher level",
                    ctx.config.level.label()
                )));
            }
            let parent = parent_for(ctx.config, via.as_deref())?.ok_or_else(|| {
                OpError::input(
                    "this node has no parent to report to; add one with `hearth peer add`",
                )
            })?;
            let id = cases.resolve(&case)?;
            let (view, reported) = cases.update(&id, |c| {
                c.set_escalation_target(&editor, level, &reason)?;
                let mut reported = None;
                if !c.participants()?.contains(&parent) {
                    c.report_to(&editor, &parent, &reason)?;
                    reported = Some(parent);
                }
                Ok((c.view()?, reported))
            })?;
            reported_to = reported;
            view
        }
        Write::AddMember {
            case,
            relation,
            age,
            health,
            occupation,
        } => {
            let member = NewMember {
                id: ids.next(),
                relation,
                age: age.as_deref().map(|a| parse_number("age", a)).transpose()?,
                health,
                occupation,
            };
            record = Some(member.id.clone());
            change(cases, &case, |c| c.add_member(&editor, &member))?
        }
        Write::AddAssistance {
            case,
            kind,
            amount,
            date,
            paying_node,
            approving_node,
            note,
        } => {
            let here = ctx.config.node_id.clone();
            let paying_node = paying_node.filter(|p| !p.trim().is_empty());
            let paid_here = paying_node.as_deref().is_none_or(|p| p == here);
            let aid = NewAssistance {
                id: ids.next(),
                kind: kind.parse::<AssistanceKind>()?,
                amount_fen: parse_positive_yuan("amount", &amount)?,
                date: parse_date("date", &date)?,
                paying_node: Some(paying_node.unwrap_or_else(|| here.clone())),
                approving_node,
                note,
            };
            record = Some(aid.id.clone());
            let id = cases.resolve(&case)?;
            let policy = policy_in_force(cases, aid.date)?;
            let before = cases.read(&id, |c| Ok(c.summary()?))?;
            check_caps(&policy, &before, &aid)?;
            if paid_here {
                // Paid by this node: the aid and the disbursement from its fund are one write.
                let entry = Entry::Disbursement {
                    date: aid.date,
                    amount_fen: aid.amount_fen,
                    kind: aid.kind,
                    case: id.clone(),
                    assistance: aid.id.clone(),
                    stamp: stamp(&editor),
                };
                let ledger = ledger_id(&here);
                cases.update_many(&[&id, &ledger], &editor, |docs| {
                    let [Document::Case(c), Document::Record(ledger)] = docs else {
                        return Err(not_a_record(&ledger));
                    };
                    c.add_assistance(&editor, &aid)?;
                    let balance = LedgerView::of(&here, aid.date.year(), ledger.entries()?)
                        .balance_fen;
                    if balance < aid.amount_fen {
                        return Err(OpError::input(format!(
                            "the fund of {here} holds {}, less than {}; record income first (`hearth fund income`) or name the node that pays (--paying-node)",
                            format_yuan(balance),
                            format_yuan(aid.amount_fen)
                        )));
                    }
                    ledger.put_entry(&editor, &ids.next(), &entry)?;
                    Ok(c.view()?)
                })?
            } else {
                cases.update(&id, |c| {
                    c.add_assistance(&editor, &aid)?;
                    Ok(c.view()?)
                })?
            }
        }
        Write::AddLoan {
            case,
            amount,
            date,
            due,
            note,
        } => {
            let loan = NewLoan {
                id: ids.next(),
                principal_fen: parse_positive_yuan("principal", &amount)?,
                date: parse_date("date", &date)?,
                due_date: parse_date("due", &due)?,
                note,
            };
            record = Some(loan.id.clone());
            change(cases, &case, |c| c.add_loan(&editor, &loan))?
        }
        Write::RepayLoan {
            case,
            loan,
            amount,
            date,
            note,
        } => {
            let repayment = NewRepayment {
                id: ids.next(),
                amount_fen: parse_positive_yuan("amount", &amount)?,
                date: parse_date("date", &date)?,
                note,
            };
            record = Some(repayment.id.clone());
            let id = cases.resolve(&case)?;
            let (view, loan_id) = cases.update(&id, |c| {
                let loan_id = c.repay_loan(&editor, loan.as_deref(), &repayment)?;
                Ok((c.view()?, loan_id))
            })?;
            loan_repaid = Some(loan_id);
            view
        }
        Write::MonthlyIncome {
            case,
            month,
            amount,
        } => {
            let amount = hearth_archive::money::parse_yuan("income", &amount)?;
            change(cases, &case, |c| {
                c.record_monthly_income(&editor, &month, amount)
            })?
        }
        Write::Decide {
            case,
            decision,
            note,
        } => {
            let decision: Decision = decision.parse()?;
            change(cases, &case, |c| c.decide(&editor, decision, &note))?
        }
        Write::AddVisit {
            case,
            date,
            kind,
            visitor,
            notes,
            consent,
        } => {
            let visit = NewVisit {
                id: ids.next(),
                date: parse_date("date", &date)?,
                kind: kind.parse::<VisitKind>()?,
                visitor,
                notes,
                consent,
            };
            record = Some(visit.id.clone());
            change(cases, &case, |c| c.add_visit(&editor, &visit))?
        }
        Write::AddReview {
            case,
            date,
            result,
            reviewer,
            notes,
        } => {
            let review = NewReview {
                id: ids.next(),
                date: parse_date("date", &date)?,
                result: result.parse::<ReviewResult>()?,
                reviewer,
                notes,
            };
            record = Some(review.id.clone());
            change(cases, &case, |c| c.add_review(&editor, &review))?
        }
    };
    Ok(Written {
        case: view,
        record,
        loan: loan_repaid,
        reported_to,
        repeated: false,
    })
}

/// Longest request key taken.
pub const MAX_REQUEST_KEY: usize = 64;

fn check_request_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > MAX_REQUEST_KEY
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(OpError::input(format!(
            "a request key is 1 to {MAX_REQUEST_KEY} letters, digits or '-'"
        )));
    }
    Ok(())
}

/// Carries out one write once per request key: a write whose key `key` was used already (the
/// first one committed, its answer perhaps lost with a broken connection) writes nothing and
/// answers with the case as it is now. The key is recorded in the write's own transaction, so
/// there is no moment at which the write is made and its key not.
pub fn write_keyed(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    key: Option<&str>,
    w: Write,
) -> Result<Written> {
    let Some(key) = key else {
        return write(cases, ctx, w);
    };
    check_request_key(key)?;
    if let Some(doc) = cases.answered(key)? {
        let case = cases.read(&doc, |c| Ok(c.view()?))?;
        // The record the first write added has the first id derived from the key.
        let adds = matches!(
            w,
            Write::AddMember { .. }
                | Write::AddAssistance { .. }
                | Write::AddLoan { .. }
                | Write::RepayLoan { .. }
                | Write::AddVisit { .. }
                | Write::AddReview { .. }
        );
        let record = adds.then(|| RecordIds::new(Some(key)).next());
        let loan = match (&w, &record) {
            (Write::RepayLoan { .. }, Some(r)) => case
                .loans
                .iter()
                .find(|l| l.repayments.iter().any(|p| &p.id == r))
                .map(|l| l.id.clone()),
            _ => None,
        };
        return Ok(Written {
            case,
            record,
            loan,
            reported_to: None,
            repeated: true,
        });
    }
    cases.expect_request(Some(key.to_owned()));
    let written = write_with(cases, ctx, RecordIds::new(Some(key)), w);
    // A write refused before its commit leaves the key unused.
    cases.expect_request(None);
    written
}

/// One case of an import file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRow {
    /// Line in the file, for messages.
    pub line: u64,
    /// The case's fields.
    pub form: CaseForm,
    /// `draft` (the default), `under_review` or `filed`.
    pub status: Option<String>,
    /// Why the line could not be read into a row at all (e.g. a CSV line with too many fields);
    /// it is reported with the other bad lines, so one report names every problem.
    pub unreadable: Option<String>,
}

/// At most this many bad lines of an import are listed one by one.
pub const MAX_LISTED: usize = 50;

struct Prepared {
    fields: hearth_archive::CaseFields,
    status: Status,
}

fn prepare(
    cases: &mut impl Cases,
    salt: &FederationSalt,
    row: &ImportRow,
    seen: &mut HashMap<String, u64>,
) -> Result<Prepared> {
    if let Some(problem) = &row.unreadable {
        return Err(OpError::input(problem.clone()));
    }
    let f = &row.form;
    let required = [
        ("name", &f.name),
        ("id_number", &f.id_number),
        ("household_size", &f.household_size),
        ("annual_income", &f.annual_income),
        ("rigid_spending", &f.rigid_spending),
        ("subsistence_line", &f.subsistence_line),
        ("primary_cause", &f.primary_cause),
    ];
    let empty: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(name, _)| *name)
        .collect();
    if !empty.is_empty() {
        return Err(OpError::input(format!(
            "{} must not be empty",
            empty.join(", ")
        )));
    }
    let fields = f.parse(salt)?;
    fields.validate()?;
    let status = match parse_opt::<Status>(row.status.as_deref())? {
        None => Status::Draft,
        Some(st @ (Status::Draft | Status::UnderReview | Status::Filed)) => st,
        Some(other) => {
            return Err(OpError::input(format!(
                "status {other} cannot be imported; use draft, under_review or filed"
            )));
        }
    };
    if let Some(key) = &fields.identity_key {
        if let Some(first) = seen.insert(key.as_str().to_owned(), row.line) {
            return Err(OpError::input(format!(
                "same ID number as line {first} (one household, one file)"
            )));
        }
        if let Some(existing) = cases.with_identity(key.as_str())?.first() {
            return Err(OpError::input(format!(
                "a case for this ID number already exists here: {existing} (one household, one file)"
            )));
        }
    }
    Ok(Prepared { fields, status })
}

/// Imports cases: every row is checked before anything is written, then all are written in one
/// transaction, so an import happens completely or not at all. The documents are built on every
/// core and flow to the writer through a bounded channel, so memory stays flat however many rows
/// there are. `progress` is told of each case written. Returns the new ids in row order.
pub fn import(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    rows: &[ImportRow],
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<String>> {
    let mut prepared = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    let mut seen = HashMap::new();
    let mut bad = 0usize;
    for row in rows {
        match prepare(cases, ctx.salt, row, &mut seen) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                bad += 1;
                if problems.len() < MAX_LISTED {
                    problems.push(format!("line {}: {e}", row.line));
                }
            }
        }
    }
    if bad > 0 {
        if bad > MAX_LISTED {
            problems.push(format!("… and {} more bad lines", bad - MAX_LISTED));
        }
        return Err(OpError::Import {
            problems,
            summary: format!(
                "import refused: {bad} of {} lines are bad; nothing was imported",
                rows.len()
            ),
        });
    }
    if prepared.is_empty() {
        return Err(OpError::input("there are no cases to import"));
    }
    // Filed cases are reported to the parent union, as `case file` does.
    let parent = if prepared.iter().any(|p| p.status == Status::Filed) {
        parent_for(ctx.config, None)?
    } else {
        None
    };
    let editor = ctx.editor();
    let actor = cases.actor();
    let home = ctx.config.node_id.as_str();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = mpsc::sync_channel::<Result<Case>>(256);
    let ids = std::thread::scope(|scope| {
        for worker in 0..workers {
            let tx = tx.clone();
            let (editor, actor, prepared, parent) = (&editor, &actor, &prepared, &parent);
            scope.spawn(move || {
                for p in prepared.iter().skip(worker).step_by(workers) {
                    let case = build(home, actor, editor, p, parent.as_deref());
                    let failed = case.is_err();
                    if tx.send(case).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // A builder that stopped early sent its error; should the count still fall short, the
        // last item is an error, so nothing is committed.
        let count = std::cell::Cell::new(0usize);
        let mut built = rx
            .iter()
            .inspect(|_| {
                count.set(count.get() + 1);
                progress();
            })
            .chain(
                std::iter::from_fn(|| {
                    (count.get() < prepared.len()).then(|| {
                        Err(OpError::Replica(ReplicaError(format!(
                            "import stopped after {} of {} cases; nothing was imported",
                            count.get(),
                            prepared.len()
                        ))))
                    })
                })
                .take(1),
            );
        cases.create(&mut built)
    })?;
    Ok(ids)
}

/// One imported case, with its status; a filed case is reported to `parent`.
fn build(
    home: &str,
    actor: &ActorId,
    editor: &Editor,
    p: &Prepared,
    parent: Option<&str>,
) -> Result<Case> {
    let bound = hearth_archive::BoundId::new(home, &new_nonce());
    let mut case = Case::create(&bound, actor.clone(), editor, &p.fields)?;
    match p.status {
        Status::Filed => {
            case.file(editor)?;
            if let Some(parent) = parent {
                case.report_to(editor, parent, "filed: reported to the parent union")?;
            }
        }
        Status::UnderReview => case.transition(editor, Status::UnderReview, "imported")?,
        _ => {}
    }
    Ok(case)
}

/// Every version of the federation policy this node holds, oldest first.
pub fn policy_versions(cases: &mut impl Cases) -> Result<Vec<Policy>> {
    Ok(cases
        .read_record(POLICY_ID, |r| Ok(r.entries::<Policy>()?))?
        .unwrap_or_default()
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

/// The policy version in force on `date`.
pub fn policy_in_force(cases: &mut impl Cases, date: jiff::civil::Date) -> Result<Policy> {
    Ok(Policy::in_force(&policy_versions(cases)?, date))
}

/// Reads a policy version as an operator writes it (TOML).
pub fn parse_policy_file(text: &str) -> Result<hearth_archive::policy::PolicyFile> {
    toml::from_str(text).map_err(|e| {
        OpError::input(format!(
            "the policy file cannot be read: {}",
            e.message().trim_end_matches('\n')
        ))
    })
}

/// Sets a new policy version from `file` (only at a node with no parent: the policy is written
/// at the top and flows down). Returns it.
pub fn set_policy(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    file: &hearth_archive::policy::PolicyFile,
) -> Result<Policy> {
    if let Some(parent) = ctx.config.parents().next() {
        return Err(OpError::input(format!(
            "the policy is set at the top of the federation; this node reports to {}, set it there",
            parent.id
        )));
    }
    let editor = ctx.editor();
    let versions = policy_versions(cases)?;
    let version = versions.iter().map(|p| p.version).max().unwrap_or(0) + 1;
    let effective = file.effective_from.unwrap_or(editor.today);
    let base = Policy::in_force(&versions, effective);
    let mut policy = file.to_policy(&base, version, editor.today)?;
    policy.set_by = editor.by.clone();
    policy.set_node = editor.node.clone();
    cases.update_record(POLICY_ID, &editor, |r| {
        r.put(&editor, &format!("v{version:06}"), &policy)?;
        Ok(())
    })?;
    Ok(policy)
}

/// Where the policy sends a case, and whether someone here must act.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advice {
    /// Which policy version said so.
    pub policy: String,
    /// Every rule that applies, highest level first.
    pub requirements: Vec<hearth_archive::policy::Requirement>,
    /// The level the case must reach, if any rule applies.
    pub must_reach: Option<Level>,
    /// Whether it must still be escalated: no escalation target reaches that level yet.
    pub pending: bool,
}

/// What `policy` says of a case (from its listing summary).
pub fn advise(policy: &Policy, case: &CaseSummary, here: Level) -> Advice {
    let requirements = hearth_archive::policy::requirements(
        policy,
        &hearth_archive::policy::EscalationInputs::of_summary(case),
    );
    let must_reach = requirements.first().map(|r| r.level);
    let reached = case.target_level.unwrap_or(here).max(here);
    let open = matches!(
        case.status,
        Status::Draft | Status::UnderReview | Status::Filed | Status::Relapsed | Status::Returned
    );
    Advice {
        policy: policy.label(),
        pending: open && must_reach.is_some_and(|l| l > reached),
        must_reach,
        requirements,
    }
}

/// The advice for one case, by the policy in force today.
pub fn advice_for(cases: &mut impl Cases, ctx: &Ctx<'_>, view: &CaseView) -> Result<Advice> {
    let policy = policy_in_force(cases, ctx.editor().today)?;
    Ok(advise(&policy, &CaseSummary::of(view), ctx.config.level))
}

/// Cases held here that the policy sends higher than anyone has escalated them, with why.
pub fn pending(cases: &mut impl Cases, ctx: &Ctx<'_>) -> Result<Vec<(CaseSummary, Advice)>> {
    let policy = policy_in_force(cases, ctx.editor().today)?;
    Ok(list(cases, &ListFilter::default())?
        .into_iter()
        .map(|c| {
            let advice = advise(&policy, &c, ctx.config.level);
            (c, advice)
        })
        .filter(|(_, a)| a.pending)
        .collect())
}

/// This node's summary as of now, for the node in `ctx`.
pub fn stats(cases: &mut impl Cases, ctx: &Ctx<'_>) -> Result<NodeSummary> {
    let children: Vec<String> = ctx
        .config
        .peers
        .iter()
        .filter(|p| p.relation == crate::Relation::Child)
        .map(|p| p.id.clone())
        .collect();
    current_summary(
        cases,
        &ctx.config.node_id,
        ctx.config.level,
        &children,
        &jiff::Zoned::now(),
    )
}

/// This node's summary as of now: its own cases (from the listing index) and its children's
/// summaries as last received.
pub fn current_summary(
    cases: &mut impl Cases,
    node: &str,
    level: Level,
    children: &[String],
    now: &jiff::Zoned,
) -> Result<NodeSummary> {
    let year = now.date().year();
    let all = cases.summaries()?;
    let own = Totals::of(all.iter().filter(|c| c.home == node), year);
    let mut received = std::collections::BTreeMap::new();
    let mut conflicts: Vec<ConflictBrief> = cases
        .conflicts()?
        .into_iter()
        .filter(|c| c.is_open() && c.route.as_deref() == Some(node))
        .map(|c| ConflictBrief {
            id: c.id,
            case: c.case,
            field: c.field,
            route: c.route,
        })
        .collect();
    for child in children {
        // A child's summary that cannot be read or whose figures cannot be true (a store
        // written before summaries were checked on receipt) counts as none: the node's own
        // figures and the other children's still add up.
        let summary = cases
            .read_record(&summary_id(child), |r| {
                Ok(r.get::<NodeSummary>(SUMMARY_ENTRY)?)
            })
            .map(Option::flatten)
            .and_then(|s| match s.map(|s| s.check(child).map(|()| s)) {
                Some(Err(why)) => Err(OpError::Input(why)),
                Some(Ok(s)) => Ok(Some(s)),
                None => Ok(None),
            });
        match summary {
            Ok(Some(s)) if s.year == year => {
                received.insert(child.clone(), s.total);
                conflicts.extend(s.conflicts);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(child = %child, error = %e, "a child's summary is left out: it cannot be read")
            }
        }
    }
    conflicts.sort();
    conflicts.dedup();
    let mut summary = NodeSummary::new(node, level, year, now.timestamp(), own, received);
    summary.conflicts = conflicts;
    Ok(summary)
}

/// Computes this node's summary and, if its figures changed, writes it to the summary record
/// (which flows to the parents). Returns whether it was written.
pub fn refresh_summary(
    cases: &mut impl Cases,
    node: &str,
    level: Level,
    children: &[String],
) -> Result<bool> {
    let now = jiff::Zoned::now();
    let summary = current_summary(cases, node, level, children, &now)?;
    let id = summary_id(node);
    let stored = cases
        .read_record(&id, |r| Ok(r.get::<NodeSummary>(SUMMARY_ENTRY)?))?
        .flatten();
    if stored.is_some_and(|s| s.same_figures(&summary)) {
        return Ok(false);
    }
    let editor = Editor {
        node: node.to_owned(),
        by: "hearth (summary)".into(),
        at: now.timestamp(),
        today: now.date(),
    };
    cases.update_record(&id, &editor, |r| {
        r.put(&editor, SUMMARY_ENTRY, &summary)?;
        Ok(())
    })?;
    Ok(true)
}

fn stamp(editor: &Editor) -> Stamp {
    Stamp {
        by: editor.by.clone(),
        node: editor.node.clone(),
        at: editor.at,
    }
}

/// `node`'s fund ledger for `year` (empty if this node holds none).
pub fn ledger_view(cases: &mut impl Cases, node: &str, year: i16) -> Result<LedgerView> {
    let entries = cases
        .read_record(&ledger_id(node), |r| Ok(r.entries::<Entry>()?))?
        .unwrap_or_default();
    Ok(LedgerView::of(node, year, entries))
}

/// A change to a fund, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FundWrite {
    /// Money received.
    Income {
        source: String,
        amount: String,
        date: String,
        note: Option<String>,
    },
    /// The budget planned for a year.
    Budget { year: String, amount: String },
    /// A grant paid from this node's fund to a child's.
    Grant {
        to: String,
        amount: String,
        date: String,
        note: Option<String>,
    },
}

/// `node`'s ledger, readable here if it is this node's or a child's (held for audit).
pub fn fund_show(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    node: Option<&str>,
    year: Option<&str>,
) -> Result<LedgerView> {
    let here = ctx.config.node_id.as_str();
    let node = node.unwrap_or(here);
    if node != here
        && !ctx
            .config
            .peers
            .iter()
            .any(|p| p.id == node && p.relation == crate::Relation::Child)
    {
        return Err(OpError::input(format!(
            "{node} is not a child of {here}: a node holds only its own ledger and its children's"
        )));
    }
    let year = match year {
        Some(y) => hearth_archive::form::parse_year("year", y)?,
        None => ctx.editor().today.year(),
    };
    ledger_view(cases, node, year)
}

/// Writes to this node's fund (and, for a grant, the child's). Returns this node's ledger for
/// the year of the entry.
pub fn fund_write(cases: &mut impl Cases, ctx: &Ctx<'_>, w: FundWrite) -> Result<LedgerView> {
    fund_write_with(cases, ctx, RecordIds::new(None), w)
}

/// [`fund_write`] once per request key (see [`write_keyed`]): a repeated key writes nothing and
/// answers with the ledger of the write's year as it is now; the flag says it was repeated.
pub fn fund_write_keyed(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    key: Option<&str>,
    w: FundWrite,
) -> Result<(LedgerView, bool)> {
    let Some(key) = key else {
        return Ok((fund_write(cases, ctx, w)?, false));
    };
    check_request_key(key)?;
    if cases.answered(key)?.is_some() {
        let year = match &w {
            FundWrite::Income { date, .. } | FundWrite::Grant { date, .. } => {
                parse_date("date", date)?.year()
            }
            FundWrite::Budget { year, .. } => hearth_archive::form::parse_year("year", year)?,
        };
        return Ok((ledger_view(cases, &ctx.config.node_id, year)?, true));
    }
    cases.expect_request(Some(key.to_owned()));
    let written = fund_write_with(cases, ctx, RecordIds::new(Some(key)), w);
    cases.expect_request(None);
    Ok((written?, false))
}

fn fund_write_with(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    mut ids: RecordIds<'_>,
    w: FundWrite,
) -> Result<LedgerView> {
    let editor = ctx.editor();
    let here = ctx.config.node_id.clone();
    let own = ledger_id(&here);
    let year = match w {
        FundWrite::Income {
            source,
            amount,
            date,
            note,
        } => {
            let date = parse_date("date", &date)?;
            hearth_archive::case::not_future("date", date, &editor)?;
            let entry = Entry::Income {
                date,
                source: source.parse()?,
                amount_fen: parse_positive_yuan("amount", &amount)?,
                from_node: None,
                note,
                stamp: stamp(&editor),
            };
            cases.update_record(&own, &editor, |r| {
                Ok(r.put_entry(&editor, &ids.next(), &entry)?)
            })?;
            date.year()
        }
        FundWrite::Budget { year, amount } => {
            let year = hearth_archive::form::parse_year("year", &year)?;
            let entry = Entry::Budget {
                year,
                amount_fen: parse_positive_yuan("budget", &amount)?,
                stamp: stamp(&editor),
            };
            cases.update_record(&own, &editor, |r| {
                Ok(r.put_entry(&editor, &format!("budget-{year}"), &entry)?)
            })?;
            year
        }
        FundWrite::Grant {
            to,
            amount,
            date,
            note,
        } => {
            if !ctx
                .config
                .peers
                .iter()
                .any(|p| p.id == to && p.relation == crate::Relation::Child)
            {
                return Err(OpError::input(format!(
                    "{to} is not a child of {here}; grants go to children (`hearth peer list`)"
                )));
            }
            let date = parse_date("date", &date)?;
            hearth_archive::case::not_future("date", date, &editor)?;
            let amount_fen = parse_positive_yuan("amount", &amount)?;
            let balance = ledger_view(cases, &here, date.year())?.balance_fen;
            if balance < amount_fen {
                return Err(OpError::input(format!(
                    "the fund of {here} holds {}, less than the grant of {}",
                    format_yuan(balance),
                    format_yuan(amount_fen)
                )));
            }
            let id = ids.next();
            let out = Entry::GrantOut {
                date,
                to_node: to.clone(),
                amount_fen,
                note: note.clone(),
                stamp: stamp(&editor),
            };
            let income = Entry::Income {
                date,
                source: hearth_archive::IncomeSource::Grant,
                amount_fen,
                from_node: Some(here.clone()),
                note,
                stamp: stamp(&editor),
            };
            // Both ledgers in one transaction: a grant is paid out and arrives, or neither.
            let theirs = ledger_id(&to);
            cases.update_many(&[&own, &theirs], &editor, |docs| {
                let [Document::Record(mine), Document::Record(theirs)] = docs else {
                    return Err(not_a_record(&theirs));
                };
                mine.put_entry(&editor, &id, &out)?;
                theirs.put_entry(&editor, &id, &income)?;
                Ok(())
            })?;
            date.year()
        }
    };
    ledger_view(cases, &here, year)
}

/// One row of a public disclosure of aid paid: no ID number, address or phone, the name masked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DisclosedPayment {
    /// Day paid.
    pub date: jiff::civil::Date,
    /// Kind of aid.
    pub kind: AssistanceKind,
    /// The recipient's name, masked (张*燕).
    pub recipient: String,
    /// Amount.
    pub amount_fen: i64,
}

/// What a node discloses (公示) for a year: its fund's income and grants, and the aid it paid
/// with masked names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disclosure {
    /// The ledger for the year (its entries are not disclosed as such).
    pub ledger: LedgerView,
    /// Income: (date, source, from node, amount).
    pub income: Vec<(
        jiff::civil::Date,
        hearth_archive::IncomeSource,
        Option<String>,
        i64,
    )>,
    /// Grants paid to children: (date, child, amount).
    pub grants: Vec<(jiff::civil::Date, String, i64)>,
    /// Aid paid.
    pub payments: Vec<DisclosedPayment>,
}

/// This node's disclosure for `year`.
pub fn disclosure(cases: &mut impl Cases, ctx: &Ctx<'_>, year: &str) -> Result<Disclosure> {
    let year = hearth_archive::form::parse_year("year", year)?;
    let ledger = ledger_view(cases, &ctx.config.node_id, year)?;
    let names: std::collections::HashMap<String, Option<String>> = cases
        .summaries()?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut d = Disclosure {
        income: Vec::new(),
        grants: Vec::new(),
        payments: Vec::new(),
        ledger: ledger.clone(),
    };
    for (_, e) in &ledger.entries {
        match e {
            Entry::Income {
                date,
                source,
                amount_fen,
                from_node,
                ..
            } => d
                .income
                .push((*date, *source, from_node.clone(), *amount_fen)),
            Entry::GrantOut {
                date,
                to_node,
                amount_fen,
                ..
            } => d.grants.push((*date, to_node.clone(), *amount_fen)),
            Entry::Disbursement {
                date,
                amount_fen,
                kind,
                case,
                ..
            } => d.payments.push(DisclosedPayment {
                date: *date,
                kind: *kind,
                recipient: names
                    .get(case)
                    .cloned()
                    .flatten()
                    .map(|n| mask_name(&n))
                    .unwrap_or_else(|| "*".into()),
                amount_fen: *amount_fen,
            }),
            Entry::Budget { .. } => {}
        }
    }
    d.ledger.entries.clear();
    Ok(d)
}

/// A case that needs attention, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DueCase {
    /// Case id.
    pub id: String,
    /// Worker's name (local display).
    pub name: Option<String>,
    /// Status.
    pub status: Status,
    /// What is due, e.g. "last annual review 2025-03-02".
    pub detail: String,
}

/// Dynamic management (动态管理): what the cases held here need.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Due {
    /// Filed cases with no annual review in the last 12 months.
    pub review_due: Vec<DueCase>,
    /// Filed cases whose income per person was above the subsistence line six months in a row.
    pub lift_eligible: Vec<DueCase>,
    /// Loans past their due date with money outstanding.
    pub loans_overdue: Vec<DueCase>,
}

/// What is due today among the cases held here (from the listing index).
pub fn due(cases: &mut impl Cases, ctx: &Ctx<'_>) -> Result<Due> {
    let today = ctx.editor().today;
    let year_ago = today
        .checked_sub(jiff::Span::new().years(1))
        .map_err(|e| OpError::input(e.to_string()))?;
    let mut due = Due::default();
    for c in list(cases, &ListFilter::default())? {
        let row = |detail: String| DueCase {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            detail,
        };
        if c.status == Status::Filed {
            let since = c.last_review.or(c.entered.get(&Status::Filed).copied());
            if since.is_none_or(|d| d <= year_ago) {
                due.review_due.push(row(match (c.last_review, since) {
                    (Some(r), _) => format!("last annual review {r}"),
                    (None, Some(f)) => format!("filed {f}, never reviewed"),
                    (None, None) => "never reviewed".to_owned(),
                }));
            }
            if let Some((months, last)) = &c.above_line
                && *months >= 6
            {
                due.lift_eligible.push(row(format!(
                    "income per person above the line {months} months in a row, to {last}"
                )));
            }
        }
        for (loan, due_date, outstanding) in &c.open_loans {
            if let Some(d) = due_date.filter(|d| *d < today) {
                due.loans_overdue.push(row(format!(
                    "loan {loan} due {d}, {} outstanding",
                    format_yuan(*outstanding)
                )));
            }
        }
    }
    Ok(due)
}

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
        0 => Err(OpError::input(format!(
            "no conflict {prefix:?} here; `hearth conflicts list` shows them"
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

/// The value typed for the field at `path`, as stored.
fn typed_value(path: &str, text: &str) -> Result<hearth_archive::automerge::ScalarValue> {
    use hearth_archive::automerge::ScalarValue as S;
    let code = |t: &str| -> Result<S> { Ok(S::Str(t.trim().into())) };
    Ok(match path {
        p if p.starts_with("finances.") => {
            S::Int(hearth_archive::money::parse_yuan("value", text)?)
        }
        "household.size" => {
            let n: u32 = parse_number("household size", text)?;
            let most = hearth_archive::case::MAX_HOUSEHOLD;
            if !(1..=most).contains(&n) {
                return Err(OpError::input(format!(
                    "a household has 1 to {most} people"
                )));
            }
            S::Int(i64::from(n))
        }
        "status" => code(text.parse::<Status>()?.code())?,
        "grade.derived" => code(text.parse::<Grade>()?.code())?,
        "escalation.target_level" => code(text.parse::<Level>()?.code())?,
        "causes.primary" => code(text.parse::<Cause>()?.code())?,
        "worker.region" => {
            hearth_archive::policy::check_region(text.trim())?;
            code(text)?
        }
        "grade.override" => {
            return Err(OpError::input(
                "a grade override is resolved with `hearth case grade ID --set … --reason …` or `--clear`",
            ));
        }
        _ => S::Str(text.into()),
    })
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
            "conflict {} is already resolved; `hearth conflicts show {}` says how",
            entry.id, entry.id
        )));
    }
    let editor = ctx.editor();
    let invariant = entry.path.starts_with("invariant.");
    let duplicate = entry.path.starts_with("duplicate.");
    if duplicate {
        let Resolve::MergeInto(keep) = how else {
            return Err(OpError::input(format!(
                "conflict {} is a duplicate archive: keep one with --merge-into CASE",
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
                "--merge-into is for duplicate archives; conflict {} is not one",
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
                "conflict {} is between values of {}: keep one with --pick N or write one with --value V",
                entry.id, entry.field
            )));
        }
        _ if invariant => {
            return Err(OpError::input(format!(
                "conflict {} is a broken rule, not a field: change the records it names, or --acknowledge --note …",
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
                        "--pick takes a side from 1 to {}",
                        values.len()
                    )));
                };
                (v.clone(), format!("picked side {n}: {v}"))
            }
        };
        c.resolve_field(&editor, &id, &path, value, &how)?;
        Ok(())
    })?;
    conflict(cases, &entry.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_key_from_outside_is_refused_unless_short_and_plain() {
        for bad in ["", "a b", "key\n", "ключ", &"k".repeat(MAX_REQUEST_KEY + 1)] {
            let e = check_request_key(bad).unwrap_err();
            assert!(e.is_input(), "{bad:?}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        check_request_key("0f3a-b9").unwrap();
        check_request_key(&"a".repeat(MAX_REQUEST_KEY)).unwrap();
    }

    #[test]
    fn record_ids_of_a_keyed_write_follow_the_key() {
        let ids = |key| {
            let mut r = RecordIds::new(Some(key));
            (r.next(), r.next())
        };
        assert_eq!(ids("k1"), ids("k1"));
        assert_ne!(ids("k1"), ids("k2"));
        let (first, second) = ids("k1");
        assert_ne!(first, second);
        assert_eq!(first.len(), 8);
    }
}
