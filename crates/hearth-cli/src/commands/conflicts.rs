//! `hearth conflicts …`: the conflict queue and its resolution.

use anyhow::Result;
use clap::Subcommand;
use hearth_ops::Resolve;
use serde_json::json;

use super::{JsonFlag, done};
use crate::BadInput;
use crate::node::Node;
use crate::output::{conflict_briefs, conflict_details, conflict_list, print_json};

#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Open conflicts, newest first
    List {
        /// Resolved ones too
        #[arg(long)]
        all: bool,
        /// Instead: the open conflicts to be resolved here or at any node below (from the
        /// summaries), including those whose cases this node does not hold
        #[arg(long, conflicts_with = "all")]
        below: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// One conflict: every side with its value, node, actor and time
    Show {
        /// Conflict id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Resolve a conflict with a normal change; it closes at every node once that arrives
    #[command(group(clap::ArgGroup::new("how").required(true).args(["pick", "value", "acknowledge", "merge_into"])))]
    Resolve {
        /// Conflict id (a unique prefix is enough)
        id: String,
        /// Keep this side (from 1, as `conflicts show` lists them)
        #[arg(long, value_name = "N")]
        pick: Option<usize>,
        /// Write this value instead (yuan for money, a code for coded fields)
        #[arg(long, value_name = "VALUE")]
        value: Option<String>,
        /// A broken rule that needs no data change: acknowledge it (with --note)
        #[arg(long, requires = "note")]
        acknowledge: bool,
        /// Why no change is needed
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Duplicate archives: the case that keeps every record; the others close as merged
        #[arg(long, value_name = "CASE")]
        merge_into: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn conflicts(node: &mut Node, command: ConflictsCommand) -> Result<()> {
    match command {
        ConflictsCommand::List {
            below: true, out, ..
        } => {
            let briefs = node.stats(None)?.conflicts;
            if out.json {
                print_json(&briefs)
            } else {
                crate::out!("{}", conflict_briefs(&briefs))?;
                Ok(())
            }
        }
        ConflictsCommand::List { all, out, .. } => {
            let list = node.conflicts(all)?;
            if out.json {
                print_json(&list)
            } else {
                crate::out!("{}", conflict_list(&list))?;
                Ok(())
            }
        }
        ConflictsCommand::Show { id, out } => {
            let entry = node.conflict(&id)?;
            if out.json {
                print_json(&entry)
            } else {
                crate::out!("{}", conflict_details(&entry))?;
                Ok(())
            }
        }
        ConflictsCommand::Resolve {
            id,
            pick,
            value,
            acknowledge,
            note,
            merge_into,
            out,
        } => {
            let how = match (pick, value, acknowledge, merge_into) {
                (Some(n), None, false, None) => Resolve::Pick(n),
                (None, Some(v), false, None) => Resolve::Value(v),
                (None, None, true, None) => Resolve::Acknowledge(note.unwrap_or_default()),
                (None, None, false, Some(case)) => Resolve::MergeInto(case),
                _ => {
                    return Err(BadInput::new(
                        "give one of --pick N, --value V, --acknowledge --note … or --merge-into CASE",
                    )
                    .into());
                }
            };
            let entry = node.resolve(&id, how)?;
            let how = entry
                .resolution
                .as_ref()
                .map(|r| r.how.clone())
                .unwrap_or_default();
            done(
                out.json,
                json!({ "id": entry.id, "case": entry.case, "resolved": !entry.is_open(), "resolution": entry.resolution }),
                format!(
                    "conflict {} on {} of case {} resolved: {how}; it closes at the other nodes when the change reaches them",
                    entry.id, entry.field, entry.case
                ),
            )
        }
    }
}
