//! Admin authentication: the argon2 password, in-memory sessions with a
//! CSRF token each, and the per-client brake on wrong passwords.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Sessions are kept under the sha256 of their token, so the map's lookup
/// timing says nothing useful about a live token.
fn key(token: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::refs::hex(&Sha256::digest(token.as_bytes()))
}

struct Session {
    csrf: String,
    created: Instant,
    seen: Instant,
}

/// Logged-in browsers, in memory: a restart logs everybody out.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session: (cookie token, CSRF token).
    pub(crate) fn create(&self, now: Instant) -> (String, String) {
        let token = random_token();
        let csrf = random_token();
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| alive(s, now));
            map.insert(
                key(&token),
                Session {
                    csrf: csrf.clone(),
                    created: now,
                    seen: now,
                },
            );
        }
        (token, csrf)
    }

    /// The CSRF token of a live session, which counts as seen at `now`;
    /// `None` for an unknown or expired one (which is then dropped).
    pub(crate) fn touch(&self, token: &str, now: Instant) -> Option<String> {
        let mut map = self.map.lock().ok()?;
        let k = key(token);
        let live = map.get(&k).is_some_and(|s| alive(s, now));
        if !live {
            map.remove(&k);
            return None;
        }
        let s = map.get_mut(&k)?;
        s.seen = now;
        Some(s.csrf.clone())
    }

    pub(crate) fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&key(token));
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.seen) < IDLE
        && now.saturating_duration_since(s.created) < LIFETIME
}

struct Failures {
    count: u32,
    last: Instant,
}

/// Whose wrong passwords are counted together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Trier {
    /// A client address (an IPv6 /64 as one, as the post limiter counts).
    Address(IpAddr),
    /// A browser that logged in before (its device cookie's nonce): not
    /// held up by what others do from its address.
    Device(String),
}

impl Trier {
    /// The device when its cookie is good, else the address.
    pub(crate) fn of(ip: IpAddr, device: Option<String>) -> Trier {
        match device {
            Some(nonce) => Trier::Device(nonce),
            None => Trier::Address(crate::limits::client_key(ip)),
        }
    }
}

/// Wrong passwords from clients without a device cookie, all together,
/// before every such client has to wait (a guess spread over many
/// addresses); devices that logged in before are not held up.
pub(crate) const ACCOUNT_FREE_TRIES: u32 = 50;

/// Wrong passwords per client address or device: after [`FREE_TRIES`] it
/// must wait before the next try is even checked, longer after each
/// failure. Failures from addresses also count for the account (see
/// [`ACCOUNT_FREE_TRIES`]). So an attacker locks out only itself, and the
/// admin's browser (with its device cookie) is never locked out by others
/// at its address or anywhere else.
#[derive(Default)]
pub(crate) struct LoginThrottle {
    map: Mutex<HashMap<Trier, Failures>>,
    account: Mutex<Option<Failures>>,
}

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

/// `Err(wait)` while `f` must still wait.
fn must_wait(f: &Failures, free: u32, now: Instant) -> Result<(), Duration> {
    let since = now.saturating_duration_since(f.last);
    if since >= FORGET {
        return Ok(());
    }
    let wait = wait_after_free(f.count, free);
    if since < wait {
        Err(wait - since)
    } else {
        Ok(())
    }
}

fn count(f: &mut Failures, now: Instant) {
    if now.saturating_duration_since(f.last) >= FORGET {
        f.count = 0;
    }
    f.count = f.count.saturating_add(1);
    f.last = now;
}

impl LoginThrottle {
    /// `Err(wait)` when `who` may not try yet.
    pub(crate) fn check(&self, who: &Trier, now: Instant) -> Result<(), Duration> {
        if matches!(who, Trier::Address(_)) {
            if let Ok(account) = self.account.lock() {
                if let Some(f) = account.as_ref() {
                    must_wait(f, ACCOUNT_FREE_TRIES, now)?;
                }
            }
        }
        let Ok(mut map) = self.map.lock() else {
            return Ok(());
        };
        let Some(f) = map.get(who) else {
            return Ok(());
        };
        if now.saturating_duration_since(f.last) >= FORGET {
            map.remove(who);
            return Ok(());
        }
        must_wait(f, FREE_TRIES, now)
    }

    /// Reserves a try: checked like [`Self::check`], and on `Ok` already
    /// counted as a failure, so that tries sent at once cannot all pass the
    /// check before the first one is verified. A correct password clears
    /// it ([`Self::succeeded`]).
    pub(crate) fn reserve(&self, who: &Trier, now: Instant) -> Result<(), Duration> {
        self.check(who, now)?;
        self.failed(who, now);
        Ok(())
    }

    /// Records a wrong password.
    pub(crate) fn failed(&self, who: &Trier, now: Instant) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() > 10_000 {
                map.retain(|_, f| now.saturating_duration_since(f.last) < FORGET);
            }
            let f = map.entry(who.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            count(f, now);
        }
        if matches!(who, Trier::Address(_)) {
            if let Ok(mut account) = self.account.lock() {
                count(
                    account.get_or_insert(Failures {
                        count: 0,
                        last: now,
                    }),
                    now,
                );
            }
        }
    }

    /// A correct password clears the client's record (and takes back its
    /// try from the account's count).
    pub(crate) fn succeeded(&self, who: &Trier) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(who);
        }
        if matches!(who, Trier::Address(_)) {
            if let Ok(mut account) = self.account.lock() {
                if let Some(f) = account.as_mut() {
                    f.count = f.count.saturating_sub(1);
                }
            }
        }
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

    #[test]
    fn sessions_expire_when_idle_and_after_their_lifetime() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (token, csrf) = s.create(t0);
        assert_eq!(token.len(), 64);
        assert_ne!(token, csrf);
        assert_eq!(
            s.touch(&token, t0 + Duration::from_secs(60)),
            Some(csrf.clone())
        );
        assert_eq!(s.touch("0".repeat(64).as_str(), t0), None);
        // Used every seven hours: alive past eight hours since login ...
        let mut t = t0;
        for _ in 0..3 {
            t += Duration::from_secs(7 * 3600);
            assert!(s.touch(&token, t).is_some());
        }
        // ... but not past its lifetime.
        t += Duration::from_secs(4 * 3600);
        assert!(t.duration_since(t0) >= LIFETIME);
        assert_eq!(s.touch(&token, t), None);

        let (idle, _) = s.create(t0);
        assert_eq!(s.touch(&idle, t0 + IDLE), None, "idle too long");
        let (gone, _) = s.create(t0);
        s.remove(&gone);
        assert_eq!(s.touch(&gone, t0), None, "logged out");
    }

    #[test]
    fn throttle_lets_five_through_then_waits_longer_each_time() {
        let th = LoginThrottle::default();
        let ip = Trier::of("192.0.2.7".parse().unwrap(), None);
        let other = Trier::of("192.0.2.8".parse().unwrap(), None);
        let t0 = Instant::now();
        for _ in 0..FREE_TRIES {
            assert!(th.check(&ip, t0).is_ok());
            th.failed(&ip, t0);
        }
        assert_eq!(th.check(&ip, t0), Err(FIRST_WAIT));
        assert!(th.check(&other, t0).is_ok(), "per client");
        let t1 = t0 + FIRST_WAIT;
        assert!(th.check(&ip, t1).is_ok());
        th.failed(&ip, t1);
        assert_eq!(th.check(&ip, t1), Err(FIRST_WAIT * 2));
        assert_eq!(wait_after(40), MAX_WAIT);
        let racing = Trier::of("192.0.2.9".parse().unwrap(), None);
        let passed = (0..50).filter(|_| th.reserve(&racing, t0).is_ok()).count();
        assert_eq!(passed, FREE_TRIES as usize, "reserved before any check");
        th.succeeded(&ip);
        assert!(th.check(&ip, t1).is_ok());
        th.failed(&ip, t1);
        assert!(
            th.check(&ip, t1).is_ok(),
            "count starts again after success"
        );
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_devices_are_not_held_up() {
        let th = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..FREE_TRIES {
            let ip = format!("2001:db8::{}", i + 1).parse().unwrap();
            th.failed(&Trier::of(ip, None), t0);
        }
        let same_64 = Trier::of("2001:db8::ffff".parse().unwrap(), None);
        assert!(th.check(&same_64, t0).is_err(), "the /64 is one client");
        let device = Trier::of("2001:db8::ffff".parse().unwrap(), Some("ab".repeat(16)));
        assert!(th.check(&device, t0).is_ok(), "a device is its own");
        // Many addresses together lock out the clients without a device...
        for i in 0..ACCOUNT_FREE_TRIES {
            th.failed(
                &Trier::of(std::net::IpAddr::from([198, 51, 100, i as u8]), None),
                t0,
            );
        }
        let fresh = Trier::of("203.0.113.1".parse().unwrap(), None);
        assert!(th.check(&fresh, t0).is_err(), "per account");
        // ...but not the admin's browser.
        assert!(th.check(&device, t0).is_ok());
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
