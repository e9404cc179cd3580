//! Options as numbers in slots: the kit's string-free builder of a
//! [`Config`], shared by every binding. A binding checks its options' types
//! and shape (its language's business), puts every number in the slot of
//! its name in [`OPTION_NAMES`] (a group's own slot stays empty) with a bit
//! set in the mask, and says what unit its durations are in. Everything
//! about values (ranges, whole numbers, how options constrain each other)
//! is judged here, so it is the same in every language. Slots are found at
//! compile time: no name is compared at run time.

use alloc::vec::Vec;
use core::time::Duration;

use crate::config::{
    convert, slot_of, Backoff, Config, ConfigError, FailureRate, Requirement, Window, OPTION_NAMES,
};

/// What kind of value an option takes: how a binding checks its type and
/// shows it (a count is an integer in Python, every number a float in JS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// A whole number (`failure_tolerance`, `half_open_max_calls`, ...).
    Count,
    /// A number (`failure_rate.threshold`, `backoff.multiplier`, ...).
    Number,
    /// A duration, in the binding's unit.
    Duration,
    /// The jitter seed: an integer, exact in every language.
    Seed,
    /// A group of options (`failure_rate`, `backoff`): its members follow it.
    Group,
}

/// The kind of every option, in the slots of [`OPTION_NAMES`].
pub const OPTION_KINDS: [OptionKind; OPTION_NAMES.len()] = {
    let mut kinds = [OptionKind::Count; OPTION_NAMES.len()];
    kinds[slot_of("failure_rate")] = OptionKind::Group;
    kinds[slot_of("failure_rate.threshold")] = OptionKind::Number;
    kinds[slot_of("failure_rate.window_duration")] = OptionKind::Duration;
    kinds[slot_of("slow_call_duration")] = OptionKind::Duration;
    kinds[slot_of("reset_timeout")] = OptionKind::Duration;
    kinds[slot_of("backoff")] = OptionKind::Group;
    kinds[slot_of("backoff.multiplier")] = OptionKind::Number;
    kinds[slot_of("backoff.max_reset_timeout")] = OptionKind::Duration;
    kinds[slot_of("backoff.jitter")] = OptionKind::Number;
    kinds[slot_of("trial_timeout")] = OptionKind::Duration;
    kinds[slot_of("max_retry_after")] = OptionKind::Duration;
    kinds[slot_of("seed")] = OptionKind::Seed;
    kinds
};

/// The shape of a group of options (`failure_rate`, `backoff`), which every
/// binding checks before it puts the members' numbers in their slots: the
/// members that must be given with the group, and the members of which
/// exactly one must be given. Members are named without the group's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionGroup {
    /// The group's option name (its slot's kind is [`OptionKind::Group`]).
    pub name: &'static str,
    /// Members that must be given.
    pub required: &'static [&'static str],
    /// Members of which exactly one must be given (empty: no such rule).
    pub exactly_one_of: &'static [&'static str],
}

/// What is wrong with a group's shape (see [`OptionGroup::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// A required member is not given: this one.
    Missing(&'static str),
    /// Not exactly one of the exclusive members is given.
    NotExactlyOne,
}

impl OptionGroup {
    /// The group's shape given which members are present (`given(member)`),
    /// the first problem found: required members in order, then the
    /// exclusive set. Each binding turns the answer into its language's
    /// type error (JS spells the same rule from the generated table).
    pub fn check(&self, given: impl Fn(&str) -> bool) -> Result<(), ShapeError> {
        if let Some(missing) = self.required.iter().find(|member| !given(member)) {
            return Err(ShapeError::Missing(missing));
        }
        let exclusive = self.exactly_one_of;
        if !exclusive.is_empty() && exclusive.iter().filter(|member| given(member)).count() != 1 {
            return Err(ShapeError::NotExactlyOne);
        }
        Ok(())
    }
}

/// Every group of options, in the order of [`OPTION_NAMES`].
pub const OPTION_GROUPS: [OptionGroup; 2] = [
    OptionGroup {
        name: "failure_rate",
        required: &["threshold", "minimum_calls"],
        exactly_one_of: &["window_calls", "window_duration"],
    },
    OptionGroup {
        name: "backoff",
        required: &["multiplier", "max_reset_timeout"],
        exactly_one_of: &[],
    },
];

/// Option values in the slots of [`OPTION_NAMES`], durations in units of
/// `UNIT_NANOS` nanoseconds (1,000,000 for milliseconds, 1,000,000,000 for
/// seconds: a constant, so that the conversions fold).
pub struct OptionSlots<'a, const UNIT_NANOS: u64> {
    /// `values[i]` holds the option `OPTION_NAMES[i]` when bit `i` of `mask` is set.
    pub values: &'a [f64],
    /// Which slots hold a value.
    pub mask: u32,
}

impl<const UNIT_NANOS: u64> OptionSlots<'_, UNIT_NANOS> {
    fn get(&self, slot: usize) -> Option<f64> {
        (self.mask & (1 << slot) != 0).then(|| self.values.get(slot).copied().unwrap_or(f64::NAN))
    }

    fn count(&self, slot: usize) -> Result<Option<u32>, ConfigError> {
        self.get(slot).map(|n| convert::count(slot, n)).transpose()
    }

    fn duration(&self, slot: usize) -> Result<Option<Duration>, ConfigError> {
        self.get(slot)
            .map(|n| convert::duration(slot, n, UNIT_NANOS as f64))
            .transpose()
    }

    /// The validated config: the first invalid option is the error.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(n) = self.count(const { slot_of("failure_tolerance") })? {
            config.failure_tolerance = n;
        }
        if let Some(threshold) = self.get(const { slot_of("failure_rate.threshold") }) {
            let minimum_calls = self
                .count(const { slot_of("failure_rate.minimum_calls") })?
                .unwrap_or(0);
            let window = match self.count(const { slot_of("failure_rate.window_calls") })? {
                Some(n) => Window::Calls(n),
                None => Window::Duration(
                    self.duration(const { slot_of("failure_rate.window_duration") })?
                        .unwrap_or_default(),
                ),
            };
            config.failure_rate = Some(FailureRate {
                threshold,
                minimum_calls,
                window,
            });
        }
        config.slow_call_duration = self.duration(const { slot_of("slow_call_duration") })?;
        if let Some(d) = self.duration(const { slot_of("reset_timeout") })? {
            config.reset_timeout = d;
        }
        if let Some(multiplier) = self.get(const { slot_of("backoff.multiplier") }) {
            config.backoff = Some(Backoff {
                multiplier,
                max_reset_timeout: self
                    .duration(const { slot_of("backoff.max_reset_timeout") })?
                    .unwrap_or_default(),
                jitter: self.get(const { slot_of("backoff.jitter") }).unwrap_or(0.0),
            });
        }
        if let Some(n) = self.count(const { slot_of("half_open_max_calls") })? {
            config.half_open_max_calls = n;
        }
        if let Some(n) = self.count(const { slot_of("success_threshold") })? {
            config.success_threshold = n;
        }
        if let Some(d) = self.duration(const { slot_of("trial_timeout") })? {
            config.trial_timeout = d;
        }
        if let Some(d) = self.duration(const { slot_of("max_retry_after") })? {
            config.max_retry_after = d;
        }
        if let Some(n) = self.get(const { slot_of("seed") }) {
            config.seed = Some(convert::seed(n)?);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The inverse of [`OptionSlots::config`]: `config`'s options in the slots of
/// [`OPTION_NAMES`], durations in units of `UNIT_NANOS` nanoseconds, NaN
/// where an option is absent (and in the groups' own slots): what a binding
/// shows as the breaker's effective options.
pub fn option_slots<const UNIT_NANOS: u64>(config: &Config) -> Vec<f64> {
    let mut values = alloc::vec![f64::NAN; OPTION_NAMES.len()];
    let mut put = |slot: usize, value: f64| {
        if let Some(cell) = values.get_mut(slot) {
            *cell = value;
        }
    };
    let time = |d: Duration| d.as_nanos() as f64 / UNIT_NANOS as f64;
    put(
        const { slot_of("failure_tolerance") },
        f64::from(config.failure_tolerance),
    );
    if let Some(rate) = &config.failure_rate {
        put(const { slot_of("failure_rate.threshold") }, rate.threshold);
        put(
            const { slot_of("failure_rate.minimum_calls") },
            f64::from(rate.minimum_calls),
        );
        match rate.window {
            Window::Calls(n) => put(const { slot_of("failure_rate.window_calls") }, f64::from(n)),
            Window::Duration(span) => put(
                const { slot_of("failure_rate.window_duration") },
                time(span),
            ),
        }
    }
    if let Some(slow) = config.slow_call_duration {
        put(const { slot_of("slow_call_duration") }, time(slow));
    }
    put(
        const { slot_of("reset_timeout") },
        time(config.reset_timeout),
    );
    if let Some(backoff) = &config.backoff {
        put(const { slot_of("backoff.multiplier") }, backoff.multiplier);
        put(
            const { slot_of("backoff.max_reset_timeout") },
            time(backoff.max_reset_timeout),
        );
        put(const { slot_of("backoff.jitter") }, backoff.jitter);
    }
    put(
        const { slot_of("half_open_max_calls") },
        f64::from(config.half_open_max_calls),
    );
    put(
        const { slot_of("success_threshold") },
        f64::from(config.success_threshold),
    );
    put(
        const { slot_of("trial_timeout") },
        time(config.trial_timeout),
    );
    put(
        const { slot_of("max_retry_after") },
        time(config.max_retry_after),
    );
    if let Some(seed) = config.seed {
        put(const { slot_of("seed") }, seed as f64);
    }
    values
}

/// The binding option `call_timeout`, `value` units of `unit_nanos`
/// nanoseconds: a duration as the machine's are (finite, not negative,
/// below 2^64 nanoseconds) and greater than 0, or the requirement it fails.
/// The machine never sees it (the bindings time calls), but every language
/// judges it here, so the same values are refused with the same words.
pub fn call_timeout(value: f64, unit_nanos: f64) -> Result<Duration, Requirement> {
    match convert::duration(usize::MAX, value, unit_nanos) {
        Err(e) => Err(e.requirement),
        Ok(d) if d.is_zero() => Err(Requirement::Positive),
        Ok(d) => Ok(d),
    }
}
