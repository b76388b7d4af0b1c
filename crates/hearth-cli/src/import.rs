//! `hearth case import FILE.csv`: the file is read here, line by line, into rows; the node (or
//! this process, when no node runs) checks every row before anything is written, then writes all
//! cases in one transaction, so a file imports completely or not at all.

use std::fs::File;
use std::path::Path;

use anyhow::Result;
use hearth_archive::CaseForm;
use hearth_ops::ImportRow;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::BadInput;
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
    "medical_costs",
    "largest_stay",
    "aid_request",
    "region",
    "compensation",
    "exclusions",
    "status",
    "filed_on",
];

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
pub fn import(node: &mut Node, path: &Path, json: bool) -> Result<()> {
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
        .map(|h| match h.as_str() {
            // The filing day as paper files head it.
            "建档日期" | "建档时间" => "filed_on".to_owned(),
            _ => h,
        })
        .collect();
    check_headers(path, &headers)?;

    let bar = progress(size, "reading");
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rows.push(ImportRow {
                    line: e.position().map(|p| p.line()).unwrap_or(0),
                    unreadable: Some(csv_problem(&e)),
                    ..ImportRow::default()
                });
                continue;
            }
        };
        bar.set_position(record.position().map(|p| p.byte()).unwrap_or(0));
        let get = |col: &str| {
            headers
                .iter()
                .position(|h| h == col)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        rows.push(ImportRow {
            line: record.position().map(|p| p.line()).unwrap_or(0),
            form: CaseForm {
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
                secondary_causes: get("secondary_causes").into_iter().collect(),
                other_cause: get("other_cause"),
                urgent_needs: get("urgent_needs"),
                skills: get("skills"),
                employment_wishes: get("employment_wishes"),
                state_of_mind: get("state_of_mind"),
                medical_costs: get("medical_costs"),
                largest_stay: get("largest_stay"),
                aid_request: get("aid_request"),
                compensation: get("compensation"),
                exclusions: get("exclusions"),
                region: get("region"),
            },
            status: get("status"),
            filed_on: get("filed_on"),
            unreadable: None,
        });
    }
    bar.finish_and_clear();
    if rows.is_empty() {
        return Err(BadInput::new(format!("{} has no cases to import", path.display())).into());
    }

    let bar = progress(rows.len() as u64, "importing");
    let ids = node.import(rows, &|| bar.inc(1))?;
    bar.finish_and_clear();

    let report = Report {
        imported: ids.len(),
        ids,
    };
    if json {
        print_json(&report)
    } else {
        crate::out!("imported {} cases from {}", report.imported, path.display())?;
        Ok(())
    }
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
