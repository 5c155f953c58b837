//! The pages people read: "My documents" (what is charged to me, my
//! departments' queues, what I charged, what waits at the protocol office,
//! what is overdue), a record (where it is and since when, its history with
//! the time spent at each stop, its files, what I may do with it), a
//! file's download, the receipt and the search.

use crate::access::{Standing, Viewer, may_see};
use crate::store::{self, Filter, Record, RecordKey, Tab};
use crate::{EdmsConfig, HOLDER, ID, Work};
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use chrono::{DateTime, NaiveDate, Utc};
use dimos_kernel::Error;
use dimos_web::access::{Authorized, subjects};
use dimos_web::auth::CurrentUser;
use dimos_web::extract::Peer;
use dimos_web::{AppState, CurrentTenant, Result, Ui};
use minijinja::{Value, context};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

pub(crate) const PER_PAGE: u64 = 25;

/// The person as the visibility rule and the actions see them.
pub async fn viewer(state: &AppState, t: &CurrentTenant, user: &CurrentUser) -> Viewer {
    let subj = subjects(user);
    let access = state.access();
    let tenant = t.db.tenant_id();
    Viewer {
        account: user.account.id,
        departments: access.departments_of(tenant, &subj).await,
        registrar: access.allowed(tenant, &subj, "edms.register").await,
        reads_all: access.allowed(tenant, &subj, "edms.read_all").await,
        clearance: access.allowed(tenant, &subj, "edms.confidential").await,
        subjects: subj,
    }
}

/// Whether the person may charge, forward and close the documents of
/// the record's department.
pub async fn manages(state: &AppState, t: &CurrentTenant, v: &Viewer, r: &Record) -> bool {
    let charges = state
        .access()
        .allowed(t.db.tenant_id(), &v.subjects, "edms.charge")
        .await;
    charges
        && (v.reads_all
            || r.department
                .as_deref()
                .is_some_and(|d| v.departments.contains(d)))
}

/// The record, if it exists and the person may see it; otherwise 404 (a
/// confidential document is not even said to exist).
pub async fn visible(t: &CurrentTenant, v: &Viewer, id: Uuid) -> Result<Record> {
    let r = store::get(&t.db, id).await?.ok_or(Error::NotFound)?;
    let moves = store::movements(&t.db, id).await?;
    let accounts: Vec<Uuid> = moves.iter().map(|m| m.by_account).collect();
    let subjects: Vec<String> = moves.iter().filter_map(|m| m.to_subject.clone()).collect();
    let standing = Standing {
        confidential: r.confidential,
        department: r.department.as_deref(),
        holder: r.holder.as_deref(),
        registered_by: r.registered_by,
        touched_by_accounts: &accounts,
        touched_subjects: &subjects,
    };
    if may_see(v, &standing) {
        Ok(r)
    } else {
        Err(Error::NotFound.into())
    }
}

/// A form's values and per-field messages as a strict template reads
/// them: every field present (empty when not sent), and a fresh
/// `_submission` key unless the form carries a valid one.
pub(crate) fn prefill(
    ui: &Ui,
    values: &BTreeMap<String, String>,
    fields: &[&str],
    errors: &[dimos_kernel::FieldError],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut values = values.clone();
    let mut em: BTreeMap<String, String> = BTreeMap::new();
    for f in fields {
        values.entry((*f).into()).or_default();
        em.insert((*f).into(), String::new());
    }
    em.extend(ui.error_map(errors));
    if values
        .get("_submission")
        .is_none_or(|k| k.parse::<Uuid>().is_err())
    {
        values.insert("_submission".into(), Uuid::now_v7().to_string());
    }
    (values, em)
}

/// A form's fields as sent (a repeated name keeps its last value).
#[derive(Deserialize)]
pub struct Fields {
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

impl Fields {
    pub fn get(&self, k: &str) -> String {
        self.fields.get(k).cloned().unwrap_or_default()
    }
}

pub(crate) async fn settings(t: &CurrentTenant) -> Result<EdmsConfig> {
    Ok(dimos_web::settings::effective(t, ID).await?)
}

/// Department slugs to their names in the page's language.
pub(crate) async fn department_names(
    state: &AppState,
    t: &CurrentTenant,
    english: bool,
) -> Result<Vec<(String, String, Vec<String>)>> {
    Ok(state
        .access()
        .departments(&t.db)
        .await?
        .into_iter()
        .map(|(d, members)| {
            let name = if english { d.name_en } else { d.name_el };
            (d.slug, name, members)
        })
        .collect())
}

fn today(state: &AppState) -> NaiveDate {
    dimos_kernel::clock::local_date(state.workflow().now())
}

/// How long something has been where it is, as the page words it:
/// `{unit, n}` read by `t("edms-" ~ unit, n=n)` ("3 ημέρες", "5 ώρες").
pub(crate) fn how_long(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let d = to - from;
    let (unit, n) = if d.num_days() >= 1 {
        ("days", d.num_days())
    } else if d.num_hours() >= 1 {
        ("hours", d.num_hours())
    } else {
        ("minutes", d.num_minutes().max(0))
    };
    context! { unit, n }
}

fn local_time(at: DateTime<Utc>) -> String {
    dimos_kernel::clock::local_datetime(at)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

pub(crate) fn row(
    r: &Record,
    names: &[(String, String, Vec<String>)],
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Value {
    let dept = r.department.as_deref().map(|d| department_label(names, d));
    context! {
        id => r.id,
        number => r.number(),
        outgoing => r.is_outgoing(),
        subject => r.subject.clone(),
        correspondent => r.correspondent.clone(),
        received => r.received_on.format("%d/%m/%Y").to_string(),
        status => r.status.clone(),
        department => dept,
        holder => r.holder_name.clone(),
        since => how_long(r.since, now),
        deadline => r.deadline.map(|d| d.format("%d/%m/%Y").to_string()),
        overdue => r.is_open() && r.deadline.is_some_and(|d| d < today),
        confidential => r.confidential,
        urgent => r.urgent,
    }
}

pub(crate) fn department_label(names: &[(String, String, Vec<String>)], slug: &str) -> String {
    names
        .iter()
        .find(|(s, _, _)| s == slug)
        .map_or_else(|| slug.to_owned(), |(_, n, _)| n.clone())
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    tab: Option<String>,
    after: Option<String>,
    before: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// "My documents": the tabs that concern the person, each with its count,
/// and one tab's list.
pub async fn mine(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>> {
    let v = viewer(&state, &t, &who.user).await;
    let today = today(&state);
    let now = state.workflow().now();
    let holds = state
        .access()
        .allowed(t.db.tenant_id(), &v.subjects, "edms.hold")
        .await;
    let mut tabs = vec![];
    for tab in Tab::ALL {
        let relevant = match tab {
            Tab::Unrouted => v.registrar,
            Tab::Held => holds,
            Tab::Queue => !v.departments.is_empty(),
            _ => true,
        };
        if !relevant || tab == Tab::Closed {
            continue;
        }
        let f = Filter {
            tab: Some(tab),
            today: Some(today),
            ..Filter::default()
        };
        tabs.push((tab, store::count(&t.db, &v, &f).await?));
    }
    let asked = q
        .tab
        .as_deref()
        .map(|s| Tab::parse(s).ok_or(Error::NotFound));
    let current = match asked {
        Some(Ok(tab)) => tab,
        Some(Err(e)) => return Err(e.into()),
        None => tabs
            .iter()
            .find(|(_, n)| *n > 0)
            .map_or(Tab::Mine, |(tab, _)| *tab),
    };
    let at = dimos_web::paging::position::<RecordKey>(q.after.as_deref(), q.before.as_deref())?;
    let f = Filter {
        tab: Some(current),
        today: Some(today),
        ..Filter::default()
    };
    let page = store::list(
        &t.db,
        &v,
        &f,
        &at,
        dimos_web::paging::page_of(q.page.as_deref()),
        PER_PAGE,
    )
    .await?;
    let names = department_names(&state, &t, ui.lang.code() == "en").await?;
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|r| row(r, &names, now, today))
        .collect();
    let pager = dimos_web::paging::pager(&page, "/edms", &[("tab", current.id())]);
    ui.render(
        "edms/mine.html",
        context! {
            tabs => tabs.iter().map(|(tab, n)| context! { id => tab.id(), count => n }).collect::<Vec<_>>(),
            current => current.id(),
            rows,
            pager,
            registrar => v.registrar,
            done => q.done,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
    year: Option<String>,
    number: Option<String>,
    department: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    confidential: Option<String>,
    after: Option<String>,
    before: Option<String>,
    page: Option<String>,
}

/// The search: words (accents and case do not matter, each word matched as
/// a word's beginning) in subject, sender, number and the files' text,
/// with filters; only what the person may see.
pub async fn search(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>> {
    let v = viewer(&state, &t, &who.user).await;
    let text = q.q.clone().unwrap_or_default();
    let mut errors = vec![];
    let number = |field: &str, s: &Option<String>, errors: &mut Vec<dimos_kernel::FieldError>| {
        let s = s.as_deref().unwrap_or("").trim();
        if s.is_empty() {
            return None;
        }
        let n = s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000_000).contains(n));
        if n.is_none() {
            errors.push(dimos_kernel::FieldError::new(field, "invalid"));
        }
        n
    };
    let year = number("year", &q.year, &mut errors).and_then(|y| i32::try_from(y).ok());
    let num = number("number", &q.number, &mut errors);
    let date = |field: &str, s: &Option<String>, errors: &mut Vec<dimos_kernel::FieldError>| {
        let s = s.as_deref().unwrap_or("").trim();
        if s.is_empty() {
            return None;
        }
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| (2000..=2100).contains(&chrono::Datelike::year(d)));
        if d.is_none() {
            errors.push(dimos_kernel::FieldError::new(field, "date-invalid"));
        }
        d
    };
    let from = date("from", &q.from, &mut errors);
    let to = date("to", &q.to, &mut errors);
    let status = q
        .status
        .clone()
        .filter(|s| ["registered", "routed", "charged", "closed"].contains(&s.as_str()));
    let department = q.department.clone().filter(|d| !d.is_empty());
    let terms = dimos_db::search::terms(&dimos_kernel::greek::fold(&text));
    let asked = !terms.is_empty()
        || year.is_some()
        || num.is_some()
        || department.is_some()
        || status.is_some()
        || from.is_some()
        || to.is_some();
    let f = Filter {
        terms,
        year,
        number: num,
        department,
        status,
        from,
        to,
        confidential_only: q.confidential.is_some() && v.clearance,
        ..Filter::default()
    };
    let names = department_names(&state, &t, ui.lang.code() == "en").await?;
    let now = state.workflow().now();
    let today = today(&state);
    let (rows, pager) = if asked && errors.is_empty() {
        let at = dimos_web::paging::position::<RecordKey>(q.after.as_deref(), q.before.as_deref())?;
        let page = store::list(
            &t.db,
            &v,
            &f,
            &at,
            dimos_web::paging::page_of(q.page.as_deref()),
            PER_PAGE,
        )
        .await?;
        let params = [
            ("q", text.as_str()),
            ("year", q.year.as_deref().unwrap_or("")),
            ("number", q.number.as_deref().unwrap_or("")),
            ("department", q.department.as_deref().unwrap_or("")),
            ("status", q.status.as_deref().unwrap_or("")),
            ("from", q.from.as_deref().unwrap_or("")),
            ("to", q.to.as_deref().unwrap_or("")),
            ("confidential", q.confidential.as_deref().unwrap_or("")),
        ];
        let pager = dimos_web::paging::pager(&page, "/edms/search", &params);
        let rows: Vec<Value> = page
            .items
            .iter()
            .map(|r| row(r, &names, now, today))
            .collect();
        (Some(rows), Some(pager))
    } else {
        (None, None)
    };
    ui.render(
        "edms/search.html",
        context! {
            q => text,
            year => q.year,
            number => q.number,
            department => q.department,
            status => q.status,
            from => q.from,
            to => q.to,
            confidential => q.confidential.is_some(),
            clearance => v.clearance,
            departments => names.iter().map(|(s, n, _)| context! { slug => s, name => n }).collect::<Vec<_>>(),
            rows,
            pager,
            errors => ui.error_list(&errors),
        },
    )
}

/// The members of a department the head may charge a record to: people
/// known by tax id who work on documents (`edms.work`), with their names
/// where they have signed in.
pub(crate) async fn members(
    state: &AppState,
    t: &CurrentTenant,
    names: &[(String, String, Vec<String>)],
    department: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for subject in names
        .iter()
        .filter(|(s, _, _)| s == department)
        .flat_map(|(_, _, m)| m.iter())
    {
        let Some(tax) = subject.strip_prefix("taxid:") else {
            continue;
        };
        if !state
            .access()
            .allowed(t.db.tenant_id(), std::slice::from_ref(subject), "edms.work")
            .await
        {
            continue;
        }
        let name = dimos_identity::accounts::by_tax_id(&t.db, tax)
            .await?
            .first()
            .map(dimos_identity::Account::display_name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| tax.to_owned());
        out.push((subject.clone(), name));
    }
    Ok(out)
}

/// Whether someone in `department` may take a confidential document
/// (cleared, and charges its documents): otherwise it would wait there
/// unseen by all.
pub(crate) async fn cleared_in(
    state: &AppState,
    t: &CurrentTenant,
    department: &str,
) -> Result<bool> {
    let access = state.access();
    let tenant = t.db.tenant_id();
    for (slug, _, members) in department_names(state, t, false).await? {
        if slug != department {
            continue;
        }
        for m in members {
            let one = std::slice::from_ref(&m);
            if access.allowed(tenant, one, "edms.confidential").await
                && access.allowed(tenant, one, "edms.charge").await
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[derive(Deserialize, Default)]
pub struct RecordQuery {
    done: Option<String>,
}

/// A record: where it is and since when, what it is, its files, its
/// history with the time spent at each stop, and what the person may do.
pub async fn record(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<Work>,
    Path(id): Path<Uuid>,
    Query(q): Query<RecordQuery>,
) -> Result<Html<String>> {
    let v = viewer(&state, &t, &who.user).await;
    let r = visible(&t, &v, id).await?;
    record_page(
        &state,
        &ui,
        &t,
        &who.user.csrf,
        &v,
        &r,
        q.done.as_deref(),
        &[],
    )
    .await
}

#[allow(clippy::too_many_arguments)] // the page's parts, each from its caller
pub(crate) async fn record_page(
    state: &AppState,
    ui: &Ui,
    t: &CurrentTenant,
    csrf: &str,
    v: &Viewer,
    r: &Record,
    done: Option<&str>,
    errors: &[dimos_kernel::FieldError],
) -> Result<Html<String>> {
    let english = ui.lang.code() == "en";
    let names = department_names(state, t, english).await?;
    let now = state.workflow().now();
    let moves = store::movements(&t.db, r.id).await?;
    // How long it stayed at each stop: from a move to the next move (notes
    // and files are not moves); the last stop of an open record until now.
    let is_move = |k: &str| {
        !matches!(
            k,
            "noted" | "file-added" | "edited" | "held" | "released" | "published"
        )
    };
    let history: Vec<Value> = moves
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let next = moves[i + 1..]
                .iter()
                .find(|n| is_move(&n.kind))
                .map(|n| n.at);
            let stayed = match next {
                _ if !is_move(&m.kind) => None,
                Some(until) => Some(how_long(m.at, until)),
                None if r.is_open() => Some(how_long(m.at, now)),
                None => None,
            };
            context! {
                at => local_time(m.at),
                kind => m.kind.clone(),
                by => m.by_name.clone(),
                department => m.department.as_deref().map(|d| department_label(&names, d)),
                to => m.to_name.clone(),
                note => m.note.clone(),
                deadline => m.deadline.map(|d| d.format("%d/%m/%Y").to_string()),
                stayed,
            }
        })
        .collect();
    let mut files = vec![];
    for doc in store::files(&t.db, r.id).await? {
        if let Some(d) = dimos_storage::documents::held(&t.db, doc, HOLDER).await? {
            files.push(context! {
                id => d.id,
                name => d.original_name,
                size => d.size,
                kind => d.content_type,
            });
        }
    }
    let manager = manages(state, t, v, r).await;
    let holder = r
        .holder
        .as_deref()
        .is_some_and(|h| v.subjects.iter().any(|s| s == h));
    let open = r.is_open();
    let incoming = !r.is_outgoing();
    let may_route = incoming && open && ((r.status == "registered" && v.registrar) || manager);
    let may_charge = incoming && open && manager && r.department.is_some();
    let out = match store::outgoing(&t.db, r.id).await? {
        Some(o) if r.is_outgoing() => {
            let chain: Vec<Value> = o
                .chain()
                .into_iter()
                .enumerate()
                .map(|(i, (_, name))| {
                    let i = i32::try_from(i).unwrap_or(i32::MAX);
                    let state = match r.status.as_str() {
                        "draft" => "pending",
                        "approval" | "numbered" if i == o.step => "current",
                        "approval" | "numbered" if i > o.step => "pending",
                        _ => "done",
                    };
                    context! { name, state }
                })
                .collect();
            Some(context! {
                body => o.body.clone(),
                paragraphs => o.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>(),
                template => o.template.clone(),
                recipient_email => o.recipient_email.clone(),
                drafter => o.drafter_name.clone(),
                chain,
                reference => o.reference.clone(),
                may_edit => r.status == "draft" && holder,
                may_decide => holder && (r.status == "approval" || r.status == "numbered"),
                last => o.at_last_step(),
                may_dispatch => holder && r.status == "signed",
            })
        }
        _ => None,
    };
    let members = match (&r.department, may_charge) {
        (Some(d), true) => members(state, t, &names, d).await?,
        _ => vec![],
    };
    let cfg = settings(t).await?;
    let kind = if r.is_outgoing() {
        ui.t(&format!("edms-template-{}", r.kind))
    } else {
        cfg.kinds
            .iter()
            .find(|k| k.id == r.kind)
            .map_or_else(|| r.kind.clone(), |k| k.label(english).to_owned())
    };
    let today = today(state);
    let may_hold = !r.is_disposed()
        && state
            .access()
            .allowed(t.db.tenant_id(), &v.subjects, "edms.hold")
            .await;
    let rule = cfg.kind(&r.kind);
    let retention = rule.and_then(|k| {
        let years = k.retention_years?;
        Some(context! {
            years,
            disposal => k.disposal.id(),
            due => r.closed_at.map(|c| crate::retention::due_on(c, years).format("%d/%m/%Y").to_string()),
        })
    });
    let disposed = r.disposed_at.map(|at| {
        context! {
            at => local_time(at),
            how => r.disposal.clone(),
            package => r.archive_document.is_some() && v.sees_all(),
        }
    });
    let exchange = crate::exchange::rows(&t.db, r.id).await?;
    let exchange_on = crate::exchange::of(state, t).is_some();
    let publish = exchange_on
        && crate::exchange::publishable(r)
        && (holder || v.registrar)
        && crate::exchange::may_ask(&t.db, r.id, crate::exchange::System::Diavgeia).await?;
    // A send ΙΡΙΔΑ refused may be tried again (a corrected code).
    let resend = exchange_on
        && (holder || v.registrar)
        && crate::exchange::state_of(&t.db, r.id, crate::exchange::System::IridaOut)
            .await?
            .is_some_and(|s| s == "failed");
    ui.render(
        "edms/record.html",
        context! {
            retention,
            disposed,
            held => r.legal_hold,
            hold_reason => r.hold_reason.clone(),
            may_hold,
            exchange,
            exchange_on,
            publish,
            resend,
            r => row(r, &names, now, today),
            kind,
            channel => r.channel.clone(),
            correspondent_ref => r.correspondent_ref.clone(),
            attachments => r.attachments,
            personal_data => r.personal_data,
            instructions => r.instructions.clone(),
            outcome => r.outcome.clone(),
            registered_at => local_time(r.registered_at),
            closed_at => r.closed_at.map(local_time),
            files,
            history,
            may_route,
            may_charge,
            may_work => incoming && open && (holder || manager),
            may_return => incoming && open && holder && r.department.is_some(),
            may_add_file => if incoming { open && (holder || manager || v.registrar) } else { holder && r.status == "draft" },
            out,
            departments => names.iter().map(|(s, n, _)| context! { slug => s, name => n }).collect::<Vec<_>>(),
            members => members.iter().map(|(s, n)| context! { subject => s, name => n }).collect::<Vec<_>>(),
            deadline_days => cfg.deadline_days,
            registrar => v.registrar,
            done,
            csrf,
            clearance => v.clearance,
            seen => r.since.timestamp_micros().to_string(),
            key => Uuid::now_v7(),
            errors => ui.error_list(errors),
        },
    )
}

/// The receipt the protocol office hands to whoever brought the document:
/// the number, the date, the subject (a page to print).
pub async fn receipt(
    State(state): State<AppState>,
    ui: Ui,
    t: CurrentTenant,
    who: Authorized<crate::Register>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>> {
    let v = viewer(&state, &t, &who.user).await;
    let r = visible(&t, &v, id).await?;
    ui.render(
        "edms/receipt.html",
        context! {
            number => r.number(),
            registered_at => local_time(r.registered_at),
            subject => r.subject.clone(),
            correspondent => r.correspondent.clone(),
            attachments => r.attachments,
            id => r.id,
        },
    )
}

/// The archive's package of a disposed record (a ZIP of its files,
/// details and history), to the protocol office and those who read every
/// document, if they may see the record; the download is in the audit
/// trail.
pub async fn archive_package(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let v = viewer(&state, &t, &who.user).await;
    let r = visible(&t, &v, id).await?;
    let doc = r
        .archive_document
        .filter(|_| v.sees_all())
        .ok_or(Error::NotFound)?;
    let d = dimos_storage::documents::held(&t.db, doc, HOLDER)
        .await?
        .ok_or(Error::NotFound)?;
    dimos_web::auth::record(
        &state,
        &t,
        who.user
            .audit(peer, "edms_archive_downloaded")
            .record(format!("edms:{}", r.id))
            .detail(serde_json::json!({ "document": d.id })),
    )
    .await?;
    dimos_web::uploads::send(&state, &d).await
}

/// A file of a record, to whoever may see the record; the reading of a
/// file with personal data is in the audit trail.
pub async fn download(
    State(state): State<AppState>,
    t: CurrentTenant,
    who: Authorized<Work>,
    peer: Peer,
    Path((id, doc)): Path<(Uuid, Uuid)>,
) -> Result<Response> {
    let v = viewer(&state, &t, &who.user).await;
    let r = visible(&t, &v, id).await?;
    if !store::files(&t.db, r.id).await?.contains(&doc) {
        return Err(Error::NotFound.into());
    }
    let d = dimos_storage::documents::held(&t.db, doc, HOLDER)
        .await?
        .ok_or(Error::NotFound)?;
    if r.personal_data || r.confidential {
        dimos_web::auth::record(
            &state,
            &t,
            who.user
                .audit(peer, "edms_file_viewed")
                .record(format!("edms:{}", r.id))
                .detail(serde_json::json!({ "document": d.id })),
        )
        .await?;
    }
    dimos_web::uploads::send(&state, &d).await
}
