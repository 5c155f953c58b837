use super::*;

const FIXTURE: &str = include_str!("fixture.toml");

fn known() -> Known {
    Known {
        roles: ["clerk", "head"].map(String::from).into(),
        hooks: ["test.finish"].map(String::from).into(),
        departments: None,
    }
}

fn fixture() -> Definition {
    Definition::parse_toml(FIXTURE).expect("fixture parses")
}

/// Validates after editing the fixture's TOML text, returning (path, code) pairs.
fn problems_after(edit: impl FnOnce(&mut toml::Table)) -> Vec<(String, &'static str)> {
    let mut t: toml::Table = toml::from_str(FIXTURE).unwrap();
    edit(&mut t);
    let d = match Definition::parse_toml(&toml::to_string(&t).unwrap()) {
        Ok(d) => d,
        Err(e) => return e.into_iter().map(|e| (e.field, e.code)).collect(),
    };
    match d.validate(&known()) {
        Ok(()) => vec![],
        Err(e) => e.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn step_mut<'a>(t: &'a mut toml::Table, id: &str) -> &'a mut toml::Table {
    t["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|s| s.as_table_mut().unwrap())
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap()
}

#[test]
fn the_fixture_is_valid_and_uses_every_element_type() {
    let d = fixture();
    d.validate(&known()).unwrap();
    let kinds: BTreeSet<_> = d.steps.iter().map(Step::kind).collect();
    assert_eq!(
        kinds,
        [
            "compute", "end", "gateway", "hook", "notify", "protocol", "task", "wait"
        ]
        .into()
    );
    assert_eq!(d.start(), "register");
}

#[test]
fn unknown_targets_roles_forms_and_hooks_are_reported_with_their_path() {
    let p = problems_after(|t| {
        let review = step_mut(t, "review");
        review["outcomes"].as_array_mut().unwrap()[0]
            .as_table_mut()
            .unwrap()
            .insert("next".into(), "rout".into());
        review.insert("roles".into(), toml::Value::Array(vec!["clerck".into()]));
        review.insert("form".into(), "reviews".into());
        step_mut(t, "finish").insert("hook".into(), "test.nope".into());
    });
    assert!(
        p.contains(&("steps[review].outcomes[accept].next".into(), "unknown-step")),
        "{p:?}"
    );
    assert!(
        p.contains(&("steps[review].roles".into(), "role-unknown")),
        "{p:?}"
    );
    assert!(
        p.contains(&("steps[review].form".into(), "form-unknown")),
        "{p:?}"
    );
    assert!(
        p.contains(&("steps[finish].hook".into(), "hook-unknown")),
        "{p:?}"
    );
}

#[test]
fn unreachable_steps_and_dead_ends_are_refused() {
    let p = problems_after(|t| {
        let steps = t["steps"].as_array_mut().unwrap();
        // A step nothing leads to, and a task that can only loop back to itself.
        steps.push(toml::Value::Table(
            toml::from_str(
                r#"kind = "notify"
id = "orphan"
event = "x"
next = "approved""#,
            )
            .unwrap(),
        ));
        let review = step_mut(t, "review");
        for o in review["outcomes"].as_array_mut().unwrap() {
            o.as_table_mut()
                .unwrap()
                .insert("next".into(), "review".into());
        }
    });
    assert!(
        p.contains(&("steps[orphan]".into(), "unreachable")),
        "{p:?}"
    );
    assert!(p.contains(&("steps[review]".into(), "dead-end")), "{p:?}");
    assert!(p.contains(&("steps[register]".into(), "dead-end")), "{p:?}");
}

#[test]
fn loops_without_a_person_are_refused() {
    let p = problems_after(|t| {
        step_mut(t, "announce").insert("next".into(), "mark".into());
        // keep "finish" reachable from elsewhere so only the loop is wrong
    });
    assert!(
        p.contains(&("steps[mark]".into(), "automated-loop")),
        "{p:?}"
    );
}

#[test]
fn a_rejection_needs_a_public_reasoning() {
    let p = problems_after(|t| {
        let review = step_mut(t, "review");
        review["outcomes"].as_array_mut().unwrap()[2]
            .as_table_mut()
            .unwrap()
            .insert("comment_public".into(), false.into());
    });
    assert_eq!(
        p,
        vec![(
            "steps[review].outcomes[reject]".into(),
            "reasoning-required"
        )]
    );
}

#[test]
fn gateways_may_only_test_declared_fields() {
    let p = problems_after(|t| {
        t.insert("data".into(), toml::Value::Array(vec![]));
    });
    assert_eq!(
        p,
        vec![("steps[route].branches[0].field".into(), "field-unknown")]
    );
}

#[test]
fn syntax_and_shape_errors_name_the_line() {
    let e = Definition::parse_toml("process = \"a.b\"\nversion = \"one\"\n").unwrap_err();
    assert_eq!(e[0].code, "definition-syntax");
    assert_eq!(e[0].field, "line 2");
    let e = Definition::parse_toml(&FIXTURE.replace("kind = \"wait\"", "kind = \"sleep\""))
        .unwrap_err();
    assert_eq!(e[0].code, "definition-syntax");
}

#[test]
fn escalation_needs_a_due_date_and_reminders_come_before_it() {
    let p = problems_after(|t| {
        let review = step_mut(t, "review");
        review.remove("due_days");
    });
    assert!(
        p.contains(&("steps[review].escalate".into(), "due-required")),
        "{p:?}"
    );
    assert!(
        p.contains(&("steps[review].remind_days_before".into(), "invalid")),
        "{p:?}"
    );
}

#[test]
fn overrides_change_deadlines_departments_and_documents() {
    let d = fixture();
    let o = Overrides {
        lead_time_days: Some(30),
        retention_years: Some(10),
        documents: Some(vec![]),
        steps: [
            (
                "review".to_owned(),
                StepOverride {
                    due_days: Some(3),
                    departments: Some(vec!["technical".into()]),
                    ..Default::default()
                },
            ),
            (
                "wait-info".to_owned(),
                StepOverride {
                    deadline_days: Some(15),
                    ..Default::default()
                },
            ),
        ]
        .into(),
    };
    let e = d.with_overrides(&o).unwrap();
    let Some(Step::Task(t)) = e.step("review") else {
        panic!()
    };
    assert_eq!(
        (t.due_days, t.departments.clone()),
        (Some(3), vec!["technical".to_owned()])
    );
    let Some(Step::Wait(w)) = e.step("wait-info") else {
        panic!()
    };
    assert_eq!(w.deadline_days, 15);
    assert_eq!(e.lead_time_days, 30);
    assert_eq!(e.retention_years, 10);
    assert_eq!(
        d.retention_years, 5,
        "the default when a module says nothing"
    );
    assert!(e.documents.is_empty());
    // Departments are checked against the municipality's own.
    let mut k = known();
    k.departments = Some(["cleaning".to_owned()].into());
    let errs = e.validate(&k).unwrap_err();
    assert_eq!(errs[0].field, "steps[review].departments");
    assert_eq!(errs[0].code, "department-unknown");
    k.departments = Some(["technical".to_owned()].into());
    e.validate(&k).unwrap();
}

#[test]
fn skipping_an_optional_step_reroutes_around_it() {
    let d = fixture();
    let mut o = Overrides::default();
    o.steps.insert(
        "approve".into(),
        StepOverride {
            skip: Some(true),
            ..Default::default()
        },
    );
    let e = d.with_overrides(&o).unwrap();
    assert!(e.step("approve").is_none());
    let Some(Step::Gateway(g)) = e.step("route") else {
        panic!()
    };
    assert_eq!(g.default, "mark");
    e.validate(&known()).unwrap();

    // A required step cannot be skipped, and overrides must fit the step.
    o.steps.insert(
        "review".into(),
        StepOverride {
            skip: Some(true),
            ..Default::default()
        },
    );
    o.steps.insert(
        "route".into(),
        StepOverride {
            due_days: Some(1),
            ..Default::default()
        },
    );
    o.steps.insert("nope".into(), StepOverride::default());
    let errs: Vec<_> = d
        .with_overrides(&o)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect();
    assert_eq!(
        errs,
        vec![
            ("steps[nope]".into(), "unknown-step"),
            ("steps[review].skip".into(), "not-optional"),
            ("steps[route]".into(), "not-applicable"),
        ]
    );
}

#[test]
fn a_module_s_page_for_the_applicant_is_a_local_path() {
    let page = |path: &str| {
        let path = path.to_owned();
        problems_after(move |t| {
            t.insert(
                "citizen_page".into(),
                toml::Value::Table(
                    toml::from_str(&format!(
                        "path = {path:?}\nlabel = {{ el = \"Η αίτηση\", en = \"The application\" }}"
                    ))
                    .unwrap(),
                ),
            );
        })
    };
    assert_eq!(page("/test/applications/{case}"), vec![]);
    assert_eq!(
        page("https://elsewhere.example/{case}"),
        vec![("citizen_page.path".to_owned(), "invalid")]
    );
    assert_eq!(
        page("//elsewhere.example/{case}"),
        vec![("citizen_page.path".to_owned(), "invalid")]
    );
}
