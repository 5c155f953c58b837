//! Notifications on the web: what the outbox needs to know about people and
//! municipalities (`WebDirectory`), a person's channels on their account
//! page, and the municipal admin's sender settings, dead letters and
//! message wording with a preview.

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_db::{Reader, TenantDb, TenantTx};
use dimos_identity::accounts::{self, AccountId};
use dimos_kernel::config::Config;
use dimos_kernel::{Error, FieldError, Locale, LocalizedText};
use dimos_notify::outbox::{self, Settings};
use dimos_notify::templates::{Template, Templates, VARIABLES};
use dimos_notify::{Directory, Recipient, TenantInfo};
use dimos_tenancy::Registry;
use dimos_web::access::{Authorized, ConfigureServices};
use dimos_web::auth::{CurrentUser, Posted, record_in};
use dimos_web::error::{AppError, Result, rendered_page};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

pub use dimos_web::contact::{Prefs, greek_mobile, prefs, remember_mobile, save_prefs};

#[derive(Iden, Clone, Copy)]
enum NotificationTemplates {
    Table,
    Event,
    Locale,
    Template,
    UpdatedBy,
    UpdatedAt,
}

pub async fn template_override(
    mut tdb: impl Reader,
    event: &str,
    lang: Locale,
) -> std::result::Result<Option<Template>, Error> {
    let mut q = tdb.select(NotificationTemplates::Table);
    q.column(NotificationTemplates::Template)
        .and_where(Expr::col(NotificationTemplates::Event).eq(event))
        .and_where(Expr::col(NotificationTemplates::Locale).eq(lang.code()));
    Ok(tdb
        .fetch_optional::<(sqlx::types::Json<Template>,)>(&q)
        .await?
        .map(|r| r.0.0))
}

/// The outbox's view of people and municipalities.
pub struct WebDirectory {
    pub registry: Arc<Registry>,
    pub config: Config,
    pub services: BTreeMap<String, LocalizedText>,
}

#[async_trait]
impl Directory for WebDirectory {
    async fn recipients(
        &self,
        tx: &mut TenantTx<'_>,
        accounts: &[Uuid],
    ) -> std::result::Result<BTreeMap<Uuid, Recipient>, Error> {
        let ids: Vec<AccountId> = accounts.iter().copied().map(AccountId).collect();
        let people = accounts::get_many(&mut *tx, &ids).await?;
        let mut chosen = dimos_web::contact::prefs_many(&mut *tx, accounts).await?;
        Ok(people
            .into_iter()
            .map(|a| {
                let p = chosen.remove(&a.id).unwrap_or_default();
                // The number the person chose for messages; else the one
                // their identity provider gave, when it is a Greek mobile.
                let mobile = p
                    .mobile
                    .clone()
                    .or_else(|| a.phone.as_deref().and_then(|n| greek_mobile(n).ok()));
                (
                    a.id,
                    Recipient {
                        email: a.email.clone(),
                        mobile,
                        email_on: p.email,
                        sms_on: p.sms,
                        locale: Locale::parse(&p.locale).unwrap_or(Locale::El),
                    },
                )
            })
            .collect())
    }

    async fn tenant(
        &self,
        tx: &mut TenantTx<'_>,
    ) -> std::result::Result<Option<TenantInfo>, Error> {
        let id = tx.tenant_id();
        let Some(t) = self.registry.tenants().into_iter().find(|t| t.id == id) else {
            return Ok(None);
        };
        let host = t.canonical_host(&self.config.base_domain);
        let sms_enabled = outbox::settings(&mut *tx)
            .await?
            .is_some_and(|s| s.sms_enabled);
        Ok(Some(TenantInfo {
            name: t.spec.name.clone(),
            base_url: self.config.public_origin(&host),
            sms_enabled,
        }))
    }

    async fn template(
        &self,
        tx: &mut TenantTx<'_>,
        event: &str,
        lang: Locale,
    ) -> std::result::Result<Option<Template>, Error> {
        template_override(&mut *tx, event, lang).await
    }

    fn service_name(&self, process: &str, lang: Locale) -> String {
        self.services
            .get(process)
            .map_or_else(|| process.to_owned(), |n| n.get(lang).to_owned())
    }
}

// ---- a person's channels (account page) ----

pub async fn prefs_context(
    state: &AppState,
    tdb: &TenantDb,
    user: &CurrentUser,
) -> std::result::Result<minijinja::Value, Error> {
    let p = prefs(tdb, user.account.id).await?;
    let staff = state
        .access()
        .allowed(
            tdb.tenant_id(),
            &dimos_web::access::subjects(user),
            <dimos_web::access::WorkTasks as dimos_web::access::Permission>::ID,
        )
        .await;
    Ok(context! {
        email => user.account.email.clone(),
        email_on => p.email, sms_on => p.sms, mobile => p.mobile, locale => p.locale,
        staff, digest => p.digest,
    })
}

#[derive(Deserialize)]
pub struct PrefsForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    sms: Option<String>,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    locale: String,
}

pub async fn save_prefs_handler(
    tenant: CurrentTenant,
    user: CurrentUser,
    peer: Peer,
    Posted(f): Posted<PrefsForm>,
) -> Result<Response> {
    let mobile = if f.mobile.trim().is_empty() {
        None
    } else {
        Some(greek_mobile(&f.mobile).map_err(|e| Error::Validation(vec![e]))?)
    };
    let p = Prefs {
        email: f.email.is_some(),
        sms: f.sms.is_some(),
        mobile,
        digest: f.digest.is_some(),
        locale: Locale::parse(&f.locale)
            .unwrap_or(Locale::El)
            .code()
            .to_owned(),
    };
    // The preferences and their audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    save_prefs(&mut tx, &tenant.db, user.account.id, &p).await?;
    record_in(
        &mut tx,
        &tenant,
        user.audit(peer, "notification_preferences_changed"),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?saved=notifications#notifications").into_response())
}

// ---- the municipal admin's page ----

#[derive(Deserialize, Default)]
pub struct AdminQuery {
    event: Option<String>,
    lang: Option<String>,
    saved: Option<String>,
}

fn sample_vars(ui: &Ui) -> BTreeMap<&'static str, String> {
    let municipality = ui
        .tenant
        .as_ref()
        .map(|t| t.name(ui.lang).to_owned())
        .unwrap_or_default();
    let mut v: BTreeMap<&'static str, String> =
        VARIABLES.iter().map(|k| (*k, format!("[{k}]"))).collect();
    v.insert("citizen", "Μαρία Παπαδοπούλου".into());
    v.insert("municipality", municipality);
    v.insert("protocol", "123/2026".into());
    v.insert("deadline", "31/12/2026".into());
    v
}

#[allow(clippy::too_many_arguments)]
async fn admin_render(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    event: &str,
    lang: Locale,
    draft: Option<Template>,
    errors: &[FieldError],
    saved: bool,
) -> Result<(StatusCode, Html<String>)> {
    let templates = state.templates_for_mail();
    let s = outbox::settings(&tenant.db).await?.unwrap_or_default();
    let own = template_override(&tenant.db, event, lang).await?;
    let current = draft
        .or(own.clone())
        .or_else(|| templates.get(event, lang).cloned())
        .unwrap_or_default();
    let preview = current.render(&sample_vars(ui)).ok();
    let dead: Vec<_> = outbox::dead(&tenant.db)
        .await?
        .into_iter()
        .map(|d| context! { at => crate::cases::datetime(d.created_at), channel => d.channel, recipient => d.recipient, event => d.event, error => d.last_error })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let html = ui.render(
        "admin/notifications.html",
        context! {
            settings => s, events => templates.events().collect::<Vec<_>>(), event, lang => lang.code(),
            template => current, customised => own.is_some(), preview, dead, saved,
            variables => VARIABLES, errors => ui.error_list(errors), csrf => user.csrf.clone(),
        },
    )?;
    Ok((status, html))
}

fn event_of(templates: &Templates, q: Option<&str>) -> String {
    q.filter(|e| templates.events().any(|x| x == *e))
        .map_or_else(|| "registered".to_owned(), str::to_owned)
}

pub async fn admin_page(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ConfigureServices>,
    Query(q): Query<AdminQuery>,
) -> Result<Html<String>> {
    let event = event_of(state.templates_for_mail(), q.event.as_deref());
    let lang = q
        .lang
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or(Locale::El);
    admin_render(
        &state,
        &ui,
        &tenant,
        &who.user,
        &event,
        lang,
        None,
        &[],
        q.saved.is_some(),
    )
    .await
    .map(|(_, h)| h)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    from_name: String,
    #[serde(default)]
    from_address: String,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    sms_enabled: Option<String>,
    #[serde(default)]
    sms_sender: String,
    #[serde(default)]
    alert_address: String,
}

/// Domains a municipality may send from through the shared relay: its own
/// domains as the operator set them (without a leading `www.`), and the
/// platform's. Anything else would be a spoofed sender; an address
/// elsewhere belongs in Reply-To.
fn sender_domains(tenant: &CurrentTenant, state: &AppState) -> Vec<String> {
    let spec = &tenant.tenant.spec;
    let mut v: Vec<String> = spec
        .primary_domain
        .iter()
        .chain(spec.aliases.iter())
        .map(|d| {
            let d = d.to_string().to_ascii_lowercase();
            d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
        })
        .collect();
    if let Some((_, d)) = state.config().mail.from_address.rsplit_once('@') {
        v.push(d.to_ascii_lowercase());
    }
    v.sort();
    v.dedup();
    v
}

fn email_ok(s: &str) -> bool {
    s.is_empty() || s.parse::<lettre_address::Address>().is_ok()
}

/// Email address syntax, as the mailer will check it.
mod lettre_address {
    pub type Address = dimos_notify::email::Address;
}

pub async fn save_settings(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Posted(f): Posted<SettingsForm>,
) -> Result<Response> {
    let mut errs = vec![];
    for (field, v) in [
        ("from_address", &f.from_address),
        ("reply_to", &f.reply_to),
        ("alert_address", &f.alert_address),
    ] {
        if !email_ok(v.trim()) {
            errs.push(FieldError::new(field, "email-invalid"));
        }
    }
    let from = f.from_address.trim();
    if !from.is_empty() && email_ok(from) {
        let allowed = sender_domains(&tenant, &state);
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        if !allowed.contains(&domain) {
            errs.push(
                FieldError::new("from_address", "sender-domain").with_detail(allowed.join(", ")),
            );
        }
    }
    let sender = f.sms_sender.trim();
    // Alphanumeric sender ids are at most 11 characters.
    if sender.chars().count() > 11
        || !sender
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ')
    {
        errs.push(FieldError::new("sms_sender", "invalid").with_detail("≤ 11 A–Z, 0–9"));
    }
    if f.from_name.chars().count() > 100 {
        errs.push(FieldError::new("from_name", "too-long").with_detail("100"));
    }
    if !errs.is_empty() {
        return Err(Error::Validation(errs).into());
    }
    let s = Settings {
        from_name: f.from_name.trim().to_owned(),
        from_address: f.from_address.trim().to_owned(),
        reply_to: f.reply_to.trim().to_owned(),
        sms_enabled: f.sms_enabled.is_some(),
        sms_sender: sender.to_owned(),
        alert_address: f.alert_address.trim().to_owned(),
    };
    let mut tx = tenant.db.begin().await?;
    outbox::save_settings(&mut tx, &tenant.db, &s, state.workflow().now()).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "notification_settings_changed")
            .detail(serde_json::to_value(&s).map_err(Error::internal)?),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/notifications?saved=settings").into_response())
}

#[derive(Deserialize)]
pub struct TemplateForm {
    event: String,
    lang: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    sms: String,
    /// "preview", "save" or "reset".
    #[serde(default)]
    action: String,
}

pub async fn save_template(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: Authorized<ConfigureServices>,
    peer: Peer,
    Posted(f): Posted<TemplateForm>,
) -> Result<Response> {
    let templates = state.templates_for_mail();
    if !templates.events().any(|e| e == f.event) {
        return Err(Error::NotFound.into());
    }
    let lang = Locale::parse(&f.lang).ok_or(Error::NotFound)?;
    if f.action == "reset" {
        let mut q = tenant.db.delete(NotificationTemplates::Table);
        q.and_where(Expr::col(NotificationTemplates::Event).eq(f.event.as_str()))
            .and_where(Expr::col(NotificationTemplates::Locale).eq(lang.code()));
        tenant.db.execute(&q).await?;
        return Ok(Redirect::to(&format!(
            "/admin/notifications?event={}&lang={}&saved=reset",
            f.event,
            lang.code()
        ))
        .into_response());
    }
    let t = Template {
        subject: f.subject,
        text: f.text,
        html: f.html,
        sms: f.sms,
    };
    let errs = t.check("template");
    if !errs.is_empty() || f.action == "preview" {
        let (s, h) = admin_render(
            &state,
            &ui,
            &tenant,
            &who.user,
            &f.event,
            lang,
            Some(t),
            &errs,
            false,
        )
        .await?;
        return Ok(rendered_page(s, h));
    }
    let mut q = tenant.db.insert(
        NotificationTemplates::Table,
        [
            NotificationTemplates::Event,
            NotificationTemplates::Locale,
            NotificationTemplates::Template,
            NotificationTemplates::UpdatedBy,
            NotificationTemplates::UpdatedAt,
        ],
    );
    q.values([
        f.event.clone().into(),
        lang.code().into(),
        serde_json::to_value(&t).map_err(Error::internal)?.into(),
        who.user.actor().into(),
        state.workflow().now().into(),
    ]);
    q.statement().on_conflict(
        OnConflict::columns([
            Alias::new(dimos_db::TENANT_ID),
            Alias::new("event"),
            Alias::new("locale"),
        ])
        .update_columns([
            NotificationTemplates::Template,
            NotificationTemplates::UpdatedBy,
            NotificationTemplates::UpdatedAt,
        ])
        .to_owned(),
    );
    // The template and its audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    tx.insert_rows(&q).await?;
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "notification_template_changed")
            .detail(json!({"event": f.event, "lang": lang.code()})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/admin/notifications?event={}&lang={}&saved=template",
        f.event,
        lang.code()
    ))
    .into_response())
}

/// Messages of a case, for the staff case file.
pub async fn of_case(
    tdb: &TenantDb,
    case: Uuid,
) -> std::result::Result<Vec<minijinja::Value>, AppError> {
    Ok(outbox::of_case(tdb, case)
        .await?
        .into_iter()
        .map(|m| {
            context! {
                event => m.event, channel => m.channel, recipient => m.recipient, status => m.status,
                attempts => m.attempts, error => m.last_error,
                at => crate::cases::datetime(m.sent_at.unwrap_or(m.created_at)),
            }
        })
        .collect())
}

// ---- the staff's morning digest ----

/// From 07:00 Greek time, each member of staff who works on tasks and did
/// not turn it off gets one email a day listing new (last 24 hours) and
/// overdue tasks in their agenda. Safe to run often and on every replica:
/// the message's idempotency key is the person and the day.
pub async fn send_digests(state: &AppState) -> std::result::Result<usize, Error> {
    use chrono::Timelike;
    let now = state.workflow().now();
    let local = dimos_kernel::clock::local_datetime(now);
    if local.hour() < 7 {
        return Ok(0);
    }
    let mut sent = 0;
    for tenant in state.registry().tenants() {
        if tenant.is_active() {
            sent += digests_of(state, &tenant, now, local).await?;
        }
    }
    Ok(sent)
}

#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
async fn digests_of(
    state: &AppState,
    tenant: &dimos_tenancy::Tenant,
    now: chrono::DateTime<chrono::Utc>,
    local: chrono::NaiveDateTime,
) -> std::result::Result<usize, Error> {
    use dimos_web::access::{Permission, WorkTasks};
    use dimos_workflow::query::{self, Queue};
    let tdb = state.tenant_db(tenant.id);
    // Staff are those granted a role or placed in a department.
    let mut tax_ids = std::collections::BTreeSet::new();
    for g in state.access().grants(&tdb).await? {
        if let Some(t) = g.subject.strip_prefix("taxid:") {
            tax_ids.insert(t.to_owned());
        }
    }
    for (_, members) in state.access().departments(&tdb).await? {
        tax_ids.extend(
            members
                .iter()
                .filter_map(|m| m.strip_prefix("taxid:").map(str::to_owned)),
        );
    }
    let host = tenant.canonical_host(&state.config().base_domain);
    let link = format!("{}/staff/agenda", state.config().public_origin(&host));
    let mut sent = 0;
    for tax_id in tax_ids {
        for account in accounts::by_tax_id(&tdb, &tax_id).await? {
            let Some(email) = account.email.clone().filter(|e| !e.is_empty()) else {
                continue;
            };
            let p = prefs(&tdb, account.id).await?;
            let subjects = vec![
                format!("account:{}", account.id),
                dimos_identity::access::tax_id_subject(&tax_id),
            ];
            if !p.digest
                || !p.email
                || !state
                    .access()
                    .allowed(tenant.id, &subjects, WorkTasks::ID)
                    .await
            {
                continue;
            }
            let staff = dimos_workflow::Staff {
                account: account.id,
                name: account.display_name(),
                roles: state.access().roles_of(tenant.id, &subjects).await,
                departments: state.access().departments_of(tenant.id, &subjects).await,
            };
            let lang = Locale::parse(&p.locale).unwrap_or(Locale::El);
            let mut lines = vec![];
            for queue in [Queue::Mine, Queue::Available] {
                for t in query::agenda(&tdb, &staff, queue, None, &query::Position::First, 1, 100)
                    .await?
                    .items
                {
                    let overdue = t.due_at.is_some_and(|d| d < now);
                    if !overdue && t.created_at <= now - chrono::Duration::hours(24) {
                        continue;
                    }
                    let def = state.workflow().snapshot(&tdb, t.snapshot_id).await?;
                    let protocol = t
                        .protocol_number
                        .zip(t.protocol_year)
                        .map(|(n, y)| format!("{n}/{y}"))
                        .unwrap_or_default();
                    let due = t.due_at.map(crate::cases::date).unwrap_or_default();
                    let flag = match (overdue, lang) {
                        (false, _) => "",
                        (true, Locale::El) => " (ΕΚΠΡΟΘΕΣΜΗ)",
                        (true, Locale::En) => " (OVERDUE)",
                    };
                    lines.push(format!(
                        "- {protocol} {} — {} {due}{flag}",
                        crate::cases::step_name(&def, &t.step, lang),
                        t.subject
                    ));
                }
            }
            if lines.is_empty() {
                continue;
            }
            let template = match template_override(&tdb, "digest", lang).await? {
                Some(t) => t,
                None => match state.templates_for_mail().get("digest", lang) {
                    Some(t) => t.clone(),
                    None => continue,
                },
            };
            let mut vars: BTreeMap<&str, String> =
                VARIABLES.iter().map(|v| (*v, String::new())).collect();
            vars.insert("citizen", account.display_name());
            vars.insert("municipality", tenant.name(lang).to_owned());
            vars.insert("link", link.clone());
            vars.insert("count", lines.len().to_string());
            vars.insert("tasks", lines.join("\n"));
            let r = template
                .render(&vars)
                .map_err(|e| Error::internal(format!("digest template: {e}")))?;
            let mut tx = tdb.begin().await?;
            outbox::enqueue(
                &mut tx,
                now,
                &outbox::NewNotification {
                    idempotency_key: format!("digest:{}:{}", account.id, local.date()),
                    case_id: None,
                    account_id: Some(account.id),
                    event: "digest".into(),
                    channel: "email",
                    recipient: email,
                    locale: lang.code().to_owned(),
                    subject: Some(r.subject),
                    text: r.text,
                    html: Some(r.html),
                },
            )
            .await?;
            tx.commit().await?;
            sent += 1;
        }
    }
    Ok(sent)
}
