//! Configuration: one table of settings, four sources, one validated `Config`.
//!
//! Every setting has a dotted key (`http.listen`), an embedded default, and a help line. The
//! same key is a JSON path in the `--config` file (`{"http": {"listen": …}}`), an environment
//! variable (`EDGECOMM_HTTP_LISTEN`) and a flag (`--http-listen`). Later sources win: defaults,
//! then the file, then the environment, then flags. Unknown keys and bad values stop the start
//! with one line that names them. This module does no I/O of its own: it reads the config
//! file, and the host name for the default realm, through the reader `load` is given.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::clock::UnixSecs;
use crate::domain::{DigestAlgorithms, Email};

/// One configurable setting.
pub struct Setting {
    /// Dotted key, as in the JSON file.
    pub key: &'static str,
    /// The embedded default, in the same textual form a user would write.
    pub default: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
}

/// Every setting, in the order `--help` shows them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "data_dir",
        default: "./data",
        help: "data directory (created if missing)",
    },
    Setting {
        key: "http.listen",
        default: "127.0.0.1:8080",
        help: "HTTP API address; port 0 picks a free port",
    },
    Setting {
        key: "https.listen",
        default: "0.0.0.0:8443",
        help: "HTTPS API address, for the LAN (off to disable)",
    },
    Setting {
        key: "tls.cert_file",
        default: "",
        help: "PEM certificate (chain) for HTTPS and SIP over TLS; empty: a self-signed one in the data directory",
    },
    Setting {
        key: "tls.key_file",
        default: "",
        help: "PEM private key of tls.cert_file (set both or neither)",
    },
    Setting {
        key: "http.workers",
        default: "4",
        help: "HTTP worker threads (1-64)",
    },
    Setting {
        key: "http.max_connections",
        default: "256",
        help: "HTTP connections open at once; more get 503 (1-65536)",
    },
    Setting {
        key: "http.max_connections_per_address",
        default: "64",
        help: "HTTP connections open at once from one address; more get 503",
    },
    Setting {
        key: "http.idle_timeout_secs",
        default: "30",
        help: "HTTP connections idle this long are closed (also the longest wait on a write)",
    },
    Setting {
        key: "http.request_timeout_secs",
        default: "10",
        help: "a request's head and body must arrive within this from its first byte (else 408)",
    },
    Setting {
        key: "store.cache_bytes",
        default: "16777216",
        help: "database page cache in bytes (1 MiB - 1 GiB)",
    },
    Setting {
        key: "log.level",
        default: "info",
        help: "error, warn, info, debug or trace",
    },
    Setting {
        key: "accounts.admin_email",
        default: "admin@localhost",
        help: "email of the root Administrator created on first start",
    },
    Setting {
        key: "accounts.max_depth",
        default: "16",
        help: "maximum depth of the account tree (2-64)",
    },
    Setting {
        key: "sip.listen",
        default: "0.0.0.0:5060",
        help: "SIP address, UDP and TCP on the same port ([::]:5060 for IPv6; off to disable)",
    },
    Setting {
        key: "sip.tls_listen",
        default: "0.0.0.0:5061",
        help: "SIP over TLS address (off to disable)",
    },
    Setting {
        key: "sip.digest_algorithms",
        default: "MD5",
        help: "digest challenges a 401 offers, in order: MD5, SHA-256, or both (MD5,SHA-256; \
               in the file a list: [\"MD5\", \"SHA-256\"])",
    },
    Setting {
        key: "sip.min_expires",
        default: "60",
        help: "shortest registration accepted, seconds (shorter: 423)",
    },
    Setting {
        key: "sip.max_expires",
        default: "7200",
        help: "longest registration granted, seconds (longer requests are cut)",
    },
    Setting {
        key: "sip.default_expires",
        default: "3600",
        help: "registration length when the phone asks for none, seconds",
    },
    Setting {
        key: "sip.max_contacts",
        default: "10",
        help: "bindings per client (1-100)",
    },
    Setting {
        key: "sip.udp_workers",
        default: "1",
        help: "threads reading the UDP socket (1-64); one is fastest on 2 cores (benchmark)",
    },
    Setting {
        key: "sip.udp_receive_buffer_bytes",
        default: "4194304",
        help: "UDP socket receive buffer asked of the kernel (net.core.rmem_max caps it)",
    },
    Setting {
        key: "sip.tcp_max_connections",
        default: "256",
        help: "concurrent SIP TCP connections (1-65536)",
    },
    Setting {
        key: "sip.tcp_max_per_address",
        default: "32",
        help: "concurrent SIP TCP connections from one address",
    },
    Setting {
        key: "sip.idle_timeout_secs",
        default: "30",
        help: "SIP TCP connections idle this long are closed",
    },
    Setting {
        key: "sip.message_timeout_secs",
        default: "10",
        help: "a SIP message over TCP must arrive whole within this from its first byte",
    },
    Setting {
        key: "sip.realm",
        default: "",
        help: "SIP realm and domain of the box; empty means the host name",
    },
    Setting {
        key: "auth.max_failures",
        default: "10",
        help: "failed logins from one address (API: 429; SIP: dropped), or for one SIP login from any address, before a back-off",
    },
    Setting {
        key: "auth.window_secs",
        default: "60",
        help: "window in which failed logins are counted",
    },
    Setting {
        key: "auth.backoff_secs",
        default: "60",
        help: "how long an address or a SIP login stays refused after too many failures",
    },
    Setting {
        key: "console.idle_secs",
        default: "900",
        help: "a console session ends after this many seconds without a user action",
    },
];

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the database and `initial-credentials` live.
    pub data_dir: PathBuf,
    /// HTTP API listen address.
    pub http_listen: SocketAddr,
    /// HTTPS API listen address, `None` when off.
    pub https_listen: Option<SocketAddr>,
    /// Where the certificate comes from.
    pub tls: TlsFiles,
    /// The machine's host name (a name of the self-signed certificate).
    pub host_name: String,
    /// Number of HTTP worker threads.
    pub http_workers: usize,
    /// Bounds on HTTP connections.
    pub http: HttpSettings,
    /// sled page cache size.
    pub cache_bytes: u64,
    /// Log level.
    pub log_level: log::LevelFilter,
    /// Email of the first Administrator.
    pub admin_email: Email,
    /// Maximum depth of the account tree.
    pub max_depth: u32,
    /// The SIP realm (and domain) of the box; Clients' HA1 values are computed for it.
    pub realm: String,
    /// SIP listen address (UDP and TCP), `None` when SIP is off.
    pub sip_listen: Option<SocketAddr>,
    /// SIP over TLS listen address, `None` when off.
    pub sip_tls_listen: Option<SocketAddr>,
    /// Registrar limits and transport sizes.
    pub sip: SipSettings,
    /// API login failures per address before 429.
    pub auth_max_failures: u32,
    /// Window for counting failures, seconds.
    pub auth_window_secs: UnixSecs,
    /// Back-off after too many failures, seconds.
    pub auth_backoff_secs: UnixSecs,
    /// A console session's idle expiry, seconds.
    pub console_idle_secs: UnixSecs,
}

/// The certificate and key of the TLS listeners: files the administrator installed, or the
/// box's own self-signed pair, made at first start in the data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsFiles {
    /// `tls.cert_file` and `tls.key_file`.
    Installed {
        /// PEM certificate chain.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    },
    /// `<data dir>/tls/`.
    SelfSigned,
}

/// Bounds on HTTP connections (SPEC.md §6): slow or idle clients cannot hold them for ever.
#[derive(Clone, Copy, Debug)]
pub struct HttpSettings {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_per_address: usize,
    /// Longest wait for a read or a write, seconds.
    pub idle_timeout_secs: u64,
    /// A request's head and body must arrive within this many seconds of its first byte.
    pub request_timeout_secs: u64,
}

/// Registrar limits and transport sizes (SPEC.md §4, §6).
#[derive(Clone, Copy, Debug)]
pub struct SipSettings {
    /// The digest challenges a 401 offers, in order.
    pub digest_algorithms: DigestAlgorithms,
    /// Below this (and above 0) a REGISTER gets 423.
    pub min_expires: u32,
    /// Longer requests are cut to this.
    pub max_expires: u32,
    /// When neither the contact nor the request says.
    pub default_expires: u32,
    /// Bindings per client.
    pub max_contacts: usize,
    /// UDP reader threads.
    pub udp_workers: usize,
    /// SO_RCVBUF asked for the UDP socket: room for a boot storm's bursts.
    pub udp_receive_buffer_bytes: usize,
    /// Concurrent TCP connections.
    pub tcp_max_connections: usize,
    /// Concurrent TCP connections from one IP address.
    pub tcp_max_per_address: usize,
    /// A message over TCP must arrive whole within this many seconds of its first byte.
    pub message_timeout_secs: u64,
    /// Idle TCP connections are closed after this many seconds.
    pub idle_timeout_secs: u64,
}

impl SipSettings {
    /// Limits small enough for tests and fuzz targets to reach (three contacts, four TCP
    /// connections), the rest as shipped.
    #[doc(hidden)]
    pub const SMALL: SipSettings = SipSettings {
        digest_algorithms: DigestAlgorithms::MD5,
        min_expires: 60,
        max_expires: 7200,
        default_expires: 3600,
        max_contacts: 3,
        udp_workers: 1,
        udp_receive_buffer_bytes: 1 << 20,
        tcp_max_connections: 4,
        tcp_max_per_address: 4,
        message_timeout_secs: 10,
        idle_timeout_secs: 30,
    };
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the server.
    Serve(Config),
    /// Check the store's invariants and exit.
    Check(Config),
    /// Write the store as a JSON document to `out` (stdout when `None`).
    Export {
        /// Where the data is.
        config: Config,
        /// Output file.
        out: Option<String>,
        /// Include the bindings (soft state).
        bindings: bool,
    },
    /// Load a JSON document into an empty store.
    Import {
        /// Where the data goes.
        config: Config,
        /// The export file.
        file: String,
    },
    /// Print this text and exit successfully.
    Print(String),
}

/// The file reader `load` is given: the real file system in `main`, a closure in tests.
type ReadFile<'a> = &'a dyn Fn(&str) -> std::io::Result<String>;

/// What the command line says, before any setting is merged.
#[derive(Default)]
struct Args {
    config_path: Option<String>,
    flags: Vec<(&'static str, String)>,
    subcommand: Option<String>,
    out: Option<String>,
    bindings: bool,
    import_file: Option<String>,
}

/// Parses the command line (without the program name) and the environment into a command.
/// `read_file` reads the `--config` file (and, for the default realm, the host name); tests
/// pass a closure.
pub fn load(
    args: &[String],
    env: &[(String, String)],
    read_file: ReadFile<'_>,
) -> Result<Command, String> {
    let args = match parse_args(args)? {
        Ok(args) => args,
        Err(print) => return Ok(print),
    };
    let mut values: BTreeMap<&'static str, String> = SETTINGS
        .iter()
        .map(|setting| (setting.key, setting.default.to_string()))
        .collect();
    if let Some(path) = args
        .config_path
        .clone()
        .or_else(|| env_value(env, "EDGECOMM_CONFIG"))
    {
        merge_file(&mut values, &path, read_file)?;
    }
    merge_env(&mut values, env)?;
    for (key, value) in &args.flags {
        values.insert(key, value.clone());
    }
    let config = Config::from_values(&values, read_file)?;
    command(args, config)
}

/// Reads the arguments; `Ok(Err(…))` for `--help` and `--version`, which print and stop.
fn parse_args(args: &[String]) -> Result<Result<Args, Command>, String> {
    let mut out = Args::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if arg.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        match name {
            "-h" | "--help" => return Ok(Err(Command::Print(help()))),
            "-V" | "--version" => {
                let version = format!("edgecomm {}\n", env!("CARGO_PKG_VERSION"));
                return Ok(Err(Command::Print(version)));
            }
            "--bindings" => out.bindings = true,
            _ if name.starts_with('-') => {
                // The name first: `--bogus` is an unknown flag, whatever follows it.
                let setting = match name {
                    "--config" | "--out" => None,
                    _ => Some(setting_of_flag(name)?),
                };
                let value = match inline {
                    Some(value) => value,
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("{name} needs a value"))?,
                };
                match (name, setting) {
                    (_, Some(key)) => out.flags.push((key, value)),
                    ("--config", None) => out.config_path = Some(value),
                    _ => out.out = Some(value),
                }
            }
            "serve" | "check" | "export" | "import" if out.subcommand.is_none() => {
                out.subcommand = Some(name.to_string())
            }
            _ if out.subcommand.as_deref() == Some("import") && out.import_file.is_none() => {
                out.import_file = Some(arg.clone())
            }
            _ => return Err(format!("unexpected argument {arg:?} (see --help)")),
        }
    }
    Ok(Ok(out))
}

/// The setting a flag sets; an unknown flag is an error that names it.
fn setting_of_flag(name: &str) -> Result<&'static str, String> {
    SETTINGS
        .iter()
        .find(|setting| flag_name(setting.key) == name)
        .map(|setting| setting.key)
        .ok_or_else(|| format!("unknown flag {name} (see --help)"))
}

/// Merges the settings of a JSON config file; an unknown key stops the start.
fn merge_file(
    values: &mut BTreeMap<&'static str, String>,
    path: &str,
    read_file: ReadFile<'_>,
) -> Result<(), String> {
    let text = read_file(path).map_err(|err| format!("cannot read config {path}: {err}"))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| format!("config {path} is not valid JSON: {err}"))?;
    let mut found = Vec::new();
    flatten(&json, "", &mut found).map_err(|err| format!("config {path}: {err}"))?;
    for (key, value) in found {
        let known = SETTINGS
            .iter()
            .find(|setting| setting.key == key)
            .ok_or_else(|| format!("config {path}: unknown key {key:?}"))?;
        values.insert(known.key, value);
    }
    Ok(())
}

/// Merges the `EDGECOMM_*` variables; an unknown one stops the start.
fn merge_env(
    values: &mut BTreeMap<&'static str, String>,
    env: &[(String, String)],
) -> Result<(), String> {
    for (name, value) in env {
        let Some(suffix) = name.strip_prefix("EDGECOMM_") else {
            continue;
        };
        if suffix == "CONFIG" {
            continue;
        }
        let setting = SETTINGS
            .iter()
            .find(|setting| env_name(setting.key) == *name)
            .ok_or_else(|| format!("unknown environment variable {name} (see --help)"))?;
        values.insert(setting.key, value.clone());
    }
    Ok(())
}

/// The command the arguments name, with its configuration.
fn command(args: Args, config: Config) -> Result<Command, String> {
    if (args.out.is_some() || args.bindings) && args.subcommand.as_deref() != Some("export") {
        return Err("--out and --bindings go with export".to_string());
    }
    match args.subcommand.as_deref() {
        Some("check") => Ok(Command::Check(config)),
        Some("export") => Ok(Command::Export {
            config,
            out: args.out,
            bindings: args.bindings,
        }),
        Some("import") => {
            let file = args
                .import_file
                .ok_or("import needs the export file: edgecomm import FILE")?;
            Ok(Command::Import { config, file })
        }
        _ => Ok(Command::Serve(config)),
    }
}

impl Config {
    /// Validates the merged textual values into typed settings.
    fn from_values(
        values: &BTreeMap<&'static str, String>,
        read_file: ReadFile<'_>,
    ) -> Result<Config, String> {
        let get = |key: &str| values.get(key).map(String::as_str).unwrap_or_default();
        let bad = |key: &str, expected: &str| {
            format!(
                "invalid value {:?} for {key}: expected {expected}",
                get(key)
            )
        };
        let number = |key: &str, min: u64, max: u64| -> Result<u64, String> {
            get(key)
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(key, &format!("a whole number from {min} to {max}")))
        };
        // Durations that are compared with clock readings: up to a day, in the clock's type.
        let secs = |key: &str| -> Result<UnixSecs, String> {
            UnixSecs::try_from(number(key, 1, 86_400)?).map_err(|_| format!("{key} is too large"))
        };
        let count = |key: &str, min: u64, max: u64| -> Result<usize, String> {
            usize::try_from(number(key, min, max)?).map_err(|_| format!("{key} is too large"))
        };
        let data_dir = get("data_dir");
        if data_dir.is_empty() {
            return Err(bad("data_dir", "a directory path"));
        }
        let log_level = match get("log.level").to_ascii_lowercase().as_str() {
            "error" => log::LevelFilter::Error,
            "warn" => log::LevelFilter::Warn,
            "info" => log::LevelFilter::Info,
            "debug" => log::LevelFilter::Debug,
            "trace" => log::LevelFilter::Trace,
            _ => return Err(bad("log.level", "error, warn, info, debug or trace")),
        };
        Ok(Config {
            data_dir: PathBuf::from(data_dir),
            http_listen: get("http.listen")
                .parse()
                .map_err(|_| bad("http.listen", "an address such as 127.0.0.1:8080"))?,
            https_listen: listen_or_off(get("https.listen"))
                .map_err(|_| bad("https.listen", "an address such as 0.0.0.0:8443, or off"))?,
            tls: tls_files(get("tls.cert_file"), get("tls.key_file"))?,
            host_name: host_name(read_file),
            http_workers: usize::try_from(number("http.workers", 1, 64)?)
                .map_err(|_| bad("http.workers", "a small number"))?,
            http: HttpSettings {
                max_connections: count("http.max_connections", 1, 65_536)?,
                max_per_address: count("http.max_connections_per_address", 1, 65_536)?,
                idle_timeout_secs: number("http.idle_timeout_secs", 1, 3600)?,
                request_timeout_secs: number("http.request_timeout_secs", 1, 3600)?,
            },
            cache_bytes: number("store.cache_bytes", 1 << 20, 1 << 30)?,
            log_level,
            admin_email: Email::parse(get("accounts.admin_email"))
                .map_err(|_| bad("accounts.admin_email", "an email address"))?,
            max_depth: u32::try_from(number("accounts.max_depth", 2, 64)?)
                .map_err(|_| bad("accounts.max_depth", "a small number"))?,
            realm: realm(get("sip.realm"), read_file)?,
            sip_listen: listen_or_off(get("sip.listen"))
                .map_err(|_| bad("sip.listen", "an address such as 0.0.0.0:5060, or off"))?,
            sip_tls_listen: listen_or_off(get("sip.tls_listen"))
                .map_err(|_| bad("sip.tls_listen", "an address such as 0.0.0.0:5061, or off"))?,
            sip: sip_settings(&number, get("sip.digest_algorithms"))?,
            auth_max_failures: u32::try_from(number("auth.max_failures", 1, 1_000_000)?)
                .map_err(|_| bad("auth.max_failures", "a number"))?,
            auth_window_secs: secs("auth.window_secs")?,
            auth_backoff_secs: secs("auth.backoff_secs")?,
            console_idle_secs: secs("console.idle_secs")?,
        })
    }
}

/// An address, or `None` for `off`.
fn listen_or_off(text: &str) -> Result<Option<SocketAddr>, std::net::AddrParseError> {
    match text {
        "off" => Ok(None),
        addr => addr.parse().map(Some),
    }
}

fn tls_files(cert: &str, key: &str) -> Result<TlsFiles, String> {
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => Ok(TlsFiles::SelfSigned),
        (false, false) => Ok(TlsFiles::Installed {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        }),
        _ => Err("tls.cert_file and tls.key_file go together: set both or neither".to_string()),
    }
}

fn sip_settings(
    number: &dyn Fn(&str, u64, u64) -> Result<u64, String>,
    digest_algorithms: &str,
) -> Result<SipSettings, String> {
    let small = |key: &str, min: u64, max: u64| -> Result<u32, String> {
        u32::try_from(number(key, min, max)?).map_err(|_| format!("{key} is too large"))
    };
    let count = |key: &str, min: u64, max: u64| -> Result<usize, String> {
        usize::try_from(number(key, min, max)?).map_err(|_| format!("{key} is too large"))
    };
    let settings = SipSettings {
        digest_algorithms: DigestAlgorithms::parse(digest_algorithms).ok_or_else(|| {
            format!(
                "invalid value {digest_algorithms:?} for sip.digest_algorithms: expected MD5, \
                 SHA-256 or both, each once (MD5,SHA-256)"
            )
        })?,
        min_expires: small("sip.min_expires", 1, 86_400)?,
        max_expires: small("sip.max_expires", 1, 604_800)?,
        default_expires: small("sip.default_expires", 1, 604_800)?,
        max_contacts: count("sip.max_contacts", 1, 100)?,
        udp_workers: count("sip.udp_workers", 1, 64)?,
        udp_receive_buffer_bytes: count("sip.udp_receive_buffer_bytes", 4096, 1 << 30)?,
        tcp_max_connections: count("sip.tcp_max_connections", 1, 65_536)?,
        tcp_max_per_address: count("sip.tcp_max_per_address", 1, 65_536)?,
        message_timeout_secs: number("sip.message_timeout_secs", 1, 3600)?,
        idle_timeout_secs: number("sip.idle_timeout_secs", 1, 3600)?,
    };
    if settings.min_expires > settings.max_expires {
        return Err("sip.min_expires must not exceed sip.max_expires".to_string());
    }
    Ok(settings)
}

/// The realm: as configured, or the host name when empty. A realm goes inside quoted digest
/// parameters, so quotes, backslashes and controls are refused.
/// The machine's host name, `localhost` when none can be read.
fn host_name(read_file: ReadFile<'_>) -> String {
    read_file("/proc/sys/kernel/hostname")
        .or_else(|_| read_file("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn realm(configured: &str, read_file: ReadFile<'_>) -> Result<String, String> {
    let realm = if configured.is_empty() {
        host_name(read_file)
    } else {
        configured.to_string()
    };
    let valid = realm.len() <= 253
        && realm
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if !valid {
        return Err(format!(
            "invalid value {configured:?} for sip.realm: expected a domain name or address"
        ));
    }
    Ok(realm)
}

/// The `--help` text, generated from [`SETTINGS`].
pub fn help() -> String {
    let mut out = String::from(
        "edgecomm: Restcomm-compatible management API and SIP registrar for PBX appliances\n\n\
         USAGE:\n    edgecomm [serve] [OPTIONS]   run the server (default)\n    \
         edgecomm check [OPTIONS]     verify the store's indexes and invariants, then exit\n    \
         edgecomm export [--out FILE] [--bindings] [OPTIONS]\n                                  \
         write every account and client (and binding) as JSON (stdout by default)\n    \
         edgecomm import FILE [OPTIONS]\n                                  \
         load an export into an empty data directory\n\n\
         OPTIONS:\n    --config PATH                 JSON config file (also EDGECOMM_CONFIG)\n    \
         -h, --help                    print this help\n    \
         -V, --version                 print the version\n",
    );
    for setting in SETTINGS {
        out.push_str(&format!(
            "    {:<29} {} [default: {}]\n{:<34}env {}\n",
            format!("{} VALUE", flag_name(setting.key)),
            setting.help,
            setting.default,
            "",
            env_name(setting.key)
        ));
    }
    out.push_str(
        "\nPrecedence: flags, then EDGECOMM_* variables, then the config file, then defaults.\n",
    );
    out
}

fn flag_name(key: &str) -> String {
    format!("--{}", key.replace(['.', '_'], "-"))
}

fn env_name(key: &str) -> String {
    format!("EDGECOMM_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn env_value(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Flattens nested JSON objects into dotted keys with textual values.
fn flatten(
    value: &serde_json::Value,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let serde_json::Value::Object(map) = value else {
        return Err("the top level must be a JSON object".to_string());
    };
    for (name, item) in map {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match item {
            serde_json::Value::Object(_) => flatten(item, &key, out)?,
            serde_json::Value::String(text) => out.push((key, text.clone())),
            serde_json::Value::Number(number) => out.push((key, number.to_string())),
            serde_json::Value::Bool(flag) => out.push((key, flag.to_string())),
            serde_json::Value::Array(items) => {
                let texts: Option<Vec<&str>> = items.iter().map(|item| item.as_str()).collect();
                let texts = texts.ok_or_else(|| format!("key {key:?} must list strings"))?;
                out.push((key, texts.join(",")));
            }
            _ => return Err(format!("key {key:?} must be a string, a number or a list")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(args: &[&str], env: &[(&str, &str)], file: &str) -> Result<Command, String> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let file = file.to_string();
        load(&args, &env, &move |path| match path {
            "/proc/sys/kernel/hostname" => Ok("pbx-7.example.net\n".to_string()),
            _ => Ok(file.clone()),
        })
    }

    fn serve(result: Result<Command, String>) -> Config {
        match result {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_no_input() {
        let config = serve(load_with(&[], &[], ""));
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.cache_bytes, 16 * 1024 * 1024);
        assert_eq!(config.admin_email.as_str(), "admin@localhost");
        assert_eq!(config.max_depth, 16);
        assert_eq!(
            config.realm, "pbx-7.example.net",
            "the host name, through the reader"
        );
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let file = r#"{"http": {"listen": "127.0.0.1:1"}, "data_dir": "/file", "accounts": {"max_depth": 5}}"#;
        let env = [
            ("EDGECOMM_HTTP_LISTEN", "127.0.0.1:2"),
            ("EDGECOMM_DATA_DIR", "/env"),
        ];
        let config = serve(load_with(
            &["--config", "x.json", "--data-dir=/flag"],
            &env,
            file,
        ));
        assert_eq!(config.http_listen.to_string(), "127.0.0.1:2");
        assert_eq!(config.data_dir, PathBuf::from("/flag"));
        assert_eq!(config.max_depth, 5);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err =
            load_with(&["--config", "c.json"], &[], r#"{"http": {"lisen": "x"}}"#).unwrap_err();
        assert!(err.contains("\"http.lisen\""), "{err}");
        let err = load_with(&["--http-listen", "nowhere"], &[], "").unwrap_err();
        assert!(
            err.contains("http.listen") && err.contains("nowhere"),
            "{err}"
        );
        let err = load_with(&[], &[("EDGECOMM_HTTP_LISTN", "x")], "").unwrap_err();
        assert!(err.contains("EDGECOMM_HTTP_LISTN"), "{err}");
        let err = load_with(&["--bogus", "1"], &[], "").unwrap_err();
        assert_eq!(err, "unknown flag --bogus (see --help)");
        // Last on the line, an unknown flag is still unknown, not one that needs a value.
        let err = load_with(&["--bogus"], &[], "").unwrap_err();
        assert_eq!(err, "unknown flag --bogus (see --help)");
        let err = load_with(&["--data-dir"], &[], "").unwrap_err();
        assert_eq!(err, "--data-dir needs a value");
        let err = load_with(&["--http-workers", "0"], &[], "").unwrap_err();
        assert!(err.contains("http.workers"), "{err}");
        let err = load_with(&["--config", "c.json"], &[], "[1]").unwrap_err();
        assert!(err.contains("object"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn help_lists_every_setting() {
        let Ok(Command::Print(text)) = load_with(&["--help"], &[], "") else {
            panic!("no help")
        };
        for setting in SETTINGS {
            assert!(text.contains(&flag_name(setting.key)), "{}", setting.key);
            assert!(text.contains(&env_name(setting.key)), "{}", setting.key);
        }
    }

    #[test]
    fn example_config_holds_every_default() {
        let example = include_str!("../assets/config.example.json");
        let json: serde_json::Value = serde_json::from_str(example).unwrap();
        let mut found = Vec::new();
        flatten(&json, "", &mut found).unwrap();
        let expected: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|setting| (setting.key.to_string(), setting.default.to_string()))
            .collect();
        found.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(found, expected_sorted);
    }
}
