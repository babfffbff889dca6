//! The offline commands: `edgecomm export`, `import` and `check`, run while the server is
//! stopped (sled lets one process own a data directory), and the private-file writer they
//! share with the first start.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::backup::{self, Imported};
use crate::store::{check, Store};

/// `edgecomm export`: the whole store as JSON, to `out` (mode 0600: it holds password hashes
/// and HA1 values) or to stdout. The server must be stopped: sled allows one process.
pub fn export(config: &Config, out: Option<&str>, bindings: bool) -> Result<()> {
    let db = config.data_dir.join("db");
    if !db.exists() {
        return Err(Error::Io(std::io::Error::other(format!(
            "no data in {}",
            config.data_dir.display()
        ))));
    }
    let store = Store::open(&db, config.cache_bytes)?;
    let document = backup::export(&store, bindings)?;
    match out {
        Some(path) => write_private(Path::new(path), &String::from_utf8_lossy(&document)),
        None => {
            std::io::stdout().write_all(&document)?;
            Ok(())
        }
    }
}

/// `edgecomm import FILE`: loads an export into an empty data directory.
pub fn import(config: &Config, file: &str) -> Result<Imported> {
    let bytes = fs::read(file)
        .map_err(|err| Error::Io(std::io::Error::other(format!("cannot read {file}: {err}"))))?;
    fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.data_dir.join("db"), config.cache_bytes)?;
    backup::import(&store, &bytes)
}

/// `edgecomm check`: the store's invariant problems, none when it is consistent.
pub fn check(config: &Config) -> Result<Vec<String>> {
    fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.data_dir.join("db"), config.cache_bytes)?;
    check::run(&store)
}

/// Writes a file readable by its owner only, atomically (temporary file, fsync, rename).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}
