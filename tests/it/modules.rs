use dimos_it::{Backend, TestApp, on_both_backends, tenant_body};
use serde_json::{Value, json};

on_both_backends!(
    module_routes_exist_only_for_tenants_that_enabled_them,
    module_data_never_crosses_tenants,
    module_configuration_is_validated_against_its_schema,
);

async fn module_routes_exist_only_for_tenants_that_enabled_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    app.create_tenant(tenant_body("beta", "Βήτα")).await;
    app.enable_module(
        "alpha",
        "example",
        json!({"greeting": "Γεια σας από τον Άλφα"}),
    )
    .await;

    let on = app.get("alpha.localhost", "/example").send().await.unwrap();
    assert_eq!(on.status(), 200);
    assert!(on.text().await.unwrap().contains("Γεια σας από τον Άλφα"));
    let off = app.get("beta.localhost", "/example").send().await.unwrap();
    assert_eq!(off.status(), 404);
    assert!(off.text().await.unwrap().contains("Η σελίδα δεν βρέθηκε"));
    assert_eq!(
        app.get("beta.localhost", "/example/notices")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The home page lists the service only where it is enabled.
    let home_a = app
        .get("alpha.localhost", "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let home_b = app
        .get("beta.localhost", "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home_a.contains("Πίνακας ανακοινώσεων"));
    assert!(!home_b.contains("Πίνακας ανακοινώσεων"));

    // Disabled again (kept configured): 404 again.
    app.enable_module("alpha", "example", json!({"enabled": false}))
        .await;
    assert_eq!(
        app.get("alpha.localhost", "/example")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn module_data_never_crosses_tenants(b: Backend) {
    let app = TestApp::spawn(b).await;
    dimos_it::tenant_with_staff(&app, "alpha", "Άλφα").await;
    app.create_tenant(tenant_body("beta", "Βήτα")).await;
    for slug in ["alpha", "beta"] {
        app.enable_module(slug, "example", json!({})).await;
    }
    let cookie_of = |who: &'static str| {
        let app = &app;
        async move {
            let mut b = dimos_it::Browser::new(app);
            b.sign_in("alpha.localhost", who, "/").await;
            b.cookie_header("alpha.localhost").unwrap()
        }
    };
    let admin = cookie_of("municipal-admin").await;
    let post = |cookie: Option<String>, body: Value| {
        let mut req = app.post("alpha.localhost", "/example/notices").json(&body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap() }
    };
    let notice = json!({"title": "Διακοπή νερού την Τρίτη"});
    // Publishing takes the permission: not anonymous, not a citizen.
    assert_eq!(post(None, notice.clone()).await.status(), 303);
    let citizen = cookie_of("citizen").await;
    assert_eq!(post(Some(citizen), notice.clone()).await.status(), 403);
    let res = post(Some(admin.clone()), notice).await;
    assert_eq!(res.status(), 201);
    let notice: Value = res.json().await.unwrap();
    let id = notice["id"].as_str().unwrap();

    let mine: Value = app
        .get("alpha.localhost", "/example/notices")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let theirs: Value = app
        .get("beta.localhost", "/example/notices")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs.as_array().unwrap().is_empty());

    assert_eq!(
        app.get("alpha.localhost", &format!("/example/notices/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let other = app
        .get("beta.localhost", &format!("/example/notices/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        404,
        "another tenant's record is not found, never shown"
    );

    // Bad input is a 4xx with the field, never a 500.
    let res = post(Some(admin.clone()), json!({"title": ""})).await;
    assert_eq!(res.status(), 422);
    let res = post(Some(admin), json!({"headline": "x"})).await;
    assert_eq!(res.status(), 422);
    let res = app
        .get("alpha.localhost", "/example/notices/not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

async fn module_configuration_is_validated_against_its_schema(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let res = app
        .put("admin.localhost", "/api/v1/tenants/alpha/modules/example")
        .json(&json!({"max_notices": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "modules.example.max_notices");
    let res = app
        .put("admin.localhost", "/api/v1/tenants/alpha/modules/example")
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .put("admin.localhost", "/api/v1/tenants/alpha/modules/teleport")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // Defaults are filled in and visible through the API.
    app.enable_module("alpha", "example", json!({})).await;
    let t: Value = app
        .get("admin.localhost", "/api/v1/tenants/alpha")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["modules"]["example"],
        json!({"enabled": true, "greeting": "Καλώς ήρθατε", "max_notices": 50})
    );
    let m: Value = app
        .get("admin.localhost", "/api/v1/modules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["modules"][0]["id"], "example");
    assert_eq!(
        m["modules"][0]["config_schema"]["properties"]["max_notices"]["type"],
        "integer"
    );
}

#[test]
fn module_translations_are_complete() {
    let modules = dimos_web::module::Modules::new(dimos_it::Options::default().modules).unwrap();
    let t = dimos_web::ui::build_translator(&modules).unwrap();
    assert_eq!(t.missing_keys(), vec![]);
}

dimos_it::on_both_backends!(every_tenant_owned_table_is_declared_and_keyed_by_tenant);

/// Issue 15: the platform and every module declare their tenant-owned
/// tables; start-up (run by every test) refuses an undeclared one and a
/// declared one keyed otherwise. Here the check is shown a rogue table.
async fn every_tenant_owned_table_is_declared_and_keyed_by_tenant(b: Backend) {
    use dimos_db::migrate::{MigrationSet, TenantTable, check_tenant_tables};
    let app = TestApp::spawn(b).await;
    let db = app.db().await;
    let mut sets = app.state.modules().migration_sets();
    assert_eq!(
        check_tenant_tables(&db, &sets).await.unwrap(),
        Vec::<String>::new()
    );
    let declared: usize = sets.iter().map(|s| s.tenant_tables.len()).sum();
    assert!(declared >= 30, "{declared}");

    // Someone adds a table by hand, keyed by id first.
    app.raw_sql(
        "CREATE TABLE rogue (tenant_id TEXT NOT NULL, id TEXT NOT NULL, \
         PRIMARY KEY (id, tenant_id))",
    )
    .await;
    let problems = check_tenant_tables(&db, &sets).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("rogue") && problems[0].contains("declares"));

    sets.push(MigrationSet {
        component: "rogue-module",
        migrations: &[],
        tenant_tables: {
            const ROGUE: &[TenantTable] = &[
                TenantTable::municipal("rogue"),
                TenantTable::municipal("rogue_lines"),
            ];
            ROGUE
        },
        global_tables: &[],
    });
    app.raw_sql(
        "CREATE TABLE rogue_lines (tenant_id TEXT NOT NULL, id TEXT NOT NULL, rogue TEXT NOT NULL, \
         PRIMARY KEY (tenant_id, id))",
    )
    .await;
    let problems = check_tenant_tables(&db, &sets).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("primary key (id, tenant_id) must start with tenant_id"),
        "{problems:?}"
    );

    // What would stop the schema being spread by tenant (Citus): a unique
    // key across tenants, and a reference from one tenant's row to a row
    // found without the tenant.
    app.raw_sql("CREATE UNIQUE INDEX rogue_lines_rogue ON rogue_lines (rogue)")
        .await;
    app.raw_sql(
        "CREATE TABLE rogue_links (tenant_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL \
         REFERENCES rogue_lines (rogue), PRIMARY KEY (tenant_id, id))",
    )
    .await;
    app.raw_sql("CREATE TABLE rogue_global (id TEXT PRIMARY KEY)")
        .await;
    let mut problems = check_tenant_tables(&db, &sets).await.unwrap();
    problems.sort();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has(
            "table rogue_global has no tenant_id column and is not one of the platform's global tables"
        ),
        "{problems:#?}"
    );
    assert!(has(
        "table rogue_links has a tenant_id column but no component declares it"
    ));
    assert!(
        has("unique index rogue_lines_rogue (rogue) must include tenant_id"),
        "{problems:#?}"
    );

    sets.push(MigrationSet {
        component: "rogue-module-2",
        migrations: &[],
        tenant_tables: {
            const LINKS: &[TenantTable] = &[TenantTable::municipal("rogue_links")];
            LINKS
        },
        global_tables: &[],
    });
    let problems = check_tenant_tables(&db, &sets).await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("rogue_links")
            && p.contains("foreign key (line) to rogue_lines must stay within a tenant")),
        "{problems:#?}"
    );

    // Personal data that does not say whom it is about (so a citizen's
    // download and retention would miss it), and a link to a table that
    // is not about a person.
    app.raw_sql(
        "CREATE TABLE rogue_people (tenant_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL, \
         PRIMARY KEY (tenant_id, id))",
    )
    .await;
    app.raw_sql(
        "CREATE TABLE rogue_notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, line TEXT NOT NULL, \
         PRIMARY KEY (tenant_id, id))",
    )
    .await;
    sets.push(MigrationSet {
        component: "rogue-module-3",
        migrations: &[],
        tenant_tables: {
            const PEOPLE: &[TenantTable] = &[
                TenantTable::personal("rogue_people"),
                TenantTable::personal("rogue_notes")
                    .about(&[dimos_db::migrate::row_of("line", "rogue_lines")]),
            ];
            PEOPLE
        },
        global_tables: &[],
    });
    let problems = check_tenant_tables(&db, &sets).await.unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("rogue_people holds personal data: say whom")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p
                .contains("rogue_notes.line leads to rogue_lines, which is not about a person")),
        "{problems:#?}"
    );
}

/// What an expand/contract migration may not do in its expand step: each
/// pattern breaks a replica of the previous release still running during a
/// rolling upgrade (it reads the dropped column, or inserts without the new
/// required one).
const BREAKS_THE_PREVIOUS_RELEASE: &[(&str, Option<&str>, &str)] = &[
    (r"\bdrop\s+table\b", None, "drops a table"),
    (r"\bdrop\s+column\b", None, "drops a column"),
    (r"\brename\b", None, "renames"),
    (
        r"\balter\s+column\s+\S+\s+(set\s+data\s+)?type\b",
        None,
        "changes a column's type",
    ),
    (r"\bset\s+not\s+null\b", None, "makes a column required"),
    (
        r"\badd\s+(column\s+)?\S+\s.*\bnot\s+null\b",
        Some("default"),
        "adds a required column without a default",
    ),
];

/// Applied before the rule, each moving settings to the platform's store in
/// one step (the replicas of the time were stopped for it).
const BEFORE_THE_RULE: &[(&str, i64)] = &[("parking", 3), ("nurseries", 6)];

/// Issue 17: migrations expand; a contract step (dropping what the previous
/// release no longer reads) says so on its first line, `-- contract: …`,
/// and ships a release after the one that stopped reading it
/// (`docs/operator-guide.md`, Upgrades).
#[test]
fn migrations_expand_and_contract_steps_say_so() {
    let patterns: Vec<(regex::Regex, Option<&str>, &str)> = BREAKS_THE_PREVIOUS_RELEASE
        .iter()
        .map(|(p, unless, why)| (regex::Regex::new(p).unwrap(), *unless, *why))
        .collect();
    let check = |sql: &str| -> Vec<&str> {
        let code: String = sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        // Clause by clause: `ALTER TABLE t ADD a …, ADD b …`.
        code.split([';', ','])
            .flat_map(|clause| {
                let one_line = clause.split_whitespace().collect::<Vec<_>>().join(" ");
                patterns
                    .iter()
                    .filter(move |(p, unless, _)| {
                        p.is_match(&one_line) && !unless.is_some_and(|u| one_line.contains(u))
                    })
                    .map(|(_, _, why)| *why)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // The check itself.
    assert_eq!(
        check("ALTER TABLE a DROP COLUMN b;"),
        vec!["drops a column"]
    );
    assert_eq!(check("ALTER TABLE a RENAME COLUMN b TO c"), vec!["renames"]);
    assert_eq!(
        check("ALTER TABLE a ADD COLUMN b TEXT NOT NULL"),
        vec!["adds a required column without a default"]
    );
    assert!(check("ALTER TABLE a ADD COLUMN b TEXT NOT NULL DEFAULT ''").is_empty());
    assert_eq!(
        check("ALTER TABLE a ADD b INT NOT NULL DEFAULT 0, ADD c INT NOT NULL"),
        vec!["adds a required column without a default"]
    );
    assert!(check("CREATE TABLE t (a TEXT NOT NULL, b INT NOT NULL)").is_empty());
    assert!(check("-- DROP TABLE x\nCREATE INDEX i ON t (a)").is_empty());

    let modules = dimos_web::module::Modules::new(dimos_it::Options::default().modules).unwrap();
    let mut problems = vec![];
    for set in modules.migration_sets() {
        for m in set.migrations {
            let grandfathered = BEFORE_THE_RULE.contains(&(set.component, m.version));
            for (dialect, sql) in [("postgres", m.postgres), ("sqlite", m.sqlite)] {
                let contract = sql.trim_start().starts_with("-- contract:");
                for why in check(sql) {
                    if !contract && !grandfathered {
                        problems.push(format!(
                            "{} {} ({}, {dialect}) {why}: only a contract step may, marked `-- contract: …` on its first line",
                            set.component, m.version, m.name
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

/// Issue 17: the distribution statements follow the declarations, so
/// `docs/scaling.md` cannot drift from the schema: the registry is copied,
/// every tenant-owned table spread by tenant and colocated, sessions spread
/// by id.
#[test]
fn the_citus_ddl_spreads_every_declared_table() {
    // The modules the `dimos` binary ships (the tests' example module aside).
    let modules = dimos_web::module::Modules::new(dimos_server::modules()).unwrap();
    let sets = modules.migration_sets();
    let ddl = dimos_db::migrate::citus_ddl(&sets);
    assert!(ddl.contains("SELECT create_reference_table('tenants');"));
    assert!(ddl.contains("SELECT create_reference_table('tenant_domains');"));
    assert!(
        ddl.find("('tenants')").unwrap() < ddl.find("('tenant_domains')").unwrap(),
        "what a reference table points at is made one first"
    );
    assert!(
        ddl.contains("SELECT create_distributed_table('module_settings', 'tenant_id');"),
        "{ddl}"
    );
    assert!(ddl.contains(
        "SELECT create_distributed_table('cases', 'tenant_id', colocate_with => 'module_settings');"
    ));
    assert!(ddl.contains(
        "SELECT create_distributed_table('nursery_applications', 'tenant_id', colocate_with => 'module_settings');"
    ));
    assert!(
        ddl.contains("SELECT create_distributed_table('sessions', 'id', colocate_with => 'none');")
    );
    for set in &sets {
        for t in set.tenant_tables {
            assert_eq!(
                ddl.matches(&format!("('{}'", t.name)).count(),
                1,
                "{}",
                t.name
            );
        }
    }
    // The documented DDL is this one.
    let doc = std::fs::read_to_string(dimos_it::workspace_root().join("docs/scaling.md")).unwrap();
    assert!(
        doc.contains(&ddl),
        "docs/scaling.md must hold `dimos schema citus`'s output:\n{ddl}"
    );
}

/// `module_files!()` gathers each module's folder by its conventions: the
/// id from the package name, migrations numbered from 1 without gaps with
/// both dialects, both languages, templates in the module's namespace,
/// workflows named by their file; what the folder holds, the descriptor
/// holds.
#[test]
fn module_files_gathers_each_modules_folder() {
    let root = dimos_it::workspace_root().join("modules");
    for m in dimos_it::Options::default().modules {
        let dir = root.join(m.id);
        let count = |sub: &str, ext: &str| {
            walk(&dir.join(sub))
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .count()
        };
        let versions: Vec<i64> = m.migrations.iter().map(|x| x.version).collect();
        assert_eq!(
            versions,
            (1..=i64::try_from(versions.len()).unwrap()).collect::<Vec<_>>(),
            "{}",
            m.id
        );
        assert_eq!(m.migrations.len(), count("migrations/postgres", "sql"));
        assert!(
            m.migrations
                .iter()
                .all(|x| !x.postgres.is_empty() && !x.sqlite.is_empty())
        );
        assert_eq!(m.translations.len(), count("locales", "ftl"), "{}", m.id);
        for l in [dimos_kernel::Locale::El, dimos_kernel::Locale::En] {
            assert!(
                m.translations.iter().any(|t| t.locale == l),
                "{} {l:?}",
                m.id
            );
        }
        assert_eq!(m.templates.len(), count("templates", "html"), "{}", m.id);
        assert!(
            m.templates
                .iter()
                .all(|(n, s)| n.starts_with(&format!("{}/", m.id)) && !s.is_empty())
        );
        assert_eq!(m.workflows.len(), count("workflows", "toml"), "{}", m.id);
        for w in m.workflows {
            assert!(
                dir.join(format!("workflows/{}.toml", w.id)).is_file(),
                "{}",
                w.id
            );
        }
        assert_eq!(m.name_key, format!("{}-name", m.id));
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
