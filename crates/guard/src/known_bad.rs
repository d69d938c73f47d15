//! Known-bad domain lists loaded from files in CERT Polska's warning-list text format (one domain per line,
//! `#` comments; hosts-file lines such as `0.0.0.0 evil.example` are accepted too), reloaded when a file changes.
//!
//! Owns the list state and its refresh. Checks poll the files' modification time and length at most once per
//! `refresh_every` (no background thread to stop); a changed file is re-read whole, so removals from the list
//! take effect as well. A file that cannot be read on a refresh keeps its last good contents and is retried
//! on the next poll. Lookups never block on a reload: readers clone an `Arc` of the current set.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::GuardError;
use crate::extract::normalize_domain;

#[derive(Debug)]
struct FileState {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    domains: HashSet<String>,
}

#[derive(Debug)]
struct Poller {
    files: Vec<FileState>,
    last_poll: Instant,
}

/// The union of all known-bad lists, refreshed on change.
#[derive(Debug)]
pub struct KnownBad {
    current: RwLock<Arc<HashSet<String>>>,
    poller: Mutex<Poller>,
    refresh_every: Duration,
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadStats {
    /// Files re-read because they changed.
    pub files_reloaded: usize,
    /// Domains in the union after the reload.
    pub domains: usize,
}

impl KnownBad {
    /// Loads every file; a missing or unreadable file at start is an error.
    pub fn load(paths: &[PathBuf], refresh_every: Duration) -> Result<Self, GuardError> {
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let stamp = stamp_of(p).map_err(|e| GuardError::ListRead {
                path: p.clone(),
                source: e,
            })?;
            let domains = read_list(p).map_err(|e| GuardError::ListRead {
                path: p.clone(),
                source: e,
            })?;
            files.push(FileState {
                path: p.clone(),
                stamp: Some(stamp),
                domains,
            });
        }
        let union = union_of(&files);
        tracing::info!(
            files = files.len(),
            domains = union.len(),
            "known-bad lists loaded"
        );
        Ok(Self {
            current: RwLock::new(Arc::new(union)),
            poller: Mutex::new(Poller {
                files,
                last_poll: Instant::now(),
            }),
            refresh_every,
        })
    }

    /// An empty list set.
    pub fn empty() -> Self {
        Self {
            current: RwLock::new(Arc::new(HashSet::new())),
            poller: Mutex::new(Poller {
                files: Vec::new(),
                last_poll: Instant::now(),
            }),
            refresh_every: Duration::MAX,
        }
    }

    /// The current set, after a refresh if one is due. Never waits for another thread's reload.
    pub fn snapshot(&self) -> Arc<HashSet<String>> {
        if let Ok(mut poller) = self.poller.try_lock()
            && poller.last_poll.elapsed() >= self.refresh_every
        {
            self.refresh(&mut poller);
        }
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Checks every file now and reloads the changed ones.
    pub fn reload_now(&self) -> ReloadStats {
        let mut poller = self
            .poller
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.refresh(&mut poller)
    }

    /// Number of domains currently loaded.
    pub fn len(&self) -> usize {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn refresh(&self, poller: &mut Poller) -> ReloadStats {
        poller.last_poll = Instant::now();
        let mut reloaded = 0usize;
        for f in &mut poller.files {
            let stamp = match stamp_of(&f.path) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(path = %f.path.display(), error = %e, "known-bad list unreadable; keeping last contents");
                    continue;
                }
            };
            if f.stamp == Some(stamp) {
                continue;
            }
            match read_list(&f.path) {
                Ok(domains) => {
                    f.domains = domains;
                    f.stamp = Some(stamp);
                    reloaded += 1;
                }
                Err(e) => {
                    tracing::warn!(path = %f.path.display(), error = %e, "known-bad list reload failed; keeping last contents");
                }
            }
        }
        if reloaded > 0 {
            let union = union_of(&poller.files);
            tracing::info!(
                files = reloaded,
                domains = union.len(),
                "known-bad lists reloaded"
            );
            *self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(union);
        }
        ReloadStats {
            files_reloaded: reloaded,
            domains: self.len(),
        }
    }
}

/// True when `host` or one of its parents down to (and including) `registrable` is listed.
pub fn listed(set: &HashSet<String>, host: &str, registrable: Option<&str>) -> Option<String> {
    let mut h = host;
    loop {
        if set.contains(h) {
            return Some(h.to_string());
        }
        if Some(h) == registrable {
            return None;
        }
        match h.split_once('.') {
            Some((_, parent)) if parent.contains('.') => h = parent,
            _ => return None,
        }
    }
}

fn stamp_of(p: &Path) -> std::io::Result<(SystemTime, u64)> {
    let md = std::fs::metadata(p)?;
    Ok((md.modified()?, md.len()))
}

fn union_of(files: &[FileState]) -> HashSet<String> {
    let mut all = HashSet::with_capacity(files.iter().map(|f| f.domains.len()).sum());
    for f in files {
        all.extend(f.domains.iter().cloned());
    }
    all
}

/// Reads one list file. Lines that are not domains are skipped.
pub fn read_list(p: &Path) -> std::io::Result<HashSet<String>> {
    let bytes = std::fs::read(p)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(parse_list(&text))
}

/// Parses list text: one domain per line, `#`/`!` comments, hosts-file lines, `*.` wildcards.
pub fn parse_list(text: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('!') {
            continue;
        }
        // Hosts-file lines ("0.0.0.0 evil.example") list the domain last.
        let token = line.split_whitespace().last().unwrap_or("");
        let token = token
            .trim_start_matches("*.")
            .trim_start_matches("||")
            .trim_end_matches('^');
        if let Ok(ip) = token.parse::<std::net::IpAddr>() {
            set.insert(ip.to_string());
        } else if let Some(d) = normalize_domain(token) {
            set.insert(d);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats() {
        let s = parse_list(
            "# c\nEvil.example\n0.0.0.0 hosts.example\n*.wild.example\n\nnot a domain\n",
        );
        assert!(s.contains("evil.example"));
        assert!(s.contains("hosts.example"));
        assert!(s.contains("wild.example"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn parents_up_to_registrable() {
        let set: HashSet<String> =
            ["bad.example".to_string(), "x.shared.example".to_string()].into();
        assert!(listed(&set, "a.b.bad.example", Some("bad.example")).is_some());
        assert!(listed(&set, "shared.example", Some("shared.example")).is_none());
        assert!(listed(&set, "y.x.shared.example", Some("shared.example")).is_some());
    }
}
