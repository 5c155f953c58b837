//! What a family's application looks like, line by line (shared by the
//! parent's page and the committee's), and the committee's review: each
//! claimed line accepted or rejected with a reason, the points recomputed,
//! the review task completed, or documents asked for through the case.

use crate::application::Decision;
use crate::applications::{self, Row};
use crate::scoring::{LineStatus, Review, score};
use crate::{PROCESS, catalogue, config};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dimos_kernel::{Error, FieldError};
use dimos_web::access::Authorized;
use dimos_web::auth::{Posted, record_in};
use dimos_web::extract::Peer;
use dimos_web::people::StaffMember;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use dimos_workflow::{CaseId, TaskId, query};
use minijinja::{Value as Ctx, context};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

pub(crate) use crate::ReviewApplications;

/// The application as both the parent and the committee read it.
pub(crate) async fn context_of(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    row: &Row,
) -> Result<Ctx> {
    let cfg = config(t).await?;
    let def = state.workflow().effective(&t.db, PROCESS).await?;
    let stations = catalogue::stations(&t.db).await?;
    let Some(a) = row.application.as_ref().map(|a| &a.0) else {
        return Err(Error::NotFound.into());
    };
    let decisions = &row.decisions.0;
    let s = score(&cfg.rules, &a.claims(decisions));
    let doc_label = |id: &String| {
        def.documents
            .iter()
            .find(|d| &d.id == id)
            .map_or_else(|| id.clone(), |d| d.label.get(ui.lang).to_owned())
    };
    let lines: Vec<Ctx> = s
        .lines
        .iter()
        .map(|l| {
            let label = match l.id.as_str() {
                "large-family" => ui.state.translator().t(
                    ui.lang,
                    "nurseries-line-large-family",
                    &[("children", a.family_children.to_string())],
                ),
                "income" => ui.state.translator().t(
                    ui.lang,
                    "nurseries-line-income",
                    &[("income", euros(a.income_euros))],
                ),
                id => cfg
                    .rules
                    .criteria
                    .iter()
                    .find(|c| c.id == id)
                    .map_or_else(|| id.to_owned(), |c| c.label.get(ui.lang).to_owned()),
            };
            let (status, note) = match &l.status {
                LineStatus::Counted => ("counted", String::new()),
                LineStatus::Provisional => ("provisional", String::new()),
                LineStatus::Rejected { reason } => ("rejected", reason.clone()),
                LineStatus::Outranked { by } => (
                    "outranked",
                    cfg.rules
                        .criteria
                        .iter()
                        .find(|c| &c.id == by)
                        .map_or_else(|| by.clone(), |c| c.label.get(ui.lang).to_owned()),
                ),
            };
            context! {
                id => l.id.clone(), label, points => l.points, status, note,
                counts => l.counts(),
                documents => l.documents.iter().map(doc_label).collect::<Vec<_>>(),
                review => decisions.get(&l.id).map(|d| match d.review { Review::Accepted => "accepted", Review::Rejected => "rejected", Review::Pending => "" }).unwrap_or(""),
                reason => decisions.get(&l.id).map(|d| d.reason.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(context! {
        total => s.total,
        lines,
        parent => a.parent_name.clone(),
        together => a.together,
        children => a.children.iter().map(|c| context! {
            name => c.name.clone(), birth => crate::date(c.birth),
            group => cfg.age_groups.iter().find(|g| g.id == c.group).map_or_else(|| c.group.clone(), |g| g.label.get(ui.lang).to_owned()),
            reenrolment => c.reenrolment,
        }).collect::<Vec<_>>(),
        stations => a.preferences.iter().map(|id| stations.iter().find(|s| s.id == *id).map_or_else(String::new, |s| s.name.clone())).collect::<Vec<_>>(),
    })
}

/// The open review task of an application's case.
async fn review_task(t: &CurrentTenant, case: Uuid) -> Result<Option<query::TaskRow>> {
    Ok(query::tasks_of_case(&t.db, CaseId(case))
        .await?
        .into_iter()
        .find(|x| x.status == "open" && x.step == "review"))
}

async fn render_review(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    who: &StaffMember,
    row: &Row,
    errors: &[FieldError],
    saved: bool,
) -> Result<Response> {
    let case = crate::apply::case_of(row)?;
    let cx = context_of(state, ui, t, row).await?;
    let cfg = config(t).await?;
    let lines = match row.application.as_ref() {
        Some(a) => score(&cfg.rules, &a.0.claims(&row.decisions.0)).lines,
        None => vec![],
    };
    let fields: Vec<String> = lines
        .iter()
        .map(|l| format!("reason-{}", l.id))
        .chain(["comment".to_owned()])
        .collect();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let (summary, messages) = crate::messages(ui, errors, &refs);
    let open = review_task(t, case).await?.is_some();
    let html = ui.render(
        "nurseries/review.html",
        context! {
            app => cx, case_id => case, protocol => row.protocol.clone(), staff => true,
            csrf => who.user.csrf.clone(), open, summary, errors => messages, saved,
        },
    )?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(dimos_web::error::rendered_page(status, html))
}

async fn load(t: &CurrentTenant, case: Uuid) -> Result<Row> {
    Ok(applications::of_case(&t.db, case)
        .await?
        .ok_or(Error::NotFound)?)
}

pub(crate) async fn review_page(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    who: StaffMember,
    Path(case): Path<Uuid>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<Response> {
    let row = load(&t, case).await?;
    render_review(&state, &ui, &t, &who, &row, &[], q.contains_key("saved")).await
}

// Each argument is an extractor: the tenant, the permission, the person.
#[allow(clippy::too_many_arguments)]
/// Saves the committee's decisions; `finish` completes the review, `ask`
/// sends the case back to the parent for documents with the comment.
pub(crate) async fn review(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    _may: Authorized<ReviewApplications>,
    who: StaffMember,
    peer: Peer,
    Path(case): Path<Uuid>,
    Posted(f): Posted<HashMap<String, String>>,
) -> Result<Response> {
    let mut row = load(&t, case).await?;
    // After the check, decisions may still be corrected (an upheld
    // objection); finishing or asking needs the open task.
    let task = review_task(&t, case).await?;
    let cfg = config(&t).await?;
    let Some(a) = row.application.as_ref().map(|a| a.0.clone()) else {
        return Err(Error::NotFound.into());
    };
    let lines = score(&cfg.rules, &a.claims(&BTreeMap::new())).lines;
    let mut decisions = BTreeMap::new();
    let mut errors = vec![];
    for l in &lines {
        let review = match f.get(&format!("review-{}", l.id)).map(String::as_str) {
            Some("accepted") => Review::Accepted,
            Some("rejected") => Review::Rejected,
            _ => Review::Pending,
        };
        let reason = f
            .get(&format!("reason-{}", l.id))
            .map_or("", |r| r.trim())
            .to_owned();
        if review == Review::Rejected && reason.is_empty() {
            errors.push(FieldError::new(
                format!("reason-{}", l.id),
                "nursery-reason-required",
            ));
        }
        if reason.chars().count() > 500 {
            errors.push(FieldError::new(format!("reason-{}", l.id), "too-long").with_detail("500"));
        }
        if review != Review::Pending {
            decisions.insert(l.id.clone(), Decision { review, reason });
        }
    }
    let action = f.get("action").map_or("", String::as_str);
    let comment = f.get("comment").map_or("", |c| c.trim()).to_owned();
    if action == "ask" && comment.is_empty() {
        errors.push(FieldError::new("comment", "required"));
    }
    if action == "finish" && lines.iter().any(|l| !decisions.contains_key(&l.id)) {
        errors.push(FieldError::new("comment", "nursery-review-incomplete"));
    }
    row.decisions.0 = decisions.clone();
    if !errors.is_empty() {
        return render_review(&state, &ui, &t, &who, &row, &errors, false).await;
    }
    let total = score(&cfg.rules, &a.claims(&decisions)).total;
    let now = state.workflow().now();
    let outcome = match action {
        "finish" => Some("reviewed"),
        "ask" => Some("incomplete"),
        _ => None,
    };
    let task = match (outcome, task) {
        (None, _) => None,
        (Some(_), None) => return Err(Error::Conflict("task-closed").into()),
        (Some(_), Some(task)) => {
            // Taking the task is not the decision: it may stand alone.
            if task.assignee.is_none() {
                state
                    .workflow()
                    .claim(&t.db, TaskId(task.id), &who.staff)
                    .await?;
            }
            Some(task)
        }
    };
    // The decisions, their audit entry and (finishing or asking) the
    // case's next step: one transaction.
    let mut tx = t.db.begin().await?;
    applications::review(
        &mut tx,
        &t.db,
        row.id,
        &decisions,
        i32::try_from(total).unwrap_or(i32::MAX),
        now,
    )
    .await?;
    record_in(
        &mut tx,
        &t,
        who.user
            .audit(peer, "nursery_application_reviewed")
            .record(format!("case:{case}"))
            .detail(json!({"decisions": decisions, "points": total})),
    )
    .await?;
    let (Some(outcome), Some(task)) = (outcome, task) else {
        tx.commit().await?;
        return Ok(
            Redirect::to(&format!("/nurseries/applications/{case}/review?saved=1")).into_response(),
        );
    };
    state
        .workflow()
        .complete_tx(
            &mut tx,
            &t.db,
            TaskId(task.id),
            &who.staff,
            outcome,
            &BTreeMap::new(),
            &comment,
        )
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/staff/cases/{case}")).into_response())
}

/// Euros the Greek way: `18.500`.
pub(crate) fn euros(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn euros_are_grouped_by_thousands() {
        assert_eq!(super::euros(0), "0");
        assert_eq!(super::euros(999), "999");
        assert_eq!(super::euros(18_500), "18.500");
        assert_eq!(super::euros(1_000_000), "1.000.000");
    }
}
