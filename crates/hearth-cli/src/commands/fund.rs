//! `hearth fund …`: the node's fund — its ledger, income, budget and grants.

use anyhow::Result;
use clap::Subcommand;
use hearth_archive::money::format_yuan;
use hearth_ops::FundWrite;
use serde_json::json;

use super::{JsonFlag, done};
use crate::node::Node;
use crate::output::{ledger_table, print_json};

#[derive(Debug, Subcommand)]
pub enum FundCommand {
    /// The ledger for a year: this node's, or a child's (held for audit)
    Show {
        /// A child node [default: this node]
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// YYYY [default: this year]
        #[arg(long, value_name = "YEAR")]
        year: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Record money received: budget (预算拨款), donation (社会捐赠) or grant (上级补助)
    Income {
        /// budget, donation or grant
        #[arg(long, value_name = "SOURCE")]
        source: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date received, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note, e.g. the donor
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Set the budget planned for a year
    Budget {
        /// YYYY
        #[arg(long, value_name = "YEAR")]
        year: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Pay a grant from this node's fund into a child's
    Grant {
        /// The child node
        #[arg(long, value_name = "NODE")]
        to: String,
        /// Amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date paid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn fund(node: &mut Node, command: FundCommand) -> Result<()> {
    let (w, json) = match command {
        FundCommand::Show {
            node: child,
            year,
            out,
        } => {
            let ledger = node.fund_show(child, year)?;
            return if out.json {
                print_json(&ledger)
            } else {
                crate::out!("{}", ledger_table(&ledger))?;
                Ok(())
            };
        }
        FundCommand::Income {
            source,
            amount,
            date,
            note,
            out,
        } => (
            FundWrite::Income {
                source,
                amount,
                date,
                note,
            },
            out.json,
        ),
        FundCommand::Budget { year, amount, out } => (FundWrite::Budget { year, amount }, out.json),
        FundCommand::Grant {
            to,
            amount,
            date,
            note,
            out,
        } => (
            FundWrite::Grant {
                to,
                amount,
                date,
                note,
            },
            out.json,
        ),
    };
    let ledger = node.fund_write(w)?;
    done(
        json,
        json!({ "node": ledger.node, "year": ledger.year, "balance_fen": ledger.balance_fen }),
        format!(
            "recorded; the fund of {} now holds {}",
            ledger.node,
            format_yuan(ledger.balance_fen)
        ),
    )
}
