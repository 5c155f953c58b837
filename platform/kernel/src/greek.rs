//! Greek values people type into forms, each with its one parser: mobile
//! and landline numbers, vehicle plates, postcodes, IBANs and AMKA (the
//! social security number). Every parser accepts the ways people write the value (spaces,
//! dashes, dots, brackets, the country code) and keeps one canonical form;
//! a module never writes its own. The tax id (ΑΦΜ) is [`crate::TaxId`].
//! And [`fold`], text as searches compare it.

use std::fmt;

/// Takes out what people put between digits: spaces, dashes, dots and
/// brackets.
fn compact(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '(' | ')' | '/'))
        .collect()
}

/// The national number of a Greek phone number written with or without
/// the country code (`+30`, `0030`).
fn national(input: &str) -> Option<String> {
    let digits = compact(input);
    let national = digits
        .strip_prefix("+30")
        .or_else(|| digits.strip_prefix("0030"))
        .unwrap_or(&digits);
    (national.len() == 10 && national.bytes().all(|b| b.is_ascii_digit()))
        .then(|| national.to_owned())
}

macro_rules! text_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a valid ", stringify!($name)))
                })
            }
        }
    };
}

/// A Greek mobile number, kept as `+3069XXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);
text_value!(Mobile);

impl Mobile {
    /// `6912345678`, `69 1234 5678`, `+30 691 234 5678`, `0030-69…`,
    /// `(+30) 69…`: ten digits starting with 69 once the country code is off.
    pub fn parse(input: &str) -> Option<Mobile> {
        national(input)
            .filter(|n| n.starts_with("69"))
            .map(|n| Mobile(format!("+30{n}")))
    }
}

/// A Greek landline number (ten digits starting with 2), kept as
/// `+302XXXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Landline(String);
text_value!(Landline);

impl Landline {
    pub fn parse(input: &str) -> Option<Landline> {
        national(input)
            .filter(|n| n.starts_with('2'))
            .map(|n| Landline(format!("+30{n}")))
    }
}

/// A Greek postcode (ΤΚ): five digits, written `104 31` or `10431`; kept
/// without the space. Greek postcodes run from 10 to 85.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Postcode(String);
text_value!(Postcode);

impl Postcode {
    pub fn parse(input: &str) -> Option<Postcode> {
        let d = compact(input);
        let area: u32 = d.get(..2)?.parse().ok()?;
        (d.len() == 5 && d.bytes().all(|b| b.is_ascii_digit()) && (10..=85).contains(&area))
            .then_some(Postcode(d))
    }
}

/// An IBAN (ISO 13616), kept compact in capitals; Greek ones are 27
/// characters. The check digits are verified (mod 97), which catches every
/// single mistyped character and most swaps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);
text_value!(Iban);

impl Iban {
    pub fn parse(input: &str) -> Option<Iban> {
        let s = compact(input).to_ascii_uppercase();
        let country = s.get(..2)?;
        let len_ok = match country {
            "GR" => s.len() == 27,
            _ => (15..=34).contains(&s.len()),
        };
        let shape_ok = country.bytes().all(|b| b.is_ascii_uppercase())
            && s.get(2..4)?.bytes().all(|b| b.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_alphanumeric());
        (len_ok && shape_ok && iban_mod97(&s) == Some(1)).then_some(Iban(s))
    }

    /// Grouped by four for reading: `GR16 0110 1250 …`.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The remainder of the IBAN's number (country and check moved to the end,
/// letters as 10–35) divided by 97.
fn iban_mod97(s: &str) -> Option<u32> {
    let rearranged = s.get(4..)?.chars().chain(s.get(..4)?.chars());
    let mut rem = 0u32;
    for c in rearranged {
        let v = c.to_digit(36)?;
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    Some(rem)
}

/// AMKA, the Greek social security number: eleven digits, the first six
/// the date of birth (DDMMYY), the last a Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Amka(String);
text_value!(Amka);

impl Amka {
    pub fn parse(input: &str) -> Option<Amka> {
        let d = compact(input);
        if d.len() != 11 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let day: u32 = d.get(..2)?.parse().ok()?;
        let month: u32 = d.get(2..4)?.parse().ok()?;
        // The century is not written: a date that exists in a leap year
        // (29 February) is possible.
        let real_date = chrono::NaiveDate::from_ymd_opt(2000, month, day).is_some();
        (real_date && luhn_ok(&d)).then_some(Amka(d))
    }
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Letters used on Greek plates, with the Latin letters that look the same
/// (people type either).
const PLATE_LETTERS: &[(char, char)] = &[
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
];

/// A Greek registration plate, kept in Greek capitals as `ΙΚΥ-1234`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plate(String);
text_value!(Plate);

impl Plate {
    /// Three letters and four digits (cars; older plates and motorcycles
    /// have two or three letters and three or four digits); Greek or
    /// look-alike Latin letters, any case, with or without a dash.
    pub fn parse(input: &str) -> Option<Plate> {
        let clean: Vec<char> = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .flat_map(char::to_uppercase)
            .collect();
        let split = clean.iter().position(char::is_ascii_digit)?;
        let (letters, digits) = clean.split_at(split);
        let greek: Option<String> = letters
            .iter()
            .map(|c| {
                PLATE_LETTERS
                    .iter()
                    .find(|(g, l)| g == c || l == c)
                    .map(|(g, _)| *g)
            })
            .collect();
        let greek = greek?;
        let ok = (2..=3).contains(&letters.len())
            && (3..=4).contains(&digits.len())
            && digits.iter().all(char::is_ascii_digit);
        ok.then(|| Plate(format!("{greek}-{}", digits.iter().collect::<String>())))
    }
}

/// Text as searches and lists compare it: accents and marks removed
/// (Greek tonos and dialytika too), lower case, final sigma as sigma,
/// runs of white space as one space, trimmed. «Λεωφ. ΠΟΣΕΙΔΏΝΟΣ» and
/// «λεωφ. ποσειδωνος» fold alike.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.extend(c.to_lowercase().map(|l| if l == 'ς' { 'σ' } else { l }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mobiles_in_the_ways_people_write_them() {
        for ok in [
            "6912345678",
            "69 1234 5678",
            "+30 691 234 5678",
            "0030-6912345678",
            "(+30) 6912345678",
            "(69) 1234 5678",
            "691.234.5678",
        ] {
            assert_eq!(
                Mobile::parse(ok).map(|m| m.as_str().to_owned()),
                Some("+306912345678".into()),
                "{ok}"
            );
        }
        for bad in [
            "2109892000",
            "691234567",
            "69123456789",
            "+44 7700 900123",
            "69ΑΒΓ45678",
            "",
        ] {
            assert_eq!(Mobile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn landlines_postcodes_ibans_and_amka() {
        assert_eq!(
            Landline::parse("210 989 2000").unwrap().as_str(),
            "+302109892000"
        );
        assert_eq!(Landline::parse("6912345678"), None);
        assert_eq!(Postcode::parse("104 31").unwrap().as_str(), "10431");
        assert_eq!(Postcode::parse("09431"), None);
        assert_eq!(Postcode::parse("1043"), None);
        // The example IBAN of the Bank of Greece's documentation.
        let iban = Iban::parse("gr16 0110 1250 0000 0001 2300 695").unwrap();
        assert_eq!(iban.as_str(), "GR1601101250000000012300695");
        assert_eq!(iban.grouped(), "GR16 0110 1250 0000 0001 2300 695");
        assert_eq!(Iban::parse("GR1601101250000000012300696"), None);
        assert_eq!(Iban::parse("GR160110125000000001230069"), None);
        assert!(Iban::parse("DE89 3704 0044 0532 0130 00").is_some());
        let amka = with_luhn("0101801234");
        assert!(Amka::parse(&amka).is_some(), "{amka}");
        assert_eq!(Amka::parse(&with_luhn("3202801234")), None, "no 32nd");
        assert!(
            Amka::parse(&with_luhn("2902001234")).is_some(),
            "29 February"
        );
    }

    /// Ten digits and the Luhn digit that completes them.
    fn with_luhn(ten: &str) -> String {
        (0..10)
            .map(|d| format!("{ten}{d}"))
            .find(|s| luhn_ok(s))
            .unwrap()
    }

    /// Separators people put between digits.
    fn spaced(s: &str, seps: &[u8]) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            out.push(c);
            match seps.get(i).copied().unwrap_or(0) % 6 {
                1 => out.push(' '),
                2 => out.push('-'),
                3 => out.push('.'),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn plates_in_greek_or_latin_look_alikes() {
        for (input, want) in [
            ("ΙΚΥ-1234", "ΙΚΥ-1234"),
            ("iky 1234", "ΙΚΥ-1234"),
            ("IKY1234", "ΙΚΥ-1234"),
            ("ζηχ-987", "ΖΗΧ-987"),
            ("ΑΒ 1234", "ΑΒ-1234"),
        ] {
            assert_eq!(
                Plate::parse(input).map(|p| p.as_str().to_owned()),
                Some(want.into()),
                "{input}"
            );
        }
        // Γ, Δ and the like are not used on plates; nor are Latin-only letters.
        for bad in [
            "ΓΔΛ-1234",
            "QWE-1234",
            "ΙΚΥ-12",
            "ΙΚΥΚ-1234",
            "1234-ΙΚΥ",
            "ΙΚΥ-12345",
            "",
        ] {
            assert_eq!(Plate::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_mobile_parses_the_same_however_it_is_written(
            rest in "[0-9]{8}",
            seps in proptest::collection::vec(any::<u8>(), 12),
            prefix in prop_oneof![Just(""), Just("+30"), Just("0030"), Just("+30 ")],
        ) {
            let canonical = format!("+3069{rest}");
            let typed = format!("{prefix}{}", spaced(&format!("69{rest}"), &seps));
            let parsed = Mobile::parse(&typed).map(|m| m.as_str().to_owned());
            prop_assert_eq!(parsed.as_deref(), Some(canonical.as_str()));
            // The canonical form reads back as itself.
            prop_assert_eq!(Mobile::parse(&canonical).map(|m| m.0), Some(canonical.clone()));
        }

        #[test]
        fn no_value_accepts_letters_or_nothing(s in "[^0-9]*") {
            prop_assert!(Mobile::parse(&s).is_none());
            prop_assert!(Landline::parse(&s).is_none());
            prop_assert!(Postcode::parse(&s).is_none());
            prop_assert!(Amka::parse(&s).is_none());
        }

        #[test]
        fn a_single_mistyped_digit_breaks_an_amka(
            ten in "(0[1-9]|1[0-9]|2[0-8])(0[1-9]|1[0-2])[0-9]{6}",
            pos in 0usize..11,
            delta in 1u8..10,
        ) {
            let good = with_luhn(&ten);
            prop_assert!(Amka::parse(&good).is_some());
            let mut bytes = good.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(!luhn_ok(&typo), "{}", typo);
        }

        #[test]
        fn a_single_mistyped_character_breaks_an_iban(
            pos in 4usize..27,
            delta in 1u8..10,
            seps in proptest::collection::vec(any::<u8>(), 27),
        ) {
            let good = "GR1601101250000000012300695";
            let again = Iban::parse(&spaced(&good.to_lowercase(), &seps)).map(|i| i.0);
            prop_assert_eq!(again.as_deref(), Some(good));
            let mut bytes = good.as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(Iban::parse(&typo).is_none(), "{}", typo);
        }
    }

    #[test]
    fn folding_takes_out_accents_case_final_sigma_and_extra_space() {
        assert_eq!(fold("  Λεωφ.  ΠΟΣΕΙΔΏΝΟΣ "), "λεωφ. ποσειδωνοσ");
        assert_eq!(fold("ποσειδώνος"), fold("ΠΟΣΕΙΔΩΝΟΣ"));
        assert_eq!(fold("Ϊάσονας Ϋ ΐ ΰ"), "ιασονασ υ ι υ");
        assert_eq!(fold("Café Ñandú"), "cafe nandu");
        assert_eq!(fold(""), "");
    }
}
