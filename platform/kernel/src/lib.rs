//! Types every other Dimos crate shares: the one error type, typed ids and
//! domain values, configuration and translations. No I/O lives here.

pub mod clock;
pub mod config;
pub mod error;
pub mod greek;
pub mod i18n;
pub mod values;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Error, FieldError, Result};
pub use i18n::{Locale, Translator};
pub use values::{DomainName, HexColour, LocalizedText, Slug, TaxId, TenantId};
