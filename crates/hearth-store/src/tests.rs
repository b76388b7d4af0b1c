//! Tests of the store against a real redb file in a temporary directory.

use hearth_archive::{
    AssistanceKind, Case, CaseFields, Cause, Editor, FederationSalt, IdNumber, NewAssistance,
    Status, actor_id,
};
use jiff::civil::date;

use super::*;

fn editor() -> Editor {
    Editor {
        node: "t.team-1".into(),
        by: "tester".into(),
        at: "2026-03-01T09:00:00Z".parse().unwrap(),
        today: date(2026, 3, 1),
    }
}

fn actor() -> ActorId {
    actor_id("t.team-1", &[1; 8])
}

fn case(id: &str, id_number: &str) -> Case {
    let salt = FederationSalt::from_bytes([3; 32]);
    let fields = CaseFields {
        name: Some(format!("worker {id}")),
        identity_key: Some(IdNumber::parse(id_number).unwrap().identity_key(&salt)),
        household_size: Some(2),
        annual_income_fen: Some(20_000_00),
        rigid_spending_fen: Some(0),
        subsistence_line_fen: Some(900_00),
        primary_cause: Some(Cause::Unemployed),
        ..CaseFields::default()
    };
    Case::create_legacy(id, "t.team-1", actor(), &editor(), &fields).unwrap()
}

fn aid(id: &str) -> NewAssistance {
    NewAssistance {
        id: id.into(),
        kind: AssistanceKind::Living,
        amount_fen: 100_00,
        date: date(2026, 2, 1),
        paying_node: None,
        approving_node: None,
        note: None,
    }
}

fn put(store: &Store, case: &mut Case) -> Option<u64> {
    let mut batch = store.begin().unwrap();
    let seq = batch.put(case).unwrap();
    batch.commit().unwrap();
    seq
}

const ID1: &str = "11010519491231002X";
const ID2: &str = "110105198003150012";

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(&dir.path().join("hearth.redb"), &[1; 8]).unwrap();
    (dir, store)
}

#[test]
fn a_case_survives_closing_and_reopening_the_file() {
    let (dir, store) = fresh();
    let mut c = case("aaaa1111", ID1);
    assert_eq!(put(&store, &mut c), Some(1));
    drop(store);
    let store = Store::open(&dir.path().join("hearth.redb")).unwrap();
    assert_eq!(store.incarnation(), &[1; 8]);
    let loaded = store.load_case("aaaa1111", actor()).unwrap();
    assert_eq!(loaded.view().unwrap(), c.view().unwrap());
}

#[test]
fn the_feed_keeps_each_document_once_at_its_latest_sequence() {
    let (_dir, store) = fresh();
    let mut a = case("aaaa", ID1);
    let mut b = case("bbbb", ID2);
    put(&store, &mut a);
    put(&store, &mut b);
    a.add_assistance(&editor(), &aid("x1")).unwrap();
    assert_eq!(put(&store, &mut a), Some(3));
    assert_eq!(put(&store, &mut a), None, "no new changes, no new sequence");
    assert_eq!(
        store.changes_since(0).unwrap(),
        [(2, "bbbb".to_owned()), (3, "aaaa".to_owned())]
    );
    assert_eq!(store.changes_since(2).unwrap(), [(3, "aaaa".to_owned())]);
    assert!(store.changes_since(3).unwrap().is_empty());
}

#[test]
fn chunks_fold_into_a_snapshot_and_nothing_is_lost() {
    let (_dir, mut store) = fresh();
    let mut c = case("cccc", ID1);
    put(&store, &mut c);
    let writes = COMPACT_AFTER + 5;
    for i in 0..writes {
        let mut loaded = store.load_case("cccc", actor()).unwrap();
        loaded
            .add_assistance(&editor(), &aid(&format!("a{i}")))
            .unwrap();
        put(&store, &mut loaded);
    }
    let stats = store.stats().unwrap();
    assert!(
        stats.chunks < COMPACT_AFTER,
        "chunks were folded: {stats:?}"
    );
    let view = store.load_case("cccc", actor()).unwrap().view().unwrap();
    assert_eq!(view.assistance.len() as u64, writes);

    let done = store.compact().unwrap();
    assert_eq!(store.stats().unwrap().chunks, 0);
    assert_eq!(done.chunks, stats.chunks);
    let view = store.load_case("cccc", actor()).unwrap().view().unwrap();
    assert_eq!(view.assistance.len() as u64, writes);
}

#[test]
fn listing_and_identity_indexes_follow_edits() {
    let (_dir, store) = fresh();
    let mut c = case("dddd", ID1);
    put(&store, &mut c);
    let salt = FederationSalt::from_bytes([3; 32]);
    let key1 = IdNumber::parse(ID1).unwrap().identity_key(&salt);
    let key2 = IdNumber::parse(ID2).unwrap().identity_key(&salt);
    assert_eq!(store.cases_with_identity(key1.as_str()).unwrap(), ["dddd"]);

    c.file(&editor()).unwrap();
    let fields = CaseFields {
        identity_key: Some(key2.clone()),
        ..CaseFields::default()
    };
    c.edit(&editor(), &fields).unwrap();
    put(&store, &mut c);
    assert!(store.cases_with_identity(key1.as_str()).unwrap().is_empty());
    assert_eq!(store.cases_with_identity(key2.as_str()).unwrap(), ["dddd"]);
    let summaries = store.case_summaries().unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].status, Status::Filed);
}

#[test]
fn ids_resolve_by_unique_prefix() {
    let (_dir, store) = fresh();
    put(&store, &mut case("ab12", ID1));
    put(&store, &mut case("ab34", ID2));
    assert_eq!(store.resolve_case_id("ab1").unwrap(), "ab12");
    assert!(matches!(
        store.resolve_case_id("ab"),
        Err(StoreError::Ambiguous(_))
    ));
    assert!(matches!(
        store.resolve_case_id("zz"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.load_case("zz", actor()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn an_uncommitted_batch_leaves_nothing() {
    let (_dir, store) = fresh();
    let mut batch = store.begin().unwrap();
    batch.put(&mut case("eeee", ID1)).unwrap();
    drop(batch);
    assert!(store.case_summaries().unwrap().is_empty());
    assert_eq!(store.stats().unwrap(), StoreStats::default());
}

#[test]
fn open_refuses_missing_existing_and_busy_files() {
    let (dir, store) = fresh();
    let path = dir.path().join("hearth.redb");
    assert!(matches!(
        Store::open(&dir.path().join("nope.redb")),
        Err(StoreError::Missing(_))
    ));
    assert!(matches!(
        Store::create(&path, &[0; 8]),
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(Store::open(&path), Err(StoreError::Locked(_))));
    drop(store);
    Store::open(&path).unwrap();
}

#[test]
fn sync_metadata_persists_per_peer() {
    let (dir, store) = fresh();
    let mut c = case("ffff", ID1);
    put(&store, &mut c);
    let mut batch = store.begin().unwrap();
    batch.save_peer_checkpoint("t.branch", 42, 7).unwrap();
    batch.save_sync_state("t.branch", "ffff", b"state").unwrap();
    batch.commit().unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("hearth.redb")).unwrap();
    assert_eq!(store.peer_checkpoint("t.branch").unwrap(), Some((42, 7)));
    assert_eq!(store.peer_checkpoint("t.other").unwrap(), None);
    assert_eq!(
        store.sync_state("t.branch", "ffff").unwrap().as_deref(),
        Some(&b"state"[..])
    );
    assert_eq!(store.doc_ids().unwrap(), ["ffff"]);
    assert_eq!(
        store.heads_hash("ffff").unwrap(),
        Some(hearth_archive::heads_hash(&c.heads()))
    );
    assert_eq!(store.feed_epoch(), u64::from_be_bytes([1; 8]));
    let summary = &store.case_summaries().unwrap()[0];
    assert_eq!(summary.participants, ["t.team-1"]);
}

#[test]
fn a_caller_may_hand_out_sequences_before_committing() {
    let (_dir, store) = fresh();
    assert_eq!(store.next_seq().unwrap(), 1);
    let mut a = case("aaaa", ID1);
    let mut b = case("bbbb", ID2);
    let mut batch = store.begin().unwrap();
    assert_eq!(batch.put_at(&mut b, 1).unwrap(), Some(1));
    assert_eq!(batch.put_at(&mut a, 3).unwrap(), Some(3));
    batch.commit().unwrap();
    assert_eq!(store.next_seq().unwrap(), 4);
    assert_eq!(
        store.changes_since(0).unwrap(),
        [(1, "bbbb".to_owned()), (3, "aaaa".to_owned())]
    );
    assert_eq!(store.changes_since_limit(0, 1).unwrap().len(), 1);
    assert_eq!(store.case_summary("aaaa").unwrap().unwrap().id, "aaaa");
    assert!(store.case_summary("zzzz").unwrap().is_none());
}

#[test]
fn a_merge_with_concurrent_values_queues_a_conflict_and_its_resolution_closes_it() {
    let (_dir, store) = fresh();
    let mut a = case("cccc1111", ID1);
    put(&store, &mut a);
    let mut b = Case::load(&a.save(), actor_id("t.branch-b", &[2; 8])).unwrap();
    let income = |fen| CaseFields {
        annual_income_fen: Some(fen),
        ..CaseFields::default()
    };
    let at = |node: &str| Editor {
        node: node.into(),
        ..editor()
    };
    a.edit(&at("t.team-1"), &income(21_000_00)).unwrap();
    b.edit(&at("t.branch-b"), &income(25_000_00)).unwrap();
    a.doc_mut().merge(b.doc_mut()).unwrap();
    put(&store, &mut a);
    let queue = store.conflicts().unwrap();
    assert_eq!(queue.len(), 1, "{queue:?}");
    let entry = &queue[0];
    assert!(entry.is_open());
    assert_eq!(entry.path, "finances.annual_income_fen");
    let mut nodes: Vec<_> = entry.sides.iter().filter_map(|s| s.node.clone()).collect();
    nodes.sort();
    assert_eq!(nodes, ["t.branch-b", "t.team-1"]);

    // Writing it again changes nothing in the queue; resolving it closes it, with who and how.
    put(&store, &mut a);
    assert_eq!(store.conflicts().unwrap().len(), 1);
    let values = a.field_values(&entry.path).unwrap();
    a.resolve_field(
        &editor(),
        &entry.id,
        &entry.path,
        values[1].clone(),
        "picked side 2",
    )
    .unwrap();
    put(&store, &mut a);
    let queue = store.conflicts().unwrap();
    let resolution = queue[0].resolution.clone().expect("resolved");
    assert_eq!(resolution.by.as_deref(), Some("tester"));
    assert_eq!(resolution.node.as_deref(), Some("t.team-1"));
    assert_eq!(resolution.how, "picked side 2");
}

#[test]
fn a_fund_paid_below_zero_by_merged_payments_is_queued_and_acknowledging_closes_it() {
    use hearth_archive::ledger::{Entry, Stamp};
    use hearth_archive::{IncomeSource, Record};
    let (_dir, store) = fresh();
    let stamp = |node: &str| Stamp {
        by: "li".into(),
        node: node.into(),
        at: editor().at,
    };
    let pay = |node: &str, fen| Entry::Disbursement {
        date: date(2026, 2, 1),
        amount_fen: fen,
        kind: AssistanceKind::Living,
        case: "c".into(),
        assistance: format!("aid-{node}"),
        stamp: stamp(node),
    };
    let mut a = Record::create("ledger.t.team-1", actor(), &editor()).unwrap();
    let income = Entry::Income {
        date: date(2026, 1, 5),
        source: IncomeSource::Budget,
        amount_fen: 100_00,
        from_node: None,
        note: None,
        stamp: stamp("t.team-1"),
    };
    a.put(&editor(), "in-1", &income).unwrap();
    let mut b = Record::load(&a.save(), actor_id("t.team-1", &[9; 8])).unwrap();
    a.put(&editor(), "out-a", &pay("t.team-1", 80_00)).unwrap();
    b.put(&editor(), "out-b", &pay("t.team-1", 80_00)).unwrap();
    a.doc_mut().merge(b.doc_mut()).unwrap();
    let mut batch = store.begin().unwrap();
    batch.put(&mut a).unwrap();
    batch.commit().unwrap();
    let queue = store.conflicts().unwrap();
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert!(
        queue[0].field.contains("below zero: balance -60.00"),
        "{}",
        queue[0].field
    );
    assert_eq!(queue[0].route.as_deref(), Some("t.team-1"));
    assert_eq!(queue[0].sides.len(), 2);

    a.acknowledge(&editor(), &queue[0].id, "paid from the reserve")
        .unwrap();
    let mut batch = store.begin().unwrap();
    batch.put(&mut a).unwrap();
    batch.commit().unwrap();
    let resolution = store.conflicts().unwrap()[0]
        .resolution
        .clone()
        .expect("closed");
    assert_eq!(resolution.how, "acknowledged: paid from the reserve");
}

#[test]
fn newer_schemas_drop_the_checkpoints_of_neighbours_feeds_once() {
    let (_dir, mut store) = fresh();
    let mut batch = store.begin().unwrap();
    batch.save_peer_checkpoint("t.branch", 7, 40).unwrap();
    batch.commit().unwrap();
    // First recorded: the store reconciled under these schemas already.
    assert!(!store.note_schemas(1001).unwrap());
    assert_eq!(store.peer_checkpoint("t.branch").unwrap(), Some((7, 40)));
    assert!(!store.note_schemas(1001).unwrap());
    // An upgrade that reads newer documents: the next sessions reconcile by digest.
    assert!(store.note_schemas(2001).unwrap());
    assert_eq!(store.peer_checkpoint("t.branch").unwrap(), None);
    assert!(!store.note_schemas(2001).unwrap());
}

#[test]
fn a_document_the_index_cannot_read_fails_before_anything_of_it_is_written() {
    use hearth_archive::automerge::ROOT;
    use hearth_archive::automerge::transaction::Transactable;
    let (_dir, store) = fresh();
    let mut good = case("c1", "11010519491231002X");
    let mut bad = case("c2", &hearth_archive::identity::sample_id_number(2));
    bad.doc_mut().delete(ROOT, "status").unwrap();
    bad.doc_mut().commit();
    let mut batch = store.begin().unwrap();
    assert!(matches!(batch.put(&mut bad), Err(StoreError::Archive(_))));
    batch.put(&mut good).unwrap();
    batch.commit().unwrap();
    assert_eq!(store.doc_ids().unwrap(), vec!["c1".to_owned()]);
    assert_eq!(store.case_summaries().unwrap().len(), 1);
    assert_eq!(store.changes_since(0).unwrap().len(), 1);
}

#[test]
fn a_store_is_bound_to_its_node_and_salt_at_first_use() {
    let (_dir, mut store) = fresh();
    assert_eq!(store.bind_identity("t.team-1", "aaaa").unwrap(), None);
    assert_eq!(store.bind_identity("t.team-1", "aaaa").unwrap(), None);
    let recorded = Some(("t.team-1".to_owned(), "aaaa".to_owned()));
    assert_eq!(store.bind_identity("t.team-2", "aaaa").unwrap(), recorded);
    assert_eq!(store.bind_identity("t.team-1", "bbbb").unwrap(), recorded);
}

#[test]
fn signatures_and_certificates_are_kept_across_reopening() {
    use hearth_archive::signed::{ChangeSig, SigSet};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::create(&path, &[1; 8]).unwrap();
    assert!(
        store.signatures("c1").unwrap().is_empty(),
        "none before any is kept"
    );
    assert!(store.certificates().unwrap().is_empty());
    let mut sigs = SigSet::default();
    sigs.keep(
        actor(),
        3,
        ChangeSig {
            hash: hearth_archive::automerge::ChangeHash([5; 32]),
            sig: vec![9; 70],
        },
    );
    let mut batch = store.begin().unwrap();
    batch.save_signatures("c1", &sigs).unwrap();
    batch.save_certificate(b"chain one").unwrap();
    batch.save_certificate(b"chain one").unwrap();
    batch.save_certificate(b"chain two").unwrap();
    batch.commit().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.signatures("c1").unwrap(), sigs);
    let mut chains = store.certificates().unwrap();
    chains.sort();
    assert_eq!(chains, vec![b"chain one".to_vec(), b"chain two".to_vec()]);
}

/// A store of `n` cases, each with an aid record and some edits in change chunks; the path of
/// its file and what each case reads as.
fn written(dir: &Path, n: usize) -> (PathBuf, Vec<(String, CaseSummary, serde_json::Value)>) {
    let path = dir.join("s.redb");
    let store = Store::create(&path, &[1; 8]).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let id = format!("{i:016x}");
        let number = if i % 2 == 0 { ID1 } else { ID2 };
        let mut c = case(&id, number);
        put(&store, &mut c);
        c.add_assistance(&editor(), &aid(&format!("a{i}"))).unwrap();
        put(&store, &mut c);
        c.file(&editor()).unwrap();
        put(&store, &mut c);
        let view = c.view().unwrap();
        out.push((
            id,
            CaseSummary::of(&view),
            serde_json::to_value(&view).unwrap(),
        ));
    }
    drop(store);
    (path, out)
}

/// Every read of `path`: each either returns exactly what was written or fails; never a
/// panic (a panic inside the storage code comes back as an error).
fn reads_right_or_fail(path: &Path, cases: &[(String, CaseSummary, serde_json::Value)]) -> usize {
    let Ok(store) = Store::open(path) else {
        return 1;
    };
    let mut failed = 0;
    for (id, _, view) in cases {
        match store.load_case(id, actor()) {
            Ok(c) => assert_eq!(
                &serde_json::to_value(c.view().unwrap()).unwrap(),
                view,
                "case {id} read back other than written"
            ),
            Err(_) => failed += 1,
        }
    }
    match store.case_summaries() {
        Ok(listed) => {
            assert_eq!(listed.len(), cases.len(), "a listing with cases missing");
            for s in &listed {
                let written = cases.iter().find(|(id, _, _)| *id == s.id);
                assert_eq!(
                    written.map(|(_, w, _)| w),
                    Some(s),
                    "listing of {} read back other than written",
                    s.id
                );
            }
        }
        Err(_) => failed += 1,
    }
    if store.check().is_err() {
        failed += 1;
    }
    failed
}

/// A way to damage a copy of a store file.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn every_read_of_a_damaged_store_is_what_was_written_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, cases) = written(dir.path(), 12);
    let clean = std::fs::read(&path).unwrap();
    assert_eq!(reads_right_or_fail(&path, &cases), 0);
    let copy = dir.path().join("damaged.redb");
    let mut variants = 0;
    let mut found = 0;
    // Each page zeroed in turn, then single bits flipped at spread offsets (bounded).
    let pages = clean.len().div_ceil(4096);
    let mut damages: Vec<Damage> = Vec::new();
    for page in 0..pages {
        damages.push(Box::new(move |b: &mut Vec<u8>| {
            let end = ((page + 1) * 4096).min(b.len());
            b[page * 4096..end].fill(0);
        }));
    }
    let len = clean.len();
    for k in 0..240usize {
        let offset = (k * 7919 + 13) % len;
        let bit = k % 8;
        damages.push(Box::new(move |b: &mut Vec<u8>| b[offset] ^= 1 << bit));
    }
    for damage in &damages {
        let mut bytes = clean.clone();
        damage(&mut bytes);
        std::fs::write(&copy, &bytes).unwrap();
        variants += 1;
        found += usize::from(reads_right_or_fail(&copy, &cases) > 0);
    }
    eprintln!("{variants} damaged copies: {found} found damaged, the rest read right");
    assert!(
        found > 0,
        "no damage was found in {variants} damaged copies"
    );
}

#[test]
fn check_names_a_damaged_document_and_repair_takes_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let (path, cases) = written(dir.path(), 3);
    let mut store = Store::open(&path).unwrap();
    let mut batch = store.begin().unwrap();
    batch.save_peer_checkpoint("t.branch", 7, 40).unwrap();
    batch.commit().unwrap();
    assert!(store.check().unwrap().damaged.is_empty());
    let (id, _, _) = &cases[1];
    // A change chunk lost (as a flipped bit in its key would lose it).
    let txn = store.db().unwrap().begin_write().unwrap();
    txn.open_table(CHUNKS)
        .unwrap()
        .retain_in((id.as_str(), 0)..=(id.as_str(), u64::MAX), |_, _| false)
        .unwrap();
    txn.commit().unwrap();
    let err = store.load_case(id, actor()).unwrap_err().to_string();
    assert!(
        err.contains(id.as_str()) && err.contains("damaged"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");
    let report = store.check().unwrap();
    assert_eq!(report.documents, 3);
    assert_eq!(
        report.damaged.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        vec![id]
    );
    assert!(!store.stored_bytes(id).unwrap().is_empty());

    store.remove_damaged(std::slice::from_ref(id)).unwrap();
    assert!(store.check().unwrap().damaged.is_empty());
    assert!(store.load_doc(id, actor()).unwrap().is_none());
    assert!(store.case_summary(id).unwrap().is_none());
    assert_eq!(
        store.peer_checkpoint("t.branch").unwrap(),
        None,
        "the next session reconciles, which fetches the case again"
    );
    for (other, _, _) in cases.iter().filter(|(o, _, _)| o != id) {
        store.load_case(other, actor()).unwrap();
    }
}

#[test]
fn a_listing_entry_changed_on_disk_is_an_error_not_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let (path, cases) = written(dir.path(), 2);
    let store = Store::open(&path).unwrap();
    let (id, _, _) = &cases[0];
    let txn = store.db().unwrap().begin_write().unwrap();
    {
        let mut index = txn.open_table(CASE_INDEX).unwrap();
        let stored = index.get(id.as_str()).unwrap().unwrap().value().to_owned();
        let changed = stored.replacen("worker", "wurker", 1);
        index.insert(id.as_str(), changed.as_str()).unwrap();
    }
    txn.commit().unwrap();
    let err = store.case_summaries().unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
    let report = store.check().unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
}

/// What a recount of the listing index gives for the year kept counted.
fn recount(store: &Store) -> Totals {
    Totals::of(
        store
            .case_summaries()
            .unwrap()
            .iter()
            .filter(|c| c.home == "t.team-1"),
        this_year(),
    )
}

/// The ids of the cases in `sort`, after `after`.
fn in_order(store: &Store, sort: Sort, after: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    store
        .cases_in_order(sort, after, &mut |key, c| {
            out.push((key.to_owned(), c.id));
            true
        })
        .unwrap();
    out
}

#[test]
fn listing_orders_and_totals_follow_every_write_as_a_recount_gives_them() {
    let (dir, store) = fresh();
    let ids = ["c1", "c2", "c3", "c4"];
    let numbers = [ID1, ID2, "110105198003150039", "110105198003150055"];
    let mut cases: Vec<Case> = ids
        .iter()
        .zip(numbers)
        .map(|(id, number)| case(id, number))
        .collect();
    for c in &mut cases {
        put(&store, c);
    }
    assert_eq!(
        store.totals("t.team-1", this_year()).unwrap(),
        Some(recount(&store))
    );
    assert_eq!(
        store
            .totals("t.team-1", this_year())
            .unwrap()
            .unwrap()
            .cases,
        4
    );
    // Filed, paid, renamed and closed: each write moves the case in the orders and the totals.
    cases[2].file(&editor()).unwrap();
    put(&store, &mut cases[2]);
    cases[1].file(&editor()).unwrap();
    cases[1].add_assistance(&editor(), &aid("a1")).unwrap();
    put(&store, &mut cases[1]);
    let renamed = CaseFields {
        name: Some("a first name".into()),
        ..CaseFields::default()
    };
    cases[3].edit(&editor(), &renamed).unwrap();
    put(&store, &mut cases[3]);
    cases[0]
        .transition(&editor(), Status::Closed, "moved away")
        .unwrap();
    put(&store, &mut cases[0]);
    let kept = store.totals("t.team-1", this_year()).unwrap().unwrap();
    assert_eq!(kept, recount(&store));
    assert_eq!(kept.by_status.get(&Status::Filed), Some(&2));
    assert_eq!(
        store.totals("elsewhere", this_year()).unwrap(),
        Some(Totals::default())
    );
    assert_eq!(store.totals("t.team-1", 1990).unwrap(), None);

    let names: Vec<String> = in_order(&store, Sort::Name, None)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(names, ["c4", "c1", "c2", "c3"]);
    let aid_first = in_order(&store, Sort::Aid, None);
    assert_eq!(aid_first[0].1, "c2");
    // A page starts right after the key of the page before.
    let opened = in_order(&store, Sort::Opened, None);
    assert_eq!(opened.len(), 4);
    let rest = in_order(&store, Sort::Opened, Some(&opened[1].0));
    assert_eq!(rest, opened[2..]);
    assert_eq!(store.check().unwrap().derived, None);

    // A store written before the derived indexes (or in another year) builds them at opening.
    drop(store);
    let path = dir.path().join("hearth.redb");
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().remove("derived").unwrap();
        txn.open_table(derived::ORDER)
            .unwrap()
            .retain(|_, ()| false)
            .unwrap();
        txn.open_table(derived::TOTALS)
            .unwrap()
            .retain(|_, _| false)
            .unwrap();
        txn.commit().unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(in_order(&store, Sort::Opened, None), opened);
    assert_eq!(
        store.totals("t.team-1", this_year()).unwrap(),
        Some(recount(&store))
    );

    // Totals damaged on disk are found by a recount and rebuilt.
    {
        let txn = store.begin().unwrap();
        let mut wrong = recount(&store);
        wrong.cases += 7;
        txn.txn
            .open_table(derived::TOTALS)
            .unwrap()
            .insert(
                (this_year(), "t.team-1"),
                seal(&serde_json::to_string(&wrong).unwrap()).as_str(),
            )
            .unwrap();
        txn.commit().unwrap();
    }
    let found = store.check().unwrap().derived;
    assert!(
        found.as_deref().is_some_and(|d| d.contains("recount")),
        "{found:?}"
    );
    store.rebuild_indexes().unwrap();
    assert_eq!(store.check().unwrap().derived, None);
    assert_eq!(
        store.totals("t.team-1", this_year()).unwrap(),
        Some(recount(&store))
    );

    // Bound to its node, the store counts that node's own cases only.
    assert_eq!(store.bind_identity("t.team-1", "aaaa").unwrap(), None);
    assert_eq!(store.totals("elsewhere", this_year()).unwrap(), None);
    assert_eq!(
        store.totals("t.team-1", this_year()).unwrap(),
        Some(recount(&store))
    );
    assert_eq!(store.check().unwrap().derived, None);
}
