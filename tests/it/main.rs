//! One test binary for the whole platform (linking one binary is much
//! cheaper than one per file). Each `on_both_backends!` test runs twice:
//! on SQLite and on PostgreSQL.

// Test support: a failed unwrap is a failed test, the peers' addresses come
// from the environment, and the tests read any tenant's rows as an
// attacker with database access would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod access;
mod api;
mod api_apply;
mod api_clients;
mod api_tasks;
mod auth;
mod auth_faults;
mod backup;
mod browser;
mod bulky;
mod case_pages;
mod certificates;
mod crawl;
mod diagram;
mod downloads;
mod edms;
mod external_idp;
mod faulty_idp;
mod files;
mod flows;
mod hostile;
mod http;
mod links;
mod modules;
mod notifications;
mod nurseries;
mod nursery_settings;
mod operator;
mod parking;
mod parking_steps;
mod plans;
mod privacy;
mod probe;
mod replicas;
mod retention;
mod security;
mod signing;
mod storage_s3;
mod submissions;
mod tenancy;
mod transfer;
mod translations;
mod webhooks;
mod workflow_engine;
mod workflow_http;
