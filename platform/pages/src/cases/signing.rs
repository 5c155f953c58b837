//! Digital signatures in the platform: staff with the signing permission
//! sign a case document with their certificate; the municipal admin issues
//! and revokes certificates; anyone can check a signature on the public
//! verification page of its reference code, and download the signature
//! and the municipality's CA certificate to check it with their own tools.

use super::StaffMember;
use axum::Router;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use dimos_identity::accounts;
use dimos_kernel::{Error, FieldError, TaxId, TenantId};
use dimos_signing::service::{CertificateInfo, SignatureRecord, normalize_reference};
use dimos_storage::documents;
use dimos_web::access::{ManageSigning, SignDocuments, subjects};
use dimos_web::auth::{Button, CurrentUser, Posted, record_in};
use dimos_web::error::{AppError, Result};
use dimos_web::extract::{CurrentTenant, Peer};
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use futures::StreamExt;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The public pages (no sign-in).
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/verify", get(lookup))
        .route("/verify/{reference}", get(verify_page).post(verify_check))
        .route("/verify/{reference}/signature.p7s", get(signature_file))
        .route("/signing/ca.pem", get(ca_pem))
}

/// Creates a newly onboarded municipality's signing CA in the background
/// (key generation takes a moment); should it fail, it is created on first
/// use instead.
#[allow(clippy::disallowed_methods)] // the platform's own page: works across tenants or below them
pub fn provision(state: &AppState, tenant: TenantId, municipality: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let tdb = state.tenant_db(tenant);
        if let Err(e) = state.signing().ensure_authority(&tdb, &municipality).await {
            tracing::error!(error = %e, %tenant, "creating the signing CA failed; it will be created on first use");
        }
    });
}

fn municipality(tenant: &CurrentTenant) -> String {
    tenant.tenant.name(dimos_kernel::Locale::El).to_owned()
}

/// Signs a document of a case the person may see.
pub async fn sign(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: StaffMember,
    peer: Peer,
    Path((id, doc)): Path<(Uuid, Uuid)>,
    _: Posted<Button>,
) -> Result<Response> {
    let c = super::staff::visible_case(&state, &tenant, &who, id).await?;
    let d = match documents::get(&tenant.db, doc).await? {
        Some(d) if d.case_id == Some(c.id) && d.replaced_by.is_none() => d,
        _ => return Err(Error::NotFound.into()),
    };
    // A signature puts the municipality's name under the content: never
    // under what the applicant supplied (the verification page would show
    // the municipality vouching for a text it did not write).
    if d.uploaded_by == c.applicant {
        return Err(Error::invalid("document", "applicant-supplied").into());
    }
    // The stored hash is what gets signed: check the object still matches
    // it before putting a name under it.
    let reader = state
        .objects()
        .get(&d.object_key)
        .await
        .map_err(Error::from)?;
    let mut stream = std::pin::pin!(dimos_storage::verified_stream(reader, d.sha256.clone()));
    while let Some(chunk) = stream.next().await {
        chunk.map_err(|e| Error::internal(std::io::Error::other(e.to_string())))?;
    }
    let name = who.user.account.display_name();
    let sig = state
        .signing()
        .sign(
            &tenant.db,
            d.id,
            Some(c.id),
            who.user.account.id,
            &name,
            &d.sha256,
        )
        .await?;
    // The signature, its case event and audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    state
        .signing()
        .record_signature(&mut tx, &tenant.db, &sig)
        .await?;
    state
        .workflow()
        .record_event_tx(
            &mut tx,
            &tenant.db,
            dimos_workflow::CaseId(c.id),
            "document-signed",
            &who.staff.actor(),
            !d.internal,
            json!({"document": d.id, "name": d.original_name, "reference": sig.reference}),
        )
        .await?;
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "document_signed")
            .record(format!("case:{id}"))
            .detail(json!({"document": d.id, "reference": sig.reference, "certificate": sig.cert_serial})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/staff/cases/{id}?done=signed#documents")).into_response())
}

/// How pages show a signature, with its certificate's status now.
fn signature_view(s: &SignatureRecord, status: &str) -> minijinja::Value {
    context! {
        status,
        reference => s.reference.clone(),
        signer => s.signer_name.clone(),
        at => super::datetime(s.signed_at),
        href => format!("/verify/{}", s.reference),
        file => format!("/verify/{}/signature.p7s", s.reference),
    }
}

/// Signatures per document, for the case pages.
pub async fn signatures_by_document(
    state: &AppState,
    tenant: &CurrentTenant,
    docs: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<minijinja::Value>>> {
    let mut out: BTreeMap<Uuid, Vec<minijinja::Value>> = BTreeMap::new();
    let signatures = state.signing().signatures_of(&tenant.db, docs).await?;
    if signatures.is_empty() {
        return Ok(out);
    }
    let now = state.signing().now();
    let serials: Vec<String> = signatures.iter().map(|s| s.cert_serial.clone()).collect();
    let status: BTreeMap<String, &'static str> = state
        .signing()
        .certificates_by_serial(&tenant.db, &serials)
        .await?
        .iter()
        .map(|c| (c.serial.clone(), c.status(now)))
        .collect();
    for s in signatures {
        let st = status.get(&s.cert_serial).copied().unwrap_or("unknown");
        out.entry(s.document_id)
            .or_default()
            .push(signature_view(&s, st));
    }
    Ok(out)
}

/// What the staff case page says about the reader's own signing ability.
pub async fn signer_status(
    state: &AppState,
    tenant: &CurrentTenant,
    user: &CurrentUser,
) -> Result<minijinja::Value> {
    let may = state
        .access()
        .allowed(
            tenant.tenant.id,
            &subjects(user),
            <SignDocuments as dimos_web::access::Permission>::ID,
        )
        .await;
    if !may {
        return Ok(context! { may => false, ready => false, status => "none" });
    }
    let now = state.signing().now();
    let cert = state.signing().current(&tenant.db, user.account.id).await?;
    let status = cert.as_ref().map(|c| c.status(now)).unwrap_or("none");
    Ok(context! { may => true, ready => status == "valid", status })
}

// ---------------------------------------------------------------------
// The municipal admin: the CA, issuing and revoking certificates.

#[derive(Deserialize)]
pub struct AdminQuery {
    done: Option<String>,
}

fn cert_view(
    c: &CertificateInfo,
    now: DateTime<Utc>,
    names: &BTreeMap<Uuid, String>,
) -> minijinja::Value {
    context! {
        serial => c.serial.clone(),
        subject => c.subject.clone(),
        holder => names.get(&c.account_id).cloned().unwrap_or_else(|| c.subject.clone()),
        status => c.status(now),
        issued => super::datetime(c.issued_at),
        not_after => super::date(c.not_after),
        revoked => c.revoked_at.map(super::datetime),
        reason => c.revocation_reason.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn admin_render(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    user: &CurrentUser,
    done: Option<String>,
    errors: &[FieldError],
    tax_id: &str,
    status: StatusCode,
) -> Result<Response> {
    let signing = state.signing();
    let authority = signing.authority(&tenant.db).await?;
    let certs = signing.certificates(&tenant.db).await?;
    let mut names = BTreeMap::new();
    for c in &certs {
        if let std::collections::btree_map::Entry::Vacant(e) = names.entry(c.account_id)
            && let Some(a) = accounts::get(&tenant.db, accounts::AccountId(c.account_id)).await?
        {
            e.insert(a.display_name());
        }
    }
    let now = signing.now();
    let html = ui.render(
        "admin/signing.html",
        context! {
            authority => authority.map(|a| context! {
                subject => a.subject, serial => a.serial,
                created => super::datetime(a.created_at), not_after => super::date(a.not_after),
            }),
            provider => signing.provider_id(),
            certificates => certs.iter().map(|c| cert_view(c, now, &names)).collect::<Vec<_>>(),
            done, tax_id,
            errors => ui.error_list(errors),
            tax_id_error => ui.error_map(errors).remove("tax_id"),
            csrf => user.csrf.clone(),
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

pub async fn admin(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: dimos_web::access::Authorized<ManageSigning>,
    Query(q): Query<AdminQuery>,
) -> Result<Response> {
    admin_render(
        &state,
        &ui,
        &tenant,
        &who.user,
        q.done,
        &[],
        "",
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    tax_id: String,
}

/// Issues a certificate to the staff account of a tax id that holds the
/// signing permission (the one that signed in last, should there be more).
pub async fn issue(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    who: dimos_web::access::Authorized<ManageSigning>,
    peer: Peer,
    Posted(f): Posted<IssueForm>,
) -> Result<Response> {
    let invalid = |code: &'static str| vec![FieldError::new("tax_id", code)];
    let errors = match f.tax_id.trim().parse::<TaxId>() {
        Err(_) => invalid("tax-id-invalid"),
        Ok(tax_id) => {
            let mut candidates = accounts::by_tax_id(&tenant.db, tax_id.as_str()).await?;
            candidates.sort_by_key(|a| std::cmp::Reverse(a.last_login_at));
            let mut chosen = None;
            for a in candidates {
                let subj = vec![
                    format!("account:{}", a.id),
                    dimos_identity::access::tax_id_subject(tax_id.as_str()),
                ];
                if state
                    .access()
                    .allowed(
                        tenant.tenant.id,
                        &subj,
                        <SignDocuments as dimos_web::access::Permission>::ID,
                    )
                    .await
                {
                    chosen = Some(a);
                    break;
                }
            }
            match chosen {
                None => invalid("no-signer"),
                Some(a) => {
                    let new = state
                        .signing()
                        .prepare_certificate(
                            &tenant.db,
                            &municipality(&tenant),
                            a.id,
                            &a.display_name(),
                            who.user.account.id,
                        )
                        .await?;
                    // The certificate and its audit entry: one transaction.
                    let mut tx = tenant.db.begin().await?;
                    let cert = state.signing().issue(&mut tx, &tenant.db, new).await?;
                    record_in(
                        &mut tx,
                        &tenant,
                        who.user
                            .audit(peer, "signing_certificate_issued")
                            .record(format!("account:{}", a.id))
                            .detail(json!({"serial": cert.serial, "not_after": cert.not_after})),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Redirect::to("/admin/signing?done=issued").into_response());
                }
            }
        }
    };
    admin_render(
        &state,
        &ui,
        &tenant,
        &who.user,
        None,
        &errors,
        &f.tax_id,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    serial: String,
    #[serde(default)]
    reason: String,
}

const REASONS: &[&str] = &["key-compromise", "left-office", "superseded", "other"];

pub async fn revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: dimos_web::access::Authorized<ManageSigning>,
    peer: Peer,
    Posted(f): Posted<RevokeForm>,
) -> Result<Response> {
    let reason = if REASONS.contains(&f.reason.as_str()) {
        f.reason.as_str()
    } else {
        "other"
    };
    if state
        .signing()
        .certificate(&tenant.db, &f.serial)
        .await?
        .is_none()
    {
        return Err(Error::NotFound.into());
    }
    // The revocation and its audit entry: one transaction.
    let mut tx = tenant.db.begin().await?;
    if !state
        .signing()
        .revoke(&mut tx, &tenant.db, &f.serial, who.user.account.id, reason)
        .await?
    {
        return Err(Error::Conflict("already-revoked").into());
    }
    record_in(
        &mut tx,
        &tenant,
        who.user
            .audit(peer, "signing_certificate_revoked")
            .record(format!("certificate:{}", f.serial))
            .detail(json!({"reason": reason})),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/signing?done=revoked").into_response())
}

// ---------------------------------------------------------------------
// Public verification.

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

/// The form to type a reference code in, and where it leads.
async fn lookup(ui: Ui, _tenant: CurrentTenant, Query(q): Query<LookupQuery>) -> Result<Response> {
    let typed = q.reference.unwrap_or_default();
    if let Some(r) = normalize_reference(&typed) {
        return Ok(Redirect::to(&format!("/verify/{r}")).into_response());
    }
    let error = (!typed.trim().is_empty()).then(|| ui.t("sigcheck-reference-invalid"));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = ui.render("verify/lookup.html", context! { reference => typed, error })?;
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn record_of(
    state: &AppState,
    peer: &Peer,
    tenant: &CurrentTenant,
    reference: &str,
) -> Result<SignatureRecord> {
    // Reference codes are unguessable; this keeps anyone from trying.
    state.limits().lookup(peer.ip()).map_err(AppError)?;
    let r = normalize_reference(reference).ok_or(Error::NotFound)?;
    Ok(state
        .signing()
        .signature(&tenant.db, &r)
        .await?
        .ok_or(Error::NotFound)?)
}

/// The signer's certificate as the platform knows it now.
async fn certificate_state(
    state: &AppState,
    tenant: &CurrentTenant,
    s: &SignatureRecord,
) -> Result<minijinja::Value> {
    let now = state.signing().now();
    let cert = state
        .signing()
        .certificate(&tenant.db, &s.cert_serial)
        .await?;
    Ok(match cert {
        Some(c) => context! {
            status => c.status(now),
            revoked => c.revoked_at.map(super::datetime),
            // A signature made before the revocation was made while the
            // certificate was good.
            signed_before_revocation => c.revoked_at.is_some_and(|r| s.signed_at < r),
            not_after => super::date(c.not_after),
        },
        None => context! { status => "unknown" },
    })
}

async fn verify_render(
    state: &AppState,
    ui: &Ui,
    tenant: &CurrentTenant,
    s: &SignatureRecord,
    result: Option<minijinja::Value>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response> {
    let html = ui.render(
        "verify/show.html",
        context! {
            sig => context! {
                reference => s.reference.clone(),
                signer => s.signer_name.clone(),
                at => super::datetime(s.signed_at),
                sha256 => s.content_sha256.clone(),
                file => format!("/verify/{}/signature.p7s", s.reference),
            },
            certificate => certificate_state(state, tenant, s).await?,
            result, error,
            max_mb => state.config().storage.max_upload_bytes / 1_048_576,
        },
    )?;
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn verify_page(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    peer: Peer,
    Path(reference): Path<String>,
) -> Result<Response> {
    let s = record_of(&state, &peer, &tenant, &reference).await?;
    verify_render(&state, &ui, &tenant, &s, None, None, StatusCode::OK).await
}

const MAX_SIGNATURE_BYTES: usize = 256 * 1024;

/// Reads a signature the way people have them: DER, or PEM as
/// `openssl cms -outform PEM` writes it.
fn signature_der(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    match text {
        Some(t) if t.starts_with("-----BEGIN") => {
            let body: String = t
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .ok()
        }
        _ => Some(bytes.to_vec()),
    }
}

/// Checks an uploaded file (and optionally a signature file) against the
/// signature of this reference. Nothing uploaded is stored.
async fn verify_check(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    peer: Peer,
    Path(reference): Path<String>,
    mut form: Multipart,
) -> Result<Response> {
    let s = record_of(&state, &peer, &tenant, &reference).await?;
    let limit = state.config().storage.max_upload_bytes;
    let mut digest = None;
    let mut signature: Option<Vec<u8>> = None;
    let mut error = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| Error::BadRequest(e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "file" => {
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| Error::BadRequest(e.body_text()))?
                {
                    size += chunk.len() as u64;
                    if size > limit {
                        error = Some(ui.t("sigcheck-file-too-large"));
                        break;
                    }
                    hasher.update(&chunk);
                }
                if size > 0 && error.is_none() {
                    digest = Some(<[u8; 32]>::from(hasher.finalize()));
                }
            }
            "signature" => {
                let mut buf = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| Error::BadRequest(e.body_text()))?
                {
                    buf.extend_from_slice(&chunk);
                    if buf.len() > MAX_SIGNATURE_BYTES {
                        error = Some(ui.t("sigcheck-signature-invalid"));
                        break;
                    }
                }
                if !buf.is_empty() {
                    signature = Some(buf);
                }
            }
            _ => {}
        }
    }
    let Some(digest) = digest.filter(|_| error.is_none()) else {
        let error = error.unwrap_or_else(|| ui.t("sigcheck-file-required"));
        return verify_render(
            &state,
            &ui,
            &tenant,
            &s,
            None,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (der, theirs) = match signature {
        Some(bytes) => match signature_der(&bytes) {
            Some(d) => (d, true),
            None => (Vec::new(), true),
        },
        None => (s.signature_der.clone(), false),
    };
    let checked = state.signing().verify(&tenant.db, &der, &digest).await;
    let result = match checked {
        Ok(v) => {
            let r = &v.report;
            context! {
                readable => true,
                theirs,
                same_file => hex::encode(digest) == s.content_sha256,
                intact => r.intact,
                trusted => r.trusted,
                valid => r.is_valid(),
                status => r.certificate_status,
                signer => r.signer.clone(),
                serial => r.serial.clone(),
                signed_at => r.signed_at.and_then(|t| DateTime::from_timestamp(t, 0)).map(super::datetime),
                revoked => v.revoked_at.map(super::datetime),
            }
        }
        Err(_) => context! { readable => false, theirs },
    };
    verify_render(&state, &ui, &tenant, &s, Some(result), None, StatusCode::OK).await
}

fn download(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    res
}

async fn signature_file(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    peer: Peer,
    Path(reference): Path<String>,
) -> Result<Response> {
    let s = record_of(&state, &peer, &tenant, &reference).await?;
    Ok(download(
        s.signature_der,
        "application/pkcs7-signature",
        &format!("{}.p7s", s.reference),
    ))
}

/// The municipality's CA certificate: the trust anchor for
/// `openssl cms -verify -CAfile`.
/// The municipality's CA certificate, once it has one. Never created here:
/// key generation on an anonymous request would let anyone burn CPU (the
/// CA comes at onboarding, or with the first signature a member of staff
/// makes); before it exists there is nothing to verify.
async fn ca_pem(State(state): State<AppState>, tenant: CurrentTenant) -> Result<Response> {
    let a = state
        .signing()
        .authority(&tenant.db)
        .await?
        .ok_or(Error::NotFound)?;
    let pem = a.pem().map_err(Error::from)?;
    Ok(download(
        pem.into_bytes(),
        "application/x-pem-file",
        &format!("{}-ca.pem", tenant.tenant.slug()),
    ))
}
