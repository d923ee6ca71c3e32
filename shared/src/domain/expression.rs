//! CEL expressions over a delivered envelope (`id`, `event_type`, `timestamp`, `data`,
//! `metadata`): what a webhook's content filter and transformation are written in.
//!
//! CEL (the `cel` crate, cel-rust) because it is the language Kubernetes, Envoy and Google's
//! APIs use for exactly this: side-effect free, no loops but its macros, and one a subscriber
//! may already know. An expression is compiled once when the webhook is saved and checked there
//! for what can make it slow or fail: a hostile expression cannot stall fan-out because
//!
//! - its text is at most `MAX_SOURCE_BYTES` and nests at most `MAX_NESTING` brackets deep (the
//!   parser recurses per level, and runs on a thread with a stack for the worst case: `parse`);
//! - its tree is at most `MAX_DEPTH` deep (evaluation recurses per level);
//! - it calls only the functions in `ALLOWED_CALLS` (comparisons, logic, arithmetic, `in`,
//!   `size`, string tests, conversions), and `matches` only with a literal pattern that compiles
//!   within `MAX_REGEX_BYTES` (Rust's regexes run in linear time);
//! - a macro (`all`, `exists`, `exists_one`, `map`, `filter`) may not contain another, so an
//!   evaluation costs at most the expression's size times the event's, never a power of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::ast::{EntryExpr, Expr, operators};
use cel::{Context, Env, Program, Value};

use super::Invalid;

pub const MAX_SOURCE_BYTES: usize = 1_000;
pub const MAX_NESTING: usize = 24;
/// How deep an expression's tree may be (evaluation recurses per level): 32 chained `+`; a
/// chain of `&&` or `||` is balanced, so any number of tests fits.
pub const MAX_DEPTH: usize = 32;
/// The parser's stack: far more than any source of `MAX_SOURCE_BYTES` was seen to need (the
/// deepest known needs under 1 MiB optimised, ten times that in a debug build), and within
/// what the smallest Lambda (128 MB) may reserve.
const PARSER_STACK: usize = if cfg!(debug_assertions) { 256 << 20 } else { 64 << 20 };
/// How many parsed programs are kept.
const PARSED_KEPT: usize = 4_096;
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// The envelope's fields, the names a filter starts from.
const ROOTS: &[&str] = &["id", "event_type", "timestamp", "data", "metadata"];
/// Type names, for `type(x) == string` and the like.
const TYPE_NAMES: &[&str] = &["int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type"];
const ALLOWED_CALLS: &[&str] = &[
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::NOT_STRICTLY_FALSE,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::LESS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::GREATER_EQUALS,
    operators::ADD,
    operators::SUBSTRACT,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::NEGATE,
    operators::INDEX,
    operators::IN,
    "size",
    "startsWith",
    "endsWith",
    "contains",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "type",
];

/// A compiled expression. Clones share the program.
#[derive(Clone)]
pub struct Expression {
    source: String,
    program: Arc<Program>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// An event as expressions see it, converted once and evaluated by every webhook's.
pub struct EnvelopeInput {
    /// The standard library and the envelope's roots as variables: made once per event, shared
    /// by every expression evaluated on it.
    context: Context<'static, 'static>,
}

impl EnvelopeInput {
    /// The envelope (the delivered body) as variables; a body that is not a JSON object gives
    /// every root as null.
    pub fn of(envelope: &serde_json::Value) -> Self {
        let mut context = Context::with_env(standard_env());
        for root in ROOTS {
            let value = envelope.get(root).unwrap_or(&serde_json::Value::Null);
            if let Ok(converted) = cel::to_value(value) {
                context.add_variable_from_value(*root, converted);
            }
        }
        Self { context }
    }
}

/// `source` parsed, or the position and text of its first error. A webhook's expressions are
/// compiled again each time the webhook is read, so parsed programs are kept by source (up to
/// `PARSED_KEPT`; the set starts over when full).
///
/// The parser recurses per nesting level, and its error recovery reads the text of an
/// unterminated string as code, so `too_deep` (which skips strings) cannot bound its depth for
/// every input: a fuzzed expression of 120 bytes needed over half a MiB of stack in a release
/// build, and ten times that in a debug one. So it runs on a thread of its own with
/// `PARSER_STACK` of stack (reserved, and only touched as deep as the parser goes), never on a
/// runtime's worker with its 2 MiB.
fn parse(source: &str) -> Result<Arc<Program>, (isize, isize, String)> {
    static PARSED: OnceLock<Mutex<HashMap<String, Arc<Program>>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(Mutex::default);
    if let Some(program) = parsed.lock().ok().and_then(|kept| kept.get(source).cloned()) {
        return Ok(program);
    }
    let owned = source.to_owned();
    let parser = std::thread::Builder::new().stack_size(PARSER_STACK).spawn(move || {
        Program::compile(&owned).map(Arc::new).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map(|e| e.pos).unwrap_or((1, 1));
            (line, column, first.map(|e| e.msg.clone()).unwrap_or_default())
        })
    });
    let program = match parser.map(std::thread::JoinHandle::join) {
        Ok(Ok(result)) => result?,
        _ => return Err((1, 1, "the expression could not be parsed".to_owned())),
    };
    if let Ok(mut kept) = parsed.lock() {
        if kept.len() >= PARSED_KEPT {
            kept.clear();
        }
        kept.insert(source.to_owned(), program.clone());
    }
    Ok(program)
}

/// CEL's standard environment, built once: building it registers every standard function.
fn standard_env() -> Arc<Env> {
    static STANDARD: OnceLock<Arc<Env>> = OnceLock::new();
    STANDARD.get_or_init(|| Arc::new(Env::stdlib())).clone()
}

impl Expression {
    /// Compiles and checks `source`, given as `field`; the error names the position of what
    /// is wrong.
    pub fn compile(field: &str, source: &str) -> Result<Self, Invalid> {
        let refuse = |detail: String| Invalid::new(field, detail);
        if source.trim().is_empty() || source.len() > MAX_SOURCE_BYTES {
            return Err(refuse(format!("must be 1 to {MAX_SOURCE_BYTES} bytes of CEL")));
        }
        if let Some(column) = too_deep(source) {
            return Err(refuse(format!("column {column}: nests more than {MAX_NESTING} brackets deep")));
        }
        let program = parse(source).map_err(|(line, column, message)| refuse(format!("line {line}, column {column}: {message}")))?;
        let check = Check { program: &program, source };
        check.walk(program.expression(), &mut Vec::new(), false, 0).map_err(|(id, detail)| {
            let (line, column) = check.position(id);
            refuse(format!("line {line}, column {column}: {detail}"))
        })?;
        Ok(Self { source: source.to_owned(), program })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The expression's value on an event: `Err` says why it failed on it.
    pub fn evaluate(&self, input: &EnvelopeInput) -> Result<Value, String> {
        self.program.execute(&input.context).map_err(|error| error.to_string())
    }
}

/// The column of the first bracket nested past `MAX_NESTING`, outside string literals.
fn too_deep(source: &str) -> Option<usize> {
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    for (column, c) in source.chars().enumerate() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(column + 1);
                    }
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    None
}

/// The checks of the module's comment over a compiled program's tree.
struct Check<'a> {
    program: &'a Program,
    source: &'a str,
}

type Refusal = (u64, String);

impl Check<'_> {
    /// Checks `expr`; `scope` holds the macro variables in scope, `in_macro` whether a macro
    /// encloses it.
    fn walk(&self, expr: &cel::IdedExpr, scope: &mut Vec<String>, in_macro: bool, depth: usize) -> Result<(), Refusal> {
        if depth > MAX_DEPTH {
            return Err((expr.id, format!("nests more than {MAX_DEPTH} operations deep")));
        }
        let depth = depth + 1;
        match &expr.expr {
            Expr::Ident(name) => {
                let known = ROOTS.contains(&name.as_str()) || TYPE_NAMES.contains(&name.as_str()) || scope.contains(name);
                if !known {
                    return Err((expr.id, format!("unknown name '{name}' (an expression starts from {})", ROOTS.join(", "))));
                }
                Ok(())
            }
            Expr::Select(select) => self.walk(&select.operand, scope, in_macro, depth),
            Expr::Literal(_) => Ok(()),
            Expr::List(list) => list.elements.iter().try_for_each(|e| self.walk(e, scope, in_macro, depth)),
            Expr::Map(map) => map.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => {
                    self.walk(&e.key, scope, in_macro, depth)?;
                    self.walk(&e.value, scope, in_macro, depth)
                }
                EntryExpr::StructField(_) => Err((entry.id, "message literals are not supported".to_owned())),
            }),
            Expr::Call(call) => {
                if !ALLOWED_CALLS.contains(&call.func_name.as_str()) {
                    return Err((expr.id, format!("the function '{}' is not available in filters", call.func_name)));
                }
                if call.func_name == "matches" {
                    self.literal_pattern(expr.id, call)?;
                }
                if let Some(target) = &call.target {
                    self.walk(target, scope, in_macro, depth)?;
                }
                call.args.iter().try_for_each(|arg| self.walk(arg, scope, in_macro, depth))
            }
            Expr::Comprehension(comprehension) => {
                if in_macro {
                    return Err((expr.id, "a macro (all, exists, exists_one, map, filter) may not contain another".to_owned()));
                }
                self.walk(&comprehension.iter_range, scope, false, depth)?;
                let mut names = vec![comprehension.iter_var.clone(), comprehension.accu_var.clone()];
                names.extend(comprehension.iter_var2.clone());
                let outer = scope.len();
                scope.extend(names);
                let parts = [&comprehension.accu_init, &comprehension.loop_cond, &comprehension.loop_step, &comprehension.result];
                let checked = parts.into_iter().try_for_each(|part| self.walk(part, scope, true, depth));
                scope.truncate(outer);
                checked
            }
            Expr::Struct(_) => Err((expr.id, "message literals are not supported".to_owned())),
            Expr::Unspecified => Err((expr.id, "incomplete expression".to_owned())),
        }
    }

    /// `matches` must be given a string literal that compiles to a bounded regex.
    fn literal_pattern(&self, id: u64, call: &cel::common::ast::CallExpr) -> Result<(), Refusal> {
        let Some(Expr::Literal(cel::common::ast::LiteralValue::String(pattern))) = call.args.last().map(|arg| &arg.expr) else {
            return Err((id, "matches takes a string literal pattern".to_owned()));
        };
        regex::RegexBuilder::new(pattern.inner())
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map(|_| ())
            .map_err(|error| (id, format!("the pattern does not compile within bounds: {error}")))
    }

    /// 1-based line and column of node `id` in the source.
    fn position(&self, id: u64) -> (usize, usize) {
        let offset = self.program.source_info().offset_for(id).map_or(0, |(start, _)| start as usize);
        let before: String = self.source.chars().take(offset).collect();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
        (line, column)
    }
}
