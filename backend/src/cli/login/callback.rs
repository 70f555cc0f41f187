//! What a redirect to the callback path says: the provider's code, its refusal, or a stray.
use super::checks::clean;
use subtle::ConstantTimeEq;

/// What the loopback listener made of a request to the callback path.
#[derive(Debug, PartialEq, Eq)]
pub enum Callback {
    /// The provider's answer with a code: finish the login.
    Code(Received),
    /// The provider's refusal (`error`, `error_description`): the login ends
    /// with this message.
    Refused(String),
    /// Not the answer to this login (another `state`, or a malformed query):
    /// answered 400, and the wait goes on.
    Stray(&'static str),
}

/// The code and state the provider sent.
#[derive(PartialEq, Eq)]
pub struct Received {
    /// `state`.
    pub state: String,
    /// `code`.
    pub code: String,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Received { state: ***, code: *** }")
    }
}

/// Reads the callback's query (or `form_post` body). `expected_state` is the
/// state of the authorization URL, when it had one.
pub fn parse_callback(query: Option<&str>, expected_state: Option<&str>) -> Callback {
    let (mut code, mut state, mut error, mut description) = (None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Callback::Stray("a parameter is repeated");
        }
    }
    let state_matches = match (expected_state, state.as_deref()) {
        (None, _) => true,
        (Some(want), Some(got)) => bool::from(want.as_bytes().ct_eq(got.as_bytes())),
        (Some(_), None) => false,
    };
    if let Some(error) = error {
        // RFC 6749 §4.1.2.1 wants the state back, but some providers omit it
        // on errors; an error with a foreign state is someone else's.
        if state.is_some() && !state_matches {
            return Callback::Stray("the state does not belong to this login");
        }
        let message = match description.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("{}: {}", clean(&error), clean(&d)),
            None => clean(&error),
        };
        return Callback::Refused(message);
    }
    if !state_matches {
        return Callback::Stray("the state does not belong to this login");
    }
    match (code, state) {
        (Some(code), Some(state)) if !code.is_empty() => Callback::Code(Received { state, code }),
        _ => Callback::Stray("the redirect carries no code and state"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(state: &str, code: &str) -> Callback {
        Callback::Code(Received {
            state: state.into(),
            code: code.into(),
        })
    }

    #[test]
    fn callback_with_a_code() {
        assert_eq!(
            parse_callback(Some("code=c1&state=s1"), Some("s1")),
            code("s1", "c1")
        );
        assert_eq!(
            parse_callback(
                Some("state=s%201&code=a%2Bb&iss=https%3A%2F%2Fidp"),
                Some("s 1")
            ),
            code("s 1", "a+b")
        );
        // without a known state, any state is passed on (the server checks it)
        assert_eq!(parse_callback(Some("code=c&state=x"), None), code("x", "c"));
    }

    #[test]
    fn callbacks_that_are_not_ours_are_ignored() {
        for query in [
            Some("code=c1&state=other"),
            Some("code=c1"),
            Some("state=s1"),
            Some("code=&state=s1"),
            Some("code=c1&code=c2&state=s1"),
            Some("code=c1&state=s1&state=s1"),
            Some(""),
            None,
        ] {
            assert!(
                matches!(parse_callback(query, Some("s1")), Callback::Stray(_)),
                "{query:?}"
            );
        }
        assert!(matches!(
            parse_callback(Some("error=access_denied&state=other"), Some("s1")),
            Callback::Stray(_)
        ));
    }

    #[test]
    fn callback_with_an_error_ends_the_login() {
        assert_eq!(
            parse_callback(
                Some("error=access_denied&error_description=The+user+said+no&state=s1"),
                Some("s1")
            ),
            Callback::Refused("access_denied: The user said no".into())
        );
        assert_eq!(
            parse_callback(Some("error=login_required"), Some("s1")),
            Callback::Refused("login_required".into()),
            "an error without a state still ends the login"
        );
        assert_eq!(
            parse_callback(Some("error=x&error_description=%1b%5b31mred"), None),
            Callback::Refused("x:  [31mred".into()),
            "no terminal escapes from the URL"
        );
    }

    #[test]
    fn received_debug_hides_the_code() {
        let r = Received {
            state: "the-state".into(),
            code: "the-code".into(),
        };
        let s = format!("{r:?}");
        assert!(!s.contains("the-code") && !s.contains("the-state"), "{s}");
    }
}
