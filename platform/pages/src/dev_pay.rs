//! HTTP face of the development bank (`dimos_payments::dev`), on the base
//! domain at `/dev-pay`. Mounted only when it is the payment provider.
//! Its API answers the platform's client as an acquirer's would; its
//! checkout page is where the person "pays".

use crate::form::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dimos_kernel::Error;
use dimos_payments::dev::{self, CheckoutState, NoticeBody, OpenCheckout};
use dimos_web::error::{AppError, Rendered, Result};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;
use std::time::Duration;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev-pay/api/checkouts", post(open))
        .route("/dev-pay/api/checkouts/{id}", get(status))
        .route("/dev-pay/checkout/{id}", get(page).post(finish))
}

/// Answers of the bank's API, kept as they are.
fn api(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let mut res = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response();
    res.extensions_mut().insert(Rendered);
    res
}

fn merchant(headers: &HeaderMap) -> Result<()> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented == Some(dev::MERCHANT_KEY) {
        Ok(())
    } else {
        Err(AppError(Error::InvalidToken))
    }
}

/// One of this deployment's municipalities, at the one path each address
/// may have (`/payments/notify/dev`, `/payments/attempts/{id}/return`):
/// the bank sends people and notices nowhere else.
fn ours(state: &AppState, url: &str, notice: bool) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let path_ok = if notice {
        u.path() == "/payments/notify/dev"
    } else {
        u.path()
            .strip_prefix("/payments/attempts/")
            .and_then(|rest| rest.strip_suffix("/return"))
            .is_some_and(|id| Uuid::try_parse(id).is_ok())
    };
    path_ok
        && matches!(
            crate::dev_idp::own_host(state, &u),
            Some(dimos_tenancy::HostMatch::Tenant(_))
        )
}

/// Past its lifetime, an open checkout can no longer be paid.
fn expired(state: &AppState, s: &dev::Session) -> bool {
    s.status == "open"
        && state.workflow().now() - s.created_at
            > chrono::Duration::minutes(dev::CHECKOUT_LIFETIME_MINUTES)
}

async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Json(c): axum::Json<OpenCheckout>,
) -> Result<Response> {
    merchant(&headers)?;
    if !(1..=100_000_000).contains(&c.amount_cents) {
        return Err(Error::invalid("amount_cents", "out-of-range").into());
    }
    if !ours(&state, &c.return_url, false) || !ours(&state, &c.notify_url, true) {
        return Err(Error::BadRequest("return_url and notify_url must be ours".into()).into());
    }
    if c.description.chars().count() > 500 || c.merchant.chars().count() > 200 {
        return Err(Error::BadRequest("description or merchant too long".into()).into());
    }
    #[allow(clippy::disallowed_methods)] // the bank's own ledger: not a municipality's data
    let db = state.db();
    let id = dev::open(db, &c, state.workflow().now()).await?;
    let base = state.config().public_origin(&state.config().base_domain);
    Ok(api(
        StatusCode::CREATED,
        &CheckoutState {
            id,
            status: "open".into(),
            amount_cents: c.amount_cents,
            url: Some(format!("{base}/dev-pay/checkout/{id}")),
        },
    ))
}

async fn session(state: &AppState, id: Uuid) -> Result<dev::Session> {
    #[allow(clippy::disallowed_methods)] // the bank's own ledger
    let db = state.db();
    dev::session(db, id)
        .await?
        .ok_or_else(|| AppError(Error::NotFound))
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    merchant(&headers)?;
    let s = session(&state, id).await?;
    let status = if expired(&state, &s) {
        "cancelled".to_owned()
    } else {
        s.status
    };
    Ok(api(
        StatusCode::OK,
        &CheckoutState {
            id: s.id,
            status,
            amount_cents: s.amount_cents,
            url: None,
        },
    ))
}

async fn page(ui: Ui, State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Response> {
    let s = session(&state, id).await?;
    let html = ui.render(
        "dev_pay.html",
        context! {
            id => s.id,
            merchant => s.merchant,
            description => s.description,
            amount => dimos_payments::euros(s.amount_cents),
            status => if expired(&state, &s) { "cancelled".to_owned() } else { s.status.clone() },
            return_url => s.return_url.clone(),
        },
    )?;
    // The form's answer sends the person back to the municipality.
    let origin = url::Url::parse(&s.return_url)
        .map(|u| u.origin().ascii_serialization())
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let csp = dimos_web::state::content_security_policy(&[origin]);
    Ok(([(header::CONTENT_SECURITY_POLICY, csp)], html).into_response())
}

#[derive(Deserialize)]
struct FinishForm {
    action: String,
    /// Demo and tests: the notice is "lost" (not sent), so that the poll
    /// is seen to catch the payment.
    lose_notice: Option<String>,
}

async fn finish(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Form(f): Form<FinishForm>,
) -> Result<Response> {
    let status = match f.action.as_str() {
        "pay" => "paid",
        "decline" => "declined",
        "cancel" => "cancelled",
        _ => return Err(Error::invalid("action", "invalid").into()),
    };
    let s = session(&state, id).await?;
    // Too late to pay: closed as cancelled (the platform gave up on it, or
    // will).
    let status = if expired(&state, &s) {
        "cancelled"
    } else {
        status
    };
    #[allow(clippy::disallowed_methods)] // the bank's own ledger
    let db = state.db();
    if dev::finish(db, id, status).await? && f.lose_notice.is_none() {
        notify(&state, &s, status).await;
    }
    Ok(Redirect::to(&s.return_url).into_response())
}

/// Tells the municipality, as an acquirer does: signed, once, and no
/// retry (the platform's poll is the backstop).
async fn notify(state: &AppState, s: &dev::Session, status: &str) {
    let body = match serde_json::to_vec(&NoticeBody {
        checkout: s.id,
        status: status.to_owned(),
        amount_cents: (status == "paid").then_some(s.amount_cents),
    }) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "notice not written");
            return;
        }
    };
    let id = Uuid::now_v7().to_string();
    let ts = state.workflow().now().timestamp();
    let Some(signature) = dev::sign(&id, ts, &body) else {
        return;
    };
    let sent = match dev::http_client(Duration::from_secs(10)) {
        Ok(http) => http
            .post(&s.notify_url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("answered {}", r.status()))
                }
            }),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, checkout = %s.id, "the development bank's notice was not taken");
    }
}
