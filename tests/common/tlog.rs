//! Helpers of the transparency log tests that run servers (`tests/log_deploy.rs`,
//! `tests/log_interop.rs`): processes whose output is drained into a buffer and which are killed
//! when dropped, free loopback ports, keys, a log directory and signed releases.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{stderr, stdout, ws};

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A process whose stdout and stderr are read into one buffer as they come (so it never
/// blocks on a full pipe), stopped when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `cmd` with its stdout and stderr drained into [`Proc::output`].
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let drain = |r: Box<dyn Read + Send>, out: Arc<Mutex<String>>| {
            std::thread::spawn(move || {
                let mut r = BufReader::new(r);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    out.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        };
        drain(Box::new(child.stdout.take().unwrap()), out.clone());
        drain(Box::new(child.stderr.take().unwrap()), out.clone());
        Proc {
            name: name.to_string(),
            child,
            out,
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits (at most `secs` seconds) until `find` finds something in its output, and returns
    /// that; panics, with the output, when it exits or the time is up first.
    pub fn wait_for<T>(&mut self, secs: u64, find: impl Fn(&str) -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(t) = find(&self.output()) {
                return t;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("{} exited ({status}):\n{}", self.name, self.output());
            }
            if Instant::now() > end {
                panic!(
                    "{}: not ready after {secs} s:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first `http://…` address it printed (with `/add-checkpoint` or a trailing
    /// punctuation cut off).
    pub fn wait_for_url(&mut self, secs: u64) -> String {
        self.wait_for(secs, |out| {
            let at = out.find("http://")?;
            let url = out[at..].split_whitespace().next()?;
            let url = url.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
            Some(url.trim_end_matches("/add-checkpoint").to_string())
        })
    }

    /// The first whole line of its output that starts with `prefix`.
    pub fn wait_for_line(&mut self, secs: u64, prefix: &str) -> String {
        self.wait_for(secs, |out| {
            out.split_inclusive('\n')
                .find(|l| l.starts_with(prefix) && l.ends_with('\n'))
                .map(|l| l.trim().to_string())
        })
    }
}

impl Drop for Proc {
    /// SIGTERM first, so that a server with workers (nginx) stops them, then SIGKILL after 5 s.
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `weightseal ARGS` as a server; its address is the `http://` URL it prints.
pub fn weightseal_server(name: &str, args: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(super::bin());
    cmd.args(args).env(
        "WEIGHTSEAL_TRUST",
        "/nonexistent/weightseal-tests/trust.toml",
    );
    let mut p = Proc::spawn(name, cmd);
    let url = p.wait_for_url(30);
    (p, url)
}

/// `weightseal witness serve` for the log `log_vkey`: the process, its URL and its verifier key.
pub fn weightseal_witness(dir: &Path, name: &str, log_vkey: &str) -> (Proc, String, String) {
    let k = key(dir, &format!("{name}.key"));
    let state = dir.join(format!("{name}.json"));
    let mut cmd = Command::new(super::bin());
    cmd.args([
        "witness",
        "serve",
        "--key",
        s(&k),
        "--name",
        name,
        "--log",
        log_vkey,
        "--listen",
        "127.0.0.1:0",
        "--state",
        s(&state),
    ])
    .env(
        "WEIGHTSEAL_TRUST",
        "/nonexistent/weightseal-tests/trust.toml",
    );
    let mut p = Proc::spawn(name, cmd);
    let vkey = p.wait_for_line(30, &format!("{name}+"));
    let url = p.wait_for_url(30);
    (p, url, vkey)
}

/// A new ed25519 key `dir/name` (and `dir/name.pub`).
pub fn key(dir: &Path, name: &str) -> PathBuf {
    let k = dir.join(name);
    let o = ws(&["keygen", "--out", s(&k)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    k
}

/// `weightseal log init DIR --origin ORIGIN`: the log's verifier key.
pub fn init_log(dir: &Path, origin: &str, key: &Path) -> String {
    let o = ws(&["log", "init", s(dir), "--origin", origin, "--key", s(key)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let vkey = stdout(&o).lines().next().unwrap().to_string();
    assert!(vkey.starts_with(&format!("{origin}+")), "{vkey}");
    vkey
}

/// A model `name` hashed and signed by `signer`, version `version`, in `dir`.
pub fn release(dir: &Path, name: &str, content: &[u8], signer: &Path, version: u64) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("w.bin"), content).unwrap();
    let o = ws(&["hash", s(dir), "--name", name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = version.to_string();
    let o = ws(&["sign", s(dir), "--key", s(signer), "--version", &v]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// `n` unsigned release entries (`org-bulk/m<i>`), encoded.
pub fn bulk_entries(n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            weightseal::log::LogEntry {
                model: format!("org-bulk/m{i}"),
                manifest: weightseal::Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                version: None,
                attestations: vec![],
            }
            .encode()
        })
        .collect()
}

/// Appends `entries` to the log in `logdir` with `weightseal log add --entries`.
pub fn add_entries(logdir: &Path, key: &Path, entries: &[Vec<u8>]) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let lines: String = entries
        .iter()
        .map(|e| format!("{}\n", b64.encode(e)))
        .collect();
    let file = logdir.with_extension("entries.txt");
    std::fs::write(&file, lines).unwrap();
    let o = ws(&[
        "log",
        "add",
        s(logdir),
        "--key",
        s(key),
        "--entries",
        s(&file),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// `log serve` run by the library in a thread with `limits` (an empty log of its own, batches
/// of 5 ms): its directory, address and verifier key.
pub fn library_log(
    limits: weightseal::log::serve::Limits,
) -> (
    tempfile::TempDir,
    std::net::SocketAddr,
    weightseal::log::VerifierKey,
) {
    use weightseal::log::serve::{self, Batching, LogOptions};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let key = Arc::new(weightseal::attest::PrivateKey::from_seed(&[3; 32]));
    let vkey = weightseal::log::store::LogDir::new(&dir)
        .init("example.test/library", key.clone())
        .unwrap();
    let listener = serve::bind("127.0.0.1:0").unwrap();
    let addr = listener.server_addr();
    std::thread::spawn(move || {
        serve::serve_log(
            listener,
            &dir,
            key,
            vec![],
            LogOptions {
                batching: Batching {
                    every: std::time::Duration::from_millis(5),
                    max: 64,
                },
                limits,
                ..Default::default()
            },
        )
    });
    (tmp, addr, vkey)
}

/// A `weightseal` server process (`log serve`, `witness serve`), killed when dropped.
/// A `weightseal` server process, killed when dropped; its stderr collected as it comes.
pub struct Served {
    child: Child,
    pub addr: std::net::SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    /// The first line it printed on stdout (a verifier key), if it prints one.
    pub first_line: Option<String>,
    /// Everything it printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `weightseal ARGS` (listening on 127.0.0.1:0); its address read from its first stderr
    /// line, its first stdout line kept when `prints_key`.
    pub fn start(args: &[&str], prints_key: bool) -> Served {
        let mut child = Command::new(super::bin())
            .args(args)
            .env("WEIGHTSEAL_TRUST", "/nonexistent/trust.toml")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let first_line = prints_key.then(|| {
            let mut l = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut l)
                .unwrap();
            l.trim().to_string()
        });
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let at = line
            .find("http://")
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let addr: std::net::SocketAddr = line[at + 7..]
            .split(['/', ' ', '\n'])
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let stderr = Arc::new(Mutex::new(line));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                let mut s = collected.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        Served {
            child,
            addr,
            url: format!("http://{addr}"),
            first_line,
            stderr,
        }
    }

    /// The server's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in {status}"))
    }
}
