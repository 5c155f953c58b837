//! Collection areas drawn as polygons, and the pin a person drops on the
//! map: which area holds a point. Pure (no I/O); points are `(lat, lon)`
//! in degrees, as the map gives them. A municipality is small enough for
//! the plane's geometry to be the sphere's.

/// A point, `(lat, lon)`.
pub type Point = (f64, f64);

/// Whether `p` is inside the polygon `ring` (its vertices in order, the
/// last joined to the first; either orientation). Even–odd rule by a ray
/// cast east; a point on an edge counts as inside, so that a pin on a
/// boundary street belongs to some area.
pub fn contains(ring: &[[f64; 2]], p: Point) -> bool {
    if ring.len() < 3 {
        return false;
    }
    let (y, x) = p;
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (yi, xi) = (ring[i][0], ring[i][1]);
        let (yj, xj) = (ring[j][0], ring[j][1]);
        if on_segment((yi, xi), (yj, xj), (y, x)) {
            return true;
        }
        if (yi > y) != (yj > y) {
            let cross = xi + (y - yi) / (yj - yi) * (xj - xi);
            if x < cross {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

fn on_segment(a: Point, b: Point, p: Point) -> bool {
    let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    if cross.abs() > 1e-12 {
        return false;
    }
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// The first of `areas` (id, polygon) whose polygon holds `p`.
pub fn area_of<'a>(
    areas: impl IntoIterator<Item = (&'a str, &'a [[f64; 2]])>,
    p: Point,
) -> Option<&'a str> {
    areas
        .into_iter()
        .find(|(_, ring)| contains(ring, p))
        .map(|(id, _)| id)
}

/// A pin that is not one: not two numbers, or out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPin;

/// A pin as a form sends it (`lat`, `lon` as text): both empty is no pin;
/// anything else must be two numbers in range.
pub fn pin(lat: &str, lon: &str) -> Result<Option<Point>, BadPin> {
    let (lat, lon) = (lat.trim(), lon.trim());
    if lat.is_empty() && lon.is_empty() {
        return Ok(None);
    }
    let lat: f64 = lat.parse().map_err(|_| BadPin)?;
    let lon: f64 = lon.parse().map_err(|_| BadPin)?;
    if lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
    {
        Ok(Some((lat, lon)))
    } else {
        Err(BadPin)
    }
}

/// Why an outline does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolygonError {
    /// Not GeoJSON we read (not one Polygon, a position not two numbers).
    GeoJson,
    /// A polygon with holes.
    Holes,
    /// This line (from 1) is not `lat, lon`.
    Line(usize),
    /// Fewer than three points.
    TooFew,
    /// More than 2,000 points.
    TooMany,
    /// A point off the globe.
    OutOfRange,
}

impl PolygonError {
    /// The form's error code (`bulky-polygon-*`) and its detail.
    pub fn code(self) -> (&'static str, Option<String>) {
        match self {
            PolygonError::GeoJson => ("bulky-polygon-geojson", None),
            PolygonError::Holes => ("bulky-polygon-holes", None),
            PolygonError::Line(n) => ("bulky-polygon-line", Some(n.to_string())),
            PolygonError::TooFew => ("bulky-polygon-few", None),
            PolygonError::TooMany => ("bulky-polygon-many", None),
            PolygonError::OutOfRange => ("bulky-polygon-range", None),
        }
    }
}

/// A polygon as the settings page takes it: one `lat, lon` per line, or a
/// GeoJSON `Polygon` (or a `Feature` holding one), as GIS tools export
/// them (GeoJSON writes `[lon, lat]`; its outer ring is read). An empty
/// text is no polygon.
pub fn parse_polygon(text: &str) -> Result<Vec<[f64; 2]>, PolygonError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(vec![]);
    }
    let mut ring: Vec<[f64; 2]> = if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|_| PolygonError::GeoJson)?;
        // What GIS tools export: a FeatureCollection of one feature, a
        // Feature, or the geometry; a Polygon, or a MultiPolygon of one.
        let feature = match v["type"].as_str() {
            Some("FeatureCollection") => match v["features"].as_array().map(Vec::as_slice) {
                Some([one]) => one,
                _ => return Err(PolygonError::GeoJson),
            },
            _ => &v,
        };
        let geometry = if feature["type"] == "Feature" {
            &feature["geometry"]
        } else {
            feature
        };
        let polygon = match geometry["type"].as_str() {
            Some("Polygon") => &geometry["coordinates"],
            Some("MultiPolygon") => match geometry["coordinates"].as_array().map(Vec::as_slice) {
                Some([one]) => one,
                _ => return Err(PolygonError::GeoJson),
            },
            _ => return Err(PolygonError::GeoJson),
        };
        if polygon.as_array().is_some_and(|rings| rings.len() > 1) {
            return Err(PolygonError::Holes);
        }
        let outer = polygon[0].as_array().ok_or(PolygonError::GeoJson)?;
        outer
            .iter()
            .map(|c| match (c[0].as_f64(), c[1].as_f64()) {
                (Some(lon), Some(lat)) => Ok([lat, lon]),
                _ => Err(PolygonError::GeoJson),
            })
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(n, l)| {
                let mut parts = l.split(',').map(str::trim);
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => match pin(a, b) {
                        Ok(Some((lat, lon))) => Ok([lat, lon]),
                        _ => Err(PolygonError::Line(n + 1)),
                    },
                    _ => Err(PolygonError::Line(n + 1)),
                }
            })
            .collect::<Result<_, _>>()?
    };
    // A closed ring repeats its first point; keep it once.
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return Err(PolygonError::TooFew);
    }
    if ring.len() > 2000 {
        return Err(PolygonError::TooMany);
    }
    if ring
        .iter()
        .any(|[lat, lon]| !(-90.0..=90.0).contains(lat) || !(-180.0..=180.0).contains(lon))
    {
        return Err(PolygonError::OutOfRange);
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent test of the same question: the winding number
    /// (non-zero for a point inside a simple polygon).
    fn winding(ring: &[[f64; 2]], p: Point) -> bool {
        let (y, x) = p;
        let mut w = 0i32;
        for i in 0..ring.len() {
            let (y1, x1) = (ring[i][0], ring[i][1]);
            let (y2, x2) = (ring[(i + 1) % ring.len()][0], ring[(i + 1) % ring.len()][1]);
            let side = (x2 - x1) * (y - y1) - (x - x1) * (y2 - y1);
            if y1 <= y {
                if y2 > y && side > 0.0 {
                    w += 1;
                }
            } else if y2 <= y && side < 0.0 {
                w -= 1;
            }
        }
        w != 0
    }

    /// A star-shaped polygon around `c` (so simple, never crossing itself).
    fn star(c: Point, radii: &[f64]) -> Vec<[f64; 2]> {
        let n = radii.len();
        radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [c.0 + r * a.sin(), c.1 + r * a.cos()]
            })
            .collect()
    }

    #[test]
    fn alimos_like_areas_hold_their_points() {
        let square = [
            [37.90, 23.70],
            [37.90, 23.72],
            [37.92, 23.72],
            [37.92, 23.70],
        ];
        assert!(contains(&square, (37.91, 23.71)));
        assert!(!contains(&square, (37.93, 23.71)));
        assert!(!contains(&square, (37.91, 23.69)));
        // On an edge and on a corner: inside.
        assert!(contains(&square, (37.90, 23.71)));
        assert!(contains(&square, (37.92, 23.72)));
        // A concave "C": its mouth is outside.
        let c = [
            [0.0, 0.0],
            [0.0, 3.0],
            [1.0, 3.0],
            [1.0, 1.0],
            [2.0, 1.0],
            [2.0, 3.0],
            [3.0, 3.0],
            [3.0, 0.0],
        ];
        assert!(!contains(&c, (1.5, 2.0)));
        assert!(contains(&c, (0.5, 2.0)));
        assert!(contains(&c, (1.5, 0.5)));
        let areas = [("a", &square[..]), ("b", &c[..])];
        assert_eq!(area_of(areas, (37.91, 23.71)), Some("a"));
        assert_eq!(area_of(areas, (0.5, 2.0)), Some("b"));
        assert_eq!(area_of(areas, (50.0, 50.0)), None);
    }

    #[test]
    fn pins_and_polygons_are_read_or_refused() {
        assert_eq!(pin("", " "), Ok(None));
        assert_eq!(pin("37.9", "23.7"), Ok(Some((37.9, 23.7))));
        assert!(pin("37.9", "").is_err());
        assert!(pin("91", "23").is_err());
        assert!(pin("NaN", "23").is_err());
        assert!(pin("inf", "23").is_err());
        let lines =
            parse_polygon("37.90, 23.70\n37.90, 23.72\n\n37.92,23.72\n37.90, 23.70").unwrap();
        assert_eq!(lines, [[37.90, 23.70], [37.90, 23.72], [37.92, 23.72]]);
        let geojson = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon",
            "coordinates":[[[23.70,37.90],[23.72,37.90],[23.72,37.92],[23.70,37.90]]]}}"#;
        assert_eq!(parse_polygon(geojson).unwrap(), lines);
        assert_eq!(parse_polygon("  ").unwrap(), Vec::<[f64; 2]>::new());
        assert_eq!(
            parse_polygon("37.9, 23.7\n37.8").unwrap_err(),
            PolygonError::Line(2)
        );
        assert!(
            parse_polygon("37.9, 23.7\n37.8, 23.7").is_err(),
            "two points"
        );
        assert!(parse_polygon(r#"{"type":"Point","coordinates":[23.7,37.9]}"#).is_err());
        let ring = r#"[[[23.70,37.90],[23.72,37.90],[23.72,37.92],[23.70,37.90]]]"#;
        let collection = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":{ring}}}}}]}}"#
        );
        assert_eq!(parse_polygon(&collection).unwrap(), lines);
        let multi = format!(r#"{{"type":"MultiPolygon","coordinates":[{ring}]}}"#);
        assert_eq!(parse_polygon(&multi).unwrap(), lines);
        let holed = r#"{"type":"Polygon","coordinates":[[[23.70,37.90],[23.72,37.90],[23.72,37.92],[23.70,37.90]],[[23.705,37.905],[23.71,37.905],[23.71,37.91],[23.705,37.905]]]}"#;
        assert_eq!(parse_polygon(holed).unwrap_err(), PolygonError::Holes);
        let two = format!(r#"{{"type":"MultiPolygon","coordinates":[{ring},{ring}]}}"#);
        assert!(parse_polygon(&two).is_err());
        assert!(parse_polygon("{not json").is_err());
    }

    proptest! {
        /// The ray cast agrees with the winding number on star-shaped
        /// polygons, whatever the point (points on edges aside: the two
        /// rules differ there by design).
        #[test]
        fn the_ray_cast_agrees_with_the_winding_number(
            radii in prop::collection::vec(0.1f64..10.0, 3..24),
            py in -12.0f64..12.0,
            px in -12.0f64..12.0,
        ) {
            let ring = star((0.0, 0.0), &radii);
            let on_edge = (0..ring.len()).any(|i| {
                let a = (ring[i][0], ring[i][1]);
                let b = (ring[(i + 1) % ring.len()][0], ring[(i + 1) % ring.len()][1]);
                let cross = (b.0 - a.0) * (px - a.1) - (b.1 - a.1) * (py - a.0);
                cross.abs() < 1e-9
            });
            prop_assume!(!on_edge);
            prop_assert_eq!(contains(&ring, (py, px)), winding(&ring, (py, px)));
        }

        /// The order of the vertices does not matter, and the centre of a
        /// star is always inside.
        #[test]
        fn orientation_does_not_matter(
            radii in prop::collection::vec(0.1f64..10.0, 3..24),
            py in -12.0f64..12.0,
            px in -12.0f64..12.0,
        ) {
            let ring = star((0.0, 0.0), &radii);
            let mut reversed = ring.clone();
            reversed.reverse();
            prop_assert_eq!(contains(&ring, (py, px)), contains(&reversed, (py, px)));
            prop_assert!(contains(&ring, (0.0, 0.0)));
        }
    }
}
