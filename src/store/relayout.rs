//! Moving a data directory made with other segments than [`SEGMENT_BYTES`] (releases before
//! the flash work made sled's default 512 KiB ones) to the small ones, at open, by itself:
//! sled refuses to open a directory with another segment size, and with the large ones API
//! churn leaves a directory well past 2x its live data (README, Flash wear).
//!
//! The move is an export and an import into `db.new` beside the directory, then two renames
//! (`db` to `db.old`, `db.new` to `db`) and the removal of `db.old`. A crash at any point
//! leaves a state the next open recognises (`take_complete_copy`, `remove_leftovers`):
//! `db.new` is complete once `db` has been renamed away, so it is taken; before that it is a
//! partial copy and goes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::{backup, Store, SEGMENT_BYTES};

/// The directories beside `dir` that a move uses: (the new copy, the old one being retired).
fn siblings(dir: &Path) -> (PathBuf, PathBuf) {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db".to_string());
    (
        dir.with_file_name(format!("{name}.new")),
        dir.with_file_name(format!("{name}.old")),
    )
}

/// Completes a move a crash interrupted between its renames, before `dir` is opened:
/// `db.new` was complete before `db` was renamed away.
pub(super) fn take_complete_copy(dir: &Path) -> Result<()> {
    let (new, old) = siblings(dir);
    if dir.exists() {
        return Ok(());
    }
    let complete = if new.exists() { new } else { old };
    if complete.exists() {
        log::warn!("finishing an interrupted move of {}", dir.display());
        fs::rename(&complete, dir)?;
        sync_parent(dir)?;
    }
    Ok(())
}

/// Removes what an interrupted move left beside `dir` (a partial copy, a retired
/// directory); called once `dir` is open, so under the lock sled holds on it.
pub(super) fn remove_leftovers(dir: &Path) -> Result<()> {
    let (new, old) = siblings(dir);
    for leftover in [new, old] {
        if leftover.exists() {
            fs::remove_dir_all(&leftover)?;
        }
    }
    Ok(())
}

/// Moves the open `store` of `dir`, made with `made_with`-byte segments, to
/// [`SEGMENT_BYTES`] ones and returns the store reopened there. When the copy cannot be
/// made (a full disk, say), the old store is kept and serves as before.
pub(super) fn move_to_small_segments(
    store: Store,
    dir: &Path,
    made_with: usize,
    open: impl Fn(&Path, usize) -> Result<Store>,
) -> Result<Store> {
    let (new, old) = siblings(dir);
    log::warn!(
        "moving {} from {made_with}-byte to {SEGMENT_BYTES}-byte segments (flash wear)",
        dir.display()
    );
    // The new store is closed (dropped) before the renames.
    let copied = backup::export(&store, true)
        .and_then(|document| backup::import(&open(&new, SEGMENT_BYTES)?, &document));
    let imported = match copied {
        Ok(imported) => imported,
        Err(err) => {
            log::warn!("kept the old segments: the copy failed: {err}");
            if new.exists() {
                fs::remove_dir_all(&new)?;
            }
            return Ok(store);
        }
    };
    drop(store);
    fs::rename(dir, &old)?;
    sync_parent(dir)?;
    fs::rename(&new, dir)?;
    sync_parent(dir)?;
    fs::remove_dir_all(&old)?;
    log::warn!(
        "moved {}: {} accounts, {} clients, {} bindings",
        dir.display(),
        imported.accounts,
        imported.clients,
        imported.bindings
    );
    open(dir, SEGMENT_BYTES)
}

/// Makes the renames in `dir`'s parent durable.
fn sync_parent(dir: &Path) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(parent)?.sync_all().map_err(Error::from)
}
