//! A bare axum server answering "hello" on every path: the baseline the mock's own
//! throughput is compared with (`cargo run --release -p mocks --example hello -- ADDR`).

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_string());
    let app = Router::new().fallback(get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("hello on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
