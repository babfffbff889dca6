//! The README's fail2ban filter against the real log lines of both services: failed API logins
//! and failed SIP registrations must both be caught, with the attacker's address as the host,
//! whatever the attacker puts in the user name.
//!
//! fail2ban's regular expressions are Python's; this test reads the filter's `failregex` from
//! the README and matches it with the few constructs it uses (`\S*`, `\d+`, `<HOST>`). CI also
//! runs the real `fail2ban-regex` over a real log (`scripts/fail2ban-check.sh`).

use crate::support::{basic, unique_dir, Phone, TestServer};

const CONFIG: &str = r#"{"sip": {"realm": "pbx.test"}}"#;

#[test]
fn the_readme_filter_catches_api_and_sip_failures_with_the_real_source() {
    let server = TestServer::start_in(unique_dir("fail2ban"), CONFIG);
    let root = server.root_sid.clone();
    server.create_client(&root, "alice", "alice-secret");
    let tricks = [
        root.clone(),
        "nobody@example.com".to_string(),
        "x source=203.0.113.9:1 reason=forged".to_string(),
        "tab\tand\nnewline".to_string(),
    ];
    for user in &tricks {
        let reply = server.request(
            "GET",
            "/2012-04-24/Accounts.json",
            &[("Authorization", &basic(user, "wrong-password1"))],
            b"",
        );
        assert_eq!(reply.status, 401);
    }
    for user in ["alice", "mallory"] {
        let mut phone = Phone::udp(&server, user, "wrong-password1");
        let contact = phone.contact("");
        let answer = phone.register(&contact);
        assert!(answer.starts_with("SIP/2.0 401 "), "{answer}");
    }

    let failregex = readme_failregex();
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("auth failed")).collect();
    let api = lines
        .iter()
        .filter(|l| l.contains("api auth failed"))
        .count();
    let sip = lines
        .iter()
        .filter(|l| l.contains("sip auth failed"))
        .count();
    assert_eq!((api, sip), (tricks.len(), 2), "{log}");
    for line in lines {
        let host = find(&failregex, line).unwrap_or_else(|| panic!("{failregex:?} misses {line}"));
        assert_eq!(host, "127.0.0.1", "{line}");
    }
}

#[test]
fn the_matcher_follows_the_regex_it_is_given() {
    let regex = parse(r"auth failed: user=\S* source=<HOST>:\d+ reason=");
    let line = "WARN [x] sip auth failed: user=a source=192.0.2.1:5060 reason=wrong_password";
    assert_eq!(find(&regex, line).as_deref(), Some("192.0.2.1"));
    assert_eq!(
        find(&regex, "api auth failed: user=a source=[::1]:4 reason=x").as_deref(),
        Some("::1")
    );
    for missed in [
        "auth failed: user=a source=192.0.2.1 reason=x",
        "auth failed: user=a b source=192.0.2.1:1 reason=x",
        "auth failed: user=a source=192.0.2.1:x reason=x",
    ] {
        assert_eq!(find(&regex, missed), None, "{missed}");
    }
}

/// One piece of a fail2ban regular expression.
#[derive(Debug)]
enum Piece {
    Text(char),
    NonSpaces,
    Digits,
    Host,
}

/// The filter's `failregex`, as the README prints it.
fn readme_failregex() -> Vec<Piece> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut regexes = readme
        .lines()
        .filter_map(|line| line.strip_prefix("failregex = "));
    let regex = regexes.next().expect("a failregex line in the README");
    assert!(regexes.next().is_none(), "one filter for both services");
    parse(regex)
}

fn parse(regex: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = regex;
    while let Some(c) = rest.chars().next() {
        let (piece, len) = if rest.starts_with(r"\S*") {
            (Piece::NonSpaces, 3)
        } else if rest.starts_with(r"\d+") {
            (Piece::Digits, 3)
        } else if rest.starts_with("<HOST>") {
            (Piece::Host, 6)
        } else if "\\.^$*+?()[]{}|<".contains(c) {
            panic!("the README's filter uses {rest:?}: teach this test, or keep it simple");
        } else {
            (Piece::Text(c), c.len_utf8())
        };
        pieces.push(piece);
        rest = &rest[len..];
    }
    pieces
}

/// Searches `line` as fail2ban does (anywhere in the line); returns what `<HOST>` took.
fn find(regex: &[Piece], line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    (0..chars.len()).find_map(|start| match_at(regex, &chars[start..], None))
}

/// Backtracking match of `regex` at the start of `text`.
fn match_at(regex: &[Piece], text: &[char], host: Option<String>) -> Option<String> {
    let Some((piece, rest)) = regex.split_first() else {
        return Some(host.unwrap_or_default());
    };
    let class = |c: &char| match piece {
        Piece::NonSpaces => !c.is_whitespace(),
        Piece::Digits => c.is_ascii_digit(),
        Piece::Host => c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'),
        Piece::Text(_) => false,
    };
    if let Piece::Text(want) = piece {
        return (text.first() == Some(want))
            .then(|| match_at(rest, &text[1..], host))
            .flatten();
    }
    let longest = text.iter().take_while(|c| class(c)).count();
    let least = usize::from(!matches!(piece, Piece::NonSpaces));
    (least..=longest).rev().find_map(|len| {
        let taken: String = text[..len].iter().collect();
        let host = match piece {
            Piece::Host => Some(taken.trim_matches(['[', ']']).to_string()),
            _ => host.clone(),
        };
        match_at(rest, &text[len..], host)
    })
}
