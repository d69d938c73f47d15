//! A real Synapse homeserver for the Matrix tests: from the Python venv `scripts/test` prepares
//! (`$OKIENKO_VENV`, default `~/.cache/okienko/venv`, with `matrix-synapse` from
//! scripts/requirements-matrix.txt), on 127.0.0.1 at a free port, with SQLite, no federation
//! listener and no trusted key servers (nothing leaves the machine). Users are registered with
//! the shared-secret admin API. The process is stopped by its id when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};

/// The venv's Python, if Synapse is installed in it.
pub fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("OKIENKO_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/okienko/venv")))?;
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import synapse"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(py)
}

pub struct Synapse {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub dir: PathBuf,
    shared_secret: String,
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn replace_once(s: &mut String, from: &str, to: &str) {
    assert!(s.contains(from), "generated homeserver.yaml lacks {from:?}");
    *s = s.replacen(from, to, 1);
}

impl Synapse {
    /// Generates a configuration in `dir`, hardens it for loopback, starts the server and waits
    /// until the client API answers.
    pub async fn start(python: &Path, dir: &Path) -> Synapse {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("homeserver.yaml");
        let generated = Command::new(python)
            .args(["-m", "synapse.app.homeserver", "--server-name", "localhost"])
            .arg("--config-path")
            .arg(&config)
            .arg("--data-directory")
            .arg(dir)
            .args(["--generate-config", "--report-stats=no"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            generated.status.success(),
            "synapse --generate-config: {}",
            String::from_utf8_lossy(&generated.stderr)
        );
        let port = free_port();
        let mut yaml = std::fs::read_to_string(&config).unwrap();
        // IPv4 loopback only, at our port; the client API only (no federation listener).
        replace_once(
            &mut yaml,
            "    - ::1\n    - 127.0.0.1\n",
            "    - 127.0.0.1\n",
        );
        replace_once(
            &mut yaml,
            "    port: 8008\n",
            &format!("    port: {port}\n"),
        );
        replace_once(
            &mut yaml,
            "      - client\n      - federation\n",
            "      - client\n",
        );
        // No key servers: nothing is fetched from the internet.
        replace_once(
            &mut yaml,
            "trusted_key_servers:\n  - server_name: \"matrix.org\"\n",
            "trusted_key_servers: []\n",
        );
        yaml.push_str(
            "\nsuppress_key_server_warning: true\n\
enable_metrics: false\n\
federation_domain_whitelist: []\n\
url_preview_enabled: false\n\
rc_message:\n  per_second: 1000\n  burst_count: 1000\n\
rc_login:\n  address:\n    per_second: 1000\n    burst_count: 1000\n  account:\n    per_second: 1000\n    burst_count: 1000\n  failed_attempts:\n    per_second: 1000\n    burst_count: 1000\n\
rc_joins:\n  local:\n    per_second: 1000\n    burst_count: 1000\n\
rc_invites:\n  per_room:\n    per_second: 1000\n    burst_count: 1000\n  per_user:\n    per_second: 1000\n    burst_count: 1000\n\
rc_room_creation:\n  per_second: 1000\n  burst_count: 1000\n\
rc_key_requests:\n  per_second: 1000\n  burst_count: 1000\n",
        );
        std::fs::write(&config, &yaml).unwrap();
        let shared_secret = yaml
            .lines()
            .find_map(|l| l.strip_prefix("registration_shared_secret: "))
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_owned();
        let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let hs = Synapse {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
            shared_secret,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let up = client
                .get(format!("{}/_matrix/client/versions", hs.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return hs;
            }
            assert!(
                Instant::now() < deadline,
                "synapse did not start; its output:\n{}",
                std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Registers `user` through the shared-secret admin API (HMAC-SHA1 over
    /// nonce\0user\0password\0admin|notadmin); returns the user id.
    pub async fn register(&self, user: &str, password: &str) -> String {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = format!("{}/_synapse/admin/v1/register", self.url);
        let nonce: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        let nonce = nonce["nonce"].as_str().unwrap().to_owned();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(self.shared_secret.as_bytes()).unwrap();
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.update(b"\0notadmin");
        let mac = hex::encode(mac.finalize().into_bytes());
        let resp = http
            .post(&url)
            .json(&json!({
                "nonce": nonce, "username": user, "password": password,
                "admin": false, "mac": mac,
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "registering {user}: {resp:?}");
        let body: Value = resp.json().await.unwrap();
        body["user_id"].as_str().unwrap().to_owned()
    }

    /// The server's SQLite database and its journal files.
    pub fn database_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("homeserver.db"))
            })
            .collect()
    }

    /// Stops the server (SIGTERM to its process id, so it closes its database), waiting up to
    /// 20 s before killing it.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
