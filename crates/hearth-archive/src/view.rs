//! Plain read-outs of a case document, for display, `--json` and the store's listing index.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::codes::{
    AssistanceKind, Cause, CheckResult, Exclusion, Gender, Grade, Level, ReviewResult, Status,
    VisitKind,
};
use crate::grade::GradeStandard;

/// Everything a case holds, as read from its document (the winning value of each field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    /// Case id.
    pub id: String,
    /// Node responsible for the case.
    pub home: String,
    /// Lifecycle status.
    pub status: Status,
    /// Grade in force: the override if there is one, else the derived grade; `None` until the
    /// finances, household size and primary cause are known.
    pub grade: Option<Grade>,
    /// How the grade came about.
    pub grading: Grading,
    /// Nodes that hold this case.
    pub participants: Vec<String>,
    /// The worker.
    pub worker: Worker,
    /// The household.
    pub household: Household,
    /// Money figures of the household.
    pub finances: Finances,
    /// Causes of hardship.
    pub causes: Causes,
    /// Needs and profile.
    pub profile: Profile,
    /// Every status change, oldest first.
    pub status_history: Vec<StatusChange>,
    /// Escalation target and trail.
    pub escalation: Escalation,
    /// Approval steps, oldest first.
    pub approvals: Vec<Approval>,
    /// Assistance records, by date.
    pub assistance: Vec<Assistance>,
    /// Sum of all assistance paid.
    pub assistance_total_fen: i64,
    /// Loans, by date.
    pub loans: Vec<Loan>,
    /// Visits, by date.
    pub visits: Vec<Visit>,
    /// Annual reviews, by date.
    pub reviews: Vec<Review>,
    /// When the case was opened.
    pub created_at: Option<Timestamp>,
    /// Who opened it.
    pub created_by: Option<String>,
    /// The day the case was put on file (建档日期): when the approving level approved it, or,
    /// for an imported case, the day its file says.
    #[serde(default)]
    pub filed_on: Option<Date>,
    /// Whether `filed_on` is the day of an import that gave no filing date.
    #[serde(default)]
    pub filed_on_estimated: bool,
    /// Records voided (作废), kept with why: left out of every list above and every total.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voided: Vec<VoidedRecord>,
}

/// A record voided: what it was, why, by whom, where and when it was voided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidedRecord {
    /// The record's id.
    pub id: String,
    /// What it was, e.g. `aid 帮扶 living 生活救助 1,000.00 on 2026-03-01`.
    pub what: String,
    /// Why it was voided.
    pub reason: String,
    /// Who voided it.
    pub by: Option<String>,
    /// The node that recorded it, and voided it.
    pub node: Option<String>,
    /// When it was voided.
    pub at: Option<Timestamp>,
}

/// Derived grade, its basis, and any manual override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    /// Grade by the formulas.
    pub derived: Option<Grade>,
    /// (income − rigid spending) / 12 / household size.
    pub per_capita_monthly_fen: Option<i64>,
    /// One line saying why, for people.
    pub basis: Option<String>,
    /// The standard that graded it (the policy version that set it).
    #[serde(default)]
    pub standard: GradeStandard,
    /// A manual override, shown as such.
    #[serde(rename = "override")]
    pub override_: Option<GradeOverride>,
}

/// A manual grade set by a person, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeOverride {
    /// The grade set.
    pub grade: Grade,
    /// Why.
    pub reason: String,
    /// Who.
    pub by: Option<String>,
    /// At which node.
    pub node: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
}

/// The worker the case is about. Personal data: never log any of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Worker {
    /// Name.
    pub name: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Year of birth.
    pub birth_year: Option<i64>,
    /// Employer unit.
    pub employer: Option<String>,
    /// Job.
    pub job: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Home address.
    pub address: Option<String>,
    /// Region code (行政区划代码) of the home.
    #[serde(default)]
    pub region: Option<String>,
    /// Salted hash of the ID number.
    pub identity_key: Option<String>,
}

/// Household (家庭状况).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Household {
    /// People living together (共同生活人口).
    pub size: Option<i64>,
    /// Members other than the worker.
    pub members: Vec<Member>,
    /// Exclusions that apply to the household (a second home, a car, …).
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
}

/// A household member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Record id.
    pub id: String,
    /// Relation to the worker (spouse, child, parent, …).
    pub relation: String,
    /// Age.
    pub age: Option<i64>,
    /// Health.
    pub health: Option<String>,
    /// Work or school status.
    pub occupation: Option<String>,
}

/// Finances (经济收入), integer fen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Finances {
    /// Annual disposable income.
    pub annual_income_fen: Option<i64>,
    /// Rigid annual spending: medical, education.
    pub rigid_spending_fen: Option<i64>,
    /// This year's costs caused by the hardship event.
    pub hardship_costs_fen: Option<i64>,
    /// Local subsistence line, monthly per person.
    pub subsistence_line_fen: Option<i64>,
    /// Household income by month (`YYYY-MM`).
    #[serde(default)]
    pub monthly_income_fen: BTreeMap<String, i64>,
    /// This year's medical costs.
    #[serde(default)]
    pub medical_costs_fen: Option<i64>,
    /// The largest single hospital stay this year.
    #[serde(default)]
    pub largest_stay_fen: Option<i64>,
    /// Aid the household asks for.
    #[serde(default)]
    pub aid_request_fen: Option<i64>,
    /// Compensation and insurance received for this year's accident and medical costs.
    #[serde(default)]
    pub compensation_fen: Option<i64>,
}

/// Causes of hardship (致困原因).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Causes {
    /// Primary cause.
    pub primary: Option<Cause>,
    /// Up to three secondary causes.
    pub secondary: Vec<Cause>,
    /// Free text for `other`.
    pub other_text: Option<String>,
}

/// Needs and profile (the "clears").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Urgent needs (急需解决的问题).
    pub urgent_needs: Option<String>,
    /// Skills (技术特长).
    pub skills: Option<String>,
    /// Employment wishes (就业要求).
    pub employment_wishes: Option<String>,
    /// State of mind (思想状况).
    pub state_of_mind: Option<String>,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Status before, `None` for the opening entry.
    pub from: Option<Status>,
    /// Status after.
    pub to: Status,
    /// Why.
    pub reason: Option<String>,
    /// Who.
    pub by: Option<String>,
    /// At which node.
    pub node: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
    /// The duplicate archive this entry came from, when archives were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<String>,
    /// The day the change took effect, when it was recorded later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Date>,
    /// Why a case was closed with loans outstanding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outstanding_reason: Option<String>,
}

/// Escalation target and trail (逐级上报).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Escalation {
    /// Level the case must reach.
    pub target_level: Option<Level>,
    /// Reports made so far.
    pub trail: Vec<EscalationStep>,
}

/// One report up (or send down) between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationStep {
    /// Reporting node.
    pub from: Option<String>,
    /// Receiving node.
    pub to: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Who.
    pub by: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
}

/// One approval step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Step name.
    pub step: Option<String>,
    /// Node that decided.
    pub node: Option<String>,
    /// approve / return / reject.
    pub decision: Option<String>,
    /// Who.
    pub by: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
    /// Note.
    pub note: Option<String>,
    /// The duplicate archive this entry came from, when archives were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<String>,
    /// Id of an aid approval, which a payment names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The day of the step (a notice's first day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// A notice's last day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    /// What the civil-affairs check found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CheckResult>,
    /// Who checked, at civil affairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checker: Option<String>,
    /// An aid approval's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AssistanceKind>,
    /// An aid approval's amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_fen: Option<i64>,
    /// The level of the approving node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
}

/// An assistance record (帮扶记录).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assistance {
    /// Record id.
    pub id: String,
    /// Kind of aid.
    pub kind: AssistanceKind,
    /// Amount paid.
    pub amount_fen: i64,
    /// Date paid.
    pub date: Date,
    /// Node whose fund paid.
    pub paying_node: Option<String>,
    /// Node that approved.
    pub approving_node: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Who recorded it.
    pub by: Option<String>,
    /// At which node.
    #[serde(default)]
    pub node: Option<String>,
    /// When it was recorded.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// The duplicate archive this entry was copied from, when archives were merged. A copy is
    /// the merging node's entry (`node`, whose signature it carries); `paying_node` and
    /// `merged_node` are what that node copied, checked only against the original, which stays
    /// in the closed duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<String>,
    /// The node that recorded the original, as the merging node copied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_node: Option<String>,
    /// The aid approval (its id) that allowed a payment above the payer's authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The voided aid record this one corrects (replaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
}

/// A loan with its repayments; the outstanding balance is derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loan {
    /// Record id.
    pub id: String,
    /// Amount lent.
    pub principal_fen: i64,
    /// Date lent.
    pub date: Date,
    /// Date due.
    pub due_date: Option<Date>,
    /// Note.
    pub note: Option<String>,
    /// Repayments, by date.
    pub repayments: Vec<Repayment>,
    /// Sum of repayments.
    pub repaid_fen: i64,
    /// Principal less repayments.
    pub outstanding_fen: i64,
    /// Why it was lent although the rules said no (an overdue loan, above the limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

/// One repayment of a loan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repayment {
    /// Record id.
    pub id: String,
    /// Amount repaid.
    pub amount_fen: i64,
    /// Date repaid.
    pub date: Date,
    /// Note.
    pub note: Option<String>,
}

/// A visit (走访 / 回访).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Record id.
    pub id: String,
    /// Date of the visit.
    pub date: Date,
    /// Kind.
    pub kind: VisitKind,
    /// Who visited.
    pub visitor: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// The household consented (入户核实同意).
    #[serde(default)]
    pub consent: bool,
}

/// An annual review (年审).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Record id.
    pub id: String,
    /// Date of the review.
    pub date: Date,
    /// Outcome.
    pub result: ReviewResult,
    /// Who reviewed.
    pub reviewer: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// The few fields of a case that listing and filtering need, kept in the store's index so that
/// `case list` does not load every document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Case id.
    pub id: String,
    /// Home node.
    pub home: String,
    /// Worker's name (local display only).
    pub name: Option<String>,
    /// Worker's phone (local display and search only, as the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Status.
    pub status: Status,
    /// Grade in force.
    pub grade: Option<Grade>,
    /// Whether the grade is a manual override.
    #[serde(default)]
    pub grade_overridden: bool,
    /// Primary cause.
    pub primary_cause: Option<Cause>,
    /// Secondary causes.
    #[serde(default)]
    pub secondary_causes: Vec<Cause>,
    /// Household size.
    pub household_size: Option<i64>,
    /// Per-capita monthly figure.
    pub per_capita_monthly_fen: Option<i64>,
    /// Identity key (for one-household-one-file checks).
    pub identity_key: Option<String>,
    /// Nodes that hold the case (for the scope rule without loading the document).
    #[serde(default)]
    pub participants: Vec<String>,
    /// Total assistance paid.
    #[serde(default)]
    pub assistance_total_fen: i64,
    /// Total outstanding on loans.
    #[serde(default)]
    pub outstanding_fen: i64,
    /// When the case was opened.
    pub created_at: Option<Timestamp>,
    /// Finances the escalation rules read.
    #[serde(default)]
    pub medical_costs_fen: Option<i64>,
    /// The largest single hospital stay.
    #[serde(default)]
    pub largest_stay_fen: Option<i64>,
    /// Aid asked for.
    #[serde(default)]
    pub aid_request_fen: Option<i64>,
    /// Escalation target.
    #[serde(default)]
    pub target_level: Option<Level>,
    /// Aid paid, by calendar year and kind.
    #[serde(default)]
    pub aid_by_year: BTreeMap<i16, BTreeMap<AssistanceKind, i64>>,
    /// Aid paid by month (`YYYYMM`, e.g. 202606) and kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aid_by_month: BTreeMap<u32, BTreeMap<AssistanceKind, i64>>,
    /// Visits, by calendar year.
    #[serde(default)]
    pub visits_by_year: BTreeMap<i16, u32>,
    /// The last day the case entered each status.
    #[serde(default)]
    pub entered: BTreeMap<Status, Date>,
    /// The last annual review.
    #[serde(default)]
    pub last_review: Option<Date>,
    /// Open loans: (loan id, due date, outstanding).
    #[serde(default)]
    pub open_loans: Vec<(String, Option<Date>, i64)>,
    /// Months in a row, up to the last one recorded, with income per person at or above the
    /// subsistence line; and that last month.
    #[serde(default)]
    pub above_line: Option<(u32, String)>,
    /// The day the case was put on file.
    #[serde(default)]
    pub filed_on: Option<Date>,
    /// Whether that day is only the day of an import.
    #[serde(default)]
    pub filed_on_estimated: bool,
    /// The day a filed case left hardship (lifted or closed), and how; `None` while on file.
    #[serde(default)]
    pub exited: Option<(Date, Status)>,
    /// Loans ever made to the case.
    #[serde(default)]
    pub loans: u32,
}

impl CaseSummary {
    /// The listing summary of a case as read.
    pub fn of(v: &CaseView) -> CaseSummary {
        let year = |d: Date| d.year();
        let mut aid_by_year: BTreeMap<i16, BTreeMap<AssistanceKind, i64>> = BTreeMap::new();
        for a in &v.assistance {
            *aid_by_year
                .entry(year(a.date))
                .or_default()
                .entry(a.kind)
                .or_default() += a.amount_fen;
        }
        let mut aid_by_month: BTreeMap<u32, BTreeMap<AssistanceKind, i64>> = BTreeMap::new();
        for a in &v.assistance {
            let key = u32::try_from(i32::from(a.date.year()) * 100 + i32::from(a.date.month()))
                .unwrap_or(0);
            *aid_by_month
                .entry(key)
                .or_default()
                .entry(a.kind)
                .or_default() += a.amount_fen;
        }
        let mut visits_by_year: BTreeMap<i16, u32> = BTreeMap::new();
        for visit in &v.visits {
            *visits_by_year.entry(year(visit.date)).or_default() += 1;
        }
        let mut entered = BTreeMap::new();
        for change in &v.status_history {
            if let Some(at) = change.at {
                entered.insert(change.to, crate::calendar::day_of(at));
            }
        }
        CaseSummary {
            id: v.id.clone(),
            home: v.home.clone(),
            name: v.worker.name.clone(),
            phone: v.worker.phone.clone(),
            status: v.status,
            grade: v.grade,
            grade_overridden: v.grading.override_.is_some(),
            primary_cause: v.causes.primary,
            secondary_causes: v.causes.secondary.clone(),
            household_size: v.household.size,
            per_capita_monthly_fen: v.grading.per_capita_monthly_fen,
            identity_key: v.worker.identity_key.clone(),
            participants: v.participants.clone(),
            assistance_total_fen: v.assistance_total_fen,
            outstanding_fen: v.loans.iter().map(|l| l.outstanding_fen).sum(),
            created_at: v.created_at,
            medical_costs_fen: v.finances.medical_costs_fen,
            largest_stay_fen: v.finances.largest_stay_fen,
            aid_request_fen: v.finances.aid_request_fen,
            target_level: v.escalation.target_level,
            aid_by_year,
            aid_by_month,
            visits_by_year,
            entered,
            last_review: v.reviews.iter().map(|r| r.date).max(),
            above_line: above_line(v),
            open_loans: v
                .loans
                .iter()
                .filter(|l| l.outstanding_fen > 0)
                .map(|l| (l.id.clone(), l.due_date, l.outstanding_fen))
                .collect(),
            filed_on: v.filed_on,
            filed_on_estimated: v.filed_on_estimated,
            exited: exited(v),
            loans: u32::try_from(v.loans.len()).unwrap_or(u32::MAX),
        }
    }

    /// Whether the household was on file (filed, not yet lifted or closed) at the start of
    /// `day`.
    pub fn on_file_at(&self, day: Date) -> bool {
        self.filed_on.is_some_and(|f| f < day) && self.exited.is_none_or(|(x, _)| x >= day)
    }

    /// What is owed on loans past their due date on `today`.
    pub fn overdue_fen(&self, today: Date) -> i64 {
        self.open_loans
            .iter()
            .filter(|(_, due, _)| due.is_some_and(|d| d < today))
            .map(|(_, _, fen)| fen)
            .sum()
    }

    /// Whether the household is in hardship on file now: filed and not exited.
    pub fn in_hardship(&self) -> bool {
        self.filed_on.is_some() && self.exited.is_none()
    }

    /// Whether the case has `cause` as its primary or a secondary cause.
    pub fn has_cause(&self, cause: Cause) -> bool {
        self.primary_cause == Some(cause) || self.secondary_causes.contains(&cause)
    }
}

/// When and how a filed case last left hardship, if it has not come back since (a relapse
/// brings it back): the effective day of the change, else the day it was recorded.
fn exited(v: &CaseView) -> Option<(Date, Status)> {
    v.filed_on?;
    let mut out = None;
    for change in &v.status_history {
        let day = change.on.or(change.at.map(crate::calendar::day_of));
        match change.to {
            Status::Lifted | Status::Closed => out = day.map(|d| (d, change.to)),
            Status::Relapsed | Status::Filed => out = None,
            _ => {}
        }
    }
    out
}

/// How many months in a row, ending at the last month recorded, the household was above the
/// subsistence line on the grading formula — (income − rigid spending / 12) per person, by the
/// standard's comparison (months must follow each other).
fn above_line(v: &CaseView) -> Option<(u32, String)> {
    let line = v.finances.subsistence_line_fen?;
    let size = v.household.size.filter(|s| *s > 0)?;
    let (last, _) = v.finances.monthly_income_fen.last_key_value()?;
    let mut streak = 0u32;
    let mut expected: Option<(i32, i32)> = None;
    for (month, income) in v.finances.monthly_income_fen.iter().rev() {
        let Some((y, m)) = month
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
        else {
            break;
        };
        let rigid_month = v.finances.rigid_spending_fen.unwrap_or(0) / 12;
        if expected.is_some_and(|e| e != (y, m))
            || v.grading
                .standard
                .below_line(income - rigid_month, line, size)
        {
            break;
        }
        streak += 1;
        expected = Some(if m == 1 { (y - 1, 12) } else { (y, m - 1) });
    }
    Some((streak, last.clone()))
}

/// Records listed oldest first: by date, then id.
pub(crate) trait Dated {
    fn order(&self) -> (Date, &str);
}

macro_rules! dated {
    ($($t:ty),+) => {$(
        impl Dated for $t {
            fn order(&self) -> (Date, &str) {
                (self.date, &self.id)
            }
        }
    )+};
}
dated!(Assistance, Loan, Repayment, Visit, Review);
