//! Content filters and transformations: an input's first line is the expression (as a
//! subscriber would save it), the rest the envelope it runs on (as a publisher would send it).
//! Compiling must refuse or accept without panicking; evaluating must end, and a
//! transformation's body must stay within its size bound.

use hookline_core::domain::content_filter::ContentFilter;
use hookline_core::domain::expression::EnvelopeInput;
use hookline_core::domain::transform::Transform;
use serde_json::Value;

pub const DICTIONARY: &[&str] = &[
    "data.",
    "metadata.",
    "event_type",
    "==",
    "!=",
    "&&",
    "||",
    "!",
    " in ",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "?",
    ":",
    "size(",
    ".startsWith(",
    ".endsWith(",
    ".contains(",
    ".matches(",
    "has(",
    "int(",
    "uint(",
    "double(",
    "string(",
    "bool(",
    "type(",
    ".exists(x, ",
    ".all(x, ",
    ".map(x, ",
    ".filter(x, ",
    "dyn(",
    "duration(",
    "timestamp(",
    "b\"",
    "r\"",
    "'''",
    "\"\"\"",
    "0x",
    "u",
    "1e308",
    "-9223372036854775808",
    "18446744073709551615u",
    "\\u0000",
    "(.*)*",
    "[a-z]+",
    "null",
    "true",
];

/// The largest transformed body a webhook's delivery may carry here.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (source, envelope) = text.split_once('\n').unwrap_or((&text, ""));
    let envelope: Value = serde_json::from_str(envelope).unwrap_or(Value::Null);
    let input = EnvelopeInput::of(&envelope);
    if let Ok(filter) = ContentFilter::compile(source) {
        let _ = filter.matches(&input);
    }
    if let Ok(transform) = Transform::compile(source)
        && let Ok(body) = transform.apply(&input, MAX_BODY_BYTES)
    {
        assert!(body.len() <= MAX_BODY_BYTES + 2, "a transformed body of {} bytes passed its bound", body.len());
    }
}
