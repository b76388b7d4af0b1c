//! `hearth assist add`: aid paid (帮扶记录).

use anyhow::{Context, Result};
use clap::Subcommand;
use hearth_archive::money::format_yuan;
use hearth_ops::Write;
use serde_json::json;

use super::{JsonFlag, done, record};
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum AssistCommand {
    /// Record an assistance payment
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// living, medical, education, holiday, one_off, pairing, job or legal
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Amount paid, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Date paid, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Node whose fund paid [default: this node]
        #[arg(long, value_name = "NODE")]
        paying_node: Option<String>,
        /// Node that approved the payment
        #[arg(long, value_name = "NODE")]
        approving_node: Option<String>,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn assist(node: &mut Node, command: AssistCommand) -> Result<()> {
    let AssistCommand::Add {
        id,
        kind,
        amount,
        date,
        paying_node,
        approving_node,
        note,
        out,
    } = command;
    let w = node.write(Write::AddAssistance {
        case: id,
        kind,
        amount,
        date,
        paying_node,
        approving_node,
        note,
    })?;
    let v = &w.case;
    let aid = v
        .assistance
        .iter()
        .find(|a| a.id == record(&w))
        .context("the node did not return the new assistance record")?;
    done(
        out.json,
        json!({ "id": v.id, "assistance": aid.id, "amount_fen": aid.amount_fen, "assistance_total_fen": v.assistance_total_fen }),
        format!(
            "recorded {} {} on case {}; aid paid in all {}",
            aid.kind.label(),
            format_yuan(aid.amount_fen),
            v.id,
            format_yuan(v.assistance_total_fen)
        ),
    )
}
