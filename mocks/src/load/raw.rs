//! The raw `get` flow's fast path: one HTTP/1.1 keep-alive connection per worker task
//! on hyper, with its own open-loop schedule (as wrk2 does), latency measured from each
//! request's intended start.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::measure::Outcome;

pub struct RawConn {
    authority: String,
    sender: Option<SendRequest<Empty<Bytes>>>,
    /// Headers built once and cloned per request.
    headers: hyper::HeaderMap,
    uri: hyper::Uri,
    /// One timer per connection, reset for each request (cheaper than a new one).
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

async fn connect<'a>(
    authority: &str,
    slot: &'a mut Option<SendRequest<Empty<Bytes>>>,
) -> Result<&'a mut SendRequest<Empty<Bytes>>, Outcome> {
    if slot.as_ref().is_none_or(|s| s.is_closed()) {
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|_| Outcome::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Outcome::Connect)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        *slot = Some(sender);
    }
    Ok(slot.as_mut().expect("connected"))
}

impl RawConn {
    pub fn new(authority: &str, path: &str, headers: &[(String, String)]) -> RawConn {
        let mut map = hyper::HeaderMap::new();
        if let Ok(v) = authority.parse() {
            map.insert(hyper::header::HOST, v);
        }
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                v.parse(),
            ) {
                map.append(k, v);
            }
        }
        RawConn {
            authority: authority.to_string(),
            sender: None,
            headers: map,
            uri: path
                .parse()
                .unwrap_or_else(|_| hyper::Uri::from_static("/")),
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(0))),
        }
    }

    /// One GET; the body is read to the end. Errors drop the connection.
    pub async fn get(&mut self, timeout: Duration) -> Outcome {
        let mut req = Request::new(Empty::<Bytes>::new());
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        let RawConn {
            authority,
            sender,
            timer,
            ..
        } = self;
        timer.as_mut().reset(tokio::time::Instant::now() + timeout);
        let exchange = async {
            let sender = connect(authority, sender).await?;
            sender.ready().await.map_err(|_| Outcome::Connect)?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|_| Outcome::OtherError)?;
            let status = resp.status().as_u16();
            resp.into_body()
                .collect()
                .await
                .map_err(|_| Outcome::OtherError)?;
            Ok::<Outcome, Outcome>(Outcome::Status(status))
        };
        let result = tokio::select! {
            r = exchange => Some(r),
            _ = timer.as_mut() => None,
        };
        match result {
            Some(Ok(o)) => o,
            Some(Err(e)) => {
                *sender = None;
                e
            }
            None => {
                *sender = None;
                Outcome::Timeout
            }
        }
    }
}
