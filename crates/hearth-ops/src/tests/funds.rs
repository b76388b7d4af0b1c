//! Aid within the caps and the fund, grants, disclosure.

use super::{aid, open};
use crate::testing::Fixture;
use crate::{ErrorKind, FundWrite, disclosure, fund_show, fund_write};

fn income(f: &Fixture, cases: &mut crate::MemoryCases, amount: &str) {
    fund_write(
        cases,
        &f.ctx(),
        FundWrite::Income {
            source: "budget".into(),
            amount: amount.into(),
            date: "2026-01-05".into(),
            note: None,
        },
    )
    .unwrap();
}

#[test]
fn aid_paid_here_comes_out_of_the_fund_and_never_below_zero() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    let e = aid(&mut cases, &f, &id, "living", "500", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("less than"), "{e}");
    assert!(
        crate::get(&mut cases, &id).unwrap().assistance.is_empty(),
        "nothing written"
    );
    income(&f, &mut cases, "800");
    aid(&mut cases, &f, &id, "living", "500", None).unwrap();
    let ledger = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(ledger.balance_fen, 300_00);
    // Paid by another node: recorded here, nothing leaves this fund.
    aid(&mut cases, &f, &id, "living", "900", Some("demo.branch")).unwrap();
    assert_eq!(
        fund_show(&mut cases, &f.ctx(), None, None)
            .unwrap()
            .balance_fen,
        300_00
    );
}

#[test]
fn aid_over_a_cap_is_refused_with_the_policy_that_says_so() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    income(&f, &mut cases, "100000");
    // Built-in policy: one-off aid at most 10,000 a case and year, however it is paid; living
    // aid at most 12,000 a year.
    let e = aid(&mut cases, &f, &id, "one_off", "10000.01", None).unwrap_err();
    assert!(
        e.to_string().contains("over the yearly cap of 10,000.00"),
        "{e}"
    );
    assert!(!e.to_string().contains("split"), "{e}");
    aid(&mut cases, &f, &id, "one_off", "6000", None).unwrap();
    let e = aid(&mut cases, &f, &id, "one_off", "4000.01", None).unwrap_err();
    assert!(e.to_string().contains("would come to 10,000.01"), "{e}");
    aid(&mut cases, &f, &id, "one_off", "4000", None).unwrap();
    aid(&mut cases, &f, &id, "living", "11000", None).unwrap();
    let e = aid(&mut cases, &f, &id, "living", "1000.01", None).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("over the yearly cap of 12,000.00"), "{text}");
    assert!(text.contains("built-in policy version 0"), "{text}");
    aid(&mut cases, &f, &id, "living", "1000", None).unwrap();
    assert_eq!(crate::get(&mut cases, &id).unwrap().assistance.len(), 4);
}

#[test]
fn grants_go_to_children_and_arrive_with_them() {
    let mut f = Fixture::new();
    f.place.children.push("demo.team-9".into());
    let mut cases = f.cases();
    income(&f, &mut cases, "1000");
    let grant = |to: &str, amount: &str| FundWrite::Grant {
        to: to.into(),
        amount: amount.into(),
        date: "2026-02-01".into(),
        note: None,
    };
    let e = fund_write(&mut cases, &f.ctx(), grant("demo.branch", "10")).unwrap_err();
    assert!(e.to_string().contains("not a child"), "{e}");
    let e = fund_write(&mut cases, &f.ctx(), grant("demo.team-9", "1000.01")).unwrap_err();
    assert!(e.to_string().contains("less than the grant"), "{e}");
    let mine = fund_write(&mut cases, &f.ctx(), grant("demo.team-9", "400")).unwrap();
    assert_eq!(mine.balance_fen, 600_00);
    let theirs = fund_show(&mut cases, &f.ctx(), Some("demo.team-9"), Some("2026")).unwrap();
    assert_eq!(theirs.balance_fen, 400_00);
    let e = fund_show(&mut cases, &f.ctx(), Some("demo.other"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
}

#[test]
fn a_disclosure_masks_names_and_holds_no_identity() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    income(&f, &mut cases, "2000");
    aid(&mut cases, &f, &id, "medical", "700", None).unwrap();
    let d = disclosure(&mut cases, &f.ctx(), "2026").unwrap();
    assert_eq!(d.payments.len(), 1);
    assert_eq!(d.payments[0].recipient, "张*燕");
    assert_eq!(d.payments[0].amount_fen, 700_00);
    assert!(d.ledger.entries.is_empty());
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        !json.contains("张1燕") && !json.contains(&hearth_archive::identity::sample_id_number(1))
    );
}

#[test]
fn a_past_years_ledger_closes_at_its_year_end_not_today() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open(&mut cases, &f, 1);
    fund_write(
        &mut cases,
        &f.ctx(),
        FundWrite::Income {
            source: "budget".into(),
            amount: "1000".into(),
            date: "2025-12-20".into(),
            note: None,
        },
    )
    .unwrap();
    aid(&mut cases, &f, &id, "living", "300", None).unwrap();
    let last = fund_show(&mut cases, &f.ctx(), None, Some("2025")).unwrap();
    assert_eq!((last.opening_fen, last.closing_fen), (0, 1000_00));
    assert_eq!(last.balance_fen, 700_00, "now, whatever the year shown");
    let this = fund_show(&mut cases, &f.ctx(), None, Some("2026")).unwrap();
    assert_eq!((this.opening_fen, this.closing_fen), (1000_00, 700_00));
    let d = disclosure(&mut cases, &f.ctx(), "2025").unwrap();
    assert_eq!(d.ledger.closing_fen, 1000_00);
    assert!(d.payments.is_empty(), "the aid was paid in 2026");
}
