//! The data directory and what lives in it: the database (`modelbench.db`) and, when the user
//! imported one, a newer price catalog (`prices.json`) that runs are costed at.
//!
//! The one owner of that layout, so the CLI and the desktop app open the same files the same way
//! and can never price a response differently. How a host finds the directory when none is given
//! (a flag, a window) and what it tells the user when it cannot is the host's.

use std::path::{Path, PathBuf};

use modelbench_engine::Store;
use modelbench_engine::pricing::{Catalog, PriceBook};

use crate::error::{Error, Result};

/// The variable both hosts read the data directory from.
pub const DATA_DIR_VARIABLE: &str = "MODELBENCH_DATA_DIR";

/// The file name of an imported catalog, beside the database.
pub const IMPORTED_CATALOG: &str = "prices.json";

/// `explicit` if given, else `MODELBENCH_DATA_DIR` (when set and not empty), else the platform's
/// data directory; `None` when the platform has none.
pub fn resolve(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    match std::env::var_os(DATA_DIR_VARIABLE) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => modelbench_engine::store::default_data_dir(),
    }
}

/// Opens (creating it if needed) the database in `dir`.
pub fn open_store(dir: &Path) -> Result<Store> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let path = dir.join(modelbench_engine::store::DATABASE_FILE);
    Store::open(&path).map_err(|source| Error::OpenDatabase { path, source })
}

/// Where `modelbench prices import` puts a catalog for the runs of `store`.
pub fn imported_catalog_path(store: &Store) -> PathBuf {
    store.path().with_file_name(IMPORTED_CATALOG)
}

/// The prices runs from `store` are costed at: the catalog the user imported beside the
/// database, or else the shipped one, with the store's overrides on top.
pub fn price_book(store: &Store) -> Result<PriceBook> {
    let path = imported_catalog_path(store);
    let book = if path.exists() {
        let catalog = Catalog::load(&path).map_err(|source| Error::ImportedCatalog { path, source })?;
        PriceBook::new(catalog)
    } else {
        PriceBook::shipped()
    };
    Ok(book.with_overrides(store.list_price_overrides()?))
}
