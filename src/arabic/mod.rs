//! Arabic text handling for nashra: the matching form of words (`normalize`), word
//! segmentation with offsets into the original text (`tokens`), proclitic readings
//! (`clitics`), keyword matching (`matcher`) and reading dates as Arabic news sites print
//! them (`dates`). Everything here is pure: no I/O, no clock reads (the caller passes
//! `now`), no global state, and no panics on any input string.

pub mod clitics;
pub mod dates;
pub mod display;
pub mod matcher;
pub mod normalize;
pub mod tokens;

pub use clitics::proclitic_stems;
pub use dates::{DateError, parse_arabic_date, parse_date};
pub use display::{format_date, format_datetime, format_hijri_date};
pub use matcher::{Match, Matcher};
pub use normalize::{is_arabic_letter, normalize, strip_marks};
pub use tokens::{Token, Tokens, is_word_char, tokens};

#[cfg(test)]
mod props;
