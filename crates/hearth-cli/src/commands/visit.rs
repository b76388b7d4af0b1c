//! `hearth visit add`: home visits (走访).

use anyhow::{Context, Result};
use clap::Subcommand;
use hearth_ops::Write;
use serde_json::json;

use super::{JsonFlag, done, record};
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Record a visit
    Add {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Date of the visit, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        date: String,
        /// home, follow_up or holiday
        #[arg(long, value_name = "KIND", default_value = "home")]
        kind: String,
        /// Who visited
        #[arg(long, value_name = "NAME")]
        visitor: Option<String>,
        /// What was found
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        /// The household consented to the visit and to its findings being filed (入户核实同意)
        #[arg(long)]
        consent: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn visit(node: &mut Node, command: VisitCommand) -> Result<()> {
    let VisitCommand::Add {
        id,
        date,
        kind,
        visitor,
        notes,
        consent,
        out,
    } = command;
    let w = node.write(Write::AddVisit {
        case: id,
        date,
        kind,
        visitor,
        notes,
        consent,
    })?;
    let v = &w.case;
    let visit = v
        .visits
        .iter()
        .find(|x| x.id == record(&w))
        .context("the node did not return the visit")?;
    done(
        out.json,
        json!({ "id": v.id, "visit": visit.id }),
        format!(
            "recorded {} on {} for case {}",
            visit.kind.label(),
            visit.date,
            v.id
        ),
    )
}
