//! The intake service: takes the forms' returns, validates them with the
//! `forms` crate, stores them durably in SQLite, answers with a receipt, and
//! emails the contact office from an outbox.
//!
//! A submission's path: limits (size, content type, origin, rate) → decode
//! (strict UTF-8) → honeypot → deadline → validation (422 with the form again)
//! → one transaction with the submission and its outbox row, committed by the
//! single writer thread together with whatever else is queued (group commit)
//! → `303 See Other` to `/receipts/{token}`. The outbox worker sends the
//! email afterwards and retries with backoff; it never delays a post.
//!
//! Embedding (`gazette serve`):
//! ```no_run
//! # async fn f(root: &std::path::Path) -> anyhow::Result<()> {
//! let service = intake::Service::open(root)?;
//! service.start_outbox()?;
//! let app = service.router(); // merge with the static files
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // Timeouts and connection caps from `[intake]` (see `listen`).
//! let limits = intake::listen::Limits::from_config(&service.config().intake);
//! intake::listen::serve(listener, app, limits, intake::shutdown_signal()).await?;
//! service.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
mod auth;
pub mod backup;
mod body;
pub mod exchange;
mod fax;
mod limits;
pub mod listen;
mod mail;
pub mod mailbox;
mod outbox;
mod present;
mod public;
mod refs;
mod response;
mod router;
mod search;
mod service;
mod state;
mod status;
mod store;

pub use router::content_security_policy;
pub use service::Service;

/// What `examples/sqlite_baseline.rs` (the benchmark's floor) shares with
/// the service: the schema and the references.
#[doc(hidden)]
pub mod baseline {
    pub use crate::refs::{reference, token};
    pub use crate::store::{now_ms, open, repeat_hash};
}

use anyhow::Context as _;
use std::path::Path;

/// `gazette intake`: serves on `[intake] listen` until Ctrl-C or SIGTERM.
pub async fn run(root: &Path) -> anyhow::Result<()> {
    let service = Service::open(root)?;
    let listen = service.config().intake.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("[intake.listen] cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    service.start_outbox()?;
    // The office mailbox, when `[mailbox] server` is set.
    let mailbox = service.start_mailbox()?;
    let app = service.standalone_router();
    tracing::info!(
        "database {}, mail {}",
        match service.config().database_url() {
            Some(url) => store::pg::redacted(&url),
            None => service.config().database_path().display().to_string(),
        },
        mail::redact(&service.config().mail.transport)
    );
    // One line on stdout that scripts can wait for.
    println!("gazette intake listening on http://{addr}");
    let limits = listen::Limits::from_config(&service.config().intake);
    listen::serve(listener, app, limits, shutdown_signal()).await?;
    tracing::info!("stopping");
    mailbox.stop().await;
    service.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM: how `gazette intake` and `gazette serve` stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `gazette outbox`: counts, then every pending and failed notification.
pub fn outbox_report(root: &Path) -> anyhow::Result<String> {
    let config = config::Config::load(root)?;
    let path = config.database_path();
    if config.database_url().is_none() && !path.exists() {
        return Ok(format!(
            "no database yet at {} (nothing has been submitted)\n",
            path.display()
        ));
    }
    let summary = store::command(&config, |store| async move {
        Ok(store.read(store::outbox_summary).await?)
    })?;
    Ok(outbox::report(&summary, &outbox::Routes::new(&config)))
}

/// `gazette outbox retry`: requeues every failed notification and reply; a
/// running service picks them up within a couple of seconds.
pub fn outbox_retry(root: &Path) -> anyhow::Result<usize> {
    let config = config::Config::load(root)?;
    if config.database_url().is_none() && !config.database_path().exists() {
        return Ok(0);
    }
    store::command(&config, |store| async move {
        let now = store::now_ms();
        Ok(store
            .write(move |db| store::requeue_failed(db, now))
            .await?)
    })
}
