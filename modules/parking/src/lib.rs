//! Parking space for a person with a disability (LGAF process Δ5.1). The
//! citizen applies online with a verified account; the process (in
//! `workflows/permit.toml`) takes the case through the technical service,
//! the council secretariat, the mayor and the council; the technical
//! service issues the card from this module's page, which writes the
//! permit register. See README.md.

pub mod api;
pub mod expiry;
pub mod permit;
pub mod register;
pub mod steps;
pub mod values;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate};
use dimos_db::migrate::{TenantTable, account, row_of};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::auth::{Button, Posted, Verified};
use dimos_web::extract::Peer;
use dimos_web::module::{ConfigSchema, SettingsPage, StaffPage};
use dimos_web::people::StaffMember;
use dimos_web::{AppState, CurrentTenant, ModuleConfig, ModuleDescriptor, Result, Ui};
use dimos_workflow::query;
use dimos_workflow::{CaseId, NewCase, TaskId};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;
use values::RawApplication;

pub const ID: &str = "parking";
pub const PROCESS: &str = "parking.permit";

dimos_web::permissions! {
    /// Issue parking cards and permits.
    IssuePermits = "parking.issue", label "parking-permission-issue",
        granted to ["technical-employee"];
    /// Read the register of parking permits.
    ReadRegister = "parking.register", label "parking-permission-register",
        granted to ["technical-employee", "department-head", "municipal-admin"];
    /// Renew and revoke permits in the register.
    ManageRegister = "parking.manage", label "parking-permission-manage",
        granted to ["department-head"];
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ParkingConfig {
    /// Years a permit is valid from its issue (1–10).
    pub validity_years: u32,
    /// The holder is reminded this many days before expiry (7–180).
    pub expiry_notice_days: u32,
}

impl Default for ParkingConfig {
    fn default() -> Self {
        ParkingConfig {
            validity_years: 3,
            expiry_notice_days: 60,
        }
    }
}

impl ModuleConfig for ParkingConfig {
    fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        if !(1..=10).contains(&self.validity_years) {
            e.push(FieldError::new("validity_years", "out-of-range").with_detail("1–10"));
        }
        if !(7..=180).contains(&self.expiry_notice_days) {
            e.push(FieldError::new("expiry_notice_days", "out-of-range").with_detail("7–180"));
        }
        e
    }
}

/// The tenant-owned tables this module's migrations create.
const TENANT_TABLES: &[TenantTable] = &[TenantTable::personal("parking_permits")
    .about(&[row_of("case_id", "cases"), account("holder")])];

pub fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        routes,
        tenant_tables: TENANT_TABLES,
        permissions: PERMISSIONS,
        default_grants: DEFAULT_GRANTS,
        config: ConfigSchema::of::<ParkingConfig>(),
        settings_page: SettingsPage::Own("/parking/settings"),
        jobs,
        staff_pages: &[
            StaffPage {
                path: "/parking/register",
                label_key: "parking-register-title",
                permission: "parking.register",
            },
            StaffPage {
                path: "/parking/settings",
                label_key: "parking-settings-title",
                permission: "services.configure",
            },
        ],
        api: dimos_web::module::ModuleApi {
            routes: api::routes,
            doc: api::doc,
        },
        ..dimos_web::module_files!()
    }
}

fn jobs(engine: &std::sync::Arc<dimos_workflow::Engine>) -> Vec<dimos_web::module::ModuleJob> {
    vec![(
        expiry::KIND,
        std::sync::Arc::new(expiry::ExpiryNotice {
            engine: engine.clone(),
        }),
    )]
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/apply", get(steps::start).post(apply))
        .route("/apply/check", get(steps::check))
        .route("/apply/{step}", get(steps::page).post(steps::answer))
        .route("/cases/{id}/issue", get(issue_form).post(issue))
        .route("/register", get(register_page))
        .route("/register/{id}/renew", post(renew))
        .route("/register/{id}/revoke", post(revoke))
        .route("/settings", get(settings_page).post(save_settings))
        .route("/permits", get(my_permits))
        .route("/permits/{id}/renew", post(request_renewal))
}

/// What applies now: the municipal admin's settings over the defaults.
async fn config(t: &CurrentTenant) -> Result<ParkingConfig> {
    Ok(dimos_web::settings::effective(t, ID).await?)
}

/// The service page: what it is, who may apply, which documents, how long.
async fn index(State(state): State<AppState>, ui: Ui, t: CurrentTenant) -> Result<Html<String>> {
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    ui.render(
        "parking/index.html",
        context! {
            lead => def.lead_time_days,
            documents => def.documents.iter().map(|d| context! { label => d.label.get(ui.lang), required => d.required }).collect::<Vec<_>>(),
            validity => config(&t).await?.validity_years,
            process_svg => dimos_web::diagram::for_service(&state, &t.db, PROCESS, ui.lang).await?,
        },
    )
}

const FIELDS: [&str; 7] = [
    "full_name",
    "email",
    "mobile",
    "location",
    "plate",
    "delivery",
    "delivery_address",
];

/// The check page: the answers, each with a link to change it, and the
/// documents to attach; its form files the case.
#[allow(clippy::too_many_arguments)] // the page's parts, each from elsewhere
pub(crate) async fn render_check(
    ui: &Ui,
    documents: &[dimos_workflow::definition::DocumentSpec],
    csrf: &str,
    submission: Uuid,
    values: &RawApplication,
    kept: &[dimos_web::uploads::Kept],
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response> {
    // Every field has an entry (templates treat a missing key as an error).
    let mut messages: BTreeMap<String, String> = FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), String::new()))
        .collect();
    for d in documents {
        messages.insert(format!("doc-{}", d.id), String::new());
    }
    messages.extend(ui.error_map(errors));
    let html = ui.render(
        "parking/apply.html",
        context! {
            csrf, submission, v => values, errors => messages,
            // Every kind has an entry (templates treat a missing key as an error).
            kept => documents.iter().map(|d| (d.id.clone(), kept.iter().find(|k| k.kind == d.id).map(|k| context! { id => k.id, name => k.name.clone() }))).collect::<BTreeMap<_, _>>(),
            steps => steps::STEPS.len() + 1,
            change => FIELDS.iter().map(|f| (*f, steps::change_href(f))).collect::<BTreeMap<_, _>>(),
            documents => documents.iter().map(|d| context! { id => d.id.clone(), label => d.label.get(ui.lang), required => d.required }).collect::<Vec<_>>(),
            max_mb => ui.state.config().storage.max_upload_bytes / 1_048_576,
            summary => errors.iter().map(|e| context! {
                href => if e.field.starts_with("doc-") { format!("#f-{}", e.field) } else { steps::change_href(&e.field) },
                message => ui.error_message(e),
            }).collect::<Vec<_>>(),
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

/// Files the application as a case, with the documents chosen in the same
/// form, and shows it with its protocol number. Documents can also be
/// added on the case page later.
async fn apply(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    Verified(user): Verified,
    drafts: dimos_web::drafts::Drafts,
    form: axum::extract::Multipart,
) -> Result<Response> {
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    let kinds: Vec<&str> = def.documents.iter().map(|d| d.id.as_str()).collect();
    let form = dimos_web::uploads::receive_form(&state, &user, form, &kinds).await?;
    let mut raw = RawApplication::default();
    for (name, value) in &form.fields {
        let value = value.clone();
        match name.as_str() {
            "full_name" => raw.full_name = value,
            "email" => raw.email = value,
            "mobile" => raw.mobile = value,
            "location" => raw.location = value,
            "plate" => raw.plate = value,
            "delivery" => raw.delivery = value,
            "delivery_address" => raw.delivery_address = value,
            _ => {}
        }
    }
    let actor = dimos_web::people::citizen_actor(&user);
    let kept = form.kept(&t, &actor).await?;
    let mut form = form;
    let mut file_errors = std::mem::take(&mut form.errors);
    // The form's idempotency key: a retry after a lost answer files nothing
    // new. A form without one (an old page) is shown again, never filed.
    let key = form.submission_key();
    if key.is_none() {
        file_errors.push(FieldError::new("_submission", "form-expired"));
    }
    let a = match raw.validate() {
        Ok(a) if file_errors.is_empty() => a,
        result => {
            let mut errors = result.err().unwrap_or_default();
            errors.extend(file_errors);
            // The files that were fine wait for the next try.
            let kept = form.keep_files(&state, &t, &actor, kept).await?;
            return render_check(
                &ui,
                &def.documents,
                &user.csrf,
                key.unwrap_or_else(Uuid::now_v7),
                &raw,
                &kept,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    // The case, its documents, the mobile for its messages (unless the
    // citizen chose another) and its protocol number: one transaction.
    let started = dimos_web::uploads::file_and_commit(
        &state,
        &t,
        &actor,
        dimos_web::uploads::Submission {
            new: new_case(
                &a,
                user.acting_for().0,
                user.assisting.as_ref().map(|x| x.name.clone()),
                user.filed_by(),
            ),
            key,
            files: form.files,
            kept,
            mobile: Some(a.mobile.as_str().to_owned()),
        },
    )
    .await?;
    drafts.clear(steps::DRAFT).await?;
    Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
}

/// The case an application files, on the web or through the API: the
/// applicant is named as the form gives the name, unless an officer files
/// it for someone (`assisted`).
pub(crate) fn new_case(
    a: &values::Application,
    applicant: Uuid,
    assisted: Option<String>,
    filed_by: Option<Uuid>,
) -> NewCase {
    let mut data = Map::new();
    data.insert("full_name".into(), a.full_name.clone().into());
    data.insert("email".into(), a.email.clone().into());
    data.insert("mobile".into(), a.mobile.as_str().into());
    data.insert("location".into(), a.location.clone().into());
    data.insert("plate".into(), a.plate.as_str().into());
    data.insert("delivery".into(), a.delivery.id().into());
    if let Some(addr) = &a.delivery_address {
        data.insert("delivery_address".into(), addr.clone().into());
    }
    NewCase {
        process: PROCESS.into(),
        applicant,
        applicant_name: assisted.unwrap_or_else(|| a.full_name.clone()),
        filed_by,
        subject: format!("{} — {}", a.location, a.plate.as_str()),
        data,
        // Counted by file_case from the files.
        attachments: 0,
    }
}

/// The case's open `issue` task, which must be the caller's.
async fn issue_task(
    t: &CurrentTenant,
    who: &StaffMember,
    case: Uuid,
) -> Result<(query::CaseRow, query::TaskRow)> {
    let c = query::case(&t.db, CaseId(case))
        .await?
        .filter(|c| c.process == PROCESS)
        .ok_or(Error::NotFound)?;
    let task = query::tasks_of_case(&t.db, CaseId(case))
        .await?
        .into_iter()
        .find(|x| x.status == "open" && x.step == "issue")
        .ok_or(Error::NotFound)?;
    if task.assignee != Some(who.staff.account) {
        return Err(Error::Conflict("task-not-yours").into());
    }
    Ok((c, task))
}

fn data_str(c: &query::CaseRow, key: &str) -> String {
    c.data
        .0
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// `ΚΣ-<protocol number>/<year>`: unique, since protocol numbers are.
fn card_number(c: &query::CaseRow) -> String {
    match (c.protocol_number, c.protocol_year) {
        (Some(n), Some(y)) => format!("ΚΣ-{n}/{y}"),
        _ => format!("ΚΣ-{}", c.id.simple()),
    }
}

/// `validity_years` after `from`; 29 February falls back to 28.
pub fn valid_until(from: NaiveDate, years: u32) -> NaiveDate {
    let y = from.year() + i32::try_from(years).unwrap_or(1);
    from.with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, from.month(), 28))
        .unwrap_or(from)
}

async fn issue_form(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<IssuePermits>,
    who: StaffMember,
    Path(id): Path<Uuid>,
) -> Result<Html<String>> {
    let (c, _) = issue_task(&t, &who, id).await?;
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    ui.render(
        "parking/issue.html",
        context! {
            case_id => c.id,
            holder => c.applicant_name.clone(),
            location => data_str(&c, "location"),
            plate => data_str(&c, "plate"),
            decision => format!("{} / {}", data_str(&c, "decision_number"), dimos_kernel::clock::display_date(&data_str(&c, "decision_date"))),
            card => card_number(&c),
            until => valid_until(today, config(&t).await?.validity_years).format("%d/%m/%Y").to_string(),
            can_sign => can_sign(&state, &t, &who).await?,
            csrf => who.user.csrf.clone(),
        },
    )
}

/// Whether this person can sign the permit now: the signing permission and
/// a valid certificate.
async fn can_sign(state: &AppState, t: &CurrentTenant, who: &StaffMember) -> Result<bool> {
    let may = state
        .access()
        .allowed(
            t.tenant.id,
            &dimos_web::access::subjects(&who.user),
            <dimos_web::access::SignDocuments as dimos_web::access::Permission>::ID,
        )
        .await;
    let now = state.signing().now();
    Ok(may
        && state
            .signing()
            .current(&t.db, who.staff.account)
            .await?
            .is_some_and(|c| c.status(now) == "valid"))
}

/// Issues the card: writes the register, makes the permit PDF and signs it
/// in the case file, and completes the `issue` task with the card's number
/// and validity in the case data.
async fn issue(
    State(state): State<AppState>,
    t: CurrentTenant,
    _may: Authorized<IssuePermits>,
    who: StaffMember,
    peer: Peer,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    let (c, task) = issue_task(&t, &who, id).await?;
    if !can_sign(&state, &t, &who).await? {
        return Err(Error::Conflict("no-signing-certificate").into());
    }
    let now = state.workflow().now();
    let until = valid_until(
        dimos_kernel::clock::local_date(now),
        config(&t).await?.validity_years,
    );
    let permit = register::Permit {
        id: Uuid::now_v7(),
        case_id: c.id,
        holder: c.applicant,
        holder_name: c.applicant_name.clone(),
        location: data_str(&c, "location"),
        plate: data_str(&c, "plate"),
        card_number: card_number(&c),
        decision: data_str(&c, "decision_number"),
        issued_at: now,
        issued_by: who.staff.account,
        valid_until: until,
        renewed_at: None,
        revoked_at: None,
        revocation_reason: None,
    };
    let notice_days = config(&t).await?.expiry_notice_days;
    let signer = who.staff.actor();
    // The slow work first (the PDF, its object, the signature), then one
    // transaction: the register entry, its expiry reminder, the permit in
    // the case file, the decision and its audit entry exist together.
    let reference = dimos_web::issue::new_reference();
    let verify_url = dimos_web::issue::verify_url(&state, &t, &reference);
    let bytes = permit::render(
        &permit::municipality(&t),
        &permit,
        &data_str(&c, "decision_date"),
        &data_str(&c, "ada"),
        (&reference, &verify_url),
    )?;
    let signed = dimos_web::issue::store_and_sign(
        &state,
        &t,
        CaseId(permit.case_id),
        "permit",
        dimos_web::issue::Issued {
            file_name: format!(
                "Άδεια στάθμευσης {}.pdf",
                permit.card_number.replace('/', "-")
            ),
            bytes,
        },
        &signer,
        reference,
    )
    .await?;
    let mut posted = BTreeMap::new();
    posted.insert("card_number".to_owned(), permit.card_number.clone());
    posted.insert("valid_until".to_owned(), until.to_string());
    let saved = async {
        let mut tx = t.db.begin().await?;
        register::insert(&mut tx, &t.db, &permit).await?;
        expiry::schedule(&mut tx, &t.db, permit.id, until, notice_days).await?;
        dimos_web::issue::save(&state, &mut tx, &t, &signed, &signer).await?;
        state
            .workflow()
            .complete_tx(
                &mut tx,
                &t.db,
                TaskId(task.id),
                &who.staff,
                "issued",
                &posted,
                "",
            )
            .await?;
        dimos_web::auth::record_in(
            &mut tx,
            &t,
            who.user
                .audit(peer, "parking_permit_issued")
                .record(format!("case:{id}"))
                .detail(json!({"card": permit.card_number, "valid_until": until, "signature": signed.signature.reference})),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, dimos_web::AppError>(())
    }
    .await;
    if let Err(e) = saved {
        // No row, no object: do not leave an orphan behind.
        dimos_web::issue::discard(&state, &signed).await;
        return Err(e);
    }
    Ok(Redirect::to(&format!("/staff/cases/{id}")).into_response())
}

#[derive(Deserialize)]
struct RegisterQuery {
    q: Option<String>,
    done: Option<String>,
}

async fn register_page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<ReadRegister>,
    Query(q): Query<RegisterQuery>,
) -> Result<Html<String>> {
    let text = q.q.unwrap_or_default();
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    let permits = register::search(&t.db, text.trim()).await?;
    let manage = state
        .access()
        .allowed(
            t.tenant.id,
            &dimos_web::access::subjects(&who.user),
            <ManageRegister as dimos_web::access::Permission>::ID,
        )
        .await;
    ui.render(
        "parking/register.html",
        context! {
            q => text,
            done => q.done.filter(|d| d == "renewed" || d == "revoked"),
            manage,
            csrf => who.user.csrf.clone(),
            permits => permits.iter().map(|p| context! {
                id => p.id,
                case_id => p.case_id,
                holder => p.holder_name.clone(),
                location => p.location.clone(),
                plate => p.plate.clone(),
                card => p.card_number.clone(),
                issued => p.issued_at.date_naive().format("%d/%m/%Y").to_string(),
                until => p.valid_until.format("%d/%m/%Y").to_string(),
                status => p.status(today),
            }).collect::<Vec<_>>(),
        },
    )
}

async fn renew(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<ManageRegister>,
    peer: Peer,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    let p = register::get(&t.db, id).await?.ok_or(Error::NotFound)?;
    if p.revoked_at.is_some() {
        return Err(Error::Conflict("permit-revoked").into());
    }
    let now = state.workflow().now();
    // From the later of today and the current expiry: renewing early
    // loses nothing.
    let from = p.valid_until.max(dimos_kernel::clock::local_date(now));
    // Read before the transaction: inside it, a read on another connection
    // is how a pool starves.
    let cfg = config(&t).await?;
    let until = valid_until(from, cfg.validity_years);
    let mut tx = t.db.begin().await?;
    register::renew(&mut tx, &t.db, id, until, now).await?;
    expiry::schedule(&mut tx, &t.db, id, until, cfg.expiry_notice_days).await?;
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "parking_permit_renewed")
            .record(format!("case:{}", p.case_id))
            .detail(json!({"card": p.card_number, "valid_until": until})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/parking/register?done=renewed").into_response())
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    reason: String,
}

async fn revoke(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<ManageRegister>,
    peer: Peer,
    Path(id): Path<Uuid>,
    Posted(f): Posted<RevokeForm>,
) -> Result<Response> {
    let reason = f.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "too-long"
            },
        )
        .into());
    }
    let p = register::get(&t.db, id).await?.ok_or(Error::NotFound)?;
    // The revocation and its audit entry: one transaction.
    let mut tx = t.db.begin().await?;
    if !register::revoke(&mut tx, &t.db, id, reason, state.workflow().now()).await? {
        return Err(Error::Conflict("permit-revoked").into());
    }
    dimos_web::auth::record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "parking_permit_revoked")
            .record(format!("case:{}", p.case_id))
            .detail(json!({"card": p.card_number, "reason": reason})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/parking/register?done=revoked").into_response())
}

// ---------------------------------------------------------------------
// The municipal admin's settings.

async fn settings_render(
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    values: (String, String),
    errors: &[FieldError],
    saved: bool,
) -> Result<Response> {
    let defaults = t.module_config::<ParkingConfig>(ID)?;
    let by_field = ui.error_map(errors);
    let error = |f: &str| by_field.get(f).cloned();
    let html = ui.render(
        "parking/settings.html",
        context! {
            csrf, saved,
            summary => ui.error_list(errors),
            fields => vec![
                context! { id => "validity_years", label => ui.t("parking-settings-validity"), hint => ui.state.translator().t(ui.lang, "parking-settings-validity-hint", &[("default", defaults.validity_years.to_string())]), value => values.0, error => error("validity_years") },
                context! { id => "expiry_notice_days", label => ui.t("parking-settings-notice"), hint => ui.state.translator().t(ui.lang, "parking-settings-notice-hint", &[("default", defaults.expiry_notice_days.to_string())]), value => values.1, error => error("expiry_notice_days") },
            ],
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

#[derive(Deserialize)]
struct SettingsQuery {
    saved: Option<String>,
}

async fn settings_page(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<dimos_web::access::ConfigureServices>,
    Query(q): Query<SettingsQuery>,
) -> Result<Response> {
    let c = config(&t).await?;
    settings_render(
        &ui,
        &t,
        &who.user.csrf,
        (
            c.validity_years.to_string(),
            c.expiry_notice_days.to_string(),
        ),
        &[],
        q.saved.is_some(),
    )
    .await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    validity_years: String,
    #[serde(default)]
    expiry_notice_days: String,
}

async fn save_settings(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<dimos_web::access::ConfigureServices>,
    peer: Peer,
    Posted(f): Posted<SettingsForm>,
) -> Result<Response> {
    let mut errors = vec![];
    let mut number = |field: &str, v: &str| match v.trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new(field, "number-invalid"));
            0
        }
    };
    let c = ParkingConfig {
        validity_years: number("validity_years", &f.validity_years),
        expiry_notice_days: number("expiry_notice_days", &f.expiry_notice_days),
    };
    // Range problems of the fields that are numbers, with the others.
    for e in c.check() {
        if !errors.iter().any(|x| x.field == e.field) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return settings_render(
            &ui,
            &t,
            &who.user.csrf,
            (f.validity_years, f.expiry_notice_days),
            &errors,
            false,
        )
        .await;
    }
    dimos_web::settings::save_audited(
        &t,
        &who.user,
        peer,
        ID,
        &c,
        "parking_settings_changed",
        state.workflow().now(),
    )
    .await?;
    Ok(Redirect::to("/parking/settings?saved=1").into_response())
}

// ---------------------------------------------------------------------
// The holder's permits and renewal requests.

async fn my_permits(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    Verified(user): Verified,
) -> Result<Html<String>> {
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    let permits = register::of_holder(&t.db, user.acting_for().0).await?;
    ui.render(
        "parking/permits.html",
        context! {
            csrf => user.csrf.clone(),
            permits => permits.iter().map(|p| context! {
                id => p.id, case_id => p.case_id, card => p.card_number.clone(),
                location => p.location.clone(), plate => p.plate.clone(),
                until => p.valid_until.format("%d/%m/%Y").to_string(),
                status => p.status(today),
            }).collect::<Vec<_>>(),
        },
    )
}

/// A renewal goes through the same process (the council decides again),
/// filed from the permit's own case so nothing is typed twice.
async fn request_renewal(
    State(state): State<AppState>,
    t: CurrentTenant,
    Verified(user): Verified,
    Path(id): Path<Uuid>,
    _: Posted<Button>,
) -> Result<Response> {
    let p = register::get(&t.db, id)
        .await?
        .filter(|p| p.holder == user.acting_for().0)
        .ok_or(Error::NotFound)?;
    if p.revoked_at.is_some() {
        return Err(Error::Conflict("permit-revoked").into());
    }
    let original = query::case(&t.db, CaseId(p.case_id))
        .await?
        .ok_or(Error::NotFound)?;
    let mut data = Map::new();
    for key in [
        "full_name",
        "email",
        "mobile",
        "location",
        "plate",
        "delivery",
        "delivery_address",
    ] {
        if let Some(v) = original.data.0.get(key) {
            data.insert(key.to_owned(), v.clone());
        }
    }
    data.insert("renewal_of".into(), p.card_number.clone().into());
    let started = state
        .workflow()
        .start(
            &t.db,
            NewCase {
                process: PROCESS.into(),
                applicant: p.holder,
                applicant_name: original.applicant_name.clone(),
                filed_by: user.filed_by(),
                subject: format!("Ανανέωση {} — {}", p.card_number, p.location),
                data,
                attachments: 0,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_counts_whole_years_and_survives_leap_days() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(valid_until(d(2026, 11, 23), 3), d(2029, 11, 23));
        assert_eq!(valid_until(d(2028, 2, 29), 1), d(2029, 2, 28));
        assert_eq!(valid_until(d(2028, 2, 29), 4), d(2032, 2, 29));
    }
}
