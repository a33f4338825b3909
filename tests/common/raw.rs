//! Helpers below the HTTP client: the binary's `--check` on a configuration, a request written by hand, and a
//! keep-alive upstream on raw TCP that counts its open connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{TempConfig, MESSAGE_JSON};

/// Runs `gatehouse --check` with only `env` (and the file, if any): whether the configuration is valid, and what
/// the binary printed (stdout and stderr).
pub fn check_config(env: &[(&str, &str)], file: Option<&str>) -> (bool, String) {
    let config = file.map(TempConfig::new);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("--check").env_clear().current_dir(std::env::temp_dir());
    if let Some(config) = &config {
        cmd.arg("--config").arg(&config.path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Writes `request` to the server at `url` and reads the answer until the server closes or 5 s pass.
pub fn exchange(url: &str, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// An Anthropic-format upstream on raw TCP that keeps connections alive and counts them: `open` now, the most
/// `open` at once, and `total` accepted. Each request is answered with [`MESSAGE_JSON`] after `delay`.
pub struct CountingUpstream {
    pub url: String,
    pub open: Arc<AtomicUsize>,
    pub most: Arc<AtomicUsize>,
    pub total: Arc<AtomicUsize>,
}

impl CountingUpstream {
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

pub fn start_counting_upstream(delay: Duration) -> CountingUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (open, most, total) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counters = (open.clone(), most.clone(), total.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (open, most, total) = (counters.0.clone(), counters.1.clone(), counters.2.clone());
            total.fetch_add(1, Ordering::SeqCst);
            let now = open.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::spawn(move || {
                serve_keep_alive(stream, delay);
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    CountingUpstream { url, open, most, total }
}

/// Answers requests on one connection until the peer closes it.
fn serve_keep_alive(stream: TcpStream, delay: Duration) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(delay);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{MESSAGE_JSON}",
            MESSAGE_JSON.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
