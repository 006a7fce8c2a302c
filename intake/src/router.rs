//! The routes. This module depends on the service, the state and the
//! handlers; none of them depends on it.

use crate::response::finish;
use crate::service::Service;
use crate::state::Inner;
use crate::{admin, public};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use forms::paths;
use std::sync::Arc;

impl Service {
    /// `POST /forms/{id}`, `GET /forms/{id}` (a redirect to the form page),
    /// `GET /receipts/{token}`, `GET /healthz` and the `/admin` pages. Serve
    /// it with `into_make_service_with_connect_info::<SocketAddr>()` so the
    /// rate limit sees client addresses.
    pub fn router(&self) -> Router {
        with_layers(routes(), Arc::clone(&self.inner))
    }

    /// [`Service::router`] plus `/style.css`, `/print.css` and a Chinese 404
    /// page for everything else: what `gazette intake` serves on its own port.
    pub fn standalone_router(&self) -> Router {
        let routes = routes()
            .route("/style.css", get(public::stylesheet))
            .route("/print.css", get(public::stylesheet))
            .fallback(public::not_found);
        with_layers(routes, Arc::clone(&self.inner))
    }
}

fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            paths::FORM_ROUTE,
            axum::routing::post(public::post_form).get(public::get_form),
        )
        .route(paths::RECEIPT_ROUTE, get(public::get_receipt))
        .route("/healthz", get(public::healthz))
        .merge(admin::routes())
}

fn with_layers(routes: Router<Arc<Inner>>, inner: Arc<Inner>) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inner),
            finish,
        ))
        .layer(axum::middleware::map_response(common_headers))
        .with_state(inner)
}

async fn common_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    res
}
