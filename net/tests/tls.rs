//! TLS with certificates the test makes (rcgen): h2 by ALPN and HTTP/1.1, mTLS accepted and
//! refused, h2c by prior knowledge on plain HTTP, and `synodos serve` with TLS files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Pki, ServeProcess};
use synodos::{AcceptorClient, CounterIdGenerator, Proposer, Request, TokioSleeper};
use synodos_net::{serve, ClientOptions, HttpAcceptor, HttpVersion, Info, ServeOptions, ServedAcceptor, ServerTls};

fn info(c: &HttpAcceptor) -> Info {
    futures::executor::block_on(c.info()).unwrap()
}

fn prepare(c: &HttpAcceptor, id: u64) -> synodos::Result<synodos::Promise> {
    futures::executor::block_on(c.prepare(&Request { id, attempt: 1, slot: 0 }))
}

#[test]
fn tls_speaks_h2_by_alpn_and_http1_when_asked() {
    let pki = Pki::new("tls");
    let tls = ServerTls::from_pem(pki.server_cert.clone(), pki.server_key.clone());
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "tls").tls(tls)).unwrap();
    assert!(s.url().starts_with("https://"));
    let options = |v| ClientOptions::new().ca_pem(pki.ca.clone()).http_version(v);

    let auto = HttpAcceptor::new(&s.url(), options(HttpVersion::Auto)).unwrap();
    assert!(prepare(&auto, 10).unwrap().is_granted());
    let i = info(&auto);
    assert!(i.http2_requests >= 2 && i.http1_requests == 0, "auto under TLS is h2: {i:?}");

    let h1 = HttpAcceptor::new(&s.url(), options(HttpVersion::Http1)).unwrap();
    assert_eq!(prepare(&h1, 11).unwrap().promised, 0);
    let i = info(&h1);
    assert!(i.http1_requests >= 3, "HTTP/1.1 when asked: {i:?}");

    // localhost is in the certificate too.
    let by_name =
        HttpAcceptor::new(&format!("https://localhost:{}", s.addr().port()), options(HttpVersion::Http2)).unwrap();
    assert_eq!(futures::executor::block_on(by_name.check()).unwrap(), 1);

    // A client that trusts another CA refuses the server; one without a CA cannot be built.
    let other = Pki::new("other");
    let wrong = HttpAcceptor::new(&s.url(), ClientOptions::new().ca_pem(other.ca.clone())).unwrap();
    let e = prepare(&wrong, 12).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert!(HttpAcceptor::new(&s.url(), ClientOptions::new()).is_err());
    // Plain HTTP to a TLS port fails rather than hangs.
    let plain =
        HttpAcceptor::new(&format!("http://{}", s.addr()), ClientOptions::new().timeout(Duration::from_secs(2)))
            .unwrap();
    assert!(prepare(&plain, 13).is_err());
    s.shutdown();
}

#[test]
fn mtls_accepts_a_client_certificate_of_its_ca_and_refuses_others() {
    let pki = Pki::new("mtls");
    let other = Pki::new("intruder");
    let tls = ServerTls::from_pem(pki.server_cert.clone(), pki.server_key.clone()).client_ca(pki.ca.clone());
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "mtls").tls(tls)).unwrap();
    let base = || ClientOptions::new().ca_pem(pki.ca.clone()).timeout(Duration::from_secs(3));

    let good = HttpAcceptor::new(&s.url(), base().identity(pki.client_cert.clone(), pki.client_key.clone())).unwrap();
    assert!(prepare(&good, 5).unwrap().is_granted());
    let h1 = HttpAcceptor::new(
        &s.url(),
        base().identity(pki.client_cert.clone(), pki.client_key.clone()).http_version(HttpVersion::Http1),
    )
    .unwrap();
    assert!(!prepare(&h1, 5).unwrap().is_granted(), "a repeated ballot is refused, over HTTP/1.1 too");

    let anonymous = HttpAcceptor::new(&s.url(), base()).unwrap();
    assert!(prepare(&anonymous, 6).is_err(), "no client certificate");
    let intruder =
        HttpAcceptor::new(&s.url(), base().identity(other.client_cert.clone(), other.client_key.clone())).unwrap();
    assert!(prepare(&intruder, 7).is_err(), "a certificate of another CA");
    assert_eq!(info(&good).promised, 5, "neither refused client got a vote in");
    s.shutdown();
}

#[test]
fn plain_http_speaks_h2c_by_prior_knowledge() {
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "h2c")).unwrap();
    let h2c = HttpAcceptor::new(&s.url(), ClientOptions::new().http_version(HttpVersion::Http2)).unwrap();
    assert!(prepare(&h2c, 3).unwrap().is_granted());
    let i = info(&h2c);
    assert!(i.http2_requests >= 2 && i.http1_requests == 0, "{i:?}");
    let h1 = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    assert!(!prepare(&h1, 3).unwrap().is_granted());
    assert!(info(&h1).http1_requests >= 2);
    s.shutdown();
}

#[test]
fn a_proposer_on_tokio_over_three_tls_processes_with_mtls_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("cluster");
    pki.write(dir.path());
    let token = "tls-cluster-token-0123456789";
    std::fs::write(dir.path().join("tokens"), format!("{token}\n")).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let servers: Vec<ServeProcess> = (1..=3)
        .map(|id| {
            ServeProcess::start(&[
                "--id",
                &id.to_string(),
                "--cluster",
                "tls",
                "--listen",
                "127.0.0.1:0",
                "--memory",
                "--tls-cert",
                &path("server.pem"),
                "--tls-key",
                &path("server.key"),
                "--tls-client-ca",
                &path("ca.pem"),
                "--token-file",
                &path("tokens"),
            ])
        })
        .collect();
    let options = ClientOptions::new()
        .cluster("tls")
        .token(token)
        .ca_pem(pki.ca.clone())
        .identity(pki.client_cert.clone(), pki.client_key.clone());
    let clients: Vec<HttpAcceptor> =
        servers.iter().map(|s| HttpAcceptor::new(&s.url, options.clone()).unwrap()).collect();
    // On the caller's own tokio runtime (the clients' I/O still runs on theirs).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let chosen = rt.block_on(async {
        let p = Proposer::with_config(
            clients.clone(),
            Arc::new(CounterIdGenerator::new(1)),
            TokioSleeper,
            synodos::ProposerConfig::default(),
        )
        .unwrap();
        p.propose(b"over tls".to_vec()).await
    });
    assert_eq!(chosen.unwrap(), b"over tls");
    for c in &clients {
        assert!(info(c).http2_requests > 0, "h2 under TLS");
    }
}
