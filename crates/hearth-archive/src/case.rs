//! The hardship case (一户一档) as one Automerge document, with a typed API to read and change it.
//!
//! The document layout is a contract between nodes (schema version [`SCHEMA`]):
//!
//! ```text
//! { schema, kind: "case", id, home, created_at, created_by, created_node, status,
//!   status_history: [ {from, to, reason, by, node, at} ],
//!   worker:     { name, gender, birth_year, employer, job, phone, address, identity_key },
//!   household:  { size, members: { id: {relation, age, health, occupation} } },
//!   finances:   { annual_income_fen, rigid_spending_fen, hardship_costs_fen, subsistence_line_fen },
//!   causes:     { primary, secondary: "code,code", other_text },
//!   profile:    { urgent_needs, skills, employment_wishes, state_of_mind },
//!   grade:      { derived, per_capita_monthly_fen, override?: {grade, reason, by, node, at} },
//!   participants: { node_id: {role, added_by, added_at} },
//!   escalation: { target_level?, trail: [ {from, to, reason, by, at} ] },
//!   approvals:  [ {step, node, decision, by, at, note} ],
//!   assistance: { id: {kind, amount_fen, date, paying_node, approving_node, note, by, node, at} },
//!   loans:      { id: {principal_fen, date, due_date, note, by, node, at,
//!                      repayments: { id: {amount_fen, date, note, by, node, at} } } },
//!   visits:     { id: {date, kind, visitor, notes, by, node, at} },
//!   reviews:    { id: {date, result, reviewer, notes, by, node, at} } }
//! ```
//!
//! Every container is created in the case's first change, so that concurrent edits at different
//! nodes always land in the same objects. Scalars that are replaced as a whole (such as the set of
//! secondary causes) are single values, so a concurrent replacement shows up as a conflict rather
//! than an interleaving. Unchanged values are not rewritten.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::codes::{
    AssistanceKind, Cause, ChainStep, CheckResult, Decision, Exclusion, Gender, Grade, Level,
    ReviewResult, Status, VisitKind,
};
use crate::doc::{
    Snapshot, Source, get_bool, get_code, get_date, get_i64, get_obj, get_str, get_timestamp,
    list_objects, map_objects, need_obj, push_map, put_i64, put_text, put_timestamp,
};
use crate::error::{ArchiveError, Result};
use crate::grade::{GradeInputs, GradeStandard, assess};
use crate::identity::IdentityKey;
use crate::lifecycle;
use crate::money::format_yuan;
use crate::text::{
    ADDRESS, NAME, NOTES, REASON, SHORT, check_line, check_opt_line, check_opt_notes,
};
use crate::view::{
    Approval, Assistance, CaseSummary, CaseView, Causes, Dated, Escalation, EscalationStep,
    Finances, GradeOverride, Grading, Household, Loan, Member, Profile, Repayment, Review,
    StatusChange, Visit, VoidedRecord, Worker,
};

/// Version of the case document layout written by this code.
pub const SCHEMA: i64 = 1;
/// At most this many secondary causes besides the primary one.
pub const MAX_SECONDARY_CAUSES: usize = 3;
/// Largest household accepted.
pub const MAX_HOUSEHOLD: u32 = 50;

/// Who changes a case, where and when; recorded with every change.
#[derive(Debug, Clone)]
pub struct Editor {
    /// Node id where the change is made.
    pub node: String,
    /// Person making it (caseworker or operator name).
    pub by: String,
    /// Time of the change.
    pub at: Timestamp,
    /// Today's date where the node is; dates after it are refused.
    pub today: Date,
}

/// Field values of a case. `None` leaves a field as it is; empty text clears it.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct CaseFields {
    pub name: Option<String>,
    pub identity_key: Option<IdentityKey>,
    pub gender: Option<Gender>,
    pub birth_year: Option<i32>,
    pub employer: Option<String>,
    pub job: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub household_size: Option<u32>,
    pub annual_income_fen: Option<i64>,
    pub rigid_spending_fen: Option<i64>,
    pub hardship_costs_fen: Option<i64>,
    pub subsistence_line_fen: Option<i64>,
    /// This year's medical costs of the household.
    pub medical_costs_fen: Option<i64>,
    /// The largest single hospital stay this year.
    pub largest_stay_fen: Option<i64>,
    /// Aid the household asks for (decides which level must approve it).
    pub aid_request_fen: Option<i64>,
    /// Region code (行政区划代码) of the home, for the policy's subsistence line.
    pub region: Option<String>,
    /// Compensation and insurance received for this year's accident and medical costs.
    pub compensation_fen: Option<i64>,
    /// Exclusions that apply to the household (replaces the set; empty clears it).
    pub exclusions: Option<Vec<Exclusion>>,
    pub primary_cause: Option<Cause>,
    pub secondary_causes: Option<Vec<Cause>>,
    pub other_cause_text: Option<String>,
    pub urgent_needs: Option<String>,
    pub skills: Option<String>,
    pub employment_wishes: Option<String>,
    pub state_of_mind: Option<String>,
}

impl CaseFields {
    /// A made-up household for demos, tests and benchmarks: worker `n` (with
    /// [`crate::identity::sample_id_number`]), 3 people, income 30,000, rigid spending 6,000,
    /// subsistence line 800, serious illness — a deep-hardship case, ready to file.
    pub fn sample(n: u32) -> CaseFields {
        let salt = crate::identity::FederationSalt::sample();
        CaseFields {
            name: Some(format!("worker {n}")),
            identity_key: crate::identity::IdNumber::parse(&crate::identity::sample_id_number(n))
                .ok()
                .map(|id| id.identity_key(&salt)),
            household_size: Some(3),
            annual_income_fen: Some(30_000_00),
            rigid_spending_fen: Some(6_000_00),
            subsistence_line_fen: Some(800_00),
            primary_cause: Some(Cause::SeriousIllness),
            ..CaseFields::default()
        }
    }

    /// Checks the fields on their own, as for a new case, before anything is written.
    pub fn validate(&self) -> Result<()> {
        validate_fields(self, &Causes::default())
    }
}

/// A household member to add.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewMember {
    pub id: String,
    pub relation: String,
    pub age: Option<u32>,
    pub health: Option<String>,
    pub occupation: Option<String>,
}

/// An assistance payment to record.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewAssistance {
    pub id: String,
    pub kind: AssistanceKind,
    pub amount_fen: i64,
    pub date: Date,
    pub paying_node: Option<String>,
    pub approving_node: Option<String>,
    pub note: Option<String>,
}

/// A loan to record.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewLoan {
    pub id: String,
    pub principal_fen: i64,
    pub date: Date,
    pub due_date: Date,
    pub note: Option<String>,
}

/// A loan repayment to record.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewRepayment {
    pub id: String,
    pub amount_fen: i64,
    pub date: Date,
    pub note: Option<String>,
}

/// A visit to record.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewVisit {
    pub id: String,
    pub date: Date,
    pub kind: VisitKind,
    pub visitor: Option<String>,
    pub notes: Option<String>,
    /// The household agreed to the visit and to its findings being filed (入户核实同意).
    pub consent: bool,
}

impl NewVisit {
    /// A home visit on 2026-05-02 with nothing else said, for tests and demos.
    pub fn sample(id: &str) -> NewVisit {
        NewVisit {
            id: id.into(),
            date: jiff::civil::date(2026, 5, 2),
            kind: VisitKind::Home,
            visitor: None,
            notes: None,
            consent: false,
        }
    }
}

/// An annual review to record.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewReview {
    pub id: String,
    pub date: Date,
    pub result: ReviewResult,
    pub reviewer: Option<String>,
    pub notes: Option<String>,
}

/// What the policy says of the filing chain, for a case to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainRules {
    /// Working days (Monday to Friday) a public notice runs.
    pub notice_working_days: u32,
}

/// A step of the filing chain to record ([`Case::record_step`]).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewStep {
    pub step: ChainStep,
    /// The day of the step (a notice's first day).
    pub date: Date,
    /// What the civil-affairs check found (that step only).
    pub result: Option<CheckResult>,
    /// Who checked, at civil affairs.
    pub checker: Option<String>,
    pub note: Option<String>,
}

/// An approval of aid above the paying level's authority ([`Case::approve_aid`]).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewAidApproval {
    pub id: String,
    pub kind: AssistanceKind,
    pub amount_fen: i64,
    /// The approving node's level.
    pub level: Level,
    pub note: Option<String>,
}

/// A status change ([`Case::transition_with`]).
#[derive(Debug, Clone)]
pub struct StatusMove {
    /// The status to move to.
    pub to: Status,
    /// Why.
    pub reason: String,
    /// The day it took effect, when it is recorded later.
    pub on: Option<Date>,
    /// Closing with loans outstanding: why they will not be repaid.
    pub outstanding_reason: Option<String>,
}

impl StatusMove {
    /// A move effective today, with nothing outstanding to explain.
    pub fn new(to: Status, reason: &str) -> StatusMove {
        StatusMove {
            to,
            reason: reason.to_owned(),
            on: None,
            outstanding_reason: None,
        }
    }
}

/// The `step` of an entry recording that a household not eligible was submitted on an
/// override, and why.
pub const ELIGIBILITY_OVERRIDE: &str = "eligibility_override";
/// The `step` of an approval of aid above the payer's authority.
pub const AID_APPROVAL: &str = "aid_approval";

/// The filing chain as a case records it, read from its approvals, visits and status history.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// The last grassroots review.
    pub review: Option<Date>,
    /// The last home visit with the household's consent.
    pub consented_visit: Option<Date>,
    /// The last civil-affairs check and what it found.
    pub check: Option<(Date, CheckResult)>,
    /// The last public notice: first and last day.
    pub notice: Option<(Date, Date)>,
    /// An objection raised on or after the last notice's first day.
    pub objection: Option<Date>,
    /// The eligibility override of the last submission, if any.
    pub override_reason: Option<String>,
    /// The day of the latest step recorded.
    pub last_day: Option<Date>,
}

impl Chain {
    /// Reads the chain.
    pub fn of(approvals: &[Approval], visits: &[Visit], history: &[StatusChange]) -> Chain {
        let mut c = Chain::default();
        let latest = |slot: &mut Option<Date>, d: Date| {
            if slot.is_none_or(|s| d >= s) {
                *slot = Some(d);
            }
        };
        for a in approvals {
            let Some(date) = a.date else {
                if a.step.as_deref() == Some(ELIGIBILITY_OVERRIDE) {
                    c.override_reason = a.note.clone();
                }
                continue;
            };
            match a.step.as_deref().and_then(|s| s.parse::<ChainStep>().ok()) {
                Some(ChainStep::GrassrootsReview) => latest(&mut c.review, date),
                Some(ChainStep::CivilCheck) => {
                    if c.check.is_none_or(|(d, _)| date >= d)
                        && let Some(r) = a.result
                    {
                        c.check = Some((date, r));
                    }
                }
                Some(ChainStep::Notice) => {
                    if c.notice.is_none_or(|(d, _)| date >= d) {
                        c.notice = Some((date, a.until.unwrap_or(date)));
                    }
                }
                Some(ChainStep::Objection) => latest(&mut c.objection, date),
                None => continue,
            }
            latest(&mut c.last_day, date);
        }
        if let (Some(o), Some((start, _))) = (c.objection, c.notice)
            && o < start
        {
            c.objection = None;
        }
        for v in visits {
            if v.kind == VisitKind::Home && v.consent {
                latest(&mut c.consented_visit, v.date);
            }
        }
        // An override belongs to the submission it came with: one made before the case was
        // last returned no longer counts.
        let returned_since = history.iter().rposition(|h| h.to == Status::Returned);
        let submitted = history.iter().rposition(|h| h.to == Status::UnderReview);
        if returned_since.is_some_and(|r| submitted.is_none_or(|s| r > s)) {
            c.override_reason = None;
        }
        c
    }

    /// What is missing before the civil-affairs check.
    fn gaps_before_check(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        if self.review.is_none() {
            gaps.push("the grassroots review 基层审核 (case step ID grassroots_review)".to_owned());
        }
        if self.consented_visit.is_none() {
            gaps.push(
                "a home visit with the household's signed consent 入户核实并签字授权 (visit add ID --kind home --consent)"
                    .to_owned(),
            );
        }
        gaps
    }

    /// What is missing before the public notice.
    fn gaps_before_notice(&self) -> Vec<String> {
        let mut gaps = self.gaps_before_check();
        match self.check {
            None => gaps.push(format!(
                "the civil-affairs income check 民政核对 (case step ID civil_check --result {})",
                CheckResult::codes().replace(", ", "|")
            )),
            Some((day, CheckResult::NotMatched)) => gaps.push(format!(
                "a civil-affairs check that does not contradict the declared income (the one of {day} did not match: correct the finances and check again)"
            )),
            Some(_) => {}
        }
        gaps
    }

    /// What is missing before the case may be submitted on `today`.
    pub fn gaps_before_submit(&self, today: Date) -> Vec<String> {
        let mut gaps = self.gaps_before_notice();
        match self.notice {
            None => gaps.push("the public notice 公示 (case step ID notice)".to_owned()),
            Some((_, until)) if today <= until => gaps.push(format!(
                "the public notice runs until {until}; submit after it has ended"
            )),
            Some((start, _)) => {
                if let Some(o) = self.objection {
                    gaps.push(format!(
                        "an objection was raised on {o} to the notice of {start}: look into it, then post the notice again"
                    ));
                }
            }
        }
        gaps
    }
}

/// The last of `n` working days (Monday to Friday) starting on `from` (`from` counts if it is
/// one). Public holidays are not known here, so a notice over a holiday should be posted longer.
pub fn add_working_days(from: Date, n: u32) -> Date {
    use jiff::civil::Weekday;
    let mut day = from;
    let mut left = n.max(1);
    loop {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
            if left == 0 {
                return day;
            }
        }
        day = day.tomorrow().unwrap_or(day);
    }
}

/// The id of a new case, bound to its home: 16 hex digits of a hash of the home's node id and
/// a nonce the case keeps (`id_nonce`). Any node can check the binding, so no node can make a
/// case in another's name or under another's id (DESIGN §4a).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundId {
    /// The node that makes the case.
    pub home: String,
    /// Random text (or, in tests, any text) that makes the id unique at the home.
    pub nonce: String,
}

impl BoundId {
    /// The id for a case made at `home` with `nonce`.
    pub fn new(home: &str, nonce: &str) -> BoundId {
        BoundId {
            home: home.to_owned(),
            nonce: nonce.to_owned(),
        }
    }

    /// The case id.
    pub fn id(&self) -> String {
        bound_case_id(&self.home, &self.nonce)
    }
}

/// The case id bound to `home` and `nonce`: 16 hex digits of
/// SHA-256("hearth/case-id/v1\0" ‖ home ‖ "\0" ‖ nonce).
pub fn bound_case_id(home: &str, nonce: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"hearth/case-id/v1\0");
    h.update(home.as_bytes());
    h.update([0]);
    h.update(nonce.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// One case document.
#[derive(Debug)]
pub struct Case {
    doc: AutoCommit,
    /// Heads already handed to storage; [`Case::take_changes`] returns what came after.
    saved: Vec<ChangeHash>,
    /// The view read while the document was checked on receipt, and the heads it was read at:
    /// storing a received case then reads it once, not twice.
    checked: Option<Box<(Vec<ChangeHash>, CaseView)>>,
}

impl Case {
    /// Opens a new case at its home as a draft, with the fields given, under an id bound to
    /// the home ([`BoundId`]).
    pub fn create(
        bound: &BoundId,
        actor: ActorId,
        editor: &Editor,
        fields: &CaseFields,
    ) -> Result<Case> {
        check_line("nonce", &bound.nonce, SHORT)?;
        Case::create_inner(
            &bound.id(),
            Some(&bound.nonce),
            &bound.home,
            actor,
            editor,
            fields,
        )
    }

    /// Opens a case under an id not bound to its home, as Hearth did before ids were bound:
    /// for tests of storage and of old data. Other nodes take such a case only within the
    /// upgrade window (`hearth_archive::rules`).
    pub fn create_legacy(
        id: &str,
        home: &str,
        actor: ActorId,
        editor: &Editor,
        fields: &CaseFields,
    ) -> Result<Case> {
        Case::create_inner(id, None, home, actor, editor, fields)
    }

    fn create_inner(
        id: &str,
        nonce: Option<&str>,
        home: &str,
        actor: ActorId,
        editor: &Editor,
        fields: &CaseFields,
    ) -> Result<Case> {
        validate_fields(fields, &Causes::default())?;
        check_editor(editor)?;
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA)?;
        doc.put(ROOT, "kind", "case")?;
        doc.put(ROOT, "id", id)?;
        if let Some(nonce) = nonce {
            doc.put(ROOT, "id_nonce", nonce)?;
        }
        doc.put(ROOT, "home", home)?;
        put_timestamp(&mut doc, &ROOT, "created_at", editor.at)?;
        doc.put(ROOT, "created_by", editor.by.as_str())?;
        doc.put(ROOT, "created_node", editor.node.as_str())?;
        doc.put(ROOT, "status", Status::Draft.code())?;
        let history = doc.put_object(ROOT, "status_history", ObjType::List)?;
        let opening = push_map(&mut doc, &history)?;
        doc.put(&opening, "to", Status::Draft.code())?;
        stamp(&mut doc, &opening, editor)?;
        for key in [
            "worker",
            "finances",
            "causes",
            "profile",
            "grade",
            "participants",
        ] {
            doc.put_object(ROOT, key, ObjType::Map)?;
        }
        let household = doc.put_object(ROOT, "household", ObjType::Map)?;
        doc.put_object(&household, "members", ObjType::Map)?;
        let escalation = doc.put_object(ROOT, "escalation", ObjType::Map)?;
        doc.put_object(&escalation, "trail", ObjType::List)?;
        doc.put_object(ROOT, "approvals", ObjType::List)?;
        for key in ["assistance", "loans", "visits", "reviews"] {
            doc.put_object(ROOT, key, ObjType::Map)?;
        }
        let participants = need_obj(&doc, &ROOT, "participants")?;
        let home_entry = doc.put_object(&participants, home, ObjType::Map)?;
        doc.put(&home_entry, "role", "home")?;
        doc.put(&home_entry, "added_by", editor.node.as_str())?;
        put_timestamp(&mut doc, &home_entry, "added_at", editor.at)?;
        let mut case = Case {
            doc,
            saved: Vec::new(),
            checked: None,
        };
        case.write_fields(fields)?;
        case.regrade()?;
        case.commit(editor, "case new");
        Ok(case)
    }

    /// Loads a case from its saved bytes (a snapshot, optionally followed by change chunks).
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Case> {
        let mut doc = crate::untrusted::load(bytes)?.with_actor(actor);
        let saved = doc.get_heads();
        let case = Case {
            doc,
            saved,
            checked: None,
        };
        case.check_schema()?;
        Ok(case)
    }

    /// Wraps a document already in memory (one received by sync), writing as `actor` from now on.
    pub fn from_doc(doc: AutoCommit, actor: ActorId) -> Result<Case> {
        let mut doc = doc.with_actor(actor);
        let saved = doc.get_heads();
        let case = Case {
            doc,
            saved,
            checked: None,
        };
        case.check_schema()?;
        Ok(case)
    }

    /// The document inside.
    pub fn into_doc(self) -> AutoCommit {
        self.doc
    }

    fn check_schema(&self) -> Result<()> {
        let kind = get_str(&self.doc, &ROOT, "kind")?;
        let schema = get_i64(&self.doc, &ROOT, "schema")?;
        match (kind.as_deref(), schema) {
            (Some("case"), Some(v)) if v <= SCHEMA => Ok(()),
            (Some("case"), Some(v)) => Err(ArchiveError::Schema(format!("schema {v}"))),
            _ => Err(ArchiveError::Schema("kind is not case".into())),
        }
    }

    /// The node responsible for the case.
    pub fn home(&self) -> Result<Option<String>> {
        get_str(&self.doc, &ROOT, "home")
    }

    /// Case id.
    pub fn id(&self) -> Result<String> {
        get_str(&self.doc, &ROOT, "id")?.ok_or_else(|| ArchiveError::Schema("id is missing".into()))
    }

    /// Current status.
    pub fn status(&self) -> Result<Status> {
        get_code(&self.doc, &ROOT, "status")?
            .ok_or_else(|| ArchiveError::Schema("status is missing".into()))
    }

    /// The underlying document, for sync.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// Keeps the view that the checks of a received document read of this very document
    /// ([`crate::check::received`]), for [`Case::view_to_store`].
    pub fn with_checked_view(mut self, view: CaseView) -> Case {
        self.checked = Some(Box::new((self.doc.get_heads(), view)));
        self
    }

    /// The view to store the case with: the one read when it was checked on receipt if it has
    /// not changed since, else read now.
    pub fn view_to_store(&mut self) -> Result<CaseView> {
        if let Some(checked) = self.checked.take()
            && self.doc.get_heads() == checked.0
        {
            return Ok(checked.1);
        }
        self.view()
    }

    /// Current heads of the document.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether there are changes not yet handed to storage.
    pub fn has_unsaved_changes(&mut self) -> bool {
        self.doc.get_heads() != self.saved
    }

    /// The changes made since the case was loaded or last handed to storage, as one chunk; empty
    /// if there are none. Marks them as handed over.
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

    /// Changes the fields given; the grade is derived again.
    pub fn edit(&mut self, editor: &Editor, fields: &CaseFields) -> Result<()> {
        let current = Self::read_causes(&self.doc)?;
        validate_fields(fields, &current)?;
        self.change(editor, "case edit", |case| {
            case.write_fields(fields)?;
            case.regrade()
        })
    }

    /// Puts the case on file (建档) straight away, through `under_review` if it is a draft: for
    /// a case on file already in the union's paper records (an import), and for tests. A new
    /// application goes through the chain instead ([`Case::submit`], [`Case::decide`]).
    pub fn file(&mut self, editor: &Editor) -> Result<()> {
        let from = self.status()?;
        let path = lifecycle::path_to_filed(from)?;
        self.check_ready_to_file()?;
        self.change(editor, "case file", |case| {
            let mut prev = from;
            for to in path {
                let reason = match to {
                    Status::UnderReview => "reviewed by the filing caseworker",
                    _ => "filed",
                };
                case.write_status(editor, prev, to, reason)?;
                prev = to;
            }
            case.write_filed_on(editor.today, false)
        })
    }

    /// Puts an imported application under review, as the union's records have it.
    pub fn import_under_review(&mut self, editor: &Editor) -> Result<()> {
        let from = self.status()?;
        lifecycle::check(from, Status::UnderReview)?;
        self.change(editor, "case import", |case| {
            case.write_status(editor, from, Status::UnderReview, "imported")
        })
    }

    /// Sets the day the case was put on file, as its paper file says (an import), or — with
    /// `estimated` — the day of the import when the file does not say.
    pub fn set_filed_on(&mut self, editor: &Editor, day: Date, estimated: bool) -> Result<()> {
        not_future("filing date", day, editor)?;
        self.change(editor, "case filed_on", |case| {
            case.doc.put(ROOT, "filed_on", day.to_string())?;
            if estimated {
                case.doc.put(ROOT, "filed_on_estimated", true)?;
            } else if case.doc.get(ROOT, "filed_on_estimated")?.is_some() {
                case.doc.delete(ROOT, "filed_on_estimated")?;
            }
            Ok(())
        })
    }

    /// The first filing day stays: a case filed again after a relapse keeps it.
    fn write_filed_on(&mut self, day: Date, estimated: bool) -> Result<()> {
        if get_date(&self.doc, &ROOT, "filed_on")?.is_none() {
            self.doc.put(ROOT, "filed_on", day.to_string())?;
            if estimated {
                self.doc.put(ROOT, "filed_on_estimated", true)?;
            }
        }
        Ok(())
    }

    /// Records a step of the filing chain at the grassroots (建档流程), in order: the grassroots
    /// review, then — after a home visit with the household's signed consent — the
    /// civil-affairs income check, then the public notice (for `rules.notice_working_days`
    /// working days from its first day), and any objection raised during it. Returns the
    /// notice's last day for a notice.
    pub fn record_step(
        &mut self,
        editor: &Editor,
        step: &NewStep,
        rules: ChainRules,
    ) -> Result<Option<Date>> {
        self.check_open()?;
        let status = self.status()?;
        if !matches!(status, Status::Draft | Status::Returned | Status::Relapsed) {
            return Err(ArchiveError::Rule(format!(
                "the filing chain runs before a case is submitted, and this case is {}",
                status.label()
            )));
        }
        not_future("date", step.date, editor)?;
        check_opt_line("checker", step.checker.as_deref(), NAME)?;
        check_opt_notes("note", step.note.as_deref(), REASON)?;
        let chain = self.chain()?;
        let before = match step.step {
            ChainStep::GrassrootsReview => None,
            ChainStep::CivilCheck => Some(chain.gaps_before_check().join("; ")),
            ChainStep::Notice => Some(chain.gaps_before_notice().join("; ")),
            ChainStep::Objection => chain
                .notice
                .is_none()
                .then(|| "a public notice 公示 (case step ID notice)".to_owned()),
        };
        if let Some(missing) = before.filter(|m| !m.is_empty()) {
            return Err(ArchiveError::Rule(format!(
                "{} comes after {missing}",
                step.step.label()
            )));
        }
        if let Some(last) = chain.last_day
            && step.date < last
            && step.step != ChainStep::Objection
        {
            return Err(invalid(
                "date",
                &format!(
                    "{} is before the last step of the chain ({last}); steps go in order",
                    step.date
                ),
            ));
        }
        let result = match (step.step, step.result) {
            (ChainStep::CivilCheck, None) => {
                return Err(invalid(
                    "result",
                    &format!("say what the check found: {}", CheckResult::codes()),
                ));
            }
            (ChainStep::CivilCheck, Some(r)) => Some(r),
            (_, _) => None,
        };
        if step.step == ChainStep::Objection
            && step.note.as_deref().is_none_or(|n| n.trim().is_empty())
        {
            return Err(invalid("note", "say what the objection is, in a note"));
        }
        let until = (step.step == ChainStep::Notice)
            .then(|| add_working_days(step.date, rules.notice_working_days));
        self.change(editor, "case step", |case| {
            let list = need_obj(&case.doc, &ROOT, "approvals")?;
            let e = push_map(&mut case.doc, &list)?;
            case.doc.put(&e, "step", step.step.code())?;
            case.doc.put(&e, "date", step.date.to_string())?;
            if let Some(until) = until {
                case.doc.put(&e, "until", until.to_string())?;
            }
            if let Some(r) = result {
                case.doc.put(&e, "result", r.code())?;
            }
            put_opt_text(&mut case.doc, &e, "checker", &step.checker)?;
            put_opt_text(&mut case.doc, &e, "note", &step.note)?;
            stamp(&mut case.doc, &e, editor)
        })?;
        Ok(until)
    }

    /// Submits the case for approval (提交审批) once the chain is complete: the grassroots
    /// review, a home visit with consent, the civil-affairs check (not "not matched"), a public
    /// notice that has ended with no objection. A household the standard finds not eligible is
    /// submitted only with `override_reason`, which the approving level must sign off. Moves
    /// the case to `under_review`; reporting it up is the caller's part.
    pub fn submit(&mut self, editor: &Editor, override_reason: Option<&str>) -> Result<()> {
        let from = self.status()?;
        if !matches!(from, Status::Draft | Status::Returned | Status::Relapsed) {
            return Err(ArchiveError::Rule(format!(
                "only an application (draft), a returned or a relapsed case is submitted for filing; this case is {}",
                from.label()
            )));
        }
        lifecycle::check(from, Status::UnderReview)?;
        self.check_ready_to_file()?;
        let gaps = self.chain()?.gaps_before_submit(editor.today);
        if !gaps.is_empty() {
            return Err(ArchiveError::Rule(format!(
                "the case cannot be submitted yet: {}",
                gaps.join("; ")
            )));
        }
        let view = self.view()?;
        let not_eligible = view.grade == Some(Grade::NotEligible)
            || view.grading.derived == Some(Grade::NotEligible);
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(reason) = override_reason {
            check_notes_field("override", reason)?;
        }
        if not_eligible && override_reason.is_none() {
            return Err(ArchiveError::Rule(format!(
                "the household is not eligible 不符合条件 ({}); it is submitted only with an override and its reason (--override), which the approving level must sign off",
                view.grading
                    .basis
                    .as_deref()
                    .unwrap_or("by the grading standard")
            )));
        }
        self.change(editor, "case submit", |case| {
            if let Some(reason) = override_reason.filter(|_| not_eligible) {
                let list = need_obj(&case.doc, &ROOT, "approvals")?;
                let e = push_map(&mut case.doc, &list)?;
                case.doc.put(&e, "step", ELIGIBILITY_OVERRIDE)?;
                put_text(&mut case.doc, &e, "note", reason)?;
                stamp(&mut case.doc, &e, editor)?;
            }
            case.write_status(
                editor,
                from,
                Status::UnderReview,
                "submitted for approval 提交审批",
            )
        })
    }

    /// The node that submitted the case for its current review, if it is under review.
    fn submitter(&self) -> Result<Option<String>> {
        Ok(Self::read_status_history(&self.doc)?
            .iter()
            .rev()
            .find(|c| c.to == Status::UnderReview)
            .and_then(|c| c.node.clone()))
    }

    /// Records a decision on the case at a reviewing node (审批): `approve` puts a case under
    /// review on file (or confirms a filed one), `return` sends it back down with the reason
    /// (it stays visible upstairs), `reject` closes it. Only a node above the case's home
    /// decides: a node never approves what it submitted, and the home never returns or rejects
    /// its own case — except where `no_superior` says the node has no one above it, which may
    /// approve what it submitted. Approving a case submitted on an eligibility override signs
    /// the override off, with a note. Returns the status afterwards.
    pub fn decide_at(
        &mut self,
        editor: &Editor,
        decision: Decision,
        note: &str,
        no_superior: bool,
    ) -> Result<Status> {
        let from = self.status()?;
        check_notes_field("note", note)?;
        if decision != Decision::Approve && note.trim().is_empty() {
            return Err(invalid(
                "note",
                "say why the case is returned or rejected, in a note",
            ));
        }
        let home = self.home()?.unwrap_or_default();
        let to = match (decision, from) {
            (Decision::Approve, Status::UnderReview) => Some(Status::Filed),
            (Decision::Approve, Status::Filed) => None,
            (Decision::Approve, other) => {
                return Err(ArchiveError::Rule(format!(
                    "a case {} cannot be approved; only one submitted for approval (under_review) or filed",
                    other.code()
                )));
            }
            (Decision::Return | Decision::Reject, _) if editor.node == home => {
                return Err(ArchiveError::Rule(format!(
                    "only a superior {} a case; {} is the case's home",
                    if decision == Decision::Return {
                        "returns"
                    } else {
                        "rejects"
                    },
                    editor.node
                )));
            }
            (Decision::Return, _) => Some(Status::Returned),
            (Decision::Reject, _) => Some(Status::Closed),
        };
        let mut signs_off = false;
        if to == Some(Status::Filed) {
            let submitter = self.submitter()?;
            if !no_superior
                && (submitter.as_deref() == Some(editor.node.as_str()) || editor.node == home)
            {
                return Err(ArchiveError::Rule(
                    "a node does not approve a case it submitted itself; a superior at the level the policy names for filing approves it".into(),
                ));
            }
            let chain = self.chain()?;
            let gaps = chain.gaps_before_submit(editor.today);
            if !gaps.is_empty() {
                return Err(ArchiveError::Rule(format!(
                    "the filing chain is not complete: {}",
                    gaps.join("; ")
                )));
            }
            if chain.override_reason.is_some() {
                if note.trim().is_empty() {
                    return Err(ArchiveError::Rule(
                        "this case was submitted on an eligibility override; approving it signs the override off: say why in --note".into(),
                    ));
                }
                signs_off = true;
            }
        }
        if let Some(to) = to {
            lifecycle::check(from, to)?;
            if to == Status::Filed {
                self.check_ready_to_file()?;
            }
        }
        self.change(editor, "case decide", |case| {
            let list = need_obj(&case.doc, &ROOT, "approvals")?;
            let step = push_map(&mut case.doc, &list)?;
            case.doc.put(&step, "step", "review")?;
            case.doc.put(&step, "decision", decision.code())?;
            put_text(&mut case.doc, &step, "note", note)?;
            stamp(&mut case.doc, &step, editor)?;
            if let Some(to) = to {
                let reason = match decision {
                    Decision::Approve if signs_off => {
                        format!(
                            "approved at {}, signing off the eligibility override",
                            editor.node
                        )
                    }
                    Decision::Approve => format!("approved at {}", editor.node),
                    Decision::Return => format!("returned by {}: {note}", editor.node),
                    Decision::Reject => format!("rejected by {}: {note}", editor.node),
                };
                case.write_status(editor, from, to, &reason)?;
                if to == Status::Filed {
                    case.write_filed_on(editor.today, false)?;
                }
            }
            Ok(())
        })?;
        Ok(to.unwrap_or(from))
    }

    /// [`Case::decide_at`] at a node with a superior.
    pub fn decide(&mut self, editor: &Editor, decision: Decision, note: &str) -> Result<Status> {
        self.decide_at(editor, decision, note, false)
    }

    /// Records an approval of aid above the paying level's authority (超权限审批), at a node
    /// of `level` whose authority covers it: a payment of that kind up to `amount_fen` may then
    /// be made, once. Returns the approval's id. Checking the authority is the policy's part.
    pub fn approve_aid(&mut self, editor: &Editor, approval: &NewAidApproval) -> Result<()> {
        self.check_open()?;
        positive("amount", approval.amount_fen)?;
        check_opt_notes("note", approval.note.as_deref(), REASON)?;
        self.change(editor, "assist approve", |case| {
            let list = need_obj(&case.doc, &ROOT, "approvals")?;
            let e = push_map(&mut case.doc, &list)?;
            case.doc.put(&e, "step", AID_APPROVAL)?;
            case.doc.put(&e, "id", approval.id.as_str())?;
            case.doc.put(&e, "decision", Decision::Approve.code())?;
            case.doc.put(&e, "kind", approval.kind.code())?;
            put_i64(&mut case.doc, &e, "amount_fen", approval.amount_fen)?;
            case.doc.put(&e, "level", approval.level.code())?;
            put_opt_text(&mut case.doc, &e, "note", &approval.note)?;
            stamp(&mut case.doc, &e, editor)
        })
    }

    /// Moves the case to another status, with a reason.
    pub fn transition(&mut self, editor: &Editor, to: Status, reason: &str) -> Result<()> {
        self.transition_with(editor, &StatusMove::new(to, reason))
    }

    /// Moves the case to another status as `m` says: effective on a past day if given (not
    /// before the last change), and — closing a case with loans outstanding — with the reason
    /// why. Filing, submitting and returning are not moves of their own: they are the chain's
    /// ([`Case::submit`], [`Case::decide_at`]).
    pub fn transition_with(&mut self, editor: &Editor, m: &StatusMove) -> Result<()> {
        let from = self.status()?;
        let to = m.to;
        let how = match to {
            Status::Filed => Some(
                "a case is filed when the approving level approves it (case decide ID approve)",
            ),
            Status::UnderReview => {
                Some("a case goes under review when it is submitted (case file ID)")
            }
            Status::Returned => {
                Some("only a superior returns a case (case decide ID return at the level above)")
            }
            _ => None,
        };
        if let Some(how) = how {
            return Err(ArchiveError::Rule(how.to_owned()));
        }
        lifecycle::check(from, to)?;
        check_notes_field("reason", &m.reason)?;
        if m.reason.trim().is_empty() {
            return Err(invalid("reason", "give a reason for the status change"));
        }
        let history = Self::read_status_history(&self.doc)?;
        if let Some(on) = m.on {
            not_future("date", on, editor)?;
            // The day the last change took effect: a filing on the day the file says (an
            // import's), any other on the day given with it, else the day it was recorded.
            let filed_on = get_date(&self.doc, &ROOT, "filed_on")?;
            let last = history.last().and_then(|c| match c.to {
                Status::Filed => filed_on.or(c.at.map(crate::calendar::day_of)),
                _ => c.on.or(c.at.map(crate::calendar::day_of)),
            });
            if let Some(last) = last.filter(|l| on < *l) {
                return Err(invalid(
                    "date",
                    &format!("{on} is before the case's last status change ({last})"),
                ));
            }
        }
        let outstanding: i64 = Self::read_loans(&self.doc)?
            .iter()
            .map(|l| l.outstanding_fen)
            .sum();
        let outstanding_reason = m
            .outstanding_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if to == Status::Closed && outstanding > 0 && outstanding_reason.is_none() {
            return Err(ArchiveError::Rule(format!(
                "the case has {} of loans outstanding; closing it needs the reason they will not be repaid first (--outstanding-reason), and it is listed in fund show",
                format_yuan(outstanding)
            )));
        }
        if let Some(r) = outstanding_reason {
            check_notes_field("outstanding reason", r)?;
        }
        self.change(editor, "case transition", |case| {
            let entry = case.write_status_entry(editor, from, to, &m.reason)?;
            if let Some(on) = m.on {
                case.doc.put(&entry, "on", on.to_string())?;
            }
            if to == Status::Closed
                && outstanding > 0
                && let Some(r) = outstanding_reason
            {
                put_text(&mut case.doc, &entry, "outstanding_reason", r)?;
            }
            Ok(())
        })
    }

    /// The filing chain as recorded.
    fn chain(&self) -> Result<Chain> {
        Ok(Chain::of(
            &Self::read_approvals(&self.doc)?,
            &Self::read_visits(&self.doc)?,
            &Self::read_status_history(&self.doc)?,
        ))
    }

    /// Reports the case to a neighbouring node (逐级上报) or sends it down to one: the node becomes
    /// a participant, so the two exchange it from now on, and the report joins the escalation
    /// trail. Checking that `to` is a neighbour of the editor's node is the caller's part: the
    /// archive does not know the topology.
    pub fn report_to(&mut self, editor: &Editor, to: &str, reason: &str) -> Result<()> {
        check_notes_field("reason", reason)?;
        check_line("node", to, SHORT)?;
        if to.trim().is_empty() || to == editor.node {
            return Err(invalid(
                "node",
                "name the neighbouring node to report the case to",
            ));
        }
        if self.participants()?.iter().any(|p| p == to) {
            return Err(invalid(
                "node",
                &format!("node {to} already holds this case"),
            ));
        }
        self.change(editor, "case report", |case| {
            let participants = need_obj(&case.doc, &ROOT, "participants")?;
            let entry = case.doc.put_object(&participants, to, ObjType::Map)?;
            case.doc.put(&entry, "role", "reported")?;
            case.doc.put(&entry, "added_by", editor.node.as_str())?;
            put_timestamp(&mut case.doc, &entry, "added_at", editor.at)?;
            let escalation = need_obj(&case.doc, &ROOT, "escalation")?;
            let trail = need_obj(&case.doc, &escalation, "trail")?;
            let step = push_map(&mut case.doc, &trail)?;
            case.doc.put(&step, "from", editor.node.as_str())?;
            case.doc.put(&step, "to", to)?;
            put_text(&mut case.doc, &step, "reason", reason)?;
            put_text(&mut case.doc, &step, "by", &editor.by)?;
            put_timestamp(&mut case.doc, &step, "at", editor.at)
        })
    }

    /// Escalation level by level (逐级上报) at the editor's node, of level `here`, whose parents
    /// are `parents`: a case held here whose target level is above `here` and that no parent
    /// holds yet is reported to the first parent. Returns that parent, or `None` if the case
    /// stays.
    pub fn forward_escalation(
        &mut self,
        editor: &Editor,
        here: Level,
        parents: &[String],
    ) -> Result<Option<String>> {
        let (Some(parent), Some(target)) = (parents.first(), self.target_level()?) else {
            return Ok(None);
        };
        let participants = self.participants()?;
        if target <= here
            || !participants.contains(&editor.node)
            || parents.iter().any(|p| participants.contains(p))
        {
            return Ok(None);
        }
        let reason = format!(
            "escalated to {}: forwarded by {}",
            target.code(),
            here.code()
        );
        self.report_to(editor, parent, &reason)?;
        Ok(Some(parent.clone()))
    }

    /// Records the level the case must reach (逐级上报 up to there); reporting to the next node is
    /// [`Case::report_to`].
    pub fn set_escalation_target(
        &mut self,
        editor: &Editor,
        level: Level,
        reason: &str,
    ) -> Result<()> {
        check_notes_field("reason", reason)?;
        if reason.trim().is_empty() {
            return Err(invalid(
                "reason",
                "say why the case goes up, e.g. the medical costs",
            ));
        }
        self.change(editor, "case escalate", |case| {
            let escalation = need_obj(&case.doc, &ROOT, "escalation")?;
            put_text(&mut case.doc, &escalation, "target_level", level.code())?;
            put_text(&mut case.doc, &escalation, "target_reason", reason)
        })
    }

    /// The level the case must reach, if one was set (one field read: cheap).
    pub fn escalation_target(&self) -> Result<Option<Level>> {
        let escalation = need_obj(&self.doc, &ROOT, "escalation")?;
        get_code(&self.doc, &escalation, "target_level")
    }

    /// The nodes that hold this case.
    pub fn participants(&self) -> Result<Vec<String>> {
        participants_of(&self.doc)
    }

    /// The level the case must reach (`escalate --to-level`), read alone: the node's core asks it
    /// of every case that changes, and a whole [`Case::view`] costs far more.
    pub fn target_level(&self) -> Result<Option<Level>> {
        let e = need_obj(&self.doc, &ROOT, "escalation")?;
        get_code(&self.doc, &e, "target_level")
    }

    /// Sets a manual grade with its reason, or with `None` removes the override.
    pub fn override_grade(&mut self, editor: &Editor, grade: Option<(Grade, &str)>) -> Result<()> {
        if let Some((_, reason)) = grade {
            check_notes_field("reason", reason)?;
            if reason.trim().is_empty() {
                return Err(invalid("reason", "a manual grade needs a reason"));
            }
        }
        self.change(editor, "case grade", |case| {
            let obj = need_obj(&case.doc, &ROOT, "grade")?;
            match grade {
                Some((grade, reason)) => {
                    let o = case.doc.put_object(&obj, "override", ObjType::Map)?;
                    case.doc.put(&o, "grade", grade.code())?;
                    put_text(&mut case.doc, &o, "reason", reason)?;
                    stamp(&mut case.doc, &o, editor)?;
                }
                None => {
                    if case.doc.get(&obj, "override")?.is_some() {
                        case.doc.delete(&obj, "override")?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Adds a household member.
    pub fn add_member(&mut self, editor: &Editor, member: &NewMember) -> Result<()> {
        self.check_open()?;
        if member.relation.trim().is_empty() {
            return Err(invalid(
                "relation",
                "say how the member is related, e.g. spouse",
            ));
        }
        if member.age.is_some_and(|a| a > 130) {
            return Err(invalid("age", "must be between 0 and 130"));
        }
        check_line("relation", &member.relation, SHORT)?;
        check_opt_line("health", member.health.as_deref(), SHORT)?;
        check_opt_line("occupation", member.occupation.as_deref(), SHORT)?;
        self.change(editor, "member add", |case| {
            let household = need_obj(&case.doc, &ROOT, "household")?;
            let members = need_obj(&case.doc, &household, "members")?;
            let m = case
                .doc
                .put_object(&members, member.id.as_str(), ObjType::Map)?;
            put_text(&mut case.doc, &m, "relation", &member.relation)?;
            if let Some(age) = member.age {
                put_i64(&mut case.doc, &m, "age", i64::from(age))?;
            }
            put_opt_text(&mut case.doc, &m, "health", &member.health)?;
            put_opt_text(&mut case.doc, &m, "occupation", &member.occupation)?;
            stamp(&mut case.doc, &m, editor)
        })
    }

    /// Records an assistance payment.
    pub fn add_assistance(&mut self, editor: &Editor, aid: &NewAssistance) -> Result<()> {
        self.add_assistance_approved(editor, aid, None)
    }

    /// Records an assistance payment made on an aid approval (its id), when the amount is above
    /// the payer's authority.
    pub fn add_assistance_approved(
        &mut self,
        editor: &Editor,
        aid: &NewAssistance,
        approval: Option<&str>,
    ) -> Result<()> {
        self.add_assistance_correcting(editor, aid, approval, None)
    }

    /// Records an assistance payment that corrects (replaces) the voided record `corrects`,
    /// when it does.
    pub fn add_assistance_correcting(
        &mut self,
        editor: &Editor,
        aid: &NewAssistance,
        approval: Option<&str>,
        corrects: Option<&str>,
    ) -> Result<()> {
        if corrects.is_none() {
            self.check_open()?;
        }
        positive("amount", aid.amount_fen)?;
        not_future("date", aid.date, editor)?;
        check_opt_line("paying node", aid.paying_node.as_deref(), SHORT)?;
        check_opt_line("approving node", aid.approving_node.as_deref(), SHORT)?;
        check_opt_notes("note", aid.note.as_deref(), REASON)?;
        self.change(editor, "assist add", |case| {
            let list = need_obj(&case.doc, &ROOT, "assistance")?;
            let a = case.doc.put_object(&list, aid.id.as_str(), ObjType::Map)?;
            case.doc.put(&a, "kind", aid.kind.code())?;
            put_i64(&mut case.doc, &a, "amount_fen", aid.amount_fen)?;
            case.doc.put(&a, "date", aid.date.to_string())?;
            let paying = aid
                .paying_node
                .clone()
                .unwrap_or_else(|| editor.node.clone());
            put_text(&mut case.doc, &a, "paying_node", &paying)?;
            put_opt_text(&mut case.doc, &a, "approving_node", &aid.approving_node)?;
            put_opt_text(&mut case.doc, &a, "note", &aid.note)?;
            if let Some(approval) = approval {
                put_text(&mut case.doc, &a, "approval", approval)?;
            }
            if let Some(corrects) = corrects {
                put_text(&mut case.doc, &a, "corrects", corrects)?;
            }
            stamp(&mut case.doc, &a, editor)
        })
    }

    /// Voids (作废) the aid, visit, review or household member whose id starts with `prefix`,
    /// with the reason: the record stays in the file, marked, and leaves every total and rule.
    /// Only the node that recorded it voids it (a receiver refuses anything else). Returns what
    /// was voided.
    pub fn void_record(
        &mut self,
        editor: &Editor,
        prefix: &str,
        reason: &str,
    ) -> Result<VoidedRecord> {
        crate::text::check_notes("reason", reason, REASON)?;
        if reason.trim().is_empty() {
            return Err(invalid("reason", "say why the record is voided"));
        }
        let prefix = prefix.trim();
        let mut hits = Vec::new();
        for path in VOIDABLE {
            let map = path_obj(&self.doc, path)?;
            for (key, obj) in map_objects(&self.doc, &map)? {
                if !prefix.is_empty() && key.starts_with(prefix) {
                    hits.push((key, obj));
                }
            }
        }
        let (key, obj) = match hits.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ArchiveError::NoSuchRecord {
                    what: "record (aid, visit, review or household member)",
                    id: prefix.into(),
                });
            }
            _ => {
                return Err(invalid(
                    "record",
                    &format!("{prefix:?} matches several records; give more of the id"),
                ));
            }
        };
        if get_str(&self.doc, &obj, "voided_reason")?.is_some() {
            return Err(invalid(
                "record",
                &format!("record {key} is voided already"),
            ));
        }
        let node = get_str(&self.doc, &obj, "node")?.unwrap_or_default();
        if node != editor.node {
            return Err(invalid(
                "record",
                &format!("record {key} was recorded at {node}; only {node} voids or corrects it"),
            ));
        }
        self.change(editor, "record void", |case| {
            put_text(&mut case.doc, &obj, "voided_reason", reason.trim())?;
            put_text(&mut case.doc, &obj, "voided_by", &editor.by)?;
            put_timestamp(&mut case.doc, &obj, "voided_at", editor.at)
        })?;
        Self::read_voided(&Snapshot::new(&self.doc))?
            .into_iter()
            .find(|v| v.id == key)
            .ok_or_else(|| ArchiveError::Schema(format!("voided record {key} is not marked")))
    }

    /// Records a loan.
    pub fn add_loan(&mut self, editor: &Editor, loan: &NewLoan) -> Result<()> {
        self.add_loan_with(editor, loan, None)
    }

    /// Records a loan made although the rules said no (an overdue loan, above the limit), with
    /// the reason.
    pub fn add_loan_with(
        &mut self,
        editor: &Editor,
        loan: &NewLoan,
        override_reason: Option<&str>,
    ) -> Result<()> {
        self.check_open()?;
        check_opt_notes("override", override_reason, REASON)?;
        positive("principal", loan.principal_fen)?;
        not_future("date", loan.date, editor)?;
        check_opt_notes("note", loan.note.as_deref(), REASON)?;
        if loan.due_date < loan.date {
            return Err(invalid(
                "due date",
                "the due date must not be before the loan date",
            ));
        }
        self.change(editor, "loan add", |case| {
            let loans = need_obj(&case.doc, &ROOT, "loans")?;
            let l = case
                .doc
                .put_object(&loans, loan.id.as_str(), ObjType::Map)?;
            put_i64(&mut case.doc, &l, "principal_fen", loan.principal_fen)?;
            case.doc.put(&l, "date", loan.date.to_string())?;
            case.doc.put(&l, "due_date", loan.due_date.to_string())?;
            put_opt_text(&mut case.doc, &l, "note", &loan.note)?;
            if let Some(reason) = override_reason {
                put_text(&mut case.doc, &l, "override_reason", reason)?;
            }
            case.doc.put_object(&l, "repayments", ObjType::Map)?;
            stamp(&mut case.doc, &l, editor)
        })
    }

    /// Records a repayment of the loan whose id starts with `loan` (or of the only loan with
    /// money outstanding when `loan` is `None`). Returns the loan's id.
    pub fn repay_loan(
        &mut self,
        editor: &Editor,
        loan: Option<&str>,
        repayment: &NewRepayment,
    ) -> Result<String> {
        positive("amount", repayment.amount_fen)?;
        not_future("date", repayment.date, editor)?;
        check_opt_notes("note", repayment.note.as_deref(), REASON)?;
        let loans = Self::read_loans(&self.doc)?;
        let target = pick_loan(&loans, loan)?;
        if repayment.amount_fen > target.outstanding_fen {
            return Err(invalid(
                "amount",
                &format!(
                    "repayment {} is more than the {} outstanding on loan {}",
                    format_yuan(repayment.amount_fen),
                    format_yuan(target.outstanding_fen),
                    target.id
                ),
            ));
        }
        if repayment.date < target.date {
            return Err(invalid(
                "date",
                "a repayment cannot come before the loan was made",
            ));
        }
        let loan_id = target.id.clone();
        self.change(editor, "loan repay", |case| {
            let loans = need_obj(&case.doc, &ROOT, "loans")?;
            let l = need_obj(&case.doc, &loans, &loan_id)?;
            let reps = need_obj(&case.doc, &l, "repayments")?;
            let r = case
                .doc
                .put_object(&reps, repayment.id.as_str(), ObjType::Map)?;
            put_i64(&mut case.doc, &r, "amount_fen", repayment.amount_fen)?;
            case.doc.put(&r, "date", repayment.date.to_string())?;
            put_opt_text(&mut case.doc, &r, "note", &repayment.note)?;
            stamp(&mut case.doc, &r, editor)
        })?;
        Ok(loan_id)
    }

    /// Records a visit.
    pub fn add_visit(&mut self, editor: &Editor, visit: &NewVisit) -> Result<()> {
        self.check_open()?;
        not_future("date", visit.date, editor)?;
        check_opt_line("visitor", visit.visitor.as_deref(), NAME)?;
        check_opt_notes("notes", visit.notes.as_deref(), NOTES)?;
        self.change(editor, "visit add", |case| {
            let visits = need_obj(&case.doc, &ROOT, "visits")?;
            let v = case
                .doc
                .put_object(&visits, visit.id.as_str(), ObjType::Map)?;
            case.doc.put(&v, "date", visit.date.to_string())?;
            case.doc.put(&v, "kind", visit.kind.code())?;
            put_opt_text(&mut case.doc, &v, "visitor", &visit.visitor)?;
            put_opt_text(&mut case.doc, &v, "notes", &visit.notes)?;
            if visit.consent {
                case.doc.put(&v, "consent", true)?;
            }
            stamp(&mut case.doc, &v, editor)
        })
    }

    /// Records the household's income for one month (`YYYY-MM`), for dynamic management: a case
    /// whose income per person stays above the subsistence line six months in a row may be
    /// lifted. Entering a month again replaces it.
    pub fn record_monthly_income(
        &mut self,
        editor: &Editor,
        month: &str,
        amount_fen: i64,
    ) -> Result<()> {
        self.check_open()?;
        let (year, mon) = parse_month(month)?;
        if (year, mon) > (editor.today.year(), editor.today.month()) {
            return Err(invalid("month", &format!("{month} has not begun yet")));
        }
        if amount_fen < 0 {
            return Err(invalid("income", "a monthly income cannot be negative"));
        }
        self.change(editor, "income add", |case| {
            let finances = need_obj(&case.doc, &ROOT, "finances")?;
            put_i64(
                &mut case.doc,
                &finances,
                &format!("{MONTHLY_INCOME}{year:04}-{mon:02}"),
                amount_fen,
            )
        })
    }

    /// Records an annual review.
    pub fn add_review(&mut self, editor: &Editor, review: &NewReview) -> Result<()> {
        self.check_open()?;
        not_future("date", review.date, editor)?;
        check_opt_line("reviewer", review.reviewer.as_deref(), NAME)?;
        check_opt_notes("notes", review.notes.as_deref(), NOTES)?;
        self.change(editor, "review add", |case| {
            let reviews = need_obj(&case.doc, &ROOT, "reviews")?;
            let r = case
                .doc
                .put_object(&reviews, review.id.as_str(), ObjType::Map)?;
            case.doc.put(&r, "date", review.date.to_string())?;
            case.doc.put(&r, "result", review.result.code())?;
            put_opt_text(&mut case.doc, &r, "reviewer", &review.reviewer)?;
            put_opt_text(&mut case.doc, &r, "notes", &review.notes)?;
            stamp(&mut case.doc, &r, editor)
        })
    }

    /// Every change made to the case, oldest first: what was done, by whom, at which node and
    /// when, as each change says (its message and its author's actor).
    pub fn history(&self) -> Vec<Change> {
        let mut doc = self.doc.clone();
        let mut changes: Vec<Change> = doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| {
                let message = m.message.as_deref().unwrap_or_default();
                let what = match message.split_once(BY_SEPARATOR) {
                    Some((what, _)) => what,
                    None => message.split(" by ").next().unwrap_or(message),
                };
                Change {
                    what: what.to_owned(),
                    by: person_of_message(message),
                    node: crate::doc::node_of_actor(&m.actor),
                    at: Timestamp::from_second(m.timestamp).ok(),
                }
            })
            .collect();
        changes.sort_by_key(|c| c.at);
        changes
    }

    /// Reads the whole case.
    pub fn view(&self) -> Result<CaseView> {
        // Each map read once, in one pass: a third of the cost of a get per field.
        Self::view_from(&Snapshot::new(&self.doc))
    }

    /// Reads a whole case from a document (or a snapshot of one) that has not been wrapped as
    /// a [`Case`]: the check of a received document uses it.
    pub(crate) fn view_from(doc: &impl Source) -> Result<CaseView> {
        let grading = Self::read_grading(doc)?;
        let grade = grading
            .override_
            .as_ref()
            .map(|o| o.grade)
            .or(grading.derived);
        let assistance = Self::read_assistance(doc)?;
        let status_history = Self::read_status_history(doc)?;
        // A case filed before filing days were recorded: the day it was first filed.
        let filed_on = match get_date(doc, &ROOT, "filed_on")? {
            Some(day) => Some(day),
            None => status_history
                .iter()
                .find(|c| c.to == Status::Filed)
                .and_then(|c| c.at.map(crate::calendar::day_of)),
        };
        Ok(CaseView {
            id: get_str(doc, &ROOT, "id")?
                .ok_or_else(|| ArchiveError::Schema("id is missing".into()))?,
            home: get_str(doc, &ROOT, "home")?.unwrap_or_default(),
            status: get_code(doc, &ROOT, "status")?
                .ok_or_else(|| ArchiveError::Schema("status is missing".into()))?,
            grade,
            grading,
            participants: doc.field_keys(&need_obj(doc, &ROOT, "participants")?)?,
            worker: Self::read_worker(doc)?,
            household: Self::read_household(doc)?,
            finances: Self::read_finances(doc)?,
            causes: Self::read_causes(doc)?,
            profile: Self::read_profile(doc)?,
            status_history,
            escalation: Self::read_escalation(doc)?,
            approvals: Self::read_approvals(doc)?,
            assistance_total_fen: assistance.iter().map(|a| a.amount_fen).sum(),
            assistance,
            loans: Self::read_loans(doc)?,
            visits: Self::read_visits(doc)?,
            reviews: Self::read_reviews(doc)?,
            created_at: get_timestamp(doc, &ROOT, "created_at")?,
            created_by: get_str(doc, &ROOT, "created_by")?,
            filed_on,
            filed_on_estimated: get_bool(doc, &ROOT, "filed_on_estimated")?.unwrap_or(false),
            voided: Self::read_voided(doc)?,
        })
    }

    /// The fields the store indexes for listing, escalation rules, statistics and follow-ups, so
    /// those never load a document.
    pub fn summary(&self) -> Result<CaseSummary> {
        Ok(CaseSummary::of(&self.view()?))
    }

    // ----- writing -------------------------------------------------------------------------

    /// Runs `f` as one change: committed with the editor's time if it succeeds, rolled back
    /// entirely if it fails.
    pub(crate) fn change<T>(
        &mut self,
        editor: &Editor,
        what: &str,
        f: impl FnOnce(&mut Case) -> Result<T>,
    ) -> Result<T> {
        check_editor(editor)?;
        match f(self) {
            Ok(value) => {
                self.commit(editor, what);
                Ok(value)
            }
            Err(err) => {
                self.doc.rollback();
                Err(err)
            }
        }
    }

    fn commit(&mut self, editor: &Editor, what: &str) {
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(format!("{what}{BY_SEPARATOR}{}", editor.by))
                .with_time(editor.at.as_second()),
        );
    }

    fn write_fields(&mut self, f: &CaseFields) -> Result<()> {
        let doc = &mut self.doc;
        let worker = need_obj(doc, &ROOT, "worker")?;
        put_opt_text(doc, &worker, "name", &f.name)?;
        if let Some(key) = &f.identity_key {
            put_text(doc, &worker, "identity_key", key.as_str())?;
        }
        if let Some(g) = f.gender {
            put_text(doc, &worker, "gender", g.code())?;
        }
        if let Some(y) = f.birth_year {
            put_i64(doc, &worker, "birth_year", i64::from(y))?;
        }
        put_opt_text(doc, &worker, "employer", &f.employer)?;
        put_opt_text(doc, &worker, "job", &f.job)?;
        put_opt_text(doc, &worker, "phone", &f.phone)?;
        put_opt_text(doc, &worker, "address", &f.address)?;
        put_opt_text(doc, &worker, "region", &f.region)?;

        let household = need_obj(doc, &ROOT, "household")?;
        if let Some(size) = f.household_size {
            put_i64(doc, &household, "size", i64::from(size))?;
        }
        if let Some(list) = &f.exclusions {
            let codes: Vec<&str> = list.iter().map(|e| e.code()).collect();
            put_text(doc, &household, "exclusions", &codes.join(","))?;
        }

        let finances = need_obj(doc, &ROOT, "finances")?;
        for (key, value) in [
            ("annual_income_fen", f.annual_income_fen),
            ("rigid_spending_fen", f.rigid_spending_fen),
            ("hardship_costs_fen", f.hardship_costs_fen),
            ("subsistence_line_fen", f.subsistence_line_fen),
            ("medical_costs_fen", f.medical_costs_fen),
            ("largest_stay_fen", f.largest_stay_fen),
            ("aid_request_fen", f.aid_request_fen),
            ("compensation_fen", f.compensation_fen),
        ] {
            if let Some(v) = value {
                put_i64(doc, &finances, key, v)?;
            }
        }

        let causes = need_obj(doc, &ROOT, "causes")?;
        if let Some(c) = f.primary_cause {
            put_text(doc, &causes, "primary", c.code())?;
        }
        if let Some(list) = &f.secondary_causes {
            let codes: Vec<&str> = list.iter().map(|c| c.code()).collect();
            put_text(doc, &causes, "secondary", &codes.join(","))?;
        }
        put_opt_text(doc, &causes, "other_text", &f.other_cause_text)?;

        let profile = need_obj(doc, &ROOT, "profile")?;
        put_opt_text(doc, &profile, "urgent_needs", &f.urgent_needs)?;
        put_opt_text(doc, &profile, "skills", &f.skills)?;
        put_opt_text(doc, &profile, "employment_wishes", &f.employment_wishes)?;
        put_opt_text(doc, &profile, "state_of_mind", &f.state_of_mind)?;
        Ok(())
    }

    /// Derives the grade again, inside a change being made (for conflict resolutions).
    pub(crate) fn regrade_now(&mut self) -> Result<()> {
        self.regrade()
    }

    /// Grades the case by `standard` (the policy's, in force today) if it was graded by
    /// another: a policy change re-grades a case on its next write. Returns whether it did.
    pub fn apply_standard(&mut self, editor: &Editor, standard: &GradeStandard) -> Result<bool> {
        if Self::read_standard(&self.doc)? == *standard {
            return Ok(false);
        }
        self.change(editor, "case regrade", |case| {
            let obj = need_obj(&case.doc, &ROOT, "grade")?;
            put_i64(
                &mut case.doc,
                &obj,
                "standard_version",
                i64::from(standard.version),
            )?;
            if Some(standard.at_or_below) != get_bool(&case.doc, &obj, "at_or_below")? {
                case.doc.put(&obj, "at_or_below", standard.at_or_below)?;
            }
            put_i64(
                &mut case.doc,
                &obj,
                "relative_percent",
                i64::from(standard.relative_percent),
            )?;
            let codes: Vec<&str> = standard.exclusions.iter().map(|e| e.code()).collect();
            put_text(&mut case.doc, &obj, "exclusions", &codes.join(","))?;
            case.regrade()
        })?;
        Ok(true)
    }

    /// The standard the case was graded by (the built-in one until a policy's is applied).
    fn read_standard(doc: &impl Source) -> Result<GradeStandard> {
        let obj = need_obj(doc, &ROOT, "grade")?;
        let builtin = GradeStandard::builtin();
        let Some(version) = get_i64(doc, &obj, "standard_version")? else {
            return Ok(builtin);
        };
        Ok(GradeStandard {
            version: u32::try_from(version).unwrap_or(0),
            at_or_below: get_bool(doc, &obj, "at_or_below")?.unwrap_or(false),
            relative_percent: get_i64(doc, &obj, "relative_percent")?
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(builtin.relative_percent),
            exclusions: match get_str(doc, &obj, "exclusions")? {
                Some(codes) => parse_codes(&codes)?,
                None => builtin.exclusions,
            },
        })
    }

    /// Derives the grade again from finances, household and the standard the case keeps.
    fn regrade(&mut self) -> Result<()> {
        let inputs = Self::grade_inputs(&self.doc)?;
        let standard = Self::read_standard(&self.doc)?;
        let obj = need_obj(&self.doc, &ROOT, "grade")?;
        match inputs {
            Some(inputs) => {
                let a = assess(&inputs, &standard);
                put_text(&mut self.doc, &obj, "derived", a.grade.code())?;
                put_i64(
                    &mut self.doc,
                    &obj,
                    "per_capita_monthly_fen",
                    a.per_capita_monthly_fen,
                )?;
            }
            None => {
                for key in ["derived", "per_capita_monthly_fen"] {
                    if self.doc.get(&obj, key)?.is_some() {
                        self.doc.delete(&obj, key)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn write_status(
        &mut self,
        editor: &Editor,
        from: Status,
        to: Status,
        reason: &str,
    ) -> Result<()> {
        self.write_status_entry(editor, from, to, reason)
            .map(|_| ())
    }

    fn write_status_entry(
        &mut self,
        editor: &Editor,
        from: Status,
        to: Status,
        reason: &str,
    ) -> Result<ObjId> {
        self.doc.put(ROOT, "status", to.code())?;
        let history = need_obj(&self.doc, &ROOT, "status_history")?;
        let entry = push_map(&mut self.doc, &history)?;
        self.doc.put(&entry, "from", from.code())?;
        self.doc.put(&entry, "to", to.code())?;
        put_text(&mut self.doc, &entry, "reason", reason)?;
        stamp(&mut self.doc, &entry, editor)?;
        Ok(entry)
    }

    // ----- checks --------------------------------------------------------------------------

    fn check_open(&self) -> Result<()> {
        if self.status()? == Status::Closed {
            return Err(ArchiveError::Closed);
        }
        Ok(())
    }

    fn check_ready_to_file(&self) -> Result<()> {
        let worker = Self::read_worker(&self.doc)?;
        let finances = Self::read_finances(&self.doc)?;
        let mut missing = Vec::new();
        if worker.name.is_none() {
            missing.push("name");
        }
        if worker.identity_key.is_none() {
            missing.push("identity number");
        }
        if Self::read_household(&self.doc)?.size.is_none() {
            missing.push("household size");
        }
        if finances.annual_income_fen.is_none() {
            missing.push("annual income");
        }
        if finances.rigid_spending_fen.is_none() {
            missing.push("rigid spending");
        }
        if finances.subsistence_line_fen.is_none() {
            missing.push("subsistence line");
        }
        if Self::read_causes(&self.doc)?.primary.is_none() {
            missing.push("primary cause");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ArchiveError::NotReadyToFile(missing.join(", ")))
        }
    }

    // ----- reading -------------------------------------------------------------------------

    fn grade_inputs(doc: &impl Source) -> Result<Option<GradeInputs>> {
        let f = Self::read_finances(doc)?;
        let household = Self::read_household(doc)?;
        let primary = Self::read_causes(doc)?.primary;
        Ok(
            match (
                f.annual_income_fen,
                f.rigid_spending_fen,
                f.subsistence_line_fen,
                household.size,
                primary,
            ) {
                (Some(income), Some(rigid), Some(line), Some(size), Some(_)) => Some(GradeInputs {
                    annual_income_fen: income,
                    rigid_spending_fen: rigid,
                    hardship_costs_fen: f.hardship_costs_fen.unwrap_or(0),
                    medical_costs_fen: f.medical_costs_fen.unwrap_or(0),
                    compensation_fen: f.compensation_fen.unwrap_or(0),
                    subsistence_line_fen: line,
                    household_size: u32::try_from(size.clamp(1, i64::from(MAX_HOUSEHOLD)))
                        .unwrap_or(1),
                    exclusions: household.exclusions,
                }),
                _ => None,
            },
        )
    }

    fn read_grading(doc: &impl Source) -> Result<Grading> {
        let obj = need_obj(doc, &ROOT, "grade")?;
        let override_ = match get_obj(doc, &obj, "override")? {
            Some(o) => Some(GradeOverride {
                grade: get_code(doc, &o, "grade")?
                    .ok_or_else(|| ArchiveError::Schema("override without a grade".into()))?,
                reason: get_str(doc, &o, "reason")?.unwrap_or_default(),
                by: get_str(doc, &o, "by")?,
                node: get_str(doc, &o, "node")?,
                at: get_timestamp(doc, &o, "at")?,
            }),
            None => None,
        };
        // Grade, figure and basis from one set of values, the ones read now: during a conflict
        // the stored grade may come from one side and the income from the other.
        let standard = Self::read_standard(doc)?;
        let (derived, per_capita_monthly_fen, basis) = match Self::grade_inputs(doc)? {
            Some(inputs) => {
                let a = assess(&inputs, &standard);
                let basis = a.explain(&inputs, &standard);
                (Some(a.grade), Some(a.per_capita_monthly_fen), Some(basis))
            }
            None => (None, None, None),
        };
        Ok(Grading {
            derived,
            per_capita_monthly_fen,
            basis,
            standard,
            override_,
        })
    }

    fn read_worker(doc: &impl Source) -> Result<Worker> {
        let w = need_obj(doc, &ROOT, "worker")?;
        Ok(Worker {
            name: get_str(doc, &w, "name")?,
            gender: get_code(doc, &w, "gender")?,
            birth_year: get_i64(doc, &w, "birth_year")?,
            employer: get_str(doc, &w, "employer")?,
            job: get_str(doc, &w, "job")?,
            phone: get_str(doc, &w, "phone")?,
            address: get_str(doc, &w, "address")?,
            region: get_str(doc, &w, "region")?,
            identity_key: get_str(doc, &w, "identity_key")?,
        })
    }

    fn read_household(doc: &impl Source) -> Result<Household> {
        let h = need_obj(doc, &ROOT, "household")?;
        let members = need_obj(doc, &h, "members")?;
        let members = live_objects(doc, &members)?
            .into_iter()
            .map(|(id, m)| {
                Ok(Member {
                    id,
                    relation: get_str(doc, &m, "relation")?.unwrap_or_default(),
                    age: get_i64(doc, &m, "age")?,
                    health: get_str(doc, &m, "health")?,
                    occupation: get_str(doc, &m, "occupation")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Household {
            size: get_i64(doc, &h, "size")?,
            members,
            exclusions: match get_str(doc, &h, "exclusions")? {
                Some(codes) => parse_codes(&codes)?,
                None => Vec::new(),
            },
        })
    }

    fn read_finances(doc: &impl Source) -> Result<Finances> {
        let f = need_obj(doc, &ROOT, "finances")?;
        Ok(Finances {
            annual_income_fen: get_i64(doc, &f, "annual_income_fen")?,
            rigid_spending_fen: get_i64(doc, &f, "rigid_spending_fen")?,
            hardship_costs_fen: get_i64(doc, &f, "hardship_costs_fen")?,
            subsistence_line_fen: get_i64(doc, &f, "subsistence_line_fen")?,
            monthly_income_fen: doc
                .field_keys(&f)?
                .iter()
                .filter_map(|k| k.strip_prefix(MONTHLY_INCOME).map(str::to_owned))
                .map(|month| {
                    let key = format!("{MONTHLY_INCOME}{month}");
                    Ok((month, get_i64(doc, &f, &key)?.unwrap_or(0)))
                })
                .collect::<Result<_>>()?,
            medical_costs_fen: get_i64(doc, &f, "medical_costs_fen")?,
            largest_stay_fen: get_i64(doc, &f, "largest_stay_fen")?,
            aid_request_fen: get_i64(doc, &f, "aid_request_fen")?,
            compensation_fen: get_i64(doc, &f, "compensation_fen")?,
        })
    }

    fn read_causes(doc: &impl Source) -> Result<Causes> {
        let c = need_obj(doc, &ROOT, "causes")?;
        let secondary = match get_str(doc, &c, "secondary")? {
            None => Vec::new(),
            Some(codes) => codes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|_| ArchiveError::Schema(format!("unknown cause code {s:?}")))
                })
                .collect::<Result<_>>()?,
        };
        Ok(Causes {
            primary: get_code(doc, &c, "primary")?,
            secondary,
            other_text: get_str(doc, &c, "other_text")?,
        })
    }

    fn read_profile(doc: &impl Source) -> Result<Profile> {
        let p = need_obj(doc, &ROOT, "profile")?;
        Ok(Profile {
            urgent_needs: get_str(doc, &p, "urgent_needs")?,
            skills: get_str(doc, &p, "skills")?,
            employment_wishes: get_str(doc, &p, "employment_wishes")?,
            state_of_mind: get_str(doc, &p, "state_of_mind")?,
        })
    }

    fn read_status_history(doc: &impl Source) -> Result<Vec<StatusChange>> {
        let list = need_obj(doc, &ROOT, "status_history")?;
        list_objects(doc, &list)?
            .into_iter()
            .map(|e| {
                Ok(StatusChange {
                    from: get_code(doc, &e, "from")?,
                    to: get_code(doc, &e, "to")?
                        .ok_or_else(|| ArchiveError::Schema("status change without to".into()))?,
                    reason: get_str(doc, &e, "reason")?,
                    by: get_str(doc, &e, "by")?,
                    node: get_str(doc, &e, "node")?,
                    at: get_timestamp(doc, &e, "at")?,
                    merged_from: get_str(doc, &e, "merged_from")?,
                    on: get_date(doc, &e, "on")?,
                    outstanding_reason: get_str(doc, &e, "outstanding_reason")?,
                })
            })
            .collect()
    }

    fn read_escalation(doc: &impl Source) -> Result<Escalation> {
        let e = need_obj(doc, &ROOT, "escalation")?;
        let trail = need_obj(doc, &e, "trail")?;
        let trail = list_objects(doc, &trail)?
            .into_iter()
            .map(|s| {
                Ok(EscalationStep {
                    from: get_str(doc, &s, "from")?,
                    to: get_str(doc, &s, "to")?,
                    reason: get_str(doc, &s, "reason")?,
                    by: get_str(doc, &s, "by")?,
                    at: get_timestamp(doc, &s, "at")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Escalation {
            target_level: get_code(doc, &e, "target_level")?,
            trail,
        })
    }

    fn read_approvals(doc: &impl Source) -> Result<Vec<Approval>> {
        let list = need_obj(doc, &ROOT, "approvals")?;
        list_objects(doc, &list)?
            .into_iter()
            .map(|a| {
                Ok(Approval {
                    step: get_str(doc, &a, "step")?,
                    node: get_str(doc, &a, "node")?,
                    decision: get_str(doc, &a, "decision")?,
                    by: get_str(doc, &a, "by")?,
                    at: get_timestamp(doc, &a, "at")?,
                    note: get_str(doc, &a, "note")?,
                    merged_from: get_str(doc, &a, "merged_from")?,
                    id: get_str(doc, &a, "id")?,
                    date: get_date(doc, &a, "date")?,
                    until: get_date(doc, &a, "until")?,
                    result: get_code(doc, &a, "result")?,
                    checker: get_str(doc, &a, "checker")?,
                    kind: get_code(doc, &a, "kind")?,
                    amount_fen: get_i64(doc, &a, "amount_fen")?,
                    level: get_code(doc, &a, "level")?,
                })
            })
            .collect()
    }

    fn read_assistance(doc: &impl Source) -> Result<Vec<Assistance>> {
        let map = need_obj(doc, &ROOT, "assistance")?;
        dated_records(doc, &map, |id, a| {
            Ok(Assistance {
                kind: need(get_code(doc, &a, "kind")?, "assistance kind")?,
                amount_fen: need(get_i64(doc, &a, "amount_fen")?, "assistance amount")?,
                date: need(get_date(doc, &a, "date")?, "assistance date")?,
                paying_node: get_str(doc, &a, "paying_node")?,
                approving_node: get_str(doc, &a, "approving_node")?,
                note: get_str(doc, &a, "note")?,
                by: get_str(doc, &a, "by")?,
                node: get_str(doc, &a, "node")?,
                at: get_timestamp(doc, &a, "at")?,
                merged_from: get_str(doc, &a, "merged_from")?,
                merged_node: get_str(doc, &a, "merged_node")?,
                approval: get_str(doc, &a, "approval")?,
                corrects: get_str(doc, &a, "corrects")?,
                id,
            })
        })
    }

    /// The records voided, with what each was, oldest void first.
    fn read_voided(doc: &impl Source) -> Result<Vec<VoidedRecord>> {
        let mut out = Vec::new();
        for path in VOIDABLE {
            let map = path_obj(doc, path)?;
            for (id, o) in map_objects(doc, &map)? {
                let Some(reason) = get_str(doc, &o, "voided_reason")? else {
                    continue;
                };
                let date = get_date(doc, &o, "date")?
                    .map(|d| format!(" on {d}"))
                    .unwrap_or_default();
                let what = match path[path.len() - 1] {
                    "assistance" => format!(
                        "aid 帮扶 {} {}{date}",
                        get_code::<AssistanceKind>(doc, &o, "kind")?
                            .map(|k| k.label())
                            .unwrap_or_default(),
                        get_i64(doc, &o, "amount_fen")?
                            .map(format_yuan)
                            .unwrap_or_default()
                    ),
                    "visits" => format!(
                        "visit 走访 {}{date}",
                        get_code::<VisitKind>(doc, &o, "kind")?
                            .map(|k| k.label())
                            .unwrap_or_default()
                    ),
                    "reviews" => format!(
                        "review 年审 {}{date}",
                        get_code::<ReviewResult>(doc, &o, "result")?
                            .map(|k| k.label())
                            .unwrap_or_default()
                    ),
                    _ => format!(
                        "household member 家庭成员 {}",
                        get_str(doc, &o, "relation")?.unwrap_or_default()
                    ),
                };
                out.push(VoidedRecord {
                    id,
                    what,
                    reason,
                    by: get_str(doc, &o, "voided_by")?,
                    node: get_str(doc, &o, "node")?,
                    at: get_timestamp(doc, &o, "voided_at")?,
                });
            }
        }
        out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(out)
    }

    fn read_loans(doc: &impl Source) -> Result<Vec<Loan>> {
        let map = need_obj(doc, &ROOT, "loans")?;
        dated_records(doc, &map, |id, l| {
            let reps = need_obj(doc, &l, "repayments")?;
            let repayments = dated_records(doc, &reps, |id, r| {
                Ok(Repayment {
                    amount_fen: need(get_i64(doc, &r, "amount_fen")?, "repayment amount")?,
                    date: need(get_date(doc, &r, "date")?, "repayment date")?,
                    note: get_str(doc, &r, "note")?,
                    id,
                })
            })?;
            let principal_fen = need(get_i64(doc, &l, "principal_fen")?, "loan principal")?;
            let repaid_fen = repayments.iter().map(|r| r.amount_fen).sum();
            Ok(Loan {
                principal_fen,
                date: need(get_date(doc, &l, "date")?, "loan date")?,
                due_date: get_date(doc, &l, "due_date")?,
                note: get_str(doc, &l, "note")?,
                repayments,
                repaid_fen,
                outstanding_fen: principal_fen - repaid_fen,
                override_reason: get_str(doc, &l, "override_reason")?,
                id,
            })
        })
    }

    fn read_visits(doc: &impl Source) -> Result<Vec<Visit>> {
        let map = need_obj(doc, &ROOT, "visits")?;
        dated_records(doc, &map, |id, v| {
            Ok(Visit {
                date: need(get_date(doc, &v, "date")?, "visit date")?,
                kind: need(get_code(doc, &v, "kind")?, "visit kind")?,
                visitor: get_str(doc, &v, "visitor")?,
                notes: get_str(doc, &v, "notes")?,
                consent: get_bool(doc, &v, "consent")?.unwrap_or(false),
                id,
            })
        })
    }

    fn read_reviews(doc: &impl Source) -> Result<Vec<Review>> {
        let map = need_obj(doc, &ROOT, "reviews")?;
        dated_records(doc, &map, |id, r| {
            Ok(Review {
                date: need(get_date(doc, &r, "date")?, "review date")?,
                result: need(get_code(doc, &r, "result")?, "review result")?,
                reviewer: get_str(doc, &r, "reviewer")?,
                notes: get_str(doc, &r, "notes")?,
                id,
            })
        })
    }
}

/// Checks field values on their own and against the causes the case already has.
fn validate_fields(f: &CaseFields, current: &Causes) -> Result<()> {
    if let Some(name) = &f.name
        && (name.trim().is_empty() || name.chars().count() > NAME)
    {
        return Err(invalid(
            "name",
            "give the worker's name, at most 64 characters",
        ));
    }
    check_opt_line("name", f.name.as_deref(), NAME)?;
    check_opt_line("employer", f.employer.as_deref(), SHORT)?;
    check_opt_line("job", f.job.as_deref(), SHORT)?;
    check_opt_line("phone", f.phone.as_deref(), SHORT)?;
    check_opt_line("address", f.address.as_deref(), ADDRESS)?;
    check_opt_notes("other cause", f.other_cause_text.as_deref(), REASON)?;
    check_opt_notes("urgent needs", f.urgent_needs.as_deref(), NOTES)?;
    check_opt_notes("skills", f.skills.as_deref(), NOTES)?;
    check_opt_notes("employment wishes", f.employment_wishes.as_deref(), NOTES)?;
    check_opt_notes("state of mind", f.state_of_mind.as_deref(), NOTES)?;
    if let Some(size) = f.household_size
        && !(1..=MAX_HOUSEHOLD).contains(&size)
    {
        return Err(invalid(
            "household size",
            &format!("must be from 1 to {MAX_HOUSEHOLD} people living together"),
        ));
    }
    if let Some(year) = f.birth_year
        && !(1900..=2100).contains(&year)
    {
        return Err(invalid("birth year", "write the year of birth, e.g. 1975"));
    }
    let primary = f.primary_cause.or(current.primary);
    let secondary = f.secondary_causes.as_ref().unwrap_or(&current.secondary);
    if secondary.len() > MAX_SECONDARY_CAUSES {
        return Err(invalid(
            "causes",
            &format!(
                "a case has one primary and at most {MAX_SECONDARY_CAUSES} secondary causes, got {} secondary",
                secondary.len()
            ),
        ));
    }
    for (i, c) in secondary.iter().enumerate() {
        if Some(*c) == primary || secondary[..i].contains(c) {
            return Err(invalid(
                "causes",
                &format!("cause {} is given twice", c.code()),
            ));
        }
    }
    let other_used = primary == Some(Cause::Other) || secondary.contains(&Cause::Other);
    let other_text = f.other_cause_text.as_ref().or(current.other_text.as_ref());
    if other_used && other_text.is_none_or(|t| t.trim().is_empty()) {
        return Err(invalid(
            "causes",
            "cause other needs a description of the cause",
        ));
    }
    Ok(())
}

/// The participants of a case document, read from the raw document (the sync layer's scope
/// rule uses this on documents it has not wrapped as a [`Case`]).
pub fn participants_of(doc: &AutoCommit) -> Result<Vec<String>> {
    match get_str(doc, &ROOT, "kind")?.as_deref() {
        Some("case") => Ok(doc.keys(need_obj(doc, &ROOT, "participants")?).collect()),
        _ => Err(ArchiveError::Schema("kind is not case".into())),
    }
}

/// Reads a map of records keyed by id, oldest first (by date, then id).
fn dated_records<T: Dated>(
    doc: &impl Source,
    map: &ObjId,
    build: impl Fn(String, ObjId) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = live_objects(doc, map)?
        .into_iter()
        .map(|(id, obj)| build(id, obj))
        .collect::<Result<Vec<T>>>()?;
    out.sort_by(|a, b| a.order().cmp(&b.order()));
    Ok(out)
}

/// Where the records that may be voided are.
const VOIDABLE: [&[&str]; 4] = [
    &["assistance"],
    &["visits"],
    &["reviews"],
    &["household", "members"],
];

/// The map at `path` from the root.
fn path_obj(doc: &impl Source, path: &[&str]) -> Result<ObjId> {
    path.iter()
        .try_fold(ROOT, |obj, key| need_obj(doc, &obj, key))
}

/// The records of a map that are not voided.
fn live_objects(doc: &impl Source, map: &ObjId) -> Result<Vec<(String, ObjId)>> {
    let mut live = Vec::new();
    for (id, obj) in map_objects(doc, map)? {
        if get_str(doc, &obj, "voided_reason")?.is_none() {
            live.push((id, obj));
        }
    }
    Ok(live)
}

fn pick_loan<'a>(loans: &'a [Loan], wanted: Option<&str>) -> Result<&'a Loan> {
    match wanted {
        Some(prefix) => {
            let hits: Vec<&Loan> = loans.iter().filter(|l| l.id.starts_with(prefix)).collect();
            match hits.as_slice() {
                [one] => Ok(one),
                [] => Err(ArchiveError::NoSuchRecord {
                    what: "loan",
                    id: prefix.into(),
                }),
                _ => Err(invalid(
                    "loan",
                    &format!("{prefix:?} matches several loans; give more of the id"),
                )),
            }
        }
        None => {
            let open: Vec<&Loan> = loans.iter().filter(|l| l.outstanding_fen > 0).collect();
            match open.as_slice() {
                [one] => Ok(one),
                [] => Err(invalid(
                    "loan",
                    "this case has no loan with money outstanding",
                )),
                _ => Err(invalid(
                    "loan",
                    "this case has several open loans; name the one repaid",
                )),
            }
        }
    }
}

/// One change of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// What was done, e.g. `assist add`, `case file`, `conflict resolve ID`.
    pub what: String,
    /// The person, as the change names them.
    pub by: Option<String>,
    /// The node that wrote it.
    pub node: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
}

/// Between what a change did and who did it, in the change's message: `case edit — by 张敏`.
const BY_SEPARATOR: &str = " — by ";

/// The person a change's message names: `case edit — by 张敏` (a case change), or
/// `conflict resolve ID by 张敏: …` (a resolution).
pub fn person_of_message(message: &str) -> Option<String> {
    if let Some((_, by)) = message.rsplit_once(BY_SEPARATOR) {
        return Some(by.to_owned());
    }
    let rest = message.strip_prefix("conflict resolve ")?;
    let (_, after) = rest.split_once(" by ")?;
    Some(
        after
            .split_once(": ")
            .map_or(after, |(by, _)| by)
            .to_owned(),
    )
}

/// Parses a comma-separated list of codes as stored.
fn parse_codes<T: std::str::FromStr>(codes: &str) -> Result<Vec<T>> {
    codes
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| ArchiveError::Schema(format!("unknown code {c:?}")))
        })
        .collect()
}

/// Where in the document the fields the grade is computed from are (dotted paths, as conflicts
/// name them): a conflict on one of them makes the grade one side's.
pub const GRADE_INPUT_PATHS: &[&str] = &[
    "finances.annual_income_fen",
    "finances.rigid_spending_fen",
    "finances.hardship_costs_fen",
    "finances.medical_costs_fen",
    "finances.compensation_fen",
    "finances.subsistence_line_fen",
    "household.size",
];

/// Key prefix of monthly income entries in the finances map.
const MONTHLY_INCOME: &str = "income:";

/// Parses `YYYY-MM`.
pub fn parse_month(text: &str) -> Result<(i16, i8)> {
    let bad = || ArchiveError::Invalid {
        field: "month",
        reason: format!("{text:?} is not a month; write it as YYYY-MM, e.g. 2026-05"),
    };
    let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
    let year: i16 = y.parse().map_err(|_| bad())?;
    let month: i8 = m.parse().map_err(|_| bad())?;
    if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) || !(1900..=2100).contains(&year)
    {
        return Err(bad());
    }
    Ok((year, month))
}

fn stamp(doc: &mut AutoCommit, obj: &ObjId, editor: &Editor) -> Result<()> {
    put_text(doc, obj, "by", &editor.by)?;
    put_text(doc, obj, "node", &editor.node)?;
    put_timestamp(doc, obj, "at", editor.at)
}

fn put_opt_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: &Option<String>,
) -> Result<()> {
    match value {
        Some(v) => put_text(doc, obj, key, v),
        None => Ok(()),
    }
}

/// Checks who makes a change (`by`): one line, a person's name.
pub(crate) fn check_editor(editor: &Editor) -> Result<()> {
    check_line("by", &editor.by, NAME)
}

/// Checks a reason or note typed for a decision, a status change or an escalation.
pub(crate) fn check_notes_field(field: &'static str, value: &str) -> Result<()> {
    crate::text::check_notes(field, value, REASON)
}

fn need<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| ArchiveError::Schema(format!("{what} is missing")))
}

fn invalid(field: &'static str, reason: &str) -> ArchiveError {
    ArchiveError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

fn positive(field: &'static str, fen: i64) -> Result<()> {
    if fen <= 0 {
        return Err(invalid(field, "must be more than zero"));
    }
    Ok(())
}

/// Refuses a date after the editor's today: things are recorded once they happened.
pub fn not_future(field: &'static str, date: Date, editor: &Editor) -> Result<()> {
    if date > editor.today {
        return Err(invalid(
            field,
            &format!(
                "{date} is in the future (today is {}); record things once they happened",
                editor.today
            ),
        ));
    }
    Ok(())
}
