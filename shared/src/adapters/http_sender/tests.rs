//! The sender against receivers on loopback: answers read, failures classified, the network
//! policy kept, connections reused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::adapters::resolver::StaticResolver;
use crate::ports::ResolveError;

/// A receiver that answers every request with `answer` (or never, when it is empty),
/// counting the connections it accepted and keeping the requests it read.
struct Receiver {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn receiver(answer: &'static str) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
    let (counted, kept) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_each(stream, answer, kept.clone()));
        }
    });
    Receiver { address, connections, requests }
}

/// Reads requests (head, then as many body bytes as `content-length` says) and answers each.
async fn answer_each(mut stream: TcpStream, answer: &'static str, requests: Arc<Mutex<Vec<String>>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4) else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
        let length = head.lines().find_map(|line| line.strip_prefix("content-length: ")).map_or(0, |n| n.trim().parse().unwrap());
        while buffer.len() < end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        requests.lock().unwrap().push(String::from_utf8_lossy(&buffer[..end + length]).into_owned());
        buffer.drain(..end + length);
        if answer.is_empty() {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn sender_with(resolver: Arc<dyn Resolver>, allow_loopback: bool, request_timeout: Duration) -> HyperSender {
    let allow = if allow_loopback { vec!["127.0.0.0/8".parse().unwrap()] } else { Vec::new() };
    let config = SenderConfig { connect_timeout: Duration::from_secs(2), request_timeout, net: NetPolicy { allow } };
    HyperSender::new(&config, resolver).unwrap()
}

fn sender() -> HyperSender {
    sender_with(Arc::new(StaticResolver { table: HashMap::new() }), true, Duration::from_secs(5))
}

fn request(url: String) -> OutboundRequest {
    let headers = vec![("content-type".to_owned(), "application/json".to_owned()), ("webhook-id".to_owned(), "msg_1".to_owned())];
    OutboundRequest { url, headers, body: r#"{"hello":"world"}"#.to_owned() }
}

#[tokio::test]
async fn an_answer_gives_its_status_retry_after_and_the_start_of_its_body() {
    let long =
        Box::leak(format!("HTTP/1.1 503 Busy\r\nretry-after: 7\r\ncontent-length: 6000\r\n\r\n{}", "x".repeat(6000)).into_boxed_str());
    let receiver = receiver(long).await;
    let response = sender().send(request(format!("http://{}/hooks?a=1", receiver.address))).await.unwrap();
    assert_eq!((response.status, response.retry_after), (503, Some(Duration::from_secs(7))));
    assert_eq!(response.body_excerpt, "x".repeat(RESPONSE_EXCERPT_BYTES));
    let sent = receiver.requests.lock().unwrap()[0].clone();
    assert!(sent.starts_with("POST /hooks?a=1 HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("\r\nwebhook-id: msg_1\r\n") && sent.contains(&format!("\r\nhost: {}\r\n", receiver.address)), "{sent}");
    assert!(sent.ends_with("\r\n\r\n{\"hello\":\"world\"}"), "{sent}");
}

#[tokio::test]
async fn deliveries_to_one_receiver_share_a_connection() {
    let receiver = receiver("HTTP/1.1 204 No Content\r\n\r\n").await;
    let sender = sender();
    for _ in 0..3 {
        assert_eq!(sender.send(request(format!("http://{}/", receiver.address))).await.unwrap().status, 204);
    }
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redirect_is_an_answer_and_is_not_followed() {
    let elsewhere = receiver("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let answer = format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{}/\r\ncontent-length: 0\r\n\r\n", elsewhere.address);
    let redirecting = receiver(Box::leak(answer.into_boxed_str())).await;
    let response = sender().send(request(format!("http://{}/", redirecting.address))).await.unwrap();
    assert_eq!(response.status, 307);
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let receiver = receiver("").await;
    let sender = sender_with(Arc::new(StaticResolver { table: HashMap::new() }), true, Duration::from_millis(300));
    let error = sender.send(request(format!("http://{}/", receiver.address))).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout, "{}", error.detail);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let error = sender().send(request(format!("http://{closed}/"))).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Connect, "{}", error.detail);
}

#[tokio::test]
async fn https_to_a_receiver_that_speaks_plain_http_is_a_tls_error() {
    // What a plain HTTP server says to a TLS hello: a 400, at once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        }
    });
    let error = sender().send(request(format!("https://{address}/"))).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Tls, "{}", error.detail);
}

#[tokio::test]
async fn a_certificate_the_platform_does_not_trust_is_a_tls_error() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // A self-signed certificate for localhost and 127.0.0.1, made for this test alone.
    let certificate = CertificateDer::from_pem_slice(include_bytes!("testdata/untrusted.cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/untrusted.key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let completed = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if acceptor.accept(stream).await.is_ok() {
                completed.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let table = HashMap::from([("localhost".to_owned(), vec![IpAddr::from([127, 0, 0, 1])])]);
    let sender = sender_with(Arc::new(StaticResolver { table }), true, Duration::from_secs(5));
    let error = sender.send(request(format!("https://localhost:{port}/"))).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Tls, "{}", error.detail);
    assert!(error.detail.contains("certificate"), "{}", error.detail);
    assert_eq!(handshakes.load(Ordering::SeqCst), 0, "no request went over a connection the sender does not trust");
}

#[tokio::test]
async fn an_address_the_policy_refuses_is_never_connected_to_by_literal_or_by_name() {
    let receiver = receiver("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let table = HashMap::from([("hooks.example.com".to_owned(), vec![receiver.address.ip()])]);
    let sender = sender_with(Arc::new(StaticResolver { table }), false, Duration::from_secs(5));
    for url in [format!("http://{}/", receiver.address), format!("http://hooks.example.com:{}/", receiver.address.port())] {
        let error = sender.send(request(url.clone())).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Blocked, "{url}: {}", error.detail);
    }
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 0);
}

struct NoNames;

#[async_trait]
impl Resolver for NoNames {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        Err(ResolveError { host: host.to_owned(), detail: "no such name".into() })
    }
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_dns_error_and_a_bad_url_is_refused_before_sending() {
    let sender = sender_with(Arc::new(NoNames), true, Duration::from_secs(5));
    let error = sender.send(request("https://nowhere.example.com/".into())).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Dns, "{}", error.detail);
    for url in ["not a url", "ftp://example.com/", "/relative"] {
        let error = sender.send(request(url.into())).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Connect, "{url}: {}", error.detail);
    }
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon"), None);
}
