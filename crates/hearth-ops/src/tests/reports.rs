//! What the cases held need, what the policy says, the node's figures, listings in pages.

use super::{file, open, open_filed};
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
    let old = open_filed(&mut cases, &then, 1);
    crate::fund_write(
        &mut cases,
        &then.ctx(),
        crate::FundWrite::Income {
            source: "budget".into(),
            amount: "5000".into(),
            date: "2025-01-02".into(),
            note: None,
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
            override_reason: None,
        },
    )
    .unwrap();
    open_filed(&mut cases, &now, 2);
    open_filed(&mut cases, &then, 3);
    let d = due(&mut cases, &now.ctx()).unwrap();
    assert_eq!(d.review_due.len(), 2, "{d:?}");
    assert!(
        d.review_due[0].detail.starts_with("filed 2025-01-10"),
        "{d:?}"
    );
    assert_eq!(d.loans_overdue.len(), 1);
    assert!(
        d.loans_overdue[0].detail.contains("3,000.00 outstanding"),
        "{d:?}"
    );
    // Through requests a page at a time, even pages of one: a case's items stay together on
    // one page, every item comes once, and the lists come out as `due` gives them.
    let mut items = Vec::new();
    let mut pages = 0;
    let mut token = None;
    loop {
        let page = PageRequest {
            size: Some(1),
            token,
        };
        let Reply::Due(page) =
            execute(&mut cases, &now.ctx(), None, Request::Due { page }).unwrap()
        else {
            panic!("a page of what is due")
        };
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(
        pages, 2,
        "the first case's two items on one page, the other's on the next"
    );
    assert_eq!(hearth_archive::due::Due::from_items(items), d);
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
    file(&mut cases, &f, &id);
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
    let s = stats(&mut cases, &f.ctx(), None).unwrap();
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

#[test]
fn the_year_of_seed_003_adds_up() {
    // Source: seed 003_615057004f9b46f5.txt — 72 households on file at the start of 2017, 3
    // new, 15 removed (here 10 lifted, 5 closed), 60 at the end. Filed and exit days as the
    // files say, recorded in 2026.
    let f = Fixture::new();
    let mut cases = f.cases();
    let row = |n: u32, day: &str| crate::ImportRow {
        line: u64::from(n),
        form: super::form(n),
        status: Some("filed".into()),
        filed_on: Some(day.into()),
        unreadable: None,
    };
    let mut rows: Vec<_> = (1..=72).map(|n| row(n, "2016-03-01")).collect();
    rows.extend((73..=75).map(|n| row(n, "2017-06-01")));
    let ids = crate::import(&mut cases, &f.ctx(), &rows, &|| {}).unwrap();
    let exit = |cases: &mut crate::MemoryCases, id: &str, to: &str, on: &str| {
        write(
            cases,
            &f.ctx(),
            Write::Transition {
                case: id.into(),
                to: to.into(),
                reason: "年度动态管理".into(),
                on: Some(on.into()),
                outstanding_reason: None,
            },
        )
        .unwrap();
    };
    for id in &ids[..10] {
        exit(&mut cases, id, "lifted", "2017-11-30");
    }
    for id in &ids[10..15] {
        exit(&mut cases, id, "closed", "2017-12-31");
    }
    let y = stats(&mut cases, &f.ctx(), Some("2017")).unwrap().own;
    assert_eq!(
        (
            y.start_of_year,
            y.filed_this_year,
            y.lifted_this_year + y.closed_this_year,
            y.end_of_year
        ),
        (72, 3, 15, 60)
    );
    assert_eq!((y.lifted_this_year, y.closed_this_year), (10, 5));
    // Now: 60 households in hardship, graded; the 15 that left are not counted under a grade.
    let now = stats(&mut cases, &f.ctx(), None).unwrap().own;
    assert_eq!(now.in_hardship, 60);
    assert_eq!(now.by_grade.values().sum::<u64>(), 60);
    assert_eq!(now.filed_this_year, 0, "imports count on their filing day");
    // A day before the filing day an exit cannot be.
    let e = write(
        &mut cases,
        &f.ctx(),
        Write::Transition {
            case: ids[20].clone(),
            to: "lifted".into(),
            reason: "x".into(),
            on: Some("2016-01-01".into()),
            outstanding_reason: None,
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("before the case's last status change"),
        "{e}"
    );
}
