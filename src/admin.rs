//! The offline commands: `edgecomm export`, `import` and `check`, run while the server is
//! stopped (sled lets one process own a data directory), and the private-file writer they
//! share with the first start.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::clock::now;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::backup::{self, Imported};
use crate::store::{check, Store};

/// `edgecomm export`: the whole store as JSON, to `out` (mode 0600: it holds password hashes
/// and HA1 values) or to stdout. The server must be stopped: sled allows one process.
pub fn export(config: &Config, out: Option<&str>, bindings: bool) -> Result<()> {
    let store = open_existing(config)?;
    let document = backup::export(&store, bindings)?;
    match out {
        Some(path) => write_private(Path::new(path), &String::from_utf8_lossy(&document)),
        None => {
            std::io::stdout().write_all(&document)?;
            Ok(())
        }
    }
}

/// `edgecomm import FILE`: loads an export into an empty data directory. A refused import
/// leaves nothing behind: what it created (the directory, or the database in it) is removed,
/// so the next attempt, or the server's first start, finds it as it was.
pub fn import(config: &Config, file: &str) -> Result<Imported> {
    let bytes = fs::read(file)
        .map_err(|err| Error::Io(std::io::Error::other(format!("cannot read {file}: {err}"))))?;
    let dir = &config.data_dir;
    let db = dir.join("db");
    let (had_dir, had_db) = (dir.exists(), db.exists());
    let result = fs::create_dir_all(dir)
        .map_err(Error::from)
        .and_then(|()| Store::open(&db, config.cache_bytes, &config.realm, now()))
        .and_then(|store| backup::import(&store, &bytes));
    if result.is_err() {
        // The store is closed by now (dropped inside and_then), so its files can go.
        let leftover = if had_dir { &db } else { dir };
        if !had_db && leftover.exists() {
            if let Err(err) = fs::remove_dir_all(leftover) {
                log::warn!("could not remove {}: {err}", leftover.display());
            }
        }
    }
    result
}

/// `edgecomm check`: the store's invariant problems, none when it is consistent.
pub fn check(config: &Config) -> Result<Vec<String>> {
    check::run(&open_existing(config)?)
}

/// Opens the store of a data directory that has one; a missing one (a typo in `--data-dir`)
/// is an error, never a fresh empty store that would pass for a consistent one.
fn open_existing(config: &Config) -> Result<Store> {
    let db = config.data_dir.join("db");
    if !db.is_dir() {
        return Err(Error::Io(std::io::Error::other(format!(
            "no data in {} (no database at {})",
            config.data_dir.display(),
            db.display()
        ))));
    }
    Store::open(&db, config.cache_bytes, &config.realm, now())
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
