//! Signing headers of a merchant request.

use crate::InvalidInput;

/// The `timestamp` header: Unix seconds, ASCII digits only, at most 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidInput::new("timestamp must be 1-12 ASCII digits"));
        }
        // At most 12 digits always fits an i64.
        Ok(Self(text.parse().expect("12 digits fit in i64")))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// True when `|now - self| <= window_secs`.
    pub fn is_within(self, now: i64, window_secs: i64) -> bool {
        (now - self.0).abs() <= window_secs
    }
}

/// The `nonce` header: 6-32 of `[A-Za-z0-9]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if (6..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidInput::new(
                "nonce must be 6-32 characters of A-Z a-z 0-9",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_digits_only_at_most_twelve() {
        assert_eq!(
            Timestamp::parse("1743478725").unwrap().unix_seconds(),
            1743478725
        );
        assert!(Timestamp::parse("999999999999").is_ok());
        assert!(Timestamp::parse("1743478725000").is_err(), "milliseconds");
        assert!(Timestamp::parse("").is_err());
        assert!(Timestamp::parse("-1").is_err());
        assert!(Timestamp::parse("+17").is_err());
        assert!(Timestamp::parse(" 17").is_err());
        assert!(Timestamp::parse("1.5").is_err());
    }

    #[test]
    fn window_is_inclusive_on_both_sides() {
        let ts = Timestamp::parse("1000").unwrap();
        assert!(ts.is_within(1300, 300));
        assert!(ts.is_within(700, 300));
        assert!(!ts.is_within(1301, 300));
        assert!(!ts.is_within(699, 300));
    }

    #[test]
    fn nonce_length_and_alphabet() {
        assert!(Nonce::parse("a1b2c3").is_ok());
        assert!(Nonce::parse(&"Z".repeat(32)).is_ok());
        assert!(Nonce::parse("a1b2c").is_err());
        assert!(Nonce::parse(&"Z".repeat(33)).is_err());
        assert!(Nonce::parse("abc-def").is_err());
        assert!(Nonce::parse("abcdéf").is_err());
    }
}
