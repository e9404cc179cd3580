//! A machine shared between threads: a mutex around it and the lock-free
//! path of its closed state ([`FastPath`](crate::fast_path::FastPath)),
//! held together so that every use of the machine follows the path's
//! protocol (fold its calls in when the lock is taken, re-arm it before the
//! lock is released). The thread-safe `CircuitBreaker` and the Python
//! binding are built on it.

use core::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

use crate::fast_path::FastPath;
use crate::{Machine, Permit};

/// A [`Machine`] behind a mutex, with a lock-free path for the closed
/// state's admissions and successes. Every decision stays the machine's:
/// the path opens only while the machine says an acquire cannot be refused
/// and a success can only count, and the calls it takes reach the machine,
/// as the same inputs, the next time the lock is taken.
///
/// ```
/// use tripgate_core::{Config, Decision, Machine, SharedMachine};
///
/// let shared = SharedMachine::new(Machine::new(Config::default(), 0).unwrap());
/// // Closed, nothing time-based: the path is open.
/// let permit = shared.try_acquire_fast().expect("admitted without the lock");
/// assert!(shared.succeed_fast(&permit));
/// // Anything else goes through the lock, which hands the machine those calls first.
/// let mut machine = shared.lock();
/// assert_eq!(machine.stats(0).admitted, 1);
/// assert_eq!(machine.stats(0).successes, 1);
/// let Decision::Admitted(p) = machine.try_acquire(0) else { unreachable!() };
/// machine.on_failure(p, 0);
/// assert_eq!(machine.stats(0).failures, 1);
/// ```
pub struct SharedMachine {
    machine: Mutex<Machine>,
    fast: FastPath,
}

impl SharedMachine {
    /// Shares `machine`.
    pub fn new(machine: Machine) -> Self {
        let fast = FastPath::new();
        fast.arm(&machine);
        SharedMachine {
            machine: Mutex::new(machine),
            fast,
        }
    }

    /// The machine, locked, with the calls the lock-free path took handed to
    /// it first. A poisoned lock still guards a consistent machine (the
    /// machine does not panic), so it is taken all the same.
    pub fn lock(&self) -> Locked<'_> {
        let mut machine = self
            .machine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.fast.fold(&mut machine);
        Locked {
            machine,
            fast: &self.fast,
        }
    }

    /// A permit without the lock, when the machine allows it (closed or
    /// forced closed, nothing time-based, no failure-rate window): a plain
    /// permit of the current generation, never a trial. `None`: ask the
    /// machine under the lock.
    #[inline]
    pub fn try_acquire_fast(&self) -> Option<Permit> {
        self.fast.acquire()
    }

    /// Reports `permit`'s success without the lock, when it can only count
    /// (see [`SharedMachine::try_acquire_fast`]) and its generation is still
    /// the current one. `false`: report it under the lock.
    #[inline]
    pub fn succeed_fast(&self, permit: &Permit) -> bool {
        self.fast.success(permit)
    }
}

/// The locked machine of a [`SharedMachine`]; dropping it re-arms the
/// lock-free path for the machine's new state, still under the lock.
pub struct Locked<'a> {
    machine: MutexGuard<'a, Machine>,
    fast: &'a FastPath,
}

impl Deref for Locked<'_> {
    type Target = Machine;

    fn deref(&self) -> &Machine {
        &self.machine
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Machine {
        &mut self.machine
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Still under the lock: the field's guard is dropped after this.
        self.fast.arm(&self.machine);
    }
}
