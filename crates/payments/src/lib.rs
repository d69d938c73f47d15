//! Exactly-once payments. A customer's confirmed transfer becomes one row in the store (keyed by
//! the chat action's id, so a retried message or a double click finds the same row), and a
//! persisted state machine drives it against the bank's payment initiation:
//!
//! ```text
//! Requested ──initiate──► Initiated ──► AwaitingSca ──► Accepted ──► Executed
//!     │  ▲                    │              │             │
//!     ▼  │ (same key again)   └──────────────┴─────────────┴──► Rejected | Cancelled
//!  Unknown   (answer lost: the bank may have the payment; re-initiating with the same
//!            X-Request-ID returns it, so Unknown always resolves and never pays twice)
//! ```
//!
//! Why it never pays twice: every initiation of a payment, before or after a restart, carries
//! the same `X-Request-ID`, which the bank treats as the idempotency key; and every state change
//! is a compare-and-set in the store, so two drivers never both act on one step.
//! Why the customer hears the end once: only the step whose compare-and-set made a payment final
//! reports it (`PaymentView::ended_here`), and the chat claims the right to tell in the store
//! (`Store::claim_payment_notice`) before it pushes anything.
//! Why it never loses one: the row is written before the bank is called, and [`Payments::recover`]
//! re-asks the bank about every payment that is not final.
//!
//! This crate never logs amounts, IBANs or names: only payment ids and states.

mod driver;
mod state;

pub use driver::{PaymentView, Payments, PaymentsError, RecoveryReport, TransferOrder};
pub use state::PaymentState;
