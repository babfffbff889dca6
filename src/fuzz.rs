//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`), here so that the regression test
//! (`tests/it/fuzz_regressions.rs`) replays every saved crashing input through exactly the
//! code the fuzzer ran. Each function must never panic on any input, except where it asserts
//! an invariant on purpose.

use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::api::{form, split_path};
use crate::auth::Limiter;
use crate::clock::UnixSecs;
use crate::config::SipSettings;
use crate::domain::Transport;
use crate::sip::digest::{self, Credentials};
use crate::sip::message::{self, NameAddr, Peer, SipUri};
use crate::sip::registrar::Registrar;
use crate::sip::SipService;
use crate::store::{backup, check, Store};

const NOW: UnixSecs = 1_700_000_000;

const SETTINGS: SipSettings = SipSettings::SMALL;

/// The SIP parser and framer, then the whole registrar path over a temporary store, as a
/// datagram and as a TCP frame.
pub fn sip_message(data: &[u8]) {
    static RIG: OnceLock<(Store, SipService)> = OnceLock::new();
    let _ = message::frame_length(data);
    if let Ok(msg) = message::parse(data) {
        let _ = msg.method();
        for name in ["Contact", "To", "From"] {
            for value in msg.header_list(name) {
                if let Some(addr) = NameAddr::parse(value) {
                    let _ = SipUri::parse(&addr.uri);
                    let _ = addr.param("expires");
                }
            }
        }
        let _ = msg.header("Via").map(message::parse_params);
    }
    let (store, service) = RIG.get_or_init(|| {
        let store = Store::open_temporary("pbx.test").expect("temporary store");
        let limiter = Limiter::new(1_000_000, 60, 60);
        let registrar =
            Registrar::new(SETTINGS, limiter, |ip| ip.is_loopback()).expect("registrar");
        (store, SipService::new(registrar, NOW))
    });
    let source: SocketAddr = "192.0.2.7:5060".parse().expect("address");
    for transport in [Transport::Udp, Transport::Tcp] {
        let peer = Peer {
            addr: source,
            transport,
        };
        let _ = service.handle_message(store, data, peer, NOW);
    }
}

/// The digest `Authorization` parser and the nonce checker.
pub fn digest_authorization(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let secret = digest::NonceKey::new(&[7; 32]);
    if let Some(credentials) = Credentials::parse(text) {
        let _ = credentials.algorithm();
        let source = "192.0.2.7".parse().expect("address");
        let _ = digest::check_nonce(&secret, &credentials.nonce, source, NOW);
    }
    let _ = digest::check_nonce(&secret, text, "::1".parse().expect("address"), NOW);
}

/// The API's decoders: form bodies and query strings, percent-decoding, request paths.
pub fn form_and_path(data: &[u8]) {
    if let Ok(mut params) = form::Params::parse(data) {
        let _ = params.take("FriendlyName");
        params.finish();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = form::percent_decode(text, true);
        let _ = form::percent_decode(text, false);
        let _ = split_path(text);
    }
}

/// The import format: any document is parsed and validated; one that passes is imported into
/// a fresh temporary store, which must then pass `edgecomm check` (asserted: an import must
/// never write what check would flag).
pub fn import(data: &[u8]) {
    if backup::verify(data).is_err() {
        return;
    }
    let store = Store::open_temporary("pbx.test").expect("temporary store");
    if backup::import(&store, data).is_ok() {
        let problems = check::run(&store).expect("check runs");
        assert!(
            problems.is_empty(),
            "import left an inconsistent store: {problems:?}"
        );
    }
}
