//! Property tests of the domain types: every type with a text form parses
//! its own text back to an equal value, and a presented credential that
//! differs from an issued one in any single character is never the same
//! credential to storage (which looks a row up by id and compares the
//! secret's SHA-256). The fuzz targets in fuzz/ check the parsers against
//! hostile bytes; these check the round trips the targets do not state.

use payfac_domain::{
    AuthorizationCode, CodeId, Credential, CredentialId, Email, IdPermutation, MerchantId,
    MerchantStatus, MerchantUserNo, Nonce, PersonName, SessionId, SessionToken, Timestamp, UserId,
};
use proptest::prelude::*;

/// Largest storage id a credential's 10 base62 characters hold.
/// Row ids the credential permutation covers (`keyed.rs`): `0 .. 2^56`.
const MAX_ID: i64 = (1 << 56) - 1;

/// The permutation of credential ids under a fixed test key.
fn ids() -> IdPermutation {
    IdPermutation::new(&[7; 16])
}

fn alphanumeric(length: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9]{{{length}}}")).unwrap()
}

/// A character to put in a credential: mostly one of its own alphabet
/// (the changes the parser cannot refuse by shape), sometimes any.
fn replacement() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::char::ranges(vec!['0'..='9', 'A'..='Z', 'a'..='z'].into()),
        1 => any::<char>(),
    ]
}

/// Any character but a control character.
fn printable() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("no control characters", |c| !c.is_control())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merchant_id_round_trips(text in "[A-Za-z0-9_-]{1,32}") {
        let id = MerchantId::parse(&text).unwrap();
        prop_assert_eq!(id.as_str(), text.as_str());
        prop_assert_eq!(id.to_string(), text.clone());
        prop_assert_eq!(MerchantId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn merchant_user_no_round_trips(chars in proptest::collection::vec(printable(), 1..=64)) {
        let text: String = chars.into_iter().collect();
        let parsed = MerchantUserNo::parse(&text).unwrap();
        prop_assert_eq!(parsed.as_str(), text.as_str());
        prop_assert_eq!(MerchantUserNo::parse(parsed.as_str()).unwrap(), parsed);
    }

    #[test]
    fn person_name_round_trips(chars in proptest::collection::vec(printable(), 0..=64)) {
        let text: String = chars.into_iter().collect();
        let parsed = PersonName::parse("firstName", &text).unwrap();
        prop_assert_eq!(parsed.as_str(), text.as_str());
        prop_assert_eq!(PersonName::parse("firstName", parsed.as_str()).unwrap(), parsed);
    }

    #[test]
    fn email_round_trips(
        local in "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,2}",
        labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", 2..=4),
    ) {
        let text = format!("{local}@{}", labels.join("."));
        let email = Email::parse(&text).unwrap();
        prop_assert_eq!(email.as_str(), text.as_str());
        prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
    }

    #[test]
    fn nonce_round_trips(text in "[A-Za-z0-9]{6,32}") {
        let nonce = Nonce::parse(&text).unwrap();
        prop_assert_eq!(nonce.as_str(), text.as_str());
        prop_assert_eq!(Nonce::parse(nonce.as_str()).unwrap(), nonce);
    }

    #[test]
    fn timestamp_round_trips(seconds in 0i64..=999_999_999_999, zeros in 0usize..=3) {
        let text = seconds.to_string();
        let timestamp = Timestamp::parse(&text).unwrap();
        prop_assert_eq!(timestamp.unix_seconds(), seconds);
        prop_assert_eq!(Timestamp::parse(&timestamp.unix_seconds().to_string()).unwrap(), timestamp);
        // Leading zeros name the same second while the text stays within
        // twelve digits.
        let padded = format!("{}{text}", "0".repeat(zeros));
        prop_assert_eq!(Timestamp::parse(&padded).ok(), (padded.len() <= 12).then_some(timestamp));
    }

    #[test]
    fn user_id_round_trips(value in 1i64..=i64::MAX) {
        let id = UserId::new(value).unwrap();
        prop_assert_eq!(id.to_string().parse::<i64>().unwrap(), value);
        prop_assert_eq!(UserId::new(id.get()), Some(id));
    }

    #[test]
    fn authorization_code_round_trips(id in 0..=MAX_ID, secret in alphanumeric(22)) {
        round_trips::<CodeId, 22>(id, secret)?;
    }

    #[test]
    fn session_token_round_trips(id in 0..=MAX_ID, secret in alphanumeric(33)) {
        round_trips::<SessionId, 33>(id, secret)?;
    }

    #[test]
    fn a_code_with_one_character_changed_is_never_the_code(
        id in 0..=MAX_ID,
        secret in alphanumeric(22),
        position in 0usize..32,
        replacement in replacement(),
    ) {
        never_the_same::<CodeId, 22>(id, secret, position, replacement)?;
    }

    #[test]
    fn a_session_token_with_one_character_changed_is_never_the_token(
        id in 0..=MAX_ID,
        secret in alphanumeric(33),
        position in 0usize..43,
        replacement in replacement(),
    ) {
        never_the_same::<SessionId, 33>(id, secret, position, replacement)?;
    }
}

#[test]
fn merchant_status_round_trips() {
    for status in [MerchantStatus::Active, MerchantStatus::Disabled] {
        assert_eq!(MerchantStatus::parse(status.as_str()), Some(status));
    }
}

/// Assembled → text → parsed gives the same id, secret hash and text.
fn round_trips<Id, const N: usize>(id: i64, secret: String) -> Result<(), TestCaseError>
where
    Id: CredentialId + PartialEq + std::fmt::Debug,
{
    let hash = payfac_domain::SecretHash::of(&secret);
    let ids = ids();
    let issued = Credential::<Id, N>::assemble(Id::from_storage(id), secret, &ids);
    let text = issued.expose();
    prop_assert_eq!(text.len(), Credential::<Id, N>::LENGTH);
    let parsed = Credential::<Id, N>::parse(&text).unwrap();
    prop_assert_eq!(parsed.id(&ids).map(CredentialId::storage), Some(id));
    prop_assert!(parsed.secret_hash() == hash, "secret hash changed");
    prop_assert!(parsed.expose() == text, "text changed");
    Ok(())
}

/// With one character of the issued text replaced by a different one, the
/// value is refused by the parser or names another id or another secret
/// hash: storage, which matches both, would not redeem it.
fn never_the_same<Id, const N: usize>(
    id: i64,
    secret: String,
    position: usize,
    replacement: char,
) -> Result<(), TestCaseError>
where
    Id: CredentialId + PartialEq + std::fmt::Debug,
{
    let ids = ids();
    let issued = Credential::<Id, N>::assemble(Id::from_storage(id), secret, &ids);
    let text = issued.expose();
    let original = text.as_bytes()[position] as char;
    prop_assume!(replacement != original);
    let mut changed: String = text[..position].to_owned();
    changed.push(replacement);
    changed.push_str(&text[position + 1..]);
    if let Ok(presented) = Credential::<Id, N>::parse(&changed) {
        // Messages name the position only, never the credential.
        prop_assert!(
            presented.id(&ids) != issued.id(&ids)
                || presented.secret_hash() != issued.secret_hash(),
            "a change at position {} was accepted as the same credential",
            position
        );
    }
    Ok(())
}

/// The aliases the service uses are the generic credential.
#[test]
fn aliases_are_the_tested_types() {
    let _: fn(&str) -> Result<AuthorizationCode, _> = Credential::<CodeId, 22>::parse;
    let _: fn(&str) -> Result<SessionToken, _> = Credential::<SessionId, 33>::parse;
}
