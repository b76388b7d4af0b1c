//! `hearth demo`: a caseworker's day on one node, on a throwaway data dir, printed as the
//! commands a person would type and what they print. (The federation demo replaces it once nodes
//! sync.)

use std::path::Path;

use anyhow::{Context, Result};
use clap::Parser;
use hearth_archive::identity::sample_id_number;

use crate::cli::Cli;
use crate::commands;
use crate::node::{Node, STORE_FILE};

fn step(dir: &Path, args: &[&str]) -> Result<()> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    println!("\n$ hearth {}", shown.join(" "));
    let mut argv = vec!["hearth", "--data-dir"];
    let dir = dir.to_string_lossy();
    argv.push(&dir);
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).context("demo step does not parse")?;
    commands::run(cli)
}

/// Runs the walkthrough.
pub fn run(operator: String) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("hearth-demo-")
        .tempdir()
        .context("cannot make a temporary data dir")?;
    let dir = tmp.path().join("team-1");
    println!(
        "Hearth demo: one team node, its data dir in {} (removed at the end)",
        dir.display()
    );

    step(
        &dir,
        &["init", "--node-id", "demo.team-1", "--level", "team"],
    )?;
    let id_number = sample_id_number(4242);
    step(
        &dir,
        &[
            "case",
            "new",
            "--name",
            "王建国",
            "--id-number",
            &id_number,
            "--household-size",
            "3",
            "--annual-income",
            "36000",
            "--rigid-spending",
            "12000",
            "--subsistence-line",
            "800",
            "--primary-cause",
            "serious_illness",
            "--secondary-cause",
            "child_schooling",
            "--employer",
            "开元电力运维班",
            "--urgent-needs",
            "住院费用",
            "--skills",
            "电工证",
        ],
    )?;
    let id = Node::open(&dir, operator)?
        .store
        .case_summaries()?
        .first()
        .map(|c| c.id.clone())
        .context("the demo case was not stored")?;
    let short = &id[..8];
    let today = jiff::Zoned::now().date();
    let days_ago = |n: i64| (today - jiff::Span::new().days(n)).to_string();
    let (d30, d20, d10, d5) = (days_ago(30), days_ago(20), days_ago(10), days_ago(5));
    step(
        &dir,
        &[
            "member",
            "add",
            short,
            "--relation",
            "spouse",
            "--age",
            "45",
            "--health",
            "慢性病",
        ],
    )?;
    step(
        &dir,
        &[
            "visit",
            "add",
            short,
            "--date",
            &d30,
            "--kind",
            "home",
            "--visitor",
            "李干事",
            "--notes",
            "住院治疗中, 两个孩子上学",
        ],
    )?;
    step(&dir, &["case", "file", short])?;
    step(
        &dir,
        &[
            "assist", "add", short, "--kind", "medical", "--amount", "3000", "--date", &d20,
        ],
    )?;
    step(
        &dir,
        &[
            "loan",
            "add",
            short,
            "--amount",
            "5000",
            "--date",
            &d20,
            "--due",
            &(today + jiff::Span::new().days(345)).to_string(),
        ],
    )?;
    step(
        &dir,
        &["loan", "repay", short, "--amount", "1200", "--date", &d10],
    )?;
    step(
        &dir,
        &[
            "visit",
            "add",
            short,
            "--date",
            &d5,
            "--kind",
            "follow_up",
            "--notes",
            "已出院",
        ],
    )?;

    // A few more households, imported from a spreadsheet.
    let csv = tmp.path().join("cases.csv");
    let mut text = String::from(
        "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,status\n",
    );
    for (n, (name, size, income, rigid, cause)) in [
        ("李梅", 2, 18_000, 2_000, "laid_off"),
        ("张伟", 4, 60_000, 8_000, "unemployed"),
        ("刘洋", 3, 50_000, 0, "natural_disaster"),
        ("陈静", 1, 30_000, 0, "no_work_ability"),
    ]
    .into_iter()
    .enumerate()
    {
        let id_number = sample_id_number(5000 + n as u32);
        text.push_str(&format!(
            "{name},{id_number},{size},{income},{rigid},800,{cause},filed\n"
        ));
    }
    std::fs::write(&csv, text).context("cannot write the demo CSV")?;
    step(&dir, &["case", "import", &csv.to_string_lossy()])?;
    step(&dir, &["case", "list"])?;
    step(&dir, &["case", "show", short])?;

    let raw_in_store = std::fs::read(dir.join(STORE_FILE))
        .map(|bytes| {
            bytes
                .windows(id_number.len())
                .any(|w| w == id_number.as_bytes())
        })
        .unwrap_or(true);
    println!(
        "\nraw ID number in the data dir: {}",
        if raw_in_store {
            "FOUND (this is a bug)"
        } else {
            "none — only its salted hash"
        }
    );
    Ok(())
}
