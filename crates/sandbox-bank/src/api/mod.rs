//! The NextGenPSD2 routes under `/v1/`: consents and their authorisations, and the account
//! information service. Handlers are thin; consent checks for AIS live in [`ais`].

mod accounts;
pub(crate) mod ais;
mod consents;
pub(crate) mod payments;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::state::Inner;

pub fn routes(inner: Arc<Inner>) -> Router<Arc<Inner>> {
    let accounts = Router::new()
        .route("/v1/accounts", get(accounts::list))
        .route("/v1/accounts/{account_id}", get(accounts::details))
        .route(
            "/v1/accounts/{account_id}/balances",
            get(accounts::balances),
        )
        .route(
            "/v1/accounts/{account_id}/transactions",
            get(accounts::transactions),
        )
        .route(
            "/v1/accounts/{account_id}/transactions/{transaction_id}",
            get(accounts::transaction),
        )
        // Documented extension (crate README): cards, block, unblock and report lost or stolen.
        .route("/v1/accounts/{account_id}/cards", get(crate::cards::list))
        .route(
            "/v1/accounts/{account_id}/cards/{card_id}/block",
            axum::routing::post(crate::cards::block),
        )
        .route(
            "/v1/accounts/{account_id}/cards/{card_id}/unblock",
            axum::routing::post(crate::cards::unblock),
        )
        .route(
            "/v1/accounts/{account_id}/cards/{card_id}/report-lost",
            axum::routing::post(crate::cards::report_lost),
        )
        .route_layer(axum::middleware::from_fn_with_state(inner, ais::faults));
    Router::new()
        .route("/v1/consents", axum::routing::post(consents::create))
        .route(
            "/v1/consents/{consent_id}",
            get(consents::get_consent).delete(consents::delete),
        )
        .route("/v1/consents/{consent_id}/status", get(consents::status))
        .route(
            "/v1/consents/{consent_id}/authorisations",
            get(consents::list_authorisations).post(consents::start_authorisation),
        )
        .route(
            "/v1/consents/{consent_id}/authorisations/{authorisation_id}",
            get(consents::sca_status).put(consents::update_psu_data),
        )
        .merge(accounts)
        .merge(payments::routes())
}
