//! Money: yuan on input and display, integer fen (分) everywhere else.

use crate::error::{ArchiveError, Result};

/// The largest amount accepted anywhere: one hundred billion yuan, far above any real figure,
/// low enough that sums of many amounts cannot overflow `i64`.
pub const MAX_FEN: i64 = 10_000_000_000_000;

/// Parses yuan with at most two decimals (`1234`, `1234.5`, `1,234.56`) into fen.
///
/// Negative, malformed and absurdly large amounts are refused.
pub fn parse_yuan(field: &'static str, value: &str) -> Result<i64> {
    let bad = |reason| ArchiveError::Amount {
        field,
        value: value.to_owned(),
        reason,
    };
    let trimmed = value.trim();
    let trimmed = trimmed.strip_prefix('¥').unwrap_or(trimmed);
    if trimmed.starts_with('-') {
        return Err(bad("amounts cannot be negative"));
    }
    let whole_part = trimmed.split('.').next().unwrap_or_default();
    if whole_part.contains(',') && !grouped_in_thousands(whole_part) {
        return Err(bad(
            "commas must group thousands, e.g. 12,500.00 (in yuan; 12.50 for twelve and a half)",
        ));
    }
    if trimmed
        .split_once('.')
        .is_some_and(|(_, frac)| frac.contains(','))
    {
        return Err(bad(
            "write yuan as digits with at most two decimals, e.g. 1200.50",
        ));
    }
    let s: String = trimmed.chars().filter(|&c| c != ',').collect();
    let s = s.as_str();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "write yuan as digits with at most two decimals, e.g. 1200.50",
        ));
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) || s.ends_with('.') {
        return Err(bad(
            "write yuan as digits with at most two decimals, e.g. 1200.50",
        ));
    }
    let whole: i64 = whole.parse().map_err(|_| bad("amount is too large"))?;
    let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    let fen = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .filter(|&f| f <= MAX_FEN)
        .ok_or_else(|| bad("amount is too large"))?;
    Ok(fen)
}

/// Whether `digits` (the part before the decimal point) groups thousands with commas: `1,234`,
/// `12,345,678` — not `12,50` or `12,0000`, which are amounts written another way.
fn grouped_in_thousands(digits: &str) -> bool {
    let mut groups = digits.split(',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses an amount that must be more than zero (aid paid, a loan, a repayment).
pub fn parse_positive_yuan(field: &'static str, value: &str) -> Result<i64> {
    let fen = parse_yuan(field, value)?;
    if fen == 0 {
        return Err(ArchiveError::Amount {
            field,
            value: value.to_owned(),
            reason: "amount must be more than zero",
        });
    }
    Ok(fen)
}

/// Formats fen as yuan with two decimals and thousands separators: `36,000.00`.
pub fn format_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_yuan_into_fen() {
        assert_eq!(parse_yuan("x", "36000").unwrap(), 3_600_000);
        assert_eq!(parse_yuan("x", "12.5").unwrap(), 1250);
        assert_eq!(parse_yuan("x", "0.07").unwrap(), 7);
        assert_eq!(parse_yuan("x", " 1,234.56 ").unwrap(), 123_456);
        assert_eq!(parse_yuan("x", "12,345,678").unwrap(), 1_234_567_800);
        assert_eq!(parse_yuan("x", "¥800").unwrap(), 80_000);
        assert_eq!(parse_yuan("x", "0").unwrap(), 0);
    }

    #[test]
    fn refuses_bad_amounts() {
        for bad in [
            "-5",
            "1.234",
            "abc",
            "",
            "1.",
            ".5",
            "1e5",
            "12.3.4",
            "99999999999999999999",
            "12,50",
            "12,0000",
            ",500",
            "1,23,456",
            "1,234.5,6",
        ] {
            assert!(parse_yuan("income", bad).is_err(), "{bad:?} was accepted");
        }
        let msg = parse_yuan("income", "-5").unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid amount \"-5\" for income: amounts cannot be negative"
        );
        assert!(parse_positive_yuan("amount", "0").is_err());
    }

    #[test]
    fn formats_with_separators() {
        assert_eq!(format_yuan(3_600_000), "36,000.00");
        assert_eq!(format_yuan(66_667), "666.67");
        assert_eq!(format_yuan(5), "0.05");
        assert_eq!(format_yuan(-123_456_789), "-1,234,567.89");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(fen in 0..MAX_FEN) {
            prop_assert_eq!(parse_yuan("x", &format_yuan(fen)).unwrap(), fen);
        }
    }
}
