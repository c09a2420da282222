//! "Whose request is this?", answered once per request.
//!
//! Several layers need the same four answers: what kind of request this is
//! (a merchant call, a sign-in by code, a forward-auth sub-request),
//! whether its path is payfac's or the storefront's, which client sent it
//! (behind trusted proxies, not the peer), and which session its cookie
//! presents. The outermost layer (`crate::app`) works them out once, from
//! the rules in `crate::boundary`, and hands them on as a request
//! extension, as oauth2-proxy's request scope does; the gateway's
//! shortcut, the rate limits, the sign-in by query and the handlers read
//! them instead of deciding again.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method, Uri};
use payfac_domain::SessionToken;
use payfac_store::SessionKey;

use crate::AppState;
use crate::boundary::{code, cookies, forwarded, paths};
use crate::ratelimit::client_ip;

/// What a request is, as far as payfac's layers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A call of the merchant API (`/pay-fac/…`, any method).
    MerchantCall,
    /// A `GET` with an `authorizationCode` in its query: redeemed before
    /// any route sees it.
    SignIn,
    /// A proxy's forward-auth sub-request; `sign_in` when the original
    /// request it describes is a sign-in.
    ForwardAuth { sign_in: bool },
    /// A request to the OpenID Provider's token endpoint: its refusals
    /// count against the client like refused codes.
    OidcToken,
    /// Anything else.
    Other,
}

impl Kind {
    /// Whether the request redeems a code (the sign-in rate limits).
    pub fn redeems_code(self) -> bool {
        matches!(self, Self::SignIn | Self::ForwardAuth { sign_in: true })
    }
}

/// Who answers a path (`boundary::paths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// payfac, in every mode.
    Payfac,
    /// The storefront: the upstream in gateway mode, else the demo.
    Storefront,
}

/// The answers, for one request.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub kind: Kind,
    pub owner: Owner,
    /// The client's address: the peer, or behind trusted proxies the
    /// address they name (`ratelimit::client_ip`).
    pub client: IpAddr,
    /// The session the browser's cookie names, if it has the shape of one.
    pub session: Option<SessionKey>,
}

impl Scope {
    /// Works the answers out for a request from `peer`.
    pub fn of(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer: IpAddr,
        state: &AppState,
    ) -> Self {
        let path = uri.path();
        let kind = if paths::is_merchant_api(path) {
            Kind::MerchantCall
        } else if path == paths::OIDC_TOKEN {
            Kind::OidcToken
        } else if paths::is_forward_auth(path) {
            Kind::ForwardAuth {
                sign_in: forwarded::describes_sign_in(method, uri, headers),
            }
        } else if method == Method::GET && uri.query().is_some_and(code::has_code) {
            Kind::SignIn
        } else {
            Kind::Other
        };
        let owner = if state.config.ownership().is_payfacs(path) {
            Owner::Payfac
        } else {
            Owner::Storefront
        };
        Self {
            kind,
            owner,
            client: client_ip(peer, headers, &state.config.rate_limits.trusted_proxies),
            session: presented_session(headers, state),
        }
    }

    /// The scope the outermost layer stored, or, for a request that did
    /// not pass it (a router driven directly), worked out here.
    pub fn get(
        extensions: &Extensions,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        state: &AppState,
    ) -> Self {
        if let Some(scope) = extensions.get::<Self>() {
            return *scope;
        }
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Self::of(method, uri, headers, peer, state)
    }
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::get(
            &parts.extensions,
            &parts.method,
            &parts.uri,
            &parts.headers,
            state,
        ))
    }
}

/// The session token the browser presented, if it has the right shape.
pub fn presented_token(headers: &HeaderMap) -> Option<SessionToken> {
    cookies::value(headers, cookies::SESSION).and_then(|value| SessionToken::parse(value).ok())
}

/// The session key of the token the browser presented, if any.
pub fn presented_session(headers: &HeaderMap, state: &AppState) -> Option<SessionKey> {
    presented_token(headers).and_then(|token| SessionKey::of(&token, &state.keys.ids))
}
