//! TLS for TCP listeners, as dockerd's `--tlsverify`: berthd presents
//! `--tlscert`/`--tlskey` and accepts only clients whose certificate chains
//! to a certificate of `--tlscacert`. There is no TLS without client
//! certificates: whoever reaches the API is root on the host.

use anyhow::{anyhow, bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::Path;
use std::sync::Arc;

/// The files named by `--tlscacert`, `--tlscert` and `--tlskey`.
pub struct TlsFiles<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// A server config that requires a client certificate issued under one of
/// the CA file's certificates. Speaks HTTP/1.1 only, as the API does.
pub fn server_config(files: &TlsFiles<'_>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(files.ca, "--tlscacert")? {
        roots
            .add(cert)
            .with_context(|| format!("--tlscacert {}: unusable CA", files.ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .with_context(|| format!("--tlscacert {}", files.ca.display()))?;
    let chain = read_certs(files.cert, "--tlscert")?;
    let key = PrivateKeyDer::from_pem_file(files.key).map_err(|e| {
        anyhow!(
            "--tlskey {}: no usable private key: {e}",
            files.key.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "--tlscert {} and --tlskey {} do not make a usable pair",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path, flag: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow!("{flag} {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!("{flag} {}: no PEM certificate in the file", path.display());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("missing.pem");
        let err = server_config(&TlsFiles {
            ca: &missing,
            cert: &empty,
            key: &empty,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("--tlscacert"), "{err:#}");
        assert!(format!("{err:#}").contains("missing.pem"), "{err:#}");
        let err = server_config(&TlsFiles {
            ca: &empty,
            cert: &empty,
            key: &empty,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
    }
}
