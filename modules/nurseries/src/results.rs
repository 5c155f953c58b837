//! Placement runs: the snapshot of what was placed (so every result can be
//! explained and reproduced from its recorded seed), the results per child,
//! and what happens to a place a family gives up: it goes down the waiting
//! lists (`placement::reoffer`), each family moved is offered its new place
//! with a deadline and told so.

use crate::AgeGroup;
use crate::applications;
use crate::catalogue::{Places, Station};
use crate::placement::{self, Instance, Outcome, Priority, Unit};
use crate::scoring::{Rules, TieBreak};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use dimos_kernel::Error;
use dimos_workflow::jobs::{Job, JobHandler};
use dimos_workflow::{Actor, CaseId, Engine};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::types::Json;
use std::sync::Arc;
use uuid::Uuid;

pub const EXPIRY: &str = "nurseries.offer-expiry";

#[derive(Iden, Clone, Copy)]
enum NurseryRuns {
    Table,
    Id,
    YearId,
    Seed,
    Snapshot,
    RanAt,
    RanBy,
    PublishedAt,
    PublishedBy,
}

#[derive(Iden, Clone, Copy)]
enum NurseryResults {
    Table,
    RunId,
    ApplicationId,
    Child,
    Unit,
    StationId,
    Choice,
    Status,
    Deadline,
    UpdatedAt,
}

/// Who a unit of the instance is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRef {
    pub application: Uuid,
    pub case: Uuid,
    pub protocol: String,
    /// The children of the application in this unit.
    pub children: Vec<usize>,
}

/// Exactly what a run placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub instance: Instance,
    pub units: Vec<UnitRef>,
    pub stations: Vec<Uuid>,
    pub groups: Vec<String>,
    pub tie_break: TieBreak,
}

impl Snapshot {
    pub fn station_index(&self, id: Uuid) -> Option<usize> {
        self.stations.iter().position(|s| *s == id)
    }

    /// A result row's unit and the child's age group (index) in it.
    pub fn unit_and_group(&self, r: &ResultRow) -> Option<(usize, usize)> {
        let u = usize::try_from(r.unit).ok()?;
        let unit = self.instance.units.get(u)?;
        let pos = self
            .units
            .get(u)?
            .children
            .iter()
            .position(|&c| i32::try_from(c).is_ok_and(|c| c == r.child))?;
        Some((u, *unit.children.get(pos)?))
    }

    pub fn unit_of(&self, application: Uuid, child: usize) -> Option<usize> {
        self.units
            .iter()
            .position(|u| u.application == application && u.children.contains(&child))
    }
}

/// Builds the instance: stations open to applications with their places
/// (reserved ones off), and per application one unit for children placed
/// together, else one per child, all with the family's priority. A family
/// with a child re-enrolling has re-enrolment priority for all its children.
pub fn snapshot(
    rows: &[applications::Row],
    stations: &[Station],
    places: &[Places],
    groups: &[AgeGroup],
    rules: &Rules,
    seed: &str,
) -> Snapshot {
    let open: Vec<&Station> = stations.iter().filter(|s| s.active).collect();
    let capacity = open
        .iter()
        .map(|s| {
            groups
                .iter()
                .map(|g| {
                    places
                        .iter()
                        .find(|p| p.station_id == s.id && p.age_group == g.id)
                        .map_or(0, |p| u32::try_from(p.places - p.reserved).unwrap_or(0))
                })
                .collect()
        })
        .collect();
    let mut units = Vec::new();
    let mut refs = Vec::new();
    for row in rows {
        let (Some(a), Some(case)) = (row.application.as_ref().map(|a| &a.0), row.case_id) else {
            continue;
        };
        let protocol = row.protocol.clone().unwrap_or_else(|| row.id.to_string());
        let priority = Priority {
            reenrolment: a.children.iter().any(|c| c.reenrolment),
            // The points by today's table and the committee's decisions.
            points: crate::scoring::score(rules, &a.claims(&row.decisions.0)).total,
            income: match rules.tie_break {
                TieBreak::LowerIncome => Some(a.income_euros),
                TieBreak::Lottery => None,
            },
            lottery: placement::lottery(seed, &protocol),
        };
        let preferences: Vec<usize> = a
            .preferences
            .iter()
            .filter_map(|id| open.iter().position(|s| s.id == *id))
            .collect();
        let group = |c: &crate::application::Child| {
            groups.iter().position(|g| g.id == c.group).unwrap_or(0)
        };
        let together: Vec<Vec<usize>> = if a.together && a.children.len() > 1 {
            vec![(0..a.children.len()).collect()]
        } else {
            (0..a.children.len()).map(|i| vec![i]).collect()
        };
        for children in together {
            units.push(Unit {
                children: children.iter().map(|&i| group(&a.children[i])).collect(),
                preferences: preferences.clone(),
                priority,
            });
            refs.push(UnitRef {
                application: row.id,
                case,
                protocol: protocol.clone(),
                children,
            });
        }
    }
    Snapshot {
        instance: Instance { capacity, units },
        units: refs,
        stations: open.iter().map(|s| s.id).collect(),
        groups: groups.iter().map(|g| g.id.clone()).collect(),
        tie_break: rules.tie_break,
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub id: Uuid,
    pub year_id: Uuid,
    pub seed: String,
    pub snapshot: Json<Snapshot>,
    pub ran_at: DateTime<Utc>,
    pub ran_by: Uuid,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ResultRow {
    pub application_id: Uuid,
    pub child: i32,
    pub unit: i32,
    pub station_id: Option<Uuid>,
    pub choice: Option<i32>,
    pub status: String,
    pub deadline: Option<NaiveDate>,
}

impl ResultRow {
    /// Whether the child holds a place (offered or accepted).
    pub fn holds(&self) -> bool {
        matches!(self.status.as_str(), "placed" | "accepted")
    }
}

const RUN_COLUMNS: [NurseryRuns; 7] = [
    NurseryRuns::Id,
    NurseryRuns::YearId,
    NurseryRuns::Seed,
    NurseryRuns::Snapshot,
    NurseryRuns::RanAt,
    NurseryRuns::RanBy,
    NurseryRuns::PublishedAt,
];

const RESULT_COLUMNS: [NurseryResults; 7] = [
    NurseryResults::ApplicationId,
    NurseryResults::Child,
    NurseryResults::Unit,
    NurseryResults::StationId,
    NurseryResults::Choice,
    NurseryResults::Status,
    NurseryResults::Deadline,
];

fn to_json<T: Serialize>(v: &T) -> Result<Value, DbError> {
    serde_json::to_value(v).map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))
}

/// Records a run and its results (not yet published), in the caller's
/// transaction (with its audit entry).
#[allow(clippy::too_many_arguments)]
pub async fn record(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    year: Uuid,
    seed: &str,
    snap: &Snapshot,
    out: &Outcome,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let mut q = tdb.insert(
        NurseryRuns::Table,
        [
            NurseryRuns::Id,
            NurseryRuns::YearId,
            NurseryRuns::Seed,
            NurseryRuns::Snapshot,
            NurseryRuns::RanAt,
            NurseryRuns::RanBy,
        ],
    );
    q.values([
        id.into(),
        year.into(),
        seed.into(),
        to_json(snap)?.into(),
        now.into(),
        by.into(),
    ]);
    tx.insert_rows(&q).await?;
    // Every child's result: 500 rows per statement (5,500 children in a
    // large municipality).
    let mut rows: Vec<[sea_query::SimpleExpr; 8]> = vec![];
    for (u, r) in snap.units.iter().enumerate() {
        let station = out.station[u].map(|s| snap.stations[s]);
        let choice = out
            .choice(&snap.instance, u)
            .map(|c| i32::try_from(c).unwrap_or(i32::MAX));
        for &child in &r.children {
            rows.push([
                id.into(),
                r.application.into(),
                i32::try_from(child).unwrap_or(i32::MAX).into(),
                i32::try_from(u).unwrap_or(i32::MAX).into(),
                station.into(),
                choice.into(),
                if station.is_some() {
                    "placed"
                } else {
                    "waiting"
                }
                .into(),
                now.into(),
            ]);
        }
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut q = tdb.insert(
            NurseryResults::Table,
            [
                NurseryResults::RunId,
                NurseryResults::ApplicationId,
                NurseryResults::Child,
                NurseryResults::Unit,
                NurseryResults::StationId,
                NurseryResults::Choice,
                NurseryResults::Status,
                NurseryResults::UpdatedAt,
            ],
        );
        for row in rows.by_ref().take(500) {
            q.values(row);
        }
        tx.insert_rows(&q).await?;
    }
    Ok(id)
}

/// Runs of a year, newest first.
pub async fn runs(tdb: &TenantDb, year: Uuid) -> Result<Vec<Run>, DbError> {
    let mut q = tdb.select(NurseryRuns::Table);
    q.columns(RUN_COLUMNS)
        .and_where(Expr::col(NurseryRuns::YearId).eq(year))
        .order_by(NurseryRuns::RanAt, Order::Desc)
        .order_by(NurseryRuns::Id, Order::Desc);
    tdb.fetch_all(&q).await
}

pub async fn run(tdb: &TenantDb, id: Uuid) -> Result<Option<Run>, DbError> {
    let mut q = tdb.select(NurseryRuns::Table);
    q.columns(RUN_COLUMNS)
        .and_where(Expr::col(NurseryRuns::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// The results families see: the latest published run of the year.
pub async fn published(tdb: &TenantDb, year: Uuid) -> Result<Option<Run>, DbError> {
    Ok(runs(tdb, year)
        .await?
        .into_iter()
        .filter(|r| r.published_at.is_some())
        .max_by_key(|r| r.published_at))
}

pub async fn results(tdb: &TenantDb, run: Uuid) -> Result<Vec<ResultRow>, DbError> {
    let mut q = tdb.select(NurseryResults::Table);
    q.columns(RESULT_COLUMNS)
        .and_where(Expr::col(NurseryResults::RunId).eq(run))
        .order_by(NurseryResults::Unit, Order::Asc)
        .order_by(NurseryResults::Child, Order::Asc);
    tdb.fetch_all(&q).await
}

pub async fn results_tx(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    run: Uuid,
) -> Result<Vec<ResultRow>, DbError> {
    let mut q = tdb.select(NurseryResults::Table);
    q.columns(RESULT_COLUMNS)
        .and_where(Expr::col(NurseryResults::RunId).eq(run))
        .order_by(NurseryResults::Unit, Order::Asc)
        .order_by(NurseryResults::Child, Order::Asc);
    tx.fetch_all(&q).await
}

/// The end of an offer's last day, in Athens.
pub fn deadline_end(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_hms_opt(23, 59, 59).unwrap_or_default();
    Utc.from_utc_datetime(&local) - Duration::hours(2)
}

/// Marks the run published, with offers open until `deadline`, and plans
/// each offer's expiry.
/// In the caller's transaction (with the cases it moves and its audit
/// entry); on false the caller must not commit.
pub async fn publish(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    run: Uuid,
    by: Uuid,
    deadline: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    tx.lock(tdb, "nurseries-placement").await?;
    let mut q = tdb.update(NurseryRuns::Table);
    q.values([
        (NurseryRuns::PublishedAt, now.into()),
        (NurseryRuns::PublishedBy, by.into()),
    ])
    .and_where(Expr::col(NurseryRuns::Id).eq(run))
    .and_where(Expr::col(NurseryRuns::PublishedAt).is_null());
    if tx.execute(&q).await? != 1 {
        return Ok(false);
    }
    let mut q = tdb.update(NurseryResults::Table);
    q.values([(NurseryResults::Deadline, deadline.into())])
        .and_where(Expr::col(NurseryResults::RunId).eq(run))
        .and_where(Expr::col(NurseryResults::Status).eq("placed"));
    tx.execute(&q).await?;
    let units: std::collections::BTreeSet<i32> = results_tx(tx, tdb, run)
        .await?
        .into_iter()
        .filter(|r| r.status == "placed")
        .map(|r| r.unit)
        .collect();
    let units: Vec<i32> = units.into_iter().collect();
    plan_expiry(tx, tdb, run, &units, deadline).await?;
    Ok(true)
}

/// A job key per run and unit, so a new offer replaces the old reminder.
fn job_key(run: Uuid, unit: i32) -> Uuid {
    use sha2::{Digest, Sha256};
    let d = Sha256::new()
        .chain_update(run.as_bytes())
        .chain_update(unit.to_be_bytes())
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

/// Plans each offer's expiry at the end of its last day, replacing an
/// earlier one; every offer of a publication in a few statements
/// (thousands in a large municipality).
async fn plan_expiry(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    run: Uuid,
    units: &[i32],
    deadline: NaiveDate,
) -> Result<(), DbError> {
    let keys: Vec<Uuid> = units.iter().map(|u| job_key(run, *u)).collect();
    dimos_workflow::jobs::cancel_for(tx, tdb, &keys).await?;
    let jobs: Vec<dimos_workflow::jobs::NewJob> = units
        .iter()
        .map(|&unit| dimos_workflow::jobs::NewJob {
            kind: EXPIRY.to_owned(),
            ref_id: Some(job_key(run, unit)),
            run_at: deadline_end(deadline),
            payload: json!({ "run": run, "unit": unit, "deadline": deadline }),
        })
        .collect();
    dimos_workflow::jobs::enqueue_many(tx, tdb, &jobs).await
}

/// The outcome as it stands: the units holding a place, where.
pub fn current(snap: &Snapshot, rows: &[ResultRow]) -> (Outcome, Vec<bool>) {
    let mut station = vec![None; snap.units.len()];
    let mut out_of_play = vec![false; snap.units.len()];
    for r in rows {
        let Ok(u) = usize::try_from(r.unit) else {
            continue;
        };
        if u >= station.len() {
            continue;
        }
        if r.holds() {
            station[u] = r.station_id.and_then(|s| snap.station_index(s));
        }
        if matches!(r.status.as_str(), "declined" | "expired") {
            out_of_play[u] = true;
        }
    }
    (
        Outcome {
            station,
            settled: true,
        },
        out_of_play,
    )
}

/// A family gives up its place (`status`: declined or expired): the place
/// goes down the waiting lists, each family moved gets an offer until
/// `accept_days` from today and a message through its case.
#[allow(clippy::too_many_arguments)]
pub async fn vacate(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    engine: &Engine,
    run: &Run,
    unit: usize,
    status: &str,
    accept_days: i32,
    now: DateTime<Utc>,
) -> Result<Vec<placement::Move>, Error> {
    tx.lock(tdb, "nurseries-placement").await?;
    let snap = &run.snapshot.0;
    let rows = results_tx(tx, tdb, run.id).await?;
    let unit_i32 = i32::try_from(unit).unwrap_or(i32::MAX);
    let mut q = tdb.update(NurseryResults::Table);
    q.values([
        (NurseryResults::Status, status.into()),
        (NurseryResults::UpdatedAt, now.into()),
    ])
    .and_where(Expr::col(NurseryResults::RunId).eq(run.id))
    .and_where(Expr::col(NurseryResults::Unit).eq(unit_i32))
    .and_where(Expr::col(NurseryResults::Status).is_in(["placed", "accepted"]));
    if tx.execute(&q).await? == 0 {
        return Err(Error::Conflict("nursery-offer-closed"));
    }
    dimos_workflow::jobs::cancel_for(tx, tdb, &[job_key(run.id, unit_i32)]).await?;
    let (mut out, mut out_of_play) = current(snap, &rows);
    out_of_play[unit] = true;
    let moves = placement::reoffer(&snap.instance, &mut out, &[unit], &out_of_play);
    let deadline = dimos_kernel::clock::local_date(now) + Duration::days(i64::from(accept_days));
    for m in &moves {
        let u = i32::try_from(m.unit).unwrap_or(i32::MAX);
        let mut q = tdb.update(NurseryResults::Table);
        q.values([
            (NurseryResults::StationId, snap.stations[m.to].into()),
            (
                NurseryResults::Choice,
                out.choice(&snap.instance, m.unit)
                    .map(|c| i32::try_from(c).unwrap_or(i32::MAX))
                    .into(),
            ),
            (NurseryResults::Status, "placed".into()),
            (NurseryResults::Deadline, deadline.into()),
            (NurseryResults::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(NurseryResults::RunId).eq(run.id))
        .and_where(Expr::col(NurseryResults::Unit).eq(u));
        tx.execute(&q).await?;
        plan_expiry(tx, tdb, run.id, &[u], deadline).await?;
        let who = &snap.units[m.unit];
        // A family still waiting: its case ends with the place.
        if let Some(task) =
            dimos_workflow::query::open_task_in(tx, tdb, CaseId(who.case), "waiting-list").await?
        {
            engine
                .complete_action_tx(
                    tx,
                    tdb,
                    dimos_workflow::TaskId(task.id),
                    &Actor::system(),
                    "offered",
                    "",
                )
                .await?;
        }
        let date = deadline.format("%d/%m/%Y");
        tell(
            tx,
            tdb,
            engine,
            who.case,
            format!("Σας προσφέρεται θέση σε παιδικό σταθμό από τη λίστα αναμονής· αποδεχθείτε την ή αρνηθείτε την έως {date}."),
            format!("A nursery place is offered to you from the waiting list; accept or decline it by {date}."),
        )
        .await?;
    }
    Ok(moves)
}

/// Tells the family, through its application's case, in its language;
/// the message links to the application's page.
async fn tell(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    engine: &Engine,
    case: Uuid,
    el: String,
    en: String,
) -> Result<(), Error> {
    engine
        .record_event_tx(
            tx,
            tdb,
            CaseId(case),
            "notify.progress",
            &Actor::system(),
            true,
            json!({
                "message": { "el": el, "en": en },
                "path": format!("/nurseries/applications/{case}"),
            }),
        )
        .await
}

/// The family accepts its offer, in the caller's transaction (with its
/// audit entry).
pub async fn accept(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    run: Uuid,
    unit: usize,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    tx.lock(tdb, "nurseries-placement").await?;
    let u = i32::try_from(unit).unwrap_or(i32::MAX);
    let mut q = tdb.update(NurseryResults::Table);
    q.values([
        (NurseryResults::Status, "accepted".into()),
        (NurseryResults::UpdatedAt, now.into()),
    ])
    .and_where(Expr::col(NurseryResults::RunId).eq(run))
    .and_where(Expr::col(NurseryResults::Unit).eq(u))
    .and_where(Expr::col(NurseryResults::Status).eq("placed"))
    .and_where(Expr::col(NurseryResults::Deadline).gte(today));
    if tx.execute(&q).await? == 0 {
        return Err(Error::Conflict("nursery-offer-closed"));
    }
    dimos_workflow::jobs::cancel_for(tx, tdb, &[job_key(run, u)]).await?;
    Ok(())
}

/// An offer not answered by its deadline lapses; its place moves on.
pub struct OfferExpiry {
    pub engine: Arc<Engine>,
}

#[async_trait::async_trait]
impl JobHandler for OfferExpiry {
    async fn run(&self, tx: &mut TenantTx<'_>, tdb: &TenantDb, job: &Job) -> Result<(), Error> {
        let payload = &job.payload.0;
        let (Some(run_id), Some(unit)) = (
            payload
                .get("run")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok()),
            payload.get("unit").and_then(Value::as_u64),
        ) else {
            return Ok(());
        };
        let mut q = tdb.select(NurseryRuns::Table);
        q.columns(RUN_COLUMNS)
            .and_where(Expr::col(NurseryRuns::Id).eq(run_id));
        let Some(run) = tx.fetch_optional::<Run>(&q).await? else {
            return Ok(());
        };
        let unit = usize::try_from(unit).unwrap_or(usize::MAX);
        let rows = results_tx(tx, tdb, run.id).await?;
        // Answered (or moved on) since this expiry was planned: nothing to do.
        let still_open = rows
            .iter()
            .any(|r| usize::try_from(r.unit).ok() == Some(unit) && r.status == "placed");
        if !still_open {
            return Ok(());
        }
        let accept_days = crate::catalogue::year_in(tx, tdb, run.year_id)
            .await?
            .map_or(10, |y| y.accept_days);
        match vacate(
            tx,
            tdb,
            &self.engine,
            &run,
            unit,
            "expired",
            accept_days,
            self.engine.now(),
        )
        .await
        {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(who) = run.snapshot.0.units.get(unit) {
            tell(
                tx,
                tdb,
                &self.engine,
                who.case,
                "Η προθεσμία αποδοχής της θέσης έληξε· η θέση δόθηκε στην επόμενη οικογένεια."
                    .into(),
                "The deadline to accept the place passed; it went to the next family.".into(),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::{Application, Child, RawApplication};
    use crate::catalogue::{Places, Station};
    use crate::{NurseriesConfig, placement};
    use chrono::NaiveDate;
    use std::collections::BTreeMap;

    fn station(name: &str) -> Station {
        Station {
            id: Uuid::now_v7(),
            name: name.into(),
            address: "Άλιμος".into(),
            active: true,
        }
    }

    fn row(
        children: &[&str],
        together: bool,
        prefs: &[Uuid],
        claims: &[&str],
    ) -> applications::Row {
        let birth = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        applications::Row {
            id: Uuid::now_v7(),
            year_id: Uuid::nil(),
            applicant: Uuid::now_v7(),
            status: "submitted".into(),
            case_id: Some(Uuid::now_v7()),
            protocol: Some(format!("{}/2027", children.len())),
            form: Json(RawApplication::default()),
            application: Some(Json(Application {
                parent_name: "Γονέας".into(),
                email: "p@example.gr".into(),
                mobile: "+306912345678".into(),
                income_euros: 15_000,
                family_children: u32::try_from(children.len()).unwrap_or(u32::MAX),
                children: children
                    .iter()
                    .map(|g| Child {
                        name: "Παιδί".into(),
                        birth,
                        group: (*g).into(),
                        reenrolment: false,
                    })
                    .collect(),
                claims: claims.iter().map(|c| (*c).to_owned()).collect(),
                preferences: prefs.to_vec(),
                together,
            })),
            decisions: Json(BTreeMap::new()),
            points: 0,
            submitted_at: None,
        }
    }

    #[test]
    fn every_child_is_in_exactly_one_unit_and_siblings_asked_together_share_it() {
        let cfg = NurseriesConfig::default();
        let (a, b) = (station("Α"), station("Β"));
        let mut closed = station("Γ");
        closed.active = false;
        let places = vec![
            Places {
                station_id: a.id,
                age_group: "infants".into(),
                places: 3,
                reserved: 1,
            },
            Places {
                station_id: b.id,
                age_group: "preschool".into(),
                places: 2,
                reserved: 0,
            },
        ];
        let rows = vec![
            row(&["infants", "infants"], true, &[a.id, b.id], &["resident"]),
            row(
                &["infants", "preschool"],
                false,
                &[closed.id, b.id],
                &["working-mother"],
            ),
            row(&["preschool"], false, &[b.id], &[]),
        ];
        let snap = snapshot(
            &rows,
            &[a.clone(), b.clone(), closed],
            &places,
            &cfg.age_groups,
            &cfg.rules,
            "seed",
        );
        // A closed station takes no applications and offers no places.
        assert_eq!(snap.stations, vec![a.id, b.id]);
        assert_eq!(
            snap.instance.capacity,
            vec![vec![2, 0], vec![0, 2]],
            "reserved places off"
        );
        for r in &rows {
            let n = r.application.as_ref().unwrap().0.children.len();
            for child in 0..n {
                let holding: Vec<_> = snap
                    .units
                    .iter()
                    .filter(|u| u.application == r.id && u.children.contains(&child))
                    .collect();
                assert_eq!(holding.len(), 1, "child {child} of {}", r.id);
            }
        }
        // The twins are one unit of two infants; the others are units of one.
        assert_eq!(snap.instance.units[0].children, vec![0, 0]);
        assert_eq!(snap.units.len(), 4);
        assert_eq!(
            snap.instance.units[1].preferences,
            vec![1],
            "the closed station dropped"
        );
        // Points come from the table, the lottery from the seed.
        assert_eq!(snap.instance.units[0].priority.points, 50 + 20);
        assert_eq!(
            snap.instance.units[0].priority.lottery,
            placement::lottery("seed", "2/2027")
        );
        assert_eq!(snap.instance.units[0].priority.income, Some(15_000));
        let out = placement::place(&snap.instance);
        assert!(placement::stability(&snap.instance, &out).is_ok());
    }
}
