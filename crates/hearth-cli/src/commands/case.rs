//! `hearth case …`: opening, showing, listing, changing and filing cases, decisions, what is due and pending, monthly income, import.

use anyhow::Result;
use clap::Subcommand;
use hearth_archive::money::format_yuan;
use hearth_ops::{ListFilter, Write};
use serde_json::json;
use std::path::PathBuf;

use super::{JsonFlag, done};
use crate::fields::{CaseFieldArgs, case_form};
use crate::node::Node;
use crate::output::{
    JsonArray, advice_lines, case_details, case_table, due_lists, grade_label, pending_table,
    print_json,
};

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum CaseCommand {
    /// Open a new case (a draft) for a worker in hardship
    #[command(allow_negative_numbers = true)]
    New {
        #[command(flatten)]
        fields: CaseFieldArgs,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Show one case in full
    Show {
        /// Case id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Every change made to a case (修改记录): what, by whom, at which node, when
    History {
        /// Case id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List cases, optionally filtered
    List {
        /// Only cases with this status
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only cases with this grade
        #[arg(long, value_name = "GRADE")]
        grade: Option<String>,
        /// Only cases with this primary or secondary cause (code or number)
        #[arg(long, value_name = "CAUSE")]
        cause: Option<String>,
        /// Find by name (or part of it), phone, case id prefix, or ID number (matched by its
        /// salted hash; the number is not kept)
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Order: opened (oldest first, the default), name, status, grade (deepest first),
        /// filed (earliest first) or aid (most first)
        #[arg(long, value_name = "ORDER")]
        sort: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change fields of a case; the grade is derived again
    #[command(allow_negative_numbers = true)]
    Edit {
        /// Case id (a unique prefix is enough)
        id: String,
        #[command(flatten)]
        fields: CaseFieldArgs,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Submit a case for filing (提交审批) once its chain is complete, and report it to the
    /// parent, whose approval (`case decide --decision approve`) puts it on file (建档)
    File {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Which parent to report to, when the node has several
        #[arg(long, value_name = "NODE")]
        via: Option<String>,
        /// Submit a household the standard finds not eligible, with the reason (the approving
        /// level signs it off)
        #[arg(long = "override", value_name = "TEXT")]
        override_reason: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Record a step of the filing chain (建档流程), in order: grassroots_review 基层审核,
    /// (a home visit with consent: `visit add --kind home --consent`), civil_check 民政核对,
    /// notice 公示 (runs the policy's working days), objection 公示异议
    Step {
        /// Case id (a unique prefix is enough)
        id: String,
        /// grassroots_review, civil_check, notice or objection
        step: String,
        /// The day of the step (a notice's first day), YYYY-MM-DD [default: today]
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// What the civil-affairs check found: matched, not_matched or not_done
        #[arg(long, value_name = "RESULT")]
        result: Option<String>,
        /// Who checked, at civil affairs
        #[arg(long, value_name = "NAME")]
        checker: Option<String>,
        /// Note (an objection says what it is)
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Void a record made here (作废): aid, a visit, a review or a household member. It stays in
    /// the file, marked, with the reason, and leaves every total; voided aid paid from this
    /// node's fund goes back into it
    Void {
        /// Case id (a unique prefix is enough)
        id: String,
        /// The record's id (a unique prefix is enough)
        record: String,
        /// Why it is voided
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Move a case to another status, with a reason (lifted 脱困, relapsed 返困, closed 注销)
    Transition {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Target status
        #[arg(long, value_name = "STATUS")]
        to: String,
        /// Why
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The day it took effect, when recorded later, YYYY-MM-DD [default: today]
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Closing with loans outstanding: why they will not be repaid
        #[arg(long, value_name = "TEXT")]
        outstanding_reason: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Override the derived grade by hand (with a reason), or remove the override
    Grade {
        /// Case id (a unique prefix is enough)
        id: String,
        /// Grade to set
        #[arg(
            long,
            value_name = "GRADE",
            required_unless_present = "clear",
            requires = "reason"
        )]
        set: Option<String>,
        /// Why the derived grade is wrong
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Remove the override and go back to the derived grade
        #[arg(long, conflicts_with = "set")]
        clear: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Import cases from a CSV file: all lines or none (layout in README)
    Import {
        /// The CSV file
        file: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Decide on a case reported here (审批): approve, return it down with the reason, or reject
    Decide {
        /// Case id (a unique prefix is enough)
        id: String,
        /// approve, return or reject
        #[arg(long, value_name = "DECISION")]
        decision: String,
        /// Why (needed to return or reject)
        #[arg(long, value_name = "TEXT", default_value = "")]
        note: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Cases the policy sends higher than anyone has escalated them, with why
    Pending(JsonFlag),
    /// Dynamic management (动态管理): reviews due, cases eligible to be lifted, loans overdue
    Due(JsonFlag),
    /// Record the household's income for a month (for lifting: six months above the line)
    Income {
        /// Case id (a unique prefix is enough)
        id: String,
        /// YYYY-MM
        #[arg(long, value_name = "MONTH")]
        month: String,
        /// The household's income that month, yuan
        #[arg(long, value_name = "YUAN")]
        amount: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn case(node: &mut Node, command: CaseCommand) -> Result<()> {
    match command {
        CaseCommand::New { fields, out } => {
            let w = node.write(Write::NewCase {
                form: case_form(fields),
            })?;
            let v = &w.case;
            done(
                out.json,
                json!({ "id": v.id }),
                format!(
                    "opened case {} ({}), grade {}",
                    v.id,
                    v.status.label(),
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::History { id, out } => {
            let (case, changes) = node.history(&id)?;
            if out.json {
                print_json(&json!({ "id": case, "changes": changes }))
            } else {
                crate::out!("{}", crate::output::history_table(&case, &changes))?;
                Ok(())
            }
        }
        CaseCommand::Show { id, out } => {
            let (v, advice) = node.get(&id)?;
            // The open conflicts of this case, to mark the fields they are about.
            let conflicts: Vec<_> = node
                .conflicts(false)?
                .into_iter()
                .filter(|c| c.case == v.id)
                .collect();
            if out.json {
                let mut value = serde_json::to_value(&v)?;
                value["policy_advice"] = serde_json::to_value(&advice)?;
                value["conflicts"] = serde_json::to_value(&conflicts)?;
                print_json(&value)
            } else {
                crate::out!(
                    "{}\n{}",
                    case_details(&v, &conflicts),
                    advice_lines(&advice, &v.id)
                )?;
                Ok(())
            }
        }
        CaseCommand::Due(out) => {
            let due = node.due()?;
            if out.json {
                print_json(&due)
            } else {
                crate::out!("{}", due_lists(&due))?;
                Ok(())
            }
        }
        CaseCommand::Income {
            id,
            month,
            amount,
            out,
        } => {
            let w = node.write(Write::MonthlyIncome {
                case: id,
                month: month.clone(),
                amount,
            })?;
            let v = &w.case;
            let fen = v
                .finances
                .monthly_income_fen
                .get(month.trim())
                .copied()
                .unwrap_or_default();
            done(
                out.json,
                json!({ "id": v.id, "month": month.trim(), "amount_fen": fen }),
                format!(
                    "recorded income {} for {} on case {}",
                    format_yuan(fen),
                    month.trim(),
                    v.id
                ),
            )
        }
        CaseCommand::Pending(out) => {
            // Printed page by page as the pages come, like `case list`.
            if out.json {
                let mut array = JsonArray::start()?;
                node.pending_pages(|page| {
                    let rows: Vec<serde_json::Value> = page
                        .iter()
                        .map(|(c, a)| json!({ "case": c, "advice": a }))
                        .collect();
                    array.items(&rows)
                })?;
                array.end()
            } else {
                let mut listed = 0usize;
                let mut policy = None;
                node.pending_pages(|page| {
                    listed += page.len();
                    if let Some((_, advice)) = page.first() {
                        policy.get_or_insert_with(|| advice.policy.clone());
                        crate::out!("{}", pending_table(&page))?;
                    }
                    Ok(())
                })?;
                match policy {
                    None => crate::out!(
                        "no case must go higher than it has been escalated 无待上报档案"
                    )?,
                    Some(policy) => crate::out!("{listed} case(s)\n{policy}")?,
                }
                Ok(())
            }
        }
        CaseCommand::Decide {
            id,
            decision,
            note,
            out,
        } => {
            let w = node.write(Write::Decide {
                case: id,
                decision,
                note,
            })?;
            let v = &w.case;
            let last = v.approvals.last();
            done(
                out.json,
                json!({ "id": v.id, "status": v.status, "approval": last }),
                format!(
                    "case {}: {} at {}; now {}",
                    v.id,
                    last.and_then(|a| a.decision.clone()).unwrap_or_default(),
                    node.config.node_id,
                    v.status.label()
                ),
            )
        }
        CaseCommand::List {
            status,
            grade,
            cause,
            search,
            sort,
            out,
        } => {
            let filter = ListFilter {
                status,
                grade,
                cause,
                text: search,
                sort,
            };
            // Printed page by page as the pages come: the first at once, whatever the count.
            if out.json {
                let mut array = JsonArray::start()?;
                node.list_pages(filter, |page| array.items(&page))?;
                array.end()
            } else {
                let mut listed = 0usize;
                node.list_pages(filter, |page| {
                    listed += page.len();
                    if !page.is_empty() || listed == 0 {
                        crate::out!("{}", case_table(&page))?;
                    }
                    Ok(())
                })?;
                crate::out!("{listed} case(s)")?;
                Ok(())
            }
        }
        CaseCommand::Edit { id, fields, out } => {
            let w = node.write(Write::EditCase {
                case: id,
                form: case_form(fields),
            })?;
            let v = &w.case;
            done(
                out.json,
                json!({ "id": v.id, "grade": v.grade }),
                format!(
                    "updated case {}, grade {}",
                    v.id,
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::File {
            id,
            via,
            override_reason,
            out,
        } => {
            let w = node.write(Write::FileCase {
                case: id,
                via,
                override_reason,
            })?;
            let v = &w.case;
            let next = match &w.reported_to {
                Some(p) => format!("; reported to {p}, whose approval puts it on file 待上级审批建档"),
                None => match v.participants.iter().find(|p| **p != v.home) {
                    Some(p) => format!("; {p} holds it and approves it 待上级审批"),
                    None => "; this node has no superior: approve it here (case decide --decision approve)".to_owned(),
                },
            };
            done(
                out.json,
                json!({ "id": v.id, "status": v.status, "grade": v.grade, "participants": v.participants, "reported_to": w.reported_to }),
                format!(
                    "case {} submitted for approval 提交审批 ({}), grade {}{next}",
                    v.id,
                    v.status.label(),
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::Void {
            id,
            record: prefix,
            reason,
            out,
        } => {
            let w = node.write(Write::Void {
                case: id,
                record: prefix,
                reason,
            })?;
            let v = &w.case;
            let voided = v
                .voided
                .iter()
                .find(|x| x.id == super::record(&w))
                .ok_or_else(|| anyhow::anyhow!("the node did not return the voided record"))?;
            done(
                out.json,
                json!({ "id": v.id, "voided": voided, "assistance_total_fen": v.assistance_total_fen }),
                format!(
                    "voided 已作废 {} ({}) on case {}: {}; aid paid in all {}",
                    voided.id,
                    voided.what,
                    v.id,
                    voided.reason,
                    hearth_archive::money::format_yuan(v.assistance_total_fen)
                ),
            )
        }
        CaseCommand::Step {
            id,
            step,
            date,
            result,
            checker,
            note,
            out,
        } => {
            let w = node.write(Write::Step {
                case: id,
                step,
                date,
                result,
                checker,
                note,
            })?;
            let v = &w.case;
            let last = v.approvals.last();
            let name = last
                .and_then(|a| a.step.as_deref())
                .and_then(|s| s.parse::<hearth_archive::ChainStep>().ok())
                .map(|s| s.label())
                .unwrap_or_default();
            let until = last
                .and_then(|a| a.until)
                .map(|d| format!("; the notice runs until {d} 公示至 {d}"))
                .unwrap_or_default();
            done(
                out.json,
                json!({ "id": v.id, "step": last }),
                format!("recorded {name} on case {}{until}", v.id),
            )
        }
        CaseCommand::Transition {
            id,
            to,
            reason,
            date,
            outstanding_reason,
            out,
        } => {
            let w = node.write(Write::Transition {
                case: id,
                to,
                reason,
                on: date,
                outstanding_reason,
            })?;
            let v = &w.case;
            done(
                out.json,
                json!({ "id": v.id, "status": v.status }),
                format!("case {} is now {}", v.id, v.status.label()),
            )
        }
        CaseCommand::Grade {
            id,
            set,
            reason,
            clear,
            out,
        } => {
            let w = node.write(Write::Grade {
                case: id,
                set: if clear { None } else { set },
                reason,
            })?;
            let v = &w.case;
            done(
                out.json,
                json!({ "id": v.id, "grade": v.grade, "overridden": v.grading.override_.is_some() }),
                format!(
                    "case {} grade {}",
                    v.id,
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::Import { file, out } => crate::import::import(node, &file, out.json),
    }
}
