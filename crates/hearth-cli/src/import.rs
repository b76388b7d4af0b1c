//! `hearth case import FILE`: a CSV (UTF-8, with or without a BOM, or GBK) or xlsx file, its
//! columns headed in English or Chinese, read into rows by the reader the console uses too
//! (`hearth_ops::rows_of_file`); the node (or this process, when no node runs) checks every row
//! before anything is written, then writes all cases in one transaction, so a file imports
//! completely or not at all.

use std::path::Path;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::BadInput;
use crate::node::Node;
use crate::output::print_json;

#[derive(Serialize)]
struct Report {
    imported: usize,
    ids: Vec<String>,
}

/// Runs the import.
pub fn import(node: &mut Node, path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| BadInput::new(format!("cannot read {}: {e}", path.display())))?;
    let rows = hearth_ops::rows_of_file(&path.display().to_string(), &bytes)
        .map_err(|e| BadInput::new(e.to_string()))?;
    let bar = ProgressBar::new(rows.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("importing");
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
