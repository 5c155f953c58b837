//! Reminding holders before their permit expires: issuing (or renewing) a
//! permit schedules a job for `expiry_notice_days` before the end of its
//! validity; the job sends the `expiring` message through the case, unless
//! the permit was revoked or renewed since.

use crate::register;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use dimos_db::{TenantDb, TenantTx};
use dimos_kernel::Error;
use dimos_workflow::jobs::{Job, JobHandler};
use dimos_workflow::{Actor, CaseId, Engine};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

pub const KIND: &str = "parking.expiry-notice";

/// 09:00 in Athens, `days` before `until`.
pub fn notice_at(until: NaiveDate, days: u32) -> DateTime<Utc> {
    let day = until - chrono::Days::new(u64::from(days));
    let local = day.and_hms_opt(9, 0, 0).unwrap_or_default();
    // Athens is UTC+2 or +3; a reminder is a morning message either way.
    Utc.from_utc_datetime(&local) - chrono::Duration::hours(2)
}

/// Schedules the reminder for a permit, replacing any earlier one.
pub async fn schedule(
    tx: &mut TenantTx<'_>,
    tdb: &TenantDb,
    permit: Uuid,
    until: NaiveDate,
    days: u32,
) -> Result<(), Error> {
    dimos_workflow::jobs::cancel_for(tx, tdb, &[permit]).await?;
    dimos_workflow::jobs::enqueue(
        tx,
        tdb,
        KIND,
        Some(permit),
        notice_at(until, days),
        json!({ "permit": permit, "valid_until": until }),
    )
    .await?;
    Ok(())
}

pub struct ExpiryNotice {
    pub engine: Arc<Engine>,
}

#[async_trait::async_trait]
impl JobHandler for ExpiryNotice {
    async fn run(&self, tx: &mut TenantTx<'_>, tdb: &TenantDb, job: &Job) -> Result<(), Error> {
        let payload = &job.payload.0;
        let Some(id) = payload
            .get("permit")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let Some(p) = register::get_tx(tx, tdb, id).await? else {
            return Ok(());
        };
        let scheduled_for = payload
            .get("valid_until")
            .and_then(|v| serde_json::from_value::<NaiveDate>(v.clone()).ok());
        // Revoked, or renewed since this reminder was planned: nothing to say.
        if p.revoked_at.is_some() || scheduled_for != Some(p.valid_until) {
            return Ok(());
        }
        let until = Utc.from_utc_datetime(&p.valid_until.and_hms_opt(12, 0, 0).unwrap_or_default());
        self.engine
            .record_event_tx(
                tx,
                tdb,
                CaseId(p.case_id),
                "notify.expiring",
                &Actor::system(),
                true,
                json!({ "until": until, "card": p.card_number, "path": "/parking/permits" }),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reminder_comes_in_the_morning_the_set_number_of_days_before() {
        let until = NaiveDate::from_ymd_opt(2029, 11, 23).unwrap();
        let at = notice_at(until, 60);
        assert_eq!(at.to_rfc3339(), "2029-09-24T07:00:00+00:00");
        assert_eq!(
            dimos_kernel::clock::local_date(at),
            NaiveDate::from_ymd_opt(2029, 9, 24).unwrap()
        );
    }
}
