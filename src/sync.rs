//! Taking a mutex whose holder panicked.
//!
//! Every mutex of edgecomm guards state that a panic can leave stale but never unsafe: caches
//! that start over, counters, soft state the tree still holds, or nothing (the store's write
//! lock, whose transactions are atomic). So a poisoned lock is taken over, in one place,
//! rather than turning one handler's bug into a wedged server.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking it over if a previous holder panicked.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
