//! Calls refused because the bus was full.
//!
//! A bus daemon with too many messages queued towards systemd answers a call with
//! `org.freedesktop.DBus.Error.LimitsExceeded` instead of delivering it: two clients bursting at
//! once (the plugin recovering 1000 tasks while an operator runs the CLI, say) are enough. The
//! call never reached systemd, so making it again is safe; once systemd has read its backlog
//! the retry goes through. systemd itself answers `LimitsExceeded` only where it refused to do
//! anything (a rate limit, too many of something), so a retry is safe there too, and the
//! deadline bounds it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The first pause after a refusal; each further one doubles, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

/// Whether `e` is the bus's refusal for lack of room.
pub(super) fn is_limits_exceeded(e: &zbus::Error) -> bool {
    match e {
        zbus::Error::FDO(fdo) => matches!(fdo.as_ref(), zbus::fdo::Error::LimitsExceeded(_)),
        zbus::Error::MethodError(name, _, _) => {
            name.as_str() == "org.freedesktop.DBus.Error.LimitsExceeded"
        }
        _ => false,
    }
}

/// Makes the call `call` produces, again after a growing pause while the bus refuses it for
/// lack of room, for up to `patience`; returns the first other outcome, or the last refusal
/// once its patience is spent.
pub(super) async fn retry_while_full<T, F, Fut>(patience: Duration, mut call: F) -> zbus::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = zbus::Result<T>>,
{
    let deadline = Instant::now() + patience;
    let mut pause = FIRST_PAUSE;
    loop {
        match call().await {
            Err(e) if is_limits_exceeded(&e) && Instant::now() + pause < deadline => {
                tracing::debug!("the bus is full, calling again in {pause:?}: {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> zbus::Error {
        zbus::Error::FDO(Box::new(zbus::fdo::Error::LimitsExceeded(
            "destination has a full message queue".into(),
        )))
    }

    #[tokio::test]
    async fn a_refused_call_is_made_again_until_it_goes_through() {
        let mut calls = 0;
        let outcome = retry_while_full(Duration::from_secs(5), || {
            calls += 1;
            let attempt = calls;
            async move {
                if attempt < 4 {
                    Err(full())
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
        assert_eq!(outcome.unwrap(), 4);
    }

    #[tokio::test]
    async fn past_the_deadline_the_refusal_is_returned() {
        let mut calls = 0;
        let outcome: zbus::Result<()> = retry_while_full(Duration::from_millis(300), || {
            calls += 1;
            async { Err(full()) }
        })
        .await;
        assert!(is_limits_exceeded(&outcome.unwrap_err()));
        assert!(calls > 3, "called {calls} times");
    }

    #[tokio::test]
    async fn another_error_is_returned_at_once() {
        let mut calls = 0;
        let outcome: zbus::Result<()> = retry_while_full(Duration::from_secs(5), || {
            calls += 1;
            async { Err(zbus::Error::InvalidReply) }
        })
        .await;
        assert!(matches!(outcome, Err(zbus::Error::InvalidReply)));
        assert_eq!(calls, 1);
    }
}
