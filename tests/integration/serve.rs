//! `cachesim serve`: its JSON API against `cachesim run` (same `--set`, same
//! seed, same numbers; the CLI's error words; refused bodies and paths), and
//! the page in headless Chromium driven over WebDriver (chromedriver).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cachesim serve FILES... --port 0`, and the address it printed.
fn start(files: &[&Path]) -> (Killed, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cachesim"))
        .arg("serve")
        .args(files)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cachesim serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let at = line.find("http://").unwrap_or_else(|| panic!("no address printed: {line:?}"));
    let addr = line[at + 7..].trim().trim_end_matches('/').to_string();
    (Killed(child), addr)
}

/// A model for these tests: the reference, 2 minutes long (fast in debug).
fn short_model(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("models/seed/reference.ron")).unwrap();
    let path = dir.join("reference.ron");
    std::fs::write(&path, text.replace("duration: \"10m\"", "duration: \"2m\"")).unwrap();
    path
}

/// One HTTP/1.1 request (closing the connection): (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading the whole body.
    let _ = s.write_all(body);
    // Read the head, then the body by its length (chromedriver keeps the
    // connection open), or to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(n > 0, "the connection closed before a response: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while raw.len() < split + 4 + len {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            let _ = s.read_to_end(&mut raw);
        }
    }
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("a status");
    let mut rest = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = rest[eol + 4 + size..].to_vec();
        }
        rest = out;
    }
    (status, rest)
}

fn json_of(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let (status, raw) = http(addr, method, path, text.as_deref().map(str::as_bytes));
    let v = serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&raw)));
    (status, v)
}

fn cli(args: &[&str]) -> std::process::Output {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim").args(args).output().unwrap()
}

/// `cachesim run FILE --seed SEED --set ...` (with `--json` if `json`).
fn run_cli(file: &Path, seed: u64, sets: &[&str], json: bool) -> String {
    let mut args = vec!["run".to_string(), file.display().to_string(), "--seed".into(), seed.to_string()];
    for s in sets {
        args.extend(["--set".to_string(), s.to_string()]);
    }
    if json {
        args.push("--json".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cli(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A change through the API gives the numbers `cachesim run` gives with the
/// same `--set` and seed: the same JSON report and the same summary text.
#[test]
fn serve_simulation_matches_cachesim_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    let (status, list) = json_of(&addr, "GET", "/api/models", None);
    assert_eq!(status, 200);
    assert_eq!(list["models"].as_array().unwrap().len(), 1, "{list}");
    let (status, knobs) = json_of(&addr, "GET", "/api/models/reference", None);
    assert_eq!(status, 200);
    let ttl = knobs["knobs"].as_array().unwrap().iter().find(|k| k["path"] == "cache.ttl").unwrap();
    assert_eq!(ttl["value"], "5m");

    let sets = ["workload.rate=60", "cache.ttl=1m", "cache.refresh=SingleFlight"];
    let (status, got) = json_of(
        &addr,
        "POST",
        "/api/models/reference/simulate",
        Some(json!({ "sets": sets, "seed": 7, "replications": 2, "slo": { "p99_s": 0.5 } })),
    );
    assert_eq!(status, 200, "{got}");
    let want: Value = serde_json::from_str(&run_cli(&model, 7, &sets, true)).unwrap();
    assert_eq!(got["report"], want, "the report differs from `cachesim run --json`");
    assert_eq!(got["summary"].as_str().unwrap(), run_cli(&model, 7, &sets, false));
    assert_eq!(got["replications"], 2);
    assert!(got["verdict"]["level"].is_string(), "{}", got["verdict"]);
    for svg in ["backend_calls", "pool_in_use"] {
        let text = got["svg"][svg].as_str().unwrap_or_else(|| panic!("no {svg} SVG"));
        roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{svg}: {e}"));
    }
    assert_eq!(
        got["series"]["t_s"].as_array().unwrap().len(),
        got["series"]["backend_calls_per_s"].as_array().unwrap().len()
    );
    let command = got["command"].as_str().unwrap();
    assert!(command.contains("--seed 7 --set workload.rate=60 --set cache.ttl=1m"), "{command}");

    // The command line and the edited file give the same model.
    let (status, export) =
        json_of(&addr, "POST", "/api/models/reference/export", Some(json!({ "sets": sets, "seed": 7 })));
    assert_eq!(status, 200, "{export}");
    let ron = export["ron"].as_str().unwrap_or_else(|| panic!("no RON: {export}"));
    assert!(ron.contains("ttl: \"1m\",              // from fetch completion"), "comments kept:\n{ron}");
    assert!(ron.contains("refresh: SingleFlight,"), "{ron}");
    let edited = dir.path().join("edited.ron");
    std::fs::write(&edited, ron).unwrap();
    assert_eq!(run_cli(&edited, 7, &[], true).replace("\"edited\"", "\"reference\""), run_cli(&model, 7, &sets, true));
}

/// A knob swept: the metric at each value with its band, the SLO line, where
/// it crosses, and the chart from the shared plot code.
#[test]
fn serve_sweeps_a_knob_against_the_slo() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    let (status, got) = json_of(
        &addr,
        "POST",
        "/api/models/reference/sweep",
        Some(json!({ "knob": "workload.rate", "values": [5, 40, 100], "replications": 2,
                     "metric": "requests.error_rate", "slo": { "error_rate": 0.001 } })),
    );
    assert_eq!(status, 200, "{got}");
    let points = got["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for p in points {
        let (lo, v, hi) = (p["lo"].as_f64().unwrap(), p["value"].as_f64().unwrap(), p["hi"].as_f64().unwrap());
        assert!(lo <= v && v <= hi, "{p}");
    }
    assert_eq!(got["bound"], 0.001);
    // Rate-limited at 10 fetches/s: no errors at 5 req/s, more at 100.
    let (first, last) = (points[0]["value"].as_f64().unwrap(), points[2]["value"].as_f64().unwrap());
    assert!(first < 0.001 && last > 0.001, "{first} {last}");
    let c = got["crossings"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{:?}", got["points"]);
    assert!((5.0..100.0).contains(&c[0].as_f64().unwrap()));
    let svg = got["svg"].as_str().unwrap();
    let doc = roxmltree::Document::parse(svg).unwrap();
    let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains("SLO error rate") && texts.contains("workload.rate"), "{texts}");
    let (status, _) = json_of(
        &addr,
        "POST",
        "/api/models/reference/sweep",
        Some(json!({ "knob": "workload.rate", "values": [1, 2, 3, 4, 5, 6], "replications": 20 })),
    );
    assert_eq!(status, 400, "too many runs");
}

/// A client's newer simulation supersedes its older one, which stops (409).
#[test]
fn serve_a_newer_request_supersedes_the_older() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    let slow = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let body = json!({ "sets": ["workload.duration=1h"], "replications": 20, "client": "me" });
            json_of(&addr, "POST", "/api/models/reference/simulate", Some(body))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) =
        json_of(&addr, "POST", "/api/models/reference/simulate", Some(json!({ "replications": 1, "client": "me" })));
    assert_eq!(status, 200);
    let (status, got) = slow.join().unwrap();
    assert_eq!(status, 409, "{got}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// A bad value is a 400 whose message is the CLI's, word for word.
#[test]
fn serve_bad_value_is_400_with_the_cli_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    for set in ["cache.ttl=banana", "db.pool_size=-3", "servers.cuont=2", "workload.rate"] {
        let (status, got) = json_of(
            &addr,
            "POST",
            "/api/models/reference/simulate",
            Some(json!({ "sets": ["workload.rate=50", set] })),
        );
        assert_eq!(status, 400, "{set}: {got}");
        let o = cli(&["run", &model.display().to_string(), "--set", "workload.rate=50", "--set", set]);
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8(o.stderr).unwrap();
        assert_eq!(format!("error: {}\n", got["error"].as_str().unwrap()), stderr, "{set}");
    }
    // Too big to run: the size guard of `run`.
    let (status, got) =
        json_of(&addr, "POST", "/api/models/reference/simulate", Some(json!({ "sets": ["workload.duration=3000d"] })));
    assert_eq!(status, 400, "{got}");
    let (status, _) = json_of(&addr, "POST", "/api/models/reference/simulate", Some(json!({ "replications": 1000 })));
    assert_eq!(status, 400);
}

/// Bodies over the limit are refused with 413, malformed ones with 4xx,
/// and the server keeps serving.
#[test]
fn serve_refuses_oversized_and_malformed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    let big = format!("{{\"sets\": [\"{}\"]}}", "x".repeat(200_000));
    let (status, _) = http(&addr, "POST", "/api/models/reference/simulate", Some(big.as_bytes()));
    assert_eq!(status, 413);
    let many: Vec<String> = (0..500).map(|_| "workload.rate=5".to_string()).collect();
    let (status, _) = json_of(&addr, "POST", "/api/models/reference/simulate", Some(json!({ "sets": many })));
    assert_eq!(status, 400);
    for bad in ["{", "[]", "{\"sets\": 3}", "{\"nonsense\": 1}", "\u{0}\u{1}"] {
        let (status, _) = http(&addr, "POST", "/api/models/reference/simulate", Some(bad.as_bytes()));
        assert!((400..500).contains(&status), "{bad:?}: {status}");
    }
    let (status, _) = http(&addr, "GET", "/api/models", None);
    assert_eq!(status, 200, "still serving");
}

/// Only the model files given are readable: any other path, and any
/// override naming a trace file, is refused.
#[test]
fn serve_refuses_files_outside_the_model_set() {
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    std::fs::write(dir.path().join("secret.ron"), "not for you").unwrap();
    let (_server, addr) = start(&[&model]);
    for path in [
        "/api/models/secret",
        "/api/models/..%2Fsecret.ron",
        "/api/models/%2Fetc%2Fpasswd",
        "/etc/passwd",
        "/../secret.ron",
        "/secret.ron",
        "/api/models/reference/../../secret.ron",
    ] {
        let (status, body) = http(&addr, "GET", path, None);
        assert!(status == 404 || status == 403, "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("not for you"), "{path}");
    }
    let (status, _) = json_of(&addr, "POST", "/api/models/%2Fetc%2Fpasswd/simulate", Some(json!({ "sets": [] })));
    assert_eq!(status, 404);
    for set in ["workload.arrivals=Trace(file: \"/etc/passwd\")", "workload.arrivals.file=/etc/passwd"] {
        let (status, got) = json_of(&addr, "POST", "/api/models/reference/simulate", Some(json!({ "sets": [set] })));
        assert_eq!(status, 403, "{set}: {got}");
    }
}

// ---- the page in a real browser ----

/// A WebDriver session on chromedriver.
struct Driver {
    addr: String,
    session: String,
    _process: Killed,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--hide-scrollbars", "--window-size=1400,2700",
                     format!("--user-data-dir={}", profile.display())] } } } });
        let (status, v) = json_of(&addr, "POST", "/session", Some(caps));
        assert_eq!(status, 200, "no WebDriver session: {v}");
        let session = v["value"]["sessionId"].as_str().expect("a session id").to_string();
        Driver { addr, session, _process: Killed(process) }
    }

    fn call(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let (status, v) = json_of(&self.addr, method, &format!("/session/{}/{what}", self.session), body);
        assert_eq!(status, 200, "WebDriver {what}: {v}");
        v["value"].clone()
    }

    fn script(&self, script: &str) -> Value {
        self.call("POST", "execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    fn click(&self, css: &str) {
        let e = self.call("POST", "element", Some(json!({ "using": "css selector", "value": css })));
        let id = e.as_object().and_then(|m| m.values().next()).and_then(Value::as_str).unwrap().to_string();
        self.call("POST", &format!("element/{id}/click"), Some(json!({})));
    }

    /// Sets a control's value and lets go of it (its change event).
    fn set(&self, path: &str, value: &str) -> u64 {
        let before = self.seq();
        self.script(&format!(
            "const i = document.getElementById({}); i.value = {}; i.dispatchEvent(new Event('input', {{bubbles: true}})); i.dispatchEvent(new Event('change', {{bubbles: true}}));",
            json!(format!("in-{path}")),
            json!(value)
        ));
        before
    }

    fn seq(&self) -> u64 {
        self.script("return Number(document.getElementById('status').dataset.seq)").as_u64().unwrap_or(0)
    }

    /// Waits until a simulation newer than `after` has been shown.
    fn wait_done(&self, after: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.script("const s = document.getElementById('status'); return [s.dataset.state, Number(s.dataset.seq), s.textContent]");
            if s[0] == "done" && s[1].as_u64().unwrap_or(0) > after {
                return;
            }
            assert!(s[0] != "error" || s[1].as_u64().unwrap_or(0) <= after, "the page shows an error: {s}");
            assert!(Instant::now() < deadline, "the page did not update: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self, id: &str) -> String {
        self.script(&format!("return document.getElementById({}).textContent", json!(id)))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The `points` of every polyline of the SVG in element `id`.
    fn polylines(&self, id: &str) -> String {
        self.script(&format!(
            "return [...document.querySelectorAll('#{id} polyline')].map(p => p.getAttribute('points')).join('|')"
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http(&self.addr, "DELETE", &format!("/session/{}", self.session), None);
    }
}

/// The polylines of `cachesim run FILE --set ... --plot DIR`'s backend_calls.svg.
fn cli_polylines(file: &Path, sets: &[&str], dir: &Path) -> String {
    let mut args = vec!["run".to_string(), file.display().to_string()];
    for s in sets {
        args.extend(["--set".to_string(), s.to_string()]);
    }
    args.extend(["--plot".to_string(), dir.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cli(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(dir.join("backend_calls.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter_map(|n| n.attribute("points"))
        .collect::<Vec<_>>()
        .join("|")
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bits: Vec<u8> = text.bytes().filter_map(value).collect();
    bits.chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |acc, &v| acc << 6 | u32::from(v)) << (6 * (4 - c.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}

/// Headless Chromium loads the page, moves the TTL and rate controls and
/// sees the summary and the backend-calls SVG become what `cachesim run`
/// gives for the same settings; pins A, changes B and sees both; and its
/// screenshot is not blank. Installs Chromium and chromedriver
/// (scripts/install-chromium.sh) if missing, as the report test does.
#[test]
fn serve_page_in_chromium() {
    let status = Command::new("bash").arg(root().join("scripts/install-chromium.sh")).status().expect("bash runs");
    assert!(status.success(), "scripts/install-chromium.sh failed");
    let dir = tempfile::tempdir().unwrap();
    let model = short_model(dir.path());
    let (_server, addr) = start(&[&model]);
    let driver = Driver::start(&dir.path().join("profile"));
    driver.call("POST", "url", Some(json!({ "url": format!("http://{addr}/") })));
    driver.wait_done(0);
    assert_eq!(driver.text("summary"), run_cli(&model, 1, &[], false), "the page's first summary");

    let before = driver.set("cache.ttl", "1m");
    driver.wait_done(before);
    assert_eq!(driver.text("summary"), run_cli(&model, 1, &["cache.ttl=1m"], false));
    let before = driver.set("workload.rate", "40");
    driver.wait_done(before);
    let sets = ["workload.rate=40", "cache.ttl=1m"];
    assert_eq!(driver.text("summary"), run_cli(&model, 1, &sets, false));
    assert_eq!(
        driver.text("command"),
        format!("cachesim run {} --set workload.rate=40 --set cache.ttl=1m", model.display())
    );
    let svg_a = driver.polylines("svg-backend");
    assert_eq!(svg_a, cli_polylines(&model, &sets, &dir.path().join("plot-a")), "the SVG is the CLI's");

    // A bad value: the CLI's words beside the control; then a good one.
    let before = driver.set("db.pool_size", "-1");
    let deadline = Instant::now() + Duration::from_secs(30);
    while driver.text("err-db.pool_size").is_empty() {
        assert!(Instant::now() < deadline, "no error beside the pool size");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        driver.text("err-db.pool_size").starts_with("--set db.pool_size=-1: "),
        "{}",
        driver.text("err-db.pool_size")
    );
    let before = before.max(driver.seq());
    driver.set("db.pool_size", "5");
    driver.wait_done(before);

    driver.click("#pin");
    let before = driver.set("cache.ttl", "20s");
    driver.wait_done(before);
    let b_sets = ["workload.rate=40", "cache.ttl=20s"];
    assert_eq!(driver.text("summary"), run_cli(&model, 1, &b_sets, false));
    let svg_b = driver.polylines("svg-backend");
    assert_ne!(svg_a, svg_b, "the SVG changed with the TTL");
    assert_eq!(svg_b, cli_polylines(&model, &b_sets, &dir.path().join("plot-b")));
    let table = driver.text("compare-table");
    assert!(table.contains("1m") && table.contains("20s"), "A and B side by side: {table}");
    let marked =
        driver.script("return [...document.querySelectorAll('#compare-table td.diff')].map(td => td.textContent)");
    let marked: Vec<String> = marked.as_array().unwrap().iter().filter_map(|v| v.as_str().map(String::from)).collect();
    assert!(
        marked.contains(&"1m".to_string()) && marked.contains(&"20s".to_string()),
        "differences marked: {marked:?}"
    );
    assert_eq!(driver.polylines("compare-A"), svg_a, "A's chart is kept beside B's");

    // Sweep the rate: a chart with its SLO line, and where it crosses.
    driver.script("document.getElementById('sweep-metric').value = 'requests.error_rate'");
    driver.click("#sweep-run");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !driver.text("sweep-crossings").contains("SLO") {
        assert!(Instant::now() < deadline, "no sweep: {}", driver.text("sweep-error"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!driver.polylines("sweep-svg").is_empty());

    let shot = base64_decode(driver.call("GET", "screenshot", None).as_str().unwrap());
    let img = image::load_from_memory(&shot).expect("the screenshot decodes").to_rgb8();
    if let Ok(to) = std::env::var("CACHESIM_SERVE_SCREENSHOT") {
        std::fs::write(to, &shot).unwrap();
    }
    let mut colors = std::collections::HashSet::new();
    let inked = img.pixels().filter(|p| p.0.iter().any(|&c| c < 200)).count();
    for p in img.pixels() {
        colors.insert(p.0);
    }
    let total = (img.width() * img.height()) as usize;
    assert!(colors.len() > 50, "only {} colours: blank?", colors.len());
    assert!(inked * 100 > total, "only {inked} of {total} pixels inked");
}
