//! `hearth review add`: annual reviews (年审).

use anyhow::{Context, Result};
use clap::Subcommand;
use hearth_ops::Write;
use serde_json::json;

use super::{JsonFlag, done, record};
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Record an annual review
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Date of the review, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// confirmed, improved, lift_recommended or close_recommended
        #[arg(long, value_name = "RESULT")]
        result: String,
        /// Who reviewed
        #[arg(long, value_name = "NAME")]
        reviewer: Option<String>,
        /// Notes
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn review(node: &mut Node, command: ReviewCommand) -> Result<()> {
    let ReviewCommand::Add {
        id,
        date,
        result,
        reviewer,
        notes,
        out,
    } = command;
    let w = node.write(Write::AddReview {
        case: id,
        date,
        result,
        reviewer,
        notes,
    })?;
    let v = &w.case;
    let review = v
        .reviews
        .iter()
        .find(|x| x.id == record(&w))
        .context("the node did not return the review")?;
    done(
        out.json,
        json!({ "id": v.id, "review": review.id }),
        format!(
            "recorded annual review ({}) on {} for case {}",
            review.result.label(),
            review.date,
            v.id
        ),
    )
}
