//! The operator's scrape (`GET /metrics`) over the real binary: who may read it where, and
//! that each counter moves by exactly what phones and API clients did between two scrapes.

use std::collections::HashMap;

use crate::support::{basic, request_bytes, send_http, send_https, unique_dir, Phone, TestServer};

/// One scrape over the loopback HTTP listener, without credentials: sample (name and labels,
/// as written) to value.
fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let reply = send_http(
        server.http,
        &request_bytes(server.http, "GET", "/metrics", &[], b""),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let media = reply.header("Content-Type").unwrap_or("");
    assert!(media.starts_with("text/plain; version=0.0.4"), "{media}");
    reply
        .body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (sample, value) = line.rsplit_once(' ').unwrap();
            (sample.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// How much `sample` moved from `before` to `after` (a sample not yet written counts as 0).
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, sample: &str) -> f64 {
    let value = |map: &HashMap<String, f64>| map.get(sample).copied().unwrap_or(0.0);
    value(after) - value(before)
}

#[test]
fn each_counter_moves_by_exactly_what_was_done() {
    let server = TestServer::start_in(
        unique_dir("metrics-counts"),
        r#"{"sip": {"realm": "pbx.test"}}"#,
    );
    server.create_client(&server.root_sid, "alice", "alice-secret-1");
    server.create_client(&server.root_sid, "bob", "bob-secret-22");
    let off = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{}/Clients.json", server.root_sid),
        "Login=carol&Password=carol-secret-3&Status=0",
    );
    assert_eq!(off.status, 200, "{}", off.body);
    let before = scrape(&server);

    // Two phones register (a challenge and a 200 each), one over UDP and one over TCP.
    let mut udp = Phone::udp(&server, "alice", "alice-secret-1");
    let contact = udp.contact("");
    assert!(udp.register(&contact).starts_with("SIP/2.0 200 "));
    let mut tcp = Phone::tcp(&server, "bob", "bob-secret-22");
    let contact = tcp.contact("");
    assert!(tcp.register(&contact).starts_with("SIP/2.0 200 "));
    // A wrong password and an unknown login: a challenge and a refusal each.
    let mut wrong = Phone::udp(&server, "alice", "not-her-password");
    let contact = wrong.contact("");
    assert!(wrong.register(&contact).starts_with("SIP/2.0 401 "));
    let mut nobody = Phone::udp(&server, "nobody", "whatever-1");
    let contact = nobody.contact("");
    assert!(nobody.register(&contact).starts_with("SIP/2.0 401 "));
    // The API: three reads, one wrong password, one update.
    let account = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    for _ in 0..3 {
        assert_eq!(server.root("GET", &account, "").status, 200);
    }
    let guess = basic(&server.root_sid, "0123456789abcdef0123456789abcdef");
    let denied = server.request("GET", &account, &[("Authorization", &guess)], b"");
    assert_eq!(denied.status, 401);
    assert_eq!(
        server.root("POST", &account, "FriendlyName=Box").status,
        200
    );

    let after = scrape(&server);
    let expect = [
        ("edgecomm_sip_register_responses_total{code=\"200\"}", 2.0),
        ("edgecomm_sip_register_responses_total{code=\"401\"}", 6.0),
        ("edgecomm_sip_registrations{transport=\"udp\"}", 1.0),
        ("edgecomm_sip_registrations{transport=\"tcp\"}", 1.0),
        ("edgecomm_sip_registrations{transport=\"tls\"}", 0.0),
        (
            "edgecomm_auth_failures_total{service=\"sip\",reason=\"wrong_password\"}",
            1.0,
        ),
        (
            "edgecomm_auth_failures_total{service=\"sip\",reason=\"unknown_user\"}",
            1.0,
        ),
        (
            "edgecomm_auth_failures_total{service=\"api\",reason=\"bad_credentials\"}",
            1.0,
        ),
        // The three reads and the first scrape, counted once it was answered.
        (
            "edgecomm_http_requests_total{method=\"GET\",status=\"200\"}",
            4.0,
        ),
        (
            "edgecomm_http_requests_total{method=\"GET\",status=\"401\"}",
            1.0,
        ),
        (
            "edgecomm_http_requests_total{method=\"POST\",status=\"200\"}",
            1.0,
        ),
        ("edgecomm_http_request_duration_seconds_count", 6.0),
        (
            "edgecomm_http_request_duration_seconds_bucket{le=\"+Inf\"}",
            6.0,
        ),
    ];
    for (sample, delta) in expect {
        assert_eq!(moved(&before, &after, sample), delta, "{sample}");
    }
    // States, not events: read as they are.
    let state = |sample: &str| after.get(sample).copied();
    assert_eq!(state("edgecomm_accounts{status=\"active\"}"), Some(1.0));
    assert_eq!(state("edgecomm_clients{status=\"enabled\"}"), Some(2.0));
    assert_eq!(state("edgecomm_clients{status=\"disabled\"}"), Some(1.0));
    // The TCP phone's connection.
    assert_eq!(
        state("edgecomm_open_connections{listener=\"sip_tcp\"}"),
        Some(1.0)
    );
    assert!(state("edgecomm_store_size_bytes").unwrap() > 0.0);
    let started = state("edgecomm_process_start_time_seconds").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!((started - now.as_secs_f64()).abs() < 120.0, "{started}");
    assert_eq!(state("edgecomm_build_info{version=\"0.1.0\"}"), Some(1.0));
    // The scrape's own HTTP connection; the API's closed ones are released once the server
    // reads their end, which may come just after their answers: wait for it, briefly.
    let http = "edgecomm_open_connections{listener=\"http\"}";
    let mut open = after.get(http).copied();
    for _ in 0..50 {
        if open == Some(1.0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        open = scrape(&server).get(http).copied();
    }
    assert_eq!(open, Some(1.0));
    drop((udp, tcp));
}

#[test]
fn over_https_only_an_administrator_reads_the_metrics() {
    let server = TestServer::start("metrics-access");
    let get = |auth: Option<&str>| {
        let https = server.https.unwrap();
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        send_https(
            &server,
            &request_bytes(https, "GET", "/metrics", &headers, b""),
        )
    };
    let anonymous = get(None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(anonymous.header("WWW-Authenticate").is_some());
    let form = "&Role=Developer";
    let (dev, dev_token) = server.create_account(&server.root_auth(), "dev%40t.test", form);
    assert_eq!(get(Some(&basic(&dev, &dev_token))).status, 403);
    let form = "&Role=Administrator";
    let (admin, token) = server.create_account(&server.root_auth(), "adm%40t.test", form);
    let reply = get(Some(&basic(&admin, &token)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply
        .body
        .contains("# TYPE edgecomm_sip_registrations gauge"));
    let https = reply
        .body
        .lines()
        .find(|l| l.contains("listener=\"https\""))
        .unwrap();
    assert!(https.ends_with(" 1"), "{https}");
    // Plain HTTP from this machine needs none; only GET is served.
    let post = request_bytes(server.http, "POST", "/metrics", &[], b"");
    assert_eq!(send_http(server.http, &post).status, 405);
}
