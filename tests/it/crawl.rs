//! The link crawler: every kind of person starts at each demo
//! municipality's home page (the operator at the console, anyone at the
//! directory) and follows every same-host link and every GET form it finds,
//! breadth-first, as a person clicking would, with the headers a browser
//! sends. It fails on any 404 or 5xx, a forbidden page someone was linked
//! to, a truncated response, a page without `<html lang>` and any raw
//! translation key or unfilled placeholder. New modules' pages are covered
//! as soon as a link leads to them.

use crate::flows::{person, submit};
use dimos_it::{Backend, Browser, Options, TestApp, on_both_backends, workspace_root};
use dimos_kernel::Locale;
use reqwest::Method;
use scraper::{Html, Node, Selector};
use std::collections::{BTreeMap, HashSet, VecDeque};

on_both_backends!(every_page_a_person_can_reach_by_clicking_works);

/// Pages visited per person at most.
const BOUND: usize = 300;
/// Distinct queries of one path followed at most (pagination, filters).
const PER_PATH: usize = 6;

/// Who crawls where: `None` is anonymous.
const ALIMOS: &[Option<&str>] = &[
    None,
    Some("citizen"),
    Some("citizen-verified"),
    Some("kep-officer"),
    Some("technical-employee"),
    Some("council-secretary"),
    Some("mayor"),
    Some("nursery-manager"),
    Some("cleaning-supervisor"),
    Some("cleaning-crew"),
    Some("municipal-admin"),
    Some("national-operator"),
];
/// In the second municipality only its admin holds a role.
const PAPAGOU: &[Option<&str>] = &[None, Some("citizen-verified"), Some("municipal-admin")];

async fn every_page_a_person_can_reach_by_clicking_works(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            apply_on_start: Some(workspace_root().join("tenants")),
            // Every person signs in and every "Σύνδεση" link is followed,
            // from one address within a minute: not what the limit is for.
            tweak: Box::new(|c| c.identity.sign_in_attempts_per_minute = 1000),
            ..Options::default()
        },
    )
    .await;
    app.enable_module("alimos", "example", serde_json::json!({}))
        .await;
    let alimos = "alimos.localhost";
    // Something to look at: a citizen's parking application and a request
    // of the reference module, so case pages, the agenda and the protocol
    // book have entries for everyone who may see them.
    {
        let mut citizen = person(&app, alimos, "citizen-verified").await;
        crate::parking::apply(&app, &mut citizen, alimos, "ΙΚΑ1234").await;
        submit(&mut citizen, alimos, "Αίτημα για τον κρατήρα").await;
        crate::bulky::book(&app, &mut citizen).await;
        let mut office = person(&app, alimos, "kep-officer").await;
        crate::edms::register_letter(&app, &mut office).await;
    }

    let mut failures = vec![];
    let mut pages = 0;
    for (host, people) in [(alimos, ALIMOS), ("papagou-cholargou.localhost", PAPAGOU)] {
        for who in people {
            let mut b = match who {
                Some(w) => person(&app, host, w).await,
                None => Browser::new(&app),
            };
            let label = format!("{} on {host}", who.unwrap_or("anonymous"));
            pages += crawl(&app, &mut b, &label, host, &mut failures).await;
        }
    }
    // The national operator's console (open to this machine in the demo)
    // and the directory of municipalities.
    for host in ["admin.localhost", "localhost"] {
        let mut b = Browser::new(&app);
        pages += crawl(
            &app,
            &mut b,
            &format!("anyone on {host}"),
            host,
            &mut failures,
        )
        .await;
    }
    assert!(
        failures.is_empty(),
        "{} broken of {pages} pages visited:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(pages > 200, "the crawl reached only {pages} pages");
}

/// Crawls `host` from `/` as `b`; returns the number of pages visited.
async fn crawl(
    app: &TestApp,
    b: &mut Browser<'_>,
    who: &str,
    host: &str,
    failures: &mut Vec<String>,
) -> usize {
    let origin = url::Url::parse(&b.url(host, "/")).expect("origin");
    let mut queue: VecDeque<(url::Url, String)> =
        VecDeque::from([(origin.clone(), "start".into())]);
    let mut seen: HashSet<String> = HashSet::from([key(&origin)]);
    let mut per_path: BTreeMap<String, usize> = BTreeMap::new();
    let mut visited = 0;
    while let Some((url, from)) = queue.pop_front() {
        if visited >= BOUND {
            break;
        }
        visited += 1;
        let mut fail = |what: String| failures.push(format!("{who}: {url} (from {from}): {what}"));
        let res = b.request(Method::GET, url.as_str(), None).await;
        let status = res.status().as_u16();
        if res.status().is_redirection() {
            let Some(loc) = res.headers().get("location").and_then(|l| l.to_str().ok()) else {
                fail(format!("{status} without a Location"));
                continue;
            };
            match url.join(loc) {
                Ok(to) if same_origin(&to, &origin) => {
                    if seen.insert(key(&to)) {
                        queue.push_back((to, format!("redirect from {url}")));
                    }
                }
                Ok(_) => {} // to the identity provider, or another host
                Err(e) => fail(format!("{status} to an invalid Location {loc:?}: {e}")),
            }
            continue;
        }
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let length = res.content_length();
        let body = match res.bytes().await {
            Ok(body) => body,
            Err(e) => {
                fail(format!("{status}, the body broke off: {e:?}"));
                continue;
            }
        };
        // An unverified citizen who starts an application is told how to
        // get verified (403 with that page): a page, not a dead end.
        let verify_needed = status == 403
            && [Locale::El, Locale::En].into_iter().any(|l| {
                let title = app.state.translator().t(l, "verify-needed-title", &[]);
                String::from_utf8_lossy(&body)
                    .contains(&format!("<h1 class=\"govgr-heading-xl\">{title}</h1>"))
            });
        if status == 404 || (status == 403 && !verify_needed) || status == 401 || status >= 500 {
            fail(format!("answered {status}"));
            continue;
        }
        if let Some(n) = length {
            // reqwest reports the decoded length only when not compressed.
            if n != body.len() as u64 && n > 0 && !content_type.starts_with("text/html") {
                fail(format!("Content-Length {n} but {} bytes", body.len()));
            }
        }
        if !content_type.starts_with("text/html") {
            continue;
        }
        let html = String::from_utf8_lossy(&body);
        let doc = Html::parse_document(&html);
        for problem in page_problems(app, &doc) {
            fail(problem);
        }
        for next in links(&doc, &url) {
            if !same_origin(&next, &origin) {
                continue;
            }
            let k = key(&next);
            if seen.contains(&k) {
                continue;
            }
            let n = per_path.entry(next.path().to_owned()).or_default();
            if *n >= PER_PATH {
                continue;
            }
            *n += 1;
            seen.insert(k);
            queue.push_back((next, url.to_string()));
        }
    }
    visited
}

fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port() == b.port()
}

fn key(u: &url::Url) -> String {
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

/// Every link and GET form of a page, resolved against its address; forms
/// are submitted with the values they are rendered with.
fn links(doc: &Html, base: &url::Url) -> Vec<url::Url> {
    let mut out = vec![];
    for a in doc.select(&sel("a[href]")) {
        let href = a.value().attr("href").unwrap_or("");
        if href.starts_with("mailto:") || href.starts_with("tel:") || href.starts_with('#') {
            continue;
        }
        if let Ok(mut u) = base.join(href) {
            u.set_fragment(None);
            out.push(u);
        }
    }
    for form in doc.select(&sel("form")) {
        let method = form.value().attr("method").unwrap_or("get");
        if !method.eq_ignore_ascii_case("get") {
            continue;
        }
        let action = form.value().attr("action").unwrap_or("");
        let Ok(mut u) = base.join(action) else {
            continue;
        };
        let mut pairs: Vec<(String, String)> = vec![];
        for field in form.select(&sel("input[name], select[name], textarea[name]")) {
            let e = field.value();
            let name = e.attr("name").unwrap_or("").to_owned();
            match e.name() {
                "input" => {
                    let kind = e.attr("type").unwrap_or("text");
                    if matches!(kind, "submit" | "button" | "file" | "image" | "reset") {
                        continue;
                    }
                    if matches!(kind, "checkbox" | "radio") && e.attr("checked").is_none() {
                        continue;
                    }
                    pairs.push((name, e.attr("value").unwrap_or("").to_owned()));
                }
                "select" => {
                    let options: Vec<_> = field.select(&sel("option")).collect();
                    let chosen = options
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(options.first());
                    if let Some(o) = chosen {
                        let v = o
                            .value()
                            .attr("value")
                            .map(str::to_owned)
                            .unwrap_or_else(|| o.text().collect());
                        pairs.push((name, v));
                    }
                }
                _ => pairs.push((name, field.text().collect())),
            }
        }
        u.set_fragment(None);
        u.set_query(None);
        if !pairs.is_empty() {
            u.query_pairs_mut().extend_pairs(pairs);
        }
        out.push(u);
    }
    out
}

/// What a person would see as broken on a rendered page.
fn page_problems(app: &TestApp, doc: &Html) -> Vec<String> {
    let mut out = vec![];
    let lang = doc
        .select(&sel("html"))
        .next()
        .and_then(|h| h.value().attr("lang").map(str::to_owned));
    if !matches!(lang.as_deref(), Some("el" | "en")) {
        out.push(format!("<html lang> is {lang:?}"));
    }
    let translator = app.state.translator();
    let raw_key = regex::Regex::new(r"^[a-z][a-z]+(?:-[a-z0-9]+){2,}$").expect("regex");
    let looks_raw = |s: &str| {
        let s = s.trim();
        !s.is_empty() && (raw_key.is_match(s) || (s.contains('-') && translator.has(s)))
    };
    for node in doc.root_element().descendants() {
        match node.value() {
            Node::Text(t) => {
                let in_code = node
                    .parent()
                    .and_then(|p| p.value().as_element().map(|e| e.name().to_owned()))
                    .is_some_and(|n| matches!(n.as_str(), "script" | "style" | "code" | "pre"));
                if in_code {
                    continue;
                }
                let text: &str = t;
                if looks_raw(text) {
                    out.push(format!("raw translation key {:?}", text.trim()));
                }
                if text.contains("{$") || text.contains("{ $") {
                    out.push(format!("unfilled placeholder in {:?}", text.trim()));
                }
            }
            Node::Element(e) => {
                for attr in ["title", "aria-label", "alt", "placeholder"] {
                    if let Some(v) = e.attr(attr).filter(|v| looks_raw(v)) {
                        out.push(format!("raw translation key {v:?} in {attr}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
