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
//!   (a client is an IPv4 address or an IPv6 /64). A trusted proxy's own
//!   connections count only towards `max_connections`.
//! - `[intake] trusted_proxies` and `client_ip_header`: a request from a
//!   trusted proxy counts as from the address its header gives (handlers
//!   see that address as `ConnectInfo`), so the per-client limits work
//!   behind a proxy; from anyone else the header is ignored.

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
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
    /// Proxies whose `client_header` is believed.
    pub trusted_proxies: Arc<[config::Network]>,
    pub client_header: header::HeaderName,
}

impl Limits {
    pub fn from_config(c: &config::Intake) -> Limits {
        let client_header = header::HeaderName::from_bytes(c.client_ip_header.trim().as_bytes())
            .unwrap_or_else(|_| {
                tracing::warn!(
                    "[intake] client_ip_header {:?} is not a header name; using X-Forwarded-For",
                    c.client_ip_header
                );
                header::HeaderName::from_static("x-forwarded-for")
            });
        Limits {
            header_timeout: c.header_timeout,
            request_timeout: c.request_timeout,
            max_connections: c.max_connections.max(1) as usize,
            max_per_client: c.max_connections_per_client.max(1) as usize,
            trusted_proxies: c.trusted_proxies.clone().into(),
            client_header,
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
        let proxy = crate::limits::is_trusted(&limits.trusted_proxies, peer.ip());
        let slot = if proxy {
            None
        } else {
            let Some(slot) = per_client.enter(peer.ip(), limits.max_per_client) else {
                tracing::debug!("connection from {peer} refused: too many from this client");
                continue;
            };
            Some(slot)
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let (trusted, client_header) = (
            Arc::clone(&limits.trusted_proxies),
            limits.client_header.clone(),
        );
        let request_timeout = limits.request_timeout;
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            let client = if proxy {
                let ip = crate::limits::forwarded_client(
                    peer.ip(),
                    &trusted,
                    req.headers().get_all(&client_header).iter(),
                );
                std::net::SocketAddr::new(ip, peer.port())
            } else {
                peer
            };
            req.extensions_mut().insert(ConnectInfo(client));
            let mut app = app.clone();
            async move {
                let req = req.map(axum::body::Body::new);
                let call = tower::Service::call(&mut app, req);
                Ok::<_, std::convert::Infallible>(
                    match tokio::time::timeout(request_timeout, call).await {
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
