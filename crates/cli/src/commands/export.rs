//! `modelbench export`: a stored run as a report file (Markdown, CSV, JSON, HTML or PDF).
//!
//! The engine builds and renders the report (through the workbench's `export`, as the desktop
//! app does); this only picks the format and writes the bytes, to stdout or a file.
//!
//! A file is written carefully: an existing file is replaced only with `--force` (and then by
//! renaming a finished temporary file over it, so a symlink at the destination is replaced,
//! never followed), and never the database itself or its `-wal`/`-shm`, however the path is
//! spelled (a symlink, a hard link, `dir/../modelbench.db`).

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use modelbench_engine::report::Format;
use modelbench_engine::store::Store;
use modelbench_workbench::pdf;

#[derive(Args)]
pub struct ExportArgs {
    /// A run id or a unique prefix of one (as `runs show` takes).
    run_id: String,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the file given with -o if it exists.
    #[arg(long, requires = "output")]
    force: bool,
    /// Who signs the PDF report off, as "Name, Role" (repeatable; default: two blank blocks).
    #[arg(long, value_name = "NAME, ROLE")]
    signoff: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// Markdown
    Md,
    /// One row per response
    Csv,
    /// The full structured report (docs/report-json.md)
    Json,
    /// One self-contained page: no script, nothing loaded from outside
    Html,
    /// A paginated document to sign off, fonts embedded (--signoff names who signs)
    Pdf,
}

impl ExportFormat {
    /// The engine's text format; `None` for the PDF, which the workbench typesets.
    fn engine(self) -> Option<Format> {
        match self {
            Self::Md => Some(Format::Markdown),
            Self::Csv => Some(Format::Csv),
            Self::Json => Some(Format::Json),
            Self::Html => Some(Format::Html),
            Self::Pdf => None,
        }
    }
}

pub fn run(store: &Store, args: ExportArgs) -> Result<()> {
    let run = crate::database::find_run(store, &args.run_id)?;
    let id = run.record.id;
    let (report, format) = match args.format.engine() {
        Some(format) => (
            modelbench_workbench::export::render(&run, format).into_bytes(),
            format.as_str(),
        ),
        None => (pdf::run_pdf(&run, &signers(&args.signoff)?)?, "pdf"),
    };
    match &args.output {
        Some(path) => {
            write_report(path, &report, args.force, store.path())
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("wrote the {format} report of run {id} to {}", path.display());
        }
        None if format == "pdf" && std::io::stdout().is_terminal() => {
            bail!("a PDF is not for the terminal: write it with -o FILE (or pipe it)")
        }
        // A report read on a terminal is shown like everything else; piped, it is the file.
        None if std::io::stdout().is_terminal() => {
            let mut out = crate::terminal::stdout().lock();
            out.write_all(&report)?;
            out.flush()?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&report)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The sign-off block's people, from `--signoff "Name, Role"` values.
pub(crate) fn signers(values: &[String]) -> Result<Vec<pdf::Signer>> {
    Ok(values
        .iter()
        .map(|value| pdf::Signer::parse(value))
        .collect::<Result<_, _>>()?)
}

/// Writes `bytes` to `path` as the module docs say.
pub(crate) fn write_report(path: &Path, bytes: &[u8], force: bool, database: &Path) -> Result<()> {
    refuse_database(path, database)?;
    let existing = match std::fs::symlink_metadata(path) {
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error.into()),
    };
    match existing {
        // `create_new` fails on anything already there, a dangling symlink included.
        None => write_new(path, bytes),
        Some(_) if !force => bail!("the file already exists; pass --force to replace it"),
        Some(metadata) if metadata.is_dir() => bail!("it is a directory"),
        Some(metadata) => {
            let permissions = metadata.is_file().then(|| metadata.permissions());
            replace(path, bytes, permissions)
        }
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("the file already exists; pass --force to replace it")
            }
            _ => error.into(),
        })?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Writes a temporary file beside `path` and renames it over `path`: the rename replaces
/// whatever entry is there (a symlink itself, not its target), and a failed write leaves the
/// old file whole.
fn replace(path: &Path, bytes: &[u8], permissions: Option<std::fs::Permissions>) -> Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().context("no file name")?.to_string_lossy();
    let (temporary, mut file) = (0..100)
        .find_map(|attempt| {
            let candidate = directory.join(format!(".{name}.{}-{attempt}.tmp", std::process::id()));
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&candidate)
                .ok()
                .map(|file: File| (candidate, file))
        })
        .with_context(|| format!("cannot create a temporary file in {}", directory.display()))?;
    let written = (|| -> Result<()> {
        file.write_all(bytes)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Refuses `path` if it is the database or one of its `-wal`/`-shm` files: by the path with
/// its directory resolved, or (when it exists) by being the same file.
fn refuse_database(path: &Path, database: &Path) -> Result<()> {
    let resolved = resolve_directory(path);
    for suffix in ["", "-wal", "-shm"] {
        let mut candidate = database.as_os_str().to_owned();
        candidate.push(suffix);
        let candidate = PathBuf::from(candidate);
        let same_path = resolved.is_some() && resolved == resolve_directory(&candidate);
        if same_path || same_file(path, &candidate) {
            bail!(
                "{} is the database (or its journal): a report never goes there",
                candidate.display()
            );
        }
    }
    Ok(())
}

/// `path` with its directory made canonical (the file itself need not exist).
fn resolve_directory(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(directory).ok()?.join(name))
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use modelbench_engine::record::now_unix_ms;

    use super::*;

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "modelbench-export-{test}-{}-{}",
            std::process::id(),
            now_unix_ms()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn existing_files_need_force_and_symlinks_are_never_followed() {
        let dir = scratch("force");
        let database = dir.join("modelbench.db");
        std::fs::write(&database, "db").expect("db");
        let report = dir.join("report.md");
        write_report(&report, b"one", false, &database).expect("new file");
        let error = write_report(&report, b"two", false, &database).expect_err("exists");
        assert!(format!("{error:#}").contains("--force"), "{error:#}");
        assert_eq!(std::fs::read(&report).expect("read"), b"one");
        write_report(&report, b"two", true, &database).expect("forced");
        assert_eq!(std::fs::read(&report).expect("read"), b"two");

        let victim = dir.join("victim.txt");
        std::fs::write(&victim, "victim").expect("victim");
        let link = dir.join("link.md");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&victim, &link).expect("symlink");
            assert!(write_report(&link, b"x", false, &database).is_err());
            write_report(&link, b"x", true, &database).expect("replaces the link");
            assert_eq!(std::fs::read(&victim).expect("read"), b"victim");
            assert_eq!(std::fs::read(&link).expect("read"), b"x");
            let dangling = dir.join("dangling.md");
            std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).expect("symlink");
            assert!(write_report(&dangling, b"x", false, &database).is_err());
            assert!(!dir.join("nowhere").exists());
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn the_database_is_never_a_destination() {
        let dir = scratch("database");
        let database = dir.join("modelbench.db");
        std::fs::write(&database, "db").expect("db");
        std::fs::create_dir(dir.join("sub")).expect("sub");
        for path in [
            database.clone(),
            dir.join("modelbench.db-wal"),
            dir.join("modelbench.db-shm"),
            dir.join("sub").join("..").join("modelbench.db"),
        ] {
            for force in [false, true] {
                let error = write_report(&path, b"x", force, &database).expect_err("refused");
                assert!(format!("{error:#}").contains("database"), "{error:#}");
            }
        }
        #[cfg(unix)]
        {
            let hard = dir.join("hard.md");
            std::fs::hard_link(&database, &hard).expect("hard link");
            assert!(write_report(&hard, b"x", true, &database).is_err());
            let soft = dir.join("soft.md");
            std::os::unix::fs::symlink(&database, &soft).expect("symlink");
            assert!(write_report(&soft, b"x", true, &database).is_err());
        }
        assert_eq!(std::fs::read(&database).expect("db"), b"db");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
