//! Machine clients of a municipality's public API, registered by its
//! admin. A client holds a secret (shown once) and a set of scopes, the
//! catalogue's permission ids it may use; with the secret it gets an access
//! token at the token endpoint (OAuth 2.0 client credentials), valid for
//! [`TOKEN_MINUTES`]. Only SHA-256s of secrets and tokens are stored.

use chrono::{DateTime, Duration, Utc};
use dimos_db::{DbError, TenantDb, TenantTx};
use sea_query::{Expr, ExprTrait, Iden, Order};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use uuid::Uuid;

const SECRET_PREFIX: &str = "dimos_cs_";
/// What the platform's access tokens begin with (an identity provider's never do here).
pub const TOKEN_PREFIX: &str = "dimos_at_";

/// How long an access token is valid.
pub const TOKEN_MINUTES: i64 = 10;

#[derive(Iden, Clone, Copy)]
enum ApiClients {
    Table,
    Id,
    Name,
    Scopes,
    AllowedIps,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedBy,
    LastUsedAt,
    Roles,
}

#[derive(Iden, Clone, Copy)]
enum ApiTokens {
    Table,
    TokenHash,
    ClientId,
    Scopes,
    CreatedAt,
    ExpiresAt,
}

/// A client as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    /// The task queues it works: tasks offered to these roles are offered
    /// to it (with the `tasks.work` scope).
    pub roles: Vec<String>,
    /// CIDRs it may call from; empty: anywhere.
    pub allowed_ips: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Client {
    /// Whether `ip` may call as this client (its allow-list, if any). An
    /// IPv4 address seen as IPv6 (`::ffff:a.b.c.d`, a dual-stack listener)
    /// is read as IPv4.
    pub fn allows_address(&self, ip: Option<std::net::IpAddr>) -> bool {
        if self.allowed_ips.is_empty() {
            return true;
        }
        let Some(ip) = ip.map(|i| i.to_canonical()) else {
            return false;
        };
        self.allowed_ips
            .iter()
            .filter_map(|c| dimos_kernel::config::parse_cidr(c))
            .any(|net| net.contains(&ip))
    }

    /// How the client is named as the actor of what it does.
    pub fn actor(&self) -> String {
        actor(self.id)
    }

    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// `client:<id>`: the audit trail's actor for a client.
pub fn actor(id: Uuid) -> String {
    format!("client:{id}")
}

/// What a valid access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client: Client,
    /// The token's scopes: the client's, or fewer if it asked for fewer.
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn holds(&self, permission: &str) -> bool {
        self.scopes.iter().any(|s| s == permission)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    scopes: Json<Vec<String>>,
    roles: Json<Vec<String>>,
    allowed_ips: Option<Json<Vec<String>>>,
    secret_hash: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl Row {
    fn client(self) -> Client {
        Client {
            id: self.id,
            name: self.name,
            scopes: self.scopes.0,
            roles: self.roles.0,
            allowed_ips: self.allowed_ips.map(|j| j.0).unwrap_or_default(),
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
        }
    }
}

const COLUMNS: [ApiClients; 11] = [
    ApiClients::Id,
    ApiClients::Name,
    ApiClients::Scopes,
    ApiClients::Roles,
    ApiClients::AllowedIps,
    ApiClients::SecretHash,
    ApiClients::CreatedBy,
    ApiClients::CreatedAt,
    ApiClients::ExpiresAt,
    ApiClients::RevokedAt,
    ApiClients::LastUsedAt,
];

fn hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    hex::encode(b)
}

/// What the admin asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// Registers a client; returns its secret (the only time it is seen) and
/// its record. A name already taken in the municipality is
/// `DbError::Unique` (`is_unique_on("name")`).
pub async fn create(
    tx: &mut TenantTx<'_>,
    new: NewClient,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<(String, Client), DbError> {
    let id = Uuid::now_v7();
    let secret = format!("{SECRET_PREFIX}{}", random_hex());
    let mut scopes = new.scopes;
    scopes.sort();
    scopes.dedup();
    let mut roles = new.roles;
    roles.sort();
    roles.dedup();
    let allowed = (!new.allowed_ips.is_empty()).then(|| serde_json::json!(new.allowed_ips));
    let mut q = tx.insert(
        ApiClients::Table,
        [
            ApiClients::Id,
            ApiClients::Name,
            ApiClients::Scopes,
            ApiClients::Roles,
            ApiClients::AllowedIps,
            ApiClients::SecretHash,
            ApiClients::CreatedBy,
            ApiClients::CreatedAt,
            ApiClients::ExpiresAt,
        ],
    );
    q.values([
        id.into(),
        new.name.clone().into(),
        serde_json::json!(scopes).into(),
        serde_json::json!(roles).into(),
        allowed.into(),
        hash(&secret).into(),
        created_by.into(),
        now.into(),
        new.expires_at.into(),
    ]);
    tx.insert_rows(&q).await?;
    Ok((
        secret,
        Client {
            id,
            name: new.name,
            scopes,
            roles,
            allowed_ips: new.allowed_ips,
            created_by: created_by.to_owned(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        },
    ))
}

pub async fn list(tdb: &TenantDb) -> Result<Vec<Client>, DbError> {
    let mut q = tdb.select(ApiClients::Table);
    q.columns(COLUMNS)
        .order_by(ApiClients::CreatedAt, Order::Desc);
    let rows: Vec<Row> = tdb.fetch_all(&q).await?;
    Ok(rows.into_iter().map(Row::client).collect())
}

pub async fn get(tdb: &TenantDb, id: Uuid) -> Result<Option<Client>, DbError> {
    Ok(row(tdb, id).await?.map(Row::client))
}

async fn row(tdb: &TenantDb, id: Uuid) -> Result<Option<Row>, DbError> {
    let mut q = tdb.select(ApiClients::Table);
    q.columns(COLUMNS)
        .and_where(Expr::col(ApiClients::Id).eq(id));
    tdb.fetch_optional(&q).await
}

/// Revokes a client and every token it holds, at once; false if there is
/// no such (unrevoked) client.
pub async fn revoke(
    tx: &mut TenantTx<'_>,
    id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut q = tx.update(ApiClients::Table);
    q.value(ApiClients::RevokedAt, now)
        .value(ApiClients::RevokedBy, by)
        .and_where(Expr::col(ApiClients::Id).eq(id))
        .and_where(Expr::col(ApiClients::RevokedAt).is_null());
    let done = tx.execute(&q).await? == 1;
    let mut tokens = tx.delete(ApiTokens::Table);
    tokens.and_where(Expr::col(ApiTokens::ClientId).eq(id));
    tx.execute(&tokens).await?;
    Ok(done)
}

/// An access token and its life in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    pub expires_in: i64,
}

/// Why a client was refused at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Unknown client, wrong secret, revoked or expired: one answer for
    /// all, so a caller learns nothing about which.
    InvalidClient,
    /// A scope the client does not hold.
    InvalidScope,
}

/// Client credentials → an access token and what it stands for.
/// `requested`: the scopes asked for (`None`: all the client holds).
pub async fn issue_token(
    tdb: &TenantDb,
    client_id: &str,
    secret: &str,
    requested: Option<&[String]>,
    from: Option<std::net::IpAddr>,
    now: DateTime<Utc>,
) -> Result<Result<(Token, Caller), Refused>, DbError> {
    let Ok(id) = Uuid::try_parse(client_id) else {
        return Ok(Err(Refused::InvalidClient));
    };
    let Some(row) = row(tdb, id).await? else {
        return Ok(Err(Refused::InvalidClient));
    };
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(hash(secret).as_bytes(), row.secret_hash.as_bytes()).into();
    let client = row.client();
    if !matches || !client.usable(now) || !client.allows_address(from) {
        return Ok(Err(Refused::InvalidClient));
    }
    let scopes = match requested {
        None => client.scopes.clone(),
        Some(asked) => {
            if asked.iter().any(|s| !client.scopes.contains(s)) {
                return Ok(Err(Refused::InvalidScope));
            }
            let mut s = asked.to_vec();
            s.sort();
            s.dedup();
            s
        }
    };
    let token = format!("{TOKEN_PREFIX}{}", random_hex());
    // Never past the client's own end.
    let expires_at = Ord::min(now + Duration::minutes(TOKEN_MINUTES), client.expires_at);
    let mut tx = tdb.begin().await?;
    // The client's tokens expired a day ago go as it takes a new one: the
    // table holds about a day of each client's tokens, whatever it does.
    let mut old = tx.delete(ApiTokens::Table);
    old.and_where(Expr::col(ApiTokens::ClientId).eq(id))
        .and_where(Expr::col(ApiTokens::ExpiresAt).lt(now - Duration::days(1)));
    tx.execute(&old).await?;
    let mut q = tx.insert(
        ApiTokens::Table,
        [
            ApiTokens::TokenHash,
            ApiTokens::ClientId,
            ApiTokens::Scopes,
            ApiTokens::CreatedAt,
            ApiTokens::ExpiresAt,
        ],
    );
    q.values([
        hash(&token).into(),
        id.into(),
        serde_json::json!(scopes).into(),
        now.into(),
        expires_at.into(),
    ]);
    tx.insert_rows(&q).await?;
    let mut used = tx.update(ApiClients::Table);
    used.value(ApiClients::LastUsedAt, now)
        .and_where(Expr::col(ApiClients::Id).eq(id))
        // A revocation committed meanwhile wins: no token for it.
        .and_where(Expr::col(ApiClients::RevokedAt).is_null());
    if tx.execute(&used).await? != 1 {
        return Ok(Err(Refused::InvalidClient));
    }
    tx.commit().await?;
    Ok(Ok((
        Token {
            token,
            expires_in: Ord::max((expires_at - now).num_seconds(), 0),
        },
        Caller { client, scopes },
    )))
}

/// The caller an API key stands for (`<client id>.<secret>`, for
/// protocols that send one key with each request, such as Open311's
/// `api_key`): the client's own secret, checked as the token endpoint
/// checks it, with all the client's scopes. One answer (`None`) for an
/// unknown client, a wrong secret, a revoked or expired client and an
/// address it may not call from.
pub async fn authenticate_key(
    tdb: &TenantDb,
    key: &str,
    from: Option<std::net::IpAddr>,
    now: DateTime<Utc>,
) -> Result<Option<Caller>, DbError> {
    let Some((id, secret)) = key.split_once('.') else {
        return Ok(None);
    };
    let Ok(id) = Uuid::try_parse(id) else {
        return Ok(None);
    };
    let Some(row) = row(tdb, id).await? else {
        return Ok(None);
    };
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(hash(secret).as_bytes(), row.secret_hash.as_bytes()).into();
    let client = row.client();
    if !matches || !client.usable(now) || !client.allows_address(from) {
        return Ok(None);
    }
    // Its use is noted as a token's issue is (at most once a minute, so a
    // busy client does not write on every request).
    if client
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        let mut used = tdb.update(ApiClients::Table);
        used.value(ApiClients::LastUsedAt, now)
            .and_where(Expr::col(ApiClients::Id).eq(id));
        tdb.execute(&used).await?;
    }
    let scopes = client.scopes.clone();
    Ok(Some(Caller { client, scopes }))
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    client_id: Uuid,
    scopes: Json<Vec<String>>,
    expires_at: DateTime<Utc>,
}

/// The caller a presented access token stands for, if it is this
/// municipality's, unexpired, and its client still usable.
pub async fn authenticate(
    tdb: &TenantDb,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Option<Caller>, DbError> {
    if !presented.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let mut q = tdb.select(ApiTokens::Table);
    q.columns([ApiTokens::ClientId, ApiTokens::Scopes, ApiTokens::ExpiresAt])
        .and_where(Expr::col(ApiTokens::TokenHash).eq(hash(presented)));
    let Some(t) = tdb.fetch_optional::<TokenRow>(&q).await? else {
        return Ok(None);
    };
    if t.expires_at <= now {
        return Ok(None);
    }
    let Some(client) = get(tdb, t.client_id).await? else {
        return Ok(None);
    };
    if !client.usable(now) {
        return Ok(None);
    }
    Ok(Some(Caller {
        client,
        scopes: t.scopes.0,
    }))
}
