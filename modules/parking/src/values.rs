//! What the application form carries, validated at the edge into typed
//! values: Greek mobile numbers, vehicle plates, delivery choice.

use dimos_kernel::FieldError;

/// The platform's one parser of each: Greek mobile numbers and plates.
pub use dimos_kernel::greek::{Mobile, Plate};

/// How the citizen receives the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// At the municipality's desk.
    Pickup,
    /// By post to the delivery address.
    Post,
}

impl Delivery {
    pub fn parse(input: &str) -> Option<Delivery> {
        match input {
            "pickup" => Some(Delivery::Pickup),
            "post" => Some(Delivery::Post),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Delivery::Pickup => "pickup",
            Delivery::Post => "post",
        }
    }
}

/// The application, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct RawApplication {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub plate: String,
    #[serde(default)]
    pub delivery: String,
    #[serde(default)]
    pub delivery_address: String,
}

/// The application, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub full_name: String,
    pub email: String,
    pub mobile: Mobile,
    pub location: String,
    pub plate: Plate,
    pub delivery: Delivery,
    /// Present when the card goes by post.
    pub delivery_address: Option<String>,
}

fn text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Option<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 {
        errors.push(FieldError::new(field, "required"));
        None
    } else if n < min {
        errors.push(FieldError::new(field, "too-short").with_detail(min.to_string()));
        None
    } else if n > max {
        errors.push(FieldError::new(field, "too-long").with_detail(max.to_string()));
        None
    } else {
        Some(v.to_owned())
    }
}

fn email_ok(v: &str) -> bool {
    let mut parts = v.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(char::is_whitespace)
}

impl RawApplication {
    /// Every problem at once, each on its field.
    pub fn validate(&self) -> Result<Application, Vec<FieldError>> {
        let mut errors = Vec::new();
        let full_name = text(&mut errors, "full_name", &self.full_name, 3, 200);
        let email = text(&mut errors, "email", &self.email, 3, 254);
        if email.as_deref().is_some_and(|e| !email_ok(e)) {
            errors.push(FieldError::new("email", "email-invalid"));
        }
        let mobile = if self.mobile.trim().is_empty() {
            errors.push(FieldError::new("mobile", "required"));
            None
        } else {
            let m = Mobile::parse(&self.mobile);
            if m.is_none() {
                errors.push(FieldError::new("mobile", "mobile-invalid"));
            }
            m
        };
        let location = text(&mut errors, "location", &self.location, 5, 300);
        let plate = if self.plate.trim().is_empty() {
            errors.push(FieldError::new("plate", "required"));
            None
        } else {
            let p = Plate::parse(&self.plate);
            if p.is_none() {
                errors.push(FieldError::new("plate", "plate-invalid"));
            }
            p
        };
        let delivery = Delivery::parse(&self.delivery);
        if delivery.is_none() {
            errors.push(FieldError::new("delivery", "required"));
        }
        let delivery_address = if delivery == Some(Delivery::Post) {
            text(
                &mut errors,
                "delivery_address",
                &self.delivery_address,
                5,
                300,
            )
        } else {
            None
        };
        match (full_name, email, mobile, location, plate, delivery) {
            (
                Some(full_name),
                Some(email),
                Some(mobile),
                Some(location),
                Some(plate),
                Some(delivery),
            ) if errors.is_empty() => Ok(Application {
                full_name,
                email,
                mobile,
                location,
                plate,
                delivery,
                delivery_address,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RawApplication {
        RawApplication {
            full_name: "Μαρία Παπαδοπούλου".into(),
            email: "maria@example.gr".into(),
            mobile: "6912345678".into(),
            location: "Αριστοτέλους 53, Άλιμος".into(),
            plate: "ικυ-1234".into(),
            delivery: "pickup".into(),
            delivery_address: String::new(),
        }
    }

    #[test]
    fn a_good_application_is_normalised() {
        let a = good().validate().unwrap();
        assert_eq!(a.plate.as_str(), "ΙΚΥ-1234");
        assert_eq!(a.mobile.as_str(), "+306912345678");
        assert_eq!(a.delivery_address, None);
    }

    #[test]
    fn every_problem_is_reported_on_its_field() {
        let raw = RawApplication {
            full_name: " ".into(),
            email: "maria at example".into(),
            mobile: "210 9892000".into(),
            location: "Α".into(),
            plate: "ΓΔΛ-1".into(),
            delivery: "post".into(),
            delivery_address: String::new(),
        };
        let errs = raw.validate().unwrap_err();
        let fields: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("full_name", "required"),
                ("email", "email-invalid"),
                ("mobile", "mobile-invalid"),
                ("location", "too-short"),
                ("plate", "plate-invalid"),
                ("delivery_address", "required"),
            ]
        );
        // By post, the address is needed; at the desk it is not.
        let mut by_post = good();
        by_post.delivery = "post".into();
        by_post.delivery_address = "Λεωφόρος Ποσειδώνος 1, Άλιμος".into();
        assert!(by_post.validate().unwrap().delivery_address.is_some());
        let mut nowhere = good();
        nowhere.delivery = "drone".into();
        assert!(nowhere.validate().is_err());
    }
}
