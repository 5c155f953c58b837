//! Validated domain values. Each is parsed once at the edge; code that holds
//! one never re-checks it.

use crate::error::{Error, FieldError};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use uuid::Uuid;

/// Declares a typed id over a UUID so ids of different things never mix.
#[macro_export]
macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// Time-ordered ids keep B-tree inserts local.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> uuid::Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// A municipality served by this deployment.
    TenantId
);

impl TenantId {
    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

fn deserialize_via_parse<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = Error>,
{
    let s = String::deserialize(d)?;
    s.parse::<T>().map_err(|e| {
        let detail = match &e {
            Error::Validation(f) => f.first().map(|f| f.code).unwrap_or("invalid"),
            _ => "invalid",
        };
        serde::de::Error::custom(format!("invalid value {s:?}: {detail}"))
    })
}

/// Short lowercase name of a tenant, used in its default host name
/// (`<slug>.<base domain>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

/// Host labels that belong to the platform, never to a tenant.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin", "www", "api", "static", "assets", "mail", "operator",
];

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Slug {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if s.len() < 2 || s.len() > 40 {
            return Err(Error::invalid("slug", "slug-length"));
        }
        if !ok_chars || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(Error::invalid("slug", "slug-chars"));
        }
        if RESERVED_SLUGS.contains(&s) {
            return Err(Error::invalid("slug", "slug-reserved"));
        }
        Ok(Slug(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_via_parse(d)
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fully qualified host name (no port, no trailing dot), lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DomainName(String);

impl DomainName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DomainName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let bad = || Error::invalid("domain", "domain-invalid");
        if s.is_empty() || s.len() > 253 || !s.contains('.') {
            return Err(bad());
        }
        for label in s.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(bad());
            }
        }
        Ok(DomainName(s))
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_via_parse(d)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `#rrggbb` colour, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HexColour(String);

impl HexColour {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn channel(&self, i: usize) -> f64 {
        // Parsing succeeded in from_str, so the digits are valid hex.
        f64::from(u8::from_str_radix(&self.0[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0)) / 255.0
    }

    /// WCAG 2.1 relative luminance.
    pub fn luminance(&self) -> f64 {
        let lin = |c: f64| {
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.channel(0))
            + 0.7152 * lin(self.channel(1))
            + 0.0722 * lin(self.channel(2))
    }

    /// WCAG contrast ratio against white text.
    pub fn contrast_with_white(&self) -> f64 {
        1.05 / (self.luminance() + 0.05)
    }
}

impl std::str::FromStr for HexColour {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(HexColour(s))
        } else {
            Err(Error::invalid("colour", "colour-invalid"))
        }
    }
}

impl<'de> Deserialize<'de> for HexColour {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_via_parse(d)
    }
}

impl fmt::Display for HexColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Greek tax id (ΑΦΜ): nine digits whose last is the mod-11 check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaxId(String);

impl TaxId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TaxId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        let ok = s.len() == 9 && d.len() == 9 && d.iter().any(|x| *x != 0) && {
            let sum: u32 = d[..8].iter().enumerate().map(|(i, x)| x << (8 - i)).sum();
            (sum % 11) % 10 == d[8]
        };
        if ok {
            Ok(TaxId(s.to_owned()))
        } else {
            Err(Error::invalid("tax_id", "tax-id-invalid"))
        }
    }
}

impl<'de> Deserialize<'de> for TaxId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_via_parse(d)
    }
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text in Greek (required) and English (required: English is complete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    pub el: String,
    pub en: String,
}

impl LocalizedText {
    pub fn get(&self, locale: crate::Locale) -> &str {
        match locale {
            crate::Locale::El => &self.el,
            crate::Locale::En => &self.en,
        }
    }

    /// Both languages present, trimmed, and at most `max` characters.
    pub fn validate(&self, field: &str, max: usize, errors: &mut Vec<FieldError>) {
        for (lang, v) in [("el", &self.el), ("en", &self.en)] {
            let len = v.trim().chars().count();
            if len == 0 {
                errors.push(FieldError::new(format!("{field}.{lang}"), "required"));
            } else if len > max {
                errors.push(
                    FieldError::new(format!("{field}.{lang}"), "too-long")
                        .with_detail(max.to_string()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!("alimos".parse::<Slug>().is_ok());
        assert!("agia-paraskevi".parse::<Slug>().is_ok());
        for bad in ["a", "Alimos", "-x", "x-", "a--b", "admin", "δήμος", "a b"] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_normalised() {
        let d: DomainName = " Alimos.GOV.gr. ".parse().unwrap();
        assert_eq!(d.as_str(), "alimos.gov.gr");
        for bad in ["localhost", "a..b", "-a.gr", "a_b.gr", "a.gr:80", ""] {
            assert!(bad.parse::<DomainName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn colour_contrast() {
        let navy: HexColour = "#003476".parse().unwrap();
        assert!(navy.contrast_with_white() > 4.5);
        let yellow: HexColour = "#FFEE00".parse().unwrap();
        assert_eq!(yellow.as_str(), "#ffee00");
        assert!(yellow.contrast_with_white() < 4.5);
        assert!("#12345".parse::<HexColour>().is_err());
        assert!("123456".parse::<HexColour>().is_err());
    }

    #[test]
    fn tax_ids_have_a_valid_check_digit() {
        for ok in ["100000015", "090000045", "123456783"] {
            assert!(ok.parse::<TaxId>().is_ok(), "{ok}");
        }
        for bad in [
            "123456789",
            "12345678",
            "000000000",
            "12345678a",
            "1234567890",
        ] {
            assert!(bad.parse::<TaxId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_ids_are_time_ordered() {
        let a = TenantId::new();
        let b = TenantId::new();
        assert_ne!(a, b);
        assert!(a <= b);
    }
}
