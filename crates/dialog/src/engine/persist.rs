//! The dialog state as it is stored between messages ([`crate::conversations`]): what is kept,
//! its serialized form (serde JSON with a format version), idle expiry, and the engine's
//! in-memory copy validated against the stored version.
//!
//! What is kept: the language, the open transfer form, the last transactions question (its
//! filter and the *ids* of its rows: "more" reads the rows again through the privacy gate), the
//! card choice or read-back waiting for an answer, the last summary's merchants, the last few
//! intents and messages. What is not: the rows themselves, and `wants_human` (handed from the
//! engine to the handover wrapper of the same process within one event). A row in another
//! format, or one that does not parse, is dropped with a warning: the customer starts afresh.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Duration, Utc};
use okienko_core::{CustomerId, Lang, TransactionId, TxFilter};
use okienko_nlu::Intent;
use serde::{Deserialize, Serialize};

use super::{DialogState, Engine};
use crate::cards::CardDialog;
use crate::categories::CategoryDialog;
use crate::conversations::{Loaded, Saved};
use crate::forms::TransferForm;
use crate::transfer::RecentTexts;

/// The serialized form's version; a row with another is dropped.
const FORMAT: u32 = 1;
/// A conversation idle this long starts afresh (its form, question and choices forgotten; the
/// language stays), in memory and in the store.
pub const IDLE_EXPIRY_MINUTES: i64 = 30;
/// An unchanged state is written again after this long, so a busy conversation's row is never
/// taken for an idle one by another instance or the purge.
const TOUCH_MINUTES: i64 = 10;

pub(crate) fn idle_expiry() -> Duration {
    Duration::minutes(IDLE_EXPIRY_MINUTES)
}

/// What is written (borrowed from the state, so saving copies nothing but the bytes).
#[derive(Serialize)]
struct SnapshotRef<'a> {
    v: u32,
    lang: Option<Lang>,
    last_filter: &'a Option<TxFilter>,
    last_ids: &'a [TransactionId],
    last_summary: bool,
    misunderstandings: u8,
    awaiting_scam_check: bool,
    form: &'a Option<TransferForm>,
    recent_texts: &'a RecentTexts,
    recent_intents: &'a VecDeque<Intent>,
    cards: &'a CardDialog,
    categories: &'a CategoryDialog,
}

/// What is read back.
#[derive(Deserialize)]
struct Snapshot {
    lang: Option<Lang>,
    last_filter: Option<TxFilter>,
    last_ids: Vec<TransactionId>,
    last_summary: bool,
    misunderstandings: u8,
    awaiting_scam_check: bool,
    form: Option<TransferForm>,
    recent_texts: RecentTexts,
    recent_intents: VecDeque<Intent>,
    cards: CardDialog,
    categories: CategoryDialog,
}

#[derive(Deserialize)]
struct Header {
    v: u32,
}

/// Why stored bytes were not taken (logged; the bytes are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecodable {
    /// Written in another format version.
    Format(u32),
    /// Not the engine's JSON.
    Malformed,
}

pub(crate) fn encode(st: &DialogState) -> Vec<u8> {
    let snap = SnapshotRef {
        v: FORMAT,
        lang: st.lang,
        last_filter: &st.last_filter,
        last_ids: &st.last_ids,
        last_summary: st.last_summary,
        misunderstandings: st.misunderstandings,
        awaiting_scam_check: st.awaiting_scam_check,
        form: &st.form,
        recent_texts: &st.recent_texts,
        recent_intents: &st.recent_intents,
        cards: &st.cards,
        categories: &st.categories,
    };
    // Plain data (strings, numbers, ids, enums, maps with string keys): serializing cannot fail.
    serde_json::to_vec(&snap).unwrap_or_default()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<DialogState, Undecodable> {
    let header: Header = serde_json::from_slice(bytes).map_err(|_| Undecodable::Malformed)?;
    if header.v != FORMAT {
        return Err(Undecodable::Format(header.v));
    }
    let s: Snapshot = serde_json::from_slice(bytes).map_err(|_| Undecodable::Malformed)?;
    Ok(DialogState {
        lang: s.lang,
        last_filter: s.last_filter,
        last_rows: Vec::new(),
        last_ids: s.last_ids,
        last_summary: s.last_summary,
        misunderstandings: s.misunderstandings,
        awaiting_scam_check: s.awaiting_scam_check,
        wants_human: false,
        form: s.form,
        recent_texts: s.recent_texts,
        recent_intents: s.recent_intents,
        cards: s.cards,
        categories: s.categories,
    })
}

fn digest(bytes: &[u8]) -> u64 {
    // SipHash with fixed keys: stable within the process, which is all a change check needs.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// One customer's state in this process, and what the store holds of it.
#[derive(Debug, Default)]
pub(crate) struct Cached {
    pub(crate) st: DialogState,
    /// The stored row's version this state was read or written as (`None`: no row).
    version: Option<i64>,
    /// Whether the store was consulted since this copy was made.
    loaded: bool,
    /// Digest of the bytes last written or read, so an unchanged state is not written.
    stored_digest: Option<u64>,
    /// When the row was last written or read as written.
    stored_at: Option<DateTime<Utc>>,
    /// When the customer last did something here (idle expiry).
    pub(crate) touched: Option<DateTime<Utc>>,
}

impl Cached {
    /// Forgets the conversation, keeping its language and the stored version (so the next
    /// write replaces the row by compare-and-set).
    fn reset(&mut self) {
        let lang = self.st.lang;
        let wants_human = self.st.wants_human;
        self.st = DialogState {
            lang,
            wants_human,
            ..DialogState::default()
        };
        self.stored_digest = None;
    }

    /// Whether the store was consulted for this copy.
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Whether this copy has been idle longer than the expiry at `now`.
    pub(crate) fn idle(&self, now: DateTime<Utc>) -> bool {
        self.touched.is_some_and(|t| now - t > idle_expiry())
    }

    fn take(&mut self, customer: CustomerId, row: crate::conversations::StoredConversation) {
        let now_version = Some(row.version);
        match decode(&row.state) {
            Ok(mut st) => {
                // Rows read into memory stay only if they belong to the same answer.
                if st.last_ids == self.st.last_ids {
                    st.last_rows = std::mem::take(&mut self.st.last_rows);
                }
                st.wants_human = self.st.wants_human;
                self.st = st;
                self.stored_digest = Some(digest(&row.state));
            }
            Err(why) => {
                tracing::warn!(%customer, reason = ?why, "stored conversation state dropped: unreadable");
                self.reset();
            }
        }
        self.version = now_version;
        self.stored_at = Some(row.updated_at);
        self.touched = Some(row.updated_at);
    }
}

/// What writing the state after a message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Written, unchanged, or not written because the store failed (kept in memory).
    Done,
    /// Another instance wrote first.
    Conflict,
}

impl Engine {
    /// Brings the customer's copy up to date before a message: from the store unless it is
    /// current (one indexed read; none in exclusive mode once loaded), then idle expiry.
    pub(crate) async fn sync_in(&self, customer: CustomerId, c: &mut Cached) {
        let now = self.clock.now();
        if let Some(store) = self.conversations.get()
            && !(c.loaded && store.exclusive())
        {
            let known = if c.loaded { c.version } else { None };
            match store.load(customer, known).await {
                Ok(Loaded::Current) => {}
                Ok(Loaded::Changed(row)) => c.take(customer, row),
                Ok(Loaded::Unreadable { version }) => {
                    tracing::warn!(%customer, "stored conversation state dropped: cannot be decrypted");
                    c.reset();
                    c.version = Some(version);
                    c.stored_at = None;
                }
                Ok(Loaded::Missing) => {
                    if c.version.is_some() {
                        // Erased or expired elsewhere: what this copy remembers goes too.
                        c.reset();
                        c.version = None;
                        c.stored_at = None;
                    }
                }
                Err(e) => {
                    tracing::warn!(%customer, error = %e, "conversation state not loaded; using this instance's copy");
                    return self.expire(c, now);
                }
            }
            c.loaded = true;
        }
        self.expire(c, now);
    }

    fn expire(&self, c: &mut Cached, now: DateTime<Utc>) {
        if c.idle(now) {
            c.reset();
        }
    }

    /// Writes the customer's state after a message when it changed (or was not written for a
    /// while), by compare-and-set on the version it was read as.
    pub(crate) async fn sync_out(&self, customer: CustomerId, c: &mut Cached) -> Written {
        let now = self.clock.now();
        c.touched = Some(now);
        let Some(store) = self.conversations.get() else {
            return Written::Done;
        };
        let bytes = encode(&c.st);
        let d = digest(&bytes);
        let fresh = c
            .stored_at
            .is_some_and(|at| now - at < Duration::minutes(TOUCH_MINUTES));
        if c.stored_digest == Some(d) && fresh {
            return Written::Done;
        }
        match store.save(customer, c.version, &bytes, now).await {
            Ok(Saved::Saved(v)) => {
                c.version = Some(v);
                c.stored_digest = Some(d);
                c.stored_at = Some(now);
                c.loaded = true;
                Written::Done
            }
            Ok(Saved::Conflict) => Written::Conflict,
            Ok(Saved::Gone) => {
                // The customer's data was erased (or the row expired) while this message was
                // handled: nothing of the old conversation is kept.
                c.reset();
                c.version = None;
                c.stored_at = None;
                Written::Done
            }
            Err(e) => {
                tracing::warn!(%customer, error = %e, "conversation state not saved; kept in this instance");
                Written::Done
            }
        }
    }

    /// Forgets this copy so the next [`Engine::sync_in`] reads the stored row in full.
    pub(crate) fn invalidate(c: &mut Cached) {
        c.loaded = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_drops_other_formats() {
        let mut st = DialogState {
            lang: Some(Lang::En),
            misunderstandings: 1,
            ..DialogState::default()
        };
        st.recent_texts.push("przelej 50 zł Tomkowi");
        st.recent_intents.push_back(Intent::Transfer);
        st.last_ids = vec![TransactionId::new()];
        let bytes = encode(&st);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(encode(&back), bytes);
        assert_eq!(back.lang, Some(Lang::En));
        assert_eq!(back.last_ids, st.last_ids);
        let other = String::from_utf8(bytes)
            .unwrap()
            .replacen("\"v\":1", "\"v\":99", 1);
        assert_eq!(
            decode(other.as_bytes()).err(),
            Some(Undecodable::Format(99))
        );
        assert_eq!(decode(b"not json").err(), Some(Undecodable::Malformed));
        assert_eq!(decode(b"{\"v\":1}").err(), Some(Undecodable::Malformed));
    }

    #[test]
    fn wants_human_is_not_stored() {
        let st = DialogState {
            wants_human: true,
            ..DialogState::default()
        };
        assert!(!decode(&encode(&st)).unwrap().wants_human);
    }
}
