//! What the box's operator scrapes (`GET /metrics`): the counters, and the Prometheus text
//! exposition format (version 0.0.4) they are written in.
//!
//! The counters are process-wide, like the log lines they summarise, and each is one relaxed
//! atomic increment on the path that counts it: a REGISTER answer, a failed authentication,
//! an API answer and its latency. Nothing here allocates or locks until a scrape. What is a
//! state rather than an event (live registrations, accounts, limited keys, open connections,
//! the store's size) the caller reads at scrape time and hands to [`render`] as [`Gauges`].
//! A leaf module: it imports nothing of ours.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Status codes 100-699 (SIP and HTTP alike), one slot each.
const CODES: usize = 600;

/// REGISTER answers by status code.
static REGISTER_ANSWERS: [AtomicU64; CODES] = [const { AtomicU64::new(0) }; CODES];

/// The (service, `reason=`) pairs of the fail2ban lines, each service's `other` last for any
/// reason added later.
const FAILURES: [(&str, &str); 7] = [
    ("api", "bad_credentials"),
    ("api", "other"),
    ("sip", "unknown_user"),
    ("sip", "wrong_password"),
    ("sip", "unsupported_qop"),
    ("sip", "login_limited"),
    ("sip", "other"),
];

static AUTH_FAILURES: [AtomicU64; FAILURES.len()] = [const { AtomicU64::new(0) }; 7];

/// API methods counted by name; anything else is `other`.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "other"];

static HTTP_ANSWERS: [[AtomicU64; CODES]; METHODS.len()] =
    [const { [const { AtomicU64::new(0) }; CODES] }; METHODS.len()];

/// Upper bounds of the API latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Requests per bucket (not cumulative: rendering sums them), and one for above the last.
static HTTP_LATENCY: [AtomicU64; BUCKETS.len() + 1] = [const { AtomicU64::new(0) }; 13];
static HTTP_LATENCY_MICROS: AtomicU64 = AtomicU64::new(0);

fn slot(code: u16) -> Option<usize> {
    usize::from(code)
        .checked_sub(100)
        .filter(|idx| *idx < CODES)
}

/// One REGISTER answered with `code`.
pub fn register_answered(code: u16) {
    if let Some(idx) = slot(code) {
        REGISTER_ANSWERS[idx].fetch_add(1, Relaxed);
    }
}

/// One failed authentication of `service` (`api` or `sip`) for `reason` (the fail2ban line's).
pub fn auth_failed(service: &str, reason: &str) {
    let exact = FAILURES
        .iter()
        .position(|known| *known == (service, reason));
    let other = || {
        FAILURES
            .iter()
            .position(|known| *known == (service, "other"))
    };
    if let Some(idx) = exact.or_else(other) {
        AUTH_FAILURES[idx].fetch_add(1, Relaxed);
    }
}

/// One API request answered with `status` after `elapsed`.
pub fn http_answered(method: &str, status: u16, elapsed: Duration) {
    let method = METHODS.iter().position(|known| *known == method);
    if let Some(idx) = slot(status) {
        HTTP_ANSWERS[method.unwrap_or(METHODS.len() - 1)][idx].fetch_add(1, Relaxed);
    }
    let secs = elapsed.as_secs_f64();
    let bucket = BUCKETS.iter().position(|bound| secs <= *bound);
    HTTP_LATENCY[bucket.unwrap_or(BUCKETS.len())].fetch_add(1, Relaxed);
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    HTTP_LATENCY_MICROS.fetch_add(micros, Relaxed);
}

/// Reads a count that lives elsewhere (a listener's open connections) at scrape time.
pub type Probe = Box<dyn Fn() -> usize + Send + Sync>;

/// The states a scrape reads where they live (the caller gathers them).
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// The version of this build.
    pub version: &'static str,
    /// Unix seconds of the process start.
    pub started: i64,
    /// Live registrations by transport name.
    pub registrations: Vec<(&'static str, usize)>,
    /// Accounts by status name.
    pub accounts: Vec<(&'static str, usize)>,
    /// Clients by status (`enabled`, `disabled`).
    pub clients: Vec<(&'static str, usize)>,
    /// Source addresses refused for failed authentications, by service.
    pub limited_addresses: Vec<(&'static str, usize)>,
    /// SIP logins refused for failed authentications.
    pub limited_logins: usize,
    /// Bytes the store takes on disk.
    pub store_bytes: u64,
    /// Open connections by listener name (`http`, `https`, `sip_tcp`, `sip_tls`).
    pub connections: Vec<(&'static str, usize)>,
}

/// The whole scrape: every counter, then the gauges.
pub fn render(gauges: &Gauges) -> String {
    let mut out = String::with_capacity(8192);
    let info = format!("version=\"{}\"", gauges.version);
    family(
        &mut out,
        "edgecomm_build_info",
        "gauge",
        "Always 1; the build's version.",
    );
    sample(&mut out, "edgecomm_build_info", &info, 1);
    let start = "edgecomm_process_start_time_seconds";
    family(
        &mut out,
        start,
        "gauge",
        "Start time of the process, Unix seconds.",
    );
    sample(&mut out, start, "", gauges.started);
    render_sip(&mut out, gauges);
    render_auth(&mut out, gauges);
    render_http(&mut out);
    render_state(&mut out, gauges);
    out
}

fn render_sip(out: &mut String, gauges: &Gauges) {
    let help = "Live SIP registrations (bindings), by transport.";
    let registrations = &gauges.registrations;
    gauge(
        out,
        "edgecomm_sip_registrations",
        help,
        "transport",
        registrations,
    );
    let name = "edgecomm_sip_register_responses_total";
    family(
        out,
        name,
        "counter",
        "REGISTER answers sent, by status code.",
    );
    for (idx, count) in REGISTER_ANSWERS.iter().enumerate() {
        let count = count.load(Relaxed);
        if count > 0 {
            sample(out, name, &format!("code=\"{}\"", idx + 100), count);
        }
    }
}

fn render_auth(out: &mut String, gauges: &Gauges) {
    let name = "edgecomm_auth_failures_total";
    family(
        out,
        name,
        "counter",
        "Failed authentications, by service and reason.",
    );
    for ((service, reason), count) in FAILURES.iter().zip(&AUTH_FAILURES) {
        let labels = format!("service=\"{service}\",reason=\"{reason}\"");
        sample(out, name, &labels, count.load(Relaxed));
    }
    let name = "edgecomm_auth_limited_addresses";
    let help = "Source addresses refused now for failed authentications, by service.";
    gauge(out, name, help, "service", &gauges.limited_addresses);
    let name = "edgecomm_auth_limited_logins";
    let help = "SIP logins refused now for failed authentications (from any address).";
    family(out, name, "gauge", help);
    sample(out, name, "", gauges.limited_logins);
}

fn render_http(out: &mut String) {
    let name = "edgecomm_http_requests_total";
    family(
        out,
        name,
        "counter",
        "API requests answered, by method and status.",
    );
    for (method, codes) in METHODS.iter().zip(&HTTP_ANSWERS) {
        for (idx, count) in codes.iter().enumerate() {
            let count = count.load(Relaxed);
            if count > 0 {
                let labels = format!("method=\"{method}\",status=\"{}\"", idx + 100);
                sample(out, name, &labels, count);
            }
        }
    }
    let name = "edgecomm_http_request_duration_seconds";
    family(out, name, "histogram", "Time to answer an API request.");
    let mut cumulative = 0;
    for (idx, count) in HTTP_LATENCY.iter().enumerate() {
        cumulative += count.load(Relaxed);
        let bound = BUCKETS.get(idx).map_or("+Inf".to_string(), f64::to_string);
        let labels = format!("le=\"{bound}\"");
        sample(out, &format!("{name}_bucket"), &labels, cumulative);
    }
    let micros = HTTP_LATENCY_MICROS.load(Relaxed);
    let sum = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    sample(out, &format!("{name}_sum"), "", sum);
    sample(out, &format!("{name}_count"), "", cumulative);
}

fn render_state(out: &mut String, gauges: &Gauges) {
    let help = "Accounts, by status.";
    gauge(out, "edgecomm_accounts", help, "status", &gauges.accounts);
    let help = "Clients (SIP credentials), by status.";
    gauge(out, "edgecomm_clients", help, "status", &gauges.clients);
    let name = "edgecomm_store_size_bytes";
    family(out, name, "gauge", "Bytes the database takes on disk.");
    sample(out, name, "", gauges.store_bytes);
    let help = "Open connections, by listener.";
    let connections = &gauges.connections;
    gauge(
        out,
        "edgecomm_open_connections",
        help,
        "listener",
        connections,
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A gauge family with one label: its announcement, then a sample per value.
fn gauge(out: &mut String, name: &str, help: &str, label: &str, values: &[(&str, usize)]) {
    family(out, name, "gauge", help);
    for (value, count) in values {
        sample(out, name, &format!("{label}=\"{value}\""), count);
    }
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters are process-wide, so this reads deltas of codes and reasons no other test
    /// of this binary counts.
    #[test]
    fn counters_move_by_what_happened_and_render_as_prometheus_text() {
        let before = render(&Gauges::default());
        register_answered(699);
        register_answered(699);
        auth_failed("sip", "a reason added later");
        http_answered("BREW", 418, Duration::from_millis(3));
        let after = render(&Gauges {
            registrations: vec![("udp", 2)],
            ..Gauges::default()
        });
        assert!(!before.contains("code=\"699\""), "{before}");
        assert!(after.contains("edgecomm_sip_register_responses_total{code=\"699\"} 2\n"));
        assert!(after.contains("edgecomm_http_requests_total{method=\"other\",status=\"418\"} 1"));
        assert!(after.contains("edgecomm_sip_registrations{transport=\"udp\"} 2\n"));
        let other = |text: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("edgecomm_auth_failures_total{service=\"sip\",reason=\"other\"}")
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .unwrap()
        };
        assert_eq!(other(&after), other(&before) + 1);
        // Every sample line belongs to a family announced before it.
        let mut announced = Vec::new();
        for line in after.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                announced.push(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(
                    announced
                        .iter()
                        .any(|family| name.starts_with(family.as_str())),
                    "{line}"
                );
            }
        }
        assert_eq!(
            (slot(99), slot(100), slot(699), slot(700)),
            (None, Some(0), Some(599), None)
        );
    }
}
