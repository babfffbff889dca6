//! SIP messages: a hand-written parser and printer (RFC 3261 §7, §20).
//!
//! Pure code, no I/O. The parser accepts what phones send in the wild: compact header forms,
//! any header-name case, folded continuation lines, bare LF line ends, and leading CRLF
//! keep-alives; it refuses messages over 64 KiB. It never panics: every index is checked and
//! every failure is a [`ParseError`]. Header values are kept as text; the few structured
//! values the registrar needs (URIs, name-addr lists, parameters) have their own small parsers
//! here.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::domain::Transport;

/// The source of a request.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// Source address and port.
    pub addr: SocketAddr,
    /// Transport it came over.
    pub transport: Transport,
}

/// Messages above this size are refused (SPEC.md §4).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a message could not be parsed. The text is for debug logs only.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

/// The first line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD uri SIP/2.0`.
    Request {
        /// The method, as sent (methods are case-sensitive).
        method: String,
        /// The Request-URI.
        uri: String,
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// Status code.
        code: u16,
    },
}

/// A parsed message: start line, headers in order (names canonicalised), body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Request or response line.
    pub start: StartLine,
    /// Headers in order of appearance; names in their canonical long form (borrowed for the
    /// headers we know, so that they cost no allocation).
    pub headers: Vec<(Cow<'static, str>, String)>,
    /// The body (as long as Content-Length says, when it is given).
    pub body: Vec<u8>,
}

impl Message {
    /// The first value of a header, by case-insensitive canonical name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a header, comma-separated lists split into their elements.
    pub fn header_list(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .flat_map(|(_, value)| split_list(value))
            .collect()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }
}

/// Canonical names of the compact header forms (RFC 3261 §7.3.3 and the extension RFCs),
/// and of the long forms we read, as (compact, long).
const CANONICAL: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("f", "From"),
    ("t", "To"),
    ("v", "Via"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("e", "Content-Encoding"),
    ("k", "Supported"),
    ("s", "Subject"),
    ("o", "Event"),
    ("u", "Allow-Events"),
    ("", "CSeq"),
    ("", "Expires"),
    ("", "Authorization"),
    ("", "Require"),
    ("", "User-Agent"),
    ("", "Max-Forwards"),
];

/// The canonical name of a header, in any case and either form; `None` for others. Runs on
/// every header of every message, so it compares in place instead of lowercasing a copy.
fn expand(name: &str) -> Option<&'static str> {
    CANONICAL
        .iter()
        .find(|(short, long)| {
            (!short.is_empty() && name.eq_ignore_ascii_case(short))
                || name.eq_ignore_ascii_case(long)
        })
        .map(|(_, long)| *long)
}

/// Parses one complete message (a UDP datagram, or one frame cut by [`frame_length`]).
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError(format!("message of {} bytes", bytes.len())));
    }
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let (head_len, body_start) =
        head_end(bytes).ok_or_else(|| ParseError("no end of headers".into()))?;
    let head = std::str::from_utf8(&bytes[..head_len])
        .map_err(|_| ParseError("headers are not UTF-8".into()))?;
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let first = lines.next().unwrap_or("");
    let start = parse_start_line(first)?;

    // A phone's REGISTER has about a dozen headers: one allocation for all of them.
    let mut headers: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(16);
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A folded line continues the previous header (RFC 3261 §7.3.1).
            let (_, value) = headers
                .last_mut()
                .ok_or_else(|| ParseError("continuation before any header".into()))?;
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError(format!("header without colon: {line:?}")))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError(format!("bad header name {name:?}")));
        }
        let name = expand(name).map_or_else(|| Cow::Owned(name.to_string()), Cow::Borrowed);
        headers.push((name, value.trim().to_string()));
    }

    let rest = &bytes[body_start..];
    let length = match headers.iter().find(|(key, _)| key == "Content-Length") {
        Some((_, value)) => value
            .trim()
            .parse::<usize>()
            .map_err(|_| ParseError(format!("bad Content-Length {value:?}")))?,
        None => rest.len(),
    };
    if length > rest.len() {
        return Err(ParseError(format!(
            "Content-Length {length} but {} body bytes",
            rest.len()
        )));
    }
    Ok(Message {
        start,
        headers,
        body: rest[..length].to_vec(),
    })
}

/// For a stream (TCP): the length of the first complete message in `buf`, after any leading
/// CRLF keep-alives (which it counts in). `Ok(None)` when more bytes are needed; an error when
/// the message can never be valid (too large, bad Content-Length).
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let skip = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    let Some((head_len, body_start)) = head_end(&buf[skip..]) else {
        if buf.len() - skip > MAX_MESSAGE_BYTES {
            return Err(ParseError("headers over 64 KiB".into()));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[skip..skip + head_len]);
    let mut length = 0usize;
    for line in head.split('\n') {
        if let Some((name, value)) = line.split_once(':') {
            if expand(name.trim()) == Some("Content-Length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| ParseError(format!("bad Content-Length {value:?}")))?;
            }
        }
    }
    let total = skip + body_start + length;
    if total - skip > MAX_MESSAGE_BYTES {
        return Err(ParseError(format!("message of {} bytes", total - skip)));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// Where the headers end: (length of the head, start of the body). Accepts CRLF or bare LF.
fn head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(idx) = find_newline(bytes, from) {
        if bytes.get(idx + 1) == Some(&b'\n') {
            return Some((idx, idx + 2));
        }
        if bytes.get(idx + 1) == Some(&b'\r') && bytes.get(idx + 2) == Some(&b'\n') {
            return Some((idx, idx + 3));
        }
        from = idx + 1;
    }
    None
}

/// The index of the first `\n` at or after `from`. Eight bytes at a time (a word has a zero
/// byte after the XOR exactly when it holds a newline): every message's head is scanned, and
/// byte by byte that was 5 % of a REGISTER's instructions.
fn find_newline(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut idx = from;
    while let Some(chunk) = bytes.get(idx..idx + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?) ^ (ONES * u64::from(b'\n'));
        if word.wrapping_sub(ONES) & !word & (ONES << 7) != 0 {
            break;
        }
        idx += 8;
    }
    let rest = bytes.get(idx..)?;
    rest.iter().position(|&b| b == b'\n').map(|pos| idx + pos)
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let bad = || ParseError(format!("bad start line {line:?}"));
    let mut parts = line.splitn(3, ' ');
    let first = parts.next().ok_or_else(bad)?;
    let second = parts.next().ok_or_else(bad)?;
    let third = parts.next().ok_or_else(bad)?;
    if first.eq_ignore_ascii_case("SIP/2.0") {
        let code = second
            .parse::<u16>()
            .ok()
            .filter(|code| (100..700).contains(code))
            .ok_or_else(bad)?;
        return Ok(StartLine::Response { code });
    }
    let token = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    };
    if !third.eq_ignore_ascii_case("SIP/2.0")
        || !token(first)
        || second.is_empty()
        || second.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    Ok(StartLine::Request {
        method: first.to_string(),
        uri: second.to_string(),
    })
}

/// Splits a header value on the commas that separate list elements, not on those inside
/// quotes or `<…>`.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    // By bytes: every delimiter is ASCII, so each cut falls on a character boundary, and no
    // UTF-8 decoding runs over the long Via and Authorization values of every REGISTER.
    for (idx, c) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth <= 0 => {
                out.push(value[start..idx].trim());
                start = idx + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|item| !item.is_empty());
    out
}

/// A `name-addr` or `addr-spec` with its header parameters: `"Bob" <sip:bob@h>;tag=1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// The URI, without angle brackets.
    pub uri: String,
    /// Header parameters after the address, names lowercased.
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// Parses one element of a From, To or Contact header.
    pub fn parse(text: &str) -> Option<NameAddr> {
        let text = text.trim();
        let (uri, rest) = if let Some(open) = find_unquoted(text, '<') {
            let close = text[open..].find('>')? + open;
            (text[open + 1..close].trim(), &text[close + 1..])
        } else {
            // addr-spec: parameters after the first ';' belong to the header, not the URI.
            match text.find(';') {
                Some(idx) => (text[..idx].trim(), &text[idx..]),
                None => (text, ""),
            }
        };
        if uri.is_empty() || uri.contains(char::is_whitespace) {
            return None;
        }
        Some(NameAddr {
            uri: uri.to_string(),
            params: parse_params(rest),
        })
    }

    /// A header parameter's value (`Some("")` for a flag parameter).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_deref().unwrap_or(""))
    }
}

fn find_unquoted(text: &str, wanted: char) -> Option<usize> {
    let mut quoted = false;
    for (idx, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == wanted && !quoted => return Some(idx),
            _ => {}
        }
    }
    None
}

/// Parses `;a=1;b;c="x"` into (lowercased name, value) pairs.
pub fn parse_params(text: &str) -> Vec<(String, Option<String>)> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (
                name.trim().to_ascii_lowercase(),
                Some(value.trim().trim_matches('"').to_string()),
            ),
            None => (part.to_ascii_lowercase(), None),
        })
        .collect()
}

/// The parts of a SIP URI the registrar needs: `sip:user@host:port;params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    /// `sip` or `sips`.
    pub scheme: String,
    /// The user part, if any (still escaped).
    pub user: Option<String>,
    /// The host (brackets kept for IPv6 references).
    pub host: String,
}

impl SipUri {
    /// Parses a `sip:` or `sips:` URI; `None` for anything else.
    pub fn parse(uri: &str) -> Option<SipUri> {
        let (scheme, rest) = uri.split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return None;
        }
        let rest = rest.split([';', '?']).next().unwrap_or("");
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (
                Some(userinfo.split(':').next().unwrap_or("").to_string()),
                hostport,
            ),
            None => (None, rest),
        };
        let host = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            &hostport[..=close]
        } else {
            hostport.split(':').next().unwrap_or("")
        };
        if host.is_empty() || user.as_deref() == Some("") {
            return None;
        }
        Some(SipUri {
            scheme,
            user,
            host: host.to_string(),
        })
    }
}

/// A response under construction.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: &'static str,
    /// Headers in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    /// A response to `request` that copies Via (all of them), From, To, Call-ID and CSeq, and
    /// marks the top Via with `received` and, when asked for, `rport` (RFC 3581).
    pub fn to(
        request: &Message,
        code: u16,
        reason: &'static str,
        source: std::net::SocketAddr,
    ) -> Response {
        let mut headers = Vec::with_capacity(12);
        let mut first_via = true;
        for (name, value) in &request.headers {
            match name.as_ref() {
                "Via" => {
                    for via in split_list(value) {
                        if first_via {
                            headers.push(("Via", stamp_via(via, source)));
                            first_via = false;
                        } else {
                            headers.push(("Via", via.to_string()));
                        }
                    }
                }
                "From" => headers.push(("From", value.clone())),
                "Call-ID" => headers.push(("Call-ID", value.clone())),
                "CSeq" => headers.push(("CSeq", value.clone())),
                "To" => headers.push(("To", value.clone())),
                _ => {}
            }
        }
        Response {
            code,
            reason,
            headers,
        }
    }

    /// Gives a final response the To tag it needs (RFC 3261 §8.2.6.2) when the request's To
    /// has none; provisional responses and tagged requests keep their To as it was.
    pub fn with_to_tag(mut self, tag: &str) -> Response {
        if self.code < 200 {
            return self;
        }
        // Only the To header is parsed: this runs on every answer.
        for (name, value) in &mut self.headers {
            if *name != "To" {
                continue;
            }
            if NameAddr::parse(value).is_some_and(|addr| addr.param("tag").is_none()) {
                value.push_str(";tag=");
                value.push_str(tag);
            }
        }
        self
    }

    /// Adds a header.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The wire form, with `Server` and `Content-Length: 0` (registrar answers have no body).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Pushed piece by piece rather than through `write!`: the formatting machinery was a
        // tenth of a REGISTER's instructions.
        let size: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 80);
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(&code_digits(self.code));
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                out.extend_from_slice(part);
            }
        }
        out.extend_from_slice(b"Server: edgecomm\r\nContent-Length: 0\r\n\r\n");
        out
    }
}

/// A status code (100-699) as its three ASCII digits.
fn code_digits(code: u16) -> [u8; 3] {
    [code / 100 % 10, code / 10 % 10, code % 10].map(|digit| b'0' + digit as u8)
}

/// Adds `received=<ip>` and fills an empty `rport` with the source port.
fn stamp_via(via: &str, source: std::net::SocketAddr) -> String {
    let mut out = String::with_capacity(via.len() + 40);
    let mut has_received = false;
    for (idx, part) in via.split(';').map(str::trim).enumerate() {
        if idx > 0 {
            out.push(';');
        }
        let name = part.split('=').next().unwrap_or("").trim();
        if idx > 0 && name.eq_ignore_ascii_case("rport") {
            let _ = write!(out, "rport={}", source.port());
        } else if idx > 0 && name.eq_ignore_ascii_case("received") {
            let _ = write!(out, "received={}", source.ip());
            has_received = true;
        } else {
            out.push_str(part);
        }
    }
    if !has_received {
        let _ = write!(out, ";received={}", source.ip());
    }
    out
}

#[cfg(test)]
mod tests;
