//! The numeric options of a JS `CircuitBreaker` into a core `Config`.
//!
//! The JS layer checks the options' types and shape (numbers, objects,
//! unknown keys) and hands over every number in the slot of its name in the
//! core's `OPTION_NAMES` (the group names' slots stay empty), with a bit set
//! in the mask for each one present. Everything about values
//! (ranges, whole numbers, units, how options constrain each other) is
//! judged here by the core, so it matches the other languages.

use alloc::vec::Vec;
use core::time::Duration;
use tripgate_core::config::{convert, ConfigError, OPTION_NAMES};
use tripgate_core::{Backoff, Config, FailureRate, Window};

/// The options as the JS layer passes them.
pub struct Given<'a> {
    pub values: &'a [f64],
    pub mask: u32,
}

impl Given<'_> {
    fn get(&self, option: &str) -> Option<f64> {
        let slot = OPTION_NAMES.iter().position(|s| *s == option)?;
        (self.mask & (1 << slot) != 0).then(|| self.values.get(slot).copied().unwrap_or(f64::NAN))
    }

    fn count(&self, option: &'static str) -> Result<Option<u32>, ConfigError> {
        self.get(option)
            .map(|n| convert::count(option, n))
            .transpose()
    }

    fn millis(&self, option: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.get(option)
            .map(|n| convert::duration(option, n, convert::NANOS_PER_MILLI))
            .transpose()
    }

    /// The validated config: the first invalid option is the error.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(n) = self.count("failure_tolerance")? {
            config.failure_tolerance = n;
        }
        if let Some(threshold) = self.get("failure_rate.threshold") {
            let minimum_calls = self.count("failure_rate.minimum_calls")?.unwrap_or(0);
            let window = match self.count("failure_rate.window_calls")? {
                Some(n) => Window::Calls(n),
                None => Window::Duration(
                    self.millis("failure_rate.window_duration")?
                        .unwrap_or_default(),
                ),
            };
            config.failure_rate = Some(FailureRate {
                threshold,
                minimum_calls,
                window,
            });
        }
        config.slow_call_duration = self.millis("slow_call_duration")?;
        if let Some(d) = self.millis("reset_timeout")? {
            config.reset_timeout = d;
        }
        if let Some(multiplier) = self.get("backoff.multiplier") {
            config.backoff = Some(Backoff {
                multiplier,
                max_reset_timeout: self
                    .millis("backoff.max_reset_timeout")?
                    .unwrap_or_default(),
                jitter: self.get("backoff.jitter").unwrap_or(0.0),
            });
        }
        if let Some(n) = self.count("half_open_max_calls")? {
            config.half_open_max_calls = n;
        }
        if let Some(n) = self.count("success_threshold")? {
            config.success_threshold = n;
        }
        if let Some(d) = self.millis("trial_timeout")? {
            config.trial_timeout = d;
        }
        if let Some(n) = self.get("seed") {
            config.seed = Some(convert::seed("seed", n)?);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The slot of `option` in `OPTION_NAMES`, found at compile time (no name
/// is compared at run time, and no name string need reach the module).
const fn slot(option: &str) -> usize {
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

/// The inverse of [`Given::config`]: the config's options in the slots of
/// `OPTION_NAMES`, durations in milliseconds, NaN where an option is absent
/// (and in the groups' own slots). JS names them for `breaker.options`.
pub fn slots(config: &Config) -> Vec<f64> {
    let mut values = alloc::vec![f64::NAN; OPTION_NAMES.len()];
    let mut put = |slot: usize, value: f64| {
        if let Some(cell) = values.get_mut(slot) {
            *cell = value;
        }
    };
    let millis = crate::millis_of;
    put(
        const { slot("failure_tolerance") },
        f64::from(config.failure_tolerance),
    );
    if let Some(rate) = &config.failure_rate {
        put(const { slot("failure_rate.threshold") }, rate.threshold);
        put(
            const { slot("failure_rate.minimum_calls") },
            f64::from(rate.minimum_calls),
        );
        match rate.window {
            Window::Calls(n) => put(const { slot("failure_rate.window_calls") }, f64::from(n)),
            Window::Duration(span) => {
                put(const { slot("failure_rate.window_duration") }, millis(span))
            }
        }
    }
    if let Some(slow) = config.slow_call_duration {
        put(const { slot("slow_call_duration") }, millis(slow));
    }
    put(
        const { slot("reset_timeout") },
        millis(config.reset_timeout),
    );
    if let Some(backoff) = &config.backoff {
        put(const { slot("backoff.multiplier") }, backoff.multiplier);
        put(
            const { slot("backoff.max_reset_timeout") },
            millis(backoff.max_reset_timeout),
        );
        put(const { slot("backoff.jitter") }, backoff.jitter);
    }
    put(
        const { slot("half_open_max_calls") },
        f64::from(config.half_open_max_calls),
    );
    put(
        const { slot("success_threshold") },
        f64::from(config.success_threshold),
    );
    put(
        const { slot("trial_timeout") },
        millis(config.trial_timeout),
    );
    if let Some(seed) = config.seed {
        put(const { slot("seed") }, seed as f64);
    }
    values
}
