//! `hearth demo --walkthrough`: a caseworker's day on one node, on a throwaway data dir, printed
//! as the commands a person would type and what they print. The node is a branch with no parent
//! — the top of its own small federation — so it approves its own files; under a parent, the
//! parent approves (`hearth demo` shows a federation). (`hearth demo` itself is the
//! federation demo in `federation_demo.rs`.)

use std::path::Path;

use anyhow::{Context, Result};
use clap::Parser;
use hearth_archive::identity::sample_id_number;

use crate::commands;
use crate::commands::Cli;
use crate::node::{Node, STORE_FILE};
use hearth_ops::ListFilter;

/// Prints a command line as typed, then runs it as `hearth` would. Arguments are separated by
/// spaces (the demo's texts have none).
fn step(dir: &Path, line: &str) -> Result<()> {
    step_args(dir, &line.split_whitespace().collect::<Vec<_>>())
}

fn step_args(dir: &Path, args: &[&str]) -> Result<()> {
    crate::out!("\n$ hearth {}", args.join(" "))?;
    let dir = dir.to_string_lossy();
    let argv = ["hearth", "--data-dir", &dir]
        .into_iter()
        .chain(args.iter().copied());
    let cli = Cli::try_parse_from(argv).context("demo step does not parse")?;
    commands::run(cli)
}

/// The CSV the demo imports: a few more households from a spreadsheet.
fn sample_csv() -> String {
    let mut text = String::from(
        "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,status,filed_on\n",
    );
    let rows = [
        ("李梅", 2, 18_000, 2_000, "laid_off"),
        ("张伟", 4, 60_000, 8_000, "unemployed"),
        ("刘洋", 3, 50_000, 0, "natural_disaster"),
        ("陈静", 1, 30_000, 0, "no_work_ability"),
    ];
    for (n, (name, size, income, rigid, cause)) in (5000..).zip(rows) {
        let id_number = sample_id_number(n);
        text.push_str(&format!(
            "{name},{id_number},{size},{income},{rigid},800,{cause},filed,2025-0{}-15\n",
            n % 9 + 1
        ));
    }
    text
}

/// Runs the single-node walkthrough.
pub fn walkthrough(operator: String) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("hearth-demo-")
        .tempdir()
        .context("cannot make a temporary data dir")?;
    let dir = tmp.path().join("branch-1");
    crate::out!(
        "Hearth demo: one branch union node with no parent (it approves its own files), its data dir in {} (removed at the end)",
        dir.display()
    )?;

    step(&dir, "init --node-id demo.branch-1 --level branch")?;
    let id_number = sample_id_number(4242);
    step(
        &dir,
        &format!(
            "case new --name 王建国 --id-number {id_number} --household-size 3 \
             --annual-income 36000 --rigid-spending 12000 --subsistence-line 800 \
             --primary-cause serious_illness --secondary-cause child_schooling \
             --medical-costs 8000 \
             --employer 开元电力运维班 --urgent-needs 住院费用 --skills 电工证"
        ),
    )?;
    let id = Node::open(&dir, operator)?
        .list(ListFilter::default())?
        .first()
        .map(|c| c.id.clone())
        .context("the demo case was not stored")?;
    let case = &id[..8];
    let today = hearth_archive::calendar::day_of(jiff::Timestamp::now());
    let day = |offset: i64| (today + jiff::Span::new().days(offset)).to_string();
    for line in [
        format!(
            "fund income --source budget --amount 50000 --date {} --note 年度帮扶资金",
            day(-60)
        ),
        format!("member add {case} --relation spouse --age 45 --health 慢性病"),
        format!(
            "case step {case} grassroots_review --date {} --note 材料齐全",
            day(-31)
        ),
        format!(
            "visit add {case} --date {} --kind home --visitor 李干事 --consent --notes 住院治疗中，两个孩子上学",
            day(-30)
        ),
        format!(
            "case step {case} civil_check --result matched --checker 区民政局 --date {}",
            day(-25)
        ),
        format!("case step {case} notice --date {}", day(-21)),
        format!("case file {case}"),
        format!("case decide {case} --decision approve --note 同意建档"),
        format!(
            "assist add {case} --kind medical --amount 3000 --date {}",
            day(0)
        ),
        format!(
            "loan add {case} --amount 5000 --date {} --due {}",
            day(0),
            day(365)
        ),
        format!("loan repay {case} --amount 1200 --date {}", day(0)),
        format!(
            "visit add {case} --date {} --kind follow_up --notes 已出院",
            day(0)
        ),
    ] {
        step(&dir, &line)?;
    }

    let csv = tmp.path().join("cases.csv");
    std::fs::write(&csv, sample_csv()).context("cannot write the demo CSV")?;
    let csv = csv.to_string_lossy();
    step_args(&dir, &["case", "import", &csv])?;
    step(&dir, "case list")?;
    step(&dir, &format!("case show {case}"))?;
    step(&dir, "fund show")?;

    let raw_in_store = std::fs::read(dir.join(STORE_FILE))
        .map(|bytes| {
            bytes
                .windows(id_number.len())
                .any(|w| w == id_number.as_bytes())
        })
        .unwrap_or(true);
    crate::out!(
        "\nraw ID number in the data dir: {}",
        if raw_in_store {
            "FOUND (this is a bug)"
        } else {
            "none — only its salted hash"
        }
    )?;
    Ok(())
}
