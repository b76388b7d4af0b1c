//! Issue 15: the union's rules as a new user meets them on the command line. Every item the
//! issue found broken is repeated here: it now works as the rules say, or it is refused with
//! exit 2, one line, and nothing written ([`Node::refused`] checks all three).

use hearth_archive::identity::sample_id_number;
use serde_json::Value;

use super::{Node, chain, chain_steps, day, file_wang, must, must_json, team_and_branch};

/// Runs each line of `lines` at `node`; each must succeed.
fn run_all(node: &Node, lines: Vec<Vec<String>>) {
    for line in lines {
        let args: Vec<&str> = line.iter().map(String::as_str).collect();
        node.ok(&args);
    }
}

/// A new case for household `n` with `income` a year (3 people, line 800, no rigid spending)
/// and `extra` flags; returns its id.
fn open(node: &Node, n: u32, income: &str, extra: &[&str]) -> String {
    let id_number = sample_id_number(n);
    let mut args = vec![
        "case",
        "new",
        "--name",
        "赵六",
        "--id-number",
        &id_number,
        "--household-size",
        "3",
        "--annual-income",
        income,
        "--rigid-spending",
        "0",
        "--subsistence-line",
        "800",
        "--primary-cause",
        "serious_illness",
    ];
    args.extend_from_slice(extra);
    node.json(&args)["id"].as_str().unwrap().to_owned()
}

/// A CSV of `rows` cases on file, each with its filing day (the `filed_on` column).
fn filed_csv(node: &Node, name: &str, rows: &[(u32, &str)]) -> std::path::PathBuf {
    let mut text = String::from(
        "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,status,filed_on\n",
    );
    for (n, filed_on) in rows {
        text.push_str(&format!(
            "职工{n},{},3,12000,0,800,laid_off,filed,{filed_on}\n",
            sample_id_number(*n)
        ));
    }
    let path = node.tmp.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_chain_runs_forwards_and_only_a_superior_files_or_returns() {
    // A team under a branch.
    let node = Node::init();
    node.ok(&["peer", "add", "--id", "demo.branch", "--relation", "parent"]);
    let id = open(&node, 1, "12000", &[]);
    // Filing straight away: refused, naming every missing step.
    let line = node.refused(&["case", "file", &id]);
    for step in [
        "grassroots review",
        "--consent",
        "civil-affairs",
        "public notice",
    ] {
        assert!(line.contains(step), "{line}");
    }
    // Steps out of order: the check before the review and the consented visit.
    let line = node.refused(&["case", "step", &id, "civil_check", "--result", "matched"]);
    assert!(line.contains("comes after"), "{line}");
    // A notice that has not ended yet.
    let today = day(0);
    let steps: Vec<Vec<String>> = chain_steps(&id)
        .into_iter()
        .map(|l| {
            l.into_iter()
                .map(|a| if a == day(-21) { today.clone() } else { a })
                .collect()
        })
        .collect();
    run_all(&node, steps);
    let line = node.refused(&["case", "file", &id]);
    assert!(line.contains("the public notice runs until"), "{line}");
    // An objection during a notice: a new notice after it is looked into.
    let other = open(&node, 2, "12000", &[]);
    run_all(&node, chain_steps(&other));
    node.ok(&[
        "case",
        "step",
        &other,
        "objection",
        "--date",
        &day(-20),
        "--note",
        "邻居反映其有经营收入",
    ]);
    let line = node.refused(&["case", "file", &other]);
    assert!(line.contains("an objection was raised"), "{line}");

    // Not eligible: only on an override, which the approving level signs off.
    let rich = open(&node, 3, "200000", &[]);
    run_all(&node, chain_steps(&rich));
    let line = node.refused(&["case", "file", &rich]);
    assert!(
        line.contains("not eligible") && line.contains("--override"),
        "{line}"
    );
    let submitted = node.json(&["case", "file", &rich, "--override", "突发重病，收入已中断"]);
    assert_eq!(submitted["status"], "under_review");
    assert_eq!(submitted["reported_to"], "demo.branch");

    // The team neither files, approves, nor returns its own case.
    let line = node.refused(&["case", "decide", &rich, "--decision", "approve"]);
    assert!(line.contains("approved at the branch"), "{line}");
    let line = node.refused(&[
        "case",
        "transition",
        &rich,
        "--to",
        "filed",
        "--reason",
        "x",
    ]);
    assert!(line.contains("approving level approves"), "{line}");
    let line = node.refused(&[
        "case",
        "decide",
        &rich,
        "--decision",
        "return",
        "--note",
        "补充材料",
    ]);
    assert!(line.contains("only a superior returns"), "{line}");
    let line = node.refused(&[
        "case",
        "transition",
        &rich,
        "--to",
        "returned",
        "--reason",
        "x",
    ]);
    assert!(line.contains("only a superior returns"), "{line}");
}

#[test]
fn money_stays_within_the_rules() {
    // A team (authority 1,000) under a branch, 100,000 in its fund.
    let team = Node::init();
    team.ok(&["peer", "add", "--id", "demo.branch", "--relation", "parent"]);
    let draft = open(&team, 1, "12000", &[]);
    let line = team.refused(&[
        "assist",
        "add",
        &draft,
        "--kind",
        "living",
        "--amount",
        "500",
        "--date",
        &day(0),
    ]);
    assert!(line.contains("先建档、后帮扶"), "{line}");
    team.ok(&[
        "assist",
        "add",
        &draft,
        "--kind",
        "emergency",
        "--amount",
        "500",
        "--date",
        &day(0),
    ]);
    // A case on file already (imported from the paper files, with its filing day).
    let csv = filed_csv(&team, "filed.csv", &[(2, "2025-03-01")]);
    let filed = team.json(&["case", "import", csv.to_str().unwrap()])["ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let line = team.refused(&[
        "assist",
        "add",
        &filed,
        "--kind",
        "living",
        "--amount",
        "3000",
        "--date",
        &day(0),
    ]);
    assert!(
        line.contains("above the team 班组 authority of 1,000.00")
            && line.contains("assist approve"),
        "{line}"
    );

    // An enterprise at the top (authority 20,000): caps per case and year, medical aid.
    let top = Node::init_as("demo.enterprise", "enterprise", "47000");
    let csv = filed_csv(&top, "filed.csv", &[(3, "2025-03-01"), (4, "2025-03-01")]);
    let ids: Vec<String> = top.json(&["case", "import", csv.to_str().unwrap()])["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let id = &ids[0];
    top.ok(&[
        "assist",
        "add",
        id,
        "--kind",
        "one_off",
        "--amount",
        "10000",
        "--date",
        &day(-1),
    ]);
    let line = top.refused(&[
        "assist",
        "add",
        id,
        "--kind",
        "one_off",
        "--amount",
        "10000",
        "--date",
        &day(0),
    ]);
    assert!(
        line.contains("over the yearly cap of 10,000.00") && !line.contains("split"),
        "{line}"
    );
    top.ok(&["case", "edit", id, "--medical-costs", "1000"]);
    let line = top.refused(&[
        "assist",
        "add",
        id,
        "--kind",
        "medical",
        "--amount",
        "5000",
        "--date",
        &day(0),
    ]);
    assert!(line.contains("at most 1,000.00 more"), "{line}");

    // Loans draw the fund (37,000 left).
    let line = top.refused(&[
        "loan",
        "add",
        id,
        "--amount",
        "100000",
        "--date",
        &day(0),
        "--due",
        &day(200),
    ]);
    assert!(line.contains("above the loan limit"), "{line}");
    let line = top.refused(&[
        "loan",
        "add",
        id,
        "--amount",
        "100000",
        "--date",
        &day(0),
        "--due",
        &day(200),
        "--override",
        "急需",
    ]);
    assert!(
        line.contains("holds 37,000.00, less than the 100,000.00"),
        "{line}"
    );
    top.ok(&[
        "loan",
        "add",
        id,
        "--amount",
        "5000",
        "--date",
        &day(-60),
        "--due",
        &day(-30),
    ]);
    let fund = top.json(&["fund", "show"]);
    assert_eq!(fund["balance_fen"], 32_000_00);
    assert_eq!(fund["outstanding_fen"], 5_000_00);
    assert_eq!(fund["overdue_fen"], 5_000_00);
    let line = top.refused(&[
        "loan",
        "add",
        id,
        "--amount",
        "1000",
        "--date",
        &day(0),
        "--due",
        &day(200),
    ]);
    assert!(
        line.contains("overdue since") && line.contains("--override"),
        "{line}"
    );
    top.ok(&[
        "loan",
        "add",
        id,
        "--amount",
        "1000",
        "--date",
        &day(0),
        "--due",
        &day(200),
        "--override",
        "子女学费，主席批准",
    ]);
    let shown = top.ok(&["fund", "show"]);
    assert!(
        shown.contains("Lent out now 借出未还") && shown.contains("6,000.00"),
        "{shown}"
    );
    let listed = top.ok(&["loan", "list"]);
    assert!(listed.contains("repeat borrower, overdue"), "{listed}");
    let line = top.refused(&[
        "case",
        "transition",
        id,
        "--to",
        "closed",
        "--reason",
        "调离",
    ]);
    assert!(line.contains("6,000.00 of loans outstanding"), "{line}");
    top.ok(&[
        "case",
        "transition",
        id,
        "--to",
        "closed",
        "--reason",
        "调离",
        "--outstanding-reason",
        "新单位工会代扣",
    ]);
    let listed = top.ok(&["loan", "list"]);
    assert!(listed.contains("closed with money outstanding"), "{listed}");
}

#[test]
fn grading_follows_the_standard_and_the_policy_sets_it() {
    let node = Node::init_top();
    // An accident as the primary cause with income six times the line: not eligible.
    let rich = open(&node, 1, "172800", &[]);
    node.ok(&["case", "edit", &rich, "--primary-cause", "accident"]);
    let case = node.json(&["case", "show", &rich]);
    assert_eq!(case["grade"], "not_eligible");
    // Medical costs above the income: hardship by accident, not "not eligible".
    let ill = open(&node, 2, "60000", &["--medical-costs", "70000"]);
    let case = node.json(&["case", "show", &ill]);
    assert_eq!(case["grade"], "accident", "{}", case["grading"]);
    // A car excludes the household.
    node.ok(&["case", "edit", &ill, "--exclusions", "car"]);
    assert_eq!(node.json(&["case", "show", &ill])["grade"], "not_eligible");
    // On the line: not below it by the built-in standard; the policy may say at or below.
    let on_line = open(&node, 3, "28800", &[]);
    assert_eq!(node.json(&["case", "show", &on_line])["grade"], "relative");
    let file = node.tmp.path().join("policy.toml");
    std::fs::write(
        &file,
        "effective_from = \"2026-01-01\"\n[grading]\ncomparison = \"at_or_below\"\nrelative_multiplier = \"1.5\"\n",
    )
    .unwrap();
    node.ok(&["policy", "set", "--file", file.to_str().unwrap()]);
    // The new standard grades a case on its next write, and case show says which graded it.
    node.ok(&["case", "edit", &on_line, "--phone", "13900000000"]);
    let case = node.json(&["case", "show", &on_line]);
    assert_eq!(case["grade"], "deep");
    assert_eq!(case["grading"]["standard"]["version"], 1);
    let shown = node.ok(&["case", "show", &on_line]);
    assert!(
        shown.contains("graded by 评定依据 policy version 1"),
        "{shown}"
    );
    assert!(shown.contains("800.00 ≤ line 800.00"), "{shown}");
}

#[test]
fn the_year_of_seed_003_adds_up_with_the_cli() {
    // Seed 003_615057004f9b46f5.txt: 72 households on file at the start of 2017, 3 new, 15
    // out (here 10 lifted, 5 closed), 60 at the end.
    let node = Node::init_top();
    let mut rows: Vec<(u32, &str)> = (1..=72).map(|n| (n, "2016-03-01")).collect();
    rows.extend((73..=75).map(|n| (n, "2017-06-01")));
    let csv = filed_csv(&node, "2017.csv", &rows);
    let ids: Vec<String> = node.json(&["case", "import", csv.to_str().unwrap()])["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for (n, id) in ids.iter().take(15).enumerate() {
        let (to, on) = if n < 10 {
            ("lifted", "2017-11-30")
        } else {
            ("closed", "2017-12-31")
        };
        node.ok(&[
            "case",
            "transition",
            id,
            "--to",
            to,
            "--reason",
            "年度动态管理",
            "--date",
            on,
        ]);
    }
    let s = node.json(&["stats", "--year", "2017"]);
    let own = &s["own"];
    assert_eq!(own["start_of_year"], 72, "{own}");
    assert_eq!(own["filed_this_year"], 3);
    assert_eq!(own["lifted_this_year"], 10);
    assert_eq!(own["closed_this_year"], 5);
    assert_eq!(own["end_of_year"], 60);
    let table = node.ok(&["stats", "--year", "2017"]);
    assert!(table.contains("On file 1 Jan 2017 年初在档户数"), "{table}");
    // Now: 60 households in hardship; the 15 that left are under no grade.
    let now = node.json(&["stats"]);
    assert_eq!(now["own"]["in_hardship"], 60);
    let graded: u64 = now["own"]["by_grade"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(graded, 60);
    // An import without filing days counts on the day of the import, flagged.
    let undated = node.tmp.path().join("undated.csv");
    std::fs::write(
        &undated,
        format!(
            "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,status\n职工99,{},2,6000,0,800,laid_off,filed\n",
            sample_id_number(99)
        ),
    )
    .unwrap();
    node.ok(&["case", "import", undated.to_str().unwrap()]);
    let now: Value = node.json(&["stats"]);
    assert_eq!(now["own"]["filed_on_estimated"], 1);
    // The whole chain once more, for a household filed today.
    let id = open(&node, 100, "12000", &[]);
    run_all(&node, chain(&id));
    node.ok(&["case", "decide", &id, "--decision", "approve"]);
    assert_eq!(node.json(&["case", "show", &id])["filed_on"], day(0));
}

/// Carries what `from` holds for `to` in a signed bundle (no network between them).
fn carry(root: &std::path::Path, from: &str, to_dir: &str, to_node: &str) {
    let file = root.join(format!("{from}-to-{to_dir}-{}.hearth", day(0)));
    let _ = std::fs::remove_file(&file);
    must(
        &root.join(from),
        &[
            "bundle",
            "export",
            "--for",
            to_node,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    must(
        &root.join(to_dir),
        &["bundle", "import", file.to_str().unwrap()],
    );
}

#[test]
fn the_branch_files_what_the_team_submits_and_a_conflict_tells_its_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    team_and_branch(root);
    let (t1, br) = (root.join("t1"), root.join("br"));
    // The team runs the chain and submits; the branch, above it, files it.
    let id = file_wang(&t1);
    carry(root, "t1", "br", "demo.branch");
    let line = must(
        &br,
        &[
            "case",
            "decide",
            &id,
            "--decision",
            "approve",
            "--note",
            "同意建档",
        ],
    );
    assert!(line.contains("now filed 建档"), "{line}");
    // Aid of 3,000 at the team (authority 1,000) waits for the branch's approval.
    must(
        &t1,
        &[
            "fund",
            "income",
            "--source",
            "budget",
            "--amount",
            "10000",
            "--date",
            "2026-01-05",
        ],
    );
    carry(root, "br", "t1", "demo.team-1");
    let aid = [
        "assist",
        "add",
        &id,
        "--kind",
        "living",
        "--amount",
        "3000",
        "--date",
        &day(0),
    ];
    let refused = super::hearth(&t1, &aid);
    assert_eq!(refused.status.code(), Some(2));
    must(
        &br,
        &[
            "assist",
            "approve",
            &id,
            "--kind",
            "living",
            "--amount",
            "3000",
            "--note",
            "住院期间",
        ],
    );
    carry(root, "br", "t1", "demo.team-1");
    let paid = must(&t1, &aid);
    assert!(
        paid.contains("on approval") && paid.contains("demo.branch"),
        "{paid}"
    );

    // Both change the annual income offline; after the bundles cross, the case says so.
    must(&t1, &["case", "edit", &id, "--annual-income", "20000"]);
    must(&br, &["case", "edit", &id, "--annual-income", "50000"]);
    carry(root, "t1", "br", "demo.branch");
    carry(root, "br", "t1", "demo.team-1");
    let shown = must(&t1, &["case", "show", &id]);
    assert!(shown.contains("⚠ in conflict 冲突中"), "{shown}");
    assert!(
        shown.contains("20,000.00 (caseworker li at demo.team-1)")
            && shown.contains("50,000.00 (caseworker li at demo.branch)"),
        "{shown}"
    );
    assert!(shown.contains("computed from the values shown"), "{shown}");
    let case = must_json(&t1, &["case", "show", &id]);
    let conflict = case["conflicts"][0]["id"].as_str().unwrap().to_owned();
    let resolved = must(&t1, &["conflicts", "resolve", &conflict, "--pick", "1"]);
    assert!(!resolved.contains("000000"), "money in yuan: {resolved}");
}

/// Issue 16, first part: the people of a node. A password is shown once and kept only as its
/// Argon2id hash; bad input is refused with one line.
#[test]
fn accounts_keep_only_a_hash_and_refuse_bad_input() {
    let node = Node::init_top();
    let added = node.json(&["user", "add", "李干事", "--role", "caseworker"]);
    let password = added["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 16);
    assert_eq!(added["role"], "caseworker");
    for (args, expected) in [
        (
            &["user", "add", "李干事", "--role", "admin"][..],
            "exists already",
        ),
        (&["user", "add", "王", "--role", "boss"], "unknown role"),
        (&["user", "disable", "nobody"], "no account"),
    ] {
        let out = super::hearth(&node.data(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    node.ok(&["user", "disable", "李干事"]);
    let listed = node.json(&["user", "list"]);
    let accounts = listed.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["disabled"], true);
    assert!(accounts[0].get("password_hash").is_none(), "{listed}");
    let reset = node.json(&["user", "reset-password", "李干事"]);
    let new = reset["password"].as_str().unwrap();
    assert_ne!(new, password);
    // Neither password is anywhere in the data dir, in any form a file could hold it.
    for (path, bytes) in super::all_bytes(&node.data()) {
        for secret in [password.as_str(), new] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a password",
                path.display()
            );
        }
    }
}

/// A wrong record is corrected or voided with a reason, never erased: the command line's
/// `assist correct` and `case void`, their refusals, and `case history` naming who did each.
#[test]
fn records_are_corrected_and_voided_with_a_reason_and_kept() {
    let node = Node::init_top();
    let id = node.filed_case(&[]);
    let today = day(0);
    let paid = node.json(&[
        "assist", "add", &id, "--kind", "living", "--amount", "1000", "--date", &today,
    ]);
    let record = paid["assistance"].as_str().unwrap().to_owned();
    // Refused: no reason, a record that is not there; nothing written.
    let line = node.refused(&[
        "assist", "correct", &id, &record, "--reason", " ", "--amount", "800",
    ]);
    assert!(line.contains("reason"), "{line}");
    let line = node.refused(&["case", "void", &id, "ffffff", "--reason", "不对"]);
    assert!(line.contains("ffffff"), "{line}");

    let corrected = node.json(&[
        "assist",
        "correct",
        &id,
        &record,
        "--reason",
        "金额录入有误",
        "--amount",
        "800",
    ]);
    assert_eq!(corrected["amount_fen"], 800_00);
    assert_eq!(corrected["assistance_total_fen"], 800_00);
    assert_eq!(corrected["corrects"], record.as_str());
    let fund = node.json(&["fund", "show"]);
    assert_eq!(
        fund["balance_fen"], 99_200_00,
        "the fund paid 800 in all: {fund}"
    );
    let line = node.refused(&["case", "void", &id, &record, "--reason", "again"]);
    assert!(line.contains("voided already"), "{line}");

    // The visit of the chain is voided; the case shows it kept, marked, with why.
    let shown = node.json(&["case", "show", &id]);
    let visit = shown["visits"][0]["id"].as_str().unwrap().to_owned();
    let voided = node.json(&["case", "void", &id, &visit, "--reason", "走访对象有误"]);
    assert_eq!(voided["voided"]["reason"], "走访对象有误");
    let text = node.ok(&["case", "show", &id]);
    assert!(
        text.contains("Voided 已作废") && text.contains("走访对象有误"),
        "{text}"
    );
    assert!(text.contains("corrects 更正"), "{text}");

    let history = node.json(&["case", "history", &id]);
    let changes = history["changes"].as_array().unwrap();
    let whats: Vec<&str> = changes
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats.first(), Some(&"case new"), "{whats:?}");
    assert_eq!(
        whats.iter().filter(|w| **w == "record void").count(),
        2,
        "{whats:?}"
    );
    assert!(
        changes.iter().all(|c| c["node"] == "demo.branch-1"),
        "{history}"
    );
    let text = node.ok(&["case", "history", &id]);
    assert!(
        text.contains("修改记录") && text.contains("assist add"),
        "{text}"
    );
    // Every `case show` above is in the access log, with who and which case only.
    let log = node.json(&["access-log"]);
    let opened = log.as_array().unwrap();
    assert_eq!(opened.len(), 2, "{log}");
    assert!(
        opened
            .iter()
            .all(|e| e["case"] == id.as_str() && e["account"].is_string())
    );
}
