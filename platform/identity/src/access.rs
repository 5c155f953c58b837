//! Role-based access control with casbin, one domain per tenant (RBAC with
//! domains). Default roles and their permissions come from code (the
//! platform's and every module's); each municipality's grants, departments
//! and extra role permissions are rows in our database. Every replica builds
//! an enforcer from them and rebuilds it when the access version moves.

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use chrono::{DateTime, Utc};
use dimos_db::{Db, DbError, TenantDb, TenantTx};
use dimos_kernel::TenantId;
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::RwLock;
use uuid::Uuid;

const MODEL: &str = r#"
[request_definition]
r = sub, dom, perm

[policy_definition]
p = sub, dom, perm

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && (p.dom == r.dom || p.dom == "*") && r.perm == p.perm
"#;

/// A role every municipality has, with the permissions it carries by default.
#[derive(Debug, Clone, Serialize)]
pub struct RoleDefault {
    pub id: String,
    pub label_key: String,
    pub permissions: BTreeSet<String>,
}

/// Every permission and default role this build knows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccessCatalog {
    /// permission id → label key
    pub permissions: BTreeMap<String, String>,
    pub roles: BTreeMap<String, RoleDefault>,
}

impl AccessCatalog {
    pub fn add_permission(&mut self, id: &str, label_key: &str) {
        self.permissions.insert(id.to_owned(), label_key.to_owned());
    }

    pub fn add_role(&mut self, id: &str, label_key: &str) {
        self.roles
            .entry(id.to_owned())
            .or_insert_with(|| RoleDefault {
                id: id.to_owned(),
                label_key: label_key.to_owned(),
                permissions: BTreeSet::new(),
            });
    }

    /// Gives `role` a permission by default; unknown names are an error at start-up.
    pub fn grant_default(&mut self, role: &str, permission: &str) -> Result<(), String> {
        if !self.permissions.contains_key(permission) {
            return Err(format!(
                "default grant to {role}: unknown permission {permission}"
            ));
        }
        let r = self
            .roles
            .get_mut(role)
            .ok_or_else(|| format!("default grant of {permission}: unknown role {role}"))?;
        r.permissions.insert(permission.to_owned());
        Ok(())
    }

    pub fn is_role(&self, id: &str) -> bool {
        self.roles.contains_key(id)
    }
}

#[derive(Iden, Clone, Copy)]
enum RoleGrants {
    Table,
    TenantId,
    Subject,
    Role,
    GrantedBy,
    GrantedAt,
}

#[derive(Iden, Clone, Copy)]
enum RolePermissions {
    Table,
    TenantId,
    Role,
    Permission,
}

#[derive(Iden, Clone, Copy)]
enum Departments {
    Table,
    Slug,
    NameEl,
    NameEn,
}

#[derive(Iden, Clone, Copy)]
enum DepartmentMembers {
    Table,
    TenantId,
    Department,
    Subject,
}

#[derive(Iden, Clone, Copy)]
enum AccessVersion {
    Table,
    Id,
    Version,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Grant {
    pub subject: String,
    pub role: String,
    pub granted_by: String,
    pub granted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Department {
    pub slug: String,
    pub name_el: String,
    pub name_en: String,
}

/// The subject string of a person known by tax id.
pub fn tax_id_subject(tax_id: &str) -> String {
    format!("taxid:{tax_id}")
}

pub struct Access {
    db: Db,
    catalog: Arc<AccessCatalog>,
    /// The enforcer and, beside it, its grouping rules: casbin's own
    /// lookup of a person's roles needs the enforcer mutably (a write lock
    /// that every signed-in page took); these are read under a read lock.
    enforcer: RwLock<(Enforcer, Groups)>,
    version: std::sync::atomic::AtomicI64,
}

/// Who belongs to what (a role, a department), per tenant: the grouping
/// rules the enforcer holds.
#[derive(Debug, Default)]
struct Groups(std::collections::HashMap<(String, String), Vec<String>>);

impl Groups {
    fn add(&mut self, subject: String, group: String, tenant: String) {
        self.0.entry((tenant, subject)).or_default().push(group);
    }

    /// Every group `subject` belongs to in `tenant`, directly or through
    /// another (a role granted to a department), as casbin's
    /// `get_implicit_roles_for_user` finds them.
    fn implicit(&self, tenant: &str, subject: &str) -> Vec<String> {
        let mut seen: Vec<String> = vec![];
        let mut queue = vec![subject.to_owned()];
        while let Some(s) = queue.pop() {
            for g in self.0.get(&(tenant.to_owned(), s)).into_iter().flatten() {
                if !seen.contains(g) {
                    seen.push(g.clone());
                    queue.push(g.clone());
                }
            }
        }
        seen
    }
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("version", &self.version())
            .finish()
    }
}

fn casbin_err(e: casbin::Error) -> DbError {
    DbError::Unavailable(format!("access policy: {e}"))
}

impl Access {
    pub async fn load(db: Db, catalog: Arc<AccessCatalog>) -> Result<Access, DbError> {
        let enforcer = Self::build(&db, &catalog).await?;
        let a = Access {
            db,
            catalog,
            enforcer: RwLock::new((enforcer.0, enforcer.2)),
            version: enforcer.1.into(),
        };
        Ok(a)
    }

    pub fn catalog(&self) -> &AccessCatalog {
        &self.catalog
    }

    pub fn version(&self) -> i64 {
        self.version.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn current_version(db: &Db) -> Result<i64, DbError> {
        let q = Query::select()
            .column(AccessVersion::Version)
            .from(AccessVersion::Table)
            .and_where(Expr::col(AccessVersion::Id).eq(1))
            .to_owned();
        Ok(db.fetch_one::<(i64,)>(&q).await?.0)
    }

    async fn build(db: &Db, catalog: &AccessCatalog) -> Result<(Enforcer, i64, Groups), DbError> {
        let version = Self::current_version(db).await?;
        let model = DefaultModel::from_str(MODEL).await.map_err(casbin_err)?;
        let mut e = Enforcer::new(model, MemoryAdapter::default())
            .await
            .map_err(casbin_err)?;
        let mut policies: Vec<Vec<String>> = catalog
            .roles
            .values()
            .flat_map(|r| {
                r.permissions
                    .iter()
                    .map(move |p| vec![format!("role:{}", r.id), "*".into(), p.clone()])
            })
            .collect();
        let extra: Vec<(Uuid, String, String)> = db
            .fetch_all(
                &Query::select()
                    .columns([
                        RolePermissions::TenantId,
                        RolePermissions::Role,
                        RolePermissions::Permission,
                    ])
                    .from(RolePermissions::Table)
                    .to_owned(),
            )
            .await?;
        policies.extend(
            extra
                .into_iter()
                .map(|(t, r, p)| vec![format!("role:{r}"), t.to_string(), p]),
        );
        let grants: Vec<(Uuid, String, String)> = db
            .fetch_all(
                &Query::select()
                    .columns([RoleGrants::TenantId, RoleGrants::Subject, RoleGrants::Role])
                    .from(RoleGrants::Table)
                    .to_owned(),
            )
            .await?;
        let members: Vec<(Uuid, String, String)> = db
            .fetch_all(
                &Query::select()
                    .columns([
                        DepartmentMembers::TenantId,
                        DepartmentMembers::Subject,
                        DepartmentMembers::Department,
                    ])
                    .from(DepartmentMembers::Table)
                    .to_owned(),
            )
            .await?;
        let mut groupings: Vec<Vec<String>> = grants
            .into_iter()
            .map(|(t, s, r)| vec![s, format!("role:{r}"), t.to_string()])
            .collect();
        groupings.extend(
            members
                .into_iter()
                .map(|(t, s, d)| vec![s, format!("dept:{d}"), t.to_string()]),
        );
        if !policies.is_empty() {
            e.add_policies(policies).await.map_err(casbin_err)?;
        }
        let mut groups = Groups::default();
        for g in &groupings {
            if let [subject, group, tenant] = g.as_slice() {
                groups.add(subject.clone(), group.clone(), tenant.clone());
            }
        }
        if !groupings.is_empty() {
            e.add_grouping_policies(groupings)
                .await
                .map_err(casbin_err)?;
        }
        Ok((e, version, groups))
    }

    pub async fn reload(&self) -> Result<(), DbError> {
        let (e, v, groups) = Self::build(&self.db, &self.catalog).await?;
        *self.enforcer.write().await = (e, groups);
        self.version.store(v, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Rebuilds the enforcer if another replica changed access.
    pub async fn refresh(&self) -> Result<bool, DbError> {
        if Self::current_version(&self.db).await? == self.version() {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Whether any of the person's subjects holds `permission` in `tenant`.
    pub async fn allowed(&self, tenant: TenantId, subjects: &[String], permission: &str) -> bool {
        let e = self.enforcer.read().await;
        let dom = tenant.to_string();
        subjects.iter().any(|s| {
            e.0.enforce((s.as_str(), dom.as_str(), permission))
                .unwrap_or(false)
        })
    }

    /// Roles of a subject in a tenant (directly or through departments).
    pub async fn roles_of(&self, tenant: TenantId, subjects: &[String]) -> BTreeSet<String> {
        let e = self.enforcer.read().await;
        let dom = tenant.to_string();
        subjects
            .iter()
            .flat_map(|s| e.1.implicit(&dom, s))
            .filter_map(|r| r.strip_prefix("role:").map(str::to_owned))
            .collect()
    }

    /// Departments a subject belongs to in a tenant.
    pub async fn departments_of(&self, tenant: TenantId, subjects: &[String]) -> BTreeSet<String> {
        let e = self.enforcer.read().await;
        let dom = tenant.to_string();
        subjects
            .iter()
            .flat_map(|s| e.1.implicit(&dom, s))
            .filter_map(|r| r.strip_prefix("dept:").map(str::to_owned))
            .collect()
    }

    /// After an access change commits (made with an `_in` function in the
    /// caller's transaction, with its audit entry): every replica rebuilds
    /// its enforcer, this one now.
    pub async fn changed(&self) -> Result<(), DbError> {
        self.db.execute(&Self::version_bump()).await?;
        self.reload().await
    }

    /// What makes every replica rebuild its enforcer, run by a change
    /// made outside this handle (a municipality imported whole).
    pub fn version_bump() -> sea_query::UpdateStatement {
        Query::update()
            .table(AccessVersion::Table)
            .value(
                AccessVersion::Version,
                Expr::col(AccessVersion::Version).add(1),
            )
            .and_where(Expr::col(AccessVersion::Id).eq(1))
            .to_owned()
    }

    pub async fn grants(&self, db: &TenantDb) -> Result<Vec<Grant>, DbError> {
        let mut q = db.select(RoleGrants::Table);
        q.columns([
            RoleGrants::Subject,
            RoleGrants::Role,
            RoleGrants::GrantedBy,
            RoleGrants::GrantedAt,
        ])
        .order_by(RoleGrants::Subject, Order::Asc)
        .order_by(RoleGrants::Role, Order::Asc);
        db.fetch_all(&q).await
    }

    /// Grants a role in the caller's transaction; `false` if it was held
    /// already. Call [`Self::changed`] after the commit when it returned
    /// true. ON CONFLICT rather than catching the error: a failed statement
    /// would end a PostgreSQL transaction.
    pub async fn grant_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        subject: &str,
        role: &str,
        by: &str,
    ) -> Result<bool, DbError> {
        let mut q = db.insert(
            RoleGrants::Table,
            [
                RoleGrants::Subject,
                RoleGrants::Role,
                RoleGrants::GrantedBy,
                RoleGrants::GrantedAt,
            ],
        );
        q.values([
            subject.into(),
            role.into(),
            by.into(),
            dimos_kernel::clock::wall_now().into(),
        ]);
        q.statement().on_conflict(
            sea_query::OnConflict::columns([
                sea_query::Alias::new("tenant_id"),
                sea_query::Alias::new("subject"),
                sea_query::Alias::new("role"),
            ])
            .do_nothing()
            .to_owned(),
        );
        Ok(tx.insert_rows(&q).await? == 1)
    }

    /// Commits a change made alone and, if it changed anything, tells
    /// every replica.
    async fn finish(&self, tx: TenantTx<'_>, changed: bool) -> Result<bool, DbError> {
        tx.commit().await?;
        if changed {
            self.changed().await?;
        }
        Ok(changed)
    }

    /// Grants a role; granting one that is held already changes nothing.
    pub async fn grant(
        &self,
        db: &TenantDb,
        subject: &str,
        role: &str,
        by: &str,
    ) -> Result<bool, DbError> {
        let mut tx = db.begin().await?;
        let changed = Self::grant_in(&mut tx, db, subject, role, by).await?;
        self.finish(tx, changed).await
    }

    pub async fn revoke(&self, db: &TenantDb, subject: &str, role: &str) -> Result<bool, DbError> {
        let mut tx = db.begin().await?;
        let changed = Self::revoke_in(&mut tx, db, subject, role).await?;
        self.finish(tx, changed).await
    }

    /// The same in the caller's transaction; call [`Self::changed`] after
    /// the commit when it returned true.
    pub async fn revoke_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        subject: &str,
        role: &str,
    ) -> Result<bool, DbError> {
        let mut q = db.delete(RoleGrants::Table);
        q.and_where(Expr::col(RoleGrants::Subject).eq(subject))
            .and_where(Expr::col(RoleGrants::Role).eq(role));
        Ok(tx.execute(&q).await? > 0)
    }

    /// Puts a person in a department; false if they were in it already.
    /// In the caller's transaction; call [`Self::changed`] after the commit
    /// when it returned true.
    pub async fn add_member_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        department: &str,
        subject: &str,
    ) -> Result<bool, DbError> {
        let mut q = db.insert(
            DepartmentMembers::Table,
            [DepartmentMembers::Department, DepartmentMembers::Subject],
        );
        q.values([department.into(), subject.into()]);
        q.statement().on_conflict(
            sea_query::OnConflict::columns([
                sea_query::Alias::new("tenant_id"),
                sea_query::Alias::new("department"),
                sea_query::Alias::new("subject"),
            ])
            .do_nothing()
            .to_owned(),
        );
        Ok(tx.insert_rows(&q).await? == 1)
    }

    pub async fn add_member(
        &self,
        db: &TenantDb,
        department: &str,
        subject: &str,
    ) -> Result<bool, DbError> {
        let mut tx = db.begin().await?;
        let changed = Self::add_member_in(&mut tx, db, department, subject).await?;
        self.finish(tx, changed).await
    }

    /// Permissions a municipality added to a role, beyond the defaults.
    pub async fn extra_permissions(&self, db: &TenantDb) -> Result<Vec<(String, String)>, DbError> {
        let mut q = db.select(RolePermissions::Table);
        q.columns([RolePermissions::Role, RolePermissions::Permission]);
        db.fetch_all(&q).await
    }

    /// Replaces the permissions a municipality adds to `role` (defaults
    /// stay), in the caller's transaction; call [`Self::changed`] after the
    /// commit.
    pub async fn set_extra_permissions_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        role: &str,
        permissions: &[String],
    ) -> Result<(), DbError> {
        let mut del = db.delete(RolePermissions::Table);
        del.and_where(Expr::col(RolePermissions::Role).eq(role));
        tx.execute(&del).await?;
        for p in permissions {
            let mut ins = db.insert(
                RolePermissions::Table,
                [RolePermissions::Role, RolePermissions::Permission],
            );
            ins.values([role.into(), p.clone().into()]);
            tx.insert_rows(&ins).await?;
        }
        Ok(())
    }

    /// Creates or renames a department, in the caller's transaction (names
    /// are not policy: nothing to rebuild).
    pub async fn put_department_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        d: &Department,
    ) -> Result<(), DbError> {
        let mut q = db.insert(
            Departments::Table,
            [Departments::Slug, Departments::NameEl, Departments::NameEn],
        );
        q.values([
            d.slug.clone().into(),
            d.name_el.clone().into(),
            d.name_en.clone().into(),
        ]);
        q.statement().on_conflict(
            sea_query::OnConflict::columns([
                sea_query::Alias::new("tenant_id"),
                sea_query::Alias::new("slug"),
            ])
            .update_columns([Departments::NameEl, Departments::NameEn])
            .to_owned(),
        );
        tx.insert_rows(&q).await.map(drop)
    }

    pub async fn departments(
        &self,
        db: &TenantDb,
    ) -> Result<Vec<(Department, Vec<String>)>, DbError> {
        let mut q = db.select(Departments::Table);
        q.columns([Departments::Slug, Departments::NameEl, Departments::NameEn])
            .order_by(Departments::Slug, Order::Asc);
        let depts: Vec<Department> = db.fetch_all(&q).await?;
        let mut m = db.select(DepartmentMembers::Table);
        m.columns([DepartmentMembers::Department, DepartmentMembers::Subject]);
        let members: Vec<(String, String)> = db.fetch_all(&m).await?;
        Ok(depts
            .into_iter()
            .map(|d| {
                let mine = members
                    .iter()
                    .filter(|(dep, _)| *dep == d.slug)
                    .map(|(_, s)| s.clone())
                    .collect();
                (d, mine)
            })
            .collect())
    }

    pub async fn department_exists(&self, db: &TenantDb, slug: &str) -> Result<bool, DbError> {
        let mut q = db.select(Departments::Table);
        q.column(Departments::Slug)
            .and_where(Expr::col(Departments::Slug).eq(slug));
        Ok(db.fetch_optional::<(String,)>(&q).await?.is_some())
    }

    /// Takes a person out of a department, in the caller's transaction;
    /// call [`Self::changed`] after the commit when it returned true.
    pub async fn remove_member_in(
        tx: &mut TenantTx<'_>,
        db: &TenantDb,
        department: &str,
        subject: &str,
    ) -> Result<bool, DbError> {
        let mut q = db.delete(DepartmentMembers::Table);
        q.and_where(Expr::col(DepartmentMembers::Department).eq(department))
            .and_where(Expr::col(DepartmentMembers::Subject).eq(subject));
        Ok(tx.execute(&q).await? > 0)
    }

    /// Applies the grants a tenant file declares (idempotent; adds only).
    pub async fn ensure_grants(
        &self,
        db: &TenantDb,
        grants: &[(String, String)],
        by: &str,
    ) -> Result<usize, DbError> {
        let mut tx = db.begin().await?;
        let mut added = 0;
        for (subject, role) in grants {
            if Self::grant_in(&mut tx, db, subject, role, by).await? {
                added += 1;
            }
        }
        tx.commit().await?;
        if added > 0 {
            self.changed().await?;
        }
        Ok(added)
    }

    /// Applies the departments a tenant file declares: each one missing is
    /// created with its members (idempotent; adds only: a department that
    /// exists keeps the name and the people the admin gave it, so a member
    /// taken out is not put back at the next start). Returns
    /// (departments, members) added.
    pub async fn ensure_departments(
        &self,
        db: &TenantDb,
        departments: &[(Department, Vec<String>)],
    ) -> Result<(usize, usize), DbError> {
        let mut tx = db.begin().await?;
        let (mut added, mut members) = (0, 0);
        for (d, subjects) in departments {
            let mut q = db.insert(
                Departments::Table,
                [Departments::Slug, Departments::NameEl, Departments::NameEn],
            );
            q.values([
                d.slug.clone().into(),
                d.name_el.clone().into(),
                d.name_en.clone().into(),
            ]);
            q.statement().on_conflict(
                sea_query::OnConflict::columns([
                    sea_query::Alias::new("tenant_id"),
                    sea_query::Alias::new("slug"),
                ])
                .do_nothing()
                .to_owned(),
            );
            // Members come with a new department only: one the admin has
            // since changed keeps its people as the admin left them.
            if tx.insert_rows(&q).await? == 0 {
                continue;
            }
            added += 1;
            for s in subjects {
                if Self::add_member_in(&mut tx, db, &d.slug, s).await? {
                    members += 1;
                }
            }
        }
        tx.commit().await?;
        if added > 0 {
            self.changed().await?;
        }
        Ok((added, members))
    }

    /// Polls for changes made by other replicas until stopped.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> dimos_db::background::Worker {
        let me = Arc::clone(self);
        dimos_db::background::spawn_every(every, "access policy refresh", move || {
            let me = Arc::clone(&me);
            async move { me.refresh().await.map(drop) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use casbin::RbacApi;

    #[test]
    fn default_grants_must_name_known_things() {
        let mut c = AccessCatalog::default();
        c.add_permission("accounts.verify", "p");
        c.add_role("kep-officer", "r");
        assert!(c.grant_default("kep-officer", "accounts.verify").is_ok());
        assert!(c.grant_default("kep-officer", "nope").is_err());
        assert!(c.grant_default("nobody", "accounts.verify").is_err());
    }

    /// The grouping rules read without casbin find what casbin finds: a
    /// person's roles, their departments, and the roles of those.
    #[tokio::test]
    async fn groups_find_the_roles_casbin_finds() {
        let model = DefaultModel::from_str(MODEL).await.unwrap();
        let mut e = Enforcer::new(model, MemoryAdapter::default())
            .await
            .unwrap();
        let rules = [
            ("ann", "role:clerk", "t1"),
            ("ann", "dept:finance", "t1"),
            ("dept:finance", "role:cashier", "t1"),
            ("dept:finance", "role:clerk", "t1"),
            ("ann", "role:mayor", "t2"),
            ("bob", "dept:finance", "t2"),
        ];
        let mut groups = Groups::default();
        for (s, g, t) in rules {
            groups.add(s.into(), g.into(), t.into());
            e.add_grouping_policy(vec![s.into(), g.into(), t.into()])
                .await
                .unwrap();
        }
        for who in ["ann", "bob", "dept:finance", "nobody"] {
            for t in ["t1", "t2", "t3"] {
                let mut ours = groups.implicit(t, who);
                let mut theirs = e.get_implicit_roles_for_user(who, Some(t));
                ours.sort();
                theirs.sort();
                assert_eq!(ours, theirs, "{who} in {t}");
            }
        }
        assert_eq!(groups.implicit("t1", "ann").len(), 3);
    }
}
