//! The outbox table and its delivery worker.
//!
//! A worker takes a due message with `FOR UPDATE SKIP LOCKED`, marks it
//! `sending` with a lease and commits, sends it outside any transaction,
//! then records the outcome. A message the provider acknowledged is
//! `sent` and never picked again; one whose sender died mid-way is picked
//! again when its lease ends (at-least-once, with a stable Message-ID).

use crate::email::{Email, Mailer};
use crate::sms::SmsSender;
use crate::{SendError, sms};
use chrono::{DateTime, Duration, Utc};
use dimos_db::{Db, DbError, Reader, TenantDb, TenantTx};
use dimos_kernel::{SharedClock, TenantId};
use sea_query::{
    Alias, Expr, ExprTrait, Iden, LockBehavior, LockType, OnConflict, Order, Query, SimpleExpr,
};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
pub(crate) enum Notifications {
    Table,
    TenantId,
    Id,
    IdempotencyKey,
    CaseId,
    AccountId,
    Event,
    Channel,
    Recipient,
    Locale,
    Subject,
    BodyText,
    BodyHtml,
    Segments,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    ProviderId,
    CreatedAt,
    SentAt,
    PurgedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum NotificationSettings {
    Table,
    FromName,
    FromAddress,
    ReplyTo,
    SmsEnabled,
    SmsSender,
    AlertAddress,
    UpdatedAt,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub idempotency_key: String,
    pub case_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub event: String,
    pub channel: &'static str,
    pub recipient: String,
    pub locale: String,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

/// Messages whose bodies one purge statement removes.
pub const PURGE_BATCH: u64 = 1000;

/// Writes a message in the caller's transaction; writing the same
/// idempotency key again does nothing.
pub async fn enqueue(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
    n: &NewNotification,
) -> Result<(), DbError> {
    enqueue_many(tx, &[(now, n.clone())]).await
}

/// Messages per multi-row insert (16 values a row).
const ROWS_PER_INSERT: usize = 500;

/// As [`enqueue`], for many messages (a publication telling thousands of
/// families), each with its time, in a statement per 500.
pub async fn enqueue_many(
    tx: &mut TenantTx<'_>,
    messages: &[(DateTime<Utc>, NewNotification)],
) -> Result<(), DbError> {
    for chunk in messages.chunks(ROWS_PER_INSERT) {
        let mut q = tx.insert(
            Notifications::Table,
            [
                Notifications::Id,
                Notifications::IdempotencyKey,
                Notifications::CaseId,
                Notifications::AccountId,
                Notifications::Event,
                Notifications::Channel,
                Notifications::Recipient,
                Notifications::Locale,
                Notifications::Subject,
                Notifications::BodyText,
                Notifications::BodyHtml,
                Notifications::Segments,
                Notifications::Status,
                Notifications::Attempts,
                Notifications::NextAttemptAt,
                Notifications::CreatedAt,
            ],
        );
        for (now, n) in chunk {
            let segments = (n.channel == "sms")
                .then(|| i32::try_from(sms::segments(&n.text).segments).unwrap_or(i32::MAX));
            q.values([
                Uuid::now_v7().into(),
                n.idempotency_key.clone().into(),
                n.case_id.into(),
                n.account_id.into(),
                n.event.clone().into(),
                n.channel.into(),
                n.recipient.clone().into(),
                n.locale.clone().into(),
                n.subject.clone().into(),
                n.text.clone().into(),
                n.html.clone().into(),
                segments.into(),
                "pending".into(),
                0i32.into(),
                (*now).into(),
                (*now).into(),
            ]);
        }
        q.statement().on_conflict(
            OnConflict::columns([
                Alias::new(dimos_db::TENANT_ID),
                Alias::new("idempotency_key"),
            ])
            .do_nothing()
            .to_owned(),
        );
        tx.insert_rows(&q).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Due {
    tenant_id: Uuid,
    id: Uuid,
    event: String,
    channel: String,
    recipient: String,
    subject: Option<String>,
    body_text: Option<String>,
    body_html: Option<String>,
    attempts: i32,
}

/// A municipality's sender settings.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, PartialEq)]
pub struct Settings {
    pub from_name: String,
    pub from_address: String,
    pub reply_to: String,
    pub sms_enabled: bool,
    pub sms_sender: String,
    pub alert_address: String,
}

pub async fn settings(mut tdb: impl Reader) -> Result<Option<Settings>, DbError> {
    let mut q = tdb.select(NotificationSettings::Table);
    q.columns([
        NotificationSettings::FromName,
        NotificationSettings::FromAddress,
        NotificationSettings::ReplyTo,
        NotificationSettings::SmsEnabled,
        NotificationSettings::SmsSender,
        NotificationSettings::AlertAddress,
    ]);
    tdb.fetch_optional(&q).await
}

/// Saves the municipality's sender settings inside `tx` (the caller's
/// action, audited in the same transaction).
pub async fn save_settings(
    tx: &mut dimos_db::TenantTx<'_>,
    tdb: &TenantDb,
    s: &Settings,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut q = tdb.insert(
        NotificationSettings::Table,
        [
            NotificationSettings::FromName,
            NotificationSettings::FromAddress,
            NotificationSettings::ReplyTo,
            NotificationSettings::SmsEnabled,
            NotificationSettings::SmsSender,
            NotificationSettings::AlertAddress,
            NotificationSettings::UpdatedAt,
        ],
    );
    q.values([
        s.from_name.clone().into(),
        s.from_address.clone().into(),
        s.reply_to.clone().into(),
        s.sms_enabled.into(),
        s.sms_sender.clone().into(),
        s.alert_address.clone().into(),
        now.into(),
    ]);
    q.statement().on_conflict(
        OnConflict::column(Alias::new(dimos_db::TENANT_ID))
            .update_columns([
                NotificationSettings::FromName,
                NotificationSettings::FromAddress,
                NotificationSettings::ReplyTo,
                NotificationSettings::SmsEnabled,
                NotificationSettings::SmsSender,
                NotificationSettings::AlertAddress,
                NotificationSettings::UpdatedAt,
            ])
            .to_owned(),
    );
    tx.insert_rows(&q).await.map(drop)
}

/// A message as staff see it on a case.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Sent {
    pub id: Uuid,
    pub event: String,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const SENT_COLUMNS: [Notifications; 9] = [
    Notifications::Id,
    Notifications::Event,
    Notifications::Channel,
    Notifications::Recipient,
    Notifications::Status,
    Notifications::Attempts,
    Notifications::LastError,
    Notifications::CreatedAt,
    Notifications::SentAt,
];

pub async fn of_case(tdb: &TenantDb, case: Uuid) -> Result<Vec<Sent>, DbError> {
    let mut q = tdb.select(Notifications::Table);
    q.columns(SENT_COLUMNS)
        .and_where(Expr::col(Notifications::CaseId).eq(case))
        .order_by(Notifications::CreatedAt, Order::Asc);
    tdb.fetch_all(&q).await
}

/// Messages that stopped retrying, newest first, for the admin.
pub async fn dead(tdb: &TenantDb) -> Result<Vec<Sent>, DbError> {
    let mut q = tdb.select(Notifications::Table);
    q.columns(SENT_COLUMNS)
        .and_where(Expr::col(Notifications::Status).eq("dead"))
        .order_by(Notifications::CreatedAt, Order::Desc)
        .limit(200);
    tdb.fetch_all(&q).await
}

/// Emails the municipality's alert address (its notification settings),
/// once per `key`; nothing when it set none. For what the admin must hear
/// of: a message or a webhook that could not be delivered.
pub async fn alert(
    tdb: &TenantDb,
    now: DateTime<Utc>,
    key: &str,
    subject: &str,
    text: String,
) -> Result<(), DbError> {
    let Some(s) = settings(tdb).await? else {
        return Ok(());
    };
    if s.alert_address.is_empty() {
        return Ok(());
    }
    let mut tx = tdb.begin().await?;
    enqueue(
        &mut tx,
        now,
        &NewNotification {
            idempotency_key: key.to_owned(),
            case_id: None,
            account_id: None,
            event: "dead-letter".into(),
            channel: "email",
            recipient: s.alert_address.clone(),
            locale: "el".into(),
            subject: Some(subject.to_owned()),
            html: Some(format!("<pre>{}</pre>", text.replace('<', "&lt;"))),
            text,
        },
    )
    .await?;
    tx.commit().await
}

/// Defaults for municipalities that set nothing.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub from_name: String,
    pub from_address: String,
    pub sms_sender: String,
    pub max_attempts: i32,
    pub retention_days: i64,
}

pub struct Outbox {
    db: Db,
    clock: SharedClock,
    mailer: Mailer,
    sms: Arc<dyn SmsSender>,
    defaults: Defaults,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("mailer", &self.mailer)
            .finish()
    }
}

const LEASE_MINUTES: i64 = 5;

impl Outbox {
    pub fn new(
        db: Db,
        clock: SharedClock,
        mailer: Mailer,
        sms: Arc<dyn SmsSender>,
        defaults: Defaults,
    ) -> Self {
        Outbox {
            db,
            clock,
            mailer,
            sms,
            defaults,
        }
    }

    /// Takes one due message and leases it to this worker.
    async fn take(&self) -> Result<Option<Due>, DbError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        // Two simple claims rather than one with an OR: each is served by
        // the (status, next_attempt_at) index, where the OR made every claim
        // gather and sort all due messages (2 ms each with thousands
        // pending, one claim per message, competing with the pages).
        // Leases of a worker that died come first: they are the oldest.
        let claim = |cond: SimpleExpr| {
            Query::select()
                .columns([
                    Notifications::TenantId,
                    Notifications::Id,
                    Notifications::Event,
                    Notifications::Channel,
                    Notifications::Recipient,
                    Notifications::Subject,
                    Notifications::BodyText,
                    Notifications::BodyHtml,
                    Notifications::Attempts,
                ])
                .from(Notifications::Table)
                .cond_where(cond)
                .order_by(Notifications::NextAttemptAt, Order::Asc)
                .limit(1)
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .to_owned()
        };
        let expired = claim(
            Expr::col(Notifications::Status)
                .eq("sending")
                .and(Expr::col(Notifications::LeaseUntil).lte(now)),
        );
        let pending = claim(
            Expr::col(Notifications::Status)
                .eq("pending")
                .and(Expr::col(Notifications::NextAttemptAt).lte(now)),
        );
        let due = match tx.fetch_optional::<Due>(&expired).await? {
            Some(d) => Some(d),
            None => tx.fetch_optional::<Due>(&pending).await?,
        };
        let Some(due) = due else {
            return Ok(None);
        };
        let lease = Query::update()
            .table(Notifications::Table)
            .value(Notifications::Status, "sending")
            .value(
                Notifications::LeaseUntil,
                now + Duration::minutes(LEASE_MINUTES),
            )
            .value(
                Notifications::Attempts,
                Expr::col(Notifications::Attempts).add(1),
            )
            .and_where(Expr::col(Notifications::TenantId).eq(due.tenant_id))
            .and_where(Expr::col(Notifications::Id).eq(due.id))
            .to_owned();
        tx.execute(&lease).await?;
        tx.commit().await?;
        Ok(Some(due))
    }

    /// Delivers up to `max` due messages; returns how many were tried.
    pub async fn deliver_due(&self, max: usize) -> Result<usize, DbError> {
        let mut n = 0;
        while n < max {
            let Some(due) = self.take().await? else { break };
            n += 1;
            // The message names its tenant (a row, not a request).
            #[allow(clippy::disallowed_methods)]
            let tdb = TenantDb::new(self.db.clone(), TenantId(due.tenant_id));
            let result = self.send(&tdb, &due).await;
            self.record(&tdb, &due, result).await?;
        }
        Ok(n)
    }

    async fn send(&self, tdb: &TenantDb, due: &Due) -> Result<String, SendError> {
        let s = settings(tdb)
            .await
            .map_err(|e| SendError::retry(e.to_string()))?
            .unwrap_or_default();
        let pick = |v: &str, d: &str| {
            if v.is_empty() {
                d.to_owned()
            } else {
                v.to_owned()
            }
        };
        match due.channel.as_str() {
            "email" => {
                self.mailer
                    .send(&Email {
                        id: due.id,
                        from_name: pick(&s.from_name, &self.defaults.from_name),
                        from_address: pick(&s.from_address, &self.defaults.from_address),
                        reply_to: Some(s.reply_to.clone()),
                        to: due.recipient.clone(),
                        subject: due.subject.clone().unwrap_or_default(),
                        text: due.body_text.clone().unwrap_or_default(),
                        html: due.body_html.clone().unwrap_or_default(),
                    })
                    .await
            }
            _ => {
                self.sms
                    .send(
                        &due.recipient,
                        &pick(&s.sms_sender, &self.defaults.sms_sender),
                        due.body_text.as_deref().unwrap_or_default(),
                    )
                    .await
            }
        }
    }

    async fn record(
        &self,
        tdb: &TenantDb,
        due: &Due,
        result: Result<String, SendError>,
    ) -> Result<(), DbError> {
        let now = self.clock.now();
        let attempts = due.attempts + 1;
        let mut q = tdb.update(Notifications::Table);
        q.and_where(Expr::col(Notifications::Id).eq(due.id))
            .value(Notifications::LeaseUntil, Option::<DateTime<Utc>>::None);
        let mut dead = false;
        match &result {
            Ok(provider_id) => {
                q.value(Notifications::Status, "sent")
                    .value(Notifications::SentAt, now)
                    .value(Notifications::ProviderId, provider_id.clone())
                    .value(Notifications::LastError, Option::<String>::None);
            }
            Err(e) if e.permanent || attempts >= self.defaults.max_attempts => {
                dead = true;
                tracing::error!(notification = %due.id, error = %e, attempts, "notification undeliverable");
                q.value(Notifications::Status, "dead")
                    .value(Notifications::LastError, e.message.clone());
            }
            Err(e) => {
                // 1, 2, 4, 8… minutes, at most a day.
                let wait = Duration::minutes(Ord::min(1i64 << (attempts - 1).clamp(0, 10), 1440));
                tracing::warn!(notification = %due.id, error = %e, attempts, "notification will be retried");
                q.value(Notifications::Status, "pending")
                    .value(Notifications::NextAttemptAt, now + wait)
                    .value(Notifications::LastError, e.message.clone());
            }
        }
        tdb.execute(&q).await?;
        if dead && due.event != "dead-letter" {
            self.alert(tdb, due).await?;
        }
        Ok(())
    }

    /// Tells the municipality's alert address that a message could not go.
    async fn alert(&self, tdb: &TenantDb, due: &Due) -> Result<(), DbError> {
        let text = format!(
            "Ένα μήνυμα δεν παραδόθηκε / A message could not be delivered:\n\n{} → {} ({})\n",
            due.channel, due.recipient, due.event
        );
        alert(
            tdb,
            self.clock.now(),
            &format!("dead-letter:{}", due.id),
            "Dimos: μήνυμα που δεν παραδόθηκε / undelivered message",
            text,
        )
        .await
    }

    /// Removes message bodies older than the retention period; who, when,
    /// which channel and what happened stay. In batches of
    /// [`PURGE_BATCH`], each its own short statement: a deployment's first
    /// purge (a year of messages at once) was one UPDATE of a million rows
    /// that held the database busy for minutes.
    pub async fn purge(&self) -> Result<u64, DbError> {
        let before = self.clock.now() - Duration::days(self.defaults.retention_days);
        let mut purged = 0;
        loop {
            let due = Query::select()
                .columns([Notifications::TenantId, Notifications::Id])
                .from(Notifications::Table)
                .and_where(Expr::col(Notifications::CreatedAt).lt(before))
                .and_where(Expr::col(Notifications::PurgedAt).is_null())
                .and_where(Expr::col(Notifications::Status).is_in(["sent", "dead"]))
                .limit(PURGE_BATCH)
                .to_owned();
            let q = Query::update()
                .table(Notifications::Table)
                .value(Notifications::Subject, Option::<String>::None)
                .value(Notifications::BodyText, Option::<String>::None)
                .value(Notifications::BodyHtml, Option::<String>::None)
                .value(Notifications::PurgedAt, self.clock.now())
                .and_where(
                    Expr::tuple([
                        Expr::col(Notifications::TenantId),
                        Expr::col(Notifications::Id),
                    ])
                    .in_subquery(due),
                )
                .to_owned();
            let n = self.db.execute(&q).await?;
            purged += n;
            if n < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}
