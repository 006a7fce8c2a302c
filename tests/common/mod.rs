//! Helpers shared by the end-to-end tests: a temporary site, the real
//! `gazette` binary started with environment overrides (and, on top of it,
//! [`Intake::builder`] for a running intake), the same service in-process for
//! requests through its router, a plain HTTP/1.1 client, a real SMTP server
//! on loopback, a throwaway Dovecot for the office mailbox, and a small MIME
//! reader.
#![allow(dead_code)]

pub mod dovecot;
pub mod http;
pub mod in_process;
pub mod mime;
pub mod postgres;
pub mod service;
pub mod smtp;

pub use service::{Intake, IntakeBuilder};

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The header row of 附件1 (content/forms/departments.toml) as its blank
/// spreadsheet spells it: required columns marked `*`.
pub const DEPARTMENT_HEADER: [&str; 14] = [
    "*单位全称",
    "*统一社会信用代码",
    "*单位类型",
    "*单位地址",
    "邮政编码",
    "*系统管理员姓名",
    "职务",
    "所在科室",
    "*办公电话",
    "*手机",
    "传真",
    "*电子邮箱",
    "备注",
    "*填报人",
];

/// The repository (where `gazette.toml` and `content/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn gazette_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gazette"))
}

/// A site folder in a temporary directory, removed on drop.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A number the SQL query gives from the site's database (0 before
    /// the database exists).
    pub fn count(&self, sql: &str) -> i64 {
        let path = self.path().join("var/gazette.db");
        if !path.exists() {
            return 0;
        }
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// An empty folder.
    pub fn empty() -> Site {
        Site {
            dir: tempfile::Builder::new()
                .prefix("gazette-test-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// A copy of the repository's `gazette.toml` and `content/`.
    pub fn copy_of_repo() -> Site {
        let site = Site::empty();
        std::fs::copy(
            repo().join("gazette.toml"),
            site.path().join("gazette.toml"),
        )
        .expect("copy gazette.toml");
        copy_dir(&repo().join("content"), &site.path().join("content"));
        site
    }

    /// The bundled site as `gazette build` needs it: `gazette.toml`,
    /// `content/` and `manuals/`.
    pub fn bundled() -> Site {
        let site = Site::copy_of_repo();
        copy_dir(&repo().join("manuals"), &site.path().join("manuals"));
        site
    }

    /// The repository's `gazette.toml` and its form definitions only.
    pub fn with_repo_forms() -> Site {
        let site = Site::empty();
        std::fs::copy(
            repo().join("gazette.toml"),
            site.path().join("gazette.toml"),
        )
        .expect("copy gazette.toml");
        copy_dir(
            &repo().join("content/forms"),
            &site.path().join("content/forms"),
        );
        site
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Builds `gazette <args[0]> --root <root> <args[1..]>` with `env`, and with every
/// `GAZETTE_*` variable of the test process removed so the tests do not
/// depend on the developer's shell.
pub fn command(args: &[&str], root: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = gazette();
    // `--root` right after the command name, so it also works before a
    // nested subcommand (`gazette outbox --root DIR retry`).
    let (first, rest) = args.split_first().expect("a command");
    cmd.arg(first).arg("--root").arg(root).args(rest);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The `gazette` binary without any `GAZETTE_*` variable of the test
/// process, and without colours.
pub fn gazette() -> Command {
    let mut cmd = Command::new(gazette_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("GAZETTE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A text file, or a panic naming it.
/// Builds the bundled site into `out` with the real binary; panics with
/// its stderr if the build fails.
pub fn build_bundled(out: &Path) {
    let result = gazette()
        .args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(out)
        .output()
        .expect("gazette runs");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs a `gazette` command to completion.
pub fn run(args: &[&str], root: &Path, env: &[(&str, String)]) -> Output {
    command(args, root, env).output().expect("run gazette")
}

/// A running `gazette` server process, killed on drop.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Everything the process wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `gazette <args> --root <root>` and waits (up to 30 s) for the
    /// line on stdout that names its address (`... http://127.0.0.1:PORT`).
    /// Pass `GAZETTE_INTAKE_LISTEN=127.0.0.1:0` to get a free port.
    pub fn start(args: &[&str], root: &Path, env: &[(&str, String)]) -> Server {
        match Server::try_start(args, root, env) {
            Ok(s) => s,
            Err(e) => panic!("gazette {args:?} did not start: {e}"),
        }
    }

    /// Like [`Server::start`], but an early exit is an `Err` with its stderr.
    pub fn try_start(args: &[&str], root: &Path, env: &[(&str, String)]) -> Result<Server, String> {
        let mut child = command(args, root, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let log2 = Arc::clone(&log);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => log2
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(addr) = address_in(&line) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Server {
                    child: Some(child),
                    addr,
                    log,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                // The pipe closes with the process: all of stderr is in.
                let _ = stderr_reader.join();
                return Err(format!("exited with {status}: {}", log.lock().unwrap()));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("no address within 30 s: {}", log.lock().unwrap()));
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then wait up to 10 s; `None` if it had to be killed.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.stop_within(Duration::from_secs(10))
    }

    /// SIGTERM, then wait up to `limit`; `None` if it had to be killed.
    pub fn stop_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let pid = libc::pid_t::try_from(c.id()).expect("pid");
        // SAFETY: a plain syscall on our own child, which has not been reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `http://127.0.0.1:8080` anywhere in a line → the socket address.
fn address_in(line: &str) -> Option<SocketAddr> {
    let start = line.find("http://")? + "http://".len();
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c == '/' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Polls `f` every 20 ms until it returns `Some`, or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A valid 附件1 return for `unit`, as (field, value) pairs, the honeypot
/// left empty: the one the end-to-end tests post.
pub fn department(unit: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("unit_name", unit),
        ("uscc", "11441700007280420Y"),
        ("unit_type", "机关"),
        ("address", "梅州市梅江区江南路1号"),
        ("postcode", "514000"),
        ("admin_name", "张三"),
        ("admin_title", "科长"),
        ("admin_section", "人事科"),
        ("office_phone", "0753-2128309"),
        ("mobile", "13812345678"),
        ("fax", "0753-2128310"),
        ("email", "admin@example.org"),
        ("remarks", ""),
        ("filled_by", "李四"),
        ("website", ""),
    ]
}

/// A valid 附件2 return for `name` choosing two levels (a repeated key).
pub fn committee(name: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("committee_name", name),
        ("series", "卫生技术"),
        ("specialties", "临床医学、护理"),
        ("levels", "中级"),
        ("levels", "副高级"),
        ("scope", "梅州市直单位和各县（市、区）医疗卫生机构"),
        ("founder_name", "梅州市卫生健康局"),
        ("founder_uscc", "11441700007280420Y"),
        ("office_name", "梅州市卫生健康局人事科"),
        ("office_uscc", "11441700007280420Y"),
        ("approval_no", "粤人社函〔2015〕123号"),
        ("approval_date", "2015-03-01"),
        ("valid_until", "2020-12-31"),
        ("admin_name", "王五"),
        ("admin_title", "科员"),
        ("office_phone", "0753-2128309"),
        ("mobile", "13912345678"),
        ("email", "pwh@example.org"),
        ("remarks", "第一行\r\n第二行"),
        ("filled_by", "赵六"),
    ]
}
