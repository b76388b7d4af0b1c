//! `hearth case import FILE.csv`: every line is checked before anything is written, and then all
//! cases are written in one transaction, so a file imports completely or not at all.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc;

use anyhow::Result;
use hearth_archive::{Case, CaseFields, Editor, Status};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::BadInput;
use crate::cli::CaseFieldArgs;
use crate::fields::case_fields;
use crate::node::Node;
use crate::output::print_json;

/// Columns every file must have.
pub const REQUIRED: &[&str] = &[
    "name",
    "id_number",
    "household_size",
    "annual_income",
    "rigid_spending",
    "subsistence_line",
    "primary_cause",
];
/// Columns a file may have besides the required ones.
pub const OPTIONAL: &[&str] = &[
    "gender",
    "birth_year",
    "phone",
    "employer",
    "job",
    "address",
    "hardship_costs",
    "secondary_causes",
    "other_cause",
    "urgent_needs",
    "skills",
    "employment_wishes",
    "state_of_mind",
    "status",
];
/// At most this many bad lines are listed one by one.
const MAX_LISTED: usize = 50;

struct Prepared {
    fields: CaseFields,
    status: Status,
}

#[derive(Serialize)]
struct Report {
    imported: usize,
    ids: Vec<String>,
}

fn progress(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// Runs the import.
pub fn import(node: &Node, path: &Path, json: bool) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| BadInput::new(format!("cannot read {}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| {
            BadInput::new(format!(
                "{}: cannot read the header line: {e}",
                path.display()
            ))
        })?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    check_headers(path, &headers)?;

    let bar = progress(size, "checking");
    let mut prepared = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut lines = 0usize;
    for record in reader.records() {
        lines += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                bad.push(format!("line {line}: {}", csv_problem(&e)));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        bar.set_position(record.position().map(|p| p.byte()).unwrap_or(0));
        let get = |col: &str| {
            headers
                .iter()
                .position(|h| h == col)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        match prepare_line(node, &get, &mut seen, line) {
            Ok(p) => prepared.push(p),
            Err(e) => bad.push(format!("line {line}: {e:#}")),
        }
    }
    bar.finish_and_clear();

    if !bad.is_empty() {
        for line in bad.iter().take(MAX_LISTED) {
            eprintln!("{line}");
        }
        if bad.len() > MAX_LISTED {
            eprintln!("… and {} more bad lines", bad.len() - MAX_LISTED);
        }
        return Err(BadInput::new(format!(
            "import refused: {} of {lines} lines of {} are bad; nothing was imported",
            bad.len(),
            path.display()
        ))
        .into());
    }
    if prepared.is_empty() {
        return Err(BadInput::new(format!("{} has no cases to import", path.display())).into());
    }

    let bar = progress(prepared.len() as u64, "importing");
    let ids = write_all(node, &prepared, &bar)?;
    bar.finish_and_clear();

    let report = Report {
        imported: ids.len(),
        ids,
    };
    if json {
        print_json(&report)
    } else {
        println!("imported {} cases from {}", report.imported, path.display());
        Ok(())
    }
}

/// Builds the documents on every core and writes them from this thread into one transaction.
/// Documents flow through a bounded channel, so memory stays flat however long the file.
fn write_all(node: &Node, prepared: &[Prepared], bar: &ProgressBar) -> Result<Vec<String>> {
    let editor = node.editor();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = mpsc::sync_channel::<Result<Case>>(256);
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let tx = tx.clone();
            let editor = &editor;
            scope.spawn(move || {
                for p in prepared.iter().skip(worker).step_by(workers) {
                    let case = build(node, editor, p);
                    let failed = case.is_err();
                    if tx.send(case).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut batch = node.store.begin()?;
        let mut ids = Vec::with_capacity(prepared.len());
        for case in rx.iter() {
            let mut case = case?;
            batch.put_case(&mut case)?;
            ids.push(case.id()?);
            bar.inc(1);
        }
        if ids.len() != prepared.len() {
            anyhow::bail!(
                "import stopped after {} of {} cases; nothing was imported",
                ids.len(),
                prepared.len()
            );
        }
        batch.commit()?;
        Ok(ids)
    })
}

/// One imported case, with its status.
fn build(node: &Node, editor: &Editor, p: &Prepared) -> Result<Case> {
    let id = crate::commands::new_case_id();
    let mut case = Case::create(&id, &node.config.node_id, node.actor(), editor, &p.fields)?;
    match p.status {
        Status::Filed => case.file(editor)?,
        Status::UnderReview => case.transition(editor, Status::UnderReview, "imported")?,
        _ => {}
    }
    Ok(case)
}

fn check_headers(path: &Path, headers: &[String]) -> Result<()> {
    let unknown: Vec<&str> = headers
        .iter()
        .map(String::as_str)
        .filter(|h| !REQUIRED.contains(h) && !OPTIONAL.contains(h))
        .collect();
    if !unknown.is_empty() {
        return Err(BadInput::new(format!(
            "{}: unknown column(s) {}; the columns are {}, {}",
            path.display(),
            unknown.join(", "),
            REQUIRED.join(", "),
            OPTIONAL.join(", ")
        ))
        .into());
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|r| !headers.iter().any(|h| h == r))
        .collect();
    if !missing.is_empty() {
        return Err(BadInput::new(format!(
            "{}: the header line lacks the column(s) {}; see \"CSV import\" in README",
            path.display(),
            missing.join(", ")
        ))
        .into());
    }
    Ok(())
}

fn prepare_line(
    node: &Node,
    get: &dyn Fn(&str) -> Option<String>,
    seen: &mut HashMap<String, u64>,
    line: u64,
) -> Result<Prepared> {
    let empty: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| get(c).is_none())
        .collect();
    if !empty.is_empty() {
        return Err(BadInput::new(format!("{} must not be empty", empty.join(", "))).into());
    }
    let args = CaseFieldArgs {
        name: get("name"),
        id_number: get("id_number"),
        gender: get("gender"),
        birth_year: get("birth_year"),
        employer: get("employer"),
        job: get("job"),
        phone: get("phone"),
        address: get("address"),
        household_size: get("household_size"),
        annual_income: get("annual_income"),
        rigid_spending: get("rigid_spending"),
        hardship_costs: get("hardship_costs"),
        subsistence_line: get("subsistence_line"),
        primary_cause: get("primary_cause"),
        secondary_cause: get("secondary_causes").into_iter().collect(),
        other_cause: get("other_cause"),
        urgent_needs: get("urgent_needs"),
        skills: get("skills"),
        employment_wishes: get("employment_wishes"),
        state_of_mind: get("state_of_mind"),
    };
    let fields = case_fields(&args, &node.salt)?;
    fields.validate()?;
    let status = match get("status") {
        None => Status::Draft,
        Some(s) => match s.parse()? {
            st @ (Status::Draft | Status::UnderReview | Status::Filed) => st,
            other => {
                return Err(BadInput::new(format!(
                    "status {other} cannot be imported; use draft, under_review or filed"
                ))
                .into());
            }
        },
    };
    if let Some(key) = &fields.identity_key {
        if let Some(first) = seen.insert(key.as_str().to_owned(), line) {
            return Err(BadInput::new(format!(
                "same ID number as line {first} (one household, one file)"
            ))
            .into());
        }
        if let Some(existing) = node.store.cases_with_identity(key.as_str())?.first() {
            return Err(BadInput::new(format!(
                "a case for this ID number already exists here: {existing} (one household, one file)"
            ))
            .into());
        }
    }
    Ok(Prepared { fields, status })
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text; save the file as \"CSV UTF-8\"".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}
