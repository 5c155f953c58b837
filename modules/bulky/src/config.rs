//! What a municipality sets for pickups: its collection areas (days and
//! daily capacity), the item list with fees, lead time, horizon, limits
//! and closed days. The operator sets defaults in the tenant definition
//! (`[modules.bulky]`); the municipal admin overrides them.

use crate::schedule::{Calendar, Item, Rules};
use chrono::{NaiveDate, Weekday};
use dimos_kernel::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BulkyConfig {
    /// The earliest pickup is this many days after the request (1–30).
    pub lead_days: u32,
    /// Days ahead a pickup can be booked (lead time–120).
    pub horizon_days: u32,
    /// Requests one address may have in a week (1–7).
    pub per_week: u32,
    /// Items one request may hold, quantities counted (1–50).
    pub max_items: u32,
    /// Only people whose identity was verified may ask (otherwise any
    /// signed-in person may).
    pub verified_only: bool,
    /// The collection areas; without a street list, people choose theirs.
    pub areas: Vec<AreaSetting>,
    /// What is collected (and what is listed as not collected).
    pub items: Vec<ItemSetting>,
    /// No collection on these days (YYYY-MM-DD), e.g. holidays.
    pub closed_days: Vec<String>,
    /// A map on the address step, from the municipality's own tile
    /// server; none by default (nothing is loaded from elsewhere).
    pub map: Option<MapSetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapSetting {
    /// Tile address with `{z}`, `{x}`, `{y}`, e.g.
    /// `https://tiles.example.gr/{z}/{x}/{y}.png` (https; http only on
    /// loopback, for tests).
    pub tiles: String,
    /// The credit the tile server's licence asks for, shown on the map.
    pub attribution: String,
    /// Where the map opens: latitude, longitude and zoom (10–19).
    pub lat: f64,
    pub lon: f64,
    pub zoom: u8,
}

impl MapSetting {
    /// The tile server's origin (for the page's CSP), if the address is
    /// acceptable.
    pub fn origin(&self) -> Option<String> {
        let probe = self
            .tiles
            .replace("{z}", "0")
            .replace("{x}", "0")
            .replace("{y}", "0");
        let u = url::Url::parse(&probe).ok()?;
        let host = u.host_str()?;
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
        // A plain name (or address): nothing that means more in a CSP
        // (`*`, `;`, `,`, quotes).
        let plain = host.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '[' | ']' | ':')
        });
        let origin = u.origin().ascii_serialization();
        let ok = (u.scheme() == "https" || (u.scheme() == "http" && loopback))
            && plain
            && u.username().is_empty()
            && u.password().is_none()
            // The placeholders in the path only: the origin is one.
            && self.tiles.starts_with(&format!("{origin}/"))
            && ["{z}", "{x}", "{y}"].iter().all(|p| self.tiles.contains(p));
        ok.then_some(origin)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaSetting {
    /// Short id (letters, digits, dashes), also the street list's area.
    pub id: String,
    pub name: String,
    /// `mon` … `sun`.
    pub weekdays: Vec<String>,
    /// Pickups a day (1–1000).
    pub capacity: u32,
    /// The area's outline as `[lat, lon]` points, where the municipality
    /// draws its areas (a pin inside it belongs to it); empty: by streets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polygon: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemSetting {
    pub id: String,
    /// The item's name in Greek and in English.
    pub el: String,
    pub en: String,
    /// Per piece, in cents (0: free).
    #[serde(default)]
    pub fee_cents: u32,
    /// Listed as not collected this way (construction debris).
    #[serde(default)]
    pub excluded: bool,
}

fn item(id: &str, el: &str, en: &str, excluded: bool) -> ItemSetting {
    ItemSetting {
        id: id.into(),
        el: el.into(),
        en: en.into(),
        fee_cents: 0,
        excluded,
    }
}

impl Default for BulkyConfig {
    fn default() -> Self {
        BulkyConfig {
            lead_days: 2,
            horizon_days: 30,
            per_week: 1,
            max_items: 10,
            verified_only: false,
            areas: vec![AreaSetting {
                id: "all".into(),
                name: "Όλος ο δήμος".into(),
                weekdays: vec!["tue".into(), "thu".into()],
                capacity: 20,
                polygon: vec![],
            }],
            items: vec![
                item("furniture", "Έπιπλο", "Piece of furniture", false),
                item("mattress", "Στρώμα", "Mattress", false),
                item(
                    "appliance",
                    "Μεγάλη ηλεκτρική συσκευή (ψυγείο, πλυντήριο)",
                    "Large appliance (fridge, washing machine)",
                    false,
                ),
                item(
                    "electronics",
                    "Μικρή ηλεκτρική ή ηλεκτρονική συσκευή",
                    "Small electrical or electronic device",
                    false,
                ),
                item(
                    "garden",
                    "Κλαδέματα (δεμένα σε δέματα)",
                    "Garden cuttings (tied in bundles)",
                    false,
                ),
                item(
                    "debris",
                    "Μπάζα και οικοδομικά υλικά",
                    "Construction debris",
                    true,
                ),
            ],
            closed_days: vec![],
            map: None,
        }
    }
}

/// `mon` … `sun`.
pub fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl dimos_web::ModuleConfig for BulkyConfig {
    fn check(&self) -> Vec<FieldError> {
        let mut e = vec![];
        let range = |e: &mut Vec<FieldError>, f: &str, v: u32, lo: u32, hi: u32| {
            if !(lo..=hi).contains(&v) {
                e.push(FieldError::new(f, "out-of-range").with_detail(format!("{lo}–{hi}")));
            }
        };
        range(&mut e, "lead_days", self.lead_days, 1, 30);
        range(
            &mut e,
            "horizon_days",
            self.horizon_days,
            self.lead_days,
            120,
        );
        range(&mut e, "per_week", self.per_week, 1, 7);
        range(&mut e, "max_items", self.max_items, 1, 50);
        if self.areas.is_empty() {
            e.push(FieldError::new("areas", "required"));
        }
        let mut seen = HashSet::new();
        for (i, a) in self.areas.iter().enumerate() {
            if !is_id(&a.id) || !seen.insert(a.id.as_str()) {
                e.push(FieldError::new(format!("areas.{i}.id"), "invalid"));
            }
            if a.name.trim().is_empty() || a.name.chars().count() > 100 {
                e.push(FieldError::new(format!("areas.{i}.name"), "invalid"));
            }
            if a.weekdays.is_empty() || a.weekdays.iter().any(|d| weekday(d).is_none()) {
                e.push(FieldError::new(format!("areas.{i}.weekdays"), "invalid"));
            }
            range(&mut e, &format!("areas.{i}.capacity"), a.capacity, 1, 1000);
            if !a.polygon.is_empty()
                && (a.polygon.len() < 3
                    || a.polygon.len() > 2000
                    || a.polygon.iter().any(|[lat, lon]| {
                        !(-90.0..=90.0).contains(lat) || !(-180.0..=180.0).contains(lon)
                    }))
            {
                e.push(FieldError::new(format!("areas.{i}.polygon"), "invalid"));
            }
        }
        let mut seen = HashSet::new();
        for (i, it) in self.items.iter().enumerate() {
            if !is_id(&it.id) || !seen.insert(it.id.as_str()) {
                e.push(FieldError::new(format!("items.{i}.id"), "invalid"));
            }
            for (f, v) in [("el", &it.el), ("en", &it.en)] {
                if v.trim().is_empty() || v.chars().count() > 100 {
                    e.push(FieldError::new(format!("items.{i}.{f}"), "invalid"));
                }
            }
            range(
                &mut e,
                &format!("items.{i}.fee_cents"),
                it.fee_cents,
                0,
                100_000,
            );
        }
        if !self.items.iter().any(|i| !i.excluded) {
            e.push(FieldError::new("items", "required"));
        }
        for (i, d) in self.closed_days.iter().enumerate() {
            if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                e.push(FieldError::new(format!("closed_days.{i}"), "invalid"));
            }
        }
        if let Some(m) = &self.map {
            if m.origin().is_none() {
                e.push(FieldError::new("map.tiles", "bulky-map-tiles"));
            }
            if m.attribution.trim().is_empty() {
                e.push(FieldError::new("map.attribution", "required"));
            } else if m.attribution.chars().count() > 200 {
                e.push(FieldError::new("map.attribution", "too-long").with_detail("200"));
            }
            if !(-90.0..=90.0).contains(&m.lat) {
                e.push(FieldError::new("map.lat", "invalid"));
            }
            if !(-180.0..=180.0).contains(&m.lon) {
                e.push(FieldError::new("map.lon", "invalid"));
            }
            range(&mut e, "map.zoom", u32::from(m.zoom), 10, 19);
        }
        e
    }
}

impl BulkyConfig {
    pub fn area(&self, id: &str) -> Option<&AreaSetting> {
        self.areas.iter().find(|a| a.id == id)
    }

    /// The area whose outline holds `p`, among those drawn.
    pub fn area_at(&self, p: crate::geo::Point) -> Option<&AreaSetting> {
        let id = crate::geo::area_of(
            self.areas
                .iter()
                .map(|a| (a.id.as_str(), a.polygon.as_slice())),
            p,
        )?;
        self.area(id)
    }

    /// Whether any area is drawn.
    pub fn has_polygons(&self) -> bool {
        self.areas.iter().any(|a| !a.polygon.is_empty())
    }

    pub fn calendar(area: &AreaSetting) -> Calendar {
        Calendar {
            days: area.weekdays.iter().filter_map(|d| weekday(d)).collect(),
            capacity: area.capacity,
        }
    }

    pub fn rules(&self) -> Rules {
        Rules {
            lead_days: self.lead_days,
            horizon_days: self.horizon_days,
            closed: self
                .closed_days
                .iter()
                .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .collect::<BTreeSet<_>>(),
            per_week: self.per_week,
            max_items: self.max_items,
        }
    }

    pub fn list(&self) -> Vec<Item> {
        self.items
            .iter()
            .map(|i| Item {
                id: i.id.clone(),
                fee_cents: i.fee_cents,
                excluded: i.excluded,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dimos_web::ModuleConfig;

    #[test]
    fn only_a_plain_tile_server_origin_reaches_the_csp() {
        let map = |tiles: &str| MapSetting {
            tiles: tiles.into(),
            attribution: "x".into(),
            lat: 0.0,
            lon: 0.0,
            zoom: 15,
        };
        assert_eq!(
            map("https://tiles.example.gr/{z}/{x}/{y}.png")
                .origin()
                .as_deref(),
            Some("https://tiles.example.gr")
        );
        assert_eq!(
            map("http://127.0.0.1:8099/{z}/{x}/{y}.png")
                .origin()
                .as_deref(),
            Some("http://127.0.0.1:8099")
        );
        for bad in [
            "http://tiles.example.gr/{z}/{x}/{y}.png",
            "https://{s}.tiles.example.gr/{z}/{x}/{y}.png",
            "https://t{z}.example.gr/{x}/{y}.png",
            "https://*/{z}/{x}/{y}.png",
            "https://a;b.example/{z}/{x}/{y}.png",
            "https://a,b.example/{z}/{x}/{y}.png",
            "https://user@tiles.example.gr/{z}/{x}/{y}.png",
            "https://tiles.example.gr/{z}/{x}.png",
            "javascript:alert(1)//{z}/{x}/{y}",
        ] {
            assert_eq!(map(bad).origin(), None, "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_valid_and_bad_settings_are_named() {
        assert!(BulkyConfig::default().check().is_empty());
        let mut c = BulkyConfig::default();
        c.areas[0].weekdays = vec!["τρι".into()];
        c.areas.push(c.areas[0].clone());
        c.items.retain(|i| i.excluded);
        c.closed_days = vec!["2026-02-30".into()];
        c.horizon_days = 1;
        let fields: Vec<String> = c.check().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "horizon_days",
                "areas.0.weekdays",
                "areas.1.id",
                "areas.1.weekdays",
                "items",
                "closed_days.0"
            ]
        );
    }
}
