//! Every input the fuzzers ever crashed on (`fuzz/regressions/<target>/`), replayed through the
//! same function the fuzz target runs (`edgecomm::fuzz`), on every `cargo test`. Also the
//! seeds, so that each target's body runs here at least once on a valid input.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in ["regressions", "seeds"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).expect("read input");
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{} panics again", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs for {target}");
}

#[test]
fn sip_message() {
    replay("sip_message", edgecomm::fuzz::sip_message);
}

#[test]
fn digest_authorization() {
    replay("digest_authorization", edgecomm::fuzz::digest_authorization);
}

#[test]
fn form_and_path() {
    replay("form_and_path", edgecomm::fuzz::form_and_path);
}

#[test]
fn import() {
    replay("import", edgecomm::fuzz::import);
}
