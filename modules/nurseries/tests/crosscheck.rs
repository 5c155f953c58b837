//! Cross-check of the placement against an independent implementation:
//! PyPI `matching` (HospitalResident, resident-optimal), on a generated
//! sibling-free instance of 2,400 applicants. Each (station, age group) is
//! a "hospital" ranking the children who asked for it by the municipality's
//! priority; the assignments must be identical.

use dimos_module_nurseries::generate::{Shape, generate};
use dimos_module_nurseries::placement::{Instance, place, stability};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

fn hospital(s: usize, g: usize) -> String {
    format!("s{s}g{g}")
}

fn as_hospital_resident(inst: &Instance) -> Value {
    let mut order: Vec<usize> = (0..inst.units.len()).collect();
    order.sort_by_key(|&u| (inst.units[u].priority, u));
    let mut residents = Map::new();
    let mut hospitals: Map<String, Value> = Map::new();
    let mut capacities = Map::new();
    for (s, row) in inst.capacity.iter().enumerate() {
        for (g, &n) in row.iter().enumerate() {
            capacities.insert(hospital(s, g), json!(n));
            hospitals.insert(hospital(s, g), json!([]));
        }
    }
    for (u, unit) in inst.units.iter().enumerate() {
        let g = unit.children[0];
        let prefs: Vec<String> = unit.preferences.iter().map(|&s| hospital(s, g)).collect();
        residents.insert(format!("r{u}"), json!(prefs));
    }
    for &u in &order {
        let unit = &inst.units[u];
        for &s in &unit.preferences {
            if let Some(Value::Array(list)) = hospitals.get_mut(&hospital(s, unit.children[0])) {
                list.push(json!(format!("r{u}")));
            }
        }
    }
    // `matching` wants every hospital ranked by someone.
    hospitals.retain(|_, v| v.as_array().is_some_and(|a| !a.is_empty()));
    capacities.retain(|h, _| hospitals.contains_key(h));
    json!({"residents": residents, "hospitals": hospitals, "capacities": capacities})
}

#[test]
fn placement_matches_pypi_matching_on_a_sibling_free_instance() {
    let inst = generate(
        Shape {
            applicants: 2_400,
            stations: 40,
            groups: 2,
            preferences: 3,
            siblings_percent: 0,
            places: 24,
        },
        2026,
    );
    assert!(inst.units.iter().all(|u| u.children.len() == 1));
    let started = Instant::now();
    let ours = place(&inst);
    let our_seconds = started.elapsed().as_secs_f64();
    assert!(ours.settled);
    assert!(stability(&inst, &ours).is_ok());
    let placed = ours.station.iter().filter(|s| s.is_some()).count();
    assert!(
        placed > 1_000 && placed < inst.units.len(),
        "a contested instance: {placed} of {} placed",
        inst.units.len()
    );

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/crosscheck.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (infra/test.sh installs the Python peers)");
    let input = as_hospital_resident(&inst).to_string();
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("the instance is written");
    let done = child.wait_with_output().expect("python3 finishes");
    assert!(
        done.status.success(),
        "PyPI matching failed (pip install -r tests/python/requirements.txt): {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let theirs: Value = serde_json::from_slice(&done.stdout).expect("JSON from the script");
    let matching = theirs["matching"].as_object().expect("a matching");
    let mut differences = Vec::new();
    for (u, unit) in inst.units.iter().enumerate() {
        let mine = ours.station[u].map(|s| hospital(s, unit.children[0]));
        let other = matching
            .get(&format!("r{u}"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if mine != other {
            differences.push((u, mine, other));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} assignments differ, e.g. {:?}",
        differences.len(),
        inst.units.len(),
        &differences[..differences.len().min(5)]
    );
    let their_seconds = theirs["seconds"].as_f64().unwrap_or(0.0);
    println!(
        "{} applicants: ours {:.4}s, matching {:.3}s, ratio {:.0}×",
        inst.units.len(),
        our_seconds,
        their_seconds,
        their_seconds / our_seconds.max(1e-9)
    );
}
