//! `hearth loan add|repay`: loans and repayments.

use anyhow::{Context, Result};
use clap::Subcommand;
use hearth_archive::CaseView;
use hearth_archive::money::format_yuan;
use hearth_archive::view::Loan;
use hearth_ops::Write;
use serde_json::json;

use super::{JsonFlag, done, record};
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum LoanCommand {
    /// Record a loan (借款), lent from this node's fund
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Principal, yuan
        #[arg(long, alias = "principal", value_name = "YUAN")]
        amount: String,
        /// Date lent, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Date due, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        due: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Lend although a loan of the case is overdue or the amount is above the policy's
        /// limit, with the reason
        #[arg(long = "override", value_name = "TEXT")]
        override_reason: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Borrowers: cases with loans outstanding, overdue and repeat borrowers first, and cases
    /// closed with money outstanding
    List(JsonFlag),
    /// Record a repayment
    #[command(allow_negative_numbers = true)]
    Repay {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Loan id (a prefix is enough) [default: the case's only open loan]
        #[arg(long, value_name = "LOAN")]
        loan: Option<String>,
        /// Amount repaid, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date repaid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn loan(node: &mut Node, command: LoanCommand) -> Result<()> {
    match command {
        LoanCommand::Add {
            id,
            amount,
            date,
            due,
            note,
            override_reason,
            out,
        } => {
            let w = node.write(Write::AddLoan {
                case: id,
                amount,
                date,
                due,
                note,
                override_reason,
            })?;
            let v = &w.case;
            let loan = find_loan(v, record(&w))?;
            done(
                out.json,
                json!({ "id": v.id, "loan": loan.id, "principal_fen": loan.principal_fen }),
                format!(
                    "recorded loan {} of {} on case {}, due {}",
                    loan.id,
                    format_yuan(loan.principal_fen),
                    v.id,
                    loan.due_date.map(|d| d.to_string()).unwrap_or_default()
                ),
            )
        }
        LoanCommand::List(out) => {
            let borrowers = node.loans()?;
            if out.json {
                crate::output::print_json(&borrowers)
            } else {
                let today =
                    hearth_archive::calendar::day_of(hearth_archive::jiff::Timestamp::now());
                crate::out!("{}", crate::output::borrower_list(&borrowers, today))?;
                Ok(())
            }
        }
        LoanCommand::Repay {
            id,
            loan,
            amount,
            date,
            note,
            out,
        } => {
            let w = node.write(Write::RepayLoan {
                case: id,
                loan,
                amount,
                date,
                note,
            })?;
            let v = &w.case;
            let loan = find_loan(v, w.loan.as_deref().unwrap_or_default())?;
            let repayment = loan
                .repayments
                .iter()
                .find(|r| r.id == record(&w))
                .context("the node did not return the repayment")?;
            done(
                out.json,
                json!({ "id": v.id, "loan": loan.id, "repayment": repayment.id, "outstanding_fen": loan.outstanding_fen }),
                format!(
                    "recorded repayment of {} on loan {}; {} outstanding",
                    format_yuan(repayment.amount_fen),
                    loan.id,
                    format_yuan(loan.outstanding_fen)
                ),
            )
        }
    }
}

pub(super) fn find_loan<'v>(v: &'v CaseView, id: &str) -> Result<&'v Loan> {
    v.loans
        .iter()
        .find(|l| l.id == id)
        .context("the node did not return the loan")
}
