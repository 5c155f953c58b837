//! Periodic work against the database (polling versions, sweeping expired
//! rows, running jobs, delivering messages), the same shape for every
//! caller: a fixed interval, no catch-up bursts after a stall, failures
//! logged and retried on the next tick, and a stop that lets the run in
//! progress finish (a message half-sent or a job half-run on shutdown would
//! be sent or run twice by the replica that picks it up).

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// A periodic job running in the background.
#[derive(Debug)]
pub struct Worker {
    what: &'static str,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

/// Runs `job` every `every` until the returned worker is stopped (or
/// dropped). `what` names the job in the warning logged when it fails.
pub fn spawn_every<F, Fut, E>(every: Duration, what: &'static str, job: F) -> Worker
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    let (stop, mut stopped) = watch::channel(false);
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                // A stop, or the worker dropped.
                _ = stopped.changed() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = job().await {
                tracing::warn!(error = %e, job = what, "background job failed; retrying on the next tick");
            }
        }
    });
    Worker { what, stop, handle }
}

impl Worker {
    /// What the worker does (for logs).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Stops the worker with nothing in progress cut short: no new run
    /// starts, the one running finishes, for at most `grace`; after that it
    /// is cut short. True when it finished within the grace period.
    pub async fn stop(self, grace: Duration) -> bool {
        let _ = self.stop.send(true);
        let mut handle = self.handle;
        match tokio::time::timeout(grace, &mut handle).await {
            Ok(_) => true,
            Err(_) => {
                handle.abort();
                tracing::warn!(
                    job = self.what,
                    ?grace,
                    "background job still running after the grace period; cut short"
                );
                false
            }
        }
    }
}

/// Stops every worker at once (see [`Worker::stop`]); how many had to be
/// cut short.
pub async fn stop_all(workers: Vec<Worker>, grace: Duration) -> usize {
    let stops = workers.into_iter().map(|w| w.stop(grace));
    futures::future::join_all(stops)
        .await
        .into_iter()
        .filter(|finished| !finished)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_stop_lets_the_run_in_progress_finish_and_starts_no_other() {
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, f) = (started.clone(), finished.clone());
        let worker = spawn_every(Duration::from_millis(10), "test", move || {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok::<(), std::convert::Infallible>(())
            }
        });
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            worker.stop(Duration::from_secs(10)).await,
            "finished in time"
        );
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the run in progress finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "no run after the stop");
    }

    #[tokio::test]
    async fn a_run_longer_than_the_grace_period_is_cut_short() {
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let slow = spawn_every(Duration::from_millis(10), "slow", move || {
            let f = f.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok::<(), std::convert::Infallible>(())
            }
        });
        let idle = spawn_every(Duration::from_secs(3600), "idle", || async {
            Ok::<(), std::convert::Infallible>(())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            stop_all(vec![slow, idle], Duration::from_millis(100)).await,
            1
        );
        assert_eq!(finished.load(Ordering::SeqCst), 0);
    }
}
