//! Between `hearth.v1.Archive`'s messages and the operations' requests and replies
//! (`hearth-ops`), both directions side by side.

use std::collections::BTreeMap;

use hearth_archive::CaseForm;
use hearth_archive::conflict::{ConflictKind, QueueEntry, Resolution, Side};
use hearth_archive::due::{DueCase, DueKind};
use hearth_archive::jiff::Timestamp;
use hearth_archive::jiff::civil::Date;
use hearth_archive::ledger::{DisclosedPayment, Disclosure, Entry, LedgerView, Stamp};
use hearth_archive::policy::{Advice, EscalationRules, Requirement};
use hearth_archive::summary::{ConflictBrief, NodeSummary, Totals};
use hearth_archive::{
    AssistanceKind, CaseSummary, Cause, Exclusion, Grade, IncomeSource, Level, Policy, Status, view,
};
use hearth_ops::{
    AccountView, AccountWrite, FundWrite, ImportRow, ListFilter, Page, PageRequest, Resolve, Role,
    Write, Written,
};

use crate::v1 as pb;

/// A message from a node that cannot be what it claims: a code no Hearth writes, a date that
/// is no date.
#[derive(Debug, thiserror::Error)]
#[error("the node answered with {what} {value:?}, which this Hearth cannot read; upgrade it")]
pub struct Unreadable {
    what: &'static str,
    value: String,
}

fn unreadable(what: &'static str, value: impl Into<String>) -> Unreadable {
    Unreadable {
        what,
        value: value.into(),
    }
}

fn code<T: std::str::FromStr>(what: &'static str, text: &str) -> Result<T, Unreadable> {
    text.parse().map_err(|_| unreadable(what, text))
}

fn opt_code<T: std::str::FromStr>(
    what: &'static str,
    text: Option<String>,
) -> Result<Option<T>, Unreadable> {
    text.map(|t| code(what, &t)).transpose()
}

fn date(text: &str) -> Result<Date, Unreadable> {
    code("date", text)
}

/// The filter and page a listing request asks for.
pub fn list_request_from(r: pb::ListCasesRequest) -> (ListFilter, PageRequest) {
    (
        ListFilter {
            status: r.status,
            grade: r.grade,
            cause: r.cause,
            text: r.text,
            sort: r.sort,
        },
        page_from(r.page_size, r.page_token),
    )
}

/// The listing request for a filter and page.
pub fn list_request_to(filter: ListFilter, page: PageRequest) -> pb::ListCasesRequest {
    let (page_size, page_token) = page_to(page);
    pb::ListCasesRequest {
        status: filter.status,
        grade: filter.grade,
        cause: filter.cause,
        text: filter.text,
        sort: filter.sort,
        page_size,
        page_token,
    }
}

/// The reply carrying one page of a listing.
pub fn list_reply_to(page: Page<CaseSummary>) -> pb::ListCasesReply {
    pb::ListCasesReply {
        cases: page.items.iter().map(summary_to).collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The page a listing reply carries.
pub fn list_reply_from(r: pb::ListCasesReply) -> Result<Page<CaseSummary>, Unreadable> {
    Ok(Page {
        items: r
            .cases
            .into_iter()
            .map(summary_from)
            .collect::<Result<_, _>>()?,
        next: next_from(r.next_page_token),
    })
}

/// The message for a case summary.
pub fn summary_to(c: &CaseSummary) -> pb::CaseSummary {
    let code = |s: &str| s.to_owned();
    pb::CaseSummary {
        id: c.id.clone(),
        home: c.home.clone(),
        name: c.name.clone(),
        phone: c.phone.clone(),
        status: code(c.status.code()),
        grade: c.grade.map(|g| code(g.code())),
        grade_overridden: c.grade_overridden,
        primary_cause: c.primary_cause.map(|k| code(k.code())),
        secondary_causes: c.secondary_causes.iter().map(|k| code(k.code())).collect(),
        household_size: c.household_size,
        per_capita_monthly_fen: c.per_capita_monthly_fen,
        identity_key: c.identity_key.clone(),
        participants: c.participants.clone(),
        assistance_total_fen: c.assistance_total_fen,
        outstanding_fen: c.outstanding_fen,
        created_at: time_to(c.created_at),
        medical_costs_fen: c.medical_costs_fen,
        largest_stay_fen: c.largest_stay_fen,
        aid_request_fen: c.aid_request_fen,
        target_level: c.target_level.map(|l| code(l.code())),
        aid_by_year: c
            .aid_by_year
            .iter()
            .flat_map(|(year, kinds)| {
                kinds.iter().map(|(kind, fen)| pb::AidInYear {
                    year: i32::from(*year),
                    kind: code(kind.code()),
                    amount_fen: *fen,
                })
            })
            .collect(),
        aid_by_month: c
            .aid_by_month
            .iter()
            .flat_map(|(month, kinds)| {
                kinds.iter().map(|(kind, fen)| pb::AidInMonth {
                    month: *month,
                    kind: code(kind.code()),
                    amount_fen: *fen,
                })
            })
            .collect(),
        visits_by_year: c
            .visits_by_year
            .iter()
            .map(|(y, n)| (i32::from(*y), *n))
            .collect(),
        entered: c
            .entered
            .iter()
            .map(|(s, d)| (code(s.code()), d.to_string()))
            .collect(),
        last_review: c.last_review.map(|d| d.to_string()),
        open_loans: c
            .open_loans
            .iter()
            .map(|(id, due, fen)| pb::OpenLoan {
                id: id.clone(),
                due_date: due.map(|d| d.to_string()),
                outstanding_fen: *fen,
            })
            .collect(),
        above_line: c.above_line.as_ref().map(|(months, last)| pb::AboveLine {
            months: *months,
            last_month: last.clone(),
        }),
        filed_on: c.filed_on.map(|d| d.to_string()),
        filed_on_estimated: c.filed_on_estimated,
        exited_on: c.exited.map(|(d, _)| d.to_string()),
        exited_to: c.exited.map(|(_, s)| code(s.code())),
        loans: c.loans,
    }
}

/// The case summary a message carries.
pub fn summary_from(m: pb::CaseSummary) -> Result<CaseSummary, Unreadable> {
    let year = |y: i32| i16::try_from(y).map_err(|_| unreadable("year", y.to_string()));
    let mut aid_by_year: BTreeMap<i16, BTreeMap<AssistanceKind, i64>> = BTreeMap::new();
    for a in m.aid_by_year {
        aid_by_year
            .entry(year(a.year)?)
            .or_default()
            .insert(code("assistance kind", &a.kind)?, a.amount_fen);
    }
    let mut aid_by_month: BTreeMap<u32, BTreeMap<AssistanceKind, i64>> = BTreeMap::new();
    for a in m.aid_by_month {
        aid_by_month
            .entry(a.month)
            .or_default()
            .insert(code("assistance kind", &a.kind)?, a.amount_fen);
    }
    Ok(CaseSummary {
        aid_by_month,
        id: m.id,
        home: m.home,
        name: m.name,
        phone: m.phone,
        status: code::<Status>("status", &m.status)?,
        grade: opt_code::<Grade>("grade", m.grade)?,
        grade_overridden: m.grade_overridden,
        primary_cause: opt_code::<Cause>("cause", m.primary_cause)?,
        secondary_causes: m
            .secondary_causes
            .iter()
            .map(|k| code::<Cause>("cause", k))
            .collect::<Result<_, _>>()?,
        household_size: m.household_size,
        per_capita_monthly_fen: m.per_capita_monthly_fen,
        identity_key: m.identity_key,
        participants: m.participants,
        assistance_total_fen: m.assistance_total_fen,
        outstanding_fen: m.outstanding_fen,
        created_at: time_from(m.created_at)?,
        medical_costs_fen: m.medical_costs_fen,
        largest_stay_fen: m.largest_stay_fen,
        aid_request_fen: m.aid_request_fen,
        target_level: opt_code::<Level>("level", m.target_level)?,
        aid_by_year,
        visits_by_year: m
            .visits_by_year
            .into_iter()
            .map(|(y, n)| Ok((year(y)?, n)))
            .collect::<Result<_, Unreadable>>()?,
        entered: m
            .entered
            .iter()
            .map(|(s, d)| Ok((code::<Status>("status", s)?, date(d)?)))
            .collect::<Result<_, Unreadable>>()?,
        last_review: m.last_review.as_deref().map(date).transpose()?,
        open_loans: m
            .open_loans
            .into_iter()
            .map(|l| {
                Ok((
                    l.id,
                    l.due_date.as_deref().map(date).transpose()?,
                    l.outstanding_fen,
                ))
            })
            .collect::<Result<_, Unreadable>>()?,
        above_line: m.above_line.map(|a| (a.months, a.last_month)),
        filed_on: m.filed_on.as_deref().map(date).transpose()?,
        filed_on_estimated: m.filed_on_estimated,
        exited: match (m.exited_on, m.exited_to) {
            (Some(d), Some(s)) => Some((date(&d)?, code::<Status>("status", &s)?)),
            _ => None,
        },
        loans: m.loans,
    })
}

/// Times travel as milliseconds since the Unix epoch, the precision a case records.
fn time_to(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.as_millisecond())
}

fn time_from(ms: Option<i64>) -> Result<Option<Timestamp>, Unreadable> {
    ms.map(|ms| Timestamp::from_millisecond(ms).map_err(|_| unreadable("time", ms.to_string())))
        .transpose()
}

fn codes_to<T: Copy>(v: &[T], code: impl Fn(T) -> &'static str) -> Vec<String> {
    v.iter().map(|c| code(*c).to_owned()).collect()
}

fn codes_from<T: std::str::FromStr>(
    what: &'static str,
    v: &[String],
) -> Result<Vec<T>, Unreadable> {
    v.iter().map(|c| code(what, c)).collect()
}

/// The message for a case.
pub fn case_to(v: &view::CaseView) -> pb::Case {
    let c = |s: &'static str| s.to_owned();
    pb::Case {
        id: v.id.clone(),
        home: v.home.clone(),
        status: c(v.status.code()),
        grade: v.grade.map(|g| c(g.code())),
        grading: Some(pb::Grading {
            derived: v.grading.derived.map(|g| c(g.code())),
            per_capita_monthly_fen: v.grading.per_capita_monthly_fen,
            basis: v.grading.basis.clone(),
            r#override: v.grading.override_.as_ref().map(|o| pb::GradeOverride {
                grade: c(o.grade.code()),
                reason: o.reason.clone(),
                by: o.by.clone(),
                node: o.node.clone(),
                at: time_to(o.at),
            }),
            standard_version: v.grading.standard.version,
            at_or_below: v.grading.standard.at_or_below,
            relative_percent: v.grading.standard.relative_percent,
            exclusions: codes_to(&v.grading.standard.exclusions, Exclusion::code),
        }),
        participants: v.participants.clone(),
        worker: Some(pb::Worker {
            name: v.worker.name.clone(),
            gender: v.worker.gender.map(|g| c(g.code())),
            birth_year: v.worker.birth_year,
            employer: v.worker.employer.clone(),
            job: v.worker.job.clone(),
            phone: v.worker.phone.clone(),
            address: v.worker.address.clone(),
            region: v.worker.region.clone(),
            identity_key: v.worker.identity_key.clone(),
        }),
        household: Some(pb::Household {
            size: v.household.size,
            members: v
                .household
                .members
                .iter()
                .map(|m| pb::Member {
                    id: m.id.clone(),
                    relation: m.relation.clone(),
                    age: m.age,
                    health: m.health.clone(),
                    occupation: m.occupation.clone(),
                })
                .collect(),
            exclusions: codes_to(&v.household.exclusions, Exclusion::code),
        }),
        finances: Some(pb::Finances {
            annual_income_fen: v.finances.annual_income_fen,
            rigid_spending_fen: v.finances.rigid_spending_fen,
            hardship_costs_fen: v.finances.hardship_costs_fen,
            subsistence_line_fen: v.finances.subsistence_line_fen,
            monthly_income_fen: v.finances.monthly_income_fen.clone().into_iter().collect(),
            medical_costs_fen: v.finances.medical_costs_fen,
            largest_stay_fen: v.finances.largest_stay_fen,
            aid_request_fen: v.finances.aid_request_fen,
            compensation_fen: v.finances.compensation_fen,
        }),
        causes: Some(pb::Causes {
            primary: v.causes.primary.map(|k| c(k.code())),
            secondary: codes_to(&v.causes.secondary, Cause::code),
            other_text: v.causes.other_text.clone(),
        }),
        profile: Some(pb::Profile {
            urgent_needs: v.profile.urgent_needs.clone(),
            skills: v.profile.skills.clone(),
            employment_wishes: v.profile.employment_wishes.clone(),
            state_of_mind: v.profile.state_of_mind.clone(),
        }),
        status_history: v
            .status_history
            .iter()
            .map(|s| pb::StatusChange {
                from: s.from.map(|f| c(f.code())),
                to: c(s.to.code()),
                reason: s.reason.clone(),
                by: s.by.clone(),
                node: s.node.clone(),
                at: time_to(s.at),
                merged_from: s.merged_from.clone(),
                on: s.on.map(|d| d.to_string()),
                outstanding_reason: s.outstanding_reason.clone(),
            })
            .collect(),
        escalation: Some(pb::Escalation {
            target_level: v.escalation.target_level.map(|l| c(l.code())),
            trail: v
                .escalation
                .trail
                .iter()
                .map(|e| pb::EscalationStep {
                    from: e.from.clone(),
                    to: e.to.clone(),
                    reason: e.reason.clone(),
                    by: e.by.clone(),
                    at: time_to(e.at),
                })
                .collect(),
        }),
        approvals: v
            .approvals
            .iter()
            .map(|a| pb::Approval {
                step: a.step.clone(),
                node: a.node.clone(),
                decision: a.decision.clone(),
                by: a.by.clone(),
                at: time_to(a.at),
                note: a.note.clone(),
                merged_from: a.merged_from.clone(),
                id: a.id.clone(),
                date: a.date.map(|d| d.to_string()),
                until: a.until.map(|d| d.to_string()),
                result: a.result.map(|r| c(r.code())),
                checker: a.checker.clone(),
                kind: a.kind.map(|k| c(k.code())),
                amount_fen: a.amount_fen,
                level: a.level.map(|l| c(l.code())),
            })
            .collect(),
        assistance: v
            .assistance
            .iter()
            .map(|a| pb::Assistance {
                id: a.id.clone(),
                kind: c(a.kind.code()),
                amount_fen: a.amount_fen,
                date: a.date.to_string(),
                paying_node: a.paying_node.clone(),
                approving_node: a.approving_node.clone(),
                note: a.note.clone(),
                by: a.by.clone(),
                node: a.node.clone(),
                at: time_to(a.at),
                merged_from: a.merged_from.clone(),
                merged_node: a.merged_node.clone(),
                approval: a.approval.clone(),
                corrects: a.corrects.clone(),
            })
            .collect(),
        assistance_total_fen: v.assistance_total_fen,
        loans: v
            .loans
            .iter()
            .map(|l| pb::Loan {
                id: l.id.clone(),
                principal_fen: l.principal_fen,
                date: l.date.to_string(),
                due_date: l.due_date.map(|d| d.to_string()),
                note: l.note.clone(),
                repayments: l
                    .repayments
                    .iter()
                    .map(|r| pb::Repayment {
                        id: r.id.clone(),
                        amount_fen: r.amount_fen,
                        date: r.date.to_string(),
                        note: r.note.clone(),
                    })
                    .collect(),
                repaid_fen: l.repaid_fen,
                outstanding_fen: l.outstanding_fen,
                override_reason: l.override_reason.clone(),
            })
            .collect(),
        visits: v
            .visits
            .iter()
            .map(|x| pb::Visit {
                id: x.id.clone(),
                date: x.date.to_string(),
                kind: c(x.kind.code()),
                visitor: x.visitor.clone(),
                notes: x.notes.clone(),
                consent: x.consent,
            })
            .collect(),
        reviews: v
            .reviews
            .iter()
            .map(|r| pb::Review {
                id: r.id.clone(),
                date: r.date.to_string(),
                result: c(r.result.code()),
                reviewer: r.reviewer.clone(),
                notes: r.notes.clone(),
            })
            .collect(),
        created_at: time_to(v.created_at),
        created_by: v.created_by.clone(),
        filed_on: v.filed_on.map(|d| d.to_string()),
        filed_on_estimated: v.filed_on_estimated,
        voided: v
            .voided
            .iter()
            .map(|x| pb::VoidedRecord {
                id: x.id.clone(),
                what: x.what.clone(),
                reason: x.reason.clone(),
                by: x.by.clone(),
                node: x.node.clone(),
                at: time_to(x.at),
            })
            .collect(),
    }
}

/// The case a message carries.
pub fn case_from(m: pb::Case) -> Result<view::CaseView, Unreadable> {
    let grading = m.grading.unwrap_or_default();
    let worker = m.worker.unwrap_or_default();
    let household = m.household.unwrap_or_default();
    let finances = m.finances.unwrap_or_default();
    let causes = m.causes.unwrap_or_default();
    let profile = m.profile.unwrap_or_default();
    let escalation = m.escalation.unwrap_or_default();
    Ok(view::CaseView {
        id: m.id,
        home: m.home,
        status: code("status", &m.status)?,
        grade: opt_code("grade", m.grade)?,
        grading: view::Grading {
            derived: opt_code("grade", grading.derived)?,
            per_capita_monthly_fen: grading.per_capita_monthly_fen,
            basis: grading.basis,
            override_: grading
                .r#override
                .map(|o| {
                    Ok::<_, Unreadable>(view::GradeOverride {
                        grade: code("grade", &o.grade)?,
                        reason: o.reason,
                        by: o.by,
                        node: o.node,
                        at: time_from(o.at)?,
                    })
                })
                .transpose()?,
            standard: hearth_archive::GradeStandard {
                version: grading.standard_version,
                at_or_below: grading.at_or_below,
                relative_percent: grading.relative_percent,
                exclusions: codes_from("exclusion", &grading.exclusions)?,
            },
        },
        participants: m.participants,
        worker: view::Worker {
            name: worker.name,
            gender: opt_code("gender", worker.gender)?,
            birth_year: worker.birth_year,
            employer: worker.employer,
            job: worker.job,
            phone: worker.phone,
            address: worker.address,
            region: worker.region,
            identity_key: worker.identity_key,
        },
        household: view::Household {
            size: household.size,
            members: household
                .members
                .into_iter()
                .map(|x| view::Member {
                    id: x.id,
                    relation: x.relation,
                    age: x.age,
                    health: x.health,
                    occupation: x.occupation,
                })
                .collect(),
            exclusions: codes_from("exclusion", &household.exclusions)?,
        },
        finances: view::Finances {
            annual_income_fen: finances.annual_income_fen,
            rigid_spending_fen: finances.rigid_spending_fen,
            hardship_costs_fen: finances.hardship_costs_fen,
            subsistence_line_fen: finances.subsistence_line_fen,
            monthly_income_fen: finances.monthly_income_fen.into_iter().collect(),
            medical_costs_fen: finances.medical_costs_fen,
            largest_stay_fen: finances.largest_stay_fen,
            aid_request_fen: finances.aid_request_fen,
            compensation_fen: finances.compensation_fen,
        },
        causes: view::Causes {
            primary: opt_code("cause", causes.primary)?,
            secondary: codes_from("cause", &causes.secondary)?,
            other_text: causes.other_text,
        },
        profile: view::Profile {
            urgent_needs: profile.urgent_needs,
            skills: profile.skills,
            employment_wishes: profile.employment_wishes,
            state_of_mind: profile.state_of_mind,
        },
        status_history: m
            .status_history
            .into_iter()
            .map(|s| {
                Ok(view::StatusChange {
                    from: opt_code("status", s.from)?,
                    to: code("status", &s.to)?,
                    reason: s.reason,
                    by: s.by,
                    node: s.node,
                    at: time_from(s.at)?,
                    merged_from: s.merged_from,
                    on: s.on.as_deref().map(date).transpose()?,
                    outstanding_reason: s.outstanding_reason,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        escalation: view::Escalation {
            target_level: opt_code("level", escalation.target_level)?,
            trail: escalation
                .trail
                .into_iter()
                .map(|e| {
                    Ok(view::EscalationStep {
                        from: e.from,
                        to: e.to,
                        reason: e.reason,
                        by: e.by,
                        at: time_from(e.at)?,
                    })
                })
                .collect::<Result<_, Unreadable>>()?,
        },
        approvals: m
            .approvals
            .into_iter()
            .map(|a| {
                Ok(view::Approval {
                    step: a.step,
                    node: a.node,
                    decision: a.decision,
                    by: a.by,
                    at: time_from(a.at)?,
                    note: a.note,
                    merged_from: a.merged_from,
                    id: a.id,
                    date: a.date.as_deref().map(date).transpose()?,
                    until: a.until.as_deref().map(date).transpose()?,
                    result: opt_code("check result", a.result)?,
                    checker: a.checker,
                    kind: opt_code("assistance kind", a.kind)?,
                    amount_fen: a.amount_fen,
                    level: opt_code("level", a.level)?,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        assistance: m
            .assistance
            .into_iter()
            .map(|a| {
                Ok(view::Assistance {
                    id: a.id,
                    kind: code("assistance kind", &a.kind)?,
                    amount_fen: a.amount_fen,
                    date: date(&a.date)?,
                    paying_node: a.paying_node,
                    approving_node: a.approving_node,
                    note: a.note,
                    by: a.by,
                    node: a.node,
                    at: time_from(a.at)?,
                    merged_from: a.merged_from,
                    merged_node: a.merged_node,
                    approval: a.approval,
                    corrects: a.corrects,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        assistance_total_fen: m.assistance_total_fen,
        loans: m
            .loans
            .into_iter()
            .map(|l| {
                Ok(view::Loan {
                    id: l.id,
                    principal_fen: l.principal_fen,
                    date: date(&l.date)?,
                    due_date: l.due_date.as_deref().map(date).transpose()?,
                    note: l.note,
                    repayments: l
                        .repayments
                        .into_iter()
                        .map(|r| {
                            Ok(view::Repayment {
                                id: r.id,
                                amount_fen: r.amount_fen,
                                date: date(&r.date)?,
                                note: r.note,
                            })
                        })
                        .collect::<Result<_, Unreadable>>()?,
                    repaid_fen: l.repaid_fen,
                    outstanding_fen: l.outstanding_fen,
                    override_reason: l.override_reason,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        visits: m
            .visits
            .into_iter()
            .map(|x| {
                Ok(view::Visit {
                    id: x.id,
                    date: date(&x.date)?,
                    kind: code("visit kind", &x.kind)?,
                    visitor: x.visitor,
                    notes: x.notes,
                    consent: x.consent,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        reviews: m
            .reviews
            .into_iter()
            .map(|r| {
                Ok(view::Review {
                    id: r.id,
                    date: date(&r.date)?,
                    result: code("review result", &r.result)?,
                    reviewer: r.reviewer,
                    notes: r.notes,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        created_at: time_from(m.created_at)?,
        created_by: m.created_by,
        filed_on: m.filed_on.as_deref().map(date).transpose()?,
        filed_on_estimated: m.filed_on_estimated,
        voided: m
            .voided
            .into_iter()
            .map(|x| {
                Ok(hearth_archive::VoidedRecord {
                    id: x.id,
                    what: x.what,
                    reason: x.reason,
                    by: x.by,
                    node: x.node,
                    at: time_from(x.at)?,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
    })
}

/// The message for what the policy says of a case.
pub fn advice_to(a: &Advice) -> pb::Advice {
    pb::Advice {
        policy: a.policy.clone(),
        requirements: a
            .requirements
            .iter()
            .map(|r| pb::Requirement {
                level: r.level.code().to_owned(),
                reason: r.reason.clone(),
            })
            .collect(),
        must_reach: a.must_reach.map(|l| l.code().to_owned()),
        pending: a.pending,
    }
}

/// What the policy says of a case, as a message carries it.
pub fn advice_from(m: pb::Advice) -> Result<Advice, Unreadable> {
    Ok(Advice {
        policy: m.policy,
        requirements: m
            .requirements
            .into_iter()
            .map(|r| {
                Ok(Requirement {
                    level: code("level", &r.level)?,
                    reason: r.reason,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
        must_reach: opt_code("level", m.must_reach)?,
        pending: m.pending,
    })
}

/// The reply for a case read or written.
pub fn case_reply_to(w: &Written, advice: &Advice) -> pb::CaseReply {
    pb::CaseReply {
        id: w.case.id.clone(),
        case: Some(case_to(&w.case)),
        advice: Some(advice_to(advice)),
        record: w.record.clone(),
        reported_to: w.reported_to.clone(),
        loan: w.loan.clone(),
        repeated: w.repeated,
    }
}

/// What a case reply says: the write and the case after it, and the advice.
pub fn case_reply_from(r: pb::CaseReply) -> Result<(Written, Advice), Unreadable> {
    let case = case_from(
        r.case
            .ok_or_else(|| unreadable("a case reply", "without its case"))?,
    )?;
    let advice = advice_from(r.advice.unwrap_or_default())?;
    Ok((
        Written {
            case,
            record: r.record,
            loan: r.loan,
            reported_to: r.reported_to,
            repeated: r.repeated,
        },
        advice,
    ))
}

/// The page request of a listing message.
pub fn page_from(size: u32, token: String) -> PageRequest {
    PageRequest {
        size: Some(size).filter(|n| *n > 0),
        token: Some(token).filter(|t| !t.is_empty()),
    }
}

/// A page request's size and token as a listing message carries them.
pub fn page_to(page: PageRequest) -> (u32, String) {
    (page.size.unwrap_or(0), page.token.unwrap_or_default())
}

fn next_from(token: String) -> Option<String> {
    Some(token).filter(|t| !t.is_empty())
}

fn map_to<K: Copy, V: Clone>(
    m: &BTreeMap<K, V>,
    code: impl Fn(K) -> &'static str,
) -> std::collections::HashMap<String, V> {
    m.iter()
        .map(|(k, v)| (code(*k).to_owned(), v.clone()))
        .collect()
}

fn map_from<K: std::str::FromStr + Ord, V>(
    what: &'static str,
    m: std::collections::HashMap<String, V>,
) -> Result<BTreeMap<K, V>, Unreadable> {
    m.into_iter()
        .map(|(k, v)| Ok((code(what, &k)?, v)))
        .collect()
}

fn year_from(y: i32) -> Result<i16, Unreadable> {
    i16::try_from(y).map_err(|_| unreadable("year", y.to_string()))
}

/// The message for a conflict in the queue.
pub fn conflict_to(c: &QueueEntry) -> pb::Conflict {
    pb::Conflict {
        id: c.id.clone(),
        case: c.case.clone(),
        field: c.field.clone(),
        path: c.path.clone(),
        kind: match c.kind() {
            ConflictKind::Field => "field",
            ConflictKind::Invariant => "invariant",
            ConflictKind::Duplicate => "duplicate",
        }
        .to_owned(),
        sides: c
            .sides
            .iter()
            .map(|s| pb::Side {
                value: s.value.clone(),
                node: s.node.clone(),
                by: s.by.clone(),
                actor: s.actor.clone(),
                at: s.at,
            })
            .collect(),
        since: c.since,
        route: c.route.clone(),
        resolution: c.resolution.as_ref().map(|r| pb::Resolution {
            by: r.by.clone(),
            node: r.node.clone(),
            at: r.at,
            how: r.how.clone(),
        }),
    }
}

/// The conflict a message carries (its kind follows from its path).
pub fn conflict_from(m: pb::Conflict) -> QueueEntry {
    QueueEntry {
        id: m.id,
        case: m.case,
        field: m.field,
        path: m.path,
        sides: m
            .sides
            .into_iter()
            .map(|s| Side {
                value: s.value,
                node: s.node,
                by: s.by,
                actor: s.actor,
                at: s.at,
            })
            .collect(),
        since: m.since,
        route: m.route,
        resolution: m.resolution.map(|r| Resolution {
            by: r.by,
            node: r.node,
            at: r.at,
            how: r.how,
        }),
    }
}

/// The reply carrying a page of the conflict queue.
pub fn conflicts_reply_to(page: Page<QueueEntry>) -> pb::ConflictsReply {
    pb::ConflictsReply {
        conflicts: page.items.iter().map(conflict_to).collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The message for a page of the access log.
pub fn access_log_to(page: Page<hearth_ops::AccessEntry>) -> pb::AccessLogReply {
    pb::AccessLogReply {
        entries: page
            .items
            .into_iter()
            .map(|e| pb::AccessEntry {
                at: e.at.as_millisecond(),
                account: e.account,
                case: e.case,
            })
            .collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The page of the access log a reply carries.
pub fn access_log_from(m: pb::AccessLogReply) -> Result<Page<hearth_ops::AccessEntry>, Unreadable> {
    let items = m
        .entries
        .into_iter()
        .map(|e| {
            Ok(hearth_ops::AccessEntry {
                at: Timestamp::from_millisecond(e.at)
                    .map_err(|_| unreadable("time", e.at.to_string()))?,
                account: e.account,
                case: e.case,
            })
        })
        .collect::<Result<_, Unreadable>>()?;
    Ok(Page {
        items,
        next: next_from(m.next_page_token),
    })
}

/// The message for a case's history.
pub fn history_to(case: String, changes: &[hearth_archive::Change]) -> pb::CaseHistoryReply {
    pb::CaseHistoryReply {
        case,
        changes: changes
            .iter()
            .map(|c| pb::CaseChange {
                what: c.what.clone(),
                by: c.by.clone(),
                node: c.node.clone(),
                at: time_to(c.at),
            })
            .collect(),
    }
}

/// The case id and history a reply carries.
pub fn history_from(
    m: pb::CaseHistoryReply,
) -> Result<(String, Vec<hearth_archive::Change>), Unreadable> {
    let changes = m
        .changes
        .into_iter()
        .map(|c| {
            Ok(hearth_archive::Change {
                what: c.what,
                by: c.by,
                node: c.node,
                at: time_from(c.at)?,
            })
        })
        .collect::<Result<_, Unreadable>>()?;
    Ok((m.case, changes))
}

/// The page of the conflict queue a reply carries.
pub fn conflicts_reply_from(r: pb::ConflictsReply) -> Page<QueueEntry> {
    Page {
        items: r.conflicts.into_iter().map(conflict_from).collect(),
        next: next_from(r.next_page_token),
    }
}

fn entry_to(id: &str, e: &Entry) -> pb::LedgerEntry {
    use pb::ledger_entry::Entry as E;
    let stamp = e.stamp();
    let entry = match e {
        Entry::Budget {
            year, amount_fen, ..
        } => E::Budget(pb::Budget {
            year: i32::from(*year),
            amount_fen: *amount_fen,
        }),
        Entry::Income {
            date,
            source,
            amount_fen,
            from_node,
            note,
            ..
        } => E::Income(pb::Income {
            date: date.to_string(),
            source: source.code().to_owned(),
            amount_fen: *amount_fen,
            from_node: from_node.clone(),
            note: note.clone(),
        }),
        Entry::Disbursement {
            date,
            amount_fen,
            kind,
            case,
            assistance,
            ..
        } => E::Disbursement(pb::Disbursement {
            date: date.to_string(),
            amount_fen: *amount_fen,
            kind: kind.code().to_owned(),
            case: case.clone(),
            assistance: assistance.clone(),
        }),
        Entry::GrantOut {
            date,
            to_node,
            amount_fen,
            note,
            ..
        } => E::GrantOut(pb::GrantOut {
            date: date.to_string(),
            to_node: to_node.clone(),
            amount_fen: *amount_fen,
            note: note.clone(),
        }),
        Entry::Reversal {
            date,
            amount_fen,
            kind,
            case,
            assistance,
            reason,
            ..
        } => E::Reversal(pb::Reversal {
            date: date.to_string(),
            amount_fen: *amount_fen,
            kind: kind.code().to_owned(),
            case: case.clone(),
            assistance: assistance.clone(),
            reason: reason.clone(),
        }),
        Entry::LoanOut {
            date,
            amount_fen,
            case,
            loan,
            ..
        } => E::LoanOut(loan_money(*date, *amount_fen, case, loan)),
        Entry::LoanBack {
            date,
            amount_fen,
            case,
            loan,
            ..
        } => E::LoanBack(loan_money(*date, *amount_fen, case, loan)),
    };
    pb::LedgerEntry {
        id: id.to_owned(),
        by: stamp.by.clone(),
        node: stamp.node.clone(),
        at: stamp.at.as_millisecond(),
        entry: Some(entry),
    }
}

/// Money lent from a fund or repaid into it, as a message.
fn loan_money(date: Date, amount_fen: i64, case: &str, loan: &str) -> pb::LoanMoney {
    pb::LoanMoney {
        date: date.to_string(),
        amount_fen,
        case: case.to_owned(),
        loan: loan.to_owned(),
    }
}

fn entry_from(m: pb::LedgerEntry) -> Result<(String, Entry), Unreadable> {
    use pb::ledger_entry::Entry as E;
    let stamp = Stamp {
        by: m.by,
        node: m.node,
        at: time_from(Some(m.at))?.unwrap_or_default(),
    };
    let entry = match m
        .entry
        .ok_or_else(|| unreadable("a ledger entry", "that is empty"))?
    {
        E::Budget(b) => Entry::Budget {
            year: year_from(b.year)?,
            amount_fen: b.amount_fen,
            stamp,
        },
        E::Income(i) => Entry::Income {
            date: date(&i.date)?,
            source: code("income source", &i.source)?,
            amount_fen: i.amount_fen,
            from_node: i.from_node,
            note: i.note,
            stamp,
        },
        E::Disbursement(d) => Entry::Disbursement {
            date: date(&d.date)?,
            amount_fen: d.amount_fen,
            kind: code("assistance kind", &d.kind)?,
            case: d.case,
            assistance: d.assistance,
            stamp,
        },
        E::GrantOut(g) => Entry::GrantOut {
            date: date(&g.date)?,
            to_node: g.to_node,
            amount_fen: g.amount_fen,
            note: g.note,
            stamp,
        },
        E::LoanOut(l) => Entry::LoanOut {
            date: date(&l.date)?,
            amount_fen: l.amount_fen,
            case: l.case,
            loan: l.loan,
            stamp,
        },
        E::LoanBack(l) => Entry::LoanBack {
            date: date(&l.date)?,
            amount_fen: l.amount_fen,
            case: l.case,
            loan: l.loan,
            stamp,
        },
        E::Reversal(r) => Entry::Reversal {
            date: date(&r.date)?,
            amount_fen: r.amount_fen,
            kind: code("assistance kind", &r.kind)?,
            case: r.case,
            assistance: r.assistance,
            reason: r.reason,
            stamp,
        },
    };
    Ok((m.id, entry))
}

/// The message for a fund ledger of a year.
pub fn ledger_to(l: &LedgerView) -> pb::Ledger {
    pb::Ledger {
        node: l.node.clone(),
        year: i32::from(l.year),
        budget_fen: l.budget_fen,
        income_fen: map_to(&l.income_fen, IncomeSource::code),
        disbursed_fen: map_to(&l.disbursed_fen, AssistanceKind::code),
        granted_fen: l.granted_fen,
        opening_fen: l.opening_fen,
        closing_fen: l.closing_fen,
        balance_fen: l.balance_fen,
        entries: l.entries.iter().map(|(id, e)| entry_to(id, e)).collect(),
        lent_fen: l.lent_fen,
        repaid_fen: l.repaid_fen,
        outstanding_fen: l.outstanding_fen,
        overdue_fen: l.overdue_fen,
    }
}

/// The fund ledger a message carries.
pub fn ledger_from(m: pb::Ledger) -> Result<LedgerView, Unreadable> {
    Ok(LedgerView {
        node: m.node,
        year: year_from(m.year)?,
        budget_fen: m.budget_fen,
        income_fen: map_from("income source", m.income_fen)?,
        disbursed_fen: map_from("assistance kind", m.disbursed_fen)?,
        granted_fen: m.granted_fen,
        opening_fen: m.opening_fen,
        closing_fen: m.closing_fen,
        balance_fen: m.balance_fen,
        entries: m
            .entries
            .into_iter()
            .map(entry_from)
            .collect::<Result<_, _>>()?,
        lent_fen: m.lent_fen,
        repaid_fen: m.repaid_fen,
        outstanding_fen: m.outstanding_fen,
        overdue_fen: m.overdue_fen,
    })
}

/// The message for a disclosure.
pub fn disclosure_to(d: &Disclosure) -> pb::Disclosure {
    pb::Disclosure {
        ledger: Some(ledger_to(&d.ledger)),
        income: d
            .income
            .iter()
            .map(|(date, source, from, fen)| pb::DisclosedIncome {
                date: date.to_string(),
                source: source.code().to_owned(),
                from_node: from.clone(),
                amount_fen: *fen,
            })
            .collect(),
        grants: d
            .grants
            .iter()
            .map(|(date, to, fen)| pb::DisclosedGrant {
                date: date.to_string(),
                to_node: to.clone(),
                amount_fen: *fen,
            })
            .collect(),
        payments: d
            .payments
            .iter()
            .map(|p| pb::DisclosedPayment {
                date: p.date.to_string(),
                kind: p.kind.code().to_owned(),
                recipient: p.recipient.clone(),
                amount_fen: p.amount_fen,
            })
            .collect(),
    }
}

/// The disclosure a message carries.
pub fn disclosure_from(m: pb::Disclosure) -> Result<Disclosure, Unreadable> {
    Ok(Disclosure {
        ledger: ledger_from(m.ledger.unwrap_or_default())?,
        income: m
            .income
            .into_iter()
            .map(|i| {
                Ok((
                    date(&i.date)?,
                    code("income source", &i.source)?,
                    i.from_node,
                    i.amount_fen,
                ))
            })
            .collect::<Result<_, Unreadable>>()?,
        grants: m
            .grants
            .into_iter()
            .map(|g| Ok((date(&g.date)?, g.to_node, g.amount_fen)))
            .collect::<Result<_, Unreadable>>()?,
        payments: m
            .payments
            .into_iter()
            .map(|p| {
                Ok(DisclosedPayment {
                    date: date(&p.date)?,
                    kind: code("assistance kind", &p.kind)?,
                    recipient: p.recipient,
                    amount_fen: p.amount_fen,
                })
            })
            .collect::<Result<_, Unreadable>>()?,
    })
}

fn totals_to(t: &Totals) -> pb::Totals {
    pb::Totals {
        cases: t.cases,
        by_status: map_to(&t.by_status, Status::code),
        by_grade: map_to(&t.by_grade, Grade::code),
        by_cause: map_to(&t.by_cause, Cause::code),
        paid_fen: map_to(&t.paid_fen, AssistanceKind::code),
        households_helped: t.households_helped,
        people_helped: t.people_helped,
        visits: t.visits,
        filed_this_year: t.filed_this_year,
        lifted_this_year: t.lifted_this_year,
        closed_this_year: t.closed_this_year,
        start_of_year: t.start_of_year,
        end_of_year: t.end_of_year,
        in_hardship: t.in_hardship,
        filed_on_estimated: t.filed_on_estimated,
        filed_by_month: t.filed_by_month.to_vec(),
        lifted_by_month: t.lifted_by_month.to_vec(),
        closed_by_month: t.closed_by_month.to_vec(),
        paid_by_month: t
            .paid_by_month_fen
            .iter()
            .map(|(kind, fen)| pb::MonthlyAid {
                kind: kind.code().to_owned(),
                fen: fen.to_vec(),
            })
            .collect(),
    }
}

/// Twelve months, or none (all zero) from a summary that did not count them.
fn months<T: Copy + Default>(what: &'static str, v: Vec<T>) -> Result<[T; 12], Unreadable> {
    if v.is_empty() {
        return Ok([T::default(); 12]);
    }
    let n = v.len();
    v.try_into()
        .map_err(|_| unreadable(what, format!("{n} months")))
}

fn totals_from(m: pb::Totals) -> Result<Totals, Unreadable> {
    Ok(Totals {
        cases: m.cases,
        by_status: map_from("status", m.by_status)?,
        by_grade: map_from("grade", m.by_grade)?,
        by_cause: map_from("cause", m.by_cause)?,
        paid_fen: map_from("assistance kind", m.paid_fen)?,
        households_helped: m.households_helped,
        people_helped: m.people_helped,
        visits: m.visits,
        filed_this_year: m.filed_this_year,
        lifted_this_year: m.lifted_this_year,
        closed_this_year: m.closed_this_year,
        start_of_year: m.start_of_year,
        end_of_year: m.end_of_year,
        in_hardship: m.in_hardship,
        filed_on_estimated: m.filed_on_estimated,
        filed_by_month: months("filed by month", m.filed_by_month)?,
        lifted_by_month: months("lifted by month", m.lifted_by_month)?,
        closed_by_month: months("closed by month", m.closed_by_month)?,
        paid_by_month_fen: m
            .paid_by_month
            .into_iter()
            .map(|a| {
                Ok((
                    code("assistance kind", &a.kind)?,
                    months("aid paid by month", a.fen)?,
                ))
            })
            .collect::<Result<_, Unreadable>>()?,
    })
}

/// The message for a node's summary.
pub fn node_summary_to(n: &NodeSummary) -> pb::NodeSummary {
    pb::NodeSummary {
        node: n.node.clone(),
        level: n.level.code().to_owned(),
        year: i32::from(n.year),
        as_of: n.as_of.as_millisecond(),
        own: Some(totals_to(&n.own)),
        children: n
            .children
            .iter()
            .map(|(c, t)| (c.clone(), totals_to(t)))
            .collect(),
        total: Some(totals_to(&n.total)),
        conflicts: n
            .conflicts
            .iter()
            .map(|c| pb::ConflictBrief {
                id: c.id.clone(),
                case: c.case.clone(),
                field: c.field.clone(),
                route: c.route.clone(),
            })
            .collect(),
    }
}

/// The node summary a message carries.
pub fn node_summary_from(m: pb::NodeSummary) -> Result<NodeSummary, Unreadable> {
    Ok(NodeSummary {
        node: m.node,
        level: code("level", &m.level)?,
        year: year_from(m.year)?,
        as_of: time_from(Some(m.as_of))?.unwrap_or_default(),
        own: totals_from(m.own.unwrap_or_default())?,
        children: m
            .children
            .into_iter()
            .map(|(c, t)| Ok((c, totals_from(t)?)))
            .collect::<Result<_, Unreadable>>()?,
        total: totals_from(m.total.unwrap_or_default())?,
        conflicts: m
            .conflicts
            .into_iter()
            .map(|c| ConflictBrief {
                id: c.id,
                case: c.case,
                field: c.field,
                route: c.route,
            })
            .collect(),
    })
}

/// The message for a case on a due list.
pub fn due_to((kind, c): &(DueKind, DueCase)) -> pb::DueCase {
    pb::DueCase {
        what: kind.code().to_owned(),
        id: c.id.clone(),
        name: c.name.clone(),
        status: c.status.code().to_owned(),
        detail: c.detail.clone(),
    }
}

/// The case on a due list a message carries.
pub fn due_from(m: pb::DueCase) -> Result<(DueKind, DueCase), Unreadable> {
    Ok((
        code("due list", &m.what)?,
        DueCase {
            id: m.id,
            name: m.name,
            status: code("status", &m.status)?,
            detail: m.detail,
        },
    ))
}

/// The reply carrying a page of the due lists.
pub fn due_reply_to(page: Page<(DueKind, DueCase)>) -> pb::DueCasesReply {
    pb::DueCasesReply {
        due: page.items.iter().map(due_to).collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The page of the due lists a reply carries.
pub fn due_reply_from(r: pb::DueCasesReply) -> Result<Page<(DueKind, DueCase)>, Unreadable> {
    Ok(Page {
        items: r.due.into_iter().map(due_from).collect::<Result<_, _>>()?,
        next: next_from(r.next_page_token),
    })
}

/// The reply carrying a page of the cases to escalate.
pub fn pending_reply_to(page: Page<(CaseSummary, Advice)>) -> pb::PendingCasesReply {
    pb::PendingCasesReply {
        cases: page
            .items
            .iter()
            .map(|(c, a)| pb::PendingCase {
                case: Some(summary_to(c)),
                advice: Some(advice_to(a)),
            })
            .collect(),
        next_page_token: page.next.unwrap_or_default(),
    }
}

/// The page of the cases to escalate a reply carries.
pub fn pending_reply_from(
    r: pb::PendingCasesReply,
) -> Result<Page<(CaseSummary, Advice)>, Unreadable> {
    Ok(Page {
        items: r
            .cases
            .into_iter()
            .map(|p| {
                Ok((
                    summary_from(p.case.unwrap_or_default())?,
                    advice_from(p.advice.unwrap_or_default())?,
                ))
            })
            .collect::<Result<_, Unreadable>>()?,
        next: next_from(r.next_page_token),
    })
}

/// The message for a policy version.
pub fn policy_to(p: &Policy) -> pb::Policy {
    pb::Policy {
        version: p.version,
        effective_from: p.effective_from.to_string(),
        levels: codes_to(&p.levels, Level::code),
        subsistence_lines_fen: p.subsistence_lines_fen.clone().into_iter().collect(),
        yearly_caps_fen: map_to(&p.yearly_caps_fen, AssistanceKind::code),
        one_off_cap_fen: p.one_off_cap_fen,
        authority_fen: map_to(&p.authority_fen, Level::code),
        escalation: Some(pb::EscalationRules {
            deep_to: p.escalation.deep_to.code().to_owned(),
            medical_yearly_fen: p.escalation.medical_yearly_fen,
            medical_stay_fen: p.escalation.medical_stay_fen,
            medical_to: p.escalation.medical_to.code().to_owned(),
        }),
        set_by: p.set_by.clone(),
        set_node: p.set_node.clone(),
        at_or_below: p.grading.at_or_below,
        relative_percent: p.grading.relative_percent,
        exclusions: codes_to(&p.grading.exclusions, Exclusion::code),
        filing_level: p.filing_level.code().to_owned(),
        notice_working_days: p.notice_working_days,
        living_cap_months: map_to(&p.living_cap_months, Grade::code),
        loan_limit_fen: p.loan_limit_fen,
    }
}

/// The policy version a message carries.
pub fn policy_from(m: pb::Policy) -> Result<Policy, Unreadable> {
    let e = m
        .escalation
        .ok_or_else(|| unreadable("a policy", "without escalation rules"))?;
    Ok(Policy {
        version: m.version,
        effective_from: date(&m.effective_from)?,
        levels: codes_from("level", &m.levels)?,
        subsistence_lines_fen: m.subsistence_lines_fen.into_iter().collect(),
        yearly_caps_fen: map_from("assistance kind", m.yearly_caps_fen)?,
        one_off_cap_fen: m.one_off_cap_fen,
        authority_fen: map_from("level", m.authority_fen)?,
        escalation: EscalationRules {
            deep_to: code("level", &e.deep_to)?,
            medical_yearly_fen: e.medical_yearly_fen,
            medical_stay_fen: e.medical_stay_fen,
            medical_to: code("level", &e.medical_to)?,
        },
        set_by: m.set_by,
        set_node: m.set_node,
        grading: hearth_archive::GradeStandard {
            version: m.version,
            at_or_below: m.at_or_below,
            relative_percent: m.relative_percent,
            exclusions: codes_from("exclusion", &m.exclusions)?,
        },
        filing_level: code("level", &m.filing_level)?,
        notice_working_days: m.notice_working_days,
        living_cap_months: map_from("grade", m.living_cap_months)?,
        loan_limit_fen: m.loan_limit_fen,
    })
}

/// How one field of a request travels: most as they are; a case form in its message.
trait Wire<W>: Sized {
    fn to_wire(self) -> W;
    fn from_wire(w: W) -> Self;
}

impl<T> Wire<T> for T {
    fn to_wire(self) -> T {
        self
    }
    fn from_wire(w: T) -> T {
        w
    }
}

impl Wire<Option<pb::CaseForm>> for CaseForm {
    fn to_wire(self) -> Option<pb::CaseForm> {
        Some(form_to(self))
    }
    fn from_wire(w: Option<pb::CaseForm>) -> CaseForm {
        form_from(w.unwrap_or_default())
    }
}

/// Both directions between the domain's and the protocol's case form, over one list of fields.
macro_rules! form_conversions {
    ($($field:ident),+ $(,)?) => {
        /// The case form a message carries.
        pub fn form_from(f: pb::CaseForm) -> CaseForm {
            CaseForm { $($field: f.$field),+ }
        }

        /// The message for a case form.
        pub fn form_to(f: CaseForm) -> pb::CaseForm {
            pb::CaseForm { $($field: f.$field),+ }
        }
    };
}

form_conversions!(
    name,
    id_number,
    gender,
    birth_year,
    employer,
    job,
    phone,
    address,
    household_size,
    annual_income,
    rigid_spending,
    hardship_costs,
    subsistence_line,
    primary_cause,
    secondary_causes,
    other_cause,
    urgent_needs,
    skills,
    employment_wishes,
    state_of_mind,
    medical_costs,
    largest_stay,
    aid_request,
    compensation,
    exclusions,
    region,
);

/// For an enum of writes (`$domain`), the enum of the messages that carry them (`$wire`), each
/// variant to the request message of its RPC and back, over one list of fields per variant;
/// every message also names the person (`by`).
macro_rules! write_messages {
    ($domain:ident, $wire:ident, $to:ident: $($variant:ident($msg:ident) { $($field:ident),* $(,)? }),+ $(,)?) => {
        /// Each write as the request message of its RPC.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(missing_docs)]
        pub enum $wire {
            $($variant(pb::$msg)),+
        }

        /// The message for a write made by `by`.
        pub fn $to(w: $domain, by: String) -> $wire {
            match w {
                $($domain::$variant { $($field),* } => $wire::$variant(pb::$msg {
                    by,
                    $($field: Wire::to_wire($field)),*
                })),+
            }
        }

        $(
            impl From<pb::$msg> for $domain {
                fn from(m: pb::$msg) -> $domain {
                    $domain::$variant { $($field: Wire::from_wire(m.$field)),* }
                }
            }
        )+
    };
}

write_messages!(Write, WriteMessage, write_to:
    NewCase(NewCaseRequest) { form },
    EditCase(EditCaseRequest) { case, form },
    FileCase(FileCaseRequest) { case, via, override_reason },
    Step(RecordStepRequest) { case, step, date, result, checker, note },
    ApproveAid(ApproveAidRequest) { case, kind, amount, note },
    Transition(TransitionCaseRequest) { case, to, reason, on, outstanding_reason },
    Grade(GradeCaseRequest) { case, set, reason },
    Escalate(EscalateCaseRequest) { case, to_level, reason, via },
    AddMember(AddMemberRequest) { case, relation, age, health, occupation },
    AddAssistance(AddAssistanceRequest) {
        case, kind, amount, date, paying_node, approving_node, note,
    },
    AddLoan(AddLoanRequest) { case, amount, date, due, note, override_reason },
    RepayLoan(RepayLoanRequest) { case, loan, amount, date, note },
    AddVisit(AddVisitRequest) { case, date, kind, visitor, notes, consent },
    MonthlyIncome(AddMonthlyIncomeRequest) { case, month, amount },
    Decide(DecideCaseRequest) { case, decision, note },
    AddReview(AddReviewRequest) { case, date, result, reviewer, notes },
    Void(VoidRecordRequest) { case, record, reason },
    CorrectAid(CorrectAidRequest) { case, record, reason, kind, amount, date, note },
);

write_messages!(FundWrite, FundMessage, fund_to:
    Income(FundIncomeRequest) { source, amount, date, note },
    Budget(FundBudgetRequest) { year, amount },
    Grant(FundGrantRequest) { to, amount, date, note },
);

/// A piece of an import made by `by`; `last` on the last piece.
pub fn import_to(rows: Vec<ImportRow>, by: String, last: bool) -> pb::ImportCasesRequest {
    pb::ImportCasesRequest {
        by,
        last,
        rows: rows
            .into_iter()
            .map(|r| pb::ImportRow {
                line: r.line,
                form: Some(form_to(r.form)),
                status: r.status,
                unreadable: r.unreadable,
                filed_on: r.filed_on,
            })
            .collect(),
    }
}

/// The rows a piece of an import carries.
pub fn import_from(m: pb::ImportCasesRequest) -> Vec<ImportRow> {
    m.rows
        .into_iter()
        .map(|r| ImportRow {
            line: r.line,
            form: form_from(r.form.unwrap_or_default()),
            status: r.status,
            unreadable: r.unreadable,
            filed_on: r.filed_on,
        })
        .collect()
}

/// The message for resolving conflict `conflict` by `by`.
pub fn resolve_to(conflict: String, how: Resolve, by: String) -> pb::ResolveConflictRequest {
    use pb::resolve_conflict_request::How;
    pb::ResolveConflictRequest {
        by,
        conflict,
        how: Some(match how {
            Resolve::Pick(n) => How::Pick(u32::try_from(n).unwrap_or(u32::MAX)),
            Resolve::Value(v) => How::Value(v),
            Resolve::Acknowledge(note) => How::Acknowledge(note),
            Resolve::MergeInto(case) => How::MergeInto(case),
        }),
    }
}

/// The conflict and how to resolve it, as a message says; `None` if it does not say how.
pub fn resolve_from(m: pb::ResolveConflictRequest) -> Option<(String, Resolve)> {
    use pb::resolve_conflict_request::How;
    let how = match m.how? {
        How::Pick(n) => Resolve::Pick(usize::try_from(n).unwrap_or(usize::MAX)),
        How::Value(v) => Resolve::Value(v),
        How::Acknowledge(note) => Resolve::Acknowledge(note),
        How::MergeInto(case) => Resolve::MergeInto(case),
    };
    Some((m.conflict, how))
}

/// The message for an account write by `by` (`None`: list the accounts).
pub fn accounts_to(w: Option<AccountWrite>, by: String) -> pb::AccountsRequest {
    use pb::accounts_request::Action;
    pb::AccountsRequest {
        by,
        action: w.map(|w| match w {
            AccountWrite::Add { name, role } => Action::Add(pb::AccountAdd { name, role }),
            AccountWrite::Disable { name } => Action::Disable(name),
            AccountWrite::Enable { name } => Action::Enable(name),
            AccountWrite::ResetPassword { name } => Action::ResetPassword(name),
        }),
    }
}

/// The account write a message carries (`None`: list the accounts).
pub fn accounts_from(m: pb::AccountsRequest) -> Option<AccountWrite> {
    use pb::accounts_request::Action;
    Some(match m.action? {
        Action::Add(a) => AccountWrite::Add {
            name: a.name,
            role: a.role,
        },
        Action::Disable(name) => AccountWrite::Disable { name },
        Action::Enable(name) => AccountWrite::Enable { name },
        Action::ResetPassword(name) => AccountWrite::ResetPassword { name },
    })
}

/// The message for accounts shown, and a password made (once).
pub fn accounts_reply_to(accounts: &[AccountView], password: Option<String>) -> pb::AccountsReply {
    pb::AccountsReply {
        accounts: accounts
            .iter()
            .map(|a| pb::Account {
                name: a.name.clone(),
                role: a.role.code().to_owned(),
                disabled: a.disabled,
                locked_until: time_to(a.locked_until),
                created_at: a.created_at.as_millisecond(),
                created_by: a.created_by.clone(),
            })
            .collect(),
        password,
    }
}

/// The accounts a reply carries, and the password made, if any.
pub fn accounts_reply_from(
    m: pb::AccountsReply,
) -> Result<(Vec<AccountView>, Option<String>), Unreadable> {
    let accounts = m
        .accounts
        .into_iter()
        .map(|a| {
            Ok(AccountView {
                role: a
                    .role
                    .parse::<Role>()
                    .map_err(|_| unreadable("role", a.role.clone()))?,
                name: a.name,
                disabled: a.disabled,
                locked_until: time_from(a.locked_until)?,
                created_at: time_from(Some(a.created_at))?.unwrap_or_default(),
                created_by: a.created_by,
            })
        })
        .collect::<Result<_, Unreadable>>()?;
    Ok((accounts, m.password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn account_writes_and_replies_survive_the_trip() {
        use prost::Message;
        let writes = [
            None,
            Some(AccountWrite::Add {
                name: "李干事".into(),
                role: "caseworker".into(),
            }),
            Some(AccountWrite::Disable { name: "a".into() }),
            Some(AccountWrite::Enable { name: "b".into() }),
            Some(AccountWrite::ResetPassword { name: "c".into() }),
        ];
        for w in writes {
            let m = accounts_to(w.clone(), "admin".into());
            let m = pb::AccountsRequest::decode(m.encode_to_vec().as_slice()).unwrap();
            assert_eq!(accounts_from(m), w);
        }
        let view = AccountView {
            name: "赵审核".into(),
            role: Role::Reviewer,
            disabled: true,
            locked_until: Some(Timestamp::from_millisecond(1_780_000_000_123).unwrap()),
            created_at: Timestamp::from_millisecond(1_770_000_000_000).unwrap(),
            created_by: "张敏".into(),
        };
        let m = accounts_reply_to(std::slice::from_ref(&view), Some("pw".into()));
        let m = pb::AccountsReply::decode(m.encode_to_vec().as_slice()).unwrap();
        assert_eq!(
            accounts_reply_from(m).unwrap(),
            (vec![view], Some("pw".into()))
        );
    }

    fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    fn day() -> impl Strategy<Value = Date> {
        (1990i16..2100, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
    }

    fn summary() -> impl Strategy<Value = CaseSummary> {
        use proptest::collection::{btree_map, vec};
        use proptest::option::of;
        let codes = (
            one_of(Status::ALL),
            of(one_of(Grade::ALL)),
            of(one_of(Cause::ALL)),
            vec(one_of(Cause::ALL), 0..3),
            of(one_of(Level::ALL)),
        );
        let figures = (
            of(1i64..20),
            of(any::<i64>()),
            any::<i64>(),
            any::<i64>(),
            of(-1_000_000_000_000i64..4_000_000_000_000),
            (of(any::<i64>()), of(any::<i64>()), of(any::<i64>())),
        );
        let maps = (
            btree_map(
                any::<i16>(),
                btree_map(one_of(AssistanceKind::ALL), any::<i64>(), 1..3),
                0..3,
            ),
            btree_map(any::<i16>(), any::<u32>(), 0..3),
            btree_map(one_of(Status::ALL), day(), 0..3),
            of(day()),
            vec(("[0-9a-f]{8}", of(day()), any::<i64>()), 0..3),
            of((any::<u32>(), "20[0-9]{2}-[01][0-9]")),
            (
                of(day()),
                any::<bool>(),
                of((day(), one_of(Status::ALL))),
                any::<u32>(),
            ),
        );
        let text = (
            "[0-9a-f]{16}",
            "[a-z.-]{1,20}",
            of("\\PC{0,8}"),
            any::<bool>(),
            of("[0-9a-f]{64}"),
            vec("[a-z.-]{1,20}", 0..3),
        );
        (codes, figures, maps, text).prop_map(
            |(
                (status, grade, primary_cause, secondary_causes, target_level),
                (size, per_capita, aid, outstanding, created, (medical, stay, ask)),
                (
                    aid_by_year,
                    visits_by_year,
                    entered,
                    last_review,
                    open_loans,
                    above_line,
                    (filed_on, filed_on_estimated, exited, loans),
                ),
                (id, home, name, grade_overridden, identity_key, participants),
            )| CaseSummary {
                aid_by_month: aid_by_year
                    .iter()
                    .map(|(y, kinds)| (u32::try_from(*y).unwrap_or(0) * 100 + 6, kinds.clone()))
                    .collect(),
                id,
                home,
                phone: name.clone().map(|n| format!("138{}", n.len())),
                name,
                status,
                grade,
                grade_overridden,
                primary_cause,
                secondary_causes,
                household_size: size,
                per_capita_monthly_fen: per_capita,
                identity_key,
                participants,
                assistance_total_fen: aid,
                outstanding_fen: outstanding,
                created_at: created.map(|ms| Timestamp::from_millisecond(ms).unwrap()),
                medical_costs_fen: medical,
                largest_stay_fen: stay,
                aid_request_fen: ask,
                target_level,
                aid_by_year,
                visits_by_year,
                entered,
                last_review,
                open_loans,
                above_line,
                filed_on,
                filed_on_estimated,
                exited,
                loans,
            },
        )
    }

    /// A case with every kind of record, written through the operations at a team and decided
    /// on at its branch.
    fn full_case() -> (view::CaseView, Advice) {
        use hearth_ops::{CountingIds, Ctx, MemoryCases, Place, Request, Write, execute};
        let now = Date::new(2026, 6, 15)
            .unwrap()
            .at(12, 0, 0, 0)
            .in_tz("Asia/Shanghai")
            .unwrap();
        let salt = hearth_archive::FederationSalt::sample();
        let team = Place {
            node_id: "demo.team-1".into(),
            level: Level::Team,
            parents: vec!["demo.branch".into()],
            children: Vec::new(),
        };
        let branch = Place {
            node_id: "demo.branch".into(),
            level: Level::Branch,
            parents: vec!["demo.enterprise".into()],
            children: vec!["demo.team-1".into()],
        };
        let ids = CountingIds::default();
        let at = |place| Ctx {
            place,
            salt: &salt,
            by: "张敏",
            now: &now,
            ids: &ids,
        };
        let mut t = MemoryCases::new("demo.team-1", now.date());
        let w = |cases: &mut MemoryCases, place, w: Write| match execute(
            cases,
            &at(place),
            None,
            Request::Write(Box::new(w)),
        )
        .unwrap()
        {
            hearth_ops::Reply::Case { written, advice } => (*written, advice),
            other => panic!("{}", other.kind()),
        };
        let mut form = hearth_archive::CaseForm {
            name: Some("王建国".into()),
            id_number: Some(hearth_archive::identity::sample_id_number(3)),
            gender: Some("male".into()),
            birth_year: Some("1975".into()),
            employer: Some("机械厂".into()),
            job: Some("钳工".into()),
            phone: Some("13800000000".into()),
            address: Some("幸福路 1 号".into()),
            household_size: Some("3".into()),
            annual_income: Some("9000".into()),
            rigid_spending: Some("1000".into()),
            hardship_costs: Some("500".into()),
            subsistence_line: Some("800".into()),
            primary_cause: Some("serious_illness".into()),
            secondary_causes: vec!["unemployed;other".into()],
            other_cause: Some("房屋受损".into()),
            urgent_needs: Some("医药费".into()),
            skills: Some("电焊".into()),
            employment_wishes: Some("就近".into()),
            state_of_mind: Some("焦虑".into()),
            medical_costs: Some("20000".into()),
            largest_stay: Some("8000".into()),
            aid_request: Some("3000".into()),
            region: Some("110101".into()),
            compensation: None,
            exclusions: None,
        };
        let id = w(&mut t, &team, Write::NewCase { form: form.clone() })
            .0
            .case
            .id;
        form.household_size = Some("4".into());
        form.compensation = Some("2000".into());
        form.exclusions = Some("car".into());
        w(
            &mut t,
            &team,
            Write::EditCase {
                case: id.clone(),
                form,
            },
        );
        let case = || id.clone();
        let step = |step: &str, date: &str, result: Option<&str>| Write::Step {
            case: case(),
            step: step.into(),
            date: Some(date.into()),
            result: result.map(str::to_owned),
            checker: Some("民政局 王".into()),
            note: Some("无异常".into()),
        };
        for write in [
            Write::AddMember {
                case: case(),
                relation: "spouse".into(),
                age: Some("48".into()),
                health: Some("good".into()),
                occupation: Some("none".into()),
            },
            step("grassroots_review", "2026-05-01", None),
            Write::AddVisit {
                case: case(),
                date: "2026-05-02".into(),
                kind: "home".into(),
                visitor: Some("李".into()),
                notes: Some("住房漏雨".into()),
                consent: true,
            },
            step("civil_check", "2026-05-03", Some("matched")),
            step("notice", "2026-05-04", None),
            Write::FileCase {
                case: case(),
                via: None,
                override_reason: Some("车辆为残疾人代步车".into()),
            },
        ] {
            w(&mut t, &team, write);
        }
        let mut b = MemoryCases::new("demo.branch", now.date());
        b.receive(&id, &t).unwrap();
        for write in [
            Write::Decide {
                case: case(),
                decision: "approve".into(),
                note: "同意".into(),
            },
            Write::ApproveAid {
                case: case(),
                kind: "medical".into(),
                amount: "1500".into(),
                note: Some("大病".into()),
            },
        ] {
            w(&mut b, &branch, write);
        }
        t.receive(&id, &b).unwrap();
        let Ok(hearth_ops::Reply::Ledger { .. }) = execute(
            &mut t,
            &at(&team),
            None,
            Request::Fund(hearth_ops::FundWrite::Income {
                source: "budget".into(),
                amount: "10000".into(),
                date: "2026-01-05".into(),
                note: None,
            }),
        ) else {
            panic!("income is recorded")
        };
        for write in [
            Write::AddAssistance {
                case: case(),
                kind: "medical".into(),
                amount: "1200.50".into(),
                date: "2026-06-15".into(),
                paying_node: Some("demo.branch".into()),
                approving_node: None,
                note: Some("住院".into()),
            },
            Write::AddLoan {
                case: case(),
                amount: "3000".into(),
                date: "2026-06-02".into(),
                due: "2027-02-01".into(),
                note: Some("助学".into()),
                override_reason: Some("主席批准".into()),
            },
            Write::RepayLoan {
                case: case(),
                loan: None,
                amount: "500".into(),
                date: "2026-06-05".into(),
                note: None,
            },
            Write::AddReview {
                case: case(),
                date: "2026-06-12".into(),
                result: "confirmed".into(),
                reviewer: Some("赵".into()),
                notes: None,
            },
            Write::MonthlyIncome {
                case: case(),
                month: "2026-05".into(),
                amount: "700".into(),
            },
            Write::Grade {
                case: case(),
                set: Some("deep".into()),
                reason: Some("重病".into()),
            },
        ] {
            w(&mut t, &team, write);
        }
        b.receive(&id, &t).unwrap();
        let (written, advice) = w(
            &mut b,
            &branch,
            Write::Escalate {
                case: case(),
                to_level: "enterprise".into(),
                reason: "深度困难".into(),
                via: None,
            },
        );
        (written.case, advice)
    }

    #[test]
    fn a_case_with_every_kind_of_record_survives_the_trip_through_protobuf() {
        use prost::Message;
        let (case, advice) = full_case();
        // Every part of the case is there to be carried.
        assert!(case.grading.override_.is_some() && !case.approvals.is_empty());
        assert!(case.approvals.iter().any(|a| a.until.is_some()));
        assert!(case.approvals.iter().any(|a| a.amount_fen.is_some()));
        assert!(case.assistance[0].approval.is_some() && case.loans[0].override_reason.is_some());
        assert!(!case.household.exclusions.is_empty() && case.filed_on.is_some());
        assert!(
            !case.loans[0].repayments.is_empty() && !case.finances.monthly_income_fen.is_empty()
        );
        assert!(!case.escalation.trail.is_empty() && !advice.requirements.is_empty());
        let written = Written {
            case,
            record: Some("r1".into()),
            loan: None,
            reported_to: Some("demo.enterprise".into()),
            repeated: true,
        };
        let bytes = case_reply_to(&written, &advice).encode_to_vec();
        let (back, back_advice) =
            case_reply_from(pb::CaseReply::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(back, written);
        assert_eq!(back_advice, advice);
    }

    /// Every other kind of reply, from a branch that set a policy, pays from its fund, grants
    /// to its child, holds a conflict and cases that are due.
    #[test]
    fn every_reply_survives_the_trip_through_protobuf() {
        use hearth_ops::{
            CountingIds, Ctx, FundWrite, MemoryCases, Place, Reply, Request, Write, execute,
        };
        use prost::Message;
        fn trip<M: Message + Default>(m: M) -> M {
            M::decode(m.encode_to_vec().as_slice()).unwrap()
        }
        let now = Date::new(2026, 6, 15)
            .unwrap()
            .at(12, 0, 0, 0)
            .in_tz("Asia/Shanghai")
            .unwrap();
        let salt = hearth_archive::FederationSalt::sample();
        let top = Place {
            node_id: "demo.branch".into(),
            level: Level::Branch,
            parents: Vec::new(),
            children: vec!["demo.team-1".into()],
        };
        let ids = CountingIds::default();
        let ctx = Ctx {
            place: &top,
            salt: &salt,
            by: "张敏",
            now: &now,
            ids: &ids,
        };
        let mut b = MemoryCases::new("demo.branch", now.date());
        let mut ask = |r: Request| execute(&mut b, &ctx, None, r).unwrap();
        let toml = "effective_from = \"2026-01-01\"\none_off_cap = \"8000\"\n[yearly_caps]\nliving = \"9000\"\n";
        let Reply::PolicySet(set) = ask(Request::SetPolicy { toml: toml.into() }) else {
            panic!("a policy is set")
        };
        assert_eq!(policy_from(trip(policy_to(&set))).unwrap(), set);
        let Reply::Policy { versions, .. } = ask(Request::ShowPolicy { date: None }) else {
            panic!("the policy is shown")
        };
        for p in &versions {
            assert_eq!(&policy_from(trip(policy_to(p))).unwrap(), p);
        }
        for w in [
            FundWrite::Budget {
                year: "2026".into(),
                amount: "50000".into(),
            },
            FundWrite::Income {
                source: "donation".into(),
                amount: "20000".into(),
                date: "2026-01-05".into(),
                note: Some("企业捐赠".into()),
            },
            FundWrite::Grant {
                to: "demo.team-1".into(),
                amount: "3000".into(),
                date: "2026-02-01".into(),
                note: None,
            },
        ] {
            ask(Request::Fund(w));
        }
        let form = hearth_archive::CaseForm {
            name: Some("王建国".into()),
            id_number: Some(hearth_archive::identity::sample_id_number(3)),
            household_size: Some("3".into()),
            annual_income: Some("9000".into()),
            rigid_spending: Some("0".into()),
            subsistence_line: Some("800".into()),
            primary_cause: Some("serious_illness".into()),
            ..Default::default()
        };
        let Reply::Case { written, .. } = ask(Request::Write(Box::new(Write::NewCase { form })))
        else {
            panic!("a case is opened")
        };
        let id = written.case.id;
        let step = |step: &str, result: Option<&str>| Write::Step {
            case: id.clone(),
            step: step.into(),
            date: Some("2026-05-04".into()),
            result: result.map(str::to_owned),
            checker: None,
            note: None,
        };
        // At the top, with no one above, the branch files its own case.
        for w in [
            step("grassroots_review", None),
            Write::AddVisit {
                case: id.clone(),
                date: "2026-05-04".into(),
                kind: "home".into(),
                visitor: None,
                notes: None,
                consent: true,
            },
            step("civil_check", Some("not_done")),
            step("notice", None),
            Write::FileCase {
                case: id.clone(),
                via: None,
                override_reason: None,
            },
            Write::Decide {
                case: id.clone(),
                decision: "approve".into(),
                note: String::new(),
            },
            Write::AddAssistance {
                case: id.clone(),
                kind: "living".into(),
                amount: "600".into(),
                date: "2026-06-15".into(),
                paying_node: None,
                approving_node: None,
                note: None,
            },
            Write::AddLoan {
                case: id.clone(),
                amount: "1000".into(),
                date: "2025-01-01".into(),
                due: "2026-01-01".into(),
                note: None,
                override_reason: None,
            },
        ] {
            ask(Request::Write(Box::new(w)));
        }
        let Reply::Ledger { ledger, .. } = ask(Request::FundShow {
            node: None,
            year: None,
        }) else {
            panic!("the ledger is shown")
        };
        assert_eq!(ledger.entries.len(), 4, "{ledger:?}");
        assert_eq!(ledger_from(trip(ledger_to(&ledger))).unwrap(), ledger);
        let Reply::Disclosure(d) = ask(Request::Disclose {
            year: "2026".into(),
        }) else {
            panic!("a disclosure")
        };
        assert!(!d.payments.is_empty() && !d.grants.is_empty() && !d.income.is_empty());
        assert_eq!(disclosure_from(trip(disclosure_to(&d))).unwrap(), d);
        let Reply::Stats(summary) = ask(Request::Stats { year: None }) else {
            panic!("the figures")
        };
        assert_eq!(
            node_summary_from(trip(node_summary_to(&summary))).unwrap(),
            *summary
        );
        let Reply::Due(due) = ask(Request::Due {
            page: Default::default(),
        }) else {
            panic!("the due list")
        };
        assert!(!due.items.is_empty());
        for item in &due.items {
            assert_eq!(&due_from(trip(due_to(item))).unwrap(), item);
        }
        // A conflict: the same case changed at the team while the branch changed it too.
        let mut team = MemoryCases::new("demo.team-1", now.date());
        team.receive(&id, &b).unwrap();
        let team_place = Place {
            node_id: "demo.team-1".into(),
            level: Level::Team,
            parents: vec!["demo.branch".into()],
            children: Vec::new(),
        };
        let edit = |yuan: &str| {
            Request::Write(Box::new(Write::EditCase {
                case: id.clone(),
                form: hearth_archive::CaseForm {
                    annual_income: Some(yuan.into()),
                    ..Default::default()
                },
            }))
        };
        let team_ctx = Ctx {
            place: &team_place,
            ..ctx
        };
        execute(&mut team, &team_ctx, None, edit("9500")).unwrap();
        execute(&mut b, &ctx, None, edit("9900")).unwrap();
        b.receive(&id, &team).unwrap();
        let Reply::Conflicts(page) = execute(
            &mut b,
            &ctx,
            None,
            Request::Conflicts {
                all: true,
                page: Default::default(),
            },
        )
        .unwrap() else {
            panic!("the queue")
        };
        assert!(!page.items.is_empty());
        assert_eq!(
            conflicts_reply_from(trip(conflicts_reply_to(page.clone()))),
            page
        );
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn opt() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn form() -> impl Strategy<Value = CaseForm> {
        (
            (opt(), opt(), opt(), opt(), opt(), opt(), opt(), opt()),
            (opt(), opt(), opt(), opt(), opt(), opt()),
            (proptest::collection::vec(text(), 0..3), opt(), opt(), opt()),
            (opt(), opt(), opt(), opt(), opt(), opt()),
            (opt(), opt()),
        )
            .prop_map(|(a, b, c, d, e)| CaseForm {
                name: a.0,
                id_number: a.1,
                gender: a.2,
                birth_year: a.3,
                employer: a.4,
                job: a.5,
                phone: a.6,
                address: a.7,
                household_size: b.0,
                annual_income: b.1,
                rigid_spending: b.2,
                hardship_costs: b.3,
                subsistence_line: b.4,
                primary_cause: b.5,
                secondary_causes: c.0,
                other_cause: c.1,
                urgent_needs: c.2,
                skills: c.3,
                employment_wishes: d.0,
                state_of_mind: d.1,
                medical_costs: d.2,
                largest_stay: d.3,
                aid_request: d.4,
                region: d.5,
                compensation: e.0,
                exclusions: e.1,
            })
    }

    fn write() -> impl Strategy<Value = Write> {
        let t = text;
        prop_oneof![
            form().prop_map(|form| Write::NewCase { form }),
            (t(), form()).prop_map(|(case, form)| Write::EditCase { case, form }),
            (t(), opt(), opt()).prop_map(|(case, via, override_reason)| Write::FileCase {
                case,
                via,
                override_reason
            }),
            (t(), t(), opt(), opt(), opt(), opt()).prop_map(
                |(case, step, date, result, checker, note)| Write::Step {
                    case,
                    step,
                    date,
                    result,
                    checker,
                    note
                }
            ),
            (t(), t(), t(), opt()).prop_map(|(case, kind, amount, note)| Write::ApproveAid {
                case,
                kind,
                amount,
                note
            }),
            (t(), t(), t(), opt(), opt()).prop_map(|(case, to, reason, on, outstanding_reason)| {
                Write::Transition {
                    case,
                    to,
                    reason,
                    on,
                    outstanding_reason,
                }
            }),
            (t(), opt(), opt()).prop_map(|(case, set, reason)| Write::Grade { case, set, reason }),
            (t(), t(), t(), opt()).prop_map(|(case, to_level, reason, via)| Write::Escalate {
                case,
                to_level,
                reason,
                via
            }),
            (t(), t(), opt(), opt(), opt()).prop_map(
                |(case, relation, age, health, occupation)| {
                    Write::AddMember {
                        case,
                        relation,
                        age,
                        health,
                        occupation,
                    }
                }
            ),
            (t(), t(), t(), t(), opt(), opt(), opt()).prop_map(
                |(case, kind, amount, date, paying_node, approving_node, note)| {
                    Write::AddAssistance {
                        case,
                        kind,
                        amount,
                        date,
                        paying_node,
                        approving_node,
                        note,
                    }
                }
            ),
            (t(), t(), t(), t(), opt(), opt()).prop_map(
                |(case, amount, date, due, note, override_reason)| Write::AddLoan {
                    case,
                    amount,
                    date,
                    due,
                    note,
                    override_reason,
                }
            ),
            (t(), opt(), t(), t(), opt()).prop_map(|(case, loan, amount, date, note)| {
                Write::RepayLoan {
                    case,
                    loan,
                    amount,
                    date,
                    note,
                }
            }),
            (t(), t(), t(), opt(), opt(), any::<bool>()).prop_map(
                |(case, date, kind, visitor, notes, consent)| Write::AddVisit {
                    case,
                    date,
                    kind,
                    visitor,
                    notes,
                    consent
                }
            ),
            (t(), t(), t()).prop_map(|(case, month, amount)| Write::MonthlyIncome {
                case,
                month,
                amount
            }),
            (t(), t(), t()).prop_map(|(case, decision, note)| Write::Decide {
                case,
                decision,
                note
            }),
            (t(), t(), t(), opt(), opt()).prop_map(|(case, date, result, reviewer, notes)| {
                Write::AddReview {
                    case,
                    date,
                    result,
                    reviewer,
                    notes,
                }
            }),
            (t(), t(), t()).prop_map(|(case, record, reason)| Write::Void {
                case,
                record,
                reason
            }),
            (t(), t(), t(), opt(), opt(), opt(), opt()).prop_map(
                |(case, record, reason, kind, amount, date, note)| Write::CorrectAid {
                    case,
                    record,
                    reason,
                    kind,
                    amount,
                    date,
                    note,
                }
            ),
        ]
    }

    fn fund() -> impl Strategy<Value = FundWrite> {
        let t = text;
        prop_oneof![
            (t(), t(), t(), opt()).prop_map(|(source, amount, date, note)| FundWrite::Income {
                source,
                amount,
                date,
                note
            }),
            (t(), t()).prop_map(|(year, amount)| FundWrite::Budget { year, amount }),
            (t(), t(), t(), opt()).prop_map(|(to, amount, date, note)| FundWrite::Grant {
                to,
                amount,
                date,
                note
            }),
        ]
    }

    /// The write a message carries, whatever its RPC.
    fn write_of(m: WriteMessage) -> (String, Write) {
        use prost::Message;
        fn trip<M: Message + Default>(m: M) -> M {
            M::decode(m.encode_to_vec().as_slice()).unwrap()
        }
        use WriteMessage as M;
        match m {
            M::NewCase(m) => (m.by.clone(), trip(m).into()),
            M::EditCase(m) => (m.by.clone(), trip(m).into()),
            M::FileCase(m) => (m.by.clone(), trip(m).into()),
            M::Step(m) => (m.by.clone(), trip(m).into()),
            M::ApproveAid(m) => (m.by.clone(), trip(m).into()),
            M::Transition(m) => (m.by.clone(), trip(m).into()),
            M::Grade(m) => (m.by.clone(), trip(m).into()),
            M::Escalate(m) => (m.by.clone(), trip(m).into()),
            M::AddMember(m) => (m.by.clone(), trip(m).into()),
            M::AddAssistance(m) => (m.by.clone(), trip(m).into()),
            M::AddLoan(m) => (m.by.clone(), trip(m).into()),
            M::RepayLoan(m) => (m.by.clone(), trip(m).into()),
            M::AddVisit(m) => (m.by.clone(), trip(m).into()),
            M::MonthlyIncome(m) => (m.by.clone(), trip(m).into()),
            M::Decide(m) => (m.by.clone(), trip(m).into()),
            M::AddReview(m) => (m.by.clone(), trip(m).into()),
            M::Void(m) => (m.by.clone(), trip(m).into()),
            M::CorrectAid(m) => (m.by.clone(), trip(m).into()),
        }
    }

    proptest! {
        #[test]
        fn every_write_survives_the_trip_through_its_message(w in write(), by in text()) {
            prop_assert_eq!(write_of(write_to(w.clone(), by.clone())), (by, w));
        }

        #[test]
        fn every_fund_write_import_and_resolution_survives_the_trip(
            f in fund(),
            rows in proptest::collection::vec((any::<u64>(), form(), opt(), opt()), 0..3),
            how in prop_oneof![
                (0usize..1000).prop_map(Resolve::Pick),
                text().prop_map(Resolve::Value),
                text().prop_map(Resolve::Acknowledge),
                text().prop_map(Resolve::MergeInto),
            ],
            by in text(),
        ) {
            let back: FundWrite = match fund_to(f.clone(), by.clone()) {
                FundMessage::Income(m) => m.into(),
                FundMessage::Budget(m) => m.into(),
                FundMessage::Grant(m) => m.into(),
            };
            prop_assert_eq!(back, f);
            let rows: Vec<ImportRow> = rows
                .into_iter()
                .map(|(line, form, status, unreadable)| ImportRow {
                    line,
                    filed_on: status.clone(),
                    form,
                    status,
                    unreadable,
                })
                .collect();
            prop_assert_eq!(import_from(import_to(rows.clone(), by.clone(), true)), rows);
            prop_assert_eq!(
                resolve_from(resolve_to("c1".into(), how.clone(), by)),
                Some(("c1".to_owned(), how))
            );
        }
    }

    proptest! {
        #[test]
        fn a_case_summary_survives_the_trip_through_protobuf(c in summary()) {
            use prost::Message;
            let bytes = summary_to(&c).encode_to_vec();
            let back = summary_from(pb::CaseSummary::decode(bytes.as_slice()).unwrap()).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn a_page_and_its_request_survive_the_trip(
            cases in proptest::collection::vec(summary(), 0..4),
            next in proptest::option::of("[ -~]{1,30}"),
            size in proptest::option::of(1u32..2000),
            token in proptest::option::of("[ -~]{1,30}"),
            status in proptest::option::of("[a-z_]{1,10}"),
        ) {
            let page = Page { items: cases, next };
            prop_assert_eq!(list_reply_from(list_reply_to(page.clone())).unwrap(), page);
            let filter = ListFilter { status, text: Some("李".into()), sort: Some("aid".into()), ..ListFilter::default() };
            let req = PageRequest { size, token };
            prop_assert_eq!(
                list_request_from(list_request_to(filter.clone(), req.clone())),
                (filter, req)
            );
        }

        #[test]
        fn a_summary_with_a_code_no_hearth_writes_is_unreadable(
            c in summary(),
            status in "[A-Z]{1,8}",
        ) {
            let mut m = summary_to(&c);
            m.status = status;
            prop_assert!(summary_from(m).is_err());
        }
    }
}
