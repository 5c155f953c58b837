//! Tenant storage. Every change goes through [`TenantStore::apply`], in one
//! transaction that also bumps the registry version (so every replica
//! reloads) and appends to the platform audit trail.

use crate::model::{Contact, LogoData, ModuleSettings, Tenant, TenantSpec, TenantStatus};
use chrono::{DateTime, Utc};
use dimos_db::sea_query::{Expr, ExprTrait, Iden, LockType, Order, Query};
use dimos_db::{Db, DbError, Tx};
use dimos_kernel::{Error, FieldError, LocalizedText, TenantId};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
    Slug,
    NameEl,
    NameEn,
    Status,
    PrimaryColour,
    Logo,
    LogoType,
    Contact,
    CreatedAt,
    UpdatedAt,
    Identity,
}

#[derive(Iden, Clone, Copy)]
enum TenantDomains {
    Table,
    TenantId,
    Domain,
    IsPrimary,
}

#[derive(Iden, Clone, Copy)]
enum TenantModules {
    Table,
    TenantId,
    ModuleId,
    Enabled,
    Config,
}

#[derive(Iden, Clone, Copy)]
enum RegistryVersion {
    Table,
    Id,
    Version,
}

#[derive(Iden, Clone, Copy)]
enum PlatformAudit {
    Table,
    Id,
    At,
    Actor,
    Action,
    TenantSlug,
    Changes,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name_el: String,
    name_en: String,
    status: String,
    primary_colour: String,
    logo: Option<Vec<u8>>,
    logo_type: Option<String>,
    contact: Json<Contact>,
    updated_at: DateTime<Utc>,
    identity: Option<Json<crate::model::TenantIdentity>>,
}

#[derive(sqlx::FromRow)]
struct DomainRow {
    tenant_id: Uuid,
    domain: String,
    is_primary: bool,
}

#[derive(sqlx::FromRow)]
struct ModuleRow {
    tenant_id: Uuid,
    module_id: String,
    enabled: bool,
    config: Json<Value>,
}

/// One field that an apply changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Change {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        write!(
            f,
            "{}: {} → {}",
            self.field,
            show(&self.from),
            show(&self.to)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "changes", rename_all = "lowercase")]
pub enum ApplyOutcome {
    Created,
    Updated(Vec<Change>),
    Unchanged,
}

/// Whether `apply` may create, update, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    Upsert,
    CreateOnly,
    UpdateOnly,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[sqlx(json)]
    pub changes: Vec<Change>,
}

/// What every change to the tenants runs in its transaction: replicas
/// poll the version and reload.
pub fn registry_bump() -> dimos_db::sea_query::UpdateStatement {
    Query::update()
        .table(RegistryVersion::Table)
        .value(
            RegistryVersion::Version,
            Expr::col(RegistryVersion::Version).add(1),
        )
        .and_where(Expr::col(RegistryVersion::Id).eq(1))
        .to_owned()
}

/// An entry of the operator's change history, for changes made outside
/// this store (a municipality deleted): written in the change's own
/// transaction.
pub fn operator_entry(
    actor: &str,
    action: &str,
    slug: &str,
    changes: serde_json::Value,
    at: DateTime<Utc>,
) -> dimos_db::sea_query::InsertStatement {
    Query::insert()
        .into_table(PlatformAudit::Table)
        .columns([
            PlatformAudit::Id,
            PlatformAudit::At,
            PlatformAudit::Actor,
            PlatformAudit::Action,
            PlatformAudit::TenantSlug,
            PlatformAudit::Changes,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            at.into(),
            actor.into(),
            action.into(),
            slug.into(),
            changes.into(),
        ])
        .to_owned()
}

#[derive(Clone, Debug)]
pub struct TenantStore {
    db: Db,
}

impl TenantStore {
    pub fn new(db: Db) -> Self {
        TenantStore { db }
    }

    /// The database the registry lives in (for the operator's commands).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Number bumped by every tenant change.
    pub async fn version(&self) -> Result<i64, DbError> {
        let q = Query::select()
            .column(RegistryVersion::Version)
            .from(RegistryVersion::Table)
            .and_where(Expr::col(RegistryVersion::Id).eq(1))
            .to_owned();
        Ok(self.db.fetch_one::<(i64,)>(&q).await?.0)
    }

    /// All tenants, without logo bytes (the registry needs only whether there is one).
    pub async fn list(&self) -> Result<Vec<Tenant>, DbError> {
        let q = tenant_select(false);
        let rows: Vec<TenantRow> = self.db.fetch_all(&q).await?;
        let domains: Vec<DomainRow> = self.db.fetch_all(&domain_select(None)).await?;
        let modules: Vec<ModuleRow> = self.db.fetch_all(&module_select(None)).await?;
        Ok(assemble(rows, domains, modules))
    }

    /// Tenant-scoped database access for one tenant (for the layers that
    /// keep tenant data next to the registry, e.g. initial role grants).
    #[allow(clippy::disallowed_methods)]
    pub fn tenant_db(&self, tenant: TenantId) -> dimos_db::TenantDb {
        dimos_db::TenantDb::new(self.db.clone(), tenant)
    }

    /// One tenant with its logo, or `NotFound`.
    pub async fn require(&self, slug: &str) -> Result<Tenant, Error> {
        self.get(slug).await?.ok_or(Error::NotFound)
    }

    /// One tenant with its logo.
    pub async fn get(&self, slug: &str) -> Result<Option<Tenant>, DbError> {
        // Three reads that must agree: one snapshot, no write lock.
        let mut tx = self.db.begin_read().await?;
        let t = load_one(&mut tx, slug).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn logo(&self, tenant: TenantId) -> Result<Option<LogoData>, DbError> {
        let q = Query::select()
            .columns([Tenants::Logo, Tenants::LogoType])
            .from(Tenants::Table)
            .and_where(Expr::col(Tenants::Id).eq(tenant.uuid()))
            .to_owned();
        let row: Option<(Option<Vec<u8>>, Option<String>)> = self.db.fetch_optional(&q).await?;
        Ok(row.and_then(|(b, t)| {
            Some(LogoData {
                bytes: b?,
                content_type: t?,
            })
        }))
    }

    pub async fn history(&self, slug: &str) -> Result<Vec<AuditEntry>, DbError> {
        let q = Query::select()
            .columns([
                PlatformAudit::At,
                PlatformAudit::Actor,
                PlatformAudit::Action,
                PlatformAudit::Changes,
            ])
            .from(PlatformAudit::Table)
            .and_where(Expr::col(PlatformAudit::TenantSlug).eq(slug))
            .order_by(PlatformAudit::At, Order::Desc)
            .to_owned();
        self.db.fetch_all(&q).await
    }

    pub async fn apply(
        &self,
        spec: &TenantSpec,
        actor: &str,
        mode: ApplyMode,
    ) -> Result<ApplyOutcome, Error> {
        Ok(self
            .apply_all(std::slice::from_ref(spec), actor, mode)
            .await?
            .remove(0))
    }

    /// Applies several tenants in one transaction: all or nothing.
    pub async fn apply_all(
        &self,
        specs: &[TenantSpec],
        actor: &str,
        mode: ApplyMode,
    ) -> Result<Vec<ApplyOutcome>, Error> {
        let mut tx = self.db.begin().await?;
        // One apply at a time: replicas starting together each apply the
        // same tenant files, and the second must find the first's tenants
        // (and leave them be) rather than fail on their slugs. (SQLite's
        // transactions take its one write lock at the start already.)
        let serialise = Query::select()
            .column(RegistryVersion::Version)
            .from(RegistryVersion::Table)
            .and_where(Expr::col(RegistryVersion::Id).eq(1))
            .lock(LockType::Update)
            .to_owned();
        tx.execute(&serialise).await?;
        let mut outcomes = vec![];
        let mut changed = false;
        for spec in specs {
            let outcome = apply_one(&mut tx, spec, actor, mode).await?;
            changed |= outcome != ApplyOutcome::Unchanged;
            outcomes.push(outcome);
        }
        if changed {
            tx.execute(&registry_bump()).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Reads a tenant, lets `f` change its definition, applies the result.
    pub async fn modify(
        &self,
        slug: &str,
        actor: &str,
        f: impl FnOnce(&mut TenantSpec) -> Result<(), Error>,
    ) -> Result<ApplyOutcome, Error> {
        let mut spec = self.require(slug).await?.spec;
        f(&mut spec)?;
        self.apply(&spec, actor, ApplyMode::UpdateOnly).await
    }

    pub async fn set_status(
        &self,
        slug: &str,
        status: TenantStatus,
        actor: &str,
    ) -> Result<ApplyOutcome, Error> {
        self.modify(slug, actor, |s| {
            s.status = status;
            Ok(())
        })
        .await
    }

    pub async fn set_module(
        &self,
        slug: &str,
        module: &str,
        settings: Option<ModuleSettings>,
        actor: &str,
    ) -> Result<ApplyOutcome, Error> {
        self.modify(slug, actor, |s| {
            match settings {
                Some(m) => s.modules.insert(module.to_owned(), m),
                None => s.modules.remove(module),
            };
            Ok(())
        })
        .await
    }
}

fn tenant_select(with_logo: bool) -> dimos_db::sea_query::SelectStatement {
    let mut q = Query::select();
    q.columns([
        Tenants::Id,
        Tenants::Slug,
        Tenants::NameEl,
        Tenants::NameEn,
        Tenants::Status,
        Tenants::PrimaryColour,
        Tenants::LogoType,
        Tenants::Contact,
        Tenants::UpdatedAt,
        Tenants::Identity,
    ])
    .from(Tenants::Table)
    .order_by(Tenants::Slug, Order::Asc);
    if with_logo {
        q.column(Tenants::Logo);
    } else {
        q.expr_as(Expr::val(Option::<Vec<u8>>::None), Tenants::Logo);
    }
    q
}

fn domain_select(tenant: Option<Uuid>) -> dimos_db::sea_query::SelectStatement {
    let mut q = Query::select();
    q.columns([
        TenantDomains::TenantId,
        TenantDomains::Domain,
        TenantDomains::IsPrimary,
    ])
    .from(TenantDomains::Table)
    .order_by(TenantDomains::Domain, Order::Asc);
    if let Some(t) = tenant {
        q.and_where(Expr::col(TenantDomains::TenantId).eq(t));
    }
    q
}

fn module_select(tenant: Option<Uuid>) -> dimos_db::sea_query::SelectStatement {
    let mut q = Query::select();
    q.columns([
        TenantModules::TenantId,
        TenantModules::ModuleId,
        TenantModules::Enabled,
        TenantModules::Config,
    ])
    .from(TenantModules::Table);
    if let Some(t) = tenant {
        q.and_where(Expr::col(TenantModules::TenantId).eq(t));
    }
    q
}

fn assemble(rows: Vec<TenantRow>, domains: Vec<DomainRow>, modules: Vec<ModuleRow>) -> Vec<Tenant> {
    rows.into_iter()
        .filter_map(|r| {
            let id = r.id;
            let mine = domains.iter().filter(|d| d.tenant_id == id);
            let primary = mine
                .clone()
                .find(|d| d.is_primary)
                .and_then(|d| d.domain.parse().ok());
            let aliases = mine
                .filter(|d| !d.is_primary)
                .filter_map(|d| d.domain.parse().ok())
                .collect();
            let modules = modules
                .iter()
                .filter(|m| m.tenant_id == id)
                .map(|m| {
                    (
                        m.module_id.clone(),
                        ModuleSettings {
                            enabled: m.enabled,
                            config: m.config.0.clone(),
                        },
                    )
                })
                .collect();
            let has_logo = r.logo_type.is_some();
            let logo = match (r.logo, r.logo_type) {
                (Some(bytes), Some(content_type)) => Some(LogoData {
                    bytes,
                    content_type,
                }),
                _ => None,
            };
            // Rows were validated on the way in; one that no longer parses
            // (a rule tightened since) is logged and left out, not served half-read.
            let spec = (|| {
                Some(TenantSpec {
                    slug: r.slug.parse().ok()?,
                    name: LocalizedText {
                        el: r.name_el,
                        en: r.name_en,
                    },
                    status: TenantStatus::parse(&r.status)?,
                    primary_domain: primary,
                    aliases,
                    primary_colour: r.primary_colour.parse().ok()?,
                    logo,
                    contact: r.contact.0,
                    modules,
                    identity: r.identity.map(|j| j.0).unwrap_or_default(),
                    grants: vec![],
                    departments: vec![],
                })
            })();
            if spec.is_none() {
                tracing::error!(tenant = %id, "stored tenant no longer validates; not served");
            }
            Some(Tenant {
                id: TenantId(id),
                spec: spec?,
                updated_at: r.updated_at,
                has_logo,
            })
        })
        .collect()
}

async fn load_one(tx: &mut Tx<'_>, slug: &str) -> Result<Option<Tenant>, DbError> {
    let mut q = tenant_select(true);
    q.and_where(Expr::col(Tenants::Slug).eq(slug));
    let Some(row): Option<TenantRow> = tx.fetch_optional(&q).await? else {
        return Ok(None);
    };
    let domains = tx.fetch_all(&domain_select(Some(row.id))).await?;
    let modules = tx.fetch_all(&module_select(Some(row.id))).await?;
    Ok(assemble(vec![row], domains, modules).pop())
}

fn diff(old: &TenantSpec, new: &TenantSpec) -> Vec<Change> {
    let (a, b) = (old.flatten(), new.flatten());
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            field: k.clone(),
            from: a.get(k).cloned(),
            to: b.get(k).cloned(),
        })
        .collect()
}

async fn apply_one(
    tx: &mut Tx<'_>,
    spec: &TenantSpec,
    actor: &str,
    mode: ApplyMode,
) -> Result<ApplyOutcome, Error> {
    let slug = spec.slug.as_str();
    let current = load_one(tx, slug).await?;
    let now = dimos_kernel::clock::wall_now();
    let (id, outcome, changes) = match (&current, mode) {
        (Some(_), ApplyMode::CreateOnly) => {
            return Err(Error::Validation(vec![
                FieldError::new("slug", "slug-taken").with_detail(slug),
            ]));
        }
        (None, ApplyMode::UpdateOnly) => return Err(Error::NotFound),
        (Some(cur), _) => {
            let changes = diff(&cur.spec, spec);
            if changes.is_empty() {
                return Ok(ApplyOutcome::Unchanged);
            }
            (
                cur.id.uuid(),
                ApplyOutcome::Updated(changes.clone()),
                changes,
            )
        }
        (None, _) => {
            let changes = spec
                .flatten()
                .into_iter()
                .map(|(field, v)| Change {
                    field,
                    from: None,
                    to: Some(v),
                })
                .collect();
            (TenantId::new().uuid(), ApplyOutcome::Created, changes)
        }
    };
    check_domains_free(tx, id, spec).await?;

    let contact = serde_json::to_value(&spec.contact).map_err(Error::internal)?;
    let identity: Option<serde_json::Value> = if spec.identity.is_default() {
        None
    } else {
        Some(serde_json::to_value(&spec.identity).map_err(Error::internal)?)
    };
    let (logo, logo_type) = match &spec.logo {
        Some(l) => (Some(l.bytes.clone()), Some(l.content_type.clone())),
        None => (None, None),
    };
    if current.is_some() {
        let q = Query::update()
            .table(Tenants::Table)
            .values([
                (Tenants::NameEl, spec.name.el.clone().into()),
                (Tenants::NameEn, spec.name.en.clone().into()),
                (Tenants::Status, spec.status.as_str().into()),
                (
                    Tenants::PrimaryColour,
                    spec.primary_colour.to_string().into(),
                ),
                (Tenants::Logo, logo.into()),
                (Tenants::LogoType, logo_type.into()),
                (Tenants::Contact, contact.into()),
                (Tenants::Identity, identity.clone().into()),
                (Tenants::UpdatedAt, now.into()),
            ])
            .and_where(Expr::col(Tenants::Id).eq(id))
            .to_owned();
        tx.execute(&q).await?;
    } else {
        let q = Query::insert()
            .into_table(Tenants::Table)
            .columns([
                Tenants::Id,
                Tenants::Slug,
                Tenants::NameEl,
                Tenants::NameEn,
                Tenants::Status,
                Tenants::PrimaryColour,
                Tenants::Logo,
                Tenants::LogoType,
                Tenants::Contact,
                Tenants::Identity,
                Tenants::CreatedAt,
                Tenants::UpdatedAt,
            ])
            .values_panic([
                id.into(),
                slug.into(),
                spec.name.el.clone().into(),
                spec.name.en.clone().into(),
                spec.status.as_str().into(),
                spec.primary_colour.to_string().into(),
                logo.into(),
                logo_type.into(),
                contact.into(),
                identity.into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        tx.execute(&q)
            .await
            .map_err(|e| taken(e, "slug", "slug", "slug-taken", slug))?;
    }

    tx.execute(
        &Query::delete()
            .from_table(TenantDomains::Table)
            .and_where(Expr::col(TenantDomains::TenantId).eq(id))
            .to_owned(),
    )
    .await?;
    let domains = spec
        .primary_domain
        .iter()
        .map(|d| (d, true))
        .chain(spec.aliases.iter().map(|d| (d, false)));
    for (d, primary) in domains {
        let q = Query::insert()
            .into_table(TenantDomains::Table)
            .columns([
                TenantDomains::TenantId,
                TenantDomains::Domain,
                TenantDomains::IsPrimary,
            ])
            .values_panic([id.into(), d.to_string().into(), primary.into()])
            .to_owned();
        tx.execute(&q)
            .await
            .map_err(|e| taken(e, "domain", "domains", "domain-taken", d.as_str()))?;
    }

    tx.execute(
        &Query::delete()
            .from_table(TenantModules::Table)
            .and_where(Expr::col(TenantModules::TenantId).eq(id))
            .to_owned(),
    )
    .await?;
    for (module, m) in &spec.modules {
        let q = Query::insert()
            .into_table(TenantModules::Table)
            .columns([
                TenantModules::TenantId,
                TenantModules::ModuleId,
                TenantModules::Enabled,
                TenantModules::Config,
            ])
            .values_panic([
                id.into(),
                module.clone().into(),
                m.enabled.into(),
                m.config.clone().into(),
            ])
            .to_owned();
        tx.execute(&q).await?;
    }

    let action = if current.is_some() {
        "tenant.updated"
    } else {
        "tenant.created"
    };
    let audit = operator_entry(
        actor,
        action,
        slug,
        serde_json::to_value(&changes).map_err(Error::internal)?,
        now,
    );
    tx.execute(&audit).await?;
    Ok(outcome)
}

/// Names the domain another tenant already uses, for a precise message; the
/// unique constraint stays the authority under concurrency.
async fn check_domains_free(tx: &mut Tx<'_>, id: Uuid, spec: &TenantSpec) -> Result<(), Error> {
    let wanted: Vec<String> = spec
        .primary_domain
        .iter()
        .chain(spec.aliases.iter())
        .map(ToString::to_string)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let q = Query::select()
        .column(TenantDomains::Domain)
        .from(TenantDomains::Table)
        .and_where(Expr::col(TenantDomains::Domain).is_in(wanted))
        .and_where(Expr::col(TenantDomains::TenantId).ne(id))
        .to_owned();
    let taken: Vec<(String,)> = tx.fetch_all(&q).await?;
    if taken.is_empty() {
        return Ok(());
    }
    Err(Error::Validation(
        taken
            .into_iter()
            .map(|(d,)| FieldError::new("domains", "domain-taken").with_detail(d))
            .collect(),
    ))
}

/// A unique violation on `column` becomes a field error people can act on.
fn taken(e: DbError, column: &str, field: &str, code: &'static str, value: &str) -> Error {
    if e.is_unique_on(column) {
        Error::Validation(vec![FieldError::new(field, code).with_detail(value)])
    } else {
        e.into()
    }
}
