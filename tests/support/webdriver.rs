//! A small W3C WebDriver client for headless Chromium — **test support only**, over `reqwest`
//! and `serde_json` (no WebDriver crate).
//!
//! [`Browser::start`] runs `chromedriver --port=<free port>` as a child process and opens one
//! session of headless Chromium with a throwaway profile; dropping the [`Browser`] ends the
//! session (Chromium quits with it), kills Chromium if it is still there, then the driver.
//!
//! chromedriver is `$NASHRA_CHROMEDRIVER`, else `chromedriver` on `PATH`, else
//! `/usr/bin/chromedriver` (Debian: `apt-get install chromium chromium-driver`); `$NASHRA_CHROMIUM`
//! names another browser binary. Where there is none, `start` says so and returns `None` (the test
//! skips) — unless `NASHRA_TEST_REQUIRE_CHROMIUM` is set, as in CI, which makes it a failure.
//!
//! Commands panic with what the driver answered: they are for tests. Included by path
//! (`#[path = "../support/webdriver.rs"] mod webdriver;`); depends on std, tokio, reqwest,
//! serde_json, tempfile and base64.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Set (to anything but `0`) where a missing Chromium is a failure rather than a skip.
pub const REQUIRE_ENV: &str = "NASHRA_TEST_REQUIRE_CHROMIUM";
/// The chromedriver to run, when not the one on `PATH`.
pub const DRIVER_ENV: &str = "NASHRA_CHROMEDRIVER";
/// The browser binary chromedriver starts, when not its default.
pub const CHROMIUM_ENV: &str = "NASHRA_CHROMIUM";

/// The key of a web element reference in the protocol's JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long [`Browser::wait_until`] and the driver's start-up are waited for.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running chromedriver, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium session.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    session_id: String,
    /// The browser's process id, as chromedriver reports it (`goog:processID`).
    browser_pid: Option<u32>,
    driver: Driver,
    profile: tempfile::TempDir,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// Where chromedriver is: `$NASHRA_CHROMEDRIVER`, `chromedriver` on `PATH`, `/usr/bin/chromedriver`.
pub fn find_chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(DRIVER_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|dir| dir.join("chromedriver")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/bin/chromedriver")]).find(|p| p.is_file())
}

/// Whether a missing browser is a failure (`NASHRA_TEST_REQUIRE_CHROMIUM`, as in CI).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Straight to stderr: libtest would swallow `eprintln!` in a passing test.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// No browser here: a skip (`None`), or a failure where one is required.
fn absent(why: &str) -> Option<Browser> {
    if required() {
        panic!(
            "Chromium is required ({REQUIRE_ENV} is set) but {why}: install Debian chromium and \
             chromium-driver, or set {DRIVER_ENV}"
        );
    }
    say(&format!(
        "skipped: chromium/chromedriver not found (install Debian chromium and chromium-driver, or set {DRIVER_ENV}) — {why}"
    ));
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose viewport is `width` × `height` CSS
    /// pixels, or returns `None` (after saying why) if there is no chromedriver or no browser.
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        let Some(chromedriver) = find_chromedriver() else {
            let why = match std::env::var_os(DRIVER_ENV).filter(|p| !p.is_empty()) {
                Some(p) => format!("{DRIVER_ENV}={} is not a file", Path::new(&p).display()),
                None => "no chromedriver on PATH or at /usr/bin/chromedriver".to_owned(),
            };
            return absent(&why);
        };
        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        let log = profile.path().join("chromedriver.log");
        let driver = start_driver(&chromedriver, &http, &log).await;

        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().join("profile").display()),
            // As on a phone: scrollbars take no room, so the viewport's width is the layout's.
            "--hide-scrollbars".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
        ];
        let mut chrome_options = json!({ "args": args });
        if let Some(binary) = std::env::var_os(CHROMIUM_ENV).filter(|p| !p.is_empty()) {
            chrome_options["binary"] = json!(Path::new(&binary).display().to_string());
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": { "goog:chromeOptions": chrome_options, "pageLoadStrategy": "normal" } }
        });
        let base = format!("http://127.0.0.1:{}", driver.port);
        let created = request(&http, reqwest::Method::POST, &format!("{base}/session"), Some(capabilities)).await;
        let value = match created {
            Ok(v) => v,
            Err(e)
                if ["cannot find chrome binary", "no chrome binary"].iter().any(|m| e.to_lowercase().contains(m)) =>
            {
                return absent(&format!("chromedriver cannot find the browser ({e})"));
            }
            Err(e) => panic!("chromedriver could not start Chromium: {e}\n{}", read_log(&log)),
        };
        let session_id = value["sessionId"].as_str().expect("a session id").to_owned();
        let browser_pid = value["capabilities"]["goog:processID"].as_u64().map(|p| p as u32);
        let browser =
            Browser { http, session: format!("{base}/session/{session_id}"), session_id, browser_pid, driver, profile };
        browser.post("/timeouts", json!({ "pageLoad": 30_000, "script": 10_000, "implicit": 0 })).await;
        // `--window-size` is the window's first size only (Chromium makes it at least 500 px
        // wide): the viewport is set once the session is up.
        browser.set_viewport(width, height).await;
        Some(browser)
    }

    /// The browser's and driver's versions, as the session reports them.
    pub async fn versions(&self) -> String {
        let status =
            request(&self.http, reqwest::Method::GET, &format!("http://127.0.0.1:{}/status", self.driver.port), None)
                .await
                .unwrap_or_default();
        let agent = self.execute("return navigator.userAgent", vec![]).await;
        format!(
            "chromedriver {}; {}",
            status["build"]["version"].as_str().unwrap_or("?"),
            agent.as_str().unwrap_or("?")
        )
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        request(&self.http, method.clone(), &url, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    /// Opens `url` and waits for it to load.
    pub async fn navigate(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_owned()
    }

    /// The current page's markup, as the browser has it now.
    pub async fn page_source(&self) -> String {
        self.get("/source").await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body: `return …`) with `args` (`arguments[0]`…; an
    /// [`Element::arg`] is the element) and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Waits (at most [`WAIT`]) until `script` returns something truthy, and returns it; panics
    /// with `what` otherwise.
    pub async fn wait_until(&self, script: &str, what: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.execute(script, vec![]).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if start.elapsed() > WAIT {
                panic!("waited {WAIT:?} for {what}; the page is {}", self.current_url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching the CSS `selector`; panics if there is none.
    pub async fn find(&self, selector: &str) -> Element<'_> {
        match self.try_find(selector).await {
            Some(e) => e,
            None => panic!("no element matches {selector:?} on {}", self.current_url().await),
        }
    }

    /// The first element matching the CSS `selector`, if any.
    pub async fn try_find(&self, selector: &str) -> Option<Element<'_>> {
        self.find_all(selector).await.into_iter().next()
    }

    /// Every element matching the CSS `selector`, in document order.
    pub async fn find_all(&self, selector: &str) -> Vec<Element<'_>> {
        let found = self.post("/elements", json!({ "using": "css selector", "value": selector })).await;
        found
            .as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT_KEY].as_str()))
            .into_iter()
            .flatten()
            .map(|id| Element { browser: self, id: id.to_owned() })
            .collect()
    }

    /// Sets the outer window's size.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height })).await;
    }

    /// Sets the window's size so that the viewport is `width` × `height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.set_window_size(width, height).await;
        let inner = |v: &Value, k: &str| v[k].as_i64().unwrap_or_default();
        let size = self.execute("return {w: window.innerWidth, h: window.innerHeight}", vec![]).await;
        let (dw, dh) = (i64::from(width) - inner(&size, "w"), i64::from(height) - inner(&size, "h"));
        if dw != 0 || dh != 0 {
            let w = (i64::from(width) + dw).max(1) as u32;
            let h = (i64::from(height) + dh).max(1) as u32;
            self.set_window_size(w, h).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("/screenshot").await;
        let encoded = encoded.as_str().expect("a screenshot");
        base64::engine::general_purpose::STANDARD.decode(encoded).expect("the screenshot is base64")
    }

    /// A PNG of the whole page at the current width: the viewport is made as tall as the page
    /// (at most `max_height`) for the shot, then put back.
    pub async fn screenshot_full_page(&self, max_height: u32) -> Vec<u8> {
        let size = self
            .execute(
                "return {w: window.innerWidth, h: window.innerHeight, page: document.documentElement.scrollHeight}",
                vec![],
            )
            .await;
        let get = |k: &str| size[k].as_u64().unwrap_or_default() as u32;
        let (w, h, page) = (get("w"), get("h"), get("page"));
        if page <= h {
            return self.screenshot().await;
        }
        self.set_viewport(w, page.min(max_height)).await;
        let png = self.screenshot().await;
        self.set_viewport(w, h).await;
        png
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session (Chromium quits with it): killing chromedriver alone leaves Chromium
        // running. Blocking and by hand, as Drop cannot wait for the async client.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.driver.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session_id, self.driver.port
            );
            read_http_response(&mut s);
        }
        if let Some(pid) = self.browser_pid
            && Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
        // Then `driver` is dropped (killed) and `profile` removed.
    }
}

impl Element<'_> {
    /// This element as an argument of [`Browser::execute`].
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, what: &str) -> String {
        format!("/element/{}/{what}", self.id)
    }

    /// Clicks the element (scrolled into view first); a navigation it starts is waited for.
    pub async fn click(&self) {
        self.browser.post(&self.path("click"), json!({})).await;
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) {
        self.browser.post(&self.path("value"), json!({ "text": text })).await;
    }

    pub async fn clear(&self) {
        self.browser.post(&self.path("clear"), json!({})).await;
    }

    /// The element's rendered text.
    pub async fn text(&self) -> String {
        self.browser.get(&self.path("text")).await.as_str().unwrap_or_default().to_owned()
    }

    /// A DOM property (`value`, `checked`, `href`…).
    pub async fn property(&self, name: &str) -> Value {
        self.browser.get(&self.path(&format!("property/{name}"))).await
    }

    /// An attribute as written in the markup.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        self.browser.get(&self.path(&format!("attribute/{name}"))).await.as_str().map(str::to_owned)
    }

    /// The element's computed value of the CSS property `name`.
    pub async fn css(&self, name: &str) -> String {
        self.browser.get(&self.path(&format!("css/{name}"))).await.as_str().unwrap_or_default().to_owned()
    }
}

/// Starts chromedriver on a free port and waits until it is ready.
async fn start_driver(chromedriver: &Path, http: &reqwest::Client, log: &Path) -> Driver {
    let mut last = String::new();
    // A port found free may be taken before chromedriver binds it: a few tries.
    for _ in 0..3 {
        let port = free_port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
        let mut driver = Driver { child, port };
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(Some(status)) = driver.child.try_wait() {
                last = format!("{} exited ({status}): {}", chromedriver.display(), read_log(log));
                break;
            }
            let url = format!("http://127.0.0.1:{port}/status");
            if let Ok(v) = request(http, reqwest::Method::GET, &url, None).await
                && v["ready"].as_bool() == Some(true)
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if last.is_empty() {
            last = format!("{} did not answer within {WAIT:?}: {}", chromedriver.display(), read_log(log));
        }
    }
    panic!("cannot start chromedriver: {last}")
}

/// Reads one HTTP/1.1 response (its headers and `Content-Length` bytes of body) — chromedriver
/// keeps the connection open whatever the request says, so reading to the end would wait for
/// the timeout.
fn read_http_response(s: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One WebDriver request; the `value` of the answer, or the driver's error.
async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut r = http.request(method, url);
    if let Some(body) = body {
        r = r.header("content-type", "application/json; charset=utf-8").body(body.to_string());
    }
    let response = r.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{status}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if !status.is_success() || value.get("error").is_some_and(Value::is_string) {
        let message = value["message"].as_str().unwrap_or_default().trim();
        return Err(format!("{status} {}: {message}", value["error"].as_str().unwrap_or("error")));
    }
    Ok(value)
}
