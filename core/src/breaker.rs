//! A thread-safe breaker for Rust callers: a [`Machine`] behind a mutex, a
//! [`Clock`] to read, and wrappers for calls. The lock is held only while the
//! machine decides, never while the protected call runs. It decides nothing
//! itself: every decision is the machine's.
//!
//! What it promises however its clock and listener behave (docs/semantics.md,
//! "What the bindings promise"): a clock that panics while a call is admitted
//! propagates to the caller with nothing admitted; one that panics while a
//! call is reported is replaced by the latest time the machine has seen, and
//! a listener that panics is skipped. Either panic then goes to the
//! [`CircuitBreaker::on_error`] listener; no permit is ever lost.

use core::any::Any;
use core::fmt;
use core::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::machine::{Decision, Machine, Permit, Rejection, Stats};
use crate::shared::{Locked, SharedMachine};
use crate::snapshot::{RestoreError, Snapshot};
use crate::state::{State, Transition};

/// A monotonic source of time in nanoseconds from an origin of its choosing.
pub trait Clock: Send + Sync {
    /// The current time in nanoseconds.
    fn now(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

/// [`std::time::Instant`], counted from the clock's creation.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock {
            origin: std::time::Instant::now(),
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Clock for MonotonicClock {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: std::sync::atomic::AtomicU64,
}

impl ManualClock {
    /// A clock showing `nanos`.
    pub fn new(nanos: u64) -> Self {
        ManualClock {
            nanos: nanos.into(),
        }
    }

    /// Moves the clock forward by `by`, stopping at `u64::MAX` nanoseconds.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.nanos.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |nanos| Some(nanos.saturating_add(by)),
        );
    }

    /// Sets the clock to `nanos` (which may be earlier: the machine treats
    /// time that runs backwards as time that stands still).
    pub fn set(&self, nanos: u64) {
        self.nanos.store(nanos, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.nanos.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How a finished call counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A success.
    Success,
    /// A failure.
    Failure,
    /// Neither: the permit is released (the name every language uses).
    Released,
}

/// The error of a call made through a [`CircuitBreaker`].
#[derive(Debug, PartialEq, Eq)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it was not made.
    Rejected(Rejection),
    /// The call was made and returned this error.
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => {
                // The wording every language uses (the binding kit's MESSAGES).
                let key = crate::binding::rejection_message(r.state, r.retry_after.is_some());
                f.write_str(&crate::binding::message(key, |name| match name {
                    "breaker" => Some("circuit breaker".into()),
                    "state" => Some(r.state.name().into()),
                    "retry_after" => r.retry_after.map(|d| format!("{d:?}")),
                    _ => None,
                }))
            }
            CallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Rejected(_) => None,
            CallError::Failed(e) => Some(e),
        }
    }
}

type Listener = Box<dyn Fn(&Transition) + Send + Sync>;
type ErrorListener = Box<dyn Fn(&CaughtPanic) + Send + Sync>;

/// Where a panic the breaker caught came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicSource {
    /// The [`Clock`], while a call was being reported: the outcome was
    /// recorded at the latest time the machine had seen.
    Clock,
    /// The transition listener: the transition still happened, and the
    /// listener was still given the transitions after it.
    TransitionListener,
}

/// A panic the breaker caught instead of letting it lose a permit or take a
/// call's result from its caller; handed to [`CircuitBreaker::on_error`].
pub struct CaughtPanic {
    /// Where it came from.
    pub source: PanicSource,
    /// The panic's payload, as [`std::panic::catch_unwind`] returns it.
    pub payload: Box<dyn Any + Send>,
}

impl CaughtPanic {
    /// The panic's message, when it was a `&str` or a `String`.
    pub fn message(&self) -> Option<&str> {
        self.payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| self.payload.downcast_ref::<String>().map(String::as_str))
    }
}

impl fmt::Debug for CaughtPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaughtPanic")
            .field("source", &self.source)
            .field("message", &self.message())
            .finish()
    }
}

/// How a breaker operation reads the clock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClockRead {
    /// Only where the machine needs the time; a panic propagates.
    IfNeeded,
    /// Always; a panic propagates.
    Always,
    /// For a report, only where needed (or always when `always`): a panic is
    /// caught and the latest time the machine has seen is used, so that the
    /// permit is still reported.
    Report { always: bool },
}

std::thread_local! {
    /// The breakers (by address) whose listener this thread is calling, each
    /// with the transitions still to deliver, in order.
    static DELIVERING: core::cell::RefCell<Vec<(usize, std::collections::VecDeque<Transition>)>> =
        const { core::cell::RefCell::new(Vec::new()) };
}

/// A thread-safe circuit breaker.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tripgate_core::{CallError, CircuitBreaker, Config, ManualClock, State};
///
/// let clock = Arc::new(ManualClock::new(0));
/// let config = Config { failure_tolerance: 0, reset_timeout: Duration::from_secs(5), ..Config::default() };
/// let breaker = CircuitBreaker::with_clock(config, clock.clone()).unwrap();
///
/// let failed: Result<(), _> = breaker.call(|| Err::<(), _>("connection refused"));
/// assert_eq!(failed, Err(CallError::Failed("connection refused")));
/// assert_eq!(breaker.state(), State::Open);
///
/// // While open, the closure is not run at all.
/// let rejected = breaker.call(|| -> Result<u32, &str> { unreachable!() });
/// assert!(matches!(rejected, Err(CallError::Rejected(r)) if r.retry_after == Some(Duration::from_secs(5))));
///
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(breaker.call(|| Ok::<_, &str>(42)), Ok(42));
/// assert_eq!(breaker.state(), State::Closed);
/// ```
///
/// Async calls need no particular runtime; a dropped (cancelled) call
/// releases its permit without counting:
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Poll, Waker};
/// use tripgate_core::{CircuitBreaker, Config};
///
/// fn block_on<F: Future>(future: F) -> F::Output {
///     let mut future = std::pin::pin!(future);
///     let mut cx = Context::from_waker(Waker::noop());
///     loop {
///         if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
///             return out;
///         }
///     }
/// }
///
/// let breaker = CircuitBreaker::new(Config::default()).unwrap();
/// let answer = block_on(breaker.call_async(async { Ok::<_, std::io::Error>(7) }));
/// assert_eq!(answer.unwrap(), 7);
/// assert_eq!(breaker.stats().successes, 1);
///
/// drop(breaker.call_async(async { Ok::<_, std::io::Error>(8) })); // never polled: never admitted
/// assert_eq!(breaker.stats().admitted, 1);
/// ```
pub struct CircuitBreaker<C: Clock = DefaultClock> {
    machine: SharedMachine,
    clock: C,
    listener: Option<Listener>,
    error_listener: Option<ErrorListener>,
}

/// The clock [`CircuitBreaker::new`] uses.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub type DefaultClock = MonotonicClock;
/// The clock [`CircuitBreaker::new`] uses (wasm32 has no std clock: use
/// [`CircuitBreaker::with_clock`]).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub type DefaultClock = ManualClock;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl CircuitBreaker<MonotonicClock> {
    /// A breaker reading [`MonotonicClock`]. Without `config.seed`, the jitter
    /// PRNG gets a random seed.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        CircuitBreaker::with_clock(config, MonotonicClock::default())
    }
}

impl<C: Clock> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("machine", &*self.lock())
            .finish_non_exhaustive()
    }
}

/// A seed for the jitter PRNG from the process's hash randomness, for
/// callers that were not given one (so that processes do not jitter alike).
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl<C: Clock> CircuitBreaker<C> {
    /// A breaker reading `clock`. Without `config.seed`, the jitter PRNG gets
    /// a random seed.
    pub fn with_clock(mut config: Config, clock: C) -> Result<Self, ConfigError> {
        config.seed = Some(config.seed.unwrap_or_else(random_seed));
        let machine = Machine::new(config, clock.now())?;
        Ok(CircuitBreaker::around(machine, clock))
    }

    fn around(machine: Machine, clock: C) -> Self {
        CircuitBreaker {
            machine: SharedMachine::new(machine),
            clock,
            listener: None,
            error_listener: None,
        }
    }

    /// A breaker in the state `snapshot` describes.
    pub fn restore(config: Config, snapshot: &Snapshot, clock: C) -> Result<Self, RestoreError> {
        let machine = Machine::restore(config, snapshot, clock.now())?;
        Ok(CircuitBreaker::around(machine, clock))
    }

    /// Calls `listener` with every transition, after the breaker's lock is
    /// released (so it may use the breaker). A panic in it is caught and
    /// handed to the [`Self::on_error`] listener.
    pub fn on_transition(mut self, listener: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// Calls `listener` with every panic the breaker catches (a clock that
    /// panicked while a call was reported, a transition listener that
    /// panicked). A panic in this listener is caught and dropped.
    pub fn on_error(mut self, listener: impl Fn(&CaughtPanic) + Send + Sync + 'static) -> Self {
        self.error_listener = Some(Box::new(listener));
        self
    }

    /// The machine, locked, with the calls the fast path admitted and
    /// counted since the last lock folded in; the fast path is armed again
    /// when the lock is released, if the machine allows it.
    fn lock(&self) -> Locked<'_> {
        // The machine does not panic, and the clock, the only user code run
        // under the lock, is read with its panic caught (see `with_machine_then`): the
        // lock is never poisoned by this breaker.
        self.machine.lock()
    }

    /// Runs `f` under the machine's lock with the current time, then hands
    /// the transitions it caused to the listener with the lock released.
    fn with_machine<R>(&self, f: impl FnOnce(&mut Machine, u64) -> R) -> R {
        self.with_machine_at(ClockRead::Always, f)
    }

    /// As [`Self::with_machine`], reading the clock as `read` says.
    fn with_machine_at<R>(&self, read: ClockRead, f: impl FnOnce(&mut Machine, u64) -> R) -> R {
        self.with_machine_then(read, f, |result| result)
    }

    /// Runs `f` under the machine's lock, then, with the lock released,
    /// `then` on its result, and only then hands the transitions `f` caused
    /// to the listener (and a caught clock panic to the error listener): so
    /// whatever `then` makes of the result (a permit's guard) is safe from
    /// a panicking listener.
    #[inline(always)]
    fn with_machine_then<R, T>(
        &self,
        read: ClockRead,
        f: impl FnOnce(&mut Machine, u64) -> R,
        then: impl FnOnce(R) -> T,
    ) -> T {
        let mut machine = self.lock();
        let needed = match read {
            ClockRead::Always => true,
            ClockRead::IfNeeded => machine.needs_clock(),
            ClockRead::Report { always } => always || machine.needs_clock(),
        };
        let mut clock_panic = None;
        let now = if !needed {
            machine.latest_time()
        } else {
            match self.read_clock_catching() {
                Ok(now) => now,
                // Outside a report the caller gets the clock's panic, with
                // the lock released and nothing done.
                Err(payload) if !matches!(read, ClockRead::Report { .. }) => {
                    drop(machine);
                    std::panic::resume_unwind(payload)
                }
                Err(payload) => {
                    clock_panic = Some(payload);
                    machine.latest_time()
                }
            }
        };
        let result = f(&mut machine, now);
        if clock_panic.is_none() && !machine.has_transitions() {
            // The common case: nothing to deliver.
            drop(machine);
            return then(result);
        }
        let transitions = take_transitions(&mut machine);
        drop(machine);
        let out = then(result);
        self.deliver(clock_panic, transitions);
        out
    }

    /// The clock's reading, or its panic's payload.
    #[inline(never)]
    fn read_clock_catching(&self) -> Result<u64, Box<dyn Any + Send>> {
        catch_unwind(AssertUnwindSafe(|| self.clock.now()))
    }

    /// Hands a caught clock panic to the error listener and transitions to
    /// the listener, with the lock released; a panic in either is caught.
    #[cold]
    #[inline(never)]
    fn deliver(&self, clock_panic: Option<Box<dyn Any + Send>>, transitions: Vec<Transition>) {
        if let Some(payload) = clock_panic {
            self.report_panic(PanicSource::Clock, payload);
        }
        let Some(listener) = &self.listener else {
            return;
        };
        if transitions.is_empty() {
            return;
        }
        // Transitions caused while the listener runs on this thread (it
        // called the breaker) wait for the ones before them: the listener
        // sees every transition in the order it happened.
        let key = self as *const Self as usize;
        let nested = DELIVERING.with_borrow_mut(|delivering| {
            match delivering.iter_mut().find(|(k, _)| *k == key) {
                Some((_, queue)) => {
                    queue.extend(transitions.iter().copied());
                    true
                }
                None => {
                    delivering.push((key, transitions.iter().copied().collect()));
                    false
                }
            }
        });
        if nested {
            return;
        }
        while let Some(transition) = DELIVERING.with_borrow_mut(|delivering| {
            let at = delivering.iter().position(|(k, _)| *k == key)?;
            let next = delivering[at].1.pop_front();
            if next.is_none() {
                delivering.swap_remove(at);
            }
            next
        }) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| listener(&transition))) {
                self.report_panic(PanicSource::TransitionListener, payload);
            }
        }
    }

    fn report_panic(&self, source: PanicSource, payload: Box<dyn Any + Send>) {
        if let Some(error_listener) = &self.error_listener {
            let caught = CaughtPanic { source, payload };
            let _ = catch_unwind(AssertUnwindSafe(|| error_listener(&caught)));
        }
    }

    /// Asks to make a call; the returned guard releases the permit if dropped
    /// unreported. A clock that panics here propagates, with nothing admitted.
    #[inline]
    pub fn try_acquire(&self) -> Result<PermitGuard<'_, C>, Rejection> {
        if let Some(permit) = self.machine.try_acquire_fast() {
            return Ok(PermitGuard {
                breaker: self,
                permit: Some(permit),
            });
        }
        self.try_acquire_locked()
    }

    /// `try_acquire` through the machine, under the lock: kept out of line
    /// so that the lock-free path above inlines into every caller.
    #[inline(never)]
    fn try_acquire_locked(&self) -> Result<PermitGuard<'_, C>, Rejection> {
        self.with_machine_then(
            ClockRead::IfNeeded,
            |m, now| m.try_acquire(now),
            // The guard exists before any listener runs, so the permit is
            // released even if the caller never sees it.
            |decision| match decision {
                Decision::Admitted(permit) => Ok(PermitGuard {
                    breaker: self,
                    permit: Some(permit),
                }),
                Decision::Rejected(rejection) => Err(rejection),
            },
        )
    }

    /// Runs `f` if admitted; an `Err` counts as a failure. A panic in `f`
    /// releases the permit and propagates.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_with(f, |result| match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        })
    }

    /// Runs `f` if admitted; `classify` decides how its result counts.
    pub fn call_with<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>> {
        let guard = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f();
        guard.report(classify(&result));
        result.map_err(CallError::Failed)
    }

    /// Awaits `future` if admitted; an `Err` counts as a failure. Dropping the
    /// returned future before it completes releases the permit.
    pub async fn call_async<T, E, F>(&self, future: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let guard = self.try_acquire().map_err(CallError::Rejected)?;
        let result = future.await;
        guard.report(if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        });
        result.map_err(CallError::Failed)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.with_machine(|m, now| m.state(now))
    }

    /// How long until a trial will be admitted; `None` unless open.
    pub fn retry_after(&self) -> Option<Duration> {
        self.with_machine(|m, now| m.retry_after(now))
    }

    /// Counters and the current view.
    pub fn stats(&self) -> Stats {
        self.with_machine(|m, now| m.stats(now))
    }

    /// See [`Machine::force_open`].
    pub fn force_open(&self) {
        self.with_machine(|m, now| m.force_open(now))
    }

    /// See [`Machine::force_closed`].
    pub fn force_closed(&self) {
        self.with_machine(|m, now| m.force_closed(now))
    }

    /// See [`Machine::reset`].
    pub fn reset(&self) {
        self.with_machine(|m, now| m.reset(now))
    }

    /// See [`Machine::snapshot`].
    pub fn snapshot(&self) -> Snapshot {
        self.with_machine(|m, now| m.snapshot(now))
    }
}

#[cold]
fn take_transitions(machine: &mut Machine) -> Vec<Transition> {
    std::iter::from_fn(|| machine.poll_transition()).collect()
}

/// An admitted call's permit. Report it with [`PermitGuard::success`],
/// [`PermitGuard::failure`] or [`PermitGuard::release`]; dropped unreported,
/// it is released.
#[must_use = "dropping the guard releases the permit without an outcome"]
pub struct PermitGuard<'a, C: Clock> {
    breaker: &'a CircuitBreaker<C>,
    permit: Option<Permit>,
}

impl<C: Clock> PermitGuard<'_, C> {
    /// Whether this is a half-open trial.
    pub fn is_trial(&self) -> bool {
        self.permit.as_ref().is_some_and(Permit::is_trial)
    }

    /// The call succeeded.
    pub fn success(self) {
        self.report(Outcome::Success)
    }

    /// The call failed.
    pub fn failure(self) {
        self.report(Outcome::Failure)
    }

    /// The call failed, and the server said when to come back (an HTTP
    /// `Retry-After`): see [`Machine::on_failure_with_retry_after`].
    pub fn failure_with_retry_after(mut self, retry_after: Duration) {
        if let Some(permit) = self.permit.take() {
            self.breaker
                .with_machine_at(ClockRead::Report { always: true }, |m, now| {
                    m.on_failure_with_retry_after(permit, now, retry_after)
                });
        }
    }

    /// The call is not counted.
    pub fn release(self) {
        self.report(Outcome::Released)
    }

    #[inline(always)]
    fn report(mut self, outcome: Outcome) {
        if let Some(permit) = self.permit.take() {
            if outcome == Outcome::Success && self.breaker.machine.succeed_fast(&permit) {
                return;
            }
            self.breaker.report_locked(permit, outcome);
        }
    }
}

impl<C: Clock> CircuitBreaker<C> {
    /// A permit's outcome through the machine, under the lock: kept out of
    /// line so that the lock-free success inlines into every caller.
    #[inline(never)]
    fn report_locked(&self, permit: Permit, outcome: Outcome) {
        let read = ClockRead::Report {
            always: outcome == Outcome::Failure,
        };
        self.with_machine_at(read, |m, now| match outcome {
            Outcome::Success => m.on_success(permit, now),
            Outcome::Failure => m.on_failure(permit, now),
            Outcome::Released => m.release(permit, now),
        });
    }
}

impl<C: Clock> Drop for PermitGuard<'_, C> {
    #[inline]
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.report_locked(permit, Outcome::Released);
        }
    }
}
