//! The `edgecomm` binary: parse arguments and environment, start logging, run.
//! Everything else lives in the library.

use std::process::ExitCode;

use edgecomm::app::{self, App};
use edgecomm::config::{self, Command, Config};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let command = match config::load(&args, &env, &|path| std::fs::read_to_string(path)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("edgecomm: {message}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Print(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Serve(config) => {
            init_logging(&config);
            match App::build(config).and_then(App::run) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("edgecomm: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Export {
            config,
            out,
            bindings,
        } => {
            init_logging(&config);
            match app::export(&config, out.as_deref(), bindings) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("edgecomm: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Import { config, file } => {
            init_logging(&config);
            match app::import(&config, &file) {
                Ok(done) => {
                    println!(
                        "imported {} accounts, {} clients, {} bindings",
                        done.accounts, done.clients, done.bindings
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("edgecomm: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check(config) => {
            init_logging(&config);
            match app::check(config) {
                Ok(problems) if problems.is_empty() => {
                    println!("store is consistent");
                    ExitCode::SUCCESS
                }
                Ok(problems) => {
                    for problem in problems {
                        println!("{problem}");
                    }
                    ExitCode::FAILURE
                }
                Err(err) => {
                    eprintln!("edgecomm: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(config: &Config) {
    // The level is set explicitly: simple_logger's default is Trace. Logs go to stderr
    // (journald under systemd); stdout carries only the READY line.
    let _ = simple_logger::SimpleLogger::new()
        .with_level(config.log_level)
        .with_module_level("tiny_http", log::LevelFilter::Warn)
        .with_module_level("sled", log::LevelFilter::Warn)
        .init();
}

/// glibc gives threads that allocate at once arenas of their own, up to eight per core; with
/// the UDP readers, the HTTP workers and sled's threads that kept about 9 MB more resident
/// after a REGISTER storm (measured with the benchmark of issue #6), for no speed we could
/// measure. Two arenas keep contention low. `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const M_ARENA_MAX: std::ffi::c_int = -8;
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no thread has started yet.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

/// musl has one allocator arena to begin with.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
