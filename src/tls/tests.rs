//! The certificate's life: made once, kept across starts, refused when broken, replaced
//! without a restart.

use super::*;
use crate::testing::NOW;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgecomm-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names() -> Vec<String> {
    certificate_names("pbx-7", "pbx.test", &["192.0.2.7".parse().unwrap()])
}

#[test]
fn the_self_signed_pair_is_made_once_private_and_kept() {
    let dir = scratch("made");
    let first = setup(&TlsFiles::SelfSigned, &dir, names, NOW).unwrap();
    assert!(first.made);
    assert_eq!(first.fingerprint.len(), 32 * 3 - 1, "{}", first.fingerprint);
    assert!(first.pin.starts_with("sha256//"), "{}", first.pin);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = setup(&TlsFiles::SelfSigned, &dir, names, NOW).unwrap();
    assert!(!again.made);
    assert_eq!(again.fingerprint, first.fingerprint);
    // Half a pair (a crash between the two writes) is made again.
    std::fs::remove_file(dir.join("tls/cert.pem")).unwrap();
    let remade = setup(&TlsFiles::SelfSigned, &dir, names, NOW).unwrap();
    assert!(remade.made);
    assert_ne!(remade.fingerprint, first.fingerprint);
}

#[test]
fn an_installed_pair_that_is_missing_or_mismatched_is_refused_by_name() {
    let (a, b) = (scratch("pair-a"), scratch("pair-b"));
    setup(&TlsFiles::SelfSigned, &a, names, NOW).unwrap();
    setup(&TlsFiles::SelfSigned, &b, names, NOW).unwrap();
    let installed = |cert: &Path, key: &Path| TlsFiles::Installed {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    };
    let (cert_a, key_b) = (a.join("tls/cert.pem"), b.join("tls/key.pem"));
    let err = setup(&installed(&cert_a, &key_b), &a, Vec::new, NOW)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not go with certificate"), "{err}");
    assert!(err.contains(&*key_b.to_string_lossy()), "{err}");
    let missing = a.join("tls/nothing.pem");
    let err = setup(&installed(&missing, &key_b), &a, Vec::new, NOW)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&*missing.to_string_lossy()), "{err}");
    let garbage = a.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let err = setup(&installed(&garbage, &key_b), &a, Vec::new, NOW)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no certificate in it"), "{err}");
    let ok = setup(
        &installed(&cert_a, &a.join("tls/key.pem")),
        &a,
        Vec::new,
        NOW,
    )
    .unwrap();
    assert!(!ok.made);
}

#[test]
fn a_replaced_pair_serves_the_next_handshake_and_a_broken_one_keeps_the_old() {
    let (dir, other) = (scratch("reload"), scratch("reload-other"));
    let first = setup(&TlsFiles::SelfSigned, &dir, names, NOW).unwrap();
    let second = setup(&TlsFiles::SelfSigned, &other, names, NOW).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (cert, key) = (dir.join("tls/cert.pem"), dir.join("tls/key.pem"));
    let resolver = Reloading {
        loaded: Mutex::new(Loaded {
            key: load(&cert, &key, &provider).unwrap(),
            stamp: stamp(&cert, &key),
            checked: Instant::now(),
        }),
        cert_file: cert.clone(),
        key_file: key.clone(),
        provider,
    };
    assert_eq!(fingerprint(&resolver.current()), first.fingerprint);
    // A broken certificate file: logged, and the old pair stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    std::thread::sleep(RELOAD_CHECK + Duration::from_millis(100));
    assert_eq!(fingerprint(&resolver.current()), first.fingerprint);
    // The other pair, written the way an administrator replaces them.
    std::fs::copy(other.join("tls/key.pem"), &key).unwrap();
    std::fs::copy(other.join("tls/cert.pem"), &cert).unwrap();
    std::thread::sleep(RELOAD_CHECK + Duration::from_millis(100));
    assert_eq!(fingerprint(&resolver.current()), second.fingerprint);
}

#[test]
fn certificate_names_are_the_hosts_and_addresses_once_each() {
    let names = certificate_names("pbx-7", "PBX-7", &["127.0.0.1".parse().unwrap()]);
    assert_eq!(names, ["pbx-7", "localhost", "127.0.0.1", "::1"]);
}
