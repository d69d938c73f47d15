//! Set-up shared by the privacy tests that reach around the gate into the SQLite files, as
//! someone with access to the database server could.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// A raw pool on the database file `db` with its audit file (`<db>.audit`) attached as `audit`,
/// as the store attaches it, so `audit_log` and `audit_head` resolve like they do for the store.
pub async fn raw(db: &Path) -> SqlitePool {
    let audit = format!("{}.audit", db.display());
    SqlitePoolOptions::new()
        .after_connect(move |conn, _| {
            let audit = audit.clone();
            Box::pin(async move {
                sqlx::query("ATTACH DATABASE $1 AS audit")
                    .bind(audit)
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(SqliteConnectOptions::new().filename(db))
        .await
        .unwrap()
}
