//! Buyers and the fields a merchant syncs.

use serde::Serialize;

use crate::{InvalidInput, MerchantId, has_control_chars};

/// The buyer's id in the merchant's system: 1-64 characters, no control
/// characters; opaque and case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MerchantUserNo(String);

impl MerchantUserNo {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let length = text.chars().count();
        if !(1..=64).contains(&length) {
            return Err(InvalidInput::new("merchantUserNo must be 1-64 characters"));
        }
        if has_control_chars(text) {
            return Err(InvalidInput::new(
                "merchantUserNo must not contain control characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A syntactically valid email address of at most 254 characters.
///
/// The check is deliberately structural (one `@`, a dot-atom local part, a
/// dotted domain of letter/digit/hyphen labels); internationalised
/// addresses such as `jürgen@example.de` are accepted. Quoted local parts
/// and IP-literal domains are refused: no buyer needs them and they are a
/// favourite of injection payloads.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

/// Printable characters allowed in a dot-atom besides letters and digits.
const ATEXT_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

impl Email {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let invalid = || InvalidInput::new("email is not a valid address");
        if text.chars().count() > 254 {
            return Err(InvalidInput::new("email must be at most 254 characters"));
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .chars()
                        .all(|c| c.is_alphanumeric() || ATEXT_SPECIALS.contains(c))
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                (1..=63).contains(&label.chars().count())
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: first character of the local part and the
    /// domain, e.g. `j***@example.com`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

/// Emails are personal data: `Debug` shows only the masked form.
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

/// A first or last name: at most 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &str, text: &str) -> Result<Self, InvalidInput> {
        if text.chars().count() > 64 {
            return Err(InvalidInput::new(format!(
                "{field} must be at most 64 characters"
            )));
        }
        if has_control_chars(text) {
            return Err(InvalidInput::new(format!(
                "{field} must not contain control characters"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The platform's id of a buyer: a positive signed 64-bit integer, shown to
/// merchants as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(i64);

impl UserId {
    pub fn new(value: i64) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a merchant's sync call says about a buyer. `None` leaves the stored
/// name unchanged.
#[derive(Debug, Clone)]
pub struct BuyerProfile {
    pub merchant_user_no: MerchantUserNo,
    pub email: Email,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
}

/// A stored buyer, as shown to the buyer on platform pages and `/api/me`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    #[serde(serialize_with = "as_decimal")]
    pub user_id: i64,
    pub merchant: String,
    pub merchant_user_no: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

fn as_decimal<S: serde::Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl Buyer {
    /// The merchant that synced this buyer.
    pub fn merchant_id(&self) -> Option<MerchantId> {
        MerchantId::parse(&self.merchant).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_user_no_bounds() {
        assert!(MerchantUserNo::parse("U1000001").is_ok());
        assert!(MerchantUserNo::parse(&"ü".repeat(64)).is_ok());
        assert!(MerchantUserNo::parse("").is_err());
        assert!(MerchantUserNo::parse(&"a".repeat(65)).is_err());
        assert!(MerchantUserNo::parse("a\nb").is_err());
        assert!(MerchantUserNo::parse("a\u{0}b").is_err());
        assert!(MerchantUserNo::parse("a\u{85}b").is_err());
    }

    #[test]
    fn valid_emails() {
        for good in [
            "john.doe@example.com",
            "jürgen@example.de",
            "a+tag@sub.example.co.uk",
            "o'brien@example.ie",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn invalid_emails() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@exam_ple.com",
            "<script>@x.com",
            "\"q\"@example.com",
            "a\n@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let domain = |last: usize| {
            format!(
                "{}.{}.{}.com",
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(last)
            )
        };
        let longest = format!("{}@{}", "a".repeat(64), domain(57));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        let too_long = format!("{}@{}", "a".repeat(64), domain(58));
        assert!(Email::parse(&too_long).is_err());
    }

    #[test]
    fn email_debug_is_masked() {
        let email = Email::parse("john.doe@example.com").unwrap();
        assert_eq!(format!("{email:?}"), "Email(j***@example.com)");
    }

    #[test]
    fn names_bounded_and_free_of_control_characters() {
        assert!(PersonName::parse("firstName", &"x".repeat(64)).is_ok());
        assert!(PersonName::parse("firstName", "").is_ok());
        assert!(PersonName::parse("firstName", &"x".repeat(65)).is_err());
        assert!(PersonName::parse("firstName", "a\tb").is_err());
    }

    #[test]
    fn user_id_positive_only() {
        assert!(UserId::new(0).is_none());
        assert!(UserId::new(-5).is_none());
        assert_eq!(
            UserId::new(i64::MAX).unwrap().to_string(),
            i64::MAX.to_string()
        );
    }
}
