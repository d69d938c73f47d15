//! Web chat sessions: which browser is which customer, the replies kept for resuming, and the
//! sockets (tabs) that are open right now.
//!
//! A session owns its reply sequence: every reply, whether it answers a message or was pushed
//! through the Outbox, gets the next `seq` and is kept (bounded) so a browser that reconnects can
//! ask for what it missed. Delivery to sockets never blocks: a tab that cannot keep up is cut
//! off and catches up from the backlog when it reconnects.
//!
//! Session state lives in this process's memory unless a [`SessionStore`] is plugged in (several
//! gateway instances): then the token, the seq and the backlog live in the store, and a
//! `Session` here is only this instance's cache of it with the sockets open on this instance.
//! Every reply is appended to the store first (which hands out the seq and tells every instance)
//! and then sent to the local sockets; replies made elsewhere are read back from the store in seq
//! order. One async lock per session orders the store round trips, so a socket never gets a seq
//! twice or out of order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use okienko_core::{CustomerId, Lang};
use okienko_dialog::{Conversation, InboundEvent, Reply};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::WebChatConfig;
use super::protocol::{ErrorCode, error_frame, reply_frame, reply_frame_raw, welcome_frame};
use super::rate::TokenBucket;
use super::shared::{SessionStore, SessionStoreError, StoredSession};
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
    /// Set when the session lives in a shared store (several instances).
    shared: Option<Shared>,
}

/// This instance's link to a session kept in the shared store.
struct Shared {
    store: Arc<dyn SessionStore>,
    ttl: Duration,
    /// Held across each store round trip that feeds the sockets (append, catch-up, opening a
    /// socket), so frames leave in seq order and once.
    order: tokio::sync::Mutex<()>,
}

impl Shared {
    fn expiry(&self) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
        shared_expiry(self.ttl)
    }
}

struct SessionState {
    lang: Lang,
    next_seq: u64,
    backlog: VecDeque<(u64, Arc<str>)>,
    /// The highest seq handed to at least one socket: what a `hello` without `last_seen` has seen.
    /// Shared sessions: the highest seq this instance has sent to its sockets (or skipped: it
    /// was there before any of them opened).
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

    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Delivers one of the conversation's replies: in memory, or through the shared store.
    pub(crate) async fn deliver_reply(&self, reply: &Reply) {
        if self.shared.is_some() {
            self.deliver_shared(reply).await;
        } else {
            self.deliver(reply);
        }
    }

    /// Shared: stores the reply (the store gives the seq and tells the other instances), then
    /// sends it, and anything stored meanwhile by other instances, to this instance's sockets.
    pub(crate) async fn deliver_shared(&self, reply: &Reply) {
        let Some(shared) = &self.shared else {
            self.deliver(reply);
            return;
        };
        let json = match serde_json::to_string(reply) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "could not serialize a web chat reply");
                return;
            }
        };
        let _order = shared.order.lock().await;
        let (now, expires) = shared.expiry();
        match shared
            .store
            .append(self.customer, &json, self.backlog_cap, now, expires)
            .await
        {
            Ok(Some(seq)) => {
                let next_in_line = {
                    let mut st = lock(&self.state);
                    let next = seq == st.delivered_upto + 1;
                    if next {
                        send_all(&mut st.sockets, &reply_frame_raw(seq, &json));
                        st.delivered_upto = seq;
                    }
                    next
                };
                if !next_in_line {
                    // Another instance stored replies in between: send them all, in order.
                    self.catch_up_locked(shared).await;
                }
            }
            Ok(None) => {
                tracing::debug!(customer = %self.customer, "web chat reply for an expired shared session dropped");
            }
            Err(_) => {
                let lang = self.lang();
                self.broadcast(&error_frame(ErrorCode::Internal, lang));
            }
        }
    }

    /// Shared: a reply with `seq` was stored (on any instance); sends what this instance's
    /// sockets have not had yet.
    pub(crate) async fn catch_up(&self, seq: Option<u64>) {
        let Some(shared) = &self.shared else {
            return;
        };
        if seq.is_some_and(|s| s <= lock(&self.state).delivered_upto) {
            return;
        }
        let _order = shared.order.lock().await;
        self.catch_up_locked(shared).await;
    }

    async fn catch_up_locked(&self, shared: &Shared) {
        let after = lock(&self.state).delivered_upto;
        let rows = match shared.store.replies_after(self.customer, after).await {
            Ok(rows) => rows,
            Err(SessionStoreError) => return,
        };
        let mut st = lock(&self.state);
        for (seq, json) in rows {
            if seq > st.delivered_upto {
                send_all(&mut st.sockets, &reply_frame_raw(seq, &json));
                st.delivered_upto = seq;
            }
        }
    }

    /// Shared: opens a socket like [`Session::open_socket`], reading the replies after
    /// `last_seen` from the store; replies this instance's other sockets missed go to them too.
    pub(crate) async fn open_socket_shared(
        &self,
        conn: u64,
        last_seen: Option<u64>,
        resumed: bool,
        now: Instant,
    ) -> mpsc::Receiver<Arc<str>> {
        let Some(shared) = &self.shared else {
            return self.open_socket(conn, last_seen, resumed, now);
        };
        let _order = shared.order.lock().await;
        let highest = lock(&self.state).delivered_upto;
        let after = last_seen.unwrap_or(highest);
        let rows = if resumed {
            // A store that cannot answer: the socket opens without the missed replies, which
            // the next `ChannelDelivery` or reconnect catches up.
            shared
                .store
                .replies_after(self.customer, after.min(highest))
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let (tx, rx) = mpsc::channel(self.backlog_cap + SOCKET_SLACK);
        let mut st = lock(&self.state);
        let welcome = welcome_frame(&self.token, self.customer, st.lang, resumed);
        let _ = tx.try_send(welcome);
        for (seq, json) in rows {
            let frame = reply_frame_raw(seq, &json);
            if seq > after {
                let _ = tx.try_send(frame.clone());
            }
            if seq > st.delivered_upto {
                send_all(&mut st.sockets, &frame);
                st.delivered_upto = seq;
            }
        }
        st.sockets.push((conn, tx));
        st.last_active = now;
        rx
    }

    /// Shared: the session stays alive in the store for another TTL from now.
    pub(crate) fn touch_shared(&self) {
        if let Some(shared) = &self.shared {
            let store = shared.store.clone();
            let (now, expires) = shared.expiry();
            let customer = self.customer;
            tokio::spawn(async move {
                let _ = store.touch(customer, now, expires).await;
            });
        }
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
    #[error("the shared web chat session store failed")]
    Store,
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
        make_room(&mut st, config, now)?;
        Ok(insert(
            &mut st,
            config,
            CustomerId::new(),
            new_token(),
            lang,
            conversation,
            now,
            None,
        ))
    }

    /// Shared: a new session with a new demo customer, kept in the store first.
    pub(crate) async fn create_shared(
        &self,
        store: &Arc<dyn SessionStore>,
        config: &WebChatConfig,
        lang: Lang,
        conversation: Arc<dyn Conversation>,
        now: Instant,
    ) -> Result<Arc<Session>, OpenError> {
        let purge = {
            let mut st = lock(&self.state);
            let sweep_due = now.saturating_duration_since(st.last_sweep) >= SWEEP_EVERY;
            make_room(&mut st, config, now)?;
            sweep_due
        };
        if purge {
            let store = store.clone();
            tokio::spawn(async move {
                if let Ok(n) = store.purge(Utc::now()).await
                    && n > 0
                {
                    tracing::debug!(sessions = n, "expired shared web chat sessions purged");
                }
            });
        }
        let customer = CustomerId::new();
        let token = new_token();
        let (at, expires) = shared_expiry(config.session_ttl);
        store
            .create(&token, customer, lang, at, expires)
            .await
            .map_err(|_| OpenError::Store)?;
        let stored = StoredSession {
            customer,
            lang,
            last_seq: 0,
        };
        let mut st = lock(&self.state);
        Ok(insert(
            &mut st,
            config,
            stored.customer,
            token,
            lang,
            conversation,
            now,
            Some((store.clone(), stored.last_seq)),
        ))
    }

    /// Shared: the session with this token from the store (from any instance), with this
    /// instance's cache of it; `None` when the store does not know it or it expired.
    pub(crate) async fn resume_shared(
        &self,
        store: &Arc<dyn SessionStore>,
        token: &str,
        lang: Option<Lang>,
        config: &WebChatConfig,
        conversation: Option<Arc<dyn Conversation>>,
        now: Instant,
    ) -> Result<Option<Arc<Session>>, OpenError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let (at, expires) = shared_expiry(config.session_ttl);
        let found = store
            .resume(token, lang, at, expires)
            .await
            .map_err(|_| OpenError::Store)?;
        let mut st = lock(&self.state);
        let Some(found) = found else {
            if let Some(old) = st.by_token.remove(token) {
                st.by_customer.remove(&old.customer);
            }
            return Ok(None);
        };
        if let Some(s) = st.by_token.get(token) {
            let s = s.clone();
            s.set_lang(found.lang);
            return Ok(Some(s));
        }
        let Some(conversation) = conversation else {
            return Err(OpenError::Store);
        };
        make_room(&mut st, config, now)?;
        Ok(Some(insert(
            &mut st,
            config,
            found.customer,
            token.to_owned(),
            found.lang,
            conversation,
            now,
            Some((store.clone(), found.last_seq)),
        )))
    }

    /// Every session cached here (shared: to catch up after missed notices).
    pub(crate) fn all(&self) -> Vec<Arc<Session>> {
        lock(&self.state).by_token.values().cloned().collect()
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

/// Now, and when a shared session used now expires.
fn shared_expiry(ttl: Duration) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
    (now, now + ttl)
}

/// Sweeps when due (or when full); refuses when still full.
fn make_room(
    st: &mut RegistryState,
    config: &WebChatConfig,
    now: Instant,
) -> Result<(), OpenError> {
    if now.saturating_duration_since(st.last_sweep) >= SWEEP_EVERY
        || st.by_token.len() >= config.max_sessions
    {
        sweep(st, config.session_ttl, now);
    }
    if st.by_token.len() >= config.max_sessions {
        return Err(OpenError::Full);
    }
    Ok(())
}

/// Adds a session and starts its conversation worker. `shared`: the store and the session's
/// highest seq there.
#[allow(clippy::too_many_arguments)]
fn insert(
    st: &mut RegistryState,
    config: &WebChatConfig,
    customer: CustomerId,
    token: String,
    lang: Lang,
    conversation: Arc<dyn Conversation>,
    now: Instant,
    shared: Option<(Arc<dyn SessionStore>, u64)>,
) -> Arc<Session> {
    let (jobs, rx) = mpsc::channel(config.queue_depth.max(1));
    let delivered_upto = shared.as_ref().map_or(0, |(_, seq)| *seq);
    let session = Arc::new(Session {
        customer,
        token,
        backlog_cap: config.backlog.max(1),
        jobs,
        state: Mutex::new(SessionState {
            lang,
            next_seq: 1,
            backlog: VecDeque::new(),
            delivered_upto,
            sockets: Vec::new(),
            last_active: now,
            rate: TokenBucket::new(config.rate_burst, config.rate_per_second, now),
        }),
        shared: shared.map(|(store, _)| Shared {
            store,
            ttl: config.session_ttl,
            order: tokio::sync::Mutex::new(()),
        }),
    });
    tokio::spawn(worker::run(Arc::downgrade(&session), rx, conversation));
    st.by_token.insert(session.token.clone(), session.clone());
    st.by_customer.insert(session.customer, session.clone());
    session
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
