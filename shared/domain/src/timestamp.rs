//! Timestamps as the contract writes them: RFC 3339, UTC, milliseconds, `Z`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// A UTC instant with millisecond precision, written `2024-01-15T10:30:00.000Z`.
///
/// Its text form sorts like the instant, so it doubles as a DynamoDB sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_unix_millis(
            (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        )
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Self {
        let nanos = i128::from(millis) * 1_000_000;
        Self(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Parses the contract's form (any RFC 3339 is accepted and normalised to UTC).
    pub fn parse(text: &str) -> Option<Self> {
        let parsed =
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        Some(Self::from_unix_millis(
            (parsed.unix_timestamp_nanos() / 1_000_000) as i64,
        ))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // From the calendar fields, with no string of its own: a conversation's JSON writes
        // dozens of these (`time`'s formatter allocates one per timestamp).
        let (year, month, day) = self.0.to_calendar_date();
        let (hour, minute, second, milli) = self.0.to_hms_milli();
        let month = u8::from(month);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        let ts = Timestamp::from_unix_millis(1_705_314_600_000);
        assert_eq!(ts.to_string(), "2024-01-15T10:30:00.000Z");
        let ts = Timestamp::from_unix_millis(1_705_314_600_007);
        assert_eq!(ts.to_string(), "2024-01-15T10:30:00.007Z");
    }

    #[test]
    fn parses_what_it_writes_and_normalises_offsets() {
        let ts = Timestamp::from_unix_millis(1_705_314_600_123);
        assert_eq!(Timestamp::parse(&ts.to_string()), Some(ts));
        assert_eq!(Timestamp::parse("2024-01-15T11:30:00.123+01:00"), Some(ts));
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn writes_what_a_time_format_description_writes() {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // The epoch, a leap day, a date in the contract, the last instant of year 9999.
        for millis in [
            0,
            1,
            951_825_600_999,
            1_705_314_600_123,
            253_402_300_799_999,
        ] {
            let ts = Timestamp::from_unix_millis(millis);
            assert_eq!(ts.to_string(), ts.0.format(format).unwrap());
        }
    }

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::from_unix_millis(999);
        let b = Timestamp::from_unix_millis(1_000);
        assert!(a.to_string() < b.to_string());
    }
}
