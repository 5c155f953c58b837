//! Open311 GeoReport v2 at `/api/v1/bulky/open311/` on the municipality's
//! host, in XML and JSON (`services.xml`, `services/{code}.json`,
//! `requests.xml` GET and POST, `requests/{id}.json`, `tokens/{id}.xml`).
//! `jurisdiction_id`, where given, must be the municipality (its short
//! name or a domain of its own). `api_key` is an API client's key (`<client
//! id>.<secret>`, shown when the municipal admin registers the client)
//! holding scope `bulky.open311`; it is needed to file and to read
//! requests (they hold addresses), not to read the services. A client
//! reads the requests it filed, no others.
//!
//! A request goes through the same checks and the same booking as the web
//! form ([`crate::filing::book`]); it is filed at once, so the answer holds
//! its `service_request_id` (and a `token` that names the same request).
//! Beyond `open` and `closed`, the request's own state is in the extension
//! field `dimos_status`: `booked`, `collected`, `not-found`, `refused`,
//! `cancelled`. Errors are the spec's: a list of `{code, description}`.

use crate::config::BulkyConfig;
use crate::filing::{self, Booking, TypedAddress};
use crate::store::{self, Request};
use crate::{Open311, schedule, settings};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant};
use serde_json::{Value, json};
use uuid::Uuid;

pub const SERVICE_CODE: &str = "bulky";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/{file}", get(root_get).post(root_post))
        .route("/open311/services/{file}", get(service))
        .route("/open311/requests/{file}", get(one_request))
        .route("/open311/tokens/{file}", get(token))
}

/// Open311 has its own specification: the OpenAPI document names the
/// endpoint in a tag and describes none of its routes (the module's
/// README.md does).
pub fn doc() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new()
        .tags(Some([utoipa::openapi::tag::TagBuilder::new()
            .name("bulky")
            .description(Some(
                "Bulky waste pickups (module `bulky`): an Open311 GeoReport v2 endpoint at \
                 `/api/v1/bulky/open311/` in XML and JSON (`services`, `services/{code}`, \
                 `requests` GET and POST, `requests/{id}`, `tokens/{id}`), with an API \
                 client's key (`<client id>.<secret>`, scope `bulky.open311`) as `api_key`. \
                 Beyond `open` and `closed`, the extension field `dimos_status` says \
                 `booked`, `collected`, `not-found`, `refused` or `cancelled`.",
            ))
            .build()]))
        .build()
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Xml,
    Json,
}

/// `services.xml` → ("services", Xml).
fn split(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    let f = match ext {
        "xml" => Format::Xml,
        "json" => Format::Json,
        _ => return None,
    };
    (!name.is_empty()).then_some((name, f))
}

/// An answer in the spec's error format.
struct Problem {
    status: StatusCode,
    description: String,
}

fn problem(status: StatusCode, description: impl Into<String>) -> Problem {
    Problem {
        status,
        description: description.into(),
    }
}

impl From<dimos_kernel::Error> for Problem {
    fn from(e: dimos_kernel::Error) -> Self {
        use dimos_kernel::Error as E;
        match e {
            E::NotFound => problem(StatusCode::NOT_FOUND, "not found"),
            E::RateLimited(_) => problem(StatusCode::TOO_MANY_REQUESTS, "too many requests"),
            E::Validation(fs) => problem(
                StatusCode::BAD_REQUEST,
                fs.iter()
                    .map(|f| match &f.detail {
                        Some(d) => format!("{}: {} ({d})", f.field, f.code),
                        None => format!("{}: {}", f.field, f.code),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            E::Conflict(c) => problem(StatusCode::CONFLICT, c),
            E::BadRequest(m) => problem(StatusCode::BAD_REQUEST, m),
            E::Forbidden => problem(StatusCode::FORBIDDEN, "forbidden"),
            E::Unavailable => problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            other => {
                tracing::error!(error = %other, "open311");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<dimos_db::DbError> for Problem {
    fn from(e: dimos_db::DbError) -> Self {
        Problem::from(dimos_kernel::Error::from(e))
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as the spec's XML: objects as elements, arrays of
/// objects as repeated `item` elements, null as an empty element.
fn xml_value(name: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                xml_value(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            let item = match name {
                "attributes" => "attribute",
                "values" => "value",
                _ => "item",
            };
            for v in items {
                xml_value(item, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

/// The answer: a list as `[…]` in JSON, `<root><item>…</item></root>` in XML.
fn answer(f: Format, status: StatusCode, root: &str, item: &str, list: &[Value]) -> Response {
    match f {
        Format::Json => (status, axum::Json(Value::Array(list.to_vec()))).into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            out.push_str(&format!("<{root}>"));
            for v in list {
                xml_value(item, v, &mut out);
            }
            out.push_str(&format!("</{root}>"));
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                out,
            )
                .into_response()
        }
    }
}

fn error_answer(f: Format, p: Problem) -> Response {
    let mut res = answer(
        f,
        p.status,
        "errors",
        "error",
        &[json!({"code": p.status.as_u16(), "description": p.description})],
    );
    // The spec's error format, not the platform's error page.
    res.extensions_mut().insert(dimos_web::error::Rendered);
    res
}

fn respond(f: Format, r: Result<Response, Problem>) -> Response {
    r.unwrap_or_else(|p| error_answer(f, p))
}

/// Query or form parameters, decoded; repeated names keep the first.
fn params(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// `jurisdiction_id`, when given, names this municipality.
fn jurisdiction(t: &CurrentTenant, p: &[(String, String)]) -> Result<(), Problem> {
    let Some(j) = param(p, "jurisdiction_id") else {
        return Ok(());
    };
    let j = j.trim().to_lowercase();
    let spec = &t.tenant.spec;
    let ours = j == spec.slug.as_str()
        || spec
            .primary_domain
            .iter()
            .chain(spec.aliases.iter())
            .any(|d| d.as_str().eq_ignore_ascii_case(&j));
    if ours {
        Ok(())
    } else {
        Err(problem(
            StatusCode::NOT_FOUND,
            "jurisdiction_id: not served here",
        ))
    }
}

/// The client an `api_key` names, holding `bulky.open311`, within its
/// rate limit.
async fn client(
    state: &AppState,
    t: &CurrentTenant,
    peer: Peer,
    p: &[(String, String)],
) -> Result<dimos_identity::api_clients::Caller, Problem> {
    let Some(key) = param(p, "api_key") else {
        return Err(problem(StatusCode::FORBIDDEN, "api_key: required"));
    };
    let caller = dimos_identity::api_clients::authenticate_key(
        &t.db,
        key.trim(),
        peer.0,
        state.workflow().now(),
    )
    .await?
    .ok_or_else(|| problem(StatusCode::FORBIDDEN, "api_key: not valid"))?;
    if !caller.holds(<Open311 as dimos_web::access::Permission>::ID) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "api_key: lacks scope bulky.open311",
        ));
    }
    state.limits().api_call(caller.client.id)?;
    Ok(caller)
}

fn service_json(t: &CurrentTenant) -> Value {
    json!({
        "service_code": SERVICE_CODE,
        "service_name": "Αποκομιδή ογκωδών αντικειμένων",
        "description": "Bulky waste pickup: furniture, mattresses, appliances, garden cuttings, on the collection days of the address's area.",
        "metadata": true,
        "type": "realtime",
        "keywords": "ογκώδη, έπιπλα, στρώματα, bulky, furniture",
        "group": "Καθαριότητα",
        "jurisdiction_id": t.tenant.spec.slug.as_str(),
    })
}

/// `GET services.{fmt}`, `GET requests.{fmt}`.
async fn root_get(
    State(state): State<AppState>,
    t: CurrentTenant,
    peer: Peer,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((name, f)) = split(&file) else {
        return error_answer(Format::Json, problem(StatusCode::NOT_FOUND, "not found"));
    };
    let p = params(q.unwrap_or_default().as_bytes());
    let r = async {
        jurisdiction(&t, &p)?;
        match name {
            "services" => Ok(answer(
                f,
                StatusCode::OK,
                "services",
                "service",
                &[service_json(&t)],
            )),
            "requests" => {
                let caller = client(&state, &t, peer, &p).await?;
                list_requests(&state, &t, caller.client.id, f, &p).await
            }
            _ => Err(problem(StatusCode::NOT_FOUND, "not found")),
        }
    }
    .await;
    respond(f, r)
}

/// `GET services/{code}.{fmt}`: the service's attributes: a quantity per
/// item collected, and the day (the first available when not given).
async fn service(t: CurrentTenant, Path(file): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Some((code, f)) = split(&file) else {
        return error_answer(Format::Json, problem(StatusCode::NOT_FOUND, "not found"));
    };
    let p = params(q.unwrap_or_default().as_bytes());
    let r = async {
        jurisdiction(&t, &p)?;
        if code != SERVICE_CODE {
            return Err(problem(StatusCode::NOT_FOUND, "service_code: unknown"));
        }
        let cfg = settings(&t).await.map_err(|e| Problem::from(e.0))?;
        let mut attributes = vec![];
        for (order, i) in cfg.items.iter().filter(|i| !i.excluded).enumerate() {
            attributes.push(json!({
                "variable": true,
                "code": i.id,
                "datatype": "number",
                "required": false,
                "datatype_description": format!("How many (0–{})", cfg.max_items),
                "order": order + 1,
                "description": format!("{} / {}", i.el, i.en),
            }));
        }
        attributes.push(json!({
            "variable": true,
            "code": "day",
            "datatype": "string",
            "required": false,
            "datatype_description": "YYYY-MM-DD, one of the area's collection days; the first available when not given",
            "order": attributes.len() + 1,
            "description": "Ημέρα αποκομιδής / Pickup day",
        }));
        let def = json!({"service_code": SERVICE_CODE, "attributes": attributes});
        Ok(match f {
            Format::Json => (StatusCode::OK, axum::Json(def)).into_response(),
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
                xml_value("service_definition", &def, &mut out);
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], out).into_response()
            }
        })
    }
    .await;
    respond(f, r)
}

/// `Οδός 12, 17455` → street, number, postcode.
fn address_string(s: &str) -> TypedAddress {
    let (main, postcode) = match s.rsplit_once(',') {
        Some((m, pc)) if pc.trim().chars().filter(char::is_ascii_digit).count() == 5 => {
            (m.trim(), pc.trim().to_owned())
        }
        _ => (s.trim(), String::new()),
    };
    let (street, number) = match main.rsplit_once(' ') {
        Some((st, n)) if n.starts_with(|c: char| c.is_ascii_digit()) => (st.trim(), n.trim()),
        _ => (main, ""),
    };
    TypedAddress {
        street: street.trim_end_matches(',').trim().to_owned(),
        number: number.to_owned(),
        postcode,
        ..TypedAddress::default()
    }
}

/// `POST requests.{fmt}` (form-encoded).
async fn root_post(
    State(state): State<AppState>,
    t: CurrentTenant,
    peer: Peer,
    headers: HeaderMap,
    Path(file): Path<String>,
    // No session and no CSRF token: the api_key is the caller's proof.
    body: axum::body::Bytes,
) -> Response {
    let Some((name, f)) = split(&file) else {
        return error_answer(Format::Json, problem(StatusCode::NOT_FOUND, "not found"));
    };
    if name != "requests" {
        return error_answer(f, problem(StatusCode::NOT_FOUND, "not found"));
    }
    let p = params(&body);
    let r = async {
        jurisdiction(&t, &p)?;
        let caller = client(&state, &t, peer, &p).await?;
        match param(&p, "service_code") {
            Some(SERVICE_CODE) => {}
            Some(_) => return Err(problem(StatusCode::NOT_FOUND, "service_code: unknown")),
            None => return Err(problem(StatusCode::BAD_REQUEST, "service_code: required")),
        }
        let cfg = settings(&t).await.map_err(|e| Problem::from(e.0))?;
        let Some(addr) = param(&p, "address_string") else {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "address_string: required (this municipality places requests by street and number)",
            ));
        };
        let list = store::streets(&t.db).await?;
        // `lat`/`long` with the address are the spot (and, where the
        // municipality draws its areas, the area).
        let typed = filing::TypedAddress {
            lat: param(&p, "lat").unwrap_or("").to_owned(),
            lon: param(&p, "long").unwrap_or("").to_owned(),
            ..address_string(addr)
        };
        let address = filing::address(&cfg, &list, &typed)
            .map_err(|e| Problem::from(dimos_kernel::Error::Validation(e)))?;
        let mut pairs = vec![];
        for i in &cfg.items {
            if let Some(v) = param(&p, &format!("attribute[{}]", i.id)) {
                pairs.push((i.id.clone(), v.to_owned()));
            }
        }
        let items =
            filing::items(&pairs).map_err(|e| Problem::from(dimos_kernel::Error::Validation(e)))?;
        let description = param(&p, "description").unwrap_or("").trim().to_owned();
        if description.chars().count() > 4000
            || description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "description: at most 4,000 characters, no control characters",
            ));
        }
        let name: String = [param(&p, "first_name"), param(&p, "last_name")]
            .into_iter()
            .flatten()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        if name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "first_name, last_name: too long",
            ));
        }
        let phone = param(&p, "phone").unwrap_or("");
        let phone = dimos_kernel::greek::Mobile::parse(phone)
            .map(|m| m.as_str().to_owned())
            .or_else(|| dimos_kernel::greek::Landline::parse(phone).map(|l| l.as_str().to_owned()))
            .unwrap_or_default();
        let today = dimos_kernel::clock::local_date(state.workflow().now());
        let area = cfg.area(&address.area).ok_or_else(|| {
            problem(
                StatusCode::BAD_REQUEST,
                "address_string: no collection area",
            )
        })?;
        let day = match param(&p, "attribute[day]") {
            Some(d) => filing::parse_day(d)
                .ok_or_else(|| problem(StatusCode::BAD_REQUEST, "attribute[day]: YYYY-MM-DD"))?,
            None => {
                let booked = store::booked(&t.db, &area.id, today).await?;
                schedule::first_available(
                    today,
                    &BulkyConfig::calendar(area),
                    &cfg.rules(),
                    &booked,
                )
                .ok_or_else(|| {
                    problem(StatusCode::CONFLICT, "day: no day available in the horizon")
                })?
            }
        };
        let key = match dimos_web::api_filing::idempotency_key(&headers) {
            Ok(k) => k,
            Err(e) => return Err(Problem::from(e.0)),
        };
        let submission = dimos_web::api_filing::submission(caller.client.id, key.as_deref());
        let actor = dimos_workflow::Actor {
            account: None,
            name: caller.client.name.clone(),
            on_behalf_of: None,
        };
        let b = Booking {
            applicant: caller.client.id,
            applicant_name: if name.is_empty() {
                caller.client.name.clone()
            } else {
                name
            },
            filed_by: None,
            channel: "open311",
            address,
            day,
            items,
            description,
            contact_phone: phone,
        };
        let started = filing::book(
            &state,
            &t,
            &cfg,
            &actor,
            b,
            Some(submission),
            vec![],
            vec![],
        )
        .await?
        .map_err(|e| Problem::from(dimos_kernel::Error::Validation(e)))?;
        let r = store::by_case(&t.db, started.case_id.0)
            .await?
            .ok_or_else(|| {
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "request not found after filing",
                )
            })?;
        Ok(answer(
            f,
            StatusCode::CREATED,
            "service_requests",
            "request",
            &[json!({
                "service_request_id": r.id.to_string(),
                "token": r.id.to_string(),
                "service_notice": format!("Pickup on {}", r.day.format("%Y-%m-%d")),
                "account_id": Value::Null,
            })],
        ))
    }
    .await;
    respond(f, r)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// 07:00 in Athens on the pickup day (UTC+2 in winter, +3 in summer), as
/// a w3 date-time in UTC.
fn expected(day: NaiveDate) -> String {
    use chrono::Timelike;
    let at = |h: u32| {
        day.and_hms_opt(h, 0, 0)
            .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
    };
    [5, 4]
        .into_iter()
        .filter_map(at)
        .find(|t| dimos_kernel::clock::local_datetime(*t).hour() == 7)
        .or_else(|| at(5))
        .map_or_else(|| day.to_string(), stamp)
}

fn request_json(cfg: &BulkyConfig, r: &Request) -> Value {
    json!({
        "service_request_id": r.id.to_string(),
        "status": if r.status == "booked" { "open" } else { "closed" },
        "dimos_status": r.status,
        // The reason of a stop not collected is public; a crew's note on a
        // collected one is not.
        "status_notes": if matches!(r.status.as_str(), "not-found" | "refused") { r.outcome_note.clone().unwrap_or_default() } else { String::new() },
        "service_name": "Αποκομιδή ογκωδών αντικειμένων",
        "service_code": SERVICE_CODE,
        "description": if r.description.is_empty() { filing::items_line(cfg, &r.asked(), false) } else { format!("{} — {}", filing::items_line(cfg, &r.asked(), false), r.description) },
        "agency_responsible": "",
        "service_notice": "",
        "requested_datetime": stamp(r.created_at),
        "updated_datetime": stamp(r.updated_at.or(r.closed_at).unwrap_or(r.created_at)),
        "expected_datetime": expected(r.day),
        "address": format!("{} {}", r.street, r.number),
        "address_id": "",
        "zipcode": r.postcode,
        "lat": r.lat,
        "long": r.lon,
        "media_url": "",
    })
}

/// The client's own requests (a client reads what it filed, never the
/// municipality's other requests, which hold other people's addresses).
async fn list_requests(
    state: &AppState,
    t: &CurrentTenant,
    applicant: Uuid,
    f: Format,
    p: &[(String, String)],
) -> Result<Response, Problem> {
    let cfg = settings(t).await.map_err(|e| Problem::from(e.0))?;
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, Problem> {
        param(p, name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| {
                        problem(StatusCode::BAD_REQUEST, format!("{name}: a w3 date-time"))
                    })
            })
            .transpose()
    };
    let end = date("end_date")?.unwrap_or_else(|| state.workflow().now());
    // The spec's default: the last 90 days.
    let start = date("start_date")?.unwrap_or(end - chrono::Duration::days(90));
    let status = param(p, "status");
    if status.is_some_and(|s| !s.split(',').all(|s| matches!(s.trim(), "open" | "closed"))) {
        return Err(problem(StatusCode::BAD_REQUEST, "status: open or closed"));
    }
    if param(p, "service_code").is_some_and(|c| c.split(',').all(|c| c.trim() != SERVICE_CODE)) {
        return Ok(answer(
            f,
            StatusCode::OK,
            "service_requests",
            "request",
            &[],
        ));
    }
    let ids: Option<Vec<Uuid>> = param(p, "service_request_id").map(|s| {
        s.split(',')
            .filter_map(|i| Uuid::try_parse(i.trim()).ok())
            .collect()
    });
    let mut out = vec![];
    match ids {
        Some(ids) => {
            for id in ids.into_iter().take(100) {
                if let Some(r) = store::get(&t.db, id).await?
                    && r.applicant == applicant
                {
                    out.push(request_json(&cfg, &r));
                }
            }
        }
        None => {
            for r in store::created_between(&t.db, applicant, start, end, 1000).await? {
                let open = r.status == "booked";
                let keep =
                    status.is_none_or(|s| s.split(',').any(|s| (s.trim() == "open") == open));
                if keep {
                    out.push(request_json(&cfg, &r));
                }
            }
        }
    }
    Ok(answer(
        f,
        StatusCode::OK,
        "service_requests",
        "request",
        &out,
    ))
}

/// The request a `{id}.{fmt}` names, if the calling client filed it.
async fn named_request(
    state: &AppState,
    t: &CurrentTenant,
    peer: Peer,
    p: &[(String, String)],
    id: &str,
    what: &str,
) -> Result<Request, Problem> {
    jurisdiction(t, p)?;
    let caller = client(state, t, peer, p).await?;
    let unknown = || problem(StatusCode::NOT_FOUND, format!("{what}: unknown"));
    let id = Uuid::try_parse(id).map_err(|_| unknown())?;
    // Another client's request is as unknown as a made-up id.
    store::get(&t.db, id)
        .await?
        .filter(|r| r.applicant == caller.client.id)
        .ok_or_else(unknown)
}

/// `GET requests/{id}.{fmt}`.
async fn one_request(
    State(state): State<AppState>,
    t: CurrentTenant,
    peer: Peer,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((id, f)) = split(&file) else {
        return error_answer(Format::Json, problem(StatusCode::NOT_FOUND, "not found"));
    };
    let p = params(q.unwrap_or_default().as_bytes());
    let r = async {
        let r = named_request(&state, &t, peer, &p, id, "service_request_id").await?;
        let cfg = settings(&t).await.map_err(|e| Problem::from(e.0))?;
        Ok(answer(
            f,
            StatusCode::OK,
            "service_requests",
            "request",
            &[request_json(&cfg, &r)],
        ))
    }
    .await;
    respond(f, r)
}

/// `GET tokens/{id}.{fmt}`: requests are filed at once, so a token is the
/// request's id.
async fn token(
    State(state): State<AppState>,
    t: CurrentTenant,
    peer: Peer,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((id, f)) = split(&file) else {
        return error_answer(Format::Json, problem(StatusCode::NOT_FOUND, "not found"));
    };
    let p = params(q.unwrap_or_default().as_bytes());
    let r = async {
        let r = named_request(&state, &t, peer, &p, id, "token").await?;
        Ok(answer(
            f,
            StatusCode::OK,
            "service_requests",
            "request",
            &[json!({"service_request_id": r.id.to_string(), "token": r.id.to_string()})],
        ))
    }
    .await;
    respond(f, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_file_names_are_read_as_the_spec_writes_them() {
        let a = address_string("Λεωφόρος Ποσειδώνος 12Α, 17455");
        assert_eq!(
            (a.street.as_str(), a.number.as_str(), a.postcode.as_str()),
            ("Λεωφόρος Ποσειδώνος", "12Α", "17455")
        );
        let a = address_string("Αμφιτρίτης 3");
        assert_eq!(
            (a.street.as_str(), a.number.as_str(), a.postcode.as_str()),
            ("Αμφιτρίτης", "3", "")
        );
        assert!(split("services.xml").is_some_and(|(n, f)| n == "services" && f == Format::Xml));
        assert!(split("services.yaml").is_none());
        assert!(split(".json").is_none());
        // 07:00 in Athens: UTC+2 in December, UTC+3 in July.
        assert_eq!(
            expected(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()),
            "2026-12-10T05:00:00Z"
        );
        assert_eq!(
            expected(NaiveDate::from_ymd_opt(2027, 7, 1).unwrap()),
            "2027-07-01T04:00:00Z"
        );
        let mut out = String::new();
        xml_value(
            "x",
            &json!({"a": "<&\u{1}>", "b": null, "c": [{"d": 1}]}),
            &mut out,
        );
        assert_eq!(
            out,
            "<x><a>&lt;&amp;&gt;</a><b/><c><item><d>1</d></item></c></x>"
        );
    }
}
