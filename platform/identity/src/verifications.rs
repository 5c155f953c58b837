//! In-person identity verification at a KEP desk or the town hall: the
//! officer checks an identity document and the account's assurance level
//! rises. Stored: who, whom, when, how, which kind of document; never the
//! document's image or number.

use crate::accounts::{self, AccountId, Assurance};
use chrono::{DateTime, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::Serialize;
use uuid::Uuid;

/// Identity documents an officer may accept.
pub const DOCUMENT_TYPES: &[&str] = &["id-card", "passport", "residence-permit", "driving-licence"];

#[derive(Iden, Clone, Copy)]
enum Verifications {
    Table,
    Id,
    AccountId,
    Officer,
    OfficerName,
    Method,
    DocumentType,
    Level,
    At,
}

const COLUMNS: [Verifications; 8] = [
    Verifications::Id,
    Verifications::AccountId,
    Verifications::Officer,
    Verifications::OfficerName,
    Verifications::Method,
    Verifications::DocumentType,
    Verifications::Level,
    Verifications::At,
];

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Verification {
    pub id: Uuid,
    pub account_id: Uuid,
    pub officer: String,
    pub officer_name: String,
    pub method: String,
    pub document_type: String,
    pub level: String,
    pub at: DateTime<Utc>,
}

/// Records an in-person verification and raises the account to `substantial`.
/// Records an in-person verification and raises the account's assurance,
/// in the caller's transaction (with its audit entry).
pub async fn verify_in_person(
    tx: &mut TenantTx<'_>,
    db: &TenantDb,
    account: AccountId,
    officer: &str,
    officer_name: &str,
    document_type: &str,
) -> Result<Verification, DbError> {
    let v = Verification {
        id: Uuid::now_v7(),
        account_id: account.0,
        officer: officer.to_owned(),
        officer_name: officer_name.to_owned(),
        method: "in-person".into(),
        document_type: document_type.to_owned(),
        level: Assurance::Substantial.as_str().into(),
        at: dimos_kernel::clock::wall_now(),
    };
    let mut q = db.insert(Verifications::Table, COLUMNS);
    q.values([
        v.id.into(),
        v.account_id.into(),
        v.officer.clone().into(),
        v.officer_name.clone().into(),
        v.method.clone().into(),
        v.document_type.clone().into(),
        v.level.clone().into(),
        v.at.into(),
    ]);
    tx.insert_rows(&q).await?;
    accounts::raise_assurance_in(tx, db, account, Assurance::Substantial).await?;
    Ok(v)
}

pub async fn history(db: &TenantDb, account: AccountId) -> Result<Vec<Verification>, DbError> {
    let mut q = db.select(Verifications::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(Verifications::AccountId).eq(account.0))
        .order_by(Verifications::At, Order::Desc);
    db.fetch_all(&q).await
}
