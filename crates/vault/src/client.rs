//! The gateway's side of the vault: a client that signs every request ([`crate::auth`]), has a
//! timeout on every call, and only ever handles tokens, cryptograms and charge results.

use std::time::Duration;

use okienko_core::Money;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::service::{ChargeRequest, ChargeResult, CryptogramRequest, TokenInfo};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the card vault did not answer")]
    Unavailable,
    #[error("the card vault refused the request ({0})")]
    Refused(u16),
    #[error("the card vault answered something unexpected")]
    Protocol,
}

#[derive(Clone)]
pub struct VaultClient {
    base: String,
    secret: std::sync::Arc<Zeroizing<Vec<u8>>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("base", &self.base)
            .finish()
    }
}

impl VaultClient {
    pub fn new(
        base_url: &str,
        secret: Zeroizing<Vec<u8>>,
        timeout: Duration,
    ) -> Result<VaultClient, ClientError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| ClientError::Protocol)?;
        Ok(VaultClient {
            base: base_url.trim_end_matches('/').to_owned(),
            secret: std::sync::Arc::new(secret),
            http,
        })
    }

    /// The vault's public base URL (where customers open the card page).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        request_id: Option<&str>,
    ) -> Result<Option<T>, ClientError> {
        let body = body.unwrap_or_default();
        let ts = chrono::Utc::now().timestamp();
        let sig = crate::auth::sign(&self.secret, ts, method.as_str(), path, &body);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(crate::auth::TIMESTAMP, ts.to_string())
            .header(crate::auth::SIGNATURE, sig)
            .header("content-type", "application/json")
            .body(body);
        if let Some(r) = request_id {
            req = req.header("x-request-id", r);
        }
        let resp = req.send().await.map_err(|_| ClientError::Unavailable)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status == reqwest::StatusCode::BAD_GATEWAY {
            return Err(ClientError::Unavailable);
        }
        if !status.is_success() {
            return Err(ClientError::Refused(status.as_u16()));
        }
        resp.json()
            .await
            .map(Some)
            .map_err(|_| ClientError::Protocol)
    }

    fn enc<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(v).map_err(|_| ClientError::Protocol)
    }

    /// A card page for `owner`; returns the absolute URL the customer opens.
    pub async fn card_page(
        &self,
        owner: &str,
        requestor: &str,
        lang: &str,
    ) -> Result<String, ClientError> {
        let body = Self::enc(
            &serde_json::json!({ "owner": owner, "requestor": requestor, "lang": lang }),
        )?;
        let v: serde_json::Value = self
            .call(reqwest::Method::POST, "/v1/sessions", Some(body), None)
            .await?
            .ok_or(ClientError::Protocol)?;
        let path = v["path"].as_str().ok_or(ClientError::Protocol)?;
        Ok(format!("{}{path}", self.base))
    }

    /// The owner's cards as `requestor`'s tokens.
    pub async fn tokens(
        &self,
        owner: &str,
        requestor: &str,
    ) -> Result<Vec<TokenInfo>, ClientError> {
        let path = format!(
            "/v1/owners/{}/tokens?requestor={}",
            url::form_urlencoded::byte_serialize(owner.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(requestor.as_bytes()).collect::<String>()
        );
        let v: serde_json::Value = self
            .call(reqwest::Method::GET, &path, None, None)
            .await?
            .ok_or(ClientError::Protocol)?;
        serde_json::from_value(v["tokens"].clone()).map_err(|_| ClientError::Protocol)
    }

    /// A one-time cryptogram for one payment.
    pub async fn cryptogram(
        &self,
        token: &str,
        requestor: &str,
        amount: Money,
        merchant: &str,
        order_id: &str,
    ) -> Result<String, ClientError> {
        let body = Self::enc(&CryptogramRequest {
            token: token.to_owned(),
            requestor: requestor.to_owned(),
            amount,
            merchant: merchant.to_owned(),
            order_id: order_id.to_owned(),
        })?;
        let v: serde_json::Value = self
            .call(reqwest::Method::POST, "/v1/cryptograms", Some(body), None)
            .await?
            .ok_or(ClientError::Protocol)?;
        v["cryptogram"]
            .as_str()
            .map(str::to_owned)
            .ok_or(ClientError::Protocol)
    }

    /// Charges a token; `request_id` (a UUID) is the idempotency key.
    pub async fn charge(
        &self,
        request_id: &str,
        req: &ChargeRequest,
    ) -> Result<ChargeResult, ClientError> {
        let body = Self::enc(req)?;
        self.call(
            reqwest::Method::POST,
            "/v1/charges",
            Some(body),
            Some(request_id),
        )
        .await?
        .ok_or(ClientError::Protocol)
    }

    pub async fn charge_status(&self, charge_id: &str) -> Result<ChargeResult, ClientError> {
        let path = format!(
            "/v1/charges/{}",
            url::form_urlencoded::byte_serialize(charge_id.as_bytes()).collect::<String>()
        );
        self.call(reqwest::Method::GET, &path, None, None)
            .await?
            .ok_or(ClientError::Protocol)
    }

    /// Deletes the owner's cards and data key at the vault.
    pub async fn forget(&self, owner: &str) -> Result<(), ClientError> {
        let path = format!(
            "/v1/owners/{}",
            url::form_urlencoded::byte_serialize(owner.as_bytes()).collect::<String>()
        );
        self.call::<serde_json::Value>(reqwest::Method::DELETE, &path, None, None)
            .await
            .map(|_| ())
    }
}
