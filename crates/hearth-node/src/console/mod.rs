//! The web console (issue 16): server-rendered pages, Chinese first, served by `hearth serve` on
//! the config's `console` address (plain HTTP, so loopback only).
//!
//! Pages are rendered on the server (maud templates, escaped by default) and work without
//! JavaScript: branch sites are offline and run old machines, nothing is fetched from a CDN, and
//! every page is a printable document (the print button is the one line of script). Every
//! request goes through the same operations as the command line and the gRPC API
//! (`hearth_ops::execute`), after the account's role is checked (`hearth_ops::may`); no rule is
//! written here.
//!
//! Sessions: a login (Argon2id, with the lockout of `hearth_ops::login`) opens a session kept in
//! memory, named by a random token in an `HttpOnly`, `SameSite=Strict` cookie; every form
//! carries the session's CSRF token, and every write form a request key of its own, so that a
//! form sent twice writes once. Opening a case file is logged (account and case id, no personal
//! data) on the `hearth::access` target.

mod cases;
mod charts;
mod forms;
mod queue;
mod reports;
mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hearth_archive::FederationSalt;
use hearth_ops::{self as ops, Reply, Request, Role};
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
    /// English only, by the switch in the header (else Chinese first, with English).
    english: bool,
}

/// A text of the console, Chinese first with English (`案件 Cases`): its Chinese parts marked,
/// so that the English switch can leave them out. A text with no English is shown whole.
fn l(text: &str) -> Markup {
    let chinese = |c: char| matches!(c, '\u{2e80}'..='\u{303f}' | '\u{3400}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}');
    if !text.chars().any(|c| c.is_ascii_alphabetic()) {
        return html! { (text) };
    }
    let mut parts: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        let zh = if c.is_whitespace() {
            parts.last().is_some_and(|p| p.0)
        } else {
            chinese(c)
        };
        match parts.last_mut() {
            Some((z, s)) if *z == zh => s.push(c),
            _ => parts.push((zh, c.to_string())),
        }
    }
    html! { @for (zh, s) in &parts { @if *zh { span.zh { (s) } } @else { (s) } } }
}

#[derive(Clone)]
struct Console {
    node: NodeHandle,
    config: Arc<NodeConfig>,
    salt: Arc<FederationSalt>,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    /// Served over HTTPS: cookies are sent back only over it.
    secure: bool,
}

/// The hidden fields of a write form: the session's CSRF token and a fresh request key, so that
/// a form sent twice writes once.
fn write_fields(s: &Session) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(s.csrf);
        input type="hidden" name="key" value=(new_token()[..32]);
    }
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the console on `addr` until `cancel` (HTTPS with `tls`, else plain HTTP); returns
/// the address bound.
pub async fn serve(
    addr: &str,
    node: NodeHandle,
    config: Arc<NodeConfig>,
    salt: Arc<FederationSalt>,
    tls: Option<Arc<rustls::ServerConfig>>,
    cancel: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), NodeError> {
    let (listener, local) = crate::metrics::bind(addr).await?;
    let state = Console {
        node,
        config,
        salt,
        sessions: Arc::default(),
        secure: tls.is_some(),
    };
    let app = Router::new()
        .route("/", get(cases::home))
        .route("/cases.xlsx", get(cases::export))
        .route("/find", post(cases::find))
        .route("/new", get(cases::new_page).post(cases::create))
        .route(
            "/import",
            get(cases::import_page)
                .post(cases::import)
                .layer(axum::extract::DefaultBodyLimit::max(cases::IMPORT_LIMIT)),
        )
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang", get(switch_language))
        .route("/case/{id}", get(cases::case_page))
        .route("/case/{id}/print", get(cases::print_page))
        .route("/case/{id}/{action}", post(cases::act))
        .route(
            "/pending",
            get(queue::pending_page).post(queue::escalate_all),
        )
        .route("/conflicts", get(queue::conflicts_page))
        .route("/due", get(queue::due_page))
        .route("/loans", get(queue::loans_page))
        .route("/conflicts/{id}", post(queue::resolve))
        .route("/stats", get(reports::stats_page))
        .route("/fund", get(reports::fund_page).post(reports::fund_write))
        .route(
            "/policy",
            get(reports::policy_page).post(reports::set_policy),
        )
        .route("/disclosure", get(reports::disclosure_page))
        .route("/sync", get(reports::sync_page))
        .route("/access", get(reports::access_page))
        .route("/users", get(users::users_page).post(users::add_user))
        .layer(axum::middleware::map_response(guarded))
        .with_state(state);
    let task = match tls {
        None => tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { cancel.cancelled().await })
                .await;
            if let Err(e) = served {
                error!(error = %e, "console failed");
            }
        }),
        Some(tls) => tokio::spawn(serve_tls(listener, app, tls, cancel)),
    };
    Ok((local, task))
}

/// The console over HTTPS: each connection's TLS handshake, then HTTP/1.1 to the same pages.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    cancel: CancellationToken,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    error!(error = %e, "console cannot accept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (acceptor, app, cancel) = (acceptor.clone(), app.clone(), cancel.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "console TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                () = cancel.cancelled() => {}
                served = conn => if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "console connection ended");
                },
            }
        });
    }
}

/// Headers every answer carries: pages hold personal data, so no cache keeps them (a shared
/// office computer); no other site frames them (clickjacking); only the console's own content
/// and its inline style and print script run; a browser takes each answer as the type it says;
/// addresses do not leak to other sites.
async fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
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
        self.ask_keyed(session, None, request)
            .await
            .map_err(|(code, text)| Page::message_for(code, &text, Some(session)))
    }

    /// [`Console::ask`] under a request key (a write form's own: sent twice, it writes once),
    /// refused with the status and the one-line message to show.
    async fn ask_keyed(
        &self,
        session: &Session,
        key: Option<String>,
        request: Request,
    ) -> Result<Reply, (StatusCode, String)> {
        ops::may(session.role, &request).map_err(|e| (StatusCode::FORBIDDEN, e.to_string()))?;
        let config = self.config.clone();
        let salt = self.salt.clone();
        let by = session.account.clone();
        let key = key.filter(|k| !k.is_empty() && request.keyed());
        self.node
            .local(move |replica| {
                crate::cases::with_ctx(&config, &salt, &by, |ctx| {
                    ops::execute(replica, ctx, key.as_deref(), request)
                })
            })
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .map_err(|e| {
                let code = match e.kind() {
                    ops::ErrorKind::Input => StatusCode::BAD_REQUEST,
                    ops::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    ops::ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                    ops::ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (code, e.to_string())
            })
    }

    /// The session of a page asked for, or the redirect to the login page.
    fn viewer(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        self.session(headers)
            .map(|(_, s)| s)
            .ok_or_else(|| Box::new(Redirect::to("/login").into_response()))
    }
}

/// A reply of another kind than the request's: the node and the console disagree.
fn unexpected(reply: &Reply) -> Response {
    Page::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("the node answered with {}", reply.kind()),
    )
    .into_response()
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
                html! { h1 { (l(title)) } p class="error" id="refused" { (text) } p { a href="/" { (l("返回首页 Back")) } } },
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
body.en .zh{display:none}header a{color:#fff}nav{display:flex;gap:.8em;flex-wrap:wrap}.who{margin-left:auto}\
details{border:1px solid #ddd;margin:.3em 0;padding:.3em .6em}summary{cursor:pointer;font-weight:bold}\
.done{color:#060;font-weight:bold}label.f{display:block;margin:.3em 0}label.f span{display:inline-block;min-width:16em}\
.sides td form{margin:0}svg text{font-size:12px}.chart{margin:.5em 0 1.5em}\
header button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}main{padding:1em;max-width:70em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
th{background:#f4f0ec}.error{color:#a00;font-weight:bold;white-space:pre-line}.conflict{color:#a60}\
form.inline{display:inline}input,button{font-size:1em;padding:.2em .4em}\
@media print{header,form,details,.noprint{display:none}main{max-width:none}}";

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
            body class=[session.filter(|s| s.english).map(|_| "en")] {
                header {
                    strong { (l("Hearth 困难职工档案")) }
                    @if let Some(s) = session {
                        nav {
                            a href="/" { (l("案件 Cases")) }
                            a href="/pending" { (l("待上报 Pending")) }
                            a href="/due" { (l("动态管理 Due")) }
                            a href="/loans" { (l("借款 Loans")) }
                            a href="/conflicts" { (l("冲突 Conflicts")) }
                            a href="/stats" { (l("统计 Dashboard")) }
                            a href="/fund" { (l("基金 Fund")) }
                            a href="/disclosure" { (l("公示 Disclosure")) }
                            a href="/policy" { (l("政策 Policy")) }
                            a href="/sync" { (l("同步 Sync")) }
                            a href="/users" { (l("账户 Accounts")) }
                            a href="/access" { (l("查阅记录 Access log")) }
                        }
                        a href={ "/lang?en=" (u8::from(!s.english)) } id="language" {
                            @if s.english { "中文" } @else { "English" }
                        }
                        span.who { (s.account) " (" (l(&s.role.label())) ")" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" id="logout" { (l("退出 Log out")) }
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
                h1 { (l("登录 Log in")) }
                @if let Some(e) = error { p.error id="login-error" { (e) } }
                form method="post" action="/login" {
                    p { label { (l("用户名 Name ")) input name="name" id="name" autocomplete="username" required; } }
                    p { label { (l("密码 Password ")) input name="password" id="password" type="password" autocomplete="current-password" required; } }
                    p { button type="submit" id="login" { (l("登录 Log in")) } }
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
                english: false,
            };
            if let Ok(mut sessions) = c.sessions.lock() {
                // Sessions that ended go at each login, so that they do not pile up.
                let now = Timestamp::now();
                sessions.retain(|_, s| s.expires > now);
                sessions.insert(token.clone(), session);
            }
            info!(target: "hearth::access", account = %account.name, "logged in");
            let secure = if c.secure { "; Secure" } else { "" };
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
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
struct Language {
    en: Option<u8>,
}

/// The English switch: the session's pages in English only, or Chinese first again; back to
/// the page it was pressed on (when that is one of the console's).
async fn switch_language(
    State(c): State<Console>,
    headers: HeaderMap,
    axum::extract::Query(to): axum::extract::Query<Language>,
) -> Response {
    let Some((token, _)) = c.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    if let Ok(mut sessions) = c.sessions.lock()
        && let Some(s) = sessions.get_mut(&token)
    {
        s.english = to.en == Some(1);
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .filter(|r| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| r.authority().is_some_and(|a| a.as_str() == host))
        })
        .and_then(|r| r.path_and_query().map(|p| p.as_str().to_owned()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    Redirect::to(&back).into_response()
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
