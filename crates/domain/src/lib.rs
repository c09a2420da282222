//! Domain types of payfac. Every input becomes one of these the moment it
//! crosses the edge ("parse, don't validate"): the rest of the code cannot
//! hold an invalid merchant id, nonce or email.

mod buyer;
mod code;
mod keyed;
mod merchant;
mod request;
mod secret;
mod session;

pub use buyer::{Buyer, BuyerProfile, Email, MerchantUserNo, PersonName, UserId};
pub use code::{AuthorizationCode, CodeId};
pub use keyed::{Credential, CredentialId, IdPermutation};
pub use merchant::{MerchantId, MerchantStatus};
pub use request::{Nonce, Timestamp};
pub use secret::{SecretHash, random_alphanumeric};
pub use session::{SessionId, SessionToken};

/// Why an input was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl InvalidInput {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// True for C0/C1 control characters and DEL.
pub(crate) fn has_control_chars(text: &str) -> bool {
    text.chars().any(char::is_control)
}
