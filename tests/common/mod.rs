//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod fixture;
pub mod server;
pub mod tlog;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Python interpreter of the test virtual environment (prepared by `scripts/test.sh`),
/// or `None` with a printed reason when it is absent. Under `CI=true` an absent environment
/// is a failure, never a skip.
pub fn python(test: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("WEIGHTSEAL_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if local.exists() {
        return Some(local);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: CI=true but the Python test environment is missing: run scripts/test.sh");
    }
    eprintln!(
        "SKIPPED {test}: no Python test environment (.venv); run scripts/test.sh to prepare it"
    );
    None
}

/// The weightseal binary under test: this build's, or `WEIGHTSEAL_TEST_BIN` (to run the
/// attacks against another build, e.g. the last release, and see them succeed there).
pub fn bin() -> PathBuf {
    std::env::var_os("WEIGHTSEAL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_weightseal")))
}

/// Runs the weightseal binary, with no trust store (so the user's own never changes a test).
pub fn ws(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env(
            "WEIGHTSEAL_TRUST",
            "/nonexistent/weightseal-tests/trust.toml",
        )
        .output()
        .expect("run weightseal")
}

/// Runs the weightseal binary with the trust store at `store`.
pub fn ws_trust(store: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("WEIGHTSEAL_TRUST", store)
        .output()
        .expect("run weightseal")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Whether the external tool `name` is on this machine; when it is not, prints why `test` is
/// skipped, or under `CI=true` fails (CI installs every tool the tests need).
pub fn tool(name: &str, test: &str) -> bool {
    let ok = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: CI=true but {name} is missing");
        }
        eprintln!("SKIPPED {test}: no {name} on this machine");
    }
    ok
}

/// Runs `weightseal ARGS` to its end; returns its exit code, stdout and peak RSS in MiB (its
/// own `VmHWM`, polled: the `ru_maxrss` of a spawned child also counts this test process's).
pub fn run_measured(args: &[&str]) -> (i32, String, f64) {
    use std::io::Read as _;
    let mut child = std::process::Command::new(bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap();
        }
        let hwm = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        peak_kib = peak_kib.max(hwm.unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    (code, out.join().unwrap(), peak_kib as f64 / 1024.0)
}
