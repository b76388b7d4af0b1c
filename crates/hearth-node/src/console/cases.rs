//! Cases: the list with its filters, pages and search, the case page with every section and a
//! form for every write, a new case, the printable file, the list as a spreadsheet.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_archive::codes::{Cause, Grade, Status};
use hearth_archive::conflict::QueueEntry;
use hearth_archive::money::format_yuan;
use hearth_archive::{CaseSummary, CaseView};
use hearth_ops::{self as ops, ListFilter, PageRequest, Reply, Request, Write};
use maud::{Markup, html};
use serde::Deserialize;
use tracing::info;

use super::forms::{self, Action, Field, Input, Posted};
use super::{Console, Page, Session, l, layout, unexpected};

/// Cases a page of the list holds.
const PAGE: u32 = 50;

/// The list's filters and page, as the address carries them (never a search text: a search
/// is posted, so an ID number typed stays out of addresses and logs).
#[derive(Deserialize, Default)]
pub(super) struct Filters {
    status: Option<String>,
    grade: Option<String>,
    cause: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

impl Filters {
    fn filter(&self, text: Option<String>) -> ListFilter {
        let some = |v: &Option<String>| v.clone().filter(|x| !x.is_empty());
        ListFilter {
            status: some(&self.status),
            grade: some(&self.grade),
            cause: some(&self.cause),
            text,
            sort: some(&self.sort),
        }
    }

    /// The address of this list from the page after `token`.
    fn address(&self, path: &str, token: Option<&str>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("grade", &self.grade),
            ("cause", &self.cause),
            ("sort", &self.sort),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        if let Some(t) = token {
            parts.push(format!("after={}", encode(t)));
        }
        if parts.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes a value for an address.
pub(super) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct FindForm {
    q: String,
    csrf: String,
}

pub(super) async fn home(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    cases_page(&c, &s, None, &f, "/").await
}

/// A search posted, not put in the address: an ID number typed stays out of the browser's
/// history and of any proxy's log.
pub(super) async fn find(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<FindForm>,
) -> Response {
    let s = match c.posted(&headers, &f.csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    cases_page(&c, &s, Some(f.q), &Filters::default(), "/find").await
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> String,
    chosen: Option<&str>,
) -> Markup {
    html! {
        option value="" { "全部 All" }
        @for v in all {
            option value=(code(*v)) selected[chosen == Some(code(*v))] { (label(*v)) }
        }
    }
}

async fn cases_page(
    c: &Console,
    s: &Session,
    q: Option<String>,
    f: &Filters,
    path: &str,
) -> Response {
    let q = q.filter(|q| !q.trim().is_empty());
    let page = PageRequest {
        size: Some(PAGE),
        token: f.after.clone().filter(|t| !t.is_empty()),
    };
    let request = Request::ListCases {
        filter: f.filter(q.clone()),
        page,
    };
    let cases = match c.ask(s, request).await {
        Ok(Reply::Cases(p)) => p,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    let body = html! {
        h1 { (l("案件 Cases")) }
        p.noprint { a href="/new" id="new-case" { (l("新建档案 New case")) } " · " a href="/import" id="import" { (l("导入 Import from Excel or CSV")) } }
        form method="post" action="/find" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { (l("查找 Find ")) input name="q" id="q" size="40" value=(q.clone().unwrap_or_default()) placeholder="姓名、电话、案件号或身份证号 name, phone, case id or ID number"; }
            " "
            button type="submit" id="find" { (l("查找 Find")) }
        }
        p { (l("身份证号只用于查找，不保存。An ID number typed here is used to find the file and is not kept.")) }
        form method="get" action="/" id="filters" {
            label { (l("状态 Status ")) select name="status" id="f-status" { (options(Status::ALL, Status::code, Status::label, f.status.as_deref())) } }
            " "
            label { (l("等级 Grade ")) select name="grade" id="f-grade" { (options(Grade::ALL, Grade::code, Grade::label, f.grade.as_deref())) } }
            " "
            label { (l("原因 Cause ")) select name="cause" id="f-cause" { (options(Cause::ALL, Cause::code, Cause::label, f.cause.as_deref())) } }
            " "
            label { (l("排序 Order ")) select name="sort" id="f-sort" {
                @for (code, label) in [
                    ("opened", "建档先后 Opened"),
                    ("name", "姓名 Name"),
                    ("status", "状态 Status"),
                    ("grade", "等级 Grade"),
                    ("filed", "建档日期 Filed on"),
                    ("aid", "帮扶金额 Aid"),
                ] {
                    option value=(code) selected[f.sort.as_deref() == Some(code)] { (label) }
                }
            } }
            " "
            button type="submit" id="filter" { (l("筛选 Filter")) }
            " "
            a href=(f.address("/cases.xlsx", None)) id="export" { (l("导出 Excel Export")) }
        }
        (case_table(&cases.items))
        @if let Some(next) = &cases.next {
            @if q.is_some() {
                p { (l("仅显示前 ")) (PAGE) (l(" 条 Only the first ")) (PAGE) " are shown; narrow the search." }
            } @else {
                p { a href=(f.address(path, Some(next))) id="next" { (l("下一页 Next page")) } }
            }
        }
    };
    Page(StatusCode::OK, layout("案件 Cases", Some(s), body)).into_response()
}

pub(super) fn case_table(cases: &[CaseSummary]) -> Markup {
    html! {
        @if cases.is_empty() {
            p id="none" { (l("没有找到 No case found")) }
        } @else {
            table id="cases" {
                tr { th { (l("档案号 Case")) } th { (l("姓名 Name")) } th { (l("状态 Status")) } th { (l("等级 Grade")) } th { (l("建档日期 Filed")) } th { (l("已帮扶 Aid")) } }
                @for c in cases {
                    tr {
                        td { a href={ "/case/" (c.id) } { (c.id) } }
                        td { (c.name.clone().unwrap_or_default()) }
                        td { (l(&c.status.label())) }
                        td { (c.grade.map(|g| g.label()).unwrap_or_else(|| "—".into())) }
                        td { (c.filed_on.map(|d| d.to_string()).unwrap_or_default()) }
                        td { (format_yuan(c.assistance_total_fen)) }
                    }
                }
            }
        }
    }
}

/// The list, as filtered, every page of it, as an Excel workbook.
pub(super) async fn export(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let cases = match super::queue::every_page(
        &c,
        &s,
        |page| Request::ListCases {
            filter: f.filter(None),
            page,
        },
        |r| match r {
            Reply::Cases(p) => Some(p),
            _ => None,
        },
    )
    .await
    {
        Ok(cases) => cases,
        Err(refused) => return refused,
    };
    use super::reports::Cell;
    let rows: Vec<Vec<Cell>> = cases
        .iter()
        .map(|c| {
            vec![
                Cell::Text(c.id.clone()),
                Cell::Text(c.name.clone().unwrap_or_default()),
                Cell::Text(c.status.label()),
                Cell::Text(c.grade.map(|g| g.label()).unwrap_or_default()),
                Cell::Text(c.primary_cause.map(|k| k.label()).unwrap_or_default()),
                Cell::Text(c.filed_on.map(|d| d.to_string()).unwrap_or_default()),
                Cell::Yuan(c.assistance_total_fen),
                Cell::Yuan(c.outstanding_fen),
            ]
        })
        .collect();
    info!(target: "hearth::access", account = %s.account, rows = rows.len(), "exported the case list");
    super::reports::xlsx_response(
        "cases",
        &[
            "档案号 Case",
            "姓名 Name",
            "状态 Status",
            "等级 Grade",
            "主要原因 Cause",
            "建档日期 Filed on",
            "已帮扶 Aid (yuan)",
            "借款未还 Outstanding (yuan)",
        ],
        &rows,
    )
}

/// The form of a new case.
pub(super) async fn new_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let action = Action {
        code: "new",
        label: "新建档案 New case",
        fields: forms::case_fields(None),
    };
    let body = html! {
        h1 { (l("新建档案 New case")) }
        (form_of(&s, "/new", &action, true))
    };
    Page(StatusCode::OK, layout("新建档案 New case", Some(&s), body)).into_response()
}

/// A new case posted: the case page once it is made.
pub(super) async fn create(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let p = Posted::new(pairs);
    let s = match c.posted(&headers, &p.text("csrf")) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let write = Write::NewCase {
        form: forms::case_form(&p, false),
    };
    match c
        .ask_keyed(&s, p.opt("key"), Request::Write(Box::new(write)))
        .await
    {
        Ok(Reply::Case { written, .. }) => {
            Redirect::to(&format!("/case/{}?done=new", written.case.id)).into_response()
        }
        Ok(other) => unexpected(&other),
        Err((code, text)) => Page::message_for(code, &text, Some(&s)).into_response(),
    }
}

/// The largest import file the console takes.
pub(super) const IMPORT_LIMIT: usize = 64 << 20;

/// The import form: a CSV or xlsx file, all of it or none.
pub(super) async fn import_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    import_form(&s, StatusCode::OK, None, None)
}

fn import_form(
    s: &Session,
    code: StatusCode,
    refused: Option<&str>,
    imported: Option<&[String]>,
) -> Response {
    let body = html! {
        h1 { (l("导入档案 Import cases")) }
        @if let Some(why) = refused { p.error id="error" { (why) } }
        @if let Some(ids) = imported {
            p.done id="done" { (l("已导入 Imported ")) (ids.len()) (l(" 户 cases")) }
            ul id="imported" { @for id in ids { li { a href={ "/case/" (id) } { (id) } } } }
        }
        p { (l("Excel 表格（xlsx，第一个工作表）或 CSV（UTF-8 或 GBK）；第一行为列名，中文或英文均可。整份文件要么全部导入，要么一户也不导入，并列出每一行的问题。"))
            br;
            "An Excel workbook (xlsx, its first sheet) or a CSV file (UTF-8 or GBK); the first line names the columns, in Chinese or English. The whole file imports, or nothing does and every bad line is named." }
        p { (l("必填列 Required: 姓名 name, 身份证号 id_number, 家庭人口 household_size, 家庭年收入 annual_income, 刚性支出 rigid_spending, 低保标准 subsistence_line, 致困原因 primary_cause")) }
        form method="post" action="/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="file" name="file" id="import-file" accept=".csv,.xlsx" required;
            " "
            button type="submit" id="do-import" { (l("导入 Import")) }
        }
    };
    Page(code, layout("导入 Import", Some(s), body)).into_response()
}

/// An import file posted: read by the same reader as `case import`, imported all or none.
pub(super) async fn import(
    State(c): State<Console>,
    headers: HeaderMap,
    mut form: axum::extract::Multipart,
) -> Response {
    let (mut csrf, mut file) = (String::new(), None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().unwrap_or("upload").to_owned();
                match field.bytes().await {
                    Ok(bytes) if name == "csrf" => {
                        csrf = String::from_utf8_lossy(&bytes).into_owned();
                    }
                    Ok(bytes) if name == "file" => file = Some((file_name, bytes)),
                    Ok(_) => {}
                    Err(e) => return Page::message(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "the upload broke off: {e}; send the file again 上传中断，请重新上传"
                        ),
                    )
                    .into_response(),
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Page::message(
                    StatusCode::BAD_REQUEST,
                    &format!("the upload broke off: {e}; send the file again 上传中断，请重新上传"),
                )
                .into_response();
            }
        }
    }
    let s = match c.posted(&headers, &csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return import_form(
            &s,
            StatusCode::BAD_REQUEST,
            Some("choose a file to import 请选择文件"),
            None,
        );
    };
    let rows = match ops::rows_of_file(&name, &bytes) {
        Ok(rows) => rows,
        Err(e) => return import_form(&s, StatusCode::BAD_REQUEST, Some(&e.to_string()), None),
    };
    match c.ask_keyed(&s, None, Request::Import { rows }).await {
        Ok(Reply::Imported(ids)) => {
            info!(target: "hearth::access", account = %s.account, cases = ids.len(), "imported cases");
            import_form(&s, StatusCode::OK, None, Some(&ids))
        }
        Ok(other) => unexpected(&other),
        Err((code, why)) => import_form(&s, code, Some(&why), None),
    }
}

/// What happened on the case page before it was shown.
enum Notice {
    None,
    /// A form was carried out (its label).
    Done(String),
    /// A form was refused, with why.
    Refused(String),
}

#[derive(Deserialize, Default)]
pub(super) struct Shown {
    done: Option<String>,
}

pub(super) async fn case_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let notice = match shown.done {
        Some(code) => Notice::Done(code),
        None => Notice::None,
    };
    show_case(&c, &s, &id, notice, StatusCode::OK, false).await
}

/// The case file as a document to print (or save as PDF from the browser's print dialog).
pub(super) async fn print_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    show_case(&c, &s, &id, Notice::None, StatusCode::OK, true).await
}

/// A form of the case page posted: carried out, then the case page again (with what was done,
/// or why it was refused).
pub(super) async fn act(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let p = Posted::new(pairs);
    let s = match c.posted(&headers, &p.text("csrf")) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let Some(write) = forms::write_of(&action, &id, &p) else {
        return Page::message_for(StatusCode::NOT_FOUND, "no such form 没有这个表单", Some(&s))
            .into_response();
    };
    match c
        .ask_keyed(&s, p.opt("key"), Request::Write(Box::new(write)))
        .await
    {
        Ok(Reply::Case { written, .. }) => {
            Redirect::to(&format!("/case/{}?done={action}", written.case.id)).into_response()
        }
        Ok(other) => unexpected(&other),
        Err((code, text)) => show_case(&c, &s, &id, Notice::Refused(text), code, false).await,
    }
}

async fn show_case(
    c: &Console,
    s: &Session,
    id: &str,
    notice: Notice,
    code: StatusCode,
    print: bool,
) -> Response {
    let (v, advice) = match c.ask(s, Request::GetCase { case: id.into() }).await {
        Ok(Reply::Case { written, advice }) => (written.case, advice),
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    // Who opened whose file: the account and the case id, never the person's data.
    info!(target: "hearth::access", account = %s.account, case = %v.id, print, "opened a case file");
    let conflicts: Vec<QueueEntry> = match c
        .ask(
            s,
            Request::Conflicts {
                all: false,
                page: PageRequest {
                    size: Some(ops::PAGE_MAX),
                    token: None,
                },
            },
        )
        .await
    {
        Ok(Reply::Conflicts(p)) => p.items.into_iter().filter(|q| q.case == v.id).collect(),
        _ => Vec::new(),
    };
    let changes = match c.ask(s, Request::History { case: v.id.clone() }).await {
        Ok(Reply::History { changes, .. }) => changes,
        _ => Vec::new(),
    };
    let title = format!("{} {}", v.worker.name.clone().unwrap_or_default(), v.id);
    let today = hearth_archive::calendar::day_of(jiff::Timestamp::now());
    let actions: Vec<Action> = if print {
        Vec::new()
    } else {
        forms::case_actions(Some(&v), today)
            .into_iter()
            .filter(|a| may_act(s, a.code, &v.id))
            .collect()
    };
    let body = html! {
        @match &notice {
            Notice::Done(code) => p.done id="done" { (l("已保存 Saved: ")) (l(&label_of(code))) },
            Notice::Refused(text) => p.error id="error" { (text) },
            Notice::None => {},
        }
        @if print {
            p.noprint { button type="button" id="print" onclick="window.print()" { (l("打印 / 存为 PDF Print or save as PDF")) } }
        } @else {
            p.noprint { a href={ "/case/" (v.id) "/print" } id="print-link" { (l("打印档案 Print the file")) } }
        }
        (case_body(&v, &advice.policy, &conflicts, (!print && may_act(s, "void", &v.id)).then_some(s)))
        h2 { (l("修改记录 Every change")) }
        table id="changes" {
            tr { th { (l("时间 At")) } th { (l("操作 Change")) } th { (l("经办 By")) } th { (l("节点 Node")) } }
            @for ch in &changes {
                tr { td { (when(ch.at)) } td { (ch.what) } td { (opt(&ch.by)) } td { (opt(&ch.node)) } }
            }
        }
        @if !actions.is_empty() {
            h2.noprint { (l("办理 Actions")) }
            @for a in &actions {
                details.noprint id={ "form-" (a.code) } open[matches!(&notice, Notice::Refused(_))] {
                    summary { (l(a.label)) }
                    (form_of(s, &format!("/case/{}/{}", v.id, a.code), a, false))
                }
            }
        }
    };
    Page(code, layout(&title, Some(s), body)).into_response()
}

/// Whether the session's role may use the form `code` at all (the operations layer decides
/// again on what is posted).
fn may_act(s: &Session, code: &str, case: &str) -> bool {
    let empty = Posted::new(vec![("step".into(), "civil_check".into())]);
    forms::write_of(code, case, &empty)
        .is_some_and(|w| ops::may(s.role, &Request::Write(Box::new(w))).is_ok())
}

/// The label of the form `code` (for "saved").
fn label_of(code: &str) -> String {
    match code {
        "new" => return "新建档案 New case".into(),
        "void" => return "作废记录 Void a record".into(),
        "correct" => return "更正帮扶记录 Correct an aid record".into(),
        _ => {}
    }
    let today = hearth_archive::calendar::day_of(jiff::Timestamp::now());
    forms::case_actions(None, today)
        .into_iter()
        .find(|a| a.code == code)
        .map_or_else(|| code.to_owned(), |a| a.label.to_owned())
}

/// A form: its fields, the CSRF token, a request key of its own and, when editing, what each
/// field held.
fn form_of(s: &Session, to: &str, a: &Action, new: bool) -> Markup {
    html! {
        form method="post" action=(to) id={ "f-" (a.code) } {
            (super::write_fields(s))
            @for f in &a.fields {
                (field_of(a.code, f, !new && a.code == "edit"))
            }
            button type="submit" id={ "do-" (a.code) } { (l(a.label)) }
        }
    }
}

fn field_of(form: &str, f: &Field, keep_was: bool) -> Markup {
    let id = format!("{form}-{}", f.name);
    let kind = match f.input {
        Input::Date => "date",
        Input::Month => "month",
        Input::Number => "number",
        _ => "text",
    };
    html! {
        label.f {
            span { (l(f.label)) @if f.required { " *" } }
            @match &f.input {
                Input::Area => textarea name=(f.name) id=(id) rows="2" cols="50" { (f.value) },
                Input::Check => input type="checkbox" name=(f.name) id=(id) value="yes";,
                Input::Pick(list) => select name=(f.name) id=(id) {
                    @for (code, label) in list {
                        option value=(code) selected[*code == f.value] { (label) }
                    }
                },
                Input::Money => input name=(f.name) id=(id) value=(f.value) inputmode="decimal" required[f.required];,
                _ => input type=(kind) name=(f.name) id=(id) value=(f.value) required[f.required];,
            }
        }
        @if keep_was {
            input type="hidden" name={ "was:" (f.name) } value=(f.value);
        }
    }
}

fn yuan(v: Option<i64>) -> String {
    v.map(format_yuan).unwrap_or_else(|| "—".into())
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn when(t: Option<jiff::Timestamp>) -> String {
    t.map(|t| {
        hearth_archive::calendar::zoned(t)
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// The forms that correct or void record `record` (aid: correct too), for a person who may.
fn record_forms(s: Option<&Session>, case: &str, record: &str, aid: bool) -> Markup {
    let Some(s) = s else {
        return html! {};
    };
    let to = |what: &str| format!("/case/{case}/{what}");
    html! {
        details.noprint {
            summary { @if aid { (l("更正/作废 Correct or void")) } @else { (l("作废 Void")) } }
            @if aid {
                form method="post" action=(to("correct")) {
                    (super::write_fields(s))
                    input type="hidden" name="record" value=(record);
                    label.f { span { (l("正确金额 Right amount")) } input name="amount" id={ "correct-amount-" (record) } inputmode="decimal"; }
                    label.f { span { (l("正确日期 Right date")) } input type="date" name="date" id={ "correct-date-" (record) }; }
                    label.f { span { (l("更正理由 Why *")) } input name="reason" id={ "correct-reason-" (record) } required; }
                    button type="submit" id={ "do-correct-" (record) } { (l("更正 Correct")) }
                }
            }
            form method="post" action=(to("void")) {
                (super::write_fields(s))
                input type="hidden" name="record" value=(record);
                label.f { span { (l("作废理由 Why it is voided *")) } input name="reason" id={ "void-reason-" (record) } required; }
                button type="submit" id={ "do-void-" (record) } { (l("作废 Void")) }
            }
        }
    }
}

/// Rows of the case page whose values are codes with their Chinese labels (`deep 深度困难`),
/// which the English switch shortens; every other value is the person's data, shown as it is.
const CODED: &[&str] = &[
    "状态 Status",
    "困难等级 Grade",
    "性别 Gender",
    "排除情形 Exclusions",
];

fn coded(row: &str, value: &str) -> Markup {
    if CODED.contains(&row) {
        l(value)
    } else {
        html! { (value) }
    }
}

fn case_body(
    v: &CaseView,
    policy: &str,
    conflicts: &[QueueEntry],
    writer: Option<&Session>,
) -> Markup {
    let w = &v.worker;
    let f = &v.finances;
    let rows: Vec<(&str, String)> = vec![
        ("档案号 Case", v.id.clone()),
        ("状态 Status", v.status.label()),
        (
            "建档日期 Filed on",
            v.filed_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "困难等级 Grade",
            v.grade.map(|g| g.label()).unwrap_or_else(|| "—".into()),
        ),
        ("评定依据 Basis", opt(&v.grading.basis)),
        ("责任单位 Home", v.home.clone()),
        ("持有节点 Held at", v.participants.join(", ")),
    ];
    let person: Vec<(&str, String)> = vec![
        ("姓名 Name", opt(&w.name)),
        (
            "性别 Gender",
            w.gender.map(|g| g.label()).unwrap_or_default(),
        ),
        (
            "出生年份 Born",
            w.birth_year.map(|y| y.to_string()).unwrap_or_default(),
        ),
        ("电话 Phone", opt(&w.phone)),
        ("住址 Address", opt(&w.address)),
        ("工作单位 Employer", opt(&w.employer)),
        ("岗位 Job", opt(&w.job)),
        ("地区 Region", opt(&w.region)),
        (
            "共同生活人口 Household",
            v.household
                .size
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "排除情形 Exclusions",
            v.household
                .exclusions
                .iter()
                .map(|e| e.label())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    let money: Vec<(&str, String)> = vec![
        ("年可支配收入 Income", yuan(f.annual_income_fen)),
        ("刚性支出 Rigid spending", yuan(f.rigid_spending_fen)),
        ("致困支出 Hardship costs", yuan(f.hardship_costs_fen)),
        ("自付医疗费 Medical costs", yuan(f.medical_costs_fen)),
        ("赔偿保险 Compensation", yuan(f.compensation_fen)),
        ("低保标准 Subsistence line", yuan(f.subsistence_line_fen)),
        ("申请金额 Aid requested", yuan(f.aid_request_fen)),
        (
            "人均月收入 Per person/month",
            yuan(v.grading.per_capita_monthly_fen),
        ),
        ("已帮扶合计 Aid paid", format_yuan(v.assistance_total_fen)),
    ];
    let causes = v
        .causes
        .primary
        .iter()
        .chain(v.causes.secondary.iter())
        .map(|c| c.label())
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        h1 id="case-title" { (opt(&w.name)) " " small { (v.id) } }
        @if !conflicts.is_empty() {
            p.conflict id="conflicts" {
                (l("⚠ 冲突中 In conflict: "))
                @for q in conflicts { a href="/conflicts" { (q.field) } " (" (q.id) ") " }
            }
        }
        table id="case" { @for (k, val) in &rows { tr { th { (l(k)) } td { (coded(k, val)) } } } }
        h2 { (l("基本情况 The worker and household")) }
        table id="person" { @for (k, val) in &person { tr { th { (l(k)) } td { (coded(k, val)) } } } }
        @if !v.household.members.is_empty() {
            table id="members" {
                tr { th { (l("关系 Relation")) } th { (l("年龄 Age")) } th { (l("健康 Health")) } th { (l("职业 Occupation")) } }
                @for m in &v.household.members {
                    tr { td { (m.relation) } td { (m.age.map(|a| a.to_string()).unwrap_or_default()) } td { (opt(&m.health)) } td { (opt(&m.occupation)) } td { (record_forms(writer, &v.id, &m.id, false)) } }
                }
            }
        }
        h2 { (l("收支 Finances")) }
        table id="finances" { @for (k, val) in &money { tr { th { (l(k)) } td { (val) } } } }
        h2 { (l("致困原因与需求 Causes and needs")) }
        table id="causes" {
            tr { th { (l("致困原因 Causes")) } td { (causes) } }
            tr { th { (l("其他 Other")) } td { (opt(&v.causes.other_text)) } }
            tr { th { (l("急需 Urgent needs")) } td { (opt(&v.profile.urgent_needs)) } }
            tr { th { (l("技能 Skills")) } td { (opt(&v.profile.skills)) } }
            tr { th { (l("就业意愿 Employment wishes")) } td { (opt(&v.profile.employment_wishes)) } }
            tr { th { (l("思想状况 State of mind")) } td { (opt(&v.profile.state_of_mind)) } }
        }
        h2 { (l("建档与审批 Filing steps and decisions")) }
        table id="approvals" {
            tr { th { (l("步骤 Step")) } th { (l("日期 Date")) } th { (l("结果 Result")) } th { (l("经办 By")) } th { (l("节点 Node")) } th { (l("说明 Note")) } }
            @for a in &v.approvals {
                tr {
                    td { (opt(&a.step)) " " (opt(&a.decision)) }
                    td { (a.date.map(|d| d.to_string()).unwrap_or_else(|| when(a.at))) @if let Some(u) = a.until { " – " (u) } }
                    td { (a.result.map(|r| r.label()).unwrap_or_default()) (a.amount_fen.map(|f| format!(" {}", format_yuan(f))).unwrap_or_default()) }
                    td { (opt(&a.by)) }
                    td { (opt(&a.node)) }
                    td { (opt(&a.note)) }
                }
            }
        }
        h2 { (l("走访 Visits")) }
        table id="visits" {
            tr { th { (l("日期 Date")) } th { (l("类型 Kind")) } th { (l("走访人 Visitor")) } th { (l("同意 Consent")) } th { (l("记录 Notes")) } }
            @for x in &v.visits {
                tr { td { (x.date) } td { (l(&x.kind.label())) } td { (opt(&x.visitor)) } td { @if x.consent { "✓" } } td { (opt(&x.notes)) } td { (record_forms(writer, &v.id, &x.id, false)) } }
            }
        }
        h2 { (l("帮扶记录 Assistance")) }
        table id="assistance" {
            tr { th { (l("编号 Record")) } th { (l("日期 Date")) } th { (l("类型 Kind")) } th { (l("金额 Amount")) } th { (l("经办 By")) } th { (l("说明 Note")) } }
            @for a in &v.assistance {
                tr {
                    td { (a.id) }
                    td { (a.date) }
                    td { (l(&a.kind.label())) }
                    td { (format_yuan(a.amount_fen)) }
                    td { (opt(&a.by)) " @ " (opt(&a.node)) }
                    td { (opt(&a.note)) @if let Some(old) = &a.corrects { (l(" 更正 corrects ")) (old) } }
                    td { (record_forms(writer, &v.id, &a.id, true)) }
                }
            }
        }
        @if !v.voided.is_empty() {
            h2 { (l("已作废 Voided (kept, counted nowhere)")) }
            table id="voided" {
                tr { th { (l("编号 Record")) } th { (l("原记录 Was")) } th { (l("理由 Reason")) } th { (l("经办 By")) } th { (l("时间 At")) } }
                @for x in &v.voided {
                    tr { td { (x.id) } td { (x.what) } td { (x.reason) } td { (opt(&x.by)) " @ " (opt(&x.node)) } td { (when(x.at)) } }
                }
            }
        }
        h2 { (l("借款 Loans")) }
        table id="loans" {
            tr { th { (l("编号 Loan")) } th { (l("借出 Date")) } th { (l("到期 Due")) } th { (l("金额 Principal")) } th { (l("已还 Repaid")) } th { (l("未还 Outstanding")) } }
            @for l in &v.loans {
                tr { td { (l.id) } td { (l.date) } td { (l.due_date.map(|d| d.to_string()).unwrap_or_default()) } td { (format_yuan(l.principal_fen)) } td { (format_yuan(l.repaid_fen)) } td { (format_yuan(l.outstanding_fen)) } }
            }
        }
        h2 { (l("年审 Reviews")) }
        table id="reviews" {
            tr { th { (l("日期 Date")) } th { (l("结论 Result")) } th { (l("审核人 Reviewer")) } th { (l("记录 Notes")) } }
            @for r in &v.reviews {
                tr { td { (r.date) } td { (l(&r.result.label())) } td { (opt(&r.reviewer)) } td { (opt(&r.notes)) } td { (record_forms(writer, &v.id, &r.id, false)) } }
            }
        }
        h2 { (l("上报 Escalation")) }
        p { (l("目标层级 Target level: ")) (v.escalation.target_level.map(|l| l.label()).unwrap_or_else(|| "—".into())) }
        table id="escalation" {
            tr { th { (l("从 From")) } th { (l("至 To")) } th { (l("理由 Reason")) } th { (l("经办 By")) } th { (l("时间 At")) } }
            @for e in &v.escalation.trail {
                tr { td { (opt(&e.from)) } td { (opt(&e.to)) } td { (opt(&e.reason)) } td { (opt(&e.by)) } td { (when(e.at)) } }
            }
        }
        h2 { (l("状态记录 History")) }
        table id="history" {
            tr { th { (l("至 To")) } th { (l("生效 On")) } th { (l("经办 By")) } th { (l("节点 Node")) } th { (l("时间 At")) } th { (l("理由 Reason")) } }
            @for h in &v.status_history {
                tr { td { (l(&h.to.label())) } td { (h.on.map(|d| d.to_string()).unwrap_or_default()) } td { (opt(&h.by)) } td { (opt(&h.node)) } td { (when(h.at)) } td { (opt(&h.reason)) } }
            }
        }
        p { (l("建档人 Opened by ")) (opt(&v.created_by)) " " (when(v.created_at)) (l("; 政策 Policy: ")) (policy) }
    }
}
