//! Request signature verification (docs/PROTOCOL.md §2, §4).

use axum::http::HeaderMap;
use payfac_domain::{Nonce, Timestamp};
use payfac_signing::{decode_signature, signature_string};

use crate::envelope::{ApiError, SignatureDebug, SignatureFailure};
use crate::merchants::Merchant;

/// What a verified request proved: its nonce and timestamp.
#[derive(Debug)]
pub struct Verified {
    pub timestamp: Timestamp,
    pub nonce: Nonce,
}

/// The parts of a request the signature covers.
pub struct SignedParts<'a> {
    pub headers: &'a HeaderMap,
    pub raw_query: &'a str,
    pub body: &'a [u8],
}

impl SignedParts<'_> {
    /// Exactly one value of a header, as text; several values are as bad
    /// as a malformed one, since the signer and we could read different ones.
    fn header(&self, name: &str) -> Result<Option<&str>, ()> {
        let mut values = self.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => value.to_str().map(Some).map_err(|_| ()),
            (Some(_), Some(_)) => Err(()),
        }
    }

    /// The string the server verifies, built from whatever was sent.
    fn signature_string(&self) -> Vec<u8> {
        let text = |name| self.header(name).ok().flatten().unwrap_or("");
        signature_string(self.raw_query, text("timestamp"), text("nonce"), self.body)
    }

    /// Checks headers, timestamp window and signature, in that order.
    pub fn verify(
        &self,
        merchant: &Merchant,
        now: i64,
        window: i64,
    ) -> Result<Verified, SignatureFailure> {
        use SignatureFailure::*;
        let timestamp = self.header("timestamp").map_err(|_| BadTimestamp)?;
        let nonce = self.header("nonce").map_err(|_| BadNonce)?;
        let signature = self.header("signature").map_err(|_| BadSignatureEncoding)?;
        let (Some(timestamp), Some(nonce), Some(signature)) = (timestamp, nonce, signature) else {
            return Err(MissingHeader);
        };
        let timestamp = Timestamp::parse(timestamp).map_err(|_| BadTimestamp)?;
        let nonce = Nonce::parse(nonce).map_err(|_| BadNonce)?;
        let signature = decode_signature(signature).ok_or(BadSignatureEncoding)?;
        if !timestamp.is_within(now, window) {
            return Err(ClockSkew);
        }
        let message = self.signature_string();
        if merchant
            .keys
            .iter()
            .any(|key| key.verify(&message, &signature))
        {
            Ok(Verified { timestamp, nonce })
        } else {
            Err(NoKeyMatched)
        }
    }

    /// The 10003 answer: logged and counted with its reason; the reason
    /// reaches the caller only in sandbox mode. There a `no_key_matched`
    /// also lists the merchant's active key ids, so the signer can tell an
    /// unregistered key from a string built differently; the ids are
    /// public (`payfac merchant list` shows them) but say which keys a
    /// merchant has, so production keeps them to itself like the reason.
    pub fn reject(
        &self,
        merchant: &Merchant,
        reason: SignatureFailure,
        now: i64,
        sandbox: bool,
    ) -> ApiError {
        let id = merchant.id.as_str();
        tracing::warn!(
            merchant = id,
            reason = reason.as_str(),
            "signature check failed"
        );
        metrics::counter!(
            "payfac_signature_failures_total",
            "merchant" => id.to_owned(),
            "reason" => reason.as_str()
        )
        .increment(1);
        let debug = sandbox.then(|| SignatureDebug {
            reason: reason.as_str().into(),
            server_time: now,
            signature_string: String::from_utf8_lossy(&self.signature_string()).into_owned(),
            active_key_ids: (reason == SignatureFailure::NoKeyMatched)
                .then(|| active_key_ids(merchant)),
        });
        ApiError::Signature { reason, debug }
    }
}

/// The ids of `merchant`'s active keys, sorted so that an answer does not
/// depend on the order storage returned them in.
fn active_key_ids(merchant: &Merchant) -> Vec<String> {
    let mut ids: Vec<String> = merchant.keys.iter().map(|key| key.key_id()).collect();
    ids.sort_unstable();
    ids
}
