//! The cleaning department's settings page: the rules (lead time, horizon,
//! limits, who may ask), the collection areas (days and daily capacity),
//! the item list (fees, what is not collected) and the closed days, in one
//! form over the operator's defaults. Parsed field by field, checked as a
//! whole (`BulkyConfig::check`), every problem shown on its input. An area
//! with pickups still booked cannot be removed.

use crate::config::{AreaSetting, BulkyConfig, ItemSetting, MapSetting};
use crate::{Schedule, settings, store};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use dimos_kernel::FieldError;
use dimos_web::access::Authorized;
use dimos_web::auth::Posted;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Empty rows offered for adding an area or an item.
const SPARE_ROWS: usize = 2;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The form as posted (checkboxes repeat or are absent).
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
            .trim()
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Rows of a table: one more than the highest index posted.
    fn rows(&self, prefix: &str) -> usize {
        self.0
            .iter()
            .filter_map(|(k, _)| {
                k.strip_prefix(prefix)?
                    .split('-')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |m| (m + 1).min(200))
    }
}

fn number(errors: &mut Vec<FieldError>, field: &str, v: &str) -> u32 {
    match v.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new(
                field,
                if v.is_empty() { "required" } else { "invalid" },
            ));
            0
        }
    }
}

/// `2,50` or `2.50` euros as cents.
fn cents(v: &str) -> Option<u32> {
    if v.is_empty() {
        return Some(0);
    }
    let v = v.replace(',', ".");
    let (whole, frac) = v.split_once('.').unwrap_or((&v, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

/// The form's field for a setting's path (`areas.1.capacity` →
/// `area-1-capacity`).
fn field_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["areas", i, f] => format!("area-{i}-{f}"),
        ["items", i, "fee_cents"] => format!("item-{i}-fee"),
        ["items", i, f] => format!("item-{i}-{f}"),
        ["closed_days", _] => "closed_days".into(),
        ["map", f] => format!("map-{f}"),
        _ => path.to_owned(),
    }
}

/// The map's fields: all empty is no map.
fn map(errors: &mut Vec<FieldError>, f: &Form) -> Option<MapSetting> {
    let fields = [
        "map-tiles",
        "map-attribution",
        "map-lat",
        "map-lon",
        "map-zoom",
    ];
    if fields.iter().all(|n| f.get(n).is_empty()) {
        return None;
    }
    let mut coordinate = |name: &str| match f.get(name).replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => {
            errors.push(FieldError::new(name, "invalid"));
            0.0
        }
    };
    let (lat, lon) = (coordinate("map-lat"), coordinate("map-lon"));
    let zoom = f.get("map-zoom").parse::<u8>().unwrap_or_else(|_| {
        errors.push(FieldError::new("map-zoom", "invalid"));
        0
    });
    Some(MapSetting {
        tiles: f.get("map-tiles").to_owned(),
        attribution: f.get("map-attribution").to_owned(),
        lat,
        lon,
        zoom,
    })
}

fn parse(f: &Form) -> std::result::Result<BulkyConfig, Vec<FieldError>> {
    let mut errors = vec![];
    // An outline that does not read is left out of the check below (an
    // empty one is valid), so it is named with whatever else is wrong.
    let mut outlines = vec![];
    let mut c = BulkyConfig {
        lead_days: number(&mut errors, "lead_days", f.get("lead_days")),
        horizon_days: number(&mut errors, "horizon_days", f.get("horizon_days")),
        per_week: number(&mut errors, "per_week", f.get("per_week")),
        max_items: number(&mut errors, "max_items", f.get("max_items")),
        verified_only: f.has("verified_only"),
        areas: vec![],
        items: vec![],
        closed_days: vec![],
        map: map(&mut errors, f),
    };
    for i in 0..f.rows("area-") {
        let id = f.get(&format!("area-{i}-id"));
        let name = f.get(&format!("area-{i}-name"));
        let capacity = f.get(&format!("area-{i}-capacity"));
        if id.is_empty() && name.is_empty() {
            continue;
        }
        c.areas.push(AreaSetting {
            id: id.to_owned(),
            name: name.to_owned(),
            weekdays: WEEKDAYS
                .iter()
                .filter(|d| f.has(&format!("area-{i}-{d}")))
                .map(|d| (*d).to_owned())
                .collect(),
            capacity: number(&mut errors, &format!("area-{i}-capacity"), capacity),
            polygon: crate::geo::parse_polygon(f.get(&format!("area-{i}-polygon"))).unwrap_or_else(
                |why| {
                    let (code, detail) = why.code();
                    let e = FieldError::new(format!("area-{i}-polygon"), code);
                    outlines.push(match detail {
                        Some(d) => e.with_detail(d),
                        None => e,
                    });
                    vec![]
                },
            ),
        });
    }
    for i in 0..f.rows("item-") {
        let id = f.get(&format!("item-{i}-id"));
        let el = f.get(&format!("item-{i}-el"));
        let en = f.get(&format!("item-{i}-en"));
        if id.is_empty() && el.is_empty() && en.is_empty() {
            continue;
        }
        let fee = f.get(&format!("item-{i}-fee"));
        let fee_cents = cents(fee).unwrap_or_else(|| {
            errors.push(FieldError::new(format!("item-{i}-fee"), "invalid"));
            0
        });
        c.items.push(ItemSetting {
            id: id.to_owned(),
            el: el.to_owned(),
            en: en.to_owned(),
            fee_cents,
            excluded: f.has(&format!("item-{i}-excluded")),
        });
    }
    for line in f
        .get("closed_days")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match NaiveDate::parse_from_str(line, "%d/%m/%Y")
            .ok()
            .filter(|d| chrono::Datelike::year(d) >= 2000 && chrono::Datelike::year(d) <= 2100)
            .or_else(|| crate::filing::parse_day(line))
            .ok_or(())
        {
            Ok(d) => c.closed_days.push(d.to_string()),
            Err(_) => {
                errors.push(FieldError::new("closed_days", "invalid").with_detail(line.to_owned()));
            }
        }
    }
    c.closed_days.sort();
    c.closed_days.dedup();
    if !errors.is_empty() {
        // The rest is checked once the numbers read.
        errors.extend(outlines);
        return Err(errors);
    }
    let mut checked: Vec<FieldError> = dimos_web::ModuleConfig::check(&c)
        .into_iter()
        .map(|mut e| {
            e.field = field_of(&e.field);
            e
        })
        .collect();
    checked.extend(outlines);
    if checked.is_empty() {
        Ok(c)
    } else {
        Err(checked)
    }
}

/// The form's values: the posted ones after errors, else the settings.
fn values(c: &BulkyConfig, posted: Option<&Form>) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    if let Some(p) = posted {
        for (k, val) in &p.0 {
            v.insert(k.clone(), val.clone());
        }
        return v;
    }
    v.insert("lead_days".into(), c.lead_days.to_string());
    v.insert("horizon_days".into(), c.horizon_days.to_string());
    v.insert("per_week".into(), c.per_week.to_string());
    v.insert("max_items".into(), c.max_items.to_string());
    if c.verified_only {
        v.insert("verified_only".into(), "on".into());
    }
    for (i, a) in c.areas.iter().enumerate() {
        v.insert(format!("area-{i}-id"), a.id.clone());
        v.insert(format!("area-{i}-name"), a.name.clone());
        v.insert(format!("area-{i}-capacity"), a.capacity.to_string());
        for d in &a.weekdays {
            v.insert(format!("area-{i}-{d}"), "on".into());
        }
        v.insert(
            format!("area-{i}-polygon"),
            a.polygon
                .iter()
                .map(|[lat, lon]| format!("{lat}, {lon}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    if let Some(m) = &c.map {
        v.insert("map-tiles".into(), m.tiles.clone());
        v.insert("map-attribution".into(), m.attribution.clone());
        v.insert("map-lat".into(), m.lat.to_string());
        v.insert("map-lon".into(), m.lon.to_string());
        v.insert("map-zoom".into(), m.zoom.to_string());
    }
    for (i, it) in c.items.iter().enumerate() {
        v.insert(format!("item-{i}-id"), it.id.clone());
        v.insert(format!("item-{i}-el"), it.el.clone());
        v.insert(format!("item-{i}-en"), it.en.clone());
        if it.fee_cents > 0 {
            v.insert(
                format!("item-{i}-fee"),
                format!("{},{:02}", it.fee_cents / 100, it.fee_cents % 100),
            );
        }
        if it.excluded {
            v.insert(format!("item-{i}-excluded"), "on".into());
        }
    }
    v.insert(
        "closed_days".into(),
        c.closed_days
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| d.format("%d/%m/%Y").to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    v
}

#[allow(clippy::too_many_arguments)] // the page's parts, each from elsewhere
fn render(
    ui: &Ui,
    csrf: &str,
    c: &BulkyConfig,
    posted: Option<&Form>,
    errors: &[FieldError],
    saved: bool,
) -> Result<Response> {
    let mut v = values(c, posted);
    let rows = |prefix: &str, count: usize| {
        let posted_rows = posted.map_or(0, |p| p.rows(prefix));
        posted_rows.max(count) + if posted.is_some() { 0 } else { SPARE_ROWS }
    };
    let areas = rows("area-", c.areas.len());
    let items = rows("item-", c.items.len());
    // Checkboxes are on when present; every text input has its value (an
    // empty one for the spare rows).
    let on: Vec<String> = v
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "verified_only"
                || k.ends_with("-excluded")
                || WEEKDAYS
                    .iter()
                    .any(|d| k.starts_with("area-") && k.ends_with(&format!("-{d}")))
        })
        .map(|(k, _)| k.clone())
        .collect();
    let mut names: Vec<String> = [
        "lead_days",
        "horizon_days",
        "per_week",
        "max_items",
        "closed_days",
        "map-tiles",
        "map-attribution",
        "map-lat",
        "map-lon",
        "map-zoom",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for i in 0..areas {
        names.extend(
            ["id", "name", "capacity", "weekdays", "polygon"]
                .iter()
                .map(|f| format!("area-{i}-{f}")),
        );
    }
    for i in 0..items {
        names.extend(
            ["id", "el", "en", "fee"]
                .iter()
                .map(|f| format!("item-{i}-{f}")),
        );
    }
    for n in &names {
        v.entry(n.clone()).or_default();
    }
    let mut messages = ui.error_map(errors);
    for n in names
        .iter()
        .chain(std::iter::once(&"areas".to_owned()))
        .chain(std::iter::once(&"items".to_owned()))
    {
        messages.entry(n.clone()).or_default();
    }
    let html = ui.render(
        "bulky/settings.html",
        context! {
            csrf,
            v,
            on,
            areas => (0..areas).collect::<Vec<_>>(),
            items => (0..items).collect::<Vec<_>>(),
            weekdays => WEEKDAYS.iter().map(|d| context! { id => *d, label => ui.t(&format!("bulky-weekday-{d}")) }).collect::<Vec<_>>(),
            errors => messages,
            summary => ui.error_list(errors),
            saved,
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
pub struct Saved {
    saved: Option<String>,
}

pub async fn page(
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Schedule>,
    Query(q): Query<Saved>,
) -> Result<Response> {
    let c = settings(&t).await?;
    render(&ui, &who.user.csrf, &c, None, &[], q.saved.is_some())
}

pub async fn save(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Schedule>,
    peer: Peer,
    Posted(fields): Posted<Vec<(String, String)>>,
) -> Result<Response> {
    let form = Form(fields);
    let current = settings(&t).await?;
    let mut parsed = parse(&form);
    // An area with pickups still booked stays (its requests need it).
    if let Ok(c) = &parsed {
        let today = dimos_kernel::clock::local_date(state.workflow().now());
        let mut kept = vec![];
        for a in &current.areas {
            if c.area(&a.id).is_none()
                && store::booked(&t.db, &a.id, today)
                    .await?
                    .values()
                    .any(|n| *n > 0)
            {
                kept.push(
                    FieldError::new("areas", "bulky-area-in-use").with_detail(a.name.clone()),
                );
            }
        }
        if !kept.is_empty() {
            parsed = Err(kept);
        }
    }
    match parsed {
        Ok(c) => {
            dimos_web::settings::save_audited(
                &t,
                &who.user,
                peer,
                crate::ID,
                &c,
                "bulky_settings_changed",
                state.workflow().now(),
            )
            .await?;
            Ok(Redirect::to("/bulky/settings?saved=1").into_response())
        }
        Err(errors) => render(&ui, &who.user.csrf, &current, Some(&form), &errors, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_what_it_shows_and_names_each_problem() {
        let c = BulkyConfig::default();
        let shown: Vec<(String, String)> = values(&c, None).into_iter().collect();
        assert_eq!(parse(&Form(shown)).unwrap(), c);
        let mut bad: Vec<(String, String)> = values(&c, None).into_iter().collect();
        bad.retain(|(k, _)| !k.starts_with("area-0-t"));
        bad.push(("item-0-fee".into(), "2,505".into()));
        bad.retain(|(k, _)| k != "closed_days");
        bad.push(("closed_days".into(), "31/02/2027".into()));
        let fields: Vec<String> = parse(&Form(bad))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["item-0-fee", "closed_days"]);
        let mut no_days: Vec<(String, String)> = values(&c, None).into_iter().collect();
        no_days.retain(|(k, _)| !k.starts_with("area-0-t"));
        let fields: Vec<String> = parse(&Form(no_days))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["area-0-weekdays"]);
        // A drawn area and a map read back as shown; a bad outline is named.
        let mut drawn = c.clone();
        drawn.areas[0].polygon = vec![[37.9, 23.7], [37.9, 23.72], [37.92, 23.72]];
        drawn.map = Some(MapSetting {
            tiles: "https://tiles.example.gr/{z}/{x}/{y}.png".into(),
            attribution: "© OpenStreetMap".into(),
            lat: 37.91,
            lon: 23.71,
            zoom: 15,
        });
        let shown: Vec<(String, String)> = values(&drawn, None).into_iter().collect();
        assert_eq!(parse(&Form(shown.clone())).unwrap(), drawn);
        let mut bad = shown;
        bad.retain(|(k, _)| k != "area-0-polygon" && k != "map-tiles");
        bad.push(("area-0-polygon".into(), "37.9, 23.7\n37.9".into()));
        bad.push((
            "map-tiles".into(),
            "http://tiles.example.gr/{z}/{x}/{y}.png".into(),
        ));
        let fields: Vec<String> = parse(&Form(bad.clone()))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["map-tiles", "area-0-polygon"]);
        bad.retain(|(k, _)| k != "area-0-polygon");
        let fields: Vec<String> = parse(&Form(bad))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["map-tiles"], "plain http off loopback");
        assert_eq!(cents("2,5"), Some(250));
        assert_eq!(cents("0.05"), Some(5));
        assert_eq!(cents("-1"), None);
    }
}
