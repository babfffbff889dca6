//! The ceiling of our HTTP layer: a bare tiny_http server answering a fixed small JSON body
//! from as many workers as edgecomm uses. `scripts/bench-api.sh` measures edgecomm against it.
//!     cargo run --release --example hello -- 127.0.0.1:0 4

use std::io::Write;
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    let workers: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4);
    let server = Arc::new(tiny_http::Server::http(addr.as_str()).expect("bind"));
    let bound = server.server_addr().to_ip().expect("an IP listener");
    println!("READY http={bound}");
    let _ = std::io::stdout().flush();
    let body = br#"{"sid":"AC00000000000000000000000000000000","status":"active"}"#;
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
                        .expect("a valid header");
                    let _ = request
                        .respond(tiny_http::Response::from_data(&body[..]).with_header(header));
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
