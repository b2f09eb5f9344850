//! A hostile or careless server: trickling, half-honouring ranges, redirecting elsewhere, and
//! URLs or headers that carry credentials.

use std::fs;
use std::time::{Duration, Instant};

use crate::common::fixture::{fetch, fixture, s, Fixture};
use crate::common::server::Fault;
use crate::common::{stdout, ws};
use crate::text;

/// `fetch` with exactly these options (the fixture's helper sets its own timeout and retries).
fn fetch_with(f: &Fixture, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["fetch", &f.server.base, s(&f.dest), "--key", s(&f.key_pub)];
    args.extend_from_slice(extra);
    ws(&args)
}

#[test]
fn trickling_server_is_cut_off_by_the_minimum_rate() {
    let f = fixture();
    f.server
        .fault("big.bin", Fault::Trickle(Duration::from_millis(50)), 1000);
    let t = Instant::now();
    let o = fetch_with(
        &f,
        &["--timeout", "1", "--min-rate", "64", "--retries", "1"],
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("big.bin: FAILED (")
            && text(&o).contains("below the minimum transfer rate of 65536 bytes/s"),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("big.bin").exists());
}

#[test]
fn one_trickled_response_is_retried_and_the_fetch_completes() {
    let f = fixture();
    f.server
        .fault("big.bin", Fault::Trickle(Duration::from_millis(50)), 1);
    let o = fetch_with(&f, &["--timeout", "1", "--min-rate", "64"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        fs::read(f.dest.join("big.bin")).unwrap(),
        fs::read(f.model.join("big.bin")).unwrap()
    );
}

#[test]
fn server_that_stops_honouring_range_is_streamed_once_not_per_chunk() {
    let f = fixture();
    // 206 for the first range request of the whole run, 200 (the whole file) afterwards.
    f.server.ranges_then_whole(1);
    let o = fetch(&f, &["--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sent = f.server.sent("big.bin");
    // At most one chunk by range plus one whole-file stream (300 000 bytes), not 19 streams.
    assert!(sent <= 16384 + 300_000, "{sent} bytes sent for big.bin");
    assert_eq!(
        fs::read(f.dest.join("big.bin")).unwrap(),
        fs::read(f.model.join("big.bin")).unwrap()
    );
}

#[test]
fn redirect_to_another_host_is_refused_unless_allowed() {
    let f = fixture();
    let port = f.server.base.rsplit(':').next().unwrap().to_string();
    let other = format!("http://localhost:{port}/big.bin");
    f.server
        .fault("big.bin", Fault::Redirect(other.clone()), 1000);
    let o = fetch_with(&f, &["--retries", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("redirect from host 127.0.0.1 to another host localhost not followed (allow it with --allow-redirect-host localhost)"),
        "{}",
        text(&o)
    );
    assert!(!f.dest.join("big.bin").exists());
}

#[test]
fn redirect_to_an_allowed_host_is_followed() {
    let f = fixture();
    let port = f.server.base.rsplit(':').next().unwrap().to_string();
    // One redirect to localhost (same server, another host name), then the real bytes.
    f.server.fault(
        "config.json",
        Fault::Redirect(format!("http://localhost:{port}/config.json")),
        1,
    );
    let o = fetch(&f, &["--allow-redirect-host", "localhost"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn credentials_in_urls_are_redacted_everywhere() {
    let f = fixture();
    let hostport = f.server.base.trim_start_matches("http://").to_string();
    // A file fails (HTTP 500): its line names the URL, with the user info redacted.
    f.server.fault("big.bin", Fault::Status(500), 1000);
    let base = format!("http://alice:SECRET-PASSWORD@{hostport}");
    let o = ws(&[
        "fetch",
        &base,
        s(&f.dest),
        "--key",
        s(&f.key_pub),
        "--retries",
        "0",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(!out.contains("SECRET"), "{out}");
    assert!(out.contains("http://***:***@127.0.0.1"), "{out}");
    // A token in the query string, in an exit-2 error (the manifest is not found there).
    let template = format!("http://{hostport}/{{path}}?token=SECRET-TOKEN-1&x=2");
    let o = ws(&[
        "fetch",
        &f.server.base,
        s(&f.dest),
        "--key",
        s(&f.key_pub),
        "--url-template",
        &template,
        "--retries",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("SECRET"), "{}", text(&o));
    assert!(text(&o).contains("token=***&x=***"), "{}", text(&o));
}

#[test]
fn header_token_is_sent_but_never_shown_and_hf_token_stays_off_other_hosts() {
    let f = fixture();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args([
            "fetch",
            &f.server.base,
            s(&f.dest),
            "--key",
            s(&f.key_pub),
            "--header",
            "Authorization: Bearer SECRET-HEADER",
            "--json",
        ])
        .env("HF_TOKEN", "SECRET-HF")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("SECRET"), "{}", text(&o));
    let seen = f.server.authorization();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|a| a.as_deref() == Some("Bearer SECRET-HEADER")),
        "{seen:?}"
    );
    // Without --header, HF_TOKEN is not sent to a host that is not Hugging Face's.
    let dest2 = f.dest.with_file_name("dest2");
    let before = f.server.authorization().len();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_weightseal"))
        .args(["fetch", &f.server.base, s(&dest2), "--key", s(&f.key_pub)])
        .env("HF_TOKEN", "SECRET-HF")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(f.server.authorization()[before..]
        .iter()
        .all(Option::is_none));
}

/// Finding 9: credentials in query strings under names no list had (`hf_token`, `jwt`, …)
/// were printed. Every query value is redacted.
#[test]
fn every_query_value_is_redacted_whatever_its_name() {
    let f = fixture();
    let hostport = f.server.base.trim_start_matches("http://");
    let template = format!(
        "http://{hostport}/gone/{{path}}?hf_token=SECRET-1&private_token=SECRET-2&jwt=SECRET-3&client_secret=SECRET-4&api-key=SECRET-5&access-token=SECRET-6&auth_token=SECRET-7"
    );
    for json in [false, true] {
        let mut args = vec!["--url-template", template.as_str(), "--retries", "0"];
        if json {
            args.push("--json");
        }
        let o = fetch_with(&f, &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(!text(&o).contains("SECRET"), "{}", text(&o));
        assert!(
            text(&o).contains("hf_token=***") && text(&o).contains("jwt=***"),
            "{}",
            text(&o)
        );
    }
}

/// Finding 10: `--header` values went along a redirect to another port of the same host (and
/// to Hugging Face CDN hosts), and HF_TOKEN over plain http.
#[test]
fn headers_stay_with_the_origin_the_user_named() {
    let f = fixture();
    // The same files on another port of the same host, where small.bin redirects.
    let other = crate::common::server::Server::start(f.model.clone());
    f.server.fault(
        "small.bin",
        Fault::Redirect(format!("{}/small.bin", other.base)),
        100,
    );
    let o = fetch_with(&f, &["--header", "X-Api-Key: SECRET-KEY", "--retries", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("SECRET"), "{}", text(&o));
    let here = f.server.header("x-api-key");
    assert!(
        !here.is_empty() && here.iter().all(|h| h.as_deref() == Some("SECRET-KEY")),
        "{here:?}"
    );
    let there = other.header("x-api-key");
    assert!(
        !there.is_empty() && there.iter().all(Option::is_none),
        "the header went to another port: {there:?}"
    );
    // The same rules for hosts no test can reach: a Hugging Face CDN host a redirect leads
    // to gets no header, and the token never travels over plain http.
    let u = |s: &str| reqwest::Url::parse(s).unwrap();
    let given = [u("https://huggingface.co/org/model/resolve/main")];
    assert!(weightseal::net::headers_go_to(
        &u("https://huggingface.co/org/model/resolve/main/x"),
        &given,
        &[]
    ));
    assert!(!weightseal::net::headers_go_to(
        &u("https://cas-bridge.xethub.hf.co/x"),
        &given,
        &[]
    ));
    assert!(!weightseal::net::hf_token_goes_to(&u(
        "http://huggingface.co/org/model/resolve/main/x"
    )));
    assert!(weightseal::net::hf_token_goes_to(&u(
        "https://huggingface.co/org/model/resolve/main/x"
    )));
}
