//! `hearth disclose`: a node's fund for a year as public notices (公示) — Markdown to print and
//! post, CSV for spreadsheets. Names are masked (张*燕); no ID number, address or phone appears.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hearth_archive::ledger::Disclosure;
use hearth_archive::money::format_yuan;

/// Writes the Markdown notice and two CSV files into `dir`; returns their paths.
pub fn write(d: &Disclosure, dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let l = &d.ledger;
    let stem = format!("disclosure-{}-{}", l.node, l.year);
    let md = dir.join(format!("{stem}.md"));
    let income_csv = dir.join(format!("{stem}-income.csv"));
    let payments_csv = dir.join(format!("{stem}-payments.csv"));

    let mut text = format!(
        "# {node} 帮扶资金公示 Hardship fund disclosure {year}\n\n\
         | 项目 Item | 金额 Amount |\n|---|---:|\n\
         | 年初结余 Opening balance | {opening} |\n\
         | 本年收入 Income | {income} |\n\
         | 本年帮扶支出 Aid paid | {paid} |\n\
         | 下拨补助 Grants to lower unions | {granted} |\n\
         | 本年借出 Lent | {lent} |\n\
         | 本年收回借款 Loans repaid | {repaid} |\n\
         | 年末结余 Closing balance | {closing} |\n",
        node = l.node,
        year = l.year,
        opening = format_yuan(l.opening_fen),
        income = format_yuan(l.income_total_fen()),
        paid = format_yuan(l.disbursed_total_fen()),
        granted = format_yuan(l.granted_fen),
        lent = format_yuan(l.lent_fen),
        repaid = format_yuan(l.repaid_fen),
        closing = format_yuan(l.closing_fen),
    );
    text.push_str("\n## 收入 Income\n\n| 日期 Date | 来源 Source | 拨付单位 From | 金额 Amount |\n|---|---|---|---:|\n");
    for (date, source, from, fen) in &d.income {
        text.push_str(&format!(
            "| {date} | {} | {} | {} |\n",
            source.label(),
            from.as_deref().unwrap_or("—"),
            format_yuan(*fen)
        ));
    }
    text.push_str("\n## 帮扶支出 Aid paid\n\n| 日期 Date | 类型 Kind | 受助人 Recipient | 金额 Amount |\n|---|---|---|---:|\n");
    for p in &d.payments {
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.date,
            p.kind.label(),
            p.recipient,
            format_yuan(p.amount_fen)
        ));
    }
    if !d.grants.is_empty() {
        text.push_str(
            "\n## 下拨补助 Grants\n\n| 日期 Date | 下级工会 To | 金额 Amount |\n|---|---|---:|\n",
        );
        for (date, to, fen) in &d.grants {
            text.push_str(&format!("| {date} | {to} | {} |\n", format_yuan(*fen)));
        }
    }
    text.push_str("\n受助人姓名已作脱敏处理，不含身份证号、住址和电话。Names are masked; no ID numbers, addresses or phones.\n");

    let mut income = csv::Writer::from_writer(Vec::new());
    income.write_record(["date", "source", "from_node", "amount_fen"])?;
    for (date, source, from, fen) in &d.income {
        income.write_record([
            date.to_string(),
            source.code().to_owned(),
            from.clone().unwrap_or_default(),
            fen.to_string(),
        ])?;
    }
    let mut payments = csv::Writer::from_writer(Vec::new());
    payments.write_record(["date", "kind", "recipient", "amount_fen"])?;
    for p in &d.payments {
        payments.write_record([
            p.date.to_string(),
            p.kind.code().to_owned(),
            p.recipient.clone(),
            p.amount_fen.to_string(),
        ])?;
    }
    let files = [
        (md, text.into_bytes()),
        (income_csv, income.into_inner()?),
        (payments_csv, payments.into_inner()?),
    ];
    for (path, bytes) in &files {
        fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
