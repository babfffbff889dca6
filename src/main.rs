//! The `edgecomm` binary: parse arguments and environment, start logging, run the command.
//! Everything else lives in the library; every failure leaves through one exit below.

use std::process::ExitCode;

use edgecomm::app::App;
use edgecomm::config::{self, Command, Config};
use edgecomm::{admin, error};

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
    match run(command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("edgecomm: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; `Ok` carries the exit code of a command that ran to its end.
fn run(command: Command) -> error::Result<ExitCode> {
    match command {
        Command::Print(text) => print!("{text}"),
        Command::Serve(config) => {
            init_logging(&config);
            App::build(config)?.run()?;
        }
        Command::Export {
            config,
            out,
            bindings,
        } => {
            init_logging(&config);
            admin::export(&config, out.as_deref(), bindings)?;
        }
        Command::Import { config, file } => {
            init_logging(&config);
            let done = admin::import(&config, &file)?;
            println!(
                "imported {} accounts, {} clients, {} bindings",
                done.accounts, done.clients, done.bindings
            );
        }
        Command::Check(config) => {
            init_logging(&config);
            let problems = admin::check(&config)?;
            if problems.is_empty() {
                println!("store is consistent");
            }
            for problem in &problems {
                println!("{problem}");
            }
            if !problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
