//! AMI over HTTP (Asterisk's `/rawman`, AJAM) on reqwest: the exchange itself
//! (connection reuse, chunked bodies, TLS) is reqwest's; the protocol (cookie,
//! long-poll, re-login) is `ami_proto::http::HttpSession`'s.

use ami_client::tls::IntoClientConfig;
use ami_client::HttpLink;
use ami_proto::http::{HttpRequest, Method};
use ami_proto::Transport;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use crate::pump::now;
use crate::{Client, Config, Error};

/// Connects to Asterisk's HTTP manager interface at `url` (`http://host:8088/`,
/// or under a prefix: `http://host:8088/asterisk/`), logs in and returns the
/// same [`Client`] as over TCP, once ready. `https://` URLs check the server
/// with the system's roots; use [`connect_http_tls`] for another CA.
///
/// Events are fetched by long-polling `WaitEvent` on a connection of their
/// own while actions go on others; the session never expires while the client
/// is open.
pub async fn connect_http(url: &str, config: Config) -> Result<Client, Error> {
    connect_http_tls(url, crate::TlsConfig::system_roots(), config).await
}

/// [`connect_http`] over `https://` with the TLS settings `tls` (a
/// [`TlsConfig`](crate::TlsConfig) or a rustls config).
pub async fn connect_http_tls(
    url: &str,
    tls: impl IntoClientConfig,
    config: Config,
) -> Result<Client, Error> {
    let base = reqwest::Url::parse(url)
        .map_err(|e| Error::Connect(std::io::Error::other(format!("{url}: {e}"))))?;
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .pool_max_idle_per_host(8);
    // reqwest never picks a rustls provider itself (that would panic when an
    // application has two): it always gets ours, with no roots for http://.
    let tls = match base.scheme() {
        "https" => tls.into_client_config()?,
        _ => plain_http_tls()?,
    };
    builder = builder.use_preconfigured_tls((*tls).clone());
    let http = builder.build().map_err(|e| Error::Tls(e.to_string()))?;
    let origin = base.origin().ascii_serialization();
    let (client, link) = ami_client::new_http(config, base.path(), now);
    tokio::spawn(run(link, http, origin));
    client.ready().await?;
    Ok(client)
}

/// A TLS config that trusts nothing, for a client that speaks only `http://`.
fn plain_http_tls() -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
    let provider = ami_client::tls::crypto_provider()
        .ok_or_else(|| Error::Tls("no rustls crypto provider is enabled".into()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Starts every request the session asks for, each on a task of its own, until
/// the client is closed for good.
async fn run(link: HttpLink, http: reqwest::Client, origin: String) {
    let mut requests = Vec::new();
    loop {
        let step = link.step(&mut requests);
        for request in requests.drain(..) {
            let exchange = exchange(link.clone(), http.clone(), origin.clone(), request);
            tokio::spawn(exchange);
        }
        if step.transport == Transport::Stop {
            return;
        }
        let deadline = step.deadline.map(tokio::time::Instant::from_std);
        tokio::select! {
            () = crate::pump::sleep(deadline) => link.timeout(),
            () = std::future::poll_fn(|cx| link.poll_wake(cx)) => {}
        }
    }
}

/// One request and its answer, reported to the session.
async fn exchange(link: HttpLink, http: reqwest::Client, origin: String, request: HttpRequest) {
    let url = format!("{origin}{}", request.target());
    let mut builder = match request.method {
        Method::Post => {
            let body = request.body().unwrap_or_default().to_vec();
            let content_type = request
                .content_type()
                .unwrap_or("application/x-www-form-urlencoded");
            http.post(url).header(CONTENT_TYPE, content_type).body(body)
        }
        _ => http.get(url),
    };
    if let Some(cookie) = &request.cookie {
        builder = builder.header(COOKIE, cookie);
    }
    if let Some(deadline) = request.deadline {
        builder = builder.timeout(deadline.saturating_duration_since(now()));
    }
    let limit = link.max_body();
    let answer = async {
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|v| v.as_bytes().to_vec());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Ok(Err(format!("the answer is over {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Ok((status, cookie, body)))
    };
    match answer.await {
        Ok(Ok((status, cookie, body))) => {
            link.response(request.id, status, cookie.as_deref(), &body)
        }
        Ok(Err(too_large)) => link.failure(request.id, too_large),
        Err(error) => link.failure(request.id, describe(&error)),
    }
}

/// A reqwest error with its causes (reqwest's own message is terse).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
