//! Nodes in this process on loopback, each with a throwaway data dir and a certificate from an
//! in-memory federation CA: for `hearth demo`, the multi-node tests and benchmarks. They are real
//! nodes (real store, real gRPC over mutual TLS); only their setup is in memory.

use std::time::Duration;

use hearth_archive::automerge::ActorId;
use hearth_archive::{ArchiveError, Case, Editor, Level};
use hearth_store::Store;
use hearth_sync::{Replica, SessionConfig};

use crate::config::{NodeConfig, Peer, Relation};
use crate::tls::{self, Pem};
use crate::{Identity, NodeError, NodeOptions, RunningNode};

/// A node in this process.
#[derive(Debug)]
pub struct LocalNode {
    /// Node id.
    pub id: String,
    /// Its config.
    pub config: NodeConfig,
    dir: tempfile::TempDir,
    pem: Pem,
    ca_cert: String,
    running: Option<RunningNode>,
}

/// A neighbour entry.
pub fn peer(id: &str, relation: Relation, endpoint: Option<String>) -> Peer {
    Peer {
        id: id.to_owned(),
        relation,
        endpoint,
    }
}

/// An editor at `node`, now.
pub fn editor(node: &str, by: &str) -> Editor {
    let now = hearth_archive::calendar::zoned(hearth_archive::jiff::Timestamp::now());
    Editor {
        node: node.to_owned(),
        by: by.to_owned(),
        at: now.timestamp(),
        today: now.date(),
    }
}

fn io(e: std::io::Error) -> NodeError {
    NodeError::Start(e)
}

impl LocalNode {
    /// A node with a certificate from `ca`, to listen on a free loopback port.
    pub fn new(id: &str, level: Level, ca: &Pem, peers: Vec<Peer>) -> Result<LocalNode, NodeError> {
        let dir = tempfile::Builder::new()
            .prefix("hearth-node-")
            .tempdir()
            .map_err(io)?;
        let incarnation: [u8; 8] = rand::random();
        Store::create(&dir.path().join("hearth.redb"), &incarnation)?;
        let place = tls::Place {
            level: level.code().to_owned(),
            parents: peers
                .iter()
                .filter(|p| p.relation == crate::config::Relation::Parent)
                .map(|p| p.id.clone())
                .collect(),
        };
        Ok(LocalNode {
            id: id.to_owned(),
            config: NodeConfig {
                node_id: id.to_owned(),
                level,
                listen: Some("127.0.0.1:0".into()),
                peers,
                admins: Vec::new(),
                metrics: None,
                console: None,
                console_tls: None,
                limits: Default::default(),
                trust: Default::default(),
            },
            dir,
            pem: tls::issue(ca, id, Some(&place))?,
            ca_cert: ca.cert.clone(),
            running: None,
        })
    }

    /// Lets a certificate naming `admin` use the `Archive` API on the mTLS port (from the next
    /// start).
    pub fn admit(&mut self, admin: &str) {
        self.config.admins.push(admin.to_owned());
    }

    /// The node's data dir (its store is `hearth.redb` in it).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Starts (or restarts) the node on its data dir, on the same port as before.
    pub async fn start(&mut self) -> Result<(), NodeError> {
        self.start_with(SessionConfig::default()).await
    }

    /// Like [`LocalNode::start`], with other session limits.
    pub async fn start_with(&mut self, session: SessionConfig) -> Result<(), NodeError> {
        let mut store = Store::open(&self.dir.path().join("hearth.redb"))?;
        let salt = hearth_archive::FederationSalt::sample();
        // Bound to its node at first start, as `hearth serve` binds a data dir's store.
        if let Some((node, _)) = store.bind_identity(&self.id, &salt.fingerprint())? {
            return Err(NodeError::Start(std::io::Error::other(format!(
                "this store belongs to node {node}"
            ))));
        }
        let identity = Identity::from_pem(&self.ca_cert, &self.pem)?;
        let running = crate::start(NodeOptions {
            config: self.config.clone(),
            identity,
            store,
            salt,
            session,
        })
        .await?;
        if let Some(addr) = running.addr() {
            self.config.listen = Some(addr.to_string());
        }
        self.running = Some(running);
        Ok(())
    }

    /// Stops the node; its data dir stays.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// The running node.
    pub fn node(&self) -> Result<&RunningNode, NodeError> {
        self.running.as_ref().ok_or(NodeError::Stopped)
    }

    /// Serves the local API on `<data dir>/hearth.sock`, as `hearth serve` does; returns its path.
    pub fn serve_local(&mut self) -> Result<std::path::PathBuf, NodeError> {
        let socket = self.dir.path().join(crate::local_api::SOCKET_FILE);
        self.running
            .as_mut()
            .ok_or(NodeError::Stopped)?
            .serve_local(&socket)?;
        Ok(socket)
    }

    /// Whether the node runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// `https://HOST:PORT` of the running node.
    pub fn endpoint(&self) -> Result<String, NodeError> {
        let addr = self.node()?.addr().ok_or(NodeError::Stopped)?;
        Ok(format!("https://{addr}"))
    }

    /// Heads hash of a case here, if held.
    pub async fn heads(&self, case: &str) -> Result<Option<[u8; 32]>, NodeError> {
        let case = case.to_owned();
        let heads = self
            .node()?
            .local(move |r| match r.doc(&case)? {
                Some(_) => r.heads_hash(&case),
                None => Ok(None),
            })
            .await??;
        Ok(heads)
    }

    /// Runs an archive operation here as person `by` (as the `Archive` API does), on the core
    /// thread.
    pub async fn archive<R: Send + 'static>(
        &self,
        by: &str,
        f: impl FnOnce(&mut crate::StoreReplica, &hearth_ops::Ctx<'_>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let config = self.config.clone();
        let by = by.to_owned();
        self.node()?
            .local(move |r| {
                let salt = hearth_archive::FederationSalt::sample();
                crate::cases::with_ctx(&config, &salt, &by, |ctx| f(r, ctx))
            })
            .await
    }

    /// Reads a case held here.
    pub async fn read<R: Send + 'static>(
        &self,
        case: &str,
        f: impl FnOnce(&Case) -> R + Send + 'static,
    ) -> Result<Option<R>, NodeError> {
        let case = case.to_owned();
        self.node()?
            .local(move |r| match r.case_mut(&case) {
                Ok(Some(c)) => Some(f(c)),
                _ => None,
            })
            .await
    }

    /// Changes a case held here through the archive API; committed, then offered to peers.
    pub async fn edit(
        &self,
        case: &str,
        by: &str,
        f: impl FnOnce(&mut Case, &Editor) -> Result<(), ArchiveError> + Send + 'static,
    ) -> Result<Result<(), ArchiveError>, NodeError> {
        let case = case.to_owned();
        let node = self.id.clone();
        let by = by.to_owned();
        self.node()?
            .local(move |r| {
                let c = match r.case_mut(&case) {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        return Err(ArchiveError::Schema(format!("{node} does not hold {case}")));
                    }
                    Err(e) => return Err(ArchiveError::Schema(e.to_string())),
                };
                f(c, &editor(&node, &by))?;
                r.commit(&case)
                    .map_err(|e| ArchiveError::Schema(e.to_string()))?;
                Ok(())
            })
            .await
    }

    /// Opens a case here with `make` (given the node's actor and an editor).
    pub async fn create(
        &self,
        by: &str,
        make: impl FnOnce(ActorId, &Editor) -> Result<Case, ArchiveError> + Send + 'static,
    ) -> Result<Result<(), ArchiveError>, NodeError> {
        let node = self.id.clone();
        let by = by.to_owned();
        self.node()?
            .local(move |r| {
                let case = make(r.actor(), &editor(&node, &by))?;
                r.add_case(case)
                    .map_err(|e| ArchiveError::Schema(e.to_string()))?;
                Ok(())
            })
            .await
    }
}

/// Waits until `check` holds, polling every 20 ms, for at most `limit`; `false` on timeout.
pub async fn wait_for<F, Fut>(limit: Duration, check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_for_every(limit, Duration::from_millis(20), check).await
}

/// Like [`wait_for`], polling every `period` (benchmarks poll finely).
pub async fn wait_for_every<F, Fut>(limit: Duration, period: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(period).await;
    }
}

/// Node ids of the demo federation.
pub const TEAM_1: &str = "demo.team-1";
/// Node ids of the demo federation.
pub const TEAM_2: &str = "demo.team-2";
/// Node ids of the demo federation.
pub const BRANCH: &str = "demo.branch";
/// Node ids of the demo federation.
pub const ENTERPRISE: &str = "demo.enterprise";
/// Node ids of the demo federation.
pub const MUNICIPAL: &str = "demo.municipal";

/// The demo federation in this process: team-1 and team-2 under a branch, then an enterprise,
/// then a municipal node, each child dialling its parent.
#[derive(Debug)]
pub struct Federation {
    /// The federation CA that issued every node's certificate.
    pub ca: Pem,
    /// team-1.
    pub t1: LocalNode,
    /// team-2.
    pub t2: LocalNode,
    /// The branch.
    pub br: LocalNode,
    /// The enterprise.
    pub en: LocalNode,
    /// The municipal federation.
    pub mu: LocalNode,
}

impl Federation {
    /// Starts the five nodes top-down, so that each child knows its parent's port.
    pub async fn start(ca: Pem) -> Result<Federation, NodeError> {
        use Relation::{Child, Parent};
        let mut mu = LocalNode::new(
            MUNICIPAL,
            Level::Municipal,
            &ca,
            vec![peer(ENTERPRISE, Child, None)],
        )?;
        mu.start().await?;
        let to_mu = peer(MUNICIPAL, Parent, Some(mu.endpoint()?));
        let mut en = LocalNode::new(
            ENTERPRISE,
            Level::Enterprise,
            &ca,
            vec![to_mu, peer(BRANCH, Child, None)],
        )?;
        en.start().await?;
        let to_en = peer(ENTERPRISE, Parent, Some(en.endpoint()?));
        let children = [peer(TEAM_1, Child, None), peer(TEAM_2, Child, None)];
        let mut br = LocalNode::new(
            BRANCH,
            Level::Branch,
            &ca,
            [vec![to_en], children.to_vec()].concat(),
        )?;
        br.start().await?;
        let mut teams = Vec::new();
        for id in [TEAM_1, TEAM_2] {
            let mut team = LocalNode::new(
                id,
                Level::Team,
                &ca,
                vec![peer(BRANCH, Parent, Some(br.endpoint()?))],
            )?;
            team.start().await?;
            teams.push(team);
        }
        let t2 = teams.pop().ok_or(NodeError::Stopped)?;
        let t1 = teams.pop().ok_or(NodeError::Stopped)?;
        Ok(Federation {
            ca,
            t1,
            t2,
            br,
            en,
            mu,
        })
    }

    /// The five nodes, teams first.
    pub fn all(&self) -> [&LocalNode; 5] {
        [&self.t1, &self.t2, &self.br, &self.en, &self.mu]
    }

    /// Waits until every running node is connected to all its neighbours; `false` on timeout.
    pub async fn connected(&self, limit: Duration) -> bool {
        for node in self.all() {
            let up = wait_for(limit, || async {
                match node.node() {
                    Ok(r) => r
                        .status()
                        .await
                        .is_ok_and(|s| s.iter().all(|p| p.connected)),
                    Err(_) => false,
                }
            })
            .await;
            if !up {
                return false;
            }
        }
        true
    }

    /// For every node (teams first): its id and the heads hash of `case` there, if it holds it.
    pub async fn holders(&self, case: &str) -> Result<Vec<(String, Option<[u8; 32]>)>, NodeError> {
        let mut out = Vec::new();
        for node in self.all() {
            out.push((node.id.clone(), node.heads(case).await?));
        }
        Ok(out)
    }

    /// Stops every node.
    pub async fn stop(&mut self) {
        for node in [
            &mut self.t1,
            &mut self.t2,
            &mut self.br,
            &mut self.en,
            &mut self.mu,
        ] {
            node.stop().await;
        }
    }
}
