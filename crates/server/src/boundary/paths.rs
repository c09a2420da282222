//! Which paths are payfac's: answered by payfac in every mode, never
//! proxied to the storefront and never one of its pages.
//!
//! The router mounts these constants; the request scope (`crate::scope`)
//! asks [`Ownership::is_payfacs`] once per request, and the gateway and
//! forward auth read its answer. The shipped nginx and Caddy configs route
//! the same prefixes to payfac (`tests/proxies`).

/// The merchant API's namespace.
pub const MERCHANT_API: &str = "/pay-fac";
/// payfac's own buyer routes, forward auth and the playground.
pub const OWN_PREFIX: &str = "/_payfac";
/// Where proxies send their forward-auth sub-request.
pub const FORWARD_AUTH: &str = "/_payfac/auth";
/// The identity hand-off's (and the OpenID Provider's) JWK Set.
pub const JWKS: &str = "/.well-known/jwks.json";
/// The OpenID Provider's discovery document; its other endpoints are
/// under [`OWN_PREFIX`].
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const OIDC_AUTHORIZE: &str = "/_payfac/oidc/authorize";
pub const OIDC_TOKEN: &str = "/_payfac/oidc/token";
pub const OIDC_USERINFO: &str = "/_payfac/oidc/userinfo";
pub const OIDC_LOGOUT: &str = "/_payfac/oidc/logout";
/// The merchant API's OpenAPI document.
pub const OPENAPI: &str = "/openapi.json";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";

/// `prefix` itself or a path below it: `/pay-facade` is not under
/// `/pay-fac`.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The merchant API's namespace: `/pay-fac` and everything below it.
pub fn is_merchant_api(path: &str) -> bool {
    is_under(path, MERCHANT_API)
}

/// Forward auth's path: [`FORWARD_AUTH`] or below it (Envoy's
/// `ext_authz` appends the original path).
pub fn is_forward_auth(path: &str) -> bool {
    is_under(path, FORWARD_AUTH)
}

/// The paths payfac keeps for itself on its public listener; two of them
/// depend on how it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `/metrics` is served here (no `--metrics-listen`).
    pub metrics: bool,
    /// The OpenID Provider is on (`--public-url`).
    pub openid: bool,
}

impl Ownership {
    /// Whether payfac answers `path` itself. Everything else is the
    /// storefront's: the upstream's in gateway mode, the demo's without.
    pub fn is_payfacs(&self, path: &str) -> bool {
        is_under(path, MERCHANT_API)
            || is_under(path, OWN_PREFIX)
            || matches!(path, HEALTHZ | READYZ | JWKS | OPENAPI)
            || (self.metrics && path == METRICS)
            || (self.openid && path == OPENID_CONFIGURATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_covers_itself_and_below_only() {
        let own = Ownership::default();
        for path in ["/_payfac", "/_payfac/x", "/pay-fac", "/pay-fac/M/v1/x"] {
            assert!(own.is_payfacs(path), "{path}");
        }
        for path in ["/pay-facade", "/_payfacade", "/", "/healthz/x", "/metrics"] {
            assert!(!own.is_payfacs(path), "{path}");
        }
        assert!(is_forward_auth("/_payfac/auth/account"));
        assert!(!is_forward_auth("/_payfac/authx"));
    }

    #[test]
    fn metrics_and_discovery_are_payfacs_only_when_served_here() {
        let all = Ownership {
            metrics: true,
            openid: true,
        };
        assert!(all.is_payfacs(METRICS));
        assert!(all.is_payfacs(OPENID_CONFIGURATION));
        let none = Ownership::default();
        assert!(!none.is_payfacs(METRICS));
        assert!(!none.is_payfacs(OPENID_CONFIGURATION));
    }
}
