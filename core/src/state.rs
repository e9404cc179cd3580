//! The vocabulary of the machine: states, reasons and transitions.
//!
//! The names returned by [`State::name`] and [`Reason::name`] are the
//! canonical strings in every language; bindings test against [`State::ALL`]
//! and [`Reason::ALL`] so their typings cannot drift.

use core::fmt;

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum State {
    /// Calls are admitted; failures are counted.
    Closed,
    /// Calls are rejected until the open duration has elapsed.
    Open,
    /// A limited number of trial calls are admitted.
    HalfOpen,
    /// Manually opened: every call is rejected until `reset` or `force_closed`.
    ForcedOpen,
    /// Manually closed: every call is admitted and the breaker never trips.
    ForcedClosed,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::ForcedClosed,
    ];

    /// Its position in `ALL` (declaration order): the number bindings
    /// carry it as.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The canonical snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::ForcedClosed => "forced_closed",
        }
    }

    /// The state with this canonical name.
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a transition happened. Each reason leads to exactly one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Closed → open: consecutive failures exceeded `failure_tolerance`.
    FailureToleranceExceeded,
    /// Closed → open: the window's failure rate reached the threshold.
    FailureRateExceeded,
    /// Closed → open: a failure came with a server's Retry-After hint.
    RetryAfterReceived,
    /// Open → half-open: the open duration elapsed.
    ResetTimeoutElapsed,
    /// Half-open → closed: `success_threshold` consecutive trials succeeded.
    TrialSucceeded,
    /// Half-open → open: a trial failed (or was slow).
    TrialFailed,
    /// Half-open → open: a trial was not reported within `trial_timeout`.
    TrialTimedOut,
    /// Any → forced-open, by `force_open`.
    ForcedOpen,
    /// Any → forced-closed, by `force_closed`.
    ForcedClosed,
    /// Any → closed, by `reset`.
    Reset,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 10] = [
        Reason::FailureToleranceExceeded,
        Reason::FailureRateExceeded,
        Reason::RetryAfterReceived,
        Reason::ResetTimeoutElapsed,
        Reason::TrialSucceeded,
        Reason::TrialFailed,
        Reason::TrialTimedOut,
        Reason::ForcedOpen,
        Reason::ForcedClosed,
        Reason::Reset,
    ];

    /// Its position in `ALL` (declaration order): the number bindings
    /// carry it as.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The canonical snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Reason::FailureToleranceExceeded => "failure_tolerance_exceeded",
            Reason::FailureRateExceeded => "failure_rate_exceeded",
            Reason::RetryAfterReceived => "retry_after_received",
            Reason::ResetTimeoutElapsed => "reset_timeout_elapsed",
            Reason::TrialSucceeded => "trial_succeeded",
            Reason::TrialFailed => "trial_failed",
            Reason::TrialTimedOut => "trial_timed_out",
            Reason::ForcedOpen => "forced_open",
            Reason::ForcedClosed => "forced_closed",
            Reason::Reset => "reset",
        }
    }

    /// The reason with this canonical name.
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The transition table, as h11 keeps it: the state a reason leads to,
    /// and the states it may leave. Nothing else changes a state.
    pub const fn rule(self) -> (&'static [State], State) {
        use State::*;
        const ANY: &[State] = &State::ALL;
        match self {
            Reason::FailureToleranceExceeded => (&[Closed], Open),
            Reason::FailureRateExceeded => (&[Closed], Open),
            Reason::RetryAfterReceived => (&[Closed], Open),
            Reason::ResetTimeoutElapsed => (&[Open], HalfOpen),
            Reason::TrialSucceeded => (&[HalfOpen], Closed),
            Reason::TrialFailed => (&[HalfOpen], Open),
            Reason::TrialTimedOut => (&[HalfOpen], Open),
            Reason::ForcedOpen => (ANY, ForcedOpen),
            Reason::ForcedClosed => (ANY, ForcedClosed),
            Reason::Reset => (ANY, Closed),
        }
    }

    /// The state this reason leads to.
    pub const fn target(self) -> State {
        self.rule().1
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state change, as data: bindings turn these into events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When, in the caller's clock (nanoseconds).
    pub at: u64,
    /// The generation the machine entered with this transition.
    pub generation: u64,
}
