//! PostgreSQL storage (`[intake] database = "postgres://…"`): the same tables
//! as SQLite, a writer that folds queued returns into one transaction per
//! batch (group commit, `synchronous_commit = on`, so a row is durable before
//! its 303), reads on a pool, and outbox rows claimed with a lease so several
//! intake nodes on one database each send a notification once.
//!
//! Client: `tokio-postgres` (the async driver of the `postgres` crates, on
//! the tokio runtime the service already runs, with pipelining and binary
//! parameters) and `deadpool-postgres` (a small pool that checks a connection
//! before handing it out). Both are widely used and kept; no ORM or macro
//! layer is needed for a dozen statements.

use super::sql::{Pg, Sql};
use super::{NewSubmission, StoreError, Stored, Submission, REPEAT_WINDOW_MS};
use crate::status::Channel;
use crate::store::{Health, Mark, OutboxItem};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_postgres::{Client, NoTls, Row};

/// Migrations, numbered as SQLite's ([`super::MIGRATIONS`]) and run by the
/// same [`super::migrate_on`]. PostgreSQL came in at version 5: its 1–4 are
/// empty, its 5 is SQLite's schema after 5 in PostgreSQL's types, plus the
/// outbox claim columns that only several nodes need.
pub(crate) const PG_MIGRATIONS: &[&str] = &[
    "",
    "",
    "",
    "",
    PG_SCHEMA_5,
    concat!(
        super::migration_6!(),
        "
-- Replies (mail senders' answers, filers' copies) are claimed as outbox
-- rows are, so each is sent by one node.
ALTER TABLE replies ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;
"
    ),
];

/// The schema the first PostgreSQL release made (and counted as version 1).
pub(crate) const PG_SCHEMA_5: &str = r#"
CREATE TABLE submissions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference   TEXT NOT NULL UNIQUE,
    token       TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    form_title  TEXT NOT NULL,
    unit        TEXT NOT NULL,
    answers     JSONB NOT NULL,
    hash        TEXT NOT NULL,
    late        BIGINT NOT NULL DEFAULT 0,
    received_at BIGINT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'web',
    mail_id     BIGINT
);
CREATE INDEX submissions_form ON submissions(form_id, received_at);
CREATE INDEX submissions_form_hash ON submissions(form_id, hash);
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id   BIGINT NOT NULL REFERENCES submissions(id),
    channel         TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    tries           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    -- Which node is sending this row, and until when (Unix ms): past the
    -- lease another node may take it.
    claimed_by      TEXT,
    claimed_until   BIGINT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE processing (
    submission_id BIGINT PRIMARY KEY REFERENCES submissions(id),
    status   TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','setup','feedback')),
    account  TEXT NOT NULL DEFAULT '',
    note     TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
    submission_id BIGINT, action TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_submission ON audit(submission_id, id);
CREATE TABLE mail_messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_key TEXT NOT NULL UNIQUE,
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    sent_at     BIGINT,
    received_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('stored', 'refused', 'no_table', 'left', 'ignored', 'failed')),
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_messages_outcome ON mail_messages(outcome, id);
ALTER TABLE submissions ADD FOREIGN KEY (mail_id) REFERENCES mail_messages(id);
CREATE TABLE replies (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'problems', 'howto', 'filer_copy')),
    mail_id         BIGINT REFERENCES mail_messages(id),
    submission_id   BIGINT REFERENCES submissions(id),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    in_reply_to     TEXT NOT NULL DEFAULT '',
    refs            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    tries           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX replies_due ON replies(status, next_attempt_at);
"#;

/// Most queued returns folded into one transaction.
const MAX_BATCH: usize = 512;

/// The connection string without its password, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(a), Some(b)) if b > a => {
            let creds = &url[a + 3..b];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..a + 3], &creds[..c], &url[b..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn err(e: impl Into<Box<dyn std::error::Error>>) -> StoreError {
    super::sql::pg_err(e)
}

/// Connects with the durability this service promises, whatever the
/// server's default: a COMMIT returns once the WAL is flushed.
async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(err)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!("postgresql connection: {e}");
        }
    });
    client
        .batch_execute("SET synchronous_commit = on; SET client_min_messages = warning")
        .await
        .map_err(err)?;
    Ok(client)
}

/// Runs the migrations not yet recorded (the runner both engines share),
/// under an advisory lock so nodes starting together do not race.
async fn migrate(client: Client) -> Result<Client, StoreError> {
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut client = client;
        {
            let tx = rt.block_on(client.transaction()).map_err(err)?;
            rt.block_on(tx.batch_execute("SELECT pg_advisory_xact_lock(7308151)"))
                .map_err(err)?;
            super::migrate_on(&mut Pg::new(&tx, rt.clone()), super::now_ms())?;
            rt.block_on(tx.commit()).map_err(err)?;
        }
        Ok(client)
    })
    .await
    .map_err(err)?
}

enum Op {
    Insert(NewSubmission, oneshot::Sender<Result<Stored, StoreError>>),
}

/// The PostgreSQL store: a writer thread for returns and a pool for the rest.
pub(crate) struct PgStore {
    tx: mpsc::Sender<Op>,
    pub(crate) health: Arc<Health>,
    pool: deadpool_postgres::Pool,
    /// This node's name in `outbox.claimed_by`: the host and the site's
    /// folder, the same across restarts (see [`node_name`]).
    pub(crate) node: String,
    pub(crate) lease_ms: i64,
}

impl PgStore {
    /// Connects, migrates and starts the writer thread (its own runtime, so
    /// it works whether or not the caller is inside one).
    pub(crate) fn open(
        url: &str,
        node: String,
        lease: Duration,
        notify: Arc<Notify>,
    ) -> Result<(PgStore, std::thread::JoinHandle<()>), StoreError> {
        let pg: tokio_postgres::Config = url.parse().map_err(err)?;
        let mgr = deadpool_postgres::Manager::from_config(
            pg,
            NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(mgr)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(err)?;
        let (tx, rx) = mpsc::channel(4096);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let health = Arc::new(Health::default());
        let reported = Arc::clone(&health);
        let url = url.to_string();
        let handle = std::thread::Builder::new()
            .name("gazette-pg-writer".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(err(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let client = match connect(&url).await {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let client = match migrate(client).await {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    writer_loop(&url, client, rx, notify, &reported).await;
                });
            })
            .map_err(err)?;
        ready_rx.recv().map_err(|_| {
            StoreError::Sqlite("postgresql: the writer stopped at start-up".into())
        })??;
        let lease_ms = (lease.as_millis() as i64).max(1);
        tracing::info!("outbox node {node}, lease {lease:?}");
        Ok((
            PgStore {
                tx,
                health,
                pool,
                node,
                lease_ms,
            },
            handle,
        ))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Stores a submission and its outbox rows; returns after the commit.
    pub(crate) async fn insert(&self, s: NewSubmission) -> Result<Stored, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Insert(s, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let c = self.pool.get().await.map_err(err)?;
        Ok(c)
    }

    /// Runs `f` in one transaction on a pooled connection, on a blocking
    /// thread (the statements block on this runtime's handle).
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
    {
        let client = self.client().await?;
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut client = client;
            let tx = rt.block_on(client.transaction()).map_err(err)?;
            let out = f(&mut Pg::new(&tx, rt.clone()))?;
            rt.block_on(tx.commit()).map_err(err)?;
            Ok(out)
        })
        .await
        .map_err(err)?
    }

    pub(crate) async fn pending_count(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        let r = c
            .query_one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'", &[])
            .await
            .map_err(err)?;
        Ok(r.get(0))
    }

    pub(crate) async fn submission_by_token(
        &self,
        token: &str,
    ) -> Result<Option<Submission>, StoreError> {
        if !crate::refs::is_token(token) {
            return Ok(None);
        }
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {COLUMNS} FROM submissions s WHERE s.reference = $1"),
                &[&crate::refs::token_reference(token)],
            )
            .await
            .map_err(err)?;
        let found = row.map(|r| submission(&r, 0)).transpose()?;
        Ok(found.filter(|s| crate::refs::same_token(&s.token, token)))
    }

    /// Claims up to `limit` due rows for this node until the lease ends:
    /// rows another node holds (locked now, or claimed and not expired) are
    /// skipped, so each row is sent by one node at a time.
    pub(crate) async fn claim(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "WITH claimed AS (
                        UPDATE outbox SET claimed_by = $1, claimed_until = $2
                        WHERE id IN (
                            SELECT id FROM outbox
                            WHERE status = 'pending' AND next_attempt_at <= $3
                              AND (claimed_until IS NULL OR claimed_until < $3
                                   -- Its own rows from before a restart: that
                                   -- process is gone (this worker marks what
                                   -- it claims before it claims again).
                                   OR claimed_by = $1)
                            ORDER BY next_attempt_at, id LIMIT $4
                            FOR UPDATE SKIP LOCKED)
                        RETURNING id, channel, recipients, tries, submission_id)
                     SELECT o.id, o.channel, o.recipients, o.tries, {COLUMNS}
                     FROM claimed o JOIN submissions s ON s.id = o.submission_id
                     ORDER BY o.id"
                ),
                &[&self.node, &(now + self.lease_ms), &now, &(limit as i64)],
            )
            .await
            .map_err(err)?;
        rows.iter()
            .map(|r| {
                let channel: String = r.get(1);
                let recipients: String = r.get(2);
                Ok(OutboxItem {
                    id: r.get(0),
                    channel: Channel::from_code(&channel)
                        .ok_or_else(|| err(format!("unknown channel {channel:?}")))?,
                    recipients: serde_json::from_str(&recipients).map_err(err)?,
                    tries: r.get(3),
                    submission: submission(r, 4)?,
                })
            })
            .collect()
    }

    /// When the worker should look again: the earliest pending row's next
    /// attempt, or the end of another node's lease on it.
    pub(crate) async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until + 1, 0)))
                 FROM outbox WHERE status = 'pending'",
                &[],
            )
            .await
            .map_err(err)?;
        Ok(r.get(0))
    }

    /// Writes back delivery results for rows this node claimed, and drops
    /// the claims, in one transaction (the statements SQLite's writer runs).
    pub(crate) async fn mark(&self, marks: &[Mark]) -> Result<(), StoreError> {
        if marks.is_empty() {
            return Ok(());
        }
        let marks = marks.to_vec();
        self.run(move |db| super::apply_marks(db, &marks)).await
    }
}

const COLUMNS: &str = "s.id, s.reference, s.token, s.form_id, s.form_title, s.unit, \
     s.answers::text, s.late, s.received_at";

fn submission(r: &Row, at: usize) -> Result<Submission, StoreError> {
    let answers: String = r.get(at + 6);
    Ok(Submission {
        id: r.get(at),
        reference: r.get(at + 1),
        token: r.get(at + 2),
        form_id: r.get(at + 3),
        form_title: r.get(at + 4),
        unit: r.get(at + 5),
        answers: serde_json::from_str(&answers).map_err(err)?,
        late: r.get::<_, i64>(at + 7) != 0,
        received_at: r.get(at + 8),
    })
}

/// This node's repeat index (hash → receipt, last ten minutes); a repeat
/// that came through another node is found in the database.
#[derive(Default)]
struct Recent {
    by_hash: HashMap<(String, String), (Stored, i64)>,
}

impl Recent {
    fn get(&self, form: &str, hash: &str, at: i64) -> Option<Stored> {
        self.by_hash
            .get(&(form.to_string(), hash.to_string()))
            .filter(|(_, t)| *t >= at - REPEAT_WINDOW_MS)
            .map(|(s, _)| Stored {
                repeat: true,
                ..s.clone()
            })
    }

    fn prune(&mut self, now: i64) {
        self.by_hash
            .retain(|_, (_, t)| *t >= now - REPEAT_WINDOW_MS);
    }
}

async fn writer_loop(
    url: &str,
    mut client: Client,
    mut rx: mpsc::Receiver<Op>,
    notify: Arc<Notify>,
    health: &Health,
) {
    let mut recent = Recent::default();
    let mut batch: Vec<(NewSubmission, oneshot::Sender<Result<Stored, StoreError>>)> =
        Vec::with_capacity(MAX_BATCH);
    let (mut transactions, mut operations) = (0u64, 0u64);
    let mut pruned = super::now_ms();
    while let Some(Op::Insert(s, reply)) = rx.recv().await {
        batch.push((s, reply));
        // What queued up during the last commit joins this one.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Op::Insert(s, reply)) => batch.push((s, reply)),
                Err(_) => break,
            }
        }
        transactions += 1;
        operations += batch.len() as u64;
        let now = super::now_ms();
        if now - pruned > 10_000 {
            recent.prune(now);
            pruned = now;
        }
        // A broken connection (a database restart or failover) is opened
        // again; while the database is away, posts get an error, not a 303.
        if client.is_closed() {
            match connect(url).await {
                Ok(c) => client = c,
                Err(_) => {
                    let e = err("connection lost");
                    health.set(Some(e.to_string()));
                    for (_, reply) in batch.drain(..) {
                        let _ = reply.send(Err(e.clone()));
                    }
                    continue;
                }
            }
        }
        let subs: Vec<&NewSubmission> = batch.iter().map(|(s, _)| s).collect();
        let results = match insert_batch(&mut client, &subs, &recent).await {
            Ok(r) => {
                health.set(None);
                r.into_iter().map(Ok).collect::<Vec<_>>()
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(
                    "a batch of {} failed ({e}); retrying one by one",
                    batch.len()
                );
                let mut out = Vec::with_capacity(batch.len());
                let mut last = Some(e.to_string());
                for s in &subs {
                    match insert_batch(&mut client, std::slice::from_ref(s), &recent).await {
                        Ok(mut one) => {
                            last = None;
                            out.push(Ok(one.remove(0)));
                        }
                        Err(e) => {
                            tracing::error!("database write failed: {e}");
                            out.push(Err(e));
                        }
                    }
                }
                health.set(last);
                out
            }
            Err(e) => {
                tracing::error!("database write failed: {e}");
                health.set(Some(e.to_string()));
                vec![Err(e)]
            }
        };
        let mut inserted = false;
        for ((s, reply), r) in batch.drain(..).zip(results) {
            if let Ok(stored) = &r {
                if !stored.repeat {
                    inserted |=
                        !(s.recipients.is_empty() && s.faxes.is_empty() && s.filer.is_none());
                    recent.by_hash.insert(
                        (s.form_id.clone(), s.hash.clone()),
                        (stored.clone(), s.received_at),
                    );
                }
            }
            let _ = reply.send(r);
        }
        if inserted {
            notify.notify_one();
        }
    }
    tracing::info!(
        "database writer done: {operations} operations in {transactions} transactions ({:.1} per commit)",
        operations as f64 / transactions.max(1) as f64
    );
}

/// One transaction for the whole batch, a fixed number of statements
/// whatever its size: repeats found (in memory, then in the database for
/// returns taken by other nodes), new rows inserted with `unnest`.
async fn insert_batch(
    client: &mut Client,
    subs: &[&NewSubmission],
    recent: &Recent,
) -> Result<Vec<Stored>, StoreError> {
    let tx = client.transaction().await.map_err(err)?;
    let mut out: Vec<Option<Stored>> = vec![None; subs.len()];
    // Repeats: this node's memory first.
    let mut ask: Vec<usize> = Vec::new();
    for (i, s) in subs.iter().enumerate() {
        match recent.get(&s.form_id, &s.hash, s.received_at) {
            Some(st) => out[i] = Some(st),
            None => ask.push(i),
        }
    }
    if !ask.is_empty() {
        let forms: Vec<&str> = ask.iter().map(|&i| subs[i].form_id.as_str()).collect();
        let hashes: Vec<&str> = ask.iter().map(|&i| subs[i].hash.as_str()).collect();
        let since = ask.iter().map(|&i| subs[i].received_at).min().unwrap_or(0) - REPEAT_WINDOW_MS;
        let rows = tx
            .query(
                "SELECT DISTINCT ON (s.form_id, s.hash) s.form_id, s.hash, s.reference, s.token, s.received_at
                 FROM submissions s JOIN unnest($1::text[], $2::text[]) AS k(form_id, hash)
                   ON s.form_id = k.form_id AND s.hash = k.hash
                 WHERE s.received_at >= $3
                 ORDER BY s.form_id, s.hash, s.id",
                &[&forms, &hashes, &since],
            )
            .await
            .map_err(err)?;
        let mut found: HashMap<(String, String), (Stored, i64)> = HashMap::new();
        for r in rows {
            found.insert(
                (r.get(0), r.get(1)),
                (
                    Stored {
                        reference: r.get(2),
                        token: r.get(3),
                        repeat: true,
                    },
                    r.get(4),
                ),
            );
        }
        for &i in &ask {
            let s = subs[i];
            if let Some((st, at)) = found.get(&(s.form_id.clone(), s.hash.clone())) {
                if *at >= s.received_at - REPEAT_WINDOW_MS {
                    out[i] = Some(st.clone());
                }
            }
        }
    }
    // Identical returns in one batch share the first one's receipt.
    let mut fresh: Vec<usize> = Vec::new();
    let mut twin: Vec<(usize, usize)> = Vec::new();
    for (i, s) in subs.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        match fresh
            .iter()
            .find(|&&j| subs[j].form_id == s.form_id && subs[j].hash == s.hash)
        {
            Some(&j) => twin.push((i, j)),
            None => fresh.push(i),
        }
    }
    // New rows; a reference already taken (by any node) is drawn again.
    let mut ids: HashMap<usize, i64> = HashMap::new();
    let mut todo = fresh.clone();
    for _ in 0..8 {
        if todo.is_empty() {
            break;
        }
        let drawn: Vec<(String, String)> = todo
            .iter()
            .map(|_| {
                let r = crate::refs::reference();
                let t = crate::refs::token(&r);
                (r, t)
            })
            .collect();
        let col = |f: &dyn Fn(&NewSubmission) -> String| -> Vec<String> {
            todo.iter().map(|&i| f(subs[i])).collect()
        };
        let refs: Vec<&str> = drawn.iter().map(|d| d.0.as_str()).collect();
        let tokens: Vec<&str> = drawn.iter().map(|d| d.1.as_str()).collect();
        let form_ids = col(&|s| s.form_id.clone());
        let titles = col(&|s| s.form_title.clone());
        let units = col(&|s| s.unit.clone());
        let answers = col(&|s| s.answers_json.clone());
        let hashes = col(&|s| s.hash.clone());
        let sources = col(&|s| s.source.code().to_string());
        let late: Vec<i64> = todo.iter().map(|&i| i64::from(subs[i].late)).collect();
        let at: Vec<i64> = todo.iter().map(|&i| subs[i].received_at).collect();
        let rows = tx
            .query(
                "INSERT INTO submissions
                 (reference, token, form_id, form_title, unit, answers, hash, late, received_at, source)
                 SELECT r, t, f, ti, u, a::jsonb, h, l, at, so
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::text[], $8::int8[], $9::int8[], $10::text[])
                      AS x(r, t, f, ti, u, a, h, l, at, so)
                 ON CONFLICT (reference) DO NOTHING
                 RETURNING id, reference",
                &[
                    &refs, &tokens, &form_ids, &titles, &units, &answers, &hashes, &late, &at,
                    &sources,
                ],
            )
            .await
            .map_err(err)?;
        let got: HashMap<String, i64> = rows.iter().map(|r| (r.get(1), r.get(0))).collect();
        let mut again = Vec::new();
        for (k, &i) in todo.iter().enumerate() {
            match got.get(&drawn[k].0) {
                Some(id) => {
                    ids.insert(i, *id);
                    out[i] = Some(Stored {
                        reference: drawn[k].0.clone(),
                        token: drawn[k].1.clone(),
                        repeat: false,
                    });
                }
                None => again.push(i),
            }
        }
        todo = again;
    }
    if !todo.is_empty() {
        return Err(err("no free reference number after 8 draws"));
    }
    // Outbox rows: one email row with every recipient, one per fax number;
    // a filer's copy in replies.
    let (mut sid, mut chan, mut rcpt, mut at) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fsid, mut faddr, mut fat) = (Vec::new(), Vec::new(), Vec::new());
    for &i in &fresh {
        let s = subs[i];
        let id = ids[&i];
        if !s.recipients.is_empty() {
            sid.push(id);
            chan.push(Channel::Email.code());
            rcpt.push(serde_json::to_string(&s.recipients).map_err(err)?);
            at.push(s.received_at);
        }
        for number in &s.faxes {
            sid.push(id);
            chan.push(Channel::Fax.code());
            rcpt.push(serde_json::to_string(&[number]).map_err(err)?);
            at.push(s.received_at);
        }
        if let Some(f) = &s.filer {
            fsid.push(id);
            faddr.push(f.as_str());
            fat.push(s.received_at);
        }
    }
    if !sid.is_empty() {
        tx.execute(
            "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
             SELECT s, c, r, a, a FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[]) AS x(s, c, r, a)",
            &[&sid, &chan, &rcpt, &at],
        )
        .await
        .map_err(err)?;
    }
    if !fsid.is_empty() {
        tx.execute(
            "INSERT INTO replies (kind, submission_id, recipient, next_attempt_at, created_at)
             SELECT 'filer_copy', s, r, a, a FROM unnest($1::int8[], $2::text[], $3::int8[]) AS x(s, r, a)",
            &[&fsid, &faddr, &fat],
        )
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    for (i, j) in twin {
        out[i] = out[j].clone().map(|s| Stored { repeat: true, ..s });
    }
    out.into_iter()
        .map(|s| s.ok_or_else(|| err("internal: a return without an outcome")))
        .collect()
}

/// A node's name: its host and site folder. Two nodes differ in one of
/// them; a restarted node has its old name, and so takes back at once what
/// it had claimed before it died.
pub(crate) fn node_name(root: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    format!("{host}:{}", root.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_shown_without_their_password() {
        assert_eq!(
            redacted("postgres://gazette:s3cret@db.example:5432/gz"),
            "postgres://gazette:***@db.example:5432/gz"
        );
        assert_eq!(
            redacted("postgres://gazette@127.0.0.1/gz"),
            "postgres://gazette@127.0.0.1/gz"
        );
        assert_eq!(redacted("postgresql:///gz"), "postgresql:///gz");
    }

    #[test]
    fn a_node_is_named_by_host_and_site_folder() {
        let a = node_name(std::path::Path::new("/srv/a"));
        let b = node_name(std::path::Path::new("/srv/b"));
        assert_ne!(a, b);
        assert!(a.ends_with(":/srv/a"), "{a}");
        assert_eq!(a, node_name(std::path::Path::new("/srv/a")));
    }
}
