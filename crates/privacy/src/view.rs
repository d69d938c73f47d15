//! Single-use links to the bank-owned page that shows a masked reply (`/view/{token}`).
//!
//! When a financial answer may not be shown where the customer asked (a platform that reads the
//! content, a room with others), the conversation reads it for the bank's own page instead
//! ([`crate::ChannelContext::BankPage`]) and keeps the rendered answer here behind a random
//! 256-bit token. Only a SHA-256 of the token is stored, the content is sealed with the
//! customer's data key, and it is cleared when the link is opened, when it expires, or when the
//! customer's data is erased (consent revoked). Opening is decided and audited by the gate like
//! any read: a used or expired link is audited as denied against its customer and shows nothing.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use okienko_core::{CustomerId, Lang};
use okienko_store::{NewViewLink, ViewLinkTake};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroize as _;

use crate::audit::NewAudit;
use crate::gate::{AccessError, Gated, PrivacyGate};
use crate::purpose::{AccessRequest, ChannelContext, Purpose};

/// How long a view link works unless configured otherwise.
pub const DEFAULT_VIEW_TTL: Duration = Duration::from_secs(5 * 60);

/// The audit action of opening a view link.
const VIEW_ACTION: &str = "view.masked_reply";

/// A view link's secret token (43 URL-safe characters). It opens the content once; it is never
/// stored, logged or printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ViewToken(String);

impl ViewToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ViewToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token as it goes into the link's path.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ViewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ViewToken(…)")
    }
}

/// What a view link's page shows: the content and the language it was written in. The content
/// is decrypted financial text, so its bytes are zeroed when the value is dropped.
pub struct ViewContent {
    pub lang: Lang,
    /// The masked reply as the conversation kept it (its JSON form).
    pub content: String,
}

impl Drop for ViewContent {
    fn drop(&mut self) {
        self.content.zeroize();
    }
}

impl fmt::Debug for ViewContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ViewContent")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

/// A link that was already opened was opened again: a leak, or the customer twice. Whose link it
/// was and when it was first opened, so the customer can be told ("Ten link został już otwarty o
/// 10:42 — jeśli to nie Ty, …") and a leaked link does not go unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayNotice {
    pub customer: CustomerId,
    pub opened_at: DateTime<Utc>,
}

/// Why a view link shows nothing. The page says the same for all of them except `Store`.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No such link (never made, or forgotten after it was spent or its data erased).
    #[error("unknown view link")]
    Unknown,
    /// It was opened before. `notice` is set on the first such replay of the link (once,
    /// across processes): the customer should be told in the chat that it was opened again.
    #[error("view link already used")]
    Used {
        lang: Lang,
        notice: Option<ReplayNotice>,
    },
    /// Its time ran out.
    #[error("view link expired")]
    Expired { lang: Lang },
    /// The gate denied the read now (e.g. the consent ended since the link was made).
    #[error("view denied")]
    Denied { lang: Lang },
    #[error("storage failed")]
    Store(#[from] okienko_store::StoreError),
}

/// `sha256(token)` in hex: what the store keeps and looks links up by.
fn token_hash(token: &str) -> String {
    hex_lower(&Sha256::digest(token.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A well-formed token is 43 URL-safe base64 characters; anything else is not looked up.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn lang_of(s: &str) -> Lang {
    s.parse().unwrap_or(Lang::Pl)
}

impl PrivacyGate {
    /// Keeps `content` (a reply already read through the gate for `purpose`) behind a new
    /// single-use link valid for `ttl`, and forgets links that ran out.
    pub async fn create_view_link(
        &self,
        customer: CustomerId,
        purpose: Purpose,
        lang: Lang,
        content: String,
        ttl: Duration,
    ) -> Result<ViewToken, AccessError> {
        let now = self.clock().now();
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5));
        if let Err(e) = self.store().purge_view_links(now).await {
            tracing::warn!(error = %e, "purging expired view links failed");
        }
        let token = ViewToken::generate();
        self.store()
            .insert_view_link(&NewViewLink {
                token_hash: token_hash(token.expose()),
                customer,
                purpose: purpose.as_str().to_owned(),
                lang: lang.code().to_owned(),
                created_at: now,
                expires_at: now + ttl,
                content,
            })
            .await?;
        Ok(token)
    }

    /// Opens a view link once: the gate decides (the customer's own data, for the purpose it was
    /// read for, on the bank's page, with the consent still valid) and audits the view; a used
    /// or expired link is audited as denied and shows nothing.
    pub async fn open_view_link(&self, token: &str) -> Result<Gated<ViewContent>, ViewError> {
        if !well_formed(token) {
            return Err(ViewError::Unknown);
        }
        let taken = self
            .store()
            .take_view_link(&token_hash(token), self.clock().now())
            .await?;
        let (facts, content, spent) = match taken {
            ViewLinkTake::Unknown => {
                tracing::info!("an unknown view link was requested");
                return Err(ViewError::Unknown);
            }
            ViewLinkTake::Used(f) => (f, None, "link_used"),
            ViewLinkTake::Expired(f) => (f, None, "link_expired"),
            ViewLinkTake::Opened { facts, content } => (facts, Some(content), ""),
        };
        let lang = lang_of(&facts.lang);
        let Some(purpose) = Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == facts.purpose)
        else {
            return Err(ViewError::Denied { lang });
        };
        let req = AccessRequest::customer(facts.customer, purpose, ChannelContext::BankPage);
        let Some(content) = content else {
            // Spent: no policy is asked, but the attempt is on the customer's record.
            let seq = self
                .append_audit(NewAudit {
                    at: self.clock().now(),
                    actor: req.actor.audit_label(),
                    subject: req.subject.to_string(),
                    purpose: purpose.as_str(),
                    action: VIEW_ACTION,
                    decision: &format!("deny:{spent}[]"),
                    channel: req.channel.as_str(),
                })
                .await?;
            tracing::info!(
                reason = spent,
                audit_seq = seq,
                "a spent view link was refused"
            );
            return Err(if spent == "link_used" {
                let notice = match (facts.replay_notice_due, facts.viewed_at) {
                    (true, Some(opened_at)) => Some(ReplayNotice {
                        customer: facts.customer,
                        opened_at,
                    }),
                    _ => None,
                };
                ViewError::Used { lang, notice }
            } else {
                ViewError::Expired { lang }
            });
        };
        match self.authorize(&req, VIEW_ACTION).await {
            Ok(seq) => Ok(Gated::new(
                ViewContent {
                    lang,
                    content: content.to_string(),
                },
                seq,
                purpose,
            )),
            Err(AccessError::Store(e)) => Err(ViewError::Store(e)),
            Err(_) => Err(ViewError::Denied { lang }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_hidden_from_debug() {
        let a = ViewToken::generate();
        let b = ViewToken::generate();
        assert_ne!(a, b);
        assert!(well_formed(a.expose()));
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert!(!format!("{a:?}").contains(a.expose()));
        assert_eq!(token_hash(a.expose()).len(), 64);
        assert_ne!(token_hash(a.expose()), a.expose());
    }

    #[test]
    fn malformed_tokens_are_not_looked_up() {
        for t in [
            "",
            "abc",
            &"a".repeat(44),
            &"é".repeat(43),
            &"a/".repeat(22),
        ] {
            assert!(!well_formed(t), "{t}");
        }
    }
}
