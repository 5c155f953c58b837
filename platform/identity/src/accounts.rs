//! Accounts: a person as known to one municipality, identified by the
//! provider's issuer and subject, with their assurance level.

use crate::oidc::Identity;
use chrono::{DateTime, Utc};
use dimos_db::{DbError, Reader, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

dimos_kernel::typed_id!(
    /// A person's account in one municipality.
    AccountId
);

/// eIDAS levels of assurance. A new citizen account is `low` unless the
/// provider asserts more; an in-person check at a KEP desk raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assurance {
    Low,
    Substantial,
    High,
}

impl Assurance {
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::Low => "low",
            Assurance::Substantial => "substantial",
            Assurance::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Assurance> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Assurance::Low),
            "substantial" => Some(Assurance::Substantial),
            "high" => Some(Assurance::High),
            _ => None,
        }
    }

    /// Whether the identity was checked beyond self-registration.
    pub fn is_verified(self) -> bool {
        self >= Assurance::Substantial
    }
}

#[derive(Iden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    Issuer,
    Subject,
    TaxId,
    GivenName,
    FamilyName,
    Email,
    Phone,
    Assurance,
    CreatedAt,
    LastLoginAt,
    SignedOutAt,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub tax_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub assurance: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
    /// Sessions signed in before this no longer count ("sign out everywhere").
    pub signed_out_at: Option<DateTime<Utc>>,
}

impl Account {
    pub fn id(&self) -> AccountId {
        AccountId(self.id)
    }

    pub fn assurance(&self) -> Assurance {
        Assurance::parse(&self.assurance).unwrap_or(Assurance::Low)
    }

    pub fn display_name(&self) -> String {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.subject.clone()
        } else {
            name
        }
    }
}

/// Columns written at creation.
const INSERT_COLUMNS: [Accounts; 11] = [
    Accounts::Id,
    Accounts::Issuer,
    Accounts::Subject,
    Accounts::TaxId,
    Accounts::GivenName,
    Accounts::FamilyName,
    Accounts::Email,
    Accounts::Phone,
    Accounts::Assurance,
    Accounts::CreatedAt,
    Accounts::LastLoginAt,
];

/// Columns read: those written at creation, and the sign-out mark.
fn columns() -> impl IntoIterator<Item = Accounts> {
    INSERT_COLUMNS.into_iter().chain([Accounts::SignedOutAt])
}

pub async fn get(mut db: impl Reader, id: AccountId) -> Result<Option<Account>, DbError> {
    let mut q = db.select(Accounts::Table);
    q.columns(columns())
        .and_where(Expr::col((Accounts::Table, Accounts::Id)).eq(id.0));
    db.fetch_optional(&q).await
}

/// Many accounts at once (a thousand ids per statement); those that do
/// not exist are left out.
pub async fn get_many(mut db: impl Reader, ids: &[AccountId]) -> Result<Vec<Account>, DbError> {
    let mut out = vec![];
    for chunk in ids.chunks(1000) {
        let mut q = db.select(Accounts::Table);
        q.columns(columns())
            .and_where(Expr::col((Accounts::Table, Accounts::Id)).is_in(chunk.iter().map(|a| a.0)));
        out.extend(db.fetch_all::<Account>(&q).await?);
    }
    Ok(out)
}

async fn by_subject(
    db: &TenantDb,
    issuer: &str,
    subject: &str,
) -> Result<Option<Account>, DbError> {
    let mut q = db.select(Accounts::Table);
    q.columns(columns())
        .and_where(Expr::col(Accounts::Issuer).eq(issuer))
        .and_where(Expr::col(Accounts::Subject).eq(subject));
    db.fetch_optional(&q).await
}

/// Creates the account on first sign-in, refreshes its details after.
/// The assurance level only ever goes up here: a provider asserting less
/// than an in-person verification does not undo it.
pub async fn upsert_on_sign_in(db: &TenantDb, id: &Identity) -> Result<(Account, bool), DbError> {
    let now = dimos_kernel::clock::wall_now();
    if let Some(existing) = by_subject(db, &id.issuer, &id.subject).await? {
        let assurance = existing.assurance().max(id.assurance);
        let mut q = db.update(Accounts::Table);
        q.values([
            (
                Accounts::TaxId,
                id.tax_id.clone().or(existing.tax_id.clone()).into(),
            ),
            (
                Accounts::GivenName,
                id.given_name.clone().or(existing.given_name.clone()).into(),
            ),
            (
                Accounts::FamilyName,
                id.family_name
                    .clone()
                    .or(existing.family_name.clone())
                    .into(),
            ),
            (
                Accounts::Email,
                id.email.clone().or(existing.email.clone()).into(),
            ),
            (
                Accounts::Phone,
                id.phone.clone().or(existing.phone.clone()).into(),
            ),
            (Accounts::Assurance, assurance.as_str().into()),
            (Accounts::LastLoginAt, now.into()),
        ])
        .and_where(Expr::col((Accounts::Table, Accounts::Id)).eq(existing.id));
        db.execute(&q).await?;
        let updated = get(db, existing.id())
            .await?
            .ok_or(DbError::Other(sqlx::Error::RowNotFound))?;
        return Ok((updated, false));
    }
    let account_id = AccountId::new();
    let mut q = db.insert(Accounts::Table, INSERT_COLUMNS);
    q.values([
        account_id.0.into(),
        id.issuer.clone().into(),
        id.subject.clone().into(),
        id.tax_id.clone().into(),
        id.given_name.clone().into(),
        id.family_name.clone().into(),
        id.email.clone().into(),
        id.phone.clone().into(),
        id.assurance.as_str().into(),
        now.into(),
        now.into(),
    ]);
    match db.insert_rows(&q).await {
        Ok(_) => {}
        // Two first sign-ins at once: the other one created it.
        Err(e) if e.is_unique_on("accounts") || e.is_unique_on("subject") => {
            let existing = by_subject(db, &id.issuer, &id.subject).await?;
            return existing.map(|a| (a, false)).ok_or(e);
        }
        Err(e) => return Err(e),
    }
    let created = get(db, account_id)
        .await?
        .ok_or(DbError::Other(sqlx::Error::RowNotFound))?;
    Ok((created, true))
}

/// The account an app's access token stands for: found by the provider's
/// subject (nothing written), created on first use, its assurance raised
/// when the provider now asserts more.
pub async fn for_access_token(db: &TenantDb, id: &Identity) -> Result<Account, DbError> {
    match by_subject(db, &id.issuer, &id.subject).await? {
        Some(a) if a.assurance() >= id.assurance => Ok(a),
        _ => upsert_on_sign_in(db, id).await.map(|(a, _)| a),
    }
}

/// Accounts with this tax id (normally one per provider).
pub async fn by_tax_id(db: &TenantDb, tax_id: &str) -> Result<Vec<Account>, DbError> {
    let mut q = db.select(Accounts::Table);
    q.columns(columns())
        .and_where(Expr::col(Accounts::TaxId).eq(tax_id));
    db.fetch_all(&q).await
}

/// Raises (never lowers) an account's assurance level.
/// Raises the account's assurance to `to` (never lowers it), in the
/// caller's transaction (with the verification that justifies it).
pub async fn raise_assurance_in(
    tx: &mut TenantTx<'_>,
    db: &TenantDb,
    id: AccountId,
    to: Assurance,
) -> Result<(), DbError> {
    let at_least: Vec<&str> = [Assurance::Low, Assurance::Substantial, Assurance::High]
        .into_iter()
        .filter(|a| *a >= to)
        .map(Assurance::as_str)
        .collect();
    let mut q = db.update(Accounts::Table);
    q.value(Accounts::Assurance, to.as_str())
        .and_where(Expr::col((Accounts::Table, Accounts::Id)).eq(id.0))
        .and_where(Expr::col((Accounts::Table, Accounts::Assurance)).is_not_in(at_least));
    tx.execute(&q).await.map(drop)
}

/// Ends every session of the account, on every device and replica.
pub async fn sign_out_everywhere(
    db: &TenantDb,
    id: AccountId,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut q = db.update(Accounts::Table);
    q.value(Accounts::SignedOutAt, at)
        .and_where(Expr::col((Accounts::Table, Accounts::Id)).eq(id.0));
    db.execute(&q).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assurance_order_and_parsing() {
        assert!(
            Assurance::High > Assurance::Substantial && Assurance::Substantial > Assurance::Low
        );
        assert_eq!(
            Assurance::parse(" Substantial "),
            Some(Assurance::Substantial)
        );
        assert_eq!(Assurance::parse("medium"), None);
        assert!(!Assurance::Low.is_verified());
        assert!(Assurance::Substantial.is_verified());
    }
}
