//! The vault's one outside call: charging a card number at the card issuer's acquiring endpoint
//! (the sandbox bank's `POST /acquiring/v1/charges`, see its README). Every call has a timeout;
//! the request id makes a retry idempotent at the issuer. Errors never carry the card number.

use std::time::Duration;

use okienko_core::Money;
use zeroize::Zeroizing;

use crate::error::VaultError;

/// A card number and expiry, zeroed on drop.
pub struct CardData {
    pub pan: Zeroizing<String>,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// The issuer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerAnswer {
    Approved { charge_id: String },
    Declined { reason: String },
}

#[derive(Clone)]
pub struct Acquirer {
    base: String,
    http: reqwest::Client,
}

impl Acquirer {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Acquirer, VaultError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| VaultError::Config("building the HTTP client".into()))?;
        Ok(Acquirer {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// Charges (or with a zero amount, verifies) the card. `cvc` only at enrolment; `merchant`
    /// is what the cardholder's statement shows.
    pub async fn charge(
        &self,
        request_id: &str,
        card: &CardData,
        cvc: Option<&str>,
        amount: &Money,
        merchant: Option<&str>,
    ) -> Result<IssuerAnswer, VaultError> {
        let mut body = serde_json::json!({
            "pan": card.pan.as_str(),
            "expiryMonth": card.exp_month,
            "expiryYear": card.exp_year,
            "amount": amount.amount_string(),
            "currency": amount.currency().code(),
        });
        if let Some(c) = cvc {
            body["cvc"] = serde_json::Value::String(c.to_owned());
        }
        if let Some(m) = merchant {
            body["merchant"] = serde_json::Value::String(m.to_owned());
        }
        let body = Zeroizing::new(serde_json::to_vec(&body).map_err(|_| VaultError::Corrupt)?);
        let resp = self
            .http
            .post(format!("{}/acquiring/v1/charges", self.base))
            .header("x-request-id", request_id)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|_| VaultError::AcquirerUnavailable)?;
        if !resp.status().is_success() {
            tracing::warn!(
                status = resp.status().as_u16(),
                "issuer refused a charge request"
            );
            return Err(VaultError::AcquirerUnavailable);
        }
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|_| VaultError::AcquirerUnavailable)?;
        match v["status"].as_str() {
            Some("approved") => Ok(IssuerAnswer::Approved {
                charge_id: v["chargeId"].as_str().unwrap_or_default().to_owned(),
            }),
            Some("declined") => Ok(IssuerAnswer::Declined {
                reason: v["reason"]
                    .as_str()
                    .filter(|r| {
                        r.len() <= 40 && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    })
                    .unwrap_or("declined")
                    .to_owned(),
            }),
            _ => Err(VaultError::AcquirerUnavailable),
        }
    }
}
