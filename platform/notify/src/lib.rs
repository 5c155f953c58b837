//! Notifications that never get lost. The engine's events become messages
//! in the `notifications` outbox inside the transaction of the change that
//! causes them; a worker on any replica delivers them by email (lettre:
//! SMTP or files) or SMS (an HTTP gateway or a file), retries with
//! exponential backoff, and moves a message that keeps failing to `dead`,
//! where the municipality's admin sees it (and gets an alert email).

pub mod email;
pub mod outbox;
pub mod sink;
pub mod sms;
pub mod templates;
pub mod webhooks;

pub use email::Mailer;
pub use outbox::Outbox;
pub use sink::{Directory, NotificationSink, Recipient, TenantInfo};
pub use sms::SmsSender;
pub use templates::Templates;
pub use webhooks::{WebhookSink, Webhooks};

/// A delivery failure: worth retrying, or not.
#[derive(Debug, Clone)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    pub fn retry(m: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            message: m.into(),
        }
    }

    pub fn permanent(m: impl Into<String>) -> Self {
        SendError {
            permanent: true,
            message: m.into(),
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
