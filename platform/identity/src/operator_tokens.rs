//! API tokens for the national operator's automation (the tenants API):
//! each names what it may do (scopes), expires, can be revoked, and is
//! stored only as a SHA-256 of the token (shown once, when made). Making
//! and revoking one is in the operator's history; every change made with
//! one names it as the actor.

use chrono::{DateTime, Utc};
use dimos_db::{Db, DbError};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const PREFIX: &str = "dimos_op_";

#[derive(Iden, Clone, Copy)]
enum OperatorTokens {
    Table,
    Id,
    Name,
    Scopes,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedBy,
    LastUsedAt,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read tenants, their history and the module catalogue.
    TenantsRead,
    /// Create and change tenants (suspend, domains, modules).
    TenantsWrite,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::TenantsRead, Scope::TenantsWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TenantsRead => "tenants:read",
            Scope::TenantsWrite => "tenants:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }

    /// How the token is named as the actor of what it changes.
    pub fn actor(&self) -> String {
        format!("token:{} ({})", self.name, self.id)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    scopes: sqlx::types::Json<Vec<String>>,
    secret_hash: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl Row {
    fn info(self) -> TokenInfo {
        TokenInfo {
            id: self.id,
            name: self.name,
            scopes: self.scopes.0,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
        }
    }
}

const COLUMNS: [OperatorTokens; 9] = [
    OperatorTokens::Id,
    OperatorTokens::Name,
    OperatorTokens::Scopes,
    OperatorTokens::SecretHash,
    OperatorTokens::CreatedBy,
    OperatorTokens::CreatedAt,
    OperatorTokens::ExpiresAt,
    OperatorTokens::RevokedAt,
    OperatorTokens::LastUsedAt,
];

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token; returns it (the only time it is seen) and its record.
pub async fn create(
    db: &Db,
    name: &str,
    scopes: &[Scope],
    expires_at: DateTime<Utc>,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<(String, TokenInfo), DbError> {
    let id = Uuid::now_v7();
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let token = format!("{PREFIX}{}_{}", id.simple(), hex::encode(secret));
    let mut scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scopes.sort();
    scopes.dedup();
    let q = Query::insert()
        .into_table(OperatorTokens::Table)
        .columns([
            OperatorTokens::Id,
            OperatorTokens::Name,
            OperatorTokens::Scopes,
            OperatorTokens::SecretHash,
            OperatorTokens::CreatedBy,
            OperatorTokens::CreatedAt,
            OperatorTokens::ExpiresAt,
        ])
        .values_panic([
            id.into(),
            name.into(),
            serde_json::json!(scopes).into(),
            hash(&token).into(),
            created_by.into(),
            now.into(),
            expires_at.into(),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok((
        token,
        TokenInfo {
            id,
            name: name.to_owned(),
            scopes,
            created_by: created_by.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        },
    ))
}

pub async fn list(db: &Db) -> Result<Vec<TokenInfo>, DbError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(OperatorTokens::Table)
        .order_by(OperatorTokens::CreatedAt, Order::Desc)
        .to_owned();
    let rows: Vec<Row> = db.fetch_all(&q).await?;
    Ok(rows.into_iter().map(Row::info).collect())
}

/// Revokes a token at once; false if there is no such token.
pub async fn revoke(db: &Db, id: Uuid, by: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let q = Query::update()
        .table(OperatorTokens::Table)
        .value(OperatorTokens::RevokedAt, now)
        .value(OperatorTokens::RevokedBy, by)
        .and_where(Expr::col(OperatorTokens::Id).eq(id))
        .and_where(Expr::col(OperatorTokens::RevokedAt).is_null())
        .to_owned();
    Ok(db.execute(&q).await? == 1)
}

/// The token `presented` stands for, if it is one of ours, unrevoked and
/// unexpired. Its last use is noted (at most once a minute).
pub async fn authenticate(
    db: &Db,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Option<TokenInfo>, DbError> {
    let Some(id) = presented
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(id, _)| Uuid::try_parse(id).ok())
    else {
        return Ok(None);
    };
    let q = Query::select()
        .columns(COLUMNS)
        .from(OperatorTokens::Table)
        .and_where(Expr::col(OperatorTokens::Id).eq(id))
        .to_owned();
    let Some(row) = db.fetch_optional::<Row>(&q).await? else {
        return Ok(None);
    };
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(hash(presented).as_bytes(), row.secret_hash.as_bytes())
            .into();
    if !matches || row.revoked_at.is_some() || row.expires_at <= now {
        return Ok(None);
    }
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        let q = Query::update()
            .table(OperatorTokens::Table)
            .value(OperatorTokens::LastUsedAt, now)
            .and_where(Expr::col(OperatorTokens::Id).eq(id))
            .to_owned();
        db.execute(&q).await?;
    }
    Ok(Some(row.info()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_print_and_parse() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("tenants:delete"), None);
    }
}
