//! Transformations: a webhook's `transform`, an [`Expression`] over the envelope whose value is
//! the body sent instead of the envelope, for receivers that already parse another shape:
//!
//! ```text
//! {"customer": data.id, "email": data.email, "kind": event_type, "source": "isp-platform"}
//! ```
//!
//! selects, renames and flattens fields and adds constants (a map literal), and drops what it
//! leaves out; any JSON value may come out. Object keys come out sorted, so the same event
//! always gives the same bytes. The body is computed once, at fan-out, and kept with the
//! delivery: every attempt signs and sends the same bytes, and the event stays as published.
//! Its size is checked while it is built, so a template that repeats a large field many times
//! stops at `max_bytes` instead of filling memory.

use std::collections::BTreeMap;

use cel::Value;

use super::Invalid;
use super::expression::{EnvelopeInput, Expression};

#[derive(Debug, Clone, PartialEq)]
pub struct Transform(Expression);

impl Transform {
    pub fn compile(source: &str) -> Result<Self, Invalid> {
        Expression::compile("transform", source).map(Self)
    }

    pub fn source(&self) -> &str {
        self.0.source()
    }

    /// The body for the event: `Err` says why the expression failed on it, or that the body
    /// would be larger than `max_bytes`.
    pub fn apply(&self, input: &EnvelopeInput, max_bytes: usize) -> Result<String, String> {
        let value = self.0.evaluate(input)?;
        let mut budget = max_bytes;
        let json = to_json(&value, &mut budget)
            .ok_or_else(|| format!("the transformed body is over {max_bytes} bytes, or holds a value JSON cannot"))?;
        serde_json::to_string(&json).map_err(|error| error.to_string())
    }
}

/// `value` as JSON with object keys sorted, charging each part's size against `budget`; `None`
/// when the budget runs out or a value has no JSON form (a function, a type).
fn to_json(value: &Value, budget: &mut usize) -> Option<serde_json::Value> {
    let charge = |budget: &mut usize, bytes: usize| budget.checked_sub(bytes).map(|left| *budget = left);
    match value {
        Value::Null => charge(budget, 4).map(|_| serde_json::Value::Null),
        Value::Bool(b) => charge(budget, 5).map(|_| (*b).into()),
        Value::Int(i) => charge(budget, 20).map(|_| (*i).into()),
        Value::UInt(u) => charge(budget, 20).map(|_| (*u).into()),
        Value::Float(f) => charge(budget, 24).map(|_| serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)),
        Value::String(s) => charge(budget, s.len() + 2).map(|_| s.as_str().into()),
        Value::List(items) => {
            charge(budget, 2)?;
            items.iter().map(|item| charge(budget, 1).and_then(|_| to_json(item, budget))).collect::<Option<Vec<_>>>().map(Into::into)
        }
        Value::Map(map) => {
            charge(budget, 2)?;
            let sorted: BTreeMap<String, &Value> = map.map.iter().map(|(key, value)| (key.to_string(), value)).collect();
            let mut object = serde_json::Map::new();
            for (key, value) in sorted {
                charge(budget, key.len() + 4)?;
                object.insert(key, to_json(value, budget)?);
            }
            Some(object.into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> EnvelopeInput {
        EnvelopeInput::of(&json!({
            "id": "evt_1", "event_type": "invoice.paid", "timestamp": "2026-01-01T00:00:00Z",
            "data": {"invoice_id": "INV-1", "customer_id": 7, "amount": 49.5, "notes": "x".repeat(1000)},
            "metadata": {"source": "billing"}
        }))
    }

    #[test]
    fn a_template_selects_renames_flattens_and_adds_constants_with_sorted_keys() {
        let transform = Transform::compile(
            r#"{"kind": event_type, "invoice": data.invoice_id, "customer": {"id": data.customer_id}, "cents": int(data.amount * 100.0), "v": 2}"#,
        )
        .unwrap();
        let body = transform.apply(&input(), 1024).unwrap();
        assert_eq!(body, r#"{"cents":4950,"customer":{"id":7},"invoice":"INV-1","kind":"invoice.paid","v":2}"#);
        assert_eq!(transform.apply(&input(), 1024).unwrap(), body, "the same event gives the same bytes");
    }

    #[test]
    fn a_failure_or_an_oversized_body_is_an_error_not_a_body() {
        assert!(Transform::compile("data.missing").unwrap().apply(&input(), 1024).is_err_and(|e| e.contains("missing")));
        let repeated = Transform::compile("[data.notes, data.notes, data.notes, data.notes]").unwrap();
        assert!(repeated.apply(&input(), 3_000).is_err_and(|e| e.contains("over 3000 bytes")));
        assert!(repeated.apply(&input(), 5_000).is_ok());
        assert_eq!(Transform::compile("data.x +").unwrap_err().field, "transform");
    }
}
