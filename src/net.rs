//! What the HTTP side trusts and what it shows: credentials kept out of every message, the
//! redirects that are followed, a minimum transfer rate, and where a Hugging Face token goes.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use reqwest::Url;

/// One URL with its user name, password and every query value replaced by `***` (the names
/// stay). No list of credential-bearing names can be complete (`hf_token`, `private_token`,
/// `jwt`, `client_secret`, …), so no query value is ever shown. A string that does not parse
/// as a URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return url.to_string();
    };
    let mut changed = false;
    if !u.username().is_empty() {
        let _ = u.set_username("***");
        changed = true;
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
        changed = true;
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if v.is_empty() {
                    String::new()
                } else {
                    changed = true;
                    "***".to_string()
                };
                (k.into_owned(), v)
            })
            .collect();
        if changed {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if changed {
        // The query serializer escapes '*'; keep the marker readable.
        u.to_string().replace("%2A%2A%2A", "***")
    } else {
        url.to_string()
    }
}

/// `text` with every `http://` or `https://` URL in it redacted ([`redact_url`]): for messages
/// that quote URLs, including errors of the HTTP library.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let tail = &rest[i..];
        if !(tail.starts_with("http://") || tail.starts_with("https://")) {
            out.push_str(&rest[..i + 4]);
            rest = &rest[i + 4..];
            continue;
        }
        out.push_str(&rest[..i]);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Hosts that serve Hugging Face files: `huggingface.co`, `hf.co` and their subdomains.
pub fn is_hf_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    ["huggingface.co", "hf.co"]
        .iter()
        .any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

/// Whether a Hugging Face token goes with a request to `target`: only over `https`, and only
/// to `huggingface.co` and `hf.co` themselves (not their CDN subdomains, where
/// `huggingface_hub` does not send it either).
pub fn hf_token_goes_to(target: &Url) -> bool {
    target.scheme() == "https"
        && target.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "huggingface.co" || h == "hf.co"
        })
}

/// A URL's origin: scheme, lowercase host, port (or the scheme's default).
pub fn origin(u: &Url) -> Option<(String, String, u16)> {
    Some((
        u.scheme().to_string(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default()?,
    ))
}

/// Whether the user's `--header`s go with a request to `target`: only to the origin (scheme,
/// host and port) of a URL the user gave (`given`: the model's URL, the URL template), or to a
/// host allowed with `--allow-redirect-host` — never to another port of the same host, nor to
/// a host a redirect leads to (a Hugging Face CDN host included).
pub fn headers_go_to(target: &Url, given: &[Url], allowed_hosts: &[String]) -> bool {
    let o = origin(target);
    (o.is_some() && given.iter().any(|g| origin(g) == o))
        || target
            .host_str()
            .is_some_and(|h| host_allowed(h, allowed_hosts))
}

/// Whether `host` matches an allowed pattern: an exact host, or `.example.com` for any
/// subdomain of example.com.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let h = host.to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix('.') {
            Some(suffix) => h == suffix || h.ends_with(&format!(".{suffix}")),
            None => h == a,
        }
    })
}

/// Decides one redirect from `from` (the URL first asked for) to `to`:
/// - only `http` and `https` targets;
/// - never from `https` down to `http` (the bytes would travel unprotected);
/// - the same host always; another host only when `allowed` names it (`host` or `.domain`),
///   or when both are Hugging Face hosts (its resolve URLs redirect to its CDN).
pub fn redirect_decision(from: &Url, to: &Url, allowed: &[String]) -> Result<(), String> {
    if !matches!(to.scheme(), "http" | "https") {
        return Err(format!(
            "redirect to a non-HTTP URL {} not followed (only http and https are)",
            redact_url(to.as_str())
        ));
    }
    if from.scheme() == "https" && to.scheme() == "http" {
        return Err(format!(
            "redirect from https to plain http ({}) refused",
            redact_url(to.as_str())
        ));
    }
    let (fh, th) = (from.host_str().unwrap_or(""), to.host_str().unwrap_or(""));
    if fh.eq_ignore_ascii_case(th)
        || host_allowed(th, allowed)
        || (is_hf_host(fh) && is_hf_host(th))
    {
        return Ok(());
    }
    Err(format!(
        "redirect from host {fh} to another host {th} not followed (allow it with --allow-redirect-host {th})"
    ))
}

/// A body reader that enforces a minimum average transfer rate: after a grace period, the
/// bytes received must keep up with `min_rate` bytes per second since the request started.
/// A server that trickles (one byte a second) is cut off instead of holding a worker forever;
/// the idle timeout alone would never fire.
pub struct Deadline<R> {
    inner: R,
    start: Instant,
    grace: Duration,
    min_rate: u64,
    received: u64,
}

impl<R> Deadline<R> {
    /// `min_rate` 0 disables the check.
    pub fn new(inner: R, start: Instant, grace: Duration, min_rate: u64) -> Deadline<R> {
        Deadline {
            inner,
            start,
            grace,
            min_rate,
            received: 0,
        }
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn check(&self) -> io::Result<()> {
        if self.min_rate == 0 {
            return Ok(());
        }
        let elapsed = self.start.elapsed();
        let allowed =
            self.grace + Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        if elapsed > allowed {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "too slow: {} bytes in {:.0} s, below the minimum transfer rate of {} bytes/s (--min-rate)",
                    self.received,
                    elapsed.as_secs_f64(),
                    self.min_rate
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        let n = self.inner.read(buf)?;
        self.received += n as u64;
        if n > 0 {
            self.check()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_url("https://user:pw@h.example/a?x=1&token=abc&X-Amz-Signature=ff"),
            "https://***:***@h.example/a?x=***&token=***&X-Amz-Signature=***"
        );
        // Every value, whatever its name: no list of secret names is complete.
        for name in [
            "hf_token",
            "private_token",
            "auth_token",
            "api-key",
            "client_secret",
            "jwt",
            "access-token",
            "x",
        ] {
            assert_eq!(
                redact_url(&format!("https://h/a?{name}=s3cr3t&flag")),
                format!("https://h/a?{name}=***&flag="),
            );
        }
        assert_eq!(redact_url("https://h/a/b"), "https://h/a/b");
        assert_eq!(
            redact("error sending request for url (http://u:p@127.0.0.1:9/x?sig=1): refused"),
            "error sending request for url (http://***:***@127.0.0.1:9/x?sig=***): refused"
        );
        assert_eq!(
            redact("no url here, http is a word"),
            "no url here, http is a word"
        );
    }

    #[test]
    fn tokens_and_headers_go_only_where_told() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(hf_token_goes_to(&u(
            "https://huggingface.co/o/m/resolve/main/x"
        )));
        assert!(hf_token_goes_to(&u("https://HF.co/x")));
        assert!(!hf_token_goes_to(&u("http://huggingface.co/x")));
        assert!(!hf_token_goes_to(&u("https://cas-bridge.xethub.hf.co/x")));
        assert!(!hf_token_goes_to(&u(
            "https://huggingface.co.evil.example/x"
        )));
        let given = [u("https://huggingface.co/o/m")];
        assert!(headers_go_to(
            &u("https://huggingface.co/o/m/x"),
            &given,
            &[]
        ));
        assert!(!headers_go_to(&u("https://cdn-lfs.hf.co/x"), &given, &[]));
        assert!(!headers_go_to(
            &u("https://huggingface.co:8443/x"),
            &given,
            &[]
        ));
        assert!(!headers_go_to(&u("http://huggingface.co/x"), &given, &[]));
        assert!(headers_go_to(
            &u("https://cdn.example/x"),
            &given,
            &[".example".into()]
        ));
    }

    #[test]
    fn redirects() {
        let u = |s: &str| Url::parse(s).unwrap();
        let none: &[String] = &[];
        assert!(redirect_decision(&u("https://a/x"), &u("https://a/y"), none).is_ok());
        let e = redirect_decision(&u("https://a/x"), &u("http://a/y"), none).unwrap_err();
        assert!(e.contains("from https to plain http"), "{e}");
        let e = redirect_decision(&u("https://a/x"), &u("https://b/y"), none).unwrap_err();
        assert!(e.contains("--allow-redirect-host b"), "{e}");
        assert!(redirect_decision(&u("https://a/x"), &u("https://b/y"), &["b".into()]).is_ok());
        assert!(redirect_decision(
            &u("https://a/x"),
            &u("https://cdn.b.org/y"),
            &[".b.org".into()]
        )
        .is_ok());
        assert!(redirect_decision(
            &u("https://huggingface.co/o/m/resolve/main/x"),
            &u("https://cas-bridge.xethub.hf.co/y"),
            none
        )
        .is_ok());
        let e = redirect_decision(&u("http://a/x"), &u("file:///etc/passwd"), none).unwrap_err();
        assert!(e.contains("non-HTTP"), "{e}");
    }

    #[test]
    fn deadline_cuts_off_a_trickle() {
        struct Trickle;
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                buf[0] = 0;
                Ok(1)
            }
        }
        let mut d = Deadline::new(Trickle, Instant::now(), Duration::from_millis(100), 1000);
        let mut buf = [0u8; 16];
        let e = loop {
            if let Err(e) = d.read(&mut buf) {
                break e;
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(
            e.to_string().contains("below the minimum transfer rate"),
            "{e}"
        );
    }
}
