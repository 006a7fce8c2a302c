//! What every handler and the outbox worker share: settings, form
//! definitions, theme, the database handles and the in-memory tables. The
//! web layer and the worker depend on this module; it depends on neither.

use crate::limits::{Origins, RateLimiter};
use crate::mail::MailSettings;
use crate::store::Store;
use config::Config;
use forms::paths::Links;
use forms::FormDef;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use theme::Theme;
use tokio::sync::Notify;

pub(crate) type FormSet = HashMap<String, Arc<FormDef>>;

/// Shared state behind every handler and the worker.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) forms: RwLock<Arc<FormSet>>,
    pub(crate) theme: RwLock<Arc<Theme>>,
    /// SQLite or PostgreSQL, behind one seam.
    pub(crate) store: Store,
    pub(crate) limiter: RateLimiter,
    pub(crate) origins: Origins,
    pub(crate) decoys: Decoys,
    /// Woken after a commit that stored outbox rows.
    pub(crate) outbox_wake: Arc<Notify>,
    pub(crate) mail: MailSettings,
    /// Admin sessions and the login throttle (in memory).
    pub(crate) admin: AdminState,
    /// Outbox worker passes over the queue since start (`/healthz`).
    pub(crate) outbox_passes: AtomicU64,
    /// The site search index, for `GET /search`.
    pub(crate) search: Arc<crate::search::SearchIndex>,
    /// The site's main navigation, for the header of every public page;
    /// read again when `gazette serve` rebuilds.
    pub(crate) nav: RwLock<Arc<Vec<crate::response::NavItem>>>,
}

/// This node's admin state (sessions and the login throttle are in the
/// database, see `auth`).
pub(crate) struct AdminState {
    /// Password checks running at once (argon2 takes ~19 MiB each).
    pub(crate) verifying: tokio::sync::Semaphore,
}

/// How many password checks may run at once; more get 503.
pub(crate) const CONCURRENT_LOGINS: usize = 2;

impl Default for AdminState {
    fn default() -> AdminState {
        AdminState {
            verifying: tokio::sync::Semaphore::new(CONCURRENT_LOGINS),
        }
    }
}

impl Inner {
    /// The current form definitions (a snapshot; reloads swap the whole set).
    pub(crate) fn forms(&self) -> Arc<FormSet> {
        match self.forms.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The site's navigation as last read.
    pub(crate) fn nav(&self) -> Arc<Vec<crate::response::NavItem>> {
        match self.nav.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub(crate) fn theme(&self) -> Arc<Theme> {
        match self.theme.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub(crate) fn writer_closed(&self) -> bool {
        self.store.is_closed()
    }

    /// Where links on a page the intake renders point: site pages under
    /// `[site] base_url` (or `/`), intake routes under `[intake] url`.
    pub(crate) fn links(&self) -> Links {
        let base = self.config.site.base_url.trim();
        let site_root = if base.is_empty() {
            "/".to_string()
        } else {
            format!("{}/", base.trim_end_matches('/'))
        };
        Links::new(site_root, &self.config.intake.url)
    }
}

/// Who is emailed about a return to `def`: `[office] email`, then the
/// form's own recipients. Never an address from the answers.
pub(crate) fn recipients_for(config: &Config, def: &FormDef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let office = config.office.email.trim();
    if !office.is_empty() {
        out.push(office_mailbox(&config.office, office));
    }
    for r in &def.recipients {
        let r = r.trim();
        if !r.is_empty()
            && !r.eq_ignore_ascii_case(office)
            && !out.iter().any(|o| o.eq_ignore_ascii_case(r))
        {
            out.push(r.to_string());
        }
    }
    out
}

/// The office's address for a `To:` header: an unconfirmed one (a reserved
/// domain among them) carries 【待核实】 in its display name, so whoever reads
/// the message, its bounce or the outbox sees that it may not arrive.
fn office_mailbox(office: &config::Office, email: &str) -> String {
    if !office.is_unconfirmed("email") {
        return email.to_string();
    }
    let name: String = format!("{}{}【待核实】", office.name, office.section)
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '<' | '>') && !c.is_control())
        .collect();
    format!("\"{name}\" <{email}>")
}

/// Receipts shown for honeypot posts: they look like real ones but nothing
/// is stored; a few hundred are kept in memory so the redirect leads to a page.
#[derive(Default)]
pub(crate) struct Decoys {
    items: Mutex<VecDeque<(String, Decoy)>>,
}

#[derive(Clone)]
pub(crate) struct Decoy {
    pub(crate) reference: String,
    pub(crate) form_id: String,
    pub(crate) received_at: i64,
    pub(crate) rows: Vec<(String, String)>,
}

impl Decoys {
    const KEEP: usize = 256;

    pub(crate) fn put(&self, token: String, decoy: Decoy) {
        if let Ok(mut items) = self.items.lock() {
            if items.len() >= Self::KEEP {
                items.pop_front();
            }
            items.push_back((token, decoy));
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Decoy> {
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
