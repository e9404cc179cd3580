//! The numeric options of a JS `CircuitBreaker` into a core `Config`.
//!
//! The JS layer checks the options' types and shape (numbers, objects,
//! unknown keys) and hands over every number in the slot of its name in the
//! core's `OPTION_NAMES` (the group names' slots stay empty), with a bit set
//! in the mask for each one present. Everything about values
//! (ranges, whole numbers, units, how options constrain each other) is
//! judged here by the core, so it matches the other languages.

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
