//! Cases on the web: the citizen's "My applications", the staff agenda and
//! case file, the protocol book, reports, and the municipal admin's service
//! settings. The engine (`dimos_workflow`) does the work; these handlers
//! check who is asking, render, and translate.

pub mod citizen;
pub use dimos_web::people::{CaseFileReader, StaffMember, citizen_actor, staff_of};
pub mod documents;
pub mod protocol;
pub mod reports;
pub mod services;
pub mod signing;
pub mod staff;

use chrono::{DateTime, Utc};
use dimos_kernel::Locale;
use dimos_kernel::clock::local_datetime;
use dimos_web::ui::Ui;
use dimos_workflow::Definition;
use dimos_workflow::definition::Step;
use dimos_workflow::query::{CaseRow, EventRow};
use serde::Serialize;
use serde_json::Value;

pub const PER_PAGE: u64 = 20;

pub fn date(at: DateTime<Utc>) -> String {
    local_datetime(at).format("%d/%m/%Y").to_string()
}

pub fn datetime(at: DateTime<Utc>) -> String {
    local_datetime(at).format("%d/%m/%Y %H:%M").to_string()
}

pub fn tr(ui: &Ui, key: &str, args: &[(&str, String)]) -> String {
    ui.state.translator().t(ui.lang, key, args)
}

/// The label of a step for the person's language: a task's name, a wait's
/// or an end's stage.
pub fn step_name(def: &Definition, step: &str, lang: Locale) -> String {
    match def.step(step) {
        Some(Step::Task(t)) => t.name.get(lang).to_owned(),
        Some(Step::Wait(w)) => w.stage.get(lang).to_owned(),
        Some(Step::End(e)) => e.stage.get(lang).to_owned(),
        _ => step.to_owned(),
    }
}

/// What the citizen reads as the case's current stage.
pub fn stage(def: &Definition, c: &CaseRow, ui: &Ui) -> String {
    if c.result.as_deref() == Some("withdrawn") {
        return ui.t("case-result-withdrawn");
    }
    match def.step(&c.step) {
        Some(Step::Task(t)) => t.stage.get(ui.lang).to_owned(),
        Some(Step::Wait(w)) => w.stage.get(ui.lang).to_owned(),
        Some(Step::End(e)) => e.stage.get(ui.lang).to_owned(),
        _ => c.step.clone(),
    }
}

/// A case as list and detail pages show it.
#[derive(Serialize)]
pub struct CaseView {
    pub id: String,
    pub protocol: Option<String>,
    pub service: String,
    pub process: String,
    pub subject: String,
    pub applicant: String,
    pub status: String,
    pub stage: String,
    /// "citizen" while the municipality waits for the applicant, else "municipality".
    pub waiting_on: Option<&'static str>,
    pub deadline: Option<String>,
    pub submitted: String,
    pub expected: String,
    pub overdue: bool,
    pub result: Option<String>,
    pub reasoning: Option<String>,
    pub closed: Option<String>,
}

pub fn case_view(def: &Definition, c: &CaseRow, ui: &Ui, now: DateTime<Utc>) -> CaseView {
    let waiting_on = match c.status.as_str() {
        "waiting" => Some("citizen"),
        "active" => Some("municipality"),
        _ => None,
    };
    CaseView {
        id: c.id.to_string(),
        protocol: c.protocol_label(),
        service: def.name.get(ui.lang).to_owned(),
        process: c.process.clone(),
        subject: c.subject.clone(),
        applicant: c.applicant_name.clone(),
        status: c.status.clone(),
        stage: stage(def, c, ui),
        waiting_on,
        deadline: c.waiting_until.map(date),
        submitted: datetime(c.submitted_at),
        expected: date(c.due_at),
        overdue: c.status == "active" && c.due_at < now,
        result: c.result.clone(),
        reasoning: c.reasoning.clone(),
        closed: c.closed_at.map(date),
    }
}

#[derive(Serialize)]
pub struct TimelineItem {
    pub at: String,
    pub text: String,
    pub comment: Option<String>,
    pub actor: Option<String>,
    pub internal: bool,
    /// What the person filled in on the task's form (staff only).
    pub details: Vec<(String, String)>,
}

/// The history in words. Citizens get only public events, without the
/// names of the staff who handled them.
pub fn timeline(
    def: &Definition,
    events: &[EventRow],
    ui: &Ui,
    for_staff: bool,
) -> Vec<TimelineItem> {
    events
        .iter()
        .map(|e| {
            let step = step_name(def, &e.step, ui.lang);
            let p = &e.payload.0;
            let text = match e.kind.as_str() {
                "submitted" => ui.t("ev-submitted"),
                "registered" => tr(
                    ui,
                    "ev-registered",
                    &[(
                        "protocol",
                        p.get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )],
                ),
                "stage" => tr(
                    ui,
                    "ev-stage",
                    &[("stage", stage_of(def, &e.step, ui.lang))],
                ),
                "task-completed" if !for_staff => ui.t("ev-message"),
                "task-completed" => tr(
                    ui,
                    "ev-task-completed",
                    &[
                        ("task", step),
                        (
                            "outcome",
                            outcome_label(def, &e.step, e.outcome.as_deref(), ui.lang),
                        ),
                    ],
                ),
                "waiting" => tr(
                    ui,
                    "ev-waiting",
                    &[(
                        "until",
                        p.get("until")
                            .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
                            .map(date)
                            .unwrap_or_default(),
                    )],
                ),
                "document-added" | "document-signed" | "document-replaced" => tr(
                    ui,
                    &format!("ev-{}", e.kind),
                    &[(
                        "name",
                        p.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )],
                ),
                "task-claimed" | "task-released" | "task-reminder" | "task-escalated"
                | "task-overdue" | "citizen-responded" | "deadline-passed" | "approved"
                | "rejected" | "withdrawn" | "comment" => {
                    tr(ui, &format!("ev-{}", e.kind), &[("task", step)])
                }
                "task-assigned" => tr(
                    ui,
                    "ev-task-assigned",
                    &[
                        ("task", step),
                        (
                            "to",
                            p.get("to_name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        ),
                    ],
                ),
                k if k.starts_with("notify.") => {
                    tr(ui, "ev-notify", &[("event", k[7..].to_owned())])
                }
                // A module's own event, worded in its translations
                // (`ev-<kind>`, with the payload's text as arguments).
                other if ui.state.translator().has(&format!("ev-{other}")) => {
                    let args: Vec<(&str, String)> = p
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default();
                    tr(ui, &format!("ev-{other}"), &args)
                }
                other => other.to_owned(),
            };
            TimelineItem {
                at: datetime(e.at),
                text,
                comment: e.comment.clone(),
                actor: if for_staff {
                    e.actor_name.clone()
                } else {
                    None
                },
                internal: !e.public,
                details: match (for_staff, p.get("form")) {
                    (true, Some(Value::Object(form))) => form
                        .iter()
                        .map(|(k, v)| {
                            (
                                field_label(def, k, ui.lang),
                                value_words(def, k, v, ui.lang),
                            )
                        })
                        .collect(),
                    _ => vec![],
                },
            }
        })
        .collect()
}

fn stage_of(def: &Definition, step: &str, lang: Locale) -> String {
    match def.step(step) {
        Some(Step::Task(t)) => t.stage.get(lang).to_owned(),
        _ => step_name(def, step, lang),
    }
}

pub fn outcome_label(def: &Definition, step: &str, outcome: Option<&str>, lang: Locale) -> String {
    let Some(o) = outcome else {
        return String::new();
    };
    match def.step(step) {
        Some(Step::Task(t)) => t
            .outcomes
            .iter()
            .find(|x| x.id == o)
            .map_or_else(|| o.to_owned(), |x| x.label.get(lang).to_owned()),
        _ => o.to_owned(),
    }
}

pub use dimos_web::paging::{Pager, page_of, pager, position};

/// Form fields are labelled in the definition; other data keys as they are.
pub fn field_label(
    def: &dimos_workflow::Definition,
    key: &str,
    lang: dimos_kernel::Locale,
) -> String {
    def.forms
        .values()
        .flat_map(|f| f.fields.iter())
        .find(|f| f.id == key)
        .map(|f| f.label.get(lang).to_owned())
        .or_else(|| {
            def.data
                .iter()
                .find(|d| d.id() == key)
                .and_then(|d| d.label())
                .map(|l| l.get(lang).to_owned())
        })
        .unwrap_or_else(|| key.to_owned())
}

/// A case value in words: a code of a choice (a form's or a data field's
/// options) as its label, anything else as [`value_text`].
pub fn value_words(
    def: &dimos_workflow::Definition,
    key: &str,
    v: &Value,
    lang: dimos_kernel::Locale,
) -> String {
    if let Value::String(code) = v {
        let label = def
            .forms
            .values()
            .flat_map(|f| f.fields.iter())
            .filter(|f| f.id == key)
            .flat_map(|f| f.options.iter())
            .chain(
                def.data
                    .iter()
                    .filter(|d| d.id() == key)
                    .flat_map(|d| d.options().iter()),
            )
            .find(|o| o.id == *code);
        if let Some(o) = label {
            return o.label.get(lang).to_owned();
        }
    }
    value_text(v)
}

pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "✓".into(),
        Value::Bool(false) => "—".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
