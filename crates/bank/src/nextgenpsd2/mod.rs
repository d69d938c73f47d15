//! The Berlin Group NextGenPSD2 1.3.11 connector over HTTP: consents with OAuth2 (PKCE) redirect
//! or decoupled SCA, accounts, balances and transactions with `_links.next` paging.
//!
//! Headers: a fresh `X-Request-ID` per logical call (reused on retries), `PSU-IP-Address` only
//! when the customer is present, `Consent-ID` and the bearer token on AIS calls. Wire types live
//! in [`wire`] and are converted in [`transformers`]; nothing outside this module sees them.

pub mod http;
pub mod payments;
pub mod transformers;
pub mod wire;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use okienko_core::{BookingStatus, ConsentScope, ConsentStatus};
use reqwest::RequestBuilder;
use url::Url;

use self::http::{Http, Idempotency, parse};
use crate::connector::{
    AccessCtx, AccessToken, BankAccount, BankBalance, BankCard, BankConnector, BankTransaction,
    BankTxPage, Capabilities, CardReport, CardStatus, ConsentCreated, ConsentRequest, LostReason,
    PageCursor, Presence, ScaApproach, ScaStep, TxQuery,
};
use crate::error::ConnectorError;
use crate::retry::RetryPolicy;

/// A NextGenPSD2 bank reached at `base_url` (the API lives under `{base_url}/v1/`).
pub struct NextGenPsd2Connector {
    http: Http,
    base: Url,
    client_id: String,
    oauth: Mutex<Option<wire::OAuthMetadata>>,
    /// Sent as `TPP-Notification-URI` on consent creation: where the bank may push news about
    /// the consent's accounts (the sandbox bank's new-transaction notifications).
    notification_uri: Option<String>,
}

impl NextGenPsd2Connector {
    /// `timeout` applies to each HTTP request (each attempt), not to a whole retried call.
    pub fn new(base_url: &str, client_id: &str, timeout: Duration) -> Result<Self, ConnectorError> {
        let mut base =
            Url::parse(base_url).map_err(|_| ConnectorError::Config("bank base URL is invalid"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ConnectorError::Config("bank base URL must be http(s)"));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        // reqwest is built without a bundled crypto provider; pick ring unless the process
        // already chose one.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ConnectorError::Config("could not build the HTTP client"))?;
        Ok(NextGenPsd2Connector {
            http: Http {
                client,
                timeout,
                retry: RetryPolicy::default(),
            },
            base,
            client_id: client_id.to_owned(),
            oauth: Mutex::new(None),
            notification_uri: None,
        })
    }

    /// Asks the bank to push notifications for new consents to `uri` (`TPP-Notification-URI`).
    pub fn with_notification_uri(mut self, uri: Option<String>) -> Self {
        self.notification_uri = uri;
        self
    }

    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut u = self.base.clone();
        u.path_segments_mut()
            .map_err(|_| ConnectorError::Config("bank base URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(u)
    }

    /// Resolves a bank-given link against the base URL.
    fn resolve(&self, href: &str) -> Result<Url, ConnectorError> {
        self.base
            .join(href)
            .map_err(|_| ConnectorError::Malformed { status: 200 })
    }

    fn same_origin(&self, u: &Url) -> bool {
        u.scheme() == self.base.scheme()
            && u.host_str() == self.base.host_str()
            && u.port_or_known_default() == self.base.port_or_known_default()
    }

    fn cached_oauth(&self) -> Option<wire::OAuthMetadata> {
        match self.oauth.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    async fn oauth_metadata(
        &self,
        href: Option<&str>,
    ) -> Result<wire::OAuthMetadata, ConnectorError> {
        if href.is_none()
            && let Some(m) = self.cached_oauth()
        {
            return Ok(m);
        }
        let url = match href {
            Some(h) => self.resolve(h)?,
            None => self.url(&[".well-known", "oauth-authorization-server"])?,
        };
        let reply = self
            .http
            .send("oauth_metadata", Idempotency::Safe, |c| c.get(url.clone()))
            .await?;
        let meta: wire::OAuthMetadata = parse("oauth_metadata", &reply)?;
        for endpoint in [&meta.authorization_endpoint, &meta.token_endpoint] {
            let u = self.resolve(endpoint)?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(ConnectorError::Malformed { status: 200 });
            }
        }
        match self.oauth.lock() {
            Ok(mut g) => *g = Some(meta.clone()),
            Err(p) => *p.into_inner() = Some(meta.clone()),
        }
        Ok(meta)
    }

    /// Consent-ID, bearer token and PSU-IP-Address (only when the customer is present).
    fn with_ctx(rb: RequestBuilder, ctx: &AccessCtx, consent_header: bool) -> RequestBuilder {
        let mut rb = rb;
        if consent_header {
            rb = rb.header("Consent-ID", ctx.bank_consent_id.as_str());
        }
        if let Some(t) = &ctx.access_token {
            rb = rb.bearer_auth(t);
        }
        if let Presence::CustomerPresent { ip } = &ctx.presence {
            rb = rb.header("PSU-IP-Address", ip.as_str());
        }
        rb
    }
}

fn card(c: wire::WireCard, status: u16) -> Result<BankCard, ConnectorError> {
    let status_of = match c.status.as_str() {
        "active" => CardStatus::Active,
        "blocked" => CardStatus::Blocked,
        "lost" => CardStatus::Lost,
        "stolen" => CardStatus::Stolen,
        "ordered" => CardStatus::Ordered,
        _ => return Err(ConnectorError::Malformed { status }),
    };
    if c.card_id.is_empty() || c.card_id.len() > 128 {
        return Err(ConnectorError::Malformed { status });
    }
    Ok(BankCard {
        card_id: c.card_id,
        masked_pan: c.masked_pan.filter(|m| m.len() <= 32),
        brand: c.brand.filter(|b| {
            !b.is_empty() && b.len() <= 20 && b.chars().all(|c| c.is_ascii_alphanumeric())
        }),
        status: status_of,
    })
}

fn malformed(status: u16) -> impl Fn(transformers::TransformError) -> ConnectorError {
    move |e| {
        tracing::warn!(error = %e, "bank data failed validation");
        ConnectorError::Malformed { status }
    }
}

#[async_trait]
impl BankConnector for NextGenPsd2Connector {
    fn payments(&self) -> Option<&dyn crate::pis::PaymentInitiation> {
        Some(self)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            redirect_sca: true,
            decoupled_sca: true,
            pending_transactions: true,
            delta: false,
            max_page_size: None,
            max_consent_days: 180,
            max_frequency_per_day: 4,
        }
    }

    async fn create_consent(&self, req: &ConsentRequest) -> Result<ConsentCreated, ConnectorError> {
        let has = |s: ConsentScope| req.scopes.contains(&s);
        let body = wire::ConsentsBody {
            access: wire::AccountAccess {
                balances: has(ConsentScope::Balances).then(Vec::new),
                transactions: has(ConsentScope::Transactions).then(Vec::new),
            },
            recurring_indicator: req.recurring,
            valid_until: req.valid_until.format("%Y-%m-%d").to_string(),
            frequency_per_day: req.frequency_per_day.max(1),
            combined_service_indicator: false,
        };
        let url = self.url(&["v1", "consents"])?;
        let reply = self
            .http
            .send("create_consent", Idempotency::Safe, |c| {
                let mut rb = c.post(url.clone()).json(&body);
                if let Some(ip) = &req.psu_ip {
                    rb = rb.header("PSU-IP-Address", ip.as_str());
                }
                if let Some(id) = &req.psu_id {
                    rb = rb.header("PSU-ID", id.as_str());
                }
                if let Some(uri) = &self.notification_uri {
                    rb = rb.header("TPP-Notification-URI", uri.as_str());
                }
                match req.approach {
                    ScaApproach::Redirect => rb.header("TPP-Redirect-Preferred", "true"),
                    ScaApproach::Decoupled => rb
                        .header("TPP-Redirect-Preferred", "false")
                        .header("TPP-Decoupled-Preferred", "true"),
                }
            })
            .await?;
        let status_code = reply.status.as_u16();
        let created: wire::ConsentsResponse201 = parse("create_consent", &reply)?;
        let status =
            ConsentStatus::from_wire(&created.consent_status).ok_or(ConnectorError::Malformed {
                status: status_code,
            })?;
        if created.consent_id.trim().is_empty() {
            return Err(ConnectorError::Malformed {
                status: status_code,
            });
        }
        let next = if let Some(oauth) = &created.links.sca_o_auth {
            let meta = self.oauth_metadata(Some(&oauth.href)).await?;
            ScaStep::Redirect {
                authorize_url_base: self.resolve(&meta.authorization_endpoint)?.to_string(),
            }
        } else if let Some(redirect) = &created.links.sca_redirect {
            ScaStep::Redirect {
                authorize_url_base: self.resolve(&redirect.href)?.to_string(),
            }
        } else if req.approach == ScaApproach::Decoupled
            || created.links.sca_status.is_some()
            || created
                .links
                .start_authorisation_with_psu_identification
                .is_some()
        {
            ScaStep::Decoupled {
                message: created.psu_message,
            }
        } else {
            ScaStep::None
        };
        Ok(ConsentCreated {
            bank_consent_id: created.consent_id,
            status,
            next,
        })
    }

    async fn authorize_url(
        &self,
        created: &ConsentCreated,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, ConnectorError> {
        let ScaStep::Redirect { authorize_url_base } = &created.next else {
            return Err(ConnectorError::Config("the consent has no redirect step"));
        };
        Url::parse(redirect_uri).map_err(|_| ConnectorError::Config("redirect URI is invalid"))?;
        let mut u = Url::parse(authorize_url_base)
            .map_err(|_| ConnectorError::Malformed { status: 200 })?;
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("scope", &format!("AIS:{}", created.bank_consent_id));
        Ok(u.to_string())
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<AccessToken, ConnectorError> {
        let meta = self.oauth_metadata(None).await?;
        let url = self.resolve(&meta.token_endpoint)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.client_id.as_str()),
            ("code_verifier", verifier),
        ];
        let reply = self
            .http
            .send("exchange_code", Idempotency::Unsafe, |c| {
                c.post(url.clone()).form(&form)
            })
            .await?;
        let t: wire::TokenResponse = parse("exchange_code", &reply)?;
        if t.access_token.is_empty()
            || t.token_type
                .as_deref()
                .is_some_and(|tt| !tt.eq_ignore_ascii_case("bearer"))
        {
            return Err(ConnectorError::Malformed {
                status: reply.status.as_u16(),
            });
        }
        Ok(AccessToken {
            token: t.access_token,
            expires_in: t.expires_in,
        })
    }

    async fn consent_status(&self, ctx: &AccessCtx) -> Result<ConsentStatus, ConnectorError> {
        let url = self.url(&["v1", "consents", &ctx.bank_consent_id, "status"])?;
        let reply = self
            .http
            .send("consent_status", Idempotency::Safe, |c| {
                Self::with_ctx(c.get(url.clone()), ctx, false)
            })
            .await?;
        let s: wire::ConsentStatusResponse = parse("consent_status", &reply)?;
        ConsentStatus::from_wire(&s.consent_status).ok_or(ConnectorError::Malformed {
            status: reply.status.as_u16(),
        })
    }

    async fn delete_consent(&self, ctx: &AccessCtx) -> Result<(), ConnectorError> {
        let url = self.url(&["v1", "consents", &ctx.bank_consent_id])?;
        self.http
            .send("delete_consent", Idempotency::Safe, |c| {
                Self::with_ctx(c.delete(url.clone()), ctx, false)
            })
            .await?;
        Ok(())
    }

    async fn cards(&self, ctx: &AccessCtx, account: &str) -> Result<Vec<BankCard>, ConnectorError> {
        let url = self.url(&["v1", "accounts", account, "cards"])?;
        let reply = self
            .http
            .send("cards", Idempotency::Safe, |c| {
                Self::with_ctx(c.get(url.clone()), ctx, true)
            })
            .await?;
        let list: wire::CardList = parse("cards", &reply)?;
        list.cards
            .into_iter()
            .map(|c| card(c, reply.status.as_u16()))
            .collect()
    }

    async fn set_card_blocked(
        &self,
        ctx: &AccessCtx,
        account: &str,
        card_id: &str,
        blocked: bool,
        request_id: uuid::Uuid,
    ) -> Result<BankCard, ConnectorError> {
        let action = if blocked { "block" } else { "unblock" };
        let url = self.url(&["v1", "accounts", account, "cards", card_id, action])?;
        // Safe to retry: the bank deduplicates by X-Request-ID (the extension's contract).
        let reply = self
            .http
            .send_keyed("card_block", Idempotency::Safe, request_id, |c| {
                Self::with_ctx(c.post(url.clone()), ctx, true)
            })
            .await?;
        let c: wire::WireCard = parse("card_block", &reply)?;
        card(c, reply.status.as_u16())
    }

    async fn report_card_lost(
        &self,
        ctx: &AccessCtx,
        account: &str,
        card_id: &str,
        reason: LostReason,
        request_id: uuid::Uuid,
    ) -> Result<CardReport, ConnectorError> {
        let url = self.url(&["v1", "accounts", account, "cards", card_id, "report-lost"])?;
        let body = serde_json::json!({ "reason": reason.wire_name() });
        // Safe to retry for the same reason as blocking: the bank deduplicates by X-Request-ID.
        let reply = self
            .http
            .send_keyed("card_report", Idempotency::Safe, request_id, |c| {
                Self::with_ctx(c.post(url.clone()), ctx, true).json(&body)
            })
            .await?;
        let r: wire::CardReport = parse("card_report", &reply)?;
        let status = reply.status.as_u16();
        Ok(CardReport {
            card: card(r.card, status)?,
            replacement: r.replacement.map(|c| card(c, status)).transpose()?,
        })
    }

    async fn accounts(&self, ctx: &AccessCtx) -> Result<Vec<BankAccount>, ConnectorError> {
        let url = self.url(&["v1", "accounts"])?;
        let reply = self
            .http
            .send("accounts", Idempotency::Safe, |c| {
                Self::with_ctx(c.get(url.clone()), ctx, true)
            })
            .await?;
        let list: wire::AccountList = parse("accounts", &reply)?;
        list.accounts
            .into_iter()
            .filter(|a| a.status.as_deref() != Some("deleted"))
            .map(BankAccount::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed(reply.status.as_u16()))
    }

    async fn balances(
        &self,
        ctx: &AccessCtx,
        account: &str,
    ) -> Result<Vec<BankBalance>, ConnectorError> {
        let url = self.url(&["v1", "accounts", account, "balances"])?;
        let reply = self
            .http
            .send("balances", Idempotency::Safe, |c| {
                Self::with_ctx(c.get(url.clone()), ctx, true)
            })
            .await?;
        let b: wire::BalancesResponse = parse("balances", &reply)?;
        transformers::balances(b.balances).map_err(malformed(reply.status.as_u16()))
    }

    async fn transactions(
        &self,
        ctx: &AccessCtx,
        account: &str,
        q: &TxQuery,
        page: Option<&PageCursor>,
    ) -> Result<BankTxPage, ConnectorError> {
        let url = match page {
            Some(cursor) => {
                let u = self.resolve(&cursor.0)?;
                // Never send the consent and token to a host the bank's link points elsewhere.
                if !self.same_origin(&u) {
                    tracing::warn!("bank paging link points to another origin");
                    return Err(ConnectorError::Malformed { status: 200 });
                }
                u
            }
            None => {
                let mut u = self.url(&["v1", "accounts", account, "transactions"])?;
                {
                    let mut qp = u.query_pairs_mut();
                    qp.append_pair("bookingStatus", q.status.wire_name());
                    qp.append_pair("dateFrom", &q.date_from.format("%Y-%m-%d").to_string());
                    if let Some(to) = q.date_to {
                        qp.append_pair("dateTo", &to.format("%Y-%m-%d").to_string());
                    }
                }
                u
            }
        };
        let reply = self
            .http
            .send("transactions", Idempotency::Safe, |c| {
                Self::with_ctx(c.get(url.clone()), ctx, true)
            })
            .await?;
        let status = reply.status.as_u16();
        let r: wire::TransactionsResponse = parse("transactions", &reply)?;
        let mut out = BankTxPage::default();
        let mut next = r.links.and_then(|l| l.next).map(|h| h.href);
        if let Some(report) = r.transactions {
            if let Some(n) = report.links.and_then(|l| l.next) {
                next = Some(n.href);
            }
            for t in report.booked {
                out.booked.push(
                    BankTransaction::try_from((t, BookingStatus::Booked))
                        .map_err(malformed(status))?,
                );
            }
            for t in report.pending {
                out.pending.push(
                    BankTransaction::try_from((t, BookingStatus::Pending))
                        .map_err(malformed(status))?,
                );
            }
        }
        out.next = match next {
            Some(h) => Some(PageCursor(self.resolve(&h)?.to_string())),
            None => None,
        };
        Ok(out)
    }
}
