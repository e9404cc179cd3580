//! The binding kit: what every binding needs to know about the public API,
//! as data, in one place. The names are canonical (snake_case); a binding
//! spells them its own way (JavaScript camelCase) and converts units.
//!
//! The wasm binding reads only the numeric parts ([`Stats::field_values`]),
//! so no name string reaches the module; the JS tables are generated from
//! this file into `npm/src/generated.js` (by `core/tests/binding_tables.rs`,
//! which fails when the file is stale), and the Python binding exposes the
//! lists as `tripgate._native` constants that its drift tests compare with.

mod options;
mod record;

pub use crate::config::slot_of;
pub use options::{
    call_timeout, option_slots, OptionGroup, OptionKind, OptionSlots, ShapeError, OPTION_GROUPS,
    OPTION_KINDS,
};
pub use record::{SNAPSHOT_COUNTERS, SNAPSHOT_RECORD_HEAD};

use crate::machine::Stats;
use crate::state::{Reason, State};

/// The fields of [`Stats`], in the order [`Stats::field_values`] gives them.
pub const STATS_FIELDS: [&str; 19] = [
    "state",
    "generation",
    "admitted",
    "successes",
    "failures",
    "slow_calls",
    "rejections",
    "released",
    "stale_outcomes",
    "trial_timeouts",
    "abandoned",
    "consecutive_failures",
    "window_calls",
    "window_failures",
    "failure_rate",
    "trials_in_flight",
    "in_flight",
    "last_transition_at",
    "retry_after",
];

/// The fields of [`STATS_FIELDS`] that are times (the binding's unit) and
/// may be absent.
pub const STATS_TIME_FIELDS: [&str; 2] = ["last_transition_at", "retry_after"];

/// The events a breaker emits. `error` (errors the breaker caught instead
/// of handing them to a caller) is an event where the language has no
/// better home for them: JavaScript; Python logs them on the `tripgate`
/// logger and Rust hands them to `on_error`.
pub const EVENTS: [&str; 7] = [
    "state_change",
    "success",
    "failure",
    "rejected",
    "timeout",
    "fallback",
    "error",
];

/// The stable error codes, shared by every language (docs/semantics.md,
/// "What the bindings own").
pub const ERROR_CODES: [&str; 6] = [
    "circuit_open",
    "call_timeout",
    "invalid_snapshot",
    "invalid_config",
    "disposed",
    "group_full",
];

/// The messages of tripgate's own errors, as templates every language
/// fills in the same way: `{breaker}` is `circuit breaker`, followed by the
/// breaker's name quoted as the language quotes a string when it has one;
/// `{state}` a state's name; `{retry_after}` and `{timeout}` a duration with
/// its unit (`1000.0 ms`, `1.000 s`); `{limit}` a number and `{limit_option}`
/// the option that sets it, in the language's spelling. One wording for
/// every language (docs/semantics.md, "What the bindings own").
pub const MESSAGES: [(&str, &str); 6] = [
    ("circuit_open", "{breaker} is {state}; retry after {retry_after}"),
    (
        "circuit_open_trials_taken",
        "{breaker} is half_open and every trial slot is taken",
    ),
    ("circuit_open_forced", "{breaker} is {state}"),
    ("call_timeout", "call through {breaker} timed out after {timeout}"),
    ("disposed", "this CircuitBreaker was disposed"),
    (
        "group_full",
        "circuit breaker group is full: all {limit} breakers ({limit_option}) are open, half-open, forced or have calls in flight",
    ),
];

/// The template of `key` in [`MESSAGES`] with every `{name}` replaced by
/// `fill(name)` (a placeholder `fill` does not know is left as it is).
pub fn message(
    key: &str,
    fill: impl Fn(&str) -> Option<alloc::string::String>,
) -> alloc::string::String {
    let template = MESSAGES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, t)| t);
    let mut out = alloc::string::String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match fill(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a transition into a state does to the cause of rejections a
/// binding keeps: the error of the failure that opened the breaker, which
/// every rejection carries until the breaker closes (docs/semantics.md,
/// "What the bindings own").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CauseChange {
    /// Keep the error of the failure being reported: it opened the breaker.
    Take,
    /// Leave the kept cause as it is (half-open: the trials decide).
    Keep,
    /// Forget it: the breaker closed, or was forced or reset.
    Drop,
}

impl CauseChange {
    /// What entering `state` does to the kept cause.
    pub const fn entering(state: State) -> CauseChange {
        match state {
            State::Open => CauseChange::Take,
            State::HalfOpen => CauseChange::Keep,
            State::Closed | State::ForcedOpen | State::ForcedClosed => CauseChange::Drop,
        }
    }

    /// The canonical name (`take`, `keep`, `drop`).
    pub const fn name(self) -> &'static str {
        match self {
            CauseChange::Take => "take",
            CauseChange::Keep => "keep",
            CauseChange::Drop => "drop",
        }
    }
}

/// The key in [`MESSAGES`] of a rejection's message: `circuit_open` when
/// it has a Retry-After (open), `circuit_open_trials_taken` half-open with
/// every trial slot taken, `circuit_open_forced` otherwise (forced open).
pub const fn rejection_message(state: State, has_retry_after: bool) -> &'static str {
    match (has_retry_after, state) {
        (true, _) => "circuit_open",
        (false, State::HalfOpen) => "circuit_open_trials_taken",
        (false, _) => "circuit_open_forced",
    }
}

/// The outcomes the metrics count calls by (a timed-out call counts once,
/// as `timeout`), the same in every language's integrations.
pub const CALL_OUTCOMES: [&str; 5] = ["success", "failure", "rejected", "released", "timeout"];

/// The metrics every language's integrations export, as (what, the
/// OpenTelemetry instrument's name, the Prometheus metric's name without a
/// counter's `_total`, description). `state` is a gauge (1 for the current
/// state, by `state`); `calls` a counter by `outcome` ([`CALL_OUTCOMES`]);
/// `transitions` a counter by `from`, `to` and `reason`. Each has the
/// attribute or label `breaker`.
pub const METRICS: [(&str, &str, &str, &str); 3] = [
    (
        "state",
        "tripgate.breaker.state",
        "tripgate_breaker_state",
        "1 for the breaker's current state, 0 for the others",
    ),
    (
        "calls",
        "tripgate.breaker.calls",
        "tripgate_breaker_calls",
        "Calls by outcome: success, failure, rejected, released or timeout",
    ),
    (
        "transitions",
        "tripgate.breaker.transitions",
        "tripgate_breaker_transitions",
        "State transitions by from, to and reason",
    ),
];

/// The states' names, in [`State::ALL`] order (the index a binding receives).
pub fn state_names() -> [&'static str; State::ALL.len()] {
    State::ALL.map(State::name)
}

/// The reasons' names, in [`Reason::ALL`] order.
pub fn reason_names() -> [&'static str; Reason::ALL.len()] {
    Reason::ALL.map(Reason::name)
}

impl Stats {
    /// The stats as numbers in [`STATS_FIELDS`] order: the state as its
    /// index in [`State::ALL`], counters as they are, absent figures as NaN,
    /// and the times of [`STATS_TIME_FIELDS`] in units of `unit_nanos`
    /// nanoseconds (1e6 for milliseconds). Every number is exact: counters
    /// stop at 2^53 - 1.
    pub fn field_values(&self, unit_nanos: f64) -> [f64; STATS_FIELDS.len()] {
        let time = |nanos: Option<u64>| nanos.map_or(f64::NAN, |n| n as f64 / unit_nanos);
        [
            self.state.index() as f64,
            self.generation as f64,
            self.admitted as f64,
            self.successes as f64,
            self.failures as f64,
            self.slow_calls as f64,
            self.rejections as f64,
            self.released as f64,
            self.stale_outcomes as f64,
            self.trial_timeouts as f64,
            self.abandoned as f64,
            f64::from(self.consecutive_failures),
            f64::from(self.window_calls),
            f64::from(self.window_failures),
            self.failure_rate.unwrap_or(f64::NAN),
            f64::from(self.trials_in_flight),
            self.in_flight() as f64,
            time(self.last_transition_at),
            time(self.retry_after.map(|d| d.as_nanos() as u64)),
        ]
    }
}
