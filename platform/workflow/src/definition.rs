//! Process definitions as data. A module ships its processes as TOML files;
//! the engine parses and validates them at start-up, and validates a
//! municipality's overrides the same way before storing them. Problems are
//! reported as `FieldError`s whose `field` is a path into the definition
//! (`steps[review].outcomes[accept].next`), so an author sees exactly where.

use dimos_kernel::{FieldError, LocalizedText};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// `<module>.<name>`, e.g. `parking.permit`.
    pub process: String,
    /// Raised by the module author on every change; cases keep theirs.
    pub version: u32,
    pub name: LocalizedText,
    /// Expected handling time, in calendar days, shown to the citizen.
    pub lead_time_days: u32,
    /// Years a closed case's file is kept before it is cleared
    /// (`dimos_pages::retention`); the municipality may change it.
    #[serde(default = "default_retention_years")]
    pub retention_years: u32,
    #[serde(default = "default_book")]
    pub protocol_book: String,
    /// Case data fields the application provides (gateways may test them;
    /// the case file shows them with their label).
    #[serde(default)]
    pub data: Vec<DataField>,
    /// Documents the applicant is asked for.
    #[serde(default)]
    pub documents: Vec<DocumentSpec>,
    /// The module's own page for the applicant (results to read, answers
    /// to give); the case page links there. `{case}` is the case id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_page: Option<TaskAction>,
    #[serde(default)]
    pub forms: BTreeMap<String, Form>,
    /// The first step is where a case starts.
    pub steps: Vec<Step>,
}

fn default_retention_years() -> u32 {
    5
}

fn default_book() -> String {
    "general".into()
}

/// A case data field: `"name"`, or `{ id = "name", label = { el, en } }`,
/// with `options` when its values are codes that pages show in words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DataField {
    Name(String),
    Labelled {
        id: String,
        label: LocalizedText,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<Choice>,
    },
}

impl DataField {
    pub fn id(&self) -> &str {
        match self {
            DataField::Name(n) => n,
            DataField::Labelled { id, .. } => id,
        }
    }

    pub fn label(&self) -> Option<&LocalizedText> {
        match self {
            DataField::Name(_) => None,
            DataField::Labelled { label, .. } => Some(label),
        }
    }

    pub fn options(&self) -> &[Choice] {
        match self {
            DataField::Name(_) => &[],
            DataField::Labelled { options, .. } => options,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    pub id: String,
    pub label: LocalizedText,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub fields: Vec<FormField>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub id: String,
    pub kind: FieldKind,
    pub label: LocalizedText,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// Text fields: a regular expression the whole value must match
    /// (e.g. a Diavgeia ΑΔΑ), and an example shown when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

impl FormField {
    /// The pattern, anchored to the whole value.
    pub fn regex(&self) -> Option<Result<regex::Regex, regex::Error>> {
        self.pattern
            .as_ref()
            .map(|p| regex::Regex::new(&format!("^(?:{p})$")))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Text,
    Textarea,
    Number,
    Date,
    Boolean,
    Choice,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub id: String,
    pub label: LocalizedText,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Work for a person: claimed from a queue, a form, an outcome.
    Task(Task),
    /// The municipality waits for the citizen (documents, an answer).
    Wait(Wait),
    /// Chooses the next step from case data.
    Gateway(Gateway),
    /// Registers the case in the protocol book.
    Protocol(ProtocolStep),
    /// Emits an event for notifications (templates come with the event name).
    Notify(Notify),
    /// Sets case data fields.
    Compute(Compute),
    /// Calls module code registered under a name.
    Hook(Hook),
    End(End),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: String,
    pub name: LocalizedText,
    /// What the citizen sees while the case is here.
    pub stage: LocalizedText,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    pub outcomes: Vec<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_days: Option<u32>,
    /// A reminder to the assignee this many days before the due date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_days_before: Option<u32>,
    /// Overdue tasks are flagged to the heads of the handling departments.
    #[serde(default)]
    pub escalate: bool,
    /// A municipality may switch this step off; the case then goes to `skip_to`.
    #[serde(default)]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_to: Option<String>,
    /// Work done on the module's own page (issuing a permit, say): the case
    /// file links there, and the task completes only through that page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<TaskAction>>,
}

/// A module page that does a task's work. `{case}` in the path is
/// replaced by the case id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskAction {
    pub path: String,
    pub label: LocalizedText,
}

impl TaskAction {
    pub fn href(&self, case: uuid::Uuid) -> String {
        self.path.replace("{case}", &case.to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: String,
    pub label: LocalizedText,
    pub next: String,
    #[serde(default)]
    pub comment_required: bool,
    /// The comment is shown to the citizen (a request, a reasoning).
    #[serde(default)]
    pub comment_public: bool,
    /// A document this outcome issues (`<module>.<name>`, declared by the
    /// module): rendered, signed by whoever completes the task and put in
    /// the case file as the task completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    pub id: String,
    pub stage: LocalizedText,
    pub deadline_days: u32,
    pub on_response: String,
    pub on_timeout: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    pub id: String,
    pub branches: Vec<Branch>,
    pub default: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub field: String,
    pub op: Op,
    pub value: Value,
    pub next: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProtocolStep {
    pub id: String,
    pub next: String,
    #[serde(default)]
    pub personal_data: bool,
    #[serde(default)]
    pub confidential: bool,
    #[serde(default)]
    pub restricted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub id: String,
    pub event: String,
    pub next: String,
    /// What to tell the applicant, for messages that carry one
    /// (`{{ message }}` in the template, e.g. the `progress` message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<LocalizedText>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    pub id: String,
    pub set: BTreeMap<String, Value>,
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub id: String,
    pub hook: String,
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub id: String,
    pub result: EndResult,
    pub stage: LocalizedText,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EndResult {
    Approved,
    Rejected,
}

impl EndResult {
    pub fn as_str(self) -> &'static str {
        match self {
            EndResult::Approved => "approved",
            EndResult::Rejected => "rejected",
        }
    }
}

impl Step {
    pub fn id(&self) -> &str {
        match self {
            Step::Task(s) => &s.id,
            Step::Wait(s) => &s.id,
            Step::Gateway(s) => &s.id,
            Step::Protocol(s) => &s.id,
            Step::Notify(s) => &s.id,
            Step::Compute(s) => &s.id,
            Step::Hook(s) => &s.id,
            Step::End(s) => &s.id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Step::Task(_) => "task",
            Step::Wait(_) => "wait",
            Step::Gateway(_) => "gateway",
            Step::Protocol(_) => "protocol",
            Step::Notify(_) => "notify",
            Step::Compute(_) => "compute",
            Step::Hook(_) => "hook",
            Step::End(_) => "end",
        }
    }

    /// Where the case may go from here, with the path naming each edge.
    fn edges(&self) -> Vec<(String, &str)> {
        let id = self.id();
        match self {
            Step::Task(t) => {
                let mut e: Vec<(String, &str)> = t
                    .outcomes
                    .iter()
                    .map(|o| {
                        (
                            format!("steps[{id}].outcomes[{}].next", o.id),
                            o.next.as_str(),
                        )
                    })
                    .collect();
                if let Some(s) = &t.skip_to {
                    e.push((format!("steps[{id}].skip_to"), s));
                }
                e
            }
            Step::Wait(w) => vec![
                (format!("steps[{id}].on_response"), w.on_response.as_str()),
                (format!("steps[{id}].on_timeout"), w.on_timeout.as_str()),
            ],
            Step::Gateway(g) => g
                .branches
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("steps[{id}].branches[{i}].next"), b.next.as_str()))
                .chain(std::iter::once((
                    format!("steps[{id}].default"),
                    g.default.as_str(),
                )))
                .collect(),
            Step::Protocol(s) => vec![(format!("steps[{id}].next"), s.next.as_str())],
            Step::Notify(s) => vec![(format!("steps[{id}].next"), s.next.as_str())],
            Step::Compute(s) => vec![(format!("steps[{id}].next"), s.next.as_str())],
            Step::Hook(s) => vec![(format!("steps[{id}].next"), s.next.as_str())],
            Step::End(_) => vec![],
        }
    }

    fn edges_mut(&mut self) -> Vec<&mut String> {
        match self {
            Step::Task(t) => {
                let mut e: Vec<&mut String> = t.outcomes.iter_mut().map(|o| &mut o.next).collect();
                if let Some(s) = &mut t.skip_to {
                    e.push(s);
                }
                e
            }
            Step::Wait(w) => vec![&mut w.on_response, &mut w.on_timeout],
            Step::Gateway(g) => g
                .branches
                .iter_mut()
                .map(|b| &mut b.next)
                .chain(std::iter::once(&mut g.default))
                .collect(),
            Step::Protocol(s) => vec![&mut s.next],
            Step::Notify(s) => vec![&mut s.next],
            Step::Compute(s) => vec![&mut s.next],
            Step::Hook(s) => vec![&mut s.next],
            Step::End(_) => vec![],
        }
    }

    /// Steps that run without a person or the citizen.
    pub fn is_automated(&self) -> bool {
        !matches!(self, Step::Task(_) | Step::Wait(_) | Step::End(_))
    }
}

/// What the definition may refer to outside itself.
#[derive(Debug, Default, Clone)]
pub struct Known {
    pub roles: BTreeSet<String>,
    pub hooks: BTreeSet<String>,
    /// The tenant's departments; `None` when validating a module's shipped
    /// definition (departments are per municipality).
    pub departments: Option<BTreeSet<String>>,
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn push(errs: &mut Vec<FieldError>, field: String, code: &'static str, detail: &str) {
    let e = FieldError::new(field, code);
    errs.push(if detail.is_empty() {
        e
    } else {
        e.with_detail(detail.to_owned())
    });
}

fn successors(s: &Step) -> Vec<&str> {
    s.edges().into_iter().map(|(_, t)| t).collect()
}

impl Definition {
    /// Parses a TOML definition; syntax errors carry line and column.
    pub fn parse_toml(source: &str) -> Result<Definition, Vec<FieldError>> {
        toml::from_str(source).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = source[..s.start].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_default();
            vec![FieldError::new(at, "definition-syntax").with_detail(e.message().to_owned())]
        })
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id() == id)
    }

    pub fn start(&self) -> &str {
        self.steps.first().map_or("", Step::id)
    }

    pub fn form(&self, id: &str) -> Option<&Form> {
        self.forms.get(id)
    }

    /// Every problem at once, each with its path.
    pub fn validate(&self, known: &Known) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        let valid_process =
            self.process.split('.').count() == 2 && self.process.split('.').all(is_ident);
        if !valid_process {
            push(&mut errs, "process".into(), "invalid", "<module>.<name>");
        }
        if self.version == 0 {
            push(&mut errs, "version".into(), "invalid", "≥ 1");
        }
        let mut name_errs = vec![];
        self.name.validate("name", 200, &mut name_errs);
        for e in name_errs {
            push(&mut errs, e.field, e.code, "");
        }
        if !(1..=3650).contains(&self.lead_time_days) {
            push(&mut errs, "lead_time_days".into(), "invalid", "1–3650");
        }
        if !(1..=100).contains(&self.retention_years) {
            push(&mut errs, "retention_years".into(), "invalid", "1–100");
        }
        if !is_ident(&self.protocol_book) {
            push(&mut errs, "protocol_book".into(), "invalid", "");
        }
        let mut doc_ids = BTreeSet::new();
        for d in &self.documents {
            if !is_ident(&d.id) || !doc_ids.insert(d.id.as_str()) {
                push(
                    &mut errs,
                    format!("documents[{}]", d.id),
                    "duplicate-or-invalid",
                    &d.id,
                );
            }
        }

        // Forms.
        let mut form_fields: BTreeSet<&str> = BTreeSet::new();
        for (fid, form) in &self.forms {
            let mut seen = BTreeSet::new();
            if form.fields.is_empty() {
                push(&mut errs, format!("forms[{fid}].fields"), "required", "");
            }
            for f in &form.fields {
                let path = format!("forms[{fid}].fields[{}]", f.id);
                if !is_ident(&f.id) || !seen.insert(f.id.as_str()) {
                    push(&mut errs, path.clone(), "duplicate-or-invalid", &f.id);
                }
                if f.kind == FieldKind::Choice && f.options.is_empty() {
                    push(&mut errs, format!("{path}.options"), "required", "");
                }
                if let (Some(a), Some(b)) = (f.min, f.max)
                    && a > b
                {
                    push(&mut errs, format!("{path}.min"), "invalid", "min > max");
                }
                if let Some(Err(e)) = f.regex() {
                    push(
                        &mut errs,
                        format!("{path}.pattern"),
                        "invalid",
                        &e.to_string(),
                    );
                }
                if f.pattern.is_some() && f.kind != FieldKind::Text {
                    push(
                        &mut errs,
                        format!("{path}.pattern"),
                        "invalid",
                        "text fields only",
                    );
                }
                form_fields.insert(f.id.as_str());
            }
        }

        // Steps: ids, references, per-kind rules.
        let mut ids = BTreeSet::new();
        if self.steps.is_empty() {
            push(&mut errs, "steps".into(), "required", "");
        }
        for s in &self.steps {
            if !is_ident(s.id()) || !ids.insert(s.id()) {
                push(
                    &mut errs,
                    format!("steps[{}]", s.id()),
                    "duplicate-or-invalid",
                    s.id(),
                );
            }
        }
        if let Some(Step::End(_)) = self.steps.first() {
            push(
                &mut errs,
                "steps[0]".into(),
                "invalid",
                "a process cannot start with its end",
            );
        }
        if let Some(p) = &self.citizen_page
            && (!p.path.starts_with('/') || p.path.starts_with("//"))
        {
            push(&mut errs, "citizen_page.path".into(), "invalid", &p.path);
        }
        for s in &self.steps {
            let id = s.id();
            for (path, target) in s.edges() {
                if !ids.contains(target) {
                    push(&mut errs, path, "unknown-step", target);
                }
            }
            match s {
                Step::Task(t) => {
                    if t.roles.is_empty() && t.departments.is_empty() {
                        push(&mut errs, format!("steps[{id}].roles"), "no-candidates", "");
                    }
                    if let Some(a) = &t.action
                        && (!a.path.starts_with('/') || a.path.starts_with("//"))
                    {
                        push(
                            &mut errs,
                            format!("steps[{id}].action.path"),
                            "invalid",
                            &a.path,
                        );
                    }
                    for r in &t.roles {
                        if !known.roles.contains(r) {
                            push(&mut errs, format!("steps[{id}].roles"), "role-unknown", r);
                        }
                    }
                    if let Some(depts) = &known.departments {
                        for d in &t.departments {
                            if !depts.contains(d) {
                                push(
                                    &mut errs,
                                    format!("steps[{id}].departments"),
                                    "department-unknown",
                                    d,
                                );
                            }
                        }
                    }
                    if let Some(f) = &t.form
                        && !self.forms.contains_key(f)
                    {
                        push(&mut errs, format!("steps[{id}].form"), "form-unknown", f);
                    }
                    if t.outcomes.is_empty() {
                        push(&mut errs, format!("steps[{id}].outcomes"), "required", "");
                    }
                    let mut oids = BTreeSet::new();
                    for o in &t.outcomes {
                        if !is_ident(&o.id) || !oids.insert(o.id.as_str()) {
                            push(
                                &mut errs,
                                format!("steps[{id}].outcomes[{}]", o.id),
                                "duplicate-or-invalid",
                                &o.id,
                            );
                        }
                        if let Some(Step::End(e)) = self.step(&o.next)
                            && e.result == EndResult::Rejected
                            && !(o.comment_required && o.comment_public)
                        {
                            push(
                                &mut errs,
                                format!("steps[{id}].outcomes[{}]", o.id),
                                "reasoning-required",
                                "",
                            );
                        }
                    }
                    if t.due_days == Some(0) {
                        push(&mut errs, format!("steps[{id}].due_days"), "invalid", "≥ 1");
                    }
                    if let Some(r) = t.remind_days_before {
                        match t.due_days {
                            Some(d) if r < d => {}
                            _ => push(
                                &mut errs,
                                format!("steps[{id}].remind_days_before"),
                                "invalid",
                                "< due_days",
                            ),
                        }
                    }
                    if t.escalate && t.due_days.is_none() {
                        push(
                            &mut errs,
                            format!("steps[{id}].escalate"),
                            "due-required",
                            "",
                        );
                    }
                    if t.optional != t.skip_to.is_some() {
                        push(
                            &mut errs,
                            format!("steps[{id}].skip_to"),
                            "skip-to-required",
                            "",
                        );
                    }
                }
                Step::Wait(w) => {
                    if !(1..=365).contains(&w.deadline_days) {
                        push(
                            &mut errs,
                            format!("steps[{id}].deadline_days"),
                            "invalid",
                            "1–365",
                        );
                    }
                }
                Step::Gateway(g) => {
                    if g.branches.is_empty() {
                        push(&mut errs, format!("steps[{id}].branches"), "required", "");
                    }
                    for (i, b) in g.branches.iter().enumerate() {
                        let declared = self.data.iter().any(|d| d.id() == b.field)
                            || form_fields.contains(b.field.as_str());
                        if !declared {
                            push(
                                &mut errs,
                                format!("steps[{id}].branches[{i}].field"),
                                "field-unknown",
                                &b.field,
                            );
                        }
                    }
                }
                Step::Hook(h) => {
                    if !known.hooks.contains(&h.hook) {
                        push(
                            &mut errs,
                            format!("steps[{id}].hook"),
                            "hook-unknown",
                            &h.hook,
                        );
                    }
                }
                Step::Notify(n) => {
                    if !is_ident(&n.event) {
                        push(&mut errs, format!("steps[{id}].event"), "invalid", &n.event);
                    }
                }
                Step::Compute(c) => {
                    if c.set.is_empty() {
                        push(&mut errs, format!("steps[{id}].set"), "required", "");
                    }
                }
                Step::Protocol(_) | Step::End(_) => {}
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }

        // The graph: every step reachable, every step able to finish, and no
        // loop that only machines walk (it would never stop).
        let index: BTreeMap<&str, &Step> = self.steps.iter().map(|s| (s.id(), s)).collect();
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::from([self.start()]);
        while let Some(s) = queue.pop_front() {
            if reached.insert(s) {
                queue.extend(successors(index[s]));
            }
        }
        for s in &self.steps {
            if !reached.contains(s.id()) {
                push(&mut errs, format!("steps[{}]", s.id()), "unreachable", "");
            }
        }
        let mut finishes: BTreeSet<&str> = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::End(_)))
            .map(Step::id)
            .collect();
        loop {
            let before = finishes.len();
            for s in &self.steps {
                if successors(s).iter().any(|t| finishes.contains(t)) {
                    finishes.insert(s.id());
                }
            }
            if finishes.len() == before {
                break;
            }
        }
        for s in &self.steps {
            if !finishes.contains(s.id()) {
                push(&mut errs, format!("steps[{}]", s.id()), "dead-end", "");
            }
        }
        // Automated-only cycles: depth-first search restricted to automated steps.
        for s in self.steps.iter().filter(|s| s.is_automated()) {
            let mut stack = vec![s.id()];
            let mut seen = BTreeSet::new();
            while let Some(cur) = stack.pop() {
                for t in successors(index[cur]) {
                    if t == s.id() {
                        push(
                            &mut errs,
                            format!("steps[{}]", s.id()),
                            "automated-loop",
                            "",
                        );
                        stack.clear();
                        break;
                    }
                    if index[t].is_automated() && seen.insert(t) {
                        stack.push(t);
                    }
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// The definition with a municipality's overrides applied (not yet
    /// validated: call `validate` on the result).
    pub fn with_overrides(&self, o: &Overrides) -> Result<Definition, Vec<FieldError>> {
        let mut d = self.clone();
        let mut errs = vec![];
        if let Some(days) = o.lead_time_days {
            d.lead_time_days = days;
        }
        if let Some(years) = o.retention_years {
            d.retention_years = years;
        }
        if let Some(docs) = &o.documents {
            d.documents = docs.clone();
        }
        let mut skipped: BTreeMap<String, String> = BTreeMap::new();
        for (id, so) in &o.steps {
            let path = format!("steps[{id}]");
            let Some(step) = d.steps.iter_mut().find(|s| s.id() == id) else {
                errs.push(FieldError::new(path, "unknown-step").with_detail(id.clone()));
                continue;
            };
            match step {
                Step::Task(t) => {
                    if so.deadline_days.is_some() {
                        errs.push(FieldError::new(
                            format!("{path}.deadline_days"),
                            "not-applicable",
                        ));
                    }
                    if let Some(v) = so.due_days {
                        t.due_days = Some(v);
                    }
                    if let Some(v) = &so.departments {
                        t.departments = v.clone();
                    }
                    if let Some(v) = &so.roles {
                        t.roles = v.clone();
                    }
                    if so.skip == Some(true) {
                        match (&t.skip_to, t.optional) {
                            (Some(to), true) => {
                                skipped.insert(id.clone(), to.clone());
                            }
                            _ => errs.push(FieldError::new(format!("{path}.skip"), "not-optional")),
                        }
                    }
                }
                Step::Wait(w) => {
                    if let Some(v) = so.deadline_days {
                        w.deadline_days = v;
                    }
                    let task_only = so.due_days.is_some()
                        || so.departments.is_some()
                        || so.roles.is_some()
                        || so.skip.is_some();
                    if task_only {
                        errs.push(FieldError::new(path, "not-applicable"));
                    }
                }
                _ => errs.push(FieldError::new(path, "not-applicable")),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        if !skipped.is_empty() {
            // Follow chains of skipped steps to the first one that stays.
            let resolve = |mut id: String| {
                let mut hops = 0;
                while let Some(to) = skipped.get(&id) {
                    id = to.clone();
                    hops += 1;
                    if hops > skipped.len() {
                        break;
                    }
                }
                id
            };
            for s in d.steps.iter_mut() {
                for e in s.edges_mut() {
                    *e = resolve(e.clone());
                }
            }
            let first = d.start().to_owned();
            let new_first = resolve(first.clone());
            d.steps.retain(|s| !skipped.contains_key(s.id()));
            if new_first != first
                && let Some(pos) = d.steps.iter().position(|s| s.id() == new_first)
            {
                let s = d.steps.remove(pos);
                d.steps.insert(0, s);
            }
        }
        Ok(d)
    }
}

/// What a municipality may change in a service without code.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_time_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_years: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<DocumentSpec>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, StepOverride>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<bool>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self == &Overrides::default()
    }
}

#[cfg(test)]
mod tests;
