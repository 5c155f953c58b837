//! What every application filed through the public API shares, the
//! platform's generic form (`/api/v1/cases`) and a module's own (e.g.
//! `/api/v1/parking/applications`): the `Idempotency-Key`, the id a
//! person's key names, the verified identity applying needs, and the
//! documents the person uploaded before (`/api/v1/documents`).

use crate::error::{AppError, Result};
use crate::extract::CurrentTenant;
use crate::uploads::Kept;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dimos_identity::Account;
use dimos_kernel::{Error, FieldError};
use dimos_storage::documents;
use dimos_workflow::{Actor, Definition};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `Idempotency-Key` header, if sent: 1–255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            AppError(Error::BadRequest(
                "Idempotency-Key must be 1-255 visible ASCII characters".into(),
            ))
        })?;
    Ok(Some(v.to_owned()))
}

/// The id a person's key stands for in `what` (an upload, a case): the
/// same key of the same person always names the same row, another
/// person's never.
pub fn keyed_id(account: Uuid, what: &str, key: &str) -> Uuid {
    let digest = Sha256::digest(format!("{account}\n{what}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The submission key of an application: the person's key, or a new one.
pub fn submission(account: Uuid, key: Option<&str>) -> Uuid {
    key.map_or_else(Uuid::now_v7, |k| keyed_id(account, "case", k))
}

/// Applications carry personal data: as on the web, a verified identity
/// (a KEP desk, or a provider asserting it) is needed.
pub fn verified(a: &Account) -> Result<()> {
    if a.assurance().is_verified() {
        Ok(())
    } else {
        Err(AppError(Error::Forbidden))
    }
}

/// The person, as the case's history names them.
pub fn actor(a: &Account) -> Actor {
    Actor {
        account: Some(a.id),
        name: a.display_name(),
        on_behalf_of: None,
    }
}

/// `201 Created` with its `Location`.
pub fn created(location: String, body: impl serde::Serialize) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(body),
    )
        .into_response()
}

/// Documents one application may name.
pub const MAX_DOCUMENTS: usize = 20;

/// The documents an application names (`documents[i]`): the person's own
/// uploads, in no case yet, each of a kind the service asks for, every
/// kind it requires (`documents`), at most [`MAX_DOCUMENTS`] and
/// `storage.max_case_bytes` together. Faults are field errors.
pub async fn uploaded(
    state: &crate::state::AppState,
    t: &CurrentTenant,
    account: Uuid,
    ids: &[Uuid],
    def: &Definition,
) -> std::result::Result<(Vec<Kept>, Vec<FieldError>), Error> {
    let mut kept: Vec<Kept> = vec![];
    let mut errors = vec![];
    if ids.len() > MAX_DOCUMENTS {
        errors
            .push(FieldError::new("documents", "too-many").with_detail(MAX_DOCUMENTS.to_string()));
        return Ok((kept, errors));
    }
    let mut bytes: u64 = 0;
    for (i, id) in ids.iter().enumerate() {
        let field = format!("documents[{i}]");
        let usable = documents::get(&t.db, *id).await?.filter(|d| {
            d.case_id.is_none() && d.uploaded_by == account && !kept.iter().any(|k| k.id == d.id)
        });
        let Some(d) = usable else {
            errors.push(FieldError::new(field, "not-found"));
            continue;
        };
        bytes = bytes.saturating_add(u64::try_from(d.size).unwrap_or(u64::MAX));
        match d.kind.filter(|k| def.documents.iter().any(|s| &s.id == k)) {
            None => errors.push(FieldError::new(field, "unknown-kind")),
            Some(kind) => kept.push(Kept {
                id: d.id,
                kind,
                name: d.original_name,
            }),
        }
    }
    let max = state.config().storage.max_case_bytes;
    if bytes > max {
        errors.push(FieldError::new("documents", "too-large").with_detail(max.to_string()));
    }
    for spec in def.documents.iter().filter(|s| s.required) {
        if !kept.iter().any(|k| k.kind == spec.id) {
            errors.push(FieldError::new("documents", "required").with_detail(spec.id.clone()));
        }
    }
    Ok((kept, errors))
}
