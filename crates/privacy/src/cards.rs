//! Cards live at the bank, not in the store: the gate decides and audits a card read or a card
//! action under `service.cards` like any other read, and only then lets the caller's bank call
//! run, handing its answer back as [`Gated`]. The privacy crate does not depend on the bank crate;
//! the caller passes the call as a future that is never polled when the gate says no.

use std::future::Future;

use crate::gate::{AccessError, Gated, PrivacyGate};
use crate::purpose::{AccessRequest, Purpose};

/// What is done with the customer's cards; each is audited under its own action name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAccess {
    /// List the cards (masked number, brand, account, status).
    List,
    /// Freeze a card for now.
    Block,
    /// Unfreeze it.
    Unblock,
    /// Report it lost or stolen (permanent; a replacement ordered).
    ReportLost,
}

impl CardAccess {
    /// The audit action.
    pub fn as_str(&self) -> &'static str {
        match self {
            CardAccess::List => "read.cards",
            CardAccess::Block => "card.block",
            CardAccess::Unblock => "card.unblock",
            CardAccess::ReportLost => "card.report_lost",
        }
    }
}

/// Why a card access failed: the gate said no (nothing was asked of the bank), or the bank call
/// failed after the gate allowed it.
#[derive(Debug, thiserror::Error)]
pub enum CardAccessError<E> {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the bank call failed")]
    Bank(E),
}

impl PrivacyGate {
    /// Decides and audits `access` to the subject's cards under `req` (purpose `service.cards`
    /// only), then runs `bank_call` and wraps its answer. A denial returns before `bank_call` is
    /// polled, so the bank is never asked.
    pub async fn cards<T, E, F>(
        &self,
        req: &AccessRequest,
        access: CardAccess,
        bank_call: F,
    ) -> Result<Gated<T>, CardAccessError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        if req.purpose.is_service() && req.purpose != Purpose::ServiceCards {
            return Err(AccessError::WrongPurpose.into());
        }
        let seq = self.authorize(req, access.as_str()).await?;
        let data = bank_call.await.map_err(CardAccessError::Bank)?;
        Ok(Gated::new(data, seq, req.purpose))
    }
}
