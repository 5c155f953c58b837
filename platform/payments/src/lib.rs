//! Fees paid online.
//!
//! A module records what a case owes ([`owe`]) in the transaction that
//! files the case. The citizen pays from the case page: each try is an
//! *attempt* with the configured [`Provider`] — we ask it for a checkout,
//! send the person's browser there, and learn the outcome three ways, any
//! of which may be lost or come twice: the provider's signed notice
//! (webhook), the person's return to us, and a poll of the checkout's
//! status by a background task (the backstop for the other two). Each way
//! ends in [`settle`], a conditional update: an attempt is settled once,
//! and a payment is paid by one attempt — a second attempt paid for the
//! same amount (two tabs) is reported as paid twice, to be refunded.
//!
//! [`dev`] holds the development bank, which the demo and the tests pay
//! through over HTTP like a real acquirer; `docs/payments.md` says how a
//! real provider (a Greek card acquirer's redirect checkout, IRIS) plugs in.

pub mod dev;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dimos_db::{DbError, Reader, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden, Order};
use serde::Serialize;
use uuid::Uuid;

pub use reqwest::header::HeaderMap;

/// What we ask a provider for: a checkout of `amount_cents` that sends the
/// person back to `return_url` and tells `notify_url`.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// Our attempt's id: the provider's merchant reference.
    pub attempt: Uuid,
    pub amount_cents: i64,
    pub description: String,
    /// Who is paid (the municipality's name, shown on the checkout).
    pub merchant: String,
    pub return_url: String,
    pub notify_url: String,
}

/// A checkout the provider opened: its id and where the person goes.
#[derive(Debug, Clone)]
pub struct Created {
    pub provider_ref: String,
    pub redirect_url: String,
}

/// Where a checkout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Not finished yet (the person is still on the provider's pages).
    Open,
    Paid,
    /// Refused by the bank (a declined card).
    Failed,
    /// Given up by the person, or expired.
    Cancelled,
}

impl Outcome {
    fn status(self) -> &'static str {
        match self {
            Outcome::Open => "started",
            Outcome::Paid => "paid",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// What a provider's notice says, once its signature checked.
#[derive(Debug, Clone)]
pub struct Notice {
    pub provider_ref: String,
    pub outcome: Outcome,
    /// The amount the provider took, where it says (checked against what
    /// was owed: a checkout whose amount was altered does not pay).
    pub amount_cents: Option<i64>,
}

/// What a provider's status call says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub outcome: Outcome,
    pub amount_cents: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or answered an error: try later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// A notice that is not the provider's (bad signature, stale, garbled).
    #[error("notice refused: {0}")]
    BadNotice(String),
}

/// A payment provider: a redirect checkout, a signed notice, a status.
/// An implementation does no database work; [`settle`] does.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// Stored with each attempt, so that a notice finds its own.
    fn name(&self) -> &'static str;
    /// The origin of its checkout pages (the pay form's CSP lets the
    /// browser go there).
    fn checkout_origin(&self) -> String;
    async fn create(&self, checkout: &Checkout) -> Result<Created, ProviderError>;
    async fn status(&self, provider_ref: &str) -> Result<Status, ProviderError>;
    /// Checks a notice's signature (and its time against `now`) and reads it.
    fn notice(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Notice, ProviderError>;
}

#[derive(Iden, Clone, Copy)]
enum Payments {
    Table,
    Id,
    CaseId,
    AmountCents,
    Description,
    Status,
    CreatedAt,
    PaidAt,
    PaidByAttempt,
}

#[derive(Iden, Clone, Copy)]
enum PaymentAttempts {
    Table,
    Id,
    PaymentId,
    Provider,
    ProviderRef,
    Status,
    CreatedAt,
    SettledAt,
}

/// An amount a case owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Payment {
    pub id: Uuid,
    pub case_id: Uuid,
    pub amount_cents: i64,
    pub description: String,
    /// `due`, `paid`, `cancelled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// One try to pay.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub provider: String,
    pub provider_ref: Option<String>,
    /// `started`, `paid`, `failed`, `cancelled`, `expired` (given up by
    /// us), `wrong-amount`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

const PAYMENT_COLUMNS: [Payments; 7] = [
    Payments::Id,
    Payments::CaseId,
    Payments::AmountCents,
    Payments::Description,
    Payments::Status,
    Payments::CreatedAt,
    Payments::PaidAt,
];

const ATTEMPT_COLUMNS: [PaymentAttempts; 7] = [
    PaymentAttempts::Id,
    PaymentAttempts::PaymentId,
    PaymentAttempts::Provider,
    PaymentAttempts::ProviderRef,
    PaymentAttempts::Status,
    PaymentAttempts::CreatedAt,
    PaymentAttempts::SettledAt,
];

/// Records, in the caller's transaction (the one filing the case), that
/// the case owes `amount_cents`.
pub async fn owe(
    tx: &mut TenantTx<'_>,
    case_id: Uuid,
    amount_cents: i64,
    description: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let mut q = tx.insert(
        Payments::Table,
        [
            Payments::Id,
            Payments::CaseId,
            Payments::AmountCents,
            Payments::Description,
            Payments::Status,
            Payments::CreatedAt,
        ],
    );
    q.values([
        id.into(),
        case_id.into(),
        amount_cents.into(),
        description.into(),
        "due".into(),
        now.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok(id)
}

/// What a case owes or paid, oldest first.
pub async fn for_case(mut r: impl Reader, case_id: Uuid) -> Result<Vec<Payment>, DbError> {
    let mut q = r.select(Payments::Table);
    q.columns(PAYMENT_COLUMNS)
        .and_where(Expr::col(Payments::CaseId).eq(case_id))
        .order_by(Payments::CreatedAt, Order::Asc);
    r.fetch_all(&q).await
}

/// Of `cases`, those that have paid what they owed (a list's marks, in
/// one query).
pub async fn paid_cases(
    mut r: impl Reader,
    cases: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, DbError> {
    if cases.is_empty() {
        return Ok(Default::default());
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        case_id: Uuid,
    }
    let mut q = r.select(Payments::Table);
    q.column(Payments::CaseId)
        .and_where(Expr::col(Payments::CaseId).is_in(cases.iter().copied()))
        .and_where(Expr::col(Payments::Status).eq("paid"));
    let rows: Vec<Row> = r.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.case_id).collect())
}

pub async fn payment(mut r: impl Reader, id: Uuid) -> Result<Option<Payment>, DbError> {
    let mut q = r.select(Payments::Table);
    q.columns(PAYMENT_COLUMNS)
        .and_where(Expr::col(Payments::Id).eq(id));
    r.fetch_optional(&q).await
}

/// A payment's attempts, newest first.
pub async fn attempts(mut r: impl Reader, payment_id: Uuid) -> Result<Vec<Attempt>, DbError> {
    let mut q = r.select(PaymentAttempts::Table);
    q.columns(ATTEMPT_COLUMNS)
        .and_where(Expr::col(PaymentAttempts::PaymentId).eq(payment_id))
        .order_by(PaymentAttempts::CreatedAt, Order::Desc)
        .order_by(PaymentAttempts::Id, Order::Desc);
    r.fetch_all(&q).await
}

pub async fn attempt(mut r: impl Reader, id: Uuid) -> Result<Option<Attempt>, DbError> {
    let mut q = r.select(PaymentAttempts::Table);
    q.columns(ATTEMPT_COLUMNS)
        .and_where(Expr::col(PaymentAttempts::Id).eq(id));
    r.fetch_optional(&q).await
}

/// The attempt a provider's reference names.
pub async fn attempt_by_ref(
    mut r: impl Reader,
    provider: &str,
    provider_ref: &str,
) -> Result<Option<Attempt>, DbError> {
    let mut q = r.select(PaymentAttempts::Table);
    q.columns(ATTEMPT_COLUMNS)
        .and_where(Expr::col(PaymentAttempts::Provider).eq(provider))
        .and_where(Expr::col(PaymentAttempts::ProviderRef).eq(provider_ref));
    r.fetch_optional(&q).await
}

/// Attempts still open that were started before `before` (oldest first):
/// the ones to ask the provider about. (An attempt we gave up on is
/// `expired`; a provider's late notice still pays it.)
pub async fn open_attempts(
    tdb: &TenantDb,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Attempt>, DbError> {
    let mut q = tdb.select(PaymentAttempts::Table);
    q.columns(ATTEMPT_COLUMNS)
        .and_where(Expr::col(PaymentAttempts::Status).eq("started"))
        .and_where(Expr::col(PaymentAttempts::CreatedAt).lt(before))
        .order_by(PaymentAttempts::CreatedAt, Order::Asc)
        .limit(limit);
    tdb.fetch_all(&q).await
}

/// Starts an attempt at a due payment, before asking the provider (so
/// that a checkout is never opened for an attempt we do not know).
pub async fn begin_attempt(
    tdb: &TenantDb,
    payment_id: Uuid,
    provider: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let mut q = tdb.insert(
        PaymentAttempts::Table,
        [
            PaymentAttempts::Id,
            PaymentAttempts::PaymentId,
            PaymentAttempts::Provider,
            PaymentAttempts::Status,
            PaymentAttempts::CreatedAt,
        ],
    );
    q.values([
        id.into(),
        payment_id.into(),
        provider.into(),
        "started".into(),
        now.into(),
    ]);
    tdb.insert_rows(&q).await?;
    Ok(id)
}

/// Notes the provider's reference of an attempt's checkout.
pub async fn opened(tdb: &TenantDb, attempt: Uuid, provider_ref: &str) -> Result<(), DbError> {
    let mut q = tdb.update(PaymentAttempts::Table);
    q.value(PaymentAttempts::ProviderRef, provider_ref)
        .and_where(Expr::col(PaymentAttempts::Id).eq(attempt))
        .and_where(Expr::col(PaymentAttempts::ProviderRef).is_null());
    tdb.execute(&q).await?;
    Ok(())
}

/// What [`settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Already settled (a second notice, a poll after the notice), or the
    /// outcome is still open: nothing changed.
    Unchanged,
    /// The payment is paid, by this attempt: record it.
    Paid(Payment),
    /// The attempt paid, but another attempt had already paid the same
    /// payment (two tabs): money to give back.
    PaidTwice(Payment),
    /// The attempt paid after the case was withdrawn (nothing was owed any
    /// more): money to give back.
    PaidAfterCancel(Payment),
    /// The provider took another amount than was owed (a checkout altered
    /// on its way): not paid; what was taken is to be given back.
    WrongAmount(Payment),
    /// The attempt failed or was given up; the payment is still due.
    NotPaid,
}

/// Gives up an attempt nobody told us about (`expired`): the person may
/// try again. A provider's "paid" for it that comes later still counts.
pub async fn expire(
    tx: &mut TenantTx<'_>,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tx.update(PaymentAttempts::Table);
    q.value(PaymentAttempts::Status, "expired")
        .value(PaymentAttempts::SettledAt, now)
        .and_where(Expr::col(PaymentAttempts::Id).eq(attempt.id))
        .and_where(Expr::col(PaymentAttempts::Status).eq("started"));
    Ok(tx.execute(&q).await? == 1)
}

/// Settles an attempt with what the provider says, in the caller's
/// transaction (so that the case's history entry goes with it). Only an
/// open attempt moves, and only a due payment becomes paid: any number of
/// notices, returns and polls settle it once.
pub async fn settle(
    tx: &mut TenantTx<'_>,
    attempt: &Attempt,
    outcome: Outcome,
    amount_cents: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Settled, DbError> {
    if outcome == Outcome::Open {
        return Ok(Settled::Unchanged);
    }
    // A "paid" counts whatever we had concluded meanwhile: a checkout we
    // gave up on, one a return or poll saw declined and the person then
    // paid on the provider's page. The money came.
    let from: &[&str] = if outcome == Outcome::Paid {
        &["started", "expired", "failed", "cancelled"]
    } else {
        &["started"]
    };
    let Some(owed) = payment(&mut *tx, attempt.payment_id).await? else {
        // The attempt names its payment; a row gone is a broken database.
        return Err(DbError::Other(sqlx::Error::RowNotFound));
    };
    let wrong = outcome == Outcome::Paid && amount_cents.is_some_and(|a| a != owed.amount_cents);
    let mut q = tx.update(PaymentAttempts::Table);
    q.value(
        PaymentAttempts::Status,
        if wrong {
            "wrong-amount"
        } else {
            outcome.status()
        },
    )
    .value(PaymentAttempts::SettledAt, now)
    .and_where(Expr::col(PaymentAttempts::Id).eq(attempt.id))
    .and_where(Expr::col(PaymentAttempts::Status).is_in(from.iter().copied()));
    if tx.execute(&q).await? == 0 {
        return Ok(Settled::Unchanged);
    }
    if wrong {
        return Ok(Settled::WrongAmount(owed));
    }
    if outcome != Outcome::Paid {
        return Ok(Settled::NotPaid);
    }
    let mut q = tx.update(Payments::Table);
    q.value(Payments::Status, "paid")
        .value(Payments::PaidAt, now)
        .value(Payments::PaidByAttempt, attempt.id)
        .and_where(Expr::col(Payments::Id).eq(attempt.payment_id))
        .and_where(Expr::col(Payments::Status).eq("due"));
    let first = tx.execute(&q).await? == 1;
    let Some(p) = payment(&mut *tx, attempt.payment_id).await? else {
        return Err(DbError::Other(sqlx::Error::RowNotFound));
    };
    Ok(if first {
        Settled::Paid(p)
    } else if p.status == "cancelled" {
        Settled::PaidAfterCancel(p)
    } else {
        Settled::PaidTwice(p)
    })
}

/// A withdrawn case owes nothing more: its due payments are cancelled (in
/// the transaction of the withdrawal). Paid ones stay paid.
pub async fn cancel_due(tx: &mut TenantTx<'_>, case_id: Uuid) -> Result<u64, DbError> {
    let mut q = tx.update(Payments::Table);
    q.value(Payments::Status, "cancelled")
        .and_where(Expr::col(Payments::CaseId).eq(case_id))
        .and_where(Expr::col(Payments::Status).eq("due"));
    tx.execute(&q).await
}

/// `12,50 €`: amounts as Greek readers write them.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{},{:02} €", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_the_greek_way() {
        assert_eq!(euros(0), "0,00 €");
        assert_eq!(euros(1250), "12,50 €");
        assert_eq!(euros(5), "0,05 €");
        assert_eq!(euros(-300), "-3,00 €");
    }
}
