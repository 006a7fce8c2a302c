//! A throwaway PostgreSQL for the tests: `initdb` into a temporary folder,
//! `pg_ctl start` on a free loopback port, one fresh database per intake,
//! `pg_ctl stop` when the test binary exits. Debian's `postgresql` package
//! (installed by tests/run.sh) puts the programs in /usr/lib/postgresql/*/bin.
//! As root (CI), the cluster runs as the `postgres` user: PostgreSQL refuses
//! to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The engine an intake test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Both engines, for tests that run once on each.
pub const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
static PRIVATE: AtomicUsize = AtomicUsize::new(0);

/// Where Debian's PostgreSQL programs are (the newest version present).
fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn run(c: &Cluster, program: &str, args: &[&str]) -> Result<(), String> {
    let exe = c.bin.join(program);
    let mut cmd = if c.as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(&exe);
        cmd
    } else {
        Command::new(&exe)
    };
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

extern "C" fn stop_at_exit() {
    if let Some(Ok(c)) = CLUSTER.get() {
        c.stop();
    }
}

impl Cluster {
    /// The binary's one cluster, started on first use. Fails (with what to
    /// install) when PostgreSQL is missing.
    pub fn get() -> &'static Cluster {
        let c = CLUSTER.get_or_init(|| {
            let c = Cluster::start()?;
            // SAFETY: registers a plain function; runs at process exit.
            unsafe { libc::atexit(stop_at_exit) };
            Ok(c)
        });
        match c {
            Ok(c) => c,
            Err(e) => panic!(
                "PostgreSQL is needed for this test: {e}\n\
                 install it with `apt-get -o DPkg::Lock::Timeout=600 install -y postgresql` (tests/run.sh does)"
            ),
        }
    }

    /// A cluster of the caller's own (one it may stop and start), stopped
    /// when dropped.
    pub fn private() -> Private {
        match Cluster::start() {
            Ok(c) => Private(c),
            Err(e) => panic!(
                "PostgreSQL is needed for this test: {e}\n\
                 install it with `apt-get -o DPkg::Lock::Timeout=600 install -y postgresql` (tests/run.sh does)"
            ),
        }
    }

    fn start() -> Result<Cluster, String> {
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "gazette-pg-{}-{}",
            std::process::id(),
            PRIVATE.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !ok.success() {
                return Err("chown postgres: failed (is the postgres user there?)".into());
            }
        }
        let port = super::free_port();
        let c = Cluster {
            port,
            dir,
            bin,
            as_postgres,
        };
        let data = c.dir.join("data");
        let data = data.to_str().ok_or("temp dir is not UTF-8")?;
        run(
            &c,
            "initdb",
            &[
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                "gazette",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        c.pg_start()?;
        Ok(c)
    }

    fn pg_start(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        run(
            self,
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        )
    }

    fn stop(&self) {
        let data = self.dir.join("data");
        let _ = run(
            self,
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty database; its connection string.
    pub fn new_database(&self) -> String {
        let name = format!("gz_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        // On a thread of its own: the blocking client runs a runtime of its
        // own, which an async test's runtime would not allow.
        let admin_url = self.url("postgres");
        let create = format!("CREATE DATABASE {name}");
        std::thread::spawn(move || {
            ::postgres::Client::connect(&admin_url, ::postgres::NoTls)
                .and_then(|mut c| c.batch_execute(&create))
                .unwrap_or_else(|e| panic!("{create}: {e}"))
        })
        .join()
        .expect("create database");
        self.url(&name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://gazette@127.0.0.1:{}/{db}", self.port)
    }

    pub fn client(&self, db: &str) -> ::postgres::Client {
        ::postgres::Client::connect(&self.url(db), ::postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }
}

/// A cluster of one test's own: [`Private::down`] and [`Private::up`] stop
/// and start it (a database restart or failover, as the intake sees it).
pub struct Private(Cluster);

impl std::ops::Deref for Private {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.0
    }
}

impl Private {
    pub fn down(&self) {
        let data = self.0.dir.join("data");
        run(
            &self.0,
            "pg_ctl",
            &["-D", &data.to_string_lossy(), "-m", "fast", "-w", "stop"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn up(&self) {
        self.0.pg_start().unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A connection to the database behind `url` (one the cluster made).
pub fn connect(url: &str) -> ::postgres::Client {
    ::postgres::Client::connect(url, ::postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// `both!(name)` runs the test `fn name(engine: Engine)` once per engine,
/// as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::postgres::Engine::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::common::postgres::Engine::Postgres)
            }
        }
    )*};
}

/// A site's database on one engine, for tests that run `gazette` commands
/// on it (import, export, outbox): the SQLite file in the site, or a fresh
/// PostgreSQL database named to every command through
/// `GAZETTE_INTAKE_DATABASE`.
pub struct Db {
    root: PathBuf,
    url: Option<String>,
}

impl Db {
    pub fn new(site: &super::Site, engine: Engine) -> Db {
        Db {
            root: site.path().to_path_buf(),
            url: (engine == Engine::Postgres).then(|| Cluster::get().new_database()),
        }
    }

    /// The database a running intake uses.
    pub fn of(intake: &super::Intake) -> Db {
        Db {
            root: intake.site.path().to_path_buf(),
            url: intake.database_url(),
        }
    }

    /// The overrides that name this database, then `extra`.
    pub fn env<'a>(&self, extra: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
        let mut env: Vec<(&'a str, String)> = self
            .url
            .iter()
            .map(|u| ("GAZETTE_INTAKE_DATABASE", u.clone()))
            .collect();
        env.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
        env
    }

    pub fn command(&self, args: &[&str], extra: &[(&str, String)]) -> Command {
        super::command(args, &self.root, &self.env(extra))
    }

    pub fn run(&self, args: &[&str], extra: &[(&str, String)]) -> std::process::Output {
        super::run(args, &self.root, &self.env(extra))
    }

    /// An intake on this database (for PostgreSQL; a SQLite file is the site's).
    pub fn intake(&self, builder: super::IntakeBuilder) -> super::IntakeBuilder {
        match &self.url {
            Some(url) => builder.database_url(url),
            None => builder,
        }
    }

    /// A number the SQL query gives (0 before a SQLite file exists).
    pub fn count(&self, sql: &str) -> i64 {
        match &self.url {
            // No tables yet: nothing has opened the database.
            Some(url) => match connect(url).query_one(sql, &[]) {
                Ok(row) => row.get(0),
                Err(e) if e.code() == Some(&::postgres::error::SqlState::UNDEFINED_TABLE) => 0,
                Err(e) => panic!("{sql}: {e}"),
            },
            None => {
                let path = self.root.join("var/gazette.db");
                if !path.exists() {
                    return 0;
                }
                rusqlite::Connection::open(path)
                    .unwrap()
                    .query_row(sql, [], |r| r.get(0))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }
}
