//! Parser and printer tests: RFC 3261 torture-style inputs (in the spirit of RFC 4475),
//! written for this project.

use super::*;

fn parse_text(text: &str) -> Result<Message, ParseError> {
    parse(text.as_bytes())
}

const REGISTER: &str = "REGISTER sip:pbx.test SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776;rport\r\n\
From: <sip:alice@pbx.test>;tag=1\r\n\
To: <sip:alice@pbx.test>\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:alice@10.0.0.5:5060>;expires=600\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn parses_a_plain_register() {
    let msg = parse_text(REGISTER).unwrap();
    assert_eq!(
        msg.start,
        StartLine::Request {
            method: "REGISTER".into(),
            uri: "sip:pbx.test".into()
        }
    );
    assert_eq!(msg.header("call-id"), Some("a84b4c76e66710"));
    assert_eq!(msg.header("CSeq"), Some("1 REGISTER"));
    assert!(msg.body.is_empty());
}

#[test]
fn compact_forms_any_case_and_folding() {
    let text = "REGISTER sip:pbx.test SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n\
f: <sip:alice@pbx.test>;tag=1\r\n\
T: <sip:alice@pbx.test>\r\n\
i: abc\r\n\
cSeQ: 7 REGISTER\r\n\
m: <sip:alice@10.0.0.5>\r\n ;expires=60\r\n\
User-Agent: Desk\r\n\tPhone 2\r\n\
l: 0\r\n\r\n";
    let msg = parse_text(text).unwrap();
    assert_eq!(
        msg.header("Via"),
        Some("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1")
    );
    assert_eq!(msg.header("To"), Some("<sip:alice@pbx.test>"));
    assert_eq!(msg.header("Call-ID"), Some("abc"));
    assert_eq!(msg.header("CSeq"), Some("7 REGISTER"));
    assert_eq!(
        msg.header("Contact"),
        Some("<sip:alice@10.0.0.5> ;expires=60")
    );
    assert_eq!(msg.header("User-Agent"), Some("Desk Phone 2"));
    let contact = NameAddr::parse(msg.header("Contact").unwrap()).unwrap();
    assert_eq!(contact.param("expires"), Some("60"));
}

#[test]
fn bare_lf_leading_crlf_and_bodies() {
    let text = "\r\n\r\nOPTIONS sip:pbx.test SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\nContent-Length: 4\n\nbodyEXTRA";
    let msg = parse_text(text).unwrap();
    assert_eq!(msg.method(), Some("OPTIONS"));
    assert_eq!(msg.body, b"body");
    let short = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 10\r\n\r\nabc";
    assert!(
        parse_text(short).is_err(),
        "a body shorter than Content-Length"
    );
}

#[test]
fn lists_split_on_unquoted_commas_only() {
    let value = r#""Smith, John" <sip:j@h;lr>;q=0.5, <sip:a@b>, sip:c@d;expires=5"#;
    assert_eq!(
        split_list(value),
        vec![
            r#""Smith, John" <sip:j@h;lr>;q=0.5"#,
            "<sip:a@b>",
            "sip:c@d;expires=5"
        ]
    );
    let first = NameAddr::parse(split_list(value)[0]).unwrap();
    assert_eq!(
        (first.uri.as_str(), first.param("q")),
        ("sip:j@h;lr", Some("0.5"))
    );
    let bare = NameAddr::parse("sip:c@d;expires=5").unwrap();
    assert_eq!(
        (bare.uri.as_str(), bare.param("expires")),
        ("sip:c@d", Some("5"))
    );
    let msg = parse_text(&REGISTER.replace(
        "Content-Length",
        "Contact: <sip:x@y>, <sip:z@w>\r\nContent-Length",
    ))
    .unwrap();
    assert_eq!(msg.header_list("Contact").len(), 3);
}

#[test]
fn sip_uris() {
    let uri = SipUri::parse("sip:alice:secret@pbx.test:5070;transport=tcp?x=y").unwrap();
    assert_eq!(
        (uri.user.as_deref(), uri.host.as_str()),
        (Some("alice"), "pbx.test")
    );
    let v6 = SipUri::parse("SIPS:[2001:db8::1]:5061").unwrap();
    assert_eq!(
        (v6.scheme.as_str(), v6.user, v6.host.as_str()),
        ("sips", None, "[2001:db8::1]")
    );
    for bad in [
        "tel:+123",
        "sip:",
        "sip:@host",
        "http://x",
        "sip:[::1",
        "nocolon",
    ] {
        assert!(SipUri::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn junk_is_refused_without_panicking() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\n".to_vec(),
        b"REGISTER sip:x SIP/3.0\r\n\r\n".to_vec(),
        b"REGISTER  SIP/2.0\r\n\r\n".to_vec(),
        b"SIP/2.0 99 Too Low\r\n\r\n".to_vec(),
        b"REG ISTER sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\nNoColon\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\n continuation-first\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
        b"REGISTER sip:x SIP/2.0\r\nBad Name: x\r\n\r\n".to_vec(),
        [
            b"REGISTER sip:x SIP/2.0\r\nX: ".to_vec(),
            vec![0xff, 0xfe],
            b"\r\n\r\n".to_vec(),
        ]
        .concat(),
        vec![b'A'; MAX_MESSAGE_BYTES + 1],
    ];
    for case in cases {
        assert!(
            parse(&case).is_err(),
            "{:?}",
            String::from_utf8_lossy(&case[..case.len().min(60)])
        );
    }
    // Every prefix of a valid message parses or fails cleanly.
    for end in 0..REGISTER.len() {
        let _ = parse(&REGISTER.as_bytes()[..end]);
        let _ = frame_length(&REGISTER.as_bytes()[..end]);
    }
}

#[test]
fn stream_framing_by_content_length() {
    let two = format!("\r\n\r\n{REGISTER}{REGISTER}");
    let first = frame_length(two.as_bytes()).unwrap().unwrap();
    assert_eq!(first, 4 + REGISTER.len());
    assert_eq!(
        frame_length(&two.as_bytes()[first..]).unwrap(),
        Some(REGISTER.len())
    );
    assert_eq!(
        frame_length(&REGISTER.as_bytes()[..REGISTER.len() - 2]).unwrap(),
        None
    );
    let with_body = "MESSAGE sip:x SIP/2.0\r\nl: 3\r\n\r\nabc";
    assert_eq!(
        frame_length(with_body.as_bytes()).unwrap(),
        Some(with_body.len())
    );
    assert_eq!(
        frame_length(&with_body.as_bytes()[..with_body.len() - 1]).unwrap(),
        None
    );
    assert!(frame_length(b"X sip:x SIP/2.0\r\nContent-Length: 70000\r\n\r\n").is_err());
    assert!(frame_length(&vec![b'a'; MAX_MESSAGE_BYTES + 10]).is_err());
}

#[test]
fn responses_echo_the_transaction_and_stamp_via() {
    let text = REGISTER.replace(
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776;rport\r\n",
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776;rport, SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n",
    );
    let msg = parse_text(&text).unwrap();
    let source: std::net::SocketAddr = "192.0.2.9:40000".parse().unwrap();
    let wire = String::from_utf8(
        Response::to(&msg, 200, "OK", source)
            .with("Date", "x")
            .with_to_tag("5f3a9c01")
            .to_bytes(),
    )
    .unwrap();
    assert!(wire.starts_with("SIP/2.0 200 OK\r\n"));
    assert!(wire.contains("Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776;rport=40000;received=192.0.2.9\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n"), "{wire}");
    assert!(wire.contains("To: <sip:alice@pbx.test>;tag=5f3a9c01\r\n"));
    assert!(wire.contains("Call-ID: a84b4c76e66710\r\nCSeq: 1 REGISTER\r\n"));
    assert!(wire.ends_with("Content-Length: 0\r\n\r\n"));
    let reparsed = parse(wire.as_bytes()).unwrap();
    assert_eq!(reparsed.start, StartLine::Response { code: 200 });
    let provisional = Response::to(&msg, 100, "Trying", source).with_to_tag("x");
    let provisional = String::from_utf8(provisional.to_bytes()).unwrap();
    assert!(
        provisional.contains("To: <sip:alice@pbx.test>\r\n"),
        "no tag below 200"
    );
    let tagged = text.replace(
        "To: <sip:alice@pbx.test>",
        "To: <sip:alice@pbx.test>;tag=dlg",
    );
    let res = Response::to(&parse_text(&tagged).unwrap(), 200, "OK", source).with_to_tag("x");
    let wire = String::from_utf8(res.to_bytes()).unwrap();
    assert!(
        wire.contains("To: <sip:alice@pbx.test>;tag=dlg\r\n"),
        "{wire}"
    );
}
