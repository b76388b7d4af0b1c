//! The people of a node (the console's accounts): a name, a role, a password kept only as an
//! Argon2id hash, and a lockout after repeated failed logins. Accounts are the node's own and
//! never sync; every change made in a person's name records the account's name.
//!
//! Roles, as the union's offices work: a caseworker (经办人) keeps cases, members, visits, aid
//! requests, loans and reviews; a reviewer (审核人) decides, posts notices and approves aid above
//! authority; an auditor (监督员, the part-time supervisors of seed `000_3217a89efd1ac785.txt`)
//! reads everything, funds and disclosures included, and writes nothing; an admin (管理员)
//! manages accounts, conflicts, peers and, at the top node, the policy.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Cases, Ctx, OpError, Result};

/// Failed logins in a row that lock an account.
pub const LOCK_AFTER: u32 = 5;
/// How long a locked account stays locked, in minutes.
pub const LOCK_MINUTES: i64 = 15;
/// What a person may do at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 经办人: cases, members, visits, aid requests, loans, reviews.
    Caseworker,
    /// 审核人: decisions, notices, approvals of aid above authority.
    Reviewer,
    /// 监督员: reads everything, writes nothing.
    Auditor,
    /// 管理员: accounts, conflicts, peers, the policy at the top.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Caseworker, Role::Reviewer, Role::Auditor, Role::Admin];

    /// The code, as typed and stored.
    pub fn code(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Code and Chinese label: `reviewer 审核人`.
    pub fn label(self) -> String {
        let zh = match self {
            Role::Caseworker => "经办人",
            Role::Reviewer => "审核人",
            Role::Auditor => "监督员",
            Role::Admin => "管理员",
        };
        format!("{} {zh}", self.code())
    }
}

impl std::str::FromStr for Role {
    type Err = OpError;

    fn from_str(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s.trim())
            .ok_or_else(|| {
                OpError::input(format!(
                    "unknown role {s:?}; use one of: caseworker, reviewer, auditor, admin"
                ))
            })
    }
}

/// An account as the node keeps it (the password only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The person's name, as changes record it.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The password's Argon2id hash, a PHC string.
    pub password_hash: String,
    /// A disabled account cannot log in.
    pub disabled: bool,
    /// Failed logins in a row.
    pub failures: u32,
    /// Until when it is locked after too many failures.
    pub locked_until: Option<Timestamp>,
    /// When and by whom it was made.
    pub created_at: Timestamp,
    /// The person who made it.
    pub created_by: String,
}

/// An account as it is shown: never the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// Whether it is disabled.
    pub disabled: bool,
    /// Until when it is locked, if it is.
    pub locked_until: Option<Timestamp>,
    /// When it was made.
    pub created_at: Timestamp,
    /// Who made it.
    pub created_by: String,
}

impl Account {
    /// What may be shown of it.
    pub fn view(&self) -> AccountView {
        AccountView {
            name: self.name.clone(),
            role: self.role,
            disabled: self.disabled,
            locked_until: self.locked_until,
            created_at: self.created_at,
            created_by: self.created_by.clone(),
        }
    }
}

/// A change to the accounts, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountWrite {
    /// A new account with `role`; a password is made for it and answered once.
    Add {
        /// The person's name.
        name: String,
        /// caseworker, reviewer, auditor or admin.
        role: String,
    },
    /// No more logins.
    Disable {
        /// The account.
        name: String,
    },
    /// Logins again, unlocked.
    Enable {
        /// The account.
        name: String,
    },
    /// A new password, made and answered once; unlocks the account.
    ResetPassword {
        /// The account.
        name: String,
    },
}

/// What an account write did: the account, and the password made for it (shown this once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWritten {
    /// The account afterwards.
    pub account: AccountView,
    /// A password made by `Add` or `ResetPassword`.
    pub password: Option<String>,
}

fn load(cases: &mut impl Cases, name: &str) -> Result<Option<Account>> {
    cases
        .account(name)?
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                OpError::Storage(format!("account {name:?} cannot be read: {e}").into())
            })
        })
        .transpose()
}

fn save(cases: &mut impl Cases, account: &Account) -> Result<()> {
    let json = serde_json::to_string(account)
        .map_err(|e| OpError::Storage(format!("account cannot be written: {e}").into()))?;
    cases.put_account(&account.name, &json)
}

/// Every account of the node, by name.
pub fn accounts(cases: &mut impl Cases) -> Result<Vec<AccountView>> {
    let mut out = Vec::new();
    for (name, json) in cases.accounts()? {
        let account: Account = serde_json::from_str(&json).map_err(|e| {
            OpError::Storage(format!("account {name:?} cannot be read: {e}").into())
        })?;
        out.push(account.view());
    }
    Ok(out)
}

/// A new password: 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I), from
/// the context's random bytes — about 80 bits.
fn new_password(ctx: &Ctx<'_>) -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes = ctx.ids.fresh();
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The Argon2id hash of `password`, salted with the context's random bytes.
fn hash(ctx: &Ctx<'_>, password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&ctx.ids.fresh())
        .map_err(|e| OpError::Storage(format!("cannot make a salt: {e}").into()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| OpError::Storage(format!("cannot hash the password: {e}").into()))?
        .to_string())
}

fn check_name(name: &str) -> Result<()> {
    hearth_archive::text::check_line("account name", name, hearth_archive::text::NAME)?;
    if name.trim().is_empty() || name.trim() != name {
        return Err(OpError::input(
            "an account name is the person's name, without spaces around it",
        ));
    }
    Ok(())
}

/// The account `name`, which must exist.
fn existing(cases: &mut impl Cases, name: &str) -> Result<Account> {
    load(cases, name)?.ok_or_else(|| {
        OpError::NotFound(format!(
            "no account {name:?}; `hearth user list` shows them"
        ))
    })
}

/// Carries out an account write, made by the admin in `ctx` (the caller checks the role).
pub fn account_write(
    cases: &mut impl Cases,
    ctx: &Ctx<'_>,
    w: AccountWrite,
) -> Result<AccountWritten> {
    let now = ctx.now.timestamp();
    let (account, password) = match w {
        AccountWrite::Add { name, role } => {
            check_name(&name)?;
            let role: Role = role.parse()?;
            if load(cases, &name)?.is_some() {
                return Err(OpError::input(format!(
                    "an account {name:?} exists already; reset its password or enable it"
                )));
            }
            let password = new_password(ctx);
            let account = Account {
                name,
                role,
                password_hash: hash(ctx, &password)?,
                disabled: false,
                failures: 0,
                locked_until: None,
                created_at: now,
                created_by: ctx.by.to_owned(),
            };
            (account, Some(password))
        }
        AccountWrite::Disable { name } => {
            let mut a = existing(cases, &name)?;
            a.disabled = true;
            (a, None)
        }
        AccountWrite::Enable { name } => {
            let mut a = existing(cases, &name)?;
            a.disabled = false;
            a.failures = 0;
            a.locked_until = None;
            (a, None)
        }
        AccountWrite::ResetPassword { name } => {
            let mut a = existing(cases, &name)?;
            let password = new_password(ctx);
            a.password_hash = hash(ctx, &password)?;
            a.failures = 0;
            a.locked_until = None;
            (a, Some(password))
        }
    };
    save(cases, &account)?;
    Ok(AccountWritten {
        account: account.view(),
        password,
    })
}

/// Why a login was refused. The message never says whether the name exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    /// A wrong name or password (or a disabled account).
    #[error("wrong name or password 用户名或密码错误")]
    Wrong,
    /// Too many failures in a row.
    #[error(
        "too many failed logins: the account is locked until {0}; an admin can unlock it 登录失败次数过多，账户已锁定"
    )]
    Locked(Timestamp),
}

/// Checks a login at `now`: the account exists, is enabled and not locked, and the password
/// matches its hash. A failure counts towards the lockout ([`LOCK_AFTER`] in a row lock it for
/// [`LOCK_MINUTES`]); a success clears the count. Returns the account.
pub fn login(
    cases: &mut impl Cases,
    name: &str,
    password: &str,
    now: Timestamp,
) -> Result<std::result::Result<AccountView, LoginRefused>> {
    let Some(mut a) = load(cases, name)? else {
        // The same work as for a real account, so that the time taken does not tell.
        if let Ok(salt) = SaltString::encode_b64(&[0; 16]) {
            let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
        }
        return Ok(Err(LoginRefused::Wrong));
    };
    if let Some(until) = a.locked_until.filter(|u| *u > now) {
        return Ok(Err(LoginRefused::Locked(until)));
    }
    let matches = PasswordHash::new(&a.password_hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    if matches && !a.disabled {
        if a.failures > 0 || a.locked_until.is_some() {
            a.failures = 0;
            a.locked_until = None;
            save(cases, &a)?;
        }
        return Ok(Ok(a.view()));
    }
    a.failures += 1;
    let locked = a.failures >= LOCK_AFTER;
    if locked {
        a.failures = 0;
        a.locked_until = Some(now + jiff::Span::new().minutes(LOCK_MINUTES));
    }
    save(cases, &a)?;
    Ok(Err(match a.locked_until {
        Some(until) if locked => LoginRefused::Locked(until),
        _ => LoginRefused::Wrong,
    }))
}

/// Whether `role` may make `request`; the refusal says who may. Reads are everyone's; an
/// auditor writes nothing; a caseworker keeps cases, members, visits, aid, loans, reviews and
/// imports; a reviewer also decides, approves aid above authority, overrides grades, records the
/// chain's reviews and notices, and writes to the fund; an admin does everything, accounts,
/// conflicts and the policy included.
pub fn may(role: Role, request: &crate::Request) -> Result<()> {
    use crate::{FundWrite, Request, Write};
    // Who looked at whose file is for the node's admins and auditors (监督员).
    if matches!(request, Request::AccessLog { .. }) {
        return if matches!(role, Role::Admin | Role::Auditor) {
            Ok(())
        } else {
            Err(OpError::Forbidden(format!(
                "a {} may not read the access log; it needs an admin or an auditor 权限不足",
                role.label()
            )))
        };
    }
    let needs = match request {
        Request::GetCase { .. }
        | Request::ListCases { .. }
        | Request::Due { .. }
        | Request::Pending { .. }
        | Request::ShowPolicy { .. }
        | Request::Stats { .. }
        | Request::Loans { .. }
        | Request::FundShow { .. }
        | Request::Disclose { .. }
        | Request::Conflicts { .. }
        | Request::Conflict { .. }
        | Request::History { .. } => return Ok(()),
        Request::Write(w) => match w.as_ref() {
            Write::Decide { .. } | Write::ApproveAid { .. } | Write::Grade { .. } => Role::Reviewer,
            Write::Step { step, .. } if step.trim() != "civil_check" => Role::Reviewer,
            _ => Role::Caseworker,
        },
        Request::Import { .. } => Role::Caseworker,
        Request::Fund(
            FundWrite::Income { .. } | FundWrite::Budget { .. } | FundWrite::Grant { .. },
        ) => Role::Reviewer,
        Request::SetPolicy { .. }
        | Request::Resolve { .. }
        | Request::Account(_)
        | Request::Accounts => Role::Admin,
        Request::AccessLog { .. } => Role::Auditor,
    };
    let allowed = match needs {
        Role::Caseworker => matches!(role, Role::Caseworker | Role::Reviewer | Role::Admin),
        Role::Reviewer => matches!(role, Role::Reviewer | Role::Admin),
        Role::Admin | Role::Auditor => role == Role::Admin,
    };
    if allowed {
        Ok(())
    } else {
        let a = |r: Role| {
            if matches!(r, Role::Admin | Role::Auditor) {
                "an"
            } else {
                "a"
            }
        };
        Err(OpError::Forbidden(format!(
            "{} {} may not do this; it needs {} {} 权限不足",
            a(role),
            role.label(),
            a(needs),
            needs.label()
        )))
    }
}
