//! Home of Hearth's multi-node scenarios: several nodes over real gRPC and mutual TLS on
//! loopback (`hearth_node::local`), each with its own data dir and a certificate from the same
//! CA code `hearth certs` uses. The scenarios are in `tests/federation.rs`; this library holds
//! the little they share.

use std::time::Duration;

use hearth_archive::{Case, CaseFields};
pub use hearth_node::local::{LocalNode, peer};

/// Opens case `id` for worker `n` at `node`.
pub async fn create_case(node: &LocalNode, id: &str, n: u32) {
    let id = id.to_owned();
    let home = node.id.clone();
    node.create("tester", move |actor, editor| {
        Case::create(&id, &home, actor, editor, &CaseFields::sample(n))
    })
    .await
    .expect("node answers")
    .expect("case created");
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
