//! Set-up shared by the payments tests that drive the sandbox bank.

/// The customer's decision in the sandbox bank's app (logged in as "anna") on the bank payment
/// `bank_payment_id`: "approve" or "reject". Returns the app's answer status (a payment already
/// decided is refused, which the simulation provokes on purpose).
pub async fn decide_in_bank_app(
    http: &reqwest::Client,
    base: &str,
    bank_payment_id: &str,
    decision: &str,
) -> reqwest::StatusCode {
    let page = http
        .post(format!("{base}/app/login"))
        .form(&[("psu_id", "anna"), ("password", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"session\" value=\"";
    let s = page.find(marker).unwrap() + marker.len();
    let session = page[s..s + page[s..].find('"').unwrap()].to_owned();
    http.post(format!("{base}/app/decide"))
        .form(&[
            ("session", session.as_str()),
            ("payment_id", bank_payment_id),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
        .status()
}
