//! Typo tolerance: a small optimal-string-alignment distance for short words.
//!
//! Owns the one rule for "close enough" ("kocie" ~ "koncie", "konat" ~ "konta"), so every lexicon
//! matches typos the same way. Words are compared only when they share the first letter and are
//! long enough for a single slip not to turn one real word into another.

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), capped: returns
/// `max + 1` as soon as the distance is known to exceed `max`.
pub fn osa(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
    }
    d[a.len() * w + b.len()]
}

/// How many slips a word of this length may carry and still count as the word.
pub fn allowed_edits(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// `token` is the lexicon word `word`, exactly or with a small typo.
pub fn word_matches(word: &str, token: &str) -> bool {
    if word == token {
        return true;
    }
    // Cheap rejections first: this runs for every rule word against every token.
    if word.as_bytes().first() != token.as_bytes().first() || word.len().abs_diff(token.len()) > 4 {
        return false;
    }
    let n = word.chars().count();
    let max = allowed_edits(n);
    // Pseudo-words ("emoji_lock") are exact only.
    if max == 0 || word.contains('_') {
        return false;
    }
    osa(word, token, max) <= max
}

/// `token` starts with `prefix`, exactly or with one slip inside the prefix (prefixes of 6+ letters).
pub fn prefix_matches(prefix: &str, token: &str) -> bool {
    if token.starts_with(prefix) {
        return true;
    }
    if prefix.as_bytes().first() != token.as_bytes().first() || token.len() + 2 < prefix.len() {
        return false;
    }
    let n = prefix.chars().count();
    if n < 6 || prefix.contains('_') || prefix.chars().next() != token.chars().next() {
        return false;
    }
    let t: Vec<char> = token.chars().collect();
    for k in [n.saturating_sub(1), n, n + 1] {
        if k == 0 || k > t.len() {
            continue;
        }
        let head: String = t[..k].iter().collect();
        if osa(prefix, &head, 1) <= 1 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(osa("koncie", "kocie", 2), 1);
        assert_eq!(osa("konta", "konat", 2), 1);
        assert_eq!(osa("saldo", "saldo", 2), 0);
        assert_eq!(osa("abc", "xyzxyz", 1), 2);
    }

    #[test]
    fn matching() {
        assert!(word_matches("koncie", "kocie"));
        assert!(word_matches("konta", "konat"));
        assert!(!word_matches("kasa", "kawa"));
        assert!(prefix_matches("przelew", "przlewu"));
        assert!(!prefix_matches("robil", "robic"));
        assert!(prefix_matches("zablok", "zablokuj"));
        assert!(!prefix_matches("zablok", "odblokuj"));
    }
}
