//! The `dimos` command line.

// Platform commands work over every tenant: the sanctioned place for a
// tenant's handle made from the registry (clippy.toml).
#![allow(clippy::disallowed_methods)]

use crate::{Application, connect_and_migrate, modules};
use anyhow::Context;
use clap::{Parser, Subcommand};
use dimos_kernel::config::{Config, DEFAULT_TOML, redact_url};
use dimos_kernel::{Locale, Translator};
use dimos_tenancy::file::{FileError, load_path};
use dimos_tenancy::store::ApplyMode;
use dimos_tenancy::{ApplyOutcome, TenantStore, ValidationContext};
use dimos_web::module::Modules;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "dimos",
    version,
    about = "Digital services for every municipality, one deployment."
)]
struct Cli {
    /// Configuration file (default: ./dimos.toml if present). Also DIMOS_CONFIG.
    #[arg(long, global = true, env = "DIMOS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (municipalities) from files.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the public API's OpenAPI document (docs/api/openapi.json is
    /// this output); with --check FILE, exit 1 when FILE differs from it.
    Openapi {
        #[arg(long)]
        check: Option<PathBuf>,
    },
    /// The tenants' audit trails.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The database schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// API tokens for the operator's automation (the tenants API).
    #[command(subcommand)]
    OperatorTokens(TokensCommand),
    /// Back up a SQLite deployment (database copy taken while it runs, its
    /// objects, a manifest) into an empty folder. PostgreSQL: pg_basebackup.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a scratch database and check it: row counts,
    /// objects, every audit chain against the published heads. Either a
    /// folder from `dimos backup`, or a restored PostgreSQL database.
    VerifyBackup {
        /// A folder written by `dimos backup`.
        dir: Option<PathBuf>,
        /// A database restored from pg_basebackup (never the live one's URL
        /// by mistake: it is only read).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Exit 0 when the replica of this configuration is ready (its
    /// `/readyz` answers 200), 1 otherwise: for container health checks.
    Healthcheck,
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    /// Print the statements that spread the schema over a Citus cluster
    /// (docs/scaling.md), from the platform's and the modules' declarations.
    Citus,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute the hash chain of one tenant's audit trail (or all) and
    /// check it against the published heads; exit 1 if any is broken, cut
    /// or rewritten.
    Verify { slug: Option<String> },
    /// Publish every trail's current head now (replicas do it hourly).
    Publish,
}

#[derive(Subcommand, Debug)]
enum TenantsCommand {
    /// Create or update tenants from a file or a folder of `<slug>.toml` files.
    Apply {
        path: PathBuf,
        /// Validate and report, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the tenants in the database.
    List,
    /// Print this deployment's transfer key: what another deployment's
    /// `export --to` seals a municipality's signing keys for.
    TransferKey,
    /// Write one municipality (rows, objects, signing keys, manifest) to
    /// an archive for the deployment whose transfer key is `--to`.
    Export {
        slug: String,
        /// The target deployment's transfer key (`dimos tenants transfer-key` there).
        #[arg(long)]
        to: String,
        /// The archive to write (default: <slug>.dimos-tenant.tar.gz).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load a municipality from an archive made for this deployment.
    Import { archive: PathBuf },
    /// Delete a municipality suspended for `tenancy.delete_after_days`:
    /// its final archive is written first (import brings it back); the
    /// operator's history of it stays.
    Delete {
        slug: String,
        /// Where the final archive goes.
        #[arg(long)]
        archive: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TokensCommand {
    /// Make a token; it is printed once, only a hash of it is kept.
    Create {
        #[arg(long)]
        name: String,
        /// tenants:read, tenants:write (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it expires (at most 365).
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke { id: uuid::Uuid },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the full default configuration, commented.
    Default,
}

fn openapi(check: Option<&std::path::Path>) -> ExitCode {
    let modules = match Modules::new(modules()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dimos: {e}");
            return ExitCode::FAILURE;
        }
    };
    let generated = match dimos_pages::api::document_json(&modules) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dimos: the OpenAPI document: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(path) = check else {
        print!("{generated}");
        return ExitCode::SUCCESS;
    };
    match std::fs::read_to_string(path) {
        Ok(committed) if committed == generated => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!(
                "dimos: {} is not the API's document: `dimos openapi > {}` and review the change",
                path.display(),
                path.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("dimos: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Config(ConfigCommand::Default)) = &cli.command {
        print!("{DEFAULT_TOML}");
        return ExitCode::SUCCESS;
    }
    // Needs no configuration: it describes the code.
    if let Some(Command::Openapi { check }) = &cli.command {
        return openapi(check.as_deref());
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dimos: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dimos: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Traces are the server's; a one-off command only logs.
    let mut logged = config.clone();
    if !matches!(command, Command::Serve) {
        logged.telemetry.otlp_endpoint = None;
    }
    let telemetry = match crate::telemetry::init(&logged, runtime.handle().clone()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dimos: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(run(command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dimos: {e:#}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve(config).await,
        Command::Healthcheck => {
            let mut addr = config.listen;
            // Listening on every address: ask on this machine's own.
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let url = format!("http://{addr}/readyz");
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?;
            match client.get(&url).send().await {
                Ok(res) if res.status() == reqwest::StatusCode::OK => Ok(ExitCode::SUCCESS),
                Ok(res) => {
                    let status = res.status();
                    let body = match res.text().await {
                        Ok(b) => b,
                        Err(e) => format!("(the answer could not be read: {e})"),
                    };
                    eprintln!("{url}: {status} {}", body.trim());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    eprintln!("{url}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Schema(SchemaCommand::Citus) => {
            let modules = Modules::new(modules()).map_err(anyhow::Error::msg)?;
            print!(
                "{}",
                dimos_db::migrate::citus_ddl(&modules.migration_sets())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let modules = Modules::new(modules())
                .map_err(anyhow::Error::msg)?
                .with_providers(dimos_identity::IdentityService::provider_names(&config));
            connect_and_migrate(&config, &modules).await?;
            println!(
                "database is up to date ({})",
                redact_url(config.database_url().expose())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants(TenantsCommand::List) => {
            let modules = Modules::new(modules())
                .map_err(anyhow::Error::msg)?
                .with_providers(dimos_identity::IdentityService::provider_names(&config));
            let db = connect_and_migrate(&config, &modules).await?;
            for t in TenantStore::new(db).list().await? {
                let enabled: Vec<&str> = t
                    .spec
                    .modules
                    .iter()
                    .filter(|(_, m)| m.enabled)
                    .map(|(id, _)| id.as_str())
                    .collect();
                println!(
                    "{:<24} {:<10} {:<36} {}",
                    t.slug(),
                    t.spec.status.as_str(),
                    t.canonical_host(&config.base_domain),
                    enabled.join(",")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants(TenantsCommand::Apply { path, dry_run }) => {
            let modules = Modules::new(modules())
                .map_err(anyhow::Error::msg)?
                .with_providers(dimos_identity::IdentityService::provider_names(&config));
            let translator =
                dimos_web::ui::build_translator(&modules).map_err(anyhow::Error::msg)?;
            let ctx = ValidationContext {
                catalog: &modules,
                base_domain: &config.base_domain,
                file_dir: None,
            };
            if dry_run {
                return match load_path(&path, &ctx) {
                    Ok(files) => {
                        for f in files {
                            println!("{}: valid", f.path.display());
                        }
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(errors) => {
                        print_file_errors(&errors, &translator);
                        Ok(ExitCode::FAILURE)
                    }
                };
            }
            let db = connect_and_migrate(&config, &modules).await?;
            let catalog = std::sync::Arc::new(
                dimos_web::access::build_catalog(&modules).map_err(anyhow::Error::msg)?,
            );
            let access = dimos_identity::access::Access::load(db.clone(), catalog).await?;
            match apply_tenant_files(
                &TenantStore::new(db),
                &access,
                &path,
                &ctx,
                &translator,
                "dimos tenants apply",
            )
            .await
            {
                Ok(report) => {
                    for line in report {
                        println!("{line}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    eprintln!("nothing was changed");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Config(ConfigCommand::Default) => {
            print!("{DEFAULT_TOML}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi { check } => Ok(openapi(check.as_deref())),
        Command::OperatorTokens(cmd) => {
            use dimos_identity::operator_tokens::{self, Scope};
            let modules = Modules::new(modules()).map_err(anyhow::Error::msg)?;
            let db = connect_and_migrate(&config, &modules).await?;
            let now = dimos_kernel::clock::wall_now();
            let actor = "dimos operator-tokens";
            match cmd {
                TokensCommand::Create { name, scopes, days } => {
                    if !(1..=365).contains(&days) {
                        anyhow::bail!("--days must be between 1 and 365");
                    }
                    let scopes = scopes
                        .iter()
                        .map(|s| {
                            Scope::parse(s).ok_or_else(|| {
                                anyhow::anyhow!(
                                    "unknown scope {s:?}: tenants:read or tenants:write"
                                )
                            })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let expires = now + chrono::Duration::days(days.into());
                    let (token, info) =
                        operator_tokens::create(&db, &name, &scopes, expires, actor, now).await?;
                    db.execute(&dimos_tenancy::store::operator_entry(
                        actor,
                        "operator_token.created",
                        "*",
                        serde_json::json!({"id": info.id, "name": info.name, "scopes": info.scopes, "expires_at": info.expires_at}),
                        now,
                    ))
                    .await?;
                    println!("{token}");
                    eprintln!(
                        "token {} ({}) expires {}; it is shown this once",
                        info.id,
                        info.name,
                        info.expires_at.format("%F")
                    );
                }
                TokensCommand::List => {
                    for t in operator_tokens::list(&db).await? {
                        let state = if t.revoked_at.is_some() {
                            "revoked"
                        } else if t.expires_at <= now {
                            "expired"
                        } else {
                            "active"
                        };
                        println!(
                            "{} {:<20} {:<8} {:<28} expires {} last used {}",
                            t.id,
                            t.name,
                            state,
                            t.scopes.join(","),
                            t.expires_at.format("%F"),
                            t.last_used_at
                                .map_or("never".into(), |u| u.format("%F %R").to_string())
                        );
                    }
                }
                TokensCommand::Revoke { id } => {
                    if !operator_tokens::revoke(&db, id, actor, now).await? {
                        eprintln!("no active token {id}");
                        return Ok(ExitCode::FAILURE);
                    }
                    db.execute(&dimos_tenancy::store::operator_entry(
                        actor,
                        "operator_token.revoked",
                        "*",
                        serde_json::json!({"id": id}),
                        now,
                    ))
                    .await?;
                    println!("token {id} revoked");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            let (store, objects, _) = audit_parts(&config).await?;
            let m = crate::backup::backup(store.db(), objects.as_ref(), &out).await?;
            println!(
                "backup in {}: {} rows in {} tables, {} objects, {} municipalities",
                out.display(),
                m.rows.values().sum::<i64>(),
                m.rows.len(),
                m.objects.len(),
                m.audit_heads.len()
            );
            eprintln!(
                "the deployment key is not in the backup: keep {} (or signing.key) apart from it",
                config.signing_key_file().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::VerifyBackup { dir, database_url } => {
            let (_, objects, signing) = audit_parts(&config).await?;
            let report = match (dir, database_url) {
                (Some(dir), None) => crate::backup::verify_folder(&dir, &signing).await?,
                (None, Some(url)) => {
                    println!(
                        "no manifest for a restored database: counts and objects are not compared, the audit chains are"
                    );
                    let db = dimos_db::Db::connect(&url, &Default::default()).await?;
                    crate::backup::verify_database(&db, objects.as_ref(), &signing, None).await?
                }
                _ => anyhow::bail!("give either a backup folder or --database-url"),
            };
            println!(
                "{} tables, {} rows, {} municipalities, {} audit entries, {} objects checked",
                report.tables,
                report.rows,
                report.municipalities,
                report.audit_entries,
                report.objects
            );
            for p in &report.problems {
                println!("PROBLEM: {p}");
            }
            Ok(if report.problems.is_empty() {
                println!("no problem found");
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tenants(TenantsCommand::TransferKey) => {
            let (_, _, signing) = audit_parts(&config).await?;
            println!("{}", signing.transfer_key()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants(TenantsCommand::Export { slug, to, out }) => {
            let to: dimos_signing::transfer::TransferKey = to.parse()?;
            let (store, objects, signing) = audit_parts(&config).await?;
            let sets = Modules::new(modules())
                .map_err(anyhow::Error::msg)?
                .migration_sets();
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{slug}.dimos-tenant.tar.gz")));
            let dep = crate::transfer::Deployment {
                db: store.db(),
                objects: objects.as_ref(),
                signing: &signing,
                sets: &sets,
            };
            let m = crate::transfer::export(dep, &slug, &to, &out).await?;
            let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
            println!(
                "{}: {rows} rows in {} tables, {} objects, written to {}",
                m.tenant.slug,
                m.tables.len(),
                m.objects.len(),
                out.display()
            );
            if m.unattested_heads > 0 {
                eprintln!(
                    "{} published audit heads failed their attestation and were left out",
                    m.unattested_heads
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants(TenantsCommand::Delete { slug, archive }) => {
            let (store, objects, signing, sets) = transfer_parts(&config).await?;
            let dep = crate::transfer::Deployment {
                db: store.db(),
                objects: objects.as_ref(),
                signing: &signing,
                sets: &sets,
            };
            let retention = chrono::Duration::days(config.tenancy.delete_after_days.into());
            match crate::transfer::offboard(dep, &slug, &archive, retention, "dimos tenants delete")
                .await
            {
                Ok(done) => {
                    println!(
                        "{slug}: {} rows and {} objects deleted; final archive {} (sha256 {})",
                        done.rows,
                        done.manifest.objects.len() - done.objects_left.len(),
                        archive.display(),
                        done.archive_sha256
                    );
                    for key in &done.objects_left {
                        eprintln!("object {key} could not be deleted; remove it by hand");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    eprintln!("nothing was deleted");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Tenants(TenantsCommand::Import { archive }) => {
            let (store, objects, signing, sets) = transfer_parts(&config).await?;
            let dep = crate::transfer::Deployment {
                db: store.db(),
                objects: objects.as_ref(),
                signing: &signing,
                sets: &sets,
            };
            match crate::transfer::import(dep, &archive).await {
                Ok(done) => {
                    println!(
                        "{}: {} rows and {} objects imported",
                        done.manifest.tenant.slug,
                        done.rows,
                        done.manifest.objects.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    eprintln!("nothing was imported");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Audit(AuditCommand::Publish) => {
            let (store, objects, signing) = audit_parts(&config).await?;
            let mut n = 0;
            for t in store.list().await? {
                if dimos_pages::audit_heads::publish_one(
                    objects.as_ref(),
                    &signing,
                    &store.tenant_db(t.id),
                    t.slug(),
                )
                .await?
                {
                    n += 1;
                }
            }
            println!("{n} heads published");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify { slug }) => {
            let (store, objects, signing) = audit_parts(&config).await?;
            let mut tenants = store.list().await?;
            if let Some(s) = &slug {
                tenants.retain(|t| t.slug() == s);
                if tenants.is_empty() {
                    eprintln!("no tenant {s:?}");
                    return Ok(ExitCode::FAILURE);
                }
            }
            let mut intact = true;
            for t in tenants {
                let tdb = store.tenant_db(t.id);
                let report = dimos_identity::AuditLog::verify(&tdb).await?;
                let heads =
                    dimos_pages::audit_heads::check(objects.as_ref(), &signing, &tdb).await?;
                match report.broken_at {
                    None => println!("{}: {} entries, chain intact", t.slug(), report.entries),
                    Some(seq) => {
                        intact = false;
                        println!(
                            "{}: {} entries, chain BROKEN at entry {seq}",
                            t.slug(),
                            report.entries
                        );
                    }
                }
                if heads.ok() {
                    println!("{}: {} published heads agree", t.slug(), heads.heads);
                } else {
                    intact = false;
                    println!(
                        "{}: the trail was CUT or REWRITTEN: it contradicts the heads published at entries {:?}; heads that fail their attestation: {:?}",
                        t.slug(),
                        heads.contradicted,
                        heads.unattested
                    );
                }
            }
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// What moving a municipality needs: the audit commands' parts and every
/// component's migrations and declared tables.
async fn transfer_parts(
    config: &Config,
) -> anyhow::Result<(
    TenantStore,
    std::sync::Arc<dyn dimos_storage::ObjectStore>,
    dimos_signing::service::Signing,
    Vec<dimos_db::migrate::MigrationSet>,
)> {
    let (store, objects, signing) = audit_parts(config).await?;
    let sets = Modules::new(modules())
        .map_err(anyhow::Error::msg)?
        .migration_sets();
    Ok((store, objects, signing, sets))
}

/// What the audit commands need: the tenants, the object store where heads
/// are published, and the deployment key that attests them.
async fn audit_parts(
    config: &Config,
) -> anyhow::Result<(
    TenantStore,
    std::sync::Arc<dyn dimos_storage::ObjectStore>,
    dimos_signing::service::Signing,
)> {
    let modules = Modules::new(modules())
        .map_err(anyhow::Error::msg)?
        .with_providers(dimos_identity::IdentityService::provider_names(config));
    let db = connect_and_migrate(config, &modules).await?;
    let objects = crate::build_object_store(config).await?;
    let signing = dimos_signing::service::Signing::new(
        crate::signing_key(config)?,
        config.signing.certificate_days,
        std::sync::Arc::new(dimos_kernel::SystemClock),
        std::sync::Arc::new(dimos_signing::service::LocalCa),
    );
    Ok((TenantStore::new(db), objects, signing))
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let base = config.base_domain.clone();
    let app = Application::build(config, modules()).await?;
    let cfg = app.state().config();
    let port_origin = |host: &str| cfg.public_origin(host);
    tracing::info!(
        addr = %app.local_addr(),
        database = %redact_url(cfg.database_url().expose()),
        "Dimos is serving: operator console {}/ , municipalities {}/",
        port_origin(&format!("admin.{base}")),
        port_origin(&base),
    );
    for t in app.state().registry().tenants() {
        tracing::info!(
            "  {} → {}/",
            t.name(Locale::El),
            port_origin(&t.canonical_host(&base))
        );
    }
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

fn describe(e: &FileError, translator: &Translator) -> String {
    match &e.field {
        Some(f) => {
            let msg = translator.field_message(Locale::En, f);
            let loc = e.line.map_or(format!("{}", e.file.display()), |l| {
                format!("{}:{l}", e.file.display())
            });
            format!("{loc}: {}: {msg}", f.field)
        }
        None => e.to_string(),
    }
}

fn print_file_errors(errors: &[FileError], translator: &Translator) {
    for e in errors {
        eprintln!("{}", describe(e, translator));
    }
}

/// Validates every file first and applies all of them in one transaction:
/// either every tenant is created/updated, or nothing changes. Returns one
/// report line per tenant and per changed field.
pub async fn apply_tenant_files(
    store: &TenantStore,
    access: &dimos_identity::access::Access,
    path: &Path,
    ctx: &ValidationContext<'_>,
    translator: &Translator,
    actor: &str,
) -> anyhow::Result<Vec<String>> {
    let files = load_path(path, ctx).map_err(|errors| {
        anyhow::anyhow!(
            "invalid tenant file(s):\n{}",
            errors
                .iter()
                .map(|e| describe(e, translator))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let specs: Vec<_> = files.iter().map(|f| f.spec.clone()).collect();
    let outcomes = store
        .apply_all(&specs, actor, ApplyMode::Upsert)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("applying tenant files")?;
    let mut report = vec![];
    for (spec, outcome) in specs.iter().zip(outcomes) {
        match outcome {
            ApplyOutcome::Created => report.push(format!("{}: created", spec.slug)),
            ApplyOutcome::Unchanged => report.push(format!("{}: unchanged", spec.slug)),
            ApplyOutcome::Updated(changes) => {
                report.push(format!("{}: updated", spec.slug));
                report.extend(changes.iter().map(|c| format!("  {c}")));
            }
        }
        if !spec.departments.is_empty() {
            let tenant = store
                .require(spec.slug.as_str())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let db = store.tenant_db(tenant.id);
            let (depts, members) = access
                .ensure_departments(&db, &dimos_web::access::department_rows(&spec.departments))
                .await?;
            if depts + members > 0 {
                report.push(format!(
                    "  departments: {depts} added, {members} members added"
                ));
            }
        }
        if !spec.grants.is_empty() {
            let tenant = store
                .require(spec.slug.as_str())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let db = store.tenant_db(tenant.id);
            let grants: Vec<(String, String)> = spec
                .grants
                .iter()
                .map(|g| {
                    (
                        dimos_identity::access::tax_id_subject(g.tax_id.as_str()),
                        g.role.clone(),
                    )
                })
                .collect();
            let added = access.ensure_grants(&db, &grants, actor).await?;
            if added > 0 {
                report.push(format!("  grants: {added} added"));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["dimos", "tenants", "apply", "tenants", "--dry-run"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Tenants(TenantsCommand::Apply {
                dry_run: true,
                ..
            }))
        ));
        assert!(Cli::try_parse_from(["dimos"]).unwrap().command.is_none());
    }
}
