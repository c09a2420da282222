/// A storage failure. The request that met it must not have persisted
/// anything; the caller answers 10004. Messages carry no secrets.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage configuration: {0}")]
    Config(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Why a merchant administration command was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("merchant {0} already exists")]
    MerchantExists(String),
    #[error("unknown merchant {0}")]
    UnknownMerchant(String),
    #[error("key {0} is already registered")]
    KeyExists(String),
    #[error("merchant {merchant} has no key {key}")]
    UnknownKey { merchant: String, key: String },
    #[error("key {key} is the last key of merchant {merchant}; add another key first")]
    LastKey { merchant: String, key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AdminError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Store(error.into())
    }
}
