use crate::InvalidInput;

/// A merchant's id, e.g. `MERCHANT001`: 1-32 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MerchantId(String);

impl MerchantId {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let valid = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidInput::new(
                "merchant id must be 1-32 characters of A-Z a-z 0-9 _ -",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MerchantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a merchant may call the API. A disabled merchant is answered
/// exactly like an unknown one (10001), and its buyers' sessions stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantStatus {
    Active,
    Disabled,
}

impl MerchantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(MerchantId::parse("MERCHANT001").is_ok());
        assert!(MerchantId::parse("a_b-C").is_ok());
        assert!(MerchantId::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        assert!(MerchantId::parse("").is_err());
        assert!(MerchantId::parse(&"x".repeat(33)).is_err());
        assert!(MerchantId::parse("a b").is_err());
        assert!(MerchantId::parse("a/b").is_err());
        assert!(MerchantId::parse("ü").is_err());
    }
}
