//! Where every HTTP client of Concierge is made, so TLS always has its
//! crypto provider: rustls with ring, installed once per process.

/// A client builder whose TLS uses ring.
pub fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Fails only when another provider was installed first, which then
        // serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A plain client (for talking to Concierge itself, not to merchants: those
/// go through the transport's guarded client).
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("the default HTTP client settings are valid")
}
