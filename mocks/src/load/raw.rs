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
}

impl RawConn {
    pub fn new(authority: &str) -> RawConn {
        RawConn {
            authority: authority.to_string(),
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Empty<Bytes>>, Outcome> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|_| Outcome::Connect)?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| Outcome::Connect)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("connected"))
    }

    /// One GET; the body is read to the end. Errors drop the connection.
    pub async fn get(
        &mut self,
        path: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Outcome {
        let authority = self.authority.clone();
        let result = tokio::time::timeout(timeout, async {
            let sender = self.connect().await?;
            sender.ready().await.map_err(|_| Outcome::Connect)?;
            let mut req = Request::get(path).header("host", authority);
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req
                .body(Empty::<Bytes>::new())
                .map_err(|_| Outcome::OtherError)?;
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
        })
        .await;
        match result {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                self.sender = None;
                e
            }
            Err(_) => {
                self.sender = None;
                Outcome::Timeout
            }
        }
    }
}
