//! Just enough MIME to read what the service sends: unfolded headers with
//! RFC 2047 encoded words, multipart bodies, base64 and quoted-printable.

use base64::Engine as _;

/// Splits a message (or part) into its header block and body.
fn split(raw: &[u8]) -> (String, &[u8]) {
    let (end, skip) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i, 4),
        None => match raw.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (i, 2),
            None => (raw.len(), 0),
        },
    };
    let head = String::from_utf8_lossy(&raw[..end]).replace("\r\n", "\n");
    (head, &raw[(end + skip).min(raw.len())..])
}

/// Header lines with continuation lines joined.
fn unfold(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The first header called `name`, decoded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let (head, _) = split(raw);
    unfold(&head)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| decode_words(&v))
}

/// Every header (decoded) and every text part (decoded), one after another.
pub fn text(raw: &[u8]) -> String {
    let mut out = String::new();
    collect(raw, &mut out);
    out
}

fn collect(raw: &[u8], out: &mut String) {
    let (head, body) = split(raw);
    let headers = unfold(&head);
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {}\n", decode_words(v)));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content_type = get("Content-Type");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let Some(boundary) = param(&content_type, "boundary") else {
            return;
        };
        let delimiter = format!("--{boundary}");
        let body = String::from_utf8_lossy(body).into_owned();
        for part in body.split(&delimiter).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            collect(part.as_bytes(), out);
        }
        return;
    }
    let decoded = match get("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => {
            let compact: String = String::from_utf8_lossy(body)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_default()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_vec(),
    };
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&decoded).replace("\r\n", "\n"));
    out.push('\n');
}

fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'=' {
            if body.get(i + 1) == Some(&b'\r') && body.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if body.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = body
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// `=?utf-8?b?...?=` and `=?utf-8?q?...?=` words, with the space between two
/// encoded words dropped.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let after = &rest[start + 2..];
        let parsed = (|| {
            let (_charset, after) = after.split_once('?')?;
            let (enc, after) = after.split_once('?')?;
            let end = after.find("?=")?;
            let text = &after[..end];
            let bytes = match enc.to_ascii_lowercase().as_str() {
                "b" => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?,
                "q" => quoted_printable(text.replace('_', " ").as_bytes()),
                _ => return None,
            };
            Some((
                String::from_utf8_lossy(&bytes).into_owned(),
                &after[end + 2..],
            ))
        })();
        match parsed {
            Some((word, remaining)) => {
                out.push_str(&word);
                rest = remaining;
                last_was_word = true;
            }
            None => {
                out.push_str("=?");
                rest = after;
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}
