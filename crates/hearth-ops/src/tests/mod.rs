//! Unit tests of the operations over [`crate::MemoryCases`], with a fixed clock and counted ids:
//! the union's rules as a caseworker meets them, without a process or a disk.

mod cases;
mod conflicts;
mod funds;
mod reports;

use hearth_archive::CaseForm;
use hearth_archive::identity::sample_id_number;

use crate::testing::Fixture;
use crate::{Cases, MemoryCases, Write, Written, write};

/// A complete form for household `n`: two people, 6,000 yuan a year, a line of 800 a month.
pub(crate) fn form(n: u32) -> CaseForm {
    CaseForm {
        name: Some(format!("张{n}燕")),
        id_number: Some(sample_id_number(n)),
        household_size: Some("2".into()),
        annual_income: Some("6000".into()),
        rigid_spending: Some("0".into()),
        subsistence_line: Some("800".into()),
        primary_cause: Some("serious_illness".into()),
        ..CaseForm::default()
    }
}

/// Opens the case of household `n`; returns its id.
pub(crate) fn open(cases: &mut MemoryCases, f: &Fixture, n: u32) -> String {
    write(cases, &f.ctx(), Write::NewCase { form: form(n) })
        .expect("a complete form opens a case")
        .case
        .id
}

/// Records aid on `case`, paid by `payer` (this node when `None`).
pub(crate) fn aid(
    cases: &mut impl Cases,
    f: &Fixture,
    case: &str,
    kind: &str,
    amount: &str,
    payer: Option<&str>,
) -> crate::Result<Written> {
    write(
        cases,
        &f.ctx(),
        Write::AddAssistance {
            case: case.into(),
            kind: kind.into(),
            amount: amount.into(),
            date: "2026-06-01".into(),
            paying_node: payer.map(str::to_owned),
            approving_node: None,
            note: None,
        },
    )
}
