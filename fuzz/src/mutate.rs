//! The driver's mutator: coverage-blind, but aware of what the targets parse. Each new input is
//! a corpus entry with a few stacked edits: byte flips, insertions, deletions and copies,
//! dictionary tokens, splices from other entries, and edits to the JSON value inside it (a node
//! swapped for a hostile one: huge numbers, deep nesting, long or odd strings, another type).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::targets::{ENVELOPE_TOKENS, JSON_TOKENS};

/// The most edits stacked on one input.
const MAX_EDITS: usize = 6;

pub struct Mutator {
    rng: StdRng,
    dictionary: Vec<&'static str>,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, dictionary: &'static [&'static str], max_len: usize) -> Self {
        let dictionary = dictionary.iter().chain(JSON_TOKENS).chain(ENVELOPE_TOKENS).copied().collect();
        Self { rng: StdRng::seed_from_u64(seed), dictionary, max_len }
    }

    /// A corpus entry, picked at random.
    pub fn pick<'a>(&mut self, corpus: &'a [Vec<u8>]) -> &'a [u8] {
        if corpus.is_empty() { &[] } else { &corpus[self.rng.random_range(0..corpus.len())] }
    }

    pub fn mutate(&mut self, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..self.rng.random_range(1..=MAX_EDITS) {
            self.edit(&mut out, corpus);
        }
        out.truncate(self.max_len);
        out
    }

    fn edit(&mut self, out: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        match self.rng.random_range(0..10) {
            0 => self.flip_bit(out),
            1 => self.insert_bytes(out),
            2 => self.delete_range(out),
            3 => self.copy_range(out),
            4 | 5 => self.insert_token(out),
            6 => self.splice(out, corpus),
            _ => self.edit_json(out),
        }
    }

    fn position(&mut self, out: &[u8]) -> usize {
        self.rng.random_range(0..=out.len())
    }

    fn range(&mut self, out: &[u8]) -> (usize, usize) {
        let start = self.position(out);
        let end = start + self.rng.random_range(0..=(out.len() - start).min(64));
        (start, end)
    }

    fn flip_bit(&mut self, out: &mut [u8]) {
        if !out.is_empty() {
            let at = self.rng.random_range(0..out.len());
            out[at] ^= 1 << self.rng.random_range(0..8);
        }
    }

    fn insert_bytes(&mut self, out: &mut Vec<u8>) {
        let at = self.position(out);
        let count = self.rng.random_range(1..=8);
        let bytes: Vec<u8> = (0..count).map(|_| self.rng.random()).collect();
        out.splice(at..at, bytes);
    }

    fn delete_range(&mut self, out: &mut Vec<u8>) {
        let (start, end) = self.range(out);
        out.drain(start..end);
    }

    fn copy_range(&mut self, out: &mut Vec<u8>) {
        let (start, end) = self.range(out);
        let copied = out[start..end].to_vec();
        let at = self.position(out);
        out.splice(at..at, copied);
    }

    fn insert_token(&mut self, out: &mut Vec<u8>) {
        if self.dictionary.is_empty() {
            return;
        }
        let token = self.dictionary[self.rng.random_range(0..self.dictionary.len())].as_bytes().to_vec();
        let at = self.position(out);
        if self.rng.random_bool(0.5) {
            out.splice(at..at, token);
        } else {
            let end = (at + token.len()).min(out.len());
            out.splice(at..end, token);
        }
    }

    fn splice(&mut self, out: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let other = self.pick(corpus).to_vec();
        let (start, end) = self.range(&other);
        let at = self.position(out);
        out.splice(at..at, other[start..end].iter().copied());
    }

    /// Swaps one node of the JSON value that ends the input (after any header lines) for a
    /// hostile one, keeping the rest well formed so the edit reaches past the JSON parser.
    fn edit_json(&mut self, out: &mut Vec<u8>) {
        let Some(start) = out.iter().position(|b| *b == b'{' || *b == b'[') else { return self.insert_token(out) };
        let Ok(mut value) = serde_json::from_slice::<Value>(&out[start..]) else { return self.insert_token(out) };
        let pointer = self.random_pointer(&value);
        let replacement = self.hostile_value();
        if let Some(node) = value.pointer_mut(&pointer) {
            *node = replacement;
        }
        if let Ok(text) = serde_json::to_vec(&value) {
            out.truncate(start);
            out.extend(text);
        }
    }

    /// A JSON pointer to a node of `value`, walked down at random.
    fn random_pointer(&mut self, mut value: &Value) -> String {
        let mut pointer = String::new();
        while self.rng.random_bool(0.7) {
            let (token, child) = match value {
                Value::Object(map) if !map.is_empty() => {
                    let Some((key, child)) = map.iter().nth(self.rng.random_range(0..map.len())) else { break };
                    (key.replace('~', "~0").replace('/', "~1"), child)
                }
                Value::Array(items) if !items.is_empty() => {
                    let index = self.rng.random_range(0..items.len());
                    (index.to_string(), &items[index])
                }
                _ => break,
            };
            pointer.push('/');
            pointer.push_str(&token);
            value = child;
        }
        pointer
    }

    fn hostile_value(&mut self) -> Value {
        match self.rng.random_range(0..12) {
            0 => Value::Null,
            1 => Value::from(self.rng.random::<i64>()),
            2 => Value::from(u64::MAX),
            3 => serde_json::Number::from_f64(self.rng.random::<f64>() * 1e300).map_or(Value::Null, Value::Number),
            4 => Value::from("x".repeat(self.rng.random_range(0..70_000))),
            5 => Value::from(self.random_string()),
            6 => Value::Array(vec![Value::Null; self.rng.random_range(0..2_000)]),
            7 => nested(self.rng.random_range(1..200)),
            8 => Value::Object(Map::new()),
            9 => Value::from(self.rng.random_bool(0.5)),
            _ => {
                let token = self.dictionary.get(self.rng.random_range(0..self.dictionary.len().max(1))).copied().unwrap_or("");
                serde_json::from_str(token).unwrap_or_else(|_| Value::from(token))
            }
        }
    }

    fn random_string(&mut self) -> String {
        let length = self.rng.random_range(0..40);
        (0..length).map(|_| char::from_u32(self.rng.random_range(0..0x11_0000)).unwrap_or('\u{fffd}')).collect()
    }
}

/// `[[[…]]]` or `{"a":{"a":…}}`, `depth` deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(Value::Null, |inner, level| {
        if level % 2 == 0 { Value::Array(vec![inner]) } else { Value::Object(Map::from_iter([("a".to_owned(), inner)])) }
    })
}
