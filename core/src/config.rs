//! Options of a breaker and their validation.
//!
//! A [`Config`] is plain data; [`Config::validate`] is the only judge of what is
//! allowed, and a [`Machine`](crate::Machine) cannot be built from a config that
//! fails it. Bindings convert their own option types into this struct (using the
//! helpers in [`convert`] for numbers that arrive as floats) and map a
//! [`ConfigError`] to their language's error type, renaming [`ConfigError::option`]
//! into their naming convention. A [`ConfigError`] holds no text (the
//! option's slot and a [`Requirement`]), so code that never shows one, the
//! WebAssembly module, carries none of the names or phrases.

use core::fmt;
use core::time::Duration;

/// Largest `window_calls` accepted: the window keeps one byte per call.
pub const MAX_WINDOW_CALLS: u32 = 1_000_000;

/// Number of buckets a time-based failure-rate window is divided into.
pub const WINDOW_BUCKETS: u32 = 10;

/// Every option name (dotted for nested options) that a [`ConfigError`] can name.
///
/// Bindings test that their option names map one-to-one onto this list.
pub const OPTION_NAMES: &[&str] = &[
    "failure_tolerance",
    "failure_rate",
    "failure_rate.threshold",
    "failure_rate.minimum_calls",
    "failure_rate.window_calls",
    "failure_rate.window_duration",
    "slow_call_duration",
    "reset_timeout",
    "backoff",
    "backoff.multiplier",
    "backoff.max_reset_timeout",
    "backoff.jitter",
    "half_open_max_calls",
    "success_threshold",
    "trial_timeout",
    "max_retry_after",
    "seed",
];

/// The slot of `option` in [`OPTION_NAMES`], at compile time (a name that is
/// not there fails the build); `slot!` evaluates it in a const block.
pub const fn slot_of(option: &str) -> usize {
    let (wanted, mut i) = (option.as_bytes(), 0);
    while i < OPTION_NAMES.len() {
        let name = OPTION_NAMES[i].as_bytes();
        if name.len() == wanted.len() {
            let mut j = 0;
            while j < name.len() && name[j] == wanted[j] {
                j += 1;
            }
            if j == name.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not in OPTION_NAMES")
}

/// The slot of an option name, folded at compile time.
macro_rules! slot {
    ($name:literal) => {
        const { $crate::config::slot_of($name) }
    };
}

/// The error of a config whose count window needs more memory than the
/// allocator can give (WebAssembly's 4 GiB, say): a range error of
/// `failure_rate.window_calls`, so that no binding traps or aborts.
pub(crate) fn out_of_memory(calls: u32) -> ConfigError {
    ConfigError::new(
        slot!("failure_rate.window_calls"),
        OptionValue::Integer(calls.into()),
        Requirement::Memory,
    )
}

/// The name in `candidates` closest to `name` by edit distance (insertions,
/// deletions, substitutions), when it is at most 2 edits away; of equally
/// close names, the first. Every binding suggests it for an unknown option
/// name (tests/conformance/option_suggestions.json pins the rule).
pub fn closest_name<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let mut best = None;
    let mut best_distance = 3;
    for candidate in candidates {
        let distance = edit_distance(name, candidate);
        if distance < best_distance {
            best = Some(*candidate);
            best_distance = distance;
        }
    }
    best
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: alloc::vec::Vec<char> = b.chars().collect();
    let mut previous: alloc::vec::Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = alloc::vec::Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Options of a circuit breaker. See `docs/semantics.md` for what each one does.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Consecutive failures tolerated while closed; the next one trips the breaker.
    pub failure_tolerance: u32,
    /// Optional failure-rate policy; either policy may trip the breaker.
    pub failure_rate: Option<FailureRate>,
    /// A call whose permit is held longer than this counts as a failure.
    pub slow_call_duration: Option<Duration>,
    /// How long the breaker stays open before it admits a trial.
    pub reset_timeout: Duration,
    /// Optional growth of the open duration after failed trials.
    pub backoff: Option<Backoff>,
    /// Trial calls admitted at once while half-open.
    pub half_open_max_calls: u32,
    /// Consecutive successful trials needed to close.
    pub success_threshold: u32,
    /// A trial permit held longer than this counts as a failed trial.
    pub trial_timeout: Duration,
    /// The longest a server's Retry-After hint may keep the breaker open
    /// (see [`Machine::on_failure_with_retry_after`](crate::Machine::on_failure_with_retry_after)).
    pub max_retry_after: Duration,
    /// Seed of the PRNG used for jitter only. `None` seeds the machine with
    /// 0; [`CircuitBreaker`](crate::CircuitBreaker) and the bindings draw a
    /// random seed instead, so that many processes do not jitter alike.
    pub seed: Option<u64>,
}

/// The failure-rate policy: trips when the window holds at least
/// `minimum_calls` outcomes and `failures / outcomes >= threshold`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureRate {
    /// Failure ratio that trips the breaker, `0 < threshold <= 1`.
    pub threshold: f64,
    /// Outcomes the window must hold before the ratio is considered.
    pub minimum_calls: u32,
    /// Which outcomes the ratio is computed over.
    pub window: Window,
}

/// The outcomes a failure rate is computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last N outcomes.
    Calls(u32),
    /// The outcomes of the last D, kept in [`WINDOW_BUCKETS`] buckets of D/10.
    Duration(Duration),
}

/// Growth of the open duration after each failed trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// Factor applied to the open duration after each failed trial, `>= 1`.
    pub multiplier: f64,
    /// The open duration never grows past this (before jitter).
    pub max_reset_timeout: Duration,
    /// Each open duration is drawn uniformly within `±jitter` of its value, `0..=1`.
    pub jitter: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_tolerance: 5,
            failure_rate: None,
            slow_call_duration: None,
            reset_timeout: Duration::from_secs(30),
            backoff: None,
            half_open_max_calls: 1,
            success_threshold: 1,
            trial_timeout: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            seed: None,
        }
    }
}

/// The value an invalid option had, kept typed so that each binding can
/// print it in its own units (milliseconds in JS, seconds in Python).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptionValue {
    /// An integer option.
    Integer(u64),
    /// A ratio or factor.
    Float(f64),
    /// A duration option (already converted from the caller's unit).
    Duration(Duration),
    /// A number given in the caller's unit before conversion (see [`convert`]).
    Raw(f64),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Integer(v) => write!(f, "{v}"),
            OptionValue::Float(v) | OptionValue::Raw(v) => write!(f, "{v}"),
            OptionValue::Duration(d) => write!(f, "{d:?}"),
        }
    }
}

/// What an option's value must be: one variant per range rule, so that an
/// error carries a number rather than a phrase ([`Requirement::text`] has
/// the phrase; the bindings show it after the option's name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// "must be greater than 0"
    Positive,
    /// "must be at most 2^64-1 nanoseconds (about 584 years)"
    AtMostMaxNanos,
    /// "must be at least 1"
    AtLeastOne,
    /// "must be greater than 0 and at most 1"
    Ratio,
    /// "must be at least 1 and at most 1000000"
    WindowCallsRange,
    /// "must be at most failure_rate.window_calls (...)"
    WithinWindowCalls,
    /// "must be at least 10 nanoseconds (one per bucket)"
    OneNanosecondPerBucket,
    /// "must be a finite number of at least 1"
    FiniteAtLeastOne,
    /// "must be at least reset_timeout"
    AtLeastResetTimeout,
    /// "must be between 0 and 1"
    Fraction,
    /// "must be a finite, non-negative number"
    FiniteNonNegative,
    /// "must be a whole number between 0 and 4294967295"
    WholeU32,
    /// "must be a whole number between 0 and 2^53"
    SeedRange,
    /// "needs more memory than is available"
    Memory,
}

impl Requirement {
    /// Every requirement, in index order (the order the wasm module numbers them in).
    pub const ALL: [Requirement; 14] = [
        Requirement::Positive,
        Requirement::AtMostMaxNanos,
        Requirement::AtLeastOne,
        Requirement::Ratio,
        Requirement::WindowCallsRange,
        Requirement::WithinWindowCalls,
        Requirement::OneNanosecondPerBucket,
        Requirement::FiniteAtLeastOne,
        Requirement::AtLeastResetTimeout,
        Requirement::Fraction,
        Requirement::FiniteNonNegative,
        Requirement::WholeU32,
        Requirement::SeedRange,
        Requirement::Memory,
    ];

    /// What the value must be, as a phrase that follows the option's name.
    pub const fn text(self) -> &'static str {
        match self {
            Requirement::Positive => "must be greater than 0",
            Requirement::AtMostMaxNanos => "must be at most 2^64-1 nanoseconds (about 584 years)",
            Requirement::AtLeastOne => "must be at least 1",
            Requirement::Ratio => "must be greater than 0 and at most 1",
            Requirement::WindowCallsRange => "must be at least 1 and at most 1000000",
            Requirement::WithinWindowCalls => {
                "must be at most failure_rate.window_calls (the window could never hold that many calls)"
            }
            Requirement::OneNanosecondPerBucket => "must be at least 10 nanoseconds (one per bucket)",
            Requirement::FiniteAtLeastOne => "must be a finite number of at least 1",
            Requirement::AtLeastResetTimeout => "must be at least reset_timeout",
            Requirement::Fraction => "must be between 0 and 1",
            Requirement::FiniteNonNegative => "must be a finite, non-negative number",
            Requirement::WholeU32 => "must be a whole number between 0 and 4294967295",
            Requirement::SeedRange => "must be a whole number between 0 and 2^53",
            Requirement::Memory => "needs more memory than is available",
        }
    }
}

/// An option that is out of its allowed range, or options that contradict each other.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// The option's slot in [`OPTION_NAMES`] ([`ConfigError::option`] names it).
    pub slot: usize,
    /// The value it had.
    pub value: OptionValue,
    /// What the value must be.
    pub requirement: Requirement,
}

impl ConfigError {
    /// Stable machine-readable code shared by every language.
    pub const CODE: &'static str = "invalid_config";

    /// The error of the option in `slot` (of [`OPTION_NAMES`]).
    pub const fn new(slot: usize, value: OptionValue, requirement: Requirement) -> Self {
        ConfigError {
            slot,
            value,
            requirement,
        }
    }

    /// The option's canonical (snake_case, dotted) name; one of [`OPTION_NAMES`].
    pub fn option(&self) -> &'static str {
        OPTION_NAMES.get(self.slot).copied().unwrap_or_default()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid option {}: {} {}",
            self.option(),
            self.value,
            self.requirement.text()
        )
    }
}

impl core::error::Error for ConfigError {}

fn positive_duration(slot: usize, value: Duration) -> Result<u64, ConfigError> {
    let nanos = value.as_nanos();
    if nanos == 0 {
        return Err(ConfigError::new(
            slot,
            OptionValue::Duration(value),
            Requirement::Positive,
        ));
    }
    u64::try_from(nanos).map_err(|_| {
        ConfigError::new(
            slot,
            OptionValue::Duration(value),
            Requirement::AtMostMaxNanos,
        )
    })
}

fn at_least_one(slot: usize, value: u32) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(
            slot,
            OptionValue::Integer(0),
            Requirement::AtLeastOne,
        ));
    }
    Ok(())
}

/// The validated options, with every duration in nanoseconds: what the
/// machine runs on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub failure_tolerance: u32,
    pub failure_rate: Option<RateSettings>,
    pub slow_call_nanos: Option<u64>,
    pub reset_timeout_nanos: u64,
    pub backoff: Option<BackoffSettings>,
    pub half_open_max_calls: u32,
    pub success_threshold: u32,
    pub trial_timeout_nanos: u64,
    pub max_retry_after_nanos: u64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RateSettings {
    pub threshold: f64,
    pub minimum_calls: u32,
    pub window: WindowSettings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowSettings {
    Calls(u32),
    /// Bucket width in nanoseconds.
    Buckets {
        width_nanos: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BackoffSettings {
    pub multiplier: f64,
    pub max_reset_timeout_nanos: u64,
    pub jitter: f64,
}

impl Config {
    /// Checks every option; the first invalid one is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(|_| ())
    }

    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        let failure_rate = match &self.failure_rate {
            None => None,
            Some(rate) => Some(rate.settings()?),
        };
        let slow_call_nanos = match self.slow_call_duration {
            None => None,
            Some(d) => Some(positive_duration(slot!("slow_call_duration"), d)?),
        };
        let reset_timeout_nanos = positive_duration(slot!("reset_timeout"), self.reset_timeout)?;
        let backoff = match &self.backoff {
            None => None,
            Some(b) => Some(b.settings(reset_timeout_nanos)?),
        };
        at_least_one(slot!("half_open_max_calls"), self.half_open_max_calls)?;
        at_least_one(slot!("success_threshold"), self.success_threshold)?;
        let trial_timeout_nanos = positive_duration(slot!("trial_timeout"), self.trial_timeout)?;
        let max_retry_after_nanos =
            positive_duration(slot!("max_retry_after"), self.max_retry_after)?;
        Ok(Settings {
            failure_tolerance: self.failure_tolerance,
            failure_rate,
            slow_call_nanos,
            reset_timeout_nanos,
            backoff,
            half_open_max_calls: self.half_open_max_calls,
            success_threshold: self.success_threshold,
            trial_timeout_nanos,
            max_retry_after_nanos,
            seed: self.seed.unwrap_or(0),
        })
    }
}

impl FailureRate {
    fn settings(&self) -> Result<RateSettings, ConfigError> {
        let t = self.threshold;
        if !(t.is_finite() && t > 0.0 && t <= 1.0) {
            return Err(ConfigError::new(
                slot!("failure_rate.threshold"),
                OptionValue::Float(t),
                Requirement::Ratio,
            ));
        }
        at_least_one(slot!("failure_rate.minimum_calls"), self.minimum_calls)?;
        let window = match self.window {
            Window::Calls(n) => {
                if n == 0 || n > MAX_WINDOW_CALLS {
                    return Err(ConfigError::new(
                        slot!("failure_rate.window_calls"),
                        OptionValue::Integer(n.into()),
                        Requirement::WindowCallsRange,
                    ));
                }
                if self.minimum_calls > n {
                    return Err(ConfigError::new(
                        slot!("failure_rate.minimum_calls"),
                        OptionValue::Integer(self.minimum_calls.into()),
                        Requirement::WithinWindowCalls,
                    ));
                }
                WindowSettings::Calls(n)
            }
            Window::Duration(d) => {
                let nanos = positive_duration(slot!("failure_rate.window_duration"), d)?;
                if nanos < u64::from(WINDOW_BUCKETS) {
                    return Err(ConfigError::new(
                        slot!("failure_rate.window_duration"),
                        OptionValue::Duration(d),
                        Requirement::OneNanosecondPerBucket,
                    ));
                }
                WindowSettings::Buckets {
                    width_nanos: nanos / u64::from(WINDOW_BUCKETS),
                }
            }
        };
        Ok(RateSettings {
            threshold: t,
            minimum_calls: self.minimum_calls,
            window,
        })
    }
}

impl Backoff {
    fn settings(&self, reset_timeout_nanos: u64) -> Result<BackoffSettings, ConfigError> {
        let m = self.multiplier;
        if !(m.is_finite() && m >= 1.0) {
            return Err(ConfigError::new(
                slot!("backoff.multiplier"),
                OptionValue::Float(m),
                Requirement::FiniteAtLeastOne,
            ));
        }
        let max = positive_duration(slot!("backoff.max_reset_timeout"), self.max_reset_timeout)?;
        if max < reset_timeout_nanos {
            return Err(ConfigError::new(
                slot!("backoff.max_reset_timeout"),
                OptionValue::Duration(self.max_reset_timeout),
                Requirement::AtLeastResetTimeout,
            ));
        }
        let j = self.jitter;
        if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
            return Err(ConfigError::new(
                slot!("backoff.jitter"),
                OptionValue::Float(j),
                Requirement::Fraction,
            ));
        }
        Ok(BackoffSettings {
            multiplier: m,
            max_reset_timeout_nanos: max,
            jitter: j,
        })
    }
}

/// `value.round() as u64` (which `no_std` code cannot call) for every
/// `value`: halves round away from zero, and the cast saturates as `as` does.
pub(crate) fn round_non_negative(value: f64) -> u64 {
    let whole = value as u64;
    // Exact: below 2^52 the fraction is representable, above it is 0 (or
    // the cast saturated, and saturating_add keeps it saturated).
    if value - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// Conversions for bindings whose numbers arrive as floats (JS numbers,
/// Python floats): they reject NaN, infinities, negatives and non-integers
/// with the same [`ConfigError`] the core uses, so every language reports a
/// bad number the same way.
pub mod convert {
    use super::{ConfigError, OptionValue, Requirement};
    use core::time::Duration;

    /// Whether `value` (known to be in `0..=2^53`) has no fractional part.
    fn is_whole(value: f64) -> bool {
        value as u64 as f64 == value
    }

    /// Nanoseconds in one millisecond.
    pub const NANOS_PER_MILLI: f64 = 1e6;
    /// Nanoseconds in one second.
    pub const NANOS_PER_SECOND: f64 = 1e9;

    /// A non-negative finite amount of `unit_nanos`-long units as a [`Duration`]
    /// (one of 2^64 nanoseconds or more is [`Requirement::AtMostMaxNanos`]).
    /// Zero is let through; [`Config::validate`](super::Config::validate) judges it.
    pub fn duration(slot: usize, value: f64, unit_nanos: f64) -> Result<Duration, ConfigError> {
        let nanos = value * unit_nanos;
        let problem = if !(value.is_finite() && value >= 0.0) {
            Requirement::FiniteNonNegative
        } else if nanos >= 18_446_744_073_709_551_615.0 {
            Requirement::AtMostMaxNanos
        } else {
            return Ok(Duration::from_nanos(super::round_non_negative(nanos)));
        };
        Err(ConfigError::new(slot, OptionValue::Raw(value), problem))
    }

    /// A clock reading of `value` units as nanoseconds, rounded to the
    /// nearest; NaN and negative readings are 0 and huge ones saturate (the
    /// machine treats a reading earlier than the latest as the latest).
    /// Bindings check readings with [`reading`] first.
    pub fn instant(value: f64, unit_nanos: f64) -> u64 {
        super::round_non_negative(value * unit_nanos)
    }

    /// A clock reading of `value` units as nanoseconds, or `None` when it is
    /// not a time the machine may take: not finite, negative, or at or beyond
    /// 2^64 nanoseconds. Such a reading is the clock's error
    /// (docs/semantics.md, "What the bindings promise"), never the latest time.
    pub fn reading(value: f64, unit_nanos: f64) -> Option<u64> {
        let nanos = value * unit_nanos;
        (value >= 0.0 && nanos < 18_446_744_073_709_551_616.0).then(|| instant(value, unit_nanos))
    }

    /// A whole number in `0..=u32::MAX`.
    pub fn count(slot: usize, value: f64) -> Result<u32, ConfigError> {
        if !((0.0..=u32::MAX as f64).contains(&value) && is_whole(value)) {
            return Err(ConfigError::new(
                slot,
                OptionValue::Raw(value),
                Requirement::WholeU32,
            ));
        }
        Ok(value as u32)
    }

    /// The largest seed: 2^53, the integers a float holds exactly, in every language.
    pub const SEED_MAX: u64 = 1 << 53;

    fn seed_error(value: OptionValue) -> ConfigError {
        ConfigError::new(slot!("seed"), value, Requirement::SeedRange)
    }

    /// A whole number in `0..=2^53`, the integers a float holds exactly.
    pub fn seed(value: f64) -> Result<u64, ConfigError> {
        if !((0.0..=SEED_MAX as f64).contains(&value) && is_whole(value)) {
            return Err(seed_error(OptionValue::Raw(value)));
        }
        Ok(value as u64)
    }

    /// The same range for a seed given as an integer (Python ints are not floats).
    pub fn seed_integer(value: i128) -> Result<u64, ConfigError> {
        if !(0..=i128::from(SEED_MAX)).contains(&value) {
            // Shown as a float: OptionValue holds no wider integer.
            return Err(seed_error(OptionValue::Raw(value as f64)));
        }
        Ok(value as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::{round_non_negative, Requirement};

    #[test]
    fn requirements_are_listed_in_discriminant_order() {
        // The wasm module sends `requirement as u32`; JS reads the phrase at
        // that index of the generated list of `Requirement::ALL`.
        for (i, requirement) in Requirement::ALL.iter().enumerate() {
            assert_eq!(*requirement as usize, i, "{requirement:?}");
        }
        assert_eq!(
            Requirement::Memory as usize + 1,
            Requirement::ALL.len(),
            "the last variant is listed last"
        );
    }
    use proptest::prelude::*;

    #[test]
    fn rounds_like_f64_round_at_the_edges() {
        for value in [
            0.0,
            -0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            -0.6,
            -7.0,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            1.8446744073709552e19,
            3e19,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(round_non_negative(value), value.round() as u64, "{value}");
        }
    }

    proptest! {
        #[test]
        fn rounds_like_f64_round(value in proptest::num::f64::ANY) {
            prop_assert_eq!(round_non_negative(value), value.round() as u64);
        }

        #[test]
        fn rounds_millisecond_products_like_f64_round(ms in 0.0f64..1e9, scale in prop_oneof![Just(1e6), Just(1e9)]) {
            let nanos = ms * scale;
            prop_assert_eq!(round_non_negative(nanos), nanos.round() as u64);
        }
    }
}
