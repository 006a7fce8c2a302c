//! The service as a value: configuration, form definitions, theme, the
//! database writer and readers, and the outbox worker. `gazette intake` runs
//! one on its own port; `gazette serve` can merge [`Service::router`] (made
//! in `router.rs`, which depends on this module, not the other way) with its
//! static files. Storing a return is here too, whoever takes it in.

use crate::limits::{Origins, RateLimiter};
use crate::mail::{MailSettings, Mailer};
use crate::state::{AdminState, Decoys, FormSet, Inner};
use crate::status::Source;
use crate::store::{self, NewSubmission, Store, StoreError, Stored};
use anyhow::Context as _;
use config::Config;
use forms::FormDef;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use theme::Theme;
use tokio::sync::{watch, Notify};

/// The intake service. Build it with [`Service::open`] (or [`Service::new`]),
/// mount [`Service::router`], and call [`Service::start_outbox`].
pub struct Service {
    pub(crate) inner: Arc<Inner>,
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
        let site = config.resolve(&config.intake.site_dir);
        let service = Service::new(config, forms, theme)?;
        service.search_from(site);
        Ok(service)
    }

    /// Answers `GET /search` from the index in a built site's folder.
    pub fn search_from(&self, site: std::path::PathBuf) {
        let mut g = match self.inner.search.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = crate::search::Source::Dir { site, loaded: None };
    }

    /// Answers `GET /search` from this index (`gazette serve`, after each
    /// build); `None` until a build has made one.
    pub fn set_search_index(&self, index: Option<Arc<search::Index>>) {
        self.inner.search.set(index);
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
        let outbox_wake = Arc::new(Notify::new());
        let (store, writer_thread) = Store::open(&config, Arc::clone(&outbox_wake))?;
        let mut origins: Vec<&str> = config
            .intake
            .allowed_origins
            .iter()
            .map(String::as_str)
            .collect();
        origins.push(&config.intake.url);
        origins.push(&config.site.base_url);
        let origins = Origins::new(origins);
        let nav = crate::response::site_nav(&config.root, !set.is_empty());
        let inner = Inner {
            nav: RwLock::new(Arc::new(nav)),
            limiter: RateLimiter::new(config.intake.rate_limit),
            origins,
            forms: RwLock::new(Arc::new(set)),
            theme: RwLock::new(Arc::new(theme)),
            store,
            decoys: Decoys::default(),
            outbox_wake,
            mail,
            admin: AdminState::default(),
            outbox_passes: Default::default(),
            search: Arc::new(crate::search::SearchIndex::new(
                crate::search::Source::Memory(None),
            )),
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
        // Where notifications go, said once at start-up (serve and intake).
        tracing::info!(
            "notifications: {}",
            crate::outbox::Routes::new(&self.inner.config).describe()
        );
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

    /// Reads the site's navigation again (after `gazette serve` rebuilds:
    /// a section, the forms or the manuals may have come or gone), so the
    /// intake's pages carry the header the built pages do.
    pub fn reload_nav(&self) {
        let has_forms = !self.inner.forms().is_empty();
        let nav = Arc::new(crate::response::site_nav(
            &self.inner.config.root,
            has_forms,
        ));
        match self.inner.nav.write() {
            Ok(mut g) => *g = nav,
            Err(p) => *p.into_inner() = nav,
        }
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

/// The submission a valid return becomes: the same shape from the web and
/// from an imported spreadsheet, with its notifications queued.
pub(crate) fn new_submission(
    config: &Config,
    def: &FormDef,
    answers: &forms::Answers,
    late: bool,
    received_at: i64,
    source: Source,
) -> Result<NewSubmission, serde_json::Error> {
    let answers_json = serde_json::to_string(answers)?;
    Ok(NewSubmission {
        form_id: def.id.clone(),
        form_title: def.title.clone(),
        unit: def.title_answer(answers),
        hash: store::repeat_hash(&def.id, &answers_json),
        answers_json,
        late,
        received_at,
        recipients: crate::state::recipients_for(config, def),
        faxes: crate::fax::queued_numbers(config),
        filer: (source == Source::Web && config.intake.confirm_to_filer)
            .then(|| crate::mailbox::filer_address(def, answers))
            .flatten(),
        source,
    })
}

impl Inner {
    /// Stores a valid web return; answers once it is committed (or is a
    /// repeat of one that was).
    pub(crate) async fn store_return(
        &self,
        def: &FormDef,
        answers: &forms::Answers,
        late: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Stored, StoreError> {
        let new = new_submission(
            &self.config,
            def,
            answers,
            late,
            now.timestamp_millis(),
            Source::Web,
        )
        .map_err(|e| StoreError::Sqlite(format!("serialising answers for {}: {e}", def.id)))?;
        let stored = self.store.insert(new).await?;
        tracing::debug!(
            "stored {} for {}{}",
            stored.reference,
            def.id,
            if stored.repeat { " (repeat)" } else { "" }
        );
        Ok(stored)
    }
}
