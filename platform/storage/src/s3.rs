//! S3 (and S3-compatible servers) through aws-sdk-s3: endpoint override and
//! path-style addressing for S3-compatible servers, region, bucket,
//! credentials from the standard AWS chain or given explicitly, optional
//! server-side encryption, short-lived pre-signed download URLs.

use crate::{ObjectStore, StorageError};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncRead;

#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// e.g. `http://127.0.0.1:9000` for an S3-compatible server.
    pub endpoint: Option<String>,
    pub path_style: bool,
    /// `AES256` or `aws:kms`; empty for the bucket's default.
    pub sse: String,
    /// Both set: these credentials; otherwise the standard AWS chain
    /// (environment, profile, instance role…).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    sse: Option<ServerSideEncryption>,
}

fn io(e: impl std::fmt::Display) -> StorageError {
    StorageError::Io(std::io::Error::other(e.to_string()))
}

/// The server not reachable, timing out or failing on its side (5xx) is
/// an outage: the request answers 503 with `Retry-After`. Anything else
/// (a missing object, refused credentials) is an error of ours.
fn sdk<E>(e: SdkError<E, HttpResponse>) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let outage = match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => se.raw().status().is_server_error(),
        _ => false,
    };
    let text = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
    if outage {
        StorageError::Unavailable(text)
    } else {
        StorageError::Io(std::io::Error::other(text))
    }
}

impl S3Store {
    pub async fn new(s: &S3Settings) -> Result<S3Store, String> {
        if s.bucket.is_empty() {
            return Err("storage.s3_bucket is required".into());
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(s.region.clone()));
        if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                None,
                None,
                "dimos-config",
            ));
        }
        let shared = loader.load().await;
        // Checksums only where S3 requires them: newer SDKs otherwise send
        // bodies as aws-chunked with trailers, which many S3-compatible
        // servers store verbatim. Integrity is ours anyway (SHA-256).
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(s.path_style)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            );
        if let Some(e) = s.endpoint.as_deref().filter(|e| !e.is_empty()) {
            conf = conf.endpoint_url(e);
        }
        let sse = match s.sse.as_str() {
            "" => None,
            "AES256" => Some(ServerSideEncryption::Aes256),
            "aws:kms" => Some(ServerSideEncryption::AwsKms),
            other => return Err(format!("storage.s3_sse: unknown value {other:?}")),
        };
        Ok(S3Store {
            client: Client::from_conf(conf.build()),
            bucket: s.bucket.clone(),
            sse,
        })
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn ping(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        content_type: &str,
        valid: Duration,
    ) -> Result<Option<String>, StorageError> {
        let cfg = PresigningConfig::expires_in(valid).map_err(io)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(crate::attachment_header(download_name))
            .response_content_type(content_type)
            .presigned(cfg)
            .await
            .map_err(io)?;
        Ok(Some(req.uri().to_string()))
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StorageError> {
        let body = ByteStream::from_path(file).await.map_err(io)?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body);
        if let Some(sse) = &self.sse {
            req = req.server_side_encryption(sse.clone());
        }
        req.send().await.map_err(sdk)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Box<dyn AsyncRead + Send + Unpin>, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk)?;
        Ok(Box::new(out.body.into_async_read()))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StorageError> {
        let mut out = vec![];
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk)?;
            for o in page.contents() {
                let modified = o
                    .last_modified()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                    .unwrap_or_default();
                if let Some(k) = o.key() {
                    out.push((k.to_owned(), modified));
                }
            }
        }
        Ok(out)
    }
}
