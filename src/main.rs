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
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Load the demo data of the six Beijing districts (running it again changes nothing).
    SeedDemo,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
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
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config).await,
        Command::Migrate => migrate(&config).await,
        Command::SeedDemo => seed_demo(&config).await,
        Command::Openapi => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error.as_ref()),
    }
}

type AnyError = Box<dyn std::error::Error>;

async fn serve(config: &Config) -> Result<(), AnyError> {
    let app = Application::build(config).await?;
    tracing::info!(
        addr = %config.bind_addr,
        database = %db::redacted_url(&config.database_url),
        "serving"
    );
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(config: &Config) -> Result<(), AnyError> {
    db::ensure_database(&config.database_url).await?;
    let applied = db::run_migrations(&config.database_url).await?;
    println!("applied {} migration(s)", applied.len());
    Ok(())
}

async fn seed_demo(config: &Config) -> Result<(), AnyError> {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    db::ensure_database(&config.database_url).await?;
    db::run_migrations(&config.database_url).await?;
    let mut conn = AsyncPgConnection::establish(&config.database_url).await?;
    let report = cppcc_api::seed::seed_demo(&mut conn).await?;
    println!("{report}");
    Ok(())
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
