//! AMI over HTTP (Asterisk's `/rawman`, AJAM) on ureq: the exchange itself
//! (connection reuse, chunked bodies) is ureq's; the protocol (cookie,
//! long-poll, re-login) is `ami_proto::http::HttpSession`'s.

use std::time::{Duration, Instant};

use ami_client::HttpLink;
use ami_proto::http::{HttpRequest, Method};
use ami_proto::Transport;

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
        .spawn(move || run(&link, &agent, &origin))
        .map_err(Error::Io)?;
    client.ready().wait(deadline)?;
    Ok(client)
}

/// Starts every request the session asks for, each on a thread of its own,
/// until the client is closed for good.
fn run(link: &HttpLink, agent: &ureq::Agent, origin: &str) {
    let mut requests = Vec::new();
    loop {
        let step = link.step(&mut requests);
        for request in requests.drain(..) {
            let id = request.id;
            let (task_link, agent, origin) = (link.clone(), agent.clone(), origin.to_owned());
            let started = std::thread::Builder::new()
                .name("ami-http-request".into())
                .spawn(move || exchange(&task_link, &agent, &origin, request));
            if let Err(error) = started {
                link.failure(
                    id,
                    format!("cannot start a thread for the request: {error}"),
                );
            }
        }
        if step.transport == Transport::Stop {
            return;
        }
        let wait = step.deadline.map_or(Duration::from_secs(1), |at| {
            at.saturating_duration_since(Instant::now())
        });
        if !link.wait_wake(wait.min(Duration::from_secs(1))) {
            link.timeout();
        }
    }
}

/// One request and its answer, reported to the session.
fn exchange(link: &HttpLink, agent: &ureq::Agent, origin: &str, request: HttpRequest) {
    let url = format!("{origin}{}", request.target());
    let timeout = request
        .deadline
        .map(|at| at.saturating_duration_since(Instant::now()));
    let cookie = request.cookie.clone().unwrap_or_default();
    let answer = match request.method {
        Method::Post => agent
            .post(&url)
            .header("Cookie", &cookie)
            .header(
                "Content-Type",
                request
                    .content_type()
                    .unwrap_or("application/x-www-form-urlencoded"),
            )
            .config()
            .timeout_global(timeout)
            .build()
            .send(request.body().unwrap_or_default()),
        _ => agent
            .get(&url)
            .header("Cookie", &cookie)
            .config()
            .timeout_global(timeout)
            .build()
            .call(),
    };
    let limit = link.max_body() as u64;
    let read = answer.and_then(|mut response| {
        let status = response.status().as_u16();
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .map(|v| v.as_bytes().to_vec());
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()?;
        Ok((status, set_cookie, body))
    });
    match read {
        Ok((status, set_cookie, body)) => {
            link.response(request.id, status, set_cookie.as_deref(), &body)
        }
        Err(error) => link.failure(request.id, error),
    }
}
