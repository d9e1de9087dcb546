//! Driving the real desktop app: tauri-driver in front of WebKitWebDriver, spoken to over plain
//! W3C WebDriver HTTP. Used by the window end-to-end test and the UI frame benchmark.
//!
//! Needs an X display (CI runs everything under `xvfb-run`), `tauri-driver` (`cargo install
//! tauri-driver --locked`) and `WebKitWebDriver` (Debian's `webkit2gtk-driver`), all installed
//! by `scripts/setup`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `MODELBENCH_REQUIRE_DESKTOP=1` (CI) turns a missing tool into a failure instead of a skip.
pub fn required() -> bool {
    std::env::var("MODELBENCH_REQUIRE_DESKTOP").is_ok_and(|value| value == "1")
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The tools a desktop test needs, or why they are missing.
pub struct Tools {
    pub tauri_driver: PathBuf,
}

impl Tools {
    pub fn find() -> Result<Self, String> {
        if std::env::var_os("DISPLAY").is_none_or(|display| display.is_empty()) {
            return Err("no X display (run under xvfb-run, as scripts/test does)".to_owned());
        }
        if on_path("WebKitWebDriver").is_none() {
            return Err("WebKitWebDriver is not on PATH (apt install webkit2gtk-driver)".to_owned());
        }
        if on_path("import").is_none() {
            return Err("ImageMagick's import is not on PATH (apt install imagemagick)".to_owned());
        }
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
            .map(|home| home.join("bin/tauri-driver"));
        let tauri_driver = on_path("tauri-driver")
            .or(cargo_bin.filter(|path| path.is_file()))
            .ok_or("tauri-driver is not installed (cargo install tauri-driver --locked)")?;
        Ok(Self { tauri_driver })
    }

    /// The tools, or `None` after saying why the test is skipped; panics when they are required.
    pub fn or_skip(test: &str) -> Option<Self> {
        match Self::find() {
            Ok(tools) => Some(tools),
            Err(reason) if required() => panic!("{test}: MODELBENCH_REQUIRE_DESKTOP=1 but {reason}"),
            Err(reason) => {
                eprintln!("{test}: skipped: {reason}");
                None
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// A running tauri-driver (and, while a session is open, WebKitWebDriver and the app under it),
/// in its own process group so all of them are stopped together.
pub struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Driver {
    /// Starts tauri-driver; the app it launches inherits `env` (its data dir, keys).
    pub async fn start(tools: &Tools, env: &[(&str, OsString)]) -> Self {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let native_port = free_port();
        let mut command = Command::new(&tools.tauri_driver);
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdin(Stdio::null())
            .process_group(0);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn tauri-driver");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = driver.http.get(format!("{}/status", driver.url)).send().await
                && response.status().is_success()
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not answer on {}",
                driver.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Launches `application` in a new WebDriver session.
    pub async fn session(&self, application: &Path) -> Session {
        let capabilities = json!({
            "capabilities": {"alwaysMatch": {"tauri:options": {"application": application}}}
        });
        let mut last_error = String::new();
        // WebKitWebDriver can refuse the very first session while it starts up.
        for _ in 0..3 {
            let answer = call(
                &self.http,
                reqwest::Method::POST,
                &format!("{}/session", self.url),
                Some(&capabilities),
            )
            .await;
            match answer {
                Ok(value) => {
                    let id = value["sessionId"].as_str().expect("sessionId").to_owned();
                    return Session {
                        http: self.http.clone(),
                        url: format!("{}/session/{id}", self.url),
                    };
                }
                Err(error) => last_error = error,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!(
            "cannot open a WebDriver session on {}: {last_error}",
            application.display()
        );
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let mut request = http.request(method, url).timeout(Duration::from_secs(60));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|error| format!("{url}: {error}"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|error| format!("{url}: {error}"))?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() && value.get("error").is_none() {
        Ok(value)
    } else {
        Err(format!("{url}: HTTP {status}: {value}"))
    }
}

/// A CSS selector for a `data-testid`, quoted so names with spaces, slashes or quotes work.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{}\"]", id.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One open app window.
pub struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(&self.http, method, &format!("{}{path}", self.url), body.as_ref()).await
    }

    /// Runs `script` in the page (`arguments[i]` are `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
        .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    /// Polls `script` until it returns something truthy (and returns that), or panics after
    /// `timeout` with `what` and the script's last answer.
    pub async fn wait_for_script(&self, what: &str, timeout: Duration, script: &str, args: Value) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, args.clone()).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what} (last: {value})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element with `data-testid` = `id`, once it exists.
    pub async fn element(&self, id: &str) -> String {
        let selector = tid(id);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": selector})),
                )
                .await;
            match found {
                Ok(value) => return value[ELEMENT_KEY].as_str().expect("element reference").to_owned(),
                Err(error) if Instant::now() > deadline => panic!("no element {selector}: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks the element with `data-testid` = `id` as a user would.
    pub async fn click(&self, id: &str) {
        let element = self.element(id).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot click {id}: {error}"));
    }

    /// Clears the field `id` and types `text` into it (real key events).
    pub async fn type_into(&self, id: &str, text: &str) {
        let element = self.element(id).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot clear {id}: {error}"));
        self.send_keys(id, text).await;
    }

    /// Sends `keys` to `id` as key events, W3C codes included (`\u{E009}` is Control,
    /// `\u{E007}` Enter, `\u{E000}` releases the modifiers).
    pub async fn send_keys(&self, id: &str, keys: &str) {
        let element = self.element(id).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": keys})),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot type into {id}: {error}"));
    }

    /// Picks `value` in the `<select>` `id`.
    pub async fn select(&self, id: &str, value: &str) {
        let option = format!("{} option[value=\"{value}\"]", tid(id));
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": option})),
            )
            .await
            .unwrap_or_else(|error| panic!("no option {value} in {id}: {error}"));
        let element = found[ELEMENT_KEY].as_str().expect("element reference");
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await
        .unwrap_or_else(|error| panic!("cannot pick {value} in {id}: {error}"));
    }

    /// The text content of `id` (`None` when there is no such element).
    pub async fn text(&self, id: &str) -> Option<String> {
        self.execute(
            "const element = document.querySelector(arguments[0]); return element ? element.textContent : null;",
            json!([tid(id)]),
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Waits until `id` exists and its trimmed text is one of `wanted`; returns it.
    pub async fn wait_for_text(&self, id: &str, wanted: &[&str], timeout: Duration) -> String {
        let value = self
            .wait_for_script(
                &format!("{id} to read one of {wanted:?}"),
                timeout,
                "const element = document.querySelector(arguments[0]);
                 const text = element ? element.textContent.trim() : null;
                 return arguments[1].includes(text) ? text : null;",
                json!([tid(id), wanted]),
            )
            .await;
        value.as_str().expect("text").to_owned()
    }

    /// Waits until `id` exists and its text contains `needle`.
    pub async fn wait_for_contains(&self, id: &str, needle: &str, timeout: Duration) {
        self.wait_for_script(
            &format!("{id} to contain {needle:?}"),
            timeout,
            "const element = document.querySelector(arguments[0]);
             return element !== null && element.textContent.includes(arguments[1]);",
            json!([tid(id), needle]),
        )
        .await;
    }

    /// A PNG of the screen as the X server shows it: the app's window fills the virtual screen
    /// (both 1400x900). Not WebDriver's screenshot: WebKitWebDriver waits for a composited frame
    /// that never comes when the web view paints with the CPU, the app's mode on a machine
    /// without a GPU (src-tauri/src/webview.rs), and the X server's pixels are what a user sees.
    pub async fn screenshot(&self) -> Vec<u8> {
        // Let the last frame reach the screen.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let output = tokio::task::spawn_blocking(|| Command::new("import").args(["-window", "root", "png:-"]).output())
            .await
            .expect("screenshot task")
            .unwrap_or_else(|error| panic!("screenshot: cannot run import: {error}"));
        assert!(
            output.status.success() && output.stdout.starts_with(b"\x89PNG"),
            "screenshot: import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Closes the window (the app exits).
    pub async fn quit(self) {
        if let Err(error) = self.call(reqwest::Method::DELETE, "", None).await {
            eprintln!("closing the WebDriver session: {error}");
        }
    }
}
