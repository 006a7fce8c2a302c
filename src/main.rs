//! `gazette`: command-line parsing only; the work happens in the crates.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gazette",
    version,
    about = "Publish an official notice with its forms and manuals as a static site, and take the forms' returns",
    after_help = "Examples:\n  gazette build                 build ./ into ./public\n  gazette check --root site/    check every link, write nothing\n  gazette intake                take form returns on 127.0.0.1:8080\n  gazette init my-site          start a new site"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct RootArg {
    /// The site folder (holds gazette.toml, content/, manuals/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Build the static site into public/.
    #[command(
        after_help = "Examples:\n  gazette build\n  gazette build --root site --output /var/www/html"
    )]
    Build {
        #[command(flatten)]
        root: RootArg,
        /// Where to write the site [default: ROOT/public].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Render everything in memory and check every internal link and anchor; write nothing.
    #[command(
        after_help = "Exit status 1 with one line per problem.\n\nExample:\n  gazette check --root site"
    )]
    Check {
        #[command(flatten)]
        root: RootArg,
    },
    /// Create a new, minimal site (config, one notice, one form, one manual) that builds at once.
    #[command(after_help = "Example:\n  gazette init my-site && gazette build --root my-site")]
    Init {
        /// Folder to create; must be empty or absent.
        dir: PathBuf,
    },
    /// Run the intake service that takes the forms' returns.
    #[command(
        after_help = "Settings come from [intake] and [mail] in gazette.toml, each overridable\nby GAZETTE_<SECTION>_<KEY>, e.g. GAZETTE_INTAKE_LISTEN=127.0.0.1:8081.\n\nExample:\n  gazette intake --root site"
    )]
    Intake {
        #[command(flatten)]
        root: RootArg,
    },
    /// Build the site into memory and serve it with the intake on one address; rebuild on every change.
    #[command(
        after_help = "Serves on [intake] listen (default 127.0.0.1:8080). Watches content/, manuals/,\ntemplates/, static/ and gazette.toml; open pages reload themselves.\n\nExamples:\n  gazette serve\n  gazette serve --root site --port 3000 --open"
    )]
    Serve {
        #[command(flatten)]
        root: RootArg,
        /// Port to listen on (overrides the port of [intake] listen).
        #[arg(long)]
        port: Option<u16>,
        /// Open the site in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// List pending and failed notifications, or requeue the failed ones.
    #[command(after_help = "Examples:\n  gazette outbox\n  gazette outbox retry")]
    Outbox {
        #[command(flatten)]
        root: RootArg,
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Requeue every failed notification.
    Retry,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Build { root, output } => {
            let report = site::build(&root.root, output.as_deref())?;
            println!("{report}");
        }
        Command::Check { root } => {
            let problems = site::check(&root.root)?;
            if !problems.is_empty() {
                for p in &problems {
                    println!("{p}");
                }
                return Ok(ExitCode::FAILURE);
            }
            println!("no problems found");
        }
        Command::Init { dir } => {
            site::init(&dir)?;
            println!(
                "created {}; build it with: gazette build --root {}",
                dir.display(),
                dir.display()
            );
        }
        Command::Serve { root, port, open } => runtime()?.block_on(serve::run(serve::Options {
            root: root.root,
            port,
            open,
        }))?,
        Command::Intake { root } => runtime()?.block_on(intake::run(&root.root))?,
        Command::Outbox { root, action } => match action {
            None => print!("{}", intake::outbox_report(&root.root)?),
            Some(OutboxAction::Retry) => {
                let n = intake::outbox_retry(&root.root)?;
                println!("requeued {n} failed notification(s)");
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
