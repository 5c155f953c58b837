//! How a person is reached: their notification choices (email, SMS, the
//! mobile number, a daily digest, the language), read by the outbox's
//! directory and the account page, and the mobile a citizen gives in an
//! application remembered for SMS.

use dimos_db::{Reader, TenantDb};
use dimos_kernel::{Error, FieldError};
use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict};
use uuid::Uuid;

#[derive(Iden, Clone, Copy)]
enum NotificationPrefs {
    Table,
    AccountId,
    Email,
    Sms,
    Mobile,
    Digest,
    Locale,
}

/// A row: the person, then their choices.
const PREF_COLUMNS: [NotificationPrefs; 6] = [
    NotificationPrefs::AccountId,
    NotificationPrefs::Email,
    NotificationPrefs::Sms,
    NotificationPrefs::Mobile,
    NotificationPrefs::Digest,
    NotificationPrefs::Locale,
];

/// A person's choices; without a row: email on, SMS on once they give a
/// mobile number, Greek.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Prefs {
    pub email: bool,
    pub sms: bool,
    pub mobile: Option<String>,
    pub digest: bool,
    pub locale: String,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            email: true,
            sms: true,
            mobile: None,
            digest: true,
            locale: "el".into(),
        }
    }
}

pub async fn prefs(mut tdb: impl Reader, account: Uuid) -> std::result::Result<Prefs, Error> {
    let mut q = tdb.select(NotificationPrefs::Table);
    q.columns(PREF_COLUMNS.into_iter().skip(1))
        .and_where(Expr::col(NotificationPrefs::AccountId).eq(account));
    Ok(tdb.fetch_optional(&q).await?.unwrap_or_default())
}

/// Many people's choices (a thousand per statement); a person without a
/// row has the defaults.
pub async fn prefs_many(
    mut tdb: impl Reader,
    accounts: &[Uuid],
) -> std::result::Result<std::collections::HashMap<Uuid, Prefs>, Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        account_id: Uuid,
        #[sqlx(flatten)]
        prefs: Prefs,
    }
    let mut out = std::collections::HashMap::new();
    for chunk in accounts.chunks(1000) {
        let mut q = tdb.select(NotificationPrefs::Table);
        q.columns(PREF_COLUMNS)
            .and_where(Expr::col(NotificationPrefs::AccountId).is_in(chunk.iter().copied()));
        for r in tdb.fetch_all::<Row>(&q).await? {
            out.insert(r.account_id, r.prefs);
        }
    }
    Ok(out)
}

pub async fn save_prefs(
    tx: &mut dimos_db::TenantTx<'_>,
    tdb: &TenantDb,
    account: Uuid,
    p: &Prefs,
) -> std::result::Result<(), Error> {
    let mut q = tdb.insert(NotificationPrefs::Table, PREF_COLUMNS);
    q.values([
        account.into(),
        p.email.into(),
        p.sms.into(),
        p.mobile.clone().into(),
        p.digest.into(),
        p.locale.clone().into(),
    ]);
    q.statement().on_conflict(
        OnConflict::columns([Alias::new(dimos_db::TENANT_ID), Alias::new("account_id")])
            .update_columns([
                NotificationPrefs::Email,
                NotificationPrefs::Sms,
                NotificationPrefs::Mobile,
                NotificationPrefs::Digest,
                NotificationPrefs::Locale,
            ])
            .to_owned(),
    );
    tx.insert_rows(&q).await?;
    Ok(())
}

/// The mobile a citizen typed in an application becomes where SMS go,
/// unless they already chose one (the citizen is told so on the
/// application form; the preferences page changes it).
pub async fn remember_mobile(
    tx: &mut dimos_db::TenantTx<'_>,
    tdb: &TenantDb,
    account: Uuid,
    mobile: &str,
) -> std::result::Result<(), Error> {
    let Ok(mobile) = greek_mobile(mobile) else {
        return Ok(());
    };
    let mut p = prefs(&mut *tx, account).await?;
    if p.mobile.is_some() {
        return Ok(());
    }
    p.mobile = Some(mobile);
    save_prefs(tx, tdb, account, &p).await
}

/// A Greek mobile number as `+3069…`, or why not.
pub fn greek_mobile(s: &str) -> std::result::Result<String, FieldError> {
    dimos_kernel::greek::Mobile::parse(s)
        .map(|m| m.as_str().to_owned())
        .ok_or_else(|| FieldError::new("mobile", "phone-invalid"))
}
