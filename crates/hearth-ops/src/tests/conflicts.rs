//! Conflicts that offline edits make, and how an admin resolves them.

use hearth_archive::conflict::ConflictKind;

use super::{form, open};
use crate::testing::Fixture;
use crate::{ErrorKind, MemoryCases, Resolve, Write, conflicts, get, resolve_conflict, write};

/// The branch above the fixture's team.
fn branch() -> Fixture {
    let mut b = Fixture::new();
    b.place = crate::Place {
        node_id: "demo.branch".into(),
        level: hearth_archive::Level::Branch,
        parents: Vec::new(),
        children: vec!["demo.team-1".into()],
    };
    b.by = "李强";
    b
}

fn income(cases: &mut MemoryCases, f: &Fixture, id: &str, yuan: &str) {
    let form = hearth_archive::CaseForm {
        annual_income: Some(yuan.into()),
        ..Default::default()
    };
    write(
        cases,
        &f.ctx(),
        Write::EditCase {
            case: id.into(),
            form,
        },
    )
    .unwrap();
}

#[test]
fn concurrent_values_are_queued_and_resolved_by_picking_a_side() {
    let (team, br) = (Fixture::new(), branch());
    let (mut t, mut b) = (team.cases(), br.cases());
    let id = open(&mut t, &team, 1);
    b.receive(&id, &t).unwrap();
    income(&mut t, &team, &id, "7000");
    income(&mut b, &br, &id, "7500");
    t.receive(&id, &b).unwrap();
    let open_ones = conflicts(&mut t, false).unwrap();
    assert_eq!(open_ones.len(), 1, "{open_ones:?}");
    let c = &open_ones[0];
    assert_eq!(
        (c.kind(), c.field.as_str()),
        (ConflictKind::Field, "annual income")
    );
    // Each side names its value in yuan, its person and its node.
    let mut sides: Vec<(&str, Option<&str>, Option<&str>)> = c
        .sides
        .iter()
        .map(|s| (s.value.as_str(), s.by.as_deref(), s.node.as_deref()))
        .collect();
    sides.sort();
    assert_eq!(
        sides,
        [
            ("7,000.00", Some("张敏"), Some("demo.team-1")),
            ("7,500.00", Some("李强"), Some("demo.branch"))
        ]
    );
    // The case tells one story meanwhile: grade, figure and basis from the income shown.
    let v = get(&mut t, &id).unwrap();
    let shown = v.finances.annual_income_fen.unwrap();
    // A year's income over 12 months and 2 people, rounded to the fen.
    let per_person = (shown + 12) / 24;
    assert_eq!(v.grading.per_capita_monthly_fen, Some(per_person));
    assert!(
        v.grading
            .basis
            .as_deref()
            .is_some_and(|b| b.contains(&hearth_archive::money::format_yuan(per_person))),
        "{:?}",
        v.grading.basis
    );
    // A value is typed as the field is: money in yuan.
    let e =
        resolve_conflict(&mut t, &team.ctx(), &c.id, Resolve::Value("lots".into())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    let e =
        resolve_conflict(&mut t, &team.ctx(), &c.id, Resolve::Acknowledge("n".into())).unwrap_err();
    assert!(
        e.to_string().contains("keep one side or write a value"),
        "{e}"
    );
    let side = c.sides.iter().position(|s| s.value == "7,500.00").unwrap() + 1;
    let done = resolve_conflict(&mut t, &team.ctx(), &c.id[..8], Resolve::Pick(side)).unwrap();
    let how = done.resolution.expect("resolved");
    assert_eq!(how.by.as_deref(), Some("张敏"));
    // Said in yuan, as it was typed and as the sides show it.
    assert_eq!(how.how, format!("picked side {side}: 7,500.00"));
    assert_eq!(
        get(&mut t, &id).unwrap().finances.annual_income_fen,
        Some(7_500_00)
    );
    assert!(conflicts(&mut t, false).unwrap().is_empty());
    let e = resolve_conflict(&mut t, &team.ctx(), &c.id, Resolve::Pick(1)).unwrap_err();
    assert!(e.to_string().contains("already resolved"), "{e}");
    let e = resolve_conflict(&mut t, &team.ctx(), "ffff", Resolve::Pick(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn two_archives_of_one_household_are_merged_into_one() {
    let (team, br) = (Fixture::new(), branch());
    let (mut t, mut b) = (team.cases(), br.cases());
    let mine = open(&mut t, &team, 1);
    // The branch, cut off, opened its own file for the same household.
    let theirs = write(&mut b, &br.ctx(), Write::NewCase { form: form(1) })
        .unwrap()
        .case
        .id;
    t.receive(&theirs, &b).unwrap();
    let dup = conflicts(&mut t, false).unwrap();
    assert_eq!(dup.len(), 1, "{dup:?}");
    assert_eq!(dup[0].kind(), ConflictKind::Duplicate);
    let e = resolve_conflict(&mut t, &team.ctx(), &dup[0].id, Resolve::Pick(1)).unwrap_err();
    assert!(
        e.to_string().contains("merging into the case to keep"),
        "{e}"
    );
    resolve_conflict(
        &mut t,
        &team.ctx(),
        &dup[0].id,
        Resolve::MergeInto(mine.clone()),
    )
    .unwrap();
    assert_eq!(
        get(&mut t, &theirs).unwrap().status,
        hearth_archive::Status::Closed
    );
    assert!(conflicts(&mut t, false).unwrap().is_empty());
}
