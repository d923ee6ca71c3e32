//! Content filters: a webhook's `filter`, an [`Expression`] over the delivered envelope, such
//! as `data.site_id == "site-12" && data.severity in ["major", "critical"]`, that must be true
//! for an event to be delivered. On an event an expression that fails (a missing field, a type
//! mismatch) or gives something other than a boolean does not match; the caller records why in
//! the webhook's health.

use super::Invalid;
use super::expression::{EnvelopeInput, Expression};

/// A compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentFilter(Expression);

impl ContentFilter {
    pub fn compile(source: &str) -> Result<Self, Invalid> {
        Expression::compile("filter", source).map(Self)
    }

    pub fn source(&self) -> &str {
        self.0.source()
    }

    /// Whether the event matches: `Err` says why the expression failed on it (no match).
    pub fn matches(&self, input: &EnvelopeInput) -> Result<bool, String> {
        match self.0.evaluate(input)? {
            cel::Value::Bool(matched) => Ok(matched),
            other => Err(format!("the filter gave {other:?}, not true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> EnvelopeInput {
        EnvelopeInput::of(&json!({
            "id": "evt_1", "event_type": "network.device.down", "timestamp": "2026-01-01T00:00:00Z",
            "data": {"site_id": "site-12", "severity": "major", "amount": 750.5, "ports": [1, 2, 3]},
            "metadata": {"source": "noc"}
        }))
    }

    fn run(source: &str) -> Result<bool, String> {
        ContentFilter::compile(source).unwrap().matches(&input())
    }

    fn refusal(source: &str) -> String {
        ContentFilter::compile(source).unwrap_err().detail
    }

    /// Runs `check` on a thread with an async runtime worker's stack (2 MiB), as the API and
    /// fan-out do; a stack overflow would abort the whole test binary.
    fn on_a_worker_stack<T: Send + 'static>(check: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new().stack_size(2 << 20).spawn(check).unwrap().join().unwrap()
    }

    #[test]
    fn no_expression_within_the_size_limit_overflows_a_worker_stack() {
        let hostile = [
            // An unterminated string: the bracket count skips the rest, the parser's error
            // recovery reads it as code (fuzzing found shorter forms of this).
            format!("data == \"x{}", "[".repeat(985)),
            format!("data == 'x\n{}", "(".repeat(985)),
            format!("{}1 == 0", "1 + ".repeat(248)),
            format!("{}true", "false ? false : ".repeat(62)),
            format!("data{}", "[0]".repeat(330)),
            format!("data{} > 0", ".size()".repeat(140)),
            format!("{}true", "!".repeat(990)),
            // Two the fuzzer found: each needed more than 512 KiB of stack in a release build.
            "data�++�++++++++++++++++++[[[[[[[[[[1[[[[[![[[[[+\u{7f}{�iest\"; \\[[[[[[[1+[[[[[[[[[[1[[[[[![[[[[+\u{7f}{�ies[[[[[![[[[[+\"k2,+++++ ".to_owned(),
            "data�++�+++++++++++++++'++�[[[[est\"$ \\[[[[[[[0+[[[[[[[[[[1[[[[[![[[\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\"ma\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}\u{f}[[+\u{7f}{�i[$ \\[[[[[[[1+[[[[[[[[[[1[[[[[![[[[[+\u{7f}{�i[e[[[s![[[[[[+ܔ������+ ".to_owned(),
        ];
        for source in hostile {
            // Refused, or compiled and evaluated: either way it came back.
            let _ = on_a_worker_stack(move || ContentFilter::compile(&source).map(|filter| filter.matches(&input())));
        }
        let deep = format!("{}1 == 0", "1 + ".repeat(40));
        assert!(refusal(&deep).contains("more than 32 operations deep"), "{}", refusal(&deep));
        let within = format!("{}1 == 30", "1 + ".repeat(29));
        assert_eq!(on_a_worker_stack(move || run(&within)), Ok(true));
        let tests = (0..40).map(|n| format!("data.amount == {n}.5")).collect::<Vec<_>>().join(" || ");
        assert_eq!(on_a_worker_stack(move || run(&tests)), Ok(false), "a long chain of tests is balanced, not deep");
    }

    #[test]
    fn filters_select_on_the_envelope() {
        assert_eq!(run(r#"data.site_id == "site-12" && data.severity in ["major", "critical"]"#), Ok(true));
        assert_eq!(run("data.amount > 500.0"), Ok(true));
        assert_eq!(run(r#"event_type.startsWith("network.") && metadata.source == "noc""#), Ok(true));
        assert_eq!(run("data.ports.exists(p, p == 3) && size(data.ports) == 3"), Ok(true));
        assert_eq!(run(r#"data.site_id.matches("^site-[0-9]+$")"#), Ok(true));
        assert_eq!(run("has(data.customer_id)"), Ok(false));
        assert_eq!(run(r#"data.severity == "minor""#), Ok(false));
    }

    #[test]
    fn an_expression_that_fails_on_an_event_says_why() {
        assert!(run("data.customer_id == 1").is_err_and(|e| e.contains("customer_id")));
        assert!(run(r#"data.amount > "x""#).is_err());
        assert!(run("data.amount").is_err_and(|e| e.contains("not true or false")));
    }

    #[test]
    fn mistakes_are_refused_with_their_position() {
        assert!(refusal("data.amount >").starts_with("line 1, column"), "{}", refusal("data.amount >"));
        assert_eq!(
            refusal("payload.x == 1"),
            "line 1, column 1: unknown name 'payload' (an expression starts from id, event_type, timestamp, data, metadata)"
        );
        assert!(
            refusal("data.x == 1 && dyn(data.y)").starts_with("line 1, column 19: the function 'dyn'"),
            "{}",
            refusal("data.x == 1 && dyn(data.y)")
        );
        assert!(refusal("data.s.matches(data.p)").contains("string literal"));
        assert!(refusal("").contains("1 to 1000 bytes"));
    }

    #[test]
    fn hostile_expressions_are_refused_before_they_run() {
        let deep = format!("{}1{} == 1", "(".repeat(5_000), ")".repeat(5_000));
        assert!(ContentFilter::compile(&deep).is_err(), "refused before the parser recurses");
        assert!(refusal(&format!("{}true{}", "[".repeat(30), "]".repeat(30))).contains("nests more than"));
        assert!(refusal("data.ports.all(a, data.ports.all(b, data.ports.all(c, a + b + c > 0)))").contains("may not contain another"));
        assert!(refusal(r#"data.s.matches("(a{1000}){1000}")"#).contains("within bounds"));
        assert!(refusal(&"data.x == 1 || ".repeat(100)).contains("1 to 1000 bytes"));
    }
}
