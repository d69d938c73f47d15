//! Transfers from the chat wired to the payments service: the dialog's [`Transfers`] trait
//! implemented over crates/payments (limits counted from the payments store, an unusual amount
//! measured against the customer's debits read through the privacy gate), and a status worker
//! that follows every payment that is not final to its end, after a restart too, and pushes the
//! receipt or the rejection into the customer's chat.
//!
//! Never logged: amounts, IBANs, names, logins. Only payment ids and states.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_bank::ScaApproach;
use okienko_bank::pis::{PaymentInitiation, PaymentProduct, PaymentSca};
use okienko_core::{Clock, CustomerId, Money, format};
use okienko_dialog::transfer::{
    self, Approval, Assessment, Receipt, Refusal, Submitted, TransferError, TransferRequest,
    Transfers,
};
use okienko_dialog::{Engine, Outbox};
use okienko_payments::{PaymentState, PaymentView, Payments, PaymentsError, TransferOrder};
use okienko_privacy::{AccessRequest, PrivacyGate, Purpose};
use okienko_store::{PaymentRecord, Store};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

/// `[payments]`: transfers from the chat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// Off: a confirmed transfer is answered with "this bank hasn't turned transfers on".
    pub enabled: bool,
    /// "decoupled" (approve in the bank's app; the chat asks for the bank login once) or
    /// "redirect" (a link to the bank's page).
    pub sca: String,
    /// The NextGenPSD2 payment product.
    pub product: String,
    /// The currency of the limits and of transfers from the chat.
    pub currency: String,
    /// Hard limit per transfer (a decimal: `"5000"`, `5000` or `5000.50`).
    #[serde(deserialize_with = "amount_text")]
    pub max_per_transfer: String,
    /// Hard limit per calendar day in `chat.timezone`, counted from the payments store
    /// (everything requested that day and not rejected or cancelled).
    #[serde(deserialize_with = "amount_text")]
    pub max_per_day: String,
    /// An amount above this many times the customer's usual largest debit is "unusual".
    pub unusual_factor: u32,
    /// How often the status worker asks the bank about unfinished payments.
    pub poll_secs: u64,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        PaymentSettings {
            enabled: true,
            sca: "decoupled".into(),
            product: PaymentProduct::InstantSepaCreditTransfer.path().into(),
            currency: "PLN".into(),
            max_per_transfer: "5000".into(),
            max_per_day: "10000".into(),
            unusual_factor: 3,
            poll_secs: 2,
        }
    }
}

/// An amount in the configuration as text, whether it was written as a string or as a number
/// (`OKIENKO_PAYMENTS__MAX_PER_DAY=150` arrives as a number). Checked in `limits()`.
fn amount_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Amount {
        Text(String),
        Whole(i64),
        Fraction(f64),
    }
    Ok(match Amount::deserialize(d)? {
        Amount::Text(s) => s,
        Amount::Whole(n) => n.to_string(),
        // The shortest text that reads back as the same number: 150.5 → "150.5".
        Amount::Fraction(f) => f.to_string(),
    })
}

/// The settings, checked.
#[derive(Debug, Clone)]
struct Limits {
    approach: ScaApproach,
    product: PaymentProduct,
    per_transfer: Money,
    per_day: Money,
    unusual_factor: Decimal,
    poll: Duration,
}

impl PaymentSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        self.limits().map(|_| ())
    }

    fn limits(&self) -> anyhow::Result<Limits> {
        let approach = match self.sca.as_str() {
            "decoupled" => ScaApproach::Decoupled,
            "redirect" => ScaApproach::Redirect,
            _ => anyhow::bail!("payments.sca must be \"decoupled\" or \"redirect\""),
        };
        let product = PaymentProduct::from_path(&self.product)
            .context("payments.product is not a payment product this gateway speaks")?;
        let money = |s: &str, what: &str| -> anyhow::Result<Money> {
            let m = Money::parse(s, &self.currency).map_err(|_| {
                anyhow::anyhow!("payments.{what} is not an amount in payments.currency")
            })?;
            anyhow::ensure!(
                m.amount() > Decimal::ZERO,
                "payments.{what} must be positive"
            );
            Ok(m)
        };
        let per_transfer = money(&self.max_per_transfer, "max_per_transfer")?;
        let per_day = money(&self.max_per_day, "max_per_day")?;
        anyhow::ensure!(
            (1..=100).contains(&self.unusual_factor),
            "payments.unusual_factor must be between 1 and 100"
        );
        anyhow::ensure!(
            (1..=600).contains(&self.poll_secs),
            "payments.poll_secs must be between 1 and 600"
        );
        Ok(Limits {
            approach,
            product,
            per_transfer,
            per_day,
            unusual_factor: Decimal::from(self.unusual_factor),
            poll: Duration::from_secs(self.poll_secs),
        })
    }
}

/// The dialog's transfers, executed through crates/payments.
pub struct ChatTransfers {
    payments: Payments,
    store: Store,
    gate: PrivacyGate,
    clock: Arc<dyn Clock>,
    limits: Limits,
    tz: chrono_tz::Tz,
    psu_ip: String,
    redirect_uri: String,
    /// One transfer decision at a time per customer, so two confirmations cannot both pass
    /// the daily limit.
    locks: Mutex<HashMap<CustomerId, Arc<Mutex<()>>>>,
}

const JOB: &str = "payments";

impl ChatTransfers {
    fn req(&self, customer: CustomerId) -> AccessRequest {
        AccessRequest::system(JOB, customer, Purpose::ServicePayment)
    }

    async fn lock(&self, customer: CustomerId) -> Arc<Mutex<()>> {
        self.locks.lock().await.entry(customer).or_default().clone()
    }

    /// What the customer asked to pay today (in the chat's zone), not rejected or cancelled.
    async fn spent_today(&self, customer: CustomerId) -> Result<Money, TransferError> {
        let now = self.clock.now();
        let today = format::local_date(now, self.tz);
        let mut total = Money::zero(self.limits.per_day.currency());
        for p in self.store.customer_payments(customer).await.map_err(|e| {
            tracing::error!(error = %e, "reading payments for the daily limit failed");
            TransferError::Failed
        })? {
            let counts = !matches!(
                PaymentState::parse(&p.state),
                Some(PaymentState::Rejected | PaymentState::Cancelled)
            );
            if counts
                && format::local_date(p.created_at, self.tz) == today
                && p.amount.currency() == total.currency()
            {
                total = Money::new(total.amount() + p.amount.amount(), total.currency())
                    .map_err(|_| TransferError::Failed)?;
            }
        }
        Ok(total)
    }

    async fn refusal(
        &self,
        customer: CustomerId,
        amount: &Money,
    ) -> Result<Option<Refusal>, TransferError> {
        if amount.currency() != self.limits.per_transfer.currency() {
            return Err(TransferError::Invalid("currency"));
        }
        if amount.amount() > self.limits.per_transfer.amount() {
            return Ok(Some(Refusal::PerTransfer {
                limit: self.limits.per_transfer,
            }));
        }
        let spent = self.spent_today(customer).await?;
        if spent.amount() + amount.amount() > self.limits.per_day.amount() {
            let left = (self.limits.per_day.amount() - spent.amount()).max(Decimal::ZERO);
            return Ok(Some(Refusal::PerDay {
                limit: self.limits.per_day,
                left: Money::new(left, amount.currency()).map_err(|_| TransferError::Failed)?,
            }));
        }
        Ok(None)
    }

    async fn payee_saved(&self, customer: CustomerId, rec: &PaymentRecord) -> bool {
        match self.gate.payees(&self.req(customer)).await {
            Ok(p) => p.data().iter().any(|p| p.saved && p.iban == rec.creditor),
            Err(_) => true,
        }
    }

    fn receipt(&self, rec: &PaymentRecord, saved: bool) -> Receipt {
        Receipt {
            payment_id: rec.id.clone(),
            amount: rec.amount,
            payee: rec.creditor_name.clone(),
            iban: rec.creditor.clone(),
            at: rec.updated_at,
            payee_saved: saved,
        }
    }

    async fn submitted(
        &self,
        customer: CustomerId,
        view: PaymentView,
    ) -> Result<Submitted, TransferError> {
        let payment_id = view.id.clone();
        Ok(match view.state {
            PaymentState::AwaitingSca => match view.sca {
                Some(PaymentSca::Redirect { url }) => Submitted::Approve {
                    payment_id,
                    how: Approval::Link(url),
                },
                _ if self.limits.approach == ScaApproach::Decoupled => Submitted::Approve {
                    payment_id,
                    how: Approval::App,
                },
                _ => Submitted::Pending { payment_id },
            },
            PaymentState::Executed => {
                let rec = self
                    .store
                    .payment(&view.id)
                    .await
                    .ok()
                    .flatten()
                    .ok_or(TransferError::Failed)?;
                let saved = self.payee_saved(customer, &rec).await;
                Submitted::Executed(self.receipt(&rec, saved))
            }
            PaymentState::Rejected | PaymentState::Cancelled => Submitted::Rejected {
                payment_id,
                reason: view
                    .reason
                    .or_else(|| (view.state == PaymentState::Cancelled).then(|| "CANC".to_owned())),
            },
            PaymentState::Requested
            | PaymentState::Unknown
            | PaymentState::Initiated
            | PaymentState::Accepted => Submitted::Pending { payment_id },
        })
    }
}

#[async_trait]
impl Transfers for ChatTransfers {
    fn needs_bank_login(&self) -> bool {
        self.limits.approach == ScaApproach::Decoupled
    }

    async fn assess(
        &self,
        customer: CustomerId,
        amount: &Money,
    ) -> Result<Assessment, TransferError> {
        let refusal = self.refusal(customer, amount).await?;
        let since = format::local_date(self.clock.now(), self.tz) - chrono::Duration::days(180);
        let mut usual: Vec<Decimal> =
            match self.gate.debit_amounts(&self.req(customer), since).await {
                Ok(a) => a
                    .into_data()
                    .into_iter()
                    .filter(|m| m.currency() == amount.currency())
                    .map(|m| m.amount())
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "reading past debits for a transfer check failed");
                    Vec::new()
                }
            };
        usual.sort();
        // The 95th percentile of what the customer pays: one big yearly bill is not "usual".
        let unusual = (usual.len() >= 5)
            .then(|| usual[(usual.len() * 95 / 100).min(usual.len() - 1)])
            .filter(|p95| amount.amount() > *p95 * self.limits.unusual_factor)
            .and_then(|p95| Money::new(p95.round_dp(2), amount.currency()).ok());
        Ok(Assessment { unusual, refusal })
    }

    async fn submit(
        &self,
        customer: CustomerId,
        request: &TransferRequest,
    ) -> Result<Submitted, TransferError> {
        let lock = self.lock(customer).await;
        let _held = lock.lock().await;
        let existing = self
            .store
            .payment_by_action(customer, &request.action.to_string())
            .await
            .map_err(|_| TransferError::Failed)?;
        // A retry of a payment already requested is never refused: it pays nothing new.
        if existing.is_none()
            && let Some(r) = self.refusal(customer, &request.amount).await?
        {
            return Err(TransferError::Limit(r));
        }
        let order = TransferOrder {
            action: request.action,
            product: self.limits.product,
            debtor: request.debtor.clone(),
            creditor: request.creditor.clone(),
            creditor_name: request.creditor_name.clone(),
            amount: request.amount,
            remittance: None,
            psu_id: request.bank_login.clone(),
            psu_ip: self.psu_ip.clone(),
            approach: self.limits.approach,
            redirect_uri: Some(self.redirect_uri.clone()),
        };
        match self.payments.start(customer, &order).await {
            Ok(view) => self.submitted(customer, view).await,
            Err(PaymentsError::Invalid(what)) => Err(TransferError::Invalid(what)),
            Err(e) => {
                tracing::error!(error = %e, "starting a payment failed");
                // The row may exist: the worker keeps following it.
                match self
                    .store
                    .payment_by_action(customer, &request.action.to_string())
                    .await
                {
                    Ok(Some(rec)) => Ok(Submitted::Pending { payment_id: rec.id }),
                    _ => Err(TransferError::Failed),
                }
            }
        }
    }

    async fn save_payee(
        &self,
        customer: CustomerId,
        payment_id: &str,
    ) -> Result<String, TransferError> {
        let rec = self
            .store
            .payment(payment_id)
            .await
            .map_err(|_| TransferError::Failed)?
            .filter(|r| r.customer == customer)
            .ok_or(TransferError::NotFound)?;
        let saved = self
            .gate
            .save_payee(&self.req(customer), &rec.creditor_name, &rec.creditor)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "saving a payee failed");
                TransferError::Failed
            })?;
        Ok(saved.into_data().name)
    }
}

/// Wires transfers into the engine and starts the status worker.
#[allow(clippy::too_many_arguments)]
pub fn start(
    settings: &PaymentSettings,
    store: &Store,
    gate: PrivacyGate,
    bank: Arc<dyn PaymentInitiation>,
    engine: Arc<Engine>,
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
    tz: chrono_tz::Tz,
    psu_ip: &str,
    public_url: &str,
    jobs: &crate::leader::Jobs,
    bus: Arc<dyn okienko_bus::EventBus>,
) -> anyhow::Result<Option<Arc<ChatTransfers>>> {
    if !settings.enabled {
        tracing::info!("transfers from the chat are off");
        return Ok(None);
    }
    let limits = settings.limits()?;
    let service = Arc::new(ChatTransfers {
        payments: Payments::new(store.clone(), bank, clock.clone()),
        store: store.clone(),
        gate,
        clock,
        limits,
        tz,
        psu_ip: psu_ip.to_owned(),
        redirect_uri: format!("{}/payments/done", public_url.trim_end_matches('/')),
        locks: Mutex::new(HashMap::new()),
    });
    engine.set_transfers(service.clone());
    let follower = service.clone();
    // Run once across instances: the follower runs only while this instance holds the lease.
    jobs.add(move |stop| {
        tokio::spawn(follow(
            follower.clone(),
            engine.clone(),
            outbox.clone(),
            bus.clone(),
            stop,
        ))
    });
    tracing::info!(
        sca = settings.sca.as_str(),
        "transfers from the chat are on"
    );
    Ok(Some(service))
}

/// The status worker: every `poll`, one step for each payment that is not final (the first
/// round is the start-up recovery), and a message to the customer when one ends.
async fn follow(
    service: Arc<ChatTransfers>,
    engine: Arc<Engine>,
    outbox: Arc<dyn Outbox>,
    bus: Arc<dyn okienko_bus::EventBus>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        match service.store.open_payments(&PaymentState::FINAL).await {
            Ok(open) => {
                if first {
                    tracing::info!(
                        open = open.len(),
                        "payments recovery: following unfinished payments"
                    );
                }
                for rec in open {
                    let at: DateTime<Utc> = service.clock.now();
                    match service.payments.step(&rec.id).await {
                        Ok(view) if view.state.is_final() => {
                            tracing::info!(payment = %rec.id, state = view.state.as_str(), "payment finished");
                            notify(&service, &engine, &*outbox, &rec, &view, at).await;
                            announce(&*bus, &rec, view.state).await;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(payment = %rec.id, error = %e, "payment status step failed")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing unfinished payments failed"),
        }
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(service.limits.poll) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn notify(
    service: &ChatTransfers,
    engine: &Engine,
    outbox: &dyn Outbox,
    rec: &PaymentRecord,
    view: &PaymentView,
    at: DateTime<Utc>,
) {
    let lang = engine.customer_lang(rec.customer).await;
    // Money moved: the next question asks the bank, whatever `chat.refresh_after_secs` says.
    engine.refresh_next_time(rec.customer);
    let reply = match view.state {
        PaymentState::Executed => {
            let saved = service.payee_saved(rec.customer, rec).await;
            let mut r = service.receipt(rec, saved);
            r.at = at;
            transfer::receipt(lang, service.tz, &r)
        }
        PaymentState::Cancelled => transfer::rejection(
            lang,
            Some(&rec.amount),
            Some(&rec.creditor_name),
            Some("CANC"),
        ),
        _ => transfer::rejection(
            lang,
            Some(&rec.amount),
            Some(&rec.creditor_name),
            view.reason.as_deref(),
        ),
    };
    outbox.push(rec.customer, reply);
}

/// Tells every instance that a payment ended (`PaymentStatus`: ids and the state only), so each
/// one's engine asks the bank on the customer's next question, wherever they ask it.
async fn announce(bus: &dyn okienko_bus::EventBus, rec: &PaymentRecord, state: PaymentState) {
    let event = okienko_bus::Event::PaymentStatus {
        customer: rec.customer,
        payment: rec.id.clone(),
        state: state.as_str().to_owned(),
    };
    let id = format!("pay:{}:{}", rec.id, state.as_str());
    match tokio::time::timeout(Duration::from_secs(10), bus.publish(&id, &event)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(payment = %rec.id, error = %e, "announcing the payment's status failed")
        }
        Err(_) => tracing::warn!(payment = %rec.id, "announcing the payment's status timed out"),
    }
}

/// Where the bank sends the customer back after approving on its page (redirect SCA).
pub fn routes() -> axum::Router {
    axum::Router::new().route(
        "/payments/done",
        axum::routing::get(|| async {
            axum::response::Html(
                "<!doctype html><html lang=\"pl\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Okienko</title>\
<p>Dziękujemy. Wróć do czatu — tam zobaczysz potwierdzenie przelewu.</p>\
<p lang=\"en\">Thank you. Go back to the chat — you'll see the transfer's confirmation there.</p>",
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_may_be_written_as_numbers_or_text() {
        let s: PaymentSettings = serde_json::from_value(
            serde_json::json!({"max_per_transfer": 100, "max_per_day": "150.50"}),
        )
        .unwrap();
        let l = s.limits().unwrap();
        assert_eq!(l.per_transfer, Money::parse("100", "PLN").unwrap());
        assert_eq!(l.per_day, Money::parse("150.50", "PLN").unwrap());
        let s: PaymentSettings =
            serde_json::from_value(serde_json::json!({"max_per_day": 250.5})).unwrap();
        assert_eq!(
            s.limits().unwrap().per_day,
            Money::parse("250.5", "PLN").unwrap()
        );
        let s: PaymentSettings =
            serde_json::from_value(serde_json::json!({"max_per_day": -5})).unwrap();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("must be positive")
        );
        assert!(
            serde_json::from_value::<PaymentSettings>(serde_json::json!({"max_per_day": true}))
                .is_err()
        );
    }
}
