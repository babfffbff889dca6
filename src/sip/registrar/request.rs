//! The parts of a REGISTER the registrar reads, parsed: who it is addressed to (RFC 3261
//! §10.3 steps 1 to 3), its CSeq, its contacts and expiries, and the `Contact` values of the
//! answer.

use super::Registrar;
use crate::clock::UnixSecs;
use crate::domain::bindings::Contact;
use crate::error::{Error, Result};
use crate::sip::message::{Message, NameAddr, Peer, Response, SipUri, StartLine};
use crate::store::records::BindingRecord;
use crate::store::{SipDomain, Store};

/// Whom a REGISTER is for: the To user in the organization its To host names (SPEC.md
/// §2.1: an organization's domain names it; the box's own addresses and unknown names
/// mean the default organization).
pub(super) struct AddressOfRecord {
    /// The To user: the login.
    pub user: String,
    /// The organization, and so the realm of the challenge.
    pub domain: SipDomain,
}

/// The address-of-record a REGISTER is for, and its CSeq number, once the request is known
/// to be for this registrar (RFC 3261 §10.3 steps 1 to 3); `Err` carries the answer when it
/// is not.
pub(super) fn addressed(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
) -> Result<std::result::Result<(AddressOfRecord, u32), Response>> {
    let StartLine::Request { uri, .. } = &req.start else {
        return Err(Error::Invalid("not a request".to_string()));
    };
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if req.header(name).is_none() {
            return Err(Error::Invalid(format!("missing {name} header")));
        }
    }
    let cseq = parse_cseq(req.header("CSeq").unwrap_or(""))?;
    let request_uri =
        SipUri::parse(uri).ok_or_else(|| Error::Invalid("bad Request-URI".to_string()))?;
    if !reg.serves(store, &request_uri.host)? {
        return Ok(Err(Response::to(req, 404, "Not Found", peer.addr)
            .with("Warning", "399 edgecomm \"domain not served here\"")));
    }
    if let Some(require) = req.header("Require") {
        return Ok(Err(Response::to(req, 420, "Bad Extension", peer.addr)
            .with("Unsupported", require.to_string())));
    }
    let to = req
        .header("To")
        .and_then(NameAddr::parse)
        .and_then(|to| SipUri::parse(&to.uri));
    let Some(aor) = to else {
        return Err(Error::Invalid("bad To header".to_string()));
    };
    let Some(user) = aor.user else {
        return Ok(Err(Response::to(req, 404, "Not Found", peer.addr).with(
            "Warning",
            "399 edgecomm \"address-of-record without a user\"",
        )));
    };
    let domain = store.sip_domain(aor.host.trim_start_matches('[').trim_end_matches(']'))?;
    Ok(Ok((AddressOfRecord { user, domain }, cseq)))
}

/// A binding as a 200 lists it: `<uri>;expires=<seconds left>[;q=…]`.
pub(super) fn contact_value(binding: &BindingRecord, now: UnixSecs) -> String {
    let left = (binding.expires_at - now).max(0).to_string();
    let q = binding.q.as_deref();
    let mut value = String::with_capacity(binding.contact.len() + 32);
    for part in ["<", &*binding.contact, ">;expires=", &left] {
        value.push_str(part);
    }
    if let Some(q) = q {
        value.push_str(";q=");
        value.push_str(q);
    }
    value
}

/// The `Contact` values and the `Expires` header of a REGISTER, parsed.
pub(super) fn contacts_of(req: &Message) -> Result<(Vec<Contact>, Option<u32>)> {
    let expires = match req.header("Expires") {
        Some(text) => Some(
            parse_delta(text.trim())
                .ok_or_else(|| Error::Invalid("bad Expires header".to_string()))?,
        ),
        None => None,
    };
    let mut contacts = Vec::new();
    for text in req.header_list("Contact") {
        if text.trim() == "*" {
            contacts.push(Contact::Wildcard);
            continue;
        }
        let contact = NameAddr::parse(text)
            .ok_or_else(|| Error::Invalid("bad Contact header".to_string()))?;
        let expires = match contact.param("expires") {
            Some(value) => Some(
                parse_delta(value)
                    .ok_or_else(|| Error::Invalid("bad expires parameter".to_string()))?,
            ),
            None => None,
        };
        let q = contact.param("q").map(str::to_string);
        contacts.push(Contact::Uri {
            uri: contact.uri,
            q,
            expires,
        });
    }
    Ok((contacts, expires))
}

/// A delta-seconds value; huge values are capped rather than refused (RFC 3261 §20.19).
fn parse_delta(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<u64>()
            .map_or(u32::MAX, |value| u32::try_from(value).unwrap_or(u32::MAX)),
    )
}

fn parse_cseq(text: &str) -> Result<u32> {
    let mut parts = text.split_whitespace();
    let number = parts.next().and_then(|n| n.parse::<u32>().ok());
    let method = parts.next();
    match (number, method) {
        (Some(number), Some(method)) if method.eq_ignore_ascii_case("REGISTER") => Ok(number),
        _ => Err(Error::Invalid("bad CSeq header".to_string())),
    }
}
