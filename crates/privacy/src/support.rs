//! The support desk: who may work on which handed-over conversation, and what they may see.
//!
//! Staff accounts (argon2id password hashes, roles agent and supervisor, one bank each), console
//! sessions (random tokens, only their SHA-256 kept), the queue, the atomic claim, transfers,
//! closing, and transcripts. A claim opens a support case for the agent, which is what lets the
//! privacy gate show them the customer's data (`service.support`, naming the case); closing or
//! transferring closes it. Staff only ever see conversations of their own bank. Reading a
//! transcript is decided and audited by the gate like any read of the customer's data, and the
//! text is sealed with the customer's data key, so revoking the consent erases it.
//!
//! Nothing here logs message text, passwords or tokens.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use okienko_core::{Clock, CustomerId, Lang, TxFilter};
use okienko_store::{
    StaffRecord, Store, StoreError, SupportConversationRecord, SupportMessageRecord,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::case::CaseId;
use crate::fraud_case::{FraudBook, FraudCase, FraudCaseStatus};
use crate::gate::{AccessError, AccountBalances, Gated, PrivacyGate, TxPage};
use crate::purpose::{AccessRequest, ChannelContext};

/// How long a console sign-in lasts.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// Longest text a customer or agent line may have (characters).
pub const MAX_TEXT_CHARS: usize = 4000;

#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    /// Unknown username or wrong password (never says which).
    #[error("wrong username or password")]
    BadCredentials,
    /// The staff member may not do this (other bank, not theirs, wrong role).
    #[error("not allowed")]
    Forbidden,
    #[error("no such conversation")]
    NotFound,
    /// Someone else claimed it first, or it is no longer waiting.
    #[error("the conversation is already taken")]
    AlreadyTaken,
    #[error("the username is taken")]
    UsernameTaken,
    /// Bad input; names the field, never its value.
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("password hashing failed")]
    Hashing,
    #[error("access denied by the privacy gate")]
    Access(#[from] AccessError),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Agent,
    Supervisor,
}

impl StaffRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            StaffRole::Agent => "agent",
            StaffRole::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<StaffRole> {
        match s {
            "agent" => Some(StaffRole::Agent),
            "supervisor" => Some(StaffRole::Supervisor),
            _ => None,
        }
    }
}

/// A member of bank staff, as the console knows them (no password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staff {
    pub id: String,
    pub bank: String,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    pub team: String,
}

impl TryFrom<StaffRecord> for Staff {
    type Error = StoreError;
    fn try_from(r: StaffRecord) -> Result<Self, StoreError> {
        Ok(Staff {
            role: StaffRole::parse(&r.role).ok_or(StoreError::Corrupt("staff.role"))?,
            id: r.id,
            bank: r.bank,
            username: r.username,
            display_name: r.display_name,
            team: r.team,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting for an agent (owner: nobody).
    Queued,
    /// An agent holds it.
    Active,
    /// Left outside business hours: a message or a callback request.
    Offline,
    /// Over; the bot owns the chat again.
    Closed,
}

impl ConversationStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConversationStatus::Queued => "queued",
            ConversationStatus::Active => "active",
            ConversationStatus::Offline => "offline",
            ConversationStatus::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => ConversationStatus::Queued,
            "active" => ConversationStatus::Active,
            "offline" => ConversationStatus::Offline,
            "closed" => ConversationStatus::Closed,
            _ => return None,
        })
    }
}

/// A conversation handed over to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupportConversation {
    pub id: String,
    pub bank: String,
    pub customer: CustomerId,
    pub team: String,
    /// The staff id holding it.
    pub owner: Option<String>,
    pub status: ConversationStatus,
    pub reason: String,
    pub lang: Lang,
    #[serde(skip)]
    pub case: Option<CaseId>,
    pub requested_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub escalated: bool,
    pub csat: Option<u8>,
}

impl TryFrom<SupportConversationRecord> for SupportConversation {
    type Error = StoreError;
    fn try_from(r: SupportConversationRecord) -> Result<Self, StoreError> {
        Ok(SupportConversation {
            status: ConversationStatus::parse(&r.status)
                .ok_or(StoreError::Corrupt("support_conversations.status"))?,
            lang: r
                .lang
                .parse()
                .map_err(|_| StoreError::Corrupt("support_conversations.lang"))?,
            case: r
                .case_id
                .as_deref()
                .map(|c| {
                    c.parse::<Uuid>()
                        .map(CaseId::from_uuid)
                        .map_err(|_| StoreError::Corrupt("support_conversations.case_id"))
                })
                .transpose()?,
            id: r.id,
            bank: r.bank,
            customer: r.customer,
            team: r.team,
            owner: r.owner,
            reason: r.reason,
            requested_at: r.requested_at,
            claimed_at: r.claimed_at,
            first_response_at: r.first_response_at,
            closed_at: r.closed_at,
            resolution: r.resolution,
            escalated: r.escalated,
            csat: r.csat,
        })
    }
}

/// Who wrote a transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Sender {
    Customer,
    Bot,
    System,
    Agent(String),
}

impl Sender {
    fn column(&self) -> String {
        match self {
            Sender::Customer => "customer".into(),
            Sender::Bot => "bot".into(),
            Sender::System => "system".into(),
            Sender::Agent(id) => format!("agent:{id}"),
        }
    }

    fn parse(s: &str) -> Option<Sender> {
        Some(match s {
            "customer" => Sender::Customer,
            "bot" => Sender::Bot,
            "system" => Sender::System,
            other => Sender::Agent(other.strip_prefix("agent:")?.to_owned()),
        })
    }
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptLine {
    pub seq: i64,
    pub sender: Sender,
    /// Private notes are seen by staff only.
    pub note: bool,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// Where to transfer a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum TransferTarget {
    /// Another agent of the same bank, by username; they hold it at once.
    Agent(String),
    /// Back to the queue, of this team.
    Team(String),
}

/// The support desk over the store and the privacy gate. Cheap to clone.
#[derive(Clone)]
pub struct SupportDesk {
    gate: PrivacyGate,
    store: Store,
    clock: Arc<dyn Clock>,
}

fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unwanted(c: char) -> bool {
    let control = c.is_control() && c != '\n';
    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    control || bidi
}

/// Drops control characters (keeping newlines) and bidirectional overrides, then trims; refuses
/// what is empty or too long.
fn clean(text: &str, field: &'static str) -> Result<String, SupportError> {
    let t: String = text.chars().filter(|c| !unwanted(*c)).collect();
    let t = t.trim();
    if t.is_empty() || t.chars().count() > MAX_TEXT_CHARS {
        return Err(SupportError::Invalid(field));
    }
    Ok(t.to_owned())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A PHC argon2id hash of a fixed password, checked against when the username is unknown so a
/// failed sign-in takes as long either way.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

fn hash_password(password: &str) -> Result<String, SupportError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| SupportError::Hashing)
}

fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

impl SupportDesk {
    pub fn new(gate: PrivacyGate) -> Self {
        SupportDesk {
            store: gate.store().clone(),
            clock: gate.clock().clone(),
            gate,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ---------------------------------------------------------------- staff

    /// Creates a staff account. The password is hashed with argon2id; it is never stored or logged.
    pub async fn add_staff(
        &self,
        bank: &str,
        username: &str,
        display_name: &str,
        role: StaffRole,
        team: &str,
        password: &str,
    ) -> Result<Staff, SupportError> {
        if !valid_name(bank) {
            return Err(SupportError::Invalid("bank"));
        }
        if !valid_name(username) {
            return Err(SupportError::Invalid("username"));
        }
        if !valid_name(team) {
            return Err(SupportError::Invalid("team"));
        }
        let display_name = clean(display_name, "display name")?;
        if password.chars().count() < 4 || password.len() > 1024 {
            return Err(SupportError::Invalid("password"));
        }
        let pw = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|_| SupportError::Hashing)??;
        let rec = StaffRecord {
            id: Uuid::new_v4().to_string(),
            bank: bank.to_owned(),
            username: username.to_owned(),
            display_name,
            role: role.as_str().to_owned(),
            team: team.to_owned(),
            password_hash: hash,
            created_at: self.now(),
        };
        match self.store.insert_staff(&rec).await {
            Ok(()) => {}
            Err(StoreError::Query(f)) if f.is_unique_violation() => {
                return Err(SupportError::UsernameTaken);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(staff = %rec.id, role = role.as_str(), "staff account added");
        Ok(Staff::try_from(rec)?)
    }

    /// Checks the password and starts a console session; returns the staff member and the
    /// session token (only its hash is stored).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(Staff, String), SupportError> {
        if password.len() > 1024 || username.len() > 64 {
            return Err(SupportError::BadCredentials);
        }
        let rec = self.store.staff_by_username(username).await?;
        let phc = rec
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
            .await
            .map_err(|_| SupportError::Hashing)?;
        let rec = match (ok, rec) {
            (true, Some(rec)) => rec,
            _ => return Err(SupportError::BadCredentials),
        };
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = self.now();
        self.store
            .insert_staff_session(&token_hash(&token), &rec.id, now, now + SESSION_TTL)
            .await?;
        tracing::info!(staff = %rec.id, "staff signed in");
        Ok((Staff::try_from(rec)?, token))
    }

    /// The staff member a session token belongs to, while it lasts.
    pub async fn session(&self, token: &str) -> Result<Option<Staff>, SupportError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(id) = self
            .store
            .staff_session(&token_hash(token), self.now())
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .staff_by_id(&id)
            .await?
            .map(Staff::try_from)
            .transpose()?)
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), SupportError> {
        self.store.delete_staff_session(&token_hash(token)).await?;
        Ok(())
    }

    /// The bank's staff (for transfers).
    pub async fn colleagues(&self, me: &Staff) -> Result<Vec<Staff>, SupportError> {
        Ok(self
            .store
            .staff_of_bank(&me.bank)
            .await?
            .into_iter()
            .map(Staff::try_from)
            .collect::<Result<_, _>>()?)
    }

    // --------------------------------------------------------- conversations

    fn convert(r: SupportConversationRecord) -> Result<SupportConversation, SupportError> {
        Ok(SupportConversation::try_from(r)?)
    }

    /// The customer's conversation that is queued or with an agent.
    pub async fn live_conversation(
        &self,
        customer: CustomerId,
    ) -> Result<Option<SupportConversation>, SupportError> {
        self.store
            .live_support_conversation_of(customer)
            .await?
            .map(Self::convert)
            .transpose()
    }

    pub async fn conversation(&self, id: &str) -> Result<SupportConversation, SupportError> {
        match self.store.support_conversation(id).await? {
            Some(r) => Self::convert(r),
            None => Err(SupportError::NotFound),
        }
    }

    /// Puts the customer in `bank`'s queue for `team` (or returns the conversation they already
    /// have there). `offline` records a message left outside business hours instead.
    pub async fn request(
        &self,
        customer: CustomerId,
        bank: &str,
        team: &str,
        reason: &str,
        lang: Lang,
        offline: bool,
    ) -> Result<SupportConversation, SupportError> {
        if !offline && let Some(live) = self.live_conversation(customer).await? {
            return Ok(live);
        }
        let rec = SupportConversationRecord {
            id: Uuid::new_v4().to_string(),
            bank: bank.to_owned(),
            customer,
            team: team.to_owned(),
            owner: None,
            status: if offline { "offline" } else { "queued" }.to_owned(),
            reason: reason.to_owned(),
            lang: lang.code().to_owned(),
            case_id: None,
            requested_at: self.now(),
            claimed_at: None,
            first_response_at: None,
            closed_at: None,
            resolution: None,
            escalated: false,
            csat: None,
        };
        self.store.insert_support_conversation(&rec).await?;
        tracing::info!(conversation = %rec.id, %customer, reason, "handed over to people");
        Self::convert(rec)
    }

    /// The queued conversations of the staff member's bank, oldest first.
    pub async fn queue(&self, me: &Staff) -> Result<Vec<SupportConversation>, SupportError> {
        self.with_status(&me.bank, ConversationStatus::Queued).await
    }

    pub async fn with_status(
        &self,
        bank: &str,
        status: ConversationStatus,
    ) -> Result<Vec<SupportConversation>, SupportError> {
        self.store
            .support_conversations_with_status(bank, status.as_str())
            .await?
            .into_iter()
            .map(Self::convert)
            .collect()
    }

    /// Conversations of the bank closed since `since`, newest first.
    pub async fn closed_since(
        &self,
        bank: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<SupportConversation>, SupportError> {
        self.store
            .support_conversations_closed_since(bank, since, 200)
            .await?
            .into_iter()
            .map(Self::convert)
            .collect()
    }

    /// 1-based place in the queue of the conversation's bank (0 if not queued).
    pub async fn queue_position(&self, conv: &SupportConversation) -> Result<usize, SupportError> {
        if conv.status != ConversationStatus::Queued {
            return Ok(0);
        }
        let queue = self
            .with_status(&conv.bank, ConversationStatus::Queued)
            .await?;
        Ok(queue
            .iter()
            .position(|c| c.id == conv.id)
            .map(|p| p + 1)
            .unwrap_or(0))
    }

    /// A conversation the staff member may see at all: their own bank's.
    async fn of_my_bank(&self, me: &Staff, id: &str) -> Result<SupportConversation, SupportError> {
        let c = self.conversation(id).await?;
        if c.bank != me.bank {
            // Another bank's conversation does not exist for this person.
            return Err(SupportError::NotFound);
        }
        Ok(c)
    }

    /// Takes a queued conversation: exactly one of any number of racing agents wins. Opens a
    /// support case for the winner.
    pub async fn claim(&self, me: &Staff, id: &str) -> Result<SupportConversation, SupportError> {
        let conv = self.of_my_bank(me, id).await?;
        if !self
            .store
            .claim_support_conversation(id, &me.bank, &me.id, self.now())
            .await?
        {
            return Err(SupportError::AlreadyTaken);
        }
        let case = self.gate.open_case(&me.id, conv.customer).await?;
        self.store
            .set_support_conversation_case(id, Some(&case.to_string()))
            .await?;
        tracing::info!(conversation = %id, staff = %me.id, "conversation claimed");
        self.conversation(id).await
    }

    /// The conversation, if `me` holds it now.
    async fn held(&self, me: &Staff, id: &str) -> Result<SupportConversation, SupportError> {
        let c = self.of_my_bank(me, id).await?;
        if c.status != ConversationStatus::Active || c.owner.as_deref() != Some(&me.id) {
            return Err(SupportError::Forbidden);
        }
        Ok(c)
    }

    async fn append(
        &self,
        conv: &SupportConversation,
        sender: Sender,
        note: bool,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let at = self.now();
        let seq = self
            .store
            .append_support_message(&SupportMessageRecord {
                id: Uuid::new_v4().to_string(),
                conversation_id: conv.id.clone(),
                customer: conv.customer,
                seq: 0,
                sender: sender.column(),
                kind: if note { "note" } else { "message" }.to_owned(),
                at,
                text: text.to_owned(),
            })
            .await?;
        Ok(TranscriptLine {
            seq,
            sender,
            note,
            at,
            text: text.to_owned(),
        })
    }

    /// Records what the customer wrote in their live conversation.
    pub async fn customer_says(
        &self,
        conv: &SupportConversation,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let text = clean(text, "message")?;
        self.append(conv, Sender::Customer, false, &text).await
    }

    /// Records a line the gateway said in the conversation (queue notices, the bot's words).
    pub async fn system_says(
        &self,
        conv: &SupportConversation,
        sender: Sender,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let text = clean(text, "message")?;
        self.append(conv, sender, false, &text).await
    }

    /// An agent's reply to the customer, in a conversation they hold.
    pub async fn reply(
        &self,
        me: &Staff,
        id: &str,
        text: &str,
    ) -> Result<(SupportConversation, TranscriptLine), SupportError> {
        let text = clean(text, "message")?;
        let conv = self.held(me, id).await?;
        let line = self
            .append(&conv, Sender::Agent(me.id.clone()), false, &text)
            .await?;
        self.store.mark_support_first_response(id, line.at).await?;
        Ok((conv, line))
    }

    /// A private note, seen by staff only.
    pub async fn note(
        &self,
        me: &Staff,
        id: &str,
        text: &str,
    ) -> Result<TranscriptLine, SupportError> {
        let text = clean(text, "note")?;
        let conv = self.held(me, id).await?;
        self.append(&conv, Sender::Agent(me.id.clone()), true, &text)
            .await
    }

    /// The transcript, for the agent holding the conversation: decided and audited by the gate
    /// (`service.support`, naming the agent's case), like any read of the customer's data.
    pub async fn transcript(
        &self,
        me: &Staff,
        id: &str,
    ) -> Result<Vec<TranscriptLine>, SupportError> {
        let conv = self.held(me, id).await?;
        let case = conv.case.ok_or(SupportError::Forbidden)?;
        let req = AccessRequest::agent(&me.id, conv.customer, case, ChannelContext::WebChat);
        self.gate.authorize(&req, "read.transcript").await?;
        self.store
            .support_messages(id)
            .await?
            .into_iter()
            .map(|m| {
                Ok(TranscriptLine {
                    sender: Sender::parse(&m.sender)
                        .ok_or(StoreError::Corrupt("support_messages.sender"))?,
                    note: m.kind == "note",
                    seq: m.seq,
                    at: m.at,
                    text: m.text,
                })
            })
            .collect()
    }

    fn agent_request(
        &self,
        me: &Staff,
        conv: &SupportConversation,
    ) -> Result<AccessRequest, SupportError> {
        let case = conv.case.ok_or(SupportError::Forbidden)?;
        Ok(AccessRequest::agent(
            &me.id,
            conv.customer,
            case,
            ChannelContext::WebChat,
        ))
    }

    /// The customer's balances, through the gate for the agent's case.
    pub async fn balances(
        &self,
        me: &Staff,
        id: &str,
    ) -> Result<Gated<Vec<AccountBalances>>, SupportError> {
        let conv = self.held(me, id).await?;
        let req = self.agent_request(me, &conv)?;
        Ok(self.gate.balances(&req).await?)
    }

    /// The customer's latest transactions, through the gate for the agent's case.
    pub async fn transactions(
        &self,
        me: &Staff,
        id: &str,
        limit: u32,
    ) -> Result<Gated<TxPage>, SupportError> {
        let conv = self.held(me, id).await?;
        let req = self.agent_request(me, &conv)?;
        Ok(self
            .gate
            .transactions(&req, &TxFilter::default(), 0, limit)
            .await?)
    }

    /// The customer's open fraud cases, for the agent holding the conversation (the summary
    /// names them). A case holds ids, times and a count of blocked cards, no amounts.
    pub async fn fraud_cases(&self, me: &Staff, id: &str) -> Result<Vec<FraudCase>, SupportError> {
        let conv = self.held(me, id).await?;
        Ok(FraudBook::new(self.store.clone())
            .cases_for_customer(conv.customer)
            .await?
            .into_iter()
            .filter(|c| c.status == FraudCaseStatus::Open)
            .collect())
    }

    /// Gives the conversation to another agent of the bank, or back to a team's queue. The
    /// current agent's case closes; the new holder gets their own.
    pub async fn transfer(
        &self,
        me: &Staff,
        id: &str,
        target: &TransferTarget,
    ) -> Result<SupportConversation, SupportError> {
        let conv = self.held(me, id).await?;
        let (to, team) = match target {
            TransferTarget::Agent(username) => {
                let other = self
                    .store
                    .staff_by_username(username)
                    .await?
                    .map(Staff::try_from)
                    .transpose()?
                    .filter(|s| s.bank == me.bank && s.id != me.id)
                    .ok_or(SupportError::Invalid("transfer target"))?;
                (Some(other.clone()), other.team)
            }
            TransferTarget::Team(team) => {
                if !valid_name(team) {
                    return Err(SupportError::Invalid("team"));
                }
                (None, team.clone())
            }
        };
        if !self
            .store
            .transfer_support_conversation(id, &me.id, to.as_ref().map(|s| s.id.as_str()), &team)
            .await?
        {
            return Err(SupportError::AlreadyTaken);
        }
        if let Some(case) = conv.case {
            self.gate.close_case(case).await?;
        }
        if let Some(other) = &to {
            let case = self.gate.open_case(&other.id, conv.customer).await?;
            self.store
                .set_support_conversation_case(id, Some(&case.to_string()))
                .await?;
        }
        tracing::info!(conversation = %id, staff = %me.id, "conversation transferred");
        self.conversation(id).await
    }

    /// Closes a conversation the agent holds with a resolution code; the case closes with it.
    pub async fn close(
        &self,
        me: &Staff,
        id: &str,
        resolution: &str,
    ) -> Result<SupportConversation, SupportError> {
        if !valid_name(resolution) {
            return Err(SupportError::Invalid("resolution"));
        }
        let conv = self.held(me, id).await?;
        if !self
            .store
            .close_support_conversation(id, Some(&me.id), resolution, self.now())
            .await?
        {
            return Err(SupportError::AlreadyTaken);
        }
        if let Some(case) = conv.case {
            self.gate.close_case(case).await?;
        }
        tracing::info!(conversation = %id, staff = %me.id, resolution, "conversation closed");
        self.conversation(id).await
    }

    /// The customer went back to the bot: their live conversation ends.
    pub async fn customer_leaves(
        &self,
        customer: CustomerId,
    ) -> Result<Option<SupportConversation>, SupportError> {
        let Some(conv) = self.live_conversation(customer).await? else {
            return Ok(None);
        };
        self.store
            .close_support_conversation(&conv.id, None, "customer_returned_to_bot", self.now())
            .await?;
        if let Some(case) = conv.case {
            self.gate.close_case(case).await?;
        }
        Ok(Some(self.conversation(&conv.id).await?))
    }

    /// The customer's satisfaction (1–5) with a closed conversation; false if already rated.
    pub async fn record_csat(
        &self,
        customer: CustomerId,
        id: &str,
        score: u8,
    ) -> Result<bool, SupportError> {
        if !(1..=5).contains(&score) {
            return Err(SupportError::Invalid("score"));
        }
        Ok(self.store.record_support_csat(id, customer, score).await?)
    }

    /// Flags the bank's conversations that have waited longer than `sla`; returns the newly
    /// flagged ones.
    pub async fn escalate_overdue(
        &self,
        bank: &str,
        sla: std::time::Duration,
    ) -> Result<Vec<String>, SupportError> {
        let sla = Duration::from_std(sla).map_err(|_| SupportError::Invalid("sla"))?;
        Ok(self
            .store
            .escalate_support_conversations(bank, self.now() - sla)
            .await?)
    }
}
