//! The PostgreSQL user name when the URL gives none. libpq (and so `psql`) falls back to the
//! operating-system user; sqlx 0.9 falls back to a placeholder ("anonymous") that no server knows.
//! Following libpq keeps `postgres://127.0.0.1:5432/db` meaning the same thing to both.

/// The user to connect as when `url` names none and `PGUSER` is unset; `None` keeps sqlx's choice.
pub(crate) fn implicit_user(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !parsed.username().is_empty() || std::env::var_os("PGUSER").is_some() {
        return None;
    }
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|u| !u.is_empty())
        .or_else(os_user)
}

#[cfg(unix)]
fn os_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

#[cfg(not(unix))]
fn os_user() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_users_win() {
        assert_eq!(implicit_user("postgres://alice@127.0.0.1/db"), None);
        assert_eq!(implicit_user("not a url"), None);
    }
}
