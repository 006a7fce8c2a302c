//! The checks made before a body is read: rate per client and where the post
//! comes from.

use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per client: `per_minute` posts, refilled evenly, with a
/// burst of one minute's worth. `per_minute == 0` turns limiting off.
pub(crate) struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_CLIENTS: usize = 10_000;

impl RateLimiter {
    pub(crate) fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.per_minute > 0
    }

    /// Takes one post from `client`'s allowance, or says how long to wait.
    pub(crate) fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let key = client_key(client);
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_sec
                    < capacity
            });
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

/// IPv6 clients usually hold a whole /64: count them as one.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Whether `peer` is one of the `[intake] trusted_proxies`.
pub(crate) fn is_trusted(trusted: &[config::Network], peer: IpAddr) -> bool {
    trusted.iter().any(|n| n.contains(peer))
}

/// The client behind a trusted proxy: the header's addresses read from the
/// right (each proxy appends the address it was reached from), the first
/// that is not itself a trusted proxy. The proxy's own address when the
/// header is missing or unreadable (all such requests then share one
/// client: stricter, never looser).
pub(crate) fn forwarded_client<'a>(
    peer: IpAddr,
    trusted: &[config::Network],
    values: impl DoubleEndedIterator<Item = &'a axum::http::HeaderValue>,
) -> IpAddr {
    let mut leftmost = None;
    for value in values.rev() {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.rsplit(',') {
            let Some(ip) = parse_forwarded(entry) else {
                return peer;
            };
            if !is_trusted(trusted, ip) {
                return ip;
            }
            leftmost = Some(ip);
        }
    }
    leftmost.unwrap_or(peer)
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Where posts may come from: the intake's own host (as the `Host` header
/// names it), the origins of `[intake] url` and `[site] base_url`, and
/// `[intake] allowed_origins`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origins {
    allowed: Vec<String>,
}

impl Origins {
    pub(crate) fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Origins {
        let mut allowed: Vec<String> = entries
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.eq_ignore_ascii_case("null") {
                    "null".to_string()
                } else {
                    origin_of(s).unwrap_or_else(|| s.to_ascii_lowercase())
                }
            })
            .collect();
        allowed.sort();
        allowed.dedup();
        Origins { allowed }
    }

    /// `Ok` when the post may go on; `Err(origin)` names the refused origin.
    /// Without `Origin` and `Referer` (old browsers, scripts) the post is let
    /// through: the check is against other sites' pages, which browsers label.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let origin = match headers.get(header::ORIGIN) {
            Some(v) => match v.to_str() {
                Ok(s) => s.trim().to_string(),
                Err(_) => return Err("(unreadable Origin)".into()),
            },
            None => match headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
                Some(r) => match origin_of(r) {
                    Some(o) => o,
                    None => return Ok(()),
                },
                None => return Ok(()),
            },
        };
        if origin.eq_ignore_ascii_case("null") {
            return if self.allowed.iter().any(|a| a == "null") {
                Ok(())
            } else {
                Err(origin)
            };
        }
        let Some(normal) = origin_of(&origin) else {
            return Err(origin);
        };
        if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
            if authority(&normal) == Some(host.trim().to_ascii_lowercase().as_str())
                || authority(&normal) == Some(strip_default_port(&normal, host).as_str())
            {
                return Ok(());
            }
        }
        if self.allowed.contains(&normal) {
            Ok(())
        } else {
            Err(origin)
        }
    }
}

/// `https://Example.org:443/path?q` → `https://example.org`.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut auth = rest[..end].to_ascii_lowercase();
    if let Some(at) = auth.rfind('@') {
        auth = auth[at + 1..].to_string();
    }
    if auth.is_empty() {
        return None;
    }
    let default = match scheme.as_str() {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    if let Some(d) = default {
        if let Some(stripped) = auth.strip_suffix(d) {
            auth = stripped.to_string();
        }
    }
    Some(format!("{scheme}://{auth}"))
}

fn authority(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, a)| a)
}

/// The `Host` header with a default port (for the origin's scheme) removed.
fn strip_default_port(origin: &str, host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let suffix = if origin.starts_with("https://") {
        ":443"
    } else {
        ":80"
    };
    host.strip_suffix(suffix).unwrap_or(&host).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_refills_per_minute() {
        let rl = RateLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            rl.check(ip, t0).unwrap();
        }
        let wait = rl.check(ip, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        rl.check(other, t0).unwrap();
        rl.check(ip, t0 + Duration::from_secs(20)).unwrap();
        assert!(rl.check(ip, t0 + Duration::from_secs(20)).is_err());
        assert!(RateLimiter::new(0).check(ip, t0).is_ok());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let rl = RateLimiter::new(1);
        let t0 = Instant::now();
        rl.check("2001:db8::1".parse().unwrap(), t0).unwrap();
        assert!(rl.check("2001:db8::2".parse().unwrap(), t0).is_err());
        rl.check("2001:db8:0:1::1".parse().unwrap(), t0).unwrap();
    }

    #[test]
    fn the_client_behind_a_trusted_proxy() {
        let trusted: Vec<config::Network> =
            vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let client = |values: &[&str]| {
            let values: Vec<HeaderValue> = values
                .iter()
                .map(|v| HeaderValue::from_str(v).unwrap())
                .collect();
            forwarded_client(proxy, &trusted, values.iter()).to_string()
        };
        // What the client claims on the left is not believed.
        assert_eq!(client(&["198.51.100.9, 203.0.113.7"]), "203.0.113.7");
        assert_eq!(client(&["203.0.113.7, 10.1.1.1"]), "203.0.113.7");
        assert_eq!(client(&["198.51.100.9", "203.0.113.7:4711"]), "203.0.113.7");
        assert_eq!(client(&["[2001:db8::1]:443"]), "2001:db8::1");
        assert_eq!(client(&["10.1.1.1"]), "10.1.1.1");
        assert_eq!(client(&[]), "127.0.0.1");
        assert_eq!(client(&["unknown"]), "127.0.0.1");
        assert!(is_trusted(&trusted, "10.9.9.9".parse().unwrap()));
        assert!(!is_trusted(&[], proxy));
    }

    #[test]
    fn origins() {
        let o = Origins::new(["https://hrss.meizhou.gov.cn/", "http://localhost:1313"]);
        let own = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ]);
        assert!(o.check(&own).is_ok());
        let listed = headers(&[
            (header::HOST, "forms.example.org"),
            (header::ORIGIN, "https://hrss.meizhou.gov.cn"),
        ]);
        assert!(o.check(&listed).is_ok());
        let evil = headers(&[
            (header::HOST, "forms.example.org"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert_eq!(o.check(&evil).unwrap_err(), "https://evil.example");
        let referer = headers(&[
            (header::HOST, "forms.example.org"),
            (header::REFERER, "https://evil.example/page.html"),
        ]);
        assert!(o.check(&referer).is_err());
        let own_referer = headers(&[
            (header::HOST, "forms.example.org"),
            (header::REFERER, "https://forms.example.org/forms/x/"),
        ]);
        assert!(o.check(&own_referer).is_ok());
        let default_port = headers(&[
            (header::HOST, "forms.example.org:443"),
            (header::ORIGIN, "https://forms.example.org"),
        ]);
        assert!(o.check(&default_port).is_ok());
        assert!(o.check(&headers(&[(header::HOST, "x")])).is_ok());
        let null = headers(&[(header::HOST, "x"), (header::ORIGIN, "null")]);
        assert!(o.check(&null).is_err());
        assert!(Origins::new(["null"]).check(&null).is_ok());
    }

    #[test]
    fn origin_normalisation() {
        assert_eq!(
            origin_of("HTTPS://Example.org:443/a?b").as_deref(),
            Some("https://example.org")
        );
        assert_eq!(
            origin_of("http://u:p@h:8080/").as_deref(),
            Some("http://h:8080")
        );
        assert_eq!(origin_of("example.org"), None);
    }
}
