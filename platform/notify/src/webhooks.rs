//! Webhooks: a municipality's admin subscribes an HTTPS endpoint to case
//! events. Each event a subscription wants becomes a delivery row in the
//! transaction of the change ([`WebhookSink`]), so nothing is lost and
//! nothing is sent for a change that rolled back. A worker on any replica
//! ([`Webhooks::deliver_due`]) takes a due delivery with `FOR UPDATE SKIP
//! LOCKED`, leases it, posts it outside any transaction and records the
//! outcome: delivered on a 2xx, else tried again with backoff, and `dead`
//! after `webhooks.max_attempts` with an alert to the municipality. The
//! deliveries of one case to one endpoint go in the case's order: one
//! waits while an earlier one is undelivered.
//!
//! A delivery is a CloudEvents 1.0 JSON event, signed as Standard Webhooks
//! do (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256
//! of `id.timestamp.body` with the subscription's `whsec_` secret). It
//! names the case, the service, the step and the outcome, never the
//! applicant: the receiver reads what it may through the API.

use crate::outbox;
use crate::sink::Directory;
use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use dimos_db::{Db, DbError, Reader, TenantDb, TenantTx};
use dimos_kernel::config::WebhooksConfig;
use dimos_kernel::{Error, SharedClock, TenantId};
use dimos_workflow::{Event, EventSink};
use hmac::{Hmac, Mac};
use sea_query::{
    Alias, Expr, ExprTrait, Iden, LockBehavior, LockType, OnConflict, Order, Query, SimpleExpr,
};
use serde::Serialize;
use serde_json::json;
use sqlx::types::Json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
pub(crate) enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    Description,
    Events,
    Secret,
    CreatedBy,
    CreatedAt,
    DisabledAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum WebhookDeliveries {
    Table,
    TenantId,
    Id,
    SubscriptionId,
    EventType,
    CaseId,
    Seq,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

/// The events one may subscribe to: (type, Greek, English).
pub const TYPES: &[(&str, &str, &str)] = &[
    (
        "case.submitted",
        "Υποβολή αίτησης",
        "An application is submitted",
    ),
    (
        "case.registered",
        "Πρωτοκόλληση (με αριθμό πρωτοκόλλου)",
        "It is registered (with its protocol number)",
    ),
    (
        "case.step-completed",
        "Ολοκλήρωση βήματος από υπάλληλο",
        "A member of staff completes a step",
    ),
    (
        "case.waiting",
        "Ζητήθηκαν συμπληρωματικά στοιχεία",
        "More information is asked of the applicant",
    ),
    (
        "case.citizen-responded",
        "Ο αιτών απάντησε",
        "The applicant answers",
    ),
    (
        "case.decided",
        "Απόφαση (έγκριση ή απόρριψη· π.χ. έκδοση κάρτας)",
        "A decision (approved or rejected; e.g. a permit issued)",
    ),
    (
        "case.withdrawn",
        "Ανάκληση αίτησης",
        "The applicant withdraws",
    ),
    (
        "case.progress",
        "Πρόοδος που ανακοινώνεται (π.χ. δημοσίευση κατάταξης)",
        "Progress announced (e.g. a placement published)",
    ),
    (
        "case.expiring",
        "Λήξη που πλησιάζει (π.χ. κάρτας στάθμευσης)",
        "An expiry coming up (e.g. a parking permit)",
    ),
    (
        "document.signed",
        "Υπογραφή εγγράφου",
        "A document is signed",
    ),
];

/// The webhook type of a case event, if one is sent for it. Staff's own
/// notes, claims and assignments are not.
pub fn event_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "submitted" => "case.submitted",
        "registered" => "case.registered",
        "task-completed" => "case.step-completed",
        "waiting" => "case.waiting",
        "citizen-responded" => "case.citizen-responded",
        "approved" | "rejected" => "case.decided",
        "withdrawn" => "case.withdrawn",
        "notify.progress" => "case.progress",
        "notify.expiring" => "case.expiring",
        "document-signed" => "document.signed",
        _ => return None,
    })
}

/// A new signing secret, as Standard Webhooks write them.
pub fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `webhook-signature` of a message: `v1,` and the base64 HMAC-SHA256
/// of `id.timestamp.body` under the secret's key. None for a secret that
/// is not one.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A subscription as the admin sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub events: Json<Vec<String>>,
    #[serde(skip)]
    pub secret: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

const SUBSCRIPTION_COLUMNS: [WebhookSubscriptions; 8] = [
    WebhookSubscriptions::Id,
    WebhookSubscriptions::Url,
    WebhookSubscriptions::Description,
    WebhookSubscriptions::Events,
    WebhookSubscriptions::Secret,
    WebhookSubscriptions::CreatedBy,
    WebhookSubscriptions::CreatedAt,
    WebhookSubscriptions::DisabledAt,
];

/// What the admin asks for.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
}

/// Registers a subscription in the caller's transaction (with its audit
/// entry); returns it, its secret included.
pub async fn subscribe(
    tx: &mut TenantTx<'_>,
    new: NewSubscription,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Subscription, DbError> {
    let s = Subscription {
        id: Uuid::now_v7(),
        url: new.url,
        description: new.description,
        events: Json(new.events),
        secret: new_secret(),
        created_by: by.to_owned(),
        created_at: now,
        disabled_at: None,
    };
    let mut q = tx.insert(WebhookSubscriptions::Table, SUBSCRIPTION_COLUMNS);
    q.values([
        s.id.into(),
        s.url.clone().into(),
        s.description.clone().into(),
        json!(s.events.0).into(),
        s.secret.clone().into(),
        s.created_by.clone().into(),
        s.created_at.into(),
        Option::<DateTime<Utc>>::None.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok(s)
}

pub async fn subscriptions(mut r: impl Reader) -> Result<Vec<Subscription>, DbError> {
    let mut q = r.select(WebhookSubscriptions::Table);
    q.columns(SUBSCRIPTION_COLUMNS)
        .order_by(WebhookSubscriptions::CreatedAt, Order::Asc);
    r.fetch_all(&q).await
}

pub async fn subscription(mut r: impl Reader, id: Uuid) -> Result<Option<Subscription>, DbError> {
    let mut q = r.select(WebhookSubscriptions::Table);
    q.columns(SUBSCRIPTION_COLUMNS)
        .and_where(Expr::col(WebhookSubscriptions::Id).eq(id));
    r.fetch_optional(&q).await
}

/// Stops a subscription: nothing more is written for it, and what waits
/// is not sent. True when it was active.
pub async fn disable(tx: &mut TenantTx<'_>, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbError> {
    let mut q = tx.update(WebhookSubscriptions::Table);
    q.value(WebhookSubscriptions::DisabledAt, now)
        .and_where(Expr::col(WebhookSubscriptions::Id).eq(id))
        .and_where(Expr::col(WebhookSubscriptions::DisabledAt).is_null());
    Ok(tx.execute(&q).await? == 1)
}

/// One delivery in the log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event_type: String,
    pub case_id: Uuid,
    pub seq: i32,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A subscription's latest deliveries, newest first.
pub async fn deliveries(
    tdb: &TenantDb,
    subscription: Uuid,
    limit: u64,
) -> Result<Vec<Delivery>, DbError> {
    let mut q = tdb.select(WebhookDeliveries::Table);
    q.columns([
        WebhookDeliveries::Id,
        WebhookDeliveries::EventType,
        WebhookDeliveries::CaseId,
        WebhookDeliveries::Seq,
        WebhookDeliveries::Status,
        WebhookDeliveries::Attempts,
        WebhookDeliveries::NextAttemptAt,
        WebhookDeliveries::LastStatus,
        WebhookDeliveries::LastError,
        WebhookDeliveries::CreatedAt,
        WebhookDeliveries::DeliveredAt,
    ])
    .and_where(Expr::col(WebhookDeliveries::SubscriptionId).eq(subscription))
    .order_by(WebhookDeliveries::CreatedAt, Order::Desc)
    .order_by(WebhookDeliveries::Seq, Order::Desc)
    .limit(limit);
    tdb.fetch_all(&q).await
}

/// Sends a delivery again (the same id, so a receiver that had it knows
/// it), now; one of another subscription is not found. True when found.
pub async fn replay(
    tdb: &TenantDb,
    subscription: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tdb.update(WebhookDeliveries::Table);
    q.value(WebhookDeliveries::Status, "pending")
        .value(WebhookDeliveries::Attempts, 0)
        .value(WebhookDeliveries::NextAttemptAt, now)
        .value(WebhookDeliveries::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(Expr::col(WebhookDeliveries::Id).eq(id))
        .and_where(Expr::col(WebhookDeliveries::SubscriptionId).eq(subscription))
        // One on its way is left to finish.
        .and_where(Expr::col(WebhookDeliveries::Status).ne("sending"));
    Ok(tdb.execute(&q).await? == 1)
}

/// Turns the workflow's events into deliveries, in the transaction of the
/// change.
pub struct WebhookSink {
    pub directory: Arc<dyn Directory>,
}

#[derive(sqlx::FromRow)]
struct Wanted {
    id: Uuid,
    events: Json<Vec<String>>,
}

/// Deliveries written in one statement.
const DELIVERIES_PER_WRITE: usize = 500;

#[async_trait]
impl EventSink for WebhookSink {
    async fn on_event(&self, tx: &mut TenantTx<'_>, e: &Event) -> Result<(), Error> {
        self.on_events(tx, std::slice::from_ref(e)).await
    }

    async fn on_events(&self, tx: &mut TenantTx<'_>, events: &[Event]) -> Result<(), Error> {
        let typed: Vec<(&Event, &str)> = events
            .iter()
            .filter_map(|e| event_type(&e.kind).map(|t| (e, t)))
            .collect();
        if typed.is_empty() {
            return Ok(());
        }
        let mut q = tx.select(WebhookSubscriptions::Table);
        q.columns([WebhookSubscriptions::Id, WebhookSubscriptions::Events])
            .and_where(Expr::col(WebhookSubscriptions::DisabledAt).is_null());
        let subs: Vec<Wanted> = tx.fetch_all(&q).await?;
        if subs.is_empty() {
            return Ok(());
        }
        let base = self
            .directory
            .tenant(tx)
            .await?
            .map(|t| t.base_url)
            .unwrap_or_default();
        let mut rows = vec![];
        for (e, kind) in typed {
            for s in subs.iter().filter(|s| s.events.0.iter().any(|w| w == kind)) {
                let id = Uuid::now_v7();
                let payload = cloud_event(&base, id, kind, e);
                rows.push((id, s.id, kind, e, payload));
            }
        }
        for chunk in rows.chunks(DELIVERIES_PER_WRITE) {
            let mut ins = tx.insert(
                WebhookDeliveries::Table,
                [
                    WebhookDeliveries::Id,
                    WebhookDeliveries::SubscriptionId,
                    WebhookDeliveries::EventType,
                    WebhookDeliveries::CaseId,
                    WebhookDeliveries::Seq,
                    WebhookDeliveries::Payload,
                    WebhookDeliveries::Status,
                    WebhookDeliveries::Attempts,
                    WebhookDeliveries::NextAttemptAt,
                    WebhookDeliveries::CreatedAt,
                ],
            );
            for (id, sub, kind, e, payload) in chunk {
                ins.values([
                    (*id).into(),
                    (*sub).into(),
                    (*kind).into(),
                    e.case_id.0.into(),
                    e.seq.into(),
                    payload.clone().into(),
                    "pending".into(),
                    0i32.into(),
                    e.at.into(),
                    e.at.into(),
                ]);
            }
            // An event is delivered once per subscription, whatever calls
            // the sink twice.
            ins.statement().on_conflict(
                OnConflict::columns([
                    Alias::new(dimos_db::TENANT_ID),
                    Alias::new("subscription_id"),
                    Alias::new("case_id"),
                    Alias::new("seq"),
                ])
                .do_nothing()
                .to_owned(),
            );
            tx.insert_rows(&ins).await?;
        }
        Ok(())
    }
}

/// The CloudEvents 1.0 JSON of an event (structured mode).
fn cloud_event(base: &str, id: Uuid, kind: &str, e: &Event) -> String {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("{base}/api/v1"),
        "type": format!("gr.dimos.{kind}"),
        "subject": format!("cases/{}", e.case_id.0),
        "time": e.at,
        "datacontenttype": "application/json",
        "data": {
            "case": e.case_id.0,
            "service": e.process,
            "seq": e.seq,
            "event": e.kind,
            "step": e.step,
            "outcome": e.outcome,
            "protocol": e.protocol,
        },
    })
    .to_string()
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Due {
    tenant_id: Uuid,
    id: Uuid,
    subscription_id: Uuid,
    event_type: String,
    case_id: Uuid,
    payload: String,
    attempts: i32,
}

/// What one attempt came to.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    /// Not worth trying again (the subscription is gone, its URL or secret
    /// refused).
    permanent: bool,
    /// Tell the municipality when it ends dead (not when the admin
    /// disabled or removed the subscription).
    alert: bool,
}

/// Deliveries one worker sends at once.
const PARALLEL: usize = 8;

/// A delivery's outcome as the worker collects it; a lost task (a panic)
/// is logged, its lease ends and another worker takes it.
fn finished(done: Result<Result<(), DbError>, tokio::task::JoinError>) -> Option<DbError> {
    match done {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(e) => {
            tracing::error!(error = %e, "a webhook delivery task failed");
            None
        }
    }
}

/// A lease outlasts the longest send: the timeout and a margin, at least
/// five minutes.
fn lease(timeout_secs: u64) -> Duration {
    Duration::seconds(i64::try_from(timeout_secs.saturating_add(60)).unwrap_or(i64::MAX))
        .max(Duration::minutes(5))
}

/// The delivery worker.
pub struct Webhooks {
    db: Db,
    clock: SharedClock,
    http: reqwest::Client,
    max_attempts: i32,
    log_days: i64,
    allow_private: bool,
    lease: Duration,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl Webhooks {
    pub fn new(db: Db, clock: SharedClock, cfg: &WebhooksConfig) -> Result<Self, String> {
        let mut http = reqwest::Client::builder()
            // A redirect would take the delivery somewhere not subscribed.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would resolve names itself,
            // past the check of addresses below.
            .no_proxy()
            .timeout(std::time::Duration::from_secs(cfg.timeout_secs))
            .user_agent("Dimos-Webhooks/1");
        if !cfg.allow_private_addresses {
            http = http.dns_resolver(Arc::new(PublicOnly));
        }
        if !cfg.ca_file.as_os_str().is_empty() {
            let pem = std::fs::read(&cfg.ca_file)
                .map_err(|e| format!("webhooks.ca_file {}: {e}", cfg.ca_file.display()))?;
            for c in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("webhooks.ca_file {}: {e}", cfg.ca_file.display()))?
            {
                http = http.add_root_certificate(c);
            }
        }
        Ok(Webhooks {
            db,
            clock,
            http: http
                .build()
                .map_err(|e| format!("webhooks: HTTP client: {e}"))?,
            max_attempts: i32::try_from(cfg.max_attempts).unwrap_or(i32::MAX),
            log_days: i64::from(cfg.log_days),
            allow_private: cfg.allow_private_addresses,
            lease: lease(cfg.timeout_secs),
        })
    }

    /// Takes one due delivery whose case has no earlier one undelivered
    /// to the same subscription, and leases it to this worker.
    async fn take(&self) -> Result<Option<Due>, DbError> {
        let now = self.clock.now();
        let (d, e) = (Alias::new("d"), Alias::new("e"));
        let earlier = Query::select()
            .expr(Expr::val(1))
            .from_as(WebhookDeliveries::Table, e.clone())
            .and_where(
                Expr::col((e.clone(), WebhookDeliveries::TenantId))
                    .equals((d.clone(), WebhookDeliveries::TenantId)),
            )
            .and_where(
                Expr::col((e.clone(), WebhookDeliveries::SubscriptionId))
                    .equals((d.clone(), WebhookDeliveries::SubscriptionId)),
            )
            .and_where(
                Expr::col((e.clone(), WebhookDeliveries::CaseId))
                    .equals((d.clone(), WebhookDeliveries::CaseId)),
            )
            .and_where(
                Expr::col((e.clone(), WebhookDeliveries::Seq))
                    .lt(Expr::col((d.clone(), WebhookDeliveries::Seq))),
            )
            .and_where(
                Expr::col((e.clone(), WebhookDeliveries::Status)).is_in(["pending", "sending"]),
            )
            .to_owned();
        let claim = |cond: SimpleExpr| {
            Query::select()
                .columns(
                    [
                        WebhookDeliveries::TenantId,
                        WebhookDeliveries::Id,
                        WebhookDeliveries::SubscriptionId,
                        WebhookDeliveries::EventType,
                        WebhookDeliveries::CaseId,
                        WebhookDeliveries::Payload,
                        WebhookDeliveries::Attempts,
                    ]
                    .map(|c| (d.clone(), c)),
                )
                .from_as(WebhookDeliveries::Table, d.clone())
                .cond_where(cond.and(Expr::exists(earlier.clone()).not()))
                .order_by((d.clone(), WebhookDeliveries::NextAttemptAt), Order::Asc)
                .limit(1)
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .to_owned()
        };
        let col = |c: WebhookDeliveries| Expr::col((d.clone(), c));
        let expired = claim(
            col(WebhookDeliveries::Status)
                .eq("sending")
                .and(col(WebhookDeliveries::LeaseUntil).lte(now)),
        );
        let pending = claim(
            col(WebhookDeliveries::Status)
                .eq("pending")
                .and(col(WebhookDeliveries::NextAttemptAt).lte(now)),
        );
        let mut tx = self.db.begin().await?;
        let due = match tx.fetch_optional::<Due>(&expired).await? {
            Some(d) => Some(d),
            None => tx.fetch_optional::<Due>(&pending).await?,
        };
        let Some(due) = due else {
            return Ok(None);
        };
        let lease = Query::update()
            .table(WebhookDeliveries::Table)
            .value(WebhookDeliveries::Status, "sending")
            .value(WebhookDeliveries::LeaseUntil, now + self.lease)
            .value(
                WebhookDeliveries::Attempts,
                Expr::col(WebhookDeliveries::Attempts).add(1),
            )
            .and_where(Expr::col(WebhookDeliveries::TenantId).eq(due.tenant_id))
            .and_where(Expr::col(WebhookDeliveries::Id).eq(due.id))
            .to_owned();
        tx.execute(&lease).await?;
        tx.commit().await?;
        Ok(Some(due))
    }

    /// Delivers up to `max` due deliveries, [`PARALLEL`] at a time (one
    /// municipality's slow endpoint does not hold up the others'); returns
    /// how many were tried.
    pub async fn deliver_due(self: &Arc<Self>, max: usize) -> Result<usize, DbError> {
        let mut n = 0;
        let mut sending = tokio::task::JoinSet::new();
        let mut failed = None;
        while n < max {
            let Some(due) = self.take().await? else { break };
            n += 1;
            let me = self.clone();
            sending.spawn(async move { me.deliver(due).await });
            if sending.len() >= PARALLEL
                && let Some(done) = sending.join_next().await
            {
                failed = failed.or(finished(done));
            }
        }
        while let Some(done) = sending.join_next().await {
            failed = failed.or(finished(done));
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    async fn deliver(&self, due: Due) -> Result<(), DbError> {
        // The delivery names its tenant (a row, not a request).
        #[allow(clippy::disallowed_methods)]
        let tdb = TenantDb::new(self.db.clone(), TenantId(due.tenant_id));
        let attempt = self.send(&tdb, &due).await?;
        self.record(&tdb, &due, attempt).await
    }

    async fn send(&self, tdb: &TenantDb, due: &Due) -> Result<Attempt, DbError> {
        let refused = |why: &str| Attempt {
            status: None,
            error: Some(why.to_owned()),
            permanent: true,
            alert: true,
        };
        let stopped = |why: &str| Attempt {
            alert: false,
            ..refused(why)
        };
        let Some(sub) = subscription(tdb, due.subscription_id).await? else {
            return Ok(stopped("the subscription is gone"));
        };
        if sub.disabled_at.is_some() {
            return Ok(stopped("the subscription is disabled"));
        }
        if let Err(why) = check_url(&sub.url, self.allow_private) {
            return Ok(refused(why));
        }
        let id = due.id.to_string();
        // The time of sending, as receivers compare it with their clock.
        let timestamp = dimos_kernel::clock::wall_now().timestamp();
        let Some(signature) = sign(&sub.secret, &id, timestamp, &due.payload) else {
            return Ok(refused("the subscription's secret is not a whsec_ secret"));
        };
        let res = self
            .http
            .post(&sub.url)
            .header("content-type", "application/cloudevents+json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(due.payload.clone())
            .send()
            .await;
        Ok(match res {
            Ok(r) if r.status().is_success() => Attempt {
                status: Some(r.status().as_u16()),
                error: None,
                permanent: false,
                alert: true,
            },
            Ok(r) => Attempt {
                status: Some(r.status().as_u16()),
                error: Some(format!("the endpoint answered {}", r.status())),
                permanent: false,
                alert: true,
            },
            Err(e) => Attempt {
                status: None,
                error: Some(error_chain(&e).chars().take(500).collect()),
                permanent: false,
                alert: true,
            },
        })
    }

    async fn record(&self, tdb: &TenantDb, due: &Due, a: Attempt) -> Result<(), DbError> {
        let now = self.clock.now();
        let attempts = due.attempts + 1;
        let mut q = tdb.update(WebhookDeliveries::Table);
        q.and_where(Expr::col(WebhookDeliveries::Id).eq(due.id))
            // Still ours: a send that outlived its lease, taken again by
            // another worker, does not overwrite that one's outcome.
            .and_where(Expr::col(WebhookDeliveries::Status).eq("sending"))
            .and_where(Expr::col(WebhookDeliveries::Attempts).eq(attempts))
            .value(WebhookDeliveries::LeaseUntil, Option::<DateTime<Utc>>::None)
            .value(WebhookDeliveries::LastStatus, a.status.map(i32::from))
            .value(WebhookDeliveries::LastError, a.error.clone());
        let mut dead = false;
        match &a.error {
            None => {
                q.value(WebhookDeliveries::Status, "delivered")
                    .value(WebhookDeliveries::DeliveredAt, now);
            }
            Some(e) if a.permanent || attempts >= self.max_attempts => {
                dead = true;
                tracing::error!(delivery = %due.id, error = %e, attempts, "webhook undeliverable");
                q.value(WebhookDeliveries::Status, "dead");
            }
            Some(e) => {
                // 1, 2, 4 … minutes, at most an hour.
                let wait = Duration::minutes(Ord::min(1i64 << (attempts - 1).clamp(0, 6), 60));
                tracing::warn!(delivery = %due.id, error = %e, attempts, "webhook will be retried");
                q.value(WebhookDeliveries::Status, "pending")
                    .value(WebhookDeliveries::NextAttemptAt, now + wait);
            }
        }
        if tdb.execute(&q).await? == 0 {
            return Ok(());
        }
        if dead && a.alert {
            self.alert(tdb, due, a.error.as_deref().unwrap_or_default())
                .await?;
        }
        Ok(())
    }

    /// Tells the municipality's alert address that an endpoint did not
    /// take a delivery.
    async fn alert(&self, tdb: &TenantDb, due: &Due, error: &str) -> Result<(), DbError> {
        let url = subscription(tdb, due.subscription_id)
            .await?
            .map(|s| s.url)
            .unwrap_or_default();
        let text = format!(
            "Ένα webhook δεν παραδόθηκε / A webhook could not be delivered:\n\n{url}\n{} (case {}): {error}\n\n/admin/webhooks/{}\n",
            due.event_type, due.case_id, due.subscription_id
        );
        let now = self.clock.now();
        outbox::alert(
            tdb,
            now,
            &format!("webhook-dead:{}:{}", due.id, now.timestamp()),
            "Dimos: webhook που δεν παραδόθηκε / undelivered webhook",
            text,
        )
        .await
    }

    /// Removes deliveries past `webhooks.log_days` that are done with.
    pub async fn purge(&self) -> Result<u64, DbError> {
        let before = self.clock.now() - Duration::days(self.log_days);
        let q = Query::delete()
            .from_table(WebhookDeliveries::Table)
            .and_where(Expr::col(WebhookDeliveries::CreatedAt).lt(before))
            .and_where(Expr::col(WebhookDeliveries::Status).is_in(["delivered", "dead"]))
            .to_owned();
        self.db.execute(&q).await
    }
}

/// An endpoint the platform may post to: HTTPS, no credentials in it, and
/// (unless allowed) not an address inside a network.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), &'static str> {
    let u = url::Url::parse(url).map_err(|_| "not a URL")?;
    if u.scheme() != "https" {
        return Err("not an https:// URL");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("credentials in the URL");
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("no host"),
    };
    if let Some(ip) = ip
        && !allow_private
        && !is_public(ip)
    {
        return Err("an address inside a network");
    }
    Ok(())
}

/// An address on the internet: none of the special-purpose ranges
/// (loopback, private, link-local, shared/CGNAT, benchmarking, reserved,
/// multicast, documentation, unspecified), and for IPv6 the IPv4 address
/// it carries (mapped, compatible, NAT64, 6to4) checked as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let [a, b, c, _] = v.octets();
            !(v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_documentation()
                || v.is_multicast()
                || a == 0
                || (a == 100 && (b & 0xc0) == 64)
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b & 0xfe) == 18)
                || a >= 240)
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                std::net::Ipv4Addr::new(a, b, c, d)
            };
            // ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped).
            if s[..5].iter().all(|x| *x == 0) && (s[5] == 0 || s[5] == 0xffff) {
                return is_public(IpAddr::V4(embedded(s[6], s[7])));
            }
            // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48).
            if s[0] == 0x64 && s[1] == 0xff9b {
                return is_public(IpAddr::V4(embedded(s[6], s[7])));
            }
            // 6to4 (2002::/16) carries the IPv4 address after the prefix.
            if s[0] == 0x2002 {
                return is_public(IpAddr::V4(embedded(s[1], s[2])));
            }
            !(v.is_loopback()
                || v.is_unspecified()
                || v.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Resolves names to their public addresses only: an endpoint's name that
/// points inside the network (DNS rebinding included: the addresses
/// checked are the ones connected to) is not reached.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "a", 1, "{}"), None);
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }

    #[test]
    fn only_https_endpoints_on_the_internet() {
        assert_eq!(check_url("https://hooks.example.gr/dimos", false), Ok(()));
        for bad in [
            "http://hooks.example.gr/",
            "https://user:pw@hooks.example.gr/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://100.64.0.1/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:c0a8:0101::1]/",
            "https://[::a9fe:a9fe]/",
            "https://198.18.0.1/",
            "https://240.0.0.1/",
            "https://224.0.0.1/",
            "https://[ff02::1]/",
            "ftp://x/",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert_eq!(check_url("https://127.0.0.1:8443/", true), Ok(()));
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(is_public("2a00:1450::1".parse().unwrap()));
    }

    #[test]
    fn the_events_one_may_subscribe_to_are_the_ones_sent() {
        let sent: std::collections::BTreeSet<&str> = [
            "submitted",
            "registered",
            "task-completed",
            "waiting",
            "citizen-responded",
            "approved",
            "rejected",
            "withdrawn",
            "notify.progress",
            "notify.expiring",
            "document-signed",
        ]
        .into_iter()
        .filter_map(event_type)
        .collect();
        let offered: std::collections::BTreeSet<&str> = TYPES.iter().map(|t| t.0).collect();
        assert_eq!(sent, offered);
        for internal in ["comment", "task-claimed", "task-assigned", "stage"] {
            assert_eq!(event_type(internal), None);
        }
    }
}
