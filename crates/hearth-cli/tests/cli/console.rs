//! Issue 16: the web console in a real browser. A real `hearth serve` with a console address,
//! Debian's `chromium` driven headless by `chromedriver` over WebDriver (installed by `.ci/run`
//! where missing). The first test: a wrong password is refused, the right one logs in, a search
//! by ID number finds the case, the case page shows it with its grade's basis, a caseworker is
//! refused the accounts page, an admin adds an account. The second: a case made, filed through
//! the chain, paid and corrected in the console by the people whose roles those are; a conflict
//! two nodes made resolved; the file printed to PDF; a list exported to xlsx and read back; a
//! chart drawn; an auditor refused a write. Screenshots go under `target/console/`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::{
    RAW_ID, Serving, WANG, day, file_wang, free_port, hearth, init_with_cert, issue_cert, must,
    must_json, serve, team_and_branch,
};

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

/// chromedriver and the Chromium it starts, with their own temporary folder: dropped, the driver
/// is stopped and the folder (Chromium's profile and scratch files) removed, even when a test
/// fails before it closes the browser.
struct Driver {
    _child: Child,
    _tmp: tempfile::TempDir,
}

/// chromedriver on a free port, and a headless Chromium session through it; the driver is
/// stopped when the returned guard drops.
async fn browser() -> (Driver, Client) {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Debian's chromium is needed for this test: `apt-get install chromium chromium-driver` (.ci/run does it)"
    );
    let driver_port = free_port();
    let tmp = tempfile::tempdir().unwrap();
    let driver = Child(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is needed for this test"),
    );
    assert!(listening(driver_port), "chromedriver did not come up");
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
    (
        Driver {
            _child: driver,
            _tmp: tmp,
        },
        c,
    )
}

/// Logs in at `base` as `name`, and waits for the case list.
async fn log_in(c: &Client, base: &str, name: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    type_into(c, "name", name).await;
    type_into(c, "password", password).await;
    click(c, "login").await;
    c.wait()
        .for_element(Locator::Css("header .who"))
        .await
        .unwrap();
}

async fn log_out(c: &Client) {
    click(c, "logout").await;
    wait_url(c, "/login").await;
}

/// Sets the field `id` to `value` as a person picking it would (date pickers and lists).
async fn set(c: &Client, id: &str, value: &str) {
    c.wait().for_element(Locator::Id(id)).await.unwrap();
    c.execute(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change'));",
        vec![json!(id), json!(value)],
    )
    .await
    .unwrap();
}

/// Opens every folded form of the page.
async fn unfold(c: &Client) {
    c.execute(
        "document.querySelectorAll('details').forEach(d => d.open = true)",
        vec![],
    )
    .await
    .unwrap();
}

/// Clicks the element `id`, and waits until the browser has left the page it was on (so that
/// what is read next is the new page's).
async fn click_and_load(c: &Client, id: &str) {
    let page = c.find(Locator::Css("html")).await.unwrap();
    click(c, id).await;
    let started = Instant::now();
    while page.tag_name().await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "clicking #{id} never loaded a page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends the case-page form `code` once the fields are set, and waits for the page that says it
/// was saved (or, with `refused`, the page that says why not).
async fn send(c: &Client, code: &str, refused: bool) -> String {
    click_and_load(c, &format!("do-{code}")).await;
    text_of(c, if refused { "error" } else { "done" }).await
}

/// GETs `path` from the console at `addr` with the session cookie: the head and the body.
fn http_get(addr: &str, path: &str, cookie: &str) -> (String, Vec<u8>) {
    http(addr, "GET", path, cookie, None)
}

/// A request to the console at `addr` with the session cookie and, for a POST, a body of
/// `(content type, bytes)`: the head and the body of the answer.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<(&str, &[u8])>,
) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: hearth_session={cookie}\r\nConnection: close\r\n"
    )
    .into_bytes();
    if let Some((kind, bytes)) = body {
        request.extend_from_slice(
            format!(
                "Content-Type: {kind}\r\nContent-Length: {}\r\n",
                bytes.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(bytes);
    } else {
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer has a head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut body = all[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut plain = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            plain.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 2 + size + 2..];
        }
        body = plain;
    }
    (head, body)
}

/// The whole of Deliver 4 but what the first test does: a branch with no parent (it approves
/// its own files) serves the console; its team sent it a case that both then edited offline,
/// so the branch holds a conflict made by two nodes.
#[test]
fn people_file_pay_correct_resolve_print_and_export_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: &str| tmp.path().join(n);
    team_and_branch(tmp.path());
    let console_port = free_port();
    let console = format!("127.0.0.1:{console_port}");
    // The console's address, added to the branch's config as `init --console` would write it.
    let config = d("br").join("hearth.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("console = \"{console}\"\n{text}")).unwrap();
    must(&d("br"), &["config", "check", config.to_str().unwrap()]);

    // The conflict: the team's case at the branch, its income then set at both, apart.
    let wang = file_wang(&d("t1"));
    let export = |name: &str| {
        let file = d(name);
        let args = [
            "bundle",
            "export",
            "--for",
            "demo.branch",
            "--out",
            file.to_str().unwrap(),
        ];
        must(&d("t1"), &args);
        must(&d("br"), &["bundle", "import", file.to_str().unwrap()]);
    };
    export("1.hearth");
    must(
        &d("t1"),
        &["case", "edit", &wang, "--annual-income", "20000"],
    );
    must(
        &d("br"),
        &["case", "edit", &wang, "--annual-income", "50000"],
    );
    export("2.hearth");
    let open = must_json(&d("br"), &["conflicts", "list"]);
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");

    let first = day(-40);
    must(
        &d("br"),
        &[
            "fund", "income", "--source", "budget", "--amount", "10000", "--date", &first,
        ],
    );
    let mut people = std::collections::HashMap::new();
    for (name, role) in [
        ("李干事", "caseworker"),
        ("赵审核", "reviewer"),
        ("王主任", "admin"),
        ("钱监督", "auditor"),
    ] {
        let made = must_json(&d("br"), &["user", "add", name, "--role", role]);
        people.insert(name, made["password"].as_str().unwrap().to_owned());
    }
    let _node: Serving = serve(&d("br"));
    assert!(listening(console_port), "the console did not come up");
    let base = format!("http://{console}");
    let id_number = hearth_archive::identity::sample_id_number(77);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (_driver, c) = browser().await;
        let shots = shots();
        let shot = |name: &str, png: Vec<u8>| std::fs::write(shots.join(name), png).unwrap();

        // A caseworker opens a case with the new-case form, finds it by its ID number, and
        // records the home visit.
        log_in(&c, &base, "李干事", &people["李干事"]).await;
        click(&c, "new-case").await;
        for (field, value) in [
            ("name", "陈秀英"),
            ("id_number", id_number.as_str()),
            ("household_size", "2"),
            ("annual_income", "12000"),
            ("rigid_spending", "2400"),
            ("subsistence_line", "800"),
        ] {
            type_into(&c, &format!("new-{field}"), value).await;
        }
        set(&c, "new-primary_cause", "serious_illness").await;
        click_and_load(&c, "do-new").await;
        let saved = text_of(&c, "done").await;
        assert!(saved.contains("新建档案"), "{saved}");
        let case = c.current_url().await.unwrap().path().trim_start_matches("/case/").to_owned();
        c.goto(&base).await.unwrap();
        type_into(&c, "q", &id_number).await;
        click(&c, "find").await;
        wait_url(&c, "/find").await;
        c.wait().for_element(Locator::LinkText(&case)).await.unwrap().click().await.unwrap();
        let title = text_of(&c, "case-title").await;
        assert!(title.contains("陈秀英"), "{title}");
        let day = day(-21);
        unfold(&c).await;
        set(&c, "visit-date", &day).await;
        set(&c, "visit-kind", "home").await;
        click(&c, "visit-consent").await;
        send(&c, "visit", false).await;
        log_out(&c).await;

        // The reviewer runs the chain: the grassroots review, the civil-affairs check, the
        // public notice, the submission and (at a node with no parent) the approval.
        log_in(&c, &base, "赵审核", &people["赵审核"]).await;
        c.goto(&format!("{base}/case/{case}")).await.unwrap();
        for (step, extra) in [
            ("grassroots_review", None),
            ("civil_check", Some("matched")),
            ("notice", None),
        ] {
            unfold(&c).await;
            set(&c, "step-step", step).await;
            set(&c, "step-date", &day).await;
            if let Some(result) = extra {
                set(&c, "step-result", result).await;
                type_into(&c, "step-checker", "民政局 张").await;
            }
            send(&c, "step", false).await;
        }
        unfold(&c).await;
        send(&c, "file", false).await;
        unfold(&c).await;
        set(&c, "decide-decision", "approve").await;
        type_into(&c, "decide-note", "材料齐全，同意建档").await;
        send(&c, "decide", false).await;
        let details = text_of(&c, "case").await;
        assert!(details.contains("filed 建档"), "{details}");
        let approvals = text_of(&c, "approvals").await;
        assert!(approvals.contains("赵审核"), "every step names the account: {approvals}");
        shot("filed.png", c.screenshot().await.unwrap());
        log_out(&c).await;

        // The caseworker imports a register saved by Excel on Chinese Windows (GBK, Chinese
        // headings): a bad line is named and nothing is imported; fixed, both households are.
        log_in(&c, &base, "李干事", &people["李干事"]).await;
        let register = |bad: &str| {
            let text = format!(
                "姓名,身份证号,家庭人口,家庭年收入,刚性支出,低保标准,致困原因,状态,建档日期\n\
                 刘洋,{},3,50000,0,800,自然灾害,建档,2025-04-15\n\
                 周红,{},2,{bad},0,800,下岗,建档,2025-05-15\n",
                hearth_archive::identity::sample_id_number(78),
                hearth_archive::identity::sample_id_number(79),
            );
            let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
            assert!(!unmappable);
            let file = d(&format!("register-{}.csv", bad.len()));
            std::fs::write(&file, gbk).unwrap();
            file
        };
        let import = async |file: PathBuf, refused: bool| {
            c.goto(&format!("{base}/import")).await.unwrap();
            type_into(&c, "import-file", file.to_str().unwrap()).await;
            click_and_load(&c, "do-import").await;
            text_of(&c, if refused { "error" } else { "done" }).await
        };
        let refused = import(register("12x50"), true).await;
        assert!(refused.contains("line 3") && !refused.contains("line 2"), "{refused}");
        let imported = import(register("24000"), false).await;
        assert!(imported.contains("Imported 2 "), "{imported}");
        shot("imported.png", c.screenshot().await.unwrap());

        // The caseworker pays aid, is refused an amount above the branch's authority, and
        // corrects the amount paid.
        c.goto(&format!("{base}/case/{case}")).await.unwrap();
        unfold(&c).await;
        set(&c, "assist-kind", "living").await;
        type_into(&c, "assist-amount", "900000").await;
        let refused = send(&c, "assist", true).await;
        assert!(refused.contains("900,000.00"), "{refused}");
        unfold(&c).await;
        set(&c, "assist-kind", "living").await;
        type_into(&c, "assist-amount", "1000").await;
        send(&c, "assist", false).await;
        let paid = text_of(&c, "assistance").await;
        assert!(paid.contains("1,000.00") && paid.contains("李干事"), "{paid}");
        let record: String = c
            .execute(
                "return document.querySelector('#assistance tr:nth-child(2) td').textContent",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        unfold(&c).await;
        type_into(&c, &format!("correct-amount-{record}"), "800").await;
        type_into(&c, &format!("correct-reason-{record}"), "金额录入有误").await;
        click_and_load(&c, &format!("do-correct-{record}")).await;
        text_of(&c, "done").await;
        let paid = text_of(&c, "assistance").await;
        assert!(paid.contains("800.00") && !paid.contains("1,000.00"), "{paid}");
        let voided = text_of(&c, "voided").await;
        assert!(voided.contains("金额录入有误") && voided.contains("1,000.00"), "{voided}");
        let money = text_of(&c, "finances").await;
        assert!(money.contains("800.00"), "{money}");
        // Every change in the file's history names its account.
        let changes = text_of(&c, "changes").await;
        for (what, who) in [
            ("case new", "李干事"),
            ("case decide", "赵审核"),
            ("record void", "李干事"),
            ("assist add", "李干事"),
        ] {
            assert!(
                changes.lines().any(|l| l.contains(what) && l.contains(who)),
                "{what} by {who}: {changes}"
            );
        }
        shot("corrected.png", c.screenshot().await.unwrap());

        // The file printed to PDF, as the print page's button does.
        c.goto(&format!("{base}/case/{case}/print")).await.unwrap();
        text_of(&c, "case-title").await;
        let pdf = c.print(fantoccini::wd::PrintConfiguration::default()).await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        assert!(pdf.len() > 10_000, "a PDF of the whole file: {} bytes", pdf.len());
        std::fs::write(shots.join("case-file.pdf"), &pdf).unwrap();
        log_out(&c).await;

        // The auditor reads, and may not write: the page has no forms, and one sent anyway is
        // refused with a clear page.
        log_in(&c, &base, "钱监督", &people["钱监督"]).await;
        c.goto(&format!("{base}/case/{case}")).await.unwrap();
        text_of(&c, "case-title").await;
        assert!(c.find(Locator::Id("f-assist")).await.is_err(), "no forms for an auditor");
        c.execute(
            "const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/visit'; \
             for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['date', arguments[0]], ['kind', 'follow_up']]) \
             { const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); } \
             document.body.appendChild(f); f.submit();",
            vec![json!(day)],
        )
        .await
        .unwrap();
        let refused = text_of(&c, "error").await;
        assert!(refused.contains("权限不足"), "{refused}");
        // The auditor reads who opened the file: the accounts and the case id, nothing else.
        c.goto(&format!("{base}/access")).await.unwrap();
        let log = text_of(&c, "access").await;
        for who in ["李干事", "赵审核", "钱监督"] {
            assert!(
                log.lines().any(|l| l.contains(who) && l.contains(&case)),
                "{who} opened {case}: {log}"
            );
        }
        assert!(!log.contains("陈秀英") && !log.contains(&id_number), "{log}");
        log_out(&c).await;

        // The admin resolves the conflict the two nodes made: the team's figure kept.
        log_in(&c, &base, "王主任", &people["王主任"]).await;
        c.goto(&format!("{base}/conflicts")).await.unwrap();
        let card = c.find(Locator::Css(".conflict-card")).await.unwrap().text().await.unwrap();
        assert!(card.contains("20,000.00") && card.contains("50,000.00"), "{card}");
        assert!(card.contains("demo.team-1") && card.contains("demo.branch"), "{card}");
        shot("conflict.png", c.screenshot().await.unwrap());
        let side = c
            .find(Locator::XPath("//tr[td[contains(., '20,000.00')]]//button"))
            .await
            .unwrap();
        side.click().await.unwrap();
        wait_url(&c, "all=1").await;
        let resolved = c.find(Locator::Css(".conflict-card .done")).await.unwrap().text().await.unwrap();
        assert!(resolved.contains("王主任"), "the resolution names the account: {resolved}");
        c.goto(&format!("{base}/case/{wang}")).await.unwrap();
        let money = text_of(&c, "finances").await;
        assert!(money.contains("20,000.00"), "{money}");

        // The admin records income in the fund, gives a caseworker a new password, and reads
        // the policy, the due lists, the borrowers and the pending cases (each a list that
        // exports).
        c.goto(&format!("{base}/fund")).await.unwrap();
        unfold(&c).await;
        type_into(&c, "income-amount", "2500").await;
        type_into(&c, "income-note", "市总工会拨款").await;
        click_and_load(&c, "do-income").await;
        let fund = text_of(&c, "entries").await;
        assert!(fund.contains("2,500.00") && fund.contains("王主任"), "{fund}");
        c.goto(&format!("{base}/users")).await.unwrap();
        click_and_load(&c, "reset-李干事").await;
        let made = text_of(&c, "password").await;
        assert_eq!(made.len(), 16, "{made}");
        c.goto(&format!("{base}/policy")).await.unwrap();
        let policy = text_of(&c, "policy").await;
        assert!(policy.contains("One-off cap"), "{policy}");
        for (page, title) in [("due", "Due"), ("loans", "Loans"), ("pending", "Cases to escalate")] {
            c.goto(&format!("{base}/{page}")).await.unwrap();
            let h1 = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
            assert!(h1.contains(title), "/{page}: {h1}");
            let cookie = c.get_named_cookie("hearth_session").await.unwrap();
            let (head, _) = http_get(&console, &format!("/{page}?format=xlsx"), cookie.value());
            assert!(head.contains("spreadsheetml"), "/{page}: {head}");
        }

        // The neighbours' sync status: the team, never served here, not connected.
        c.goto(&format!("{base}/sync")).await.unwrap();
        let peers = text_of(&c, "peers").await;
        assert!(peers.contains("demo.team-1") && peers.contains("not connected"), "{peers}");

        // A chart that renders: bars in the dashboard's SVG, one per grade on file.
        c.goto(&format!("{base}/stats")).await.unwrap();
        let bars = c.find_all(Locator::Css("#chart-status rect")).await.unwrap();
        assert!(!bars.is_empty(), "the status chart has bars");
        let size = bars[0].rectangle().await.unwrap();
        assert!(size.2 > 0.0 && size.3 > 0.0, "a bar is drawn: {size:?}");
        for chart in ["chart-months", "chart-aid-months"] {
            let columns = c
                .find_all(Locator::Css(&format!("#{chart} rect[height]")))
                .await
                .unwrap();
            assert!(columns.len() > 1, "{chart} has columns and a key");
        }
        shot("dashboard.png", c.screenshot().await.unwrap());

        // The case list exported to xlsx, read back: the header and the two cases.
        c.goto(&base).await.unwrap();
        let href = c
            .find(Locator::Id("export"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        let cookie = c.get_named_cookie("hearth_session").await.unwrap();
        let (head, body) = http_get(&console, &href, cookie.value());
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("spreadsheetml"), "{head}");
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows[0][0], "档案号 Case", "{rows:?}");
        assert_eq!(rows.len(), 5, "a header and four cases: {rows:?}");
        let ours = rows.iter().find(|r| r[0] == case).expect("the new case is exported");
        assert_eq!(ours[1], "陈秀英");
        assert_eq!(ours[6], "800", "aid paid, in yuan: {ours:?}");
        c.close().await.unwrap();
    });
}

/// In `root`: a federation CA (`ca`) and a branch with no parent (`br`, its certificate issued)
/// whose console listens on a free loopback port. Returns the branch's data dir, the CA and the
/// console's address.
fn console_branch(root: &Path) -> (PathBuf, PathBuf, String) {
    let (dir, ca) = (root.join("br"), root.join("ca"));
    must(root, &["certs", "init-ca", "--out", ca.to_str().unwrap()]);
    let console = format!("127.0.0.1:{}", free_port());
    init_with_cert(
        &dir,
        &ca,
        "demo.branch-1",
        "branch",
        &["--console", &console],
    );
    (dir, ca, console)
}

#[test]
fn a_caseworker_logs_in_finds_a_case_by_id_number_and_opens_it_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _, console) = console_branch(tmp.path());
    let console_port: u16 = console.rsplit(':').next().unwrap().parse().unwrap();
    let added = must_json(&dir, &["user", "add", "李干事", "--role", "caseworker"]);
    let password = added["password"].as_str().unwrap().to_owned();
    let admin = must_json(&dir, &["user", "add", "王主任", "--role", "admin"]);
    let admin_password = admin["password"].as_str().unwrap().to_owned();
    let case = must_json(&dir, WANG)["id"].as_str().unwrap().to_owned();
    let _node: Serving = serve(&dir);
    assert!(listening(console_port), "the console did not come up");

    let base = format!("http://{console}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (_driver, c) = browser().await;
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
        // The English switch: the same page in English only, then Chinese first again.
        click_and_load(&c, "language").await;
        let title = c
            .find(Locator::Css("main h2"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(title, "The worker and household");
        let details = text_of(&c, "case").await;
        assert!(
            details.contains("Grade") && !details.contains("困难等级"),
            "{details}"
        );
        assert!(
            details.contains("deep") && !details.contains("深度困难"),
            "{details}"
        );
        shot("case-en.png", c.screenshot().await.unwrap());
        click_and_load(&c, "language").await;
        let details = text_of(&c, "case").await;
        assert!(details.contains("困难等级 Grade"), "{details}");
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
        // Nor resolve conflicts or set the policy: no such forms, and a resolve sent anyway is
        // refused.
        c.goto(&format!("{base}/conflicts")).await.unwrap();
        let page = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(page.contains("只有管理员可以解决冲突"), "{page}");
        c.goto(&format!("{base}/policy")).await.unwrap();
        text_of(&c, "policy").await;
        assert!(c.find(Locator::Id("policy-toml")).await.is_err());
        c.execute(
            "const f = document.createElement('form'); f.method = 'post'; f.action = '/conflicts/abcdef'; \
             for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['pick', '1']]) \
             { const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); } \
             document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
        let refused = text_of(&c, "refused").await;
        assert!(refused.contains("权限不足"), "{refused}");

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

/// Off loopback the console serves HTTPS only: a config without a certificate is refused with
/// what to write; with one, the console answers over TLS with a session cookie marked Secure,
/// and plain HTTP gets no page.
#[test]
fn the_console_serves_https_with_its_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ca) = (tmp.path().join("br"), tmp.path().join("ca"));
    must(
        tmp.path(),
        &["certs", "init-ca", "--out", ca.to_str().unwrap()],
    );
    let out = hearth(
        &dir,
        &[
            "init",
            "--node-id",
            "demo.branch-1",
            "--level",
            "branch",
            "--console",
            "0.0.0.0:8443",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("HTTPS only") && stderr.contains("console_tls"),
        "{stderr}"
    );
    assert!(!dir.join("hearth.toml").exists(), "nothing written");

    let port = free_port();
    init_with_cert(
        &dir,
        &ca,
        "demo.branch-1",
        "branch",
        &["--console", &format!("127.0.0.1:{port}")],
    );
    // The console's certificate: here one from the federation CA for the name "demo.console".
    let cert_dir = tmp.path().join("console-cert");
    issue_cert(tmp.path(), &ca, "demo.console", &cert_dir);
    let config = dir.join("hearth.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let tls = format!(
        "console_tls = {{ cert = {:?}, key = {:?} }}\n",
        cert_dir.join("node.pem"),
        cert_dir.join("node.key")
    );
    std::fs::write(&config, format!("{tls}{text}")).unwrap();
    let off = text.replace(&format!("127.0.0.1:{port}"), "0.0.0.0:8443");
    let off_file = tmp.path().join("off.toml");
    std::fs::write(&off_file, format!("{tls}{off}")).unwrap();
    must(tmp.path(), &["config", "check", off_file.to_str().unwrap()]);
    let password = must_json(&dir, &["user", "add", "王主任", "--role", "admin"])["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let _node: Serving = serve(&dir);
    assert!(listening(port), "the console did not come up");

    // Plain HTTP to the HTTPS port: no page.
    {
        use std::io::{Read, Write};
        let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
        plain
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = plain.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer);
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "plain HTTP was served"
        );
    }

    // Over TLS, trusting the CA that signed the console's certificate.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca.join("ca.pem")).unwrap();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("demo.console").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(client), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = format!("name=%E7%8E%8B%E4%B8%BB%E4%BB%BB&password={password}");
    use std::io::{Read, Write};
    write!(
        tls,
        "POST /login HTTP/1.1\r\nHost: demo.console\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie"))
        .unwrap_or_default();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

/// What a person (or someone else) may send the console that is wrong: each answered with a
/// clear page and its status, nothing written.
/// A branch with its console and the caseworker 李干事: its data dir, the console's address and
/// port, and the caseworker's password.
fn console_with_caseworker(root: &Path) -> (PathBuf, String, u16, String) {
    let (dir, _, console) = console_branch(root);
    let port: u16 = console.rsplit(':').next().unwrap().parse().unwrap();
    let password = must_json(&dir, &["user", "add", "李干事", "--role", "caseworker"])["password"]
        .as_str()
        .unwrap()
        .to_owned();
    (dir, console, port, password)
}

/// Logs 李干事 in over plain HTTP with `password`: the session cookie and the session's CSRF
/// token.
fn http_login(console: &str, password: &str) -> (String, String) {
    let login = format!("name=%E6%9D%8E%E5%B9%B2%E4%BA%8B&password={password}");
    let (head, _) = http(
        console,
        "POST",
        "/login",
        "",
        Some(("application/x-www-form-urlencoded", login.as_bytes())),
    );
    let cookie = head
        .lines()
        .find_map(|l| l.split("hearth_session=").nth(1))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let (_, page) = http_get(console, "/", &cookie);
    let page = String::from_utf8(page).unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

/// The 待上报 page of a node with more cases to escalate than a page shows comes a page at a
/// time, and the cases ticked on a later page are escalated to the level that page names.
#[test]
fn the_pending_page_comes_a_page_at_a_time_and_escalates_from_a_later_page() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, console, port, password) = console_with_caseworker(tmp.path());
    // 130 households in deep hardship on file here: each must go to the enterprise.
    let mut csv = String::from(
        "name,id_number,household_size,annual_income,rigid_spending,subsistence_line,primary_cause,status\n",
    );
    for n in 0..130 {
        let id = hearth_archive::identity::sample_id_number(7_000 + n);
        csv.push_str(&format!(
            "职工{n},{id},2,6000,0,800,serious_illness,filed\n"
        ));
    }
    let file = tmp.path().join("deep.csv");
    std::fs::write(&file, csv).unwrap();
    must(&dir, &["case", "import", file.to_str().unwrap()]);
    must(
        &dir,
        &[
            "peer",
            "add",
            "--id",
            "demo.enterprise",
            "--relation",
            "parent",
        ],
    );
    let _node: Serving = serve(&dir);
    assert!(listening(port), "the console did not come up");
    let (cookie, csrf) = http_login(&console, &password);
    let page = |path: &str| String::from_utf8(http_get(&console, path, &cookie).1).unwrap();
    let ticks = |html: &str| -> Vec<String> {
        html.split("name=\"case\" value=\"")
            .skip(1)
            .filter_map(|v| v.split('"').next().map(str::to_owned))
            .collect()
    };
    let first = page("/pending");
    assert_eq!(ticks(&first).len(), 100, "a page of 100");
    let after = first
        .split("href=\"/pending?after=")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("a link to the next page")
        .to_owned();
    let second = page(&format!("/pending?after={after}"));
    let rest = ticks(&second);
    assert_eq!(rest.len(), 30, "the other 30");
    assert!(!second.contains("id=\"next\""), "no page after the last");
    assert!(ticks(&first).iter().all(|id| !rest.contains(id)));

    let body = format!(
        "csrf={csrf}&after={after}&case={}&case={}&reason=policy",
        rest[0], rest[1]
    );
    let (head, answer) = http(
        &console,
        "POST",
        "/pending",
        &cookie,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let answer = String::from_utf8(answer).unwrap();
    assert!(!answer.contains("id=\"not-escalated\""), "{answer}");
    assert_eq!(ticks(&answer).len(), 28, "the page again, without the two");
    let pending = must_json(&dir, &["case", "pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 128);
    let shown = must_json(&dir, &["case", "show", &rest[0]]);
    assert_eq!(shown["escalation"]["target_level"], "enterprise");
}

#[test]
fn bad_requests_to_the_console_get_a_clear_page_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, console, port, password) = console_with_caseworker(tmp.path());
    let case = must_json(&dir, WANG)["id"].as_str().unwrap().to_owned();
    let node: Serving = serve(&dir);
    assert!(listening(port), "the console did not come up");

    // Not logged in: every page sends the browser to the login page.
    let (head, _) = http_get(&console, &format!("/case/{case}"), "nobody");
    assert!(
        head.starts_with("HTTP/1.1 303") && head.contains("location: /login"),
        "{head}"
    );

    let (cookie, csrf) = http_login(&console, &password);
    let form = "application/x-www-form-urlencoded";
    let long = "王".repeat(5000);
    // What the node holds, read through it: the list and the case in full.
    let state = || {
        format!(
            "{}{}",
            must(&dir, &["case", "list", "--json"]),
            must(&dir, &["case", "show", &case, "--json"])
        )
    };
    for (method, path, body, status, says) in [
        (
            "GET",
            "/case/ffffffffffff".to_owned(),
            None,
            "404",
            "ffffffffffff",
        ),
        (
            "POST",
            format!("/case/{case}/launch"),
            Some((form, format!("csrf={csrf}"))),
            "404",
            "没有这个表单",
        ),
        (
            "POST",
            format!("/case/{case}/assist"),
            Some((
                form,
                format!("csrf={csrf}&kind=living&amount=-5&date=2026-01-01"),
            )),
            "400",
            "negative",
        ),
        (
            "POST",
            format!("/case/{case}/edit"),
            Some((form, format!("csrf={csrf}&name={long}"))),
            "400",
            "name",
        ),
        (
            "POST",
            "/new".to_owned(),
            Some((form, format!("csrf={csrf}&name="))),
            "400",
            "name",
        ),
        (
            "POST",
            format!("/case/{case}/visit"),
            Some((form, "csrf=stale&date=2026-01-01&kind=home".to_owned())),
            "403",
            "表单已过期",
        ),
        (
            "POST",
            "/import".to_owned(),
            Some((
                "multipart/form-data; boundary=X",
                format!(
                    "--X\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n\r\nPK\u{3}\u{4}garbage\r\n--X--\r\n"
                ),
            )),
            "400",
            "not a workbook",
        ),
        (
            "GET",
            "/cases.xlsx?status=nonsense".to_owned(),
            None,
            "400",
            "nonsense",
        ),
    ] {
        let before = state();
        let (head, body) = http(
            &console,
            method,
            &path,
            &cookie,
            body.as_ref().map(|(k, b)| (*k, b.as_bytes())),
        );
        let body = String::from_utf8_lossy(&body);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {head}\n{body}"
        );
        assert!(body.contains(says), "{path}: {body}");
        assert_eq!(state(), before, "{path} wrote something");
    }
    drop(node);
}
