//! Runnable examples of tripgate's Rust API live in `src/bin/`.
