//! `gazette serve --production`: the pages of a folder written by
//! `gazette build`, read from disk on each request. Nothing of development
//! is here: no build, no watcher, no reload script, no error banner; a new
//! `gazette build` into the folder is on the air at once.

use crate::{decode_path, with_type};
use anyhow::Context as _;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub(crate) struct Folder {
    /// Canonical, so that a file's canonical path can be checked against it.
    dir: PathBuf,
}

impl Folder {
    /// The folder must hold a built site (its `index.html`).
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Folder> {
        let dir = dir.canonicalize().with_context(|| {
            format!(
                "{}: no built site here; run `gazette build` first (or name the folder with --site)",
                dir.display()
            )
        })?;
        if !dir.join("index.html").is_file() {
            anyhow::bail!(
                "{}: no index.html; run `gazette build` first (or name the folder with --site)",
                dir.display()
            );
        }
        Ok(Folder { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file of the folder, or a redirect to one of its folders; None if
    /// there is neither (the request goes on to the intake).
    pub(crate) async fn respond(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let rel = decode_path(path)?;
        let key = if rel.is_empty() || rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.clone()
        };
        if let Some(file) = self.file(&key).await {
            return Some(file.respond(&key, headers, StatusCode::OK));
        }
        if !rel.is_empty()
            && !rel.ends_with('/')
            && self.file(&format!("{rel}/index.html")).await.is_some()
        {
            return Some(
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, format!("{path}/"))],
                )
                    .into_response(),
            );
        }
        None
    }

    /// The site's 404 page, or a plain one.
    pub(crate) async fn not_found(&self) -> Response {
        match self.file("404.html").await {
            Some(file) => file.respond("404.html", &HeaderMap::new(), StatusCode::NOT_FOUND),
            None => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 未找到该页面\n",
            )
                .into_response(),
        }
    }

    /// A regular file inside the folder (a symbolic link out of it is
    /// not served).
    async fn file(&self, key: &str) -> Option<File> {
        let path = tokio::fs::canonicalize(self.dir.join(key)).await.ok()?;
        if !path.starts_with(&self.dir) {
            return None;
        }
        let meta = tokio::fs::metadata(&path).await.ok()?;
        if !meta.is_file() {
            return None;
        }
        let bytes = tokio::fs::read(&path).await.ok()?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Some(File {
            etag: format!("\"{:x}-{:x}\"", bytes.len(), modified),
            bytes,
        })
    }
}

struct File {
    bytes: Vec<u8>,
    /// Size and modification time: enough to tell one build's file from
    /// the next, and lets a slow link revalidate instead of downloading.
    etag: String,
}

impl File {
    fn respond(self, key: &str, headers: &HeaderMap, status: StatusCode) -> Response {
        let fresh = status == StatusCode::OK
            && headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag));
        let etag = HeaderValue::from_str(&self.etag).ok();
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (status, self.bytes).into_response()
        };
        if let Some(etag) = etag {
            response.headers_mut().insert(header::ETAG, etag);
        }
        with_type(key, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body(res: Response) -> String {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn serves_files_folders_and_revalidations_and_nothing_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("public");
        std::fs::create_dir_all(site.join("forms")).unwrap();
        std::fs::write(site.join("index.html"), "<p>首页</p>").unwrap();
        std::fs::write(site.join("forms/index.html"), "<p>表格</p>").unwrap();
        std::fs::write(tmp.path().join("secret.db"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(tmp.path().join("secret.db"), site.join("leak.db")).unwrap();
        let folder = Folder::open(&site).unwrap();
        let none = HeaderMap::new();

        let res = folder.respond("/", &none).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let etag = res.headers()[header::ETAG].clone();
        assert_eq!(body(res).await, "<p>首页</p>");

        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        let res = folder.respond("/index.html", &again).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

        let res = folder.respond("/forms", &none).await.unwrap();
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(res.headers()[header::LOCATION], "/forms/");

        assert!(folder.respond("/../secret.db", &none).await.is_none());
        assert!(folder.respond("/leak.db", &none).await.is_none());
        assert!(folder.respond("/forms/x", &none).await.is_none());
        assert_eq!(folder.not_found().await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_folder_without_a_built_site_is_refused_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Folder::open(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("gazette build"), "{e}");
        let e = Folder::open(&tmp.path().join("nope"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("gazette build"), "{e}");
    }
}
