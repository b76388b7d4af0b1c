//! Tests of the case document API: a case's life from discovery to filing, aid and loans.

use automerge::ActorId;
use jiff::civil::date;

use super::*;

fn editor() -> Editor {
    Editor {
        node: "demo.team-1".into(),
        by: "caseworker li".into(),
        at: "2026-03-01T09:00:00Z".parse().unwrap(),
        today: date(2026, 3, 1),
    }
}

fn actor() -> ActorId {
    actor_id("demo.team-1", &[7; 8])
}

fn full_fields() -> CaseFields {
    let salt = FederationSalt::from_bytes([9; 32]);
    CaseFields {
        name: Some("王建国".into()),
        identity_key: Some(
            IdNumber::parse("11010519491231002X")
                .unwrap()
                .identity_key(&salt),
        ),
        household_size: Some(3),
        annual_income_fen: Some(36_000_00),
        rigid_spending_fen: Some(12_000_00),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(Cause::SeriousIllness),
        secondary_causes: Some(vec![Cause::ChildSchooling]),
        ..CaseFields::default()
    }
}

fn new_case() -> Case {
    Case::create_legacy("c1", "demo.team-1", actor(), &editor(), &full_fields()).unwrap()
}

#[test]
fn a_new_case_is_a_graded_draft_held_by_its_home() {
    let v = new_case().view().unwrap();
    assert_eq!(v.status, Status::Draft);
    assert_eq!(v.grade, Some(Grade::Deep));
    assert_eq!(v.grading.per_capita_monthly_fen, Some(66_667));
    assert_eq!(v.participants, ["demo.team-1"]);
    assert_eq!(v.causes.secondary, [Cause::ChildSchooling]);
    assert_eq!(v.status_history.len(), 1);
}

#[test]
fn saved_bytes_load_back_to_the_same_case() {
    let mut case = new_case();
    let bytes = case.save();
    let loaded = Case::load(&bytes, actor()).unwrap();
    assert_eq!(loaded.view().unwrap(), case.view().unwrap());
}

#[test]
fn incremental_changes_apply_on_top_of_a_snapshot() {
    let mut case = new_case();
    let mut bytes = case.save();
    assert!(case.take_changes().is_empty());
    let aid = NewAssistance {
        id: "a1".into(),
        kind: AssistanceKind::Living,
        amount_fen: 500_00,
        date: date(2026, 2, 1),
        paying_node: None,
        approving_node: None,
        note: None,
    };
    case.add_assistance(&editor(), &aid).unwrap();
    let chunk = case.take_changes();
    assert!(!chunk.is_empty());
    bytes.extend_from_slice(&chunk);
    let loaded = Case::load(&bytes, actor()).unwrap();
    assert_eq!(loaded.view().unwrap().assistance_total_fen, 500_00);
}

#[test]
fn editing_finances_regrades() {
    let mut case = new_case();
    let fields = CaseFields {
        subsistence_line_fen: Some(400_00),
        ..CaseFields::default()
    };
    case.edit(&editor(), &fields).unwrap();
    assert_eq!(case.view().unwrap().grade, Some(Grade::Relative));
}

#[test]
fn an_override_needs_a_reason_and_shows_as_an_override() {
    let mut case = new_case();
    assert!(
        case.override_grade(&editor(), Some((Grade::Relative, " ")))
            .is_err()
    );
    case.override_grade(
        &editor(),
        Some((Grade::Relative, "second income found on visit")),
    )
    .unwrap();
    let v = case.view().unwrap();
    assert_eq!(v.grade, Some(Grade::Relative));
    assert_eq!(v.grading.derived, Some(Grade::Deep));
    assert_eq!(
        v.grading.override_.unwrap().reason,
        "second income found on visit"
    );
    case.override_grade(&editor(), None).unwrap();
    assert_eq!(case.view().unwrap().grade, Some(Grade::Deep));
}

#[test]
fn filing_a_draft_goes_through_review_and_needs_the_file_fields() {
    let mut bare = Case::create_legacy(
        "c2",
        "demo.team-1",
        actor(),
        &editor(),
        &CaseFields {
            name: Some("李梅".into()),
            ..CaseFields::default()
        },
    )
    .unwrap();
    let err = bare.file(&editor()).unwrap_err().to_string();
    assert!(
        err.contains("identity number") && err.contains("household size"),
        "{err}"
    );
    assert_eq!(bare.view().unwrap().status, Status::Draft);

    let mut case = new_case();
    case.file(&editor()).unwrap();
    let v = case.view().unwrap();
    assert_eq!(v.status, Status::Filed);
    let moves: Vec<_> = v.status_history.iter().map(|c| c.to).collect();
    assert_eq!(moves, [Status::Draft, Status::UnderReview, Status::Filed]);
}

#[test]
fn forbidden_transitions_change_nothing() {
    let mut case = new_case();
    let heads = case.heads();
    assert!(
        case.transition(&editor(), Status::Lifted, "better")
            .is_err()
    );
    assert!(case.transition(&editor(), Status::UnderReview, "").is_err());
    assert_eq!(case.heads(), heads);
}

#[test]
fn causes_are_one_primary_and_at_most_three_secondary() {
    let mut case = new_case();
    let four = CaseFields {
        secondary_causes: Some(vec![
            Cause::Unemployed,
            Cause::LaidOff,
            Cause::ChildSchooling,
            Cause::NoSocialInsurance,
        ]),
        ..CaseFields::default()
    };
    let err = case.edit(&editor(), &four).unwrap_err().to_string();
    assert!(err.contains("at most 3 secondary"), "{err}");
    let twice = CaseFields {
        secondary_causes: Some(vec![Cause::SeriousIllness]),
        ..CaseFields::default()
    };
    assert!(case.edit(&editor(), &twice).is_err());
    let other = CaseFields {
        secondary_causes: Some(vec![Cause::Other]),
        ..CaseFields::default()
    };
    assert!(
        case.edit(&editor(), &other)
            .unwrap_err()
            .to_string()
            .contains("needs a description")
    );
}

#[test]
fn loans_derive_their_outstanding_balance() {
    let mut case = new_case();
    let loan = NewLoan {
        id: "l1".into(),
        principal_fen: 5_000_00,
        date: date(2026, 1, 10),
        due_date: date(2027, 1, 10),
        note: None,
    };
    case.add_loan(&editor(), &loan).unwrap();
    let pay = |id: &str, fen| NewRepayment {
        id: id.into(),
        amount_fen: fen,
        date: date(2026, 2, 10),
        note: None,
    };
    assert_eq!(
        case.repay_loan(&editor(), None, &pay("r1", 1_200_00))
            .unwrap(),
        "l1"
    );
    let err = case
        .repay_loan(&editor(), Some("l"), &pay("r2", 4_000_00))
        .unwrap_err();
    assert!(err.to_string().contains("3,800.00 outstanding"), "{err}");
    let loans = case.view().unwrap().loans;
    assert_eq!(loans[0].outstanding_fen, 3_800_00);
    assert_eq!(loans[0].repaid_fen, 1_200_00);
}

#[test]
fn future_dates_and_closed_cases_are_refused() {
    let mut case = new_case();
    let visit = NewVisit {
        id: "v1".into(),
        date: date(2026, 3, 2),
        kind: VisitKind::Home,
        visitor: None,
        notes: None,
        consent: true,
    };
    assert!(
        case.add_visit(&editor(), &visit)
            .unwrap_err()
            .to_string()
            .contains("future")
    );
    case.transition(&editor(), Status::Closed, "moved away")
        .unwrap();
    let visit = NewVisit {
        date: date(2026, 3, 1),
        ..visit
    };
    assert!(matches!(
        case.add_visit(&editor(), &visit),
        Err(ArchiveError::Closed)
    ));
}

#[test]
fn the_actor_names_its_node() {
    assert_eq!(node_of_actor(&actor()).as_deref(), Some("demo.team-1"));
}

#[test]
fn a_document_that_is_not_a_case_is_refused() {
    let mut doc = automerge::AutoCommit::new();
    let err = Case::load(&doc.save(), actor()).unwrap_err();
    assert!(matches!(err, ArchiveError::Schema(_)), "{err}");
    assert!(Case::load(b"not automerge", actor()).is_err());
}

#[test]
fn the_summary_agrees_with_the_full_view() {
    let mut case = new_case();
    let e = editor();
    let aid = NewAssistance {
        id: "a1".into(),
        kind: AssistanceKind::Medical,
        amount_fen: 700_00,
        date: date(2026, 2, 1),
        paying_node: None,
        approving_node: None,
        note: None,
    };
    case.add_assistance(&e, &aid).unwrap();
    let loan = NewLoan {
        id: "l1".into(),
        principal_fen: 2_000_00,
        date: date(2026, 1, 1),
        due_date: date(2026, 12, 1),
        note: None,
    };
    case.add_loan(&e, &loan).unwrap();
    let pay = NewRepayment {
        id: "r1".into(),
        amount_fen: 300_00,
        date: date(2026, 2, 1),
        note: None,
    };
    case.repay_loan(&e, None, &pay).unwrap();
    case.override_grade(&e, Some((Grade::Relative, "checked")))
        .unwrap();
    let v = case.view().unwrap();
    let s = case.summary().unwrap();
    assert_eq!(s.assistance_total_fen, v.assistance_total_fen);
    assert_eq!(s.outstanding_fen, 1_700_00);
    assert_eq!(s.grade, v.grade);
    assert!(s.grade_overridden);
    assert_eq!(s.name, v.worker.name);
    assert_eq!(s.identity_key, v.worker.identity_key);
    assert_eq!(s.per_capita_monthly_fen, v.grading.per_capita_monthly_fen);
    assert_eq!(
        (s.status, s.household_size, s.created_at),
        (v.status, v.household.size, v.created_at)
    );
}

#[test]
fn reporting_adds_a_participant_and_a_trail_entry() {
    let mut case = new_case();
    case.report_to(&editor(), "demo.branch", "filed: report to the branch")
        .unwrap();
    assert_eq!(case.participants().unwrap(), ["demo.branch", "demo.team-1"]);
    let v = case.view().unwrap();
    assert_eq!(v.escalation.trail.len(), 1);
    assert_eq!(v.escalation.trail[0].to.as_deref(), Some("demo.branch"));
    assert!(case.report_to(&editor(), "demo.branch", "again").is_err());
    assert!(case.report_to(&editor(), "demo.team-1", "self").is_err());
    let doc = automerge::AutoCommit::new();
    assert!(participants_of(&doc).is_err());
}

fn at(node: &str, day: jiff::civil::Date) -> Editor {
    Editor {
        node: node.into(),
        today: day,
        ..editor()
    }
}

const RULES: ChainRules = ChainRules {
    notice_working_days: 5,
};

fn step(step: ChainStep, day: jiff::civil::Date) -> NewStep {
    NewStep {
        step,
        date: day,
        result: (step == ChainStep::CivilCheck).then_some(CheckResult::Matched),
        checker: Some("民政局 张".into()),
        note: (step == ChainStep::Objection).then(|| "邻居称其有车".into()),
    }
}

/// Runs the chain at the team up to a notice that has ended on 2026-03-06 (Mon 2 to Fri 6).
fn through_the_notice(case: &mut Case) {
    let team = at("demo.team-1", date(2026, 3, 2));
    case.record_step(
        &team,
        &step(ChainStep::GrassrootsReview, date(2026, 3, 2)),
        RULES,
    )
    .unwrap();
    case.add_visit(
        &team,
        &NewVisit {
            date: date(2026, 3, 2),
            consent: true,
            ..NewVisit::sample("v1")
        },
    )
    .unwrap();
    case.record_step(&team, &step(ChainStep::CivilCheck, date(2026, 3, 2)), RULES)
        .unwrap();
    let until = case
        .record_step(&team, &step(ChainStep::Notice, date(2026, 3, 2)), RULES)
        .unwrap();
    assert_eq!(
        until,
        Some(date(2026, 3, 6)),
        "5 working days from a Monday"
    );
}

#[test]
fn the_chain_runs_in_order_and_a_superior_files() {
    // Source: the chain application → grassroots review → home visit with a signed
    // authorization → civil-affairs check → public notice → approval → file (issue 15's
    // national rules as reposted).
    use crate::Decision;
    let mut case = new_case();
    let team = at("demo.team-1", date(2026, 3, 2));
    let err = case
        .record_step(&team, &step(ChainStep::CivilCheck, date(2026, 3, 2)), RULES)
        .unwrap_err()
        .to_string();
    assert!(err.contains("grassroots review"), "{err}");
    assert!(err.contains("--consent"), "{err}");
    let err = case.submit(&team, None).unwrap_err().to_string();
    assert!(err.starts_with("the case cannot be submitted yet"), "{err}");
    through_the_notice(&mut case);
    // The notice runs to Friday 6 March: submitting on that day is too early.
    let err = case
        .submit(&at("demo.team-1", date(2026, 3, 6)), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("runs until 2026-03-06"), "{err}");
    let team = at("demo.team-1", date(2026, 3, 9));
    case.submit(&team, None).unwrap();
    assert_eq!(case.status().unwrap(), Status::UnderReview);
    // The team neither approves nor returns its own case.
    let err = case
        .decide(&team, Decision::Approve, "")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not approve a case it submitted"),
        "{err}"
    );
    let err = case
        .decide(&team, Decision::Return, "no proof")
        .unwrap_err()
        .to_string();
    assert!(err.contains("only a superior returns"), "{err}");
    assert!(case.transition(&team, Status::Filed, "x").is_err());
    assert!(case.transition(&team, Status::Returned, "x").is_err());
    let branch = at("demo.branch", date(2026, 3, 10));
    assert!(
        case.decide(&branch, Decision::Return, " ")
            .unwrap_err()
            .to_string()
            .contains("in a note")
    );
    assert_eq!(
        case.decide(&branch, Decision::Return, "income proof missing")
            .unwrap(),
        Status::Returned
    );
    case.submit(&at("demo.team-1", date(2026, 3, 11)), None)
        .unwrap();
    assert_eq!(
        case.decide(&branch, Decision::Approve, "").unwrap(),
        Status::Filed
    );
    let v = case.view().unwrap();
    assert_eq!(v.filed_on, Some(date(2026, 3, 10)));
    let decisions: Vec<_> = v
        .approvals
        .iter()
        .filter_map(|a| Some((a.decision.clone()?, a.node.clone()?)))
        .collect();
    assert_eq!(
        decisions,
        [
            ("return".to_owned(), "demo.branch".to_owned()),
            ("approve".to_owned(), "demo.branch".to_owned())
        ]
    );
    assert_eq!(
        case.decide(&branch, Decision::Reject, "duplicate of another file")
            .unwrap(),
        Status::Closed
    );
    assert!(case.decide(&branch, Decision::Approve, "").is_err());
}

#[test]
fn an_objection_or_a_mismatch_stops_the_chain_until_dealt_with() {
    let mut case = new_case();
    through_the_notice(&mut case);
    let team = at("demo.team-1", date(2026, 3, 4));
    case.record_step(&team, &step(ChainStep::Objection, date(2026, 3, 4)), RULES)
        .unwrap();
    let later = at("demo.team-1", date(2026, 3, 9));
    let err = case.submit(&later, None).unwrap_err().to_string();
    assert!(
        err.contains("an objection was raised on 2026-03-04"),
        "{err}"
    );
    // Checked again, the income does not match: no notice until the finances are right.
    let mismatch = NewStep {
        result: Some(CheckResult::NotMatched),
        ..step(ChainStep::CivilCheck, date(2026, 3, 9))
    };
    case.record_step(&later, &mismatch, RULES).unwrap();
    let err = case
        .record_step(&later, &step(ChainStep::Notice, date(2026, 3, 9)), RULES)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not match"), "{err}");
    case.record_step(
        &later,
        &step(ChainStep::CivilCheck, date(2026, 3, 9)),
        RULES,
    )
    .unwrap();
    case.record_step(&later, &step(ChainStep::Notice, date(2026, 3, 9)), RULES)
        .unwrap();
    case.submit(&at("demo.team-1", date(2026, 3, 16)), None)
        .unwrap();
}

#[test]
fn a_household_not_eligible_is_filed_only_on_an_override_the_approver_signs_off() {
    let mut case = new_case();
    let rich = CaseFields {
        annual_income_fen: Some(200_000_00),
        ..CaseFields::default()
    };
    case.edit(&editor(), &rich).unwrap();
    assert_eq!(case.view().unwrap().grade, Some(Grade::NotEligible));
    through_the_notice(&mut case);
    let team = at("demo.team-1", date(2026, 3, 9));
    let err = case.submit(&team, None).unwrap_err().to_string();
    assert!(err.contains("not eligible"), "{err}");
    case.submit(&team, Some("突发重病，收入已中断")).unwrap();
    let branch = at("demo.branch", date(2026, 3, 10));
    let err = case
        .decide(&branch, crate::Decision::Approve, "")
        .unwrap_err()
        .to_string();
    assert!(err.contains("signs the override off"), "{err}");
    case.decide(&branch, crate::Decision::Approve, "已核实收入中断")
        .unwrap();
    let v = case.view().unwrap();
    assert!(
        v.status_history
            .last()
            .and_then(|c| c.reason.as_deref())
            .is_some_and(|r| r.contains("signing off the eligibility override"))
    );
}

#[test]
fn closing_with_loans_outstanding_needs_a_reason_and_a_past_day_is_kept() {
    let mut case = new_case();
    case.file(&editor()).unwrap();
    case.add_loan(
        &editor(),
        &NewLoan {
            id: "l1".into(),
            principal_fen: 5_000_00,
            date: date(2026, 2, 1),
            due_date: date(2026, 2, 20),
            note: None,
        },
    )
    .unwrap();
    let err = case
        .transition(&editor(), Status::Closed, "moved away")
        .unwrap_err()
        .to_string();
    assert!(err.contains("5,000.00 of loans outstanding"), "{err}");
    case.transition_with(
        &at("demo.team-1", date(2026, 3, 20)),
        &StatusMove {
            on: Some(date(2026, 3, 10)),
            outstanding_reason: Some("本人去世，无力偿还".into()),
            ..StatusMove::new(Status::Closed, "died")
        },
    )
    .unwrap();
    let v = case.view().unwrap();
    let last = v.status_history.last().unwrap();
    assert_eq!(last.on, Some(date(2026, 3, 10)));
    assert_eq!(
        last.outstanding_reason.as_deref(),
        Some("本人去世，无力偿还")
    );
    assert_eq!(
        CaseSummary::of(&v).exited,
        Some((date(2026, 3, 10), Status::Closed))
    );
}

#[test]
fn an_escalation_goes_up_one_level_at_a_time_until_a_parent_holds_it() {
    let mut case = new_case();
    let parents = ["demo.branch".to_owned()];
    // No target above this level: it stays.
    assert_eq!(
        case.forward_escalation(&editor(), Level::Team, &parents)
            .unwrap(),
        None
    );
    case.set_escalation_target(&editor(), Level::Enterprise, "deep hardship")
        .unwrap();
    assert_eq!(
        case.forward_escalation(&editor(), Level::Team, &parents)
            .unwrap(),
        Some("demo.branch".to_owned())
    );
    assert!(case.participants().unwrap().contains(&parents[0]));
    // The parent holds it now: not again.
    assert_eq!(
        case.forward_escalation(&editor(), Level::Team, &parents)
            .unwrap(),
        None
    );
    // At the enterprise, the target is reached: it stays.
    let enterprise = Editor {
        node: "demo.enterprise".into(),
        ..editor()
    };
    assert_eq!(
        case.forward_escalation(&enterprise, Level::Enterprise, &["demo.city".to_owned()])
            .unwrap(),
        None
    );
}

#[test]
fn a_case_filed_on_new_years_morning_in_china_counts_in_the_new_year() {
    let at: jiff::Timestamp = "2026-12-31T23:30:00Z".parse().unwrap();
    let morning = Editor {
        at,
        today: date(2027, 1, 1),
        ..editor()
    };
    let mut case =
        Case::create_legacy("c1", "demo.team-1", actor(), &morning, &full_fields()).unwrap();
    case.file(&morning).unwrap();
    let summary = CaseSummary::of(&case.view().unwrap());
    assert_eq!(summary.entered.get(&Status::Filed), Some(&date(2027, 1, 1)));
    let totals = crate::summary::Totals::of([&summary], 2027);
    assert_eq!(totals.filed_this_year, 1);
}

#[test]
fn the_months_add_up_to_the_year_and_a_summary_whose_do_not_is_refused() {
    let at: jiff::Timestamp = "2026-03-10T02:00:00Z".parse().unwrap();
    let march = Editor {
        at,
        today: date(2026, 3, 10),
        ..editor()
    };
    let mut case =
        Case::create_legacy("c1", "demo.team-1", actor(), &march, &full_fields()).unwrap();
    case.file(&march).unwrap();
    for (id, day, fen) in [
        ("a1", date(2026, 3, 9), 300_00),
        ("a2", date(2026, 1, 5), 200_00),
    ] {
        case.add_assistance(
            &march,
            &crate::NewAssistance {
                id: id.into(),
                kind: crate::AssistanceKind::Living,
                amount_fen: fen,
                date: day,
                paying_node: None,
                approving_node: None,
                note: None,
            },
        )
        .unwrap();
    }
    let summary = CaseSummary::of(&case.view().unwrap());
    let totals = crate::summary::Totals::of([&summary], 2026);
    assert_eq!(totals.filed_by_month[2], 1, "filed in March");
    let living = totals.paid_by_month_fen[&crate::AssistanceKind::Living];
    assert_eq!((living[0], living[2]), (200_00, 300_00));
    totals.check().unwrap();
    let mut forged = totals.clone();
    forged.filed_by_month[5] += 1;
    assert!(forged.check().unwrap_err().contains("filed by month"));
    // A child from before months were counted adds its year, not its months: allowed.
    let mut older = totals.clone();
    older.filed_this_year += 1;
    older.cases += 1;
    *older.by_status.entry(Status::Filed).or_default() += 1;
    older.check().unwrap();
    let mut forged = totals;
    forged
        .paid_by_month_fen
        .get_mut(&crate::AssistanceKind::Living)
        .unwrap()[1] += 1;
    assert!(forged.check().unwrap_err().contains("more than the year's"));
}
