//! The `resellerbot` command line.

use clap::{Parser, Subcommand};
use resellerbot::settings::Settings;
use resellerbot::{Application, backup, open_database};
use std::process::ExitCode;

/// A Telegram bot that runs an IPTV reseller business: resellers, credits, subscribers.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot (long polling) and the HTTP server.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the SQLite database to a new FILE while the bot runs (PostgreSQL: use pg_dump).
    Backup {
        /// Where to write the copy; it must not exist yet.
        file: std::path::PathBuf,
    },
    /// Ledger maintenance.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check every balance against its transactions; exit 1 with a report if any is off.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            let app = Application::build(&settings).await?;
            tracing::info!(http = %app.http_addr(), "resellerbot starting");
            app.run(shutdown_signal()).await?;
            tracing::info!("resellerbot stopped");
        }
        Command::Migrate => {
            open_database(&settings).await?;
            println!("migrations applied");
        }
        Command::Backup { file } => {
            backup(&settings, &file).await?;
            println!("backed up the database to {}", file.display());
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let report = reseller_core::ledger::verify(&open_database(&settings).await?).await?;
            if report.violations.is_empty() {
                println!(
                    "ledger OK: {} resellers, {} transactions, every balance matches",
                    report.resellers, report.transactions
                );
            } else {
                println!("ledger BROKEN: {} violations", report.violations.len());
                for v in &report.violations {
                    println!("- {v}");
                }
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
