//! Applications in the database, tenant-scoped.

use crate::application::{Application, Decision, RawApplication};
use chrono::{DateTime, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::Serialize;
use sqlx::types::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum NurseryApplications {
    Table,
    Id,
    YearId,
    Applicant,
    Status,
    CaseId,
    Protocol,
    Form,
    Application,
    Decisions,
    Points,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub year_id: Uuid,
    pub applicant: Uuid,
    pub status: String,
    pub case_id: Option<Uuid>,
    pub protocol: Option<String>,
    pub form: Json<RawApplication>,
    pub application: Option<Json<Application>>,
    pub decisions: Json<BTreeMap<String, Decision>>,
    pub points: i32,
    pub submitted_at: Option<DateTime<Utc>>,
}

const COLUMNS: [NurseryApplications; 11] = [
    NurseryApplications::Id,
    NurseryApplications::YearId,
    NurseryApplications::Applicant,
    NurseryApplications::Status,
    NurseryApplications::CaseId,
    NurseryApplications::Protocol,
    NurseryApplications::Form,
    NurseryApplications::Application,
    NurseryApplications::Decisions,
    NurseryApplications::Points,
    NurseryApplications::SubmittedAt,
];

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(v).map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))
}

pub async fn of_parent(tdb: &TenantDb, year: Uuid, parent: Uuid) -> Result<Option<Row>, DbError> {
    let mut q = tdb.select(NurseryApplications::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(NurseryApplications::YearId).eq(year))
        .and_where(Expr::col(NurseryApplications::Applicant).eq(parent));
    tdb.fetch_optional(&q).await
}

pub async fn of_case(tdb: &TenantDb, case: Uuid) -> Result<Option<Row>, DbError> {
    let mut q = tdb.select(NurseryApplications::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(NurseryApplications::CaseId).eq(case));
    tdb.fetch_optional(&q).await
}

/// Submitted applications of a year, by protocol order.
pub async fn submitted(tdb: &TenantDb, year: Uuid) -> Result<Vec<Row>, DbError> {
    let mut q = tdb.select(NurseryApplications::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(NurseryApplications::YearId).eq(year))
        .and_where(Expr::col(NurseryApplications::Status).eq("submitted"))
        .order_by(NurseryApplications::SubmittedAt, Order::Asc)
        .order_by(NurseryApplications::Id, Order::Asc);
    tdb.fetch_all(&q).await
}

/// Submitted applications whose case the parent has not withdrawn: those
/// the placement takes.
pub async fn in_play(tdb: &TenantDb, year: Uuid) -> Result<Vec<Row>, DbError> {
    let rows = submitted(tdb, year).await?;
    let cases: Vec<Uuid> = rows.iter().filter_map(|r| r.case_id).collect();
    let gone = dimos_workflow::query::cases_with_result(tdb, &cases, "withdrawn").await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.case_id.is_some_and(|c| !gone.contains(&c)))
        .collect())
}

/// Whether the parent withdrew the submitted application's case.
pub async fn withdrawn(tdb: &TenantDb, row: &Row) -> Result<bool, DbError> {
    let Some(case) = row.case_id else {
        return Ok(false);
    };
    Ok(
        dimos_workflow::query::case(tdb, dimos_workflow::CaseId(case))
            .await?
            .is_none_or(|c| c.result.as_deref() == Some("withdrawn")),
    )
}

/// A withdrawn application becomes the parent's draft again (what they
/// typed is kept), so they can correct it and submit anew while the window
/// is open; the withdrawn case stays in the protocol book as it was.
pub async fn reopen(tdb: &TenantDb, id: Uuid, now: DateTime<Utc>) -> Result<(), DbError> {
    let mut q = tdb.update(NurseryApplications::Table);
    q.values([
        (NurseryApplications::Status, "draft".into()),
        (NurseryApplications::CaseId, Option::<Uuid>::None.into()),
        (NurseryApplications::Protocol, Option::<String>::None.into()),
        (
            NurseryApplications::Application,
            Option::<serde_json::Value>::None.into(),
        ),
        (
            NurseryApplications::Decisions,
            json(&BTreeMap::<String, Decision>::new())?.into(),
        ),
        (NurseryApplications::Points, 0i32.into()),
        (
            NurseryApplications::SubmittedAt,
            Option::<DateTime<Utc>>::None.into(),
        ),
        (NurseryApplications::UpdatedAt, now.into()),
    ])
    .and_where(Expr::col(NurseryApplications::Id).eq(id))
    .and_where(Expr::col(NurseryApplications::Status).eq("submitted"));
    tdb.execute(&q).await.map(drop)
}

/// Saves the parent's draft: a new row, or the typed form of the existing
/// draft. A submitted application is not touched (returns false).
pub async fn save_draft(
    tdb: &TenantDb,
    year: Uuid,
    parent: Uuid,
    form: &RawApplication,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if let Some(existing) = of_parent(tdb, year, parent).await? {
        if existing.status != "draft" {
            return Ok(false);
        }
        let mut q = tdb.update(NurseryApplications::Table);
        q.values([
            (NurseryApplications::Form, json(form)?.into()),
            (NurseryApplications::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(NurseryApplications::Id).eq(existing.id))
        .and_where(Expr::col(NurseryApplications::Status).eq("draft"));
        return Ok(tdb.execute(&q).await? == 1);
    }
    let mut q = tdb.insert(
        NurseryApplications::Table,
        [
            NurseryApplications::Id,
            NurseryApplications::YearId,
            NurseryApplications::Applicant,
            NurseryApplications::Status,
            NurseryApplications::Form,
            NurseryApplications::Decisions,
            NurseryApplications::Points,
            NurseryApplications::CreatedAt,
            NurseryApplications::UpdatedAt,
        ],
    );
    q.values([
        Uuid::now_v7().into(),
        year.into(),
        parent.into(),
        "draft".into(),
        json(form)?.into(),
        json(&BTreeMap::<String, Decision>::new())?.into(),
        0i32.into(),
        now.into(),
        now.into(),
    ]);
    tdb.insert_rows(&q).await?;
    Ok(true)
}

/// Marks the parent's application submitted with its case; false when it
/// was submitted already (two submissions at once: one wins).
#[allow(clippy::too_many_arguments)]
/// Turns the parent's draft (saved just before) into the submitted
/// application, in the case's transaction. False when it was no longer a
/// draft (another submission got there first).
pub async fn submit(
    tx: &mut TenantTx<'_>,
    year: Uuid,
    parent: Uuid,
    application: &Application,
    points: i32,
    case: Uuid,
    protocol: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tx.update(NurseryApplications::Table);
    q.values([
        (NurseryApplications::Status, "submitted".into()),
        (NurseryApplications::Application, json(application)?.into()),
        (NurseryApplications::Points, points.into()),
        (NurseryApplications::CaseId, case.into()),
        (NurseryApplications::Protocol, protocol.into()),
        (NurseryApplications::SubmittedAt, now.into()),
        (NurseryApplications::UpdatedAt, now.into()),
    ])
    .and_where(Expr::col(NurseryApplications::YearId).eq(year))
    .and_where(Expr::col(NurseryApplications::Applicant).eq(parent))
    .and_where(Expr::col(NurseryApplications::Status).eq("draft"));
    Ok(tx.execute(&q).await? == 1)
}

/// Records the reviewers' decisions and the points they give.
pub async fn review(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    id: Uuid,
    decisions: &BTreeMap<String, Decision>,
    points: i32,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut q = tdb.update(NurseryApplications::Table);
    q.values([
        (NurseryApplications::Decisions, json(decisions)?.into()),
        (NurseryApplications::Points, points.into()),
        (NurseryApplications::UpdatedAt, now.into()),
    ])
    .and_where(Expr::col(NurseryApplications::Id).eq(id));
    tx.execute(&q).await.map(drop)
}
