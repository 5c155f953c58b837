//! One path for every request, from the web form and from Open311: the
//! address checked against the street list, the items and the day against
//! the rules, then the case, the day's place, the address's week and the
//! request's row in one transaction. The places are taken by conditional
//! updates, so no day is overbooked and no address goes over its weekly
//! limit however many ask at once; a refused place undoes everything.

use crate::config::BulkyConfig;
use crate::schedule::{self, Refusal};
use crate::store::{self, Asked, Request};
use chrono::NaiveDate;
use dimos_db::TenantTx;
use dimos_kernel::greek::{Postcode, fold};
use dimos_kernel::{Error, FieldError};
use dimos_web::uploads::{Filed, Kept, Submission};
use dimos_web::{AppState, CurrentTenant};
use dimos_workflow::{Actor, CaseId, Event, EventSink, NewCase, Started};
use serde_json::{Map, Value};
use uuid::Uuid;

/// An address as typed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TypedAddress {
    pub street: String,
    pub number: String,
    pub postcode: String,
    /// Chosen by the person where the municipality has no street list.
    pub area: String,
    /// The pin dropped on the map, if any (`lat`, `lon` as sent).
    pub lat: String,
    pub lon: String,
}

/// An address found in the municipality's list (or, without a list, as
/// given), with its collection area.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub street: String,
    pub number: String,
    pub postcode: String,
    pub area: String,
    pub point: Option<(f64, f64)>,
}

impl Address {
    /// The household the weekly limit counts: street folded, number,
    /// postcode.
    pub fn household(&self) -> String {
        format!(
            "{}|{}|{}",
            fold(&self.street),
            fold(&self.number),
            self.postcode
        )
    }
}

/// A house number: digits, then at most a letter or a dash and digits
/// (`12`, `12Α`, `12-14`).
fn house_number(s: &str) -> Option<String> {
    let s = s.trim();
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let ok = (1..=5).contains(&digits)
        && s.chars().count() <= 10
        && s.chars()
            .skip(digits)
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '-' || c == '/');
    ok.then(|| s.to_uppercase())
}

/// Checks an address: the street in the list (accents and case folded;
/// one the typed name holds is offered back), or any street in a chosen
/// area where there is no list.
pub fn address(
    cfg: &BulkyConfig,
    list: &[store::StreetRow],
    typed: &TypedAddress,
) -> Result<Address, Vec<FieldError>> {
    let mut errors = vec![];
    let number = house_number(&typed.number);
    if number.is_none() {
        errors.push(FieldError::new(
            "number",
            if typed.number.trim().is_empty() {
                "required"
            } else {
                "bulky-number"
            },
        ));
    }
    let postcode = typed.postcode.trim();
    let postcode = if postcode.is_empty() {
        None
    } else {
        match Postcode::parse(postcode) {
            Some(p) => Some(p),
            None => {
                errors.push(FieldError::new("postcode", "invalid"));
                None
            }
        }
    };
    let pin = crate::geo::pin(&typed.lat, &typed.lon).unwrap_or_else(|crate::geo::BadPin| {
        errors.push(FieldError::new("map", "bulky-pin"));
        None
    });
    // A pin inside a drawn area places an address the street list does
    // not (with a list, the street's area stands). A pin outside them all
    // is a mistake only when every area is drawn; otherwise the area comes
    // as without a pin.
    let drawn = match pin {
        Some(p) if cfg.has_polygons() => {
            let at = cfg.area_at(p);
            if at.is_none() && cfg.areas.iter().all(|a| !a.polygon.is_empty()) {
                errors.push(FieldError::new("map", "bulky-pin-outside"));
            }
            at
        }
        _ => None,
    };
    let street = typed.street.trim();
    if street.is_empty() || street.chars().count() > 100 || street.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "street",
            if street.is_empty() {
                "required"
            } else {
                "invalid"
            },
        ));
        return Err(errors);
    }
    let found = if list.is_empty() {
        let Some(area) = drawn.or_else(|| cfg.area(typed.area.trim())) else {
            errors.push(FieldError::new("area", "required"));
            return Err(errors);
        };
        let Some(pc) = postcode else {
            if !errors.iter().any(|e| e.field == "postcode") {
                errors.push(FieldError::new("postcode", "required"));
            }
            return Err(errors);
        };
        Address {
            street: street.to_owned(),
            number: String::new(),
            postcode: pc.as_str().to_owned(),
            area: area.id.clone(),
            point: pin,
        }
    } else {
        let folded = fold(street);
        let same: Vec<&store::StreetRow> = list
            .iter()
            .filter(|s| fold(&s.name) == folded)
            .filter(|s| postcode.as_ref().is_none_or(|p| s.postcode == p.as_str()))
            .collect();
        let row = match same.as_slice() {
            [one] => *one,
            [] => {
                let near: Vec<String> = list
                    .iter()
                    .filter(|s| fold(&s.name).contains(&folded))
                    .take(5)
                    .map(|s| format!("{} ({})", s.name, s.postcode))
                    .collect();
                errors.push(if near.is_empty() {
                    FieldError::new("street", "bulky-street-unknown")
                } else {
                    FieldError::new("street", "bulky-street-did-you-mean")
                        .with_detail(near.join(", "))
                });
                return Err(errors);
            }
            // The same name in two postcodes: the postcode tells which.
            _ => {
                errors.push(FieldError::new("postcode", "bulky-postcode-which"));
                return Err(errors);
            }
        };
        let Some(area) = cfg
            .areas
            .iter()
            .find(|a| a.id == row.area || fold(&a.name) == fold(&row.area))
        else {
            errors.push(FieldError::new("street", "bulky-street-no-area"));
            return Err(errors);
        };
        Address {
            street: row.name.clone(),
            number: String::new(),
            postcode: row.postcode.clone(),
            area: area.id.clone(),
            // The pin is where the items are; the street's point is near.
            point: pin.or(row.lat.zip(row.lon)),
        }
    };
    match number {
        Some(n) if errors.is_empty() => Ok(Address { number: n, ..found }),
        _ => Err(errors),
    }
}

/// A day as forms and clients write it (`YYYY-MM-DD`), within years any
/// pickup can be in: anything else is not a day here.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
}

/// The items as asked: `(item id, quantity)` with quantities of 0 left
/// out; a quantity that is not a whole number is the item's error.
pub fn items(pairs: &[(String, String)]) -> Result<Vec<Asked>, Vec<FieldError>> {
    let mut out = vec![];
    let mut errors = vec![];
    for (item, q) in pairs {
        let q = q.trim();
        if q.is_empty() {
            continue;
        }
        match q.parse::<u32>() {
            Ok(0) => {}
            Ok(n) if n <= 99 => out.push(Asked {
                item: item.clone(),
                quantity: n,
            }),
            _ => errors.push(FieldError::new(format!("item-{item}"), "invalid")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A request, checked at the edge, ready to be booked.
#[derive(Debug, Clone)]
pub struct Booking {
    pub applicant: Uuid,
    pub applicant_name: String,
    pub filed_by: Option<Uuid>,
    /// `web` or `open311`.
    pub channel: &'static str,
    pub address: Address,
    pub day: NaiveDate,
    pub items: Vec<Asked>,
    pub description: String,
    pub contact_phone: String,
}

/// A refusal of the rules as the form's (or Open311's) field errors.
pub fn refusal_errors(refused: &[Refusal]) -> Vec<FieldError> {
    refused
        .iter()
        .map(|r| match r {
            Refusal::DayNotOffered => FieldError::new("day", "bulky-day-not-offered"),
            Refusal::DayFull => FieldError::new("day", "bulky-day-full"),
            Refusal::WeeklyLimit { max } => {
                FieldError::new("day", "bulky-weekly-limit").with_detail(max.to_string())
            }
            Refusal::TooManyItems { max } => {
                FieldError::new("items", "bulky-too-many-items").with_detail(max.to_string())
            }
            Refusal::NoItems => FieldError::new("items", "bulky-no-items"),
            Refusal::UnknownItem(i) => {
                FieldError::new("items", "bulky-unknown-item").with_detail(i.clone())
            }
            Refusal::Excluded(i) => FieldError::new(format!("item-{i}"), "bulky-excluded"),
        })
        .collect()
}

/// The items in words, for the case file and the crew: `2 × Στρώμα`.
pub fn items_line(cfg: &BulkyConfig, asked: &[Asked], english: bool) -> String {
    asked
        .iter()
        .map(|a| {
            let name = cfg
                .items
                .iter()
                .find(|i| i.id == a.item)
                .map_or(a.item.as_str(), |i| if english { &i.en } else { &i.el });
            format!("{} × {name}", a.quantity)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `12,50 €`.
pub fn euros(cents: i64) -> String {
    dimos_payments::euros(cents)
}

/// What the citizen and the bank read for a pickup's fee (one text for
/// both languages: the bank's page has no language of ours).
const FEE_DESCRIPTION: &str = "Τέλος αποκομιδής ογκωδών αντικειμένων / Bulky waste pickup fee";

/// The rules alone (the day offered and with room, the items), before
/// anything is stored: a form refused here keeps its photo for the next
/// try. The counters in [`book`] still decide a race for the last place.
pub async fn precheck(
    state: &AppState,
    t: &CurrentTenant,
    cfg: &BulkyConfig,
    b: &Booking,
) -> Result<Result<u32, Vec<FieldError>>, Error> {
    let Some(area) = cfg.area(&b.address.area) else {
        return Ok(Err(vec![FieldError::new("street", "bulky-street-no-area")]));
    };
    let today = dimos_kernel::clock::local_date(state.workflow().now());
    let booked = store::booked(&t.db, &area.id, today).await?;
    let asked: Vec<(String, u32)> = b
        .items
        .iter()
        .map(|a| (a.item.clone(), a.quantity))
        .collect();
    Ok(schedule::check(
        today,
        &BulkyConfig::calendar(area),
        &cfg.rules(),
        &booked,
        b.day,
        &[],
        &asked,
        &cfg.list(),
    )
    .map_err(|refused| refusal_errors(&refused)))
}

/// Books a request: the rules first (every refusal at once), then one
/// transaction for the case, its places and its row. `key`: a repeated
/// submission gets the case the first one filed.
#[allow(clippy::too_many_arguments)] // one filing's parts, each from its edge
pub async fn book(
    state: &AppState,
    t: &CurrentTenant,
    cfg: &BulkyConfig,
    actor: &Actor,
    b: Booking,
    key: Option<Uuid>,
    files: Vec<(String, String, dimos_storage::Received)>,
    kept: Vec<Kept>,
) -> Result<Result<Started, Vec<FieldError>>, Error> {
    // A retry gets the case the first attempt filed, whatever the rules
    // would say now (the day may have filled with that very booking).
    if let Some(key) = key
        && let Some(earlier) = state
            .workflow()
            .submitted_with(&t.db, key, b.applicant, crate::PROCESS)
            .await?
    {
        return Ok(Ok(earlier));
    }
    // The household's other days are counted by its week counter below;
    // here the day and the items.
    let fee = match precheck(state, t, cfg, &b).await? {
        Ok(fee) => fee,
        Err(errors) => return Ok(Err(errors)),
    };
    let Some(area) = cfg.area(&b.address.area) else {
        return Ok(Err(vec![FieldError::new("street", "bulky-street-no-area")]));
    };
    let items = serde_json::to_string(&b.items).map_err(Error::internal)?;
    let mut data = Map::new();
    data.insert(
        "address".into(),
        format!(
            "{} {}, {}",
            b.address.street, b.address.number, b.address.postcode
        )
        .into(),
    );
    data.insert("area".into(), area.name.clone().into());
    data.insert("items".into(), items_line(cfg, &b.items, false).into());
    if !b.description.is_empty() {
        data.insert("description".into(), b.description.clone().into());
    }
    if !b.contact_phone.is_empty() {
        data.insert("contact_phone".into(), b.contact_phone.clone().into());
    }
    if fee > 0 {
        data.insert("fee".into(), euros(i64::from(fee)).into());
    }
    let new = NewCase {
        process: crate::PROCESS.into(),
        applicant: b.applicant,
        applicant_name: b.applicant_name.clone(),
        filed_by: b.filed_by,
        // The day is in the history (it may move), not in the subject.
        subject: format!("{} {}", b.address.street, b.address.number),
        data,
        attachments: 0,
    };
    let filed = dimos_web::uploads::file_case(
        state,
        t,
        actor,
        Submission {
            new,
            key,
            files,
            kept,
            // A pickup's contact phone (maybe a neighbour's) is for the
            // crew, not the person's number for messages.
            mobile: None,
        },
    )
    .await?;
    let mut pending = match filed {
        Filed::Earlier(started) => return Ok(Ok(started)),
        Filed::New(p) => p,
    };
    let case_id = pending.started.case_id.0;
    let tx = pending.tx();
    let refused = if !store::take_place(tx, &area.id, b.day, area.capacity).await? {
        Some(Refusal::DayFull)
    } else if !store::take_week(
        tx,
        &b.address.household(),
        schedule::week_of(b.day),
        cfg.per_week,
    )
    .await?
    {
        Some(Refusal::WeeklyLimit { max: cfg.per_week })
    } else {
        None
    };
    if let Some(r) = refused {
        pending.abandon().await;
        return Ok(Err(refusal_errors(&[r])));
    }
    let request = Request {
        id: Uuid::now_v7(),
        case_id,
        applicant: b.applicant,
        channel: b.channel.into(),
        area: area.id.clone(),
        day: b.day,
        street: b.address.street.clone(),
        number: b.address.number.clone(),
        postcode: b.address.postcode.clone(),
        address: b.address.household(),
        lat: b.address.point.map(|p| p.0),
        lon: b.address.point.map(|p| p.1),
        items,
        description: b.description.clone(),
        contact_name: b.applicant_name.clone(),
        contact_phone: b.contact_phone.clone(),
        fee_cents: i32::try_from(fee).unwrap_or(i32::MAX),
        status: "booked".into(),
        outcome_note: None,
        created_at: state.workflow().now(),
        closed_at: None,
        closed_by: None,
        updated_at: Some(state.workflow().now()),
    };
    store::insert(pending.tx(), &request).await?;
    if fee > 0 {
        // Paid from the case page (online where the municipality takes
        // payments, else at its cashier).
        dimos_payments::owe(
            pending.tx(),
            case_id,
            i64::from(fee),
            FEE_DESCRIPTION,
            state.workflow().now(),
        )
        .await?;
    }
    // The address's week counter is kept only as long as it counts.
    let week = schedule::week_of(b.day);
    dimos_workflow::jobs::enqueue(
        pending.tx(),
        &t.db,
        FORGET,
        Some(request.id),
        forget_at(week),
        serde_json::json!({"address": request.address, "week": week}),
    )
    .await?;
    state
        .workflow()
        .record_event_tx(
            pending.tx(),
            &t.db,
            CaseId(case_id),
            "bulky-booked",
            actor,
            true,
            serde_json::json!({"day": b.day.format("%d/%m/%Y").to_string()}),
        )
        .await?;
    Ok(Ok(pending.commit().await?))
}

/// The job that forgets an address's week counter once the week is over
/// (addresses are personal data; the counter is needed only to count).
pub const FORGET: &str = "bulky.forget-week";

/// 03:00 UTC on the Tuesday after the week.
fn forget_at(week: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    let day = week + chrono::Duration::days(8);
    chrono::DateTime::from_naive_utc_and_offset(
        day.and_hms_opt(3, 0, 0).unwrap_or_default(),
        chrono::Utc,
    )
}

pub struct ForgetWeek;

#[async_trait::async_trait]
impl dimos_workflow::jobs::JobHandler for ForgetWeek {
    async fn run(
        &self,
        tx: &mut TenantTx<'_>,
        _tdb: &dimos_db::TenantDb,
        job: &dimos_workflow::jobs::Job,
    ) -> Result<(), Error> {
        let p = &job.payload.0;
        let address = p.get("address").and_then(Value::as_str);
        let week = p
            .get("week")
            .and_then(|w| serde_json::from_value::<NaiveDate>(w.clone()).ok());
        if let (Some(address), Some(week)) = (address, week) {
            store::forget_week(tx, address, week).await?;
        }
        Ok(())
    }
}

/// Follows withdrawals of pickups: a request withdrawn before its day
/// gives its place and its week back in the withdrawal's transaction; on
/// or after the day the withdrawal is refused (the crew may be on the way).
pub struct Withdrawals;

#[async_trait::async_trait]
impl EventSink for Withdrawals {
    async fn on_event(&self, tx: &mut TenantTx<'_>, event: &Event) -> Result<(), Error> {
        if event.process != crate::PROCESS || event.kind != "withdrawn" {
            return Ok(());
        }
        let Some(r) = store::by_case_tx(tx, event.case_id.0).await? else {
            return Ok(());
        };
        if r.status != "booked" {
            return Ok(());
        }
        if dimos_kernel::clock::local_date(event.at) >= r.day {
            return Err(Error::Conflict("bulky-too-late-to-cancel"));
        }
        let actor = event
            .actor
            .map_or_else(|| "system".to_owned(), |a| format!("account:{a}"));
        if store::close(tx, r.id, "cancelled", None, &actor, event.at).await? {
            store::give_back(tx, &r, true).await?;
        }
        Ok(())
    }
}

/// The case data's value for `key`, as text.
pub fn data_str(data: &Map<String, Value>, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, pc: &str, area: &str) -> store::StreetRow {
        store::StreetRow {
            name: name.into(),
            postcode: pc.into(),
            area: area.into(),
            lat: None,
            lon: None,
        }
    }

    fn cfg() -> BulkyConfig {
        let mut c = BulkyConfig::default();
        c.areas[0].id = "kalamaki".into();
        c.areas[0].name = "Καλαμάκι".into();
        c
    }

    fn typed(street: &str, number: &str, postcode: &str) -> TypedAddress {
        TypedAddress {
            street: street.into(),
            number: number.into(),
            postcode: postcode.into(),
            ..TypedAddress::default()
        }
    }

    #[test]
    fn a_pin_places_an_address_only_where_the_streets_do_not() {
        let mut c = cfg();
        let mut south = c.areas[0].clone();
        south.id = "south".into();
        south.name = "Νότος".into();
        c.areas[0].polygon = vec![[37.0, 23.0], [37.0, 24.0], [38.0, 24.0], [38.0, 23.0]];
        c.areas.push(south);
        let pinned = |lat: &str, lon: &str, area: &str| TypedAddress {
            lat: lat.into(),
            lon: lon.into(),
            area: area.into(),
            ..typed("Οδός", "1", "17455")
        };
        // No list: inside the drawn area, that area, whatever was chosen.
        let a = address(&c, &[], &pinned("37.5", "23.5", "south")).unwrap();
        assert_eq!((a.area.as_str(), a.point), ("kalamaki", Some((37.5, 23.5))));
        // Outside it, with an area not drawn: the chosen area.
        let a = address(&c, &[], &pinned("36.0", "23.5", "south")).unwrap();
        assert_eq!(a.area, "south");
        // With a list, the street's area stands; the pin is the point.
        let list = [row("Οδός", "17455", "south")];
        let a = address(&c, &list, &pinned("37.5", "23.5", "")).unwrap();
        assert_eq!((a.area.as_str(), a.point), ("south", Some((37.5, 23.5))));
        // Every area drawn: a pin outside them all is a mistake.
        c.areas[1].polygon = vec![[36.0, 23.0], [36.0, 23.1], [36.1, 23.1]];
        let e = address(&c, &list, &pinned("10.0", "10.0", "")).unwrap_err();
        assert_eq!(e[0].field, "map");
        assert_eq!(e[0].code, "bulky-pin-outside");
        let e = address(&c, &[], &pinned("x", "1", "south")).unwrap_err();
        assert_eq!((e[0].field.as_str(), e[0].code), ("map", "bulky-pin"));
    }

    #[test]
    fn a_street_is_found_folded_and_its_area_comes_with_it() {
        let list = [
            row("Λεωφόρος Ποσειδώνος", "17455", "Καλαμάκι"),
            row("Αγίου Νικολάου", "17455", "Καλαμάκι"),
            row("Αγίου Νικολάου", "17456", "Κέντρο"),
        ];
        let a = address(&cfg(), &list, &typed("λεωφοροσ ποσειδωνος", "12α", "")).unwrap();
        assert_eq!(
            (
                a.street.as_str(),
                a.number.as_str(),
                a.postcode.as_str(),
                a.area.as_str()
            ),
            ("Λεωφόρος Ποσειδώνος", "12Α", "17455", "kalamaki")
        );
        let codes = |r: Result<Address, Vec<FieldError>>| {
            r.unwrap_err()
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            codes(address(&cfg(), &list, &typed("Ποσειδ", "1", ""))),
            [("street".to_owned(), "bulky-street-did-you-mean")]
        );
        assert_eq!(
            codes(address(&cfg(), &list, &typed("Αγίου Νικολάου", "1", ""))),
            [("postcode".to_owned(), "bulky-postcode-which")]
        );
        // The other postcode's area is not one the municipality collects.
        assert_eq!(
            codes(address(
                &cfg(),
                &list,
                &typed("Αγίου Νικολάου", "1", "17456")
            )),
            [("street".to_owned(), "bulky-street-no-area")]
        );
        assert_eq!(
            codes(address(
                &cfg(),
                &list,
                &typed("Αγίου Νικολάου", "δώδεκα", "17455")
            )),
            [("number".to_owned(), "bulky-number")]
        );
        assert_eq!(
            codes(address(&cfg(), &list, &typed("Οδός\u{0}", "", "1"))),
            [
                ("number".to_owned(), "required"),
                ("postcode".to_owned(), "invalid"),
                ("street".to_owned(), "invalid")
            ]
        );
    }

    #[test]
    fn without_a_list_the_area_is_chosen_and_the_postcode_asked() {
        let mut t = typed("Οποιαδήποτε", "3", "17455");
        assert!(address(&cfg(), &[], &t).is_err());
        t.area = "kalamaki".into();
        let a = address(&cfg(), &[], &t).unwrap();
        assert_eq!(a.household(), "οποιαδηποτε|3|17455");
    }

    #[test]
    fn quantities_are_whole_numbers_and_zero_means_none() {
        let got = items(&[
            ("mattress".into(), "2".into()),
            ("furniture".into(), "0".into()),
            ("garden".into(), String::new()),
        ])
        .unwrap();
        assert_eq!(
            got,
            [Asked {
                item: "mattress".into(),
                quantity: 2
            }]
        );
        assert!(items(&[("mattress".into(), "-1".into())]).is_err());
        assert!(items(&[("mattress".into(), "1000".into())]).is_err());
    }
}
