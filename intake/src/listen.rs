//! The HTTP server loop of `gazette intake` and `gazette serve`: hyper's
//! HTTP/1 with a timer, so one client cannot hold the service open with
//! slow or silent connections (issue 17, defect 1).
//!
//! - `[intake] header_timeout`: a request's headers must arrive within it,
//!   the first request's and every keep-alive one's (so it is the idle
//!   timeout too).
//! - `[intake] request_timeout`: from the headers to the response's start,
//!   reading the body included (a slow body gets 503).
//! - `[intake] max_connections` and `max_connections_per_client`: more are
//!   closed at once, so the process never runs out of file descriptors
//!   (a client is an IPv4 address or an IPv6 /64).

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What [`serve`] allows each connection and client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
}

impl Limits {
    pub fn from_config(c: &config::Intake) -> Limits {
        Limits {
            header_timeout: c.header_timeout,
            request_timeout: c.request_timeout,
            max_connections: c.max_connections.max(1) as usize,
            max_per_client: c.max_connections_per_client.max(1) as usize,
        }
    }
}

/// Open connections per client.
#[derive(Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A client's place, given back when its connection ends.
struct ClientSlot {
    table: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let key = crate::limits::client_key(ip);
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: Arc::clone(self),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock() {
            if let Some(n) = open.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

fn timed_out() -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "请求处理超时，请稍后再试。\n",
    )
        .into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// requests finish. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or similar: wait instead of spinning.
                    tracing::warn!("accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over a cap: closed at once (dropping the socket), which costs
        // nothing and frees its descriptor.
        let Ok(permit) = Arc::clone(&total).try_acquire_owned() else {
            tracing::debug!(
                "connection from {peer} refused: {} open",
                limits.max_connections
            );
            continue;
        };
        let Some(slot) = per_client.enter(peer.ip(), limits.max_per_client) else {
            tracing::debug!("connection from {peer} refused: too many from this client");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move {
                let req = req.map(axum::body::Body::new);
                let call = tower::Service::call(&mut app, req);
                Ok::<_, std::convert::Infallible>(
                    match tokio::time::timeout(limits.request_timeout, call).await {
                        Ok(Ok(res)) => res,
                        Ok(Err(never)) => match never {},
                        Err(_) => timed_out(),
                    },
                )
            }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _held = (permit, slot);
            if let Err(e) = conn.await {
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
