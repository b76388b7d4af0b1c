//! The federation's calendar: days and years are cut in China Standard Time (UTC+8; China has
//! kept no daylight saving since 1991), whatever time zone a node's machine is set to, so that
//! a case filed at 07:30 on 1 January counts in the new year at every node.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

/// The federation's time zone.
pub fn zone() -> TimeZone {
    TimeZone::fixed(Offset::constant(8))
}

/// The federation's day at moment `at`.
pub fn day_of(at: Timestamp) -> Date {
    at.to_zoned(zone()).date()
}

/// Moment `at` in the federation's time zone (what a node passes as "now").
pub fn zoned(at: Timestamp) -> Zoned {
    at.to_zoned(zone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_years_morning_in_china_is_in_the_new_year() {
        // 2026-12-31T23:30:00Z is 07:30 on 1 January 2027 in China.
        let at: Timestamp = "2026-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(day_of(at), jiff::civil::date(2027, 1, 1));
        let before: Timestamp = "2026-12-31T15:59:59Z".parse().unwrap();
        assert_eq!(day_of(before), jiff::civil::date(2026, 12, 31));
    }
}
