//! Issue 16, first part: the web console in a real browser. A real `hearth serve` with a console
//! address, Debian's `chromium` driven headless by `chromedriver` over WebDriver (installed by
//! `.ci/run` where missing): a wrong password is refused, the right one logs in, a search by ID
//! number finds the case, the case page shows it with its grade's basis. Screenshots go under
//! `target/`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::{RAW_ID, Serving, WANG, free_port, init_with_cert, must, must_json, serve};

/// A process that is killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on `port` (at most 30 seconds).
fn listening(port: u16) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Where screenshots go: `target/console/`.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the element `id`, once the page has one.
async fn text_of(c: &Client, id: &str) -> String {
    c.wait()
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Types `text` into the field `id`, once the page has it.
async fn type_into(c: &Client, id: &str, text: &str) {
    c.wait()
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

/// Clicks the element `id`, once the page has it.
async fn click(c: &Client, id: &str) {
    c.wait()
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Waits until the browser's address holds `part` (at most 30 seconds).
async fn wait_url(c: &Client, part: &str) {
    let started = Instant::now();
    while !c.current_url().await.unwrap().as_str().contains(part) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the browser never reached an address with {part:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_caseworker_logs_in_finds_a_case_by_id_number_and_opens_it_in_chromium() {
    let (chromium, driver) = (Path::new("/usr/bin/chromium"), "chromedriver");
    assert!(
        chromium.exists(),
        "Debian's chromium is needed for this test: `apt-get install chromium chromium-driver` (.ci/run does it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("br");
    let ca = tmp.path().join("ca");
    must(
        tmp.path(),
        &["certs", "init-ca", "--out", ca.to_str().unwrap()],
    );
    let console_port = free_port();
    let console = format!("127.0.0.1:{console_port}");
    init_with_cert(
        &dir,
        &ca,
        "demo.branch-1",
        "branch",
        &["--console", &console],
    );
    let added = must_json(&dir, &["user", "add", "李干事", "--role", "caseworker"]);
    let password = added["password"].as_str().unwrap().to_owned();
    let admin = must_json(&dir, &["user", "add", "王主任", "--role", "admin"]);
    let admin_password = admin["password"].as_str().unwrap().to_owned();
    let case = must_json(&dir, WANG)["id"].as_str().unwrap().to_owned();
    let _node: Serving = serve(&dir);
    assert!(listening(console_port), "the console did not come up");

    let driver_port = free_port();
    let _driver = Child(
        Command::new(driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is needed for this test"),
    );
    assert!(listening(driver_port), "chromedriver did not come up");

    let base = format!("http://{console}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,900"]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a Chromium session");
        let shots = shots();
        let shot = |name: &str, png: Vec<u8>| std::fs::write(shots.join(name), png).unwrap();

        // Not logged in: the console sends the browser to the login page.
        c.goto(&base).await.unwrap();
        wait_url(&c, "/login").await;
        // A wrong password: refused, the same words for a wrong name.
        type_into(&c, "name", "李干事").await;
        type_into(&c, "password", "not-it").await;
        click(&c, "login").await;
        let refused = text_of(&c, "login-error").await;
        assert!(refused.contains("用户名或密码错误"), "{refused}");
        shot("login-refused.png", c.screenshot().await.unwrap());

        // The right one: in, at the case list; a search by the ID number finds the case.
        type_into(&c, "name", "李干事").await;
        type_into(&c, "password", &password).await;
        click(&c, "login").await;
        type_into(&c, "q", RAW_ID).await;
        click(&c, "find").await;
        // The results page, once the browser is on it (the list before it has a table too);
        // the search is posted, so the ID number is not in the address.
        wait_url(&c, "/find").await;
        assert!(!c.current_url().await.unwrap().as_str().contains("1101"));
        let table = text_of(&c, "cases").await;
        assert!(table.contains("王建国") && table.contains(&case), "{table}");
        shot("search.png", c.screenshot().await.unwrap());

        // The case page: the grade with its basis; the ID number nowhere.
        c.wait()
            .for_element(Locator::LinkText(&case))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let title = text_of(&c, "case-title").await;
        assert!(title.contains("王建国"), "{title}");
        let details = text_of(&c, "case").await;
        assert!(details.contains("deep 深度困难"), "{details}");
        assert!(details.contains("666.67 < line 800.00"), "{details}");
        shot("case.png", c.screenshot().await.unwrap());
        let source: Value = json!(c.source().await.unwrap());
        assert!(
            !source.to_string().contains(RAW_ID),
            "the ID number is not shown"
        );

        // A caseworker may not manage accounts: a clear page, not the list.
        c.goto(&format!("{base}/users")).await.unwrap();
        let refused = text_of(&c, "refused").await;
        assert!(refused.contains("权限不足"), "{refused}");
        shot("forbidden.png", c.screenshot().await.unwrap());

        // An admin may: log out, log in as the admin, make a reviewer's account.
        click(&c, "logout").await;
        wait_url(&c, "/login").await;
        type_into(&c, "name", "王主任").await;
        type_into(&c, "password", &admin_password).await;
        click(&c, "login").await;
        text_of(&c, "cases").await;
        c.goto(&format!("{base}/users")).await.unwrap();
        type_into(&c, "new-name", "赵审核").await;
        c.find(Locator::Css("#new-role option[value='reviewer']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click(&c, "add-user").await;
        let made = text_of(&c, "password").await;
        assert_eq!(made.len(), 16, "{made}");
        let accounts = text_of(&c, "accounts").await;
        assert!(
            accounts.contains("赵审核") && accounts.contains("reviewer 审核人"),
            "{accounts}"
        );
        shot("accounts.png", c.screenshot().await.unwrap());
        c.close().await.unwrap();
    });
}
