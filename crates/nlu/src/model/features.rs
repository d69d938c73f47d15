//! Text → sparse feature vector for the linear intent model.
//!
//! Owns tokenisation for the model (lower-cased words, diacritics folded, each symbol or emoji a
//! token of its own), the hashed feature groups — word unigrams and bigrams, `char_wb` 2–5-grams
//! on the folded text, raw (diacritic-keeping) word forms, and caller-supplied extra features —
//! and TF-IDF weighting (sublinear term frequency, smoothed idf, L2 per group). Hashing is
//! FNV-1a, so features are identical on every platform and in every run.

use crate::text::fold;

/// Feature groups; each is L2-normalised on its own, then scaled by its group weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Word = 0,
    Char = 1,
    Raw = 2,
    Extra = 3,
    Cross = 4,
}

pub(crate) const GROUPS: usize = 5;

/// One hashed feature before weighting: group, bucket and count.
pub(crate) type RawFeatures = Vec<(Group, u32, f32)>;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(ns: u8, parts: &[&str]) -> u64 {
    let mut h = Fnv::new(ns);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.byte(0x1f);
        }
        h.str(p);
    }
    h.finish()
}

/// FNV-1a over a feature's bytes, extendable: the hash of a character n-gram is the hash of the
/// (n-1)-gram extended by one character, so the n-grams at one position cost one pass and no
/// string is built for them.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new(ns: u8) -> Fnv {
        Fnv((FNV_OFFSET ^ u64::from(ns)).wrapping_mul(FNV_PRIME))
    }

    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(FNV_PRIME);
    }

    fn str(&mut self, s: &str) {
        s.bytes().for_each(|b| self.byte(b));
    }

    fn char(&mut self, c: char) {
        self.str(c.encode_utf8(&mut [0; 4]));
    }

    /// Final avalanche so low bits are well mixed for the mask.
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// Splits lower-cased text into words: runs of letters/digits (apostrophes kept inside), every
/// other visible character (emoji, `$`, `?`) as a one-character token.
fn words(lower: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in lower.chars() {
        if c.is_alphanumeric() || (c == '\'' && !cur.is_empty()) {
            cur.push(c);
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur).trim_end_matches('\'').to_owned());
        }
        if !c.is_whitespace()
            && !matches!(
                c,
                '.' | ',' | ';' | ':' | '"' | '(' | ')' | '\u{fe0f}' | '\u{200d}'
            )
        {
            out.push(c.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches('\'').to_owned());
    }
    out.retain(|w| !w.is_empty());
    out
}

/// Hashed feature counts for one text (not yet weighted), sorted by (group, bucket).
pub(crate) fn extract(
    text: &str,
    extra: &[(&str, f32)],
    mask: u32,
    char_max: usize,
    cross_max: usize,
) -> RawFeatures {
    let lower: String = text
        .chars()
        .take(crate::text::MAX_CHARS)
        .flat_map(char::to_lowercase)
        .collect();
    let raw_words = words(&lower);
    let folded: Vec<String> = raw_words.iter().map(|w| fold(w)).collect();
    let mut feats: Vec<(Group, u32, f32)> = Vec::with_capacity(16 * folded.len() + 8);
    let bucket = |h: u64| (h as u32) & mask;
    for (i, w) in folded.iter().enumerate() {
        feats.push((Group::Word, bucket(fnv(1, &[w])), 1.0));
        let prev = if i == 0 {
            "<s>"
        } else {
            folded[i - 1].as_str()
        };
        feats.push((Group::Word, bucket(fnv(2, &[prev, w])), 1.0));
        if raw_words[i] != *w {
            feats.push((Group::Raw, bucket(fnv(3, &[&raw_words[i]])), 1.0));
        }
        // char_wb: n-grams of " word " (as scikit-learn pads), n = 2..=char_max.
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        let longest = char_max.max(2);
        for s in 0..padded.len().saturating_sub(1) {
            let mut h = Fnv::new(4);
            h.char(padded[s]);
            for &c in padded.iter().skip(s + 1).take(longest - 1) {
                h.char(c);
                feats.push((Group::Char, bucket(h.finish()), 1.0));
            }
        }
    }
    if let Some(last) = folded.last() {
        feats.push((Group::Word, bucket(fnv(2, &[last, "</s>"])), 1.0));
    }
    if cross_max >= 3 {
        // Character n-grams across word boundaries (scikit-learn's `char` analyzer), 3..=cross_max,
        // only those that contain a space inside: the rest are already char_wb features.
        let sentence: Vec<char> = format!(" {} ", folded.join(" ")).chars().collect();
        for s in 0..sentence.len() {
            let mut h = Fnv::new(6);
            let mut inner_space = false;
            for (i, &c) in sentence[s..].iter().take(cross_max).enumerate() {
                h.char(c);
                // Only n-grams (n ≥ 3) with a space strictly inside: the rest are `char_wb`.
                if i >= 2 && inner_space {
                    feats.push((Group::Cross, bucket(h.finish()), 1.0));
                }
                if i >= 1 && c == ' ' {
                    inner_space = true;
                }
            }
        }
    }
    for (name, v) in extra {
        feats.push((Group::Extra, bucket(fnv(5, &[name])), *v));
    }
    feats.sort_by_key(|f| (f.0 as u8, f.1));
    let mut merged: RawFeatures = Vec::with_capacity(feats.len());
    for (g, b, v) in feats {
        match merged.last_mut() {
            Some(last) if last.0 == g && last.1 == b => last.2 += v,
            _ => merged.push((g, b, v)),
        }
    }
    merged
}

/// TF-IDF weighting: `(1 + ln tf) · idf`, L2 per group, times the group's weight. Extra features
/// keep their given value (no tf damping, idf 1). Features are keyed by bucket or by the model's
/// row for it (rows are in bucket order). Returns (key, value) pairs, merged by key.
pub(crate) fn weigh<K: Copy + Ord>(
    raw: &[(Group, K, f32)],
    idf: impl Fn(K) -> f32,
    group_weight: &[f32; GROUPS],
) -> Vec<(K, f32)> {
    let mut vals: Vec<(Group, K, f32)> = raw
        .iter()
        .map(|&(g, b, tf)| {
            let v = if g == Group::Extra {
                tf
            } else {
                (1.0 + tf.ln()) * idf(b)
            };
            (g, b, v)
        })
        .collect();
    let mut norms = [0f32; GROUPS];
    for &(g, _, v) in &vals {
        norms[g as usize] += v * v;
    }
    for (g, _, v) in vals.iter_mut() {
        let n = norms[*g as usize].sqrt();
        if n > 0.0 && *g != Group::Extra {
            *v = *v / n * group_weight[*g as usize];
        } else {
            *v *= group_weight[*g as usize];
        }
    }
    let mut out: Vec<(K, f32)> = vals.into_iter().map(|(_, b, v)| (b, v)).collect();
    out.sort_by_key(|p| p.0);
    let mut merged: Vec<(K, f32)> = Vec::with_capacity(out.len());
    for (b, v) in out {
        match merged.last_mut() {
            Some(last) if last.0 == b => last.1 += v,
            _ => merged.push((b, v)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_symbols_and_keep_apostrophes() {
        assert_eq!(
            words("don't send $20 👋"),
            vec!["don't", "send", "$", "20", "👋"]
        );
        assert_eq!(
            words("ile mam, na koncie?"),
            vec!["ile", "mam", "na", "koncie", "?"]
        );
    }

    #[test]
    fn diacritics_add_a_raw_feature_but_share_folded_ones() {
        let a = extract("zł", &[], (1 << 20) - 1, 5, 0);
        let b = extract("zl", &[], (1 << 20) - 1, 5, 0);
        assert_eq!(a.len(), b.len() + 1);
        assert!(b.iter().all(|f| a.contains(f)));
    }

    /// The n-gram features as first written: every n-gram built as a string and hashed whole.
    fn by_strings(text: &str, char_max: usize, cross_max: usize) -> Vec<(Group, u32)> {
        let mask = (1 << 18) - 1;
        let folded: Vec<String> = words(&text.to_lowercase())
            .iter()
            .map(|w| fold(w))
            .collect();
        let mut out = Vec::new();
        for w in &folded {
            let padded: Vec<char> = format!(" {w} ").chars().collect();
            for n in 2..=char_max {
                for g in padded.windows(n) {
                    let g: String = g.iter().collect();
                    out.push((Group::Char, (fnv(4, &[&g]) as u32) & mask));
                }
            }
        }
        let sentence: Vec<char> = format!(" {} ", folded.join(" ")).chars().collect();
        for n in 3..=cross_max {
            for g in sentence.windows(n) {
                if g[1..n - 1].contains(&' ') {
                    let g: String = g.iter().collect();
                    out.push((Group::Cross, (fnv(6, &[&g]) as u32) & mask));
                }
            }
        }
        out.sort_by_key(|f| (f.0 as u8, f.1));
        out
    }

    #[test]
    fn ngrams_hashed_by_extension_are_the_ngrams_hashed_whole() {
        for text in [
            "ile mam na koncie?",
            "Płatności w Żabce > 50 zł 👋",
            "a",
            "zł ok",
        ] {
            let mut got: Vec<(Group, u32)> = extract(text, &[], (1 << 18) - 1, 5, 6)
                .into_iter()
                .filter(|f| matches!(f.0, Group::Char | Group::Cross))
                .flat_map(|(g, b, n)| std::iter::repeat_n((g, b), n as usize))
                .collect();
            got.sort_by_key(|f| (f.0 as u8, f.1));
            assert_eq!(got, by_strings(text, 5, 6), "{text}");
        }
    }
}
