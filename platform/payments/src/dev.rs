//! The development bank: a payment provider for the demo and the tests,
//! served by Dimos itself at `/dev-pay` on the base domain (like the
//! development identity provider) and reached over HTTP exactly as a real
//! acquirer is. It opens checkouts (`POST /dev-pay/api/checkouts`, bearer
//! key), shows a checkout page where the person pays, is declined or
//! gives up, then signs a notice to the municipality (Standard Webhooks:
//! HMAC-SHA256 of `id.timestamp.body`) and sends the person back; its
//! status (`GET /dev-pay/api/checkouts/{id}`) answers the poll. The
//! checkout page can also lose the notice, so that the poll is seen to
//! catch it. Never in production: it takes no money.
//!
//! This module holds both sides: [`DevBank`], the client ([`Provider`]),
//! and the bank's own ledger (table `dev_pay_sessions`) and signer for the
//! pages in `dimos-pages`.

use crate::{Checkout, Created, HeaderMap, Notice, Outcome, Provider, ProviderError, Status};
use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use dimos_db::{Db, DbError};
use hmac::{Hmac, Mac};
use sea_query::{Expr, ExprTrait, Iden, Query};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The merchant key the platform presents to the bank. A development
/// bank's key is no secret (it takes no money).
pub const MERCHANT_KEY: &str = "dev-merchant-key";
/// The key the bank signs notices with (no secret either).
const NOTICE_KEY: &[u8] = b"dimos-development-bank-notices-0";
/// Notices older or newer than this are refused (replays).
const NOTICE_TOLERANCE_SECS: u64 = 300;
/// A checkout not finished within this is closed, as acquirers' hosted
/// pages are (keep `payments.give_up_after_hours` longer).
pub const CHECKOUT_LIFETIME_MINUTES: i64 = 60;

/// A client for HTTP calls to this deployment's own loopback names
/// (`localhost`, `<municipality>.localhost`), which the system resolver
/// may not know.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Loopback))
        .build()
        .map_err(|e| e.to_string())
}

/// `localhost` and its subdomains are loopback (RFC 6761); other names
/// resolve as usual (a staging deployment on a real domain).
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs = vec![
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                ];
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The platform's side: a [`Provider`] that talks to the bank at `base`
/// (`http://localhost:8080/dev-pay`).
#[derive(Debug)]
pub struct DevBank {
    base: String,
    http: reqwest::Client,
}

impl DevBank {
    pub fn new(base: &str) -> Result<Self, String> {
        Ok(DevBank {
            base: base.trim_end_matches('/').to_owned(),
            http: http_client(Duration::from_secs(10))?,
        })
    }
}

/// The bank's API: a checkout opened and its status.
#[derive(Debug, Serialize, Deserialize)]
pub struct OpenCheckout {
    pub reference: Uuid,
    pub amount_cents: i64,
    pub description: String,
    pub merchant: String,
    pub return_url: String,
    pub notify_url: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CheckoutState {
    pub id: Uuid,
    pub status: String,
    pub amount_cents: i64,
    /// Where the person pays (on opening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The notice's body.
#[derive(Debug, Serialize, Deserialize)]
pub struct NoticeBody {
    pub checkout: Uuid,
    pub status: String,
    /// What was taken (with "paid").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<i64>,
}

fn outcome(status: &str) -> Result<Outcome, ProviderError> {
    Ok(match status {
        "open" => Outcome::Open,
        "paid" => Outcome::Paid,
        "declined" => Outcome::Failed,
        "cancelled" => Outcome::Cancelled,
        other => {
            return Err(ProviderError::BadNotice(format!(
                "unknown status {other:?}"
            )));
        }
    })
}

fn unavailable(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(e.to_string())
}

#[async_trait]
impl Provider for DevBank {
    fn name(&self) -> &'static str {
        "dev"
    }

    fn checkout_origin(&self) -> String {
        url::Url::parse(&self.base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.base.clone())
    }

    async fn create(&self, c: &Checkout) -> Result<Created, ProviderError> {
        let res = self
            .http
            .post(format!("{}/api/checkouts", self.base))
            .bearer_auth(MERCHANT_KEY)
            .json(&OpenCheckout {
                reference: c.attempt,
                amount_cents: c.amount_cents,
                description: c.description.clone(),
                merchant: c.merchant.clone(),
                return_url: c.return_url.clone(),
                notify_url: c.notify_url.clone(),
            })
            .send()
            .await
            .map_err(unavailable)?;
        if !res.status().is_success() {
            return Err(unavailable(format!("the bank answered {}", res.status())));
        }
        let s: CheckoutState = res.json().await.map_err(unavailable)?;
        let url = s.url.ok_or_else(|| unavailable("no checkout address"))?;
        Ok(Created {
            provider_ref: s.id.to_string(),
            redirect_url: url,
        })
    }

    async fn status(&self, provider_ref: &str) -> Result<Status, ProviderError> {
        let id = Uuid::try_parse(provider_ref).map_err(unavailable)?;
        let res = self
            .http
            .get(format!("{}/api/checkouts/{id}", self.base))
            .bearer_auth(MERCHANT_KEY)
            .send()
            .await
            .map_err(unavailable)?;
        if !res.status().is_success() {
            return Err(unavailable(format!("the bank answered {}", res.status())));
        }
        let s: CheckoutState = res.json().await.map_err(unavailable)?;
        Ok(Status {
            outcome: outcome(&s.status).map_err(unavailable)?,
            amount_cents: Some(s.amount_cents),
        })
    }

    fn notice(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Notice, ProviderError> {
        verify(headers, body, now)?;
        let n: NoticeBody = serde_json::from_slice(body)
            .map_err(|e| ProviderError::BadNotice(format!("body: {e}")))?;
        Ok(Notice {
            provider_ref: n.checkout.to_string(),
            outcome: outcome(&n.status)?,
            amount_cents: n.amount_cents,
        })
    }
}

/// `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the bank's key
/// (None only if HMAC refused the key, which it never does).
pub fn sign(id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(NOTICE_KEY).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Checks a notice's `webhook-*` headers: signed with our key, within the
/// tolerance of `now`.
pub fn verify(headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(), ProviderError> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ProviderError::BadNotice(format!("no {name} header")))
    };
    let id = get("webhook-id")?;
    let ts: i64 = get("webhook-timestamp")?
        .parse()
        .map_err(|_| ProviderError::BadNotice("webhook-timestamp is not a number".into()))?;
    if now.timestamp().abs_diff(ts) > NOTICE_TOLERANCE_SECS {
        return Err(ProviderError::BadNotice("stale notice".into()));
    }
    let expected =
        sign(id, ts, body).ok_or_else(|| ProviderError::BadNotice("cannot sign".into()))?;
    let ok = get("webhook-signature")?
        .split(' ')
        .any(|s| hmac_eq(s.as_bytes(), expected.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::BadNotice("bad signature".into()))
    }
}

/// Compares without stopping at the first difference.
fn hmac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// The bank's ledger.

#[derive(Iden, Clone, Copy)]
enum DevPaySessions {
    Table,
    Id,
    Merchant,
    AmountCents,
    Description,
    ReturnUrl,
    NotifyUrl,
    Status,
    CreatedAt,
}

/// A checkout as the bank keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub merchant: String,
    pub amount_cents: i64,
    pub description: String,
    pub return_url: String,
    pub notify_url: String,
    /// `open`, `paid`, `declined`, `cancelled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

const SESSION_COLUMNS: [DevPaySessions; 8] = [
    DevPaySessions::Id,
    DevPaySessions::Merchant,
    DevPaySessions::AmountCents,
    DevPaySessions::Description,
    DevPaySessions::ReturnUrl,
    DevPaySessions::NotifyUrl,
    DevPaySessions::Status,
    DevPaySessions::CreatedAt,
];

pub async fn open(db: &Db, c: &OpenCheckout, now: DateTime<Utc>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let q = Query::insert()
        .into_table(DevPaySessions::Table)
        .columns(SESSION_COLUMNS)
        .values_panic([
            id.into(),
            c.merchant.clone().into(),
            c.amount_cents.into(),
            c.description.clone().into(),
            c.return_url.clone().into(),
            c.notify_url.clone().into(),
            "open".into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(id)
}

pub async fn session(db: &Db, id: Uuid) -> Result<Option<Session>, DbError> {
    let q = Query::select()
        .columns(SESSION_COLUMNS)
        .from(DevPaySessions::Table)
        .and_where(Expr::col(DevPaySessions::Id).eq(id))
        .to_owned();
    db.fetch_optional(&q).await
}

/// Closes an open checkout as `status`; false when it was not open.
pub async fn finish(db: &Db, id: Uuid, status: &str) -> Result<bool, DbError> {
    let q = Query::update()
        .table(DevPaySessions::Table)
        .value(DevPaySessions::Status, status)
        .and_where(Expr::col(DevPaySessions::Id).eq(id))
        .and_where(Expr::col(DevPaySessions::Status).eq("open"))
        .to_owned();
    Ok(db.execute(&q).await? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert(
            "webhook-timestamp",
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn a_notice_is_believed_only_when_signed_and_fresh() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let body = br#"{"checkout":"0192e2c1-0000-7000-8000-000000000000","status":"paid"}"#;
        let sig = sign("n1", now.timestamp(), body).unwrap();
        assert!(verify(&headers("n1", now.timestamp(), &sig), body, now).is_ok());
        // Another body, another id, a stale time, a missing header.
        assert!(verify(&headers("n1", now.timestamp(), &sig), b"{}", now).is_err());
        assert!(verify(&headers("n2", now.timestamp(), &sig), body, now).is_err());
        let old = now.timestamp() - 600;
        let stale = sign("n1", old, body).unwrap();
        assert!(verify(&headers("n1", old, &stale), body, now).is_err());
        // Absurd times are refused, not overflowed.
        for ts in [i64::MIN, i64::MAX, i64::MIN + now.timestamp()] {
            let sig = sign("n1", ts, body).unwrap();
            assert!(verify(&headers("n1", ts, &sig), body, now).is_err());
        }
        let mut h = headers("n1", now.timestamp(), &sig);
        h.remove("webhook-signature");
        assert!(verify(&h, body, now).is_err());
        // Several signatures (a key being rotated): one good one is enough.
        let two = format!("v1,AAAA {sig}");
        assert!(verify(&headers("n1", now.timestamp(), &two), body, now).is_ok());
    }

    #[test]
    fn the_bank_statuses_are_read_and_others_refused() {
        assert_eq!(outcome("paid").unwrap(), Outcome::Paid);
        assert_eq!(outcome("declined").unwrap(), Outcome::Failed);
        assert_eq!(outcome("cancelled").unwrap(), Outcome::Cancelled);
        assert_eq!(outcome("open").unwrap(), Outcome::Open);
        assert!(outcome("refunded").is_err());
    }
}
