//! The people of a node: accounts, passwords kept as Argon2id hashes, the lockout.

use crate::testing::Fixture;
use crate::{
    AccountWrite, ErrorKind, LOCK_AFTER, LoginRefused, Role, account_write, accounts, login,
};

fn add(
    cases: &mut crate::MemoryCases,
    f: &Fixture,
    name: &str,
    role: &str,
) -> crate::Result<String> {
    let w = AccountWrite::Add {
        name: name.into(),
        role: role.into(),
    };
    Ok(account_write(cases, &f.ctx(), w)?
        .password
        .expect("a new account gets a password"))
}

#[test]
fn an_account_keeps_only_the_hash_and_logs_in_with_its_password() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let password = add(&mut cases, &f, "李干事", "caseworker").unwrap();
    assert_eq!(password.chars().count(), 16);
    let listed = accounts(&mut cases).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].role, listed[0].created_by.as_str()),
        (Role::Caseworker, "张敏")
    );
    // What is kept is an Argon2id PHC string, never the password.
    let kept = crate::Cases::account(&mut cases, "李干事")
        .unwrap()
        .unwrap();
    assert!(kept.contains("$argon2id$"), "{kept}");
    assert!(!kept.contains(&password));
    let now = f.now.timestamp();
    let ok = login(&mut cases, "李干事", &password, now)
        .unwrap()
        .unwrap();
    assert_eq!(ok.role, Role::Caseworker);
    assert_eq!(
        login(&mut cases, "李干事", "wrong", now).unwrap(),
        Err(LoginRefused::Wrong)
    );
    // An unknown name is refused the same way: the answer does not tell which was wrong.
    assert_eq!(
        login(&mut cases, "nobody", &password, now).unwrap(),
        Err(LoginRefused::Wrong)
    );
    // Names are unique; roles are the four.
    let e = add(&mut cases, &f, "李干事", "admin").unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    let e = add(&mut cases, &f, "王", "boss").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(
        e.to_string()
            .contains("caseworker, reviewer, auditor, admin"),
        "{e}"
    );
    let e = add(&mut cases, &f, " 王 ", "admin").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
}

#[test]
fn repeated_failures_lock_an_account_and_an_admin_unlocks_or_disables_it() {
    let f = Fixture::new();
    let mut cases = f.cases();
    let password = add(&mut cases, &f, "赵审核", "reviewer").unwrap();
    let now = f.now.timestamp();
    for _ in 1..LOCK_AFTER {
        assert_eq!(
            login(&mut cases, "赵审核", "guess", now).unwrap(),
            Err(LoginRefused::Wrong)
        );
    }
    let Err(LoginRefused::Locked(until)) = login(&mut cases, "赵审核", "guess", now).unwrap()
    else {
        panic!("the fifth failure locks the account")
    };
    // Locked: even the right password waits.
    assert!(matches!(
        login(&mut cases, "赵审核", &password, now).unwrap(),
        Err(LoginRefused::Locked(_))
    ));
    // After the lock, the right password works again.
    assert!(
        login(&mut cases, "赵审核", &password, until)
            .unwrap()
            .is_ok()
    );
    // Disabled: refused like a wrong password; enabled again: in.
    account_write(
        &mut cases,
        &f.ctx(),
        AccountWrite::Disable {
            name: "赵审核".into(),
        },
    )
    .unwrap();
    assert_eq!(
        login(&mut cases, "赵审核", &password, now).unwrap(),
        Err(LoginRefused::Wrong)
    );
    account_write(
        &mut cases,
        &f.ctx(),
        AccountWrite::Enable {
            name: "赵审核".into(),
        },
    )
    .unwrap();
    assert!(login(&mut cases, "赵审核", &password, now).unwrap().is_ok());
    // A reset makes a new password; the old one no longer works.
    let reset = account_write(
        &mut cases,
        &f.ctx(),
        AccountWrite::ResetPassword {
            name: "赵审核".into(),
        },
    )
    .unwrap();
    let new = reset.password.unwrap();
    assert_ne!(new, password);
    assert_eq!(
        login(&mut cases, "赵审核", &password, now).unwrap(),
        Err(LoginRefused::Wrong)
    );
    assert!(login(&mut cases, "赵审核", &new, now).unwrap().is_ok());
    let e = account_write(
        &mut cases,
        &f.ctx(),
        AccountWrite::Disable {
            name: "nobody".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn each_role_does_its_own_work() {
    use crate::{FundWrite, Request, Resolve, Write, may};
    let decide = Request::Write(Box::new(Write::Decide {
        case: "c".into(),
        decision: "approve".into(),
        note: String::new(),
    }));
    let visit = Request::Write(Box::new(Write::AddVisit {
        case: "c".into(),
        date: "2026-06-01".into(),
        kind: "home".into(),
        visitor: None,
        notes: None,
        consent: true,
    }));
    let resolve = Request::Resolve {
        conflict: "x".into(),
        how: Resolve::Pick(1),
    };
    let income = Request::Fund(FundWrite::Budget {
        year: "2026".into(),
        amount: "1".into(),
    });
    let read = Request::Stats { year: None };
    let users = Request::Accounts;
    let policy = Request::SetPolicy {
        toml: String::new(),
    };
    let table = [
        (
            Role::Caseworker,
            [true, true, false, false, false, false, false],
        ),
        (
            Role::Reviewer,
            [true, true, true, false, true, false, false],
        ),
        (
            Role::Auditor,
            [true, false, false, false, false, false, false],
        ),
        (Role::Admin, [true, true, true, true, true, true, true]),
    ];
    for (role, allowed) in table {
        for (request, ok) in [&read, &visit, &decide, &resolve, &income, &users, &policy]
            .into_iter()
            .zip(allowed)
        {
            let got = may(role, request);
            assert_eq!(got.is_ok(), ok, "{role:?} {request:?}");
            if let Err(e) = got {
                assert_eq!(e.kind(), ErrorKind::Forbidden);
                assert!(e.to_string().contains("权限不足"), "{e}");
            }
        }
    }
}

#[test]
fn every_case_read_is_in_the_access_log_which_admins_and_auditors_read() {
    use crate::{PageRequest, Reply, Request, Role, execute, may};
    let f = Fixture::new();
    let mut cases = f.cases();
    let id = super::open(&mut cases, &f, 1);
    for _ in 0..3 {
        execute(
            &mut cases,
            &f.ctx(),
            None,
            Request::GetCase {
                case: id[..6].into(),
            },
        )
        .unwrap();
    }
    let page = |token: Option<String>| Request::AccessLog {
        page: PageRequest {
            size: Some(2),
            token,
        },
    };
    let Reply::AccessLog(first) = execute(&mut cases, &f.ctx(), None, page(None)).unwrap() else {
        panic!("the access log")
    };
    assert_eq!(first.items.len(), 2);
    assert!(
        first
            .items
            .iter()
            .all(|e| e.case == id && e.account == "张敏")
    );
    let json = serde_json::to_string(&first.items).unwrap();
    assert!(!json.contains("张1燕"), "no personal data: {json}");
    let Reply::AccessLog(rest) = execute(&mut cases, &f.ctx(), None, page(first.next)).unwrap()
    else {
        panic!("the next page")
    };
    assert_eq!((rest.items.len(), rest.next), (1, None));
    for (role, allowed) in [
        (Role::Caseworker, false),
        (Role::Reviewer, false),
        (Role::Auditor, true),
        (Role::Admin, true),
    ] {
        assert_eq!(may(role, &page(None)).is_ok(), allowed, "{role:?}");
    }
}
