//! The intake service inside the test process: the same configuration
//! (file plus `GAZETTE_*` overrides), forms, theme and database as
//! `gazette intake` would use, with requests sent straight into its router
//! (`tower::ServiceExt::oneshot`): no process start, no socket, no port.
//! What needs a real process (signals, `kill -9`, the wire) stays with
//! [`super::Intake`].

use super::http::Response;
use super::Site;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt as _;
use std::net::SocketAddr;
use tower::ServiceExt as _;

/// What `Host` says on every request (the intake's own origin).
pub const HOST: &str = "127.0.0.1:8080";

/// The client address the rate limit and the logs see.
const CLIENT: &str = "127.0.0.1:50000";

pub struct InProcess {
    pub site: Site,
    service: intake::Service,
    router: axum::Router,
    /// The PostgreSQL database, when the service runs on one.
    database_url: Option<String>,
}

impl InProcess {
    /// Opens the service on `site` with these overrides (and no `GAZETTE_*`
    /// variable of the test process) and starts its outbox worker.
    pub(super) fn open(site: Site, env: &[(&str, String)]) -> InProcess {
        let vars = env.iter().map(|(k, v)| (k.to_string(), v.clone()));
        let config = config::Config::load_with_env(site.path(), vars).expect("configuration");
        let forms = forms::FormDef::load_dir(&site.path().join("content/forms")).expect("forms");
        let theme = theme::Theme::load(site.path()).expect("theme");
        let database_url = config.database_url();
        let service = intake::Service::new(config, forms, theme).expect("service");
        service.start_outbox().expect("outbox worker");
        let router = service.standalone_router();
        InProcess {
            site,
            service,
            router,
            database_url,
        }
    }

    /// One request through the router. Like [`super::http::request`],
    /// `Host` and (unless `headers` has `Transfer-Encoding` or one of its
    /// own) `Content-Length` are added; a "chunked" body simply comes without
    /// a length, as hyper hands it to the handler.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", HOST);
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if !has("transfer-encoding") && !has("content-length") {
            req = req.header("Content-Length", body.len());
        }
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("transfer-encoding") {
                req = req.header(*k, *v);
            }
        }
        let mut req = req.body(Body::from(body)).expect("a request");
        let client: SocketAddr = CLIENT.parse().expect("address");
        req.extensions_mut().insert(ConnectInfo(client));
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes()
            .to_vec();
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], Vec::new()).await
    }

    /// Stored returns.
    pub fn rows(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM submissions")
    }

    /// A number the SQL query gives, either engine.
    pub fn count(&self, sql: &str) -> i64 {
        match &self.database_url {
            // The blocking client runs a runtime of its own: not on this one.
            Some(url) => {
                let (url, sql) = (url.clone(), sql.to_string());
                std::thread::spawn(move || {
                    super::postgres::connect(&url)
                        .query_one(&sql, &[])
                        .map(|r| r.get::<_, i64>(0))
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                })
                .join()
                .expect("count thread")
            }
            None => self.site.count(sql),
        }
    }

    /// Runs statements on the service's database, either engine.
    pub fn execute(&self, sql: &str) {
        match &self.database_url {
            Some(url) => {
                let (url, sql) = (url.clone(), sql.to_string());
                std::thread::spawn(move || {
                    super::postgres::connect(&url)
                        .batch_execute(&sql)
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                })
                .join()
                .expect("execute thread")
            }
            None => rusqlite::Connection::open(self.site.path().join("var/gazette.db"))
                .and_then(|c| c.execute_batch(sql))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    /// The outbox worker's passes over the queue since start (`/healthz`).
    pub async fn outbox_passes(&self) -> u64 {
        let health = self.get("/healthz").await.json();
        health["outbox_passes"]
            .as_u64()
            .unwrap_or_else(|| panic!("no outbox_passes in {health}"))
    }

    /// Returns once the outbox worker has read the queue after this call
    /// began (see [`super::Intake::outbox_looked`]).
    pub async fn outbox_looked(&self) {
        let n = self.outbox_passes().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.outbox_passes().await < n + 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the outbox worker made no pass in 20 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops the worker and the writer as `gazette intake` does on exit.
    pub async fn shutdown(self) {
        drop(self.router);
        self.service.shutdown().await;
    }
}
