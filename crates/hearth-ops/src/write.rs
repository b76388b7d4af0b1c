//! Writing to one case: the [`Write`]s a caseworker makes, each checked completely before
//! anything is written, and once per request key.

use hearth_archive::form::{parse_date, parse_number};
use hearth_archive::grade::GradeStandard;
use hearth_archive::ledger::{Entry, LedgerView};
use hearth_archive::listing::Sort;
use hearth_archive::money::{format_yuan, parse_positive_yuan};
use hearth_archive::record::ledger_id;
use hearth_archive::{
    ArchiveError, AssistanceKind, Case, CaseForm, CaseSummary, CaseView, Cause, ChainStep,
    CheckResult, Decision, Document, Editor, Grade, Level, NewAidApproval, NewAssistance, NewLoan,
    NewMember, NewRepayment, NewReview, NewStep, NewVisit, ReviewResult, Status, StatusMove,
    VisitKind,
};

use crate::funds::stamp;
use crate::policy::policy_in_force;
use crate::{Cases, Ctx, Ids, OpError, Place, Result, not_a_record};

/// Fills the subsistence line from the policy in force today when a region is given without a
/// line and the policy has one for it.
fn with_policy_line(
    policy: &hearth_archive::Policy,
    mut fields: hearth_archive::CaseFields,
) -> hearth_archive::CaseFields {
    if let (Some(region), None) = (&fields.region, fields.subsistence_line_fen) {
        fields.subsistence_line_fen = policy.subsistence_lines_fen.get(region).copied();
    }
    fields
}

/// Changes case `id` with `f`, first grading it by `standard` (the policy's in force today)
/// if another graded it: a policy change re-grades a case on its next write.
fn edit<T>(
    cases: &mut impl Cases,
    id: &str,
    editor: &Editor,
    standard: &GradeStandard,
    f: impl FnOnce(&mut Case) -> Result<T>,
) -> Result<T> {
    cases.update(id, |c| {
        c.apply_standard(editor, standard)?;
        f(c)
    })
}

/// Resolves `prefix` and changes that case with `f` ([`edit`]); returns the case as it is
/// afterwards.
fn change<T>(
    cases: &mut impl Cases,
    prefix: &str,
    editor: &Editor,
    standard: &GradeStandard,
    f: impl FnOnce(&mut Case) -> hearth_archive::error::Result<T>,
) -> Result<CaseView> {
    let id = cases.resolve(prefix)?;
    edit(cases, &id, editor, standard, |c| {
        f(c)?;
        Ok(c.view()?)
    })
}

/// A change to one case (or a new case), as typed. Case ids may be unique prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Write {
    /// Open a case; needs at least the name.
    NewCase { form: CaseForm },
    /// Change fields of a case.
    EditCase { case: String, form: CaseForm },
    /// Submit a case for filing once its chain is complete, and report it to the parent, whose
    /// approval files it; a household not eligible only with `override_reason`.
    FileCase {
        case: String,
        via: Option<String>,
        override_reason: Option<String>,
    },
    /// Record a step of the filing chain (`grassroots_review`, `civil_check`, `notice`,
    /// `objection`), on `date` (default today).
    Step {
        case: String,
        step: String,
        date: Option<String>,
        result: Option<String>,
        checker: Option<String>,
        note: Option<String>,
    },
    /// Approve aid above the paying level's authority, here (where the authority covers it).
    ApproveAid {
        case: String,
        kind: String,
        amount: String,
        note: Option<String>,
    },
    /// Move a case to another status (effective `on` a past day if given; closing with loans
    /// outstanding needs `outstanding_reason`).
    Transition {
        case: String,
        to: String,
        reason: String,
        on: Option<String>,
        outstanding_reason: Option<String>,
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
    /// Record a loan, lent from this node's fund (`override_reason` where the rules say no).
    AddLoan {
        case: String,
        amount: String,
        date: String,
        due: String,
        note: Option<String>,
        override_reason: Option<String>,
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
    /// Void (作废) an aid, visit, review or household member record recorded here, with the
    /// reason; voided aid paid from this node's fund is paid back into it (a reversal entry).
    Void {
        case: String,
        record: String,
        reason: String,
    },
    /// Correct an aid record recorded here: it is voided with the reason and a new one made,
    /// with the values given and the old one's for the rest, in one write (the fund's reversal
    /// and new payment with it).
    CorrectAid {
        case: String,
        record: String,
        reason: String,
        kind: Option<String>,
        amount: Option<String>,
        date: Option<String>,
        note: Option<String>,
    },
}

/// The writes that carry `case` through the filing chain at its home and submit it, every step
/// on `day`: the grassroots review, a home visit with consent, a civil-affairs check that
/// matched, a public notice (which must have ended before the submission is made, so `day`
/// lies far enough back), the submission. For demos, benchmarks and tests.
pub fn chain_writes(case: &str, day: jiff::civil::Date) -> Vec<Write> {
    let step = |step: &str, result: Option<&str>| Write::Step {
        case: case.into(),
        step: step.into(),
        date: Some(day.to_string()),
        result: result.map(str::to_owned),
        checker: Some("民政局 核对员".into()),
        note: None,
    };
    vec![
        step("grassroots_review", None),
        Write::AddVisit {
            case: case.into(),
            date: day.to_string(),
            kind: "home".into(),
            visitor: Some("工会干事".into()),
            notes: None,
            consent: true,
        },
        step("civil_check", Some("matched")),
        step("notice", None),
        Write::FileCase {
            case: case.into(),
            via: None,
            override_reason: None,
        },
    ]
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

impl Written {
    /// A case read, not written.
    pub fn read(case: CaseView) -> Written {
        Written {
            case,
            record: None,
            loan: None,
            reported_to: None,
            repeated: false,
        }
    }
}

/// The parent a case is reported to: `via` if given (it must be a parent), else the only
/// parent; `None` at a node with no parent.
pub fn parent_for(place: &Place, via: Option<&str>) -> Result<Option<String>> {
    let parents: Vec<&str> = place.parents.iter().map(String::as_str).collect();
    match (via, parents.as_slice()) {
        (Some(v), _) if parents.contains(&v) => Ok(Some(v.to_owned())),
        (Some(v), []) => Err(OpError::input(format!(
            "{v} is not a parent: this node has no parent"
        ))),
        (Some(v), _) => Err(OpError::input(format!(
            "{v} is not a parent of this node; its parents are {}",
            parents.join(", ")
        ))),
        (None, []) => Ok(None),
        (None, [one]) => Ok(Some((*one).to_owned())),
        (None, many) => Err(OpError::input(format!(
            "this node has several parents ({}); say which to report to",
            many.join(", ")
        ))),
    }
}

/// One household, one file: refuses a second file for a household already on file here.
fn check_one_file(
    cases: &mut impl Cases,
    key: Option<&str>,
    this_case: Option<&str>,
) -> Result<()> {
    match key {
        None => Ok(()),
        Some(key) => Ok(hearth_archive::identity::one_file(
            &cases.with_identity(key)?,
            this_case,
        )?),
    }
}

pub(crate) fn parse_opt<T: std::str::FromStr<Err = ArchiveError>>(
    text: Option<&str>,
) -> Result<Option<T>> {
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
    /// A name or part of it, a case id prefix, a phone number or part of it (four digits or
    /// more), or — with the federation salt at hand — an ID number, matched by its identity key.
    pub text: Option<String>,
    /// The order of the listing: `opened` (oldest first, the default), `name`, `status`,
    /// `grade` (deepest first), `filed` (earliest filing day first) or `aid` (most aid first).
    pub sort: Option<String>,
}

/// The cases held, oldest first, from the listing index (no document is loaded).
pub fn list(cases: &mut impl Cases, filter: &ListFilter) -> Result<Vec<CaseSummary>> {
    search(cases, None, filter)
}

/// [`list`], where a text that is an ID number is matched by its identity key under `salt`.
pub fn search(
    cases: &mut impl Cases,
    salt: Option<&hearth_archive::FederationSalt>,
    filter: &ListFilter,
) -> Result<Vec<CaseSummary>> {
    let keep = case_filter(salt, filter)?;
    let mut found = Vec::new();
    cases.scan(Sort::Opened, None, &mut |_, c| {
        if keep.matches(&c) {
            found.push(c);
        }
        true
    })?;
    Ok(found)
}

/// What a [`ListFilter`] lets through, parsed once.
pub(crate) struct CaseFilter {
    status: Option<Status>,
    grade: Option<Grade>,
    cause: Option<Cause>,
    /// The identity key of a text that is an ID number.
    key: Option<String>,
    /// The text in lower case.
    lower: Option<String>,
    /// The text's digits, if it is a phone number (or part of one) of four digits or more.
    phone: Option<String>,
}

/// The digits of a text, as a phone number is compared (spaces and dashes left out).
fn digits(t: &str) -> String {
    t.chars().filter(char::is_ascii_digit).collect()
}

/// Parses `filter`; a text that is an ID number is taken by its identity key under `salt`.
pub(crate) fn case_filter(
    salt: Option<&hearth_archive::FederationSalt>,
    filter: &ListFilter,
) -> Result<CaseFilter> {
    let text = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let key = match (text, salt) {
        (Some(t), Some(salt)) => hearth_archive::IdNumber::parse(t)
            .ok()
            .map(|id| id.identity_key(salt).as_str().to_owned()),
        _ => None,
    };
    let phone = text
        .filter(|t| {
            t.chars()
                .all(|ch| ch.is_ascii_digit() || " -+()".contains(ch))
        })
        .map(digits)
        .filter(|d| d.len() >= 4);
    Ok(CaseFilter {
        status: parse_opt(filter.status.as_deref())?,
        grade: parse_opt(filter.grade.as_deref())?,
        cause: parse_opt(filter.cause.as_deref())?,
        key,
        lower: text.map(str::to_lowercase),
        phone,
    })
}

impl CaseFilter {
    /// The identity key the filter's text is, if it is an ID number.
    pub(crate) fn identity_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether `c` passes.
    pub(crate) fn matches(&self, c: &CaseSummary) -> bool {
        let text = match (&self.key, &self.lower) {
            (Some(key), _) => c.identity_key.as_deref() == Some(key.as_str()),
            (None, Some(t)) => {
                c.id.starts_with(t.as_str())
                    || c.name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(t.as_str()))
                    || self.phone.as_deref().is_some_and(|p| {
                        c.phone
                            .as_deref()
                            .is_some_and(|have| digits(have).contains(p))
                    })
            }
            (None, None) => true,
        };
        text && self.status.is_none_or(|s| c.status == s)
            && self.grade.is_none_or(|g| c.grade == Some(g))
            && self.cause.is_none_or(|k| c.has_cause(k))
    }
}

/// Carries out one write.
pub fn write(cases: &mut impl Cases, ctx: &Ctx<'_>, write: Write) -> Result<Written> {
    write_with(cases, ctx, RecordIds::new(None, ctx), write)
}

/// Ids of the records a write adds: random, or — for a write under a request key — derived
/// from the key, so that the answer to a repeated write names the record the first one added.
pub(crate) struct RecordIds<'k> {
    key: Option<&'k str>,
    made: u32,
    fresh: &'k dyn Ids,
}

impl<'k> RecordIds<'k> {
    pub(crate) fn new(key: Option<&'k str>, ctx: &Ctx<'k>) -> RecordIds<'k> {
        RecordIds {
            key,
            made: 0,
            fresh: ctx.ids,
        }
    }

    /// The next id: 8 hex digits.
    pub(crate) fn next(&mut self) -> String {
        use sha2::{Digest, Sha256};
        let bytes: [u8; 4] = match self.key {
            None => {
                let fresh = self.fresh.fresh();
                [fresh[0], fresh[1], fresh[2], fresh[3]]
            }
            Some(key) => {
                let mut hash = Sha256::new();
                hash.update(b"hearth/record-id/v1\0");
                hash.update(key.as_bytes());
                hash.update(self.made.to_be_bytes());
                self.made += 1;
                let h = hash.finalize();
                [h[0], h[1], h[2], h[3]]
            }
        };
        crate::hex(&bytes)
    }
}

fn write_with(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    mut ids: RecordIds<'_>,
    write: Write,
) -> Result<Written> {
    let editor = ctx.editor();
    let today = policy_in_force(cases, editor.today)?;
    let standard = today.standard();
    let std = &standard;
    let mut record = None;
    let mut loan_repaid = None;
    let mut reported_to = None;
    let view = match write {
        Write::NewCase { form } => {
            if form.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(OpError::input(
                    "a new case needs at least the worker's name",
                ));
            }
            let fields = with_policy_line(&today, form.parse(ctx.salt)?);
            fields.validate()?;
            check_one_file(
                cases,
                fields.identity_key.as_ref().map(|k| k.as_str()),
                None,
            )?;
            let bound = hearth_archive::BoundId::new(&ctx.place.node_id, &ctx.nonce());
            let id = bound.id();
            let mut case = Case::create(&bound, cases.actor(), &editor, &fields)?;
            case.apply_standard(&editor, std)?;
            cases.create(&mut std::iter::once(Ok(case)))?;
            cases.read(&id, |c| Ok(c.view()?))?
        }
        Write::EditCase { case, form } => {
            let fields = with_policy_line(&today, form.parse(ctx.salt)?);
            let id = cases.resolve(&case)?;
            check_one_file(
                cases,
                fields.identity_key.as_ref().map(|k| k.as_str()),
                Some(&id),
            )?;
            edit(cases, &id, &editor, std, |c| {
                c.edit(&editor, &fields)?;
                Ok(c.view()?)
            })?
        }
        Write::FileCase {
            case,
            via,
            override_reason,
        } => {
            let parent = parent_for(ctx.place, via.as_deref())?;
            let id = cases.resolve(&case)?;
            let (view, reported) = edit(cases, &id, &editor, std, |c| {
                c.submit(&editor, override_reason.as_deref())?;
                let mut reported = None;
                if let Some(parent) = parent
                    && !c.participants()?.contains(&parent)
                {
                    c.report_to(
                        &editor,
                        &parent,
                        "submitted for approval: reported to the parent union",
                    )?;
                    reported = Some(parent);
                }
                Ok((c.view()?, reported))
            })?;
            reported_to = reported;
            view
        }
        Write::Step {
            case,
            step,
            date,
            result,
            checker,
            note,
        } => {
            let step = NewStep {
                step: step.parse::<ChainStep>()?,
                date: match date.as_deref().filter(|d| !d.trim().is_empty()) {
                    Some(d) => parse_date("date", d)?,
                    None => editor.today,
                },
                result: parse_opt::<CheckResult>(result.as_deref())?,
                checker,
                note,
            };
            let rules = today.chain_rules();
            change(cases, &case, &editor, std, |c| {
                c.record_step(&editor, &step, rules).map(|_| ())
            })?
        }
        Write::ApproveAid {
            case,
            kind,
            amount,
            note,
        } => {
            let approval = NewAidApproval {
                id: ids.next(),
                kind: kind.parse::<AssistanceKind>()?,
                amount_fen: parse_positive_yuan("amount", &amount)?,
                level: ctx.place.level,
                note,
            };
            today.check_aid_authority(ctx.place.level, approval.amount_fen)?;
            let id = cases.resolve(&case)?;
            let home = cases.read(&id, |c| Ok(c.home()?))?;
            if home.as_deref() == Some(ctx.place.node_id.as_str()) {
                return Err(OpError::input(
                    "aid above a node's authority is approved by a level above the case's home, not by the home itself",
                ));
            }
            record = Some(approval.id.clone());
            edit(cases, &id, &editor, std, |c| {
                c.approve_aid(&editor, &approval)?;
                Ok(c.view()?)
            })?
        }
        Write::Transition {
            case,
            to,
            reason,
            on,
            outstanding_reason,
        } => {
            let m = StatusMove {
                to: to.parse()?,
                reason,
                on: on
                    .as_deref()
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| parse_date("date", d))
                    .transpose()?,
                outstanding_reason,
            };
            change(cases, &case, &editor, std, |c| {
                c.transition_with(&editor, &m)
            })?
        }
        Write::Grade { case, set, reason } => {
            let grade: Option<Grade> = parse_opt(set.as_deref())?;
            let reason = reason.unwrap_or_default();
            change(cases, &case, &editor, std, |c| {
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
            if level <= ctx.place.level {
                return Err(OpError::input(format!(
                    "this node is already at level {}; escalate to a higher level",
                    ctx.place.level.label()
                )));
            }
            let parent = parent_for(ctx.place, via.as_deref())?.ok_or_else(|| {
                OpError::input("this node has no parent to report to; add one as a peer first")
            })?;
            let id = cases.resolve(&case)?;
            let (view, reported) = edit(cases, &id, &editor, std, |c| {
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
            change(cases, &case, &editor, std, |c| {
                c.add_member(&editor, &member)
            })?
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
            let here = ctx.place.node_id.clone();
            let paying_node = paying_node.filter(|p| !p.trim().is_empty());
            let paid_here = paying_node.as_deref().is_none_or(|p| p == here);
            let mut aid = NewAssistance {
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
            let before = cases.read(&id, |c| Ok(c.view()?))?;
            let approval = policy.check_aid(&before, &aid, ctx.place.level)?;
            if let Some(a) = approval.as_deref()
                && aid.approving_node.is_none()
            {
                aid.approving_node = before
                    .approvals
                    .iter()
                    .find(|x| x.id.as_deref() == Some(a))
                    .and_then(|x| x.node.clone());
            }
            let approval = approval.as_deref();
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
                let ids = &mut ids;
                from_fund(cases, ctx, &id, aid.amount_fen, "pays", |c| {
                    c.apply_standard(&editor, std)?;
                    c.add_assistance_approved(&editor, &aid, approval)?;
                    Ok((entry, ids.next()))
                })?
            } else {
                edit(cases, &id, &editor, std, |c| {
                    c.add_assistance_approved(&editor, &aid, approval)?;
                    Ok(c.view()?)
                })?
            }
        }
        Write::Void {
            case,
            record: prefix,
            reason,
        } => {
            let id = cases.resolve(&case)?;
            let before = cases.read(&id, |c| Ok(c.view()?))?;
            let aid = unique_aid(&before, &prefix)?;
            match aid.filter(|a| paid_from_here(a, ctx)) {
                Some(aid) => {
                    let reversal = reversal_of(&id, &aid, &reason, &editor);
                    let entry_id = ids.next();
                    let ledger = ledger_id(&ctx.place.node_id);
                    cases.update_many(&[&id, &ledger], &editor, |docs| {
                        let [Document::Case(c), Document::Record(ledger)] = docs else {
                            return Err(not_a_record(&ledger));
                        };
                        c.apply_standard(&editor, std)?;
                        let voided = c.void_record(&editor, &aid.id, &reason)?;
                        if drew_on(&ledger.entries()?, &aid.id) {
                            ledger.put_entry(&editor, &entry_id, &reversal)?;
                        }
                        record = Some(voided.id);
                        Ok(c.view()?)
                    })?
                }
                None => edit(cases, &id, &editor, std, |c| {
                    record = Some(c.void_record(&editor, &prefix, &reason)?.id);
                    Ok(c.view()?)
                })?,
            }
        }
        Write::CorrectAid {
            case,
            record: prefix,
            reason,
            kind,
            amount,
            date,
            note,
        } => {
            let id = cases.resolve(&case)?;
            let before = cases.read(&id, |c| Ok(c.view()?))?;
            let Some(old) = unique_aid(&before, &prefix)? else {
                return Err(OpError::NotFound(format!(
                    "no aid record {prefix:?} in case {id}"
                )));
            };
            let aid = NewAssistance {
                id: ids.next(),
                kind: match kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
                    Some(k) => k.parse::<AssistanceKind>()?,
                    None => old.kind,
                },
                amount_fen: match amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                    Some(a) => parse_positive_yuan("amount", a)?,
                    None => old.amount_fen,
                },
                date: match date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    Some(d) => parse_date("date", d)?,
                    None => old.date,
                },
                paying_node: old.paying_node.clone(),
                approving_node: old.approving_node.clone(),
                note: note.filter(|n| !n.trim().is_empty()).or(old.note.clone()),
            };
            record = Some(aid.id.clone());
            // The rules see the case as it will be: without the record corrected.
            let mut without = before.clone();
            without.assistance.retain(|a| a.id != old.id);
            without.assistance_total_fen -= old.amount_fen;
            let policy = policy_in_force(cases, aid.date)?;
            let approval = policy.check_aid(&without, &aid, ctx.place.level)?;
            let approval = approval.as_deref();
            let corrects = old.id.clone();
            if paid_from_here(&old, ctx) {
                let reversal = reversal_of(&id, &old, &reason, &editor);
                let payment = Entry::Disbursement {
                    date: aid.date,
                    amount_fen: aid.amount_fen,
                    kind: aid.kind,
                    case: id.clone(),
                    assistance: aid.id.clone(),
                    stamp: stamp(&editor),
                };
                let (back_id, paid_id) = (ids.next(), ids.next());
                let here = ctx.place.node_id.clone();
                let ledger = ledger_id(&here);
                cases.update_many(&[&id, &ledger], &editor, |docs| {
                    let [Document::Case(c), Document::Record(ledger)] = docs else {
                        return Err(not_a_record(&ledger));
                    };
                    c.apply_standard(&editor, std)?;
                    c.void_record(&editor, &corrects, &reason)?;
                    c.add_assistance_correcting(&editor, &aid, approval, Some(&corrects))?;
                    let entries = ledger.entries()?;
                    let back = if drew_on(&entries, &old.id) {
                        old.amount_fen
                    } else {
                        0
                    };
                    let balance = LedgerView::of(&here, aid.date.year(), entries).balance_fen;
                    if balance + back < aid.amount_fen {
                        return Err(OpError::input(format!(
                            "the fund of {here} holds {}, less than the {} the correction pays; record income first",
                            format_yuan(balance + back),
                            format_yuan(aid.amount_fen)
                        )));
                    }
                    if back > 0 {
                        ledger.put_entry(&editor, &back_id, &reversal)?;
                    }
                    ledger.put_entry(&editor, &paid_id, &payment)?;
                    Ok(c.view()?)
                })?
            } else {
                edit(cases, &id, &editor, std, |c| {
                    c.void_record(&editor, &corrects, &reason)?;
                    c.add_assistance_correcting(&editor, &aid, approval, Some(&corrects))?;
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
            override_reason,
        } => {
            let loan = NewLoan {
                id: ids.next(),
                principal_fen: parse_positive_yuan("principal", &amount)?,
                date: parse_date("date", &date)?,
                due_date: parse_date("due", &due)?,
                note,
            };
            record = Some(loan.id.clone());
            let id = cases.resolve(&case)?;
            let before = cases.read(&id, |c| Ok(c.view()?))?;
            if !matches!(before.status, Status::Filed | Status::Relapsed) {
                return Err(OpError::input(format!(
                    "the fund lends to a filed case, and this case is {}",
                    before.status.label()
                )));
            }
            let policy = policy_in_force(cases, loan.date)?;
            let override_reason = override_reason.filter(|r| !r.trim().is_empty());
            policy.check_loan(
                &before,
                loan.principal_fen,
                editor.today,
                override_reason.as_deref(),
            )?;
            let entry = Entry::LoanOut {
                date: loan.date,
                amount_fen: loan.principal_fen,
                case: id.clone(),
                loan: loan.id.clone(),
                stamp: stamp(&editor),
            };
            let ids = &mut ids;
            from_fund(cases, ctx, &id, loan.principal_fen, "lends", |c| {
                c.apply_standard(&editor, std)?;
                c.add_loan_with(&editor, &loan, override_reason.as_deref())?;
                Ok((entry, ids.next()))
            })?
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
            let here = ctx.place.node_id.clone();
            let ledger = ledger_id(&here);
            let entry_id = ids.next();
            let (view, loan_id) = cases.update_many(&[&id, &ledger], &editor, |docs| {
                let [Document::Case(c), Document::Record(ledger)] = docs else {
                    return Err(not_a_record(&ledger));
                };
                c.apply_standard(&editor, std)?;
                let loan_id = c.repay_loan(&editor, loan.as_deref(), &repayment)?;
                // A loan lent from this node's fund is repaid into it; one recorded before
                // loans drew the fund (or lent elsewhere) is not.
                let lent_here = ledger.entries::<Entry>()?.iter().any(|(_, e)| {
                    matches!(e, Entry::LoanOut { case, loan, .. } if *case == id && *loan == loan_id)
                });
                if lent_here {
                    let back = Entry::LoanBack {
                        date: repayment.date,
                        amount_fen: repayment.amount_fen,
                        case: id.clone(),
                        loan: loan_id.clone(),
                        stamp: stamp(&editor),
                    };
                    ledger.put_entry(&editor, &entry_id, &back)?;
                }
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
            change(cases, &case, &editor, std, |c| {
                c.record_monthly_income(&editor, &month, amount)
            })?
        }
        Write::Decide {
            case,
            decision,
            note,
        } => {
            let decision: Decision = decision.parse()?;
            if decision == Decision::Approve && ctx.place.level < today.filing_level {
                return Err(OpError::input(format!(
                    "filing is approved at the {} level or above ({}); this node is {}",
                    today.filing_level.label(),
                    today.label(),
                    ctx.place.level.label()
                )));
            }
            let no_superior = ctx.place.parents.is_empty();
            change(cases, &case, &editor, std, |c| {
                c.decide_at(&editor, decision, &note, no_superior)
            })?
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
            change(cases, &case, &editor, std, |c| c.add_visit(&editor, &visit))?
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
            change(cases, &case, &editor, std, |c| {
                c.add_review(&editor, &review)
            })?
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

/// Changes case `id` with `f` and, in the same write, takes `amount_fen` out of this node's
/// fund with the ledger entry `f` returns (under the id it returns): refused if the fund holds
/// less. `what` is the fund's verb for the refusal (pays, lends).
/// The live aid record of `v` whose id starts with `prefix`, if one does (`None` when the
/// prefix names no aid: it may name another record); several is an error.
fn unique_aid(v: &CaseView, prefix: &str) -> Result<Option<hearth_archive::view::Assistance>> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return Err(OpError::input(
            "name the record to void or correct by its id",
        ));
    }
    let hits: Vec<_> = v
        .assistance
        .iter()
        .filter(|a| a.id.starts_with(prefix))
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        _ => Err(OpError::input(format!(
            "{prefix:?} matches several aid records; give more of the id"
        ))),
    }
}

/// Whether `aid` was paid from this node's fund (recorded here, paid here, not a copy from a
/// merged archive).
fn paid_from_here(aid: &hearth_archive::view::Assistance, ctx: &Ctx<'_>) -> bool {
    let here = ctx.place.node_id.as_str();
    aid.node.as_deref() == Some(here)
        && aid.paying_node.as_deref().is_none_or(|p| p == here)
        && aid.merged_from.is_none()
}

/// Whether a ledger's entries hold the payment of aid record `aid` (not paid back already).
fn drew_on(entries: &[(String, Entry)], aid: &str) -> bool {
    let paid = entries
        .iter()
        .any(|(_, e)| matches!(e, Entry::Disbursement { assistance, .. } if assistance == aid));
    let back = entries
        .iter()
        .any(|(_, e)| matches!(e, Entry::Reversal { assistance, .. } if assistance == aid));
    paid && !back
}

/// The entry that pays voided aid back into the fund, today.
fn reversal_of(
    case: &str,
    aid: &hearth_archive::view::Assistance,
    reason: &str,
    editor: &Editor,
) -> Entry {
    Entry::Reversal {
        date: editor.today,
        amount_fen: aid.amount_fen,
        kind: aid.kind,
        case: case.to_owned(),
        assistance: aid.id.clone(),
        reason: reason.trim().to_owned(),
        stamp: stamp(editor),
    }
}

fn from_fund(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    id: &str,
    amount_fen: i64,
    what: &str,
    f: impl FnOnce(&mut Case) -> Result<(Entry, String)>,
) -> Result<CaseView> {
    let here = ctx.place.node_id.clone();
    let editor = ctx.editor();
    let ledger = ledger_id(&here);
    cases.update_many(&[id, &ledger], &editor, |docs| {
        let [Document::Case(c), Document::Record(ledger)] = docs else {
            return Err(not_a_record(&ledger));
        };
        let (entry, entry_id) = f(c)?;
        let balance = LedgerView::of(&here, entry.date().year(), ledger.entries()?).balance_fen;
        if balance < amount_fen {
            return Err(OpError::input(format!(
                "the fund of {here} holds {}, less than the {} it {what}; record income first{}",
                format_yuan(balance),
                format_yuan(amount_fen),
                if what == "pays" {
                    ", or name the node that pays"
                } else {
                    ""
                }
            )));
        }
        ledger.put_entry(&editor, &entry_id, &entry)?;
        Ok(c.view()?)
    })
}

/// Longest request key taken.
pub const MAX_REQUEST_KEY: usize = 64;

pub(crate) fn check_request_key(key: &str) -> Result<()> {
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
                | Write::ApproveAid { .. }
                | Write::AddAssistance { .. }
                | Write::AddLoan { .. }
                | Write::RepayLoan { .. }
                | Write::AddVisit { .. }
                | Write::AddReview { .. }
        );
        let record = adds.then(|| RecordIds::new(Some(key), ctx).next());
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
    let written = write_with(cases, ctx, RecordIds::new(Some(key), ctx), w);
    // A write refused before its commit leaves the key unused.
    cases.expect_request(None);
    written
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
        let fixture = crate::testing::Fixture::new();
        let ctx = fixture.ctx();
        let ids = |key| {
            let mut r = RecordIds::new(Some(key), &ctx);
            (r.next(), r.next())
        };
        assert_eq!(ids("k1"), ids("k1"));
        assert_ne!(ids("k1"), ids("k2"));
        let (first, second) = ids("k1");
        assert_ne!(first, second);
        assert_eq!(first.len(), 8);
    }
}
