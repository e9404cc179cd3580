//! The lock-free path of the thread-safe `CircuitBreaker` in the closed
//! state (issue 13). Its own file so that `core/loom/` can model it with
//! loom's atomics: it takes its atomics from `super::sync` and the machine
//! from the crate root, which the loom crate provides too.

use super::sync::{AtomicU64, Ordering};
use crate::{Machine, Permit};

/// The lock-free path of the closed state. While the machine is closed (or
/// forced closed) with no failure-rate window and no slow-call limit, an
/// acquire can only be admitted and a success can only count and clear the
/// consecutive failures: neither can change the state, and neither needs
/// the time. Such calls are counted in one atomic word and folded into the
/// machine, as the same `try_acquire` and `on_success` inputs, by the next
/// operation that takes the lock; everything else (failures, releases,
/// trials, stats, transitions) takes the lock. The machine stays the only
/// place that decides: it says when the path is open (`success_is_quiet`
/// and not `needs_clock`) and it receives every input.
///
/// The word: bit 63 set while the path is open; bits 32..63 the low 31
/// bits of the machine's generation then (so that a word from another
/// generation never matches); bits 16..32 acquires and bits 0..16 successes
/// not yet folded. Every lock swaps the word to 0 first (closing the path
/// and taking the counts), so an input on the path either lands in the
/// word before the lock folds it, or fails its compare-and-swap and takes
/// the lock itself.
pub struct FastPath {
    word: AtomicU64,
    /// The machine's generation while the path is open (written under the
    /// lock before the word opens the path).
    generation: AtomicU64,
}

const OPEN_PATH: u64 = 1 << 63;
const TAG_SHIFT: u32 = 32;
const TAG_MASK: u64 = (1 << 31) - 1;
const ACQUIRE_ONE: u64 = 1 << 16;
const COUNT_MASK: u64 = 0xFFFF;

impl Default for FastPath {
    fn default() -> Self {
        Self::new()
    }
}

impl FastPath {
    /// A closed path (the breaker arms it once its machine is built).
    pub fn new() -> Self {
        FastPath {
            word: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    fn tag(generation: u64) -> u64 {
        (generation & TAG_MASK) << TAG_SHIFT
    }

    /// The path's word for `generation`, if `word` is open for it and has
    /// room in the count at `shift`.
    fn open_for(word: u64, generation: u64, shift: u32) -> bool {
        word & OPEN_PATH != 0
            && word & (TAG_MASK << TAG_SHIFT) == Self::tag(generation)
            && (word >> shift) & COUNT_MASK != COUNT_MASK
    }

    /// A permit admitted without the lock, or `None`: take the lock.
    #[inline]
    pub fn acquire(&self) -> Option<Permit> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let generation = self.generation.load(Ordering::Acquire);
            if !Self::open_for(word, generation, 16) {
                return None;
            }
            match self.word.compare_exchange_weak(
                word,
                word + ACQUIRE_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // No slow-call limit: the issue time is never used.
                Ok(_) => return Some(Permit::from_raw(generation, 0, 0)),
                Err(current) => word = current,
            }
        }
    }

    /// Counts `permit`'s success without the lock; false: take the lock.
    #[inline]
    pub fn success(&self, permit: &Permit) -> bool {
        if permit.is_trial() {
            return false;
        }
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let generation = self.generation.load(Ordering::Acquire);
            if generation != permit.generation() || !Self::open_for(word, generation, 0) {
                return false;
            }
            match self.word.compare_exchange_weak(
                word,
                word + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(current) => word = current,
            }
        }
    }

    /// Under the lock: closes the path and hands the machine the inputs it
    /// took, in an order they could have come in (every acquire before the
    /// successes, which are of permits it issued).
    pub fn fold(&self, machine: &mut Machine) {
        // A closed path cannot change until the lock opens it: no swap needed
        // (the common case of a breaker that is open, or has a window).
        if self.word.load(Ordering::Acquire) == 0 {
            return;
        }
        let word = self.word.swap(0, Ordering::AcqRel);
        if word & !OPEN_PATH & !(TAG_MASK << TAG_SHIFT) == 0 {
            return;
        }
        let (acquires, successes) = ((word >> 16) & COUNT_MASK, word & COUNT_MASK);
        // In one input: the word is armed only while the machine takes them
        // so (see `arm`); one by one otherwise, so that they arrive whatever
        // the state.
        machine.held_calls(machine.generation(), acquires, successes);
    }

    /// Under the lock, before it is released: opens the path if the
    /// machine allows it.
    pub fn arm(&self, machine: &Machine) {
        if machine.success_is_quiet() && !machine.needs_clock() {
            let generation = machine.generation();
            self.generation.store(generation, Ordering::Release);
            self.word
                .store(OPEN_PATH | Self::tag(generation), Ordering::Release);
        }
    }
}
