//! Running a router on Lambda or locally, with the shared start-up: configuration from
//! the environment, logs, connections.

use std::net::SocketAddr;

use axum::Router;

use crate::config::AppConfig;
use crate::state::AppState;

/// JSON logs on Lambda (with the request id that the runtime's span carries), pretty
/// logs locally; `RUST_LOG` filters.
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Runs one service on Lambda: `build` makes its router from the shared state. The state
/// is created once per execution environment and reused by every invocation.
pub async fn run_lambda(build: fn(AppState) -> Router) -> Result<(), lambda_http::Error> {
    init_tracing(true);
    let config = AppConfig::from_env().map_err(|e| format!("configuration: {e}"))?;
    let state = AppState::connect(config)
        .await
        .map_err(|e| format!("start-up: {e:#}"))?;
    // A cold start never waits for the vendor index: at most it starts the fleet's rebuild.
    state.vendors.start_rebuild();
    lambda_http::run(build(state)).await
}

/// Serves `router` on `addr` until Ctrl-C or SIGTERM, then lets requests in flight end.
pub async fn serve_local(addr: SocketAddr, router: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        })
        .await
}
