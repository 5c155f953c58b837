//! tower-sessions store over our database, on SQLite and PostgreSQL alike,
//! so sessions survive restarts and any replica can serve any request.

use chrono::{DateTime, Utc};
use dimos_db::Db;
use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};
use std::collections::HashMap;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, ExpiredDeletion, Result};

#[derive(Iden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }
}

fn expiry(r: &Record) -> DateTime<Utc> {
    DateTime::from_timestamp(r.expiry_date.unix_timestamp(), 0)
        .unwrap_or_else(dimos_kernel::clock::wall_now)
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

/// Whether a session error is the database being unavailable (the pool
/// exhausted, the server restarting): the request answers 503 with
/// `Retry-After`, not 500. The store's errors carry only text, and a
/// `DbError::Unavailable` reads "database unavailable: …".
pub fn unavailable(e: &tower_sessions::session::Error) -> bool {
    matches!(
        e,
        tower_sessions::session::Error::Store(Error::Backend(m)) if m.starts_with("database unavailable")
    )
}

impl DbSessionStore {
    async fn insert(
        &self,
        record: &Record,
        upsert: bool,
    ) -> std::result::Result<(), dimos_db::DbError> {
        // A session whose data cannot be written is an error, never an
        // emptied session (the person would be signed out silently).
        let data = serde_json::to_value(&record.data)
            .map_err(|e| dimos_db::DbError::Other(sqlx::Error::Encode(Box::new(e))))?;
        let mut q = Query::insert();
        q.into_table(Sessions::Table)
            .columns([Sessions::Id, Sessions::Data, Sessions::ExpiresAt])
            .values_panic([
                record.id.to_string().into(),
                data.into(),
                expiry(record).into(),
            ]);
        if upsert {
            q.on_conflict(
                OnConflict::column(Sessions::Id)
                    .update_columns([Sessions::Data, Sessions::ExpiresAt])
                    .to_owned(),
            );
        }
        self.db.execute(&q).await.map(drop)
    }
}

#[async_trait::async_trait]
impl tower_sessions::SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Ids are 128 random bits; a collision is astronomically unlikely but
        // the primary key makes it an error we can retry, not a takeover.
        for _ in 0..3 {
            match self.insert(record, false).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_unique_on("id") || e.is_unique_on("sessions") => {
                    record.id = Id::default();
                }
                Err(e) => return Err(backend(e)),
            }
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.insert(record, true).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let q = Query::select()
            .columns([Sessions::Data, Sessions::ExpiresAt])
            .from(Sessions::Table)
            .and_where(Expr::col(Sessions::Id).eq(id.to_string()))
            .and_where(Expr::col(Sessions::ExpiresAt).gt(dimos_kernel::clock::wall_now()))
            .to_owned();
        let row: Option<(
            sqlx::types::Json<HashMap<String, serde_json::Value>>,
            DateTime<Utc>,
        )> = self.db.fetch_optional(&q).await.map_err(backend)?;
        Ok(row.map(|(data, exp)| Record {
            id: *id,
            data: data.0,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(exp.timestamp())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let q = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::Id).eq(id.to_string()))
            .to_owned();
        self.db.execute(&q).await.map(drop).map_err(backend)
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> Result<()> {
        let q = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::ExpiresAt).lt(dimos_kernel::clock::wall_now()))
            .to_owned();
        self.db.execute(&q).await.map(drop).map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::SessionStore;
    use tower_sessions::session_store::ExpiredDeletion;

    async fn store() -> (tempfile::TempDir, DbSessionStore, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url, &Default::default()).await.unwrap();
        dimos_db::migrate::migrate(&db, &[dimos_db::PLATFORM_MIGRATIONS])
            .await
            .unwrap();
        (dir, DbSessionStore::new(db.clone()), db)
    }

    fn record(expires_in_secs: i64) -> Record {
        Record {
            id: Id::default(),
            data: [("k".to_string(), serde_json::json!("v"))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in_secs),
        }
    }

    #[tokio::test]
    async fn saves_loads_and_sweeps_expired_sessions() {
        let (_dir, store, db) = store().await;
        let mut live = record(600);
        let mut old = record(-600);
        store.create(&mut live).await.unwrap();
        store.create(&mut old).await.unwrap();
        assert_eq!(store.load(&live.id).await.unwrap().unwrap().data["k"], "v");
        assert!(
            store.load(&old.id).await.unwrap().is_none(),
            "expired sessions are never served"
        );
        store.delete_expired().await.unwrap();
        let left: Vec<(String,)> = db
            .fetch_all(
                &Query::select()
                    .column(Sessions::Id)
                    .from(Sessions::Table)
                    .to_owned(),
            )
            .await
            .unwrap();
        assert_eq!(
            left,
            vec![(live.id.to_string(),)],
            "only the live session remains"
        );
        store.delete(&live.id).await.unwrap();
        assert!(store.load(&live.id).await.unwrap().is_none());
    }
}
