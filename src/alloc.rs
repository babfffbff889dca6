//! What edgecomm asks of the C allocator (glibc's; musl has nothing to tune): few arenas, and
//! freed memory handed back to the system after a burst.
//!
//! A PBX box lives with a boot storm once in a while and a trickle of refreshes otherwise.
//! glibc keeps what a storm freed (the retransmission cache and the nonce tracker turn over,
//! the UDP readers' buffers come and go), so without this the resident size after a storm
//! stays at its peak for as long as the process runs.

/// glibc gives threads that allocate at once arenas of their own, up to eight per core; with
/// the UDP readers, the HTTP workers and sled's threads that kept about 9 MB more resident
/// after a REGISTER storm (measured with the benchmark of issue #6), for no speed we could
/// measure. Two arenas keep contention low. `MALLOC_ARENA_MAX` in the environment still wins.
/// Call it first thing in `main`, before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas() {
    const M_ARENA_MAX: std::ffi::c_int = -8;
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no thread has started yet.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

/// Returns the free pages inside the heap to the system (glibc's `malloc_trim`, which
/// releases whole free pages anywhere in every arena, not only at the top). The sweeper calls
/// it every 30 seconds: after a storm it gave back ~5 MB of 45 (measured), and on a quiet
/// heap it finds nothing to do and costs about 50 µs (0.6 ms on the heap a storm left).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes the arenas' own locks; it is safe from any thread.
    unsafe {
        malloc_trim(0);
    }
}

/// musl has one arena to begin with.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// musl's allocator returns freed memory by itself.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}
