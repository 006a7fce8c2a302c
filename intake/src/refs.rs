//! Reference numbers people read aloud, and receipt tokens nobody can guess.

use rand::{Rng, RngCore};

/// A–Z without I, O and Q, and 2–9: nothing that looks like 0, 1 or another letter.
pub(crate) const ALPHABET: &[u8; 31] = b"ABCDEFGHJKLMNPRSTUVWXYZ23456789";

/// Characters in a reference (31^8 ≈ 8.5 × 10^11 of them).
pub(crate) const REFERENCE_LEN: usize = 8;

/// Bytes of randomness in a receipt token's secret (128 bits).
pub(crate) const SECRET_BYTES: usize = 16;

/// Length of a receipt token: the reference, then the secret in hex.
pub(crate) const TOKEN_LEN: usize = REFERENCE_LEN + SECRET_BYTES * 2;

/// A fresh reference such as `K7M2XR9P`, from the OS-seeded CSPRNG.
pub fn reference() -> String {
    let mut rng = rand::rng();
    (0..REFERENCE_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The receipt token for `reference`: the reference (which finds the row
/// through its index) followed by 128 random bits as 32 lower-case hex
/// digits (which nobody can guess), e.g. `K7M2XR9P3f9c…`.
pub fn token(reference: &str) -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{reference}{}", hex(&bytes))
}

/// Whether `s` has the shape of a token (checked before any database look-up).
pub(crate) fn is_token(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && is_reference(&s[..REFERENCE_LEN])
        && s.as_bytes()[REFERENCE_LEN..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The reference part of a token (call after [`is_token`]).
pub(crate) fn token_reference(token: &str) -> &str {
    &token[..REFERENCE_LEN.min(token.len())]
}

/// Compares two tokens in time that does not depend on where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(crate) fn is_reference(s: &str) -> bool {
    s.len() == REFERENCE_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn alphabet_has_no_look_alikes() {
        assert_eq!(ALPHABET.len(), 31);
        for c in b"IOQ01" {
            assert!(!ALPHABET.contains(c), "{}", *c as char);
        }
        let unique: HashSet<_> = ALPHABET.iter().collect();
        assert_eq!(unique.len(), ALPHABET.len());
    }

    #[test]
    fn references_use_the_alphabet_evenly() {
        let mut counts: HashMap<u8, usize> = HashMap::new();
        let mut seen = HashSet::new();
        for _ in 0..4000 {
            let r = reference();
            assert!(is_reference(&r), "{r}");
            seen.insert(r.clone());
            for b in r.bytes() {
                *counts.entry(b).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), 4000, "no repeats in a small sample");
        // 32,000 symbols over 31 letters: ~1032 each; every symbol is used.
        assert_eq!(counts.len(), 31);
        assert!(counts.values().all(|&n| n > 800 && n < 1300), "{counts:?}");
    }

    #[test]
    fn tokens_are_the_reference_and_a_128_bit_secret() {
        let r = reference();
        let t = token(&r);
        assert_eq!(t.len(), 40);
        assert!(is_token(&t), "{t}");
        assert_eq!(token_reference(&t), r);
        assert_ne!(token(&r), t, "a new secret each time");
        assert!(!is_token("../etc/passwd"));
        assert!(!is_token(&t.to_uppercase()));
        assert!(
            !is_token(&format!("ABCDEFGI{}", &t[8..])),
            "I is not in references"
        );
        assert!(!is_token(&t[..39]));
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &token(&r)));
        assert!(!same_token(&t, &t[..39]));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
