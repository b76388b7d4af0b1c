//! Home of Hearth's multi-node scenarios: several nodes over real gRPC and mutual TLS on
//! loopback (`hearth_node::local`), each with its own data dir and a certificate from the same
//! CA code `hearth certs` uses. The scenarios are in `tests/federation.rs`; this library holds
//! the little they share.

pub mod hostile;

use std::time::Duration;

use hearth_archive::{Case, CaseFields};
pub use hearth_node::local::{LocalNode, peer};

/// The Python of a virtualenv (under `target_tmp`) with the pinned packages of
/// `tests/python/requirements.txt`, made by `tests/python/venv.sh` on first use. Fails the test,
/// saying why, if it cannot be made (it needs python3 with venv, and PyPI).
pub fn python(target_tmp: &std::path::Path) -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/venv.sh");
    let made = std::process::Command::new("bash")
        .arg(script)
        .arg(target_tmp.join("grpcio-venv"))
        .output()
        .expect("run tests/python/venv.sh");
    assert!(
        made.status.success(),
        "cannot make the Python virtualenv (needs python3 with venv, and PyPI): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    String::from_utf8_lossy(&made.stdout).trim().into()
}

/// Opens a case for worker `n` at `node`, its id bound to the node with `nonce`; returns the id
/// (kept for the rest of the test run, so that tests can hand it to tasks).
pub async fn create_case(node: &LocalNode, nonce: &str, n: u32) -> &'static str {
    let bound = hearth_archive::BoundId::new(&node.id, nonce);
    let id = bound.id();
    node.create("tester", move |actor, editor| {
        Case::create(&bound, actor, editor, &CaseFields::sample(n))
    })
    .await
    .expect("node answers")
    .expect("case created");
    Box::leak(id.into_boxed_str())
}

/// Changes a case at `node`; fails the test if it cannot.
pub async fn edit(
    node: &LocalNode,
    case: &str,
    f: impl FnOnce(&mut Case, &hearth_archive::Editor) -> Result<(), hearth_archive::ArchiveError>
    + Send
    + 'static,
) {
    node.edit(case, "tester", f)
        .await
        .expect("node answers")
        .expect("edit applies");
}

/// Heads hash of a case at `node`, if held.
pub async fn heads(node: &LocalNode, case: &str) -> Option<[u8; 32]> {
    node.heads(case).await.expect("node answers")
}

/// Waits until `check` holds, for at most `secs` seconds; fails the test otherwise.
pub async fn wait_for<F, Fut>(what: &str, secs: u64, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let held = hearth_node::local::wait_for(Duration::from_secs(secs), check).await;
    assert!(held, "timed out waiting for {what}");
}
