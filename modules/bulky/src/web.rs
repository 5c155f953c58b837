//! The citizen's pages: the service, the address (step 1), the items, the
//! day and a photo (step 2). Server-rendered, no JavaScript needed; the
//! street list is offered as the browser's own suggestions.

use crate::config::BulkyConfig;
use crate::filing::{self, Booking, TypedAddress};
use crate::{schedule, settings, store};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use dimos_identity::accounts::Assurance;
use dimos_kernel::{Error, FieldError};
use dimos_web::auth::{CurrentUser, Posted};
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Streets offered as the browser's suggestions up to this many (a larger
/// list is checked on sending, with near names offered back).
const SUGGESTED_STREETS: usize = 3000;

/// A street's name as people type it without accents or capitals
/// (`λεωφορος ποσειδωνος`): the suggestion's label, so that the browser's
/// own matching finds it however it is typed.
fn unaccented(name: &str) -> String {
    dimos_kernel::greek::fold(name)
        .split(' ')
        .map(|w| match w.strip_suffix('σ') {
            Some(stem) => format!("{stem}ς"),
            None => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Τρίτη 15/12/2026`.
pub fn day_label(ui: &Ui, day: NaiveDate) -> String {
    let wd = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [day.weekday().num_days_from_monday() as usize];
    format!(
        "{} {}",
        ui.t(&format!("bulky-weekday-{wd}")),
        day.format("%d/%m/%Y")
    )
}

fn item_views(ui: &Ui, cfg: &BulkyConfig) -> Vec<minijinja::Value> {
    cfg.items
        .iter()
        .map(|i| {
            context! {
                id => i.id.clone(),
                label => if ui.lang.code() == "en" { i.en.clone() } else { i.el.clone() },
                fee => (i.fee_cents > 0).then(|| filing::euros(i64::from(i.fee_cents))),
                excluded => i.excluded,
            }
        })
        .collect()
}

/// The service page: what is collected, how, and where to start.
pub async fn index(ui: Ui, t: CurrentTenant) -> Result<Html<String>> {
    let cfg = settings(&t).await?;
    ui.render(
        "bulky/index.html",
        context! {
            items => item_views(&ui, &cfg),
            areas => cfg.areas.iter().map(|a| context! {
                name => a.name.clone(),
                days => a.weekdays.iter().map(|d| ui.t(&format!("bulky-weekdays-{d}"))).collect::<Vec<_>>().join(", "),
            }).collect::<Vec<_>>(),
            lead => cfg.lead_days,
            per_week => cfg.per_week,
            max_items => cfg.max_items,
        },
    )
}

/// Whether this person may ask: any signed-in person, or only verified
/// ones where the municipality says so.
fn may_ask(cfg: &BulkyConfig, user: &CurrentUser) -> Result<()> {
    if cfg.verified_only && !dimos_web::auth::meets(user, Assurance::Substantial) {
        return Err(Error::Conflict("bulky-verified-only").into());
    }
    Ok(())
}

async fn render_address(
    ui: &Ui,
    t: &CurrentTenant,
    user: &CurrentUser,
    typed: &TypedAddress,
    errors: &[FieldError],
) -> Result<Response> {
    let cfg = settings(t).await?;
    let list = store::streets(&t.db).await?;
    // The map only with a tile server the municipality configured, whose
    // origin the page's CSP then allows for images (and nothing else).
    let map = cfg
        .map
        .as_ref()
        .and_then(|m| Some((m, m.origin()?)))
        .and_then(|(m, origin)| {
            Some((
                context! {
                    tiles => m.tiles.clone(),
                    attribution => m.attribution.clone(),
                    lat => m.lat,
                    lon => m.lon,
                    zoom => m.zoom,
                    areas => cfg.areas.iter().filter(|a| !a.polygon.is_empty()).map(|a| serde_json::json!({"name": a.name, "polygon": a.polygon})).collect::<Vec<_>>(),
                    css => dimos_web::assets::url("leaflet.css")?,
                    leaflet => dimos_web::assets::url("leaflet.js")?,
                    script => dimos_web::assets::url("dimos-map.js")?,
                },
                origin,
            ))
        });
    let html = ui.render(
        "bulky/address.html",
        context! {
            map => map.as_ref().map(|(m, _)| m.clone()),
            csrf => user.csrf.clone(),
            v => typed,
            streets => if list.len() <= SUGGESTED_STREETS { list.iter().map(|s| context! { name => s.name.clone(), label => format!("{} · {}", unaccented(&s.name), s.postcode) }).collect::<Vec<_>>() } else { vec![] },
            has_list => !list.is_empty(),
            areas => cfg.areas.iter().map(|a| context! { id => a.id.clone(), name => a.name.clone() }).collect::<Vec<_>>(),
            errors => {
                let mut m = ui.error_map(errors);
                for f in ["street", "number", "postcode", "area", "map"] {
                    m.entry(f.to_owned()).or_default();
                }
                m
            },
            summary => ui.error_list(errors),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = dimos_web::error::rendered_page(status, html);
    if let Some((_, origin)) = map {
        res.headers_mut().insert(
            axum::http::header::CONTENT_SECURITY_POLICY,
            ui.state.csp_with_images(&[origin]),
        );
    }
    Ok(res)
}

/// Step 1: the address.
pub async fn address_form(ui: Ui, t: CurrentTenant, user: CurrentUser) -> Result<Response> {
    may_ask(&settings(&t).await?, &user)?;
    render_address(&ui, &t, &user, &TypedAddress::default(), &[]).await
}

#[derive(Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    street: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

impl AddressForm {
    fn typed(self) -> TypedAddress {
        TypedAddress {
            street: self.street,
            number: self.number,
            postcode: self.postcode,
            area: self.area,
            lat: self.lat,
            lon: self.lon,
        }
    }
}

/// What step 2 shows again after errors.
#[derive(Default, serde::Serialize)]
struct Details {
    quantities: BTreeMap<String, String>,
    description: String,
    contact_phone: String,
    day: String,
}

#[allow(clippy::too_many_arguments)] // the page's parts, each from elsewhere
async fn render_details(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    user: &CurrentUser,
    typed: &TypedAddress,
    address: &filing::Address,
    v: &Details,
    kept: &[dimos_web::uploads::Kept],
    submission: Uuid,
    errors: &[FieldError],
) -> Result<Response> {
    let cfg = settings(t).await?;
    let area = cfg.area(&address.area).ok_or(Error::NotFound)?;
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    let booked = store::booked(&t.db, &area.id, today).await?;
    let days = schedule::offered(today, &BulkyConfig::calendar(area), &cfg.rules(), &booked);
    let chosen = if v.day.is_empty() {
        days.first().map(ToString::to_string).unwrap_or_default()
    } else {
        v.day.clone()
    };
    let mut messages = ui.error_map(errors);
    for f in ["day", "items", "description", "contact_phone", "doc-photo"] {
        messages.entry(f.to_owned()).or_default();
    }
    let mut quantities = v.quantities.clone();
    for i in &cfg.items {
        messages.entry(format!("item-{}", i.id)).or_default();
        quantities.entry(i.id.clone()).or_default();
    }
    let html = ui.render(
        "bulky/details.html",
        context! {
            csrf => user.csrf.clone(),
            submission,
            typed,
            address => format!("{} {}, {}", address.street, address.number, address.postcode),
            area => area.name.clone(),
            items => item_views(ui, &cfg),
            v,
            quantities,
            days => days.iter().take(12).map(|d| context! { value => d.to_string(), label => day_label(ui, *d) }).collect::<Vec<_>>(),
            chosen,
            max_items => cfg.max_items,
            kept => kept.iter().find(|k| k.kind == "photo").map(|k| context! { id => k.id, name => k.name.clone() }),
            max_mb => state.config().storage.max_upload_bytes / 1_048_576,
            errors => messages,
            summary => ui.error_list(errors),
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

/// Step 2: the address checked, then the items, the day and a photo.
pub async fn details(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    user: CurrentUser,
    Posted(form): Posted<AddressForm>,
) -> Result<Response> {
    let cfg = settings(&t).await?;
    may_ask(&cfg, &user)?;
    let typed = form.typed();
    let list = store::streets(&t.db).await?;
    match filing::address(&cfg, &list, &typed) {
        Err(errors) => render_address(&ui, &t, &user, &typed, &errors).await,
        Ok(a) => {
            let v = Details {
                contact_phone: user.account.phone.clone().unwrap_or_default(),
                ..Details::default()
            };
            render_details(
                &state,
                &ui,
                &t,
                &user,
                &typed,
                &a,
                &v,
                &[],
                Uuid::now_v7(),
                &[],
            )
            .await
        }
    }
}

/// Sends the request: checked again whole, then booked (see
/// [`filing::book`]); the citizen lands on the case page.
pub async fn submit(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    user: CurrentUser,
    form: axum::extract::Multipart,
) -> Result<Response> {
    let cfg = settings(&t).await?;
    may_ask(&cfg, &user)?;
    let form = dimos_web::uploads::receive_form(&state, &user, form, &["photo"]).await?;
    let mut typed = TypedAddress::default();
    let mut v = Details::default();
    let mut pairs = vec![];
    for (name, value) in &form.fields {
        match name.as_str() {
            "street" => typed.street = value.clone(),
            "number" => typed.number = value.clone(),
            "postcode" => typed.postcode = value.clone(),
            "area" => typed.area = value.clone(),
            "lat" => typed.lat = value.clone(),
            "lon" => typed.lon = value.clone(),
            "description" => v.description = value.trim().to_owned(),
            "contact_phone" => v.contact_phone = value.trim().to_owned(),
            "day" => v.day = value.clone(),
            n => {
                if let Some(item) = n.strip_prefix("item-")
                    && cfg.items.iter().any(|i| i.id == item)
                {
                    v.quantities.insert(item.to_owned(), value.clone());
                    pairs.push((item.to_owned(), value.clone()));
                }
            }
        }
    }
    let list = store::streets(&t.db).await?;
    let address = match filing::address(&cfg, &list, &typed) {
        Ok(a) => a,
        // The street list changed meanwhile: back to the address.
        Err(errors) => return render_address(&ui, &t, &user, &typed, &errors).await,
    };
    let actor = dimos_web::people::citizen_actor(&user);
    let kept = form.kept(&t, &actor).await?;
    let mut form = form;
    let mut errors = std::mem::take(&mut form.errors);
    let key = form.submission_key();
    if key.is_none() {
        errors.push(FieldError::new("_submission", "form-expired"));
    }
    let items = filing::items(&pairs).unwrap_or_else(|e| {
        errors.extend(e);
        vec![]
    });
    let day = filing::parse_day(&v.day);
    if day.is_none() {
        errors.push(FieldError::new("day", "required"));
    }
    if v.description.chars().count() > 1000
        || v.description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        errors.push(FieldError::new("description", "too-long").with_detail("1000"));
    }
    let phone = dimos_kernel::greek::Mobile::parse(&v.contact_phone)
        .map(|m| m.as_str().to_owned())
        .or_else(|| {
            dimos_kernel::greek::Landline::parse(&v.contact_phone).map(|l| l.as_str().to_owned())
        });
    if phone.is_none() {
        errors.push(FieldError::new(
            "contact_phone",
            if v.contact_phone.is_empty() {
                "required"
            } else {
                "bulky-phone"
            },
        ));
    }
    let outcome = match (day, phone) {
        (Some(day), Some(phone)) if errors.is_empty() => {
            let b = Booking {
                applicant: user.acting_for().0,
                applicant_name: user.acting_for_name(),
                filed_by: user.filed_by(),
                channel: "web",
                address: address.clone(),
                day,
                items,
                description: v.description.clone(),
                contact_phone: phone,
            };
            // The rules first: a refused form keeps its photo.
            match filing::precheck(&state, &t, &cfg, &b).await? {
                Err(errors) => Err(errors),
                Ok(_) => {
                    let files = std::mem::take(&mut form.files);
                    filing::book(&state, &t, &cfg, &actor, b, key, files, kept.clone()).await?
                }
            }
        }
        _ => Err(errors),
    };
    match outcome {
        Ok(started) => {
            Ok(Redirect::to(&format!("/cases/{}?done=submitted", started.case_id)).into_response())
        }
        Err(errors) => {
            // The photo waits for the next try.
            let kept = form.keep_files(&state, &t, &actor, kept).await?;
            render_details(
                &state,
                &ui,
                &t,
                &user,
                &typed,
                &address,
                &v,
                &kept,
                key.unwrap_or_else(Uuid::now_v7),
                &errors,
            )
            .await
        }
    }
}
