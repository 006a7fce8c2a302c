//! Two intake nodes on one PostgreSQL: posts spread over both, one node
//! killed with SIGKILL in the middle of the load. Every 303'd return is
//! stored once, every notification reaches the SMTP sink once (counted by
//! `Message-ID`), and the outbox rows the dead node had claimed are sent by
//! the survivor once their lease has run out.

use crate::common::postgres::{self, Cluster};
use crate::common::smtp::SmtpServer;
use crate::common::{eventually, Intake};
use crate::intake_durability::post;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Four clients posting in a loop, each post to the next live node in turn.
struct Load {
    accepted: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<std::thread::JoinHandle<Result<(), String>>>,
}

impl Load {
    fn start(nodes: Vec<SocketAddr>) -> Load {
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..4)
            .map(|t| {
                let (accepted, stop, nodes) = (accepted.clone(), stop.clone(), nodes.clone());
                std::thread::spawn(move || {
                    let mut dead: HashSet<SocketAddr> = HashSet::new();
                    for i in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                        let live: Vec<_> = nodes.iter().filter(|n| !dead.contains(n)).collect();
                        let Some(&&node) = live.get((i + t) % live.len().max(1)) else {
                            return Err("no node left".into());
                        };
                        match post(node, &format!("双节点单位{t}-{i}")) {
                            Ok(Some(r)) => accepted.lock().unwrap().push(r),
                            Ok(None) => return Err(format!("a valid post to {node} was refused")),
                            // That node is gone: what was in flight got no 303.
                            Err(_) => {
                                dead.insert(node);
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        Load {
            accepted,
            stop,
            clients,
        }
    }

    fn wait_for(&self, n: usize) {
        let reached = eventually(Duration::from_secs(60), || {
            (self.accepted.lock().unwrap().len() >= n).then_some(())
        });
        assert!(reached.is_some(), "fewer than {n} posts accepted in 60 s");
    }

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

#[test]
fn two_nodes_on_one_postgresql_survive_kill_9_of_one() {
    let url = Cluster::get().new_database();
    let smtp = SmtpServer::start("127.0.0.1:0");
    // Node B's mail server accepts connections and never answers: the rows
    // its worker claims stay claimed, as a node dying mid-send leaves them.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hung.incoming().flatten() {
            held.push(c);
        }
    });
    let node = |transport: String| {
        Intake::builder()
            .database_url(&url)
            .env("GAZETTE_MAIL_TRANSPORT", transport)
            .env("GAZETTE_INTAKE_OUTBOX_LEASE", "3s")
            .env("GAZETTE_MAIL_RETRY_BASE", "200ms")
            .env("GAZETTE_MAIL_RETRY_MAX", "20")
    };
    let a = node(smtp.url()).start();
    let mut b = node(format!("smtp://{hung_addr}")).start();
    // B's name in outbox.claimed_by, from its start-up line (stderr is
    // read by a thread of its own: it may come a moment after "listening").
    let log = eventually(Duration::from_secs(10), || {
        let log = b.log();
        log.contains("outbox node ").then_some(log)
    })
    .unwrap_or_else(|| b.log());
    let b_node = log
        .split("outbox node ")
        .nth(1)
        .and_then(|rest| rest.split(", lease").next())
        .unwrap_or_else(|| panic!("no node name in the log: {log}"))
        .to_string();

    let load = Load::start(vec![a.addr(), b.addr()]);
    load.wait_for(200);
    b.kill9();
    let mut db = postgres::connect(&url);
    // What B held when it died: claimed, unsent, lease not yet over.
    let held: Vec<(i64, i64)> = db
        .query(
            "SELECT id, claimed_until FROM outbox
             WHERE status = 'pending' AND claimed_by = $1",
            &[&b_node],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let at_kill = load.accepted.lock().unwrap().len();
    load.wait_for(at_kill + 100);
    let accepted = load.finish();
    assert!(
        !held.is_empty(),
        "node B had claimed no rows when killed: {}",
        b.log()
    );

    // Every 303'd return is stored exactly once; B's share is among them.
    let stored: HashMap<String, i64> = db
        .query(
            "SELECT reference, COUNT(*) FROM submissions GROUP BY reference",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let lost: Vec<_> = accepted
        .iter()
        .filter(|r| stored.get(*r) != Some(&1))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted not stored once: {lost:?}",
        lost.len(),
        accepted.len()
    );
    let unique: HashSet<&String> = accepted.iter().collect();
    assert_eq!(unique.len(), accepted.len(), "a reference given twice");

    // Every stored return (303'd or cut off mid-answer) is emailed by the
    // survivor, each once: as many mails as distinct Message-IDs.
    let want: HashSet<String> = stored.keys().map(|r| format!("<{r}@gazette>")).collect();
    let ids = || -> Vec<String> {
        smtp.mails()
            .iter()
            .filter_map(|m| m.header("Message-ID"))
            .collect()
    };
    let all = eventually(Duration::from_secs(90), || {
        let got: HashSet<String> = ids().into_iter().collect();
        want.is_subset(&got).then_some(())
    });
    let got = ids();
    let distinct: HashSet<&String> = got.iter().collect();
    assert!(
        all.is_some(),
        "{} of {} returns never emailed\n{}",
        want.len() - want.intersection(&got.iter().cloned().collect()).count(),
        want.len(),
        a.log()
    );
    // The worker records a send after the sink has taken it: wait for the
    // queue to drain before counting, so a late resend would show.
    let drained = eventually(Duration::from_secs(30), || {
        let n: i64 = db
            .query_one("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'", &[])
            .unwrap()
            .get(0);
        (n == 0).then_some(())
    });
    assert!(drained.is_some(), "outbox not drained\n{}", a.log());
    drop(distinct);
    let got = ids();
    let distinct: HashSet<&String> = got.iter().collect();
    assert_eq!(
        got.len(),
        distinct.len(),
        "some notification was sent twice"
    );
    assert_eq!(distinct.len(), want.len(), "mail for a return not stored");

    // B's claimed rows went out only after their lease ended, from A.
    for (id, until) in &held {
        let r = db
            .query_one("SELECT status, sent_at FROM outbox WHERE id = $1", &[id])
            .unwrap();
        let (status, sent_at): (String, Option<i64>) = (r.get(0), r.get(1));
        assert_eq!(status, "sent", "row {id}");
        assert!(
            sent_at.unwrap_or(0) >= *until,
            "row {id} sent at {sent_at:?}, before B's lease ended at {until}"
        );
    }
    eprintln!(
        "two nodes: {} accepted ({} before the kill), {} stored, {} rows taken over from B, {} mails",
        accepted.len(),
        at_kill,
        stored.len(),
        held.len(),
        got.len()
    );
}

/// The database goes away under a running node and comes back: posts made
/// meanwhile get no 303 (nothing is acknowledged that was not committed),
/// `/healthz` says so, and once it is back posts are stored again and the
/// notifications that waited are sent.
#[test]
fn a_database_restart_refuses_posts_meanwhile_and_then_recovers() {
    let cluster = Cluster::private();
    let url = cluster.new_database();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let node = Intake::builder().database_url(&url).smtp(&smtp).start();
    let first = post(node.addr(), "重启前单位")
        .unwrap()
        .expect("303 before");

    cluster.down();
    let during = post(node.addr(), "停库单位").unwrap();
    assert_eq!(
        during, None,
        "a post was acknowledged with the database down"
    );
    let health = node.get("/healthz");
    assert_eq!(health.status, 503, "{}", health.text());

    cluster.up();
    // The writer reconnects for the next batch; the pool replaces its reads.
    let after = eventually(Duration::from_secs(20), || {
        post(node.addr(), "重启后单位").ok().flatten()
    })
    .unwrap_or_else(|| panic!("no post stored after the restart\n{}", node.log()));
    let healthy = eventually(Duration::from_secs(20), || {
        (node.get("/healthz").status == 200).then_some(())
    });
    assert!(healthy.is_some(), "{}", node.get("/healthz").text());
    let stored = node.references();
    assert_eq!(stored.get(&first), Some(&1));
    assert_eq!(stored.get(&after), Some(&1));
    let want: HashSet<String> = [&first, &after]
        .iter()
        .map(|r| format!("<{r}@gazette>"))
        .collect();
    let sent = eventually(Duration::from_secs(30), || {
        let got: HashSet<String> = smtp
            .mails()
            .iter()
            .filter_map(|m| m.header("Message-ID"))
            .collect();
        want.is_subset(&got).then_some(())
    });
    assert!(sent.is_some(), "{}", node.log());
}

/// Nothing is refused on PostgreSQL any more: a node starts with the admin
/// pages, copies to filers and the 一览表 export on it; only `gazette
/// backup`, which copies a SQLite file, points to pg_dump instead, and no
/// file named after the connection string is made.
#[test]
fn on_postgresql_every_setting_starts_and_backup_points_to_pg_dump() {
    let url = Cluster::get().new_database();
    let node = Intake::builder()
        .database_url(&url)
        .env("GAZETTE_INTAKE_CONFIRM_TO_FILER", "true")
        .env(
            "GAZETTE_ADMIN_PASSWORD_HASH",
            intake::admin::hash_password("节点 admin").expect("hash"),
        )
        .start();
    let reference = node.submit("departments", &crate::common::department("梅州市全功能局"));
    let login = node.get("/admin/login");
    assert_eq!(login.status, 200, "{}", login.text());
    let out = node.run(&["export", "departments", "--output", "-", "--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&reference));
    let out = node.run(&["backup"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!node.site.path().join("postgres:").exists());
}
