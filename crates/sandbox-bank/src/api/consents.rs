//! `/v1/consents`: create, read, status, delete, and the SCA authorisation sub-resources.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Days;
use okienko_core::ConsentStatus;
use serde_json::{Value, json};

use crate::consent::{
    Approach, Consent, MAX_FREQUENCY, MAX_VALIDITY_DAYS, ScaStatus, parse_request,
};
use crate::error::ApiError;
use crate::http::{base_url, header, header_true, json_response};
use crate::state::Inner;

fn href(s: String) -> Value {
    json!({ "href": s })
}

pub async fn create(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if header(&headers, "psu-ip-address").is_none() {
        return Err(ApiError::Format("PSU-IP-Address header is required"));
    }
    let req = parse_request(&body)?;
    let base = base_url(&headers);
    let mut st = inner.state();
    let today = st.today;
    if req.valid_until < today {
        return Err(ApiError::ConsentExpired);
    }
    let max = today + Days::new(MAX_VALIDITY_DAYS);
    let decoupled = header_true(&headers, "tpp-decoupled-preferred");
    let psu_hint = header(&headers, "psu-id").map(str::to_owned);
    // Sandbox extension: new-transaction notifications to the TPP, when this bank sends them.
    // A URI this bank will not call (not absolute http(s)) is answered, as the spec allows, with
    // `ASPSP-Notification-Support: false`.
    let wants_notifications = header(&headers, "tpp-notification-uri");
    let notification_uri = wants_notifications
        .filter(|u| inner.notifier.get().is_some() && crate::notify::valid_uri(u))
        .map(str::to_owned);
    let approach = if decoupled {
        Approach::Decoupled
    } else {
        Approach::OAuth
    };
    let id = uuid::Uuid::new_v4().to_string();
    let auth_id = uuid::Uuid::new_v4().to_string();
    let mut consent = Consent {
        id: id.clone(),
        access: req.access,
        recurring: req.recurring,
        valid_until: req.valid_until.min(max),
        frequency: if req.recurring {
            req.frequency.min(MAX_FREQUENCY)
        } else {
            1
        },
        status: ConsentStatus::Received,
        approach,
        psu_hint: psu_hint.clone(),
        psu_id: None,
        grants: Vec::new(),
        authorisations: Vec::new(),
        last_action: today,
        usage: Default::default(),
        notification_uri: notification_uri.clone(),
    };
    let self_url = format!("{base}/v1/consents/{id}");
    let mut links = serde_json::Map::new();
    links.insert("self".into(), href(self_url.clone()));
    links.insert("status".into(), href(format!("{self_url}/status")));
    let mut body = json!({ "consentStatus": "received", "consentId": id });
    match (approach, psu_hint.is_some()) {
        (Approach::OAuth, _) => {
            consent
                .authorisations
                .push((auth_id.clone(), ScaStatus::Received));
            links.insert(
                "scaOAuth".into(),
                href(format!("{base}/.well-known/oauth-authorization-server")),
            );
            links.insert(
                "scaStatus".into(),
                href(format!("{self_url}/authorisations/{auth_id}")),
            );
        }
        (Approach::Decoupled, true) => {
            consent
                .authorisations
                .push((auth_id.clone(), ScaStatus::Started));
            links.insert(
                "scaStatus".into(),
                href(format!("{self_url}/authorisations/{auth_id}")),
            );
            body["scaStatus"] = json!("started");
            body["psuMessage"] = json!(
                "Please confirm the access in your Okienko Bank app. / Potwierdź dostęp w aplikacji Okienko Bank."
            );
        }
        (Approach::Decoupled, false) => {
            links.insert(
                "startAuthorisationWithPsuIdentification".into(),
                href(format!("{self_url}/authorisations")),
            );
        }
    }
    body["_links"] = Value::Object(links);
    st.consents.insert(id.clone(), consent);
    drop(st);
    tracing::info!(consent = %id, "consent created");
    let mut resp = json_response(StatusCode::CREATED, &body);
    if let Ok(v) = HeaderValue::from_str(&self_url) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    if wants_notifications.is_some() {
        resp.headers_mut().insert(
            "aspsp-notification-support",
            HeaderValue::from_static(if notification_uri.is_some() {
                "true"
            } else {
                "false"
            }),
        );
    }
    resp.headers_mut().insert(
        "aspsp-sca-approach",
        HeaderValue::from_static(match approach {
            Approach::OAuth => "OAUTH",
            Approach::Decoupled => "DECOUPLED",
        }),
    );
    Ok(resp)
}

/// Runs `f` on a consent after applying expiry; unknown ids are CONSENT_UNKNOWN.
fn with_consent<T>(
    inner: &Inner,
    id: &str,
    f: impl FnOnce(&mut Consent) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut st = inner.state();
    let today = st.today;
    let c = st.consents.get_mut(id).ok_or(ApiError::ConsentUnknown)?;
    c.refresh_status(today);
    f(c)
}

pub async fn get_consent(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let base = base_url(&headers);
    let body = with_consent(&inner, &id, |c| {
        let mut body = json!({
            "access": c.access_json(),
            "recurringIndicator": c.recurring,
            "validUntil": c.valid_until.to_string(),
            "frequencyPerDay": c.frequency,
            "lastActionDate": c.last_action.to_string(),
            "consentStatus": c.status.wire_name(),
        });
        if c.status == ConsentStatus::Valid {
            body["_links"] = json!({ "account": href(format!("{base}/v1/accounts")) });
        }
        Ok(body)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}

pub async fn status(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = with_consent(&inner, &id, |c| Ok(c.status))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "consentStatus": s.wire_name() }),
    ))
}

pub async fn delete(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    with_consent(&inner, &id, |c| {
        if !c.status.is_final() {
            c.status = ConsentStatus::TerminatedByTpp;
        }
        Ok(())
    })?;
    tracing::info!(consent = %id, "consent terminated by TPP");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_authorisations(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ids = with_consent(&inner, &id, |c| {
        Ok(c.authorisations
            .iter()
            .map(|(a, _)| a.clone())
            .collect::<Vec<_>>())
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "authorisationIds": ids }),
    ))
}

pub async fn start_authorisation(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let base = base_url(&headers);
    let psu = header(&headers, "psu-id").map(str::to_owned);
    let body = with_consent(&inner, &id, |c| {
        if c.status != ConsentStatus::Received {
            return Err(ApiError::StatusInvalid(
                "consent is not awaiting authorisation",
            ));
        }
        let auth_id = uuid::Uuid::new_v4().to_string();
        let self_url = format!("{base}/v1/consents/{}", c.id);
        let mut links = serde_json::Map::new();
        links.insert(
            "scaStatus".into(),
            href(format!("{self_url}/authorisations/{auth_id}")),
        );
        let mut body = json!({ "authorisationId": auth_id });
        match c.approach {
            Approach::Decoupled => {
                if let Some(p) = psu {
                    c.psu_hint = Some(p);
                }
                if c.psu_hint.is_none() {
                    return Err(ApiError::Format(
                        "PSU-ID header is required for decoupled authorisation",
                    ));
                }
                c.authorisations.push((auth_id.clone(), ScaStatus::Started));
                body["scaStatus"] = json!("started");
                body["psuMessage"] = json!(
                    "Please confirm the access in your Okienko Bank app. / Potwierdź dostęp w aplikacji Okienko Bank."
                );
            }
            Approach::OAuth => {
                c.authorisations
                    .push((auth_id.clone(), ScaStatus::Received));
                links.insert(
                    "scaOAuth".into(),
                    href(format!("{base}/.well-known/oauth-authorization-server")),
                );
                body["scaStatus"] = json!("received");
            }
        }
        body["_links"] = Value::Object(links);
        Ok(body)
    })?;
    Ok(json_response(StatusCode::CREATED, &body))
}

pub async fn sca_status(
    State(inner): State<Arc<Inner>>,
    Path((id, auth_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let s = with_consent(&inner, &id, |c| {
        c.authorisations
            .iter()
            .find(|(a, _)| *a == auth_id)
            .map(|(_, s)| *s)
            .ok_or(ApiError::ResourceUnknown("no such authorisation"))
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "scaStatus": s.wire() }),
    ))
}

/// Embedded SCA (credentials through the TPP) is deliberately not offered.
pub async fn update_psu_data(
    State(inner): State<Arc<Inner>>,
    Path((id, _auth_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    with_consent(&inner, &id, |_| Ok(()))?;
    Err(ApiError::ServiceInvalid(
        "embedded SCA is not supported: use the OAuth or decoupled approach",
    ))
}
