//! A bare axum server answering "hello" on every path: the baseline the mock's own
//! throughput is compared with (`cargo run --release -p mocks --example hello -- ADDR`).
//! With a second argument, `BYTES`, it answers that many bytes instead: the baseline for
//! a view of that size, whose cost on loopback is mostly the kernel's copy of it.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_string());
    let body = match args.next() {
        None => Bytes::from_static(b"hello"),
        Some(n) => {
            let n: usize = n.parse().map_err(|_| {
                std::io::Error::other(format!("BYTES: a number of bytes, not {n:?}"))
            })?;
            Bytes::from(vec![b'x'; n])
        }
    };
    let app = Router::new().fallback(get(move || {
        let body = body.clone();
        async move { body }
    }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("hello on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
