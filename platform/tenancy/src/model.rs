use base64::Engine;
use chrono::{DateTime, Utc};
use dimos_kernel::{
    DomainName, Error, FieldError, HexColour, Locale, LocalizedText, Slug, TaxId, TenantId,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

/// What module configurations are valid: implemented by the web layer over
/// the modules this server was built with.
pub trait ModuleCatalog: Send + Sync {
    fn is_known(&self, module: &str) -> bool;
    /// Whether `role` is a role every municipality has.
    fn is_role(&self, role: &str) -> bool;
    /// Whether `name` is a configured identity provider.
    fn is_provider(&self, name: &str) -> bool;
    /// Checks a module's configuration and fills in its defaults.
    fn validate_config(
        &self,
        module: &str,
        config: &Map<String, Value>,
    ) -> Result<Value, Vec<FieldError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<LocalizedText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDomains {
    /// The canonical host name (e.g. `alimos.gov.gr`); `<slug>.<base domain>` always works too.
    #[serde(default)]
    pub primary: Option<DomainName>,
    #[serde(default)]
    pub aliases: Vec<DomainName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBranding {
    pub primary_colour: HexColour,
    /// In a tenant file: a path relative to the file. Anywhere: a `data:` URL.
    #[serde(default)]
    pub logo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawModule {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub config: Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// A tenant as written by a person: a tenant file, an API body, a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    pub slug: Slug,
    pub name: LocalizedText,
    #[serde(default)]
    pub status: TenantStatus,
    #[serde(default)]
    pub domains: RawDomains,
    pub branding: RawBranding,
    #[serde(default)]
    pub contact: Contact,
    #[serde(default)]
    pub modules: BTreeMap<String, RawModule>,
    /// Identity providers of this tenant (default: the deployment's).
    #[serde(default, skip_serializing_if = "TenantIdentity::is_default")]
    pub identity: TenantIdentity,
    /// Roles to grant (added if missing, never removed): the demo people,
    /// a new municipality's first administrator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<RawGrant>,
    /// Departments to create with their members by tax id (a department
    /// that exists is left as the municipal admin keeps it at
    /// /admin/access).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<RawDepartment>,
}

/// Names of `[identity.providers]` (or `dev`) for citizens and for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizens: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
}

impl TenantIdentity {
    pub fn is_default(&self) -> bool {
        self.citizens.is_none() && self.staff.is_none()
    }

    /// The provider citizens sign in through (`default` when none is named).
    pub fn citizens_provider<'a>(&'a self, default: &'a str) -> &'a str {
        self.citizens.as_deref().unwrap_or(default)
    }

    /// The provider staff sign in through: their own, else the citizens'.
    /// Only its word about a tax id makes someone staff.
    pub fn staff_provider<'a>(&'a self, default: &'a str) -> &'a str {
        self.staff
            .as_deref()
            .unwrap_or_else(|| self.citizens_provider(default))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    pub tax_id: TaxId,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDepartment {
    pub slug: String,
    pub name: LocalizedText,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<TaxId>,
}

impl RawDepartment {
    /// A department's slug: lowercase letters, digits and '-', as the
    /// admin's form takes it.
    pub fn slug_is_valid(slug: &str) -> bool {
        (1..=40).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoData {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl LogoData {
    pub const MAX_BYTES: usize = 200 * 1024;

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// Accepts PNG and SVG, recognised by content, not by name.
    pub fn sniff(bytes: Vec<u8>) -> Result<LogoData, &'static str> {
        if bytes.len() > Self::MAX_BYTES {
            return Err("logo-too-large");
        }
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Ok(LogoData {
                content_type: "image/png".into(),
                bytes,
            });
        }
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        if head.trim_start().starts_with("<svg")
            || (head.trim_start().starts_with("<?xml") && head.contains("<svg"))
        {
            // Served with a sandboxing CSP as well, but refuse active content outright.
            if text.contains("<script") || text.contains("javascript:") || has_event_handler(&text)
            {
                return Err("logo-active-content");
            }
            return Ok(LogoData {
                content_type: "image/svg+xml".into(),
                bytes,
            });
        }
        Err("logo-type")
    }
}

fn has_event_handler(svg: &str) -> bool {
    svg.split_whitespace()
        .any(|w| w.starts_with("on") && w.contains('='))
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleSettings {
    pub enabled: bool,
    /// Validated against the module's schema, defaults filled in.
    pub config: Value,
}

/// A validated tenant definition: what the store writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub slug: Slug,
    pub name: LocalizedText,
    pub status: TenantStatus,
    pub primary_domain: Option<DomainName>,
    pub aliases: Vec<DomainName>,
    pub primary_colour: HexColour,
    pub logo: Option<LogoData>,
    pub contact: Contact,
    pub modules: BTreeMap<String, ModuleSettings>,
    pub identity: TenantIdentity,
    /// Initial role grants; applied by the access layer, not stored with the tenant.
    pub grants: Vec<RawGrant>,
    /// Initial departments; applied by the access layer like the grants.
    pub departments: Vec<RawDepartment>,
}

/// What validation needs to know beyond the tenant itself.
pub struct ValidationContext<'a> {
    pub catalog: &'a dyn ModuleCatalog,
    pub base_domain: &'a str,
    /// Folder of the tenant file, for relative logo paths.
    pub file_dir: Option<&'a Path>,
}

impl RawTenant {
    pub fn validate(self, ctx: &ValidationContext<'_>) -> Result<TenantSpec, Error> {
        let mut errs = vec![];
        self.name.validate("name", 120, &mut errs);
        let base = ctx.base_domain.to_ascii_lowercase();
        let mut seen = std::collections::BTreeSet::new();
        let all = self
            .domains
            .primary
            .iter()
            .map(|d| ("domains.primary".to_string(), d))
            .chain(
                self.domains
                    .aliases
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (format!("domains.aliases[{i}]"), d)),
            );
        for (field, d) in all {
            if d.as_str() == base || d.as_str().ends_with(&format!(".{base}")) {
                errs.push(FieldError::new(field, "domain-under-base").with_detail(base.clone()));
            } else if !seen.insert(d.as_str().to_owned()) {
                errs.push(FieldError::new(field, "domain-duplicate").with_detail(d.to_string()));
            }
        }
        if self.branding.primary_colour.contrast_with_white() < 4.5 {
            errs.push(
                FieldError::new("branding.primary_colour", "colour-contrast").with_detail(format!(
                    "{:.1}:1",
                    self.branding.primary_colour.contrast_with_white()
                )),
            );
        }
        let logo = match self
            .branding
            .logo
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(reference) => match load_logo(reference, ctx.file_dir) {
                Ok(l) => Some(l),
                Err(code) => {
                    errs.push(
                        FieldError::new("branding.logo", code)
                            .with_detail(reference.chars().take(80).collect::<String>()),
                    );
                    None
                }
            },
        };
        validate_contact(&self.contact, &mut errs);
        let mut modules = BTreeMap::new();
        for (id, m) in self.modules {
            if !ctx.catalog.is_known(&id) {
                errs.push(FieldError::new(format!("modules.{id}"), "module-unknown"));
                continue;
            }
            match ctx.catalog.validate_config(&id, &m.config) {
                Ok(config) => {
                    modules.insert(
                        id,
                        ModuleSettings {
                            enabled: m.enabled,
                            config,
                        },
                    );
                }
                Err(e) => errs.extend(e.into_iter().map(|mut f| {
                    f.field = format!("modules.{id}.{}", f.field);
                    f
                })),
            }
        }
        for (field, name) in [
            ("identity.citizens", &self.identity.citizens),
            ("identity.staff", &self.identity.staff),
        ] {
            if let Some(n) = name
                && !ctx.catalog.is_provider(n)
            {
                errs.push(FieldError::new(field, "provider-unknown").with_detail(n.clone()));
            }
        }
        for (i, g) in self.grants.iter().enumerate() {
            if !ctx.catalog.is_role(&g.role) {
                errs.push(
                    FieldError::new(format!("grants[{i}].role"), "role-unknown")
                        .with_detail(g.role.clone()),
                );
            }
        }
        for (i, d) in self.departments.iter().enumerate() {
            if !RawDepartment::slug_is_valid(&d.slug) {
                errs.push(FieldError::new(format!("departments[{i}].slug"), "invalid"));
            }
            if self.departments[..i].iter().any(|o| o.slug == d.slug) {
                errs.push(FieldError::new(
                    format!("departments[{i}].slug"),
                    "duplicate",
                ));
            }
            if d.name.el.trim().is_empty() || d.name.en.trim().is_empty() {
                errs.push(FieldError::new(
                    format!("departments[{i}].name"),
                    "required",
                ));
            }
        }
        if !errs.is_empty() {
            return Err(Error::Validation(errs));
        }
        Ok(TenantSpec {
            slug: self.slug,
            name: trim(self.name),
            status: self.status,
            primary_domain: self.domains.primary,
            aliases: self.domains.aliases,
            primary_colour: self.branding.primary_colour,
            logo,
            contact: self.contact,
            modules,
            identity: self.identity,
            grants: self.grants,
            departments: self.departments,
        })
    }
}

fn trim(t: LocalizedText) -> LocalizedText {
    LocalizedText {
        el: t.el.trim().to_owned(),
        en: t.en.trim().to_owned(),
    }
}

fn load_logo(reference: &str, dir: Option<&Path>) -> Result<LogoData, &'static str> {
    let bytes = if let Some(rest) = reference.strip_prefix("data:") {
        let (_, b64) = rest.split_once(";base64,").ok_or("logo-data-url")?;
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| "logo-data-url")?
    } else {
        let dir = dir.ok_or("logo-data-url")?;
        let rel = Path::new(reference);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err("logo-path");
        }
        std::fs::read(dir.join(rel)).map_err(|_| "logo-missing")?
    };
    LogoData::sniff(bytes)
}

fn validate_contact(c: &Contact, errs: &mut Vec<FieldError>) {
    if let Some(e) = &c.email {
        let ok = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
            && !e.contains(char::is_whitespace);
        if !ok {
            errs.push(FieldError::new("contact.email", "email-invalid"));
        }
    }
    if let Some(p) = &c.phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        if !(10..=15).contains(&digits)
            || p.chars()
                .any(|ch| !(ch.is_ascii_digit() || " +-()".contains(ch)))
        {
            errs.push(FieldError::new("contact.phone", "phone-invalid"));
        }
    }
    if let Some(a) = &c.address {
        a.validate("contact.address", 200, errs);
    }
    if let Some(w) = &c.website
        && (!(w.starts_with("https://") || w.starts_with("http://"))
            || w.len() > 200
            || w.contains(char::is_whitespace))
    {
        errs.push(FieldError::new("contact.website", "url-invalid"));
    }
}

impl TenantSpec {
    /// A flat, comparable view used for change reports and the audit trail.
    pub fn flatten(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("name.el".into(), self.name.el.clone());
        m.insert("name.en".into(), self.name.en.clone());
        m.insert("status".into(), self.status.as_str().into());
        if let Some(p) = &self.primary_domain {
            m.insert("domains.primary".into(), p.to_string());
        }
        for a in &self.aliases {
            m.insert(format!("domains.aliases.{a}"), "yes".into());
        }
        m.insert(
            "branding.primary_colour".into(),
            self.primary_colour.to_string(),
        );
        if let Some(l) = &self.logo {
            m.insert(
                "branding.logo".into(),
                format!("{} sha256:{}", l.content_type, &l.sha256()[..12]),
            );
        }
        if let Ok(Value::Object(c)) = serde_json::to_value(&self.contact) {
            flatten_json("contact", &Value::Object(c), &mut m);
        }
        if let Some(p) = &self.identity.citizens {
            m.insert("identity.citizens".into(), p.clone());
        }
        if let Some(p) = &self.identity.staff {
            m.insert("identity.staff".into(), p.clone());
        }
        for (id, s) in &self.modules {
            m.insert(format!("modules.{id}.enabled"), s.enabled.to_string());
            flatten_json(&format!("modules.{id}"), &s.config, &mut m);
        }
        m
    }

    /// The editable form of this spec (logo as a data URL).
    pub fn to_raw(&self) -> RawTenant {
        RawTenant {
            slug: self.slug.clone(),
            name: self.name.clone(),
            status: self.status,
            domains: RawDomains {
                primary: self.primary_domain.clone(),
                aliases: self.aliases.clone(),
            },
            branding: RawBranding {
                primary_colour: self.primary_colour.clone(),
                logo: self.logo.as_ref().map(|l| {
                    format!(
                        "data:{};base64,{}",
                        l.content_type,
                        base64::engine::general_purpose::STANDARD.encode(&l.bytes)
                    )
                }),
            },
            contact: self.contact.clone(),
            modules: self
                .modules
                .iter()
                .map(|(id, s)| {
                    let config = match &s.config {
                        Value::Object(o) => o.clone(),
                        _ => Map::new(),
                    };
                    (
                        id.clone(),
                        RawModule {
                            enabled: s.enabled,
                            config,
                        },
                    )
                })
                .collect(),
            identity: self.identity.clone(),
            grants: vec![],
            departments: vec![],
        }
    }
}

fn flatten_json(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                flatten_json(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// A tenant as served: what the registry hands to request handlers.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    /// In the registry, `spec.logo` is not loaded; `has_logo` tells whether there is one.
    pub spec: TenantSpec,
    pub updated_at: DateTime<Utc>,
    pub has_logo: bool,
}

impl Tenant {
    pub fn slug(&self) -> &str {
        self.spec.slug.as_str()
    }

    pub fn name(&self, locale: Locale) -> &str {
        self.spec.name.get(locale)
    }

    pub fn is_active(&self) -> bool {
        self.spec.status == TenantStatus::Active
    }

    pub fn module_enabled(&self, module: &str) -> bool {
        self.spec.modules.get(module).is_some_and(|m| m.enabled)
    }

    pub fn module_config(&self, module: &str) -> Option<&Value> {
        self.spec
            .modules
            .get(module)
            .filter(|m| m.enabled)
            .map(|m| &m.config)
    }

    /// The host name people should use: the primary domain, else `<slug>.<base>`.
    pub fn canonical_host(&self, base_domain: &str) -> String {
        match &self.spec.primary_domain {
            Some(d) => d.to_string(),
            None => format!("{}.{base_domain}", self.spec.slug),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub struct Catalog;
    impl ModuleCatalog for Catalog {
        fn is_known(&self, module: &str) -> bool {
            module == "example"
        }
        fn is_role(&self, role: &str) -> bool {
            role == "kep-officer"
        }
        fn is_provider(&self, name: &str) -> bool {
            name == "national"
        }
        fn validate_config(
            &self,
            _: &str,
            config: &Map<String, Value>,
        ) -> Result<Value, Vec<FieldError>> {
            let mut out = Map::new();
            for (k, v) in config {
                if k != "greeting" {
                    return Err(vec![FieldError::new(k.clone(), "unknown-field")]);
                }
                out.insert(k.clone(), v.clone());
            }
            out.entry("greeting").or_insert(Value::from("Γεια"));
            Ok(Value::Object(out))
        }
    }

    pub fn ctx() -> ValidationContext<'static> {
        ValidationContext {
            catalog: &Catalog,
            base_domain: "localhost",
            file_dir: None,
        }
    }

    pub fn raw(slug: &str) -> RawTenant {
        serde_json::from_value(serde_json::json!({
            "slug": slug,
            "name": {"el": "Δήμος Δοκιμής", "en": "Municipality of Test"},
            "branding": {"primary_colour": "#003476"},
        }))
        .unwrap()
    }

    #[test]
    fn a_minimal_tenant_is_valid_and_modules_get_defaults() {
        let mut r = raw("test");
        r.modules.insert(
            "example".into(),
            RawModule {
                enabled: true,
                config: Map::new(),
            },
        );
        let spec = r.validate(&ctx()).unwrap();
        assert_eq!(spec.modules["example"].config["greeting"], "Γεια");
        assert_eq!(spec.flatten()["modules.example.greeting"], "Γεια");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut r = raw("test");
        r.name.en = " ".into();
        r.branding.primary_colour = "#ffff00".parse().unwrap();
        r.domains.primary = Some("alimos.localhost".parse().unwrap());
        r.domains.aliases = vec!["a.gr".parse().unwrap(), "a.gr".parse().unwrap()];
        r.contact.email = Some("nobody".into());
        r.modules.insert(
            "nope".into(),
            RawModule {
                enabled: true,
                config: Map::new(),
            },
        );
        let mut bad_cfg = Map::new();
        bad_cfg.insert("colour".into(), Value::from(1));
        r.modules.insert(
            "example".into(),
            RawModule {
                enabled: true,
                config: bad_cfg,
            },
        );
        let Err(Error::Validation(errs)) = r.validate(&ctx()) else {
            panic!("must fail")
        };
        let got: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            vec![
                ("name.en", "required"),
                ("domains.primary", "domain-under-base"),
                ("domains.aliases[1]", "domain-duplicate"),
                ("branding.primary_colour", "colour-contrast"),
                ("contact.email", "email-invalid"),
                ("modules.example.colour", "unknown-field"),
                ("modules.nope", "module-unknown"),
            ]
        );
    }

    #[test]
    fn logos_are_recognised_by_content() {
        assert_eq!(
            LogoData::sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec())
                .unwrap()
                .content_type,
            "image/svg+xml"
        );
        assert_eq!(
            LogoData::sniff(b"<svg><script>alert(1)</script></svg>".to_vec()),
            Err("logo-active-content")
        );
        assert_eq!(
            LogoData::sniff(b"<svg onload=\"x()\"/>".to_vec()),
            Err("logo-active-content")
        );
        assert_eq!(LogoData::sniff(b"GIF89a".to_vec()), Err("logo-type"));
        assert_eq!(
            LogoData::sniff(vec![b' '; LogoData::MAX_BYTES + 1]),
            Err("logo-too-large")
        );
    }
}
