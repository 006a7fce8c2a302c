//! Eight bytes looked at together in one `u64` ("SIMD within a register"),
//! so that the scans every page's text passes through (JSON escapes, white
//! space) pass over eight plain bytes at a time.

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The 8 bytes from `at` as one integer, if that many are left.
#[inline]
pub(crate) fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let eight: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_ne_bytes(eight))
}

/// Non-zero when some byte of `x` is below `n` (`n` at most 0x80): exact
/// as a yes or no, though not as to which byte.
#[inline]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
}

/// Non-zero when some byte of `x` is `b` (yes or no, as [`below`]).
#[inline]
pub(crate) fn equal(x: u64, b: u8) -> u64 {
    below(x ^ (ONES * u64::from(b)), 1)
}

/// The high bit of each byte of `x` that continues a UTF-8 character
/// (`0b10xxxxxx`): bit 7 set, bit 6 (moved up into bit 7) clear.
#[inline]
pub(crate) fn continuation(x: u64) -> u64 {
    x & !(x << 1) & HIGH
}

/// The high bit of each byte of `x` that starts a four-byte UTF-8
/// character (`0b11110xxx`: the top four bits set).
#[inline]
pub(crate) fn four_byte_lead(x: u64) -> u64 {
    x & (x << 1) & (x << 2) & (x << 3) & HIGH
}

/// How many bytes [`continuation`] or [`four_byte_lead`] marked.
#[inline]
pub(crate) fn count(marks: u64) -> usize {
    marks.count_ones() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_and_equal_answer_for_any_byte_among_any_neighbours() {
        // Every byte value at every place, among neighbours that could
        // borrow or carry into it.
        for fill in [
            b'x', 0x00, 0x01, 0x1F, 0x20, 0x21, 0x7F, 0x80, 0xE1, 0xE3, 0xFF,
        ] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[at] = b;
                    let x = word(&bytes, 0).unwrap();
                    for n in [1, 0x20, 0x21, 0x80] {
                        let expected = bytes.iter().any(|&c| c < n);
                        assert_eq!(below(x, n) != 0, expected, "{bytes:?} below {n}");
                    }
                    for v in [0, b'"', b'\\', 0xC2, 0xE2, 0xFF] {
                        let expected = bytes.contains(&v);
                        assert_eq!(equal(x, v) != 0, expected, "{bytes:?} has {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn continuation_and_four_byte_leads_are_marked_byte_by_byte() {
        for fill in [b'x', 0x7F, 0x80, 0xBF, 0xC0, 0xEF, 0xF0, 0xFF] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[at] = b;
                    let x = word(&bytes, 0).unwrap();
                    let continuing = bytes.iter().filter(|&&c| c & 0xC0 == 0x80).count();
                    let leads = bytes.iter().filter(|&&c| c >= 0xF0).count();
                    assert_eq!(count(continuation(x)), continuing, "{bytes:?}");
                    assert_eq!(count(four_byte_lead(x)), leads, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn a_word_is_eight_bytes_or_none() {
        let bytes = *b"0123456789";
        assert_eq!(word(&bytes, 2), Some(u64::from_ne_bytes(*b"23456789")));
        assert_eq!(word(&bytes, 3), None);
        assert_eq!(word(&bytes, usize::MAX), None);
    }
}
