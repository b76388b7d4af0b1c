//! Funds: a node's ledger, income, budget, grants to children, and what it discloses.

use std::collections::HashMap;

use hearth_archive::form::parse_date;
use hearth_archive::ledger::{Disclosure, Entry, LedgerView, Stamp};
use hearth_archive::money::{format_yuan, parse_positive_yuan};
use hearth_archive::record::ledger_id;
use hearth_archive::{Document, Editor};

use crate::write::{RecordIds, check_request_key};
use crate::{Cases, Ctx, OpError, Result, not_a_record};

pub(crate) fn stamp(editor: &Editor) -> Stamp {
    Stamp {
        by: editor.by.clone(),
        node: editor.node.clone(),
        at: editor.at,
    }
}

/// `node`'s fund ledger for `year` (empty if this node holds none).
pub fn ledger_view(cases: &mut impl Cases, node: &str, year: i16) -> Result<LedgerView> {
    let entries = cases
        .read_record(&ledger_id(node), |r| Ok(r.entries::<Entry>()?))?
        .unwrap_or_default();
    Ok(LedgerView::of(node, year, entries))
}

/// A change to a fund, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FundWrite {
    /// Money received.
    Income {
        source: String,
        amount: String,
        date: String,
        note: Option<String>,
    },
    /// The budget planned for a year.
    Budget { year: String, amount: String },
    /// A grant paid from this node's fund to a child's.
    Grant {
        to: String,
        amount: String,
        date: String,
        note: Option<String>,
    },
}

/// `node`'s ledger, readable here if it is this node's or a child's (held for audit).
pub fn fund_show(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    node: Option<&str>,
    year: Option<&str>,
) -> Result<LedgerView> {
    let here = ctx.place.node_id.as_str();
    let node = node.unwrap_or(here);
    if node != here && !ctx.place.has_child(node) {
        return Err(OpError::Forbidden(format!(
            "{node} is not a child of {here}: a node holds only its own ledger and its children's"
        )));
    }
    let year = match year {
        Some(y) => hearth_archive::form::parse_year("year", y)?,
        None => ctx.editor().today.year(),
    };
    let mut view = ledger_view(cases, node, year)?;
    if node == here {
        let today = ctx.editor().today;
        view.overdue_fen = borrowers(cases)?
            .iter()
            .flat_map(|c| &c.open_loans)
            .filter(|(_, due, _)| due.is_some_and(|d| d < today))
            .map(|(_, _, fen)| fen)
            .sum();
    }
    Ok(view)
}

/// The cases held here with loans outstanding, including closed cases that left them unpaid.
pub fn borrowers(cases: &mut impl Cases) -> Result<Vec<hearth_archive::CaseSummary>> {
    let mut found = Vec::new();
    cases.scan(hearth_archive::listing::Sort::Opened, None, &mut |_, c| {
        if c.outstanding_fen > 0 {
            found.push(c);
        }
        true
    })?;
    Ok(found)
}

/// Writes to this node's fund (and, for a grant, the child's). Returns this node's ledger for
/// the year of the entry.
pub fn fund_write(cases: &mut impl Cases, ctx: &Ctx<'_>, w: FundWrite) -> Result<LedgerView> {
    fund_write_with(cases, ctx, RecordIds::new(None, ctx), w)
}

/// [`fund_write`] once per request key (see [`write_keyed`]): a repeated key writes nothing and
/// answers with the ledger of the write's year as it is now; the flag says it was repeated.
pub fn fund_write_keyed(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    key: Option<&str>,
    w: FundWrite,
) -> Result<(LedgerView, bool)> {
    let Some(key) = key else {
        return Ok((fund_write(cases, ctx, w)?, false));
    };
    check_request_key(key)?;
    if cases.answered(key)?.is_some() {
        let year = match &w {
            FundWrite::Income { date, .. } | FundWrite::Grant { date, .. } => {
                parse_date("date", date)?.year()
            }
            FundWrite::Budget { year, .. } => hearth_archive::form::parse_year("year", year)?,
        };
        return Ok((ledger_view(cases, &ctx.place.node_id, year)?, true));
    }
    cases.expect_request(Some(key.to_owned()));
    let written = fund_write_with(cases, ctx, RecordIds::new(Some(key), ctx), w);
    cases.expect_request(None);
    Ok((written?, false))
}

fn fund_write_with(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    mut ids: RecordIds<'_>,
    w: FundWrite,
) -> Result<LedgerView> {
    let editor = ctx.editor();
    let here = ctx.place.node_id.clone();
    let own = ledger_id(&here);
    let year = match w {
        FundWrite::Income {
            source,
            amount,
            date,
            note,
        } => {
            let date = parse_date("date", &date)?;
            hearth_archive::case::not_future("date", date, &editor)?;
            let entry = Entry::Income {
                date,
                source: source.parse()?,
                amount_fen: parse_positive_yuan("amount", &amount)?,
                from_node: None,
                note,
                stamp: stamp(&editor),
            };
            cases.update_record(&own, &editor, |r| {
                Ok(r.put_entry(&editor, &ids.next(), &entry)?)
            })?;
            date.year()
        }
        FundWrite::Budget { year, amount } => {
            let year = hearth_archive::form::parse_year("year", &year)?;
            let entry = Entry::Budget {
                year,
                amount_fen: parse_positive_yuan("budget", &amount)?,
                stamp: stamp(&editor),
            };
            cases.update_record(&own, &editor, |r| {
                Ok(r.put_entry(&editor, &format!("budget-{year}"), &entry)?)
            })?;
            year
        }
        FundWrite::Grant {
            to,
            amount,
            date,
            note,
        } => {
            if !ctx.place.has_child(&to) {
                return Err(OpError::input(format!(
                    "{to} is not a child of {here}; grants go to children"
                )));
            }
            let date = parse_date("date", &date)?;
            hearth_archive::case::not_future("date", date, &editor)?;
            let amount_fen = parse_positive_yuan("amount", &amount)?;
            let balance = ledger_view(cases, &here, date.year())?.balance_fen;
            if balance < amount_fen {
                return Err(OpError::input(format!(
                    "the fund of {here} holds {}, less than the grant of {}",
                    format_yuan(balance),
                    format_yuan(amount_fen)
                )));
            }
            let id = ids.next();
            let out = Entry::GrantOut {
                date,
                to_node: to.clone(),
                amount_fen,
                note: note.clone(),
                stamp: stamp(&editor),
            };
            let income = Entry::Income {
                date,
                source: hearth_archive::IncomeSource::Grant,
                amount_fen,
                from_node: Some(here.clone()),
                note,
                stamp: stamp(&editor),
            };
            // Both ledgers in one transaction: a grant is paid out and arrives, or neither.
            let theirs = ledger_id(&to);
            cases.update_many(&[&own, &theirs], &editor, |docs| {
                let [Document::Record(mine), Document::Record(theirs)] = docs else {
                    return Err(not_a_record(&theirs));
                };
                mine.put_entry(&editor, &id, &out)?;
                theirs.put_entry(&editor, &id, &income)?;
                Ok(())
            })?;
            date.year()
        }
    };
    ledger_view(cases, &here, year)
}

/// This node's disclosure for `year`.
pub fn disclosure(cases: &mut impl Cases, ctx: &Ctx<'_>, year: &str) -> Result<Disclosure> {
    let year = hearth_archive::form::parse_year("year", year)?;
    let ledger = ledger_view(cases, &ctx.place.node_id, year)?;
    // The names of the cases the year's entries name, each read once from the listing index.
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for (_, entry) in &ledger.entries {
        let hearth_archive::ledger::Entry::Disbursement { case, .. } = entry else {
            continue;
        };
        if !names.contains_key(case) {
            let name = cases.summary(case)?.and_then(|s| s.name);
            names.insert(case.to_owned(), name);
        }
    }
    Ok(Disclosure::of(ledger, |case| {
        names.get(case).cloned().flatten()
    }))
}
