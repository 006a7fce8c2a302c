//! `GET /search?q=` (also `/search/` and `/search/index.html`, the static
//! search page's own address): the site search answered on the server, from
//! the index files the build wrote and with the same ranking as the
//! browser's search.js, for browsers without JavaScript.
//!
//! Where the index comes from: `gazette serve` hands over each build's
//! ([`crate::Service::set_search_index`]); `gazette intake` reads the built
//! site's `search/` folder (`<root>/public` unless told otherwise) and reads
//! it again when `meta.js` changes.

use crate::response::{Error, Page};
use crate::state::Inner;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use search::Index;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Results on one page; the browser shows as many.
const LIMIT: usize = 10;
/// Longer queries are cut, not refused: people paste whole sentences.
const MAX_QUERY_CHARS: usize = 100;

/// Where the index is read from.
pub(crate) enum Source {
    /// Handed over by `gazette serve` after each build.
    Memory(Option<Arc<Index>>),
    /// A built site's folder, read again when its `search/meta.js` changes.
    Dir {
        site: PathBuf,
        loaded: Option<(SystemTime, Arc<Index>)>,
    },
}

pub(crate) struct SearchIndex(pub(crate) Mutex<Source>);

impl SearchIndex {
    pub(crate) fn new(source: Source) -> SearchIndex {
        SearchIndex(Mutex::new(source))
    }

    pub(crate) fn set(&self, index: Option<Arc<Index>>) {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Source::Memory(index);
    }

    /// The current index, or why there is none (for the log).
    fn get(&self) -> Result<Arc<Index>, String> {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match &mut *g {
            Source::Memory(Some(index)) => Ok(Arc::clone(index)),
            Source::Memory(None) => Err("no build has made a search index yet".into()),
            Source::Dir { site, loaded } => {
                let meta = site.join("search/meta.js");
                let modified = std::fs::metadata(&meta)
                    .and_then(|m| m.modified())
                    .map_err(|e| format!("{}: {e}", meta.display()))?;
                if let Some((at, index)) = loaded {
                    if *at == modified {
                        return Ok(Arc::clone(index));
                    }
                }
                let index = Index::from_files(|p| std::fs::read_to_string(site.join(p)).ok())
                    .map_err(|e| format!("{}: {e}", site.display()))?;
                let index = Arc::new(index);
                *loaded = Some((modified, Arc::clone(&index)));
                Ok(index)
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Params {
    #[serde(default)]
    q: String,
}

pub(crate) async fn search_page(
    State(inner): State<Arc<Inner>>,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|_| {
        Error::new(
            StatusCode::BAD_REQUEST,
            "搜索词无法识别",
            "搜索地址中的文字编码有误。请回到搜索页面重新输入要查找的词语。",
        )
    })?;
    let query: String = params.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let page = Page::new("search.html", "站内搜索");
    if query.is_empty() {
        return Ok(page.into_response());
    }
    let search = Arc::clone(&inner.search);
    let index = tokio::task::spawn_blocking(move || search.get())
        .await
        .map_err(|_| unavailable())?;
    let index = index.map_err(|e| {
        tracing::warn!("search: {e}");
        unavailable()
    })?;
    let results = index.search(&query, LIMIT);
    Ok(page
        .with("page_title", &format!("“{query}”的搜索结果"))
        .with("search", &results)
        .into_response())
}

fn unavailable() -> Error {
    Error::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "搜索暂时不可用",
        "站内搜索的索引暂时无法读取。请稍后再试，或从首页和各栏目页查找。",
    )
}
