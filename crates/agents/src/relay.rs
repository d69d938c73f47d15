//! The console hub across gateway instances (issue 9): an agent's console on instance A sees the
//! lines of a customer whose chat is on instance B. Every event published on this instance's
//! [`Hub`] goes out on the event bus as `AgentMessage` (ids and a line number only: the texts
//! stay in the store), and every instance listens and delivers the others' events to its own
//! consoles; a line is read back by the console itself, through the gate, as the agent holding
//! the conversation. The agent's replies reach the customer through the channel's outbox (the
//! web chat's is shared between instances).
//!
//! Live signals, not work: nothing is retried or acknowledged. A listener that fell behind makes
//! every console of the bank reload its lists.

use std::sync::Arc;
use std::time::Duration;

use okienko_bus::{Event, EventBus, Topic};
use tokio::sync::{mpsc, watch};

use crate::handover::Handover;
use crate::hub::{Hub, HubEvent};

/// The longest one publish may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before listening again after the bus dropped the listener.
const RETRY: Duration = Duration::from_secs(1);

/// Starts relaying `handover`'s hub through `bus` until `shutdown`. Call once, at start-up
/// (a second call does nothing).
pub fn spawn(handover: Arc<Handover>, bus: Arc<dyn EventBus>, shutdown: watch::Receiver<bool>) {
    let Some(out) = handover.hub().relay_out() else {
        return;
    };
    let origin = origin();
    tokio::spawn(send(out, bus.clone(), origin.clone(), shutdown.clone()));
    tokio::spawn(receive(handover, bus, origin, shutdown));
}

/// This instance's name on the bus, so it skips its own events when they come back.
fn origin() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos)
}

/// `AgentMessage { conversation, message }` for a hub event: the message is
/// `origin|kind|detail|owner` (the owner a staff id, possibly empty), ids only.
fn encode(origin: &str, e: &HubEvent) -> Option<Event> {
    let owner = |o: &Option<String>| o.clone().unwrap_or_default();
    let (conversation, message) = match e {
        HubEvent::Changed { bank } => (String::new(), format!("{origin}|changed|{bank}|")),
        HubEvent::Line {
            conversation,
            line,
            owner: o,
            ..
        } => (
            conversation.clone(),
            format!("{origin}|line|{}|{}", line.seq, owner(o)),
        ),
        HubEvent::CustomerTyping {
            conversation,
            owner: o,
            ..
        } => (
            conversation.clone(),
            format!("{origin}|typing||{}", owner(o)),
        ),
        HubEvent::Ended {
            conversation,
            by_customer,
            owner: o,
            ..
        } => (
            conversation.clone(),
            format!("{origin}|ended|{}|{}", u8::from(*by_customer), owner(o)),
        ),
        // Already relayed once.
        HubEvent::RemoteLine { .. } => return None,
    };
    Some(Event::AgentMessage {
        conversation,
        message,
    })
}

/// The hub event another instance published (of this gateway's bank: every instance serves the
/// same one); `None` for this instance's own and for anything malformed.
fn decode(bank: &str, origin: &str, conversation: String, message: &str) -> Option<HubEvent> {
    let mut parts = message.splitn(4, '|');
    if parts.next()? == origin {
        return None;
    }
    let kind = parts.next()?;
    let detail = parts.next()?;
    let owner = parts.next().filter(|o| !o.is_empty()).map(str::to_owned);
    let bank = bank.to_owned();
    match kind {
        "changed" => Some(HubEvent::Changed {
            bank: detail.to_owned(),
        }),
        "line" => Some(HubEvent::RemoteLine {
            bank,
            conversation,
            owner,
            seq: detail.parse().ok()?,
        }),
        "typing" => Some(HubEvent::CustomerTyping {
            bank,
            conversation,
            owner,
        }),
        "ended" => Some(HubEvent::Ended {
            bank,
            conversation,
            owner,
            by_customer: detail == "1",
        }),
        _ => None,
    }
}

async fn send(
    mut out: mpsc::UnboundedReceiver<HubEvent>,
    bus: Arc<dyn EventBus>,
    origin: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut n: u64 = 0;
    loop {
        let e = tokio::select! {
            e = out.recv() => e,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let Some(e) = e else { return };
        let Some(event) = encode(&origin, &e) else {
            continue;
        };
        n += 1;
        let id = format!("agent:{origin}:{n}");
        match tokio::time::timeout(TIMEOUT, bus.publish(&id, &event)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "relaying a console event failed"),
            Err(_) => tracing::warn!("relaying a console event timed out"),
        }
    }
}

async fn receive(
    handover: Arc<Handover>,
    bus: Arc<dyn EventBus>,
    origin: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let hub: Hub = handover.hub().clone();
    loop {
        let listener = tokio::select! {
            l = bus.listen(Topic::AgentMessage) => l,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        match listener {
            Ok(mut l) => loop {
                let item = tokio::select! {
                    item = l.next() => item,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                match item {
                    Some(Ok(Event::AgentMessage {
                        conversation,
                        message,
                    })) => {
                        let bank = &handover.config().bank;
                        if let Some(e) = decode(bank, &origin, conversation, &message) {
                            hub.deliver(e);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "console events from other instances may have been missed; consoles reload");
                        hub.deliver(HubEvent::Changed {
                            bank: handover.config().bank.clone(),
                        });
                    }
                    None => break,
                }
            },
            Err(e) => tracing::warn!(error = %e, "listening for console events failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_privacy::support::{Sender, TranscriptLine};

    #[test]
    fn events_round_trip_without_texts_and_own_events_are_skipped() {
        let line = HubEvent::Line {
            bank: "b1".into(),
            conversation: "c1".into(),
            owner: Some("ola".into()),
            line: TranscriptLine {
                seq: 7,
                sender: Sender::Customer,
                note: false,
                at: chrono::Utc::now(),
                text: "secret words".into(),
            },
        };
        let Some(Event::AgentMessage {
            conversation,
            message,
        }) = encode("a", &line)
        else {
            panic!("not encoded");
        };
        assert!(!message.contains("secret"), "{message}");
        assert!(decode("b1", "a", conversation.clone(), &message).is_none());
        match decode("b1", "b", conversation, &message) {
            Some(HubEvent::RemoteLine {
                bank,
                conversation,
                owner,
                seq,
            }) => {
                assert_eq!((bank.as_str(), conversation.as_str()), ("b1", "c1"));
                assert_eq!((owner.as_deref(), seq), (Some("ola"), 7));
            }
            other => panic!("{other:?}"),
        }
        let ended = HubEvent::Ended {
            bank: "b1".into(),
            conversation: "c1".into(),
            owner: None,
            by_customer: true,
        };
        let Some(Event::AgentMessage {
            conversation,
            message,
        }) = encode("a", &ended)
        else {
            panic!("not encoded");
        };
        assert!(matches!(
            decode("b1", "b", conversation, &message),
            Some(HubEvent::Ended {
                owner: None,
                by_customer: true,
                ..
            })
        ));
        assert!(decode("b1", "b", "c1".into(), "junk").is_none());
    }
}
