//! The HTTP endpoint the LiveKit server posts its webhooks to (`POST
//! /livekit/webhook`, set as the webhook URL in the server's config). Every
//! request is verified ([`WebhookVerifier`]) before anything is read from it;
//! verified events go to the caller in order, refused ones get the status that
//! says why (401 forged or stale, 400 not an event, 413 too large) and are
//! never acted upon.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;

use super::webhook::{WebhookEvent, WebhookVerifier, MAX_BODY_BYTES};

/// Where LiveKit posts.
pub const WEBHOOK_PATH: &str = "/livekit/webhook";

#[derive(Clone)]
struct Ctx {
    verifier: WebhookVerifier,
    events: mpsc::Sender<WebhookEvent>,
}

/// A running endpoint; stops when dropped.
pub struct WebhookServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookServer {
    /// Serves on `listener`; verified events arrive on `events` (a full channel
    /// makes LiveKit retry: the request is answered 503).
    pub fn start(
        listener: tokio::net::TcpListener,
        verifier: WebhookVerifier,
        events: mpsc::Sender<WebhookEvent>,
    ) -> std::io::Result<WebhookServer> {
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route(WEBHOOK_PATH, post(receive))
            // One byte more than we accept, so an oversized body is ours to refuse
            // (413 with our reason) rather than cut off.
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
            .with_state(Ctx { verifier, events });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the webhook endpoint stopped");
            }
        });
        Ok(WebhookServer { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match ctx.verifier.verify(&body, auth) {
        Ok(event) => match ctx.events.try_send(event) {
            Ok(()) => (StatusCode::OK, "ok".into()),
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy; retry".into()),
        },
        Err(e) => {
            tracing::warn!(code = e.code(), "webhook refused");
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, format!("{}: {e}", e.code()))
        }
    }
}
