//! The state machine. Everything that can change a breaker's state lives in
//! this module (h11's "Rule 1"); the transition table itself is
//! [`Reason::rule`].
//!
//! Time is a `u64` count of nanoseconds from an origin the caller chooses,
//! passed into every input. A timestamp earlier than the latest one seen is
//! treated as that latest one: time never runs backwards inside the machine.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::{Config, ConfigError, Settings};
use crate::rng::SplitMix64;
use crate::state::{Reason, State, Transition};
use crate::window::RateWindow;

/// Transitions kept for [`Machine::poll_transition`] before the oldest are
/// dropped, so a caller that never drains them does not grow without bound.
pub const MAX_PENDING_TRANSITIONS: usize = 1024;

/// The largest value a counter or a generation takes: 2^53 - 1, the largest
/// integer every binding's number type holds exactly (a JavaScript number).
/// Stats and snapshots show counters saturated here, and generations stop
/// here, so every snapshot a machine writes can be restored in every
/// language. (Counting itself is a plain increment: restore refuses more
/// than this, and 2^64 is then out of reach of any number of inputs.)
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Adds `by` to a counter or generation, saturating at [`MAX_COUNT`]; for
/// what is not on the per-call path.
fn bump(counter: &mut u64, by: u64) {
    *counter = counter.saturating_add(by).min(MAX_COUNT);
}

/// The right to make one call, issued by [`Machine::try_acquire`].
///
/// Report it exactly once with [`Machine::on_success`],
/// [`Machine::on_failure`] or [`Machine::release`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be reported with on_success, on_failure or release"]
pub struct Permit {
    generation: u64,
    acquired_at: u64,
    trial: Option<u64>,
}

impl Permit {
    /// The generation the permit was issued in.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When it was issued (the machine's clamped time, nanoseconds).
    pub fn acquired_at(&self) -> u64 {
        self.acquired_at
    }

    /// Whether it is a half-open trial.
    pub fn is_trial(&self) -> bool {
        self.trial.is_some()
    }

    /// The permit as plain numbers, for bindings that hand permits to another
    /// language: `(generation, acquired_at, trial_id)`, where `trial_id` is 0
    /// for a permit that is not a trial.
    pub fn into_raw(self) -> (u64, u64, u64) {
        (self.generation, self.acquired_at, self.trial.unwrap_or(0))
    }

    /// Rebuilds a permit from [`Permit::into_raw`]. Reporting one permit twice
    /// is the caller's bug: a trial reported twice is counted as stale the
    /// second time, any other permit is counted twice in the stats.
    pub fn from_raw(generation: u64, acquired_at: u64, trial_id: u64) -> Permit {
        Permit {
            generation,
            acquired_at,
            trial: (trial_id != 0).then_some(trial_id),
        }
    }
}

/// Why a call was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The state that rejected it: `Open`, `HalfOpen` (all trial slots taken)
    /// or `ForcedOpen`.
    pub state: State,
    /// How long until a trial will be admitted: set in `Open` only.
    pub retry_after: Option<Duration>,
}

/// The answer to [`Machine::try_acquire`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// The call may go ahead; report the permit when it ends.
    Admitted(Permit),
    /// The call must not be made.
    Rejected(Rejection),
}

/// What the machine made of a reported outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Report {
    /// The permit was from an earlier generation (or already reported): it was
    /// counted in the stats and changed nothing else.
    pub stale: bool,
    /// The permit was held longer than `slow_call_duration`.
    pub slow: bool,
}

/// Cumulative counters and the current view of a machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// The current state.
    pub state: State,
    /// The current generation; every transition and every reset starts a new one.
    pub generation: u64,
    /// Permits issued.
    pub admitted: u64,
    /// Successes reported (slow ones included).
    pub successes: u64,
    /// Failures reported.
    pub failures: u64,
    /// Reported calls held longer than `slow_call_duration`.
    pub slow_calls: u64,
    /// Calls rejected.
    pub rejections: u64,
    /// Permits released without an outcome.
    pub released: u64,
    /// Reports of permits from an earlier generation (also in the three counts above).
    pub stale_outcomes: u64,
    /// Trials counted as failed because they were not reported within `trial_timeout`.
    pub trial_timeouts: u64,
    /// Permits issued before a restore and never reported to the restored
    /// machine, which cannot see them reported: counted in `released` too.
    pub abandoned: u64,
    /// Consecutive failures in the current closed (or forced-closed) period.
    pub consecutive_failures: u32,
    /// Outcomes in the failure-rate window (0 without a failure-rate policy).
    pub window_calls: u32,
    /// Failures in the failure-rate window.
    pub window_failures: u32,
    /// `window_failures / window_calls`, or `None` when the window is empty or absent.
    pub failure_rate: Option<f64>,
    /// Half-open trials admitted and not yet reported.
    pub trials_in_flight: u32,
    /// When the last transition happened, `None` before the first.
    pub last_transition_at: Option<u64>,
    /// How long until a trial will be admitted; set in `Open` only.
    pub retry_after: Option<Duration>,
}

impl Counters {
    /// The counters as stats and snapshots show them: each at most [`MAX_COUNT`].
    pub fn saturated(&self) -> Counters {
        let at_most = |n: u64| n.min(MAX_COUNT);
        Counters {
            admitted: at_most(self.admitted),
            successes: at_most(self.successes),
            failures: at_most(self.failures),
            slow_calls: at_most(self.slow_calls),
            rejections: at_most(self.rejections),
            released: at_most(self.released),
            stale_outcomes: at_most(self.stale_outcomes),
            trial_timeouts: at_most(self.trial_timeouts),
            abandoned: at_most(self.abandoned),
        }
    }
}

impl Stats {
    /// Permits issued and not yet reported.
    /// Never negative: a permit reported twice, or one from another machine,
    /// is counted in its outcome's counter without underflowing this.
    pub fn in_flight(&self) -> u64 {
        self.admitted
            .saturating_sub(self.successes)
            .saturating_sub(self.failures)
            .saturating_sub(self.released)
    }
}

/// The cumulative counters: never cleared by a transition; carried by
/// snapshots. See [`Stats`] for what each counts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[allow(missing_docs)]
pub struct Counters {
    pub admitted: u64,
    pub successes: u64,
    pub failures: u64,
    pub slow_calls: u64,
    pub rejections: u64,
    pub released: u64,
    pub stale_outcomes: u64,
    pub trial_timeouts: u64,
    /// Absent from version-1 snapshots.
    #[cfg_attr(feature = "serde", serde(default))]
    pub abandoned: u64,
}

/// An admitted, unreported half-open trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trial {
    pub id: u64,
    pub acquired_at: u64,
}

/// The pure circuit-breaker state machine. See `docs/semantics.md`.
#[derive(Clone, Debug)]
pub struct Machine {
    pub(crate) config: Config,
    pub(crate) settings: Settings,
    pub(crate) state: State,
    pub(crate) generation: u64,
    /// The latest time seen.
    pub(crate) now: u64,
    pub(crate) last_transition_at: Option<u64>,
    pub(crate) consecutive_failures: u32,
    pub(crate) window: Option<RateWindow>,
    /// While open: when the open duration ends and a trial may be admitted.
    pub(crate) reopen_at: u64,
    /// The open duration before jitter that the next failed trial grows from.
    pub(crate) nominal_open_duration: u64,
    pub(crate) trials: Vec<Trial>,
    pub(crate) next_trial_id: u64,
    pub(crate) trial_successes: u32,
    pub(crate) rng: SplitMix64,
    pub(crate) counters: Counters,
    pub(crate) transitions: VecDeque<Transition>,
}

impl Machine {
    /// A closed machine whose clock starts at `now`.
    pub fn new(config: Config, now: u64) -> Result<Machine, ConfigError> {
        let settings = config.settings()?;
        let window = match settings.failure_rate.as_ref() {
            None => None,
            Some(rate) => Some(RateWindow::new(rate.window, now).ok_or_else(|| {
                let calls = match rate.window {
                    crate::config::WindowSettings::Calls(n) => n,
                    crate::config::WindowSettings::Buckets { .. } => 0,
                };
                crate::config::out_of_memory(calls)
            })?),
        };
        Ok(Machine {
            window,
            rng: SplitMix64::new(settings.seed),
            nominal_open_duration: settings.reset_timeout_nanos,
            config,
            settings,
            state: State::Closed,
            generation: 0,
            now,
            last_transition_at: None,
            consecutive_failures: 0,
            reopen_at: 0,
            trials: Vec::new(),
            next_trial_id: 1,
            trial_successes: 0,
            counters: Counters::default(),
            transitions: VecDeque::new(),
        })
    }

    /// The options the machine was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Asks to make a call at `now`.
    pub fn try_acquire(&mut self, now: u64) -> Decision {
        let now = self.advance(now);
        let trial = match self.state {
            State::Closed | State::ForcedClosed => None,
            State::HalfOpen if self.trials.len() < self.settings.half_open_max_calls as usize => {
                let id = self.next_trial_id;
                self.next_trial_id = self.next_trial_id.wrapping_add(1).max(1);
                self.trials.push(Trial {
                    id,
                    acquired_at: now,
                });
                Some(id)
            }
            State::Open | State::HalfOpen | State::ForcedOpen => {
                self.counters.rejections += 1;
                return Decision::Rejected(Rejection {
                    state: self.state,
                    retry_after: self.retry_after_at(now),
                });
            }
        };
        self.counters.admitted += 1;
        Decision::Admitted(Permit {
            generation: self.generation,
            acquired_at: now,
            trial,
        })
    }

    /// Reports that the permit's call succeeded at `now`.
    #[inline]
    pub fn on_success(&mut self, permit: Permit, now: u64) -> Report {
        self.counters.successes += 1;
        self.on_outcome(permit, now, false, None)
    }

    /// Reports that the permit's call failed at `now`.
    #[inline]
    pub fn on_failure(&mut self, permit: Permit, now: u64) -> Report {
        self.failure(permit, now, None)
    }

    /// Reports that the permit's call failed at `now`, with a server's hint
    /// (an HTTP `Retry-After`) of when to come back. The server has said it
    /// is unavailable, so a current permit's failure opens the breaker at
    /// once, whatever the tolerance: from closed with
    /// [`Reason::RetryAfterReceived`], from half-open as a failed trial. It
    /// stays open for the longer of the open duration it would have had and
    /// `retry_after` capped at `max_retry_after` (the hint is not jittered).
    /// Forced-closed counts the failure and stays closed; a stale permit
    /// changes nothing but the counters, like any stale report.
    pub fn on_failure_with_retry_after(
        &mut self,
        permit: Permit,
        now: u64,
        retry_after: Duration,
    ) -> Report {
        // Saturating u64 arithmetic rather than u128 `as_nanos`, which would
        // pull 128-bit arithmetic into the WebAssembly module.
        let hint = retry_after
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(retry_after.subsec_nanos()))
            .min(self.settings.max_retry_after_nanos);
        self.failure(permit, now, Some(hint))
    }

    fn failure(&mut self, permit: Permit, now: u64, hint: Option<u64>) -> Report {
        self.counters.failures += 1;
        self.on_outcome(permit, now, true, hint)
    }

    /// Gives the permit back without an outcome (the call was cancelled, or
    /// its error is not counted). A trial's slot is freed.
    pub fn release(&mut self, permit: Permit, now: u64) -> Report {
        self.advance(now);
        self.counters.released += 1;
        if self.take_current(&permit).is_none() {
            self.counters.stale_outcomes += 1;
            return Report {
                stale: true,
                slow: false,
            };
        }
        Report::default()
    }

    /// The state at `now` (applying any transition that has come due).
    pub fn state(&mut self, now: u64) -> State {
        self.advance(now);
        self.state
    }

    /// How long until a trial will be admitted, at `now`; `None` unless open.
    pub fn retry_after(&mut self, now: u64) -> Option<Duration> {
        let now = self.advance(now);
        self.retry_after_at(now)
    }

    /// Counters and the current view at `now`.
    pub fn stats(&mut self, now: u64) -> Stats {
        let now = self.advance(now);
        let totals = self
            .window
            .as_ref()
            .map(|w| w.totals(now))
            .unwrap_or_default();
        let c = self.counters.saturated();
        Stats {
            state: self.state,
            generation: self.generation,
            admitted: c.admitted,
            successes: c.successes,
            failures: c.failures,
            slow_calls: c.slow_calls,
            rejections: c.rejections,
            released: c.released,
            stale_outcomes: c.stale_outcomes,
            trial_timeouts: c.trial_timeouts,
            abandoned: c.abandoned,
            consecutive_failures: self.consecutive_failures,
            window_calls: totals.calls,
            window_failures: totals.failures,
            failure_rate: (totals.calls > 0)
                .then(|| f64::from(totals.failures) / f64::from(totals.calls)),
            trials_in_flight: self.trials.len() as u32,
            last_transition_at: self.last_transition_at,
            retry_after: self.retry_after_at(now),
        }
    }

    /// Opens the breaker until [`Machine::reset`] or [`Machine::force_closed`].
    pub fn force_open(&mut self, now: u64) {
        let now = self.advance(now);
        if self.state != State::ForcedOpen {
            self.transition(Reason::ForcedOpen, now);
        }
    }

    /// Closes the breaker for good: it admits everything and never trips
    /// until [`Machine::reset`] or [`Machine::force_open`].
    pub fn force_closed(&mut self, now: u64) {
        let now = self.advance(now);
        if self.state != State::ForcedClosed {
            self.transition(Reason::ForcedClosed, now);
        }
    }

    /// Returns to closed with the failure counters and window cleared. Always
    /// starts a new generation; records a transition unless already closed.
    pub fn reset(&mut self, now: u64) {
        let now = self.advance(now);
        if self.state == State::Closed {
            self.next_generation();
            self.enter(State::Closed, now);
        } else {
            self.transition(Reason::Reset, now);
        }
    }

    /// The oldest transition not yet polled.
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.transitions.pop_front()
    }

    /// Whether a transition is waiting to be polled.
    pub fn has_transitions(&self) -> bool {
        !self.transitions.is_empty()
    }

    /// Whether [`Machine::try_acquire`], [`Machine::on_success`] and
    /// [`Machine::release`] need the current time. Where this is false
    /// (closed, forced-closed or forced-open, with no slow-call limit and no
    /// time window) they do not depend on time: a caller may pass
    /// [`Machine::latest_time`] (or any earlier time) instead of reading its
    /// clock, and the issue time of a permit acquired then is never used.
    /// [`Machine::on_failure`] always needs the current time: it may open the
    /// breaker, and the open timer starts then.
    pub fn needs_clock(&self) -> bool {
        let time_window = matches!(
            self.settings.failure_rate.as_ref().map(|r| r.window),
            Some(crate::config::WindowSettings::Buckets { .. })
        );
        matches!(self.state, State::Open | State::HalfOpen)
            || time_window
            || self.settings.slow_call_nanos.is_some()
    }

    /// Whether a success reported now can change nothing but counters: closed
    /// or forced-closed, with no failure-rate policy and no slow-call limit.
    /// Such successes may be delivered late, in order, without changing any
    /// decision: a binding may batch them until its next input.
    pub fn success_is_quiet(&self) -> bool {
        matches!(self.state, State::Closed | State::ForcedClosed)
            && self.settings.failure_rate.is_none()
            && self.settings.slow_call_nanos.is_none()
    }

    /// Whether nothing but counters would be lost if the machine were
    /// forgotten now: closed (not forced), with no permit in flight. A group
    /// of breakers (JS and Python `CircuitBreakerGroup`) evicts only such a
    /// one, so that no open breaker is forgotten early and no caller's
    /// permit outlives its breaker's place in the group.
    pub fn is_idle(&self) -> bool {
        let c = self.counters.saturated();
        let in_flight = c
            .admitted
            .saturating_sub(c.successes)
            .saturating_sub(c.failures)
            .saturating_sub(c.released);
        self.state == State::Closed && in_flight == 0
    }

    /// Hands over, in one input, what `acquires` calls of [`try_acquire`]
    /// and then `successes` calls of [`on_success`] with non-trial permits
    /// of `generation`, all at the latest time, would do while `generation`
    /// is the current one, successes are quiet and no clock is needed
    /// (closed or forced closed, no failure-rate window, no slow-call
    /// limit): admit and succeed, which only counts. Returns false,
    /// changing nothing, otherwise (a caller then reports one by one, and
    /// an older generation's successes are stale). The thread-safe
    /// breaker's lock-free path and the JS binding's held-back successes
    /// are delivered with it; `core/tests/fast_path.rs` checks it against
    /// the calls.
    ///
    /// [`try_acquire`]: Machine::try_acquire
    /// [`on_success`]: Machine::on_success
    pub fn quiet_calls(&mut self, generation: u64, acquires: u64, successes: u64) -> bool {
        if generation != self.generation || !self.success_is_quiet() || self.needs_clock() {
            return false;
        }
        self.counters.admitted += acquires;
        self.counters.successes += successes;
        if successes != 0 {
            self.consecutive_failures = 0;
        }
        true
    }

    /// Hands over what `acquires` calls of [`try_acquire`] and then
    /// `successes` calls of [`on_success`] with non-trial permits of
    /// `generation`, issued and reported at the latest time, do: in one
    /// input where [`quiet_calls`](Machine::quiet_calls) takes them, else
    /// one by one (an older generation's successes are then stale). The
    /// thread-safe breaker's lock-free path and the JS binding's held-back
    /// successes reach the machine through it.
    ///
    /// [`try_acquire`]: Machine::try_acquire
    /// [`on_success`]: Machine::on_success
    // `#[inline]` so that the wasm crate, which holds no acquires, drops
    // their loop (measured: 19 bytes gzipped).
    #[inline]
    pub fn held_calls(&mut self, generation: u64, acquires: u64, successes: u64) {
        if self.quiet_calls(generation, acquires, successes) {
            return;
        }
        let now = self.now;
        for _ in 0..acquires {
            let admitted = matches!(self.try_acquire(now), Decision::Admitted(_));
            debug_assert!(admitted, "held calls were admitted");
        }
        for _ in 0..successes {
            let _ = self.on_success(Permit::from_raw(generation, now, 0), now);
        }
    }

    /// Whether a report uses its permit's issue time (to tell a slow call).
    /// Where it does not, and the permit is not a trial, a binding may hand
    /// out the permit's generation alone and report it with any issue time.
    pub fn reports_use_issue_time(&self) -> bool {
        self.settings.slow_call_nanos.is_some()
    }

    /// The current generation: the one a permit issued now carries.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The latest time the machine has seen.
    pub fn latest_time(&self) -> u64 {
        self.now
    }

    // ---- internals: the only code that changes `state` ----

    /// Clamps `now` to the latest time seen and applies every lazy
    /// transition that has come due by then.
    #[inline]
    fn advance(&mut self, now: u64) -> u64 {
        let now = now.max(self.now);
        self.now = now;
        let nothing_due = match self.state {
            State::Closed | State::ForcedClosed | State::ForcedOpen => true,
            State::Open => now < self.reopen_at,
            State::HalfOpen => self.trials.is_empty(),
        };
        if !nothing_due {
            self.apply_due_transitions(now);
        }
        now
    }

    #[inline(never)]
    fn apply_due_transitions(&mut self, now: u64) {
        loop {
            match self.state {
                State::Open if now >= self.reopen_at => {
                    self.transition(Reason::ResetTimeoutElapsed, now);
                }
                State::HalfOpen => {
                    let limit = self.settings.trial_timeout_nanos;
                    let overdue = self
                        .trials
                        .iter()
                        .filter(|t| now - t.acquired_at > limit)
                        .count() as u64;
                    if overdue == 0 {
                        return;
                    }
                    bump(&mut self.counters.trial_timeouts, overdue);
                    self.transition(Reason::TrialTimedOut, now);
                }
                _ => return,
            }
        }
    }

    fn retry_after_at(&self, now: u64) -> Option<Duration> {
        (self.state == State::Open)
            .then(|| Duration::from_nanos(self.reopen_at.saturating_sub(now)))
    }

    /// Removes the permit from the current generation's books: `Some(())` if
    /// it belongs to the current generation (and, for a trial, still holds a
    /// slot), `None` if it is stale.
    #[inline]
    fn take_current(&mut self, permit: &Permit) -> Option<()> {
        if permit.generation != self.generation {
            return None;
        }
        match permit.trial {
            None => Some(()),
            Some(id) => {
                let slot = self.trials.iter().position(|t| t.id == id)?;
                self.trials.swap_remove(slot);
                Some(())
            }
        }
    }

    #[inline]
    fn on_outcome(&mut self, permit: Permit, now: u64, failed: bool, hint: Option<u64>) -> Report {
        let now = self.advance(now);
        let slow = self
            .settings
            .slow_call_nanos
            .is_some_and(|limit| now.saturating_sub(permit.acquired_at) > limit);
        self.counters.slow_calls += u64::from(slow);
        if self.take_current(&permit).is_none() {
            self.counters.stale_outcomes += 1;
            return Report { stale: true, slow };
        }
        let failed = failed || slow;
        match self.state {
            State::Closed | State::ForcedClosed => self.record_closed(failed, now, hint),
            State::HalfOpen if failed => {
                self.transition(Reason::TrialFailed, now);
                self.hold_open(hint, now);
            }
            State::HalfOpen => {
                self.trial_successes += 1;
                if self.trial_successes >= self.settings.success_threshold {
                    self.transition(Reason::TrialSucceeded, now);
                }
            }
            // No permit of the current generation exists in these states.
            State::Open | State::ForcedOpen => {}
        }
        Report { stale: false, slow }
    }

    #[inline]
    fn record_closed(&mut self, failed: bool, now: u64, hint: Option<u64>) {
        self.consecutive_failures = if failed {
            self.consecutive_failures.saturating_add(1)
        } else {
            0
        };
        if let Some(window) = &mut self.window {
            window.record(failed, now);
        }
        if self.state == State::ForcedClosed {
            return;
        }
        if hint.is_some() {
            // The server said it is unavailable: no tolerance applies.
            self.transition(Reason::RetryAfterReceived, now);
            self.hold_open(hint, now);
        } else if self.consecutive_failures > self.settings.failure_tolerance {
            self.transition(Reason::FailureToleranceExceeded, now);
        } else if self.rate_exceeded(now) {
            self.transition(Reason::FailureRateExceeded, now);
        }
    }

    /// Keeps the breaker just opened at `now` open for at least `hint`
    /// nanoseconds (already capped at `max_retry_after`), unjittered.
    fn hold_open(&mut self, hint: Option<u64>, now: u64) {
        if let Some(hint) = hint {
            self.reopen_at = self.reopen_at.max(now.saturating_add(hint));
        }
    }

    fn rate_exceeded(&self, now: u64) -> bool {
        let (Some(rate), Some(window)) = (&self.settings.failure_rate, &self.window) else {
            return false;
        };
        let totals = window.totals(now);
        totals.calls >= rate.minimum_calls
            && f64::from(totals.failures) >= rate.threshold * f64::from(totals.calls)
    }

    #[inline(never)]
    fn transition(&mut self, reason: Reason, now: u64) {
        let (sources, to) = reason.rule();
        let from = self.state;
        debug_assert!(sources.contains(&from), "{reason} from {from}");
        self.next_generation();
        if matches!(reason, Reason::TrialFailed | Reason::TrialTimedOut) {
            self.grow_open_duration();
        }
        self.enter(to, now);
        if self.transitions.len() == MAX_PENDING_TRANSITIONS {
            self.transitions.pop_front();
        }
        self.transitions.push_back(Transition {
            from,
            to,
            reason,
            at: now,
            generation: self.generation,
        });
        self.last_transition_at = Some(now);
    }

    /// Puts this new machine in the state `snapshot` describes (validated by
    /// `Machine::restore` in snapshot.rs, which also
    /// rebuilt its `window`), at `now`. The only place a restore changes a
    /// machine.
    pub(crate) fn resume(
        &mut self,
        snapshot: &crate::snapshot::Snapshot,
        window: Option<RateWindow>,
        unreported: u64,
        now: u64,
    ) {
        let reset = self.settings.reset_timeout_nanos;
        let ceiling = self
            .settings
            .backoff
            .as_ref()
            .map_or(reset, |b| b.max_reset_timeout_nanos);
        self.window = window;
        self.state = snapshot.state;
        // A new generation, so that permits issued before the snapshot are stale.
        self.generation = (snapshot.generation + 1).min(MAX_COUNT);
        self.consecutive_failures = snapshot.consecutive_failures;
        self.trial_successes = snapshot.trial_successes;
        self.reopen_at = now.saturating_add(snapshot.open_remaining);
        self.nominal_open_duration = snapshot.nominal_open_duration.clamp(reset, ceiling);
        self.last_transition_at = snapshot
            .last_transition_age
            .map(|age| now.saturating_sub(age));
        self.rng = SplitMix64::new(0);
        self.rng.state = snapshot.rng_state;
        self.counters = snapshot.counters.clone();
        // The permits in flight when the snapshot was taken can never be
        // reported to this machine: they are released, and named abandoned,
        // so that in_flight counts only permits this machine issued.
        bump(&mut self.counters.released, unreported);
        bump(&mut self.counters.abandoned, unreported);
    }

    /// Starts a new generation. At [`MAX_COUNT`] (2^53 - 1 transitions, never
    /// reached by a live breaker) it stays there rather than overflow.
    fn next_generation(&mut self) {
        bump(&mut self.generation, 1);
    }

    /// Sets up the books of the state entered at `now`.
    #[inline(never)]
    fn enter(&mut self, to: State, now: u64) {
        self.state = to;
        self.trials.clear();
        self.trial_successes = 0;
        self.consecutive_failures = 0;
        if let Some(window) = &mut self.window {
            window.clear(now);
        }
        match to {
            State::Closed => self.nominal_open_duration = self.settings.reset_timeout_nanos,
            State::Open => {
                let open_duration = self.jittered(self.nominal_open_duration);
                self.reopen_at = now.saturating_add(open_duration);
            }
            State::HalfOpen | State::ForcedOpen | State::ForcedClosed => {}
        }
    }

    fn grow_open_duration(&mut self) {
        if let Some(backoff) = &self.settings.backoff {
            let grown = self.nominal_open_duration as f64 * backoff.multiplier;
            self.nominal_open_duration = if grown >= backoff.max_reset_timeout_nanos as f64 {
                backoff.max_reset_timeout_nanos
            } else {
                grown as u64
            };
        }
    }

    fn jittered(&mut self, nominal: u64) -> u64 {
        match &self.settings.backoff {
            Some(backoff) if backoff.jitter > 0.0 => {
                let factor = 1.0 + backoff.jitter * self.rng.next_signed_unit();
                crate::config::round_non_negative(nominal as f64 * factor)
            }
            _ => nominal,
        }
    }
}
