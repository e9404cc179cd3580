//! `core/src/fast_path.rs`, compiled against loom's atomics so that
//! `tests/fast_path.rs` can explore the interleavings of fast calls with the
//! locked path. The file is the core's own, included as it is.

/// The atomics the fast path uses: loom's here.
mod sync {
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
}

pub(crate) use tripgate_core::{Machine, Permit};

#[path = "../../src/fast_path.rs"]
mod fast_path;

pub use fast_path::FastPath;
