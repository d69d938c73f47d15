//! Typo tolerance: a small optimal-string-alignment distance for short words.
//!
//! Owns the one rule for "close enough" ("kocie" ~ "koncie", "konat" ~ "konta"), so every lexicon
//! matches typos the same way. Words are compared only when they share the first letter and are
//! long enough for a single slip not to turn one real word into another.

/// Longest ASCII words compared without allocating (every rule word meets every token).
const SHORT: usize = 32;

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), capped: returns
/// `max + 1` as soon as the distance is known to exceed `max`.
pub fn osa(a: &str, b: &str, max: usize) -> usize {
    if a.is_ascii() && b.is_ascii() && b.len() < SHORT {
        let mut rows = [[0usize; SHORT + 1]; 3];
        return osa_in(a.as_bytes(), b.as_bytes(), max, &mut rows);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; 3];
    osa_in(&a, &b, max, &mut rows)
}

/// [`osa`] over letters, keeping three rows of the table (the transposition looks two back);
/// each row is at least `b.len() + 1` long.
fn osa_in<T: PartialEq, R: AsMut<[usize]>>(a: &[T], b: &[T], max: usize, rows: &mut [R]) -> usize {
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let w = b.len() + 1;
    let [older, prev, cur] = rows else {
        return max + 1;
    };
    let (mut older, mut prev, mut cur) = (
        &mut older.as_mut()[..w],
        &mut prev.as_mut()[..w],
        &mut cur.as_mut()[..w],
    );
    for (j, cell) in prev.iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(older[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
        // The rows move up one: `older` is overwritten next.
        std::mem::swap(&mut older, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The set of letters in `s`, one bit each (a–z and digits their own, others folded onto the
/// rest). Each edit adds or drops at most one letter of the set (a substitution both), so two
/// words within `k` edits differ in at most `2k` bits: a test that rejects most pairs before
/// [`osa`] is run.
pub fn letter_set(s: &str) -> u64 {
    s.chars().fold(0u64, |m, c| {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            '0'..='9' => 26 + c as u32 - '0' as u32,
            _ => 36 + (c as u32) % 28,
        };
        m | (1u64 << bit)
    })
}

/// Whether two letter sets ([`letter_set`]) allow the words to be within `max` edits.
pub fn may_be_within(a: u64, b: u64, max: usize) -> bool {
    ((a ^ b).count_ones() as usize) <= 2 * max
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
    // The token's first k letters for k = n-1, n, n+1, sliced in place (letter boundaries).
    let mut bounds = token
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(token.len()));
    let Some(first) = bounds.nth(n.saturating_sub(1)) else {
        return false;
    };
    let ends = std::iter::once(first).chain(bounds.take(2));
    for end in ends {
        if end > 0 && osa(prefix, &token[..end], 1) <= 1 {
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
        // Letters outside ASCII count once each, like ASCII ones.
        assert_eq!(osa("żabka", "zabka", 2), 1);
        assert_eq!(osa("żabka", "żabka", 2), 0);
        assert_eq!(osa("łódź", "lodz", 5), 3);
    }

    #[test]
    fn letter_sets_never_reject_a_match() {
        let words = [
            "koncie", "kocie", "konta", "konat", "saldo", "sladdo", "żabka", "zabka", "przelew",
            "przlew", "abc", "xyzxyz", "łódź", "lodz", "karta", "kart", "kartaa",
        ];
        for a in words {
            for b in words {
                for max in 0..3 {
                    if osa(a, b, max) <= max {
                        assert!(may_be_within(letter_set(a), letter_set(b), max), "{a} {b}");
                    }
                }
            }
        }
        assert!(!may_be_within(letter_set("saldo"), letter_set("kawa"), 1));
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
