//! Paying what a case owes (see `dimos_payments`): the citizen's pay
//! button on the case page, the return from the provider's checkout, the
//! provider's signed notice, and the reconciliation that asks the provider
//! about checkouts nobody told us about. Each of the last three settles
//! through [`settle`]: once, whichever comes first, with the case's history
//! entry in the same transaction.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Duration;
use dimos_db::TenantDb;
use dimos_kernel::Error;
use dimos_payments::{Attempt, Checkout, Outcome, Payment, Settled};
use dimos_web::auth::{CurrentUser, Posted};
use dimos_web::error::Result;
use dimos_web::extract::CurrentTenant;
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::CaseId;
use serde::Deserialize;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/payments/{id}/pay", post(pay))
        .route("/payments/attempts/{id}/return", get(back))
        .route("/payments/notify/{provider}", post(notify))
}

/// The pay form holds only its CSRF token.
#[derive(Deserialize)]
struct PayForm {}

/// A payment of one of the person's own cases (else not found).
async fn own_payment(tenant: &CurrentTenant, user: &CurrentUser, id: Uuid) -> Result<Payment> {
    let Some(p) = dimos_payments::payment(&tenant.db, id).await? else {
        return Err(Error::NotFound.into());
    };
    match dimos_workflow::query::case(&tenant.db, CaseId(p.case_id)).await? {
        Some(c) if c.applicant == user.acting_for().0 => Ok(p),
        _ => Err(Error::NotFound.into()),
    }
}

async fn pay(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Posted(_): Posted<PayForm>,
) -> Result<Response> {
    let p = own_payment(&tenant, &user, id).await?;
    let case_page = format!("/cases/{}", p.case_id);
    let closed = dimos_workflow::query::case(&tenant.db, CaseId(p.case_id))
        .await?
        .is_some_and(|c| c.status == "closed");
    if closed && p.status == "due" {
        return Err(Error::Conflict("payment-case-closed").into());
    }
    if p.status != "due" {
        // Paid meanwhile (another tab), or the request withdrawn.
        return Ok(Redirect::to(&case_page).into_response());
    }
    let Some(provider) = state.payments() else {
        return Err(Error::Conflict("payments-offline").into());
    };
    let now = state.workflow().now();
    let attempt = dimos_payments::begin_attempt(&tenant.db, p.id, provider.name(), now).await?;
    let origin = state
        .config()
        .public_origin(&tenant.tenant.canonical_host(state.registry().base_domain()));
    let checkout = Checkout {
        attempt,
        amount_cents: p.amount_cents,
        description: p.description.clone(),
        merchant: tenant.tenant.name(ui.lang).to_owned(),
        return_url: format!("{origin}/payments/attempts/{attempt}/return"),
        notify_url: format!("{origin}/payments/notify/{}", provider.name()),
    };
    match provider.create(&checkout).await {
        Ok(created) => {
            dimos_payments::opened(&tenant.db, attempt, &created.provider_ref).await?;
            Ok(Redirect::to(&created.redirect_url).into_response())
        }
        Err(e) => {
            tracing::warn!(error = %e, "the payment provider did not open a checkout");
            // The attempt without a checkout is given up by reconciliation.
            Err(Error::Unavailable.into())
        }
    }
}

/// The person is back from the checkout: we ask the provider (the notice
/// may not have come yet, or at all) and show the case.
async fn back(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let Some(a) = dimos_payments::attempt(&tenant.db, id).await? else {
        return Err(Error::NotFound.into());
    };
    let p = own_payment(&tenant, &user, a.payment_id).await?;
    // Asked also about one we gave up on: the person may have paid late.
    if (a.status == "started" || a.status == "expired")
        && let (Some(provider), Some(r)) = (state.payments(), a.provider_ref.as_deref())
        && provider.name() == a.provider
    {
        match provider.status(r).await {
            Ok(st) => {
                settle(&state, &tenant.db, &a, st.outcome, st.amount_cents).await?;
            }
            // The poll will know later; the page says it is being checked.
            Err(e) => tracing::warn!(error = %e, "payment status unknown on return"),
        }
    }
    let done = match dimos_payments::attempt(&tenant.db, id)
        .await?
        .map(|a| a.status)
    {
        Some(s) if s == "paid" => "paid",
        Some(s) if s == "started" => "payment-pending",
        _ => "unpaid",
    };
    Ok(Redirect::to(&format!("/cases/{}?done={done}", p.case_id)).into_response())
}

/// The provider's signed notice of a checkout's outcome.
async fn notify(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let provider = match state.payments() {
        Some(p) if p.name() == name => p,
        _ => return Err(Error::NotFound.into()),
    };
    let notice = provider
        .notice(&headers, &body, state.workflow().now())
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let Some(a) =
        dimos_payments::attempt_by_ref(&tenant.db, provider.name(), &notice.provider_ref).await?
    else {
        return Err(Error::NotFound.into());
    };
    settle(&state, &tenant.db, &a, notice.outcome, notice.amount_cents).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Settles an attempt and, when that pays the payment, writes the case's
/// history entry in the same transaction.
pub async fn settle(
    state: &AppState,
    tdb: &TenantDb,
    a: &Attempt,
    outcome: Outcome,
    amount_cents: Option<i64>,
) -> std::result::Result<Settled, Error> {
    if outcome == Outcome::Open {
        return Ok(Settled::Unchanged);
    }
    let now = state.workflow().now();
    let mut tx = tdb.begin().await?;
    // The case first, as a withdrawal takes it before the payment: the two
    // never wait on each other.
    let Some(owed) = dimos_payments::payment(&mut tx, a.payment_id).await? else {
        return Err(Error::NotFound);
    };
    state
        .workflow()
        .lock_case(&mut tx, tdb, CaseId(owed.case_id))
        .await?;
    let settled = dimos_payments::settle(&mut tx, a, outcome, amount_cents, now).await?;
    // Money to give back goes in the staff's history (and the log).
    let entry = match &settled {
        Settled::Paid(p) => Some((p, "payment-paid", true)),
        Settled::PaidTwice(p) => {
            tracing::warn!(payment = %p.id, attempt = %a.id, "a payment was paid twice: refund the second");
            Some((p, "payment-paid-twice", false))
        }
        Settled::PaidAfterCancel(p) => {
            tracing::warn!(payment = %p.id, attempt = %a.id, "a payment was paid after its case was withdrawn: refund it");
            Some((p, "payment-paid-after-withdrawal", false))
        }
        Settled::WrongAmount(p) => {
            tracing::warn!(payment = %p.id, attempt = %a.id, taken = ?amount_cents, "the provider took another amount than was owed: not recorded as paid");
            Some((p, "payment-wrong-amount", false))
        }
        Settled::Unchanged | Settled::NotPaid => None,
    };
    if let Some((p, kind, public)) = entry {
        state
            .workflow()
            .record_event_tx(
                &mut tx,
                tdb,
                CaseId(p.case_id),
                kind,
                &dimos_workflow::Actor::system(),
                public,
                serde_json::json!({"amount": dimos_payments::euros(p.amount_cents)}),
            )
            .await?;
    }
    tx.commit().await?;
    Ok(settled)
}

/// Asks the provider about every checkout left open longer than
/// `payments.poll_after_secs`, in every municipality; gives up on those
/// older than `payments.give_up_after_hours` (a paid notice that comes
/// later still counts). Safe on every replica: settling is conditional.
pub async fn reconcile(state: &AppState) -> std::result::Result<usize, Error> {
    let Some(provider) = state.payments() else {
        return Ok(0);
    };
    let cfg = &state.config().payments;
    let now = state.workflow().now();
    // Bounded, so that no setting overflows a date.
    let poll_after =
        Duration::seconds(i64::try_from(cfg.poll_after_secs.min(86_400)).unwrap_or(86_400));
    let give_up =
        Duration::hours(i64::try_from(cfg.give_up_after_hours.min(24 * 365)).unwrap_or(24));
    let mut settled = 0;
    for t in state.registry().tenants() {
        // Work over every municipality, as the other sweeps do; one that
        // fails is logged and the others go on.
        #[allow(clippy::disallowed_methods)]
        let tdb = state.tenant_db(t.id);
        match reconcile_tenant(state, provider.as_ref(), &tdb, now, poll_after, give_up).await {
            Ok(n) => settled += n,
            Err(e) => {
                tracing::warn!(tenant = %t.slug(), error = %e, "payment reconciliation failed");
            }
        }
    }
    Ok(settled)
}

async fn reconcile_tenant(
    state: &AppState,
    provider: &dyn dimos_payments::Provider,
    tdb: &TenantDb,
    now: chrono::DateTime<chrono::Utc>,
    poll_after: Duration,
    give_up: Duration,
) -> std::result::Result<usize, Error> {
    let mut settled = 0;
    for a in dimos_payments::open_attempts(tdb, now - poll_after, 100).await? {
        let (outcome, amount) = match a.provider_ref.as_deref() {
            Some(r) if a.provider == provider.name() => match provider.status(r).await {
                Ok(st) => (st.outcome, st.amount_cents),
                Err(e) => {
                    tracing::warn!(error = %e, "payment status unknown");
                    continue;
                }
            },
            // No checkout was opened (the provider failed to answer in
            // time), or another provider's: nothing to ask; given up.
            _ => {
                settled += usize::from(expire(tdb, &a, now).await?);
                continue;
            }
        };
        if outcome == Outcome::Open {
            if a.created_at < now - give_up {
                settled += usize::from(expire(tdb, &a, now).await?);
            }
            continue;
        }
        if settle(state, tdb, &a, outcome, amount).await? != Settled::Unchanged {
            settled += 1;
        }
    }
    Ok(settled)
}

async fn expire(
    tdb: &TenantDb,
    a: &Attempt,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<bool, Error> {
    let mut tx = tdb.begin().await?;
    let done = dimos_payments::expire(&mut tx, a, now).await?;
    tx.commit().await?;
    Ok(done)
}

/// A withdrawn case owes nothing more: its due payments are cancelled in
/// the transaction of the withdrawal, whoever withdrew it (the citizen's
/// page, the API).
pub struct PaymentsSink;

#[async_trait::async_trait]
impl dimos_workflow::EventSink for PaymentsSink {
    async fn on_event(
        &self,
        tx: &mut dimos_db::TenantTx<'_>,
        event: &dimos_workflow::Event,
    ) -> std::result::Result<(), Error> {
        if event.kind == "withdrawn" {
            dimos_payments::cancel_due(tx, event.case_id.0).await?;
        }
        Ok(())
    }
}
