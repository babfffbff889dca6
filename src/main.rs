//! The `edgecomm` binary: parse arguments and environment, start logging, run.
//! Everything else lives in the library.

use std::process::ExitCode;

use edgecomm::app::{self, App};
use edgecomm::config::{self, Command, Config};

fn main() -> ExitCode {
    edgecomm::alloc::limit_arenas();
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
