//! Work queues: the cases the policy sends higher than they have gone (escalated together in
//! one step), and the conflict queue with its sides side by side, resolved with one action.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_archive::conflict::{ConflictKind, QueueEntry};
use hearth_archive::due::DueKind;
use hearth_ops::{PAGE_MAX, PageRequest, Reply, Request, Resolve, Write};
use maud::html;
use serde::Deserialize;

use super::forms::Posted;
use super::{Console, Page, Session, l, layout, new_token, unexpected};

/// Cases to escalate shown on one page: a million cases may have hundreds of thousands.
const PENDING_PAGE: u32 = 100;

/// One page of the cases `case pending` lists, after `after` (a token of the page before).
async fn pending_cases_after(
    c: &Console,
    s: &Session,
    after: Option<String>,
) -> Result<hearth_ops::Page<(hearth_archive::CaseSummary, hearth_archive::policy::Advice)>, Response>
{
    let page = PageRequest {
        size: Some(PENDING_PAGE),
        token: after.filter(|t| !t.is_empty()),
    };
    match c.ask(s, Request::Pending { page }).await {
        Ok(Reply::Pending(p)) => Ok(p),
        Ok(other) => Err(unexpected(&other)),
        Err(page) => Err(page.into_response()),
    }
}

/// Every case `case pending` lists, with the level it must reach and why.
async fn pending_cases(
    c: &Console,
    s: &Session,
) -> Result<Vec<(hearth_archive::CaseSummary, hearth_archive::policy::Advice)>, Response> {
    every_page(
        c,
        s,
        |page| Request::Pending { page },
        |r| match r {
            Reply::Pending(p) => Some(p),
            _ => None,
        },
    )
    .await
}

pub(super) async fn pending_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(f): Query<Format>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    if f.format.as_deref() == Some("xlsx") {
        use super::reports::Cell;
        let cases = match pending_cases(&c, &s).await {
            Ok(cases) => cases,
            Err(refused) => return refused,
        };
        let rows: Vec<Vec<Cell>> = cases
            .iter()
            .map(|(case, advice)| {
                vec![
                    Cell::Text(case.id.clone()),
                    Cell::Text(case.name.clone().unwrap_or_default()),
                    Cell::Text(case.grade.map(|g| g.label()).unwrap_or_default()),
                    Cell::Text(advice.must_reach.map(|l| l.label()).unwrap_or_default()),
                    Cell::Text(
                        advice
                            .requirements
                            .iter()
                            .map(|r| r.reason.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                ]
            })
            .collect();
        return super::reports::xlsx_response(
            "pending",
            &[
                "档案号 Case",
                "姓名 Name",
                "等级 Grade",
                "须达 Must reach",
                "依据 Why",
            ],
            &rows,
        );
    }
    pending(&c, &s, None, f.after).await
}

/// A page of the pending list (after the token `after`), with what the last bulk escalation
/// did.
async fn pending(
    c: &Console,
    s: &Session,
    outcome: Option<(usize, Vec<(String, String)>)>,
    after: Option<String>,
) -> Response {
    let page = match pending_cases_after(c, s, after.clone()).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let cases = page.items;
    let body = html! {
        h1 { (l("待上报 Cases to escalate")) }
        p.noprint { a href="/pending?format=xlsx" id="export" { (l("导出 Excel Export")) } }
        @if let Some((done, refused)) = &outcome {
            p.done id="escalated" { (l("已上报 Escalated: ")) (done) }
            @if !refused.is_empty() {
                table id="not-escalated" {
                    tr { th { (l("档案号 Case")) } th { (l("未上报原因 Not escalated because")) } }
                    @for (case, why) in refused { tr { td { (case) } td.error { (why) } } }
                }
            }
        }
        @if cases.is_empty() {
            p id="none" { (l("没有待上报的案件 Nothing to escalate")) }
        } @else {
            form method="post" action="/pending" {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="after" value=(after.clone().unwrap_or_default());
                table id="pending" {
                    tr { th { (l("上报 Send")) } th { (l("档案号 Case")) } th { (l("姓名 Name")) } th { (l("等级 Grade")) } th { (l("须达 Must reach")) } th { (l("依据 Why")) } }
                    @for (case, advice) in &cases {
                        tr {
                            td { input type="checkbox" name="case" value=(case.id) checked; }
                            td { a href={ "/case/" (case.id) } { (case.id) } }
                            td { (case.name.clone().unwrap_or_default()) }
                            td { (case.grade.map(|g| g.label()).unwrap_or_default()) }
                            td { (advice.must_reach.map(|l| l.label()).unwrap_or_default()) }
                            td { (advice.requirements.iter().map(|r| r.reason.clone()).collect::<Vec<_>>().join("; ")) }
                        }
                    }
                }
                label { (l("理由 Reason ")) input name="reason" id="reason" size="50" value="按政策上报 escalated as the policy requires" required; }
                " "
                button type="submit" id="escalate-all" { (l("上报所选 Escalate the ticked cases")) }
            }
            @if let Some(next) = &page.next {
                p { a href={ "/pending?after=" (super::cases::encode(next)) } id="next" { (l("下一页 Next page")) } }
            }
        }
    };
    Page(StatusCode::OK, layout("待上报 Pending", Some(s), body)).into_response()
}

/// Escalates every ticked case to the level the policy says, one write each; what could not be
/// escalated is listed with why.
pub(super) async fn escalate_all(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let ticked: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "case")
        .map(|(_, v)| v.clone())
        .collect();
    let p = Posted::new(pairs);
    let s = match c.posted(&headers, &p.text("csrf")) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    // The ticked cases were on the page the form came from: that page again says what each
    // must reach now (a case escalated meanwhile is no longer on it).
    let after = Some(p.text("after")).filter(|a| !a.is_empty());
    let levels = match pending_cases_after(&c, &s, after.clone()).await {
        Ok(page) => page.items,
        Err(refused) => return refused,
    };
    let (mut done, mut refused) = (0, Vec::new());
    for case in ticked {
        let Some(level) = levels
            .iter()
            .find(|(c, _)| c.id == case)
            .and_then(|(_, a)| a.must_reach)
        else {
            refused.push((case, "no longer pending 已不需上报".to_owned()));
            continue;
        };
        let write = Write::Escalate {
            case: case.clone(),
            to_level: level.code().to_owned(),
            reason: p.text("reason"),
            via: None,
        };
        let key = format!("bulk-{}", &new_token()[..24]);
        match c
            .ask_keyed(&s, Some(key), Request::Write(Box::new(write)))
            .await
        {
            Ok(_) => done += 1,
            Err((_, why)) => refused.push((case, why)),
        }
    }
    pending(&c, &s, Some((done, refused)), after).await
}

#[derive(Deserialize, Default)]
pub(super) struct Which {
    all: Option<String>,
}

pub(super) async fn conflicts_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(which): Query<Which>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    conflicts(&c, &s, which.all.is_some(), None).await
}

fn when(at: i64) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| {
            hearth_archive::calendar::zoned(t)
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn conflicts(c: &Console, s: &Session, all: bool, refused: Option<String>) -> Response {
    let request = Request::Conflicts {
        all,
        page: PageRequest {
            size: Some(PAGE_MAX),
            token: None,
        },
    };
    let list = match c.ask(s, request).await {
        Ok(Reply::Conflicts(p)) => p.items,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    let may_resolve = hearth_ops::may(
        s.role,
        &Request::Resolve {
            conflict: String::new(),
            how: Resolve::Pick(1),
        },
    )
    .is_ok();
    let body = html! {
        h1 { (l("冲突 Conflicts")) }
        @if let Some(why) = &refused { p.error id="error" { (why) } }
        p {
            @if all { a href="/conflicts" { (l("只看未解决 Open only")) } } @else { a href="/conflicts?all=1" { (l("全部 All, resolved too")) } }
        }
        @if !may_resolve { p { (l("只有管理员可以解决冲突。Only an admin resolves conflicts.")) } }
        @if list.is_empty() { p id="none" { (l("没有冲突 No conflict")) } }
        @for q in &list { (conflict_card(s, q, may_resolve)) }
    };
    Page(StatusCode::OK, layout("冲突 Conflicts", Some(s), body)).into_response()
}

fn conflict_card(s: &Session, q: &QueueEntry, may_resolve: bool) -> maud::Markup {
    let open = q.is_open() && may_resolve;
    let action = format!("/conflicts/{}", q.id);
    html! {
        section.conflict-card id={ "conflict-" (q.id) } {
            h2 { (q.field) " — " a href={ "/case/" (q.case) } { (q.case) } }
            p { (l("冲突编号 Conflict ")) code { (q.id) } @if let Some(r) = &q.route { (l("；应由 to be resolved at ")) (r) } }
            table.sides {
                tr { th { "#" } th { (l("值 Value")) } th { (l("经办 By")) } th { (l("节点 Node")) } th { (l("时间 At")) } @if open { th {} } }
                @for (n, side) in q.sides.iter().enumerate() {
                    tr {
                        td { (n + 1) }
                        td.value { (side.value) }
                        td { (side.by.clone().unwrap_or_default()) }
                        td { (side.node.clone().unwrap_or_default()) }
                        td { (when(side.at)) }
                        @if open && q.kind() == ConflictKind::Field {
                            td {
                                form method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    input type="hidden" name="pick" value=(n + 1);
                                    button type="submit" id={ "pick-" (q.id) "-" (n + 1) } { (l("采用此值 Keep this")) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(r) = &q.resolution {
                p.done { (l("已解决 Resolved: ")) (r.how) " — " (r.by.clone().unwrap_or_default()) " @ " (r.node.clone().unwrap_or_default()) " " (when(r.at)) }
            } @else if open {
                @match q.kind() {
                    ConflictKind::Field => form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label { (l("或写入新值 Or write a new value ")) input name="value" id={ "value-" (q.id) }; }
                        " " button type="submit" { (l("写入 Write")) }
                    },
                    ConflictKind::Invariant => form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label { (l("确认说明 Acknowledge with a note ")) input name="acknowledge" id={ "note-" (q.id) } required; }
                        " " button type="submit" { (l("确认 Acknowledge")) }
                    },
                    ConflictKind::Duplicate => form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label { (l("合并到档案 Merge into case ")) input name="merge_into" id={ "merge-" (q.id) } required; }
                        " " button type="submit" { (l("合并 Merge")) }
                    },
                }
            }
        }
    }
}

/// A conflict resolved with one action: a side kept, a value written, a broken rule
/// acknowledged or duplicates merged.
pub(super) async fn resolve(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let p = Posted::new(pairs);
    let s = match c.posted(&headers, &p.text("csrf")) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let how = if let Some(n) = p.opt("pick") {
        match n.parse() {
            Ok(n) => Resolve::Pick(n),
            Err(_) => {
                return conflicts(
                    &c,
                    &s,
                    false,
                    Some(format!("side {n:?} is not a number 不是编号")),
                )
                .await;
            }
        }
    } else if let Some(v) = p.opt("value") {
        Resolve::Value(v)
    } else if let Some(note) = p.opt("acknowledge") {
        Resolve::Acknowledge(note)
    } else if let Some(case) = p.opt("merge_into") {
        Resolve::MergeInto(case)
    } else {
        return conflicts(
            &c,
            &s,
            false,
            Some("choose a side, a value, a note or a case 请选择处理方式".into()),
        )
        .await;
    };
    match c
        .ask_keyed(&s, None, Request::Resolve { conflict: id, how })
        .await
    {
        Ok(Reply::Conflict(_)) => Redirect::to("/conflicts?all=1").into_response(),
        Ok(other) => unexpected(&other),
        Err((StatusCode::FORBIDDEN, why)) => {
            Page::message_for(StatusCode::FORBIDDEN, &why, Some(&s)).into_response()
        }
        Err((_, why)) => conflicts(&c, &s, false, Some(why)).await,
    }
}

#[derive(Deserialize, Default)]
pub(super) struct Format {
    format: Option<String>,
    /// The page token of a paged list.
    after: Option<String>,
}

/// Every page of a listing, in order.
pub(super) async fn every_page<T>(
    c: &Console,
    s: &Session,
    ask: impl Fn(PageRequest) -> Request,
    take: impl Fn(Reply) -> Option<hearth_ops::Page<T>>,
) -> Result<Vec<T>, Response> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let request = ask(PageRequest {
            size: Some(PAGE_MAX),
            token,
        });
        let page = match c.ask(s, request).await {
            Ok(reply) => match take(reply) {
                Some(page) => page,
                None => {
                    return Err(Page::message(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the node answered with another list",
                    )
                    .into_response());
                }
            },
            Err(page) => return Err(page.into_response()),
        };
        all.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(all),
        }
    }
}

/// 动态管理: reviews due, households that may be lifted, loans overdue (`hearth case due`).
pub(super) async fn due_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(f): Query<Format>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let due = match every_page(
        &c,
        &s,
        |page| Request::Due { page },
        |r| match r {
            Reply::Due(p) => Some(p),
            _ => None,
        },
    )
    .await
    {
        Ok(due) => due,
        Err(refused) => return refused,
    };
    let title = |k: DueKind| match k {
        DueKind::ReviewDue => "年审到期 Annual review due",
        DueKind::LiftEligible => "可脱困 May be lifted (above the line six months)",
        DueKind::LoanOverdue => "借款逾期 Loans overdue",
    };
    if f.format.as_deref() == Some("xlsx") {
        use super::reports::Cell;
        let rows: Vec<Vec<Cell>> = due
            .iter()
            .map(|(k, d)| {
                vec![
                    Cell::Text(title(*k).to_owned()),
                    Cell::Text(d.id.clone()),
                    Cell::Text(d.name.clone().unwrap_or_default()),
                    Cell::Text(d.status.label()),
                    Cell::Text(d.detail.clone()),
                ]
            })
            .collect();
        return super::reports::xlsx_response(
            "due",
            &[
                "清单 List",
                "档案号 Case",
                "姓名 Name",
                "状态 Status",
                "情况 Detail",
            ],
            &rows,
        );
    }
    let body = html! {
        h1 { (l("动态管理 Due")) }
        p.noprint { a href="/due?format=xlsx" id="export" { (l("导出 Excel Export")) } }
        @for kind in DueKind::ALL {
            h2 { (l(title(kind))) }
            @let list: Vec<_> = due.iter().filter(|(k, _)| *k == kind).map(|(_, d)| d).collect();
            @if list.is_empty() {
                p { (l("无 None")) }
            } @else {
                table id=(kind.code()) {
                    tr { th { (l("档案号 Case")) } th { (l("姓名 Name")) } th { (l("状态 Status")) } th { (l("情况 Detail")) } }
                    @for d in list {
                        tr { td { a href={ "/case/" (d.id) } { (d.id) } } td { (d.name.clone().unwrap_or_default()) } td { (l(&d.status.label())) } td { (d.detail) } }
                    }
                }
            }
        }
    };
    Page(StatusCode::OK, layout("动态管理 Due", Some(&s), body)).into_response()
}

/// Borrowers (`hearth loan list`): overdue first, then repeat borrowers.
pub(super) async fn loans_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(f): Query<Format>,
) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    let borrowers = match every_page(
        &c,
        &s,
        |page| Request::Loans { page },
        |r| match r {
            Reply::Cases(p) => Some(p),
            _ => None,
        },
    )
    .await
    {
        Ok(list) => list,
        Err(refused) => return refused,
    };
    let today = hearth_archive::calendar::day_of(jiff::Timestamp::now());
    let overdue = |c: &hearth_archive::CaseSummary| c.overdue_fen(today) > 0;
    if f.format.as_deref() == Some("xlsx") {
        use super::reports::Cell;
        let rows: Vec<Vec<Cell>> = borrowers
            .iter()
            .map(|b| {
                vec![
                    Cell::Text(b.id.clone()),
                    Cell::Text(b.name.clone().unwrap_or_default()),
                    Cell::Text(b.status.label()),
                    Cell::Count(u64::from(b.loans)),
                    Cell::Yuan(b.outstanding_fen),
                    Cell::Text(if overdue(b) { "逾期 overdue" } else { "" }.to_owned()),
                ]
            })
            .collect();
        return super::reports::xlsx_response(
            "loans",
            &[
                "档案号 Case",
                "姓名 Name",
                "状态 Status",
                "借款次数 Loans",
                "未还 Outstanding (yuan)",
                "逾期 Overdue",
            ],
            &rows,
        );
    }
    let body = html! {
        h1 { (l("借款 Loans")) }
        p.noprint { a href="/loans?format=xlsx" id="export" { (l("导出 Excel Export")) } }
        @if borrowers.is_empty() { p id="none" { (l("没有借款 No loans")) } } @else {
            table id="loans" {
                tr { th { (l("档案号 Case")) } th { (l("姓名 Name")) } th { (l("状态 Status")) } th { (l("借款次数 Loans")) } th { (l("未还 Outstanding")) } th {} }
                @for b in &borrowers {
                    tr {
                        td { a href={ "/case/" (b.id) } { (b.id) } }
                        td { (b.name.clone().unwrap_or_default()) }
                        td { (l(&b.status.label())) }
                        td { (b.loans) }
                        td { (hearth_archive::money::format_yuan(b.outstanding_fen)) }
                        td.error { @if overdue(b) { (l("逾期 overdue")) } }
                    }
                }
            }
        }
    };
    Page(StatusCode::OK, layout("借款 Loans", Some(&s), body)).into_response()
}
