//! The HTTPS listener: the same router behind rustls, with the test certificate in `tls/`
//! (127.0.0.1 and localhost, issued by [`crate::TEST_CA_PEM`], valid until 2126).
//!
//! It stops accepting when the server's abort signal fires; connections still open end with
//! the process or when their client closes them.

use std::io;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

const CERTIFICATE_PEM: &[u8] = include_bytes!("../tls/localhost.pem");
const PRIVATE_KEY_PEM: &[u8] = include_bytes!("../tls/localhost.key");

fn acceptor() -> io::Result<TlsAcceptor> {
    let invalid = |error: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, error.to_string());
    let chain = CertificateDer::pem_slice_iter(CERTIFICATE_PEM)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(&error))?;
    let key = PrivateKeyDer::from_pem_slice(PRIVATE_KEY_PEM).map_err(|error| invalid(&error))?;
    // Named explicitly: the workspace enables both of rustls's providers, so none is the default.
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(&error))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| invalid(&error))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Marks a request that came over TLS (an axum extension), for the handlers whose answer
/// depends on the URL the client used: Entra's assertion audience.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Https;

/// Serves `router` over TLS on `listener` until `stop` turns true.
pub(crate) fn serve(
    listener: TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> io::Result<impl Future<Output = ()> + Send + 'static> {
    let acceptor = acceptor()?;
    let router = router.layer(axum::Extension(Https));
    Ok(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            let Ok((connection, _)) = accepted else { continue };
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(connection).await else {
                    return;
                };
                if let Err(error) = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "fakecloud https connection ended with an error");
                }
            });
        }
    })
}
