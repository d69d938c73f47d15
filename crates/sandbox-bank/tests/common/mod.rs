//! Shared test helpers: start a bank on 127.0.0.1:0, an HTTP client, and a validator that checks
//! response bodies against the NextGenPSD2 1.3.11 spec's own schemas.
#![allow(dead_code)]

use std::sync::OnceLock;

use chrono::NaiveDate;
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use serde_json::{Value, json};

pub const TODAY: &str = "2026-10-15";

pub struct Bank {
    pub base: String,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn(seed: u64) -> Bank {
    spawn_with(seed, TODAY.parse().unwrap()).await
}

pub async fn spawn_with(seed: u64, today: NaiveDate) -> Bank {
    spawn_full(seed, today, None).await
}

/// A bank that sends new-transaction notifications signed with `secret`.
pub async fn spawn_notifying(seed: u64, secret: &str) -> Bank {
    spawn_full(seed, TODAY.parse().unwrap(), Some(secret)).await
}

async fn spawn_full(seed: u64, today: NaiveDate, notify_secret: Option<&str>) -> Bank {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bank = SandboxBank::new(SandboxConfig {
        customers: 50,
        seed,
        today,
        control_api: true,
    });
    if let Some(s) = notify_secret {
        assert!(bank.enable_notifications(s));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bank.serve(listener, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Bank {
        base: format!("http://{addr}"),
        client,
        _shutdown: tx,
    }
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Bank {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST /v1/consents with the given body and extra headers.
    pub async fn create_consent(&self, body: &Value, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self
            .client
            .post(self.url("/v1/consents"))
            .header("X-Request-ID", rid())
            .header("PSU-IP-Address", "192.168.0.10")
            .json(body);
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }

    /// GET an AIS path with Consent-ID; `bearer` for OAuth consents; `present` adds PSU-IP-Address.
    pub async fn ais(
        &self,
        path_or_url: &str,
        consent: &str,
        bearer: Option<&str>,
        present: bool,
    ) -> reqwest::Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            self.url(path_or_url)
        };
        let mut r = self
            .client
            .get(url)
            .header("X-Request-ID", rid())
            .header("Consent-ID", consent);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        if present {
            r = r.header("PSU-IP-Address", "192.168.0.10");
        }
        r.send().await.unwrap()
    }

    pub async fn control(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn truth(&self, psu: &str) -> Value {
        self.client
            .get(self.url(&format!("/sandbox/customers/{psu}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates a decoupled consent for `psu` and approves it in the bank app; returns its id.
    pub async fn decoupled_consent(&self, psu: &str, body: &Value) -> String {
        let r = self
            .create_consent(
                body,
                &[("TPP-Decoupled-Preferred", "true"), ("PSU-ID", psu)],
            )
            .await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        let id = v["consentId"].as_str().unwrap().to_owned();
        let page = self.app_login(psu).await;
        let session = hidden_value(&page, "session").unwrap();
        let page = self
            .client
            .post(self.url("/app/decide"))
            .form(&[
                ("session", session.as_str()),
                ("consent_id", id.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(&id), "approved consent is listed as active");
        id
    }

    pub async fn app_login(&self, psu: &str) -> String {
        self.client
            .post(self.url("/app/login"))
            .form(&[("psu_id", psu), ("password", "demo")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub fn all_psd2(valid_until: &str, freq: u32) -> Value {
    json!({
        "access": {"allPsd2": "allAccounts"},
        "recurringIndicator": true,
        "validUntil": valid_until,
        "frequencyPerDay": freq,
        "combinedServiceIndicator": false
    })
}

pub fn bank_offered(valid_until: &str, freq: u32) -> Value {
    json!({
        "access": {"balances": [], "transactions": []},
        "recurringIndicator": true,
        "validUntil": valid_until,
        "frequencyPerDay": freq,
        "combinedServiceIndicator": false
    })
}

/// Finds `<input type="hidden" name="NAME" value="...">` in a page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/specs/berlin-group-nextgenpsd2-1.3.11.yaml"
        );
        let text = std::fs::read_to_string(path).expect("NextGenPSD2 spec beside the repo");
        serde_yaml_ng::from_str(&text).expect("spec parses")
    })
}

/// Validates `body` against the schema at `pointer` in the spec (e.g.
/// `#/components/schemas/accountList`). The whole spec is the root document, so its internal
/// `$ref`s resolve; Draft 4 matches OpenAPI 3.0's schema dialect (boolean exclusiveMinimum).
pub fn conforms(pointer: &str, body: &Value) {
    let mut root = spec().clone();
    root["$ref"] = json!(pointer);
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {pointer} compiles: {e}"));
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{pointer}: {errors:?}\nbody: {body}");
}

pub fn schema(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

/// Asserts an error response: status, spec shape and message code.
pub async fn expect_error(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(r.status().as_u16(), status, "status for {code}");
    assert!(r.headers().contains_key("x-request-id") || status == 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tppMessages"][0]["code"], code, "{v}");
    let name = format!("Error{status}_NG_AIS");
    if status != 503 {
        conforms(&schema(&name), &v);
    }
}
