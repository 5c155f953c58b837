//! Service reports for heads, the mayor and the municipal admin: per
//! service, cases by stage and result, handling times, overdue work; per
//! queue, open and overdue tasks. The same figures as CSV for a spreadsheet.

use super::step_name;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::Duration;
use dimos_kernel::Error;
use dimos_web::access::{Authorized, ReadReports};
use dimos_web::error::Result;
use dimos_web::extract::CurrentTenant;
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use dimos_workflow::query;
use dimos_workflow::stats::{self, ServiceStats};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    days: Option<String>,
}

fn period(q: &ReportQuery) -> i64 {
    q.days
        .as_deref()
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| (1..=3660).contains(d))
        .unwrap_or(365)
}

struct Report {
    services: Vec<(String, ServiceStats)>,
    queues: Vec<(String, u64, u64)>,
}

async fn build(state: &AppState, tenant: &CurrentTenant, ui: &Ui, days: i64) -> Result<Report> {
    let engine = state.workflow();
    let now = engine.now();
    let cases = query::cases_since(&tenant.db, now - Duration::days(days)).await?;
    let services = stats::services(&cases, now)
        .into_iter()
        .map(|s| {
            let name = engine
                .shipped(&s.process)
                .map_or_else(|_| s.process.clone(), |d| d.name.get(ui.lang).to_owned());
            (name, s)
        })
        .collect();
    let mut queues: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (_, due, kind, name) in query::open_task_queues(&tenant.db).await? {
        let label = if kind == "role" {
            ui.t(&format!("role-{name}"))
        } else {
            name
        };
        let q = queues.entry(label).or_default();
        q.0 += 1;
        if due.is_some_and(|d| d < now) {
            q.1 += 1;
        }
    }
    Ok(Report {
        services,
        queues: queues.into_iter().map(|(k, (o, d))| (k, o, d)).collect(),
    })
}

pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    _who: Authorized<ReadReports>,
    Query(q): Query<ReportQuery>,
) -> Result<Html<String>> {
    let days = period(&q);
    let r = build(&state, &tenant, &ui, days).await?;
    let engine = state.workflow();
    let services: Vec<_> = r
        .services
        .iter()
        .map(|(name, s)| {
            let def = engine.shipped(&s.process).ok();
            context! {
                name, s,
                steps => s.by_step.iter().map(|(step, n)| context! {
                    name => def.map_or_else(|| step.clone(), |d| step_name(d, step, ui.lang)), n,
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let queues: Vec<_> = r
        .queues
        .iter()
        .map(|(name, open, overdue)| context! { name, open, overdue })
        .collect();
    ui.render("staff/reports.html", context! { services, queues, days })
}

pub async fn csv(
    State(state): State<AppState>,
    ui: Ui,
    tenant: CurrentTenant,
    _who: Authorized<ReadReports>,
    Query(q): Query<ReportQuery>,
) -> Result<Response> {
    let r = build(&state, &tenant, &ui, period(&q)).await?;
    let mut w = csv::Writer::from_writer(vec![]);
    let header = [
        "report-service",
        "report-total",
        "report-active",
        "report-waiting",
        "report-approved",
        "report-rejected",
        "report-withdrawn",
        "report-overdue",
        "report-avg-days",
        "report-p90-days",
    ]
    .map(|k| ui.t(k));
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let rows = std::iter::once(header.to_vec()).chain(r.services.iter().map(|(name, s)| {
        vec![
            name.clone(),
            s.total.to_string(),
            s.active.to_string(),
            s.waiting.to_string(),
            s.approved.to_string(),
            s.rejected.to_string(),
            s.withdrawn.to_string(),
            s.overdue.to_string(),
            fmt(s.avg_days),
            fmt(s.p90_days),
        ]
    }));
    for row in rows {
        w.write_record(&row).map_err(Error::internal)?;
    }
    let body = w.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    // A byte-order mark so spreadsheet programs read the Greek as UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(body);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"reports.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
