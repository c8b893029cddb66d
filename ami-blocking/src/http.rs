//! AMI over HTTP (Asterisk's `/rawman`, AJAM) on ureq: the exchange itself
//! (connection reuse, chunked bodies) is ureq's; the protocol (cookie,
//! long-poll, re-login) is `ami_proto::http::HttpSession`'s.

use std::time::Instant;

use ami_client::{Answer, Call};

use crate::{Client, Config, Error};

/// Connects to Asterisk's HTTP manager interface at `url` (`http://host:8088/`,
/// or under a prefix: `http://host:8088/asterisk/`), logs in and returns the
/// same [`Client`] as over TCP, once ready. Events are long-polled on a
/// connection of their own while actions go on others; each request runs on a
/// thread of its own, bounded by its deadline.
///
/// Only `http://` here: `https://` is served by `ami_tokio::connect_http`
/// (ureq's rustls cannot take this crate's TLS settings as they are).
pub fn connect_http(url: &str, config: Config) -> Result<Client, Error> {
    let refused = |why: String| Error::Connect(std::io::Error::other(format!("{url}: {why}")));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| refused("only http:// URLs are served by ami-blocking".into()))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let origin = format!("http://{authority}");
    let base_path = if path.is_empty() { "/" } else { path };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(config.connect_timeout))
        .build()
        .into();
    let deadline = Instant::now() + config.connect_timeout + config.login_timeout;
    let (client, link) = ami_client::new_http(config, base_path, Instant::now);
    std::thread::Builder::new()
        .name("ami-http".into())
        .spawn(move || link.run_blocking(&origin, move |call| exchange(&agent, call)))
        .map_err(Error::Io)?;
    client.ready().wait(deadline)?;
    Ok(client)
}

/// One exchange on ureq, its body read up to the call's limit.
fn exchange(agent: &ureq::Agent, call: Call) -> Result<Answer, String> {
    let cookie = call.cookie.unwrap_or_default();
    let answer = match call.post {
        Some((kind, body)) => (agent.post(&call.url).header("Cookie", &cookie))
            .header("Content-Type", kind)
            .config()
            .timeout_global(call.timeout)
            .build()
            .send(&body[..]),
        None => (agent.get(&call.url).header("Cookie", &cookie))
            .config()
            .timeout_global(call.timeout)
            .build()
            .call(),
    };
    let mut response = answer.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.as_bytes().to_vec());
    let body = response
        .body_mut()
        .with_config()
        .limit(call.max_body as u64)
        .read_to_vec();
    let body = body.map_err(|e| e.to_string())?;
    Ok(Answer {
        status,
        set_cookie,
        body,
    })
}
