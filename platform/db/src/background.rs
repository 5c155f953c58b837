//! Periodic work against the database (polling versions, sweeping expired
//! rows), the same shape for every caller: a fixed interval, no catch-up
//! bursts after a stall, failures logged and retried on the next tick.

use std::future::Future;
use std::time::Duration;

/// Runs `job` every `every` until the returned task is aborted. `what`
/// names the job in the warning logged when it fails.
pub fn spawn_every<F, Fut, E>(
    every: Duration,
    what: &'static str,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = job().await {
                tracing::warn!(error = %e, job = what, "background job failed; retrying on the next tick");
            }
        }
    })
}
