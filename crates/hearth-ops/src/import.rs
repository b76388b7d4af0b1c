//! Importing many cases at once: every row checked first, then all written in one
//! transaction, or none.

use std::collections::HashMap;
use std::sync::mpsc;

use hearth_archive::automerge::ActorId;
use hearth_archive::{Case, CaseForm, Editor, FederationSalt, Status};

use crate::write::{parent_for, parse_opt};
use crate::{Cases, Ctx, OpError, Result};

/// One case of an import file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// At most this many bad lines of an import are listed one by one.
pub const MAX_LISTED: usize = 50;

struct Prepared {
    fields: hearth_archive::CaseFields,
    status: Status,
    filed_on: Option<jiff::civil::Date>,
}

fn prepare(
    cases: &mut impl Cases,
    salt: &FederationSalt,
    today: jiff::civil::Date,
    row: &ImportRow,
    seen: &mut HashMap<String, u64>,
) -> Result<Prepared> {
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
    if let Some(key) = &fields.identity_key {
        if let Some(first) = seen.insert(key.as_str().to_owned(), row.line) {
            return Err(OpError::input(format!(
                "same ID number as line {first} (one household, one file)"
            )));
        }
        hearth_archive::identity::one_file(&cases.with_identity(key.as_str())?, None)?;
    }
    Ok(Prepared {
        fields,
        status,
        filed_on,
    })
}

/// Imports cases: every row is checked before anything is written, then all are written in one
/// transaction, so an import happens completely or not at all. The documents are built on every
/// core and flow to the writer through a bounded channel, so memory stays flat however many rows
/// there are. `progress` is told of each case written. Returns the new ids in row order.
pub fn import(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    rows: &[ImportRow],
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<String>> {
    let mut prepared = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    let mut seen = HashMap::new();
    let mut bad = 0usize;
    for row in rows {
        match prepare(cases, ctx.salt, ctx.now.date(), row, &mut seen) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                bad += 1;
                if problems.len() < MAX_LISTED {
                    problems.push(format!("line {}: {e}", row.line));
                }
            }
        }
    }
    if bad > 0 {
        if bad > MAX_LISTED {
            problems.push(format!("… and {} more bad lines", bad - MAX_LISTED));
        }
        return Err(OpError::Import {
            problems,
            summary: format!(
                "import refused: {bad} of {} lines are bad; nothing was imported",
                rows.len()
            ),
        });
    }
    if prepared.is_empty() {
        return Err(OpError::input("there are no cases to import"));
    }
    // Filed cases are reported to the parent union, as `case file` does.
    let parent = if prepared.iter().any(|p| p.status == Status::Filed) {
        parent_for(ctx.place, None)?
    } else {
        None
    };
    let editor = ctx.editor();
    let standard = crate::policy_in_force(cases, editor.today)?.standard();
    let actor = cases.actor();
    let home = ctx.place.node_id.as_str();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Case>)>(256);
    let ids = std::thread::scope(|scope| {
        for worker in 0..workers {
            let tx = tx.clone();
            let (editor, actor, prepared, parent, standard) =
                (&editor, &actor, &prepared, &parent, &standard);
            scope.spawn(move || {
                for (row, p) in prepared.iter().enumerate().skip(worker).step_by(workers) {
                    let case = build(ctx.ids, home, actor, editor, standard, p, parent.as_deref());
                    let failed = case.is_err();
                    if tx.send((row, case)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // A builder that stopped early sent its error; should the count still fall short, the
        // last item is an error, so nothing is committed.
        let count = std::cell::Cell::new(0usize);
        // The rows in the order the cases are written, to give the ids back in row order.
        let order = std::cell::RefCell::new(Vec::with_capacity(prepared.len()));
        let mut built = rx
            .iter()
            .map(|(row, case)| {
                order.borrow_mut().push(row);
                case
            })
            .inspect(|_| {
                count.set(count.get() + 1);
                progress();
            })
            .chain(
                std::iter::from_fn(|| {
                    (count.get() < prepared.len()).then(|| {
                        Err(OpError::Storage(
                            Box::<dyn std::error::Error + Send + Sync>::from(format!(
                                "import stopped after {} of {} cases; nothing was imported",
                                count.get(),
                                prepared.len()
                            )),
                        ))
                    })
                })
                .take(1),
            );
        let written = cases.create(&mut built)?;
        let mut by_row: Vec<(usize, String)> =
            order.into_inner().into_iter().zip(written).collect();
        by_row.sort_unstable_by_key(|(row, _)| *row);
        Ok::<_, OpError>(by_row.into_iter().map(|(_, id)| id).collect::<Vec<_>>())
    })?;
    Ok(ids)
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
