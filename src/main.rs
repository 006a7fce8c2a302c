//! `gazette`: command-line parsing only; the work happens in the crates.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// Rendering makes many small strings on every core; the system allocator
// spent ~15% of a large build in malloc/free (see site/src/lib.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h).
const MI_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3 gives freed memory back to the system a second after it was
/// freed (`purge_delay`, 1000 ms). A build lasts about that long, so it
/// peaked 15-30 MiB above its live heap (the 10,000-page benchmark 67 MiB,
/// a 400-chapter book 78 MiB); with 10 ms, mimalloc 2's default, they peak
/// at 53 and 54 MiB, in the same time. `MIMALLOC_PURGE_DELAY` still wins.
fn return_freed_memory_sooner() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option; mimalloc reads options atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_PURGE_DELAY, 10) }
    }
}

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
        after_help = "Values marked unconfirmed are listed as warnings; --strict refuses to build them.\n\nExamples:\n  gazette build\n  gazette build --strict --root site --output /var/www/html"
    )]
    Build {
        #[command(flatten)]
        root: RootArg,
        /// Where to write the site [default: ROOT/public].
        #[arg(long)]
        output: Option<PathBuf>,
        /// For publishing: fail (exit 1, nothing written) when a value is marked unconfirmed.
        #[arg(long)]
        strict: bool,
    },
    /// Render everything in memory and check every internal link and anchor; write nothing.
    #[command(
        after_help = "Exit status 1 with one line per problem. Values marked unconfirmed\n([notice] unconfirmed, [office] unconfirmed, an email in a reserved domain)\nare warnings, and problems with --strict.\n\nExamples:\n  gazette check --root site\n  gazette check --strict      before publishing"
    )]
    Check {
        #[command(flatten)]
        root: RootArg,
        /// For publishing: values marked unconfirmed are problems too.
        #[arg(long)]
        strict: bool,
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
        after_help = "Serves on [intake] listen (default 127.0.0.1:8080). Watches content/, manuals/,\ntemplates/, static/ and gazette.toml; open pages reload themselves.\n\nWith --production: serves the folder `gazette build` wrote ([intake] site_dir,\ndefault public/) as it is, with the intake; no build, no watcher, no reload\nscript, no error banner. Publish a change with `gazette build` (on the air at once).\n\nExamples:\n  gazette serve\n  gazette serve --root site --port 3000 --open\n  gazette build && gazette serve --production"
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
        /// Serve a built folder for real: no watcher, no reload script, no error banner.
        #[arg(long)]
        production: bool,
        /// With --production: the built folder [default: [intake] site_dir, public/].
        #[arg(long, requires = "production", value_name = "DIR")]
        site: Option<PathBuf>,
    },
    /// List pending and failed notifications, or requeue the failed ones.
    #[command(after_help = "Examples:\n  gazette outbox\n  gazette outbox retry")]
    Outbox {
        #[command(flatten)]
        root: RootArg,
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// Read the office mailbox once: store the returns in spreadsheet attachments, queue the answers.
    #[command(
        after_help = "Settings come from [mailbox] in gazette.toml (server, tls, user, password or\npassword_file, folder, processed_folder, failed_folder). gazette intake reads the\nmailbox by itself when [mailbox] server is set; this command does one pass (for\ncron, or to try the settings). The answers go out from a running gazette intake.\n\nExample:\n  gazette mailbox --once --root site"
    )]
    Mailbox {
        #[command(flatten)]
        root: RootArg,
        /// One pass over the folder, then exit (the only mode for now).
        #[arg(long, required = true)]
        once: bool,
    },
    /// Write the 一览表 (every return to one form) as .xlsx or .csv.
    #[command(
        after_help = "The table has 序号, 参考编号, the form's columns in order, 接收时间, 是否逾期 and\n处理状态; codes and numbers are text. CSV is UTF-8 with BOM for Excel, and cells\nthat a spreadsheet would run as a formula start with '.\n\nExamples:\n  gazette export departments                      writes departments-一览表.xlsx\n  gazette export committees --format csv --output - > committees.csv"
    )]
    Export {
        /// The form's id (the file name in content/forms/ without .toml).
        form: String,
        #[command(flatten)]
        root: RootArg,
        /// xlsx or csv [default: from the output's extension, else xlsx].
        #[arg(long)]
        format: Option<intake::exchange::Format>,
        /// The file to write, or - for stdout [default: FORM-一览表.xlsx].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Import returns from a filled-in spreadsheet (the blank form the site publishes).
    #[command(
        after_help = "Every row is checked as a web return would be. If any cell is wrong, every\nproblem is listed as 第 R 行 第 C 列 (字段): 问题, nothing is imported and the exit\nstatus is 1. Imported rows get references and notify the office like web returns;\nthis works while gazette intake or serve runs on the same database.\n\nExamples:\n  gazette import departments 回收表格.xlsx --dry-run\n  gazette import departments 回收表格.xlsx"
    )]
    Import {
        /// The form's id (the file name in content/forms/ without .toml).
        form: String,
        /// The filled-in .xlsx file.
        file: PathBuf,
        #[command(flatten)]
        root: RootArg,
        /// Check and report only; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the SQLite database to a file, safely while the intake runs.
    #[command(
        after_help = "The copy is one consistent snapshot (SQLite's VACUUM INTO): every return stored\nbefore it began is in it; posts go on meanwhile. It is checked (integrity_check)\nand only then given its name. Restore: stop the intake, put the copy in place of\nthe database file (and delete its -wal and -shm files), start the intake.\nFor PostgreSQL use pg_dump.\n\nExamples:\n  gazette backup                          writes var/backups/gazette-<UTC time>.db\n  gazette backup --output /mnt/usb/gazette.db"
    )]
    Backup {
        #[command(flatten)]
        root: RootArg,
        /// The file to write [default: backups/gazette-<UTC time>.db beside the database].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Administration helpers.
    #[command(
        after_help = "Examples:\n  gazette admin hash-password            type the password, then Enter\n  echo 'long passphrase' | gazette admin hash-password\n\nPut the printed hash in gazette.toml as [admin] password_hash, or in\nGAZETTE_ADMIN_PASSWORD_HASH."
    )]
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Read a password (one line) from stdin and print its argon2 hash for [admin] password_hash.
    #[command(after_help = "Example:\n  echo 'long passphrase' | gazette admin hash-password")]
    HashPassword,
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Requeue every failed notification.
    Retry,
}

fn main() -> ExitCode {
    return_freed_memory_sooner();
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
        Command::Build {
            root,
            output,
            strict,
        } => {
            let report = match site::build_with(&root.root, output.as_deref(), strict) {
                Ok(r) => r,
                Err(e) if strict => {
                    if let Some(p) = e.downcast_ref::<site::Problems>() {
                        println!("{p}");
                        eprintln!("{}", unconfirmed_refused());
                        return Ok(ExitCode::FAILURE);
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            println!("{report}");
        }
        Command::Check { root, strict } => {
            let (problems, warnings) = site::check_with_warnings(&root.root)?;
            for p in &problems {
                println!("{p}");
            }
            for w in &warnings {
                if strict {
                    println!("{w}");
                } else {
                    println!("warning: {w}");
                }
            }
            if strict && !warnings.is_empty() {
                eprintln!("{}", unconfirmed_refused());
            }
            if !problems.is_empty() || (strict && !warnings.is_empty()) {
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
        Command::Serve {
            root,
            port,
            open,
            production,
            site,
        } => runtime()?.block_on(serve::run(serve::Options {
            root: root.root,
            port,
            open,
            production: production.then_some(site),
        }))?,
        Command::Backup { root, output } => {
            print!("{}", intake::backup::backup(&root.root, output.as_deref())?)
        }
        Command::Intake { root } => runtime()?.block_on(intake::run(&root.root))?,
        Command::Outbox { root, action } => match action {
            None => print!("{}", intake::outbox_report(&root.root)?),
            Some(OutboxAction::Retry) => {
                let n = intake::outbox_retry(&root.root)?;
                println!("requeued {n} failed notification(s)");
            }
        },
        Command::Mailbox { root, once: _ } => print!("{}", intake::mailbox::once(&root.root)?),
        Command::Export {
            form,
            root,
            format,
            output,
        } => {
            let said = intake::exchange::export(&root.root, &form, format, output.as_deref())?;
            eprint!("{said}");
        }
        Command::Import {
            form,
            file,
            root,
            dry_run,
        } => {
            let report = intake::exchange::import(&root.root, &form, &file, dry_run)?;
            print!("{}", report.stdout);
            eprint!("{}", report.stderr);
            if !report.ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Admin {
            action: AdminAction::HashPassword,
        } => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password = line.strip_suffix('\n').unwrap_or(&line);
            let password = password.strip_suffix('\r').unwrap_or(password);
            if password.is_empty() {
                anyhow::bail!("标准输入中没有密码：请输入密码后按回车，或用管道传入");
            }
            let hash = intake::admin::hash_password(password)
                .map_err(|e| anyhow::anyhow!("无法计算密码散列：{e}"))?;
            println!("{hash}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What --strict says after listing the unconfirmed values.
fn unconfirmed_refused() -> &'static str {
    "--strict: these values are marked unconfirmed (【待核实】); confirm them with the issuer and remove them from `unconfirmed` (or set a real email address), then publish"
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc 3's: its default there is 1000 ms (a
    /// wrong number would set some other option).
    #[test]
    fn the_purge_delay_option_is_mimallocs() {
        // SAFETY: reads an integer option.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(before, 1000);
        }
        return_freed_memory_sooner();
        let after = unsafe { libmimalloc_sys::mi_option_get(MI_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(after, 10);
        }
    }
}
