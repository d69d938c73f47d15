//! Test harness: the real sandbox bank on 127.0.0.1:0, a fresh SQLite store, the real
//! NextGenPSD2 connector (wrapped to count bank calls), and a browser-like driver for the OAuth
//! redirect page.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use okienko_bank::{
    AccessCtx, AccessToken, BankAccount, BankBalance, BankConnector, BankLink, BankTxPage,
    Capabilities, ConnectorError, ConsentCreated, ConsentRequest, LinkConfig, LinkDone,
    NextGenPsd2Connector, PageCursor, RetryPolicy, TxQuery,
};
use okienko_core::{ConsentStatus, CustomerId, FixedClock, Lang};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_store::{CustomerRecord, Store};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/bank/callback";
pub const PSU_IP: &str = "203.0.113.7";

/// Wraps a connector and counts the AIS data calls that reach it.
pub struct Counting {
    pub inner: Arc<dyn BankConnector>,
    pub data_calls: AtomicUsize,
}

impl Counting {
    pub fn calls(&self) -> usize {
        self.data_calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl BankConnector for Counting {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn create_consent(&self, r: &ConsentRequest) -> Result<ConsentCreated, ConnectorError> {
        self.inner.create_consent(r).await
    }
    async fn authorize_url(
        &self,
        c: &ConsentCreated,
        u: &str,
        s: &str,
        ch: &str,
    ) -> Result<String, ConnectorError> {
        self.inner.authorize_url(c, u, s, ch).await
    }
    async fn exchange_code(
        &self,
        c: &str,
        v: &str,
        u: &str,
    ) -> Result<AccessToken, ConnectorError> {
        self.inner.exchange_code(c, v, u).await
    }
    async fn consent_status(&self, ctx: &AccessCtx) -> Result<ConsentStatus, ConnectorError> {
        self.inner.consent_status(ctx).await
    }
    async fn delete_consent(&self, ctx: &AccessCtx) -> Result<(), ConnectorError> {
        self.inner.delete_consent(ctx).await
    }
    async fn accounts(&self, ctx: &AccessCtx) -> Result<Vec<BankAccount>, ConnectorError> {
        self.data_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.accounts(ctx).await
    }
    async fn balances(&self, ctx: &AccessCtx, a: &str) -> Result<Vec<BankBalance>, ConnectorError> {
        self.data_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.balances(ctx, a).await
    }
    async fn transactions(
        &self,
        ctx: &AccessCtx,
        a: &str,
        q: &TxQuery,
        p: Option<&PageCursor>,
    ) -> Result<BankTxPage, ConnectorError> {
        self.data_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.transactions(ctx, a, q, p).await
    }
}

pub struct Harness {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub link: BankLink,
    pub clock: Arc<FixedClock>,
    pub connector: Arc<Counting>,
    pub raw: Arc<NextGenPsd2Connector>,
    pub customer: CustomerId,
    pub today: NaiveDate,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub fn start_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
}

impl Harness {
    pub async fn new() -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let today = start_day();
        let bank = SandboxBank::new(SandboxConfig {
            customers: 3,
            seed: 7,
            today,
            control_api: true,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(bank.serve(listener, async {
            let _ = rx.await;
        }));

        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("okienko.sqlite").display()
        );
        let store = Store::connect(&url, okienko_store::Keyring::generate())
            .await
            .unwrap();
        let customer = CustomerId::new();
        let clock = Arc::new(FixedClock::new(
            Utc.from_utc_datetime(&today.and_hms_opt(12, 0, 0).unwrap()),
        ));
        store
            .upsert_customer(&CustomerRecord {
                id: customer,
                lang: Lang::Pl,
                tz: "Europe/Warsaw".into(),
                created_at: clock.now_utc(),
            })
            .await
            .unwrap();
        let raw = Arc::new(
            NextGenPsd2Connector::new(&base, "okienko-test", Duration::from_secs(5))
                .unwrap()
                .with_retry(RetryPolicy {
                    max_attempts: 3,
                    base: Duration::from_millis(50),
                    cap: Duration::from_millis(500),
                }),
        );
        let connector = Arc::new(Counting {
            inner: raw.clone(),
            data_calls: AtomicUsize::new(0),
        });
        let link = BankLink::new(
            store.clone(),
            connector.clone(),
            LinkConfig {
                bank: "sandbox".into(),
                redirect_uri: REDIRECT_URI.into(),
                valid_days: 90,
                frequency_per_day: 4,
            },
            clock.clone(),
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Harness {
            base,
            http,
            store,
            link,
            clock,
            connector,
            raw,
            customer,
            today,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Stops the bank and waits until it no longer accepts connections.
    pub async fn stop_bank(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
    }

    /// start_link, then the bank's authorize page like a browser: GET the form, POST it with
    /// anna's login, take `code` and `state` from the 302 (not followed).
    pub async fn authorize(&self, psu: &str, decision: &str) -> (String, HashMap<String, String>) {
        let start = self.link.start_link(self.customer, PSU_IP).await.unwrap();
        let page = self.http.get(&start.url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let mut form: Vec<(String, String)> = hidden_inputs(&html);
        assert!(!form.is_empty(), "authorize page has hidden fields");
        form.push(("psu_id".into(), psu.into()));
        form.push(("password".into(), "demo".into()));
        form.push(("decision".into(), decision.into()));
        let action = url::Url::parse(&start.url)
            .unwrap()
            .join(&form_action(&html))
            .unwrap();
        let resp = self.http.post(action).form(&form).send().await.unwrap();
        assert!(
            resp.status().is_redirection(),
            "approve answers with a redirect, got {}",
            resp.status()
        );
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.starts_with(REDIRECT_URI), "redirects to our callback");
        let params: HashMap<String, String> = url::Url::parse(&loc)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        (start.url, params)
    }

    pub async fn link_anna(&self) -> LinkDone {
        let (_, p) = self.authorize("anna", "approve").await;
        self.link
            .complete_link(&p["state"], &p["code"])
            .await
            .expect("complete_link")
    }

    pub async fn truth(&self, psu: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/sandbox/customers/{psu}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn control(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "control call {path} failed: {}",
            r.status()
        );
    }

    /// Moves the bank's day and ours together.
    pub async fn advance_days(&mut self, days: i64) {
        self.today += chrono::Duration::days(days);
        self.control(
            "/sandbox/clock",
            serde_json::json!({"today": self.today.to_string()}),
        )
        .await;
        self.clock.advance(chrono::Duration::days(days));
    }

    pub async fn bank_consent_id(&self) -> String {
        let cs = self
            .store
            .consents_for_customer(self.customer)
            .await
            .unwrap();
        cs.iter()
            .filter(|c| c.status == ConsentStatus::Valid)
            .find_map(|c| c.bank_consent_id.clone())
            .expect("a valid consent")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl NowUtc for FixedClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        okienko_core::Clock::now(self)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The `<input type="hidden">` fields of a page, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split('<')
        .filter(|t| t.starts_with("input") && t.contains("type=\"hidden\""))
        .filter_map(|t| Some((attr(t, "name")?, attr(t, "value").unwrap_or_default())))
        .collect()
}

fn form_action(html: &str) -> String {
    html.split('<')
        .find(|t| t.starts_with("form"))
        .and_then(|t| attr(t, "action"))
        .unwrap_or_default()
}
