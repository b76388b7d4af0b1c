//! `hearth case import FILE`: a CSV (UTF-8, with or without a BOM, or GBK) or xlsx file, its
//! columns headed in English or Chinese, read into rows by the readers the console uses too
//! (`hearth_ops::each_csv_row`, `hearth_ops::rows_of_file`). A CSV file is read a line at a time
//! — through once for its encoding, then once to check every row and once to write — so a file
//! of a million lines imports in bounded memory; an xlsx workbook (at most 1,048,576 rows) is
//! read whole. The node (or this process, when no node runs) checks every row before anything
//! is written, then writes all cases in one transaction, so a file imports completely or not
//! at all.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Result;
use hearth_ops::{CsvText, ImportRow, ImportSource, OpError};
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

/// A CSV file, read again each time the import asks for its rows.
struct CsvFile {
    path: PathBuf,
    text: CsvText,
}

impl CsvFile {
    fn open(&self) -> std::io::Result<BufReader<std::fs::File>> {
        Ok(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(&self.path)?,
        ))
    }
}

impl ImportSource for CsvFile {
    fn each_row(
        &self,
        each: &mut dyn FnMut(ImportRow) -> hearth_ops::Result<()>,
    ) -> hearth_ops::Result<()> {
        let name = self.path.display().to_string();
        let file = self
            .open()
            .map_err(|e| OpError::Input(format!("cannot read {name}: {e}")))?;
        hearth_ops::each_csv_row(&name, self.text, file, each)
    }
}

/// Whether the file at `path` is an xlsx workbook, by its first bytes.
fn is_workbook(path: &Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut first = Vec::with_capacity(4);
    std::fs::File::open(path)?.take(4).read_to_end(&mut first)?;
    Ok(hearth_ops::is_workbook(&first))
}

/// Runs the import.
pub fn import(node: &mut Node, path: &Path, json: bool) -> Result<()> {
    let cannot_read =
        |e: std::io::Error| BadInput::new(format!("cannot read {}: {e}", path.display()));
    let name = path.display().to_string();
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {pos} ({per_sec})") {
        bar.set_style(style);
    }
    bar.set_message("importing 导入中");
    let ids = if is_workbook(path).map_err(cannot_read)? {
        let bytes = std::fs::read(path).map_err(cannot_read)?;
        let rows =
            hearth_ops::rows_of_file(&name, &bytes).map_err(|e| BadInput::new(e.to_string()))?;
        drop(bytes);
        node.import(&rows, &|| bar.inc(1))?
    } else {
        let file = CsvFile {
            path: path.to_owned(),
            text: CsvText::Utf8,
        };
        let text =
            hearth_ops::csv_encoding(file.open().map_err(cannot_read)?).map_err(cannot_read)?;
        node.import(&CsvFile { text, ..file }, &|| bar.inc(1))?
    };
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
