//! Unit tests of the operations over [`crate::MemoryCases`], with a fixed clock and counted ids:
//! the union's rules as a caseworker meets them, without a process or a disk.

mod accounts;
mod cases;
mod conflicts;
mod funds;
mod reports;

use hearth_archive::CaseForm;
use hearth_archive::identity::sample_id_number;

use crate::testing::Fixture;
use crate::{Cases, CountingIds, MemoryCases, Place, Write, Written, write};

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

/// The node above `f`'s, which approves what `f` submits: its first parent (or `demo.branch`),
/// at least at the branch level, with no parent of its own.
pub(crate) fn superior(f: &Fixture) -> Fixture {
    let level = hearth_archive::Policy::builtin()
        .next_level(f.place.level)
        .unwrap_or(f.place.level)
        .max(hearth_archive::Level::Branch);
    Fixture {
        place: Place {
            node_id: f
                .place
                .parents
                .first()
                .cloned()
                .unwrap_or_else(|| "demo.branch".into()),
            level,
            parents: Vec::new(),
            children: vec![f.place.node_id.clone()],
        },
        now: f.now.clone(),
        ids: CountingIds::starting_at(1 << 40),
        ..Fixture::new()
    }
}

/// Runs the filing chain on `case` at `f`, its steps three weeks back — grassroots review, a
/// home visit with consent, the civil-affairs check, a notice that has ended — submits it, and
/// has the node above approve it.
pub(crate) fn file(cases: &mut MemoryCases, f: &Fixture, case: &str) -> Written {
    let start = f.now.date() - jiff::Span::new().days(21);
    for w in crate::chain_writes(case, start) {
        write(cases, &f.ctx(), w).expect("each step of the chain in order");
    }
    let approve = Write::Decide {
        case: case.into(),
        decision: "approve".into(),
        note: String::new(),
    };
    write(cases, &superior(f).ctx(), approve).expect("the node above approves")
}

/// Opens the case of household `n` and files it through the chain ([`file`]); returns its id.
pub(crate) fn open_filed(cases: &mut MemoryCases, f: &Fixture, n: u32) -> String {
    let id = open(cases, f, n);
    file(cases, f, &id);
    id
}

/// Records aid on `case` today (the day it is filed, in [`file`]), paid by `payer` (this node when `None`).
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
            date: "2026-06-15".into(),
            paying_node: payer.map(str::to_owned),
            approving_node: None,
            note: None,
        },
    )
}
