//! NextGenPSD2 payment initiation over HTTP: `POST /v1/payments/{product}`, status,
//! cancellation and authorisation start. The caller's idempotency key is the `X-Request-ID` of
//! the initiation and of all its retries (the bank answers a repeated key with the same payment),
//! so retrying an initiation whose answer was lost is safe. Wire shapes stay in this file.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::NextGenPsd2Connector;
use super::http::{Idempotency, parse};
use crate::connector::ScaApproach;
use crate::error::ConnectorError;
use crate::pis::{
    PaymentError, PaymentInitiated, PaymentInitiation, PaymentOrder, PaymentProduct, PaymentSca,
    PaymentStatus,
};

#[derive(Serialize)]
struct AmountW<'a> {
    currency: &'a str,
    amount: String,
}

#[derive(Serialize)]
struct AccountRefW<'a> {
    iban: &'a str,
}

/// `paymentInitiation_json`: field order is fixed, so a retry sends the same bytes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitiationW<'a> {
    instructed_amount: AmountW<'a>,
    debtor_account: AccountRefW<'a>,
    creditor_account: AccountRefW<'a>,
    creditor_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remittance_information_unstructured: Option<&'a str>,
}

#[derive(Deserialize)]
struct HrefW {
    href: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LinksW {
    sca_redirect: Option<HrefW>,
    start_authorisation: Option<HrefW>,
    start_authorisation_with_psu_identification: Option<HrefW>,
}

#[derive(Deserialize)]
struct TppMessageW {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitiatedW {
    transaction_status: String,
    payment_id: String,
    #[serde(rename = "_links", default)]
    links: LinksW,
    psu_message: Option<String>,
    sca_status: Option<String>,
    #[serde(default)]
    tpp_messages: Vec<TppMessageW>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusW {
    transaction_status: String,
    #[serde(default)]
    tpp_messages: Vec<TppMessageW>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartW {
    #[serde(rename = "_links", default)]
    links: LinksW,
    psu_message: Option<String>,
    sca_status: Option<String>,
}

/// An ISO 20022 reason code at the start of a message ("AM04: insufficient funds").
fn reason(msgs: &[TppMessageW]) -> Option<String> {
    msgs.iter().filter_map(|m| m.text.as_deref()).find_map(|t| {
        let code: String = t
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        (code.len() == 4
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        .then_some(code)
    })
}

fn status_of(code: &str, msgs: &[TppMessageW], http: u16) -> Result<PaymentStatus, PaymentError> {
    PaymentStatus::from_iso(code, reason(msgs)).ok_or(PaymentError::OutcomeUnknown(
        ConnectorError::Malformed { status: http },
    ))
}

fn sca_of(links: &LinksW, msg: Option<String>, sca_status: Option<&str>) -> PaymentSca {
    if let Some(r) = &links.sca_redirect {
        return PaymentSca::Redirect {
            url: r.href.clone(),
        };
    }
    if sca_status == Some("started") || msg.is_some() {
        return PaymentSca::Decoupled { message: msg };
    }
    if links.start_authorisation.is_some()
        || links.start_authorisation_with_psu_identification.is_some()
    {
        return PaymentSca::StartAuthorisation;
    }
    PaymentSca::None
}

fn conflict_key() -> PaymentError {
    PaymentError::KeyReused
}

fn conflict_sca() -> PaymentError {
    PaymentError::NotAwaitingSca
}

impl NextGenPsd2Connector {
    fn payment_url(
        &self,
        product: PaymentProduct,
        rest: &[&str],
    ) -> Result<url::Url, PaymentError> {
        let mut segs = vec!["v1", "payments", product.path()];
        segs.extend_from_slice(rest);
        self.url(&segs).map_err(PaymentError::Other)
    }
}

#[async_trait]
impl PaymentInitiation for NextGenPsd2Connector {
    async fn initiate_payment(
        &self,
        order: &PaymentOrder,
        key: Uuid,
    ) -> Result<PaymentInitiated, PaymentError> {
        let url = self.payment_url(order.product, &[])?;
        let currency = order.amount.currency();
        let body = InitiationW {
            instructed_amount: AmountW {
                currency: currency.code(),
                amount: order.amount.amount_string(),
            },
            debtor_account: AccountRefW {
                iban: order.debtor.expose(),
            },
            creditor_account: AccountRefW {
                iban: order.creditor.expose(),
            },
            creditor_name: &order.creditor_name,
            remittance_information_unstructured: order.remittance.as_deref(),
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|_| PaymentError::Other(ConnectorError::Config("payment body")))?;
        // Safe to retry: the bank deduplicates by X-Request-ID, which stays `key`.
        let reply = self
            .http
            .send_keyed("payment_initiate", Idempotency::Safe, key, |c| {
                let mut rb = c
                    .post(url.clone())
                    .header("Content-Type", "application/json")
                    .header("PSU-IP-Address", &order.psu_ip)
                    .body(bytes.clone());
                if let Some(p) = &order.psu_id {
                    rb = rb.header("PSU-ID", p);
                }
                match order.approach {
                    ScaApproach::Decoupled => {
                        rb = rb.header("TPP-Decoupled-Preferred", "true");
                    }
                    ScaApproach::Redirect => {
                        rb = rb.header("TPP-Redirect-Preferred", "true");
                        if let Some(u) = &order.redirect_uri {
                            rb = rb.header("TPP-Redirect-URI", u);
                        }
                    }
                }
                rb
            })
            .await
            .map_err(|e| PaymentError::from_connector(e, conflict_key))?;
        let w: InitiatedW = parse("payment_initiate", &reply)
            .map_err(|e| PaymentError::from_connector(e, conflict_key))?;
        let status = status_of(
            &w.transaction_status,
            &w.tpp_messages,
            reply.status.as_u16(),
        )?;
        let sca = if status == PaymentStatus::Received {
            sca_of(&w.links, w.psu_message, w.sca_status.as_deref())
        } else {
            PaymentSca::None
        };
        Ok(PaymentInitiated {
            payment_id: w.payment_id,
            status,
            sca,
        })
    }

    async fn payment_status(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<PaymentStatus, PaymentError> {
        let url = self.payment_url(product, &[payment_id, "status"])?;
        let reply = self
            .http
            .send("payment_status", Idempotency::Safe, |c| c.get(url.clone()))
            .await
            .map_err(|e| PaymentError::from_connector(e, conflict_key))?;
        let w: StatusW = parse("payment_status", &reply)
            .map_err(|e| PaymentError::from_connector(e, conflict_key))?;
        status_of(
            &w.transaction_status,
            &w.tpp_messages,
            reply.status.as_u16(),
        )
    }

    async fn cancel_payment(
        &self,
        product: PaymentProduct,
        payment_id: &str,
    ) -> Result<(), PaymentError> {
        let url = self.payment_url(product, &[payment_id])?;
        // Cancelling twice is harmless: the second answer is 405 (already cancelled).
        self.http
            .send("payment_cancel", Idempotency::Safe, |c| {
                c.delete(url.clone())
            })
            .await
            .map_err(|e| PaymentError::from_connector(e, conflict_key))?;
        Ok(())
    }

    async fn start_authorisation(
        &self,
        product: PaymentProduct,
        payment_id: &str,
        psu_id: Option<&str>,
    ) -> Result<PaymentSca, PaymentError> {
        let url = self.payment_url(product, &[payment_id, "authorisations"])?;
        let reply = self
            .http
            .send_keyed(
                "payment_authorise",
                Idempotency::Safe,
                authorisation_key(product, payment_id),
                |c| {
                    let mut rb = c.post(url.clone());
                    if let Some(p) = psu_id {
                        rb = rb.header("PSU-ID", p);
                    }
                    rb
                },
            )
            .await
            .map_err(|e| PaymentError::from_connector(e, conflict_sca))?;
        let w: StartW = parse("payment_authorise", &reply)
            .map_err(|e| PaymentError::from_connector(e, conflict_sca))?;
        Ok(sca_of(&w.links, w.psu_message, w.sca_status.as_deref()))
    }
}

/// The `X-Request-ID` of the explicit authorisation start of a payment: the same for every
/// attempt and every gateway instance, so a payment gets one authorisation at a bank that
/// deduplicates by it, however many followers step it at once (one SCA prompt, not two).
fn authorisation_key(product: PaymentProduct, payment_id: &str) -> Uuid {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(b"okienko/payment-authorisation/")
        .chain_update(product.path().as_bytes())
        .chain_update(b"/")
        .chain_update(payment_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
