//! Values that get their type when the file is read, in the syntax people
//! write (`"127.0.0.1:8080"`, `"30s"`, `"https://…/"`), with errors that say
//! what is expected.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// An absolute `http://` or `https://` URL, checked at load, or nothing.
/// Kept as written (links are made by appending to it); reads as `&str`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WebUrl(String);

impl WebUrl {
    /// Empty is allowed (it means "relative links" or "the same origin").
    pub fn parse(text: &str) -> Result<WebUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(WebUrl::default());
        }
        let expected = || {
            format!(
                "expected an absolute http:// or https:// URL such as https://hrss.meizhou.gov.cn/ (or nothing), got {text:?}"
            )
        };
        let url = url::Url::parse(text).map_err(|e| format!("{} ({e})", expected()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(expected());
        }
        Ok(WebUrl(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for WebUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WebUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WebUrl, D::Error> {
        let text = String::deserialize(d)?;
        WebUrl::parse(&text).map_err(de::Error::custom)
    }
}

/// `[intake] allowed_origins`: each `scheme://host[:port]` or `null`.
pub(crate) fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for entry in &list {
        let e = entry.trim();
        let ok = e.eq_ignore_ascii_case("null")
            || url::Url::parse(e).is_ok_and(|u| u.host_str().is_some());
        if !ok {
            return Err(de::Error::custom(format!(
                "expected origins such as https://hrss.meizhou.gov.cn or null, got {entry:?}"
            )));
        }
    }
    Ok(list)
}

/// `listen = "127.0.0.1:8080"`.
pub(crate) mod socket_addr {
    use super::*;
    use std::net::SocketAddr;

    pub(crate) fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(addr)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map_err(|_| {
            de::Error::custom(format!(
                "expected an address and port such as 127.0.0.1:8080, got {text:?}"
            ))
        })
    }
}

/// Durations as people write them: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, or a
/// number of seconds.
pub(crate) mod duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let ms = d.as_millis();
        if ms.is_multiple_of(1000) {
            s.collect_str(&format_args!("{}s", ms / 1000))
        } else {
            s.collect_str(&format_args!("{ms}ms"))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as 30s, 500ms or 5m")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("{v} is not a positive duration")))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            parse_duration(&v.to_string()).map_err(E::custom)
        }
    }
}

/// `500ms`, `30s`, `5m`, `2h`; a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s, 500ms or 5m"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?}; use ms, s, m or h"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn web_urls() {
        assert!(WebUrl::parse("").unwrap().is_empty());
        assert_eq!(
            WebUrl::parse(" https://hrss.meizhou.gov.cn/ ")
                .unwrap()
                .as_str(),
            "https://hrss.meizhou.gov.cn/"
        );
        assert!(WebUrl::parse("http://127.0.0.1:8080").is_ok());
        for bad in [
            "hrss.meizhou.gov.cn",
            "ftp://x.example/",
            "https://",
            "/forms",
        ] {
            assert!(WebUrl::parse(bad).is_err(), "{bad}");
        }
    }
}

/// An address or a network (`192.0.2.10`, `10.0.0.0/8`, `2001:db8::/32`),
/// as `[intake] trusted_proxies` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let bad = || format!("expected an address or a network such as 10.0.0.0/8, got {s:?}");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Network, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod network_tests {
    use super::Network;

    #[test]
    fn networks_parse_and_contain() {
        let n: Network = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let one: Network = "192.0.2.10".parse().unwrap();
        assert!(one.contains("192.0.2.10".parse().unwrap()));
        assert!(!one.contains("192.0.2.11".parse().unwrap()));
        let v6: Network = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
        assert_eq!(v6.to_string(), "2001:db8::/32");
    }
}
