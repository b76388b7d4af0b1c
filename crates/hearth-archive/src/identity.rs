//! National ID numbers (居民身份证号码) and the identity key that stands for them in documents.
//!
//! The raw number never enters a document: a case carries only
//! `identity_key = SHA-256("hearth/identity/v1" ‖ federation salt ‖ normalized number)`, so that
//! every node of one federation derives the same key for the same person (one household, one file)
//! while the number itself stays with the caseworker who typed it.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::codes::Gender;
use crate::error::{ArchiveError, Result};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The check character (GB 11643-1999) of the first 17 digits of an ID number.
///
/// Returns `None` if `first17` is not 17 ASCII digits.
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(char::from(CHECK_CHARS[(sum % 11) as usize]))
}

/// A made-up but well-formed ID number for demos, tests and benchmarks: region code `990000`
/// (assigned to no real region), a birth date between 1950 and 1990 and a sequence number drawn
/// from `n`, and the right check character. Distinct for `n` below 14,600,000.
pub fn sample_id_number(n: u32) -> String {
    let days = i64::from(n % 14_600);
    let birth = jiff::civil::date(1950, 1, 1)
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(jiff::civil::date(1950, 1, 1));
    let first17 = format!(
        "990000{}{:03}",
        birth.strftime("%Y%m%d"),
        (n / 14_600) % 1000
    );
    let check = check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A validated, normalized 18-character resident ID number.
///
/// `Debug` and `Display` are redacted so that the number cannot slip into a log or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl IdNumber {
    /// Validates and normalizes an ID number: spaces and dashes dropped, `x` upper-cased, a
    /// 15-digit first-generation number widened to 18 digits; check digit and birth date verified.
    pub fn parse(raw: &str) -> Result<IdNumber> {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let s = match s.len() {
            18 => s,
            15 if s.bytes().all(|b| b.is_ascii_digit()) => {
                let first17 = format!("{}19{}", &s[..6], &s[6..]);
                let check = check_char(&first17).ok_or(ArchiveError::IdNumber("not digits"))?;
                format!("{first17}{check}")
            }
            _ => {
                return Err(ArchiveError::IdNumber(
                    "it must have 18 characters (or 15 digits for an old card)",
                ));
            }
        };
        let (first17, last) = s.split_at(17);
        let expected = check_char(first17).ok_or(ArchiveError::IdNumber(
            "the first 17 characters must be digits",
        ))?;
        if !last.starts_with(expected) {
            return Err(ArchiveError::IdNumber(
                "the check digit does not match; re-read the number from the card",
            ));
        }
        let id = IdNumber(s);
        if id.birth_date().is_none() {
            return Err(ArchiveError::IdNumber(
                "the birth date in it is not a real date",
            ));
        }
        Ok(id)
    }

    /// Birth date encoded in the number.
    pub fn birth_date(&self) -> Option<jiff::civil::Date> {
        let digits = &self.0[6..14];
        let year = digits[0..4].parse().ok()?;
        let month = digits[4..6].parse().ok()?;
        let day = digits[6..8].parse().ok()?;
        jiff::civil::Date::new(year, month, day).ok()
    }

    /// Gender encoded in the number (17th digit: odd is male).
    pub fn gender(&self) -> Gender {
        let digit = self.0.as_bytes()[16] - b'0';
        if digit % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// The identity key of this number under a federation's salt.
    pub fn identity_key(&self, salt: &FederationSalt) -> IdentityKey {
        let digest = Sha256::new()
            .chain_update(b"hearth/identity/v1\0")
            .chain_update(salt.0)
            .chain_update(self.0.as_bytes())
            .finalize();
        IdentityKey(hex::encode(digest))
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumber(<redacted>)")
    }
}

/// The per-federation secret that salts identity keys.
///
/// Created once by `hearth init` at the first node and copied to every other node of the
/// federation; without it an identity key cannot be linked back to a number by trying them all.
#[derive(Clone, PartialEq, Eq)]
pub struct FederationSalt([u8; 32]);

impl FederationSalt {
    /// The salt of made-up federations (demos, tests, benchmarks), which
    /// [`crate::CaseFields::sample`] also uses. Never for real data.
    pub fn sample() -> FederationSalt {
        FederationSalt::from_bytes([0x5a; 32])
    }

    /// Wraps 32 random bytes (the caller draws them: this crate does no IO).
    pub fn from_bytes(bytes: [u8; 32]) -> FederationSalt {
        FederationSalt(bytes)
    }

    /// Parses the 64-hex-digit text form kept in the salt file.
    pub fn from_hex(text: &str) -> Result<FederationSalt> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| ArchiveError::Invalid {
            field: "federation salt",
            reason: "it must be 64 hex digits as written by `hearth init`".into(),
        })?;
        Ok(FederationSalt(bytes))
    }

    /// A short public fingerprint of the salt (16 hex digits of a hash of it): a data dir
    /// records it at first use, so that a changed salt file is noticed, without the salt itself
    /// being revealed by it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"hearth/salt-fingerprint/v1\0");
        hasher.update(self.to_hex().as_bytes());
        hex::encode(&hasher.finalize()[..8])
    }

    /// The 64-hex-digit text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for FederationSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FederationSalt(<secret>)")
    }
}

/// Salted hash that identifies a person across the federation without revealing the number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey(String);

impl IdentityKey {
    /// Wraps a key read back from a document.
    pub fn from_stored(s: String) -> IdentityKey {
        IdentityKey(s)
    }

    /// The 64-hex-digit form stored in documents.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One household, one file (一户一档): refuses to open a case — or to give `this_case` an
/// identity — for a household whose identity key already has `on_file` cases here.
pub fn one_file(on_file: &[String], this_case: Option<&str>) -> Result<()> {
    match on_file.iter().find(|id| Some(id.as_str()) != this_case) {
        None => Ok(()),
        Some(existing) => Err(ArchiveError::OneFile(format!(
            "a case for this ID number already exists here: {existing} (one household, one file)"
        ))),
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of GB 11643-1999.
    const SAMPLE: &str = "11010519491231002X";

    #[test]
    fn accepts_valid_numbers_and_normalizes_them() {
        let id = IdNumber::parse(" 110105-19491231-002x ").unwrap();
        assert_eq!(id, IdNumber::parse(SAMPLE).unwrap());
        assert_eq!(id.birth_date().unwrap().year(), 1949);
        assert_eq!(id.gender(), Gender::Female);
    }

    #[test]
    fn widens_old_fifteen_digit_numbers() {
        let old = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(old, IdNumber::parse(SAMPLE).unwrap());
    }

    #[test]
    fn refuses_bad_numbers_without_quoting_them() {
        let wrong_check = "110105194912310021";
        let err = IdNumber::parse(wrong_check).unwrap_err().to_string();
        assert!(err.contains("check digit"), "{err}");
        assert!(!err.contains(wrong_check));
        assert!(IdNumber::parse("1234").is_err());
        let bad_date = format!(
            "11010519491331002{}",
            check_char("11010519491331002").unwrap()
        );
        assert!(
            IdNumber::parse(&bad_date)
                .unwrap_err()
                .to_string()
                .contains("birth date")
        );
        assert_eq!(
            format!("{:?}", IdNumber::parse(SAMPLE).unwrap()),
            "IdNumber(<redacted>)"
        );
    }

    #[test]
    fn identity_key_depends_on_salt_and_hides_the_number() {
        let id = IdNumber::parse(SAMPLE).unwrap();
        let a = id.identity_key(&FederationSalt::from_bytes([1; 32]));
        let b = id.identity_key(&FederationSalt::from_bytes([2; 32]));
        assert_ne!(a, b);
        assert_eq!(a, id.identity_key(&FederationSalt::from_bytes([1; 32])));
        assert_eq!(a.as_str().len(), 64);
        assert!(!a.as_str().contains("19491231"));
    }

    #[test]
    fn sample_numbers_are_valid_and_distinct() {
        let a: Vec<String> = (0..30_000).step_by(997).map(sample_id_number).collect();
        for n in &a {
            IdNumber::parse(n).unwrap();
        }
        let mut b = a.clone();
        b.sort();
        b.dedup();
        assert_eq!(a.len(), b.len());
        assert_ne!(sample_id_number(5), sample_id_number(5 + 14_600));
    }

    #[test]
    fn salt_round_trips_through_hex() {
        let salt = FederationSalt::from_bytes([0xab; 32]);
        assert_eq!(FederationSalt::from_hex(&salt.to_hex()).unwrap(), salt);
        assert!(FederationSalt::from_hex("xyz").is_err());
    }
}
