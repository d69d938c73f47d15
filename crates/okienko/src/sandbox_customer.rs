//! A scripted customer at the sandbox bank's consent page: signs in and approves or rejects, as a
//! browser would, over plain HTTP. Used by `okienko bench sync` and the end-to-end tests.

use anyhow::Context;

/// Opens the bank's authorisation page, fills in the form (hidden fields kept, credentials and
/// decision added) and posts it. Returns where the bank redirects: the gateway's callback URL with
/// `code` and `state`, or with `error`. The client must not follow redirects.
pub async fn decide_at_consent_page(
    http: &reqwest::Client,
    authorize_url: &str,
    psu: &str,
    password: &str,
    decision: &str,
) -> anyhow::Result<url::Url> {
    let page = http.get(authorize_url).send().await?.error_for_status()?;
    let base = page.url().clone();
    let html = page.text().await?;
    let form = html.find("<form").context("no form on the consent page")?;
    let tag_end = html[form..].find('>').context("broken form")? + form;
    let action = attr(&html[form..=tag_end], "action").unwrap_or_else(|| base.path().to_owned());
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut rest = &html[tag_end..];
    while let Some(i) = rest.find("<input") {
        let Some(end) = rest[i..].find('>').map(|e| e + i) else {
            break;
        };
        let tag = &rest[i..=end];
        if attr(tag, "type").as_deref() == Some("hidden")
            && let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
        {
            fields.push((n, v));
        }
        rest = &rest[end..];
    }
    fields.push(("psu_id".into(), psu.into()));
    fields.push(("password".into(), password.into()));
    fields.push(("decision".into(), decision.into()));
    let resp = http.post(base.join(&action)?).form(&fields).send().await?;
    anyhow::ensure!(
        resp.status().is_redirection(),
        "the bank did not redirect after the decision (HTTP {})",
        resp.status()
    );
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .context("the bank's redirect has no location")?;
    Ok(base.join(location)?)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
