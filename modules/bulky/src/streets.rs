//! The municipality's street list, so that addresses are checked without
//! the internet: a CSV the cleaning department imports (`street,
//! postcode, area` and optionally `lat, lon`), each street in an area; and
//! the suggestions a form offers as the person types, with accents and
//! case folded (`ποσειδ` finds «Λεωφόρος Ποσειδώνος»).

use dimos_kernel::greek::{Postcode, fold};

/// A street of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    pub name: String,
    pub postcode: Postcode,
    /// The collection area it belongs to.
    pub area: String,
    pub point: Option<(f64, f64)>,
}

/// A line of the file that is not a street, and why (1-based, the header
/// being line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub problem: &'static str,
}

/// Reads the list: every line's problem at once, or the streets. A street
/// named twice with the same postcode is one problem, not two streets.
pub fn parse(csv_text: &str) -> Result<Vec<Street>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let mut errors = vec![];
    let headers = match reader.headers() {
        Ok(h) => h.iter().map(fold).collect::<Vec<_>>(),
        Err(_) => {
            return Err(vec![LineError {
                line: 1,
                problem: "not-csv",
            }]);
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(street), Some(postcode), Some(area)) = (col("street"), col("postcode"), col("area"))
    else {
        return Err(vec![LineError {
            line: 1,
            problem: "header",
        }]);
    };
    let (lat, lon) = (col("lat"), col("lon"));
    let mut out: Vec<Street> = vec![];
    for (n, record) in reader.records().enumerate() {
        let line = u64::try_from(n).unwrap_or(u64::MAX).saturating_add(2);
        let Ok(r) = record else {
            errors.push(LineError {
                line,
                problem: "not-csv",
            });
            continue;
        };
        let field = |i: usize| r.get(i).unwrap_or("").trim();
        let name = field(street);
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            errors.push(LineError {
                line,
                problem: "street",
            });
            continue;
        }
        let Some(pc) = Postcode::parse(field(postcode)) else {
            errors.push(LineError {
                line,
                problem: "postcode",
            });
            continue;
        };
        let area_name = field(area);
        if area_name.is_empty() || area_name.chars().count() > 60 {
            errors.push(LineError {
                line,
                problem: "area",
            });
            continue;
        }
        let point = match (lat.map(field), lon.map(field)) {
            (None | Some(""), None | Some("")) => None,
            (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(a), Ok(b)) if (-90.0..=90.0).contains(&a) && (-180.0..=180.0).contains(&b) => {
                    Some((a, b))
                }
                _ => {
                    errors.push(LineError {
                        line,
                        problem: "coordinates",
                    });
                    continue;
                }
            },
            _ => {
                errors.push(LineError {
                    line,
                    problem: "coordinates",
                });
                continue;
            }
        };
        if out
            .iter()
            .any(|s| fold(&s.name) == fold(name) && s.postcode == pc)
        {
            errors.push(LineError {
                line,
                problem: "duplicate",
            });
            continue;
        }
        out.push(Street {
            name: name.to_owned(),
            postcode: pc,
            area: area_name.to_owned(),
            point,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Streets whose name holds what was typed (folded), those that start
/// with it first, then alphabetically; at most `limit`.
pub fn suggest<'a>(streets: &'a [Street], typed: &str, limit: usize) -> Vec<&'a Street> {
    let typed = fold(typed);
    if typed.is_empty() {
        return vec![];
    }
    let mut found: Vec<(bool, String, &Street)> = streets
        .iter()
        .filter_map(|s| {
            let name = fold(&s.name);
            let word_start =
                name.starts_with(&typed) || name.split(' ').any(|w| w.starts_with(&typed));
            name.contains(&typed).then_some((!word_start, name, s))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    found.into_iter().take(limit).map(|(_, _, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIMOS: &str = include_str!("../data/alimos-streets.csv");

    #[test]
    fn the_demo_list_reads_and_suggests_streets_as_people_type_them() {
        let streets = parse(ALIMOS).unwrap();
        assert_eq!(streets.len(), 12);
        assert!(streets.iter().all(|s| s.point.is_some()));
        let names = |typed: &str| -> Vec<String> {
            suggest(&streets, typed, 5)
                .into_iter()
                .map(|s| s.name.clone())
                .collect()
        };
        assert_eq!(names("ποσειδ"), ["Λεωφόρος Ποσειδώνος"]);
        assert_eq!(names("ΠΟΣΕΙΔΩΝΟΣ"), ["Λεωφόρος Ποσειδώνος"]);
        // Those a word starts with first.
        assert_eq!(names("λεωφ"), ["Λεωφόρος Αλίμου", "Λεωφόρος Ποσειδώνος"]);
        assert_eq!(names("αγιου"), ["Αγίου Νικολάου"]);
        assert!(names("").is_empty());
        assert!(names("Kifisias").is_empty());
    }

    #[test]
    fn every_bad_line_is_named() {
        let text = "street,postcode,area\n\
                    Ερμού,17456,Κέντρο\n\
                    ,17456,Κέντρο\n\
                    Πλάκας,1745,Κέντρο\n\
                    Ιωνίας,17456,\n\
                    ΕΡΜΟΥ,17456,Κέντρο\n";
        let errors = parse(text).unwrap_err();
        let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.problem)).collect();
        assert_eq!(
            found,
            [
                (3, "street"),
                (4, "postcode"),
                (5, "area"),
                (6, "duplicate")
            ]
        );
        assert_eq!(
            parse("name,zip\nx,1\n").unwrap_err(),
            [LineError {
                line: 1,
                problem: "header"
            }]
        );
        let text = "street,postcode,area,lat,lon\nΕρμού,17456,Κέντρο,91,23\n";
        assert_eq!(parse(text).unwrap_err()[0].problem, "coordinates");
    }
}
