//! `edgecomm export` / `edgecomm import`: a round trip through an empty directory gives the
//! same document, nothing secret is in it, and bad imports are refused with a clear error.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::{edgecomm, sip_status, unique_dir, Phone, TestServer};

fn run(args: &[&str], data_dir: &Path) -> Output {
    edgecomm()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn export_import_export_round_trips_without_secrets() {
    let server = TestServer::start_in(unique_dir("backup"), r#"{"sip": {"realm": "pbx.test"}}"#);
    let root = server.root_sid.clone();
    let child = server
        .root(
            "POST",
            "/2012-04-24/Accounts.json",
            "EmailAddress=child%40example.com&Password=childpass1",
        )
        .json();
    let child_sid = child["sid"].as_str().unwrap().to_string();
    server.create_client(&child_sid, "alice", "alice-secret");
    server.create_client(&root, "bob", "bob-secret1");
    let mut phone = Phone::udp(&server, "alice", "alice-secret");
    let contact = phone.contact("");
    assert_eq!(sip_status(&phone.register(&contact)), 200);
    std::thread::sleep(Duration::from_millis(1500)); // bindings: sled's background flush
    let (root_password, root_token) = (server.root_password.clone(), server.root_token.clone());
    let dir = server.kill9();
    let data = dir.join("data");

    let first = dir.join("first.json");
    succeeds(&run(
        &["export", "--bindings", "--out", first.to_str().unwrap()],
        &data,
    ));
    let document = std::fs::read_to_string(&first).unwrap();
    for secret in [
        "childpass1",
        "alice-secret",
        "bob-secret1",
        &root_password,
        &root_token,
    ] {
        assert!(
            !document.contains(secret),
            "{secret} leaked into the export"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let restored = unique_dir("backup-restored");
    let report = succeeds(&run(
        &["import", first.to_str().unwrap()],
        &restored.join("data"),
    ));
    assert_eq!(report.trim(), "imported 2 accounts, 2 clients, 1 bindings");
    let second = succeeds(&run(&["export", "--bindings"], &restored.join("data")));
    assert_eq!(second, document, "export, import, export: identical");
    succeeds(&run(&["check"], &restored.join("data")));

    // Importing twice, an unknown version, or junk: refused, and the directory keeps its data.
    let again = run(&["import", first.to_str().unwrap()], &restored.join("data"));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    let future = dir.join("future.json");
    std::fs::write(
        &future,
        document.replacen("\"version\": 2", "\"version\": 99", 1),
    )
    .unwrap();
    let future_dir = unique_dir("backup-future").join("data");
    let refused = run(&["import", future.to_str().unwrap()], &future_dir);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("version 99 is not supported"),
        "{refused:?}"
    );
    assert!(
        !future_dir.exists(),
        "a refused import leaves nothing behind"
    );
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"format\": \"something-else\"}").unwrap();
    // Into a directory that exists (systemd's StateDirectory): it stays, empty.
    let junk_dir = unique_dir("backup-junk").join("data");
    std::fs::create_dir(&junk_dir).unwrap();
    let refused = run(&["import", junk.to_str().unwrap()], &junk_dir);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an edgecomm export"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_dir(&junk_dir).unwrap().count(), 0);
    succeeds(&run(&["check"], &restored.join("data")));

    // The restored box serves the same credentials, accounts, clients and bindings.
    std::fs::copy(
        data.join("initial-credentials"),
        restored.join("data/initial-credentials"),
    )
    .unwrap();
    let server = TestServer::start_in(restored, r#"{"sip": {"realm": "pbx.test"}}"#);
    assert_eq!(server.root_sid, root);
    let clients = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{child_sid}/Clients.json"),
            "",
        )
        .json();
    assert_eq!(clients[0]["login"], "alice");
    assert_eq!(clients[0]["registrations"], 1);
    let mut phone = Phone::udp(&server, "bob", "bob-secret1");
    let contact = phone.contact("");
    assert_eq!(
        sip_status(&phone.register(&contact)),
        200,
        "HA1 values came across"
    );
    let late = server.root(
        "POST",
        "/2012-04-24/Accounts.json",
        "EmailAddress=late%40example.com&Password=latepass1",
    );
    assert_eq!(late.status, 200);
    let listed = server.root("GET", "/2012-04-24/Accounts.json", "").json();
    assert_eq!(
        listed[1]["email_address"], "late@example.com",
        "new accounts still list last"
    );
}

#[test]
fn check_and_export_of_a_missing_directory_are_errors_that_create_nothing() {
    let typo = unique_dir("backup-typo").join("dta");
    for command in [&["check"][..], &["export"][..]] {
        let output = run(command, &typo);
        assert_eq!(output.status.code(), Some(1), "{command:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no data in"), "{stderr}");
        assert!(!typo.exists(), "{command:?} created {}", typo.display());
    }
}
