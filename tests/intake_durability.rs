//! What survives: `kill -9` in the middle of a stream of posts, a mail server
//! that is down or hangs, and notifications that ran out of tries.

use crate::both;
use crate::common::http::{self, encode};
use crate::common::postgres::Engine;
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

pub(crate) fn outbox_report(server: &Intake) -> String {
    let out = server.run(&["outbox"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Four clients posting valid returns in a loop, as fast as they are
/// answered, until the server goes away.
struct Posting {
    accepted: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<std::thread::JoinHandle<Result<(), String>>>,
}

impl Posting {
    fn start(addr: std::net::SocketAddr, unit: &str) -> Posting {
        let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..4)
            .map(|t| {
                let accepted = Arc::clone(&accepted);
                let stop = Arc::clone(&stop);
                let unit = unit.to_string();
                std::thread::spawn(move || {
                    for i in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let name = format!("{unit}{t}-{i}");
                        match post(addr, &name) {
                            Ok(Some(r)) => accepted.lock().unwrap().push(r),
                            Ok(None) => return Err(format!("{name}: a valid post was refused")),
                            // The server is gone: whatever was in flight got no 303.
                            Err(_) => break,
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        Posting {
            accepted,
            stop,
            clients,
        }
    }

    /// Waits until `n` posts got their 303, or `limit` passed.
    fn wait_for(&self, n: usize, limit: Duration) {
        eventually(limit, || {
            (self.accepted.lock().unwrap().len() >= n).then_some(())
        });
    }

    /// Stops the clients (they stop by themselves once the server is gone)
    /// and gives the references that got a 303.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.clients {
            if let Err(e) = c.join().unwrap() {
                panic!("{e}");
            }
        }
        let accepted = self.accepted.lock().unwrap().clone();
        accepted
    }
}

/// The references of `accepted` not stored in the database.
fn missing_from(server: &Intake, accepted: &[String]) -> Vec<String> {
    let stored = server.references();
    accepted
        .iter()
        .filter(|r| stored.get(*r) != Some(&1))
        .cloned()
        .collect()
}

fn kill_9_while_posting_loses_no_accepted_return(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let mut server = intake(&smtp.url(), "200ms", 20).engine(engine).start();
    let addr = server.addr();

    let posting = Posting::start(addr, "压力测试单位");
    // Let posts (and deliveries) run, then pull the plug mid-stream.
    posting.wait_for(150, Duration::from_secs(30));
    server.kill9();
    let accepted = posting.finish();
    assert!(
        accepted.len() >= 50,
        "only {} posts before the kill",
        accepted.len()
    );

    // Every reference that got a 303 is in the database.
    let missing = missing_from(&server, &accepted);
    assert!(
        missing.is_empty(),
        "{} of {} accepted returns lost: {missing:?}",
        missing.len(),
        accepted.len()
    );
    // One statement: on PostgreSQL a COMMIT the killed node had sent may
    // still land between two separate counts.
    let without =
        server.count("SELECT (SELECT COUNT(*) FROM submissions) - (SELECT COUNT(*) FROM outbox)");
    assert_eq!(without, 0, "each return has its outbox row");
    let stored = server.count("SELECT COUNT(*) FROM submissions");
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
        let r = outbox_report(&server);
        r.contains(" 0 pending, 0 failed").then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(&server));
}

fn with_the_mail_server_down_posts_succeed_and_every_email_arrives_when_it_is_back(engine: Engine) {
    let port = free_port();
    let server = intake(&format!("smtp://127.0.0.1:{port}"), "100ms", 30)
        .engine(engine)
        .start();
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
        let r = outbox_report(&server);
        (r.contains("20 pending") && r.contains("last error")).then_some(r)
    });
    assert!(report.is_some(), "{}", outbox_report(&server));

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
        let r = outbox_report(&server);
        (r.contains("notifications: 20 ") && r.contains(", 0 pending, 0 failed")).then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(&server));
}

fn a_mail_server_that_hangs_does_not_delay_posts(engine: Engine) {
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
    let server = intake(&format!("smtp://{addr}"), "100ms", 5)
        .engine(engine)
        .start();
    let timed_post = |i: usize| {
        let t = Instant::now();
        let r = post(server.addr(), &format!("慢速测试单位{i}")).unwrap();
        assert!(r.is_some());
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "post took {:?}",
            t.elapsed()
        );
    };
    // A first return gives the worker something to send; once it is stuck
    // on the silent server (the listener above holds its connection), posts must still
    // be answered at once.
    timed_post(0);
    let connected = eventually(Duration::from_secs(10), || {
        (!held.lock().unwrap().is_empty()).then_some(())
    });
    assert!(
        connected.is_some(),
        "the worker never connected to the hung server\n{}",
        server.log()
    );
    for i in 1..20 {
        timed_post(i);
    }
}

fn a_mail_server_that_hangs_is_given_up_on_and_every_email_goes_out_once_one_answers(
    engine: Engine,
) {
    // Accepts connections and never says a word (found by the soak test:
    // lettre's timeout covers connecting only, so the outbox waited forever).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        while !stop2.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((c, _)) => held.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        held.len()
    });
    let server = intake(&format!("smtp://{addr}"), "100ms", 50)
        .engine(engine)
        .env("GAZETTE_MAIL_TIMEOUT", "1s")
        .start();
    let refs: HashSet<String> = (0..3)
        .map(|i| {
            post(server.addr(), &format!("无应答测试单位{i}"))
                .unwrap()
                .expect("303")
        })
        .collect();
    // The worker gives up on the silent server and says why.
    let report = eventually(Duration::from_secs(15), || {
        let r = outbox_report(&server);
        r.contains("没有应答").then_some(r)
    });
    assert!(report.is_some(), "{}", outbox_report(&server));
    stop.store(true, Ordering::SeqCst);
    assert!(
        silent.join().unwrap() > 0,
        "nobody talked to the silent server"
    );
    // A real server on the same address: every notification arrives.
    let smtp = SmtpServer::start(&addr.to_string());
    let arrived = eventually(Duration::from_secs(30), || {
        let got = references_emailed(&smtp);
        refs.is_subset(&got).then_some(got)
    });
    assert!(
        arrived.is_some(),
        "{} of 3 arrived\n{}\n{}",
        references_emailed(&smtp).len(),
        outbox_report(&server),
        server.log()
    );
}

fn failed_notifications_are_listed_and_requeued_by_the_outbox_command(engine: Engine) {
    let port = free_port();
    let server = intake(&format!("smtp://127.0.0.1:{port}"), "50ms", 2)
        .engine(engine)
        .start();
    let mut refs = HashSet::new();
    for i in 0..3 {
        refs.insert(
            post(server.addr(), &format!("失败测试单位{i}"))
                .unwrap()
                .unwrap(),
        );
    }
    let report = eventually(Duration::from_secs(10), || {
        let r = outbox_report(&server);
        r.contains("0 pending, 3 failed").then_some(r)
    })
    .unwrap_or_else(|| outbox_report(&server));
    assert!(report.contains("0 pending, 3 failed"), "{report}");
    assert!(report.contains("failed"));
    assert!(report.contains("tries 2"), "{report}");
    assert!(report.contains("last error:"), "{report}");
    assert!(report.contains("gazette outbox retry"), "{report}");
    for r in &refs {
        assert!(report.contains(r.as_str()), "{report}");
    }

    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}"));
    let out = server.run(&["outbox", "retry"]);
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
        let r = outbox_report(&server);
        // "3 sent" or "3 written to the folder": `gazette outbox` words it
        // by the configuration it reads (here without the server's env).
        (r.contains("notifications: 3 ") && r.contains(", 0 pending, 0 failed")).then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(&server));
}

fn sigterm_finishes_what_is_queued_and_exits_cleanly(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let mut server = intake(&smtp.url(), "200ms", 5).engine(engine).start();
    let r = post(server.addr(), "停止测试单位").unwrap().unwrap();
    smtp.wait_for(1, Duration::from_secs(15));
    let status = server
        .stop_within(Duration::from_secs(10))
        .expect("stopped within 10 s of SIGTERM");
    assert!(status.success(), "{status}: {}", server.log());
    // The database is whole and the next start finds the return.
    assert_eq!(server.references().get(&r), Some(&1));
    assert_eq!(references_emailed(&smtp), HashSet::from([r]));
}

/// SIGTERM in the middle of a stream of posts, with the mail server down so
/// notifications are pending: the process exits within seconds, every
/// return that got its 303 is stored, and the next start sends them all.
fn sigterm_while_posting(builder: IntakeBuilder) {
    let port = free_port();
    let mut server = builder
        .env("GAZETTE_MAIL_TRANSPORT", format!("smtp://127.0.0.1:{port}"))
        .env("GAZETTE_MAIL_RETRY_BASE", "300ms")
        .env("GAZETTE_MAIL_RETRY_MAX", "50")
        .start();
    let posting = Posting::start(server.addr(), "停机信号测试单位");
    posting.wait_for(100, Duration::from_secs(30));
    let signalled = Instant::now();
    let status = server.stop_within(Duration::from_secs(10));
    let took = signalled.elapsed();
    let accepted = posting.finish();
    let status = status.unwrap_or_else(|| {
        panic!(
            "still running 10 s after SIGTERM (killed): {}",
            server.log()
        )
    });
    assert!(status.success(), "{status}: {}", server.log());
    assert!(
        accepted.len() >= 50,
        "only {} posts before SIGTERM",
        accepted.len()
    );
    let missing = missing_from(&server, &accepted);
    assert!(
        missing.is_empty(),
        "{} of {} accepted returns lost: {missing:?}",
        missing.len(),
        accepted.len()
    );
    let pending = server.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'");
    assert!(
        pending > 0,
        "the mail server was down: nothing can have been sent"
    );
    eprintln!(
        "SIGTERM test: exited {took:?} after the signal, {} accepted, {pending} notifications pending",
        accepted.len()
    );

    // The mail server is back; the next start delivers what was pending.
    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}"));
    server.restart(&[]);
    let want: HashSet<String> = accepted.iter().cloned().collect();
    let all_sent = eventually(Duration::from_secs(60), || {
        want.is_subset(&references_emailed(&smtp)).then_some(())
    });
    assert!(
        all_sent.is_some(),
        "{} of {} accepted returns emailed after the restart\n{}",
        want.intersection(&references_emailed(&smtp)).count(),
        want.len(),
        server.log()
    );
    let done = eventually(Duration::from_secs(20), || {
        let r = outbox_report(&server);
        r.contains(" 0 pending, 0 failed").then_some(r)
    });
    assert!(done.is_some(), "{}", outbox_report(&server));
}

fn sigterm_while_posting_intake_exits_soon_and_keeps_every_accepted_return(engine: Engine) {
    sigterm_while_posting(Intake::builder().engine(engine));
}

#[test]
fn sigterm_while_posting_serve_exits_soon_and_keeps_every_accepted_return() {
    sigterm_while_posting(Intake::builder().serve().site(Site::bundled()));
}

both!(
    kill_9_while_posting_loses_no_accepted_return,
    with_the_mail_server_down_posts_succeed_and_every_email_arrives_when_it_is_back,
    a_mail_server_that_hangs_does_not_delay_posts,
    a_mail_server_that_hangs_is_given_up_on_and_every_email_goes_out_once_one_answers,
    failed_notifications_are_listed_and_requeued_by_the_outbox_command,
    sigterm_finishes_what_is_queued_and_exits_cleanly,
    sigterm_while_posting_intake_exits_soon_and_keeps_every_accepted_return,
);
