//! What the cases held need, what the policy says, the node's figures, listings in pages.

use super::open;
use crate::testing::Fixture;
use crate::{ListFilter, PageRequest, Reply, Request, Write, due, execute, pending, stats, write};

/// The fixture a year and a half earlier.
fn earlier() -> Fixture {
    let mut f = Fixture::new();
    f.now = jiff::civil::date(2025, 1, 10)
        .at(9, 0, 0, 0)
        .in_tz("Asia/Shanghai")
        .unwrap();
    f.ids = crate::CountingIds::starting_at(1 << 32);
    f
}

#[test]
fn reviews_due_and_loans_overdue_are_found_on_the_day_given() {
    let (then, now) = (earlier(), Fixture::new());
    let mut cases = now.cases();
    let old = open(&mut cases, &then, 1);
    write(
        &mut cases,
        &then.ctx(),
        Write::FileCase {
            case: old.clone(),
            via: None,
        },
    )
    .unwrap();
    write(
        &mut cases,
        &then.ctx(),
        Write::AddLoan {
            case: old.clone(),
            amount: "3000".into(),
            date: "2025-01-10".into(),
            due: "2026-01-10".into(),
            note: None,
        },
    )
    .unwrap();
    let fresh = open(&mut cases, &now, 2);
    write(
        &mut cases,
        &now.ctx(),
        Write::FileCase {
            case: fresh,
            via: None,
        },
    )
    .unwrap();
    let d = due(&mut cases, &now.ctx()).unwrap();
    assert_eq!(d.review_due.len(), 1, "{d:?}");
    assert_eq!(d.review_due[0].detail, "filed 2025-01-10, never reviewed");
    assert_eq!(d.loans_overdue.len(), 1);
    assert!(
        d.loans_overdue[0].detail.contains("3,000.00 outstanding"),
        "{d:?}"
    );
    // On the earlier day nothing was due.
    let d = due(&mut cases, &then.ctx()).unwrap();
    assert!(
        d.review_due.is_empty() && d.loans_overdue.is_empty(),
        "{d:?}"
    );
}

#[test]
fn a_deep_case_is_pending_until_escalated_to_the_enterprise() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    write(
        &mut cases,
        &f.ctx(),
        Write::FileCase {
            case: id.clone(),
            via: None,
        },
    )
    .unwrap();
    let p = pending(&mut cases, &f.ctx()).unwrap();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].1.must_reach, Some(hearth_archive::Level::Enterprise));
    write(
        &mut cases,
        &f.ctx(),
        Write::Escalate {
            case: id,
            to_level: "enterprise".into(),
            reason: "deep hardship".into(),
            via: None,
        },
    )
    .unwrap();
    assert!(pending(&mut cases, &f.ctx()).unwrap().is_empty());
}

#[test]
fn the_summary_counts_this_nodes_cases() {
    let f = Fixture::new();
    let mut cases = f.cases();
    for n in 1..=3 {
        open(&mut cases, &f, n);
    }
    let s = stats(&mut cases, &f.ctx()).unwrap();
    assert_eq!(s.node, "demo.team-1");
    assert_eq!(s.own.cases, 3);
    assert_eq!(s.year, 2026);
}

#[test]
fn a_listing_comes_in_pages_that_add_up_to_the_whole() {
    let f = Fixture::new();
    let mut cases = f.cases();
    for n in 1..=7 {
        open(&mut cases, &f, n);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let request = Request::ListCases {
            filter: ListFilter::default(),
            page: PageRequest {
                size: Some(3),
                token: token.take(),
            },
        };
        let Reply::Cases(page) = execute(&mut cases, &f.ctx(), None, request).unwrap() else {
            panic!("a listing answers with cases");
        };
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let whole: Vec<String> = crate::list(&mut cases, &ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(seen, whole);
    // A token no listing gave: a control character, or far longer than any sort key.
    for token in ["\u{1}".to_owned(), "9".repeat(10_000)] {
        let bad = Request::ListCases {
            filter: ListFilter::default(),
            page: PageRequest {
                size: None,
                token: Some(token),
            },
        };
        let e = execute(&mut cases, &f.ctx(), None, bad).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Input);
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
