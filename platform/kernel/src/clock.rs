//! Time as a dependency: the workflow engine and the scheduler ask a
//! `Clock`, so tests can move time forward instead of sleeping.

use chrono::{DateTime, Duration, Utc};

/// The one reading of the system's time; everything else asks a [`Clock`].
#[allow(clippy::disallowed_methods)]
fn system_now() -> DateTime<Utc> {
    Utc::now()
}

/// The real time, for what the outside world checks against it (session
/// and sign-in expiry, a token's issue time, when an audit entry or a grant
/// was written). Dates of the domain (deadlines, due dates, validity) come
/// from the [`Clock`] the workflow engine holds, which tests move.
pub fn wall_now() -> DateTime<Utc> {
    system_now()
}
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        system_now()
    }
}

/// A clock that runs with real time plus an offset the test controls.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock::default())
    }

    pub fn advance(&self, by: Duration) {
        let mut o = self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *o += by;
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&self, at: DateTime<Utc>) {
        let mut o = self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *o = at - system_now();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let o = *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        system_now() + o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward_and_can_be_set() {
        let c = ManualClock::new();
        let before = c.now();
        c.advance(Duration::days(3));
        assert!(c.now() - before >= Duration::days(3));
        let at = DateTime::parse_from_rfc3339("2030-12-31T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        c.set(at);
        assert!((c.now() - at).num_seconds().abs() < 5);
    }
}

/// Municipal time: dates (protocol years, deadlines, receipts) are those of
/// Greece, whatever the server's time zone.
pub fn local_datetime(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    static ATHENS: std::sync::OnceLock<Option<jiff::tz::TimeZone>> = std::sync::OnceLock::new();
    let offset_secs = ATHENS
        .get_or_init(|| jiff::tz::TimeZone::get("Europe/Athens").ok())
        .as_ref()
        .and_then(|tz| {
            let ts = jiff::Timestamp::from_second(at.timestamp()).ok()?;
            Some(tz.to_offset(ts).seconds())
        })
        // The bundled database always has Athens; EET is the safe fallback.
        .unwrap_or(2 * 3600);
    (at + Duration::seconds(i64::from(offset_secs))).naive_utc()
}

pub fn local_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    local_datetime(at).date()
}

/// A date as people read it in Greece (`02/12/2026`). Accepts what forms
/// store (`2026-12-02`); anything else is shown as it was written.
pub fn display_date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso.trim(), "%Y-%m-%d") {
        Ok(d) => d.format("%d/%m/%Y").to_string(),
        Err(_) => iso.to_owned(),
    }
}

/// A date typed as day, month and year (gov.gr's three boxes) as the
/// `YYYY-MM-DD` a form's parser reads; empty when all three are empty.
/// Whatever does not make a date is kept as typed, for the parser to refuse
/// and the form to show again.
pub fn date_from_parts(day: &str, month: &str, year: &str) -> String {
    let (d, m, y) = (day.trim(), month.trim(), year.trim());
    if d.is_empty() && m.is_empty() && y.is_empty() {
        return String::new();
    }
    let pad = |s: &str| {
        if s.len() == 1 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("0{s}")
        } else {
            s.to_owned()
        }
    };
    format!("{y}-{}-{}", pad(m), pad(d))
}

#[cfg(test)]
mod local_tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn dates_typed_in_three_boxes() {
        assert_eq!(date_from_parts("5", "6", "2027"), "2027-06-05");
        assert_eq!(date_from_parts(" 20 ", "05", "2027"), "2027-05-20");
        assert_eq!(date_from_parts("", "", ""), "");
        // Kept as typed, so the parser refuses it and the form shows it.
        assert_eq!(date_from_parts("31", "2", "27"), "27-02-31");
        assert!(
            chrono::NaiveDate::parse_from_str(&date_from_parts("31", "2", "2027"), "%Y-%m-%d")
                .is_err()
        );
    }

    #[test]
    fn form_dates_read_as_greek_dates() {
        assert_eq!(display_date("2026-12-02"), "02/12/2026");
        assert_eq!(display_date(" 2026-01-31 "), "31/01/2026");
        assert_eq!(display_date("31/01/2026"), "31/01/2026");
        assert_eq!(display_date(""), "");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn greek_new_year_comes_two_hours_before_utc() {
        assert_eq!(local_date(utc("2026-12-31T21:59:59Z")).year(), 2026);
        assert_eq!(local_date(utc("2026-12-31T22:00:00Z")).year(), 2027);
        // Summer time: UTC+3.
        assert_eq!(
            local_datetime(utc("2026-07-01T21:30:00Z")).to_string(),
            "2026-07-02 00:30:00"
        );
    }
}
