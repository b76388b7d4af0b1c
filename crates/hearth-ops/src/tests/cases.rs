//! Opening, importing and changing cases.

use hearth_archive::Status;

use super::{form, open};
use crate::testing::Fixture;
use crate::{ErrorKind, ImportRow, ListFilter, Write, import, list, write, write_keyed};

#[test]
fn one_household_has_one_file() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let first = open(&mut cases, &f, 1);
    let e = write(&mut cases, &f.ctx(), Write::NewCase { form: form(1) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains(&first), "{e}");
    assert!(e.to_string().contains("one household, one file"), "{e}");
    assert_eq!(list(&mut cases, &ListFilter::default()).unwrap().len(), 1);
    // Editing the case itself with the same number is not a second file.
    write(
        &mut cases,
        &f.ctx(),
        Write::EditCase {
            case: first.clone(),
            form: form(1),
        },
    )
    .unwrap();
    // Another case given that household's number is.
    let other = open(&mut cases, &f, 2);
    let e = write(
        &mut cases,
        &f.ctx(),
        Write::EditCase {
            case: other,
            form: form(1),
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("one household, one file"), "{e}");
}

#[test]
fn a_case_id_is_bound_to_this_node_and_ids_come_from_the_source_given() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    let again = Fixture::new();
    let mut other = again.cases();
    assert_eq!(
        open(&mut other, &again, 1),
        id,
        "the same ids, the same case id"
    );
    let case = crate::get(&mut cases, &id[..10]).unwrap();
    assert_eq!(case.home, "demo.team-1");
    assert_eq!(case.created_at, Some(f.now.timestamp()));
}

#[test]
fn an_import_with_one_bad_row_imports_nothing() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let row = |line, n| ImportRow {
        line,
        form: form(n),
        ..ImportRow::default()
    };
    let mut bad = row(3, 3);
    bad.form.annual_income = Some("lots".into());
    let twin = row(4, 1);
    let e = import(
        &mut cases,
        &f.ctx(),
        &vec![row(1, 1), row(2, 2), bad, twin],
        &|| {},
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("line 3:") && text.contains("line 4:"),
        "{text}"
    );
    assert!(text.contains("same ID number as line 1"), "{text}");
    assert!(text.contains("2 of 4 lines are bad"), "{text}");
    assert!(list(&mut cases, &ListFilter::default()).unwrap().is_empty());

    let mut filed = row(2, 2);
    filed.status = Some("filed".into());
    let ids = import(&mut cases, &f.ctx(), &vec![row(1, 1), filed], &|| {}).unwrap();
    assert_eq!(ids.len(), 2);
    let second = crate::get(&mut cases, &ids[1]).unwrap();
    assert_eq!(second.status, Status::Filed);
    assert!(
        second.participants.contains(&"demo.branch".to_owned()),
        "reported up"
    );
}

/// A file read for the second time: changed since the first (`changed`), or failing after a
/// few rows (`fails`).
struct Rereading {
    rows: Vec<ImportRow>,
    reads: std::sync::atomic::AtomicUsize,
    changed: bool,
}

impl crate::ImportSource for Rereading {
    fn each_row(&self, each: &mut dyn FnMut(ImportRow) -> crate::Result<()>) -> crate::Result<()> {
        let second = self
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            > 0;
        for (i, row) in self.rows.iter().enumerate() {
            if second && i == 300 {
                if self.changed {
                    let mut other = row.clone();
                    other.form.name = Some("改过的名字".into());
                    each(other)?;
                    continue;
                }
                return Err(crate::OpError::input(
                    "the disk failed while reading line 301",
                ));
            }
            each(row.clone())?;
        }
        Ok(())
    }
}

#[test]
fn an_import_whose_file_reads_otherwise_the_second_time_writes_nothing() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let rows: Vec<ImportRow> = (0..1000)
        .map(|n| ImportRow {
            line: u64::from(n) + 2,
            form: form(n),
            ..ImportRow::default()
        })
        .collect();
    for changed in [true, false] {
        let source = Rereading {
            rows: rows.clone(),
            reads: 0.into(),
            changed,
        };
        let e = import(&mut cases, &f.ctx(), &source, &|| {}).unwrap_err();
        let text = e.to_string();
        let expected = if changed {
            "the file changed while it was imported; nothing was imported"
        } else {
            "the disk failed while reading line 301"
        };
        assert!(text.contains(expected), "{text}");
        assert!(list(&mut cases, &ListFilter::default()).unwrap().is_empty());
    }
    let source = Rereading {
        rows,
        reads: 0.into(),
        changed: false,
    };
    // Read twice when nothing fails: the rows come back in order.
    let ids = import(&mut cases, &f.ctx(), &source.rows, &|| {}).unwrap();
    assert_eq!(ids.len(), 1000);
    let tenth = crate::get(&mut cases, &ids[9]).unwrap();
    assert_eq!(tenth.worker.name, form(9).name);
}

#[test]
fn a_keyed_write_is_made_once_and_answered_again_with_the_same_record() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    let visit = || Write::AddVisit {
        case: id.clone(),
        date: "2026-06-10".into(),
        kind: "home".into(),
        visitor: None,
        notes: None,
        consent: true,
    };
    let first = write_keyed(&mut cases, &f.ctx(), Some("k-1"), visit()).unwrap();
    let again = write_keyed(&mut cases, &f.ctx(), Some("k-1"), visit()).unwrap();
    assert!(!first.repeated && again.repeated);
    assert_eq!(first.record, again.record);
    assert_eq!(again.case.visits.len(), 1);
    let refused = write_keyed(&mut cases, &f.ctx(), Some("not a key"), visit()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Input);
}

#[test]
fn escalating_needs_a_higher_level_and_a_parent() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    let escalate = |level: &str| Write::Escalate {
        case: id.clone(),
        to_level: level.into(),
        reason: "deep hardship".into(),
        via: None,
    };
    let e = write(&mut cases, &f.ctx(), escalate("team")).unwrap_err();
    assert!(e.to_string().contains("already at level"), "{e}");
    let done = write(&mut cases, &f.ctx(), escalate("enterprise")).unwrap();
    assert_eq!(done.reported_to.as_deref(), Some("demo.branch"));
    let mut top = Fixture::new();
    top.place.parents.clear();
    let mut alone = top.cases();
    let id = open(&mut alone, &top, 1);
    let e = write(
        &mut alone,
        &top.ctx(),
        Write::Escalate {
            case: id,
            to_level: "national".into(),
            reason: "r".into(),
            via: None,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("no parent"), "{e}");
}
