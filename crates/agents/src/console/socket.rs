//! One console WebSocket: the staff member's view of the bank's queue and their conversations,
//! kept live from the hub, and their actions (claim, reply, note, transfer, close).

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use okienko_core::Lang;
use okienko_privacy::support::{ConversationStatus, Staff, SupportError, TransferTarget};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConsoleState;
use super::view::{self, AgentLoad, ConversationView, Overview, TeamLoad};
use crate::canned::{CANNED, RESOLUTIONS};
use crate::hub::{HubEvent, Received};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Claim {
        conversation: String,
    },
    Open {
        conversation: String,
    },
    Reply {
        conversation: String,
        text: String,
    },
    Note {
        conversation: String,
        text: String,
    },
    Transfer {
        conversation: String,
        target: TransferTarget,
    },
    Close {
        conversation: String,
        resolution: String,
    },
    Typing {
        conversation: String,
    },
}

fn error_code(e: &SupportError) -> &'static str {
    match e {
        SupportError::BadCredentials => "bad_credentials",
        SupportError::Forbidden => "forbidden",
        SupportError::NotFound => "not_found",
        SupportError::AlreadyTaken => "already_taken",
        SupportError::UsernameTaken => "username_taken",
        SupportError::Invalid(_) => "invalid",
        SupportError::Access(_) => "access_denied",
        SupportError::Hashing | SupportError::Store(_) => "internal",
    }
}

fn error_frame(e: &SupportError) -> Value {
    if matches!(e, SupportError::Store(_) | SupportError::Hashing) {
        tracing::error!(error = %e, "console action failed");
    }
    json!({ "type": "error", "code": error_code(e), "message": e.to_string() })
}

struct Console {
    state: ConsoleState,
    me: Staff,
}

impl Console {
    async fn hello(&self) -> Value {
        let colleagues: Vec<Value> = self
            .state
            .handover
            .desk()
            .colleagues(&self.me)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.id != self.me.id)
            .map(|s| json!({ "username": s.username, "display_name": s.display_name, "team": s.team }))
            .collect();
        json!({
            "type": "hello",
            "me": self.me,
            "canned": CANNED,
            "resolutions": RESOLUTIONS,
            "colleagues": colleagues,
        })
    }

    async fn state_frame(&self) -> Result<Value, SupportError> {
        let desk = self.state.handover.desk();
        let now = desk.now();
        let staff = desk.colleagues(&self.me).await?;
        let queue = desk.queue(&self.me).await?;
        let active = desk
            .with_status(&self.me.bank, ConversationStatus::Active)
            .await?;
        let mine: Vec<ConversationView> = active
            .iter()
            .filter(|c| c.owner.as_deref() == Some(&self.me.id))
            .map(|c| ConversationView::new(c, now, &staff))
            .collect();
        let queue_views: Vec<ConversationView> = queue
            .iter()
            .map(|c| ConversationView::new(c, now, &staff))
            .collect();
        let supervisor = if self.me.role == okienko_privacy::support::StaffRole::Supervisor {
            let offline = desk
                .with_status(&self.me.bank, ConversationStatus::Offline)
                .await?;
            let today = now - chrono::Duration::hours(24);
            let closed = desk.closed_since(&self.me.bank, today).await?;
            let scores: Vec<f64> = closed
                .iter()
                .filter_map(|c| c.csat.map(f64::from))
                .collect();
            let mut teams: Vec<TeamLoad> = Vec::new();
            for c in &queue {
                let wait = (now - c.requested_at).num_seconds().max(0);
                match teams.iter_mut().find(|t| t.team == c.team) {
                    Some(t) => {
                        t.waiting += 1;
                        t.longest_wait_secs = t.longest_wait_secs.max(wait);
                        t.escalated += usize::from(c.escalated);
                    }
                    None => teams.push(TeamLoad {
                        team: c.team.clone(),
                        waiting: 1,
                        longest_wait_secs: wait,
                        escalated: usize::from(c.escalated),
                    }),
                }
            }
            let agents = staff
                .iter()
                .map(|s| AgentLoad {
                    username: s.username.clone(),
                    display_name: s.display_name.clone(),
                    active: active
                        .iter()
                        .filter(|c| c.owner.as_deref() == Some(&s.id))
                        .count(),
                })
                .collect();
            Some(Overview {
                teams,
                agents,
                offline: offline.len(),
                closed_today: closed.len(),
                csat_average: if scores.is_empty() {
                    None
                } else {
                    Some(scores.iter().sum::<f64>() / scores.len() as f64)
                },
            })
        } else {
            None
        };
        Ok(json!({
            "type": "state",
            "queue": queue_views,
            "mine": mine,
            "supervisor": supervisor,
        }))
    }

    /// The conversation with its summary, transcript and the customer's data (via the gate).
    async fn open(&self, id: &str) -> Result<Value, SupportError> {
        let desk = self.state.handover.desk();
        let conv = desk.conversation(id).await?;
        if conv.bank != self.me.bank {
            return Err(SupportError::NotFound);
        }
        let staff = desk.colleagues(&self.me).await?;
        let transcript = desk.transcript(&self.me, id).await?;
        let lang = conv.lang;
        // The customer may have no linked bank, or the gate may refuse: the console says so.
        let accounts = match desk.balances(&self.me, id).await {
            Ok(g) => Some(view::accounts(g.data(), Lang::Pl)),
            Err(_) => None,
        };
        let transactions = match desk.transactions(&self.me, id, 10).await {
            Ok(g) => Some(view::transactions(&g.data().transactions, Lang::Pl)),
            Err(_) => None,
        };
        let _ = lang;
        // What the bot knows (recent intents, an unfinished form) and the open fraud cases.
        let bot = self.state.handover.engine().summary(conv.customer).await;
        let cases = desk.fraud_cases(&self.me, id).await?;
        let summary = view::Summary::new(&conv, bot, &cases);
        Ok(json!({
            "type": "opened",
            "conversation": ConversationView::new(&conv, desk.now(), &staff),
            "summary": summary,
            "transcript": transcript,
            "customer": { "accounts": accounts, "transactions": transactions },
        }))
    }

    async fn act(&self, frame: ClientFrame) -> Result<Option<Value>, SupportError> {
        let h = &self.state.handover;
        match frame {
            ClientFrame::Claim { conversation } => {
                h.claim(&self.me, &conversation).await?;
                Ok(Some(self.open(&conversation).await?))
            }
            ClientFrame::Open { conversation } => Ok(Some(self.open(&conversation).await?)),
            ClientFrame::Reply { conversation, text } => {
                h.reply(&self.me, &conversation, &text).await?;
                Ok(None)
            }
            ClientFrame::Note { conversation, text } => {
                h.note(&self.me, &conversation, &text).await?;
                Ok(None)
            }
            ClientFrame::Transfer {
                conversation,
                target,
            } => {
                h.transfer(&self.me, &conversation, &target).await?;
                Ok(Some(
                    json!({ "type": "transferred", "conversation": conversation }),
                ))
            }
            ClientFrame::Close {
                conversation,
                resolution,
            } => {
                h.close(&self.me, &conversation, &resolution).await?;
                Ok(None)
            }
            ClientFrame::Typing { conversation } => {
                h.agent_typing(&self.me, &conversation).await?;
                Ok(None)
            }
        }
    }

    /// What a hub event means for this console, if anything.
    async fn on_event(&self, e: HubEvent) -> Option<Value> {
        if e.bank() != self.me.bank {
            return None;
        }
        let mine = |owner: &Option<String>| owner.as_deref() == Some(self.me.id.as_str());
        match e {
            HubEvent::Changed { .. } => self.state_frame().await.ok(),
            HubEvent::Line {
                conversation,
                owner,
                line,
                ..
            } if mine(&owner) => {
                Some(json!({ "type": "line", "conversation": conversation, "line": line }))
            }
            HubEvent::CustomerTyping {
                conversation,
                owner,
                ..
            } if mine(&owner) => {
                Some(json!({ "type": "customer_typing", "conversation": conversation }))
            }
            HubEvent::Ended {
                conversation,
                owner,
                by_customer,
                ..
            } if mine(&owner) => Some(
                json!({ "type": "ended", "conversation": conversation, "by_customer": by_customer }),
            ),
            // Written on another instance: read it as this agent (gated and audited).
            HubEvent::RemoteLine {
                conversation,
                owner,
                seq,
                ..
            } if mine(&owner) => {
                let lines = self
                    .state
                    .handover
                    .desk()
                    .transcript(&self.me, &conversation)
                    .await
                    .ok()?;
                let line = lines.into_iter().find(|l| l.seq == seq)?;
                Some(json!({ "type": "line", "conversation": conversation, "line": line }))
            }
            _ => None,
        }
    }
}

pub(super) async fn serve(socket: WebSocket, state: ConsoleState, me: Staff) {
    let mut events = state.handover.hub().subscribe(&me.bank, Some(&me.id));
    let console = Console { state, me };
    let (mut tx, mut rx) = socket.split();
    let send = |v: Value| Message::Text(v.to_string().into());
    if tx.send(send(console.hello().await)).await.is_err() {
        return;
    }
    match console.state_frame().await {
        Ok(v) => {
            if tx.send(send(v)).await.is_err() {
                return;
            }
        }
        Err(e) => {
            let _ = tx.send(send(error_frame(&e))).await;
            return;
        }
    }
    loop {
        tokio::select! {
            msg = rx.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let out = match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(frame) => match console.act(frame).await {
                        Ok(v) => v,
                        Err(e) => Some(error_frame(&e)),
                    },
                    Err(_) => Some(json!({ "type": "error", "code": "bad_frame", "message": "unknown frame" })),
                };
                if let Some(v) = out
                    && tx.send(send(v)).await.is_err()
                {
                    return;
                }
            }
            ev = events.recv() => {
                let out = match ev {
                    Received::Event(ev) => console.on_event(ev).await,
                    Received::Changed => console.state_frame().await.ok(),
                    // Lines were lost: the page reloads its lists and the open conversation.
                    Received::Lost => {
                        if let Ok(v) = console.state_frame().await
                            && tx.send(send(v)).await.is_err()
                        {
                            return;
                        }
                        Some(json!({ "type": "resync" }))
                    }
                };
                if let Some(v) = out
                    && tx.send(send(v)).await.is_err()
                {
                    return;
                }
            }
        }
    }
}
