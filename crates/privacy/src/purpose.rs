//! Why data is read, by whom, and where it will be shown.

use okienko_core::{ConsentScope, CustomerId};
use serde::{Deserialize, Serialize};

use crate::case::CaseId;

/// The purposes data may be requested for. Service purposes can be granted; the rest exist only so
/// that a request for them can be named, refused and audited. There is no way to grant them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// Showing the customer their balance because they asked.
    ServiceBalance,
    /// Showing the customer their transactions because they asked.
    ServiceTransactions,
    /// Summing the customer's spending because they asked.
    ServiceSpendingSummary,
    /// Protecting the customer from fraud on their own accounts.
    ServiceFraudAlert,
    /// A bank agent helping the customer in a support case.
    ServiceSupport,
    /// Executing a payment the customer asked for.
    ServicePayment,
    /// Telling the customer who accessed their data.
    ServiceAccessLog,
    /// Showing and managing the customer's payment cards (list, freeze, report lost) because
    /// they asked.
    ServiceCards,
    /// Notices the customer opted in to (issue 10), one purpose per kind: each is read only
    /// when its notice is on. The balance fell below the customer's threshold.
    ServiceNoticeLowBalance,
    /// A payment above the customer's threshold.
    ServiceNoticeLargePayment,
    /// The salary arrived.
    ServiceNoticeSalary,
    /// A recurring charge went up.
    ServiceNoticeRecurringUp,
    /// A possible duplicate charge.
    ServiceNoticeDuplicate,
    /// A subscription renewed.
    ServiceNoticeSubscription,
    Advertising,
    Marketing,
    Profiling,
    ThirdPartySharing,
    /// Training models for anyone but the customer's own protection.
    ModelTraining,
}

impl Purpose {
    pub const ALL: [Purpose; 19] = [
        Purpose::ServiceBalance,
        Purpose::ServiceTransactions,
        Purpose::ServiceSpendingSummary,
        Purpose::ServiceFraudAlert,
        Purpose::ServiceSupport,
        Purpose::ServicePayment,
        Purpose::ServiceAccessLog,
        Purpose::ServiceCards,
        Purpose::ServiceNoticeLowBalance,
        Purpose::ServiceNoticeLargePayment,
        Purpose::ServiceNoticeSalary,
        Purpose::ServiceNoticeRecurringUp,
        Purpose::ServiceNoticeDuplicate,
        Purpose::ServiceNoticeSubscription,
        Purpose::Advertising,
        Purpose::Marketing,
        Purpose::Profiling,
        Purpose::ThirdPartySharing,
        Purpose::ModelTraining,
    ];

    /// The taxonomy name, as written in audit records and policies.
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::ServiceBalance => "service.balance",
            Purpose::ServiceTransactions => "service.transactions",
            Purpose::ServiceSpendingSummary => "service.spending_summary",
            Purpose::ServiceFraudAlert => "service.fraud_alert",
            Purpose::ServiceSupport => "service.support",
            Purpose::ServicePayment => "service.payment",
            Purpose::ServiceAccessLog => "service.access_log",
            Purpose::ServiceCards => "service.cards",
            Purpose::ServiceNoticeLowBalance => "service.notice.low_balance",
            Purpose::ServiceNoticeLargePayment => "service.notice.large_payment",
            Purpose::ServiceNoticeSalary => "service.notice.salary",
            Purpose::ServiceNoticeRecurringUp => "service.notice.recurring_up",
            Purpose::ServiceNoticeDuplicate => "service.notice.duplicate",
            Purpose::ServiceNoticeSubscription => "service.notice.subscription",
            Purpose::Advertising => "advertising",
            Purpose::Marketing => "marketing",
            Purpose::Profiling => "profiling",
            Purpose::ThirdPartySharing => "third_party_sharing",
            Purpose::ModelTraining => "model_training",
        }
    }

    /// Purposes that serve the customer's own request.
    pub fn is_service(&self) -> bool {
        self.as_str().starts_with("service.")
    }

    /// The consent scope a purpose needs, if any.
    pub fn required_scope(&self) -> Option<ConsentScope> {
        match self {
            Purpose::ServiceBalance | Purpose::ServiceNoticeLowBalance => {
                Some(ConsentScope::Balances)
            }
            Purpose::ServiceTransactions
            | Purpose::ServiceSpendingSummary
            | Purpose::ServiceNoticeLargePayment
            | Purpose::ServiceNoticeSalary
            | Purpose::ServiceNoticeRecurringUp
            | Purpose::ServiceNoticeDuplicate
            | Purpose::ServiceNoticeSubscription => Some(ConsentScope::Transactions),
            _ => None,
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// The customer themself, in a chat.
    Customer(CustomerId),
    /// A member of bank staff (by staff id).
    BankAgent(String),
    /// A job of the gateway (e.g. "guard.scoring").
    System(String),
}

impl Actor {
    /// The audit form: never a name, only a role and an opaque id.
    pub fn audit_label(&self) -> String {
        match self {
            Actor::Customer(id) => format!("customer:{id}"),
            Actor::BankAgent(id) => format!("agent:{id}"),
            Actor::System(job) => format!("system:{job}"),
        }
    }
}

/// Where the data will be shown, and who besides the customer can read that place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChannelContext {
    /// The bank's own web chat: the bank serves the page.
    WebChat,
    /// A channel with end-to-end encryption between the bot and the customer only.
    EndToEndEncrypted,
    /// A platform that can read the content (Messenger, WhatsApp Cloud, Telegram).
    PlatformReadable,
    /// Inside the gateway, shown to nobody (scoring, payments).
    Internal,
    /// The bank-owned page behind a masked reply's single-use link (`/view/{token}`): data read
    /// for a chat that may not show it is shown here instead, to whoever holds the link.
    BankPage,
}

impl ChannelContext {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelContext::WebChat => "web_chat",
            ChannelContext::EndToEndEncrypted => "e2ee",
            ChannelContext::PlatformReadable => "platform_readable",
            ChannelContext::Internal => "internal",
            ChannelContext::BankPage => "bank_page",
        }
    }

    /// The channel's readability as the policies name it (`Channel::"…"` in the schema).
    pub fn readability(&self) -> &'static str {
        match self {
            ChannelContext::WebChat => "bank_owned",
            ChannelContext::EndToEndEncrypted => "e2ee",
            ChannelContext::PlatformReadable => "platform_readable",
            ChannelContext::Internal => "internal",
            ChannelContext::BankPage => "bank_owned",
        }
    }

    pub const ALL: [ChannelContext; 5] = [
        ChannelContext::WebChat,
        ChannelContext::EndToEndEncrypted,
        ChannelContext::PlatformReadable,
        ChannelContext::Internal,
        ChannelContext::BankPage,
    ];
}

/// Who else is in the conversation the data would be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Room {
    /// Only the account holder (and okienko): a one-to-one chat, or no room at all.
    HolderAlone,
    /// Anyone else can read it too (a group room, a shared screen).
    Shared,
}

/// Where a conversation takes place, as the channel that carries it knows it: which channel, who
/// besides the customer and okienko can read its content, and who else is in the room. Channels
/// hand it in with every event; the engine names it in every gate request and renders by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel's name ("web_chat", "matrix", "messenger"), for logs and tests; never shown.
    pub name: &'static str,
    /// Whether the platform can read the content (bank-owned, end-to-end encrypted, readable).
    pub context: ChannelContext,
    /// Whether the room holds only the account holder.
    pub room: Room,
}

impl ChannelInfo {
    /// The bank's own web chat: bank-owned, one customer per session.
    pub const WEB_CHAT: ChannelInfo = ChannelInfo {
        name: "web_chat",
        context: ChannelContext::WebChat,
        room: Room::HolderAlone,
    };

    pub const fn new(name: &'static str, context: ChannelContext, room: Room) -> Self {
        ChannelInfo {
            name,
            context,
            room,
        }
    }

    /// Whether financial data may be shown in this conversation itself: only with the account
    /// holder alone, and only where the platform cannot read it. Elsewhere it is masked.
    pub fn may_show_financial(&self) -> bool {
        self.room == Room::HolderAlone
            && matches!(
                self.context,
                ChannelContext::WebChat
                    | ChannelContext::EndToEndEncrypted
                    | ChannelContext::BankPage
            )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub actor: Actor,
    pub subject: CustomerId,
    pub purpose: Purpose,
    pub channel: ChannelContext,
    /// Who else reads the conversation.
    pub room: Room,
    /// The support case a bank agent acts in (ignored for other actors).
    pub case: Option<CaseId>,
}

impl AccessRequest {
    /// The common case: a customer asking about their own data in a one-to-one chat.
    pub fn customer(customer: CustomerId, purpose: Purpose, channel: ChannelContext) -> Self {
        AccessRequest {
            actor: Actor::Customer(customer),
            subject: customer,
            purpose,
            channel,
            room: Room::HolderAlone,
            case: None,
        }
    }

    /// A customer asking about their own data in the conversation `via` describes.
    pub fn customer_via(customer: CustomerId, purpose: Purpose, via: ChannelInfo) -> Self {
        AccessRequest {
            room: via.room,
            ..Self::customer(customer, purpose, via.context)
        }
    }

    /// A bank agent working on `case` about `subject` (purpose `service.support`).
    pub fn agent(staff: &str, subject: CustomerId, case: CaseId, channel: ChannelContext) -> Self {
        AccessRequest {
            actor: Actor::BankAgent(staff.to_owned()),
            subject,
            purpose: Purpose::ServiceSupport,
            channel,
            room: Room::HolderAlone,
            case: Some(case),
        }
    }

    /// A gateway job (e.g. "guard.scoring") reading inside the gateway.
    pub fn system(job: &str, subject: CustomerId, purpose: Purpose) -> Self {
        AccessRequest {
            actor: Actor::System(job.to_owned()),
            subject,
            purpose,
            channel: ChannelContext::Internal,
            room: Room::HolderAlone,
            case: None,
        }
    }

    /// The same request, shown in a conversation others can read.
    pub fn in_shared_room(self) -> Self {
        AccessRequest {
            room: Room::Shared,
            ..self
        }
    }
}
