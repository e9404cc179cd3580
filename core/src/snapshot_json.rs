//! The snapshot format as JSON text, without dependencies: bindings use this
//! codec (serde_json would add tens of kilobytes to the WebAssembly module).
//! With the `serde` feature, `Snapshot`'s serde impls write the same text;
//! a test keeps the two in step.

use alloc::string::String;
use alloc::vec::Vec;

use crate::machine::Counters;
use crate::snapshot::{BucketSnapshot, RestoreError, Snapshot, WindowSnapshot};
use crate::state::State;

/// Appends `value` in decimal (no `core::fmt`: its machinery would be most of
/// the WebAssembly module).
fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Appends `,"key":` (without the comma for the first key of an object).
fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

fn push_field(out: &mut String, key: &str, value: u64) {
    push_key(out, key);
    push_u64(out, value);
}

impl Snapshot {
    /// The snapshot as JSON text (keys in declaration order).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(320);
        out.push('{');
        push_field(&mut out, "version", self.version.into());
        push_key(&mut out, "state");
        out.push('"');
        out.push_str(self.state.name());
        out.push('"');
        push_field(&mut out, "generation", self.generation);
        push_field(
            &mut out,
            "consecutive_failures",
            self.consecutive_failures.into(),
        );
        push_field(&mut out, "trial_successes", self.trial_successes.into());
        push_field(&mut out, "open_remaining", self.open_remaining);
        push_field(
            &mut out,
            "nominal_open_duration",
            self.nominal_open_duration,
        );
        match self.last_transition_age {
            Some(age) => push_field(&mut out, "last_transition_age", age),
            None => {
                push_key(&mut out, "last_transition_age");
                out.push_str("null");
            }
        }
        push_key(&mut out, "rng_state");
        out.push('"');
        push_u64(&mut out, self.rng_state);
        out.push('"');
        push_key(&mut out, "window");
        match &self.window {
            None => out.push_str("null"),
            Some(WindowSnapshot::Calls { capacity, outcomes }) => {
                out.push_str("{\"kind\":\"calls\"");
                push_field(&mut out, "capacity", (*capacity).into());
                push_key(&mut out, "outcomes");
                out.push('[');
                for (i, failed) in outcomes.iter().enumerate() {
                    out.push_str(if i > 0 { "," } else { "" });
                    out.push_str(if *failed { "true" } else { "false" });
                }
                out.push_str("]}");
            }
            Some(WindowSnapshot::Buckets {
                width,
                elapsed,
                buckets,
            }) => {
                out.push_str("{\"kind\":\"buckets\"");
                push_field(&mut out, "width", *width);
                push_field(&mut out, "elapsed", *elapsed);
                push_key(&mut out, "buckets");
                out.push('[');
                for (i, b) in buckets.iter().enumerate() {
                    out.push_str(if i > 0 { ",{" } else { "{" });
                    push_field(&mut out, "index", b.index);
                    push_field(&mut out, "calls", b.calls.into());
                    push_field(&mut out, "failures", b.failures.into());
                    out.push('}');
                }
                out.push_str("]}");
            }
        }
        let c = &self.counters;
        push_key(&mut out, "counters");
        out.push('{');
        push_field(&mut out, "admitted", c.admitted);
        push_field(&mut out, "successes", c.successes);
        push_field(&mut out, "failures", c.failures);
        push_field(&mut out, "slow_calls", c.slow_calls);
        push_field(&mut out, "rejections", c.rejections);
        push_field(&mut out, "released", c.released);
        push_field(&mut out, "stale_outcomes", c.stale_outcomes);
        push_field(&mut out, "trial_timeouts", c.trial_timeouts);
        push_field(&mut out, "abandoned", c.abandoned);
        out.push_str("}}");
        out
    }

    /// Reads the JSON text of a snapshot. Unknown keys are ignored; a missing
    /// key, a value of the wrong type or text that is not JSON is an error
    /// naming the field `snapshot`. (Whether the snapshot fits a config is
    /// judged by [`Machine::restore`](crate::Machine::restore).)
    pub fn from_json(text: &str) -> Result<Snapshot, RestoreError> {
        let value = Parser {
            text: text.as_bytes(),
            at: 0,
        }
        .document()
        .ok_or_else(malformed)?;
        snapshot(&value).ok_or_else(malformed)
    }
}

fn malformed() -> RestoreError {
    RestoreError::MALFORMED
}

/// A JSON value; numbers are kept only as non-negative integers, which is
/// all the format holds.
enum Value {
    Null,
    Bool(bool),
    Integer(u64),
    Text(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// A number the format never holds (negative, fractional, huge).
    OtherNumber,
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn integer(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    fn small(&self, key: &str) -> Option<u32> {
        u32::try_from(self.integer(key)?).ok()
    }

    fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

fn snapshot(v: &Value) -> Option<Snapshot> {
    let c = v.get("counters")?;
    Some(Snapshot {
        version: v.small("version")?,
        state: State::from_name(v.text("state")?)?,
        generation: v.integer("generation")?,
        consecutive_failures: v.small("consecutive_failures")?,
        trial_successes: v.small("trial_successes")?,
        open_remaining: v.integer("open_remaining")?,
        nominal_open_duration: v.integer("nominal_open_duration")?,
        last_transition_age: match v.get("last_transition_age")? {
            Value::Null => None,
            Value::Integer(n) => Some(*n),
            _ => return None,
        },
        rng_state: v.text("rng_state")?.parse().ok()?,
        window: match v.get("window")? {
            Value::Null => None,
            w => Some(window(w)?),
        },
        counters: Counters {
            admitted: c.integer("admitted")?,
            successes: c.integer("successes")?,
            failures: c.integer("failures")?,
            slow_calls: c.integer("slow_calls")?,
            rejections: c.integer("rejections")?,
            released: c.integer("released")?,
            stale_outcomes: c.integer("stale_outcomes")?,
            trial_timeouts: c.integer("trial_timeouts")?,
            // Version 1 has no such counter.
            abandoned: match c.integer("abandoned") {
                None if v.small("version") == Some(1) => 0,
                abandoned => abandoned?,
            },
        },
    })
}

fn window(w: &Value) -> Option<WindowSnapshot> {
    let list = |key: &str| match w.get(key)? {
        Value::List(items) => Some(items),
        _ => None,
    };
    match w.text("kind")? {
        "calls" => Some(WindowSnapshot::Calls {
            capacity: w.small("capacity")?,
            outcomes: list("outcomes")?
                .iter()
                .map(|o| match o {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        }),
        "buckets" => Some(WindowSnapshot::Buckets {
            width: w.integer("width")?,
            elapsed: w.integer("elapsed")?,
            buckets: list("buckets")?
                .iter()
                .map(|b| {
                    Some(BucketSnapshot {
                        index: b.integer("index")?,
                        calls: b.small("calls")?,
                        failures: b.small("failures")?,
                    })
                })
                .collect::<Option<_>>()?,
        }),
        _ => None,
    }
}

/// A strict JSON parser (RFC 8259), small on purpose. Nesting is bounded so
/// hostile input cannot exhaust the stack.
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    fn document(mut self) -> Option<Value> {
        let value = self.value(0)?;
        self.space();
        (self.at == self.text.len()).then_some(value)
    }

    fn space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.text.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        self.text[self.at..].starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match *self.text.get(self.at)? {
            b'n' => self.literal("null", Value::Null),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'"' => self.string().map(Value::Text),
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(b']').is_some() {
                    return Some(Value::List(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']').is_some() {
                        return Some(Value::List(items));
                    }
                    self.eat(b',')?;
                }
            }
            b'{' => {
                self.at += 1;
                let mut fields = Vec::new();
                if self.eat(b'}').is_some() {
                    return Some(Value::Object(fields));
                }
                loop {
                    self.space();
                    let key = self.string()?;
                    self.eat(b':')?;
                    fields.push((key, self.value(depth + 1)?));
                    if self.eat(b'}').is_some() {
                        return Some(Value::Object(fields));
                    }
                    self.eat(b',')?;
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        let negative = self.text[self.at] == b'-';
        self.at += usize::from(negative);
        let digits = self.text[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || (digits > 1 && self.text[self.at] == b'0') {
            return None;
        }
        self.at += digits;
        let mut integral = !negative;
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            let fraction = self.text[self.at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if fraction == 0 {
                return None;
            }
            self.at += fraction;
            integral = false;
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            self.at += usize::from(matches!(self.text.get(self.at), Some(b'+' | b'-')));
            let exponent = self.text[self.at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if exponent == 0 {
                return None;
            }
            self.at += exponent;
            integral = false;
        }
        let literal = core::str::from_utf8(&self.text[start..self.at]).ok()?;
        Some(match (integral, literal.parse::<u64>()) {
            (true, Ok(n)) => Value::Integer(n),
            _ => Value::OtherNumber,
        })
    }

    fn string(&mut self) -> Option<String> {
        if self.text.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while !matches!(self.text.get(self.at), Some(b'"' | b'\\') | None) {
                if self.text[self.at] < 0x20 {
                    return None;
                }
                self.at += 1;
            }
            out.push_str(core::str::from_utf8(&self.text[start..self.at]).ok()?);
            match *self.text.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                _ => {
                    let escape = *self.text.get(self.at + 1)?;
                    self.at += 2;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex =
                                core::str::from_utf8(self.text.get(self.at..self.at + 4)?).ok()?;
                            self.at += 4;
                            // Surrogate pairs never occur in the format's keys or values.
                            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
}
