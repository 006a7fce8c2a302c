//! Watching the site folder and rebuilding. One thread owns the rebuilds, so
//! they never overlap; the HTTP side only ever swaps in a finished build.

use crate::Snapshot;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch as tokio_watch;

/// Folders (and the one file) whose changes matter.
const WATCHED: &[&str] = &["content", "manuals", "templates", "static"];

pub fn first_build(root: &Path) -> (Snapshot, Option<site::Incremental>) {
    let start = Instant::now();
    match site::Incremental::new(root) {
        Ok(inc) => {
            let outputs = inc.outputs();
            for w in inc.warnings() {
                eprintln!("warning: {w}");
            }
            println!(
                "built {} files in {} ms",
                outputs.len(),
                start.elapsed().as_millis()
            );
            (
                Snapshot {
                    outputs,
                    error: None,
                },
                Some(inc),
            )
        }
        Err(problems) => {
            eprintln!("build failed:\n{problems}");
            // Nothing good to keep serving: serve what renders (the
            // manuals' problems taken as warnings) under the error banner,
            // so one broken manual does not take the notice and forms down.
            match site::Incremental::new_lenient(root) {
                Ok(inc) => {
                    let snapshot = Snapshot {
                        outputs: inc.outputs(),
                        error: Some(problems.to_string()),
                    };
                    (snapshot, Some(inc))
                }
                Err(_) => {
                    let snapshot = Snapshot {
                        outputs: Arc::new(site::Outputs::new()),
                        error: Some(problems.to_string()),
                    };
                    (snapshot, None)
                }
            }
        }
    }
}

/// What the rebuild thread tells the intake after an edit.
pub trait Reload: Send + Sync + 'static {
    fn reload_forms(&self, defs: Vec<forms::FormDef>) -> anyhow::Result<()>;
    fn reload_theme(&self, theme: theme::Theme);
    /// Reads the site's navigation again (the intake's pages carry it).
    fn reload_nav(&self);
    fn set_search_index(&self, index: Option<Arc<search::Index>>);
}

impl Reload for intake::Service {
    fn reload_forms(&self, defs: Vec<forms::FormDef>) -> anyhow::Result<()> {
        intake::Service::reload_forms(self, defs)
    }
    fn reload_theme(&self, theme: theme::Theme) {
        intake::Service::reload_theme(self, theme)
    }
    fn reload_nav(&self) {
        intake::Service::reload_nav(self)
    }
    fn set_search_index(&self, index: Option<Arc<search::Index>>) {
        intake::Service::set_search_index(self, index)
    }
}

enum Msg {
    Changed(PathBuf),
    Stop,
}

/// The running rebuild thread. The thread owns the watcher, which owns a
/// sender into the thread's own channel, so the channel never closes by
/// itself: [`Rebuilder::stop`] sends an explicit stop.
pub struct Rebuilder {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

impl Rebuilder {
    /// Ends the thread (after the rebuild in progress, if any) and waits for
    /// it; its watcher, its handle on the service and the version sender (so
    /// every open event stream ends) are dropped.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Rebuilder {
    fn drop(&mut self) {
        self.halt();
    }
}

pub fn start<S: Reload>(
    root: PathBuf,
    mut inc: Option<site::Incremental>,
    snapshot: Arc<RwLock<Snapshot>>,
    version: tokio_watch::Sender<u64>,
    service: Arc<S>,
) -> anyhow::Result<Rebuilder> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let stop_tx = tx.clone();
    // Reads (our own rebuilds read every file) are not changes.
    let mut watcher: RecommendedWatcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                if !matches!(event.kind, EventKind::Access(_)) {
                    for p in event.paths {
                        let _ = tx.send(Msg::Changed(p));
                    }
                }
            }
        })?;
    // The root itself, not recursively: gazette.toml, and folders created later.
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    for dir in WATCHED {
        let p = root.join(dir);
        if p.is_dir() {
            watcher.watch(&p, RecursiveMode::Recursive)?;
        }
    }
    let thread = std::thread::Builder::new()
        .name("gazette-rebuild".into())
        .spawn(move || {
            let mut n = 0u64;
            let mut extra: Vec<PathBuf> = Vec::new();
            while let Ok(Msg::Changed(first)) = rx.recv() {
                // Debounce: an editor's save is several events; take them all,
                // until the folder has been quiet for a moment.
                let mut batch = vec![first];
                let mut stopping = false;
                while let Ok(more) = rx.recv_timeout(QUIET) {
                    match more {
                        Msg::Changed(p) => batch.push(p),
                        Msg::Stop => {
                            stopping = true;
                            break;
                        }
                    }
                }
                if stopping {
                    break;
                }
                // A watched folder created after start (say, templates/) gets its own watch.
                for p in &batch {
                    if p.parent() == Some(root.as_path()) && p.is_dir() && WATCHED.iter().any(|w| p.ends_with(w)) {
                        let _ = watcher.watch(p, RecursiveMode::Recursive);
                        // Files already in it count as changed.
                        batch_files(p, &mut extra);
                    } else if p.is_dir() && p.starts_with(&root) {
                        // A folder made inside a watched one (a new section): the
                        // watch on it comes after the folder, so files written into
                        // it at once would go unseen.
                        batch_files(p, &mut extra);
                    }
                }
                let mut changed: Vec<PathBuf> = batch.into_iter().chain(extra.drain(..)).filter(|p| relevant(&root, p)).collect();
                changed.sort();
                changed.dedup();
                if changed.is_empty() {
                    continue;
                }
                let start = Instant::now();
                let names: Vec<String> = changed.iter().map(|p| crate::relative(&root, p).into_owned()).collect();
                let result = match inc.as_mut() {
                    Some(i) => i.update(&changed),
                    None => site::Incremental::new(&root).map(|fresh| {
                        let all = fresh.outputs().len();
                        inc = Some(fresh);
                        site::Update { rendered: all, full: true, index_files: 0 }
                    }),
                };
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                match result {
                    Ok(update) => {
                        if let Some(i) = inc.as_ref() {
                            let outputs = i.outputs();
                            // Read the index again when the rebuild changed it: a
                            // full one makes it anew, an incremental one rewrites
                            // the files the edited page's text is in.
                            if update.full || update.index_files > 0 {
                                service.set_search_index(crate::search_index(&outputs));
                            }
                            if let Ok(mut s) = snapshot.write() {
                                s.outputs = outputs;
                                s.error = None;
                            }
                        }
                        let index = if update.index_files > 0 {
                            format!(" ({} search index file(s) updated)", update.index_files)
                        } else {
                            String::new()
                        };
                        eprintln!(
                            "rebuilt {} file(s){} in {ms:.1} ms after change to {}{index}",
                            update.rendered,
                            if update.full { " (full)" } else { "" },
                            names.join(", ")
                        );
                    }
                    Err(problems) => {
                        eprintln!("rebuild failed after change to {}; still serving the last good build:\n{problems}", names.join(", "));
                        if let Ok(mut s) = snapshot.write() {
                            s.error = Some(problems.to_string());
                        }
                    }
                }
                if names.iter().any(|n| n.starts_with("content/forms/")) {
                    match forms::FormDef::load_dir(&root.join("content/forms")) {
                        Ok(defs) => {
                            if let Err(e) = service.reload_forms(defs) {
                                eprintln!("intake kept the old form definitions: {e:#}");
                            }
                        }
                        Err(e) => eprintln!("intake kept the old form definitions: {e}"),
                    }
                }
                if names.iter().any(|n| n.starts_with("templates/")) {
                    if let Ok(theme) = theme::Theme::load(&root) {
                        service.reload_theme(theme);
                    }
                }
                // After the forms: whether there are any is part of the navigation.
                service.reload_nav();
                if names.iter().any(|n| n == config::FILE_NAME) {
                    println!("note: [intake], [mail] and [fax] changes take effect after a restart");
                }
                n += 1;
                let _ = version.send(n);
            }
        })?;
    Ok(Rebuilder {
        tx: stop_tx,
        thread: Some(thread),
    })
}

fn batch_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            batch_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// How long the folder must be quiet before a rebuild starts.
const QUIET: Duration = Duration::from_millis(15);

/// Ignores editor droppings and everything outside the watched parts.
fn relevant(root: &Path, p: &Path) -> bool {
    let Ok(rel) = p.strip_prefix(root) else {
        return false;
    };
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".tmp")
    {
        return false;
    }
    if p.is_dir() {
        return false; // the files inside report their own changes
    }
    let first = rel
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    rel == Path::new(config::FILE_NAME) || WATCHED.contains(&first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct NoIntake;

    impl Reload for NoIntake {
        fn reload_forms(&self, _: Vec<forms::FormDef>) -> anyhow::Result<()> {
            Ok(())
        }
        fn reload_theme(&self, _: theme::Theme) {}
        fn reload_nav(&self) {}
        fn set_search_index(&self, _: Option<Arc<search::Index>>) {}
    }

    #[test]
    fn the_rebuild_thread_ends_when_asked_and_lets_go_of_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("content")).unwrap();
        let snapshot = Arc::new(RwLock::new(Snapshot {
            outputs: Arc::new(site::Outputs::new()),
            error: None,
        }));
        let (version_tx, mut version_rx) = tokio_watch::channel(0u64);
        let service = Arc::new(NoIntake);
        let rebuilder = start(root.clone(), None, snapshot, version_tx, service.clone()).unwrap();
        // The thread is alive and working: an edit is answered by a (failed:
        // there is no gazette.toml) rebuild and a new version.
        std::fs::write(root.join("content/a.md"), "# a\n").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), version_rx.changed())
                .await
                .expect("a rebuild within 30 s")
                .expect("the thread is running");
        });
        assert_eq!(Arc::strong_count(&service), 2);
        rebuilder.stop();
        // Joined: the thread's handle on the service and the version sender are gone.
        assert!(Arc::try_unwrap(service).is_ok());
        assert!(version_rx.has_changed().is_err(), "the sender is dropped");
    }
}
