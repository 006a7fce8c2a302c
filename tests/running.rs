//! End to end: gazette run for real. `gazette serve --production` serves a
//! built folder with the intake and none of the development parts;
//! `gazette backup` copies the database while returns come in; the
//! `deploy/` recipe (systemd units, nginx, Caddy) is checked by the
//! programs that run it, and the two proxies, run for real in front of the
//! production server, answer every kind of path as the server itself does.

use crate::common::{self, department, http, Server, Site};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bundled site, built into its `public/`.
fn built_site() -> Site {
    let site = Site::bundled();
    let out = common::run(&["build"], site.path(), &[]);
    assert!(
        out.status.success(),
        "gazette build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    site
}

fn env(site: &Site) -> Vec<(&'static str, String)> {
    vec![
        ("GAZETTE_INTAKE_LISTEN", "127.0.0.1:0".into()),
        ("GAZETTE_INTAKE_RATE_LIMIT", "0".into()),
        ("GAZETTE_INTAKE_DATABASE", "var/production.db".into()),
        (
            "GAZETTE_MAIL_TRANSPORT",
            site.path().join("outbox").display().to_string(),
        ),
    ]
}

fn production(site: &Site) -> Server {
    let mut env = env(site);
    let hash = intake::admin::hash_password("a long test passphrase").expect("hash");
    env.push(("GAZETTE_ADMIN_PASSWORD_HASH", hash));
    Server::start(&["serve", "--production"], site.path(), &env)
}

/// How many inotify instances the process holds: a file watcher has one.
fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc/PID/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("inotify"))
        .count()
}

#[test]
fn production_mode_serves_the_built_folder_without_the_development_parts() {
    let site = built_site();
    let mut server = production(&site);
    let addr = server.addr;
    let home = http::get(addr, "/");
    assert_eq!(home.status, 200);
    assert!(home.text().contains("梅市人社函"), "{}", home.text());
    assert!(
        !home.text().contains("__gazette"),
        "no reload script in production"
    );
    assert_eq!(http::get(addr, "/__gazette/reload.js").status, 404);
    assert_eq!(http::get(addr, "/__gazette/events").status, 404);
    assert_eq!(
        inotify_instances(server.pid().expect("pid")),
        0,
        "no watcher runs"
    );
    // The navigation's pages, a folder without its slash, a 404.
    assert_eq!(http::get(addr, "/forms/index.html").status, 200);
    let folder = http::get(addr, "/forms/departments");
    assert_eq!(folder.status, 301);
    assert_eq!(folder.header("location"), Some("/forms/departments/"));
    let missing = http::get(addr, "/no/such/page.html");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<html"), "the site's 404 page");
    // A slow link revalidates instead of downloading again.
    let etag = home.header("etag").expect("ETag").to_string();
    let again = http::get_with(addr, "/", &[("If-None-Match", etag.as_str())]);
    assert_eq!(again.status, 304);
    assert!(home.header("content-security-policy").is_some());

    // The intake is on the same port.
    let r = http::post_form(
        addr,
        "/forms/departments",
        &http::encode(&department("梅州市生产局")),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let receipt = r.header("location").expect("receipt").to_string();
    assert!(http::get(addr, &receipt).text().contains("梅州市生产局"));

    // Publishing is `gazette build`: on the air at once, search included.
    let marker = "zqxjkvproduction";
    let before = http::get(addr, &format!("/search?q={marker}"));
    assert!(before.text().contains("没有找到"), "{}", before.text());
    let about = site.read("content/about.md");
    site.write("content/about.md", &format!("{about}\n\n{marker}\n"));
    let out = common::run(&["build"], site.path(), &[]);
    assert!(out.status.success());
    let found = common::eventually(Duration::from_secs(10), || {
        let page = http::get(addr, &format!("/search?q={marker}"));
        page.text().contains("共找到 1 条结果").then_some(page)
    });
    assert!(found.is_some(), "GET /search finds the newly built page");
    assert!(server.stop().is_some_and(|s| s.success()));
}

#[test]
fn production_mode_without_a_built_folder_says_to_build() {
    let site = Site::bundled();
    let err = Server::try_start(&["serve", "--production"], site.path(), &env(&site))
        .err()
        .expect("refused");
    assert!(err.contains("gazette build"), "{err}");
}

#[test]
fn a_backup_while_posting_holds_every_return_acknowledged_before_it_began() {
    let site = Site::with_repo_forms();
    let server = Server::start(&["intake"], site.path(), &env(&site));
    let addr = server.addr;
    let post = move |i: usize| {
        let unit = format!("梅州市备份测试{i}局");
        let r = http::post_form(
            addr,
            "/forms/departments",
            &http::encode(&department(&unit)),
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let location = r.header("location").expect("receipt").to_string();
        location.rsplit('/').next().expect("token")[..8].to_string()
    };
    let before: Vec<String> = (0..40).map(post).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let posting = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                post(1000 + n);
                n += 1;
            }
            n
        })
    };
    // Posts are flowing while the copy is taken.
    std::thread::sleep(Duration::from_millis(200));
    let copy = site.path().join("copies/gazette.db");
    let out = common::run(
        &["backup", "--output", copy.to_str().unwrap()],
        site.path(),
        &env(&site),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = posting.join().expect("posting thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(during > 0, "posts went on beside the backup");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("backed up"), "{said}");

    let conn = rusqlite::Connection::open(&copy).expect("the copy opens");
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    for reference in &before {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM submissions WHERE reference = ?1",
                [reference],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{reference} acknowledged before the backup is in it");
    }
    assert!(!site.path().join("copies/gazette.db.partial").exists());
    // The copy is a database the intake can run on (restore).
    let restored = Site::with_repo_forms();
    std::fs::create_dir_all(restored.path().join("var")).unwrap();
    std::fs::copy(&copy, restored.path().join("var/production.db")).unwrap();
    let server2 = Server::start(&["intake"], restored.path(), &env(&restored));
    let health = http::get(server2.addr, "/healthz");
    assert_eq!(health.status, 200, "{}", health.text());
}

#[test]
fn a_backup_of_no_database_says_so() {
    let site = Site::with_repo_forms();
    let out = common::run(&["backup"], site.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no database"), "{err}");
    // PostgreSQL has its own tools; the password is not repeated.
    let out = common::run(
        &["backup"],
        site.path(),
        &[(
            "GAZETTE_INTAKE_DATABASE",
            "postgres://gazette:s3cret@127.0.0.1/gazette".into(),
        )],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump") && !err.contains("s3cret"), "{err}");
}

// The deploy/ recipe.

fn deploy(name: &str) -> PathBuf {
    common::repo().join("deploy").join(name)
}

/// An outside program the test command installs; missing means the
/// machine was not set up by `tests/run.sh`.
fn program(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is missing: apt-get install {package} (tests/run.sh does)");
}

#[test]
fn the_systemd_units_verify_and_are_sandboxed() {
    let analyze = program("systemd-analyze", "systemd");
    let dir = tempfile::tempdir().unwrap();
    // `verify` wants ExecStart's program to exist: point it at this build.
    let bin = common::gazette_bin();
    for unit in [
        "gazette.service",
        "gazette-backup.service",
        "gazette-backup.timer",
    ] {
        let text = std::fs::read_to_string(deploy(unit))
            .unwrap()
            .replace("/usr/local/bin/gazette", bin.to_str().unwrap());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(dir.path().join("gazette.service"))
        .arg(dir.path().join("gazette-backup.service"))
        .arg(dir.path().join("gazette-backup.timer"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    // Lines about the host's own units (this machine may not boot with
    // systemd) are not ours; lines about our files are failures.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("gazette")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {said}");
    assert!(out.status.success(), "systemd-analyze verify: {said}");

    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(dir.path().join("gazette.service"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let exposure = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level: {report}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        exposure <= 2.0,
        "systemd-analyze security rates gazette.service {exposure} (want ≤ 2.0, \"OK\"): {report}"
    );
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proxy {
    child: Child,
}

impl Drop for Proxy {
    /// SIGTERM, so that nginx's master stops its workers (SIGKILL would
    /// leave them running, holding the test's stdout open).
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Starts the proxy (output discarded) and waits until it listens on `port`.
    fn start(mut cmd: Command, name: &'static str, port: u16) -> Proxy {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut proxy = Proxy { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("{name} exited with {status}");
            }
            assert!(Instant::now() < deadline, "{name} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }
}

/// deploy/nginx.conf as it is, with TLS on a self-signed certificate and
/// the site, ports and certificate paths of this test.
fn nginx(site: &Path, intake: SocketAddr, work: &Path) -> (Proxy, u16) {
    let nginx = program("nginx", "nginx-light");
    let openssl = program("openssl", "openssl");
    let (cert, key) = (work.join("cert.pem"), work.join("key.pem"));
    let out = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=gazette.example.gov.cn", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (http_port, https_port) = (free_port(), free_port());
    let server_conf = std::fs::read_to_string(deploy("nginx.conf"))
        .unwrap()
        .replace("listen [::]:80;", "")
        .replace("listen [::]:443 ssl;", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{http_port};"))
        .replace(
            "listen 443 ssl;",
            &format!("listen 127.0.0.1:{https_port} ssl;"),
        )
        .replace("/etc/ssl/gazette/fullchain.pem", cert.to_str().unwrap())
        .replace("/etc/ssl/gazette/privkey.pem", key.to_str().unwrap())
        .replace("/srv/gazette/public", site.join("public").to_str().unwrap())
        .replace("127.0.0.1:8080", &intake.to_string())
        .replace(
            "/etc/nginx/gazette_proxy.conf",
            deploy("gazette_proxy.conf").to_str().unwrap(),
        );
    std::fs::write(work.join("gazette.conf"), server_conf).unwrap();
    let main_conf = format!(
        "pid {w}/nginx.pid;\nerror_log {w}/error.log;\nevents {{}}\nhttp {{\n include /etc/nginx/mime.types;\n access_log off;\n client_body_temp_path {w}/body;\n proxy_temp_path {w}/proxy;\n fastcgi_temp_path {w}/fastcgi;\n uwsgi_temp_path {w}/uwsgi;\n scgi_temp_path {w}/scgi;\n include {w}/gazette.conf;\n}}\n",
        w = work.display()
    );
    std::fs::write(work.join("nginx.conf"), main_conf).unwrap();
    let conf = work.join("nginx.conf");
    let test = Command::new(&nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let mut cmd = Command::new(&nginx);
    cmd.arg("-c").arg(&conf).args(["-g", "daemon off;"]);
    (Proxy::start(cmd, "nginx", https_port), https_port)
}

/// deploy/Caddyfile as it is, on plain HTTP (no certificate authority to
/// ask here), with the site and ports of this test.
fn caddy(site: &Path, intake: SocketAddr, work: &Path) -> (Proxy, u16) {
    let caddy = program("caddy", "caddy");
    let port = free_port();
    let text = std::fs::read_to_string(deploy("Caddyfile"))
        .unwrap()
        .replace(
            "gazette.example.gov.cn {",
            &format!("{{\n\tadmin off\n}}\n\nhttp://127.0.0.1:{port} {{"),
        )
        .replace("/srv/gazette/public", site.join("public").to_str().unwrap())
        .replace("127.0.0.1:8080", &intake.to_string());
    let file = work.join("Caddyfile");
    std::fs::write(&file, text).unwrap();
    let validate = Command::new(&caddy)
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(deploy("Caddyfile"))
        .env("HOME", work)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "caddy validate deploy/Caddyfile: {}",
        String::from_utf8_lossy(&validate.stderr)
    );
    let mut cmd = Command::new(&caddy);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", work)
        .env("XDG_DATA_HOME", work)
        .env("XDG_CONFIG_HOME", work);
    (Proxy::start(cmd, "caddy", port), port)
}

/// One request with curl (TLS with the test's own certificate):
/// status, Location and body.
fn curl(url: &str, post: Option<&str>) -> (u16, String, String) {
    let mut cmd = Command::new(program("curl", "curl"));
    cmd.args(["-sk", "-o", "-", "-w", "\n%{http_code} %{redirect_url}"]);
    if let Some(body) = post {
        cmd.args(["--data-binary", body]);
        cmd.args(["-H", "Content-Type: application/x-www-form-urlencoded"]);
    }
    let out = cmd.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, last) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (code, location) = last.split_once(' ').unwrap_or((last, ""));
    (
        code.parse().unwrap_or(0),
        location.to_string(),
        body.to_string(),
    )
}

#[test]
fn nginx_and_caddy_in_front_answer_every_kind_of_path_as_the_server_does() {
    let site = built_site();
    let server = production(&site);
    let work = tempfile::tempdir().unwrap();
    let (nginx_work, caddy_work) = (work.path().join("nginx"), work.path().join("caddy"));
    std::fs::create_dir_all(&nginx_work).unwrap();
    std::fs::create_dir_all(&caddy_work).unwrap();
    let (_nginx, nginx_port) = nginx(site.path(), server.addr, &nginx_work);
    let (_caddy, caddy_port) = caddy(site.path(), server.addr, &caddy_work);
    let fronts = [
        (
            "gazette serve --production",
            format!("http://{}", server.addr),
        ),
        ("nginx", format!("https://127.0.0.1:{nginx_port}")),
        ("caddy", format!("http://127.0.0.1:{caddy_port}")),
    ];
    // (what, path, post body, status, text the body must hold)
    let checks: Vec<(&str, &str, Option<String>, u16, &str)> = vec![
        ("home", "/", None, 200, "梅市人社函"),
        ("forms index", "/forms/index.html", None, 200, "<html"),
        ("form page", "/forms/departments/", None, 200, "<form"),
        (
            "blank xlsx",
            "/forms/departments/departments.xlsx",
            None,
            200,
            "PK",
        ),
        ("missing page", "/no/such/page.html", None, 404, "<html"),
        ("health", "/healthz", None, 200, "\"ok\""),
        ("search page", "/search/", None, 200, "<form"),
        (
            "server-side search",
            "/search/index.html?q=%E5%AF%86%E7%A0%81",
            None,
            200,
            "密码",
        ),
        ("admin", "/admin/login", None, 200, "<form"),
        (
            "invalid return",
            "/forms/departments",
            Some("unit_name=".into()),
            422,
            "单位",
        ),
    ];
    for (front, base) in &fronts {
        for (what, path, body, status, holds) in &checks {
            let (got, _, text) = curl(&format!("{base}{path}"), body.as_deref());
            assert_eq!(got, *status, "{front}: {what} {path}: {text}");
            assert!(text.contains(holds), "{front}: {what} {path}: {text}");
        }
        // A valid return through the front: 303 to a receipt that opens
        // through the same front.
        let unit = format!("{front}测试单位");
        let (got, location, text) = curl(
            &format!("{base}/forms/departments"),
            Some(&http::encode(&department(&unit))),
        );
        assert_eq!(got, 303, "{front}: post: {text}");
        let receipt = location
            .find("/receipts/")
            .map(|i| location[i..].to_string())
            .unwrap_or_else(|| panic!("{front}: Location {location}"));
        let (got, _, text) = curl(&format!("{base}{receipt}"), None);
        assert_eq!(got, 200, "{front}: receipt");
        assert!(text.contains(&unit), "{front}: receipt: {text}");
    }
}
