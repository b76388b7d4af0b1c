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

#[test]
fn decisions_upstairs_file_return_or_close_and_are_recorded() {
    use crate::Decision;
    let mut case = new_case();
    case.transition(&editor(), Status::UnderReview, "visited")
        .unwrap();
    let err = case
        .decide(&editor(), Decision::Return, " ")
        .unwrap_err()
        .to_string();
    assert!(err.contains("in a note"), "{err}");
    assert_eq!(
        case.decide(&editor(), Decision::Return, "income proof missing")
            .unwrap(),
        Status::Returned
    );
    case.transition(&editor(), Status::UnderReview, "proof added")
        .unwrap();
    assert_eq!(
        case.decide(&editor(), Decision::Approve, "").unwrap(),
        Status::Filed
    );
    let v = case.view().unwrap();
    let decisions: Vec<_> = v
        .approvals
        .iter()
        .map(|a| {
            (
                a.decision.clone().unwrap(),
                a.note.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("return".to_owned(), "income proof missing".to_owned()),
            ("approve".to_owned(), String::new())
        ]
    );
    assert_eq!(
        case.decide(&editor(), Decision::Reject, "duplicate of another file")
            .unwrap(),
        Status::Closed
    );
    assert!(case.decide(&editor(), Decision::Approve, "").is_err());
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
