//! Direct SQLite connections for the statements on a chat answer's path.
//!
//! sqlx runs every SQLite connection on a worker thread of its own and passes each statement,
//! and each row of its result, between that thread and the caller's. On the two-core machine a
//! one-row indexed read cost 100–200 µs that way, nearly all of it threads waking each other
//! (`perf`: 40 % of the gateway's time in the scheduler), and a balance answer made about ten
//! such round trips (`okienko bench chat`, issue 9). The statements here run through rusqlite
//! instead, on the same SQLite library (libsqlite3-sys, shared with sqlx), the same files and the
//! same settings:
//!
//! * **reads** run on the calling thread: a few microseconds, and in WAL mode a reader never
//!   waits for a writer, so a task is not held up;
//! * **writes** run on tokio's blocking pool on one connection of their own (a writer may wait
//!   for SQLite's write lock), one hop for the whole transaction instead of one per statement.
//!
//! Only the hot statements use this (the methods say so); everything else, and PostgreSQL
//! always, goes through sqlx. A statement's text is shared with its sqlx twin where it can be.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::error::{DbFailure, StoreError};
use crate::store::SQLITE_BUSY_TIMEOUT;

/// Idle read connections kept for reuse (more are opened when more tasks read at once, and
/// closed when they are done).
const IDLE_READERS: usize = 8;

/// The files of one SQLite store, and the direct connections opened on them.
pub(crate) struct Direct {
    main: PathBuf,
    keys: PathBuf,
    audit: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<Connection>>,
    /// Decrypted accounts and balances kept between questions (`read_cache.rs`).
    pub(crate) balances: crate::read_cache::ReadCache,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl From<&rusqlite::Error> for DbFailure {
    fn from(e: &rusqlite::Error) -> Self {
        let (kind, code) = match e {
            // The message is dropped: SQLite's text can quote a value.
            rusqlite::Error::SqliteFailure(f, _) => ("database", Some(f.extended_code.to_string())),
            rusqlite::Error::QueryReturnedNoRows => ("row not found", None),
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => ("decode", None),
            rusqlite::Error::ToSqlConversionFailure(_) => ("encode", None),
            rusqlite::Error::InvalidColumnIndex(_) => ("column index out of bounds", None),
            rusqlite::Error::InvalidColumnName(_) => ("column not found", None),
            _ => ("other", None),
        };
        DbFailure {
            kind,
            code,
            constraint: None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Query(DbFailure::from(&e))
    }
}

impl Direct {
    /// For the database at `main` with its companion files (opened on first use, after sqlx
    /// has created and migrated them).
    pub(crate) fn new(main: &Path, keys: &Path, audit: &Path) -> Direct {
        Direct {
            main: main.to_owned(),
            keys: keys.to_owned(),
            audit: audit.to_owned(),
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            balances: crate::read_cache::ReadCache::default(),
        }
    }

    /// A connection with the store's settings (see `store.rs`): both companions attached,
    /// overwrite-on-delete, foreign keys, the audit file fsynced at every commit.
    fn open(&self, read_only: bool) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.main, flags)?;
        conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        for (file, schema) in [(&self.keys, "keys"), (&self.audit, "audit")] {
            // The schema name is one of the two literals above.
            conn.execute(
                &format!("ATTACH DATABASE ?1 AS {schema}"),
                [file.to_string_lossy().as_ref()],
            )?;
        }
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; \
             PRAGMA keys.secure_delete = ON; PRAGMA synchronous = NORMAL; \
             PRAGMA keys.synchronous = NORMAL; PRAGMA audit.synchronous = FULL;",
        )?;
        if read_only {
            conn.execute_batch("PRAGMA query_only = ON")?;
        }
        Ok(conn)
    }

    /// Closes the idle connections (one in use closes when it is done).
    pub(crate) fn close(&self) {
        lock(&self.readers).clear();
        lock(&self.writer).take();
    }

    /// Runs `f` on a read-only connection, on this thread.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open(true)?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` on the direct writer connection, on the blocking pool (`f` starts and ends its
    /// own transaction).
    pub(crate) async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = lock(&me.writer);
            let conn = match &mut *writer {
                Some(c) => c,
                None => writer.insert(me.open(false)?),
            };
            f(conn)
        })
        .await
        .map_err(|_| {
            StoreError::Query(DbFailure {
                kind: "worker crashed",
                code: None,
                constraint: None,
            })
        })?
    }
}
