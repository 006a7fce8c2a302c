//! One way to get a running intake for a test: `gazette intake` (or
//! `gazette serve`) on a temporary site, with configuration overrides, an SMTP
//! sink or a mail folder, and the site's database at hand.
//!
//! ```ignore
//! let smtp = SmtpServer::start("127.0.0.1:0");
//! let intake = Intake::builder().smtp(&smtp).env("GAZETTE_INTAKE_RATE_LIMIT", "3").start();
//! let reference = intake.submit("departments", &department("梅州市教育局"));
//! ```

use super::http::{self, encode, Response};
use super::in_process::InProcess;
use super::postgres::{Cluster, Engine};
use super::smtp::SmtpServer;
use super::{eventually, Server, Site};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// How a test wants its intake; [`IntakeBuilder::start`] runs it.
pub struct IntakeBuilder {
    site: Option<Site>,
    command: &'static str,
    env: Vec<(&'static str, String)>,
}

impl IntakeBuilder {
    fn new() -> IntakeBuilder {
        IntakeBuilder {
            site: None,
            command: "intake",
            env: vec![
                ("GAZETTE_INTAKE_LISTEN", "127.0.0.1:0".into()),
                ("GAZETTE_INTAKE_RATE_LIMIT", "0".into()),
                ("GAZETTE_MAIL_RETRY_BASE", "100ms".into()),
            ],
        }
    }

    /// The site to serve (default: [`Site::with_repo_forms`]).
    pub fn site(mut self, site: Site) -> Self {
        self.site = Some(site);
        self
    }

    /// Notifications go to this SMTP server (default: `.eml` files in the
    /// site's `outbox/` folder).
    pub fn smtp(self, sink: &SmtpServer) -> Self {
        self.env("GAZETTE_MAIL_TRANSPORT", sink.url())
    }

    /// A `GAZETTE_*` override; a later one for the same key wins.
    /// The database engine: SQLite (the default, a file in the site) or a
    /// fresh database on the test binary's PostgreSQL cluster.
    pub fn engine(self, engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => self,
            Engine::Postgres => {
                let url = Cluster::get().new_database();
                self.env("GAZETTE_INTAKE_DATABASE", url)
            }
        }
    }

    /// This PostgreSQL database (several nodes on one database).
    pub fn database_url(self, url: &str) -> Self {
        self.env("GAZETTE_INTAKE_DATABASE", url.to_string())
    }

    pub fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// `gazette serve` (site and intake on one address) instead of
    /// `gazette intake`.
    pub fn serve(mut self) -> Self {
        self.command = "serve";
        self
    }

    /// The site and the overrides, defaults filled in.
    fn finish(self) -> (Site, &'static str, Vec<(&'static str, String)>) {
        let site = self.site.unwrap_or_else(Site::with_repo_forms);
        let mut env = self.env;
        if !env.iter().any(|(k, _)| *k == "GAZETTE_MAIL_TRANSPORT") {
            let folder = site.path().join("outbox").display().to_string();
            env.push(("GAZETTE_MAIL_TRANSPORT", folder));
        }
        (site, self.command, env)
    }

    /// Starts the process and waits until it listens.
    pub fn start(self) -> Intake {
        match self.try_start() {
            Ok(intake) => intake,
            Err(e) => panic!("did not start: {e}"),
        }
    }

    /// Like [`IntakeBuilder::start`]; an early exit is an `Err` with its stderr.
    pub fn try_start(self) -> Result<Intake, String> {
        let (site, command, env) = self.finish();
        let server = Server::try_start(&[command], site.path(), &env)?;
        Ok(Intake {
            site,
            command,
            env,
            server,
        })
    }

    /// The same service inside the test process, for requests through its
    /// router without a socket (see [`InProcess`]). `serve()` has no effect.
    pub fn in_process(self) -> InProcess {
        let (site, _, env) = self.finish();
        InProcess::open(site, &env)
    }
}

/// A running `gazette intake` (or `serve`) on its own temporary site,
/// killed on drop.
pub struct Intake {
    pub site: Site,
    command: &'static str,
    env: Vec<(&'static str, String)>,
    server: Server,
}

impl Intake {
    pub fn builder() -> IntakeBuilder {
        IntakeBuilder::new()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT`, what a browser on this machine sends as `Origin`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    pub fn get(&self, path: &str) -> Response {
        http::get(self.addr(), path)
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        http::get_with(self.addr(), path, headers)
    }

    /// A browser-like post of `pairs` to `/forms/<form>`.
    pub fn post<K: AsRef<str>, V: AsRef<str>>(&self, form: &str, pairs: &[(K, V)]) -> Response {
        http::post_form(self.addr(), &format!("/forms/{form}"), &encode(pairs))
    }

    /// A urlencoded post to any path with extra headers.
    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        http::post_with(self.addr(), path, headers, body)
    }

    /// Posts a valid return; asserts the 303 and gives back its reference
    /// (the first 8 characters of the receipt token).
    pub fn submit<K: AsRef<str>, V: AsRef<str>>(&self, form: &str, pairs: &[(K, V)]) -> String {
        let res = self.post(form, pairs);
        assert_eq!(res.status, 303, "{}", res.text());
        let location = res.header("location").expect("Location");
        let token = location.rsplit('/').next().expect("token");
        token[..8].to_string()
    }

    /// The PostgreSQL connection string, when the intake runs on one.
    pub fn database_url(&self) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| *k == "GAZETTE_INTAKE_DATABASE")
            .map(|(_, v)| v.clone())
            .filter(|v| v.starts_with("postgres://"))
    }

    pub fn engine(&self) -> Engine {
        match self.database_url() {
            Some(_) => Engine::Postgres,
            None => Engine::Sqlite,
        }
    }

    /// The database the service writes (`[intake] database`).
    pub fn db_path(&self) -> PathBuf {
        match self
            .env
            .iter()
            .find(|(k, _)| *k == "GAZETTE_INTAKE_DATABASE")
        {
            Some((_, p)) => self.site.path().join(p),
            None => self.site.path().join("var/gazette.db"),
        }
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).expect("database")
    }

    /// A number the SQL query gives (0 before the database exists).
    pub fn count(&self, sql: &str) -> i64 {
        if let Some(url) = self.database_url() {
            let row = super::postgres::connect(&url)
                .query_one(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            return row.get(0);
        }
        if !self.db_path().exists() {
            return 0;
        }
        self.db().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// Runs statements on the intake's database, either engine.
    pub fn execute(&self, sql: &str) {
        match self.database_url() {
            Some(url) => super::postgres::connect(&url)
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            None => self
                .db()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// Each stored reference with how many rows carry it (1, unless broken).
    pub fn references(&self) -> std::collections::HashMap<String, i64> {
        let sql = "SELECT reference, COUNT(*) FROM submissions GROUP BY reference";
        if let Some(url) = self.database_url() {
            return super::postgres::connect(&url)
                .query(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        }
        if !self.db_path().exists() {
            return Default::default();
        }
        let db = self.db();
        let mut stmt = db.prepare(sql).expect(sql);
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect(sql);
        rows.collect::<Result<_, _>>().expect(sql)
    }

    /// The rows of a query whose columns are all text (or NULL), on either
    /// engine.
    pub fn texts(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        if let Some(url) = self.database_url() {
            return super::postgres::connect(&url)
                .query(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                .collect();
        }
        let db = self.db();
        let mut stmt = db.prepare(sql).expect(sql);
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .expect(sql);
        rows.collect::<Result<_, _>>().expect(sql)
    }

    /// A `gazette` command on this intake's site and database (its
    /// `[intake] database` override, none of the others).
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let env: Vec<(&str, String)> = self
            .env
            .iter()
            .filter(|(k, _)| *k == "GAZETTE_INTAKE_DATABASE")
            .cloned()
            .collect();
        super::run(args, self.site.path(), &env)
    }

    /// Stored returns.
    pub fn rows(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM submissions")
    }

    /// The outbox worker's passes over the queue since start (`/healthz`).
    pub fn outbox_passes(&self) -> u64 {
        let health = self.get("/healthz").json();
        health["outbox_passes"]
            .as_u64()
            .unwrap_or_else(|| panic!("no outbox_passes in {health}"))
    }

    /// Returns once the outbox worker has read the queue after this call
    /// began: two more passes than now, since the one counted last may have
    /// read the queue before whatever the test just did. "Nothing was sent"
    /// means something only after this.
    pub fn outbox_looked(&self) {
        let n = self.outbox_passes();
        let looked = eventually(Duration::from_secs(20), || {
            (self.outbox_passes() >= n + 2).then_some(())
        });
        assert!(
            looked.is_some(),
            "the outbox worker made no pass in 20 s: {}",
            self.log()
        );
    }

    pub fn pid(&self) -> u32 {
        self.server.pid().expect("running")
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        self.server.kill9();
    }

    /// SIGTERM, then wait up to `limit`; `None` if it had to be killed.
    pub fn stop_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.server.stop_within(limit)
    }

    /// Starts the same command on the same site with the same overrides
    /// again (after [`Intake::kill9`] or a stop), with these changed.
    pub fn restart(&mut self, changes: &[(&'static str, String)]) {
        self.server.kill9();
        for (k, v) in changes {
            self.env.retain(|(a, _)| a != k);
            self.env.push((k, v.clone()));
        }
        self.server = Server::start(&[self.command], self.site.path(), &self.env);
    }
}
