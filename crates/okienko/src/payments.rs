//! Transfers from the chat wired to the payments service: the dialog's [`Transfers`] trait
//! implemented over crates/payments (limits counted from the payments store, an unusual amount
//! measured against the customer's debits read through the privacy gate), and a status worker
//! that follows every payment that is not final to its end, after a restart too, and pushes the
//! receipt or the rejection into the customer's chat.
//!
//! Several gateway instances (issue 9): the daily limit is checked and the payment recorded in
//! one store transaction serialised per customer, so transfers confirmed on two instances at
//! once cannot together exceed it. The customer hears how a payment ended exactly once at most:
//! whoever tells (the confirming request's own answer, the follower that saw the bank end it, or
//! the follower's sweep for payments whose teller died) first claims the payment's notice in the
//! store and stays silent when the claim is lost. The claim is taken with the message ready, right
//! before the push, and never given back: a process dying in that instant loses the message
//! rather than risk telling the customer twice that money left (the payment itself is safe and
//! visible in the bank's own channels).
//!
//! Never logged: amounts, IBANs, names, logins. Only payment ids and states.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
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
use tokio::sync::watch;

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
}

const JOB: &str = "payments";

impl ChatTransfers {
    fn req(&self, customer: CustomerId) -> AccessRequest {
        AccessRequest::system(JOB, customer, Purpose::ServicePayment)
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

    /// The limits' verdict before the customer confirms (advisory: [`Transfers::submit`]
    /// checks the daily limit again, atomically, when the payment is recorded).
    async fn refusal(
        &self,
        customer: CustomerId,
        amount: &Money,
    ) -> Result<Option<Refusal>, TransferError> {
        if let Some(r) = self.per_transfer_refusal(amount)? {
            return Ok(Some(r));
        }
        let spent = self.spent_today(customer).await?;
        if spent.amount() + amount.amount() > self.limits.per_day.amount() {
            return Ok(Some(self.per_day_refusal(&spent)?));
        }
        Ok(None)
    }

    fn per_transfer_refusal(&self, amount: &Money) -> Result<Option<Refusal>, TransferError> {
        if amount.currency() != self.limits.per_transfer.currency() {
            return Err(TransferError::Invalid("currency"));
        }
        Ok(
            (amount.amount() > self.limits.per_transfer.amount()).then_some(Refusal::PerTransfer {
                limit: self.limits.per_transfer,
            }),
        )
    }

    /// The daily limit's refusal when `spent` is already counted today.
    fn per_day_refusal(&self, spent: &Money) -> Result<Refusal, TransferError> {
        let left = (self.limits.per_day.amount() - spent.amount()).max(Decimal::ZERO);
        Ok(Refusal::PerDay {
            limit: self.limits.per_day,
            left: Money::new(left, self.limits.per_day.currency())
                .map_err(|_| TransferError::Failed)?,
        })
    }

    /// Takes the right to tell the customer how payment `id` ended (see the module doc); a
    /// store failure counts as lost, and the sweep tells later.
    async fn claim_notice(&self, id: &str) -> bool {
        match self.store.claim_payment_notice(id, self.clock.now()).await {
            Ok(won) => won,
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "claiming a payment's notice failed");
                false
            }
        }
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
                let receipt = self.receipt(&rec, saved);
                // Someone else tells (or told) the customer: this answer does not repeat it.
                if !self.claim_notice(&payment_id).await {
                    return Ok(Submitted::Pending { payment_id });
                }
                Submitted::Executed(receipt)
            }
            PaymentState::Rejected | PaymentState::Cancelled => {
                if !self.claim_notice(&payment_id).await {
                    return Ok(Submitted::Pending { payment_id });
                }
                Submitted::Rejected {
                    payment_id,
                    reason: view.reason.or_else(|| {
                        (view.state == PaymentState::Cancelled).then(|| "CANC".to_owned())
                    }),
                }
            }
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
        let existing = self
            .store
            .payment_by_action(customer, &request.action.to_string())
            .await
            .map_err(|_| TransferError::Failed)?;
        // A retry of a payment already requested is never refused: it pays nothing new. The
        // daily limit is checked by the store as the payment is recorded (start_within).
        if existing.is_none()
            && let Some(r) = self.per_transfer_refusal(&request.amount)?
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
        let (from, until) = day_bounds(self.clock.now(), self.tz);
        match self
            .payments
            .start_within(customer, &order, from, until, self.limits.per_day)
            .await
        {
            Ok(view) => self.submitted(customer, view).await,
            Err(PaymentsError::Invalid(what)) => Err(TransferError::Invalid(what)),
            Err(PaymentsError::OverLimit { spent }) => {
                Err(TransferError::Limit(self.per_day_refusal(&spent)?))
            }
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
    });
    engine.set_transfers(service.clone());
    let follower = service.clone();
    // Run once across instances: the follower runs only while this instance holds the lease.
    jobs.add(move |stop| {
        tokio::spawn(follow(
            follower.clone(),
            engine.clone(),
            outbox.clone(),
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
/// round is the start-up recovery), and a message to the customer when one ends; then the sweep
/// for payments that ended without the customer being told.
async fn follow(
    service: Arc<ChatTransfers>,
    engine: Arc<Engine>,
    outbox: Arc<dyn Outbox>,
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
                        // Only the step that ended it tells: a payment ended elsewhere (the
                        // confirming request, another instance) is told there, or swept.
                        Ok(view) if view.ended_here => {
                            tracing::info!(payment = %rec.id, state = view.state.as_str(), "payment finished");
                            let end = End {
                                state: view.state,
                                reason: view.reason.clone(),
                                at,
                            };
                            if notify(&service, &engine, &*outbox, &rec, &end).await {
                                announce(&service.store, &rec, view.state).await;
                            }
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
        sweep(&service, &engine, &*outbox).await;
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(service.limits.poll) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// How long a payment's end is left to whoever ended it before the sweep tells the customer
/// instead: long enough for the confirming request to answer (its reply carries the receipt
/// when the bank ended the payment at once), short enough that a lost receipt comes soon.
fn notice_grace(poll: Duration) -> Duration {
    (poll * 3).max(Duration::from_secs(10))
}

/// Tells the customers of final payments nobody told (their teller died between ending the
/// payment and pushing, or its claim failed), oldest first, each at most once.
async fn sweep(service: &ChatTransfers, engine: &Engine, outbox: &dyn Outbox) {
    let grace = chrono::Duration::from_std(notice_grace(service.limits.poll))
        .unwrap_or_else(|_| chrono::Duration::seconds(10));
    let before = service.clock.now() - grace;
    let ended = match service
        .store
        .unnotified_payments(&PaymentState::FINAL, before)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "listing untold payment ends failed");
            return;
        }
    };
    for rec in ended {
        let Some(state) = PaymentState::parse(&rec.state) else {
            continue;
        };
        let end = End {
            state,
            reason: rec.reason.clone(),
            at: rec.updated_at,
        };
        if notify(service, engine, outbox, &rec, &end).await {
            tracing::info!(payment = %rec.id, state = state.as_str(), "payment end told late");
            announce(&service.store, &rec, state).await;
        }
    }
}

/// How a payment ended, for the message.
struct End {
    state: PaymentState,
    reason: Option<String>,
    at: DateTime<Utc>,
}

/// Pushes the receipt or the rejection if this instance wins the payment's notice claim;
/// `true` when it pushed. Everything the message needs is read before the claim, so nothing
/// can fail between the claim and the push.
async fn notify(
    service: &ChatTransfers,
    engine: &Engine,
    outbox: &dyn Outbox,
    rec: &PaymentRecord,
    end: &End,
) -> bool {
    let lang = engine.customer_lang(rec.customer).await;
    let reply = match end.state {
        PaymentState::Executed => {
            let saved = service.payee_saved(rec.customer, rec).await;
            let mut r = service.receipt(rec, saved);
            r.at = end.at;
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
            end.reason.as_deref(),
        ),
    };
    // Money moved (or did not): the next question asks the bank, whoever tells the customer.
    engine.refresh_next_time(rec.customer);
    if !service.claim_notice(&rec.id).await {
        return false;
    }
    outbox.push(rec.customer, reply);
    true
}

/// The calendar day of `now` in `tz` as UTC instants `[start, next day's start)`: the window
/// of the daily limit.
fn day_bounds(now: DateTime<Utc>, tz: chrono_tz::Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = format::local_date(now, tz);
    let next = today.succ_opt().unwrap_or(today);
    (day_start(today, tz), day_start(next, tz))
}

fn day_start(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    // A clock change may skip midnight (the gap is at most an hour or two): the day starts
    // with the first local time that exists.
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// Tells every instance that a payment ended (`PaymentStatus`: ids and the state only), so each
/// one's engine asks the bank on the customer's next question, wherever they ask it. Through the
/// store's bus outbox: the relay publishes it however long the bus is down.
async fn announce(store: &Store, rec: &PaymentRecord, state: PaymentState) {
    let event = okienko_bus::Event::PaymentStatus {
        customer: rec.customer,
        payment: rec.id.clone(),
        state: state.as_str().to_owned(),
    };
    let id = format!("pay:{}:{}", rec.id, state.as_str());
    if let Err(e) = crate::bus_events::put_event(store, &id, &event).await {
        tracing::warn!(payment = %rec.id, error = %e, "queueing the payment's status for the bus failed");
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

    /// The daily limit's window is exactly the local calendar day, in every zone and on
    /// every day of the year, including days whose midnight a clock change skips.
    #[test]
    fn day_bounds_are_the_local_calendar_day() {
        let one = chrono::Duration::seconds(1);
        for tz in [
            chrono_tz::Europe::Warsaw,
            chrono_tz::America::Santiago,
            chrono_tz::America::Havana,
            chrono_tz::Asia::Beirut,
            chrono_tz::UTC,
        ] {
            let mut now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
            for _ in 0..366 {
                let (from, until) = day_bounds(now, tz);
                let today = format::local_date(now, tz);
                assert!(from <= now && now < until, "{tz} {now}");
                assert_eq!(format::local_date(from, tz), today, "{tz} {now}");
                assert_eq!(format::local_date(until - one, tz), today, "{tz} {now}");
                assert!(format::local_date(from - one, tz) < today, "{tz} {now}");
                assert!(format::local_date(until, tz) > today, "{tz} {now}");
                now += chrono::Duration::hours(24);
            }
        }
        let warsaw = day_bounds(
            Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap(),
            chrono_tz::Europe::Warsaw,
        );
        assert_eq!(
            warsaw,
            (
                Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap()
            )
        );
    }

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
