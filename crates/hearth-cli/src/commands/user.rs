//! `hearth user …`: the node's people (the console's accounts): add one with a role, list them,
//! disable or enable one, make one a new password. A password is shown once, when it is made;
//! the node keeps only its Argon2id hash.

use anyhow::Result;
use clap::Subcommand;
use hearth_ops::{AccountView, AccountWrite};
use serde_json::json;

use super::{JsonFlag, done};
use crate::node::Node;
use crate::output::print_json;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account: caseworker 经办人, reviewer 审核人, auditor 监督员 or admin 管理员
    Add {
        /// The person's name, as their changes will record it
        name: String,
        /// caseworker, reviewer, auditor or admin
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The accounts of this node
    List(JsonFlag),
    /// Stop an account from logging in
    Disable {
        /// The account's name
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Let an account log in again (and unlock it)
    Enable {
        /// The account's name
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Make a new password for an account (and unlock it)
    ResetPassword {
        /// The account's name
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn user(node: &mut Node, command: UserCommand) -> Result<()> {
    let (w, json) = match command {
        UserCommand::List(out) => {
            let accounts = node.accounts()?;
            return if out.json {
                print_json(&accounts)
            } else {
                crate::out!("{}", crate::output::account_list(&accounts))?;
                Ok(())
            };
        }
        UserCommand::Add { name, role, out } => (AccountWrite::Add { name, role }, out.json),
        UserCommand::Disable { name, out } => (AccountWrite::Disable { name }, out.json),
        UserCommand::Enable { name, out } => (AccountWrite::Enable { name }, out.json),
        UserCommand::ResetPassword { name, out } => {
            (AccountWrite::ResetPassword { name }, out.json)
        }
    };
    let written = node.account(w)?;
    let a = &written.account;
    let what = match (&written.password, a.disabled) {
        (Some(p), disabled) => format!(
            "password 密码: {p} — give it to {} in person; it is not shown again 仅显示一次{}",
            a.name,
            if disabled {
                "; the account stays disabled until enabled 账户仍停用"
            } else {
                ""
            }
        ),
        (None, true) => "disabled 已停用".to_owned(),
        (None, false) => "enabled 已启用".to_owned(),
    };
    done(
        json,
        json!({ "name": a.name, "role": a.role, "disabled": a.disabled, "password": written.password }),
        format!("account {} ({}): {what}", a.name, a.role.label()),
    )
}

/// For `user list`.
pub(crate) fn status(a: &AccountView) -> String {
    match (a.disabled, a.locked_until) {
        (true, _) => "disabled 已停用".to_owned(),
        (false, Some(until)) => format!("locked until 锁定至 {until}"),
        (false, None) => "active 正常".to_owned(),
    }
}
