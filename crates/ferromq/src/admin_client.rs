//! `ferromq redrive` and `ferromq destinations`: a minimal blocking HTTP/1.1 client for a
//! running broker's admin API (docs/admin.md). One request per connection, as the server
//! closes after each answer.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// ActiveMQ's web console port, which the admin API takes by default.
pub const DEFAULT_PORT: u16 = 8161;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous: redriving a large dead-letter queue is one request.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on a response, so a wrong address cannot make the CLI read forever.
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// Where the admin API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP (IPv6 without brackets).
    host: String,
    port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Target {
    /// The API of a broker configured with `[admin] bind`/`port`: a wildcard bind address is
    /// reached over loopback.
    pub fn from_bind(bind: &str, port: u16) -> Self {
        let host = match bind {
            "0.0.0.0" => "127.0.0.1",
            "::" | "[::]" => "::1",
            other => other.trim_start_matches('[').trim_end_matches(']'),
        };
        Self {
            host: host.to_owned(),
            port,
        }
    }

    /// Parses `host:port`, `host` (port 8161), `[v6]:port` or `http://host:port[/]`.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s.trim();
        let rest = rest.strip_prefix("http://").unwrap_or(rest);
        if rest.contains("://") {
            bail!("admin address '{s}': only http:// is supported");
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("admin address '{s}' has a path; give host:port");
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("admin address '{s}': unclosed '['"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| {
                        anyhow!("admin address '{s}': expected ':port' after ']'")
                    })?),
                ),
            }
        } else {
            match rest.split_once(':') {
                Some((_, p)) if p.contains(':') => {
                    bail!("admin address '{s}': write an IPv6 address as [addr]:port")
                }
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            bail!("admin address '{s}' has no host");
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p
                .parse()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| anyhow!("admin address '{s}': '{p}' is not a port"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for a path segment or a
/// query value).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request; returns the status and the JSON body. A non-2xx answer is an error
/// carrying the server's `error` message.
fn request(target: &Target, method: &str, path_and_query: &str) -> Result<Value> {
    let unreachable = || {
        format!(
            "cannot reach the admin API at {target} (is the broker running, with [admin] enabled?)"
        )
    };
    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .with_context(unreachable)?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e).with_context(unreachable),
        (None, None) => bail!("{}: no address", unreachable()),
    };
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let req = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: ferromq/{}\r\n\
         Accept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(req.as_bytes())
        .with_context(|| format!("sending the request to {target}"))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer of {target}"))?;
    let (status, body) = parse_response(&raw)
        .with_context(|| format!("{target} did not answer like ferromq's admin API"))?;
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if !(200..300).contains(&status) {
        let msg = json
            .as_ref()
            .and_then(|v| v["error"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        bail!("{msg} (HTTP {status} from {target})");
    }
    json.ok_or_else(|| anyhow!("{target} answered {status} without a JSON body"))
}

/// Splits an HTTP/1.x response into its status code and body.
fn parse_response(raw: &[u8]) -> Result<(u16, &[u8])> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("incomplete HTTP response"))?;
    let head = std::str::from_utf8(&raw[..end]).context("HTTP response head is not UTF-8")?;
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        bail!("bad status line '{status_line}'");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("bad status line '{status_line}'");
    }
    let code = code
        .parse()
        .with_context(|| format!("bad status line '{status_line}'"))?;
    Ok((code, &raw[end + 4..]))
}

/// `ferromq redrive`: returns how many messages moved.
pub fn redrive(target: &Target, dlq: &str, message_id: Option<&str>) -> Result<u64> {
    let mut path = format!("/api/queues/{}/redrive", encode_component(dlq));
    if let Some(id) = message_id {
        path.push_str("?message-id=");
        path.push_str(&encode_component(id));
    }
    let v = request(target, "POST", &path)?;
    v["moved"]
        .as_u64()
        .ok_or_else(|| anyhow!("answer lacks \"moved\": {v}"))
}

/// `ferromq destinations`: the listing as a table.
pub fn destinations(target: &Target) -> Result<String> {
    let v = request(target, "GET", "/api/destinations")?;
    let list = v["destinations"]
        .as_array()
        .ok_or_else(|| anyhow!("answer lacks \"destinations\": {v}"))?;
    let cols = ["pending", "delayed", "paged_out", "consumers"];
    let mut rows: Vec<[String; 6]> = vec![[
        "KIND".into(),
        "NAME".into(),
        "PENDING".into(),
        "DELAYED".into(),
        "PAGED_OUT".into(),
        "CONSUMERS".into(),
    ]];
    for d in list {
        let num = |k: &str| {
            d[k].as_u64()
                .map_or_else(|| "?".to_owned(), |n| n.to_string())
        };
        rows.push([
            d["kind"].as_str().unwrap_or("?").to_owned(),
            d["name"].as_str().unwrap_or("?").to_owned(),
            num(cols[0]),
            num(cols[1]),
            num(cols[2]),
            num(cols[3]),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {:>w5$}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// A DLQ named on the command line: `NAME` or `/queue/NAME`.
pub fn queue_name(arg: &str) -> Result<&str> {
    if arg.starts_with("/topic/") || arg.starts_with("/temp-") {
        bail!("'{arg}' is not a queue: redrive works on dead-letter queues");
    }
    let name = arg.strip_prefix("/queue/").unwrap_or(arg);
    if name.is_empty() {
        bail!("empty queue name");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("127.0.0.1:8161").unwrap(),
            t("127.0.0.1", 8161)
        );
        assert_eq!(Target::parse("broker1").unwrap(), t("broker1", 8161));
        assert_eq!(Target::parse("http://b:9000/").unwrap(), t("b", 9000));
        assert_eq!(Target::parse("[::1]:81").unwrap(), t("::1", 81));
        assert_eq!(Target::parse("[::1]").unwrap(), t("::1", 8161));
        for bad in [
            "https://b:1",
            "b:0",
            "b:x",
            "b:1/api",
            "::1",
            ":81",
            "[::1",
            "[::1]x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(t("::1", 1).to_string(), "[::1]:1");
        assert_eq!(Target::from_bind("0.0.0.0", 5), t("127.0.0.1", 5));
        assert_eq!(Target::from_bind("::", 5), t("::1", 5));
        assert_eq!(Target::from_bind("10.0.0.2", 5), t("10.0.0.2", 5));
    }

    #[test]
    fn encoding_and_names() {
        assert_eq!(
            encode_component("ID:a b/c?&=%+é"),
            "ID%3Aa%20b%2Fc%3F%26%3D%25%2B%C3%A9"
        );
        assert_eq!(encode_component("DLQ.orders-1_~"), "DLQ.orders-1_~");
        assert_eq!(queue_name("/queue/DLQ.x").unwrap(), "DLQ.x");
        assert_eq!(queue_name("ActiveMQ.DLQ").unwrap(), "ActiveMQ.DLQ");
        assert!(queue_name("/topic/x").is_err());
        assert!(queue_name("/queue/").is_err());
    }

    #[test]
    fn responses() {
        let (code, body) = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n{}").unwrap();
        assert_eq!((code, body), (404, &b"{}"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
