//! Figures: the dashboard (charts of the node's summary), the fund ledger, the disclosure, the
//! neighbours' sync status, and lists as Excel workbooks.

use std::collections::BTreeMap;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_archive::money::format_yuan;
use hearth_ops::{Reply, Request};
use maud::html;
use serde::Deserialize;
use tracing::error;

use super::charts::{bars, by_month};
use super::{Console, Page, l, layout, unexpected};

/// A cell of an exported sheet.
pub(super) enum Cell {
    Text(String),
    /// A count.
    Count(u64),
    /// Fen, written as a number of yuan.
    Yuan(i64),
}

/// `rows` under `headers` as an xlsx workbook, sent as a download named `name.xlsx`.
pub(super) fn xlsx_response(name: &str, headers: &[&str], rows: &[Vec<Cell>]) -> Response {
    match xlsx(headers, rows) {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.xlsx\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            error!(error = %e, "an export could not be written");
            Page::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the workbook could not be made 无法生成表格",
            )
            .into_response()
        }
    }
}

fn xlsx(headers: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let sheet = book.add_worksheet();
    for (col, h) in headers.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, col, *h, &bold)?;
        sheet.set_column_width(col, 18)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (col, cell) in row.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            match cell {
                Cell::Text(t) => sheet.write_string(r, col, t)?,
                Cell::Count(n) => sheet.write_number(r, col, *n as f64)?,
                Cell::Yuan(fen) => {
                    sheet.write_number_with_format(r, col, *fen as f64 / 100.0, &money)?
                }
            };
        }
    }
    book.save_to_buffer()
}

#[derive(Deserialize, Default)]
pub(super) struct Year {
    year: Option<String>,
    format: Option<String>,
}

impl Year {
    fn year(&self) -> Option<String> {
        self.year.clone().filter(|y| !y.trim().is_empty())
    }

    fn xlsx(&self) -> bool {
        self.format.as_deref() == Some("xlsx")
    }
}

fn year_form(to: &str, year: i16) -> maud::Markup {
    html! {
        form.noprint method="get" action=(to) {
            label { (l("年份 Year ")) input name="year" id="year" size="6" value=(year); }
            " " button type="submit" { (l("查看 Show")) }
            " " a href={ (to) "?year=" (year) "&format=xlsx" } id="export" { (l("导出 Excel Export")) }
        }
    }
}

pub(super) async fn stats_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(y): Query<Year>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let summary = match c.ask(&s, Request::Stats { year: y.year() }).await {
        Ok(Reply::Stats(summary)) => summary,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    if y.xlsx() {
        let mut rows: Vec<Vec<Cell>> = vec![per_node(
            &format!("{} (本级 own)", summary.node),
            &summary.own,
        )];
        rows.extend(summary.children.iter().map(|(child, t)| per_node(child, t)));
        rows.push(per_node("合计 Total", &summary.total));
        return xlsx_response(
            &format!("stats-{}", summary.year),
            &[
                "节点 Node",
                "档案 Cases",
                "在档困难户 In hardship",
                "年初 Start of year",
                "新建档 New",
                "脱困 Lifted",
                "结案 Closed",
                "年末 End of year",
                "帮扶户数 Households helped",
                "帮扶金额 Aid paid (yuan)",
            ],
            &rows,
        );
    }
    let t = &summary.total;
    let count = |label: String, n: u64| (label, n as f64, n.to_string());
    fn counts<K: Copy>(m: &BTreeMap<K, u64>, label: fn(K) -> String) -> Vec<(String, f64, String)> {
        m.iter()
            .map(|(k, n)| (label(*k), *n as f64, n.to_string()))
            .collect()
    }
    let grades = counts(&t.by_grade, hearth_archive::Grade::label);
    let causes = counts(&t.by_cause, hearth_archive::Cause::label);
    let statuses = counts(&t.by_status, hearth_archive::Status::label);
    let paid: Vec<_> = t
        .paid_fen
        .iter()
        .map(|(k, fen)| (k.label(), *fen as f64, format_yuan(*fen)))
        .collect();
    let flow = vec![
        count("年初 Start of year".into(), t.start_of_year),
        count("新建档 New".into(), t.filed_this_year),
        count("脱困 Lifted".into(), t.lifted_this_year),
        count("结案 Closed".into(), t.closed_this_year),
        count("年末 End of year".into(), t.end_of_year),
    ];
    let mut nodes = vec![count(
        format!("{} (本级 own)", summary.node),
        summary.own.in_hardship,
    )];
    nodes.extend(
        summary
            .children
            .iter()
            .map(|(child, totals)| count(child.clone(), totals.in_hardship)),
    );
    let body = html! {
        h1 { (l("统计 Dashboard")) }
        p { (summary.node) " (" (l(&summary.level.label())) (l(")，")) (summary.year) (l(" 年；截至 as of "))
            (hearth_archive::calendar::zoned(summary.as_of).strftime("%Y-%m-%d %H:%M")) }
        (year_form("/stats", summary.year))
        table id="totals" {
            tr { th { (l("档案 Cases")) } td { (t.cases) } }
            tr { th { (l("在档困难户 In hardship now")) } td { (t.in_hardship) } }
            tr { th { (l("帮扶户数 Households helped")) } td { (t.households_helped) } }
            tr { th { (l("帮扶人数 People helped")) } td { (t.people_helped) } }
            tr { th { (l("帮扶金额 Aid paid")) } td { (format_yuan(t.paid_total_fen())) } }
            tr { th { (l("走访 Visits")) } td { (t.visits) } }
        }
        (bars("chart-grade", "在档困难户按等级 In hardship by grade", &grades))
        (bars("chart-cause", "在档困难户按主要原因 In hardship by primary cause", &causes))
        (bars("chart-status", "档案按状态 Cases by status", &statuses))
        (bars("chart-flow", "本年变动 The year's flow", &flow))
        (by_month("chart-months", "每月新建档、脱困、结案 Filed, lifted and closed by month", &[
            ("新建档 filed".to_owned(), t.filed_by_month.map(|n| n as f64)),
            ("脱困 lifted".to_owned(), t.lifted_by_month.map(|n| n as f64)),
            ("结案 closed".to_owned(), t.closed_by_month.map(|n| n as f64)),
        ]))
        (by_month("chart-aid-months", "每月帮扶金额（元）按类型 Aid paid by month and kind (yuan)", &t
            .paid_by_month_fen
            .iter()
            .map(|(kind, fen)| (kind.label(), fen.map(|f| f as f64 / 100.0)))
            .collect::<Vec<_>>()))
        (bars("chart-aid", "帮扶金额按类型 Aid paid by kind (yuan)", &paid))
        (bars("chart-nodes", "各节点在档困难户 In hardship per node", &nodes))
    };
    Page(StatusCode::OK, layout("统计 Dashboard", Some(&s), body)).into_response()
}

/// A row of the figures per node.
fn per_node(node: &str, t: &hearth_archive::summary::Totals) -> Vec<Cell> {
    let n = Cell::Count;
    vec![
        Cell::Text(node.to_owned()),
        n(t.cases),
        n(t.in_hardship),
        n(t.start_of_year),
        n(t.filed_this_year),
        n(t.lifted_this_year),
        n(t.closed_this_year),
        n(t.end_of_year),
        n(t.households_helped),
        Cell::Yuan(t.paid_total_fen()),
    ]
}

pub(super) async fn fund_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(y): Query<Year>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    fund(&c, &s, &y, StatusCode::OK, None).await
}

async fn fund(
    c: &Console,
    s: &super::Session,
    y: &Year,
    code: StatusCode,
    refused: Option<String>,
) -> Response {
    let s = s.clone();
    let request = Request::FundShow {
        node: None,
        year: y.year(),
    };
    let ledger = match c.ask(&s, request).await {
        Ok(Reply::Ledger { ledger, .. }) => ledger,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    if y.xlsx() {
        let rows: Vec<Vec<Cell>> = ledger
            .entries
            .iter()
            .map(|(_, e)| {
                vec![
                    Cell::Text(e.date().to_string()),
                    Cell::Text(e.describe()),
                    Cell::Yuan(e.flow_fen()),
                    Cell::Text(format!("{} @ {}", e.stamp().by, e.stamp().node)),
                ]
            })
            .collect();
        return xlsx_response(
            &format!("fund-{}", ledger.year),
            &["日期 Date", "摘要 Entry", "金额 Amount (yuan)", "经办 By"],
            &rows,
        );
    }
    let may_write = hearth_ops::may(
        s.role,
        &Request::Fund(hearth_ops::FundWrite::Budget {
            year: String::new(),
            amount: String::new(),
        }),
    )
    .is_ok();
    let children = c.config.place().children;
    let today = hearth_archive::calendar::day_of(jiff::Timestamp::now()).to_string();
    let body = html! {
        h1 { (l("帮扶资金 Fund of ")) (ledger.node) ", " (ledger.year) }
        @if let Some(why) = &refused { p.error id="error" { (why) } }
        (year_form("/fund", ledger.year))
        table id="fund" { @for (item, amount) in ledger.rows() { tr { th { (l(&item)) } td { (amount) } } } }
        h2 { (l("明细 Entries")) }
        table id="entries" {
            tr { th { (l("日期 Date")) } th { (l("摘要 Entry")) } th { (l("金额 Amount")) } th { (l("经办 By")) } }
            @for (_, e) in &ledger.entries {
                tr { td { (e.date()) } td { (e.describe()) } td { (e.amount_text()) } td { (e.stamp().by) " @ " (e.stamp().node) } }
            }
        }
        @if may_write {
            h2 { (l("记账 Record")) }
            details id="form-income" {
                summary { (l("收入 Income")) }
                form method="post" action="/fund" {
                    (super::write_fields(&s))
                    input type="hidden" name="what" value="income";
                    label.f { span { (l("来源 Source")) } select name="source" id="income-source" {
                        @for src in hearth_archive::IncomeSource::ALL { option value=(src.code()) { (src.label()) } }
                    } }
                    label.f { span { (l("金额（元） Amount (yuan) *")) } input name="amount" id="income-amount" required; }
                    label.f { span { (l("日期 Date *")) } input type="date" name="date" id="income-date" value=(today) required; }
                    label.f { span { (l("说明 Note")) } input name="note" id="income-note"; }
                    button type="submit" id="do-income" { (l("记收入 Record income")) }
                }
            }
            details id="form-budget" {
                summary { (l("年度预算 Budget")) }
                form method="post" action="/fund" {
                    (super::write_fields(&s))
                    input type="hidden" name="what" value="budget";
                    label.f { span { (l("年份 Year *")) } input name="year" id="budget-year" value=(ledger.year) required; }
                    label.f { span { (l("金额（元） Amount (yuan) *")) } input name="amount" id="budget-amount" required; }
                    button type="submit" id="do-budget" { (l("定预算 Set the budget")) }
                }
            }
            @if !children.is_empty() {
                details id="form-grant" {
                    summary { (l("下拨 Grant to a child")) }
                    form method="post" action="/fund" {
                        (super::write_fields(&s))
                        input type="hidden" name="what" value="grant";
                        label.f { span { (l("下级 To")) } select name="to" id="grant-to" {
                            @for child in &children { option value=(child) { (child) } }
                        } }
                        label.f { span { (l("金额（元） Amount (yuan) *")) } input name="amount" id="grant-amount" required; }
                        label.f { span { (l("日期 Date *")) } input type="date" name="date" id="grant-date" value=(today) required; }
                        label.f { span { (l("说明 Note")) } input name="note" id="grant-note"; }
                        button type="submit" id="do-grant" { (l("下拨 Grant")) }
                    }
                }
            }
        }
    };
    Page(code, layout("基金 Fund", Some(&s), body)).into_response()
}

/// A write to the fund posted: carried out, then the fund page again (or why not).
pub(super) async fn fund_write(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let p = super::forms::Posted::new(pairs);
    let s = match c.posted(&headers, &p.text("csrf")) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let w = match p.text("what").as_str() {
        "income" => hearth_ops::FundWrite::Income {
            source: p.text("source"),
            amount: p.text("amount"),
            date: p.text("date"),
            note: p.opt("note"),
        },
        "budget" => hearth_ops::FundWrite::Budget {
            year: p.text("year"),
            amount: p.text("amount"),
        },
        "grant" => hearth_ops::FundWrite::Grant {
            to: p.text("to"),
            amount: p.text("amount"),
            date: p.text("date"),
            note: p.opt("note"),
        },
        _ => {
            return Page::message_for(StatusCode::NOT_FOUND, "no such form 没有这个表单", Some(&s))
                .into_response();
        }
    };
    match c.ask_keyed(&s, p.opt("key"), Request::Fund(w)).await {
        Ok(_) => axum::response::Redirect::to("/fund").into_response(),
        Err((code, why)) => fund(&c, &s, &Year::default(), code, Some(why)).await,
    }
}

pub(super) async fn disclosure_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(y): Query<Year>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let year = y.year().unwrap_or_else(|| {
        hearth_archive::calendar::day_of(jiff::Timestamp::now())
            .year()
            .to_string()
    });
    let d = match c.ask(&s, Request::Disclose { year }).await {
        Ok(Reply::Disclosure(d)) => d,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    if y.xlsx() {
        let rows: Vec<Vec<Cell>> = d
            .payments
            .iter()
            .map(|p| {
                vec![
                    Cell::Text(p.date.to_string()),
                    Cell::Text(p.kind.label()),
                    Cell::Text(p.recipient.clone()),
                    Cell::Yuan(p.amount_fen),
                ]
            })
            .collect();
        return xlsx_response(
            &format!("disclosure-{}", d.ledger.year),
            &[
                "日期 Date",
                "类型 Kind",
                "受助人 Recipient",
                "金额 Amount (yuan)",
            ],
            &rows,
        );
    }
    let body = html! {
        h1 { (l("帮扶资金公示 Disclosure: ")) (d.ledger.node) ", " (d.ledger.year) }
        (year_form("/disclosure", d.ledger.year))
        p.noprint { button type="button" id="print" onclick="window.print()" { (l("打印 / 存为 PDF Print or save as PDF")) } }
        table id="fund" { @for (item, amount) in d.ledger.rows() { tr { th { (l(&item)) } td { (amount) } } } }
        h2 { (l("收入 Income")) }
        table id="income" {
            tr { th { (l("日期 Date")) } th { (l("来源 Source")) } th { (l("金额 Amount")) } }
            @for (date, source, from, fen) in &d.income {
                tr { td { (date) } td { (l(&source.label())) @if let Some(f) = from { " (" (f) ")" } } td { (format_yuan(*fen)) } }
            }
        }
        h2 { (l("下拨 Grants")) }
        table id="grants" {
            tr { th { (l("日期 Date")) } th { (l("下级 To")) } th { (l("金额 Amount")) } }
            @for (date, to, fen) in &d.grants { tr { td { (date) } td { (to) } td { (format_yuan(*fen)) } } }
        }
        h2 { (l("帮扶 Aid paid")) }
        table id="payments" {
            tr { th { (l("日期 Date")) } th { (l("类型 Kind")) } th { (l("受助人 Recipient")) } th { (l("金额 Amount")) } }
            @for p in &d.payments { tr { td { (p.date) } td { (l(&p.kind.label())) } td { (p.recipient) } td { (format_yuan(p.amount_fen)) } } }
        }
    };
    Page(StatusCode::OK, layout("公示 Disclosure", Some(&s), body)).into_response()
}

fn ago(t: Option<std::time::SystemTime>) -> String {
    match t.and_then(|t| t.elapsed().ok()) {
        Some(d) if d.as_secs() < 120 => format!("{} 秒前 s ago", d.as_secs()),
        Some(d) if d.as_secs() < 7200 => format!("{} 分钟前 min ago", d.as_secs() / 60),
        Some(d) => format!("{} 小时前 h ago", d.as_secs() / 3600),
        None => "从未 never".into(),
    }
}

pub(super) async fn sync_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let peers = match c.node.status().await {
        Ok(peers) => peers,
        Err(e) => {
            return Page::message_for(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), Some(&s))
                .into_response();
        }
    };
    let body = html! {
        h1 { (l("同步状态 Sync with the neighbours")) }
        @if peers.is_empty() { p id="none" { (l("没有邻居节点 No neighbour configured (hearth peer add)")) } }
        @else {
            table id="peers" {
                tr { th { (l("节点 Node")) } th { (l("关系 Relation")) } th { (l("连接 Connected")) } th { (l("最近联系 Last heard")) } th { (l("待发送 Backlog")) } th { (l("最近错误 Last error")) } }
                @for p in &peers {
                    tr {
                        td { (p.id) }
                        td { (format!("{:?}", p.relation).to_lowercase()) }
                        td { @if p.connected { (l("✓ 已连接 connected")) } @else { (l("✗ 未连接 not connected")) } }
                        td { (ago(p.last_heard)) }
                        td { (p.backlog) }
                        td.error { (p.last_error.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    Page(StatusCode::OK, layout("同步 Sync", Some(&s), body)).into_response()
}

/// The policy in force and every version; at the top node an admin sets a new version (its
/// TOML, as `hearth policy set` reads it).
pub(super) async fn policy_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    policy(&c, &s, StatusCode::OK, None, None).await
}

async fn policy(
    c: &Console,
    s: &super::Session,
    code: StatusCode,
    refused: Option<String>,
    typed: Option<String>,
) -> Response {
    let (in_force, versions) = match c.ask(s, Request::ShowPolicy { date: None }).await {
        Ok(Reply::Policy { in_force, versions }) => (in_force, versions),
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    let may_set = hearth_ops::may(
        s.role,
        &Request::SetPolicy {
            toml: String::new(),
        },
    )
    .is_ok()
        && c.config.place().parents.is_empty();
    let p = &in_force;
    let body = html! {
        h1 { (l("政策 Policy")) }
        @if let Some(why) = &refused { p.error id="error" { (why) } }
        p id="in-force" { (p.label()) @if !p.set_node.is_empty() { " — " (p.set_by) " @ " (p.set_node) } }
        table id="policy" {
            @for (region, line) in &p.subsistence_lines_fen {
                tr { th { (l("低保标准 Subsistence line ")) (region) } td { (format_yuan(*line)) } }
            }
            @for (kind, cap) in &p.yearly_caps_fen {
                tr { th { (l("年度上限 Yearly cap ")) (l(&kind.label())) } td { (format_yuan(*cap)) } }
            }
            tr { th { (l("一次性救助上限 One-off cap")) } td { (format_yuan(p.one_off_cap_fen)) } }
            @for (level, amount) in &p.authority_fen {
                tr { th { (l("审批权限 Authority ")) (l(&level.label())) }
                     td { @if *amount == i64::MAX { (l("不限 no limit")) } @else { (format_yuan(*amount)) } } }
            }
            tr { th { (l("建档审批层级 Filing approved at")) } td { (l(&p.filing_level.label())) } }
            tr { th { (l("公示工作日 Notice, working days")) } td { (p.notice_working_days) } }
            tr { th { (l("借款上限 Loan limit")) } td { (format_yuan(p.loan_limit_fen)) } }
        }
        h2 { (l("各版本 Versions")) }
        ul id="versions" { @for v in &versions { li { (v.label()) } } }
        @if may_set {
            h2 { (l("新版本 A new version")) }
            p { (l("粘贴政策文件（TOML，与 hearth policy set 相同），生效后同步到全联合会。Paste the policy file (TOML, as hearth policy set reads it); it reaches the whole federation through sync.")) }
            form method="post" action="/policy" {
                input type="hidden" name="csrf" value=(s.csrf);
                textarea name="toml" id="policy-toml" rows="16" cols="80" required { (typed.unwrap_or_default()) }
                br;
                button type="submit" id="do-policy" { (l("发布 Set")) }
            }
        }
    };
    Page(code, layout("政策 Policy", Some(s), body)).into_response()
}

#[derive(Deserialize)]
pub(super) struct PolicyForm {
    toml: String,
    csrf: String,
}

/// A new policy version posted (an admin's, at the top node; the operations refuse others).
pub(super) async fn set_policy(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<PolicyForm>,
) -> Response {
    let s = match c.posted(&headers, &f.csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    match c
        .ask_keyed(
            &s,
            None,
            Request::SetPolicy {
                toml: f.toml.clone(),
            },
        )
        .await
    {
        Ok(_) => axum::response::Redirect::to("/policy").into_response(),
        Err((code, why)) => policy(&c, &s, code, Some(why), Some(f.toml)).await,
    }
}

/// Who opened which case file (admins and auditors), newest first, 200 to a page.
pub(super) async fn access_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(after): Query<After>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let page = hearth_ops::PageRequest {
        size: Some(200),
        token: after.after.filter(|t| !t.is_empty()),
    };
    let log = match c.ask(&s, Request::AccessLog { page }).await {
        Ok(Reply::AccessLog(log)) => log,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    let body = html! {
        h1 { (l("查阅记录 Who opened which file")) }
        p { (l("只记账户与档案号，不记个人信息。The account and the case id only, no personal data.")) }
        table id="access" {
            tr { th { (l("时间 When")) } th { (l("账户 Account")) } th { (l("档案号 Case")) } }
            @for e in &log.items {
                tr {
                    td { (hearth_archive::calendar::zoned(e.at).strftime("%Y-%m-%d %H:%M:%S")) }
                    td { (e.account) }
                    td { a href={ "/case/" (e.case) } { (e.case) } }
                }
            }
        }
        @if let Some(next) = &log.next {
            p { a href={ "/access?after=" (next) } id="next" { (l("更早 Older")) } }
        }
    };
    Page(
        StatusCode::OK,
        layout("查阅记录 Access log", Some(&s), body),
    )
    .into_response()
}

#[derive(Deserialize, Default)]
pub(super) struct After {
    after: Option<String>,
}
