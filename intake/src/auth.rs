//! Admin authentication: the argon2 password, sessions with a CSRF token
//! each, and the per-client brake on wrong passwords. Sessions and failures
//! are kept in the database, so several intake nodes on one PostgreSQL
//! share them (a login at one node is good at the other, a client is
//! slowed down wherever it tries); the rules are the same on SQLite.

use crate::store::sql::{vals, Engine, Sql};
use crate::store::StoreError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore as _;
use std::net::IpAddr;
use std::time::Duration;

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "gazette_admin";

/// A session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(8 * 3600);

/// ... and in any case this long after login.
pub(crate) const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Wrong passwords a client may give before it has to wait.
pub(crate) const FREE_TRIES: u32 = 5;

/// The first wait after [`FREE_TRIES`]; it doubles with each further failure.
pub(crate) const FIRST_WAIT: Duration = Duration::from_secs(30);

/// The longest wait between two tries.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// A client's failures are forgotten after this long without a try.
const FORGET: Duration = Duration::from_secs(24 * 3600);

/// The argon2id PHC string for `password` (what `[admin] password_hash` holds).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether the configured hash is usable at all (a PHC string argon2 reads).
pub(crate) fn hash_is_valid(hash: &str) -> bool {
    PasswordHash::new(hash.trim()).is_ok()
}

/// Checks `password` against the PHC string `hash`. Slow on purpose (argon2):
/// call from a blocking thread.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash.trim()) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// 256 random bits as 64 hex digits.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    crate::refs::hex(&bytes)
}

/// Sessions are kept under the sha256 of their token: the table does not
/// hold a live token, and its lookup timing says nothing useful about one.
fn key(token: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::refs::hex(&Sha256::digest(token.as_bytes()))
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// How stale `seen_at` may get before a request writes it again: a page
/// view is a read, not a write, most of the time.
pub(crate) const SEEN_EVERY: Duration = Duration::from_secs(60);

/// Logged-in browsers, in the database (`admin_sessions`): every node on
/// it knows every session, and a restart logs nobody out. The CSRF token
/// is the session's, so it is good on any node too.
pub(crate) mod sessions {
    use super::*;

    /// A new session: `(token, csrf)`. Sessions past their time go.
    pub(crate) fn create(db: &mut dyn Sql, now: i64) -> Result<(String, String), StoreError> {
        db.execute(
            "DELETE FROM admin_sessions WHERE seen_at <= ?1 OR created_at <= ?2",
            vals![now - ms(IDLE), now - ms(LIFETIME)],
        )?;
        let token = random_token();
        let csrf = random_token();
        db.execute(
            "INSERT INTO admin_sessions (token_hash, csrf, created_at, seen_at) VALUES (?1, ?2, ?3, ?3)",
            vals![key(&token), &csrf, now],
        )?;
        Ok((token, csrf))
    }

    /// The live session's CSRF token, and whether its `seen_at` is due to
    /// be written again ([`seen`]); `None` for an unknown, idle or expired one.
    pub(crate) fn find(
        db: &mut dyn Sql,
        token: &str,
        now: i64,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let Some(r) = db.opt(
            "SELECT csrf, created_at, seen_at FROM admin_sessions WHERE token_hash = ?1",
            vals![key(token)],
        )?
        else {
            return Ok(None);
        };
        let (csrf, created, seen) = (r.text(0)?, r.int(1)?, r.int(2)?);
        let alive = now - seen < ms(IDLE) && now - created < ms(LIFETIME);
        Ok(alive.then_some((csrf, now - seen >= ms(SEEN_EVERY))))
    }

    /// Notes that the session was used at `now`.
    pub(crate) fn seen(db: &mut dyn Sql, token: &str, now: i64) -> Result<(), StoreError> {
        db.execute(
            "UPDATE admin_sessions SET seen_at = ?2 WHERE token_hash = ?1 AND seen_at < ?2",
            vals![key(token), now],
        )?;
        Ok(())
    }

    /// Logout.
    pub(crate) fn remove(db: &mut dyn Sql, token: &str) -> Result<(), StoreError> {
        db.execute(
            "DELETE FROM admin_sessions WHERE token_hash = ?1",
            vals![key(token)],
        )?;
        Ok(())
    }
}

/// Whose wrong passwords are counted together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Trier {
    /// A client address (an IPv6 client by its /64, see `limits::client_key`).
    Address(IpAddr),
    /// A browser with a good device cookie (its nonce).
    Device(String),
}

impl Trier {
    pub(crate) fn of(ip: IpAddr, device: Option<String>) -> Trier {
        match device {
            Some(nonce) => Trier::Device(nonce),
            None => Trier::Address(crate::limits::client_key(ip)),
        }
    }

    /// Its row in `login_failures`.
    fn key(&self) -> String {
        match self {
            Trier::Address(ip) => format!("address:{ip}"),
            Trier::Device(nonce) => format!("device:{nonce}"),
        }
    }
}

/// Wrong passwords from clients without a device cookie, all together,
/// before every such client has to wait (a guess spread over many
/// addresses); devices that logged in before are not held up.
pub(crate) const ACCOUNT_FREE_TRIES: u32 = 50;

/// The account's row in `login_failures`.
const ACCOUNT: &str = "account";

/// How long a client with `count` failures waits after its last one.
#[cfg(test)]
fn wait_after(count: u32) -> Duration {
    wait_after_free(count, FREE_TRIES)
}

fn wait_after_free(count: u32, free: u32) -> Duration {
    if count < free {
        return Duration::ZERO;
    }
    let exp = (count - free).min(16);
    FIRST_WAIT.saturating_mul(1u32 << exp).min(MAX_WAIT)
}

/// `Err(wait)` while `count` failures, the last at `last`, must still wait.
fn must_wait(count: i64, last: i64, free: u32, now: i64) -> Result<(), Duration> {
    let since = now.saturating_sub(last).max(0);
    if since >= ms(FORGET) {
        return Ok(());
    }
    let wait = ms(wait_after_free(
        count.clamp(0, i64::from(u32::MAX)) as u32,
        free,
    ));
    if since < wait {
        Err(Duration::from_millis((wait - since) as u64))
    } else {
        Ok(())
    }
}

/// Wrong passwords per client address or device, in the database
/// (`login_failures`), so a client gets the same brake whichever node it
/// reaches: after [`FREE_TRIES`] it must wait before the next try is even
/// checked, longer after each failure. Failures from addresses also count
/// for the account (see [`ACCOUNT_FREE_TRIES`]). So an attacker locks out
/// only itself, and the admin's browser (with its device cookie) is never
/// locked out by others at its address or anywhere else.
pub(crate) mod throttle {
    use super::*;

    fn failures(db: &mut dyn Sql, who: &str, lock: bool) -> Result<Option<(i64, i64)>, StoreError> {
        // PostgreSQL: the row stays locked to the end of the transaction,
        // so tries at two nodes at once are counted one after the other.
        // (SQLite's writer runs one write at a time anyway.)
        let lock = if lock && db.engine() == Engine::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        db.opt(
            &format!("SELECT count, last_at FROM login_failures WHERE who = ?1{lock}"),
            vals![who],
        )?
        .map(|r| Ok((r.int(0)?, r.int(1)?)))
        .transpose()
    }

    fn check_on(
        db: &mut dyn Sql,
        who: &Trier,
        now: i64,
        lock: bool,
    ) -> Result<Result<(), Duration>, StoreError> {
        if matches!(who, Trier::Address(_)) {
            if let Some((count, last)) = failures(db, ACCOUNT, lock)? {
                if let Err(wait) = must_wait(count, last, ACCOUNT_FREE_TRIES, now) {
                    return Ok(Err(wait));
                }
            }
        }
        Ok(match failures(db, &who.key(), lock)? {
            Some((count, last)) => must_wait(count, last, FREE_TRIES, now),
            None => Ok(()),
        })
    }

    /// `Err(wait)` when `who` must wait before its password is checked.
    pub(crate) fn check(
        db: &mut dyn Sql,
        who: &Trier,
        now: i64,
    ) -> Result<Result<(), Duration>, StoreError> {
        check_on(db, who, now, false)
    }

    /// [`check`], and if it may try, counts the try as failed at once (a
    /// success takes it back): tries sent at once cannot all pass before
    /// the first failure is written. One write transaction.
    pub(crate) fn reserve(
        db: &mut dyn Sql,
        who: &Trier,
        now: i64,
    ) -> Result<Result<(), Duration>, StoreError> {
        let verdict = check_on(db, who, now, true)?;
        if verdict.is_ok() {
            failed(db, who, now)?;
        }
        Ok(verdict)
    }

    fn count(db: &mut dyn Sql, who: &str, now: i64) -> Result<(), StoreError> {
        // Failures older than FORGET start the count again.
        db.execute(
            "INSERT INTO login_failures (who, count, last_at) VALUES (?1, 1, ?2)
             ON CONFLICT (who) DO UPDATE SET
               count = CASE WHEN login_failures.last_at <= ?3 THEN 1 ELSE login_failures.count + 1 END,
               last_at = ?2",
            vals![who, now, now - ms(FORGET)],
        )?;
        Ok(())
    }

    /// One more wrong password from `who` (and for the account, from an address).
    pub(crate) fn failed(db: &mut dyn Sql, who: &Trier, now: i64) -> Result<(), StoreError> {
        // Bounded: what is forgotten goes.
        db.execute(
            "DELETE FROM login_failures WHERE last_at <= ?1",
            vals![now - ms(FORGET)],
        )?;
        count(db, &who.key(), now)?;
        if matches!(who, Trier::Address(_)) {
            count(db, ACCOUNT, now)?;
        }
        Ok(())
    }

    /// A right password: `who` starts again; the account's count loses the
    /// try [`reserve`] counted.
    pub(crate) fn succeeded(db: &mut dyn Sql, who: &Trier) -> Result<(), StoreError> {
        db.execute(
            "DELETE FROM login_failures WHERE who = ?1",
            vals![who.key()],
        )?;
        if matches!(who, Trier::Address(_)) {
            db.execute(
                "UPDATE login_failures SET count = count - 1 WHERE who = ?1 AND count > 0",
                vals![ACCOUNT],
            )?;
        }
        Ok(())
    }
}

/// Name of the device cookie a browser gets at login.
pub(crate) const DEVICE_COOKIE: &str = "gazette_device";

/// How long a device cookie is good for.
pub(crate) const DEVICE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// The proof in a device cookie: sha256 over the password hash (the secret
/// the office holds; a new password drops every device) and the nonce.
fn device_proof(password_hash: &str, nonce: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"gazette device cookie\0");
    h.update(password_hash.trim().as_bytes());
    h.update(b"\0");
    h.update(nonce.as_bytes());
    crate::refs::hex(&h.finalize())
}

/// A new device cookie's value: `nonce.proof`.
pub(crate) fn device_cookie(password_hash: &str) -> String {
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = crate::refs::hex(&nonce);
    let proof = device_proof(password_hash, &nonce);
    format!("{nonce}.{proof}")
}

/// The nonce of a good device cookie value.
pub(crate) fn device_nonce(value: &str, password_hash: &str) -> Option<String> {
    let (nonce, proof) = value.trim().split_once('.')?;
    let ok = nonce.len() == 32
        && nonce.bytes().all(|b| b.is_ascii_hexdigit())
        && same_secret(proof, &device_proof(password_hash, nonce));
    ok.then(|| nonce.to_string())
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    crate::refs::same_token(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_and_rejects() {
        let h = hash_password("梅州 secret 2016").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(hash_is_valid(&h));
        assert!(verify_password("梅州 secret 2016", &h));
        assert!(!verify_password("梅州 secret 2017", &h));
        assert!(!verify_password("", &h));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash_password("梅州 secret 2016").unwrap());
        assert!(!hash_is_valid("not a hash"));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", ""));
    }

    fn db() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open(&dir.path().join("a.db")).unwrap();
        (dir, conn)
    }

    #[test]
    fn sessions_expire_when_idle_and_after_their_lifetime() {
        use crate::store::sql::Lite;
        let (_d, conn) = db();
        let s = &mut Lite(&conn);
        let t0 = 1_000_000_000_000i64;
        let (token, csrf) = sessions::create(s, t0).unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, csrf);
        let touch = |s: &mut Lite<'_>, token: &str, t: i64| {
            let found = sessions::find(s, token, t).unwrap();
            if let Some((_, true)) = found {
                sessions::seen(s, token, t).unwrap();
            }
            found.map(|(c, _)| c)
        };
        assert_eq!(touch(s, &token, t0 + 60_000), Some(csrf.clone()));
        assert_eq!(touch(s, "0".repeat(64).as_str(), t0), None);
        // Used every seven hours: alive past eight hours since login ...
        let mut t = t0;
        for _ in 0..3 {
            t += ms(Duration::from_secs(7 * 3600));
            assert!(touch(s, &token, t).is_some());
        }
        // ... but not past its lifetime.
        t += ms(Duration::from_secs(4 * 3600));
        assert!(t - t0 >= ms(LIFETIME));
        assert_eq!(touch(s, &token, t), None);

        let (idle, _) = sessions::create(s, t0).unwrap();
        assert_eq!(touch(s, &idle, t0 + ms(IDLE)), None, "idle too long");
        let (gone, _) = sessions::create(s, t0).unwrap();
        sessions::remove(s, &gone).unwrap();
        assert_eq!(touch(s, &gone, t0), None, "logged out");
        // The table keeps the token's hash, not the token.
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM admin_sessions WHERE token_hash = ?1",
                [&token],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn throttle_lets_five_through_then_waits_longer_each_time() {
        use crate::store::sql::Lite;
        let (_d, conn) = db();
        let th = &mut Lite(&conn);
        let ip = Trier::of("192.0.2.7".parse().unwrap(), None);
        let other = Trier::of("192.0.2.8".parse().unwrap(), None);
        let t0 = 1_000_000_000_000i64;
        let check = |th: &mut Lite<'_>, who: &Trier, t: i64| throttle::check(th, who, t).unwrap();
        for _ in 0..FREE_TRIES {
            assert!(check(th, &ip, t0).is_ok());
            throttle::failed(th, &ip, t0).unwrap();
        }
        assert_eq!(check(th, &ip, t0), Err(FIRST_WAIT));
        assert!(check(th, &other, t0).is_ok(), "per client");
        let t1 = t0 + ms(FIRST_WAIT);
        assert!(check(th, &ip, t1).is_ok());
        throttle::failed(th, &ip, t1).unwrap();
        assert_eq!(check(th, &ip, t1), Err(FIRST_WAIT * 2));
        assert_eq!(wait_after(40), MAX_WAIT);
        let racing = Trier::of("192.0.2.9".parse().unwrap(), None);
        let passed = (0..50)
            .filter(|_| throttle::reserve(th, &racing, t0).unwrap().is_ok())
            .count();
        assert_eq!(passed, FREE_TRIES as usize, "reserved before any check");
        throttle::succeeded(th, &ip).unwrap();
        assert!(check(th, &ip, t1).is_ok());
        throttle::failed(th, &ip, t1).unwrap();
        assert!(
            check(th, &ip, t1).is_ok(),
            "count starts again after success"
        );
        // A day later the failures are forgotten.
        let later = t1 + ms(FORGET);
        assert!(check(th, &racing, later).is_ok());
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_devices_are_not_held_up() {
        use crate::store::sql::Lite;
        let (_d, conn) = db();
        let th = &mut Lite(&conn);
        let t0 = 1_000_000_000_000i64;
        for i in 0..FREE_TRIES {
            let ip = format!("2001:db8::{}", i + 1).parse().unwrap();
            throttle::failed(th, &Trier::of(ip, None), t0).unwrap();
        }
        let same_64 = Trier::of("2001:db8::ffff".parse().unwrap(), None);
        assert!(
            throttle::check(th, &same_64, t0).unwrap().is_err(),
            "the /64 is one client"
        );
        let device = Trier::of("2001:db8::ffff".parse().unwrap(), Some("ab".repeat(16)));
        assert!(
            throttle::check(th, &device, t0).unwrap().is_ok(),
            "a device is its own"
        );
        // Many addresses together lock out the clients without a device...
        for i in 0..ACCOUNT_FREE_TRIES {
            throttle::failed(
                th,
                &Trier::of(std::net::IpAddr::from([198, 51, 100, i as u8]), None),
                t0,
            )
            .unwrap();
        }
        let fresh = Trier::of("203.0.113.1".parse().unwrap(), None);
        assert!(
            throttle::check(th, &fresh, t0).unwrap().is_err(),
            "per account"
        );
        // ...but not the admin's browser.
        assert!(throttle::check(th, &device, t0).unwrap().is_ok());
    }

    #[test]
    fn device_cookies_are_checked_against_the_password_hash() {
        let value = device_cookie("$argon2id$one");
        let nonce = device_nonce(&value, "$argon2id$one").unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(
            device_nonce(&value, "$argon2id$two"),
            None,
            "a new password"
        );
        assert_eq!(device_nonce(&format!("{nonce}.00"), "$argon2id$one"), None);
        assert_eq!(device_nonce("garbage", "$argon2id$one"), None);
    }
}
