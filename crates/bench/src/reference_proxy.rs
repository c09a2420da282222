//! `--gateway --nginx PATH`: the storefront behind nginx, a mature C
//! proxy doing the least a proxy can (keep-alive `proxy_pass`, no
//! identity, access log to /dev/null as payfac's log lines go there
//! too). Its rate shows how much of the proxied ÷ direct gap any proxy
//! sharing these cores pays, and how much is payfac's own.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A running nginx, stopped when dropped.
pub struct Nginx {
    child: Child,
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts `binary` in front of `storefront` with as many workers as
    /// the machine has cores (payfac's runtime has as many threads).
    pub fn start(binary: &Path, storefront: SocketAddr, workers: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let root = dir.path().display();
        let config = format!(
            "worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log /dev/null;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  keepalive_requests 1000000;
  upstream storefront {{ server {storefront}; keepalive 128; keepalive_requests 1000000; }}
  server {{
    listen {address};
    location / {{
      proxy_pass http://storefront;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config)?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nginx = Self {
            child,
            address,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(address).is_err() {
            if let Some(status) = nginx.child.try_wait()? {
                let log = std::fs::read_to_string(nginx._dir.path().join("error.log"))
                    .unwrap_or_default();
                anyhow::bail!("nginx exited with {status}: {log}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "nginx did not listen on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master stops its workers on the way out.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
