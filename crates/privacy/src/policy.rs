//! The access decision. A request is allowed only when it serves the customer (a `service.*`
//! purpose), comes from the customer themself or from a gateway job protecting them, is covered
//! by a valid consent of the right scope, and will be shown where the platform cannot read it.
//!
//! Forbidden purposes are refused before anything else is considered, so no consent, actor or
//! channel can unlock them.

use serde::Serialize;

use crate::purpose::{AccessRequest, Actor, ChannelContext, Purpose};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// Advertising, marketing, profiling, sharing, third-party model training.
    ForbiddenPurpose,
    /// The actor is not allowed to act for this subject.
    NotTheSubject,
    /// No valid consent covers the purpose's scope.
    NoConsent,
    /// The data would be shown where a platform can read it.
    ChannelNotPrivate,
}

impl DenyReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            DenyReason::ForbiddenPurpose => "forbidden_purpose",
            DenyReason::NotTheSubject => "not_the_subject",
            DenyReason::NoConsent => "no_consent",
            DenyReason::ChannelNotPrivate => "channel_not_private",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny(r) => r.as_str(),
        }
    }
}

/// Facts the gate looked up before deciding.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// A valid consent covers the scope the purpose needs (true when it needs none).
    pub consent_covers: bool,
}

pub fn decide(req: &AccessRequest, facts: Facts) -> Decision {
    if !req.purpose.is_service() {
        return Decision::Deny(DenyReason::ForbiddenPurpose);
    }
    let actor_ok = match &req.actor {
        Actor::Customer(c) => *c == req.subject,
        Actor::System(_) => matches!(
            req.purpose,
            Purpose::ServiceFraudAlert | Purpose::ServicePayment
        ),
        // Agents see data only inside a support case; cases arrive with the agents issue.
        Actor::BankAgent(_) => false,
    };
    if !actor_ok {
        return Decision::Deny(DenyReason::NotTheSubject);
    }
    if req.channel == ChannelContext::PlatformReadable && req.purpose != Purpose::ServiceAccessLog {
        return Decision::Deny(DenyReason::ChannelNotPrivate);
    }
    if !facts.consent_covers {
        return Decision::Deny(DenyReason::NoConsent);
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_core::CustomerId;

    #[test]
    fn forbidden_purposes_are_denied_whatever_else_holds() {
        let c = CustomerId::new();
        for p in Purpose::ALL.into_iter().filter(|p| !p.is_service()) {
            for actor in [
                Actor::Customer(c),
                Actor::System("any".into()),
                Actor::BankAgent("a1".into()),
            ] {
                let req = AccessRequest {
                    actor,
                    subject: c,
                    purpose: p,
                    channel: ChannelContext::Internal,
                };
                assert_eq!(
                    decide(
                        &req,
                        Facts {
                            consent_covers: true
                        }
                    ),
                    Decision::Deny(DenyReason::ForbiddenPurpose)
                );
            }
        }
    }

    #[test]
    fn customer_reads_own_data_with_consent_only() {
        let c = CustomerId::new();
        let req = AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat);
        assert_eq!(
            decide(
                &req,
                Facts {
                    consent_covers: true
                }
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &req,
                Facts {
                    consent_covers: false
                }
            ),
            Decision::Deny(DenyReason::NoConsent)
        );
        let other = AccessRequest {
            actor: Actor::Customer(CustomerId::new()),
            ..req.clone()
        };
        assert_eq!(
            decide(
                &other,
                Facts {
                    consent_covers: true
                }
            ),
            Decision::Deny(DenyReason::NotTheSubject)
        );
        let leaky = AccessRequest {
            channel: ChannelContext::PlatformReadable,
            ..req
        };
        assert_eq!(
            decide(
                &leaky,
                Facts {
                    consent_covers: true
                }
            ),
            Decision::Deny(DenyReason::ChannelNotPrivate)
        );
    }
}
