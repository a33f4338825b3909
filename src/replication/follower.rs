//! The follower: one task per replica that keeps the replica's overlay in step with Redis. It subscribes to the
//! announcement channel, reads the overlay whenever a version is announced, and also checks the stored version
//! every [`POLL_INTERVAL`] as a safety net against missed messages. On connecting (at startup, or after Redis was
//! down) it reads the current overlay first. A lost connection is retried with exponential backoff, forever. A
//! connection that silently stops answering is noticed by the periodic check, whose reads have a timeout.

use std::time::Duration;

use futures_util::StreamExt;

use super::redis_store::{connect, fetch_with, version_with, CHANNEL};
use crate::config::Overlay;

/// How often the stored version is checked besides pub/sub.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Connecting, subscribing and the first read must be done within this time.
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What the follower tells the registry.
#[derive(Debug)]
pub enum Event {
    /// Subscribed and read the overlay; it follows.
    Connected,
    /// The overlay as stored now.
    Overlay(Overlay),
    /// The connection failed or was lost; retrying.
    Lost(String),
}

/// Follows Redis until `emit` returns false (the registry is gone).
pub async fn follow<F: FnMut(Event) -> bool>(client: redis::Client, mut emit: F) {
    let mut delay = BACKOFF_MIN;
    loop {
        match session(&client, &mut emit, &mut delay).await {
            Ok(()) => return,
            Err(reason) => {
                if !emit(Event::Lost(reason)) {
                    return;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = next_delay(delay);
    }
}

fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(BACKOFF_MAX)
}

/// One connection's life. `Ok` means the registry is gone; `Err` says why the connection ended.
async fn session<F: FnMut(Event) -> bool>(
    client: &redis::Client,
    emit: &mut F,
    delay: &mut Duration,
) -> Result<(), String> {
    let setup = async {
        let mut pubsub = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
        // Subscribe before the first read, so nothing stored in between is missed.
        pubsub.subscribe(CHANNEL).await.map_err(|e| e.to_string())?;
        let mut connection = connect(client).await.map_err(|e| e.to_string())?;
        let overlay = fetch_with(&mut connection).await.map_err(|e| e.0)?;
        Ok::<_, String>((pubsub, connection, overlay))
    };
    // The subscription connection has no timeouts of its own: bound the whole setup, so a Redis that accepts
    // connections but does not answer is retried like one that refuses them.
    let (pubsub, mut connection, overlay) = tokio::time::timeout(SETUP_TIMEOUT, setup)
        .await
        .map_err(|_| format!("no answer within {} s", SETUP_TIMEOUT.as_secs()))??;
    *delay = BACKOFF_MIN;
    let mut last_version = overlay.version;
    if !emit(Event::Connected) || !emit(Event::Overlay(overlay)) {
        return Ok(());
    }
    let mut messages = pubsub.into_on_message();
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    loop {
        let changed = tokio::select! {
            message = messages.next() => match message {
                Some(_) => true,
                None => return Err("the subscription connection was closed".into()),
            },
            _ = poll.tick() => version_with(&mut connection).await.map_err(|e| e.0)? != last_version,
        };
        if changed {
            let overlay = fetch_with(&mut connection).await.map_err(|e| e.0)?;
            last_version = overlay.version;
            if !emit(Event::Overlay(overlay)) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut d = BACKOFF_MIN;
        let steps: Vec<u128> = (0..7)
            .map(|_| {
                d = next_delay(d);
                d.as_millis()
            })
            .collect();
        assert_eq!(steps, [200, 400, 800, 1600, 2000, 2000, 2000]);
    }
}
