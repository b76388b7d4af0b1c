//! `hearth assist add|approve|correct`: aid paid (帮扶记录), approved above authority, corrected.

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
        /// living, medical, education, holiday, one_off, pairing, job, legal or emergency
        /// (临时救助: the only kind paid before a case is filed)
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
    /// Approve aid above the paying level's authority (超权限审批), here at a level whose
    /// authority covers it; the payment below may then be made once
    Approve {
        /// Case id (a unique prefix is enough)
        id: String,
        /// The kind of aid approved
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// The most one payment may be, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Correct an aid record made here (更正): it is voided with the reason, kept in the file,
    /// and a new one made with the values given (the old one's for the rest); the fund pays
    /// the old amount back and the new one out
    Correct {
        /// Case id (a unique prefix is enough)
        id: String,
        /// The aid record's id (a unique prefix is enough)
        record: String,
        /// Why it is corrected
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The right kind
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// The right amount, yuan
        #[arg(long, value_name = "YUAN")]
        amount: Option<String>,
        /// The right date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Note
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn assist(node: &mut Node, command: AssistCommand) -> Result<()> {
    match command {
        AssistCommand::Add {
            id,
            kind,
            amount,
            date,
            paying_node,
            approving_node,
            note,
            out,
        } => {
            let w = Write::AddAssistance {
                case: id,
                kind,
                amount,
                date,
                paying_node,
                approving_node,
                note,
            };
            add(node, w, out.json)
        }
        AssistCommand::Correct {
            id,
            record,
            reason,
            kind,
            amount,
            date,
            note,
            out,
        } => {
            let w = Write::CorrectAid {
                case: id,
                record,
                reason,
                kind,
                amount,
                date,
                note,
            };
            add(node, w, out.json)
        }
        AssistCommand::Approve {
            id,
            kind,
            amount,
            note,
            out,
        } => {
            let w = node.write(Write::ApproveAid {
                case: id,
                kind,
                amount,
                note,
            })?;
            let v = &w.case;
            let a = v
                .approvals
                .iter()
                .find(|a| a.id.as_deref() == Some(record(&w)))
                .context("the node did not return the approval")?;
            done(
                out.json,
                json!({ "id": v.id, "approval": a }),
                format!(
                    "approved {} of up to {} on case {} at {} (approval {}); the payer records it with assist add",
                    a.kind.map(|k| k.label()).unwrap_or_default(),
                    format_yuan(a.amount_fen.unwrap_or_default()),
                    v.id,
                    node.config.node_id,
                    a.id.as_deref().unwrap_or_default()
                ),
            )
        }
    }
}

/// `assist add`: the payment, and what it was paid on.
fn add(node: &mut Node, w: Write, json: bool) -> Result<()> {
    let w = node.write(w)?;
    let v = &w.case;
    let aid = v
        .assistance
        .iter()
        .find(|a| a.id == record(&w))
        .context("the node did not return the new assistance record")?;
    let approved = aid
        .approval
        .as_ref()
        .map(|a| {
            format!(
                " (on approval {a} by {})",
                aid.approving_node.as_deref().unwrap_or("the level above")
            )
        })
        .unwrap_or_default();
    let corrects = aid
        .corrects
        .as_ref()
        .map(|old| format!(" in place of {old}, voided 已作废"))
        .unwrap_or_default();
    done(
        json,
        json!({ "id": v.id, "assistance": aid.id, "amount_fen": aid.amount_fen, "assistance_total_fen": v.assistance_total_fen, "approval": aid.approval, "corrects": aid.corrects }),
        format!(
            "recorded {} {} on case {}{approved}{corrects}; aid paid in all {}",
            aid.kind.label(),
            format_yuan(aid.amount_fen),
            v.id,
            format_yuan(v.assistance_total_fen)
        ),
    )
}
