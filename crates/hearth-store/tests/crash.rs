//! Crash safety with real processes: a child process writes cases in a loop into a real redb file
//! and reports each write once `commit` has returned; the test kills it with SIGKILL at an
//! arbitrary moment, reopens the store, and checks that every acknowledged write is intact.
//!
//! The child is this same test binary started again with `HEARTH_CRASH_CHILD_STORE` set, so the
//! test needs no helper binary; the harness is `libtest-mimic` so that both roles share `main`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hearth_archive::identity::sample_id_number;
use hearth_archive::{
    AssistanceKind, Case, CaseFields, Cause, Editor, FederationSalt, IdNumber, NewAssistance,
    actor_id,
};
use hearth_store::Store;
use libtest_mimic::{Arguments, Failed, Trial};

const CHILD_ENV: &str = "HEARTH_CRASH_CHILD_STORE";
const ROUND_ENV: &str = "HEARTH_CRASH_CHILD_ROUND";
/// Acknowledged writes to wait for before killing the child, per round.
const ACKS_BEFORE_KILL: usize = 60;
/// The child stops by itself after this long, should the parent be gone.
const CHILD_LIFETIME: Duration = Duration::from_secs(120);

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let round = std::env::var(ROUND_ENV).unwrap_or_default();
        child_writer(Path::new(&path), &round);
        return;
    }
    let args = Arguments::from_args();
    let trials = vec![Trial::test(
        "acknowledged_writes_survive_sigkill",
        acknowledged_writes_survive_sigkill,
    )];
    libtest_mimic::run(&args, trials).exit();
}

fn editor() -> Editor {
    Editor {
        node: "crash.team-1".into(),
        by: "crash test".into(),
        at: jiff::Timestamp::now(),
        today: jiff::civil::date(2026, 3, 1),
    }
}

fn actor(store: &Store) -> hearth_archive::automerge::ActorId {
    actor_id("crash.team-1", store.incarnation())
}

fn fields(n: u32) -> CaseFields {
    let salt = FederationSalt::from_bytes([5; 32]);
    CaseFields {
        name: Some(format!("worker {n}")),
        identity_key: IdNumber::parse(&sample_id_number(n))
            .ok()
            .map(|id| id.identity_key(&salt)),
        household_size: Some(1 + n % 5),
        annual_income_fen: Some(i64::from(n) * 100_00),
        rigid_spending_fen: Some(0),
        subsistence_line_fen: Some(800_00),
        primary_cause: Some(Cause::Unemployed),
        ..CaseFields::default()
    }
}

/// The child: new cases, and every third write an aid payment on an earlier case, each in its own
/// committed batch, acknowledged on stdout only after `commit` returns.
fn child_writer(path: &Path, round: &str) {
    let started = Instant::now();
    let store = match Store::open(path) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("child: {e}");
            std::process::exit(3);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut created: Vec<String> = Vec::new();
    let mut n: u32 = 0;
    while started.elapsed() < CHILD_LIFETIME {
        n += 1;
        let mut batch = store.begin().unwrap_or_else(|e| panic!("begin: {e}"));
        let ack = if n.is_multiple_of(3) && !created.is_empty() {
            let case_id = &created[n as usize % created.len()];
            let mut case = store
                .load_case(case_id, actor(&store))
                .unwrap_or_else(|e| panic!("{e}"));
            let aid_id = format!("{round}a{n}");
            let aid = NewAssistance {
                id: aid_id.clone(),
                kind: AssistanceKind::Living,
                amount_fen: i64::from(n),
                date: jiff::civil::date(2026, 2, 1),
                paying_node: None,
                approving_node: None,
                note: None,
            };
            case.add_assistance(&editor(), &aid)
                .unwrap_or_else(|e| panic!("{e}"));
            batch.put(&mut case).unwrap_or_else(|e| panic!("{e}"));
            format!("aid {case_id} {aid_id} {n}")
        } else {
            let bound = hearth_archive::BoundId::new("crash.team-1", &format!("{round}c{n:06}"));
            let id = bound.id();
            let mut case = Case::create(&bound, actor(&store), &editor(), &fields(n))
                .unwrap_or_else(|e| panic!("{e}"));
            batch.put(&mut case).unwrap_or_else(|e| panic!("{e}"));
            created.push(id.clone());
            format!("case {id} {n}")
        };
        batch.commit().unwrap_or_else(|e| panic!("commit: {e}"));
        if writeln!(out, "{ack}").and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// Kills the child when dropped, so a failing assertion never leaves it running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Acked {
    cases: Vec<(String, u32)>,
    aids: Vec<(String, String, u32)>,
}

fn run_and_kill(path: &Path, round: &str, acked: &mut Acked) -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let mut child = KillOnDrop(
        Command::new(exe)
            .env(CHILD_ENV, path)
            .env(ROUND_ENV, round)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("child has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = 0;
    let record = |line: &str, acked: &mut Acked| -> Result<(), Failed> {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["case", id, n] => acked.cases.push(((*id).to_owned(), n.parse()?)),
            ["aid", case, aid, n] => {
                acked
                    .aids
                    .push(((*case).to_owned(), (*aid).to_owned(), n.parse()?));
            }
            _ => return Err(format!("child printed {line:?}").into()),
        }
        Ok(())
    };
    while seen < ACKS_BEFORE_KILL {
        let line = lines.next().ok_or("child stopped before it was killed")??;
        record(&line, acked)?;
        seen += 1;
    }
    // SIGKILL, wherever the child is: between writes, inside a commit, mid-fsync.
    child.0.kill()?;
    child.0.wait()?;
    // Lines the child completed before it died were acknowledged too; a torn last line was not.
    for line in lines {
        let Ok(line) = line else { break };
        record(&line, acked)?;
    }
    Ok(())
}

fn verify(path: &Path, acked: &Acked) -> Result<(), Failed> {
    let store = Store::open(path)?;
    let actor = actor(&store);
    for (id, n) in &acked.cases {
        let view = store.load_case(id, actor.clone())?.view()?;
        if view.worker.name.as_deref() != Some(format!("worker {n}").as_str()) {
            return Err(format!("case {id} came back with the wrong name").into());
        }
        if view.finances.annual_income_fen != Some(i64::from(*n) * 100_00) {
            return Err(format!("case {id} came back with the wrong income").into());
        }
    }
    for (case_id, aid_id, n) in &acked.aids {
        let view = store.load_case(case_id, actor.clone())?.view()?;
        let found = view
            .assistance
            .iter()
            .any(|a| &a.id == aid_id && a.amount_fen == i64::from(*n));
        if !found {
            return Err(format!("acknowledged aid {aid_id} on {case_id} is missing").into());
        }
    }
    let listed = store.case_summaries()?.len();
    let fed = store.changes_since(0)?.len();
    if listed < acked.cases.len() || fed < acked.cases.len() {
        return Err(format!(
            "{} cases acknowledged, {listed} listed, {fed} in the feed",
            acked.cases.len()
        )
        .into());
    }
    Ok(())
}

fn acknowledged_writes_survive_sigkill() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hearth.redb");
    drop(Store::create(&path, &[9; 8])?);
    let mut acked = Acked::default();
    // Three rounds on the same file: each starts from a store that was killed mid-flight.
    for round in ["x", "y", "z"] {
        run_and_kill(&path, round, &mut acked)?;
        verify(&path, &acked)?;
    }
    if acked.cases.len() < 3 * ACKS_BEFORE_KILL / 2 || acked.aids.is_empty() {
        return Err("too few writes were acknowledged to mean anything".into());
    }
    Ok(())
}
