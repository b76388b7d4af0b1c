//! Aid within the caps and the fund, grants, disclosure.

use super::{aid, open_filed};
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
    let id = open_filed(&mut cases, &f, 1);
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
    // At an enterprise, whose authority (20,000) covers every payment here.
    let mut f = Fixture::new();
    f.place.level = hearth_archive::Level::Enterprise;
    let mut cases = f.cases();
    let id = open_filed(&mut cases, &f, 1);
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
    let id = open_filed(&mut cases, &f, 1);
    income(&f, &mut cases, "2000");
    aid(&mut cases, &f, &id, "living", "700", None).unwrap();
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
    let id = open_filed(&mut cases, &f, 1);
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

fn view(cases: &mut crate::MemoryCases, id: &str) -> hearth_archive::CaseView {
    crate::get(cases, id).unwrap()
}

#[test]
fn money_goes_only_where_the_rules_let_it() {
    // Source: "先建档、后帮扶" (file first, then aid) for the special funds; medical aid not
    // above the out-of-pocket part; aid above a level's authority approved higher up (issue
    // 15's rules as reposted). The built-in authority of a team is 1,000.
    let f = Fixture::new();
    let mut cases = f.cases();
    income(&f, &mut cases, "50000");
    let draft = super::open(&mut cases, &f, 1);
    let e = aid(&mut cases, &f, &draft, "living", "500", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("先建档、后帮扶"), "{e}");
    assert!(e.to_string().contains("--kind emergency"), "{e}");
    // Emergency relief before filing, within its own cap (5,000 a year, built in).
    aid(&mut cases, &f, &draft, "emergency", "800", None).unwrap();
    let e = aid(&mut cases, &f, &draft, "emergency", "4200.01", None).unwrap_err();
    assert!(e.to_string().contains("yearly cap of 5,000.00"), "{e}");

    let id = open_filed(&mut cases, &f, 2);
    // 3,000 at a team: above its authority, refused until the branch approves.
    let e = aid(&mut cases, &f, &id, "living", "3000", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("above the team 班组 authority of 1,000.00"),
        "{e}"
    );
    assert!(
        view(&mut cases, &id).assistance.is_empty(),
        "nothing written"
    );
    let branch = super::superior(&f);
    let approve = |cases: &mut crate::MemoryCases, at: &Fixture, amount: &str| {
        crate::write(
            cases,
            &at.ctx(),
            crate::Write::ApproveAid {
                case: id.clone(),
                kind: "living".into(),
                amount: amount.into(),
                note: Some("住院后生活困难".into()),
            },
        )
    };
    // The team cannot approve for itself; the branch's authority is 5,000.
    assert!(approve(&mut cases, &f, "3000").is_err());
    let e = approve(&mut cases, &branch, "6000").unwrap_err();
    assert!(e.to_string().contains("above the branch"), "{e}");
    approve(&mut cases, &branch, "3000").unwrap();
    let paid = aid(&mut cases, &f, &id, "living", "3000", None).unwrap();
    let a = &paid.case.assistance[0];
    assert_eq!(a.approving_node.as_deref(), Some("demo.branch"));
    assert!(a.approval.is_some());
    // The approval is used up: a second 3,000 needs another.
    let e = aid(&mut cases, &f, &id, "living", "3000", None).unwrap_err();
    assert!(e.to_string().contains("needs an approval"), "{e}");

    // Medical aid: not above this year's out-of-pocket costs on file.
    let e = aid(&mut cases, &f, &id, "medical", "500", None).unwrap_err();
    assert!(e.to_string().contains("record the costs first"), "{e}");
    let mut form = hearth_archive::CaseForm {
        medical_costs: Some("1000".into()),
        ..hearth_archive::CaseForm::default()
    };
    crate::write(
        &mut cases,
        &f.ctx(),
        crate::Write::EditCase {
            case: id.clone(),
            form: form.clone(),
        },
    )
    .unwrap();
    aid(&mut cases, &f, &id, "medical", "600", None).unwrap();
    let e = aid(&mut cases, &f, &id, "medical", "400.01", None).unwrap_err();
    assert!(e.to_string().contains("at most 400.00 more"), "{e}");
    form.medical_costs = None;
    assert_eq!(view(&mut cases, &id).assistance.len(), 2);

    // The household's income rose past the standard: no more regular aid on it.
    form.annual_income = Some("200000".into());
    crate::write(
        &mut cases,
        &f.ctx(),
        crate::Write::EditCase {
            case: id.clone(),
            form,
        },
    )
    .unwrap();
    let e = aid(&mut cases, &f, &id, "living", "100", None).unwrap_err();
    assert!(e.to_string().contains("not eligible 不符合条件"), "{e}");
    aid(&mut cases, &f, &id, "emergency", "100", None).unwrap();
}

#[test]
fn loans_draw_the_fund_and_repayments_return_to_it() {
    // Source: seed 001 (repeat borrowers who never repay are the fund's bottleneck).
    let f = Fixture::new();
    let mut cases = f.cases();
    income(&f, &mut cases, "47000");
    let id = open_filed(&mut cases, &f, 1);
    let loan =
        |cases: &mut crate::MemoryCases, amount: &str, date: &str, due: &str, why: Option<&str>| {
            crate::write(
                cases,
                &f.ctx(),
                crate::Write::AddLoan {
                    case: id.clone(),
                    amount: amount.into(),
                    date: date.into(),
                    due: due.into(),
                    note: None,
                    override_reason: why.map(str::to_owned),
                },
            )
        };
    // More than the fund holds: refused whatever the override.
    let e = loan(
        &mut cases,
        "100000",
        "2026-02-01",
        "2026-12-01",
        Some("急需"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("holds 47,000.00, less than the 100,000.00 it lends"),
        "{e}"
    );
    // Above the loan limit (20,000 built in): only with an override.
    let e = loan(&mut cases, "30000", "2026-02-01", "2026-12-01", None).unwrap_err();
    assert!(
        e.to_string().contains("above the loan limit of 20,000.00"),
        "{e}"
    );
    loan(&mut cases, "5000", "2026-02-01", "2026-03-01", None).unwrap();
    let fund = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(fund.balance_fen, 42_000_00);
    assert_eq!((fund.lent_fen, fund.outstanding_fen), (5_000_00, 5_000_00));
    assert_eq!(
        fund.overdue_fen, 5_000_00,
        "due 2026-03-01, today 2026-06-15"
    );
    // A loan overdue: a new one only with an override, which the loan keeps.
    let e = loan(&mut cases, "1000", "2026-06-01", "2026-12-01", None).unwrap_err();
    assert!(e.to_string().contains("overdue since 2026-03-01"), "{e}");
    let w = loan(
        &mut cases,
        "1000",
        "2026-06-01",
        "2026-12-01",
        Some("子女学费，工会主席批准"),
    )
    .unwrap();
    assert!(w.case.loans.iter().any(|l| l.override_reason.is_some()));
    crate::write(
        &mut cases,
        &f.ctx(),
        crate::Write::RepayLoan {
            case: id.clone(),
            loan: Some(w.case.loans[0].id.clone()),
            amount: "2000".into(),
            date: "2026-06-10".into(),
            note: None,
        },
    )
    .unwrap();
    let fund = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(
        fund.balance_fen, 43_000_00,
        "47,000 − 5,000 − 1,000 + 2,000"
    );
    assert_eq!(
        (fund.repaid_fen, fund.outstanding_fen),
        (2_000_00, 4_000_00)
    );
    // A repeat borrower with a loan overdue is listed first.
    let borrowers = crate::borrowers(&mut cases).unwrap();
    assert_eq!(borrowers.len(), 1);
    assert_eq!(borrowers[0].loans, 2);
    // Closing with 4,000 outstanding needs the reason, and stays listed.
    let close = |why: Option<&str>| crate::Write::Transition {
        case: id.clone(),
        to: "closed".into(),
        reason: "调离本单位".into(),
        on: None,
        outstanding_reason: why.map(str::to_owned),
    };
    let e = crate::write(&mut cases, &f.ctx(), close(None)).unwrap_err();
    assert!(
        e.to_string().contains("4,000.00 of loans outstanding"),
        "{e}"
    );
    crate::write(&mut cases, &f.ctx(), close(Some("新单位工会承诺代扣"))).unwrap();
    assert_eq!(crate::borrowers(&mut cases).unwrap().len(), 1);
}

/// Voids aid record `record` of case `id` with `reason`.
fn void(
    cases: &mut crate::MemoryCases,
    f: &Fixture,
    id: &str,
    record: &str,
    reason: &str,
) -> crate::Result<crate::Written> {
    crate::write(
        cases,
        &f.ctx(),
        crate::Write::Void {
            case: id.into(),
            record: record.into(),
            reason: reason.into(),
        },
    )
}

#[test]
fn voided_aid_stays_in_the_file_leaves_every_total_and_goes_back_into_the_fund() {
    let mut f = Fixture::new();
    f.place.level = hearth_archive::Level::Enterprise;
    let mut cases = f.cases();
    let id = open_filed(&mut cases, &f, 1);
    income(&f, &mut cases, "20000");
    let paid = aid(&mut cases, &f, &id, "one_off", "10000", None).unwrap();
    let record = paid.record.unwrap();
    // The yearly one-off cap (10,000) is reached.
    assert!(aid(&mut cases, &f, &id, "one_off", "1", None).is_err());
    let before = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(before.balance_fen, 10_000_00);

    // A void needs a reason; nothing is written without one.
    let e = void(&mut cases, &f, &id, &record, " ").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input, "{e}");
    assert_eq!(crate::get(&mut cases, &id).unwrap().assistance.len(), 1);

    let w = void(&mut cases, &f, &id, &record[..6], "录入错误 typed twice").unwrap();
    let v = w.case;
    assert!(v.assistance.is_empty());
    assert_eq!(v.assistance_total_fen, 0);
    assert_eq!(v.voided.len(), 1);
    assert_eq!(v.voided[0].id, record);
    assert_eq!(v.voided[0].reason, "录入错误 typed twice");
    assert_eq!(v.voided[0].by.as_deref(), Some("张敏"));
    assert!(v.voided[0].what.contains("10,000.00"), "{:?}", v.voided[0]);
    // The money is back in the fund, as a reversal entry; the year's aid paid nets to zero.
    let after = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(after.balance_fen, 20_000_00);
    assert_eq!(after.disbursed_total_fen(), 0);
    assert!(
        after
            .entries
            .iter()
            .any(|(_, e)| e.describe().starts_with("void 冲销")),
        "{:?}",
        after.entries
    );
    // Not disclosed as paid; the cap is free again; a second void is refused.
    assert!(
        disclosure(&mut cases, &f.ctx(), "2026")
            .unwrap()
            .payments
            .is_empty()
    );
    aid(&mut cases, &f, &id, "one_off", "10000", None).unwrap();
    let e = void(&mut cases, &f, &id, &record, "again").unwrap_err();
    assert!(e.to_string().contains("voided already"), "{e}");
}

#[test]
fn a_corrected_amount_replaces_the_record_and_the_fund_pays_the_difference() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open_filed(&mut cases, &f, 1);
    income(&f, &mut cases, "950");
    let paid = aid(&mut cases, &f, &id, "living", "900", None).unwrap();
    let old = paid.record.unwrap();
    let correct = |cases: &mut crate::MemoryCases, amount: &str, reason: &str| {
        crate::write(
            cases,
            &f.ctx(),
            crate::Write::CorrectAid {
                case: id.clone(),
                record: old.clone(),
                reason: reason.into(),
                kind: None,
                amount: Some(amount.into()),
                date: None,
                note: None,
            },
        )
    };
    // More than the fund holds with the old amount back: refused, nothing changed.
    let e = correct(&mut cases, "950.01", "金额有误").unwrap_err();
    assert!(e.to_string().contains("less than"), "{e}");
    let v = crate::get(&mut cases, &id).unwrap();
    assert_eq!((v.assistance.len(), v.voided.len()), (1, 0));

    let w = correct(&mut cases, "90", "金额多写一个零 one zero too many").unwrap();
    let v = w.case;
    assert_eq!(v.assistance.len(), 1);
    assert_eq!(v.assistance[0].amount_fen, 90_00);
    assert_eq!(v.assistance[0].corrects.as_deref(), Some(old.as_str()));
    assert_eq!(v.assistance_total_fen, 90_00);
    assert_eq!(v.voided.len(), 1);
    let ledger = fund_show(&mut cases, &f.ctx(), None, None).unwrap();
    assert_eq!(ledger.balance_fen, 860_00);
    assert_eq!(ledger.disbursed_total_fen(), 90_00);
}

#[test]
fn only_the_node_that_recorded_a_record_voids_it() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = open_filed(&mut cases, &f, 1);
    income(&f, &mut cases, "1000");
    let record = aid(&mut cases, &f, &id, "living", "100", None)
        .unwrap()
        .record
        .unwrap();
    let mut branch = Fixture::new();
    branch.place.node_id = "demo.branch".into();
    branch.place.level = hearth_archive::Level::Branch;
    let e = void(&mut cases, &branch, &id, &record, "不对").unwrap_err();
    assert!(
        e.to_string()
            .contains("was recorded at demo.team-1; only demo.team-1 voids"),
        "{e}"
    );
    let e = void(&mut cases, &f, &id, "zzzz", "不对").unwrap_err();
    assert!(e.to_string().contains("zzzz"), "{e}");
}

#[test]
fn a_listing_comes_in_the_order_asked_for_and_pages_in_it() {
    let f = Fixture::new();
    let mut cases = f.cases();
    income(&f, &mut cases, "5000");
    let ids: Vec<String> = (1..=3).map(|n| open_filed(&mut cases, &f, n)).collect();
    for (id, amount) in ids.iter().zip(["100", "300", "200"]) {
        aid(&mut cases, &f, id, "living", amount, None).unwrap();
    }
    let list = |cases: &mut crate::MemoryCases, sort: &str, size: u32, token: Option<String>| {
        crate::execute(
            cases,
            &f.ctx(),
            None,
            crate::Request::ListCases {
                filter: crate::ListFilter {
                    sort: Some(sort.into()),
                    ..crate::ListFilter::default()
                },
                page: crate::PageRequest {
                    size: Some(size),
                    token,
                },
            },
        )
    };
    let Ok(crate::Reply::Cases(first)) = list(&mut cases, "aid", 2, None) else {
        panic!("a page of cases")
    };
    let got: Vec<&str> = first.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(got, [ids[1].as_str(), ids[2].as_str()], "most aid first");
    let Ok(crate::Reply::Cases(rest)) = list(&mut cases, "aid", 2, first.next) else {
        panic!("the next page")
    };
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, ids[0]);
    assert!(rest.next.is_none());
    let e = list(&mut cases, "shoe size", 2, None).unwrap_err();
    assert!(e.to_string().contains("sort by one of opened, name"), "{e}");
}
