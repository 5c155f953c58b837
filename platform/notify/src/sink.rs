//! Turns the workflow's events into outbox messages for the applicant, in
//! the transaction of the change: registered (with the protocol number),
//! more information requested (with the deadline), decided, and any
//! `notify.<event>` a process emits for which a template exists (e.g.
//! `ready`, something to collect).

use crate::outbox::{self, NewNotification};
use crate::templates::{Template, Templates};
use async_trait::async_trait;
use dimos_db::TenantTx;
use dimos_kernel::{Error, Locale};
use dimos_workflow::{Event, EventSink};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// How the applicant wants to hear from the municipality.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub email_on: bool,
    pub sms_on: bool,
    pub locale: Locale,
}

#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub name: dimos_kernel::LocalizedText,
    /// `https://alimos.gov.gr` — case links start here.
    pub base_url: String,
    pub sms_enabled: bool,
}

/// What the sink needs to know from outside the workflow: people and
/// municipalities (the web layer answers from accounts and the registry).
/// Each reads through the transaction of the change that raised the
/// event: a second connection taken while that transaction holds the
/// protocol counter starves the pool under load.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The people among `accounts` who can be reached, in one read for
    /// many (a publication tells thousands of families at once).
    async fn recipients(
        &self,
        tx: &mut TenantTx<'_>,
        accounts: &[Uuid],
    ) -> Result<BTreeMap<Uuid, Recipient>, Error>;
    async fn tenant(&self, tx: &mut TenantTx<'_>) -> Result<Option<TenantInfo>, Error>;
    /// A municipality's own wording, if it changed this message.
    async fn template(
        &self,
        tx: &mut TenantTx<'_>,
        event: &str,
        lang: Locale,
    ) -> Result<Option<Template>, Error>;
    /// The service's name, in the person's language.
    fn service_name(&self, process: &str, lang: Locale) -> String;
}

pub struct NotificationSink {
    pub templates: Arc<Templates>,
    pub directory: Arc<dyn Directory>,
}

/// The template an event calls for, if any.
fn template_for(kind: &str, templates: &Templates) -> Option<String> {
    match kind {
        "registered" | "approved" | "rejected" => Some(kind.to_owned()),
        "waiting" => Some("info-requested".into()),
        k => {
            let name = k.strip_prefix("notify.")?;
            // Ends and registrations have their own messages already.
            let automatic = ["registered", "approved", "rejected", "info-requested"];
            (!automatic.contains(&name) && templates.events().any(|e| e == name))
                .then(|| name.to_owned())
        }
    }
}

/// Messages rendered before they are written.
const MESSAGES_PER_WRITE: usize = 500;

#[async_trait]
impl EventSink for NotificationSink {
    async fn on_event(&self, tx: &mut TenantTx<'_>, e: &Event) -> Result<(), Error> {
        self.on_events(tx, std::slice::from_ref(e)).await
    }

    /// The people, the municipality and its own wordings are read once
    /// for all the events, and the messages written together.
    async fn on_events(&self, tx: &mut TenantTx<'_>, events: &[Event]) -> Result<(), Error> {
        let wanted: Vec<(&Event, String)> = events
            .iter()
            .filter_map(|e| template_for(&e.kind, &self.templates).map(|t| (e, t)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let people: BTreeSet<Uuid> = wanted.iter().map(|(e, _)| e.applicant).collect();
        let people: Vec<Uuid> = people.into_iter().collect();
        let recipients = self.directory.recipients(tx, &people).await?;
        if recipients.is_empty() {
            return Ok(());
        }
        let Some(t) = self.directory.tenant(tx).await? else {
            return Ok(());
        };
        let mut own: HashMap<(String, Locale), Option<Template>> = HashMap::new();
        let mut out = vec![];
        for (e, event) in wanted {
            let Some(r) = recipients.get(&e.applicant) else {
                continue;
            };
            let k = (event.clone(), r.locale);
            if !own.contains_key(&k) {
                let found = self.directory.template(tx, &event, r.locale).await?;
                own.insert(k.clone(), found);
            }
            let template = match own.get(&k).and_then(Option::as_ref) {
                Some(own) => own,
                None => match self.templates.get(&event, r.locale) {
                    Some(t) => t,
                    None => continue,
                },
            };
            let at = e.at;
            out.extend(
                self.messages(e, event, r, &t, template)?
                    .into_iter()
                    .map(|m| (at, m)),
            );
            // Written as they come, so thousands of rendered messages are
            // never all in memory at once.
            if out.len() >= MESSAGES_PER_WRITE {
                outbox::enqueue_many(tx, &out).await?;
                out.clear();
            }
        }
        outbox::enqueue_many(tx, &out).await?;
        Ok(())
    }
}

impl NotificationSink {
    /// The messages one event sends its applicant, on each channel they
    /// chose.
    fn messages(
        &self,
        e: &Event,
        event: String,
        r: &Recipient,
        t: &TenantInfo,
        template: &Template,
    ) -> Result<Vec<NewNotification>, Error> {
        let p = &e.payload;
        let deadline = p
            .get("until")
            .and_then(|v| serde_json::from_value::<chrono::DateTime<chrono::Utc>>(v.clone()).ok())
            .map(|d| {
                dimos_kernel::clock::local_date(d)
                    .format("%d/%m/%Y")
                    .to_string()
            })
            .unwrap_or_default();
        let vars: BTreeMap<&str, String> = [
            ("citizen", e.applicant_name.clone()),
            ("municipality", t.name.get(r.locale).to_owned()),
            ("service", self.directory.service_name(&e.process, r.locale)),
            ("subject", e.subject.clone()),
            ("protocol", e.protocol.clone().unwrap_or_default()),
            // The case, unless the event points somewhere more useful (a
            // module's page, e.g. where a permit is renewed).
            (
                "link",
                match p.get("path").and_then(Value::as_str) {
                    Some(path) if path.starts_with('/') && !path.starts_with("//") => {
                        format!("{}{path}", t.base_url)
                    }
                    _ => format!("{}/cases/{}", t.base_url, e.case_id),
                },
            ),
            ("deadline", deadline),
            (
                "request",
                p.get("request")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
            (
                "reasoning",
                p.get("reasoning")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
            (
                "message",
                p.get("message")
                    .and_then(|m| {
                        m.get(if r.locale == dimos_kernel::Locale::En {
                            "en"
                        } else {
                            "el"
                        })
                    })
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let rendered = template
            .render(&vars)
            .map_err(|err| Error::internal(format!("template {event}: {err}")))?;
        let mut out = vec![];
        let key = |channel: &str| format!("case:{}:{}:{channel}", e.case_id, e.seq);
        if r.email_on
            && let Some(to) = r.email.as_deref().filter(|m| !m.is_empty())
        {
            out.push(NewNotification {
                idempotency_key: key("email"),
                case_id: Some(e.case_id.0),
                account_id: Some(e.applicant),
                event: event.clone(),
                channel: "email",
                recipient: to.to_owned(),
                locale: r.locale.code().to_owned(),
                subject: Some(rendered.subject.clone()),
                text: rendered.text.clone(),
                html: Some(rendered.html.clone()),
            });
        }
        if t.sms_enabled
            && r.sms_on
            && let Some(to) = r.mobile.as_deref().filter(|m| !m.is_empty())
        {
            out.push(NewNotification {
                idempotency_key: key("sms"),
                case_id: Some(e.case_id.0),
                account_id: Some(e.applicant),
                event,
                channel: "sms",
                recipient: to.to_owned(),
                locale: r.locale.code().to_owned(),
                subject: None,
                text: rendered.sms,
                html: None,
            });
        }
        Ok(out)
    }
}
