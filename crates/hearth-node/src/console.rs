//! The web console (issue 16, first part): server-rendered pages, Chinese first, served by
//! `hearth serve` on the config's `console` address (plain HTTP, so loopback only).
//!
//! Pages are rendered on the server (maud templates, escaped by default) and work without
//! JavaScript: branch sites are offline and run old machines, nothing is fetched from a CDN, and
//! every page is a printable document. Every request goes through the same operations as the
//! command line and the gRPC API (`hearth_ops::execute`), after the account's role is checked
//! (`hearth_ops::may`); no rule is written here.
//!
//! Sessions: a login (Argon2id, with the lockout of `hearth_ops::login`) opens a session kept in
//! memory, named by a random token in an `HttpOnly`, `SameSite=Strict` cookie; every form
//! carries the session's CSRF token. Opening a case file is logged (account and case id, no
//! personal data) on the `hearth::access` target.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use hearth_archive::money::format_yuan;
use hearth_archive::{CaseSummary, CaseView, FederationSalt};
use hearth_ops::{self as ops, ListFilter, PageRequest, Reply, Request, Role};
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::{NodeConfig, NodeError, NodeHandle};

/// The session cookie's name.
const COOKIE: &str = "hearth_session";
/// How long a session lasts without a new login.
const SESSION_HOURS: i64 = 8;

#[derive(Debug, Clone)]
struct Session {
    account: String,
    role: Role,
    csrf: String,
    expires: Timestamp,
}

#[derive(Clone)]
struct Console {
    node: NodeHandle,
    config: Arc<NodeConfig>,
    salt: Arc<FederationSalt>,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the console on `addr` until `cancel`; returns the address bound.
pub async fn serve(
    addr: &str,
    node: NodeHandle,
    config: Arc<NodeConfig>,
    salt: Arc<FederationSalt>,
    cancel: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), NodeError> {
    let (listener, local) = crate::metrics::bind(addr).await?;
    let state = Console {
        node,
        config,
        salt,
        sessions: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/find", axum::routing::post(find))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/case/{id}", get(case_page))
        .route("/users", get(users_page).post(add_user))
        .with_state(state);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(e) = served {
            error!(error = %e, "console failed");
        }
    });
    Ok((local, task))
}

impl Console {
    /// The session of a request, if it has a live one.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let token = cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_owned())?;
        let mut sessions = self.sessions.lock().ok()?;
        match sessions.get(&token) {
            Some(s) if s.expires > Timestamp::now() => Some((token, s.clone())),
            Some(_) => {
                sessions.remove(&token);
                None
            }
            None => None,
        }
    }

    /// The session of a form posted with `csrf`: a redirect to the login page without one, a
    /// refusal when the form's token is not the session's (a stale page, or another site's).
    fn posted(&self, headers: &HeaderMap, csrf: &str) -> Result<(String, Session), Box<Response>> {
        let Some((token, s)) = self.session(headers) else {
            return Err(Box::new(Redirect::to("/login").into_response()));
        };
        if s.csrf != csrf {
            return Err(Box::new(
                Page::message_for(
                    StatusCode::FORBIDDEN,
                    "the form is stale; open the page again 表单已过期，请重新打开页面",
                    Some(&s),
                )
                .into_response(),
            ));
        }
        Ok((token, s))
    }

    /// Carries out `request` as the session's account, if its role may.
    async fn ask(&self, session: &Session, request: Request) -> Result<Reply, Page> {
        ops::may(session.role, &request)
            .map_err(|e| Page::error(StatusCode::FORBIDDEN, &e, Some(session)))?;
        let config = self.config.clone();
        let salt = self.salt.clone();
        let by = session.account.clone();
        self.node
            .local(move |replica| {
                crate::cases::with_ctx(&config, &salt, &by, |ctx| {
                    ops::execute(replica, ctx, None, request)
                })
            })
            .await
            .map_err(|e| Page::message(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?
            .map_err(|e| {
                let code = match e.kind() {
                    ops::ErrorKind::Input => StatusCode::BAD_REQUEST,
                    ops::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    ops::ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                    ops::ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                };
                Page::error(code, &e, Some(session))
            })
    }
}

/// A page to answer with (also an error page).
struct Page(StatusCode, Markup);

impl Page {
    fn message(code: StatusCode, text: &str) -> Page {
        Page::message_for(code, text, None)
    }

    /// The page for `text`, with the session's header (and its log-out) when there is one.
    fn message_for(code: StatusCode, text: &str, session: Option<&Session>) -> Page {
        let title = match code {
            StatusCode::FORBIDDEN => "无权限 Not allowed",
            StatusCode::NOT_FOUND => "未找到 Not found",
            StatusCode::BAD_REQUEST => "输入有误 Check the input",
            _ => "出错了 Something went wrong",
        };
        Page(
            code,
            layout(
                title,
                session,
                html! { h1 { (title) } p class="error" id="refused" { (text) } p { a href="/" { "返回首页 Back" } } },
            ),
        )
    }

    fn error(code: StatusCode, e: &ops::OpError, session: Option<&Session>) -> Page {
        Page::message_for(code, &e.to_string(), session)
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            self.1.into_string(),
        )
            .into_response()
    }
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:0;color:#222}\
header{background:#8b1a1a;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center}\
header a{color:#fff}header button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}main{padding:1em;max-width:70em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
th{background:#f4f0ec}.error{color:#a00;font-weight:bold}.conflict{color:#a60}\
form.inline{display:inline}input,button{font-size:1em;padding:.2em .4em}\
@media print{header,form{display:none}}";

fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Hearth 困难职工档案" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "Hearth 困难职工档案" }
                    @if let Some(s) = session {
                        a href="/" { "案件 Cases" }
                        a href="/users" { "账户 Accounts" }
                        span { (s.account) " (" (s.role.label()) ")" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" id="logout" { "退出 Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

async fn login_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    if c.session(&headers).is_some() {
        return Redirect::to("/").into_response();
    }
    login_form(StatusCode::OK, None).into_response()
}

fn login_form(code: StatusCode, error: Option<&str>) -> Page {
    Page(
        code,
        layout(
            "登录 Log in",
            None,
            html! {
                h1 { "登录 Log in" }
                @if let Some(e) = error { p.error id="login-error" { (e) } }
                form method="post" action="/login" {
                    p { label { "用户名 Name " input name="name" id="name" autocomplete="username" required; } }
                    p { label { "密码 Password " input name="password" id="password" type="password" autocomplete="current-password" required; } }
                    p { button type="submit" id="login" { "登录 Log in" } }
                }
            },
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
}

async fn login(State(c): State<Console>, Form(f): Form<LoginForm>) -> Response {
    let name = f.name.trim().to_owned();
    let config = c.config.clone();
    let salt = c.salt.clone();
    let checked = c
        .node
        .local(move |replica| {
            crate::cases::with_ctx(&config, &salt, "console", |ctx| {
                ops::login(replica, &name, &f.password, ctx.now.timestamp())
            })
        })
        .await;
    match checked {
        Ok(Ok(Ok(account))) => {
            let token = new_token();
            let session = Session {
                account: account.name.clone(),
                role: account.role,
                csrf: new_token(),
                expires: Timestamp::now() + jiff::Span::new().hours(SESSION_HOURS),
            };
            if let Ok(mut sessions) = c.sessions.lock() {
                sessions.insert(token.clone(), session);
            }
            info!(target: "hearth::access", account = %account.name, "logged in");
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(Ok(Err(refused))) => {
            login_form(StatusCode::UNAUTHORIZED, Some(&refused.to_string())).into_response()
        }
        Ok(Err(e)) => Page::error(StatusCode::INTERNAL_SERVER_ERROR, &e, None).into_response(),
        Err(e) => Page::message(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(c): State<Console>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let token = match c.posted(&headers, &f.csrf) {
        Ok((token, _)) => token,
        Err(refused) => return *refused,
    };
    if let Ok(mut sessions) = c.sessions.lock() {
        sessions.remove(&token);
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[derive(Deserialize, Default)]
struct Find {
    q: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct FindForm {
    q: String,
    csrf: String,
}

async fn home(State(c): State<Console>, headers: HeaderMap, Query(find): Query<Find>) -> Response {
    let Some((_, s)) = c.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    cases_page(&c, &s, find.q, find.status).await
}

/// A search posted, not put in the address: an ID number typed stays out of the browser's
/// history and of any proxy's log.
async fn find(State(c): State<Console>, headers: HeaderMap, Form(f): Form<FindForm>) -> Response {
    let s = match c.posted(&headers, &f.csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    cases_page(&c, &s, Some(f.q), None).await
}

async fn cases_page(
    c: &Console,
    s: &Session,
    q: Option<String>,
    status: Option<String>,
) -> Response {
    let q = q.filter(|q| !q.trim().is_empty());
    let filter = ListFilter {
        text: q.clone(),
        status: status.filter(|x| !x.is_empty()),
        ..ListFilter::default()
    };
    let page = PageRequest {
        size: Some(50),
        token: None,
    };
    let cases = match c.ask(s, Request::ListCases { filter, page }).await {
        Ok(Reply::Cases(p)) => p,
        Ok(other) => {
            return Page::message(StatusCode::INTERNAL_SERVER_ERROR, other.kind()).into_response();
        }
        Err(page) => return page.into_response(),
    };
    let body = html! {
        h1 { "案件 Cases" }
        form method="post" action="/find" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { "查找 Find " input name="q" id="q" value=(q.clone().unwrap_or_default()) placeholder="姓名、案件号或身份证号 name, case id or ID number"; }
            " "
            button type="submit" id="find" { "查找 Find" }
        }
        p { "身份证号只用于查找，不保存。An ID number typed here is used to find the file and is not kept." }
        (case_table(&cases.items))
        @if cases.next.is_some() { p { "仅显示前 50 条 Only the first 50 are shown; narrow the search." } }
    };
    Page(StatusCode::OK, layout("案件 Cases", Some(s), body)).into_response()
}

fn case_table(cases: &[CaseSummary]) -> Markup {
    html! {
        @if cases.is_empty() {
            p id="none" { "没有找到 No case found" }
        } @else {
            table id="cases" {
                tr { th { "档案号 Case" } th { "姓名 Name" } th { "状态 Status" } th { "等级 Grade" } th { "已帮扶 Aid" } }
                @for c in cases {
                    tr {
                        td { a href={ "/case/" (c.id) } { (c.id) } }
                        td { (c.name.clone().unwrap_or_default()) }
                        td { (c.status.label()) }
                        td { (c.grade.map(|g| g.label()).unwrap_or_else(|| "—".into())) }
                        td { (format_yuan(c.assistance_total_fen)) }
                    }
                }
            }
        }
    }
}

async fn case_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, s)) = c.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let (v, advice) = match c.ask(&s, Request::GetCase { case: id }).await {
        Ok(Reply::Case { written, advice }) => (written.case, advice),
        Ok(other) => {
            return Page::message(StatusCode::INTERNAL_SERVER_ERROR, other.kind()).into_response();
        }
        Err(page) => return page.into_response(),
    };
    // Who opened whose file: the account and the case id, never the person's data.
    info!(target: "hearth::access", account = %s.account, case = %v.id, "opened a case file");
    let conflicts = match c
        .ask(
            &s,
            Request::Conflicts {
                all: false,
                page: PageRequest::default(),
            },
        )
        .await
    {
        Ok(Reply::Conflicts(p)) => p.items.into_iter().filter(|q| q.case == v.id).collect(),
        _ => Vec::new(),
    };
    let title = format!("{} {}", v.worker.name.clone().unwrap_or_default(), v.id);
    let body = case_body(&v, &advice.policy, &conflicts);
    Page(StatusCode::OK, layout(&title, Some(&s), body)).into_response()
}

fn yuan(v: Option<i64>) -> String {
    v.map(format_yuan).unwrap_or_else(|| "—".into())
}

fn case_body(
    v: &CaseView,
    policy: &str,
    conflicts: &[hearth_archive::conflict::QueueEntry],
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
        (
            "评定依据 Basis",
            v.grading.basis.clone().unwrap_or_default(),
        ),
        ("姓名 Name", w.name.clone().unwrap_or_default()),
        ("责任单位 Home", v.home.clone()),
        (
            "共同生活人口 Household",
            v.household
                .size
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        ("年可支配收入 Income", yuan(f.annual_income_fen)),
        ("刚性支出 Rigid spending", yuan(f.rigid_spending_fen)),
        ("低保标准 Subsistence line", yuan(f.subsistence_line_fen)),
        (
            "人均月收入 Per person/month",
            yuan(v.grading.per_capita_monthly_fen),
        ),
        ("已帮扶合计 Aid paid", format_yuan(v.assistance_total_fen)),
    ];
    html! {
        h1 id="case-title" { (w.name.clone().unwrap_or_default()) " " small { (v.id) } }
        @if !conflicts.is_empty() {
            p.conflict id="conflicts" {
                "冲突中 In conflict: "
                @for q in conflicts { (q.field) " (" (q.id) ") " }
            }
        }
        table id="case" {
            @for (k, val) in &rows { tr { th { (k) } td { (val) } } }
        }
        h2 { "帮扶记录 Assistance" }
        table {
            tr { th { "日期 Date" } th { "类型 Kind" } th { "金额 Amount" } th { "经办 By" } }
            @for a in &v.assistance {
                tr { td { (a.date) } td { (a.kind.label()) } td { (format_yuan(a.amount_fen)) } td { (a.by.clone().unwrap_or_default()) " @ " (a.node.clone().unwrap_or_default()) } }
            }
        }
        h2 { "状态记录 History" }
        table {
            tr { th { "至 To" } th { "经办 By" } th { "节点 Node" } th { "理由 Reason" } }
            @for h in &v.status_history {
                tr { td { (h.to.label()) } td { (h.by.clone().unwrap_or_default()) } td { (h.node.clone().unwrap_or_default()) } td { (h.reason.clone().unwrap_or_default()) } }
            }
        }
        p { "政策 Policy: " (policy) }
    }
}

async fn users_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let Some((_, s)) = c.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    users(&c, &s, None).await
}

#[derive(Deserialize)]
struct AddUserForm {
    name: String,
    role: String,
    csrf: String,
}

async fn add_user(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<AddUserForm>,
) -> Response {
    let s = match c.posted(&headers, &f.csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let w = ops::AccountWrite::Add {
        name: f.name,
        role: f.role,
    };
    match c.ask(&s, Request::Account(w)).await {
        Ok(Reply::Account(written)) => users(&c, &s, Some(written)).await,
        Ok(other) => Page::message(StatusCode::INTERNAL_SERVER_ERROR, other.kind()).into_response(),
        Err(page) => page.into_response(),
    }
}

/// The accounts page (admins only: `ops::may` refuses the others with a 403 page), with the
/// password of an account just made, shown this once.
async fn users(c: &Console, s: &Session, made: Option<ops::AccountWritten>) -> Response {
    let list = match c.ask(s, Request::Accounts).await {
        Ok(Reply::Accounts(list)) => list,
        Ok(other) => {
            return Page::message(StatusCode::INTERNAL_SERVER_ERROR, other.kind()).into_response();
        }
        Err(page) => return page.into_response(),
    };
    let body = html! {
        h1 { "账户 Accounts" }
        @if let Some(w) = &made {
            @if let Some(p) = &w.password {
                p id="made" {
                    "已创建 Made " (w.account.name) " (" (w.account.role.label()) "). "
                    "初始密码 Password: " code id="password" { (p) }
                    " — 仅显示一次，请当面交给本人 shown once: give it to them in person."
                }
            }
        }
        table id="accounts" {
            tr { th { "账户 Account" } th { "角色 Role" } th { "状态 Status" } th { "创建人 By" } }
            @for a in &list {
                tr {
                    td { (a.name) }
                    td { (a.role.label()) }
                    td { @if a.disabled { "已停用 disabled" } @else { "正常 active" } }
                    td { (a.created_by) }
                }
            }
        }
        h2 { "新建账户 Add an account" }
        form method="post" action="/users" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { "姓名 Name " input name="name" id="new-name" required; }
            " "
            label { "角色 Role "
                select name="role" id="new-role" {
                    @for r in Role::ALL { option value=(r.code()) { (r.label()) } }
                }
            }
            " "
            button type="submit" id="add-user" { "创建 Add" }
        }
    };
    Page(StatusCode::OK, layout("账户 Accounts", Some(s), body)).into_response()
}
