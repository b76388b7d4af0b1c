//! The commands: each parses its input completely before it writes anything.

use anyhow::Result;
use hearth_archive::money::{format_yuan, parse_positive_yuan};
use hearth_archive::{
    AssistanceKind, CaseFields, Cause, Grade, NewAssistance, NewLoan, NewMember, NewRepayment,
    NewReview, NewVisit, ReviewResult, Status, VisitKind,
};
use serde_json::json;

use crate::BadInput;
use crate::cli::{
    AssistCommand, CaseCommand, Cli, Command, LoanCommand, MemberCommand, PeerCommand,
    ReviewCommand, VisitCommand,
};
use crate::fields::{case_fields, parse_date, parse_number};
use crate::node::{self, Node};
use crate::output::{case_details, case_list, grade_label, print_json};
use hearth_archive::Level;
use hearth_node::config::{Peer, Relation};

/// A new random case id: 16 hex digits.
pub fn new_case_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// A new random record id inside a case: 8 hex digits.
fn new_record_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Prints the result of a write: a line for people, or JSON.
pub(crate) fn done(json: bool, value: serde_json::Value, line: String) -> Result<()> {
    if json {
        print_json(&value)
    } else {
        println!("{line}");
        Ok(())
    }
}

/// Runs one command line.
pub fn run(cli: Cli) -> Result<()> {
    let operator = node::operator(cli.by);
    if let Command::Demo { walkthrough } = cli.command {
        return if walkthrough {
            crate::demo::walkthrough(operator)
        } else {
            crate::federation_demo::run()
        };
    }
    let dir = node::data_dir(cli.data_dir)?;
    match cli.command {
        // Needs no data dir; run before the data dir was resolved.
        Command::Demo { .. } => Ok(()),
        Command::Init(a) => {
            let (config, joined) = node::init(
                &dir,
                &a.node_id,
                &a.level,
                a.listen,
                a.federation_salt.as_deref(),
            )?;
            let salt_path = dir.join(node::SALT_FILE);
            if a.out.json {
                return print_json(&json!({
                    "node_id": config.node_id,
                    "level": config.level,
                    "data_dir": dir,
                    "salt_file": salt_path,
                    "joined_federation": joined,
                }));
            }
            println!(
                "initialised node {} ({}) in {}",
                config.node_id,
                config.level.label(),
                dir.display()
            );
            if !joined {
                println!(
                    "new federation salt in {}: copy it to every other node of the federation and pass it to their `hearth init --federation-salt FILE`",
                    salt_path.display()
                );
            }
            Ok(())
        }
        Command::Compact(out) => {
            let mut node = Node::open(&dir, operator)?;
            let stats = node.store.compact()?;
            done(
                out.json,
                json!({ "folded_documents": stats.folded, "chunks_removed": stats.chunks }),
                format!(
                    "compacted: {} documents folded, {} change chunks removed",
                    stats.folded, stats.chunks
                ),
            )
        }
        Command::Escalate {
            id,
            to_level,
            reason,
            via,
            out,
        } => {
            let node = Node::open(&dir, operator)?;
            let level: Level = to_level.parse()?;
            if level <= node.config.level {
                return Err(BadInput::new(format!(
                    "this node is already at level {}; escalate to a higher level",
                    node.config.level.label()
                ))
                .into());
            }
            let parent = parent_for(&node, via.as_deref())?.ok_or_else(|| {
                BadInput::new(
                    "this node has no parent to report to; add one with `hearth peer add`",
                )
            })?;
            let mut case = node.load(&id)?;
            let editor = node.editor();
            case.set_escalation_target(&editor, level, &reason)?;
            if !case.participants()?.contains(&parent) {
                case.report_to(&editor, &parent, &reason)?;
            }
            node.save(&mut case)?;
            let id = case.id()?;
            done(
                out.json,
                json!({ "id": id, "target_level": level, "reported_to": parent }),
                format!(
                    "case {id} goes up to {}; reported to {parent}",
                    level.label()
                ),
            )
        }
        Command::Certs(c) => crate::certs::run(c),
        Command::Peer(PeerCommand::Add {
            id,
            relation,
            endpoint,
            out,
        }) => {
            let relation: Relation = relation.parse().map_err(BadInput::new)?;
            let config = node::add_peer(
                &dir,
                Peer {
                    id: id.clone(),
                    relation,
                    endpoint,
                },
            )?;
            done(
                out.json,
                json!({ "node_id": config.node_id, "peers": config.neighbour_ids() }),
                format!("{id} is now a {} of {}", relation.as_str(), config.node_id),
            )
        }
        Command::Peer(PeerCommand::List(out)) => {
            let config = node::load_config(&dir)?;
            if out.json {
                return print_json(&config.peers);
            }
            for p in &config.peers {
                println!(
                    "{}\t{:?}\t{}",
                    p.id,
                    p.relation,
                    p.endpoint.as_deref().unwrap_or("(dials in)")
                );
            }
            Ok(())
        }
        Command::Serve => crate::serve::run(&dir),
        Command::Sync(c) => crate::serve::sync(&dir, c),
        Command::Case(c) => case(&Node::open(&dir, operator)?, c),
        Command::Member(c) => member(&Node::open(&dir, operator)?, c),
        Command::Assist(c) => assist(&Node::open(&dir, operator)?, c),
        Command::Loan(c) => loan(&Node::open(&dir, operator)?, c),
        Command::Visit(c) => visit(&Node::open(&dir, operator)?, c),
        Command::Review(c) => review(&Node::open(&dir, operator)?, c),
    }
}

/// The parent a case is reported to: `via` if given (it must be a parent), else the only parent;
/// `None` at a node with no parent.
fn parent_for(node: &Node, via: Option<&str>) -> Result<Option<String>> {
    let parents: Vec<&str> = node.config.parents().map(|p| p.id.as_str()).collect();
    match (via, parents.as_slice()) {
        (Some(v), _) if parents.contains(&v) => Ok(Some(v.to_owned())),
        (Some(v), []) => Err(BadInput::new(format!("--via {v}: this node has no parent")).into()),
        (Some(v), _) => Err(BadInput::new(format!(
            "--via {v} is not a parent of this node; its parents are {}",
            parents.join(", ")
        ))
        .into()),
        (None, []) => Ok(None),
        (None, [one]) => Ok(Some((*one).to_owned())),
        (None, many) => Err(BadInput::new(format!(
            "this node has several parents ({}); say which with --via ID",
            many.join(", ")
        ))
        .into()),
    }
}

/// Refuses a second file for a household already on file here.
fn check_one_file(node: &Node, fields: &CaseFields, this_case: Option<&str>) -> Result<()> {
    let Some(key) = &fields.identity_key else {
        return Ok(());
    };
    let others: Vec<String> = node
        .store
        .cases_with_identity(key.as_str())?
        .into_iter()
        .filter(|id| Some(id.as_str()) != this_case)
        .collect();
    match others.first() {
        None => Ok(()),
        Some(existing) => Err(BadInput::new(format!(
            "a case for this ID number already exists: {existing} (one household, one file); see `hearth case show {existing}`"
        ))
        .into()),
    }
}

fn case(node: &Node, command: CaseCommand) -> Result<()> {
    match command {
        CaseCommand::New { fields, out } => {
            if fields.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(BadInput::new("a new case needs at least the worker's --name").into());
            }
            let fields = case_fields(&fields, &node.salt)?;
            fields.validate()?;
            check_one_file(node, &fields, None)?;
            let id = new_case_id();
            let mut case = hearth_archive::Case::create(
                &id,
                &node.config.node_id,
                node.actor(),
                &node.editor(),
                &fields,
            )?;
            node.save(&mut case)?;
            let v = case.view()?;
            done(
                out.json,
                json!({ "id": id }),
                format!(
                    "opened case {id} ({}), grade {}",
                    v.status.label(),
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::Show { id, out } => {
            let v = node.load(&id)?.view()?;
            if out.json {
                print_json(&v)
            } else {
                println!("{}", case_details(&v));
                Ok(())
            }
        }
        CaseCommand::List {
            status,
            grade,
            cause,
            out,
        } => {
            let status: Option<Status> = status.as_deref().map(str::parse).transpose()?;
            let grade: Option<Grade> = grade.as_deref().map(str::parse).transpose()?;
            let cause: Option<Cause> = cause.as_deref().map(str::parse).transpose()?;
            let mut cases: Vec<_> = node
                .store
                .case_summaries()?
                .into_iter()
                .filter(|c| status.is_none_or(|s| c.status == s))
                .filter(|c| grade.is_none_or(|g| c.grade == Some(g)))
                .filter(|c| cause.is_none_or(|k| c.has_cause(k)))
                .collect();
            cases.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            if out.json {
                print_json(&cases)
            } else {
                println!("{}", case_list(&cases));
                Ok(())
            }
        }
        CaseCommand::Edit { id, fields, out } => {
            let mut case = node.load(&id)?;
            let id = case.id()?;
            let fields = case_fields(&fields, &node.salt)?;
            check_one_file(node, &fields, Some(&id))?;
            case.edit(&node.editor(), &fields)?;
            node.save(&mut case)?;
            let v = case.view()?;
            done(
                out.json,
                json!({ "id": id, "grade": v.grade }),
                format!(
                    "updated case {id}, grade {}",
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::File { id, via, out } => {
            let mut case = node.load(&id)?;
            let parent = parent_for(node, via.as_deref())?;
            let editor = node.editor();
            case.file(&editor)?;
            if let Some(parent) = &parent
                && !case.participants()?.contains(parent)
            {
                case.report_to(&editor, parent, "filed: reported to the parent union")?;
            }
            node.save(&mut case)?;
            let v = case.view()?;
            let reported = parent
                .map(|p| format!("; reported to {p}"))
                .unwrap_or_default();
            done(
                out.json,
                json!({ "id": v.id, "status": v.status, "grade": v.grade, "participants": v.participants }),
                format!(
                    "case {} is on file ({}), grade {}{reported}",
                    v.id,
                    v.status.label(),
                    grade_label(v.grade, v.grading.override_.is_some())
                ),
            )
        }
        CaseCommand::Transition {
            id,
            to,
            reason,
            out,
        } => {
            let to: Status = to.parse()?;
            let mut case = node.load(&id)?;
            case.transition(&node.editor(), to, &reason)?;
            node.save(&mut case)?;
            let id = case.id()?;
            done(
                out.json,
                json!({ "id": id, "status": to }),
                format!("case {id} is now {}", to.label()),
            )
        }
        CaseCommand::Grade {
            id,
            set,
            reason,
            clear,
            out,
        } => {
            let grade: Option<Grade> = if clear {
                None
            } else {
                set.as_deref().map(str::parse).transpose()?
            };
            let mut case = node.load(&id)?;
            let reason = reason.unwrap_or_default();
            case.override_grade(&node.editor(), grade.map(|g| (g, reason.as_str())))?;
            node.save(&mut case)?;
            let v = case.view()?;
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

fn member(node: &Node, command: MemberCommand) -> Result<()> {
    let MemberCommand::Add {
        id,
        relation,
        age,
        health,
        occupation,
        out,
    } = command;
    let member = NewMember {
        id: new_record_id(),
        relation,
        age: age.as_deref().map(|a| parse_number("age", a)).transpose()?,
        health,
        occupation,
    };
    let mut case = node.load(&id)?;
    case.add_member(&node.editor(), &member)?;
    node.save(&mut case)?;
    let id = case.id()?;
    done(
        out.json,
        json!({ "id": id, "member": member.id }),
        format!("added household member {} to case {id}", member.id),
    )
}

fn assist(node: &Node, command: AssistCommand) -> Result<()> {
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
    let aid = NewAssistance {
        id: new_record_id(),
        kind: kind.parse::<AssistanceKind>()?,
        amount_fen: parse_positive_yuan("amount", &amount)?,
        date: parse_date("date", &date)?,
        paying_node,
        approving_node,
        note,
    };
    let mut case = node.load(&id)?;
    case.add_assistance(&node.editor(), &aid)?;
    node.save(&mut case)?;
    let v = case.view()?;
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

fn loan(node: &Node, command: LoanCommand) -> Result<()> {
    match command {
        LoanCommand::Add {
            id,
            amount,
            date,
            due,
            note,
            out,
        } => {
            let loan = NewLoan {
                id: new_record_id(),
                principal_fen: parse_positive_yuan("principal", &amount)?,
                date: parse_date("date", &date)?,
                due_date: parse_date("due", &due)?,
                note,
            };
            let mut case = node.load(&id)?;
            case.add_loan(&node.editor(), &loan)?;
            node.save(&mut case)?;
            let id = case.id()?;
            done(
                out.json,
                json!({ "id": id, "loan": loan.id, "principal_fen": loan.principal_fen }),
                format!(
                    "recorded loan {} of {} on case {id}, due {}",
                    loan.id,
                    format_yuan(loan.principal_fen),
                    loan.due_date
                ),
            )
        }
        LoanCommand::Repay {
            id,
            loan,
            amount,
            date,
            note,
            out,
        } => {
            let repayment = NewRepayment {
                id: new_record_id(),
                amount_fen: parse_positive_yuan("amount", &amount)?,
                date: parse_date("date", &date)?,
                note,
            };
            let mut case = node.load(&id)?;
            let loan_id = case.repay_loan(&node.editor(), loan.as_deref(), &repayment)?;
            node.save(&mut case)?;
            let v = case.view()?;
            let outstanding = v
                .loans
                .iter()
                .find(|l| l.id == loan_id)
                .map(|l| l.outstanding_fen)
                .unwrap_or(0);
            done(
                out.json,
                json!({ "id": v.id, "loan": loan_id, "repayment": repayment.id, "outstanding_fen": outstanding }),
                format!(
                    "recorded repayment of {} on loan {loan_id}; {} outstanding",
                    format_yuan(repayment.amount_fen),
                    format_yuan(outstanding)
                ),
            )
        }
    }
}

fn visit(node: &Node, command: VisitCommand) -> Result<()> {
    let VisitCommand::Add {
        id,
        date,
        kind,
        visitor,
        notes,
        out,
    } = command;
    let visit = NewVisit {
        id: new_record_id(),
        date: parse_date("date", &date)?,
        kind: kind.parse::<VisitKind>()?,
        visitor,
        notes,
    };
    let mut case = node.load(&id)?;
    case.add_visit(&node.editor(), &visit)?;
    node.save(&mut case)?;
    let id = case.id()?;
    done(
        out.json,
        json!({ "id": id, "visit": visit.id }),
        format!(
            "recorded {} on {} for case {id}",
            visit.kind.label(),
            visit.date
        ),
    )
}

fn review(node: &Node, command: ReviewCommand) -> Result<()> {
    let ReviewCommand::Add {
        id,
        date,
        result,
        reviewer,
        notes,
        out,
    } = command;
    let review = NewReview {
        id: new_record_id(),
        date: parse_date("date", &date)?,
        result: result.parse::<ReviewResult>()?,
        reviewer,
        notes,
    };
    let mut case = node.load(&id)?;
    case.add_review(&node.editor(), &review)?;
    node.save(&mut case)?;
    let id = case.id()?;
    done(
        out.json,
        json!({ "id": id, "review": review.id }),
        format!(
            "recorded annual review ({}) on {} for case {id}",
            review.result.label(),
            review.date
        ),
    )
}
