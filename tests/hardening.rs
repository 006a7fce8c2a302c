//! Issue 17's defects, each proved on the running service: one client cannot
//! take the intake down, and untrusted input cannot exhaust it.

use crate::common::http::encode;
use crate::common::{department, Intake};
use std::sync::Arc;

const PASSWORD: &str = "hardening admin 密码";

fn password_hash() -> String {
    use std::sync::OnceLock;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| intake::admin::hash_password(PASSWORD).expect("hash"))
        .clone()
}

/// Defect 2: wrong passwords sent all at once from one address are not all
/// verified (each argon2 check costs ~19 MiB): the attempt is reserved
/// before the check, and the checks running at once are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_are_not_all_verified() {
    let intake = Arc::new(
        Intake::builder()
            .env("GAZETTE_ADMIN_PASSWORD_HASH", password_hash())
            .in_process(),
    );
    let body = encode(&[("password", "wrong password")]);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (intake, body) = (Arc::clone(&intake), body.clone());
        tasks.spawn(async move {
            let headers = [("Content-Type", "application/x-www-form-urlencoded")];
            intake
                .request("POST", "/admin/login", &headers, body.into_bytes())
                .await
                .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.expect("request task"));
    }
    let wrong = statuses.iter().filter(|s| **s == 403).count();
    let refused = statuses.iter().filter(|s| matches!(s, 429 | 503)).count();
    let verified = intake
        .site
        .count("SELECT COUNT(*) FROM audit WHERE action = '登录失败'");
    assert!(verified <= 5, "{verified} passwords verified: {statuses:?}");
    assert_eq!(wrong as i64, verified, "{statuses:?}");
    assert_eq!(wrong + refused, 50, "{statuses:?}");
}

/// Defect 9: `/healthz` reports the writer's health: 503 while commits
/// fail (here a trigger makes every insert fail, as a full disk would), ok
/// again after the next good commit, with the outbox backlog.
#[tokio::test]
async fn healthz_is_503_while_commits_fail() {
    let intake = Intake::builder().in_process();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let post = |unit: &'static str| {
        let body = encode(&department(unit)).into_bytes();
        intake.request("POST", "/forms/departments", &form, body)
    };
    let health = intake.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["last_commit"], "ok", "{}", health.text());

    let db = rusqlite::Connection::open(intake.site.path().join("var/gazette.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER no_room BEFORE INSERT ON submissions
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    let res = post("梅州市教育局").await;
    assert_eq!(res.status, 503, "{}", res.text());
    let health = intake.get("/healthz").await;
    assert_eq!(health.status, 503, "{}", health.text());
    let reported = health.json()["last_commit"].to_string();
    assert!(reported.contains("disk is full"), "{reported}");

    db.execute_batch("DROP TRIGGER no_room").unwrap();
    let res = post("梅州市财政局").await;
    assert_eq!(res.status, 303, "{}", res.text());
    let health = intake.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["last_commit"], "ok");
    assert!(
        health.json()["outbox_pending"].is_u64(),
        "{}",
        health.text()
    );
}
