//! Parsing the allowed values of a schema enumeration from their CloudFormation spelling.
//!
//! Every generated enum implements `FromStr` through [`parse_allowed`], so a value read
//! from a configuration file is refused with the list of values CloudFormation accepts.

use std::fmt;

/// A string that is none of an enumeration's allowed values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an allowed `{type_name}`; expected one of {}", Allowed(.allowed))]
pub struct UnknownValue {
    /// The Rust name of the enumeration.
    pub type_name: &'static str,
    /// The value that was given.
    pub value: String,
    /// Every allowed value, as CloudFormation spells it.
    pub allowed: Vec<&'static str>,
}

struct Allowed<'a>(&'a [&'static str]);

impl fmt::Display for Allowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// The value of `all` spelled `text` (exactly, as CloudFormation spells it).
pub fn parse_allowed<T: Copy>(
    text: &str,
    type_name: &'static str,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<T, UnknownValue> {
    all.iter()
        .copied()
        .find(|value| spelling(*value) == text)
        .ok_or_else(|| UnknownValue {
            type_name,
            value: text.to_owned(),
            allowed: all.iter().map(|value| spelling(*value)).collect(),
        })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use crate::aws::appsync::api_cache::Type;

    #[test]
    fn generated_enums_parse_and_print_the_cloudformation_spelling() {
        assert_eq!(Type::from_str("LARGE_2X"), Ok(Type::Large2x));
        assert_eq!(Type::Large2x.to_string(), "LARGE_2X");
        let err = Type::from_str("TINY").unwrap_err();
        assert_eq!(err.value, "TINY");
        assert!(err.allowed.contains(&"SMALL"));
        assert!(err.to_string().contains("expected one of LARGE, "), "{err}");
    }
}
