//! The `authorizationCode` query parameter: payfac's in every URL,
//! whichever front end sees it. The sign-in redeems it, the gateway never
//! forwards it, forward auth reads it from the original URI, and the
//! request scope classifies a page `GET` carrying it as a sign-in.

const CODE_PARAMETER: &str = "authorizationCode";

fn is_code_parameter(part: &str) -> bool {
    let key = part.split_once('=').map_or(part, |(key, _)| key);
    form_urlencoded::parse(key.as_bytes())
        .next()
        .is_some_and(|(name, _)| name == CODE_PARAMETER)
}

/// Whether a query carries an `authorizationCode` (a sign-in).
pub fn has_code(query: &str) -> bool {
    code_in(query).is_some()
}

/// The first `authorizationCode` value of the query.
pub fn code_in(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == CODE_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// The query with every `authorizationCode` parameter removed and every
/// other part kept exactly as sent.
pub fn query_without_code(query: &str) -> String {
    query
        .split('&')
        .filter(|part| !part.is_empty() && !is_code_parameter(part))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_code_parameter_is_removed() {
        assert_eq!(query_without_code("a=1&authorizationCode=X&b=2"), "a=1&b=2");
        assert_eq!(query_without_code("authorizationCode=X"), "");
        assert_eq!(
            query_without_code("authorization%43ode=X&authorizationCode=Y&c"),
            "c"
        );
        assert_eq!(
            query_without_code("q=a%20b&authorizationCodeX=1"),
            "q=a%20b&authorizationCodeX=1"
        );
    }

    #[test]
    fn the_first_code_is_used() {
        assert_eq!(
            code_in("authorizationCode=A&authorizationCode=B").as_deref(),
            Some("A")
        );
        assert_eq!(code_in("x=1"), None);
    }
}
