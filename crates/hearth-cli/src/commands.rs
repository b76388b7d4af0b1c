//! The commands: each turns its flags into a request of [`hearth_node::archive`], which parses
//! and checks all of it before anything is written — in this process, or in the node running on
//! the data dir.

use anyhow::{Context, Result};
use hearth_archive::CaseView;
use hearth_archive::money::format_yuan;
use hearth_archive::view::Loan;
use hearth_node::config::{Peer, Relation};
use hearth_ops::{FundWrite, ListFilter, Resolve, Write, Written};
use serde_json::json;

use crate::BadInput;
use crate::cli::{
    AssistCommand, CaseCommand, Cli, Command, ConfigCommand, ConflictsCommand, FundCommand,
    LoanCommand, MemberCommand, PeerCommand, PolicyCommand, ReviewCommand, VisitCommand,
};
use crate::fields::case_form;
use crate::node::{self, Node};
use crate::output::{
    advice_lines, case_details, case_list, conflict_briefs, conflict_details, conflict_list,
    due_lists, grade_label, ledger_table, pending_list, policy_details, print_json, stats_table,
};

/// Prints the result of a write: a line for people, or JSON.
pub(crate) fn done(json: bool, value: serde_json::Value, line: String) -> Result<()> {
    if json {
        print_json(&value)
    } else {
        crate::out!("{line}")?;
        Ok(())
    }
}

/// Runs one command line.
pub fn run(cli: Cli) -> Result<()> {
    let operator = node::operator(cli.by);
    // The demo needs no data dir, so it is resolved only for the commands that use one.
    let data_dir = cli.data_dir;
    let dir = move || node::data_dir(data_dir);
    match cli.command {
        Command::Init(a) => {
            let dir = dir()?;
            let (config, joined) = node::init(
                &dir,
                &a.node_id,
                &a.level,
                a.listen,
                a.metrics,
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
            crate::out!(
                "initialised node {} ({}) in {}",
                config.node_id,
                config.level.label(),
                dir.display()
            )?;
            if !joined {
                crate::out!(
                    "new federation salt in {}: copy it to every other node of the federation and pass it to their `hearth init --federation-salt FILE`",
                    salt_path.display()
                )?;
            }
            Ok(())
        }
        Command::Compact(out) => {
            let (folded, chunks) = Node::open(&dir()?, operator)?.compact()?;
            done(
                out.json,
                json!({ "folded_documents": folded, "chunks_removed": chunks }),
                format!("compacted: {folded} documents folded, {chunks} change chunks removed"),
            )
        }
        Command::Escalate {
            id,
            to_level,
            reason,
            via,
            out,
        } => {
            let w = Node::open(&dir()?, operator)?.write(Write::Escalate {
                case: id,
                to_level,
                reason,
                via,
            })?;
            let v = &w.case;
            let target = v.escalation.target_level;
            let reported = match &w.reported_to {
                Some(p) => format!("reported to {p}"),
                None => "its parent already holds it".to_owned(),
            };
            done(
                out.json,
                json!({ "id": v.id, "target_level": target, "reported_to": w.reported_to }),
                format!(
                    "case {} goes up to {}; {reported}",
                    v.id,
                    target.map(|l| l.label()).unwrap_or_default()
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
            let dir = dir()?;
            let relation: Relation = relation.parse().map_err(BadInput::new)?;
            let config = node::add_peer(
                &dir,
                Peer {
                    id: id.clone(),
                    relation,
                    endpoint,
                },
            )?;
            if dir.join(hearth_node::local_api::SOCKET_FILE).exists() {
                eprintln!(
                    "note: a node is running on {}; restart it (`hearth serve`) to connect to {id}",
                    dir.display()
                );
            }
            done(
                out.json,
                json!({ "node_id": config.node_id, "peers": config.neighbour_ids() }),
                format!("{id} is now a {} of {}", relation.as_str(), config.node_id),
            )
        }
        Command::Peer(PeerCommand::Admin { id, out }) => {
            let dir = dir()?;
            let config = node::add_admin(&dir, &id)?;
            if dir.join(hearth_node::local_api::SOCKET_FILE).exists() {
                eprintln!(
                    "note: a node is running on {}; restart it (`hearth serve`) to let {id} in",
                    dir.display()
                );
            }
            done(
                out.json,
                json!({ "node_id": config.node_id, "admins": config.admins }),
                format!(
                    "{id} may now use the archive API of {} on its mTLS port",
                    config.node_id
                ),
            )
        }
        Command::Peer(PeerCommand::List(out)) => {
            let config = node::load_config(&dir()?)?;
            if out.json {
                return print_json(&config.peers);
            }
            for p in &config.peers {
                crate::out!(
                    "{}\t{:?}\t{}",
                    p.id,
                    p.relation,
                    p.endpoint.as_deref().unwrap_or("(dials in)")
                )?;
            }
            for admin in &config.admins {
                crate::out!("{admin}\tAdmin\t(archive API only)")?;
            }
            Ok(())
        }
        Command::Policy(PolicyCommand::Show { date, out }) => {
            let (policy, versions) = Node::open(&dir()?, operator)?.policy(date)?;
            if out.json {
                print_json(&json!({ "in_force": policy, "versions": versions }))
            } else {
                crate::out!("{}", policy_details(&policy, versions.len()))?;
                Ok(())
            }
        }
        Command::Policy(PolicyCommand::Set { file, out }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| BadInput::new(format!("cannot read {}: {e}", file.display())))?;
            let policy = Node::open(&dir()?, operator)?.set_policy(text)?;
            done(
                out.json,
                json!({ "version": policy.version, "effective_from": policy.effective_from }),
                format!(
                    "{}; it flows down to every node of the federation",
                    policy.label()
                ),
            )
        }
        Command::Fund(c) => fund(&mut Node::open(&dir()?, operator)?, c),
        Command::Conflicts(c) => conflicts(&mut Node::open(&dir()?, operator)?, c),
        Command::Disclose { year, out, json } => {
            let d = Node::open(&dir()?, operator)?.disclose(year)?;
            let files = crate::disclose::write(&d, &out)?;
            if json.json {
                return print_json(&json!({ "files": files, "payments": d.payments.len() }));
            }
            for path in files {
                crate::out!("wrote {}", path.display())?;
            }
            Ok(())
        }
        Command::Stats { by_child, out } => {
            let summary = Node::open(&dir()?, operator)?.stats()?;
            if out.json {
                print_json(&summary)
            } else {
                crate::out!("{}", stats_table(&summary, by_child))?;
                Ok(())
            }
        }
        Command::Serve => crate::serve::run(&dir()?, cli.log_format),
        Command::Sync(c) => crate::serve::sync(&dir()?, c),
        Command::Bundle(c) => crate::bundle::run(&dir()?, c),
        Command::Backup { out, json } => crate::backup::backup(&dir()?, &out, json.json),
        Command::Restore { from, json } => crate::backup::restore(&dir()?, &from, json.json),
        Command::Check { repair, json } => crate::backup::check(&dir()?, repair, json.json),
        Command::Config(ConfigCommand::Check { files, json }) => {
            let mut checked = Vec::new();
            for file in &files {
                let c = node::check_config_file(file)?;
                checked.push((file.display().to_string(), c));
            }
            let lines: Vec<String> = checked
                .iter()
                .map(|(file, c)| {
                    format!(
                        "{file}: ok — node {} ({}), {}, {} neighbour(s), metrics {}",
                        c.node_id,
                        c.level.code(),
                        c.listen
                            .as_ref()
                            .map_or("does not listen".to_owned(), |l| format!("listens on {l}")),
                        c.peers.len(),
                        c.metrics.as_deref().unwrap_or("off"),
                    )
                })
                .collect();
            let value: Vec<serde_json::Value> = checked
                .iter()
                .map(|(file, c)| json!({ "file": file, "node_id": c.node_id, "ok": true }))
                .collect();
            done(json.json, json!(value), lines.join("\n"))
        }
        Command::Case(c) => case(&mut Node::open(&dir()?, operator)?, c),
        Command::Member(c) => member(&mut Node::open(&dir()?, operator)?, c),
        Command::Assist(c) => assist(&mut Node::open(&dir()?, operator)?, c),
        Command::Loan(c) => loan(&mut Node::open(&dir()?, operator)?, c),
        Command::Visit(c) => visit(&mut Node::open(&dir()?, operator)?, c),
        Command::Review(c) => review(&mut Node::open(&dir()?, operator)?, c),
        Command::Demo { walkthrough } => {
            if walkthrough {
                crate::demo::walkthrough(operator)
            } else {
                crate::federation_demo::run()
            }
        }
    }
}

fn case(node: &mut Node, command: CaseCommand) -> Result<()> {
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
        CaseCommand::Show { id, out } => {
            let (v, advice) = node.get(&id)?;
            if out.json {
                let mut value = serde_json::to_value(&v)?;
                value["policy_advice"] = serde_json::to_value(&advice)?;
                print_json(&value)
            } else {
                crate::out!("{}\n{}", case_details(&v), advice_lines(&advice, &v.id))?;
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
            let pending = node.pending()?;
            if out.json {
                let rows: Vec<serde_json::Value> = pending
                    .iter()
                    .map(|(c, a)| json!({ "case": c, "advice": a }))
                    .collect();
                print_json(&rows)
            } else {
                crate::out!("{}", pending_list(&pending))?;
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
            out,
        } => {
            let cases = node.list(ListFilter {
                status,
                grade,
                cause,
            })?;
            if out.json {
                print_json(&cases)
            } else {
                crate::out!("{}", case_list(&cases))?;
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
        CaseCommand::File { id, via, out } => {
            let w = node.write(Write::FileCase { case: id, via })?;
            let v = &w.case;
            let reported = w
                .reported_to
                .as_ref()
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
            let w = node.write(Write::Transition {
                case: id,
                to,
                reason,
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

/// The id of the record a write added.
fn record(w: &Written) -> &str {
    w.record.as_deref().unwrap_or_default()
}

fn member(node: &mut Node, command: MemberCommand) -> Result<()> {
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

fn assist(node: &mut Node, command: AssistCommand) -> Result<()> {
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

fn loan(node: &mut Node, command: LoanCommand) -> Result<()> {
    match command {
        LoanCommand::Add {
            id,
            amount,
            date,
            due,
            note,
            out,
        } => {
            let w = node.write(Write::AddLoan {
                case: id,
                amount,
                date,
                due,
                note,
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

fn find_loan<'v>(v: &'v CaseView, id: &str) -> Result<&'v Loan> {
    v.loans
        .iter()
        .find(|l| l.id == id)
        .context("the node did not return the loan")
}

fn visit(node: &mut Node, command: VisitCommand) -> Result<()> {
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

fn review(node: &mut Node, command: ReviewCommand) -> Result<()> {
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

fn fund(node: &mut Node, command: FundCommand) -> Result<()> {
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

fn conflicts(node: &mut Node, command: ConflictsCommand) -> Result<()> {
    match command {
        ConflictsCommand::List {
            below: true, out, ..
        } => {
            let briefs = node.stats()?.conflicts;
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
