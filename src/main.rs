use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cppcc_api::config::Config;
use cppcc_api::{Application, db, openapi, telemetry};

/// The HTTP service of the district committees.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Prepare the database and serve the API (the default).
    Serve,
    /// Create the database if needed and apply pending migrations (as the schema's owner).
    Migrate {
        /// Then grant this role what serving takes and no more (the role the service
        /// connects as: it may not change the schema nor rewrite the audit trail).
        #[arg(long, value_name = "ROLE")]
        grant_to: Option<String>,
    },
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Load the demo data of the six Beijing districts (running it again changes nothing).
    SeedDemo,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit trail's signing key.
    AuditKey {
        #[command(subcommand)]
        command: AuditKeyCommand,
    },
}

#[derive(Subcommand)]
enum AuditKeyCommand {
    /// Make a new Ed25519 key (PKCS#8 PEM) for AUDIT_SIGNING_KEY: written to a new file
    /// readable by its owner only, or to stdout.
    Generate {
        /// The file to write; an existing file is never overwritten.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print the id and public key of the key the service signs with (AUDIT_SIGNING_KEY,
    /// or the one it made in DATA_DIR), for auditors to keep.
    Show,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print its token, alone, on stdout.
    Create {
        /// admin, clerk, sync or auditor (a machine key); left out for a personal key.
        #[arg(long, required_unless_present = "account")]
        role: Option<String>,
        /// The id of the account a personal key acts as (with its role and district).
        #[arg(long)]
        account: Option<String>,
        /// Who or what uses it.
        #[arg(long)]
        name: String,
        /// The district's code (clerk and sync keys).
        #[arg(long)]
        district: Option<String>,
        /// Lifetime, in days: `90d`.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List the keys.
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Some(Command::AuditKey {
        command: AuditKeyCommand::Generate { out },
    }) = &cli.command
    {
        return match generate_audit_key(out.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(error.as_ref()),
        };
    }
    if let Some(Command::Openapi) = cli.command {
        return match serde_json::to_string_pretty(&openapi::document()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        };
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    telemetry::init(config.log_format);
    if cppcc_api::db::audit::UNAUDITED {
        tracing::error!(
            "this build (feature bench-unaudited) writes NO audit trail: it exists only to \
             measure what the trail costs; never run it on real data"
        );
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config).await,
        Command::Migrate { grant_to } => migrate(&config, grant_to.as_deref()).await,
        Command::SeedDemo => seed_demo(&config).await,
        Command::Keys { command } => keys(&config, command).await,
        Command::AuditKey { .. } => show_audit_key(&config),
        Command::Openapi => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error.as_ref()),
    }
}

type AnyError = Box<dyn std::error::Error>;

fn generate_audit_key(out: Option<&std::path::Path>) -> Result<(), AnyError> {
    use cppcc_api::audit_key;
    let pem = audit_key::generate()?;
    match out {
        Some(path) => {
            audit_key::write_new(path, &pem)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{pem}"),
    }
    Ok(())
}

fn show_audit_key(config: &Config) -> Result<(), AnyError> {
    let signer = cppcc_api::audit_key::load(config)?;
    println!(
        "{}\t{}",
        signer.id(),
        cppcc_api::domain::checkpoint::public_key_text(&signer.public_key())
    );
    Ok(())
}

async fn serve(config: &Config) -> Result<(), AnyError> {
    use diesel_async::AsyncConnection;
    let app = Application::build(config).await?;
    tracing::info!(
        addr = %config.bind_addr,
        database = %db::redacted_url(&config.database_url),
        "serving"
    );
    // A new service has no key anyone could use: say how to make the first (a database
    // that cannot be asked just now is no reason not to serve).
    if let Ok(mut conn) = diesel_async::AsyncPgConnection::establish(&config.database_url).await
        && let Ok(false) = db::keys::any_usable(&mut conn).await
    {
        tracing::warn!(
            "no API key can be used yet: create the first with \
             `cppcc-api keys create --role admin --name NAME` (it prints the token once)"
        );
    }
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(config: &Config, grant_to: Option<&str>) -> Result<(), AnyError> {
    db::ensure_database(&config.database_url).await?;
    let applied = db::run_migrations(&config.database_url).await?;
    println!("applied {} migration(s)", applied.len());
    if let Some(role) = grant_to {
        db::grant_service_role(&config.database_url, role).await?;
        println!("granted {role} what serving takes");
    }
    Ok(())
}

async fn seed_demo(config: &Config) -> Result<(), AnyError> {
    let mut conn = connect(config).await?;
    let report = cppcc_api::seed::seed_demo(&mut conn).await?;
    println!("{report}");
    Ok(())
}

async fn connect(config: &Config) -> Result<diesel_async::AsyncPgConnection, AnyError> {
    use diesel_async::AsyncConnection;
    db::ensure_database(&config.database_url).await?;
    db::run_migrations(&config.database_url).await?;
    Ok(diesel_async::AsyncPgConnection::establish(&config.database_url).await?)
}

async fn keys(config: &Config, command: KeysCommand) -> Result<(), AnyError> {
    use cppcc_api::api::input::Field;
    use cppcc_api::api::keys::{KeySpec, NewKey, issue, withdraw};
    use cppcc_api::db::audit::Actor;
    use cppcc_api::domain::values::{KeyLifetime, Line};
    let mut conn = connect(config).await?;
    match command {
        KeysCommand::Create {
            role,
            account,
            name,
            district,
            expires_in,
        } => {
            let role = match role {
                Some(role) => Field::Value(role.parse().map_err(|_| {
                    format!("--role must be admin, clerk, sync or auditor, not `{role}`")
                })?),
                None => Field::Missing,
            };
            let account = match account {
                Some(id) => {
                    let id = id
                        .parse()
                        .map_err(|_| format!("--account: `{id}` is not an account id"))?;
                    Some(
                        db::accounts::find(&conn, id, Default::default())
                            .await
                            .map_err(|_| format!("--account: no live account {id}"))?,
                    )
                }
                None => None,
            };
            let district = match district {
                Some(code) => {
                    let key = db::districts::DistrictKey::Code(code.clone());
                    let found = db::districts::find(&conn, &key, Default::default())
                        .await
                        .map_err(|_| format!("--district: no district with code `{code}`"))?;
                    Field::Value(found.id)
                }
                None => Field::Missing,
            };
            let days = match expires_in {
                Some(text) => Field::parsed(KeyLifetime::parse(
                    text.strip_suffix('d')
                        .and_then(|days| days.parse::<i64>().ok())
                        .ok_or_else(|| {
                            format!(
                                "--expires-in must be a number of days such as 90d, not `{text}`"
                            )
                        })?,
                )),
                None => Field::Missing,
            };
            let exists = matches!(district, Field::Value(_)).then_some(true);
            let key = NewKey {
                name: Field::parsed(Line::parse(&name)),
                role,
                district_id: district,
                account_id: account
                    .as_ref()
                    .map_or(Field::Missing, |account| Field::Value(account.id)),
                expires_in_days: days,
            };
            let spec =
                KeySpec::check(key, exists, account.as_ref()).map_err(|error| describe(&error))?;
            let (_, token) = issue(&mut conn, &Actor::command("keys create"), spec)
                .await
                .map_err(|error| describe(&error))?;
            println!("{token}");
        }
        KeysCommand::List => {
            for key in db::keys::list(&mut conn).await? {
                let district = key
                    .district_id
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| "-".into());
                let state = match (key.revoked_at, key.expires_at) {
                    (Some(at), _) => format!("revoked {at}"),
                    (None, Some(at)) => format!("expires {at}"),
                    (None, None) => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.role.as_str(),
                    district,
                    key.name,
                    state
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let id = id.parse().map_err(|_| format!("`{id}` is not a key id"))?;
            let key = withdraw(&mut conn, &Actor::command("keys revoke"), id)
                .await
                .map_err(|error| describe(&error))?;
            println!("revoked {}", key.id);
        }
    }
    Ok(())
}

/// An API error as one line for the terminal.
fn describe(error: &cppcc_api::error::ApiError) -> String {
    let problem = error.problem();
    match problem.errors {
        Some(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", flag_of(&e.pointer), e.detail))
            .collect::<Vec<_>>()
            .join("; "),
        None => problem.detail,
    }
}

/// The command-line flag that gave the field at `pointer` of a key's checks.
fn flag_of(pointer: &str) -> String {
    match pointer {
        "/district_id" => "--district".into(),
        "/expires_in_days" => "--expires-in".into(),
        other => format!("--{}", other.trim_start_matches('/').replace('_', "-")),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
