//! Importing many cases at once, all or none, in bounded memory: the rows are read twice from
//! their source — once to check every row, once to write — so neither the rows nor the cases
//! built from them are ever all held at once, and the write is one transaction that commits
//! every case or none.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use hearth_archive::automerge::ActorId;
use hearth_archive::{Case, CaseForm, Editor, FederationSalt, Status};

use crate::write::{parent_for, parse_opt};
use crate::{Cases, Ctx, OpError, Result};

/// One case of an import file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ImportRow {
    /// Line in the file, for messages.
    pub line: u64,
    /// The case's fields.
    pub form: CaseForm,
    /// `draft` (the default), `under_review` or `filed`.
    pub status: Option<String>,
    /// The day a filed case was put on file (建档日期), as its paper file says; without it the
    /// day of the import, flagged as such.
    pub filed_on: Option<String>,
    /// Why the line could not be read into a row at all (e.g. a CSV line with too many fields);
    /// it is reported with the other bad lines, so one report names every problem.
    pub unreadable: Option<String>,
}

/// Where an import's rows come from. The import reads them twice, once to check every row
/// and once to write, so a source of any size is never held whole: a file is read again.
pub trait ImportSource: Sync {
    /// Hands every row to `each`, in order, and stops at the first error either meets.
    fn each_row(&self, each: &mut dyn FnMut(ImportRow) -> Result<()>) -> Result<()>;
}

impl ImportSource for Vec<ImportRow> {
    fn each_row(&self, each: &mut dyn FnMut(ImportRow) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(|row| each(row.clone()))
    }
}

/// At most this many bad lines of an import are listed one by one.
pub const MAX_LISTED: usize = 50;

/// Rows built into cases ahead of the writer, at most.
const AHEAD: usize = 256;

struct Prepared {
    fields: hearth_archive::CaseFields,
    status: Status,
    filed_on: Option<jiff::civil::Date>,
}

/// A row's fields, read and checked on their own (nothing of the store is asked).
fn prepare(salt: &FederationSalt, today: jiff::civil::Date, row: &ImportRow) -> Result<Prepared> {
    if let Some(problem) = &row.unreadable {
        return Err(OpError::input(problem.clone()));
    }
    let f = &row.form;
    let required = [
        ("name", &f.name),
        ("id_number", &f.id_number),
        ("household_size", &f.household_size),
        ("annual_income", &f.annual_income),
        ("rigid_spending", &f.rigid_spending),
        ("subsistence_line", &f.subsistence_line),
        ("primary_cause", &f.primary_cause),
    ];
    let empty: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(name, _)| *name)
        .collect();
    if !empty.is_empty() {
        return Err(OpError::input(format!(
            "{} must not be empty",
            empty.join(", ")
        )));
    }
    let fields = f.parse(salt)?;
    fields.validate()?;
    let status = match parse_opt::<Status>(row.status.as_deref())? {
        None => Status::Draft,
        Some(st @ (Status::Draft | Status::UnderReview | Status::Filed)) => st,
        Some(other) => {
            return Err(OpError::input(format!(
                "status {other} cannot be imported; use draft, under_review or filed"
            )));
        }
    };
    let filed_on = row
        .filed_on
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(|d| hearth_archive::form::parse_date("filed_on", d))
        .transpose()?;
    if let Some(day) = filed_on {
        if status != Status::Filed {
            return Err(OpError::input(
                "filed_on is the filing day of a filed case; this row's status is not filed",
            ));
        }
        if day > today {
            return Err(OpError::input(format!(
                "filed_on {day} is in the future (today is {today})"
            )));
        }
    }
    Ok(Prepared {
        fields,
        status,
        filed_on,
    })
}

/// What the checking pass found of a source whose every row is good.
struct Checked {
    rows: usize,
    any_filed: bool,
    /// Of every row as read, to know the writing pass read the same rows.
    fingerprint: u64,
}

/// The first half of an identity key (64 hex digits of a salted hash): enough to tell a
/// million households apart, in 16 bytes instead of 88.
fn short_key(key: &str) -> u128 {
    key.get(..32)
        .and_then(|k| u128::from_str_radix(k, 16).ok())
        .unwrap_or_else(|| {
            let mut h = DefaultHasher::new();
            key.hash(&mut h);
            u128::from(h.finish())
        })
}

/// The first pass: every row checked, one at a time, against the store and the rows before
/// it; every bad line named (the first [`MAX_LISTED`] of them).
fn check_all(cases: &mut impl Cases, ctx: &Ctx<'_>, source: &dyn ImportSource) -> Result<Checked> {
    let today = ctx.now.date();
    let mut seen: HashMap<u128, u64> = HashMap::new();
    let mut problems = Vec::new();
    let (mut rows, mut bad, mut any_filed) = (0usize, 0usize, false);
    let mut fingerprint = DefaultHasher::new();
    source.each_row(&mut |row| {
        rows += 1;
        row.hash(&mut fingerprint);
        let checked = prepare(ctx.salt, today, &row).and_then(|p| {
            if let Some(key) = &p.fields.identity_key {
                if let Some(first) = seen.insert(short_key(key.as_str()), row.line) {
                    return Err(OpError::input(format!(
                        "same ID number as line {first} (one household, one file)"
                    )));
                }
                hearth_archive::identity::one_file(&cases.with_identity(key.as_str())?, None)?;
            }
            Ok(p.status)
        });
        match checked {
            Ok(status) => any_filed |= status == Status::Filed,
            Err(e) => {
                bad += 1;
                if problems.len() < MAX_LISTED {
                    problems.push(format!("line {}: {e}", row.line));
                }
            }
        }
        Ok(())
    })?;
    if bad > 0 {
        if bad > MAX_LISTED {
            problems.push(format!("… and {} more bad lines", bad - MAX_LISTED));
        }
        return Err(OpError::Import {
            problems,
            summary: format!("import refused: {bad} of {rows} lines are bad; nothing was imported"),
        });
    }
    if rows == 0 {
        return Err(OpError::input("there are no cases to import"));
    }
    Ok(Checked {
        rows,
        any_filed,
        fingerprint: fingerprint.finish(),
    })
}

/// Why a write stopped short: nothing of it is committed.
fn stopped(why: String) -> OpError {
    OpError::Storage(Box::<dyn std::error::Error + Send + Sync>::from(format!(
        "{why}; nothing was imported"
    )))
}

/// Imports cases: every row is checked before anything is written, then all are written in one
/// transaction, so an import happens completely or not at all. The source is read twice; in
/// the second reading the cases are built on every core and flow to the writer, in row order,
/// through bounded channels, so memory stays flat however many rows there are. Should the
/// source read differently the second time (a file changed in between), nothing is written.
/// `progress` is told of each case written. Returns the new ids in row order.
pub fn import(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    source: &dyn ImportSource,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<String>> {
    let checked = check_all(cases, ctx, source)?;
    // Filed cases are reported to the parent union, as `case file` does.
    let parent = if checked.any_filed {
        parent_for(ctx.place, None)?
    } else {
        None
    };
    let editor = ctx.editor();
    let standard = crate::policy_in_force(cases, editor.today)?.standard();
    let actor = cases.actor();
    let home = ctx.place.node_id.as_str();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (rows_tx, rows_rx) = mpsc::sync_channel::<(usize, Result<Prepared>)>(AHEAD);
    let rows_rx = Mutex::new(rows_rx);
    let (built_tx, built_rx) = mpsc::sync_channel::<(usize, Result<Case>)>(AHEAD);
    let cancelled = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The reader: the rows again, read into fields, with what they read as.
        let cancelled = &cancelled;
        let reader = scope.spawn(move || {
            let today = ctx.now.date();
            let mut fingerprint = DefaultHasher::new();
            let mut n = 0usize;
            let read = source.each_row(&mut |row| {
                if cancelled.load(Ordering::Relaxed) {
                    return Err(stopped("the import's writer stopped".into()));
                }
                row.hash(&mut fingerprint);
                let prepared = prepare(ctx.salt, today, &row);
                rows_tx
                    .send((n, prepared))
                    .map_err(|_| stopped("the import's writer stopped".into()))?;
                n += 1;
                Ok(())
            });
            read.map(|()| (n, fingerprint.finish()))
        });
        for _ in 0..workers {
            let built_tx = built_tx.clone();
            let (rows_rx, editor, actor, parent, standard) =
                (&rows_rx, &editor, &actor, &parent, &standard);
            scope.spawn(move || {
                loop {
                    let next = rows_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((n, prepared)) = next else { return };
                    let case = prepared.and_then(|p| {
                        build(
                            ctx.ids,
                            home,
                            actor,
                            editor,
                            standard,
                            &p,
                            parent.as_deref(),
                        )
                    });
                    let failed = case.is_err();
                    if built_tx.send((n, case)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(built_tx);
        // Cases as built, put back in row order; whatever stops the stream short of every row
        // read the first time ends in an error, so nothing is committed.
        let mut waiting: BTreeMap<usize, Result<Case>> = BTreeMap::new();
        let mut next = 0usize;
        let mut incoming = built_rx.into_iter();
        let mut reader = Some(reader);
        let mut built = std::iter::from_fn(move || {
            loop {
                if let Some(case) = waiting.remove(&next) {
                    next += 1;
                    progress();
                    return Some(case);
                }
                match incoming.next() {
                    Some((n, case)) => {
                        waiting.insert(n, case);
                    }
                    None => {
                        let reader = reader.take()?;
                        let read = reader
                            .join()
                            .map_err(|_| stopped("the import's reader failed".into()))
                            .and_then(|r| r);
                        return Some(match read {
                            Err(e) => Err(e),
                            Ok((n, print)) if n != checked.rows || print != checked.fingerprint => {
                                Err(stopped("the file changed while it was imported".into()))
                            }
                            Ok(_) if next != checked.rows => Err(stopped(format!(
                                "import stopped after {next} of {} cases",
                                checked.rows
                            ))),
                            Ok(_) => return None,
                        });
                    }
                }
            }
        });
        let written = cases.create(&mut built);
        // Should the writer stop early, the reader and builders are told to stop, and the rows
        // they would still send are taken, so none of them waits for ever.
        drop(built);
        cancelled.store(true, Ordering::Relaxed);
        if let Ok(rx) = rows_rx.lock() {
            while rx.recv().is_ok() {}
        }
        written
    })
}

/// One imported case, with its status; a filed case is reported to `parent`.
fn build(
    ids: &dyn crate::Ids,
    home: &str,
    actor: &ActorId,
    editor: &Editor,
    standard: &hearth_archive::GradeStandard,
    p: &Prepared,
    parent: Option<&str>,
) -> Result<Case> {
    let bound = hearth_archive::BoundId::new(home, &crate::nonce(ids));
    let mut case = Case::create(&bound, actor.clone(), editor, &p.fields)?;
    case.apply_standard(editor, standard)?;
    match p.status {
        Status::Filed => {
            // On file already in the union's records: the filing chain ran on paper.
            case.file(editor)?;
            match p.filed_on {
                Some(day) => case.set_filed_on(editor, day, false)?,
                None => case.set_filed_on(editor, editor.today, true)?,
            }
            if let Some(parent) = parent {
                case.report_to(editor, parent, "filed: reported to the parent union")?;
            }
        }
        Status::UnderReview => case.import_under_review(editor)?,
        _ => {}
    }
    Ok(case)
}
