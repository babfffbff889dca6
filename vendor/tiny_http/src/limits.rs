//! Connection limits: an edgecomm addition to tiny_http 0.12 (see VENDORED.md).
//!
//! Upstream spawns a thread for every accepted connection and reads request heads with no
//! bound on time or size, so a slowloris (many connections sending a byte a second) or one
//! endless header line holds threads and memory without limit. This module bounds them:
//! a cap on open connections in all and per client address, an idle timeout on every read and
//! write, a deadline by which a request's head (and its small body) must have arrived, and a
//! cap on the size of a head.

use std::collections::HashMap;
use std::io::{Error as IoError, ErrorKind, Result as IoResult};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits applied by [`crate::Server::from_listener_with_limits`]. The default keeps
/// upstream's behaviour: nothing bounded, bodies up to 1 KiB read before the request is handed
/// over.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one IP address; more are answered 503 and closed.
    pub max_per_address: usize,
    /// Longest wait for any read or write on an open connection (keep-alive idle time too).
    pub idle_timeout: Option<Duration>,
    /// From the first byte of a request, the time by which its head and its body (when read
    /// before hand-over, see `eager_body_bytes`) must have arrived; else 408 and close.
    pub request_timeout: Option<Duration>,
    /// Largest request head (request line and headers); larger ones get 431 and close.
    pub max_head_bytes: usize,
    /// Bodies up to this size (Content-Length or chunked) are read by the connection's own
    /// thread before the request reaches `recv()`, so a slow body never holds a worker.
    /// `Expect: 100-continue` is answered first for such bodies.
    pub eager_body_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: usize::MAX,
            max_per_address: usize::MAX,
            idle_timeout: None,
            request_timeout: None,
            max_head_bytes: usize::MAX,
            eager_body_bytes: 1024,
        }
    }
}

/// Counts open connections, in all and per address.
pub(crate) struct ConnTracker {
    limits: ConnectionLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection; dropping it frees the slot.
pub(crate) struct Slot {
    tracker: Arc<ConnTracker>,
    ip: Option<IpAddr>,
}

impl ConnTracker {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<ConnTracker> {
        Arc::new(ConnTracker {
            limits,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// How many connections hold a slot now.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// A slot for a new connection from `ip`, or `None` when a cap is reached.
    pub(crate) fn acquire(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.limits.max_connections {
            return None;
        }
        if let Some(ip) = ip {
            let count = open.1.entry(ip).or_insert(0);
            if *count >= self.limits.max_per_address {
                return None;
            }
            *count += 1;
        }
        open.0 += 1;
        Some(Slot {
            tracker: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.tracker.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(ip) = self.ip {
            if let Some(count) = open.1.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    open.1.remove(&ip);
                }
            }
        }
    }
}

/// The request deadline of one connection, shared by the connection (which arms and disarms
/// it) and its read half (which turns it into socket timeouts).
pub(crate) struct Deadline {
    at: Mutex<Option<Instant>>,
    request_timeout: Option<Duration>,
    idle: Option<Duration>,
    /// True while the socket's read timeout is the deadline's rather than the idle one.
    armed: AtomicBool,
}

impl Deadline {
    pub(crate) fn new(limits: &ConnectionLimits) -> Arc<Deadline> {
        Arc::new(Deadline {
            at: Mutex::new(None),
            request_timeout: limits.request_timeout,
            idle: limits.idle_timeout,
            armed: AtomicBool::new(false),
        })
    }

    /// Starts the clock for one request.
    pub(crate) fn arm(&self) {
        if let Some(timeout) = self.request_timeout {
            *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + timeout);
        }
    }

    /// Stops it: later reads only have the idle timeout.
    pub(crate) fn disarm(&self) {
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Sets the socket's read timeout for the next read: what is left of the deadline, or the
    /// idle timeout once the deadline is disarmed.
    pub(crate) fn before_read(
        &self,
        set_timeout: &mut dyn FnMut(Option<Duration>) -> IoResult<()>,
    ) -> IoResult<()> {
        let at = *self.at.lock().unwrap_or_else(|e| e.into_inner());
        match at {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                let left = self.idle.map_or(left, |idle| left.min(idle));
                set_timeout(Some(left))?;
                self.armed.store(true, Ordering::Relaxed);
            }
            None => {
                if self.armed.swap(false, Ordering::Relaxed) {
                    set_timeout(self.idle)?;
                }
            }
        }
        Ok(())
    }
}

/// A socket timeout surfaces as `WouldBlock` on Unix; upstream answers `TimedOut` with 408.
pub(crate) fn timeout_error(err: IoError) -> IoError {
    if err.kind() == ErrorKind::WouldBlock {
        timed_out()
    } else {
        err
    }
}

fn timed_out() -> IoError {
    IoError::new(ErrorKind::TimedOut, "request timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_in_all_and_per_address_and_free_on_drop() {
        let tracker = ConnTracker::new(ConnectionLimits {
            max_connections: 3,
            max_per_address: 2,
            ..ConnectionLimits::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = tracker.acquire(Some(a)).unwrap();
        let _a2 = tracker.acquire(Some(a)).unwrap();
        assert!(tracker.acquire(Some(a)).is_none(), "per-address cap");
        let _b1 = tracker.acquire(Some(b)).unwrap();
        assert!(tracker.acquire(Some(b)).is_none(), "total cap");
        drop(a1);
        assert!(tracker.acquire(Some(a)).is_some(), "slot freed on drop");
    }

    #[test]
    fn an_expired_deadline_refuses_the_read() {
        let deadline = Deadline::new(&ConnectionLimits {
            request_timeout: Some(Duration::from_millis(1)),
            idle_timeout: Some(Duration::from_secs(30)),
            ..ConnectionLimits::default()
        });
        let mut seen = Vec::new();
        deadline
            .before_read(&mut |t| {
                seen.push(t);
                Ok(())
            })
            .unwrap();
        assert!(seen.is_empty(), "unarmed: the idle timeout set at accept stays");
        deadline.arm();
        std::thread::sleep(Duration::from_millis(5));
        let err = deadline.before_read(&mut |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        deadline.disarm();
        deadline.arm();
        deadline.disarm();
        deadline
            .before_read(&mut |t| {
                seen.push(t);
                Ok(())
            })
            .unwrap();
        assert!(seen.is_empty(), "never armed on a read: nothing to restore");
    }
}
