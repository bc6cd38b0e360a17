//! A real Radicale server for one test: started with `python -m radicale` on a free loopback
//! port, with its own storage folder and a plain htpasswd file, and stopped when dropped.
//!
//! The Python comes from `PILLOW_RADICALE` (set by `.ci/setup.d/caldav.sh`), else
//! `target/radicale-venv/bin/python`. Without it the tests skip with a message, except under
//! `CI=true`, where they fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pillow_providers::caldav::CalDavAccount;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "app-password-1";

pub struct Radicale {
    child: Child,
    pub url: String,
    storage: PathBuf,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PILLOW_RADICALE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/radicale-venv/bin/python")
        });
    let works = Command::new(&path)
        .args(["-c", "import radicale"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(path)
}

impl Radicale {
    /// A fresh server, or `None` (after saying so) when Radicale is not installed locally.
    pub async fn start() -> Option<Self> {
        let Some(python) = python() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but Radicale is missing: .ci/setup.d/caldav.sh installs it (PILLOW_RADICALE)"
            );
            eprintln!("skipped: Radicale is not installed (run: source .ci/setup.d/caldav.sh)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let users = dir.path().join("users");
        std::fs::write(&users, format!("{USER}:{PASSWORD}\n")).expect("htpasswd");
        let storage = dir.path().join("storage");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "radicale", "-C", ""])
            .arg("--server-hosts")
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-encryption",
                "plain",
            ])
            .arg("--auth-htpasswd-filename")
            .arg(&users)
            .arg("--storage-filesystem-folder")
            .arg(&storage)
            .args(["--rights-type", "owner_only", "--logging-level", "error"])
            .stdout(Stdio::null())
            // Radicale logs its start-up to stderr whatever the level; keep it beside the data.
            .stderr(std::fs::File::create(dir.path().join("radicale.log")).expect("log file"))
            .spawn()
            .expect("start radicale");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            storage,
            _dir: dir,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "radicale did not start on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(server)
    }

    pub fn account(&self) -> CalDavAccount {
        CalDavAccount {
            server_url: self.url.clone(),
            username: USER.into(),
            password: PASSWORD.to_string().into(),
        }
    }

    fn request(&self, method: &str, href: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method.parse().expect("method"),
                format!("{}{href}", self.url),
            )
            .basic_auth(USER, Some(PASSWORD))
    }

    /// Makes a calendar collection, as the user's own calendar app would.
    pub async fn mkcalendar(&self, href: &str, name: &str, component: &str) {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>{name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="{component}"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>"#
        );
        let r = self
            .request("MKCALENDAR", href)
            .body(body)
            .send()
            .await
            .expect("mkcalendar");
        assert_eq!(r.status().as_u16(), 201, "MKCALENDAR {href}");
    }

    /// Writes an event as another client would; answers its new ETag.
    pub async fn put(&self, href: &str, ics: &str) -> String {
        let r = self
            .request("PUT", href)
            .header("content-type", "text/calendar; charset=utf-8")
            .body(ics.to_owned())
            .send()
            .await
            .expect("put");
        assert!(r.status().is_success(), "PUT {href}: {}", r.status());
        r.headers()["etag"].to_str().expect("etag").to_owned()
    }

    /// Writes an event file straight into the storage folder, as a bulk import would, so a
    /// benchmark can fill a calendar with thousands of events without a PUT each (Radicale
    /// reads the folder on the next request). Only while no request is writing.
    #[allow(dead_code)] // used by the server's sync benchmark, not by these tests
    pub fn write_directly(&self, href: &str, ics: &str) {
        let path = self
            .storage
            .join("collection-root")
            .join(href.trim_start_matches('/'));
        std::fs::write(path, ics).expect("write the event file");
    }

    pub async fn delete(&self, href: &str) {
        let r = self.request("DELETE", href).send().await.expect("delete");
        assert!(r.status().is_success(), "DELETE {href}: {}", r.status());
    }

    /// The resources in a calendar, by a plain PROPFIND (independent of the client under test).
    pub async fn hrefs(&self, calendar: &str) -> Vec<String> {
        let r = self
            .request("PROPFIND", calendar)
            .header("depth", "1")
            .send()
            .await
            .expect("propfind");
        let body = r.text().await.expect("body");
        body.split("href>")
            .filter_map(|s| s.split('<').next())
            .filter(|h| h.ends_with(".ics"))
            .map(str::to_owned)
            .collect()
    }

    /// Forgets every sync token the server has handed out (its token cache), as a server
    /// does when it expires old tokens.
    pub fn invalidate_sync_tokens(&self) {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n == "sync-token") {
                        found.push(path);
                    } else {
                        walk(&path, found);
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.storage, &mut found);
        assert!(
            !found.is_empty(),
            "no sync-token cache under {}",
            self.storage.display()
        );
        for dir in found {
            std::fs::remove_dir_all(dir).expect("remove token cache");
        }
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
