//! `hearth member add`: household members.

use anyhow::Result;
use clap::Subcommand;
use hearth_ops::Write;
use serde_json::json;

use super::{JsonFlag, done, record};
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a household member
    #[command(allow_negative_numbers = true)]
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Relation to the worker: spouse, child, parent, …
        #[arg(long, value_name = "TEXT")]
        relation: String,
        /// Age
        #[arg(long, value_name = "YEARS")]
        age: Option<String>,
        /// Health
        #[arg(long, value_name = "TEXT")]
        health: Option<String>,
        /// Work or school status
        #[arg(long, value_name = "TEXT")]
        occupation: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn member(node: &mut Node, command: MemberCommand) -> Result<()> {
    let MemberCommand::Add {
        id,
        relation,
        age,
        health,
        occupation,
        out,
    } = command;
    let w = node.write(Write::AddMember {
        case: id,
        relation,
        age,
        health,
        occupation,
    })?;
    let (id, member) = (&w.case.id, record(&w));
    done(
        out.json,
        json!({ "id": id, "member": member }),
        format!("added household member {member} to case {id}"),
    )
}
