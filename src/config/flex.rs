//! Lenient scalar readers for the raw configuration: a number or a boolean may be written as a TOML
//! number/boolean or as a string, because environment overrides (`NASHRA_…`) always arrive as
//! strings. The error names the value; serde adds the key.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(s) => s,
        }
    }
}

fn parse<T, E>(scalar: Scalar, what: &str) -> Result<T, E>
where
    T: FromStr,
    T::Err: Display,
    E: Error,
{
    let text = scalar.into_text();
    text.trim()
        .parse()
        .map_err(|e| E::custom(format!("{text:?} is not {what} ({e})")))
}

pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    parse(Scalar::deserialize(d)?, "a whole number in range")
}

pub fn optional_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    number(d).map(Some)
}

pub fn boolean<'de, D>(d: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    parse(Scalar::deserialize(d)?, "true or false")
}
