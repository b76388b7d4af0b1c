//! The node's accounts, for admins: list, add (the password shown once).

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hearth_ops::{self as ops, Reply, Request, Role};
use maud::html;
use serde::Deserialize;

use super::{Console, Page, Session, l, layout, unexpected};

pub(super) async fn users_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let s = match c.viewer(&headers) {
        Ok(s) => s,
        Err(to_login) => return *to_login,
    };
    users(&c, &s, None).await
}

#[derive(Deserialize)]
pub(super) struct AddUserForm {
    name: String,
    /// The role of a new account; none for a change to an existing one.
    role: Option<String>,
    /// `disable`, `enable` or `reset` an existing account; none to add one.
    change: Option<String>,
    csrf: String,
}

pub(super) async fn add_user(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<AddUserForm>,
) -> Response {
    let s = match c.posted(&headers, &f.csrf) {
        Ok((_, s)) => s,
        Err(refused) => return *refused,
    };
    let name = f.name;
    let w = match f.change.as_deref() {
        Some("disable") => ops::AccountWrite::Disable { name },
        Some("enable") => ops::AccountWrite::Enable { name },
        Some("reset") => ops::AccountWrite::ResetPassword { name },
        _ => ops::AccountWrite::Add {
            name,
            role: f.role.unwrap_or_default(),
        },
    };
    match c.ask(&s, Request::Account(w)).await {
        Ok(Reply::Account(written)) => users(&c, &s, Some(written)).await,
        Ok(other) => unexpected(&other),
        Err(page) => page.into_response(),
    }
}

/// The accounts page (admins only: `ops::may` refuses the others with a 403 page), with the
/// password of an account just made, shown this once.
async fn users(c: &Console, s: &Session, made: Option<ops::AccountWritten>) -> Response {
    let list = match c.ask(s, Request::Accounts).await {
        Ok(Reply::Accounts(list)) => list,
        Ok(other) => return unexpected(&other),
        Err(page) => return page.into_response(),
    };
    let body = html! {
        h1 { (l("账户 Accounts")) }
        @if let Some(w) = &made {
            @if let Some(p) = &w.password {
                p id="made" {
                    (l("账户 Account ")) (w.account.name) " (" (l(&w.account.role.label())) "). "
                    (l("初始密码 Password: ")) code id="password" { (p) }
                    (l(" — 仅显示一次，请当面交给本人 shown once: give it to them in person."))
                }
            }
        }
        table id="accounts" {
            tr { th { (l("账户 Account")) } th { (l("角色 Role")) } th { (l("状态 Status")) } th { (l("创建人 By")) } th {} }
            @for a in &list {
                tr {
                    td { (a.name) }
                    td { (l(&a.role.label())) }
                    td { @if a.disabled { (l("已停用 disabled")) } @else { (l("正常 active")) } }
                    td { (a.created_by) }
                    td {
                        @for (change, label) in [
                            if a.disabled { ("enable", "启用 Enable") } else { ("disable", "停用 Disable") },
                            ("reset", "重设密码 New password"),
                        ] {
                            form.inline method="post" action="/users" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input type="hidden" name="name" value=(a.name);
                                input type="hidden" name="change" value=(change);
                                button type="submit" id={ (change) "-" (a.name) } { (l(label)) }
                            }
                            " "
                        }
                    }
                }
            }
        }
        h2 { (l("新建账户 Add an account")) }
        form method="post" action="/users" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { (l("姓名 Name ")) input name="name" id="new-name" required; }
            " "
            label { (l("角色 Role "))
                select name="role" id="new-role" {
                    @for r in Role::ALL { option value=(r.code()) { (r.label()) } }
                }
            }
            " "
            button type="submit" id="add-user" { (l("创建 Add")) }
        }
    };
    Page(StatusCode::OK, layout("账户 Accounts", Some(s), body)).into_response()
}
