//! The server-rendered UI shell: templates, the page context every page
//! gets (tenant, language, navigation).

use crate::assets;
use crate::error::AppError;
use crate::extract::Lang;
use crate::module::Modules;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Html;
use dimos_kernel::i18n::FtlSource;
use dimos_kernel::{Error, Locale, Translator};
use dimos_tenancy::{HostMatch, Tenant};
use minijinja::value::Kwargs;
use minijinja::{Environment, State, Value, context};
use serde::Serialize;
use std::sync::Arc;

/// The platform's own translations.
pub const PLATFORM_FTL: &[FtlSource] = &[
    FtlSource {
        locale: Locale::El,
        name: "platform/web/locales/el/web.ftl",
        text: include_str!("../locales/el/web.ftl"),
    },
    FtlSource {
        locale: Locale::En,
        name: "platform/web/locales/en/web.ftl",
        text: include_str!("../locales/en/web.ftl"),
    },
];

/// The shell's own templates: the layout, the form macros, error pages,
/// the "verify your account" page and the kit's application page. The
/// platform's pages bring theirs (`dimos_pages::TEMPLATES`), as modules do.
pub const SHELL_TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "verify_needed.html",
        include_str!("../templates/verify_needed.html"),
    ),
    (
        "kit/apply.html",
        include_str!("../templates/kit/apply.html"),
    ),
];

/// Builds the translator from the platform's and every module's `.ftl` files.
pub fn build_translator(modules: &Modules) -> Result<Translator, String> {
    let mut sources = PLATFORM_FTL.to_vec();
    for m in modules.iter() {
        sources.extend_from_slice(m.translations);
    }
    Translator::new(&sources).map_err(|e| e.to_string())
}

/// Builds the template environment; a syntax error in any template stops start-up.
pub fn build_templates(
    modules: &Modules,
    translator: Arc<Translator>,
    pages: &'static [(&'static str, &'static str)],
) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, src) in SHELL_TEMPLATES
        .iter()
        .chain(pages.iter())
        .chain(modules.iter().flat_map(|m| m.templates.iter()))
    {
        env.add_template(name, src)
            .map_err(|e| format!("template {name}: {e:#}"))?;
    }
    // `{{ amount | number }}`: 10.000 in Greek, 10,000 in English.
    env.add_filter("number", |state: &State, n: i64| -> String {
        let lang = state
            .lookup("lang")
            .and_then(|v| v.as_str().and_then(Locale::parse))
            .unwrap_or_default();
        dimos_kernel::i18n::group_digits(n, lang)
    });
    // `{% set d = value | date_parts %}`: [day, month, year] of a form's
    // `YYYY-MM-DD` (or of what was typed), for gov.gr's three date boxes.
    env.add_filter("date_parts", |v: String| -> Vec<String> {
        let mut it = v.splitn(3, '-');
        match (it.next(), it.next(), it.next()) {
            (Some(y), Some(m), Some(d)) => vec![d.to_owned(), m.to_owned(), y.to_owned()],
            _ => vec![String::new(), String::new(), String::new()],
        }
    });
    env.add_function(
        "t",
        move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(Locale::parse))
                .unwrap_or_default();
            let mut args = vec![];
            for k in kwargs.args() {
                let v: Value = kwargs.get(k)?;
                args.push((k, v.to_string()));
            }
            Ok(translator.t(lang, key, &args))
        },
    );
    Ok(env)
}

/// A tenant as pages see it.
#[derive(Serialize)]
pub struct TenantView {
    pub slug: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub services: Vec<ServiceView>,
}

#[derive(Serialize)]
pub struct ServiceView {
    pub href: String,
    pub label: String,
    pub description: String,
}

impl TenantView {
    pub fn new(t: &Tenant, lang: Locale, modules: &Modules, translator: &Translator) -> Self {
        let c = &t.spec.contact;
        let services = modules
            .iter()
            .filter(|m| t.module_enabled(m.id))
            .flat_map(|m| {
                m.navigation.iter().map(move |n| ServiceView {
                    href: format!("/{}/{}", m.id, n.path),
                    label: translator.t(lang, n.label_key, &[]),
                    description: translator.t(lang, n.description_key, &[]),
                })
            })
            .collect();
        TenantView {
            slug: t.slug().to_owned(),
            name: t.name(lang).to_owned(),
            logo_url: t
                .has_logo
                .then(|| format!("/branding/logo?v={}", t.updated_at.timestamp())),
            email: c.email.clone(),
            phone: c.phone.clone(),
            address: c.address.as_ref().map(|a| a.get(lang).to_owned()),
            website: c.website.clone(),
            services,
        }
    }
}

/// A module page's address: `/parking` for the module's root, never
/// `/parking/`.
pub fn module_href(module: &str, path: &str) -> String {
    match path.trim_matches('/') {
        "" => format!("/{module}"),
        p => format!("/{module}/{p}"),
    }
}

/// Where a request's page header user is kept once known, so that an error
/// page rendered after the handler shows the same header (name, staff
/// links, sign-out) instead of a signed-out one.
#[derive(Clone, Default)]
pub struct SeenUser(std::sync::Arc<std::sync::Mutex<Option<UserView>>>);

impl SeenUser {
    fn set(&self, u: UserView) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(u);
        }
    }

    pub fn is_set(&self) -> bool {
        self.0.lock().is_ok_and(|slot| slot.is_some())
    }

    pub fn take(&self) -> Option<UserView> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The signed-in person as the page header shows them.
#[derive(Clone)]
pub struct UserView {
    pub name: String,
    /// For the sign-out form.
    pub csrf: String,
    /// Staff pages this person may open: (href, label key).
    pub links: Vec<(&'static str, &'static str)>,
    /// The citizen this officer is acting for, if any.
    pub assisting: Option<String>,
}

/// Finds who the page header shows for a request (a signed-in person with
/// their staff links, or the operator), from the features that know; the
/// shell only calls it.
pub type HeaderFn = for<'a> fn(
    &'a mut Parts,
    &'a AppState,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<UserView>> + Send + 'a>,
>;

/// What a handler needs to render a page: state, language, tenant, path.
pub struct Ui {
    pub state: AppState,
    pub lang: Locale,
    pub tenant: Option<Arc<Tenant>>,
    pub operator: bool,
    pub path: String,
    pub user: Option<UserView>,
}

impl<S> FromRequestParts<S> for Ui
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let user = match state.header() {
            Some(find) => find(parts, &state).await,
            None => None,
        };
        // An error page rendered later for this request keeps the header.
        if let (Some(slot), Some(u)) = (parts.extensions.get::<SeenUser>(), &user) {
            slot.set(u.clone());
        }
        let host = parts.extensions.get::<HostMatch>();
        Ok(Ui {
            user,
            state,
            lang: parts.extensions.get::<Lang>().map_or(Locale::El, |l| l.0),
            tenant: match host {
                Some(HostMatch::Tenant(t)) => Some(t.clone()),
                _ => None,
            },
            operator: matches!(host, Some(HostMatch::Operator)),
            // The address the person asked for: inside a module's nested
            // router `parts.uri` has lost the module's prefix.
            path: parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or(&parts.uri, |o| &o.0)
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned(),
        })
    }
}

impl Ui {
    pub fn t(&self, key: &str) -> String {
        self.state.translator().t(self.lang, key, &[])
    }

    /// Field errors as the error summary shows them (`errors_list` in
    /// macros.html): `[{field, message}]`, in this language. The one way
    /// errors reach a template, with [`Self::error_map`].
    pub fn error_list(&self, errors: &[dimos_kernel::FieldError]) -> Vec<Value> {
        errors
            .iter()
            .map(|e| context! { field => e.field.clone(), message => self.error_message(e) })
            .collect()
    }

    /// Field errors by field, for the message above each input.
    pub fn error_map(
        &self,
        errors: &[dimos_kernel::FieldError],
    ) -> std::collections::BTreeMap<String, String> {
        errors
            .iter()
            .map(|e| (e.field.clone(), self.error_message(e)))
            .collect()
    }

    /// One field error, in this language.
    pub fn error_message(&self, e: &dimos_kernel::FieldError) -> String {
        self.state.translator().field_message(self.lang, e)
    }

    /// The context every page has: language, tenant, assets, switch links.
    pub fn base_context(&self) -> Value {
        let other = match self.lang {
            Locale::El => Locale::En,
            Locale::En => Locale::El,
        };
        let tenant = self
            .tenant
            .as_ref()
            .map(|t| TenantView::new(t, self.lang, self.state.modules(), self.state.translator()));
        let next: String = form_urlencoded::byte_serialize(self.path.as_bytes()).collect();
        context! {
            lang => self.lang.code(),
            other_lang => other.code(),
            switch_lang_href => format!("/lang/{}?next={next}", other.code()),
            path => self.path.clone(),
            tenant => tenant,
            operator => self.operator,
            css => assets::css_urls(),
            js => assets::js_urls(),
            user => self.user.as_ref().map(|u| context! {
                name => u.name.clone(),
                csrf => u.csrf.clone(),
                assisting => u.assisting.clone(),
                assisting => u.assisting.clone(),
                links => u.links.iter().map(|(href, key)| context! { href, label => self.t(key) }).collect::<Vec<_>>(),
            }),
            branding_css => self.tenant.as_ref().map(|t| format!("/branding.css?v={}", t.updated_at.timestamp())),
        }
    }

    pub fn render(&self, template: &str, ctx: Value) -> Result<Html<String>, AppError> {
        let tpl = self
            .state
            .templates()
            .get_template(template)
            .map_err(Error::internal)?;
        let ctx = context! { ..ctx, ..self.base_context() };
        let html = tpl
            .render(ctx)
            .map_err(|e| AppError(Error::internal(format!("{e:#}"))))?;
        Ok(Html(self.mark_errors(html)))
    }

    /// A page that shows an error summary says so first in its title
    /// ("Σφάλμα: …"), as GOV.UK and gov.gr pages do: it is what a screen
    /// reader reads first and what the browser tab shows.
    fn mark_errors(&self, html: String) -> String {
        if !html.contains("class=\"govgr-error-summary\"") {
            return html;
        }
        let prefix = self.t("error-title-prefix");
        html.replacen("<title>", &format!("<title>{prefix} "), 1)
    }
}

/// A page of the module's that only shows a template (a service's
/// introduction): `.route("/", dimos_web::ui::page("<id>/index.html"))`.
pub fn page(template: &'static str) -> axum::routing::MethodRouter<AppState> {
    axum::routing::get(move |ui: Ui| async move { ui.render(template, context! {}) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_translations_are_complete_and_templates_parse() {
        let modules = Modules::default();
        let t = build_translator(&modules).unwrap();
        assert_eq!(
            t.missing_keys(),
            vec![],
            "every key in both Greek and English"
        );
        // Every error code has a title and help text in both languages.
        for code in dimos_kernel::error::CODES {
            let key = format!("error-{}", code.replace('_', "-"));
            assert!(t.has(&key) && t.has(&format!("{key}-help")), "{key}");
        }
        build_templates(&modules, Arc::new(t), &[]).unwrap();
    }
}
