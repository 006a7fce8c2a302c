//! Reference numbers people read aloud, and receipt tokens nobody can guess.

use rand::{Rng, RngCore};

/// A–Z without I, O and Q, and 2–9: nothing that looks like 0, 1 or another letter.
pub const ALPHABET: &[u8; 31] = b"ABCDEFGHJKLMNPRSTUVWXYZ23456789";

/// Characters in a reference (31^8 ≈ 8.5 × 10^11 of them).
pub const REFERENCE_LEN: usize = 8;

/// Bytes of randomness in a receipt token (128 bits).
pub const TOKEN_BYTES: usize = 16;

/// A fresh reference such as `K7M2XR9P`, from the OS-seeded CSPRNG.
pub fn reference() -> String {
    let mut rng = rand::rng();
    (0..REFERENCE_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A receipt token: 128 random bits as 32 lower-case hex digits.
pub fn token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Whether `s` has the shape of a token (checked before any database look-up).
pub fn is_token(s: &str) -> bool {
    s.len() == TOKEN_BYTES * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn is_reference(s: &str) -> bool {
    s.len() == REFERENCE_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

pub fn hex(bytes: &[u8]) -> String {
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
    fn tokens_are_128_bit_hex() {
        let t = token();
        assert!(is_token(&t), "{t}");
        assert_ne!(token(), t);
        assert!(!is_token("../etc/passwd"));
        assert!(!is_token(&t.to_uppercase()));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
