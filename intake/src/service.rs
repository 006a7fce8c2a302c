//! The service as a value: configuration, form definitions, theme, the
//! database writer and readers, and the outbox worker. `gazette intake` runs
//! one on its own port; `gazette serve` can merge [`Service::router`] with its
//! static files.

use crate::limits::{Origins, RateLimiter};
use crate::mail::{MailSettings, Mailer};
use crate::store::{self, Readers, Writer};
use anyhow::Context as _;
use config::Config;
use forms::FormDef;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use theme::Theme;
use tokio::sync::{watch, Notify};

pub type FormSet = HashMap<String, Arc<FormDef>>;

/// Shared state behind every handler and the worker.
pub struct Inner {
    pub config: Config,
    forms: RwLock<Arc<FormSet>>,
    theme: RwLock<Arc<Theme>>,
    pub writer: Writer,
    pub readers: Arc<Readers>,
    pub limiter: RateLimiter,
    pub origins: Origins,
    pub decoys: Decoys,
    /// Woken after a commit that stored outbox rows.
    pub outbox_wake: Arc<Notify>,
    pub mail: MailSettings,
    /// Admin sessions and the login throttle (in memory).
    pub admin: crate::admin::AdminState,
    /// Outbox worker passes over the queue since start (`/healthz`).
    pub outbox_passes: std::sync::atomic::AtomicU64,
}

impl Inner {
    /// The current form definitions (a snapshot; reloads swap the whole set).
    pub fn forms(&self) -> Arc<FormSet> {
        match self.forms.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub fn theme(&self) -> Arc<Theme> {
        match self.theme.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub fn writer_closed(&self) -> bool {
        self.writer.is_closed()
    }

    /// Who is emailed about a return to `def`: `[office] email`, then the
    /// form's own recipients. Never an address from the answers.
    pub fn recipients(&self, def: &FormDef) -> Vec<String> {
        recipients_for(&self.config, def)
    }
}

/// [`Inner::recipients`] without a running service (`gazette import`).
pub fn recipients_for(config: &Config, def: &FormDef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let office = config.office.email.trim();
    if !office.is_empty() {
        out.push(office.to_string());
    }
    for r in &def.recipients {
        let r = r.trim();
        if !r.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    out
}

/// The intake service. Build it with [`Service::open`] (or [`Service::new`]),
/// mount [`Service::router`], and call [`Service::start_outbox`].
pub struct Service {
    inner: Arc<Inner>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl Service {
    /// Reads `<root>/gazette.toml` (with `GAZETTE_*` overrides), the form
    /// definitions in `<root>/content/forms/` and the theme, and opens the
    /// database.
    pub fn open(root: &Path) -> anyhow::Result<Service> {
        let config = Config::load(root)?;
        let forms = FormDef::load_dir(&root.join("content").join("forms"))?;
        let theme = Theme::load(root)?;
        Service::new(config, forms, theme)
    }

    /// Checks the mail settings and every address, opens (and migrates) the
    /// database and starts the writer thread. Errors name the setting.
    pub fn new(config: Config, forms: Vec<FormDef>, theme: Theme) -> anyhow::Result<Service> {
        let file = config.root.join(config::FILE_NAME);
        let mail = MailSettings::from_config(&config)?;
        let office = config.office.email.trim();
        if !office.is_empty() {
            office.parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!(
                    "{}: [office.email] {office:?} is not an email address ({e})",
                    file.display()
                )
            })?;
        }
        let set = form_set(forms)?;
        if office.is_empty() && set.values().all(|d| d.recipients.is_empty()) {
            tracing::warn!(
                "no [office] email and no form recipients: returns are stored but nobody is emailed"
            );
        }
        let db_path = config.database_path();
        let conn = store::open(&db_path)
            .with_context(|| format!("[intake.database] {}", db_path.display()))?;
        let outbox_wake = Arc::new(Notify::new());
        let (writer, writer_thread) = Writer::start(conn, Arc::clone(&outbox_wake))
            .context("cannot start the database writer thread")?;
        let mut origins: Vec<&str> = config
            .intake
            .allowed_origins
            .iter()
            .map(String::as_str)
            .collect();
        origins.push(&config.intake.url);
        origins.push(&config.site.base_url);
        let origins = Origins::new(origins);
        let inner = Inner {
            limiter: RateLimiter::new(config.intake.rate_limit),
            origins,
            forms: RwLock::new(Arc::new(set)),
            theme: RwLock::new(Arc::new(theme)),
            writer,
            readers: Arc::new(Readers::new(db_path)),
            decoys: Decoys::default(),
            outbox_wake,
            mail,
            admin: crate::admin::AdminState::default(),
            outbox_passes: Default::default(),
            config,
        };
        let (stop, _) = watch::channel(false);
        Ok(Service {
            inner: Arc::new(inner),
            writer_thread: Mutex::new(Some(writer_thread)),
            worker: Mutex::new(None),
            stop,
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// `POST /forms/{id}`, `GET /forms/{id}` (a redirect to the form page),
    /// `GET /receipts/{token}` and `GET /healthz`. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so the rate limit
    /// sees client addresses.
    pub fn router(&self) -> axum::Router {
        crate::http::routes(Arc::clone(&self.inner))
    }

    /// [`Service::router`] plus `/style.css`, `/print.css` and a Chinese 404
    /// page for everything else: what `gazette intake` serves on its own port.
    pub fn standalone_router(&self) -> axum::Router {
        crate::http::standalone(Arc::clone(&self.inner))
    }

    /// Starts the outbox worker on a thread of its own (a single-threaded
    /// Tokio runtime, at a lower CPU priority so a burst of posts is answered
    /// first and the email catches up afterwards). Pending rows from before a
    /// restart are sent too. Calling it twice does nothing; a bad transport is
    /// an error naming `mail.transport`.
    pub fn start_outbox(&self) -> anyhow::Result<()> {
        let mut slot = self
            .worker
            .lock()
            .map_err(|_| anyhow::anyhow!("outbox worker lock poisoned"))?;
        if slot.is_some() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        let stop = self.stop.subscribe();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("gazette-outbox".into())
            .spawn(move || {
                lower_priority();
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("gazette-outbox-io")
                    .max_blocking_threads(8)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mailer = match Mailer::new(&inner.mail) {
                        Ok(m) => Arc::new(m),
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    crate::outbox::run(inner, mailer, stop).await;
                });
            })
            .context("cannot start the outbox thread")?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => anyhow::bail!("the outbox thread stopped at start-up"),
        }
        *slot = Some(thread);
        Ok(())
    }

    /// Swaps in new form definitions (after `gazette serve` sees an edit).
    /// On a bad recipient address the old set stays and the error says why.
    pub fn reload_forms(&self, forms: Vec<FormDef>) -> anyhow::Result<()> {
        let set = form_set(forms)?;
        match self.inner.forms.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    pub fn reload_theme(&self, theme: Theme) {
        match self.inner.theme.write() {
            Ok(mut g) => *g = Arc::new(theme),
            Err(p) => *p.into_inner() = Arc::new(theme),
        }
    }

    /// Stops the worker, lets the writer finish what is queued, and waits
    /// for it. Call after the HTTP server has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        let writer = self.writer_thread.lock().ok().and_then(|mut t| t.take());
        drop(self.inner);
        // The worker stops at its next wait; the writer ends once the last
        // handle to it (held by the worker and the router) is gone.
        let join = tokio::task::spawn_blocking(move || {
            if let Some(w) = worker {
                let _ = w.join();
            }
            if let Some(t) = writer {
                let _ = t.join();
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(10), join).await;
    }
}

/// Background work yields to request handling: nice +10 for this thread
/// (Linux applies nice per thread; threads it starts inherit it).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread, no pointers involved.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

fn form_set(forms: Vec<FormDef>) -> anyhow::Result<FormSet> {
    let mut set = FormSet::new();
    for def in forms {
        for r in &def.recipients {
            r.trim().parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!(
                    "content/forms/{}.toml: recipients: {r:?} is not an email address ({e})",
                    def.id
                )
            })?;
        }
        set.insert(def.id.clone(), Arc::new(def));
    }
    Ok(set)
}

/// (label, value) for every answer, in the form's order; a field no longer in
/// the definition is shown under its name.
pub fn answer_rows(def: Option<&FormDef>, answers: &forms::Answers) -> Vec<(String, String)> {
    answers
        .0
        .iter()
        .map(|(name, value)| {
            let label = def
                .and_then(|d| d.field(name))
                .map(|f| f.label.clone())
                .unwrap_or_else(|| name.clone());
            (label, value.display())
        })
        .collect()
}

/// China Standard Time, as people write it: 2016年7月20日 10:31.
pub fn cst_text(ms: i64) -> String {
    use chrono::{Datelike, TimeZone, Timelike};
    let tz = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset is valid"));
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => format!(
            "{}年{}月{}日 {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => String::new(),
    }
}

/// Receipts shown for honeypot posts: they look like real ones but nothing
/// is stored; a few hundred are kept in memory so the redirect leads to a page.
#[derive(Default)]
pub struct Decoys {
    items: Mutex<VecDeque<(String, Decoy)>>,
}

#[derive(Clone)]
pub struct Decoy {
    pub reference: String,
    pub form_id: String,
    pub received_at: i64,
    pub rows: Vec<(String, String)>,
}

impl Decoys {
    const KEEP: usize = 256;

    pub fn put(&self, token: String, decoy: Decoy) {
        if let Ok(mut items) = self.items.lock() {
            if items.len() >= Self::KEEP {
                items.pop_front();
            }
            items.push_back((token, decoy));
        }
    }

    pub fn get(&self, token: &str) -> Option<Decoy> {
        let items = self.items.lock().ok()?;
        items
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, d)| d.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_standard_time() {
        // 2016-07-20 02:31 UTC is 10:31 in Meizhou.
        let ms = chrono::DateTime::parse_from_rfc3339("2016-07-20T02:31:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(cst_text(ms), "2016年7月20日 10:31");
    }

    #[test]
    fn decoys_are_bounded() {
        let d = Decoys::default();
        for i in 0..300 {
            d.put(
                format!("t{i}"),
                Decoy {
                    reference: "R".into(),
                    form_id: "f".into(),
                    received_at: 0,
                    rows: vec![],
                },
            );
        }
        assert!(d.get("t0").is_none());
        assert!(d.get("t299").is_some());
    }
}
