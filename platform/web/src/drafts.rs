//! Answers of a form asked in steps (GOV.UK's "one thing per page"), kept
//! in the person's session until the last step files them. Nothing is
//! stored for the municipality until then, and a person who leaves half way
//! leaves nothing behind but an expiring session entry.

use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use dimos_kernel::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The session's drafts, for handlers of forms in steps.
pub struct Drafts(tower_sessions::Session);

impl<S: Send + Sync> FromRequestParts<S> for Drafts {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .map(Drafts)
            .ok_or_else(|| AppError(Error::internal("no session layer on this route")))
    }
}

fn key(name: &str) -> String {
    format!("draft.{name}")
}

impl Drafts {
    /// The answers so far, or an empty draft.
    pub async fn load<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, AppError> {
        Ok(self
            .0
            .get::<T>(&key(name))
            .await
            .map_err(|e| AppError(Error::internal(e)))?
            .unwrap_or_default())
    }

    pub async fn save<T: Serialize + Send + Sync>(
        &self,
        name: &str,
        v: &T,
    ) -> Result<(), AppError> {
        self.0
            .insert(&key(name), v)
            .await
            .map_err(|e| AppError(Error::internal(e)))
    }

    pub async fn clear(&self, name: &str) -> Result<(), AppError> {
        self.0
            .remove_value(&key(name))
            .await
            .map(|_| ())
            .map_err(|e| AppError(Error::internal(e)))
    }
}
