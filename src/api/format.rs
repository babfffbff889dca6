//! Response formats: content negotiation and the JSON and XML renderings of our
//! representations (SPEC.md §1).
//!
//! Handlers build a [`Repr`], an ordered tree with snake_case keys, and never write bytes
//! themselves. JSON keeps the snake_case keys; XML turns them into CamelCase elements inside
//! `<RestcommResponse>`, as Restcomm does. Lists are bare JSON arrays unless the caller asked
//! for a page. Records from the store never reach this module, only what handlers chose to
//! show, so a secret cannot be rendered by accident.

/// The negotiated response format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/xml`, Restcomm's default.
    Xml,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
        }
    }

    /// The suffix Restcomm puts on URIs in this format.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Json => ".json",
            Format::Xml => "",
        }
    }

    /// Chooses from an `Accept` header: the JSON or XML type with the highest `q` wins, the
    /// first listed on a tie; anything else (`*/*`, none) means XML, as Restcomm.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let mut best: Option<(Format, f32)> = None;
        for item in accept.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let format = match media.as_str() {
                "application/json" => Format::Json,
                "application/xml" | "text/xml" => Format::Xml,
                _ => continue,
            };
            let quality = parts
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality > 0.0 && best.is_none_or(|(_, top)| quality > top) {
                best = Some((format, quality));
            }
        }
        best.map(|(format, _)| format).unwrap_or(Format::Xml)
    }
}

/// A value to render: an ordered tree, so both formats keep the documented field order.
#[derive(Clone, Debug, PartialEq)]
pub enum Repr {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// JSON `true`/`false`; XML `true`/`false`.
    Bool(bool),
    /// JSON `null`; an empty XML element.
    Null,
    /// A JSON array; in XML, one element per item, named by the first field.
    List(&'static str, Vec<Repr>),
    /// Fields in order, snake_case names.
    Obj(Vec<(&'static str, Repr)>),
}

/// Paging information for a page object (SPEC.md §1, Lists).
#[derive(Clone, Debug)]
pub struct Page {
    /// Zero-based page number.
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// Items in the whole list.
    pub total: u64,
    /// This page's URI.
    pub uri: String,
    /// The next page's URI, if there is one.
    pub next_page_uri: Option<String>,
}

/// Names of a resource in both formats: `("Account", "Accounts")`.
#[derive(Clone, Copy, Debug)]
pub struct Names {
    /// Singular element name (XML).
    pub singular: &'static str,
    /// Plural element name (XML), and in lowercase the page object's key (JSON).
    pub plural: &'static str,
}

/// Renders one resource.
pub fn one(format: Format, names: Names, item: &Repr) -> Vec<u8> {
    match format {
        Format::Json => json(item).into_bytes(),
        Format::Xml => {
            let mut out = String::from("<RestcommResponse>");
            xml_element(&mut out, names.singular, item);
            out.push_str("</RestcommResponse>");
            out.into_bytes()
        }
    }
}

/// Renders a list: a bare array, or a page object when `page` is set.
pub fn list(format: Format, names: Names, items: &[Repr], page: Option<&Page>) -> Vec<u8> {
    match format {
        Format::Json => {
            let array = format!("[{}]", items.iter().map(json).collect::<Vec<_>>().join(","));
            let Some(page) = page else {
                return array.into_bytes();
            };
            let (start, end) = page_bounds(page, items.len());
            let next = page
                .next_page_uri
                .clone()
                .map(Repr::Str)
                .unwrap_or(Repr::Null);
            let head = json(&Repr::Obj(vec![
                ("page", Repr::Int(to_i64(page.page))),
                ("page_size", Repr::Int(to_i64(page.page_size))),
                ("total", Repr::Int(to_i64(page.total))),
                ("start", Repr::Int(to_i64(start))),
                ("end", Repr::Int(to_i64(end))),
                ("uri", Repr::Str(page.uri.clone())),
                ("next_page_uri", next),
            ]));
            // The items go in last, under the resource's plural key.
            let key = page_key(names);
            format!(
                "{},{}:{array}}}",
                &head[..head.len() - 1],
                json_string(&key)
            )
            .into_bytes()
        }
        Format::Xml => {
            let mut out = String::from("<RestcommResponse><");
            out.push_str(names.plural);
            if let Some(page) = page {
                let (start, end) = page_bounds(page, items.len());
                let attributes = [
                    ("page", page.page.to_string()),
                    ("pageSize", page.page_size.to_string()),
                    ("total", page.total.to_string()),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("uri", page.uri.clone()),
                    (
                        "nextPageUri",
                        page.next_page_uri.clone().unwrap_or_default(),
                    ),
                ];
                for (name, value) in attributes {
                    out.push_str(&format!(" {name}=\"{}\"", xml_escape(&value)));
                }
            }
            out.push('>');
            for item in items {
                xml_element(&mut out, names.singular, item);
            }
            out.push_str(&format!("</{}></RestcommResponse>", names.plural));
            out.into_bytes()
        }
    }
}

/// Renders an error body: `status`, `code` and `message`.
pub fn error(format: Format, status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = Repr::Obj(vec![
        ("status", Repr::Int(i64::from(status))),
        ("code", Repr::Str(code.to_string())),
        ("message", Repr::Str(message.to_string())),
    ]);
    match format {
        Format::Json => json(&body).into_bytes(),
        Format::Xml => {
            let mut out = String::from("<RestcommResponse>");
            xml_element(&mut out, "RestException", &body);
            out.push_str("</RestcommResponse>");
            out.into_bytes()
        }
    }
}

/// Renders a value as compact JSON.
pub fn json(value: &Repr) -> String {
    match value {
        Repr::Str(text) => json_string(text),
        Repr::Int(number) => number.to_string(),
        Repr::Bool(value) => value.to_string(),
        Repr::Null => "null".to_string(),
        Repr::List(_, items) => {
            format!("[{}]", items.iter().map(json).collect::<Vec<_>>().join(","))
        }
        Repr::Obj(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(name, item)| format!("{}:{}", json_string(name), json(item)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn xml_element(out: &mut String, name: &str, value: &Repr) {
    match value {
        Repr::Null => out.push_str(&format!("<{name}/>")),
        Repr::Str(text) => out.push_str(&format!("<{name}>{}</{name}>", xml_escape(text))),
        Repr::Int(number) => out.push_str(&format!("<{name}>{number}</{name}>")),
        Repr::Bool(value) => out.push_str(&format!("<{name}>{value}</{name}>")),
        Repr::List(item_name, items) => {
            out.push_str(&format!("<{name}>"));
            for item in items {
                xml_element(out, item_name, item);
            }
            out.push_str(&format!("</{name}>"));
        }
        Repr::Obj(fields) => {
            out.push_str(&format!("<{name}>"));
            for (field, item) in fields {
                xml_element(out, &camel_case(field), item);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// `friendly_name` → `FriendlyName`.
fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Escapes text for XML content and attributes; drops characters XML 1.0 cannot carry.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn page_key(names: Names) -> String {
    let mut key = String::new();
    for (idx, c) in names.plural.chars().enumerate() {
        if c.is_ascii_uppercase() && idx > 0 {
            key.push('_');
        }
        key.push(c.to_ascii_lowercase());
    }
    key
}

/// Index of the first and of the last item on the page (both `start` on an empty page).
fn page_bounds(page: &Page, count: usize) -> (u64, u64) {
    let start = page.page.saturating_mul(page.page_size);
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    (start, start + count.saturating_sub(1))
}

fn to_i64(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names = Names {
        singular: "Account",
        plural: "Accounts",
    };

    #[test]
    fn accept_header_negotiation() {
        assert_eq!(Format::from_accept(None), Format::Xml);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Xml);
        assert_eq!(Format::from_accept(Some("application/json")), Format::Json);
        assert_eq!(Format::from_accept(Some("text/xml")), Format::Xml);
        assert_eq!(
            Format::from_accept(Some("Application/JSON; charset=utf-8")),
            Format::Json
        );
        assert_eq!(
            Format::from_accept(Some("application/xml;q=0.5, application/json;q=0.9")),
            Format::Json
        );
        assert_eq!(
            Format::from_accept(Some("application/json, application/xml")),
            Format::Json
        );
        assert_eq!(
            Format::from_accept(Some("application/json;q=0, text/xml")),
            Format::Xml
        );
    }

    #[test]
    fn renders_booleans_and_nested_lists() {
        let names = Names {
            singular: "Box",
            plural: "Boxes",
        };
        let item = Repr::Obj(vec![
            ("root", Repr::Bool(true)),
            (
                "recent_failures",
                Repr::List(
                    "Failure",
                    vec![Repr::Obj(vec![("line", Repr::Str("a<b".into()))])],
                ),
            ),
            ("none", Repr::List("Failure", Vec::new())),
        ]);
        assert_eq!(
            String::from_utf8(one(Format::Json, names, &item)).unwrap(),
            r#"{"root":true,"recent_failures":[{"line":"a<b"}],"none":[]}"#
        );
        assert_eq!(
            String::from_utf8(one(Format::Xml, names, &item)).unwrap(),
            "<RestcommResponse><Box><Root>true</Root><RecentFailures><Failure><Line>a&lt;b</Line>\
             </Failure></RecentFailures><None></None></Box></RestcommResponse>"
        );
    }

    #[test]
    fn renders_json_and_xml_in_field_order() {
        let item = Repr::Obj(vec![
            ("sid", Repr::Str("AC1".into())),
            ("friendly_name", Repr::Str("a<b & \"c\"".into())),
            ("owner_account_sid", Repr::Null),
            (
                "subresource_uris",
                Repr::Obj(vec![("clients", Repr::Str("/c".into()))]),
            ),
        ]);
        assert_eq!(
            String::from_utf8(one(Format::Json, NAMES, &item)).unwrap(),
            r#"{"sid":"AC1","friendly_name":"a<b & \"c\"","owner_account_sid":null,"subresource_uris":{"clients":"/c"}}"#
        );
        assert_eq!(
            String::from_utf8(one(Format::Xml, NAMES, &item)).unwrap(),
            "<RestcommResponse><Account><Sid>AC1</Sid><FriendlyName>a&lt;b &amp; &quot;c&quot;</FriendlyName>\
             <OwnerAccountSid/><SubresourceUris><Clients>/c</Clients></SubresourceUris></Account></RestcommResponse>"
        );
    }

    #[test]
    fn lists_are_bare_arrays_or_page_objects() {
        let items = vec![Repr::Int(1), Repr::Int(2)];
        assert_eq!(list(Format::Json, NAMES, &items, None), b"[1,2]");
        let page = Page {
            page: 1,
            page_size: 2,
            total: 5,
            uri: "/u?Page=1".into(),
            next_page_uri: Some("/u?Page=2".into()),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&list(Format::Json, NAMES, &items, Some(&page))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"page":1,"page_size":2,"total":5,"start":2,"end":3,
                               "uri":"/u?Page=1","next_page_uri":"/u?Page=2","accounts":[1,2]})
        );
        let xml = String::from_utf8(list(Format::Xml, NAMES, &items, Some(&page))).unwrap();
        assert!(
            xml.starts_with("<RestcommResponse><Accounts page=\"1\" pageSize=\"2\" total=\"5\""),
            "{xml}"
        );
        assert!(
            xml.ends_with("<Account>1</Account><Account>2</Account></Accounts></RestcommResponse>"),
            "{xml}"
        );
    }

    #[test]
    fn errors_carry_status_code_and_message() {
        let body = error(
            Format::Json,
            400,
            "missing_parameter",
            "EmailAddress is required",
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"status":400,"code":"missing_parameter","message":"EmailAddress is required"}"#
        );
        let xml =
            String::from_utf8(error(Format::Xml, 404, "not_found", "account not found")).unwrap();
        assert_eq!(
            xml,
            "<RestcommResponse><RestException><Status>404</Status><Code>not_found</Code>\
             <Message>account not found</Message></RestException></RestcommResponse>"
        );
    }

    #[test]
    fn xml_drops_characters_it_cannot_carry() {
        assert_eq!(xml_escape("a\u{1}b\u{FFFF}c\n"), "abc\n");
    }
}
