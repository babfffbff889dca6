//! Decoding of what callers send: percent-encoded path segments and
//! `application/x-www-form-urlencoded` bodies and query strings.
//!
//! Restcomm clients send every parameter as a form field, so this is the API's only input
//! decoder. It is strict about what it reads (bad escapes and invalid UTF-8 are 400s, and so
//! is a parameter the handler uses given twice) and deaf to what nobody reads: parameters
//! edgecomm does not use are ignored, as Restcomm and Twilio ignore them, because real
//! clients send extras (SPEC.md §1).

use crate::error::{Error, Result};

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`) into UTF-8 text.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'%' => {
                let hex = bytes
                    .get(idx + 1..idx + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| {
                        Error::Invalid(format!("bad percent-escape in {:?}", shorten(text)))
                    })?;
                out.push(hex);
                idx += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                idx += 1;
            }
            other => {
                out.push(other);
                idx += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::Invalid("request text is not valid UTF-8".to_string()))
}

/// Parameters decoded from a form body or a query string, consumed by name.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `name=value&…`. Repeated names are kept: they are refused only when a handler
    /// takes one, because which value would win is a guess.
    pub fn parse(raw: &[u8]) -> Result<Params> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| Error::Invalid("request body is not valid UTF-8".to_string()))?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in text.split('&').filter(|part| !part.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode(name, true)?;
            let value = percent_decode(value, true)?;
            if name.is_empty() {
                return Err(Error::Invalid("parameter with an empty name".to_string()));
            }
            pairs.push((name, value));
        }
        Ok(Params { pairs })
    }

    /// Takes a parameter out, so that `finish` knows which ones nobody read.
    pub fn take(&mut self, name: &str) -> Result<Option<String>> {
        let Some(idx) = self.pairs.iter().position(|(seen, _)| seen == name) else {
            return Ok(None);
        };
        let (_, value) = self.pairs.remove(idx);
        if self.pairs.iter().any(|(seen, _)| seen == name) {
            return Err(Error::Invalid(format!(
                "parameter {} given more than once",
                shorten(name)
            )));
        }
        Ok(Some(value))
    }

    /// True when the parameter was sent (even empty), without taking it.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(seen, _)| seen == name)
    }

    /// Takes a parameter and parses it when present.
    pub fn optional<T>(&mut self, name: &str, parse: fn(&str) -> Result<T>) -> Result<Option<T>> {
        self.take(name)?.map(|value| parse(&value)).transpose()
    }

    /// Takes a parameter that must be present and non-empty.
    pub fn require(&mut self, name: &'static str) -> Result<String> {
        match self.take(name)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(Error::MissingParameter(name)),
        }
    }

    /// Drops what nobody read. The names go to the debug log, where an integrator who
    /// wonders why `FriendlyNmae` changed nothing can find them.
    pub fn finish(self) {
        if !self.pairs.is_empty() {
            let names: Vec<String> = self.pairs.iter().map(|(name, _)| shorten(name)).collect();
            log::debug!("parameters not used: {}", names.join(", "));
        }
    }
}

/// Cuts a caller-supplied string for an error message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_plus_and_utf8() {
        assert_eq!(percent_decode("a%40b.c", false).unwrap(), "a@b.c");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert_eq!(percent_decode("%C3%A9", false).unwrap(), "é");
        assert!(percent_decode("%C3", false).is_err());
        assert!(percent_decode("%4", false).is_err());
        assert!(percent_decode("%zz", false).is_err());
    }

    #[test]
    fn params_are_taken_once_and_leftovers_are_ignored() {
        let mut params =
            Params::parse(b"FriendlyName=Jane+Doe&Password=abc%2612345&&Extra&x=1&x=2").unwrap();
        assert_eq!(
            params.take("FriendlyName").unwrap().as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(params.take("FriendlyName").unwrap(), None);
        assert_eq!(params.require("Password").unwrap(), "abc&12345");
        assert!(matches!(
            params.require("EmailAddress"),
            Err(Error::MissingParameter("EmailAddress"))
        ));
        params.finish();
    }

    #[test]
    fn a_used_parameter_given_twice_is_refused() {
        let mut params = Params::parse(b"Password=one11111&Password=two22222").unwrap();
        let err = params.require("Password").unwrap_err();
        assert!(err
            .public_message()
            .contains("\"Password\" given more than once"));
    }

    #[test]
    fn malformed_forms_are_rejected() {
        assert!(Params::parse(b"=1").is_err());
        assert!(Params::parse(&[b'a', b'=', 0xff]).is_err());
        assert!(Params::parse(b"a=%").is_err());
        assert!(Params::parse(b"").is_ok());
    }
}
