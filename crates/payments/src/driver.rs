//! The payment driver: creates the stored payment for a chat action, moves it one step at a
//! time against the bank, and recovers every unfinished payment on start-up. Each step reads the
//! row, asks the bank, and writes the answer by compare-and-set; a step that loses the race or
//! whose answer was lost changes nothing the next step cannot repair.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use okienko_bank::ScaApproach;
use okienko_bank::pis::{
    PaymentError, PaymentInitiation, PaymentOrder, PaymentProduct, PaymentSca, PaymentStatus,
};
use okienko_core::{Clock, CustomerId, Iban, Money};
use okienko_store::{DayLimit, LimitedPayment, NewPayment, PaymentRecord, Store, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::PaymentState;

/// A transfer the customer confirmed. `action` is the chat action's id (the dialog's
/// `ConfirmedTransfer::id`): starting the same action twice gives the same payment.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferOrder {
    pub action: Uuid,
    pub product: PaymentProduct,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    /// The customer's id at the bank (decoupled SCA needs it).
    pub psu_id: Option<String>,
    pub psu_ip: String,
    pub approach: ScaApproach,
    pub redirect_uri: Option<String>,
}

impl std::fmt::Debug for TransferOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferOrder")
            .field("action", &self.action)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

/// Sealed beside the order in the store: what resending it needs.
#[derive(Serialize, Deserialize)]
struct Context {
    psu_id: Option<String>,
    psu_ip: String,
    decoupled: bool,
    redirect_uri: Option<String>,
}

/// A payment as the chat sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub id: String,
    pub state: PaymentState,
    /// What the customer must do now, when the bank just said so.
    pub sca: Option<PaymentSca>,
    /// The bank's reason for a rejection (ISO 20022, e.g. AM04), when it gave one.
    pub reason: Option<String>,
    /// This call moved the payment into its final state (its compare-and-set won). Of several
    /// instances following one payment exactly one sees this, so it is the one to tell the
    /// customer; the others saw a payment someone else ended.
    pub ended_here: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("the transfer is not valid: {0}")]
    Invalid(&'static str),
    #[error("no such payment")]
    NotFound,
    /// Not created: the customer's payments in the limit's window add up to `spent` already
    /// and this one would take them over (the amount stays out of the message).
    #[error("the payment would exceed the daily limit")]
    OverLimit { spent: Money },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The bank answered in a way that needs a person (e.g. our key reused for another order).
    #[error("bank: {0}")]
    Bank(#[source] PaymentError),
    #[error("the stored payment is unreadable")]
    Corrupt,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub checked: usize,
    pub resolved: usize,
    pub still_open: usize,
    pub failed: usize,
}

/// The payments service. Cheap to clone; every clone drives the same store.
#[derive(Clone)]
pub struct Payments {
    store: Store,
    bank: Arc<dyn PaymentInitiation>,
    clock: Arc<dyn Clock>,
}

fn final_reason(status: &PaymentStatus) -> Option<&str> {
    match status {
        PaymentStatus::Rejected { reason } => Some(reason.as_deref().unwrap_or("RJCT")),
        _ => None,
    }
}

impl Payments {
    pub fn new(store: Store, bank: Arc<dyn PaymentInitiation>, clock: Arc<dyn Clock>) -> Self {
        Payments { store, bank, clock }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records the transfer (once per action) and takes the first step at the bank. A second
    /// call for the same action returns the same payment and only moves it on.
    pub async fn start(
        &self,
        customer: CustomerId,
        order: &TransferOrder,
    ) -> Result<PaymentView, PaymentsError> {
        self.start_inner(customer, order, None).await
    }

    /// [`Payments::start`] under a cap on what the customer's payments in `limit`'s window add
    /// up to, checked and recorded atomically in the store (whichever instance the transfers
    /// are confirmed on): [`PaymentsError::OverLimit`] when this one would exceed it. Rejected
    /// and cancelled payments do not count; a retry of an action already recorded is never
    /// refused.
    pub async fn start_within(
        &self,
        customer: CustomerId,
        order: &TransferOrder,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        max: Money,
    ) -> Result<PaymentView, PaymentsError> {
        let limit = DayLimit {
            from,
            until,
            max,
            uncounted_states: &UNCOUNTED,
        };
        self.start_inner(customer, order, Some(&limit)).await
    }

    async fn start_inner(
        &self,
        customer: CustomerId,
        order: &TransferOrder,
        limit: Option<&DayLimit<'_>>,
    ) -> Result<PaymentView, PaymentsError> {
        if order.amount.amount() <= rust_decimal_zero() {
            return Err(PaymentsError::Invalid("amount must be positive"));
        }
        if order.debtor == order.creditor {
            return Err(PaymentsError::Invalid(
                "payer and payee are the same account",
            ));
        }
        let name = order.creditor_name.trim();
        if name.is_empty() || name.chars().count() > 70 || name.chars().any(char::is_control) {
            return Err(PaymentsError::Invalid("payee name"));
        }
        if order
            .remittance
            .as_ref()
            .is_some_and(|r| r.chars().count() > 140 || r.chars().any(char::is_control))
        {
            return Err(PaymentsError::Invalid("reference"));
        }
        let context = serde_json::to_string(&Context {
            psu_id: order.psu_id.clone(),
            psu_ip: order.psu_ip.clone(),
            decoupled: order.approach == ScaApproach::Decoupled,
            redirect_uri: order.redirect_uri.clone(),
        })
        .map_err(|_| PaymentsError::Invalid("context"))?;
        let new = NewPayment {
            id: Uuid::new_v4().to_string(),
            customer,
            action_key: order.action.to_string(),
            request_id: Uuid::new_v4().to_string(),
            product: order.product.path().to_owned(),
            state: PaymentState::Requested.as_str().to_owned(),
            amount: order.amount,
            debtor: order.debtor.clone(),
            creditor: order.creditor.clone(),
            creditor_name: name.to_owned(),
            remittance: order.remittance.clone(),
            context,
            at: self.now(),
        };
        let (rec, created) = match limit {
            None => self.store.create_payment(&new).await?,
            Some(l) => match self.store.create_payment_within(&new, l).await? {
                LimitedPayment::Stored(rec, created) => (*rec, created),
                LimitedPayment::OverLimit { spent } => {
                    return Err(PaymentsError::OverLimit { spent });
                }
            },
        };
        if created {
            tracing::info!(payment = %rec.id, "payment requested");
        } else {
            tracing::info!(payment = %rec.id, "payment already requested for this action");
        }
        self.step_record(rec).await
    }

    /// The payment as stored, without asking the bank.
    pub async fn get(&self, id: &str) -> Result<PaymentView, PaymentsError> {
        let rec = self
            .store
            .payment(id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        view(&rec, None)
    }

    /// Moves the payment one step: (re)initiates it, or asks the bank for its status.
    pub async fn step(&self, id: &str) -> Result<PaymentView, PaymentsError> {
        let rec = self
            .store
            .payment(id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        self.step_record(rec).await
    }

    /// Cancels a payment that has not been executed. A Requested or Unknown payment may already
    /// exist at the bank (the answer to a sent initiation can be lost), so it is first resolved
    /// with its own key and then cancelled there; while the bank cannot be reached it stays as
    /// it is rather than being marked cancelled here while alive at the bank.
    pub async fn cancel(&self, id: &str) -> Result<PaymentView, PaymentsError> {
        let mut rec = self
            .store
            .payment(id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        if matches!(
            parse_state(&rec)?,
            PaymentState::Requested | PaymentState::Unknown
        ) {
            self.step_record(rec).await?;
            rec = self
                .store
                .payment(id)
                .await?
                .ok_or(PaymentsError::NotFound)?;
        }
        let state = parse_state(&rec)?;
        if state.is_final() {
            return view(&rec, None);
        }
        let product = product(&rec)?;
        let Some(bank_id) = rec.bank_payment_id.clone() else {
            return view(&rec, None);
        };
        match self.bank.cancel_payment(product, &bank_id).await {
            Ok(()) => {}
            // Too late (or already): the status tells which.
            Err(PaymentError::CannotCancel) => return self.step(id).await,
            Err(e) if e.outcome_unknown() => return view(&rec, None),
            Err(e) => return Err(PaymentsError::Bank(e)),
        }
        let won = self
            .store
            .advance_payment(
                id,
                state.as_str(),
                PaymentState::Cancelled.as_str(),
                None,
                None,
                self.now(),
            )
            .await?;
        let mut v = self.get(id).await?;
        v.ended_here = won && v.state.is_final();
        Ok(v)
    }

    /// Start-up recovery: one step for every payment that is not final.
    pub async fn recover(&self) -> Result<RecoveryReport, PaymentsError> {
        let open = self.store.open_payments(&PaymentState::FINAL).await?;
        let mut report = RecoveryReport {
            checked: open.len(),
            ..Default::default()
        };
        for rec in open {
            let id = rec.id.clone();
            match self.step_record(rec).await {
                Ok(v) if v.state.is_final() => report.resolved += 1,
                Ok(_) => report.still_open += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(payment = %id, error = %e, "payment recovery step failed");
                }
            }
        }
        Ok(report)
    }

    async fn step_record(&self, rec: PaymentRecord) -> Result<PaymentView, PaymentsError> {
        let state = parse_state(&rec)?;
        let product = product(&rec)?;
        match state {
            s if s.is_final() => view(&rec, None),
            PaymentState::Requested | PaymentState::Unknown => {
                let ctx: Context =
                    serde_json::from_str(&rec.context).map_err(|_| PaymentsError::Corrupt)?;
                let key = Uuid::parse_str(&rec.request_id).map_err(|_| PaymentsError::Corrupt)?;
                let order = PaymentOrder {
                    product,
                    debtor: rec.debtor.clone(),
                    creditor: rec.creditor.clone(),
                    creditor_name: rec.creditor_name.clone(),
                    amount: rec.amount,
                    remittance: rec.remittance.clone(),
                    psu_id: ctx.psu_id,
                    psu_ip: ctx.psu_ip,
                    approach: if ctx.decoupled {
                        ScaApproach::Decoupled
                    } else {
                        ScaApproach::Redirect
                    },
                    redirect_uri: ctx.redirect_uri,
                };
                match self.bank.initiate_payment(&order, key).await {
                    Ok(init) => {
                        let to = state.after(&init.status, Some(&init.sca));
                        let won = self
                            .store
                            .advance_payment(
                                &rec.id,
                                state.as_str(),
                                to.as_str(),
                                Some(&init.payment_id),
                                final_reason(&init.status),
                                self.now(),
                            )
                            .await?;
                        if won {
                            tracing::info!(payment = %rec.id, state = to.as_str(), "payment initiated");
                        }
                        self.reread(&rec.id, Some(init.sca), won && to.is_final())
                            .await
                    }
                    Err(e) if e.outcome_unknown() => {
                        self.move_to(&rec, state, PaymentState::Unknown, None)
                            .await?;
                        self.reread(&rec.id, None, false).await
                    }
                    // The bank surely created nothing.
                    Err(PaymentError::Refused { code }) => {
                        let reason = code.unwrap_or("REFUSED");
                        let won = self
                            .move_to(&rec, state, PaymentState::Rejected, Some(reason))
                            .await?;
                        self.reread(&rec.id, None, won).await
                    }
                    Err(e) => {
                        self.move_to(&rec, state, PaymentState::Unknown, None)
                            .await?;
                        Err(PaymentsError::Bank(e))
                    }
                }
            }
            _ => {
                let Some(bank_id) = rec.bank_payment_id.clone() else {
                    return Err(PaymentsError::Corrupt);
                };
                match self.bank.payment_status(product, &bank_id).await {
                    Ok(status) => {
                        let mut sca = None;
                        let mut to = state.after(&status, None);
                        if to == PaymentState::Initiated {
                            // Nobody asked the customer yet: start the authorisation.
                            let psu = serde_json::from_str::<Context>(&rec.context)
                                .ok()
                                .and_then(|c| c.psu_id);
                            match self
                                .bank
                                .start_authorisation(product, &bank_id, psu.as_deref())
                                .await
                            {
                                Ok(s) => {
                                    to = state.after(&status, Some(&s));
                                    sca = Some(s);
                                }
                                Err(e) if e.outcome_unknown() => {}
                                Err(PaymentError::NotAwaitingSca) => {}
                                Err(e) => return Err(PaymentsError::Bank(e)),
                            }
                        }
                        let mut ended_here = false;
                        if to != state
                            && self.move_to(&rec, state, to, final_reason(&status)).await?
                        {
                            tracing::info!(payment = %rec.id, state = to.as_str(), "payment moved");
                            ended_here = to.is_final();
                        }
                        self.reread(&rec.id, sca, ended_here).await
                    }
                    Err(e) if e.outcome_unknown() => view(&rec, None),
                    Err(e) => Err(PaymentsError::Bank(e)),
                }
            }
        }
    }

    async fn move_to(
        &self,
        rec: &PaymentRecord,
        from: PaymentState,
        to: PaymentState,
        reason: Option<&str>,
    ) -> Result<bool, PaymentsError> {
        if from == to {
            return Ok(true);
        }
        Ok(self
            .store
            .advance_payment(
                &rec.id,
                from.as_str(),
                to.as_str(),
                None,
                reason,
                self.now(),
            )
            .await?)
    }

    /// The payment as stored after a step (another instance may have moved it further);
    /// `ended_here` says whether this step's own compare-and-set made it final.
    async fn reread(
        &self,
        id: &str,
        sca: Option<PaymentSca>,
        ended_here: bool,
    ) -> Result<PaymentView, PaymentsError> {
        let rec = self
            .store
            .payment(id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        let state = parse_state(&rec)?;
        let sca = sca.filter(|_| state == PaymentState::AwaitingSca);
        let mut v = view(&rec, sca)?;
        v.ended_here = ended_here && state.is_final();
        Ok(v)
    }
}

/// States whose payments do not count against a daily limit: no money left.
const UNCOUNTED: [&str; 2] = [
    PaymentState::Rejected.as_str(),
    PaymentState::Cancelled.as_str(),
];

fn rust_decimal_zero() -> rust_decimal::Decimal {
    rust_decimal::Decimal::ZERO
}

fn parse_state(rec: &PaymentRecord) -> Result<PaymentState, PaymentsError> {
    PaymentState::parse(&rec.state).ok_or(PaymentsError::Corrupt)
}

fn product(rec: &PaymentRecord) -> Result<PaymentProduct, PaymentsError> {
    PaymentProduct::from_path(&rec.product).ok_or(PaymentsError::Corrupt)
}

fn view(rec: &PaymentRecord, sca: Option<PaymentSca>) -> Result<PaymentView, PaymentsError> {
    Ok(PaymentView {
        id: rec.id.clone(),
        state: parse_state(rec)?,
        sca,
        reason: rec.reason.clone(),
        ended_here: false,
    })
}
