//! The send flow's other way to learn a request's outcome, as integrations built on
//! event streams do: one reader consumes a TIMELINE stream of REQUEST_ACCEPTED and
//! REQUEST_REFUSED events (honouring `retry-after`) and hands each outcome to the flow
//! waiting for that `notificationRequestId`, instead of every flow polling its status.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::flows::{FlowContext, FlowRecorder, call, retry_after_ms, wait_retry_after};

/// How a send flow learns whether its request was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Polls the request status, honouring `retryAfter`.
    Poll,
    /// Waits for the outcome on an event stream.
    Stream,
}

/// An outcome: the IUN when accepted, `None` when refused.
type Outcome = Option<String>;

enum Slot {
    Waiting(oneshot::Sender<Outcome>),
    /// Read before its flow asked (the stream can be faster than the send's answer).
    Arrived(Outcome),
}

/// Outcomes by `notificationRequestId`, between the stream's reader and the flows.
#[derive(Default)]
pub struct Acceptances {
    slots: Mutex<HashMap<String, Slot>>,
}

/// Outcomes read but never asked for (another client of the same sender) kept at most.
const UNCLAIMED: usize = 100_000;

impl Acceptances {
    /// The reader saw `request_id`'s outcome.
    pub fn arrived(&self, request_id: &str, outcome: Outcome) {
        let mut slots = self.slots.lock().expect("acceptances");
        match slots.remove(request_id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(outcome);
            }
            _ => {
                if slots.len() >= UNCLAIMED {
                    slots.retain(|_, s| matches!(s, Slot::Waiting(_)));
                }
                slots.insert(request_id.to_string(), Slot::Arrived(outcome));
            }
        }
    }

    /// Waits up to `limit` for `request_id`'s outcome; `None` when none came in time.
    pub async fn wait(&self, request_id: &str, limit: Duration) -> Option<Outcome> {
        let rx = {
            let mut slots = self.slots.lock().expect("acceptances");
            if let Some(Slot::Arrived(o)) = slots.remove(request_id) {
                return Some(o);
            }
            let (tx, rx) = oneshot::channel();
            slots.insert(request_id.to_string(), Slot::Waiting(tx));
            rx
        };
        let got = tokio::time::timeout(limit, rx)
            .await
            .ok()
            .and_then(Result::ok);
        if got.is_none() {
            self.slots.lock().expect("acceptances").remove(request_id);
        }
        got
    }
}

/// Creates the stream the reader consumes; returns its id, or why it could not.
pub async fn create_stream(
    ctx: &FlowContext<'_>,
    rec: &mut FlowRecorder,
) -> Result<String, String> {
    let body = json!({
        "title": "sendmock load: request outcomes",
        "eventType": "TIMELINE",
        "groups": [],
        "filterValues": ["REQUEST_ACCEPTED", "REQUEST_REFUSED"]
    });
    let url = format!("{}/delivery-progresses/v2.9/streams", ctx.base);
    match call(
        ctx,
        rec,
        "stream_create",
        reqwest::Method::POST,
        &url,
        Some(&body),
    )
    .await
    {
        Some((200, _, v)) => v["streamId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("POST {url} answered without a streamId: {v}")),
        Some((status, _, v)) => Err(format!("POST {url} answered {status}: {v}")),
        None => Err(format!("POST {url} got no answer")),
    }
}

/// Deletes the reader's stream (streams per sender are limited).
pub async fn delete_stream(ctx: &FlowContext<'_>, rec: &mut FlowRecorder, id: &str) {
    let url = format!("{}/delivery-progresses/v2.9/streams/{id}", ctx.base);
    call(
        ctx,
        rec,
        "stream_delete",
        reqwest::Method::DELETE,
        &url,
        None,
    )
    .await;
}

/// Reads the stream until `done`, handing outcomes to `acceptances`: again at once while
/// the server says more events wait (`retry-after: 0`), after the wait it gives otherwise.
pub async fn read_outcomes(
    ctx: &FlowContext<'_>,
    rec: &mut FlowRecorder,
    stream: &str,
    acceptances: &Acceptances,
    done: &AtomicBool,
) {
    let mut last: Option<String> = None;
    let path = format!(
        "{}/delivery-progresses/v2.9/streams/{stream}/events",
        ctx.base
    );
    while !done.load(Ordering::Relaxed) && Instant::now() < ctx.deadline {
        let url = match &last {
            Some(id) => format!("{path}?lastEventId={id}"),
            None => path.clone(),
        };
        let Some((status, headers, body)) =
            call(ctx, rec, "stream_read", reqwest::Method::GET, &url, None).await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let retry_ms = retry_after_ms(&headers);
        if status == 200 {
            for e in body.as_array().into_iter().flatten() {
                dispatch(e, acceptances);
                if let Some(id) = e["eventId"].as_str() {
                    last = Some(id.to_string());
                }
            }
        }
        // Short waits, so the reader notices the end of the run soon.
        let until = Instant::now() + Duration::from_secs_f64(retry_ms / 1000.0);
        while !done.load(Ordering::Relaxed) && Instant::now() < until {
            let step = until.saturating_duration_since(Instant::now());
            if !wait_retry_after(ctx, step.min(Duration::from_millis(50)).as_secs_f64()).await {
                return;
            }
        }
    }
}

fn dispatch(event: &Value, acceptances: &Acceptances) {
    let Some(id) = event["notificationRequestId"].as_str() else {
        return;
    };
    match event["element"]["category"].as_str() {
        Some("REQUEST_ACCEPTED") => {
            acceptances.arrived(id, event["iun"].as_str().map(str::to_string))
        }
        Some("REQUEST_REFUSED") => acceptances.arrived(id, None),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_outcome_reaches_its_flow_whether_it_comes_before_or_after_the_wait() {
        let a = Acceptances::default();
        a.arrived("early", Some("IUN-1".into()));
        assert_eq!(
            a.wait("early", Duration::from_millis(10)).await,
            Some(Some("IUN-1".into()))
        );
        let a = std::sync::Arc::new(a);
        let later = {
            let a = a.clone();
            tokio::spawn(async move { a.wait("later", Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.arrived("later", None);
        assert_eq!(later.await.unwrap(), Some(None), "refused");
        assert_eq!(a.wait("never", Duration::from_millis(10)).await, None);
        assert!(a.slots.lock().unwrap().is_empty(), "nothing left behind");
    }
}
