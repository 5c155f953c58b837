//! A service's process as a picture: the stages a case passes on its way to
//! a decision, as server-rendered SVG (no JavaScript) with a text
//! alternative. Pure: a definition in, markup out. The citizen sees the
//! steps ahead and how long each usually takes, a case page where the case
//! stands, the municipal admin what the municipality changed.

use dimos_kernel::{Locale, Translator};
use dimos_workflow::Definition;
use dimos_workflow::definition::{EndResult, Step};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One box of the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The step ids this stage stands for (consecutive steps the citizen
    /// sees under one name are one stage).
    pub steps: Vec<String>,
    pub label: String,
    /// Usual duration in days, when the process says.
    pub days: Option<u32>,
    pub end: bool,
}

/// How a stage is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ahead,
    Done,
    Current,
    /// Switched off by the municipality.
    Skipped,
    /// Its deadline or handlers changed by the municipality.
    Changed,
}

/// The steps after `id`, in the order the definition lists them.
fn successors(step: &Step) -> Vec<&str> {
    match step {
        Step::Task(t) => t.outcomes.iter().map(|o| o.next.as_str()).collect(),
        Step::Wait(w) => vec![w.on_response.as_str(), w.on_timeout.as_str()],
        Step::Gateway(g) => g
            .branches
            .iter()
            .map(|b| b.next.as_str())
            .chain(std::iter::once(g.default.as_str()))
            .collect(),
        Step::Protocol(s) => vec![s.next.as_str()],
        Step::Notify(s) => vec![s.next.as_str()],
        Step::Compute(s) => vec![s.next.as_str()],
        Step::Hook(s) => vec![s.next.as_str()],
        Step::End(_) => vec![],
    }
}

/// The way a case usually goes: the first path (in the order outcomes are
/// listed) from the start to an approving end, without going round a loop;
/// failing that, the first path to any end.
fn usual_path(def: &Definition) -> Vec<&Step> {
    fn search<'d>(
        def: &'d Definition,
        id: &str,
        want_approval: bool,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<&'d Step>,
    ) -> bool {
        let Some(step) = def.step(id) else {
            return false;
        };
        if !seen.insert(id.to_owned()) {
            return false;
        }
        path.push(step);
        if let Step::End(e) = step {
            if !want_approval || e.result == EndResult::Approved {
                return true;
            }
        } else {
            for next in successors(step) {
                if search(def, next, want_approval, seen, path) {
                    return true;
                }
            }
        }
        path.pop();
        seen.remove(id);
        false
    }
    for want_approval in [true, false] {
        let mut path = vec![];
        if search(
            def,
            def.start(),
            want_approval,
            &mut BTreeSet::new(),
            &mut path,
        ) {
            return path;
        }
    }
    vec![]
}

/// The stages the citizen sees on the usual path, in order.
pub fn stages(def: &Definition, lang: Locale) -> Vec<Stage> {
    let mut out: Vec<Stage> = vec![];
    for step in usual_path(def) {
        let (label, days, end) = match step {
            Step::Task(t) => (t.stage.get(lang).to_owned(), t.due_days, false),
            Step::Wait(w) => (w.stage.get(lang).to_owned(), Some(w.deadline_days), false),
            Step::End(e) => (e.stage.get(lang).to_owned(), None, true),
            _ => continue,
        };
        match out.last_mut() {
            Some(last) if last.label == label && !end && !last.end => {
                last.steps.push(step.id().to_owned());
                last.days = match (last.days, days) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
            }
            _ => out.push(Stage {
                steps: vec![step.id().to_owned()],
                label,
                days,
                end,
            }),
        }
    }
    out
}

/// Marks for a case standing at `current`: the stages before it done.
/// A closed case (at an end) has every stage done but its end, current.
pub fn case_marks(stages: &[Stage], current: &str) -> Vec<Mark> {
    let at = stages
        .iter()
        .position(|s| s.steps.iter().any(|id| id == current));
    stages
        .iter()
        .enumerate()
        .map(|(i, _)| match at {
            Some(a) if i < a => Mark::Done,
            Some(a) if i == a => Mark::Current,
            _ => Mark::Ahead,
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Splits a label into lines of about `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The picture and its text alternative, as HTML. `title` names the
/// figure; `marks` has one mark per stage.
pub fn render(
    stages: &[Stage],
    marks: &[Mark],
    title: &str,
    t: &Translator,
    lang: Locale,
) -> String {
    const W: u32 = 360;
    const GAP: u32 = 26;
    const LINE: u32 = 18;
    let tr = |key: &str, args: &[(&str, String)]| t.t(lang, key, args);
    let mut boxes = String::new();
    let mut list = String::new();
    let mut y = 4;
    for (i, (s, mark)) in stages.iter().zip(marks).enumerate() {
        let mut lines = wrap(&s.label, 34);
        let mut note = vec![];
        if let Some(d) = s.days.filter(|_| !s.end) {
            note.push(tr("diagram-days", &[("days", d.to_string())]));
        }
        match mark {
            Mark::Done => note.push(tr("diagram-done", &[])),
            Mark::Current => note.push(tr("diagram-current", &[])),
            Mark::Skipped => note.push(tr("diagram-skipped", &[])),
            Mark::Changed => note.push(tr("diagram-changed", &[])),
            Mark::Ahead => {}
        }
        let note = note.join(" · ");
        let count = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        let height = LINE * (count + u32::from(!note.is_empty())) + 16;
        let (fill, stroke, text, dash, width) = match mark {
            Mark::Current => ("#003476", "#003476", "#ffffff", "", 3),
            Mark::Done => ("#cce2d8", "#005a30", "#0b0c0c", "", 2),
            Mark::Skipped => (
                "#f3f2f1",
                "#505a5f",
                "#505a5f",
                " stroke-dasharray=\"6 4\"",
                2,
            ),
            Mark::Changed => ("#fff7bf", "#594d00", "#0b0c0c", "", 3),
            Mark::Ahead => ("#ffffff", "#505a5f", "#0b0c0c", "", 2),
        };
        let rx = if s.end { 24 } else { 6 };
        let _ = write!(
            boxes,
            "<rect x=\"2\" y=\"{y}\" width=\"{}\" height=\"{height}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>",
            W - 4
        );
        let mut ty = y + 8 + 14;
        for l in lines.drain(..) {
            let _ = write!(
                boxes,
                "<text x=\"16\" y=\"{ty}\" fill=\"{text}\" font-size=\"15\" font-weight=\"700\">{}</text>",
                escape(&l)
            );
            ty += LINE;
        }
        if !note.is_empty() {
            let _ = write!(
                boxes,
                "<text x=\"16\" y=\"{ty}\" fill=\"{text}\" font-size=\"13\">{}</text>",
                escape(&note)
            );
        }
        y += height;
        if i + 1 < stages.len() {
            let mid = W / 2;
            let _ = write!(
                boxes,
                "<line x1=\"{mid}\" y1=\"{y}\" x2=\"{mid}\" y2=\"{}\" stroke=\"#505a5f\" stroke-width=\"2\"/><path d=\"M{} {} L{mid} {} L{} {} Z\" fill=\"#505a5f\"/>",
                y + GAP - 6,
                mid - 6,
                y + GAP - 8,
                y + GAP,
                mid + 6,
                y + GAP - 8
            );
            y += GAP;
        }
        let state = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        let _ = write!(list, "<li>{}{}</li>", escape(&s.label), escape(&state));
    }
    let height = y + 4;
    format!(
        "<figure class=\"dimos-process\"><figcaption class=\"govgr-heading-s\">{}</figcaption>\
         <svg class=\"dimos-process-svg\" viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" aria-hidden=\"true\" focusable=\"false\" font-family=\"Roboto, Arial, sans-serif\">{boxes}</svg>\
         <ol class=\"dimos-visually-hidden\">{list}</ol></figure>",
        escape(title)
    )
}

/// Marks for the municipal admin: steps the municipality switched off
/// (from `shipped`, missing in `effective`) and steps whose deadline or
/// handlers it changed.
pub fn override_marks(
    shipped: &[Stage],
    changed: &BTreeSet<String>,
    skipped: &BTreeSet<String>,
) -> Vec<Mark> {
    shipped
        .iter()
        .map(|s| {
            if s.steps.iter().all(|id| skipped.contains(id)) {
                Mark::Skipped
            } else if s.steps.iter().any(|id| changed.contains(id)) {
                Mark::Changed
            } else {
                Mark::Ahead
            }
        })
        .collect()
}

/// Which steps overrides touch: (changed, skipped).
pub fn overridden(
    o: &dimos_workflow::definition::Overrides,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut changed = BTreeSet::new();
    let mut skipped = BTreeSet::new();
    let steps: &BTreeMap<String, dimos_workflow::definition::StepOverride> = &o.steps;
    for (id, so) in steps {
        if so.skip == Some(true) {
            skipped.insert(id.clone());
        } else {
            changed.insert(id.clone());
        }
    }
    (changed, skipped)
}

/// A service page's picture: the municipality's process as citizens meet
/// it (its own deadlines, its switched-off steps left out).
pub async fn for_service(
    state: &crate::AppState,
    tdb: &dimos_db::TenantDb,
    process: &str,
    lang: Locale,
) -> Result<String, dimos_kernel::Error> {
    let def = state.workflow().effective(tdb, process).await?;
    let s = stages(&def, lang);
    let marks = vec![Mark::Ahead; s.len()];
    let title = state.translator().t(lang, "diagram-service-title", &[]);
    Ok(render(&s, &marks, &title, state.translator(), lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Definition {
        // The shape of a permit: a check that may ask for documents, an
        // optional inspection, a decision that approves or rejects.
        serde_json::from_value(serde_json::json!({
            "process": "m.p", "version": 1, "lead_time_days": 30,
            "name": {"el": "Άδεια", "en": "Permit"},
            "steps": [
                {"kind": "protocol", "id": "register", "next": "check"},
                {"kind": "task", "id": "check", "name": {"el": "Έλεγχος", "en": "Check"},
                    "stage": {"el": "Έλεγχος δικαιολογητικών", "en": "Checking documents"},
                    "roles": ["r"], "due_days": 5,
                    "outcomes": [
                        {"id": "incomplete", "label": {"el": "Ελλιπής", "en": "Incomplete"}, "next": "wait"},
                        {"id": "reject", "label": {"el": "Απόρριψη", "en": "Reject"}, "next": "rejected"},
                        {"id": "complete", "label": {"el": "Πλήρης", "en": "Complete"}, "next": "inspect"}
                    ]},
                {"kind": "wait", "id": "wait", "stage": {"el": "Αναμονή", "en": "Waiting"}, "deadline_days": 30,
                    "on_response": "check", "on_timeout": "rejected"},
                {"kind": "task", "id": "inspect", "name": {"el": "Αυτοψία", "en": "Inspection"},
                    "stage": {"el": "Αυτοψία", "en": "Inspection"}, "roles": ["r"], "due_days": 10,
                    "optional": true, "skip_to": "decide",
                    "outcomes": [{"id": "done", "label": {"el": "Έγινε", "en": "Done"}, "next": "decide"}]},
                {"kind": "task", "id": "decide", "name": {"el": "Απόφαση", "en": "Decision"},
                    "stage": {"el": "Απόφαση", "en": "Decision"}, "roles": ["r"], "due_days": 15,
                    "outcomes": [
                        {"id": "no", "label": {"el": "Όχι", "en": "No"}, "next": "rejected"},
                        {"id": "yes", "label": {"el": "Ναι", "en": "Yes"}, "next": "approved"}
                    ]},
                {"kind": "end", "id": "approved", "result": "approved", "stage": {"el": "Εγκρίθηκε", "en": "Approved"}},
                {"kind": "end", "id": "rejected", "result": "rejected", "stage": {"el": "Απορρίφθηκε", "en": "Rejected"}}
            ]
        }))
        .expect("a valid definition")
    }

    fn translator() -> Translator {
        Translator::new(crate::ui::PLATFORM_FTL).expect("translations")
    }

    #[test]
    fn the_usual_path_leads_to_approval_past_loops_and_rejections() {
        let s = stages(&def(), Locale::El);
        let labels: Vec<_> = s.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Έλεγχος δικαιολογητικών", "Αυτοψία", "Απόφαση", "Εγκρίθηκε"]
        );
        assert_eq!(s[0].days, Some(5));
        assert!(s[3].end);
    }

    #[test]
    fn a_case_is_drawn_where_it_stands() {
        let s = stages(&def(), Locale::El);
        assert_eq!(
            case_marks(&s, "inspect"),
            [Mark::Done, Mark::Current, Mark::Ahead, Mark::Ahead]
        );
        // A step off the usual path (waiting for documents) marks nothing.
        assert!(case_marks(&s, "wait").iter().all(|m| *m == Mark::Ahead));
        let html = render(
            &s,
            &case_marks(&s, "inspect"),
            "Η πορεία",
            &translator(),
            Locale::El,
        );
        assert!(html.contains("<svg") && html.contains("</svg>"));
        assert_eq!(html.matches("<rect").count(), 4);
        assert_eq!(html.matches("<li>").count(), 4);
        assert!(
            html.contains("fill=\"#003476\""),
            "the current stage stands out"
        );
        assert!(
            !html.contains("style="),
            "no inline styles: the CSP forbids them"
        );
    }

    #[test]
    fn labels_are_escaped_and_wrapped() {
        assert_eq!(wrap("ένα δύο τρία", 7), ["ένα δύο", "τρία"]);
        let s = vec![Stage {
            steps: vec!["a".into()],
            label: "<b>&".into(),
            days: None,
            end: true,
        }];
        let html = render(&s, &[Mark::Ahead], "x\"y", &translator(), Locale::En);
        assert!(html.contains("&lt;b&gt;&amp;") && html.contains("x&quot;y"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn the_admin_sees_what_the_municipality_changed() {
        let s = stages(&def(), Locale::El);
        let changed = BTreeSet::from(["decide".to_owned()]);
        let skipped = BTreeSet::from(["inspect".to_owned()]);
        assert_eq!(
            override_marks(&s, &changed, &skipped),
            [Mark::Ahead, Mark::Skipped, Mark::Changed, Mark::Ahead]
        );
    }
}
