//! W3C Trace Context (`traceparent`): a publish request's trace is kept with its event, and
//! every attempt to deliver it is a child span of it, so a receiver's traces and the
//! platform's join up. An event published without one (or with one that does not parse, which
//! the specification says to ignore) starts a trace of its own.

use std::fmt;

use rand::RngCore;

/// `00-<trace id>-<span id>-<flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub flags: u8,
}

impl TraceContext {
    /// A new trace, sampled.
    pub fn root() -> Self {
        let mut trace_id = [0u8; 16];
        rand::rng().fill_bytes(&mut trace_id);
        Self { trace_id, span_id: new_span_id(), flags: 1 }
    }

    /// A `traceparent` header value; `None` when it is not one this version understands.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().split('-');
        let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // A later version may add fields after these; version 00 has exactly four.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        hex_bytes::<1>(version)?;
        let (trace_id, span_id, flags) = (hex_bytes::<16>(trace)?, hex_bytes::<8>(span)?, hex_bytes::<1>(flags)?[0]);
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self { trace_id, span_id, flags })
    }

    /// A new span in the same trace, whose parent is this one.
    pub fn child(&self) -> Self {
        Self { span_id: new_span_id(), ..*self }
    }

    pub fn trace_id(&self) -> String {
        super::hex(&self.trace_id)
    }

    pub fn span_id(&self) -> String {
        super::hex(&self.span_id)
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", self.trace_id(), self.span_id(), self.flags)
    }
}

fn new_span_id() -> [u8; 8] {
    let mut span_id = [0u8; 8];
    while span_id == [0; 8] {
        rand::rng().fill_bytes(&mut span_id);
    }
    span_id
}

/// Exactly `N` bytes of lower-case hexadecimal.
fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut bytes = [0u8; N];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_round_trips() {
        let parsed = TraceContext::parse(SAMPLE).unwrap_or_else(TraceContext::root);
        assert_eq!(parsed.to_string(), SAMPLE);
        assert_eq!(parsed.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_its_own_span() {
        let parent = TraceContext::parse(SAMPLE).unwrap_or_else(TraceContext::root);
        let child = parent.child();
        assert_eq!((child.trace_id, child.flags), (parent.trace_id, parent.flags));
        assert_ne!(child.span_id, parent.span_id);
        assert_eq!(TraceContext::parse(&child.to_string()), Some(child));
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for raw in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(raw), None, "{raw}");
        }
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more").is_some(),
            "a later version's extra field"
        );
    }
}
