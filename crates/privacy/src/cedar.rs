//! Translation of an access request and the gate's facts into a Cedar request and entity store.
//!
//! Owns the mapping between okienko's Rust types and the names in `policies/okienko.cedarschema`:
//! principals `Customer`, `BankAgent` (with `open_cases`), `SystemJob`; the resource
//! `CustomerData` (with `owner` and `valid_scopes`); one action per purpose; and the context
//! (`channel`, `holder_alone`, `case_id`, `case_subject`). Kept apart from [`crate::policy`] so
//! the decision logic does not depend on how the Cedar values are built. Type names and action
//! ids are parsed once, so a request costs only the few allocations its values need.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};
use okienko_core::{ConsentScope, CustomerId};

use crate::policy::Facts;
use crate::purpose::{AccessRequest, Actor, ChannelContext, Purpose};

/// Every consent scope, for the "what if the consent were valid" question.
pub(crate) const ALL_SCOPES: [ConsentScope; 4] = [
    ConsentScope::Balances,
    ConsentScope::Transactions,
    ConsentScope::Payments,
    ConsentScope::Alerts,
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    #[error("a Cedar name does not parse: {0}")]
    Name(String),
    #[error("the Cedar request could not be built: {0}")]
    Request(String),
}

/// What the request is evaluated under: the real facts, or a hypothesis used to explain a denial.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub scopes: &'a [ConsentScope],
    pub channel: ChannelContext,
    pub holder_alone: bool,
}

/// Parsed type names and entity ids of the schema.
pub(crate) struct Vocabulary {
    customer: EntityTypeName,
    agent: EntityTypeName,
    system: EntityTypeName,
    data: EntityTypeName,
    actions: HashMap<Purpose, EntityUid>,
    channels: HashMap<ChannelContext, EntityUid>,
}

fn type_name(s: &str) -> Result<EntityTypeName, BuildError> {
    EntityTypeName::from_str(s).map_err(|e| BuildError::Name(e.to_string()))
}

fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

fn string_set<'a>(items: impl IntoIterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .into_iter()
            .map(|s| RestrictedExpression::new_string(s.to_owned())),
    )
}

impl Vocabulary {
    pub(crate) fn new() -> Result<Self, BuildError> {
        let action = type_name("Action")?;
        let channel = type_name("Channel")?;
        Ok(Vocabulary {
            customer: type_name("Customer")?,
            agent: type_name("BankAgent")?,
            system: type_name("SystemJob")?,
            data: type_name("CustomerData")?,
            actions: Purpose::ALL
                .into_iter()
                .map(|p| (p, uid(&action, p.as_str())))
                .collect(),
            channels: ChannelContext::ALL
                .into_iter()
                .map(|c| (c, uid(&channel, c.readability())))
                .collect(),
        })
    }

    fn data_uid(&self, subject: CustomerId) -> EntityUid {
        uid(&self.data, &subject.to_string())
    }

    /// The Cedar request and the entities it refers to.
    pub(crate) fn build(
        &self,
        req: &AccessRequest,
        facts: &Facts,
        place: Place<'_>,
        schema: Option<&Schema>,
    ) -> Result<(Request, Entities), BuildError> {
        let subject = req.subject.to_string();
        let resource = self.data_uid(req.subject);
        let mut entities = Vec::with_capacity(2);
        entities.push(
            Entity::new(
                resource.clone(),
                HashMap::from([
                    (
                        "owner".to_owned(),
                        RestrictedExpression::new_entity_uid(uid(&self.customer, &subject)),
                    ),
                    (
                        "valid_scopes".to_owned(),
                        string_set(place.scopes.iter().map(ConsentScope::as_str)),
                    ),
                ]),
                HashSet::new(),
            )
            .map_err(|e| BuildError::Request(e.to_string()))?,
        );
        let principal = match &req.actor {
            Actor::Customer(c) => uid(&self.customer, &c.to_string()),
            Actor::System(job) => uid(&self.system, job),
            Actor::BankAgent(staff) => {
                let p = uid(&self.agent, staff);
                let cases: Vec<String> = facts.agent_cases.iter().map(|c| c.to_string()).collect();
                entities.push(
                    Entity::new(
                        p.clone(),
                        HashMap::from([(
                            "open_cases".to_owned(),
                            string_set(cases.iter().map(String::as_str)),
                        )]),
                        HashSet::new(),
                    )
                    .map_err(|e| BuildError::Request(e.to_string()))?,
                );
                p
            }
        };
        let action = self
            .actions
            .get(&req.purpose)
            .cloned()
            .ok_or_else(|| BuildError::Name(req.purpose.as_str().to_owned()))?;
        let channel = self
            .channels
            .get(&place.channel)
            .cloned()
            .ok_or_else(|| BuildError::Name(place.channel.as_str().to_owned()))?;
        let mut pairs = vec![
            (
                "channel".to_owned(),
                RestrictedExpression::new_entity_uid(channel),
            ),
            (
                "holder_alone".to_owned(),
                RestrictedExpression::new_bool(place.holder_alone),
            ),
        ];
        if let (Actor::BankAgent(_), Some(case)) = (&req.actor, req.case) {
            pairs.push((
                "case_id".to_owned(),
                RestrictedExpression::new_string(case.to_string()),
            ));
            if let Some(case_subject) = facts.case_subject {
                pairs.push((
                    "case_subject".to_owned(),
                    RestrictedExpression::new_entity_uid(self.data_uid(case_subject)),
                ));
            }
        }
        let context = Context::from_pairs(pairs).map_err(|e| BuildError::Request(e.to_string()))?;
        let request = Request::new(principal, action, resource, context, schema)
            .map_err(|e| BuildError::Request(e.to_string()))?;
        let entities = Entities::from_entities(entities, schema)
            .map_err(|e| BuildError::Request(e.to_string()))?;
        Ok((request, entities))
    }
}
