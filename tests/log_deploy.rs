//! The log deployed as static files (README, "Transparency log", "Deployment"): Debian's nginx
//! serves a log directory's `checkpoint` and `tile/` read-only, with the cache headers of
//! `deploy/nginx.conf`, and proxies `POST /add` to `weightseal log serve`. `log submit`,
//! `verify --log-key --witness`, `log monitor` and a `witness serve` all work through it, and
//! the tile reader checks what nginx serves against the signed checkpoint.
//!
//! Needs `nginx` (Debian's nginx-light): skipped with a printed reason when it is missing under
//! a bare `cargo test`, a failure under `CI=true`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::tlog::{self, s, text, Proc};
use common::{stderr, stdout, ws};

fn deploy_conf() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf")).unwrap()
}

/// The README shows `deploy/nginx.conf` as it is: the configuration tested here.
#[test]
fn the_readme_shows_deploy_nginx_conf() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let conf = deploy_conf();
    assert!(
        readme.contains(&format!("```nginx\n{conf}```\n")),
        "README.md does not show deploy/nginx.conf verbatim in an nginx block"
    );
}

/// nginx running as this user on 127.0.0.1 with `deploy/nginx.conf` (its listen address, root
/// and `log serve` address replaced) inside a minimal main configuration.
struct Nginx {
    _proc: Proc,
    url: String,
}

fn replace_once(conf: &str, from: &str, to: &str) -> String {
    assert_eq!(
        conf.matches(from).count(),
        1,
        "deploy/nginx.conf must hold {from:?} once"
    );
    conf.replace(from, to)
}

fn start_nginx(dir: &Path, logdir: &Path, log_serve: &str) -> Nginx {
    let upstream = log_serve.trim_start_matches("http://");
    let mut last = String::new();
    for _try in 0..3 {
        let port = tlog::free_port();
        let site = replace_once(
            &deploy_conf(),
            "listen 80;",
            &format!("listen 127.0.0.1:{port};"),
        );
        let site = replace_once(
            &site,
            "root /srv/weightseal-log;",
            &format!("root {};", s(logdir)),
        );
        let site = replace_once(
            &site,
            "proxy_pass http://127.0.0.1:7000;",
            &format!("proxy_pass http://{upstream};"),
        );
        fs::write(dir.join("site.conf"), site).unwrap();
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).unwrap();
        // Every temporary path in the prefix, so nginx needs nothing outside it.
        let main = format!(
            "worker_processes 1;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   client_body_temp_path {t}/body;\n\
             \x20   proxy_temp_path {t}/proxy;\n\
             \x20   fastcgi_temp_path {t}/fastcgi;\n\
             \x20   uwsgi_temp_path {t}/uwsgi;\n\
             \x20   scgi_temp_path {t}/scgi;\n\
             \x20   include {site};\n\
             }}\n",
            t = s(&tmp),
            site = s(&dir.join("site.conf")),
        );
        fs::write(dir.join("nginx.conf"), main).unwrap();
        let mut cmd = Command::new("nginx");
        cmd.args([
            "-e",
            "stderr",
            "-p",
            s(dir),
            "-c",
            s(&dir.join("nginx.conf")),
            "-g",
            &format!(
                "daemon off; pid {}; error_log stderr;",
                s(&dir.join("nginx.pid"))
            ),
        ]);
        let p = Proc::spawn("nginx", cmd);
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::new();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < end {
            if http
                .get(format!("{url}/checkpoint"))
                .send()
                .is_ok_and(|r| r.status() == 200)
            {
                return Nginx { _proc: p, url };
            }
            if p.output().contains("Address already in use") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        last = p.output();
        drop(p);
    }
    panic!("nginx did not serve the checkpoint:\n{last}");
}

fn get(url: &str) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let r = reqwest::blocking::Client::new().get(url).send().unwrap();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (cc, ct) = (h("cache-control"), h("content-type"));
    let status = r.status().as_u16();
    (status, cc, ct, r.bytes().unwrap().to_vec())
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT: &str = "public, max-age=5";

#[test]
fn nginx_serves_the_tiles_and_log_serve_only_takes_submissions() {
    const TEST: &str = "nginx_serves_the_tiles_and_log_serve_only_takes_submissions";
    if !common::tool("nginx", TEST) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // nginx started as root runs its workers as nobody: they must reach the log's files.
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(t, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log_key = tlog::key(t, "log.key");
    let logdir = t.join("log");
    let vkey = tlog::init_log(&logdir, "example.test/models", &log_key);
    // 300 releases already logged: a full tile and a partial one at level 0.
    let bulk = tlog::bulk_entries(300);
    tlog::add_entries(&logdir, &log_key, &bulk);
    let (_w, w_url, w_vkey) = tlog::weightseal_witness(t, "w.test", &vkey);
    let (_log, log_url) = tlog::weightseal_server(
        "log serve",
        &[
            "log",
            "serve",
            s(&logdir),
            "--key",
            s(&log_key),
            "--listen",
            "127.0.0.1:0",
            "--witness",
            &format!("{w_url}={w_vkey}"),
            "--batch-ms",
            "50",
        ],
    );
    let ngx_dir = t.join("nginx");
    fs::create_dir_all(&ngx_dir).unwrap();
    let nginx = start_nginx(&ngx_dir, &logdir, &log_url);
    let base = nginx.url.as_str();

    // What nginx serves, and how long it may be cached.
    let (st, cc, ct, body) = get(&format!("{base}/checkpoint"));
    assert_eq!(
        (st, cc.as_deref(), ct.as_deref()),
        (200, Some(SHORT), Some("text/plain; charset=utf-8"))
    );
    assert!(body.starts_with(b"example.test/models\n300\n"));
    for (path, cache, len) in [
        ("tile/0/000", IMMUTABLE, 8192),
        ("tile/entries/000", IMMUTABLE, 0),
        ("tile/0/001.p/44", SHORT, 44 * 32),
        ("tile/entries/001.p/44", SHORT, 0),
        ("tile/1/000.p/1", SHORT, 32),
    ] {
        let (st, cc, ct, body) = get(&format!("{base}/{path}"));
        assert_eq!(
            (st, cc.as_deref(), ct.as_deref()),
            (200, Some(cache), Some("application/octet-stream")),
            "{path}"
        );
        assert_eq!(body, fs::read(logdir.join(path)).unwrap(), "{path}");
        if len > 0 {
            assert_eq!(body.len(), len, "{path}");
        }
    }
    // Not served: the operator's directory, a listing, a tile that does not exist yet (and
    // its 404 is not made immutable), anything but POST on /add.
    for path in [
        ".weightseal-log/hashes",
        ".weightseal-log/origin",
        ".weightseal-log/lock",
        "tile/../.weightseal-log/hashes",
        "tile/.weightseal-log/hashes",
        "",
        "tile/",
        "tile/0/002",
        "tile/0/001",
    ] {
        let (st, cc, _, _) = get(&format!("{base}/{path}"));
        assert_eq!((st, cc.as_deref()), (404, None), "/{path}");
    }
    let (st, cc, _, _) = get(&format!("{base}/add"));
    assert_eq!((st, cc.as_deref()), (403, Some("no-store")), "GET /add");

    // A release submitted through nginx, which hands POST /add to log serve.
    let acme = tlog::key(t, "acme");
    let acme_pub = t.join("acme.pub");
    let model = t.join("tiny");
    tlog::release(&model, "org/tiny", b"weights v1", &acme, 1);
    let o = ws(&["log", "submit", base, s(&model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("logged \"org/tiny\" at index 300; proof"),
        "{}",
        text(&o)
    );
    let o = ws(&[
        "verify",
        s(&model),
        "--key",
        s(&acme_pub),
        "--log-key",
        &vkey,
        "--witness",
        &w_vkey,
        "--quorum",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains(
            "transparency log: OK (example.test/models, entry 300 of 301, cosigned by w.test"
        ),
        "{}",
        text(&o)
    );
    // The new checkpoint and the wider partial tiles, from nginx.
    let (st, _, _, body) = get(&format!("{base}/checkpoint"));
    assert_eq!(st, 200);
    let cp_text = String::from_utf8(body.clone()).unwrap();
    assert!(
        cp_text.starts_with("example.test/models\n301\n"),
        "{cp_text}"
    );
    assert!(cp_text.contains("\n— w.test "), "{cp_text}");
    let (st, cc, _, _) = get(&format!("{base}/tile/0/001.p/45"));
    assert_eq!((st, cc.as_deref()), (200, Some(SHORT)));

    // The tile reader, through nginx: the proof it computes from the tiles is the one
    // log serve answered with, and each checks against the checkpoint nginx serves.
    let vk = weightseal::log::VerifierKey::parse(&vkey).unwrap();
    let (_, cp) = weightseal::log::store::open_checkpoint(&body, &vk).unwrap();
    let remote = weightseal::log::client::RemoteLog::new(base).unwrap();
    let proof =
        weightseal::log::TlogProof::parse(&fs::read(model.join("weightseal.tlog-proof")).unwrap())
            .unwrap();
    let hashes = remote.inclusion_proof(&cp, 300).unwrap();
    assert_eq!(hashes, proof.hashes);
    let entry = proof.extra.clone().unwrap();
    weightseal::log::proof::check_inclusion(&cp, 300, &entry, &hashes).unwrap();
    let hashes = remote.inclusion_proof(&cp, 7).unwrap();
    weightseal::log::proof::check_inclusion(&cp, 7, &bulk[7], &hashes).unwrap();
    assert!(matches!(
        weightseal::log::proof::check_inclusion(&cp, 7, &bulk[8], &hashes),
        Err(weightseal::log::LogError::Proof(_))
    ));
    assert!(matches!(
        remote.inclusion_proof(&cp, 301),
        Err(weightseal::log::LogError::Proof(_))
    ));
    // Tiles that are not the tree's (a mirror, a cache or a disk that lies) never give a proof
    // that checks, to a reader that has not proved them before (a reader keeps the tiles it
    // proved). A partial tile the root is computed from: refused while reading.
    let fresh = || weightseal::log::client::RemoteLog::new(base).unwrap();
    let lie = |path: &str, at: usize, check: &dyn Fn()| {
        let f = logdir.join(path);
        let good = fs::read(&f).unwrap();
        let mut bad = good.clone();
        bad[at] ^= 1;
        fs::write(&f, &bad).unwrap();
        check();
        fs::write(&f, &good).unwrap();
    };
    lie(
        "tile/0/001.p/45",
        3 * 32,
        &|| match fresh().inclusion_proof(&cp, 7) {
            Err(weightseal::log::LogError::Tree(m)) => assert!(
                m.contains("do not hash to the root of its checkpoint of 301 entries"),
                "{m}"
            ),
            other => panic!("a lying partial tile gave {other:?}"),
        },
    );
    // A full tile only the proof's hashes come from (leaf 6, the sibling of 7): tlog_tiles,
    // as Go's sumdb/tlog it ports, does not recheck such a tile against its parent when the
    // root's subtrees share a tile, so the lie surfaces when the proof is checked.
    lie("tile/0/000", 6 * 32, &|| {
        let r = fresh()
            .inclusion_proof(&cp, 7)
            .and_then(|p| weightseal::log::proof::check_inclusion(&cp, 7, &bulk[7], &p));
        assert!(
            matches!(
                r,
                Err(weightseal::log::LogError::Proof(_)) | Err(weightseal::log::LogError::Tree(_))
            ),
            "a lying full tile gave {r:?}"
        );
    });
    // A short tile: named.
    lie("tile/1/000.p/1", 0, &|| {
        let f = logdir.join("tile/1/000.p/1");
        fs::write(&f, [0u8; 31]).unwrap();
        match fresh().inclusion_proof(&cp, 7) {
            Err(weightseal::log::LogError::Tree(m)) => {
                assert_eq!(m, "tile/1/000.p/1: 31 bytes, a tile of 1 hashes is 32")
            }
            other => panic!("a short tile gave {other:?}"),
        }
    });

    // The monitor, reading nginx only: all 301 entries, then only the new one.
    let state = t.join("monitor.json");
    let monitor = || {
        ws(&[
            "log",
            "monitor",
            base,
            "--log-key",
            &vkey,
            "--model",
            "org/*",
            "--key",
            s(&acme_pub),
            "--state",
            s(&state),
        ])
    };
    let o = monitor();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("entry 300: \"org/tiny\" version 1 manifest ")
            && stdout(&o).contains(", signed by a watched key"),
        "{}",
        text(&o)
    );
    assert!(
        stderr(&o).contains("read 301 new entries (0 to 301), 1 for org/*"),
        "{}",
        text(&o)
    );
    let second = t.join("second");
    tlog::release(&second, "org/second", b"weights 2", &acme, 1);
    let o = ws(&["log", "submit", base, s(&second)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("at index 301;"), "{}", text(&o));
    let o = monitor();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).contains("entry 301: \"org/second\" version 1"),
        "{}",
        text(&o)
    );
    assert!(
        stderr(&o).contains("1 new entries (301 to 302), 1 for org/*"),
        "{}",
        text(&o)
    );
    // The second checkpoint is cosigned too: the witness checked it extends the first.
    let o = ws(&[
        "verify",
        s(&second),
        "--key",
        s(&acme_pub),
        "--log-key",
        &vkey,
        "--witness",
        &w_vkey,
        "--quorum",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // C2SP lets a log delete a partial tile once the full one exists, and the log does: a
    // reader holding an older checkpoint (301) then reads the full tile's first hashes.
    let more = tlog::bulk_entries(600);
    tlog::add_entries(&logdir, &log_key, &more[300..]);
    assert!(logdir.join("tile/0/001").exists());
    assert!(!logdir.join("tile/0/001.p").exists());
    let (st, _, _, _) = get(&format!("{base}/tile/0/001.p/45"));
    assert_eq!(st, 404);
    let hashes = remote.inclusion_proof(&cp, 300).unwrap();
    weightseal::log::proof::check_inclusion(&cp, 300, &entry, &hashes).unwrap();
}
