//! AMI over HTTP (Asterisk's `/rawman`, AJAM) on reqwest: the exchange itself
//! (connection reuse, chunked bodies, TLS) is reqwest's; the protocol (cookie,
//! long-poll, re-login) is `ami_proto::http::HttpSession`'s.

use ami_client::tls::IntoClientConfig;
use ami_client::{Answer, Call};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use crate::{now, Client, Config, Error, Tokio};

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
    let exchange =
        move |call| -> ami_client::pump::BoxFuture<_> { Box::pin(exchange(http.clone(), call)) };
    let spawn = |task| drop(tokio::spawn(task));
    tokio::spawn(link.run::<Tokio>(origin, exchange, spawn));
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

/// One exchange on reqwest, its body read up to the call's limit.
async fn exchange(http: reqwest::Client, call: Call) -> Result<Answer, String> {
    let mut builder = match call.post {
        Some((kind, body)) => http.post(call.url).header(CONTENT_TYPE, kind).body(body),
        None => http.get(call.url),
    };
    if let Some(cookie) = &call.cookie {
        builder = builder.header(COOKIE, cookie);
    }
    if let Some(timeout) = call.timeout {
        builder = builder.timeout(timeout);
    }
    let mut response = builder.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.as_bytes().to_vec());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > call.max_body {
            return Err(format!("the answer is over {} bytes", call.max_body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        set_cookie,
        body,
    })
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
