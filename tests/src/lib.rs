//! Home of Hearth's multi-node scenarios: several nodes over real gRPC and mutual TLS on
//! loopback, each with its own data dir, certificates made in the test by the federation CA code
//! the `hearth certs` command uses. The scenarios are in `tests/federation.rs`; this library holds
//! what they share.

use std::time::Duration;

use hearth_archive::identity::sample_id_number;
use hearth_archive::{Case, CaseFields, Cause, Editor, FederationSalt, IdNumber, Level};
use hearth_node::tls::{self, Pem};
use hearth_node::{Identity, NodeConfig, NodeOptions, Peer, Relation, RunningNode};
use hearth_store::Store;
use hearth_sync::{Replica, SessionConfig};

/// A node under test: its data dir and, while it runs, the running node.
#[derive(Debug)]
pub struct TestNode {
    /// Node id.
    pub id: String,
    /// Its data dir.
    pub dir: tempfile::TempDir,
    /// Its config.
    pub config: NodeConfig,
    /// Its certificate and key.
    pub pem: Pem,
    /// The federation CA certificate it trusts.
    pub ca_cert: String,
    /// The node, while it runs.
    pub running: Option<RunningNode>,
}

impl TestNode {
    /// A node with a certificate from `ca`, listening on a free loopback port.
    pub fn new(id: &str, level: Level, ca: &Pem, peers: Vec<Peer>) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        Store::create(&dir.path().join("hearth.redb"), &rand_bytes(id)).expect("store");
        TestNode {
            id: id.to_owned(),
            dir,
            config: NodeConfig {
                node_id: id.to_owned(),
                level,
                listen: Some("127.0.0.1:0".into()),
                peers,
            },
            pem: tls::issue(ca, id).expect("certificate"),
            ca_cert: ca.cert.clone(),
            running: None,
        }
    }

    /// Starts (or restarts) the node on its data dir.
    pub async fn start(&mut self) {
        let store = Store::open(&self.dir.path().join("hearth.redb")).expect("open store");
        let identity = Identity::from_pem(&self.ca_cert, &self.pem).expect("identity");
        let running = hearth_node::start(NodeOptions {
            config: self.config.clone(),
            identity,
            store,
            session: SessionConfig::default(),
        })
        .await
        .expect("node starts");
        // Keep the port across restarts so children can find it again.
        if let Some(addr) = running.addr() {
            self.config.listen = Some(addr.to_string());
        }
        self.running = Some(running);
    }

    /// Stops the node (its data dir stays).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// The running node.
    pub fn node(&self) -> &RunningNode {
        self.running.as_ref().expect("node is running")
    }

    /// `https://` endpoint of the running node.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.node().addr().expect("listening"))
    }

    /// Heads hash of a case here, if held.
    pub async fn heads(&self, case: &str) -> Option<[u8; 32]> {
        let case = case.to_owned();
        self.node()
            .local(move |r| r.heads_hash(&case).filter(|_| r.doc(&case).is_some()))
            .await
            .expect("node answers")
    }

    /// Changes a case held here through the archive API.
    pub async fn edit(
        &self,
        case: &str,
        f: impl FnOnce(&mut Case, &Editor) -> Result<(), hearth_archive::ArchiveError> + Send + 'static,
    ) {
        let case = case.to_owned();
        let node = self.id.clone();
        self.node()
            .local(move |r| {
                let c = r.case_mut(&case).expect("store").expect("case held");
                f(c, &editor(&node)).expect("edit");
                r.commit(&case).expect("commit");
            })
            .await
            .expect("node answers");
    }

    /// Opens a case here (its home).
    pub async fn create_case(&self, case: &str, n: u32) {
        let case = case.to_owned();
        let node = self.id.clone();
        self.node()
            .local(move |r| {
                let c = Case::create(&case, &node, r.actor(), &editor(&node), &fields(n))
                    .expect("create");
                r.add_case(c).expect("add");
            })
            .await
            .expect("node answers");
    }
}

fn rand_bytes(id: &str) -> [u8; 8] {
    let mut b = [0u8; 8];
    for (i, c) in id.bytes().enumerate() {
        b[i % 8] ^= c.wrapping_mul(31).wrapping_add(i as u8);
    }
    b
}

/// A peer entry.
pub fn peer(id: &str, relation: Relation, endpoint: Option<String>) -> Peer {
    Peer {
        id: id.to_owned(),
        relation,
        endpoint,
    }
}

/// An editor at `node`.
pub fn editor(node: &str) -> Editor {
    Editor {
        node: node.to_owned(),
        by: format!("caseworker at {node}"),
        at: hearth_archive::jiff::Timestamp::now(),
        today: hearth_archive::jiff::civil::date(2026, 6, 1),
    }
}

/// Case fields for made-up worker `n`.
pub fn fields(n: u32) -> CaseFields {
    CaseFields {
        name: Some(format!("worker {n}")),
        identity_key: IdNumber::parse(&sample_id_number(n))
            .ok()
            .map(|id| id.identity_key(&FederationSalt::from_bytes([6; 32]))),
        household_size: Some(3),
        annual_income_fen: Some(30_000_00),
        rigid_spending_fen: Some(6_000_00),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(Cause::SeriousIllness),
        ..CaseFields::default()
    }
}

/// Waits until `check` holds, polling every 20 ms, for at most `secs` seconds.
pub async fn wait_for<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
