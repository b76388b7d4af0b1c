//! Import files as people have them: a CSV saved by Excel or WPS (UTF-8 with or without a BOM,
//! or GBK, as Excel on Chinese Windows saves it) or an xlsx workbook (its first sheet), with a
//! header line in English codes (`annual_income`) or in Chinese as paper registers head their
//! columns (`家庭年收入`), or both (`家庭年收入 annual_income`). The file's bytes become the
//! rows of an import ([`crate::import`] checks them all before anything is written); the
//! command line and the console read files with this one reader.

use hearth_archive::CaseForm;

use crate::{ImportRow, OpError, Result};

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

/// Chinese column headings and the column each one is.
const CHINESE: &[(&str, &str)] = &[
    ("姓名", "name"),
    ("身份证号", "id_number"),
    ("身份证号码", "id_number"),
    ("公民身份号码", "id_number"),
    ("性别", "gender"),
    ("出生年份", "birth_year"),
    ("电话", "phone"),
    ("联系电话", "phone"),
    ("手机", "phone"),
    ("工作单位", "employer"),
    ("单位", "employer"),
    ("岗位", "job"),
    ("工种", "job"),
    ("住址", "address"),
    ("家庭住址", "address"),
    ("家庭人口", "household_size"),
    ("家庭人口数", "household_size"),
    ("共同生活人口", "household_size"),
    ("家庭年收入", "annual_income"),
    ("年可支配收入", "annual_income"),
    ("家庭年可支配收入", "annual_income"),
    ("刚性支出", "rigid_spending"),
    ("致困支出", "hardship_costs"),
    ("低保标准", "subsistence_line"),
    ("致困原因", "primary_cause"),
    ("主要致困原因", "primary_cause"),
    ("其他致困原因", "secondary_causes"),
    ("其他原因说明", "other_cause"),
    ("急需解决的问题", "urgent_needs"),
    ("急需", "urgent_needs"),
    ("技能", "skills"),
    ("技能特长", "skills"),
    ("就业意愿", "employment_wishes"),
    ("思想状况", "state_of_mind"),
    ("医疗费用", "medical_costs"),
    ("自付医疗费", "medical_costs"),
    ("最大单次住院费用", "largest_stay"),
    ("申请金额", "aid_request"),
    ("地区", "region"),
    ("赔偿", "compensation"),
    ("赔偿保险", "compensation"),
    ("排除情形", "exclusions"),
    ("状态", "status"),
    ("档案状态", "status"),
    ("建档日期", "filed_on"),
    ("建档时间", "filed_on"),
];

/// The column a heading names: an English code, a Chinese heading, or both separated by a
/// space (either order).
fn column(heading: &str) -> Option<&'static str> {
    let heading = heading.trim_start_matches('\u{feff}').trim();
    let known = |word: &str| {
        let lower = word.to_lowercase();
        REQUIRED
            .iter()
            .chain(OPTIONAL)
            .find(|c| **c == lower)
            .copied()
            .or_else(|| CHINESE.iter().find(|(zh, _)| *zh == word).map(|(_, c)| *c))
    };
    known(heading).or_else(|| heading.split_whitespace().find_map(known))
}

/// What each cell of a line is, from the file's header line.
struct Columns(Vec<Option<&'static str>>);

impl Columns {
    /// The columns the header line `header` of file `name` names, every one known and every
    /// required one there.
    fn of(name: &str, header: &[String]) -> Result<Columns> {
        let mut columns = Vec::new();
        let mut unknown = Vec::new();
        for h in header {
            match column(h) {
                Some(c) => columns.push(Some(c)),
                None if h.trim().is_empty() => columns.push(None),
                None => {
                    unknown.push(h.trim().to_owned());
                    columns.push(None);
                }
            }
        }
        if !unknown.is_empty() {
            return Err(OpError::input(format!(
                "{name}: unknown column(s) {}; the columns are {}, {} (or their Chinese headings, e.g. 姓名, 身份证号, 家庭人口, 家庭年收入, 刚性支出, 低保标准, 致困原因)",
                unknown.join(", "),
                REQUIRED.join(", "),
                OPTIONAL.join(", ")
            )));
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|r| !columns.contains(&Some(*r)))
            .collect();
        if !missing.is_empty() {
            return Err(OpError::input(format!(
                "{name}: the header line lacks the column(s) {}; see \"CSV import\" in README",
                missing.join(", ")
            )));
        }
        Ok(Columns(columns))
    }

    /// The row of line `line`, or `None` for a blank line.
    fn row(&self, (line, cells): Line) -> Option<ImportRow> {
        let cells = match cells {
            Ok(cells) => cells,
            Err(problem) => {
                return Some(ImportRow {
                    line,
                    unreadable: Some(problem),
                    ..ImportRow::default()
                });
            }
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            return None;
        }
        let get = |col: &str| {
            self.0
                .iter()
                .position(|c| *c == Some(col))
                .and_then(|i| cells.get(i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Some(ImportRow {
            line,
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
        })
    }
}

/// The message for a file whose header line is missing.
fn empty_file(name: &str) -> OpError {
    OpError::input(format!(
        "{name}: the file is empty; the first line names the columns (see \"CSV import\" in README)"
    ))
}

/// The rows of the import file `name` (for messages) holding `bytes`. A file that cannot be
/// read at all (not CSV nor xlsx, a bad header line) is an error; a line that cannot be read is
/// a row that says why, reported with every other bad line by the import.
pub fn rows_of_file(name: &str, bytes: &[u8]) -> Result<Vec<ImportRow>> {
    let mut rows = Vec::new();
    if is_workbook(bytes) {
        let mut lines = xlsx_lines(name, bytes)?.into_iter();
        let Some((_, Ok(header))) = lines.next() else {
            return Err(empty_file(name));
        };
        let columns = Columns::of(name, &header)?;
        rows.extend(lines.filter_map(|line| columns.row(line)));
    } else {
        let text = csv_text(name, bytes)?;
        each_csv_row(name, CsvText::Utf8, text.as_bytes(), &mut |row| {
            rows.push(row);
            Ok(())
        })?;
    }
    if rows.is_empty() {
        return Err(OpError::input(format!("{name} has no cases to import")));
    }
    Ok(rows)
}

/// Whether a file starting with `first` (its first four bytes are enough) is an xlsx workbook,
/// a zip archive; anything else is read as CSV.
pub fn is_workbook(first: &[u8]) -> bool {
    first.starts_with(b"PK\x03\x04")
}

/// How a CSV file's text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvText {
    /// UTF-8, with or without a BOM.
    Utf8,
    /// GBK, as Excel on Chinese Windows saves "CSV".
    Gbk,
}

/// How the CSV file read by `reader` is encoded: UTF-8 if every byte of it is (a BOM or not),
/// else GBK. Reads the file through in pieces, holding none of it.
pub fn csv_encoding(mut reader: impl std::io::Read) -> std::io::Result<CsvText> {
    let mut buf = vec![0u8; 1 << 16];
    // Bytes of a character cut by the end of the piece before, moved to the front.
    let mut carried = 0;
    loop {
        let n = reader.read(&mut buf[carried..])?;
        if n == 0 {
            return Ok(if carried == 0 {
                CsvText::Utf8
            } else {
                CsvText::Gbk
            });
        }
        let filled = carried + n;
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carried = 0,
            Err(e) if e.error_len().is_none() => {
                buf.copy_within(e.valid_up_to()..filled, 0);
                carried = filled - e.valid_up_to();
            }
            Err(_) => return Ok(CsvText::Gbk),
        }
    }
}

/// Hands each row of the CSV file `name`, read by `reader` and encoded as `text` says, to
/// `each`, one at a time: a file of any size is read in bounded memory. A file whose header
/// line is bad is an error; a line that cannot be read is a row that says why.
pub fn each_csv_row(
    name: &str,
    text: CsvText,
    reader: impl std::io::Read,
    each: &mut dyn FnMut(ImportRow) -> Result<()>,
) -> Result<()> {
    let decoded: Box<dyn std::io::Read> = match text {
        CsvText::Utf8 => Box::new(reader),
        CsvText::Gbk => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::GBK))
                .build(reader),
        ),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(decoded);
    let mut columns = None;
    let mut record = csv::StringRecord::new();
    loop {
        let line = match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let cells: Vec<String> = record.iter().map(str::to_owned).collect();
                // GBK decoding marks bytes that are not GBK with U+FFFD.
                if text == CsvText::Gbk && cells.iter().any(|c| c.contains('\u{fffd}')) {
                    (
                        line,
                        Err(format!(
                            "is neither UTF-8 nor GBK text: save {name} from Excel as \"CSV UTF-8\""
                        )),
                    )
                } else {
                    (line, Ok(cells))
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let problem = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("has {len} fields where the header has {expected_len}"),
                    csv::ErrorKind::Io(e) => {
                        return Err(OpError::input(format!("cannot read {name}: {e}")));
                    }
                    _ => e.to_string(),
                };
                (line, Err(problem))
            }
        };
        match &columns {
            None => match line {
                (_, Ok(header)) => columns = Some(Columns::of(name, &header)?),
                (_, Err(problem)) => {
                    return Err(OpError::input(format!(
                        "{name}: cannot read the header line: {problem}"
                    )));
                }
            },
            Some(columns) => {
                if let Some(row) = columns.row(line) {
                    each(row)?;
                }
            }
        }
    }
    if columns.is_none() {
        return Err(empty_file(name));
    }
    Ok(())
}

/// A line of a file: its number, and its cells or why it cannot be read.
type Line = (u64, std::result::Result<Vec<String>, String>);

/// The text of a CSV file held in memory: UTF-8 (a BOM left out), else GBK.
fn csv_text<'a>(name: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, str>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.into());
    }
    let (text, _, bad) = encoding_rs::GBK.decode(bytes);
    if bad {
        return Err(OpError::input(format!(
            "{name} is neither UTF-8 nor GBK text: save it from Excel as \"CSV UTF-8\" (or as an xlsx workbook)"
        )));
    }
    Ok(text)
}

/// The first sheet of an xlsx workbook, as lines of text (line numbers as Excel shows rows).
fn xlsx_lines(name: &str, bytes: &[u8]) -> Result<Vec<Line>> {
    use calamine::{Data, Reader};
    let unreadable = |e: &dyn std::fmt::Display| {
        OpError::input(format!(
            "{name} is not a workbook Hearth can read ({e}); save it again from Excel as xlsx, or as \"CSV UTF-8\""
        ))
    };
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let sheet = match book.worksheet_range_at(0) {
        Some(Ok(sheet)) => sheet,
        Some(Err(e)) => return Err(unreadable(&e)),
        None => return Err(OpError::input(format!("{name} has no sheet"))),
    };
    let first = sheet.start().map_or(0, |(row, _)| u64::from(row));
    Ok(sheet
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let line = first + i as u64 + 1;
            let cells: std::result::Result<Vec<String>, String> = cells
                .iter()
                .map(|c| match c {
                    Data::Empty => Ok(String::new()),
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Ok(s.clone()),
                    Data::Int(n) => Ok(n.to_string()),
                    Data::Float(f) if f.abs() >= 1e15 => Err(format!(
                        "holds the number {f} where the digits matter (an ID number?); format the column as text in Excel and type it again"
                    )),
                    Data::Float(f) => Ok(f.to_string()),
                    Data::Bool(b) => Ok(b.to_string()),
                    Data::DateTime(d) => Ok(excel_day(d.as_f64())),
                    Data::Error(e) => Err(format!("holds the Excel error {e}")),
                })
                .collect();
            (line, cells)
        })
        .collect())
}

/// The day an Excel date serial number stands for (days since 1899-12-30), `YYYY-MM-DD`.
fn excel_day(serial: f64) -> String {
    let days = serial.floor() as i64;
    jiff::civil::date(1899, 12, 30)
        .checked_add(jiff::Span::new().days(days))
        .map_or_else(|_| serial.to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "姓名,身份证号,家庭人口,家庭年收入,刚性支出,低保标准,致困原因,建档日期";

    fn line(id: &str) -> String {
        format!("李梅,{id},2,18000,2000,800,下岗失业,2025-03-15")
    }

    #[test]
    fn chinese_headings_in_utf8_with_a_bom_and_in_gbk_read_alike() {
        let id = hearth_archive::identity::sample_id_number(5000);
        let text = format!("{HEADER}\n{}\n", line(&id));
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
        assert!(!bad);
        let a = rows_of_file("a.csv", text.as_bytes()).unwrap();
        let b = rows_of_file("b.csv", &bom).unwrap();
        let c = rows_of_file("c.csv", &gbk).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a[0].line, 2);
        assert_eq!(a[0].form.name.as_deref(), Some("李梅"));
        assert_eq!(a[0].form.primary_cause.as_deref(), Some("下岗失业"));
        assert_eq!(a[0].filed_on.as_deref(), Some("2025-03-15"));
    }

    /// A reader handing out one byte at a time, as a slow disk or pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_csv_read_a_piece_at_a_time_gives_the_rows_it_gives_whole() {
        let text: String = std::iter::once(HEADER.to_owned())
            .chain((0..20).map(|n| line(&hearth_archive::identity::sample_id_number(6000 + n))))
            .collect::<Vec<_>>()
            .join("\n");
        let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
        assert!(!bad);
        let whole = rows_of_file("a.csv", text.as_bytes()).unwrap();
        assert_eq!(whole.len(), 20);
        for bytes in [text.as_bytes(), &gbk] {
            let encoding = csv_encoding(Trickle(bytes)).unwrap();
            let expected = if bytes == text.as_bytes() {
                CsvText::Utf8
            } else {
                CsvText::Gbk
            };
            assert_eq!(encoding, expected);
            let mut rows = Vec::new();
            each_csv_row("a.csv", encoding, Trickle(bytes), &mut |row| {
                rows.push(row);
                Ok(())
            })
            .unwrap();
            assert_eq!(rows, whole);
        }
        // Bytes that are not GBK either make their line a bad row, named by its number.
        let mut broken = gbk.into_owned();
        let third = broken
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(2)
            .unwrap()
            .0;
        broken.splice(third + 1..third + 1, [0x81, 0x20]);
        let mut rows = Vec::new();
        each_csv_row("a.csv", CsvText::Gbk, &broken[..], &mut |row| {
            rows.push(row);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows[2].line, 4);
        assert!(
            rows[2]
                .unreadable
                .as_deref()
                .is_some_and(|p| p.contains("neither UTF-8 nor GBK")),
            "{:?}",
            rows[2]
        );
        let e = each_csv_row("a.csv", CsvText::Utf8, &b""[..], &mut |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("the file is empty"), "{e}");
    }

    #[test]
    fn an_xlsx_sheet_reads_as_its_csv_does() {
        let id = hearth_archive::identity::sample_id_number(5001);
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (col, h) in HEADER.split(',').enumerate() {
            sheet.write_string(0, col as u16, h).unwrap();
        }
        sheet.write_string(1, 0, "李梅").unwrap();
        sheet.write_string(1, 1, &id).unwrap();
        sheet.write_number(1, 2, 2).unwrap();
        sheet.write_number(1, 3, 18000).unwrap();
        sheet.write_number(1, 4, 2000.5).unwrap();
        sheet.write_number(1, 5, 800).unwrap();
        sheet.write_string(1, 6, "下岗失业").unwrap();
        let day = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 15).unwrap();
        let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_datetime_with_format(1, 7, &day, &format)
            .unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let rows = rows_of_file("a.xlsx", &bytes).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.line, 2);
        assert_eq!(r.form.id_number.as_deref(), Some(id.as_str()));
        assert_eq!(r.form.household_size.as_deref(), Some("2"));
        assert_eq!(r.form.rigid_spending.as_deref(), Some("2000.5"));
        assert_eq!(r.filed_on.as_deref(), Some("2025-03-15"));
    }

    #[test]
    fn bad_files_and_lines_are_named() {
        let e = rows_of_file("x.csv", b"\xff\xfe\x00\x00garbage").unwrap_err();
        assert!(e.to_string().contains("neither UTF-8 nor GBK"), "{e}");
        let e = rows_of_file("x.csv", "姓名,年龄\n李梅,3\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown column(s) 年龄"), "{e}");
        let e = rows_of_file("x.csv", "姓名,身份证号\n李梅,1\n".as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("lacks the column(s) household_size"),
            "{e}"
        );
        let e = rows_of_file("x.xlsx", b"PK\x03\x04 not really").unwrap_err();
        assert!(e.to_string().contains("not a workbook"), "{e}");
        let e = rows_of_file("x.csv", b"").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let text = format!("{HEADER}\n{}\n李梅,1,2\n", line("1"));
        let rows = rows_of_file("x.csv", text.as_bytes()).unwrap();
        assert_eq!(rows[1].line, 3);
        assert!(
            rows[1]
                .unreadable
                .as_deref()
                .is_some_and(|p| p.contains("3 fields where the header has 8")),
            "{rows:?}"
        );
        // Both headings in one cell, as the console's exports write them.
        let text = "name 姓名,身份证号 id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause\n";
        let e = rows_of_file("x.csv", text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no cases"), "{e}");
    }
}
