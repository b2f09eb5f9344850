//! A real HTTP/1.1 server on 127.0.0.1 for the download tests: serves a directory with
//! `Range` support, counts the bytes it sends, and injects faults on request.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One kind of misbehaviour, applied to the next `times` requests for a path.
#[derive(Clone, Debug)]
pub enum Fault {
    /// XOR 0x01 into the byte at this file offset when the response covers it.
    FlipByte(u64),
    /// Send the headers, then only half of the body, then close.
    Truncate,
    /// Send 4 KiB more than the file (close-delimited body, no Content-Length).
    ExtraBytes,
    /// Answer 500.
    Status(u16),
    /// Send half of the body, then drop the connection.
    Reset,
    /// Send the headers, then nothing for this long.
    Stall(Duration),
    /// Answer 302 with this Location.
    Redirect(String),
    /// Send the headers, then the body one byte at a time with this pause between bytes.
    Trickle(Duration),
}

#[derive(Default)]
struct State {
    faults: HashMap<String, Vec<(Fault, u32)>>,
    /// Bytes of body sent, per path.
    sent: HashMap<String, u64>,
    requests: HashMap<String, u64>,
    /// Range requests still honoured (None: all).
    range_budget: Option<u64>,
    /// The Authorization header of each request, in order.
    authorization: Vec<Option<String>>,
    /// Every header of each request (names lowercase), in order.
    headers: Vec<Vec<(String, String)>>,
}

pub struct Server {
    pub base: String,
    root: PathBuf,
    state: Arc<Mutex<State>>,
    ignore_range: Arc<AtomicBool>,
    delay_per_response: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `root` on an ephemeral port of 127.0.0.1.
    pub fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let s = Server {
            base,
            root,
            state: Arc::default(),
            ignore_range: Arc::default(),
            delay_per_response: Arc::default(),
            stop: Arc::default(),
        };
        let (root, state, ignore, delay, stop) = (
            s.root.clone(),
            s.state.clone(),
            s.ignore_range.clone(),
            s.delay_per_response.clone(),
            s.stop.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, state, ignore, delay) =
                    (root.clone(), state.clone(), ignore.clone(), delay.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &root, &state, &ignore, &delay);
                });
            }
        });
        s
    }

    pub fn fault(&self, path: &str, fault: Fault, times: u32) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_string())
            .or_default()
            .push((fault, times));
    }

    /// Honour `Range` for the next `n` range requests, then answer 200 with the whole file.
    pub fn ranges_then_whole(&self, n: u64) {
        self.state.lock().unwrap().range_budget = Some(n);
    }

    /// The value of header `name` in every request so far (None where absent).
    pub fn header(&self, name: &str) -> Vec<Option<String>> {
        self.state
            .lock()
            .unwrap()
            .headers
            .iter()
            .map(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    /// The Authorization header of every request so far (None where absent).
    pub fn authorization(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().authorization.clone()
    }

    pub fn ignore_range(&self, on: bool) {
        self.ignore_range.store(on, Ordering::Relaxed);
    }

    /// Sleep this long before each weight response (to make a download slow enough to kill).
    pub fn delay(&self, d: Duration) {
        self.delay_per_response
            .store(d.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, path: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .sent
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_sent(&self) -> u64 {
        self.state.lock().unwrap().sent.values().sum()
    }

    pub fn requests(&self, path: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .requests
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_counts(&self) {
        let mut s = self.state.lock().unwrap();
        s.sent.clear();
        s.requests.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

fn handle(
    mut conn: TcpStream,
    root: &std::path::Path,
    state: &Mutex<State>,
    ignore: &AtomicBool,
    delay: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut range: Option<(u64, Option<u64>)> = None;
        let mut auth: Option<String> = None;
        let mut all: Vec<(String, String)> = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                all.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                if k.eq_ignore_ascii_case("authorization") {
                    auth = Some(v.trim().to_string());
                }
                if k.eq_ignore_ascii_case("range") {
                    let v = v.trim().trim_start_matches("bytes=");
                    if let Some((a, b)) = v.split_once('-') {
                        range = Some((a.parse().unwrap_or(0), b.parse().ok()));
                    }
                }
            }
        }
        let path = percent_decode(target.trim_start_matches('/'));
        state.lock().unwrap().authorization.push(auth);
        state.lock().unwrap().headers.push(all);
        state
            .lock()
            .unwrap()
            .requests
            .entry(path.clone())
            .and_modify(|n| *n += 1)
            .or_insert(1);
        let data = match std::fs::read(root.join(&path)) {
            Ok(d) if !path.contains("..") => d,
            _ => {
                conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")?;
                continue;
            }
        };
        let size = data.len() as u64;
        let honour = {
            let mut st = state.lock().unwrap();
            match (&mut st.range_budget, range) {
                (Some(0), Some(_)) => false,
                (Some(n), Some(_)) => {
                    *n -= 1;
                    true
                }
                _ => true,
            }
        };
        let (status, start, end) = match range {
            Some((a, b)) if honour && !ignore.load(Ordering::Relaxed) && a < size => {
                (206, a, b.map(|b| (b + 1).min(size)).unwrap_or(size))
            }
            _ => (200, 0, size),
        };
        // The first pending fault for this path that applies to this response (a byte flip
        // applies only to a response that carries that byte).
        let fault = {
            let mut s = state.lock().unwrap();
            let list = s.faults.entry(path.clone()).or_default();
            let applies = |f: &Fault| match f {
                Fault::FlipByte(off) => (start..end).contains(off),
                _ => true,
            };
            match list.iter_mut().find(|(f, n)| *n > 0 && applies(f)) {
                Some((f, n)) => {
                    *n -= 1;
                    Some(f.clone())
                }
                None => None,
            }
        };
        if let Some(Fault::Redirect(to)) = &fault {
            conn.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            )?;
            continue;
        }
        if let Some(Fault::Status(code)) = fault {
            conn.write_all(
                format!("HTTP/1.1 {code} Injected\r\nContent-Length: 0\r\n\r\n").as_bytes(),
            )?;
            continue;
        }
        let d = delay.load(Ordering::Relaxed);
        if d > 0 && !path.starts_with("weightseal.") {
            std::thread::sleep(Duration::from_millis(d));
        }
        let mut body = data[start as usize..end as usize].to_vec();
        if let Some(Fault::FlipByte(off)) = fault {
            if (start..end).contains(&off) {
                body[(off - start) as usize] ^= 1;
            }
        }
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\n",
            if status == 206 {
                "Partial Content"
            } else {
                "OK"
            }
        );
        if status == 206 {
            head.push_str(&format!(
                "Content-Range: bytes {}-{}/{size}\r\n",
                start,
                end - 1
            ));
        }
        match fault {
            Some(Fault::ExtraBytes) => {
                body.extend(std::iter::repeat_n(0x5a, 4096));
                head.push_str("Connection: close\r\n\r\n");
                conn.write_all(head.as_bytes())?;
                conn.write_all(&body)?;
                count(state, &path, body.len());
                conn.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            Some(Fault::Truncate) | Some(Fault::Reset) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                conn.write_all(head.as_bytes())?;
                let half = body.len() / 2;
                conn.write_all(&body[..half])?;
                count(state, &path, half);
                if let Some(Fault::Truncate) = fault {
                    conn.shutdown(Shutdown::Write)?;
                }
                // Reset: the connection is dropped mid-body.
                return Ok(());
            }
            Some(Fault::Trickle(pause)) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                conn.write_all(head.as_bytes())?;
                for b in &body {
                    std::thread::sleep(pause);
                    conn.write_all(&[*b])?;
                    count(state, &path, 1);
                }
            }
            Some(Fault::Stall(t)) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                conn.write_all(head.as_bytes())?;
                std::thread::sleep(t);
                let _ = conn.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                conn.write_all(head.as_bytes())?;
                conn.write_all(&body)?;
                count(state, &path, body.len());
            }
        }
    }
}

fn count(state: &Mutex<State>, path: &str, n: usize) {
    *state
        .lock()
        .unwrap()
        .sent
        .entry(path.to_string())
        .or_default() += n as u64;
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
