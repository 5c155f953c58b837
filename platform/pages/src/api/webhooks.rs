//! `/admin/webhooks`: the municipal admin subscribes HTTPS endpoints to
//! case events (each delivery signed with the subscription's secret, shown
//! once), reads each subscription's delivery log, sends a delivery again
//! and disables a subscription. Every change is in the audit trail.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError, Locale};
use dimos_notify::webhooks::{self, NewSubscription};
use dimos_web::access::{Authorized, ManageAccess};
use dimos_web::auth::{Posted, record_in};
use dimos_web::error::{AppError, Result, rendered_page};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use uuid::Uuid;

const MAX_URL: usize = 500;
const MAX_DESCRIPTION: usize = 200;
/// Deliveries a subscription's page lists.
const LOG: u64 = 100;

fn types(ui: &Ui) -> Vec<minijinja::Value> {
    webhooks::TYPES
        .iter()
        .map(|(id, el, en)| {
            context! { id => id, label => if ui.lang == Locale::En { en } else { el } }
        })
        .collect()
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

async fn render(
    ui: &Ui,
    tenant: &CurrentTenant,
    who: &Authorized<ManageAccess>,
    created: Option<minijinja::Value>,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response> {
    let subs: Vec<_> = webhooks::subscriptions(&tenant.db)
        .await?
        .into_iter()
        .map(|s| {
            context! {
                id => s.id.to_string(), url => s.url, description => s.description,
                events => s.events.0, created_at => when(s.created_at),
                disabled => s.disabled_at.is_some(),
            }
        })
        .collect();
    let html = ui.render(
        "admin/webhooks.html",
        context! {
            subs, created, types => types(ui), csrf => who.user.csrf.clone(),
            errors => ui.error_list(errors),
        },
    )?;
    let mut res = rendered_page(status, html);
    // A secret is on this page once: never from a cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub async fn page(
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
) -> Result<Response> {
    render(&ui, &tenant, &who, None, &[], StatusCode::OK).await
}

pub async fn create(
    ui: Ui,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let value = |k: &str| super::form_value(&form, k);
    let mut errors = vec![];
    let url = value("url");
    let allow_private = state.config().webhooks.allow_private_addresses;
    if url.is_empty() {
        errors.push(FieldError::new("url", "required"));
    } else if url.len() > MAX_URL {
        errors.push(FieldError::new("url", "too-long").with_detail(MAX_URL.to_string()));
    } else if let Err(why) = webhooks::check_url(&url, allow_private) {
        errors.push(FieldError::new("url", "invalid").with_detail(why));
    }
    let description = value("description");
    if description.chars().count() > MAX_DESCRIPTION {
        errors.push(
            FieldError::new("description", "too-long").with_detail(MAX_DESCRIPTION.to_string()),
        );
    }
    let mut events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    events.sort();
    events.dedup();
    if events.is_empty() {
        errors.push(FieldError::new("event", "required"));
    } else if events
        .iter()
        .any(|e| !webhooks::TYPES.iter().any(|t| t.0 == e))
    {
        // Not one the page offers: a doctored form.
        errors.push(FieldError::new("event", "invalid"));
    }
    if !errors.is_empty() {
        return render(
            &ui,
            &tenant,
            &who,
            None,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let now = state.workflow().now();
    let mut tx = tenant.db.begin().await?;
    let sub = webhooks::subscribe(
        &mut tx,
        NewSubscription {
            url,
            description,
            events,
        },
        &who.user.actor(),
        now,
    )
    .await?;
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "webhook_subscribed")
            .record(format!("webhook:{}", sub.id))
            .detail(serde_json::json!({ "url": sub.url, "events": sub.events.0 })),
    )
    .await?;
    tx.commit().await?;
    let created = context! { id => sub.id.to_string(), url => sub.url, secret => sub.secret };
    render(&ui, &tenant, &who, Some(created), &[], StatusCode::OK).await
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::try_parse(id).map_err(|_| AppError(Error::NotFound))
}

/// One subscription and its latest deliveries.
pub async fn log(
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let sub = webhooks::subscription(&tenant.db, id)
        .await?
        .ok_or(AppError(Error::NotFound))?;
    let deliveries: Vec<_> = webhooks::deliveries(&tenant.db, id, LOG)
        .await?
        .into_iter()
        .map(|d| {
            context! {
                id => d.id.to_string(), event_type => d.event_type,
                case_id => d.case_id.to_string(), seq => d.seq,
                status => d.status, attempts => d.attempts,
                next_attempt_at => when(d.next_attempt_at),
                last_status => d.last_status, last_error => d.last_error,
                created_at => when(d.created_at),
                delivered_at => d.delivered_at.map(when),
            }
        })
        .collect();
    let html = ui.render(
        "admin/webhook.html",
        context! {
            sub => context! {
                id => sub.id.to_string(), url => sub.url, description => sub.description,
                events => sub.events.0, created_at => when(sub.created_at),
                disabled => sub.disabled_at.is_some(),
            },
            deliveries, csrf => who.user.csrf.clone(),
        },
    )?;
    Ok(rendered_page(StatusCode::OK, html))
}

/// Sends one delivery again, with the same id.
pub async fn replay(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Path((id, delivery)): Path<(String, String)>,
    Posted(_): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let (id, delivery) = (parse_id(&id)?, parse_id(&delivery)?);
    if !webhooks::replay(&tenant.db, id, delivery, state.workflow().now()).await? {
        return Err(AppError(Error::NotFound));
    }
    dimos_web::auth::record(
        &state,
        &tenant,
        who.user
            .audit(peer, "webhook_replayed")
            .record(format!("webhook:{id}"))
            .detail(serde_json::json!({ "delivery": delivery })),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/webhooks/{id}?done=replayed")).into_response())
}

/// Stops a subscription.
pub async fn disable(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ManageAccess>,
    peer: Peer,
    Path(id): Path<String>,
    Posted(_): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let mut tx = tenant.db.begin().await?;
    if !webhooks::disable(&mut tx, id, state.workflow().now()).await? {
        return Err(AppError(Error::NotFound));
    }
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "webhook_disabled")
            .record(format!("webhook:{id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/webhooks").into_response())
}
