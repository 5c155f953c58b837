//! The workflow engine on a real database, without HTTP: every element
//! type, the citizen-wait deadline, reminders and escalation with a clock
//! the test controls, definition upgrades under running cases, invalid
//! definitions, withdrawal, and the protocol book's numbering.

use chrono::{Datelike, Duration};
use dimos_db::{Db, DbOptions, TenantDb};
use dimos_it::{Backend, fresh_database, on_both_backends};
use dimos_kernel::{Clock, ManualClock, TenantId};
use dimos_workflow::query::{self, Queue};
use dimos_workflow::{
    Actor, CaseId, Definition, Engine, HookFn, HookInput, NewCase, Scheduler, Staff, TaskId,
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

const FIXTURE: &str = include_str!("../../platform/workflow/src/definition/fixture.toml");

fn finish(input: &HookInput<'_>) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    m.insert(
        "reference".into(),
        json!(format!(
            "REF-{}",
            input.protocol.clone().unwrap_or_default()
        )),
    );
    Ok(m)
}

struct Env {
    _dir: tempfile::TempDir,
    url: String,
    db: Db,
    clock: Arc<ManualClock>,
    tdb: TenantDb,
}

async fn env(backend: Backend) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    dimos_db::migrate::migrate(&db, &[dimos_db::PLATFORM_MIGRATIONS])
        .await
        .unwrap();
    let tdb = TenantDb::new(db.clone(), TenantId::new());
    Env {
        _dir: dir,
        url,
        db,
        clock: ManualClock::new(),
        tdb,
    }
}

fn engine_with(e: &Env, defs: Vec<Definition>) -> Arc<Engine> {
    let hooks: BTreeMap<String, HookFn> = [("test.finish".to_owned(), finish as HookFn)].into();
    Arc::new(
        Engine::new(
            e.clock.clone(),
            defs.into_iter().map(|d| ("test".to_owned(), d)).collect(),
            ["clerk", "head"].map(String::from).into(),
            hooks,
        )
        .expect("valid definitions"),
    )
}

fn fixture() -> Definition {
    Definition::parse_toml(FIXTURE).unwrap()
}

fn scheduler(e: &Env, engine: &Arc<Engine>) -> Scheduler {
    let mut s = Scheduler::new(e.db.clone(), e.clock.clone());
    s.register(dimos_workflow::engine::TIMER_JOB, engine.timer_handler());
    s
}

fn staff(name: &str, role: &str) -> Staff {
    Staff {
        account: Uuid::now_v7(),
        name: name.into(),
        roles: [role.to_owned()].into(),
        departments: BTreeSet::new(),
    }
}

fn new_case(applicant: Uuid, data: Value) -> NewCase {
    NewCase {
        process: "test.request".into(),
        applicant,
        applicant_name: "Μαρία Παπαδοπούλου".into(),
        filed_by: None,
        subject: "Αίτηση δοκιμής".into(),
        data: data.as_object().cloned().unwrap_or_default(),
        attachments: 1,
    }
}

fn citizen(id: Uuid) -> Actor {
    Actor {
        account: Some(id),
        name: "Μαρία Παπαδοπούλου".into(),
        on_behalf_of: None,
    }
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn open_task(e: &Env, case: CaseId) -> TaskId {
    let tasks = query::tasks_of_case(&e.tdb, case).await.unwrap();
    let open: Vec<_> = tasks.iter().filter(|t| t.status == "open").collect();
    assert_eq!(open.len(), 1, "{tasks:?}");
    TaskId(open[0].id)
}

async fn kinds(e: &Env, case: CaseId) -> Vec<String> {
    query::events(&e.tdb, case, false)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn every_element_type_runs_end_to_end(backend: Backend) {
    let e = env(backend).await;
    let engine = engine_with(&e, vec![fixture()]);
    let (clerk, head) = (staff("Υπάλληλος", "clerk"), staff("Προϊστάμενος", "head"));
    let applicant = Uuid::now_v7();
    let started = engine
        .start(&e.tdb, new_case(applicant, json!({"urgent": false})))
        .await
        .unwrap();
    let year = chrono::Utc::now().year();
    assert_eq!(started.protocol, Some(format!("1/{year}")));
    let case = started.case_id;

    // The clerk's queue has it; the head's does not.
    let avail = query::agenda(
        &e.tdb,
        &clerk,
        Queue::Available,
        None,
        &query::Position::First,
        1,
        20,
    )
    .await
    .unwrap();
    assert_eq!(avail.total, 1);
    assert_eq!(
        query::agenda(
            &e.tdb,
            &head,
            Queue::Available,
            None,
            &query::Position::First,
            1,
            20
        )
        .await
        .unwrap()
        .total,
        0
    );
    let task = open_task(&e, case).await;
    // Only a candidate can claim; only the holder can complete.
    assert!(matches!(
        engine.claim(&e.tdb, task, &head).await,
        Err(dimos_kernel::Error::Forbidden)
    ));
    engine.claim(&e.tdb, task, &clerk).await.unwrap();
    assert!(
        engine.claim(&e.tdb, task, &clerk).await.is_err(),
        "claimed twice"
    );
    // The form is validated; a request for documents needs a public comment.
    let err = engine
        .complete(&e.tdb, task, &clerk, "more-info", &form(&[]), "")
        .await
        .unwrap_err();
    let dimos_kernel::Error::Validation(f) = err else {
        panic!("{err:?}")
    };
    let fields: BTreeSet<_> = f.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["assessment", "comment"].into());
    engine
        .complete(
            &e.tdb,
            task,
            &clerk,
            "more-info",
            &form(&[("assessment", "Λείπει η ταυτότητα")]),
            "Ανεβάστε αντίγραφο ταυτότητας",
        )
        .await
        .unwrap();
    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.step.as_str()),
        ("waiting", "wait-info")
    );
    let due_before = c.due_at;

    // Three days later the citizen answers: the service-level date moves by the pause.
    e.clock.advance(Duration::days(3));
    engine
        .respond(
            &e.tdb,
            case,
            &citizen(applicant),
            applicant,
            "Ανέβασα την ταυτότητα",
        )
        .await
        .unwrap();
    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    assert_eq!((c.status.as_str(), c.step.as_str()), ("active", "review"));
    let moved = (c.due_at - due_before).num_hours();
    assert!((71..=73).contains(&moved), "paused {moved}h");

    let task = open_task(&e, case).await;
    engine.claim(&e.tdb, task, &clerk).await.unwrap();
    engine
        .complete(
            &e.tdb,
            task,
            &clerk,
            "accept",
            &form(&[("assessment", "Πλήρης"), ("score", "8")]),
            "",
        )
        .await
        .unwrap();
    // Not urgent: the gateway sends it to the head's approval.
    let task = open_task(&e, case).await;
    let t = query::task(&e.tdb, task).await.unwrap().unwrap();
    assert_eq!(t.step, "approve");
    engine.claim(&e.tdb, task, &head).await.unwrap();
    engine
        .complete(&e.tdb, task, &head, "approve", &form(&[]), "")
        .await
        .unwrap();

    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.result.as_deref()),
        ("closed", Some("approved"))
    );
    // compute and hook steps wrote their data; the form values are kept.
    assert_eq!(c.data.0["approved_by_process"], true);
    assert_eq!(c.data.0["reference"], format!("REF-1/{year}"));
    assert_eq!(c.data.0["score"], 8.0);
    assert_eq!(
        kinds(&e, case).await,
        [
            "submitted",
            "registered",
            "stage",
            "task-claimed",
            "task-completed",
            "waiting",
            "citizen-responded",
            "stage",
            "task-claimed",
            "task-completed",
            "stage",
            "task-claimed",
            "task-completed",
            "notify.approved",
            "approved"
        ]
    );
    // The citizen's timeline hides staff-internal events but shows the request.
    let public = query::events(&e.tdb, case, true).await.unwrap();
    assert!(public.iter().all(|e| e.public));
    assert!(
        public
            .iter()
            .any(|e| e.comment.as_deref() == Some("Ανεβάστε αντίγραφο ταυτότητας"))
    );
    assert!(!public.iter().any(|e| e.kind == "task-claimed"));

    // An urgent case skips the approval through the gateway.
    let urgent = engine
        .start(&e.tdb, new_case(applicant, json!({"urgent": true})))
        .await
        .unwrap();
    assert_eq!(urgent.protocol, Some(format!("2/{year}")));
    let task = open_task(&e, urgent.case_id).await;
    engine.claim(&e.tdb, task, &clerk).await.unwrap();
    engine
        .complete(
            &e.tdb,
            task,
            &clerk,
            "accept",
            &form(&[("assessment", "ok")]),
            "",
        )
        .await
        .unwrap();
    let c = query::case(&e.tdb, urgent.case_id).await.unwrap().unwrap();
    assert_eq!(c.result.as_deref(), Some("approved"));
}

async fn the_citizen_deadline_closes_the_case_when_it_passes(backend: Backend) {
    let e = env(backend).await;
    let engine = engine_with(&e, vec![fixture()]);
    let sched = scheduler(&e, &engine);
    let clerk = staff("Υπάλληλος", "clerk");
    let applicant = Uuid::now_v7();
    let case = engine
        .start(&e.tdb, new_case(applicant, json!({})))
        .await
        .unwrap()
        .case_id;
    let task = open_task(&e, case).await;
    engine.claim(&e.tdb, task, &clerk).await.unwrap();
    engine
        .complete(
            &e.tdb,
            task,
            &clerk,
            "more-info",
            &form(&[("assessment", "x")]),
            "Στείλτε βεβαίωση",
        )
        .await
        .unwrap();
    // Nothing is due yet (the task's own timers were cancelled with it).
    e.clock.advance(Duration::days(9));
    assert_eq!(sched.run_due(10).await.unwrap(), 0);
    e.clock.advance(Duration::days(1) + Duration::minutes(1));
    assert_eq!(sched.run_due(10).await.unwrap(), 1);
    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.step.as_str(), c.result.as_deref()),
        ("closed", "lapsed", Some("rejected"))
    );
    assert!(
        kinds(&e, case)
            .await
            .ends_with(&["deadline-passed".into(), "rejected".into()])
    );
    // Too late to answer now; and the timer never fires twice.
    assert!(
        engine
            .respond(&e.tdb, case, &citizen(applicant), applicant, "")
            .await
            .is_err()
    );
    e.clock.advance(Duration::days(30));
    assert_eq!(sched.run_due(10).await.unwrap(), 0);
}

async fn overdue_tasks_remind_then_escalate(backend: Backend) {
    let e = env(backend).await;
    let engine = engine_with(&e, vec![fixture()]);
    let sched = scheduler(&e, &engine);
    let clerk = staff("Υπάλληλος", "clerk");
    let case = engine
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;
    let task = open_task(&e, case).await;
    engine.claim(&e.tdb, task, &clerk).await.unwrap();
    // due in 5 days, reminder 1 day before
    e.clock.advance(Duration::days(4) + Duration::minutes(1));
    assert_eq!(sched.run_due(10).await.unwrap(), 1);
    assert_eq!(kinds(&e, case).await.last().unwrap(), "task-reminder");
    assert!(!query::task(&e.tdb, task).await.unwrap().unwrap().escalated);
    e.clock.advance(Duration::days(1));
    assert_eq!(sched.run_due(10).await.unwrap(), 1);
    assert!(query::task(&e.tdb, task).await.unwrap().unwrap().escalated);
    assert_eq!(kinds(&e, case).await.last().unwrap(), "task-escalated");
    let esc = query::agenda(
        &e.tdb,
        &staff("Άλλος", "clerk"),
        Queue::Escalated,
        None,
        &query::Position::First,
        1,
        20,
    )
    .await
    .unwrap();
    assert_eq!(esc.total, 1);
    // The agenda puts overdue work first.
    let second = engine
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;
    let t2 = open_task(&e, second).await;
    engine.claim(&e.tdb, t2, &clerk).await.unwrap();
    let mine = query::agenda(
        &e.tdb,
        &clerk,
        Queue::Mine,
        None,
        &query::Position::First,
        1,
        20,
    )
    .await
    .unwrap();
    assert_eq!(
        mine.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![task.0, t2.0]
    );
}

async fn running_cases_keep_their_definition_version(backend: Backend) {
    let e = env(backend).await;
    let v1 = engine_with(&e, vec![fixture()]);
    let clerk = staff("Υπάλληλος", "clerk");
    let old = v1
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;

    // Version 2 renames the review outcome "accept" to "complete".
    let mut d2 = fixture();
    d2.version = 2;
    if let Some(dimos_workflow::Step::Task(t)) = d2.steps.iter_mut().find(|s| s.id() == "review") {
        t.outcomes[0].id = "complete".into();
    }
    let v2 = engine_with(&e, vec![d2]);
    let new = v2
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;

    let t_old = open_task(&e, old).await;
    v2.claim(&e.tdb, t_old, &clerk).await.unwrap();
    assert!(
        v2.complete(
            &e.tdb,
            t_old,
            &clerk,
            "complete",
            &form(&[("assessment", "x")]),
            ""
        )
        .await
        .is_err()
    );
    v2.complete(
        &e.tdb,
        t_old,
        &clerk,
        "accept",
        &form(&[("assessment", "x")]),
        "",
    )
    .await
    .unwrap();

    let t_new = open_task(&e, new).await;
    v2.claim(&e.tdb, t_new, &clerk).await.unwrap();
    assert!(
        v2.complete(
            &e.tdb,
            t_new,
            &clerk,
            "accept",
            &form(&[("assessment", "x")]),
            ""
        )
        .await
        .is_err()
    );
    v2.complete(
        &e.tdb,
        t_new,
        &clerk,
        "complete",
        &form(&[("assessment", "x")]),
        "",
    )
    .await
    .unwrap();
    let (a, b) = (
        query::case(&e.tdb, old).await.unwrap().unwrap(),
        query::case(&e.tdb, new).await.unwrap().unwrap(),
    );
    assert_ne!(a.snapshot_id, b.snapshot_id);
    assert_eq!(v2.snapshot(&e.tdb, a.snapshot_id).await.unwrap().version, 1);
}

async fn withdrawal_cancels_work_and_timers(backend: Backend) {
    let e = env(backend).await;
    let engine = engine_with(&e, vec![fixture()]);
    let sched = scheduler(&e, &engine);
    let applicant = Uuid::now_v7();
    let case = engine
        .start(&e.tdb, new_case(applicant, json!({})))
        .await
        .unwrap()
        .case_id;
    // Someone else cannot withdraw it (and learns nothing: not found).
    assert!(matches!(
        engine
            .withdraw(&e.tdb, case, &citizen(Uuid::now_v7()), Uuid::now_v7(), "")
            .await,
        Err(dimos_kernel::Error::NotFound)
    ));
    engine
        .withdraw(
            &e.tdb,
            case,
            &citizen(applicant),
            applicant,
            "Δεν χρειάζεται πια",
        )
        .await
        .unwrap();
    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.result.as_deref()),
        ("closed", Some("withdrawn"))
    );
    let tasks = query::tasks_of_case(&e.tdb, case).await.unwrap();
    assert!(tasks.iter().all(|t| t.status == "cancelled"));
    e.clock.advance(Duration::days(30));
    assert_eq!(
        sched.run_due(10).await.unwrap(),
        0,
        "cancelled timers do not run"
    );
    assert!(
        engine
            .withdraw(&e.tdb, case, &citizen(applicant), applicant, "")
            .await
            .is_err()
    );
}

async fn protocol_numbers_are_gap_free_and_restart_each_year(backend: Backend) {
    let e = env(backend).await;
    let engine = engine_with(&e, vec![fixture()]);
    e.clock.set(
        chrono::DateTime::parse_from_rfc3339("2031-12-31T21:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    let mut handles = vec![];
    for _ in 0..40 {
        let (engine, tdb) = (engine.clone(), e.tdb.clone());
        handles.push(tokio::spawn(async move {
            engine
                .start(&tdb, new_case(Uuid::now_v7(), json!({})))
                .await
                .unwrap()
                .protocol
                .unwrap()
        }));
    }
    let mut numbers = vec![];
    for h in handles {
        numbers.push(h.await.unwrap());
    }
    let mut n: Vec<i64> = numbers
        .iter()
        .map(|p| {
            assert!(p.ends_with("/2031"), "{p}");
            p.split('/').next().unwrap().parse().unwrap()
        })
        .collect();
    n.sort();
    assert_eq!(n, (1..=40).collect::<Vec<_>>());
    // 23:00 UTC on 31 December is already New Year in Greece.
    e.clock.advance(Duration::hours(2));
    let p = engine
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .protocol;
    assert_eq!(p.as_deref(), Some("1/2032"));
    // Another municipality has its own book.
    let other = TenantDb::new(e.db.clone(), TenantId::new());
    let p = engine
        .start(&other, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .protocol;
    assert_eq!(p.as_deref(), Some("1/2032"));
    assert_eq!(
        query::agenda(
            &other,
            &staff("x", "clerk"),
            Queue::Available,
            None,
            &query::Position::First,
            1,
            100
        )
        .await
        .unwrap()
        .total,
        1
    );
}

#[tokio::test]
async fn invalid_definitions_are_refused_at_start_up() {
    let mut bad = fixture();
    bad.steps.retain(|s| s.id() != "lapsed");
    let errs = Engine::new(
        ManualClock::new(),
        vec![("test".into(), bad)],
        ["clerk", "head"].map(String::from).into(),
        [("test.finish".to_owned(), finish as HookFn)].into(),
    )
    .unwrap_err();
    assert_eq!(errs[0].field, "test.request: steps[wait-info].on_timeout");
    assert_eq!(errs[0].code, "unknown-step");
    // A module may only define processes under its own id.
    let errs = Engine::new(
        ManualClock::new(),
        vec![("other".into(), fixture())],
        ["clerk", "head"].map(String::from).into(),
        [("test.finish".to_owned(), finish as HookFn)].into(),
    )
    .unwrap_err();
    assert_eq!(errs[0].field, "test.request: process");
}

on_both_backends!(
    every_element_type_runs_end_to_end,
    the_citizen_deadline_closes_the_case_when_it_passes,
    overdue_tasks_remind_then_escalate,
    running_cases_keep_their_definition_version,
    withdrawal_cancels_work_and_timers,
    protocol_numbers_are_gap_free_and_restart_each_year,
    modules_complete_the_steps_they_own_and_only_those,
    many_cases_moved_at_once_end_as_they_would_one_by_one,
);

/// A module completes a task whose work its own page or job does (a step
/// with an `action`), without anyone holding it; never another step.
async fn modules_complete_the_steps_they_own_and_only_those(backend: Backend) {
    let e = env(backend).await;
    // The fixture with its review done on a module's page.
    let owned = FIXTURE.replacen(
        "form = \"review\"\n",
        "action = { path = \"/test/{case}/review\", label = { el = \"Έλεγχος\", en = \"Review\" } }\n",
        1,
    );
    assert_ne!(owned, FIXTURE);
    let plain = engine_with(&e, vec![fixture()]);
    let system = Actor::system();
    let case = plain
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;
    let task = open_task(&e, case).await;
    let refused = plain
        .complete_action(&e.tdb, task, &system, "accept", "")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, dimos_kernel::Error::Conflict("task-not-module")),
        "{refused:?}"
    );

    let def = Definition::parse_toml(&owned).unwrap();
    let engine = engine_with(&e, vec![def]);
    let case = engine
        .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
        .await
        .unwrap()
        .case_id;
    let task = open_task(&e, case).await;
    // A comment the outcome requires is still required.
    let invalid = engine
        .complete_action(&e.tdb, task, &system, "reject", "")
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, dimos_kernel::Error::Validation(_)),
        "{invalid:?}"
    );
    engine
        .complete_action(&e.tdb, task, &system, "accept", "")
        .await
        .unwrap();
    let tasks = query::tasks_of_case(&e.tdb, case).await.unwrap();
    let done = tasks.iter().find(|t| t.id == task.0).unwrap();
    assert_eq!(
        (done.status.as_str(), done.outcome.as_deref()),
        ("done", Some("accept"))
    );
    assert!(done.assignee.is_none(), "nobody had to hold it");
    let again = engine
        .complete_action(&e.tdb, task, &system, "accept", "")
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        dimos_kernel::Error::Conflict("task-closed")
    ));
}

/// Records what a sink is told, in order.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<(Uuid, i32, String)>>);

#[async_trait::async_trait]
impl dimos_workflow::EventSink for Told {
    async fn on_event(
        &self,
        _tx: &mut dimos_db::TenantTx<'_>,
        e: &dimos_workflow::Event,
    ) -> Result<(), dimos_kernel::Error> {
        self.0
            .lock()
            .unwrap()
            .push((e.case_id.0, e.seq, e.kind.clone()));
        Ok(())
    }
}

/// What a case became, without the ids and times that differ between two
/// cases moved the same way.
async fn outcome_of(e: &Env, case: CaseId) -> Value {
    let c = query::case(&e.tdb, case).await.unwrap().unwrap();
    let events: Vec<Value> = query::events(&e.tdb, case, false)
        .await
        .unwrap()
        .into_iter()
        .map(|ev| {
            let mut payload = ev.payload.0.clone();
            if let Some(p) = payload.as_object_mut() {
                // Ids and each case's own protocol number.
                for k in ["task", "number", "protocol"] {
                    p.remove(k);
                }
            }
            json!([
                ev.seq,
                ev.kind,
                ev.step,
                ev.actor_name,
                ev.outcome,
                ev.comment,
                ev.public,
                payload
            ])
        })
        .collect();
    let tasks: Vec<Value> = query::tasks_of_case(&e.tdb, case)
        .await
        .unwrap()
        .into_iter()
        .map(|t| json!([t.step, t.status, t.outcome, t.due_at.is_some()]))
        .collect();
    let mut candidates = vec![];
    for t in query::tasks_of_case(&e.tdb, case).await.unwrap() {
        candidates.push(json!(
            query::candidates(&e.tdb, TaskId(t.id)).await.unwrap()
        ));
    }
    let mut data = c.data.0.clone();
    data.remove("reference");
    json!({
        "status": c.status, "step": c.step, "result": c.result, "data": data,
        "reasoning": c.reasoning, "closed": c.closed_at.is_some(),
        "updated": c.updated_at == e.clock.now(), "closed_at": c.closed_at.map(|t| t == e.clock.now()),
        "events": events, "tasks": tasks, "candidates": candidates,
    })
}

/// A publication moves thousands of cases with one action; the engine
/// does it in a few statements per thousand (`complete_open_actions_tx`).
/// Each case must end exactly as if completed alone: the same state, the
/// same history in the same order, the same tasks, and the sinks told the
/// same events. A task closed meanwhile refuses the whole batch.
async fn many_cases_moved_at_once_end_as_they_would_one_by_one(backend: Backend) {
    let e = env(backend).await;
    let owned = FIXTURE.replacen(
        "form = \"review\"\n",
        "action = { path = \"/test/{case}/review\", label = { el = \"Έλεγχος\", en = \"Review\" } }\n",
        1,
    );
    let told = Arc::new(Told::default());
    let hooks: BTreeMap<String, HookFn> = [("test.finish".to_owned(), finish as HookFn)].into();
    let mut engine = Engine::new(
        e.clock.clone(),
        vec![("test".to_owned(), Definition::parse_toml(&owned).unwrap())],
        ["clerk", "head"].map(String::from).into(),
        hooks,
    )
    .unwrap();
    engine.add_sink(told.clone());
    let engine = Arc::new(engine);
    let system = Actor {
        account: Some(Uuid::now_v7()),
        name: "Γραμματεία".into(),
        on_behalf_of: None,
    };
    // Pairs of cases alike: urgent ones end approved through a compute, a
    // notify and a hook; the others open the head's approval task.
    let mut alone = vec![];
    let mut together = vec![];
    for i in 0..6 {
        let data = json!({ "urgent": i % 2 == 0 });
        for list in [&mut alone, &mut together] {
            let c = engine
                .start(&e.tdb, new_case(Uuid::now_v7(), data.clone()))
                .await
                .unwrap()
                .case_id;
            list.push(c);
        }
    }
    e.clock.advance(Duration::hours(3));
    let before = told.0.lock().unwrap().len();
    for c in &alone {
        let mut tx = e.tdb.begin().await.unwrap();
        let t = query::open_task_in(&mut tx, &e.tdb, *c, "review")
            .await
            .unwrap()
            .unwrap();
        engine
            .complete_open_action_tx(&mut tx, &e.tdb, t, &system, "accept", "")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let alone_told: Vec<(Uuid, i32, String)> = told.0.lock().unwrap()[before..].to_vec();

    // A batch with a task already closed changes nothing.
    let closed = together[0];
    let mut tx = e.tdb.begin().await.unwrap();
    let tasks = query::open_tasks_in(&mut tx, &e.tdb, &together, "review")
        .await
        .unwrap();
    assert_eq!(tasks.len(), together.len());
    let first = tasks
        .iter()
        .find(|t| t.case_id == closed.0)
        .unwrap()
        .clone();
    engine
        .complete_open_action_tx(&mut tx, &e.tdb, first, &system, "accept", "")
        .await
        .unwrap();
    let refused = engine
        .complete_open_actions_tx(
            &mut tx,
            &e.tdb,
            tasks
                .iter()
                .map(|t| (t.clone(), "accept".to_owned()))
                .collect(),
            &system,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, dimos_kernel::Error::Conflict("task-closed")),
        "{refused:?}"
    );
    drop(tx);
    // An outcome that needs a comment is refused before anything is written.
    let mut tx = e.tdb.begin().await.unwrap();
    let tasks = query::open_tasks_in(&mut tx, &e.tdb, &together, "review")
        .await
        .unwrap();
    let invalid = engine
        .complete_open_actions_tx(
            &mut tx,
            &e.tdb,
            tasks
                .iter()
                .map(|t| (t.clone(), "reject".to_owned()))
                .collect(),
            &system,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, dimos_kernel::Error::Validation(_)),
        "{invalid:?}"
    );
    drop(tx);
    for c in &together {
        assert_eq!(
            kinds(&e, *c).await,
            ["submitted", "registered", "stage"],
            "the refused batches left nothing"
        );
    }

    let before = told.0.lock().unwrap().len();
    let mut tx = e.tdb.begin().await.unwrap();
    let tasks = query::open_tasks_in(&mut tx, &e.tdb, &together, "review")
        .await
        .unwrap();
    engine
        .complete_open_actions_tx(
            &mut tx,
            &e.tdb,
            tasks
                .into_iter()
                .map(|t| (t, "accept".to_owned()))
                .collect(),
            &system,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let together_told: Vec<(Uuid, i32, String)> = told.0.lock().unwrap()[before..].to_vec();

    for (a, b) in alone.iter().zip(&together) {
        let (a_state, b_state) = (outcome_of(&e, *a).await, outcome_of(&e, *b).await);
        assert_eq!(a_state, b_state);
        let told_of = |list: &[(Uuid, i32, String)], c: &CaseId| -> Vec<(i32, String)> {
            list.iter()
                .filter(|(id, _, _)| *id == c.0)
                .map(|(_, seq, kind)| (*seq, kind.clone()))
                .collect()
        };
        assert_eq!(told_of(&alone_told, a), told_of(&together_told, b));
    }
    // Both paths were exercised: cases that ended and cases that went on.
    let approved = outcome_of(&e, together[0]).await;
    assert_eq!(approved["result"], "approved");
    let c = query::case(&e.tdb, together[0]).await.unwrap().unwrap();
    assert_eq!(
        c.data.0["reference"],
        json!(format!("REF-{}", c.protocol_label().unwrap())),
        "the hook ran on the case's own data"
    );
    let waiting = outcome_of(&e, together[1]).await;
    assert_eq!(waiting["step"], "approve");
    assert_eq!(waiting["tasks"][1], json!(["approve", "open", null, false]));
    // The timers of the completed review tasks were cancelled, for both.
    let pending: i64 = {
        use dimos_db::sea_query::{Alias, Expr, ExprTrait};
        let mut q = e.tdb.select(Alias::new("jobs"));
        q.expr(Expr::col(Alias::new("id")).count())
            .and_where(Expr::col(Alias::new("status")).eq("pending"));
        e.tdb.fetch_all::<(i64,)>(&q).await.unwrap()[0].0
    };
    assert_eq!(pending, 0, "no timer of a done task left pending");
}

/// Two replicas poll the same due timers at once: each fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_fire_each_timer_exactly_once() {
    let e = env(Backend::Postgres).await;
    let engine = engine_with(&e, vec![fixture()]);
    let clerk = staff("Υπάλληλος", "clerk");
    let mut cases = vec![];
    for _ in 0..30 {
        let case = engine
            .start(&e.tdb, new_case(Uuid::now_v7(), json!({})))
            .await
            .unwrap()
            .case_id;
        let task = open_task(&e, case).await;
        engine.claim(&e.tdb, task, &clerk).await.unwrap();
        engine
            .complete(
                &e.tdb,
                task,
                &clerk,
                "more-info",
                &form(&[("assessment", "x")]),
                "Στοιχεία",
            )
            .await
            .unwrap();
        cases.push(case);
    }
    e.clock.advance(Duration::days(11));
    // A second replica: its own pool, engine and scheduler on the same database.
    let db2 = Db::connect(&e.url, &DbOptions::default()).await.unwrap();
    let e2 = Env {
        _dir: tempfile::tempdir().unwrap(),
        url: e.url.clone(),
        db: db2.clone(),
        clock: e.clock.clone(),
        tdb: TenantDb::new(db2, e.tdb.tenant_id()),
    };
    let engine2 = engine_with(&e2, vec![fixture()]);
    let (a, b) = (scheduler(&e, &engine), scheduler(&e2, &engine2));
    let (ra, rb) = tokio::join!(a.run_due(1000), b.run_due(1000));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra + rb, 30, "{ra} + {rb}");
    for case in cases {
        let k = kinds(&e, case).await;
        assert_eq!(k.iter().filter(|k| *k == "deadline-passed").count(), 1);
    }
}
