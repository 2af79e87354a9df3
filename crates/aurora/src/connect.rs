//! Opening connections: a password from the [`PasswordSource`] for every new connection,
//! verified TLS, and one retry with a refreshed password after an authentication failure.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use deadpool_postgres::Connect;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::auth::{BoxFuture, PasswordError, PasswordSource};
use crate::stats::Counters;

/// The deadpool `Connect` implementation used by both pools.
pub(crate) struct SourceConnect {
    pub tls: Option<MakeRustlsConnect>,
    pub source: Arc<dyn PasswordSource>,
    pub counters: Arc<Counters>,
    /// deadpool can only carry a `tokio_postgres::Error` out of `connect`, so a password
    /// source failure is parked here for the pool to report instead.
    pub password_error: Arc<Mutex<Option<PasswordError>>>,
}

impl Connect for SourceConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let mut refreshed = false;
            loop {
                let password = match self.source.password().await {
                    Ok(password) => password,
                    Err(error) => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut slot) = self.password_error.lock() {
                            *slot = Some(error);
                        }
                        return Err(placeholder_error().await);
                    }
                };
                let mut config = pg_config.clone();
                if let Some(password) = password {
                    config.password(password);
                }
                match self.open(config).await {
                    Ok(pair) => {
                        self.counters.created.fetch_add(1, Ordering::Relaxed);
                        return Ok(pair);
                    }
                    Err(error) if !refreshed && is_auth_failure(&error) => {
                        // A rotated secret: fetch it again and try once more.
                        tracing::warn!(%error, "authentication failed; refreshing the password");
                        self.source.invalidate();
                        refreshed = true;
                    }
                    Err(error) => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        return Err(error);
                    }
                }
            }
        })
    }
}

impl SourceConnect {
    async fn open(
        &self,
        config: tokio_postgres::Config,
    ) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
        match &self.tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                Ok((client, spawn_connection(connection)))
            }
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                Ok((client, spawn_connection(connection)))
            }
        }
    }
}

fn spawn_connection<F>(connection: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "database connection ended with an error");
        }
    })
}

fn is_auth_failure(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    })
}

/// A `tokio_postgres::Error` to hand deadpool when the real failure is elsewhere (the
/// password source). tokio-postgres has no public constructor, but connecting with a
/// configuration without a host fails at once, before any I/O.
async fn placeholder_error() -> tokio_postgres::Error {
    match tokio_postgres::Config::new()
        .connect(tokio_postgres::NoTls)
        .await
    {
        Err(error) => error,
        // Not reachable from input or server replies: tokio-postgres 0.7 rejects a
        // configuration without a host before doing any I/O.
        Ok(_) => panic!("tokio-postgres connected without a host"),
    }
}
