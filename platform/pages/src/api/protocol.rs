//! The protocol book for the municipality's other systems (scope
//! `protocol.read`): entries newest first, searched, one entry. As on the
//! staff page, a confidential or restricted entry's subject and
//! correspondent are never sent, and never matched by a text search.

use super::Problem;
use axum::Json;
use axum::extract::{Path, Query};
use chrono::{DateTime, Utc};
use dimos_kernel::Error;
use dimos_web::access::ReadProtocol;
use dimos_web::api_client::ApiScope;
use dimos_web::error::{AppError, Result};
use dimos_web::extract::CurrentTenant;
use dimos_workflow::protocol::{self, Entry, EntryFilter, EntryKey};
use dimos_workflow::query::{ListKey, Position};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An entry of the protocol book.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProtocolEntry {
    pub id: Uuid,
    /// The number people quote, `123/2026`.
    #[schema(example = "123/2026")]
    pub protocol: String,
    pub book: String,
    pub year: i32,
    pub number: i64,
    /// `incoming`, `outgoing` or `internal`.
    pub direction: String,
    pub registered_at: DateTime<Utc>,
    /// Absent for a confidential or restricted entry.
    pub subject: Option<String>,
    /// Absent for a confidential or restricted entry.
    pub correspondent: Option<String>,
    pub attachments: i32,
    pub restricted: bool,
    pub confidential: bool,
    pub personal_data: bool,
    /// The case it registered, if any.
    pub case_id: Option<Uuid>,
}

impl From<Entry> for ProtocolEntry {
    fn from(e: Entry) -> Self {
        // What is hidden is not sent at all.
        let hidden = e.confidential || e.restricted;
        ProtocolEntry {
            protocol: format!("{}/{}", e.number, e.year),
            id: e.id,
            book: e.book,
            year: e.year,
            number: e.number,
            direction: e.direction,
            registered_at: e.registered_at,
            subject: (!hidden).then_some(e.subject),
            correspondent: (!hidden).then_some(e.correspondent),
            attachments: e.attachments,
            restricted: e.restricted,
            confidential: e.confidential,
            personal_data: e.personal_data,
            case_id: e.case_id,
        }
    }
}

/// A page of entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProtocolPage {
    pub items: Vec<ProtocolEntry>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<Uuid>,
    /// Pass as `before` for the previous page; absent on the first.
    pub previous: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProtocolQuery {
    /// Only this year's book.
    #[param(minimum = 1900, maximum = 2999)]
    pub year: Option<i32>,
    /// Only this number.
    #[param(minimum = 1)]
    pub number: Option<i64>,
    /// Words of the subject or the correspondent.
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$",
        max_length = 200
    )]
    pub q: Option<String>,
    /// The page after this entry (a previous answer's `next`).
    pub after: Option<Uuid>,
    /// The page before this entry (a previous answer's `previous`); ignored
    /// with `after`.
    pub before: Option<Uuid>,
    /// Entries per page, 1–100 (25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Entries of the protocol book, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/protocol",
    tag = "protocol",
    operation_id = "listProtocolEntries",
    params(ProtocolQuery),
    security(("clientCredentials" = ["protocol.read"])),
    responses(
        (status = 200, description = "A page of entries", body = ProtocolPage, links(
            ("getFirstEntry" = (operation_id = "getProtocolEntry", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = 400, description = "A parameter that is not understood", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `protocol.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client\'s rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality at this host, or no entry `after` or `before` names", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    _client: ApiScope<ReadProtocol>,
    t: CurrentTenant,
    Query(p): Query<ProtocolQuery>,
) -> Result<Json<ProtocolPage>> {
    let limit = p.limit.unwrap_or(25);
    let bad = |what: &str| Err(AppError(Error::BadRequest(what.into())));
    if !(1..=100).contains(&limit) {
        return bad("limit must be 1-100");
    }
    if p.year.is_some_and(|y| !(1900..=2999).contains(&y)) {
        return bad("year must be 1900-2999");
    }
    if p.number.is_some_and(|n| n < 1) {
        return bad("number must be positive");
    }
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return bad("q is longer than 200 characters");
    }
    let at = match (p.after, p.before) {
        (None, None) => Position::First,
        (Some(a), _) => Position::After(EntryKey::of(&find(&t, a).await?)),
        (None, Some(b)) => Position::Before(EntryKey::of(&find(&t, b).await?)),
    };
    let filter = EntryFilter {
        book: None,
        year: p.year,
        number: p.number,
        text: p.q.filter(|q| !q.trim().is_empty()),
    };
    let page = protocol::list(&t.db, &filter, &at, 1, limit).await?;
    let next = page.next.and_then(|_| page.items.last().map(|e| e.id));
    let previous = page.prev.and_then(|_| page.items.first().map(|e| e.id));
    Ok(Json(ProtocolPage {
        next,
        previous,
        items: page.items.into_iter().map(ProtocolEntry::from).collect(),
    }))
}

async fn find(t: &CurrentTenant, id: Uuid) -> Result<Entry> {
    protocol::entry(&t.db, id)
        .await?
        .ok_or(AppError(Error::NotFound))
}

/// One entry.
#[utoipa::path(
    get,
    path = "/api/v1/protocol/{id}",
    tag = "protocol",
    operation_id = "getProtocolEntry",
    params(("id" = Uuid, Path, description = "The entry's id")),
    security(("clientCredentials" = ["protocol.read"])),
    responses(
        (status = 200, description = "The entry", body = ProtocolEntry),
        (status = 400, description = "An address the edge refuses (a control character)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `protocol.read` scope, or the client calls from an address not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the client\'s rate limit (`http.api_requests_per_minute`): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry in this municipality", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    _client: ApiScope<ReadProtocol>,
    t: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<ProtocolEntry>> {
    let id = Uuid::try_parse(&id).map_err(|_| AppError(Error::NotFound))?;
    Ok(Json(ProtocolEntry::from(find(&t, id).await?)))
}
