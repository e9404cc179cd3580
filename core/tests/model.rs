//! Property tests: the machine against a small reference model written
//! straight from `docs/semantics.md`, the naive way (it keeps every outcome
//! and recomputes windows from scratch). For random configs and random
//! sequences of inputs, both must agree on every decision, report and state,
//! the machine must never panic, and its stats must add up.

use std::time::Duration;

use proptest::prelude::*;
use tripgate_core::{Backoff, Config, Decision, FailureRate, Machine, Permit, State, Window};

#[derive(Clone, Debug)]
enum Input {
    Acquire,
    Success(usize),
    Failure(usize),
    /// A failure with a Retry-After hint of this many nanoseconds.
    FailureWithHint(usize, u64),
    Release(usize),
    Query,
    ForceOpen,
    ForceClosed,
    Reset,
}

#[derive(Clone, Debug)]
struct Step {
    /// Time moves by this much before the input; negative values move the
    /// clock backwards.
    dt: i64,
    input: Input,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => Just(Input::Acquire),
        4 => any::<usize>().prop_map(Input::Success),
        4 => any::<usize>().prop_map(Input::Failure),
        1 => (any::<usize>(), 0u64..150).prop_map(|(i, hint)| Input::FailureWithHint(i, hint)),
        1 => any::<usize>().prop_map(Input::Release),
        2 => Just(Input::Query),
        1 => Just(Input::ForceOpen),
        1 => Just(Input::ForceClosed),
        1 => Just(Input::Reset),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (prop_oneof![8 => 0i64..30, 1 => -40i64..0], input()).prop_map(|(dt, input)| Step { dt, input })
}

/// A failure-rate threshold: often exactly a ratio a small window can reach
/// (k/n, so that the `>=` boundary is hit), otherwise any value.
fn threshold() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => (1u32..8, 1u32..8).prop_map(|(k, n)| f64::from(k.min(n)) / f64::from(n)),
        1 => Just(1.0),
        1 => 0.1f64..=1.0,
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let rate = prop_oneof![
        Just(None),
        (1u32..8, threshold(), 1u32..8).prop_map(|(n, t, m)| Some(FailureRate {
            threshold: t,
            minimum_calls: m.min(n),
            window: Window::Calls(n),
        })),
        (10u64..200, threshold(), 1u32..6).prop_map(|(d, t, m)| Some(FailureRate {
            threshold: t,
            minimum_calls: m,
            window: Window::Duration(Duration::from_nanos(d)),
        })),
    ];
    let backoff = prop_oneof![
        Just(None),
        (1.0f64..3.0, 0u64..200).prop_map(|(m, extra)| Some((m, extra))),
    ];
    (
        0u32..4,
        rate,
        prop::option::of(1u64..40),
        1u64..60,
        backoff,
        1u32..4,
        1u32..4,
        (1u64..80, 1u64..120),
    )
        .prop_map(
            |(
                tolerance,
                failure_rate,
                slow,
                reset,
                backoff,
                max_calls,
                threshold,
                (trial, max_hint),
            )| Config {
                failure_tolerance: tolerance,
                failure_rate,
                slow_call_duration: slow.map(Duration::from_nanos),
                reset_timeout: Duration::from_nanos(reset),
                backoff: backoff.map(|(multiplier, extra)| Backoff {
                    multiplier,
                    max_reset_timeout: Duration::from_nanos(reset + extra),
                    jitter: 0.0,
                }),
                half_open_max_calls: max_calls,
                success_threshold: threshold,
                trial_timeout: Duration::from_nanos(trial),
                max_retry_after: Duration::from_nanos(max_hint),
                seed: Some(1),
            },
        )
}

/// The model's permit: what the harness hands back on a report.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ModelPermit {
    generation: u64,
    acquired_at: u64,
    trial: Option<u64>,
}

#[derive(Debug, PartialEq)]
enum ModelDecision {
    Admitted {
        trial: bool,
    },
    Rejected {
        state: State,
        retry_after: Option<u64>,
    },
}

struct Model {
    c: Config,
    state: State,
    generation: u64,
    now: u64,
    consecutive: u32,
    window_start: u64,
    /// Every outcome since the window started: (time, failed).
    outcomes: Vec<(u64, bool)>,
    reopen_at: u64,
    nominal: u64,
    trials: Vec<(u64, u64)>,
    next_trial: u64,
    trial_successes: u32,
    admitted: u64,
    successes: u64,
    failures: u64,
    released: u64,
    rejections: u64,
    stale: u64,
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

impl Model {
    fn new(c: Config) -> Model {
        let nominal = nanos(c.reset_timeout);
        Model {
            c,
            state: State::Closed,
            generation: 0,
            now: 0,
            consecutive: 0,
            window_start: 0,
            outcomes: vec![],
            reopen_at: 0,
            nominal,
            trials: vec![],
            next_trial: 1,
            trial_successes: 0,
            admitted: 0,
            successes: 0,
            failures: 0,
            released: 0,
            rejections: 0,
            stale: 0,
        }
    }

    fn go(&mut self, to: State, failed_trial: bool) {
        self.generation += 1;
        if failed_trial {
            if let Some(b) = &self.c.backoff {
                let grown = self.nominal as f64 * b.multiplier;
                self.nominal = nanos(b.max_reset_timeout).min(grown as u64);
                if grown >= nanos(b.max_reset_timeout) as f64 {
                    self.nominal = nanos(b.max_reset_timeout);
                }
            }
        }
        self.state = to;
        self.trials.clear();
        self.trial_successes = 0;
        self.consecutive = 0;
        self.outcomes.clear();
        self.window_start = self.now;
        if to == State::Closed {
            self.nominal = nanos(self.c.reset_timeout);
        }
        if to == State::Open {
            self.reopen_at = self.now + self.nominal;
        }
    }

    fn tick(&mut self, now: u64) {
        self.now = self.now.max(now);
        loop {
            if self.state == State::Open && self.now >= self.reopen_at {
                self.go(State::HalfOpen, false);
            } else if self.state == State::HalfOpen
                && self
                    .trials
                    .iter()
                    .any(|&(_, at)| self.now - at > nanos(self.c.trial_timeout))
            {
                self.go(State::Open, true);
            } else {
                return;
            }
        }
    }

    fn window(&self) -> (u32, u32) {
        let Some(rate) = &self.c.failure_rate else {
            return (0, 0);
        };
        let kept: Vec<bool> = match rate.window {
            Window::Calls(n) => self
                .outcomes
                .iter()
                .rev()
                .take(n as usize)
                .map(|o| o.1)
                .collect(),
            Window::Duration(d) => {
                let width = nanos(d) / 10;
                let current = (self.now - self.window_start) / width;
                self.outcomes
                    .iter()
                    .filter(|(t, _)| (t - self.window_start) / width + 10 > current)
                    .map(|o| o.1)
                    .collect()
            }
        };
        (
            kept.len() as u32,
            kept.iter().filter(|f| **f).count() as u32,
        )
    }

    fn acquire(&mut self, now: u64) -> (ModelDecision, Option<ModelPermit>) {
        self.tick(now);
        let trial = match self.state {
            State::Closed | State::ForcedClosed => None,
            State::HalfOpen if (self.trials.len() as u32) < self.c.half_open_max_calls => {
                self.trials.push((self.next_trial, self.now));
                self.next_trial += 1;
                Some(self.next_trial - 1)
            }
            s => {
                self.rejections += 1;
                let retry_after = (s == State::Open).then(|| self.reopen_at - self.now);
                return (
                    ModelDecision::Rejected {
                        state: s,
                        retry_after,
                    },
                    None,
                );
            }
        };
        self.admitted += 1;
        let permit = ModelPermit {
            generation: self.generation,
            acquired_at: self.now,
            trial,
        };
        (
            ModelDecision::Admitted {
                trial: trial.is_some(),
            },
            Some(permit),
        )
    }

    /// Keeps the breaker open for at least the (capped) hint.
    fn hold_open(&mut self, hint: Option<u64>) {
        if let Some(hint) = hint {
            let hint = hint.min(nanos(self.c.max_retry_after));
            self.reopen_at = self.reopen_at.max(self.now + hint);
        }
    }

    /// Returns (stale, slow). `hint`: a failure's Retry-After.
    fn report(
        &mut self,
        p: ModelPermit,
        now: u64,
        outcome: Option<bool>,
        hint: Option<u64>,
    ) -> (bool, bool) {
        self.tick(now);
        match outcome {
            Some(true) => self.failures += 1,
            Some(false) => self.successes += 1,
            None => self.released += 1,
        }
        let slow = outcome.is_some()
            && self
                .c
                .slow_call_duration
                .is_some_and(|d| self.now.saturating_sub(p.acquired_at) > nanos(d));
        let holds_slot = match p.trial {
            None => true,
            Some(id) => self.trials.iter().any(|t| t.0 == id),
        };
        if p.generation != self.generation || !holds_slot {
            self.stale += 1;
            return (true, slow);
        }
        self.trials.retain(|t| Some(t.0) != p.trial);
        let Some(failed) = outcome else {
            return (false, false);
        };
        let failed = failed || slow;
        match self.state {
            State::Closed | State::ForcedClosed => {
                self.consecutive = if failed { self.consecutive + 1 } else { 0 };
                self.outcomes.push((self.now, failed));
                if self.state == State::Closed && hint.is_some() {
                    self.go(State::Open, false);
                    self.hold_open(hint);
                } else if self.state == State::Closed {
                    let (calls, fails) = self.window();
                    let rate_trips = self.c.failure_rate.as_ref().is_some_and(|r| {
                        calls >= r.minimum_calls && fails as f64 >= r.threshold * calls as f64
                    });
                    if self.consecutive > self.c.failure_tolerance || rate_trips {
                        self.go(State::Open, false);
                    }
                }
            }
            State::HalfOpen if failed => {
                self.go(State::Open, true);
                self.hold_open(hint);
            }
            State::HalfOpen => {
                self.trial_successes += 1;
                if self.trial_successes >= self.c.success_threshold {
                    self.go(State::Closed, false);
                }
            }
            _ => unreachable!(
                "no permit of the current generation exists in {:?}",
                self.state
            ),
        }
        (false, slow)
    }
}

fn run(config: Config, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut machine = Machine::new(config.clone(), 0).unwrap();
    let mut model = Model::new(config.clone());
    let mut permits: Vec<(Permit, ModelPermit)> = vec![];
    let mut clock: u64 = 1_000;
    for step in steps {
        clock = clock.saturating_add_signed(step.dt);
        let now = clock;
        match step.input {
            Input::Acquire => {
                let (expected, model_permit) = model.acquire(now);
                match machine.try_acquire(now) {
                    Decision::Admitted(p) => {
                        prop_assert_eq!(
                            expected,
                            ModelDecision::Admitted {
                                trial: p.is_trial()
                            }
                        );
                        permits.push((p, model_permit.unwrap()));
                    }
                    Decision::Rejected(r) => prop_assert_eq!(
                        expected,
                        ModelDecision::Rejected {
                            state: r.state,
                            retry_after: r.retry_after.map(nanos)
                        }
                    ),
                }
            }
            Input::Success(i)
            | Input::Failure(i)
            | Input::FailureWithHint(i, _)
            | Input::Release(i)
                if !permits.is_empty() =>
            {
                let (p, mp) = permits.swap_remove(i % permits.len());
                let (report, expected) = match step.input {
                    Input::Success(_) => (
                        machine.on_success(p, now),
                        model.report(mp, now, Some(false), None),
                    ),
                    Input::Failure(_) => (
                        machine.on_failure(p, now),
                        model.report(mp, now, Some(true), None),
                    ),
                    Input::FailureWithHint(_, hint) => (
                        machine.on_failure_with_retry_after(p, now, Duration::from_nanos(hint)),
                        model.report(mp, now, Some(true), Some(hint)),
                    ),
                    _ => (machine.release(p, now), model.report(mp, now, None, None)),
                };
                prop_assert_eq!((report.stale, report.slow), expected);
            }
            Input::Success(_)
            | Input::Failure(_)
            | Input::FailureWithHint(..)
            | Input::Release(_)
            | Input::Query => {}
            Input::ForceOpen => {
                machine.force_open(now);
                model.tick(now);
                if model.state != State::ForcedOpen {
                    model.go(State::ForcedOpen, false);
                }
            }
            Input::ForceClosed => {
                machine.force_closed(now);
                model.tick(now);
                if model.state != State::ForcedClosed {
                    model.go(State::ForcedClosed, false);
                }
            }
            Input::Reset => {
                machine.reset(now);
                model.tick(now);
                model.go(State::Closed, false);
            }
        }
        model.tick(now);
        let stats = machine.stats(now);
        prop_assert_eq!(stats.state, model.state);
        prop_assert_eq!(stats.generation, model.generation);
        prop_assert!(stats.trials_in_flight <= config.half_open_max_calls);
        prop_assert_eq!(stats.trials_in_flight as usize, model.trials.len());
        prop_assert_eq!(stats.in_flight(), permits.len() as u64);
        prop_assert_eq!(
            (
                stats.admitted,
                stats.successes,
                stats.failures,
                stats.released,
                stats.rejections,
                stats.stale_outcomes
            ),
            (
                model.admitted,
                model.successes,
                model.failures,
                model.released,
                model.rejections,
                model.stale
            )
        );
        prop_assert_eq!(stats.consecutive_failures, model.consecutive);
        prop_assert_eq!((stats.window_calls, stats.window_failures), model.window());
        prop_assert_eq!(
            stats.retry_after.map(nanos),
            (model.state == State::Open).then(|| model.reopen_at - model.now)
        );
        while let Some(t) = machine.poll_transition() {
            prop_assert_eq!(t.reason.rule().1, t.to);
            prop_assert!(t.reason.rule().0.contains(&t.from));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn machine_agrees_with_the_reference_model(config in config(), steps in prop::collection::vec(step(), 1..160)) {
        run(config, steps)?;
    }

    #[test]
    fn snapshot_then_restore_behaves_like_the_original(config in config(), steps in prop::collection::vec(step(), 1..80), later in prop::collection::vec(0u64..50, 1..40)) {
        // Drive one machine (reporting every call at once, so no permit is
        // outstanding), snapshot it, restore a copy, and check that the two
        // make the same decisions and keep the same stats from then on; the
        // copy is one generation ahead.
        let mut machine = Machine::new(config.clone(), 0).unwrap();
        let mut clock = 1_000u64;
        for step in &steps {
            clock = clock.saturating_add_signed(step.dt);
            if let Decision::Admitted(p) = machine.try_acquire(clock) {
                match step.input { Input::Failure(_) => { machine.on_failure(p, clock); }, _ => { machine.on_success(p, clock); } }
            }
        }
        // Both machines must read the same clock from here on: the original
        // treats a clock that went backwards as standing at its latest time.
        clock = steps.iter().scan(1_000u64, |c, s| { *c = c.saturating_add_signed(s.dt); Some(*c) }).max().unwrap_or(1_000).max(clock);
        let snapshot = machine.snapshot(clock);
        let mut copy = Machine::restore(config.clone(), &snapshot, clock).unwrap();
        prop_assert_eq!(copy.snapshot(clock).generation, snapshot.generation + 1);
        let mut original = machine;
        for (i, dt) in later.into_iter().enumerate() {
            clock += dt;
            let (a, b) = (original.try_acquire(clock), copy.try_acquire(clock));
            match (a, b) {
                (Decision::Admitted(pa), Decision::Admitted(pb)) => {
                    if i % 3 == 0 { original.on_failure(pa, clock); copy.on_failure(pb, clock); }
                    else { original.on_success(pa, clock); copy.on_success(pb, clock); }
                }
                (a, b) => prop_assert_eq!(a, b),
            }
            let (mut a, b) = (original.stats(clock), copy.stats(clock));
            a.generation += 1;
            prop_assert_eq!(a, b);
        }
    }
}
