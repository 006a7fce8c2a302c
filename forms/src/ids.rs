//! Identifier check characters: 统一社会信用代码 (GB 32100-2015) and
//! 组织机构代码 (GB 11714), which a 统一社会信用代码 embeds, and
//! 居民身份证号 (GB 11643).
//!
//! Pure functions over already-normalised text (upper case, no spaces); the
//! validators in `validate` do the normalising and the wording.

use chrono::Datelike;

/// The 31 symbols of a 统一社会信用代码, valued by index (no I, O, S, V, Z).
pub(crate) const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// What is wrong with a 统一社会信用代码. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsccProblem {
    /// Not 18 characters; carries the count found.
    Length(usize),
    /// A character outside the 31-symbol alphabet.
    BadChar { position: usize, found: char },
    /// The 18th character does not match the other 17.
    CheckChar { expected: char, found: char },
    /// Positions 9–17 are not a valid 组织机构代码.
    OrgCode { expected: char, found: char },
}

/// What is wrong with a 组织机构代码. Positions are 1-based, counted over
/// the 9 code characters (a hyphen before the check character is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrgCodeProblem {
    Length(usize),
    BadChar { position: usize, found: char },
    CheckChar { expected: char, found: char },
}

fn uscc_value(c: char) -> Option<u32> {
    USCC_ALPHABET.find(c).map(|i| i as u32)
}

/// Why a character is not in the alphabet, for messages: I, O, S, V and Z
/// are left out because they look like 1, 0, 5, U and 2.
pub(crate) fn uscc_excluded_letter(c: char) -> bool {
    matches!(c, 'I' | 'O' | 'S' | 'V' | 'Z')
}

/// The check character of a 统一社会信用代码 from its first 17 characters;
/// `None` if the input is not 17 characters of the alphabet.
pub(crate) fn uscc_check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut count = 0;
    for (c, w) in first17.chars().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * w;
        count += 1;
    }
    if count != 17 || first17.chars().count() != 17 {
        return None;
    }
    let check = (31 - sum % 31) % 31;
    USCC_ALPHABET.chars().nth(check as usize)
}

/// Checks an upper-case 18-character 统一社会信用代码: length, alphabet,
/// check character, then the embedded 组织机构代码 (positions 9–17).
pub(crate) fn check_uscc(code: &str) -> Result<(), UsccProblem> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(UsccProblem::Length(chars.len()));
    }
    if let Some((i, &c)) = chars
        .iter()
        .enumerate()
        .find(|(_, &c)| uscc_value(c).is_none())
    {
        return Err(UsccProblem::BadChar {
            position: i + 1,
            found: c,
        });
    }
    let first17: String = chars[..17].iter().collect();
    let expected = uscc_check_char(&first17).ok_or(UsccProblem::Length(chars.len()))?;
    if expected != chars[17] {
        return Err(UsccProblem::CheckChar {
            expected,
            found: chars[17],
        });
    }
    let body: String = chars[8..16].iter().collect();
    if let Some(expected) = org_code_check_char(&body) {
        if expected != chars[16] {
            return Err(UsccProblem::OrgCode {
                expected,
                found: chars[16],
            });
        }
    }
    Ok(())
}

fn org_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        _ => None,
    }
}

/// The check character of a 组织机构代码 from its 8 body characters.
pub(crate) fn org_code_check_char(first8: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut count = 0;
    for (c, w) in first8.chars().zip(ORG_WEIGHTS) {
        sum += org_value(c)? * w;
        count += 1;
    }
    if count != 8 || first8.chars().count() != 8 {
        return None;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10)?,
    })
}

/// Checks an upper-case 组织机构代码, written `00001434-9` or `000014349`.
pub(crate) fn check_org_code(code: &str) -> Result<(), OrgCodeProblem> {
    let mut chars: Vec<char> = code.chars().collect();
    if chars.len() == 10 && chars[8] == '-' {
        chars.remove(8);
    }
    if chars.len() != 9 {
        return Err(OrgCodeProblem::Length(chars.len()));
    }
    for (i, &c) in chars.iter().enumerate() {
        let ok = if i == 8 {
            c.is_ascii_digit() || c == 'X'
        } else {
            org_value(c).is_some()
        };
        if !ok {
            return Err(OrgCodeProblem::BadChar {
                position: i + 1,
                found: c,
            });
        }
    }
    let body: String = chars[..8].iter().collect();
    let expected = org_code_check_char(&body).ok_or(OrgCodeProblem::Length(chars.len()))?;
    if expected != chars[8] {
        return Err(OrgCodeProblem::CheckChar {
            expected,
            found: chars[8],
        });
    }
    Ok(())
}

/// What is wrong with a 居民身份证号. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdcardProblem {
    /// 15 digits: a first-generation number, replaced by 18 digits.
    Legacy15,
    Length(usize),
    /// Not a digit among the first 17, or neither digit nor X last.
    BadChar {
        position: usize,
    },
    /// Digits 7–14 are not a real date, or one after today.
    BirthDate,
    CheckChar,
}

const IDCARD_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of a 居民身份证号 from its 17 digits (ISO 7064
/// MOD 11-2 as GB 11643 gives it); `None` if they are not 17 digits.
pub(crate) fn idcard_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(IDCARD_WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    "10X98765432".chars().nth((sum % 11) as usize)
}

/// Checks an upper-case 居民身份证号 with no separators.
pub(crate) fn check_idcard(code: &str, today: chrono::NaiveDate) -> Result<(), IdcardProblem> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() == 15 && chars.iter().all(char::is_ascii_digit) {
        return Err(IdcardProblem::Legacy15);
    }
    if chars.len() != 18 {
        return Err(IdcardProblem::Length(chars.len()));
    }
    for (i, &c) in chars.iter().enumerate() {
        if !(c.is_ascii_digit() || (i == 17 && c == 'X')) {
            return Err(IdcardProblem::BadChar { position: i + 1 });
        }
    }
    let birth = chrono::NaiveDate::parse_from_str(&code[6..14], "%Y%m%d")
        .map_err(|_| IdcardProblem::BirthDate)?;
    if birth > today || birth.year() < 1800 {
        return Err(IdcardProblem::BirthDate);
    }
    if idcard_check_char(&code[..17]) != Some(chars[17]) {
        return Err(IdcardProblem::CheckChar);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_known_valid() {
        assert_eq!(uscc_check_char("11441700007280420"), Some('Y'));
        assert_eq!(check_uscc("11441700007280420Y"), Ok(()));
    }

    #[test]
    fn uscc_hand_computed_check_char() {
        // One '1' in position 1 (weight 1): sum 1, check 30 → 'Y'.
        assert_eq!(uscc_check_char("10000000000000000"), Some('Y'));
        // All zeros: sum 0 → check 0.
        assert_eq!(uscc_check_char("00000000000000000"), Some('0'));
        // '1' at position 4 (weight 27): 31 - 27 = 4.
        assert_eq!(uscc_check_char("00010000000000000"), Some('4'));
        // 'A' (10) at position 2 (weight 3): 30 → 31 - 30 = 1.
        assert_eq!(uscc_check_char("0A000000000000000"), Some('1'));
        // Not 17 symbols of the alphabet.
        assert_eq!(uscc_check_char("0000000000000000"), None);
        assert_eq!(uscc_check_char("000000000000000000"), None);
        assert_eq!(uscc_check_char("I0000000000000000"), None);
    }

    #[test]
    fn uscc_problems_are_distinct() {
        assert_eq!(
            check_uscc("11441700007280420"),
            Err(UsccProblem::Length(17))
        );
        assert_eq!(check_uscc(""), Err(UsccProblem::Length(0)));
        assert_eq!(
            check_uscc("11441700007280420YY"),
            Err(UsccProblem::Length(19))
        );
        assert_eq!(
            check_uscc("1144170000728042OY"),
            Err(UsccProblem::BadChar {
                position: 17,
                found: 'O'
            })
        );
        assert_eq!(
            check_uscc("11441700007280420y"),
            Err(UsccProblem::BadChar {
                position: 18,
                found: 'y'
            })
        );
        assert_eq!(
            check_uscc("11441700007280420X"),
            Err(UsccProblem::CheckChar {
                expected: 'Y',
                found: 'X'
            })
        );
        assert!(uscc_excluded_letter('S'));
        assert!(!uscc_excluded_letter('Y'));
    }

    #[test]
    fn uscc_embedded_org_code_is_checked() {
        // Body 00728042 has check 0 (as in the valid example); put a wrong
        // org check char and give the whole code a right USCC check char.
        let first17 = "11441700007280421";
        let check = uscc_check_char(first17).unwrap();
        let code = format!("{first17}{check}");
        assert_eq!(
            check_uscc(&code),
            Err(UsccProblem::OrgCode {
                expected: '0',
                found: '1'
            })
        );
        // An org code with X as check, embedded.
        let body = "12345678"; // check computed below by hand
                               // 1*3+2*7+3*9+4*10+5*5+6*8+7*4+8*2 = 3+14+27+40+25+48+28+16 = 201;
                               // 201 mod 11 = 3; 11 - 3 = 8.
        assert_eq!(org_code_check_char(body), Some('8'));
        let first17 = format!("12441400{body}8");
        let code = format!("{first17}{}", uscc_check_char(&first17).unwrap());
        assert_eq!(check_uscc(&code), Ok(()));
    }

    #[test]
    fn org_code() {
        assert_eq!(org_code_check_char("00001434"), Some('9'));
        assert_eq!(check_org_code("00001434-9"), Ok(()));
        assert_eq!(check_org_code("000014349"), Ok(()));
        assert_eq!(
            check_org_code("00001434-8"),
            Err(OrgCodeProblem::CheckChar {
                expected: '9',
                found: '8'
            })
        );
        // A hyphen anywhere but before the check character is a bad character.
        assert_eq!(
            check_org_code("0000143-9"),
            Err(OrgCodeProblem::BadChar {
                position: 8,
                found: '-'
            })
        );
        assert!(matches!(
            check_org_code("0000143"),
            Err(OrgCodeProblem::Length(7))
        ));
        assert_eq!(
            check_org_code("0000#434-9"),
            Err(OrgCodeProblem::BadChar {
                position: 5,
                found: '#'
            })
        );
        // Letters count 10–35: 'A' at position 1 (weight 3) = 30;
        // 30 mod 11 = 8; 11 - 8 = 3.
        assert_eq!(org_code_check_char("A0000000"), Some('3'));
        // '4' at position 1 (weight 3): 12 ≡ 1 (mod 11) → 10 → 'X'.
        assert_eq!(org_code_check_char("40000000"), Some('X'));
        assert_eq!(check_org_code("40000000-X"), Ok(()));
        // Sum ≡ 0 → 11 → '0'.
        assert_eq!(org_code_check_char("00000000"), Some('0'));
    }
}
