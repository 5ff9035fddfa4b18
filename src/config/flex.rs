//! Lenient scalars for the raw configuration. A number or a boolean may be written as a TOML
//! number/boolean or as a string, because environment overrides (`NASHRA_…`) always arrive as
//! strings. A value that cannot be read does not stop deserialisation: it is kept as written
//! with the reason, so `validate` reports it with its key beside every other problem.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
}

/// A value of type `T`, or the text that could not be read as one and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    Ok(T),
    Bad { written: String, reason: String },
}

impl<'de, T> Deserialize<'de> for Lenient<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let written = match Scalar::deserialize(d) {
            Ok(Scalar::Int(i)) => i.to_string(),
            Ok(Scalar::Bool(b)) => b.to_string(),
            Ok(Scalar::Float(f)) => f.to_string(),
            Ok(Scalar::Text(s)) => s,
            Err(_) => {
                return Ok(Lenient::Bad { written: String::new(), reason: "must be a single value".into() });
            }
        };
        Ok(match written.trim().parse() {
            Ok(v) => Lenient::Ok(v),
            Err(e) => Lenient::Bad { reason: e.to_string(), written },
        })
    }
}

impl<T> From<T> for Lenient<T> {
    fn from(v: T) -> Self {
        Lenient::Ok(v)
    }
}
