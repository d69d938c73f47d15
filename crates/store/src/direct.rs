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
//! * **writes** run on one writer thread of their own, on its own connection, one after another
//!   (a writer may wait for SQLite's write lock): one hop for the whole transaction instead of
//!   one per statement. A thread of its own rather than tokio's blocking pool, where writes
//!   waiting for the one connection made the pool start a thread each (seventy under load,
//!   each keeping its allocator's memory).
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

/// The files of one SQLite store.
#[derive(Clone)]
struct Files {
    main: PathBuf,
    keys: PathBuf,
    audit: PathBuf,
}

/// A write for the writer thread: runs on its connection (opened on first use; `None` after a
/// failed open).
type WriteJob = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The files of one SQLite store, and the direct connections opened on them.
pub(crate) struct Direct {
    files: Files,
    readers: Mutex<Vec<Connection>>,
    /// The writer thread's queue (started on the first write, ended by [`Direct::close`]).
    writer: Mutex<Option<std::sync::mpsc::Sender<WriteJob>>>,
    /// Decrypted accounts and balances, and merchant names, kept between questions
    /// (`read_cache.rs`).
    pub(crate) balances: crate::read_cache::ReadCache,
    /// Customers known to have no live support conversation (`quiet_support.rs`).
    pub(crate) quiet_support: crate::quiet_support::QuietSupport,
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

impl Files {
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
            // Reads map the main file instead of copying each page in: any write (by any
            // process) empties a connection's page cache, so without it the first read after
            // one re-reads each page with a system call and a copy.
            conn.execute_batch("PRAGMA query_only = ON; PRAGMA mmap_size = 268435456;")?;
        }
        Ok(conn)
    }
}

impl Direct {
    /// For the database at `main` with its companion files (opened on first use, after sqlx
    /// has created and migrated them).
    pub(crate) fn new(main: &Path, keys: &Path, audit: &Path) -> Direct {
        Direct {
            files: Files {
                main: main.to_owned(),
                keys: keys.to_owned(),
                audit: audit.to_owned(),
            },
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            balances: crate::read_cache::ReadCache::default(),
            quiet_support: crate::quiet_support::QuietSupport::default(),
        }
    }

    /// Closes the idle connections (one in use closes when it is done) and ends the writer
    /// thread once the writes queued before are done.
    pub(crate) async fn close(&self) {
        lock(&self.readers).clear();
        let writer = lock(&self.writer).take();
        if let Some(queue) = writer {
            let (done, closed) = tokio::sync::oneshot::channel();
            let job: WriteJob = Box::new(move |conn| {
                conn.take();
                let _ = done.send(());
            });
            if queue.send(job).is_ok() {
                let _ = closed.await;
            }
        }
    }

    /// Runs `f` on a read-only connection, on this thread.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.files.open(true)?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` on the direct writer connection, on the writer thread (`f` starts and ends its
    /// own transaction).
    pub(crate) async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let files = self.files.clone();
        let job: WriteJob = Box::new(move |conn| {
            let out = match conn {
                Some(c) => f(c),
                None => match files.open(false) {
                    Ok(c) => f(conn.insert(c)),
                    Err(e) => Err(e),
                },
            };
            // The caller may have stopped waiting: the write is done either way.
            let _ = reply.send(out);
        });
        self.queue()?
            .send(job)
            .map_err(|_| writer_gone("writer thread stopped"))?;
        answer
            .await
            .map_err(|_| writer_gone("writer thread crashed"))?
    }

    /// The writer thread's queue, starting the thread on first use.
    fn queue(&self) -> Result<std::sync::mpsc::Sender<WriteJob>, StoreError> {
        let mut writer = lock(&self.writer);
        if let Some(q) = &*writer {
            return Ok(q.clone());
        }
        let (queue, jobs) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("okienko-sqlite-writer".into())
            .spawn(move || {
                let mut conn: Option<Connection> = None;
                // Ends when every sender is gone (the store dropped or closed).
                while let Ok(job) = jobs.recv() {
                    // A panicking write loses its own reply (the caller gets an error), not the
                    // thread; its connection is dropped, as it may be mid-transaction.
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        job(&mut conn);
                    }));
                    if ran.is_err() {
                        conn = None;
                    }
                }
            })
            .map_err(|_| writer_gone("writer thread could not start"))?;
        *writer = Some(queue.clone());
        Ok(queue)
    }
}

fn writer_gone(kind: &'static str) -> StoreError {
    StoreError::Query(DbFailure {
        kind,
        code: None,
        constraint: None,
    })
}
