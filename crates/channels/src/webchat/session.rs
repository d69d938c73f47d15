//! Web chat sessions: which browser is which customer, the replies kept for resuming, and the
//! sockets (tabs) that are open right now.
//!
//! A session owns its reply sequence: every reply, whether it answers a message or was pushed
//! through the Outbox, gets the next `seq` and is kept (bounded) so a browser that reconnects can
//! ask for what it missed. Delivery to sockets never blocks: a tab that cannot keep up is cut
//! off and catches up from the backlog when it reconnects. Session state lives in memory only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use okienko_core::{CustomerId, Lang};
use okienko_dialog::{Conversation, InboundEvent, Reply};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::WebChatConfig;
use super::protocol::{reply_frame, welcome_frame};
use super::rate::TokenBucket;
use super::token::{looks_like_token, new_token};
use super::worker;

/// Frames queued for one socket beyond the backlog before that socket counts as stuck.
const SOCKET_SLACK: usize = 64;
/// How often expired sessions are looked for, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Locks a mutex, recovering it if a thread panicked while holding it: the state it guards is
/// always left consistent between statements, so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One event waiting for the conversation.
pub(crate) struct Job {
    pub(crate) event: InboundEvent,
    pub(crate) lang: Lang,
}

pub(crate) enum EnqueueError {
    Full,
    Closed,
}

pub(crate) struct Session {
    customer: CustomerId,
    token: String,
    backlog_cap: usize,
    jobs: mpsc::Sender<Job>,
    state: Mutex<SessionState>,
}

struct SessionState {
    lang: Lang,
    next_seq: u64,
    backlog: VecDeque<(u64, Arc<str>)>,
    /// The highest seq handed to at least one socket: what a `hello` without `last_seen` has seen.
    delivered_upto: u64,
    sockets: Vec<(u64, mpsc::Sender<Arc<str>>)>,
    last_active: Instant,
    rate: TokenBucket,
}

impl Session {
    pub(crate) fn customer(&self) -> CustomerId {
        self.customer
    }

    #[cfg(test)]
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn lang(&self) -> Lang {
        lock(&self.state).lang
    }

    pub(crate) fn set_lang(&self, lang: Lang) {
        lock(&self.state).lang = lang;
    }

    /// Takes one frame's worth from the session's rate limit.
    pub(crate) fn allow_frame(&self, now: Instant) -> bool {
        lock(&self.state).rate.try_take(now)
    }

    /// Queues an event for the conversation, in order, without waiting.
    pub(crate) fn enqueue(&self, job: Job) -> Result<(), EnqueueError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EnqueueError::Full,
            mpsc::error::TrySendError::Closed(_) => EnqueueError::Closed,
        })
    }

    /// Opens a socket on this session. The returned receiver yields the welcome frame first,
    /// then every kept reply after `last_seen` (or, without it, every reply no socket has had
    /// yet), then live frames. Doing all of it under the state lock means a reply pushed
    /// meanwhile is neither lost nor sent twice.
    pub(crate) fn open_socket(
        &self,
        conn: u64,
        last_seen: Option<u64>,
        resumed: bool,
        now: Instant,
    ) -> mpsc::Receiver<Arc<str>> {
        let (tx, rx) = mpsc::channel(self.backlog_cap + SOCKET_SLACK);
        let mut st = lock(&self.state);
        let welcome = welcome_frame(&self.token, self.customer, st.lang, resumed);
        // The channel is new and larger than the backlog, so these cannot fail.
        let _ = tx.try_send(welcome);
        let after = last_seen.unwrap_or(st.delivered_upto);
        let mut highest = st.delivered_upto;
        for (seq, frame) in st.backlog.iter().filter(|(seq, _)| *seq > after) {
            let _ = tx.try_send(frame.clone());
            highest = highest.max(*seq);
        }
        st.delivered_upto = highest;
        st.sockets.push((conn, tx));
        st.last_active = now;
        rx
    }

    pub(crate) fn close_socket(&self, conn: u64, now: Instant) {
        let mut st = lock(&self.state);
        st.sockets.retain(|(c, _)| *c != conn);
        st.last_active = now;
    }

    /// Gives a reply the next seq, keeps it, and hands it to every open socket.
    pub(crate) fn deliver(&self, reply: &Reply) -> u64 {
        let mut st = lock(&self.state);
        let seq = st.next_seq;
        st.next_seq += 1;
        let frame = reply_frame(seq, reply);
        st.backlog.push_back((seq, frame.clone()));
        while st.backlog.len() > self.backlog_cap {
            st.backlog.pop_front();
        }
        if send_all(&mut st.sockets, &frame) {
            st.delivered_upto = seq;
        }
        seq
    }

    /// Sends a frame that is not kept (typing, errors about a queued event) to every open socket.
    pub(crate) fn broadcast(&self, frame: &Arc<str>) {
        let mut st = lock(&self.state);
        send_all(&mut st.sockets, frame);
    }

    fn is_expired(&self, now: Instant, ttl: Duration) -> bool {
        let st = lock(&self.state);
        st.sockets.is_empty() && now.saturating_duration_since(st.last_active) > ttl
    }

    #[cfg(test)]
    pub(crate) fn open_sockets(&self) -> usize {
        lock(&self.state).sockets.len()
    }
}

/// Sends to every socket; a socket whose queue is full or closed is dropped, which ends its
/// connection (the browser reconnects and resumes). Returns whether anyone got the frame.
fn send_all(sockets: &mut Vec<(u64, mpsc::Sender<Arc<str>>)>, frame: &Arc<str>) -> bool {
    let mut any = false;
    sockets.retain(|(conn, tx)| match tx.try_send(frame.clone()) {
        Ok(()) => {
            any = true;
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(conn, "web chat socket cannot keep up; disconnecting it");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
    any
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the web chat holds the maximum number of sessions")]
    Full,
}

/// All sessions, by token and by customer.
pub(crate) struct Registry {
    state: Mutex<RegistryState>,
}

struct RegistryState {
    by_token: HashMap<String, Arc<Session>>,
    by_customer: HashMap<CustomerId, Arc<Session>>,
    last_sweep: Instant,
}

impl Registry {
    pub(crate) fn new(now: Instant) -> Self {
        Registry {
            state: Mutex::new(RegistryState {
                by_token: HashMap::new(),
                by_customer: HashMap::new(),
                last_sweep: now,
            }),
        }
    }

    /// The live session with this token, if any. An expired one is forgotten here.
    pub(crate) fn resume(&self, token: &str, ttl: Duration, now: Instant) -> Option<Arc<Session>> {
        if !looks_like_token(token) {
            return None;
        }
        let mut st = lock(&self.state);
        let session = st.by_token.get(token)?.clone();
        if session.is_expired(now, ttl) {
            st.by_token.remove(token);
            st.by_customer.remove(&session.customer);
            return None;
        }
        Some(session)
    }

    /// A new session with a new demo customer and its own conversation worker.
    pub(crate) fn create(
        &self,
        config: &WebChatConfig,
        lang: Lang,
        conversation: Arc<dyn Conversation>,
        now: Instant,
    ) -> Result<Arc<Session>, OpenError> {
        let mut st = lock(&self.state);
        if now.saturating_duration_since(st.last_sweep) >= SWEEP_EVERY
            || st.by_token.len() >= config.max_sessions
        {
            sweep(&mut st, config.session_ttl, now);
        }
        if st.by_token.len() >= config.max_sessions {
            return Err(OpenError::Full);
        }
        let (jobs, rx) = mpsc::channel(config.queue_depth.max(1));
        let session = Arc::new(Session {
            customer: CustomerId::new(),
            token: new_token(),
            backlog_cap: config.backlog.max(1),
            jobs,
            state: Mutex::new(SessionState {
                lang,
                next_seq: 1,
                backlog: VecDeque::new(),
                delivered_upto: 0,
                sockets: Vec::new(),
                last_active: now,
                rate: TokenBucket::new(config.rate_burst, config.rate_per_second, now),
            }),
        });
        tokio::spawn(worker::run(Arc::downgrade(&session), rx, conversation));
        st.by_token.insert(session.token.clone(), session.clone());
        st.by_customer.insert(session.customer, session.clone());
        Ok(session)
    }

    pub(crate) fn by_customer(&self, customer: CustomerId) -> Option<Arc<Session>> {
        lock(&self.state).by_customer.get(&customer).cloned()
    }

    /// Forgets sessions idle (no socket) for longer than `ttl`.
    #[cfg(test)]
    pub(crate) fn sweep(&self, ttl: Duration, now: Instant) {
        sweep(&mut lock(&self.state), ttl, now);
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.state).by_token.len()
    }
}

fn sweep(st: &mut RegistryState, ttl: Duration, now: Instant) {
    st.last_sweep = now;
    let expired: Vec<Arc<Session>> = st
        .by_token
        .values()
        .filter(|s| s.is_expired(now, ttl))
        .cloned()
        .collect();
    for s in expired {
        st.by_token.remove(&s.token);
        st.by_customer.remove(&s.customer);
    }
    if !st.by_token.is_empty() {
        tracing::debug!(sessions = st.by_token.len(), "web chat sessions swept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    struct Silent;

    #[async_trait]
    impl Conversation for Silent {
        async fn handle(
            &self,
            _: CustomerId,
            _: okienko_dialog::ChannelInfo,
            _: Option<Lang>,
            _: InboundEvent,
        ) -> Vec<Reply> {
            Vec::new()
        }
    }

    fn frames(rx: &mut mpsc::Receiver<Arc<str>>) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while let Ok(f) = rx.try_recv() {
            out.push(serde_json::from_str(&f).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn resume_delivers_missed_replies_once_and_expiry_forgets() {
        let config = WebChatConfig {
            backlog: 3,
            ..WebChatConfig::default()
        };
        let t0 = Instant::now();
        let reg = Registry::new(t0);
        let s = reg.create(&config, Lang::En, Arc::new(Silent), t0).unwrap();

        // Nobody connected: replies are kept, and the backlog keeps only the newest three.
        for i in 1..=4 {
            assert_eq!(s.deliver(&Reply::text(format!("r{i}"))), i);
        }
        let mut rx = s.open_socket(1, None, true, t0);
        let got = frames(&mut rx);
        assert_eq!(got[0]["type"], "welcome");
        let seqs: Vec<u64> = got[1..]
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, vec![2, 3, 4]);

        // A second tab without last_seen gets nothing old; both get the next reply.
        let mut rx2 = s.open_socket(2, None, true, t0);
        assert_eq!(frames(&mut rx2).len(), 1);
        s.deliver(&Reply::text("r5"));
        assert_eq!(frames(&mut rx).len(), 1);
        assert_eq!(frames(&mut rx2).len(), 1);
        assert_eq!(s.open_sockets(), 2);

        // A dropped receiver is cleaned up on the next send.
        drop(rx2);
        s.deliver(&Reply::text("r6"));
        assert_eq!(s.open_sockets(), 1);

        let token = s.token().to_owned();
        s.close_socket(1, t0);
        let ttl = config.session_ttl;
        assert!(reg.resume(&token, ttl, t0 + ttl).is_some());
        assert!(
            reg.resume(&token, ttl, t0 + ttl + Duration::from_secs(1))
                .is_none()
        );
        assert_eq!(reg.len(), 0);
        assert!(reg.by_customer(s.customer()).is_none());
    }

    #[tokio::test]
    async fn full_registry_refuses_until_sessions_expire() {
        let config = WebChatConfig {
            max_sessions: 1,
            ..WebChatConfig::default()
        };
        let t0 = Instant::now();
        let reg = Registry::new(t0);
        reg.create(&config, Lang::Pl, Arc::new(Silent), t0).unwrap();
        assert!(matches!(
            reg.create(&config, Lang::Pl, Arc::new(Silent), t0),
            Err(OpenError::Full)
        ));
        let later = t0 + config.session_ttl + Duration::from_secs(1);
        assert!(
            reg.create(&config, Lang::Pl, Arc::new(Silent), later)
                .is_ok()
        );
        reg.sweep(config.session_ttl, later);
        assert_eq!(reg.len(), 1);
    }
}
