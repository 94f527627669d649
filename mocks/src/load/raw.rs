//! The raw `get` flow's fast path: one HTTP/1.1 keep-alive connection per worker task
//! with its own open-loop schedule (as wrk2 does), latency measured from each
//! request's intended start.
//!
//! The request's bytes are built once and written as they are; the response head is
//! parsed by `httparse` and its body skipped by its framing (length, chunks, or the end
//! of the connection). A general client connection (hyper's) costs a second task, a
//! channel and a header map per request, which at tens of thousands of requests a
//! second is most of the generator's own CPU time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::measure::Outcome;

/// Response heads larger than this are refused (no real endpoint sends one).
const MAX_HEAD: usize = 64 * 1024;

pub struct RawConn {
    authority: String,
    request: Vec<u8>,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// One timer per connection, reset for each request (cheaper than a new one).
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// How the body after a response head is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A parsed response head: status, head length, body framing, and whether the
/// connection can carry another request.
#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, Outcome> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        _ => return Err(Outcome::OtherError),
    };
    let status = resp.code.ok_or(Outcome::OtherError)?;
    let mut keep_alive = resp.version == Some(1);
    let mut framing = Framing::UntilClose;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(Outcome::OtherError)?;
            if framing != Framing::Chunked {
                framing = Framing::Length(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if h.value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"))
            {
                framing = Framing::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    // Bodies that cannot exist.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    if framing == Framing::UntilClose {
        keep_alive = false;
    }
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
    }))
}

/// Where a chunked body read from `buf[from..]` ends, if it has all arrived.
fn chunked_end(buf: &[u8], mut at: usize) -> Result<Option<usize>, Outcome> {
    loop {
        let (consumed, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete(c)) => c,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Outcome::OtherError),
        };
        at += consumed;
        if size == 0 {
            // Trailers, if any, then the empty line.
            loop {
                let rest = &buf[at..];
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        let size = usize::try_from(size).map_err(|_| Outcome::OtherError)?;
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

impl RawConn {
    pub fn new(authority: &str, path: &str, headers: &[(String, String)]) -> RawConn {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        RawConn {
            authority: authority.to_string(),
            request: request.into_bytes(),
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(0))),
        }
    }

    /// One GET; the body is read to its end. Errors and timeouts drop the connection.
    pub async fn get(&mut self, timeout: Duration) -> Outcome {
        self.timer
            .as_mut()
            .reset(tokio::time::Instant::now() + timeout);
        let RawConn {
            authority,
            request,
            stream,
            buf,
            timer,
        } = self;
        let exchange = exchange(authority, request, stream, buf);
        let result = tokio::select! {
            r = exchange => r,
            _ = timer.as_mut() => Err(Outcome::Timeout),
        };
        match result {
            Ok(status) => Outcome::Status(status),
            Err(e) => {
                self.stream = None;
                e
            }
        }
    }
}

async fn exchange(
    authority: &str,
    request: &[u8],
    slot: &mut Option<TcpStream>,
    buf: &mut Vec<u8>,
) -> Result<u16, Outcome> {
    let reused = slot.is_some();
    if slot.is_none() {
        let s = TcpStream::connect(authority)
            .await
            .map_err(|_| Outcome::Connect)?;
        let _ = s.set_nodelay(true);
        *slot = Some(s);
    }
    let stream = slot.as_mut().expect("connected");
    if let Err(e) = stream.write_all(request).await {
        // A kept-alive connection the server closed meanwhile: once more on a new one.
        return if reused {
            *slot = None;
            Box::pin(exchange(authority, request, slot, buf)).await
        } else {
            Err(classify(e))
        };
    }
    buf.clear();
    let head = loop {
        if let Some(head) = parse_head(buf)? {
            if (100..200).contains(&head.status) && head.status != 101 {
                // An interim response: the real one follows.
                buf.drain(..head.len);
                continue;
            }
            break head;
        }
        if read_more(stream, buf).await? == 0 {
            return if reused && buf.is_empty() {
                *slot = None;
                Box::pin(exchange(authority, request, slot, buf)).await
            } else {
                Err(Outcome::OtherError)
            };
        }
    };
    // Bytes past the response mean the stream is out of step: not reused.
    let mut in_step = true;
    match head.framing {
        Framing::Length(n) => {
            let have = buf.len() - head.len;
            in_step = have <= n;
            let mut left = n.saturating_sub(have);
            // Only the length matters: what is read is dropped as it comes.
            while left > 0 {
                buf.clear();
                let got = read_more(stream, buf).await?;
                if got == 0 {
                    return Err(Outcome::OtherError);
                }
                in_step = got <= left;
                left = left.saturating_sub(got);
            }
        }
        Framing::Chunked => loop {
            if let Some(end) = chunked_end(buf, head.len)? {
                in_step = end == buf.len();
                break;
            }
            if read_more(stream, buf).await? == 0 {
                return Err(Outcome::OtherError);
            }
        },
        Framing::UntilClose => loop {
            buf.clear();
            if read_more(stream, buf).await? == 0 {
                break;
            }
        },
    }
    if !(head.keep_alive && in_step) {
        *slot = None;
    }
    Ok(head.status)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Outcome> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    stream.read_buf(buf).await.map_err(classify)
}

fn classify(e: std::io::Error) -> Outcome {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Outcome::Connect,
        _ => Outcome::OtherError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_give_their_body_framing() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.len, h.framing, h.keep_alive),
            (200, 38, Framing::Length(5), true)
        );
        let h = parse_head(
            b"HTTP/1.1 503 x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (503, Framing::Chunked, false)
        );
        let h = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = parse_head(b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Length(0));
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies_end_after_the_last_chunk_and_trailers() {
        let body = b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nx-trailer: 1\r\n\r\n";
        assert_eq!(chunked_end(body, 0).unwrap(), Some(body.len()));
        for cut in 0..body.len() {
            assert_eq!(chunked_end(&body[..cut], 0).unwrap(), None, "{cut}");
        }
        assert_eq!(chunked_end(b"0\r\n\r\n", 0).unwrap(), Some(5));
        assert!(chunked_end(b"zz\r\n", 0).is_err());
    }
}
