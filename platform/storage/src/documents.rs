//! Document metadata, tenant-scoped like everything else.

use chrono::{DateTime, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::Serialize;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum Documents {
    Table,
    Id,
    CaseId,
    Kind,
    OriginalName,
    ContentType,
    Size,
    Sha256,
    ObjectKey,
    PersonalData,
    UploadedBy,
    UploadedAt,
    Internal,
    ReplacedBy,
    HeldBy,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Document {
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub kind: Option<String>,
    pub original_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub object_key: String,
    pub personal_data: bool,
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
    /// Added by staff for the file only; the applicant does not see it.
    pub internal: bool,
    /// A newer version the citizen sent instead of this one.
    pub replaced_by: Option<Uuid>,
}

const COLUMNS: [Documents; 13] = [
    Documents::Id,
    Documents::CaseId,
    Documents::Kind,
    Documents::OriginalName,
    Documents::ContentType,
    Documents::Size,
    Documents::Sha256,
    Documents::ObjectKey,
    Documents::PersonalData,
    Documents::UploadedBy,
    Documents::UploadedAt,
    Documents::Internal,
    Documents::ReplacedBy,
];

/// A new object key: the tenant, then a random id; nothing from the person.
pub fn new_key(tdb: &TenantDb, id: Uuid) -> String {
    format!("{}/{}", tdb.tenant_id().uuid().simple(), id.simple())
}

fn insert_statement(tdb: &TenantDb, d: &Document) -> dimos_db::ScopedInsert {
    held_statement(tdb, d, None)
}

fn held_statement(tdb: &TenantDb, d: &Document, holder: Option<&str>) -> dimos_db::ScopedInsert {
    let mut q = tdb.insert(
        Documents::Table,
        COLUMNS.into_iter().chain([Documents::HeldBy]),
    );
    q.values([
        d.id.into(),
        d.case_id.into(),
        d.kind.clone().into(),
        d.original_name.clone().into(),
        d.content_type.clone().into(),
        d.size.into(),
        d.sha256.clone().into(),
        d.object_key.clone().into(),
        d.personal_data.into(),
        d.uploaded_by.into(),
        d.uploaded_at.into(),
        d.internal.into(),
        d.replaced_by.into(),
        holder.map(str::to_owned).into(),
    ]);
    q
}

pub async fn insert(tdb: &TenantDb, d: &Document) -> Result<(), DbError> {
    tdb.insert_rows(&insert_statement(tdb, d)).await.map(drop)
}

/// The same, inside the caller's transaction (with the case event and the
/// audit entry that go with it).
pub async fn insert_in(tx: &mut TenantTx<'_>, tdb: &TenantDb, d: &Document) -> Result<(), DbError> {
    tx.insert_rows(&insert_statement(tdb, d)).await.map(drop)
}

/// Stores `new` as the replacement of `old`, both or neither. False when
/// `old` was replaced meanwhile.
pub async fn replace(tdb: &TenantDb, old: Uuid, new: &Document) -> Result<bool, DbError> {
    let mut tx = tdb.begin().await?;
    if !replace_in(&mut tx, tdb, old, new).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// The same, inside the caller's transaction; on false the caller must
/// not commit what it wrote.
pub async fn replace_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    old: Uuid,
    new: &Document,
) -> Result<bool, DbError> {
    tx.insert_rows(&insert_statement(tdb, new)).await?;
    let mut q = tdb.update(Documents::Table);
    q.value(Documents::ReplacedBy, new.id)
        .and_where(Expr::col(Documents::Id).eq(old))
        .and_where(Expr::col(Documents::ReplacedBy).is_null());
    Ok(tx.execute(&q).await? == 1)
}

pub async fn of_case(tdb: &TenantDb, case: Uuid) -> Result<Vec<Document>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(Documents::CaseId).eq(case))
        .order_by(Documents::UploadedAt, Order::Asc);
    tdb.fetch_all(&q).await
}

pub async fn get(tdb: &TenantDb, id: Uuid) -> Result<Option<Document>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(Documents::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// Marks a document as held by a module's own record (`holder` names its
/// table), in the caller's transaction: it belongs to no case and is not a
/// form's leftover, so neither the sweep nor a form's filing takes it.
pub async fn hold_in(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    d: &Document,
    holder: &str,
) -> Result<(), DbError> {
    tx.insert_rows(&held_statement(tdb, d, Some(holder)))
        .await
        .map(drop)
}

/// A document held by `holder` (see [`hold_in`]), by its id.
pub async fn held(tdb: &TenantDb, id: Uuid, holder: &str) -> Result<Option<Document>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(Documents::Id).eq(id))
        .and_where(Expr::col(Documents::HeldBy).eq(holder));
    tdb.fetch_optional(&q).await
}

/// Makes a document a person uploaded with a form that came back with
/// errors (kept, in no case, held by nothing) held by `holder`, in the
/// caller's transaction. False when it is not that person's, or already
/// taken.
pub async fn adopt_held_in(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    owner: Uuid,
    holder: &str,
) -> Result<bool, DbError> {
    let mut q = tx.update(Documents::Table);
    q.value(Documents::HeldBy, holder)
        .and_where(Expr::col(Documents::Id).eq(id))
        .and_where(Expr::col(Documents::UploadedBy).eq(owner))
        .and_where(Expr::col(Documents::CaseId).is_null())
        .and_where(Expr::col(Documents::HeldBy).is_null());
    Ok(tx.execute(&q).await? == 1)
}

/// Deletes documents held by `holder` (a module's record disposed of), in
/// the caller's transaction; their object keys, for the caller to delete
/// once it commits (one left behind is swept as an orphan).
pub async fn drop_held_in(
    tx: &mut TenantTx<'_>,
    ids: &[Uuid],
    holder: &str,
) -> Result<Vec<String>, DbError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = tx.select(Documents::Table);
    q.column(Documents::ObjectKey)
        .and_where(Expr::col(Documents::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(Documents::HeldBy).eq(holder));
    let keys: Vec<(String,)> = tx.fetch_all(&q).await?;
    let mut q = tx.delete(Documents::Table);
    q.and_where(Expr::col(Documents::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(Documents::HeldBy).eq(holder));
    tx.execute(&q).await?;
    Ok(keys.into_iter().map(|k| k.0).collect())
}

/// Bytes already stored for a case (for the per-case limit).
pub async fn case_bytes(tdb: &TenantDb, case: Uuid) -> Result<u64, DbError> {
    // SUM is NUMERIC on PostgreSQL: cast so both databases return an integer.
    let mut q = tdb.select(Documents::Table);
    q.expr(
        Expr::col(Documents::Size)
            .sum()
            .cast_as(sea_query::Alias::new("BIGINT")),
    )
    .and_where(Expr::col(Documents::CaseId).eq(case));
    let (n,): (Option<i64>,) = tdb.fetch_optional(&q).await?.unwrap_or((None,));
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// Every object key the tenant's documents point at.
/// Gives a case a document its owner uploaded before the case existed (a
/// file kept while a form came back with errors). False when the document
/// is not that person's, already belongs to a case, or is of another kind.
pub async fn adopt_in(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    owner: Uuid,
    kind: &str,
    case: Uuid,
) -> Result<bool, DbError> {
    let mut q = tx.update(Documents::Table);
    q.value(Documents::CaseId, case)
        .and_where(Expr::col(Documents::Id).eq(id))
        .and_where(Expr::col(Documents::UploadedBy).eq(owner))
        .and_where(Expr::col(Documents::Kind).eq(kind))
        .and_where(Expr::col(Documents::CaseId).is_null())
        .and_where(Expr::col(Documents::HeldBy).is_null());
    Ok(tx.execute(&q).await? == 1)
}

/// Documents kept for a form that was never sent, uploaded before
/// `before`: (id, object key).
pub async fn unclaimed(
    tdb: &TenantDb,
    before: DateTime<Utc>,
) -> Result<Vec<(Uuid, String)>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.columns([Documents::Id, Documents::ObjectKey])
        .and_where(Expr::col(Documents::CaseId).is_null())
        .and_where(Expr::col(Documents::HeldBy).is_null())
        .and_where(Expr::col(Documents::UploadedAt).lt(before));
    tdb.fetch_all(&q).await
}

/// Deletes a kept document nobody took; false when someone took it
/// meanwhile (a case, a module's record), whose object then stays.
pub async fn delete_unclaimed(tdb: &TenantDb, id: Uuid) -> Result<bool, DbError> {
    let mut q = tdb.delete(Documents::Table);
    q.and_where(Expr::col(Documents::Id).eq(id))
        .and_where(Expr::col(Documents::CaseId).is_null())
        .and_where(Expr::col(Documents::HeldBy).is_null());
    Ok(tdb.execute(&q).await? == 1)
}

/// A document `owner` kept from a form that came back with errors, if it
/// is still theirs and nothing took it (no case, no module's record).
pub async fn kept_of(tdb: &TenantDb, id: Uuid, owner: Uuid) -> Result<Option<Document>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(Documents::Id).eq(id))
        .and_where(Expr::col(Documents::UploadedBy).eq(owner))
        .and_where(Expr::col(Documents::CaseId).is_null())
        .and_where(Expr::col(Documents::HeldBy).is_null());
    tdb.fetch_optional(&q).await
}

pub async fn keys(tdb: &TenantDb) -> Result<Vec<String>, DbError> {
    let mut q = tdb.select(Documents::Table);
    q.column(Documents::ObjectKey);
    let rows: Vec<(String,)> = tdb.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
