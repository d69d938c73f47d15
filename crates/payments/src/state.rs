//! The payment states and what the bank's answers move them to.

use okienko_bank::pis::{PaymentSca, PaymentStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Stored; the bank has not (knowingly) been told yet.
    Requested,
    /// The initiation's answer was lost (timeout, 5xx): the bank may or may not have it.
    Unknown,
    /// The bank has the payment (RCVD) but no SCA is under way yet.
    Initiated,
    /// The customer must approve at the bank (app or redirect).
    AwaitingSca,
    /// Authorised, being executed (ACTC and friends).
    Accepted,
    Executed,
    Rejected,
    Cancelled,
}

impl PaymentState {
    pub const FINAL: [&'static str; 3] = ["executed", "rejected", "cancelled"];

    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentState::Requested => "requested",
            PaymentState::Unknown => "unknown",
            PaymentState::Initiated => "initiated",
            PaymentState::AwaitingSca => "awaiting_sca",
            PaymentState::Accepted => "accepted",
            PaymentState::Executed => "executed",
            PaymentState::Rejected => "rejected",
            PaymentState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentState> {
        Some(match s {
            "requested" => PaymentState::Requested,
            "unknown" => PaymentState::Unknown,
            "initiated" => PaymentState::Initiated,
            "awaiting_sca" => PaymentState::AwaitingSca,
            "accepted" => PaymentState::Accepted,
            "executed" => PaymentState::Executed,
            "rejected" => PaymentState::Rejected,
            "cancelled" => PaymentState::Cancelled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentState::Executed | PaymentState::Rejected | PaymentState::Cancelled
        )
    }

    /// Where a bank status moves a payment in `self` (never backwards, never out of a final
    /// state). `sca` is what the bank said about authorisation, when it said anything.
    pub fn after(self, status: &PaymentStatus, sca: Option<&PaymentSca>) -> PaymentState {
        if self.is_final() {
            return self;
        }
        match status {
            PaymentStatus::Received => match sca {
                Some(PaymentSca::Redirect { .. } | PaymentSca::Decoupled { .. }) => {
                    PaymentState::AwaitingSca
                }
                _ if self == PaymentState::AwaitingSca => PaymentState::AwaitingSca,
                _ => PaymentState::Initiated,
            },
            PaymentStatus::Accepted => PaymentState::Accepted,
            PaymentStatus::Executed => PaymentState::Executed,
            PaymentStatus::Rejected { .. } => PaymentState::Rejected,
            PaymentStatus::Cancelled => PaymentState::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_finals_stay() {
        for s in [
            PaymentState::Requested,
            PaymentState::Unknown,
            PaymentState::Initiated,
            PaymentState::AwaitingSca,
            PaymentState::Accepted,
            PaymentState::Executed,
            PaymentState::Rejected,
            PaymentState::Cancelled,
        ] {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_final(), PaymentState::FINAL.contains(&s.as_str()));
        }
        assert_eq!(
            PaymentState::Executed.after(&PaymentStatus::Cancelled, None),
            PaymentState::Executed
        );
        assert_eq!(
            PaymentState::AwaitingSca.after(&PaymentStatus::Received, None),
            PaymentState::AwaitingSca
        );
    }
}
