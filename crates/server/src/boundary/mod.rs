//! What is payfac's at the edge of every front end, decided once.
//!
//! The merchant API, payfac's own buyer routes, the demo storefront, the
//! gateway and forward auth all meet the browser's request, and each of
//! them must agree on what is payfac's. Two places answering one of them
//! differently is how holes appear (a cookie the shipped nginx config
//! stripped but the gateway forwarded; header names refused in one form and
//! passed in another), so each answer lives here and nowhere else:
//!
//! - [`cookies`]: which cookies payfac issues, how they are set, read and
//!   kept from the storefront;
//! - [`headers`]: which header names are payfac's (`X-Payfac-*`, in any
//!   case, with `_` read as `-`);
//! - [`redirects`]: which `Location` values stay on the browser's origin;
//! - [`origin`]: which buyer `POST`s come from another site and are refused;
//! - [`paths`]: which paths are payfac's and never the storefront's;
//! - [`code`]: the `authorizationCode` query parameter, payfac's in every
//!   URL;
//! - [`forwarded`]: the original request a forward-auth sub-request
//!   describes;
//! - [`hardening`]: the security headers of payfac's own pages.
//!
//! The shipped proxy configurations (`deploy/`) encode the same answers;
//! the tests in [`cookies`] and [`headers`] read them and fail when they
//! drift.

pub mod code;
pub mod cookies;
pub mod forwarded;
pub mod hardening;
pub mod headers;
pub mod origin;
pub mod paths;
pub mod redirects;
