//! A node's fund ledger (帮扶资金): the yearly budget, income by source, disbursements linked to
//! the assistance they paid, and grants paid down to children. Entries are whole and never
//! edited; the balance is derived. The ledger travels to the node's parents, who audit it (上级
//! 工会审计) and pay their grants into it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceKind, IncomeSource};
use crate::money::format_yuan;

/// Who wrote an entry, where and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The person.
    pub by: String,
    /// The node.
    pub node: String,
    /// When.
    pub at: Timestamp,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// The budget planned for a year (a plan, not money in).
    Budget {
        /// Year.
        year: i16,
        /// Amount.
        amount_fen: i64,
        /// Who set it.
        stamp: Stamp,
    },
    /// Money in.
    Income {
        /// Day received.
        date: Date,
        /// Source.
        source: IncomeSource,
        /// Amount.
        amount_fen: i64,
        /// The paying node, for a grant from above.
        from_node: Option<String>,
        /// Note (e.g. the donor).
        note: Option<String>,
        /// Who recorded it.
        stamp: Stamp,
    },
    /// Aid paid from the fund.
    Disbursement {
        /// Day paid.
        date: Date,
        /// Amount.
        amount_fen: i64,
        /// Kind of aid.
        kind: AssistanceKind,
        /// The case.
        case: String,
        /// The assistance record in the case.
        assistance: String,
        /// Who recorded it.
        stamp: Stamp,
    },
    /// Money lent to a case from the fund (借款).
    LoanOut {
        /// Day lent.
        date: Date,
        /// Amount.
        amount_fen: i64,
        /// The case.
        case: String,
        /// The loan record in the case.
        loan: String,
        /// Who recorded it.
        stamp: Stamp,
    },
    /// A loan repayment paid back into the fund.
    LoanBack {
        /// Day repaid.
        date: Date,
        /// Amount.
        amount_fen: i64,
        /// The case.
        case: String,
        /// The loan record in the case.
        loan: String,
        /// Who recorded it.
        stamp: Stamp,
    },
    /// Aid voided after it was paid from the fund: its money back into the fund (红字冲销), on
    /// the day it was voided.
    Reversal {
        /// Day voided.
        date: Date,
        /// Amount back.
        amount_fen: i64,
        /// Kind of the aid voided.
        kind: AssistanceKind,
        /// The case.
        case: String,
        /// The assistance record voided.
        assistance: String,
        /// Why.
        reason: String,
        /// Who recorded it.
        stamp: Stamp,
    },
    /// A grant paid to a child node (its ledger shows it as income).
    GrantOut {
        /// Day paid.
        date: Date,
        /// The child.
        to_node: String,
        /// Amount.
        amount_fen: i64,
        /// Note.
        note: Option<String>,
        /// Who recorded it.
        stamp: Stamp,
    },
}

impl Entry {
    /// Who wrote the entry, where and when.
    pub fn stamp(&self) -> &Stamp {
        match self {
            Entry::Budget { stamp, .. }
            | Entry::Income { stamp, .. }
            | Entry::Disbursement { stamp, .. }
            | Entry::Reversal { stamp, .. }
            | Entry::LoanOut { stamp, .. }
            | Entry::LoanBack { stamp, .. }
            | Entry::GrantOut { stamp, .. } => stamp,
        }
    }

    /// Checks an entry about to be written or just received: the amount more than zero and
    /// at most [`crate::money::MAX_FEN`], a year a fund can have, notes and names within their
    /// limits and without control characters.
    pub fn check(&self) -> crate::error::Result<()> {
        use crate::text::{NAME, REASON, SHORT, check_line, check_opt_notes};
        let (amount, year) = match self {
            Entry::Budget {
                amount_fen, year, ..
            } => (*amount_fen, *year),
            Entry::Income { amount_fen, .. }
            | Entry::Disbursement { amount_fen, .. }
            | Entry::Reversal { amount_fen, .. }
            | Entry::LoanOut { amount_fen, .. }
            | Entry::LoanBack { amount_fen, .. }
            | Entry::GrantOut { amount_fen, .. } => (*amount_fen, self.date().year()),
        };
        if !(1..=crate::money::MAX_FEN).contains(&amount) {
            return Err(crate::error::ArchiveError::Implausible(format!(
                "a ledger amount of {amount} fen"
            )));
        }
        crate::form::check_year("year", year)?;
        let stamp = self.stamp();
        check_line("by", &stamp.by, NAME)?;
        check_line("node", &stamp.node, SHORT)?;
        match self {
            Entry::Income {
                note, from_node, ..
            } => {
                check_opt_notes("note", note.as_deref(), REASON)?;
                crate::text::check_opt_line("from node", from_node.as_deref(), SHORT)
            }
            Entry::GrantOut { note, to_node, .. } => {
                check_opt_notes("note", note.as_deref(), REASON)?;
                check_line("to node", to_node, SHORT)
            }
            Entry::Disbursement {
                case, assistance, ..
            } => {
                check_line("case", case, SHORT)?;
                check_line("assistance", assistance, SHORT)
            }
            Entry::Reversal {
                case,
                assistance,
                reason,
                ..
            } => {
                check_line("case", case, SHORT)?;
                check_line("assistance", assistance, SHORT)?;
                crate::text::check_notes("reason", reason, REASON)
            }
            Entry::LoanOut { case, loan, .. } | Entry::LoanBack { case, loan, .. } => {
                check_line("case", case, SHORT)?;
                check_line("loan", loan, SHORT)
            }
            Entry::Budget { .. } => Ok(()),
        }
    }

    /// Money in (positive) or out (negative); zero for a budget.
    pub fn flow_fen(&self) -> i64 {
        match self {
            Entry::Budget { .. } => 0,
            Entry::Income { amount_fen, .. }
            | Entry::LoanBack { amount_fen, .. }
            | Entry::Reversal { amount_fen, .. } => *amount_fen,
            Entry::Disbursement { amount_fen, .. }
            | Entry::GrantOut { amount_fen, .. }
            | Entry::LoanOut { amount_fen, .. } => -amount_fen,
        }
    }

    /// What it is, as people read it: `living 生活救助 case ID aid ID`.
    pub fn describe(&self) -> String {
        match self {
            Entry::Budget { year, .. } => format!("budget {year} 预算"),
            Entry::Income {
                source,
                from_node,
                note,
                ..
            } => format!(
                "{}{}{}",
                source.label(),
                from_node
                    .as_ref()
                    .map(|n| format!(" from {n}"))
                    .unwrap_or_default(),
                note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            ),
            Entry::Disbursement {
                kind,
                case,
                assistance,
                ..
            } => format!("{} case {case} aid {assistance}", kind.label()),
            Entry::Reversal {
                kind,
                case,
                assistance,
                reason,
                ..
            } => format!(
                "void 冲销 {} case {case} aid {assistance}: {reason}",
                kind.label()
            ),
            Entry::GrantOut { to_node, .. } => format!("grant to {to_node} 下拨"),
            Entry::LoanOut { case, loan, .. } => format!("loan 借款 {loan} to case {case}"),
            Entry::LoanBack { case, loan, .. } => {
                format!("repaid 还款 on loan {loan}, case {case}")
            }
        }
    }

    /// Its amount as shown: a budget (a plan, not money) in brackets, money in or out signed.
    pub fn amount_text(&self) -> String {
        match self {
            Entry::Budget { amount_fen, .. } => format!("({})", format_yuan(*amount_fen)),
            other => format_yuan(other.flow_fen()),
        }
    }

    /// The day it happened (budgets: the first day of their year).
    pub fn date(&self) -> Date {
        match self {
            Entry::Budget { year, .. } => jiff::civil::date(*year, 1, 1),
            Entry::Income { date, .. }
            | Entry::Disbursement { date, .. }
            | Entry::Reversal { date, .. }
            | Entry::LoanOut { date, .. }
            | Entry::LoanBack { date, .. }
            | Entry::GrantOut { date, .. } => *date,
        }
    }
}

impl crate::record::Record {
    /// Writes a ledger entry under `key`, once it passes [`Entry::check`]: every entry a node
    /// writes is held to what it checks of its neighbours' entries.
    pub fn put_entry(
        &mut self,
        editor: &crate::case::Editor,
        key: &str,
        entry: &Entry,
    ) -> crate::error::Result<()> {
        entry.check()?;
        self.put(editor, key, entry)
    }
}

/// A ledger read for one year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    /// Whose ledger.
    pub node: String,
    /// The year shown.
    pub year: i16,
    /// The budget set for the year.
    pub budget_fen: Option<i64>,
    /// Income in the year, by source.
    pub income_fen: BTreeMap<IncomeSource, i64>,
    /// Aid paid in the year, by kind.
    pub disbursed_fen: BTreeMap<AssistanceKind, i64>,
    /// Grants paid to children in the year.
    pub granted_fen: i64,
    /// Lent to cases in the year.
    #[serde(default)]
    pub lent_fen: i64,
    /// Loans repaid into the fund in the year.
    #[serde(default)]
    pub repaid_fen: i64,
    /// Money lent out and not yet repaid, now (all years).
    #[serde(default)]
    pub outstanding_fen: i64,
    /// Of the loans of the cases held here, what is overdue now (filled in by who reads the
    /// cases: the ledger alone does not know due dates).
    #[serde(default)]
    pub overdue_fen: i64,
    /// Balance at the start of the year.
    pub opening_fen: i64,
    /// Balance at the end of the year (for this year: so far): the opening and the year's
    /// entries, none of a later year.
    #[serde(default)]
    pub closing_fen: i64,
    /// Balance now (all entries, any year): what the fund can pay from today.
    pub balance_fen: i64,
    /// The year's entries, by date, with their ids.
    pub entries: Vec<(String, Entry)>,
}

impl LedgerView {
    /// The year's account as rows of item and amount, as a ledger is shown (fund show, the
    /// console, the disclosure).
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            (
                "Budget 年度预算".to_owned(),
                self.budget_fen
                    .map(format_yuan)
                    .unwrap_or_else(|| "—".into()),
            ),
            (
                "Opening balance 年初结余".into(),
                format_yuan(self.opening_fen),
            ),
        ];
        for (source, fen) in &self.income_fen {
            rows.push((format!("Income 收入 {}", source.label()), format_yuan(*fen)));
        }
        for (kind, fen) in &self.disbursed_fen {
            rows.push((format!("Aid paid 支出 {}", kind.label()), format_yuan(*fen)));
        }
        rows.extend([
            (
                "Grants to children 下拨补助".to_owned(),
                format_yuan(self.granted_fen),
            ),
            ("Lent 借出".into(), format_yuan(self.lent_fen)),
            ("Repaid 收回借款".into(), format_yuan(self.repaid_fen)),
            (
                format!("Closing balance {} 年末结余", self.year),
                format_yuan(self.closing_fen),
            ),
            ("Balance now 当前结余".into(), format_yuan(self.balance_fen)),
            (
                "Lent out now 借出未还".into(),
                format_yuan(self.outstanding_fen),
            ),
            (
                "  of it overdue 其中逾期".into(),
                format_yuan(self.overdue_fen),
            ),
        ]);
        rows
    }

    /// Reads `entries` (id, entry) for `year`.
    pub fn of(node: &str, year: i16, entries: Vec<(String, Entry)>) -> LedgerView {
        let mut v = LedgerView {
            node: node.to_owned(),
            year,
            ..LedgerView::default()
        };
        for (id, e) in entries {
            v.balance_fen += e.flow_fen();
            match &e {
                Entry::LoanOut { amount_fen, .. } => v.outstanding_fen += amount_fen,
                Entry::LoanBack { amount_fen, .. } => v.outstanding_fen -= amount_fen,
                _ => {}
            }
            let y = e.date().year();
            if y < year {
                v.opening_fen += e.flow_fen();
            }
            if y <= year {
                v.closing_fen += e.flow_fen();
            }
            if y != year {
                continue;
            }
            match &e {
                Entry::Budget { amount_fen, .. } => v.budget_fen = Some(*amount_fen),
                Entry::Income {
                    source, amount_fen, ..
                } => *v.income_fen.entry(*source).or_default() += amount_fen,
                Entry::Disbursement {
                    kind, amount_fen, ..
                } => *v.disbursed_fen.entry(*kind).or_default() += amount_fen,
                Entry::Reversal {
                    kind, amount_fen, ..
                } => *v.disbursed_fen.entry(*kind).or_default() -= amount_fen,
                Entry::GrantOut { amount_fen, .. } => v.granted_fen += amount_fen,
                Entry::LoanOut { amount_fen, .. } => v.lent_fen += amount_fen,
                Entry::LoanBack { amount_fen, .. } => v.repaid_fen += amount_fen,
            }
            v.entries.push((id, e));
        }
        v.entries
            .sort_by(|a, b| (a.1.date(), &a.0).cmp(&(b.1.date(), &b.0)));
        v
    }

    /// Income in the year, all sources.
    pub fn income_total_fen(&self) -> i64 {
        self.income_fen.values().sum()
    }

    /// Aid paid in the year, all kinds.
    pub fn disbursed_total_fen(&self) -> i64 {
        self.disbursed_fen.values().sum()
    }
}

/// A name masked for public disclosure (公示): the first and last character stay, the rest are
/// starred — 张*燕, 王*, 欧阳**明.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut s = String::new();
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 2));
            s.push(chars[n - 1]);
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            by: "li".into(),
            node: "t1".into(),
            at: Timestamp::from_second(1_780_000_000).unwrap(),
        }
    }

    #[test]
    fn names_are_masked_for_disclosure() {
        assert_eq!(mask_name("张晓燕"), "张*燕");
        assert_eq!(mask_name("王五"), "王*");
        assert_eq!(mask_name("欧阳建明"), "欧**明");
    }

    #[test]
    fn the_balance_is_income_less_payments_and_years_are_apart() {
        let d = jiff::civil::date;
        let entries = vec![
            (
                "a".into(),
                Entry::Income {
                    date: d(2025, 12, 1),
                    source: IncomeSource::Budget,
                    amount_fen: 10_000_00,
                    from_node: None,
                    note: None,
                    stamp: stamp(),
                },
            ),
            (
                "b".into(),
                Entry::Disbursement {
                    date: d(2026, 2, 1),
                    amount_fen: 3_000_00,
                    kind: AssistanceKind::Medical,
                    case: "c".into(),
                    assistance: "x".into(),
                    stamp: stamp(),
                },
            ),
            (
                "c".into(),
                Entry::GrantOut {
                    date: d(2026, 3, 1),
                    to_node: "t9".into(),
                    amount_fen: 1_000_00,
                    note: None,
                    stamp: stamp(),
                },
            ),
        ];
        let v = LedgerView::of("t1", 2026, entries);
        assert_eq!(v.opening_fen, 10_000_00);
        assert_eq!(v.balance_fen, 6_000_00);
        assert_eq!(v.disbursed_total_fen(), 3_000_00);
        assert_eq!(v.granted_fen, 1_000_00);
        assert_eq!(v.entries.len(), 2);
    }
}

/// One row of a public disclosure of aid paid: no ID number, address or phone, the name masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosedPayment {
    /// Day paid.
    pub date: jiff::civil::Date,
    /// Kind of aid.
    pub kind: AssistanceKind,
    /// The recipient's name, masked (张*燕).
    pub recipient: String,
    /// Amount.
    pub amount_fen: i64,
}

/// What a node discloses (公示) for a year: its fund's income and grants, and the aid it paid
/// with masked names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// The ledger for the year (its entries are not disclosed as such).
    pub ledger: LedgerView,
    /// Income: (date, source, from node, amount).
    pub income: Vec<(jiff::civil::Date, IncomeSource, Option<String>, i64)>,
    /// Grants paid to children: (date, child, amount).
    pub grants: Vec<(jiff::civil::Date, String, i64)>,
    /// Aid paid.
    pub payments: Vec<DisclosedPayment>,
}

impl Disclosure {
    /// What is disclosed of `ledger` (one year's), naming each recipient by `name_of` their
    /// case, masked.
    pub fn of(ledger: LedgerView, name_of: impl Fn(&str) -> Option<String>) -> Disclosure {
        let mut d = Disclosure {
            income: Vec::new(),
            grants: Vec::new(),
            payments: Vec::new(),
            ledger: ledger.clone(),
        };
        // Aid voided (its money back in the fund) is not disclosed as paid.
        let reversed: std::collections::HashSet<&str> = ledger
            .entries
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Reversal { assistance, .. } => Some(assistance.as_str()),
                _ => None,
            })
            .collect();
        for (_, e) in &ledger.entries {
            match e {
                Entry::Disbursement { assistance, .. }
                    if reversed.contains(assistance.as_str()) => {}
                Entry::Income {
                    date,
                    source,
                    amount_fen,
                    from_node,
                    ..
                } => d
                    .income
                    .push((*date, *source, from_node.clone(), *amount_fen)),
                Entry::GrantOut {
                    date,
                    to_node,
                    amount_fen,
                    ..
                } => d.grants.push((*date, to_node.clone(), *amount_fen)),
                Entry::Disbursement {
                    date,
                    amount_fen,
                    kind,
                    case,
                    ..
                } => d.payments.push(DisclosedPayment {
                    date: *date,
                    kind: *kind,
                    recipient: name_of(case)
                        .map(|n| mask_name(&n))
                        .unwrap_or_else(|| "*".into()),
                    amount_fen: *amount_fen,
                }),
                Entry::Budget { .. }
                | Entry::Reversal { .. }
                | Entry::LoanOut { .. }
                | Entry::LoanBack { .. } => {}
            }
        }
        d.ledger.entries.clear();
        d
    }
}
