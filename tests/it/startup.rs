//! Start-up behaviour of the real binary: first-start credentials, READY, configuration
//! sources and their errors, the lock on the data directory.

use std::process::Stdio;

use crate::support::{basic, edgecomm, unique_dir, TestServer};

#[test]
fn first_start_creates_a_private_credentials_file_that_works() {
    let server = TestServer::start("first-start");
    let path = server.dir.join("data/initial-credentials");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_ne!(server.http.port(), 0, "READY shows the real port");
    let me = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    let by_token = server.root("GET", &me, "");
    assert_eq!(by_token.status, 200, "{}", by_token.body);
    assert_eq!(by_token.json()["role"], "Administrator");
    assert_eq!(by_token.json()["email_address"], "admin@localhost");
    let by_password = server.request(
        "GET",
        &me,
        &[(
            "Authorization",
            &basic("admin@localhost", &server.root_password),
        )],
        b"",
    );
    assert_eq!(by_password.status, 200);
    let log = server.log();
    assert_eq!(
        log.matches(&server.root_password).count(),
        1,
        "the password is printed once"
    );
}

#[test]
fn the_start_log_says_what_listens() {
    let server = TestServer::start("start-log");
    let log = server.log();
    let serving = format!(
        "serving http={} sip={} https={} sip_tls={} (SIP realm",
        server.http,
        server.sip,
        server.https.unwrap(),
        server.sip_tls.unwrap()
    );
    assert!(log.contains(&serving), "{log}");
    assert!(log.contains("SIP UDP receive buffer: "), "{log}");
    let dir = unique_dir("start-log-off");
    let mut command = edgecomm();
    command
        .args(["--http-listen", "127.0.0.1:0", "--sip-listen", "off"])
        .args([
            "--https-listen",
            "off",
            "--sip-tls-listen",
            "off",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap());
    let ready = ready_line(command);
    assert!(
        ready.ends_with(" sip=off https=off sip_tls=off\n"),
        "{ready}"
    );
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(
        log.contains(" sip=off https=off sip_tls=off (SIP realm"),
        "{log}"
    );
    assert!(!log.contains("SIP on off"), "{log}");
}

#[test]
fn restart_keeps_the_first_administrator() {
    let server = TestServer::start("restart");
    let (sid, token) = (server.root_sid.clone(), server.root_token.clone());
    let dir = server.kill9();
    let again = TestServer::start_in(dir, "{}");
    assert_eq!(again.root_sid, sid);
    assert_eq!(again.root_token, token);
    assert_eq!(
        again.root("GET", "/2012-04-24/Accounts.json", "").status,
        200
    );
}

#[test]
fn help_lists_every_flag() {
    let out = edgecomm().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--data-dir",
        "--http-listen",
        "--http-workers",
        "--store-cache-bytes",
        "--log-level",
        "--accounts-admin-email",
        "--accounts-max-depth",
        "--auth-max-failures",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn configuration_errors_stop_the_start_with_one_named_line() {
    let dir = unique_dir("bad-config");
    std::fs::write(
        dir.join("typo.json"),
        r#"{"http": {"lisen": "127.0.0.1:0"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("value.json"),
        r#"{"store": {"cache_bytes": "lots"}}"#,
    )
    .unwrap();
    // (arguments, environment, the setting the error must name)
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                "--config".into(),
                dir.join("typo.json").display().to_string(),
            ],
            vec![],
            "http.lisen",
        ),
        (
            vec![
                "--config".into(),
                dir.join("value.json").display().to_string(),
            ],
            vec![],
            "store.cache_bytes",
        ),
        (
            vec![],
            vec![("EDGECOMM_HTTP_LISTEN", "not-an-address")],
            "http.listen",
        ),
        (
            vec![],
            vec![("EDGECOMM_NO_SUCH_THING", "1")],
            "EDGECOMM_NO_SUCH_THING",
        ),
        (
            vec!["--log-level".into(), "loud".into()],
            vec![],
            "log.level",
        ),
    ];
    for (args, env, named) in cases {
        let out = edgecomm()
            .args(&args)
            .envs(env)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(named), "{err} should name {named}");
    }
    assert!(
        !dir.join("data").exists(),
        "nothing is created on a failed start"
    );
}

#[test]
fn environment_variables_configure_the_server() {
    let dir = unique_dir("env");
    let mut command = edgecomm();
    command
        .env("EDGECOMM_DATA_DIR", dir.join("envdata"))
        .env("EDGECOMM_HTTP_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_SIP_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_HTTPS_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_SIP_TLS_LISTEN", "off")
        .env("EDGECOMM_ACCOUNTS_ADMIN_EMAIL", "pbx-admin@example.com")
        .stderr(Stdio::null());
    let line = ready_line(command);
    assert!(line.starts_with("READY http=127.0.0.1:"), "{line}");
    assert!(line.contains(" sip=127.0.0.1:"), "{line}");
    let credentials = std::fs::read_to_string(dir.join("envdata/initial-credentials")).unwrap();
    assert!(credentials.contains("email=pbx-admin@example.com"));
}

#[test]
fn a_second_process_on_the_same_data_directory_is_refused() {
    let server = TestServer::start("locked");
    let out = edgecomm()
        .arg("--config")
        .arg(server.dir.join("config.json"))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("in use by another edgecomm process"), "{err}");
    assert_eq!(
        server.root("GET", "/health", "").status,
        200,
        "the first keeps serving"
    );
}

#[test]
fn systemd_is_told_ready_and_then_fed_the_watchdog() {
    let dir = unique_dir("sd-notify");
    let socket_path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut child = edgecomm()
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .env("EDGECOMM_DATA_DIR", dir.join("data"))
        .env("EDGECOMM_HTTP_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_SIP_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_HTTPS_LISTEN", "127.0.0.1:0")
        .env("EDGECOMM_SIP_TLS_LISTEN", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let mut receive = || {
        let len = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..len]).into_owned()
    };
    let first = receive();
    let second = receive();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first, "READY=1");
    assert_eq!(second, "WATCHDOG=1");
}

/// Starts `command`, reads its first stdout line (READY), and stops it.
fn ready_line(mut command: std::process::Command) -> String {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    line
}
