//! The incident path's index calls under a burst: candidate searches and the cache updates
//! after committed writes, each coalesced into one round trip per batch.
//!
//! A burst of concurrent incidents makes one candidate search and one cache update per
//! incident. Sent one by one, at most `searches_in_flight` at a time, they take one round
//! trip each, and 1,000 of them queue for many round trips. A [`Coalescer`] instead hands
//! every call that arrived while the previous ones were in flight to one batch function:
//! the searches go out as one pipeline of script calls (one round trip, one command
//! timeout, one report to the circuit breaker), the updates as one `apply.lua` call and
//! one pipeline of invalidations. Each batch holds one of the process's index turns, so
//! what this process has on the connection at once stays bounded, and the wait for a turn
//! happens before any command is sent (it is never part of a command timeout).
//!
//! A lone call is sent at once, as a batch of one: nothing waits for company.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use cache::CacheError;
use redis::Value;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::index::{GeoIndex, IndexAnswer, IndexQuery, parse_search};

type Job<Q, A> = (Q, oneshot::Sender<A>);

/// Runs calls in batches: every call that arrives while a batch waits for its turn joins
/// it, up to `max` calls. The worker task starts with the first call.
pub(crate) struct Coalescer<Q, A> {
    queue: OnceLock<mpsc::UnboundedSender<Job<Q, A>>>,
}

impl<Q: Send + 'static, A: Send + 'static> Coalescer<Q, A> {
    /// A coalescer whose worker has not started.
    pub(crate) fn new() -> Self {
        Self {
            queue: OnceLock::new(),
        }
    }

    /// Runs `q` in the next batch and returns its answer; `None` when the worker is gone
    /// (the runtime is shutting down). The worker is started on the first call with
    /// `run`, which gets the queries of a batch and must answer each, in order; each
    /// batch holds one of `turns` while it runs.
    pub(crate) async fn call<F, Fut>(
        &self,
        q: Q,
        max: usize,
        turns: &Arc<Semaphore>,
        run: impl FnOnce() -> F,
    ) -> Option<A>
    where
        F: Fn(Vec<Q>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<A>> + Send + 'static,
    {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(work(receiver, max.max(1), turns.clone(), run()));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue.send((q, reply)).ok()?;
        answer.await.ok()
    }
}

/// The worker: waits for a call, then for a turn, takes every call queued meanwhile (up to
/// `max`), and runs them as one batch in a task of its own while it gathers the next.
async fn work<Q, A, F, Fut>(
    mut queue: mpsc::UnboundedReceiver<Job<Q, A>>,
    max: usize,
    turns: Arc<Semaphore>,
    run: F,
) where
    Q: Send + 'static,
    A: Send + 'static,
    F: Fn(Vec<Q>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<A>> + Send + 'static,
{
    let run = Arc::new(run);
    let mut jobs = Vec::with_capacity(max);
    while queue.recv_many(&mut jobs, max).await > 0 {
        let Ok(turn) = turns.clone().acquire_owned().await else {
            return;
        };
        while jobs.len() < max {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (queries, replies): (Vec<Q>, Vec<oneshot::Sender<A>>) = jobs.drain(..).unzip();
        let run = run.clone();
        tokio::spawn(async move {
            let answers = run(queries).await;
            drop(turn);
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        });
    }
}

impl GeoIndex {
    /// Several searches without documents or cell counters (the incident path's candidate
    /// lookups) in one pipeline: one round trip, one command timeout and one report to the
    /// circuit breaker for all of them. Each answer is what [`GeoIndex::search`] would give
    /// for the same query at that moment; an error fails every query in the call.
    pub async fn search_many(
        &self,
        queries: &[IndexQuery],
    ) -> Result<Vec<IndexAnswer>, CacheError> {
        let mut pipe = redis::pipe();
        // Which queries Redis is asked; the others only the database can answer.
        let mut asked = Vec::with_capacity(queries.len());
        let mut invocations = Vec::with_capacity(queries.len());
        for q in queries {
            let inv = self.search_invocation(q, false, &[])?;
            asked.push(inv.is_some());
            invocations.extend(inv);
        }
        if invocations.is_empty() {
            return Ok(vec![IndexAnswer::NotReady; queries.len()]);
        }
        for inv in &invocations {
            pipe.invoke_script(inv);
        }
        let client = self.cache().client();
        let mut replies: Result<Vec<Value>, CacheError> =
            self.cache().guarded(client.query_pipeline(&pipe)).await;
        if let Err(CacheError::Command(failure)) = &replies
            && failure.code() == Some("NOSCRIPT")
        {
            // A pipeline does not load scripts: one plain call does (and answers its query),
            // then the pipeline runs again.
            let _: Value = self.cache().guarded(client.invoke(&invocations[0])).await?;
            replies = self.cache().guarded(client.query_pipeline(&pipe)).await;
        }
        let mut replies = replies?.into_iter();
        asked
            .into_iter()
            .map(|asked| match asked {
                false => Ok(IndexAnswer::NotReady),
                true => replies
                    .next()
                    .ok_or_else(|| {
                        CacheError::Command("vendor index pipeline: missing reply".into())
                    })
                    .and_then(parse_search),
            })
            .collect()
    }
}
