//! `application/x-www-form-urlencoded` bodies, decoded strictly: invalid UTF-8
//! is an error naming the field, never silently replaced.

/// Largest body accepted (64 KiB).
pub(crate) const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadEncoding {
    /// The field whose name or value is not UTF-8, when its name could be read.
    pub(crate) field: Option<String>,
}

/// `name=value&...` pairs in order, `+` as space and `%XX` as a byte. A `%`
/// not followed by two hex digits is kept as it is (as browsers do).
pub(crate) fn decode(body: &[u8]) -> Result<Vec<(String, String)>, BadEncoding> {
    let mut pairs = Vec::new();
    for part in body.split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &part[..0]),
        };
        let key = String::from_utf8(unescape(k)).map_err(|_| BadEncoding { field: None })?;
        let value = String::from_utf8(unescape(v)).map_err(|_| BadEncoding {
            field: Some(key.clone()),
        })?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex_val(s.get(i + 1)), hex_val(s.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: Option<&u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn decodes_in_order_with_repeats() {
        let body = "unit=%E6%A2%85%E5%B7%9E+%E5%B8%82&levels=a&levels=b&empty=&bare&&x=1%2B1";
        assert_eq!(
            decode(body.as_bytes()).unwrap(),
            vec![
                p("unit", "梅州 市"),
                p("levels", "a"),
                p("levels", "b"),
                p("empty", ""),
                p("bare", ""),
                p("x", "1+1"),
            ]
        );
    }

    #[test]
    fn stray_percent_is_kept() {
        assert_eq!(
            decode(b"a=100%&b=%zz&c=%4").unwrap(),
            vec![p("a", "100%"), p("b", "%zz"), p("c", "%4")]
        );
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        // GBK for 梅州 sent by a page that is not UTF-8.
        assert_eq!(
            decode(b"unit=%C3%B7%D6%DD").unwrap_err(),
            BadEncoding {
                field: Some("unit".into())
            }
        );
        assert_eq!(
            decode(b"ok=1&%FF=1").unwrap_err(),
            BadEncoding { field: None }
        );
        // Raw (unescaped) bytes too.
        assert!(decode(b"unit=\xff\xfe").is_err());
    }

    /// Fuzz targets (issue 17): any body decodes or is refused, never a
    /// panic; whatever a browser encodes decodes back to the same pairs.
    /// More cases: `GAZETTE_FUZZ_CASES=100000 cargo test -p gazette-intake fuzz`.
    mod fuzz {
        use super::super::decode;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            let cases = std::env::var("GAZETTE_FUZZ_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(512);
            ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// What a browser sends: UTF-8, spaces as `+`, the rest escaped.
        fn encode(s: &str) -> String {
            use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
            s.split(' ')
                .map(|part| utf8_percent_encode(part, NON_ALPHANUMERIC).to_string())
                .collect::<Vec<_>>()
                .join("+")
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_bytes_decode_or_are_refused(body in prop::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(pairs) = decode(&body) {
                    prop_assert!(pairs.len() <= body.len());
                }
            }

            #[test]
            fn what_a_browser_encodes_decodes_back(
                pairs in prop::collection::vec(("\\PC{1,12}", "\\PC{0,24}"), 0..12)
            ) {
                let body = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                let back = decode(body.as_bytes()).unwrap();
                prop_assert_eq!(back, pairs);
            }
        }
    }
}
