//! A real SMTP server on loopback for the tests: the protocol is the `mailin`
//! crate's state machine; this file only moves lines between it and sockets
//! and keeps every message received.

use mailin::{Action, Handler, Response, SessionBuilder};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as received (headers and body, CRLF line ends).
    pub data: Vec<u8>,
    /// The user that authenticated, if any.
    pub user: Option<String>,
}

impl Mail {
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Headers and every text part, decoded (see [`super::mime::text`]).
    pub fn text(&self) -> String {
        super::mime::text(&self.data)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        super::mime::header(&self.data, name)
    }
}

#[derive(Clone)]
struct Collector {
    mails: Arc<Mutex<Vec<Mail>>>,
    credentials: Option<(String, String)>,
    user: Option<String>,
    current: Option<Mail>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.credentials.is_some() && self.user.is_none() {
            return mailin::response::AUTHENTICATION_REQUIRED;
        }
        self.current = Some(Mail {
            from: from.to_string(),
            to: to.to_vec(),
            data: Vec::new(),
            user: self.user.clone(),
        });
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = &mut self.current {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.mails.lock().unwrap().push(m);
        }
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => {
                self.user = Some(user.to_string());
                mailin::response::AUTH_OK
            }
            _ => mailin::response::INVALID_CREDENTIALS,
        }
    }
}

/// An SMTP server that accepts every message (after `AUTH PLAIN` when it has
/// credentials) and keeps it in memory. Stopped on drop.
pub struct SmtpServer {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<AtomicBool>,
}

impl SmtpServer {
    /// Listens on `addr` (`127.0.0.1:0` for any free port).
    pub fn start(addr: &str) -> SmtpServer {
        SmtpServer::start_with(addr, None)
    }

    /// Requires `AUTH PLAIN` with these credentials (offered over plain TCP,
    /// as a local relay would).
    pub fn start_with(addr: &str, credentials: Option<(&str, &str)>) -> SmtpServer {
        let listener = TcpListener::bind(addr).expect("bind SMTP");
        let addr = listener.local_addr().expect("SMTP addr");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut builder = SessionBuilder::new("smtp.test");
        if credentials.is_some() {
            builder
                .enable_auth(mailin::AuthMechanism::Plain)
                .insecure_enable_plaintext_auth();
        }
        let collector = Collector {
            mails: Arc::clone(&mails),
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            user: None,
            current: None,
        };
        let stop2 = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let builder = builder.clone();
                let collector = collector.clone();
                let stop3 = Arc::clone(&stop2);
                std::thread::spawn(move || serve(conn, builder, collector, stop3));
            }
        });
        SmtpServer { addr, mails, stop }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.mails.lock().unwrap().len()
    }

    /// Waits until at least `n` messages arrived; returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(conn: TcpStream, builder: SessionBuilder, collector: Collector, stop: Arc<AtomicBool>) {
    let Ok(peer) = conn.peer_addr() else { return };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut session = builder.build(peer.ip(), collector);
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    if session.greeting().write_to(&mut writer).is_err() {
        return;
    }
    let mut reader = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let response = session.process(&line);
        match response.action {
            Action::Reply => {
                if response.write_to(&mut writer).is_err() {
                    return;
                }
            }
            Action::NoReply => {}
            Action::Close | Action::UpgradeTls => {
                let _ = response.write_to(&mut writer);
                let _ = writer.flush();
                return;
            }
        }
    }
}
