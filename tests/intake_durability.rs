//! What survives: `kill -9` in the middle of a stream of posts, a mail server
//! that is down or hangs, and notifications that ran out of tries.

use crate::common::http::{self, encode};
use crate::common::smtp::SmtpServer;
use crate::common::{eventually, free_port, Intake, IntakeBuilder, Site};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An intake mailing to `transport`, retrying from `retry_base` up to
/// `retry_max` times.
fn intake(transport: &str, retry_base: &str, retry_max: u32) -> IntakeBuilder {
    Intake::builder()
        .env("GAZETTE_MAIL_TRANSPORT", transport)
        .env("GAZETTE_MAIL_RETRY_BASE", retry_base)
        .env("GAZETTE_MAIL_RETRY_MAX", retry_max.to_string())
}

fn department(unit: &str) -> String {
    encode(&[
        ("unit_name", unit),
        ("uscc", "11441700007280420Y"),
        ("unit_type", "事业单位"),
        ("address", "梅州市梅江区江南路1号"),
        ("postcode", "514000"),
        ("admin_name", "张三"),
        ("office_phone", "0753-2128309"),
        ("mobile", "13812345678"),
        ("email", "admin@example.org"),
        ("filled_by", "李四"),
    ])
}

/// Posts as a script would (`Accept: application/json`); `Some(ref)` on 303.
pub(crate) fn post(
    addr: std::net::SocketAddr,
    unit: &str,
) -> Result<Option<String>, std::io::Error> {
    let res = http::request(
        addr,
        "POST",
        "/forms/departments",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ],
        department(unit).as_bytes(),
    )?;
    if res.status != 303 {
        return Ok(None);
    }
    Ok(res.json()["ref"].as_str().map(str::to_string))
}

pub(crate) fn references_emailed(smtp: &SmtpServer) -> HashSet<String> {
    smtp.mails()
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .filter_map(|id| {
            id.strip_prefix('<')
                .and_then(|s| s.strip_suffix("@gazette>"))
                .map(str::to_string)
        })
        .collect()
}

pub(crate) fn outbox_report(site: &Site) -> String {
    let out = crate::common::run(&["outbox"], site.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kill_9_while_posting_loses_no_accepted_return() {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let mut server = intake(&smtp.url(), "200ms", 20).start();
    let addr = server.addr();

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for t in 0..4 {
        let accepted = Arc::clone(&accepted);
        let stop = Arc::clone(&stop);
        clients.push(std::thread::spawn(move || {
            for i in 0..100_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match post(addr, &format!("压力测试单位{t}-{i}")) {
                    Ok(Some(r)) => accepted.lock().unwrap().push(r),
                    Ok(None) => panic!("a valid post was not accepted"),
                    // The server is gone: whatever was in flight got no 303.
                    Err(_) => break,
                }
            }
        }));
    }
    // Let posts (and deliveries) run, then pull the plug mid-stream.
    let started = Instant::now();
    while accepted.lock().unwrap().len() < 250 && started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() >= 50,
        "only {} posts before the kill",
        accepted.len()
    );

    // Every reference that got a 303 is in the database.
    let conn = server.db();
    let mut missing = Vec::new();
    for r in &accepted {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM submissions WHERE reference = ?1",
                [r],
                |row| row.get(0),
            )
            .unwrap();
        if n != 1 {
            missing.push(r.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} accepted returns lost: {missing:?}",
        missing.len(),
        accepted.len()
    );
    let outbox_rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM submissions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(outbox_rows, stored, "each return has its outbox row");
    drop(conn);
    let before_restart = references_emailed(&smtp).len();

    // Restart: what was pending is sent; nothing accepted goes unannounced.
    server.restart(&[]);
    let want: HashSet<String> = accepted.iter().cloned().collect();
    let all_sent = eventually(Duration::from_secs(60), || {
        let got = references_emailed(&smtp);
        want.is_subset(&got).then_some(got)
    });
    let got = references_emailed(&smtp);
    let unsent: Vec<_> = want.difference(&got).take(10).collect();
    assert!(
        all_sent.is_some(),
        "{} of {} accepted returns never emailed, e.g. {unsent:?}\n{}",
        want.difference(&got).count(),
        want.len(),
        server.log()
    );
    eprintln!(
        "kill -9 test: {} accepted before the kill, {} stored, {} emailed before it, all emailed after restart",
        accepted.len(),
        stored,
        before_restart
    );
    // Rows stored whose 303 was lost in the kill are sent too, and every
    // delivery is recorded.
    let done = eventually(Duration::from_secs(20), || {
        let r = outbox_report(&server.site);
        r.contains(" 0 pending, 0 failed").then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(&server.site));
}

#[test]
fn with_the_mail_server_down_posts_succeed_and_every_email_arrives_when_it_is_back() {
    let port = free_port();
    let server = intake(&format!("smtp://127.0.0.1:{port}"), "100ms", 30).start();
    let site = &server.site;
    let mut refs = HashSet::new();
    for i in 0..20 {
        let t = Instant::now();
        let r = post(server.addr(), &format!("停机测试单位{i}")).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "post took {:?}",
            t.elapsed()
        );
        refs.insert(r.expect("303 while the mail server is down"));
    }
    // They wait in the outbox, with the reason.
    let report = eventually(Duration::from_secs(10), || {
        let r = outbox_report(site);
        (r.contains("20 pending") && r.contains("last error")).then_some(r)
    });
    assert!(report.is_some(), "{}", outbox_report(site));

    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}"));
    let arrived = eventually(Duration::from_secs(30), || {
        let got = references_emailed(&smtp);
        refs.is_subset(&got).then_some(got)
    });
    assert!(
        arrived.is_some(),
        "{} of 20 arrived\n{}",
        references_emailed(&smtp).len(),
        server.log()
    );
    let done = eventually(Duration::from_secs(10), || {
        let r = outbox_report(site);
        r.contains("20 sent, 0 pending, 0 failed").then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(site));
}

#[test]
fn a_mail_server_that_hangs_does_not_delay_posts() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let held2 = Arc::clone(&held);
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            held2.lock().unwrap().push(c);
        }
    });
    let server = intake(&format!("smtp://{addr}"), "100ms", 5).start();
    for i in 0..20 {
        let t = Instant::now();
        let r = post(server.addr(), &format!("慢速测试单位{i}")).unwrap();
        assert!(r.is_some());
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "post took {:?}",
            t.elapsed()
        );
    }
    assert!(
        !held.lock().unwrap().is_empty(),
        "the worker is talking to the hung server"
    );
}

#[test]
fn failed_notifications_are_listed_and_requeued_by_the_outbox_command() {
    let port = free_port();
    let server = intake(&format!("smtp://127.0.0.1:{port}"), "50ms", 2).start();
    let site = &server.site;
    let mut refs = HashSet::new();
    for i in 0..3 {
        refs.insert(
            post(server.addr(), &format!("失败测试单位{i}"))
                .unwrap()
                .unwrap(),
        );
    }
    let report = eventually(Duration::from_secs(10), || {
        let r = outbox_report(site);
        r.contains("0 pending, 3 failed").then_some(r)
    })
    .unwrap_or_else(|| outbox_report(site));
    assert!(report.contains("0 pending, 3 failed"), "{report}");
    assert!(report.contains("failed"));
    assert!(report.contains("tries 2"), "{report}");
    assert!(report.contains("last error:"), "{report}");
    assert!(report.contains("gazette outbox retry"), "{report}");
    for r in &refs {
        assert!(report.contains(r.as_str()), "{report}");
    }

    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}"));
    let out = crate::common::run(&["outbox", "retry"], site.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("requeued 3"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The running service picks them up by itself.
    let arrived = eventually(Duration::from_secs(20), || {
        let got = references_emailed(&smtp);
        refs.is_subset(&got).then_some(got)
    });
    assert!(arrived.is_some(), "{}", server.log());
    let done = eventually(Duration::from_secs(10), || {
        let r = outbox_report(site);
        r.contains("3 sent, 0 pending, 0 failed").then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(site));
}

#[test]
fn sigterm_finishes_what_is_queued_and_exits_cleanly() {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let mut server = intake(&smtp.url(), "200ms", 5).start();
    let r = post(server.addr(), "停止测试单位").unwrap().unwrap();
    smtp.wait_for(1, Duration::from_secs(15));
    let status = server
        .stop_within(Duration::from_secs(10))
        .expect("stopped within 10 s of SIGTERM");
    assert!(status.success(), "{status}: {}", server.log());
    // The database is whole and the next start finds the return.
    let conn = server.db();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM submissions WHERE reference = ?1",
            [&r],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(references_emailed(&smtp), HashSet::from([r]));
}
