//! A real IMAP server for the tests: Dovecot (`dovecot-imapd`, installed by
//! `tests/run.sh`) as a throwaway instance with everything in a temporary
//! folder: its own base_dir and state, one user from a passwd-file, a
//! Maildir, plain login over loopback. Messages are delivered by writing them
//! into the Maildir, as a local delivery agent does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const USER: &str = "office";
pub const PASSWORD: &str = "s3cret-pass";

pub struct Dovecot {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// The uid/gid the mail files belong to.
    owner: (u32, u32),
}

fn binary() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "Dovecot is not installed: the mailbox tests need it as their IMAP server. \
         Install it with `apt-get install dovecot-imapd` (tests/run.sh does)."
    );
}

impl Dovecot {
    /// Starts a new instance on a free loopback port and waits until it
    /// accepts connections.
    pub fn start() -> Dovecot {
        // Fails at once, saying what to install, when Dovecot is missing.
        binary();
        let dir = tempfile::Builder::new()
            .prefix("gazette-dovecot-")
            .tempdir()
            .expect("temp dir");
        // SAFETY: plain syscalls without pointers.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        // Dovecot runs no mail or login process as root: as root the mail
        // belongs to nobody and the logins run as its own dovenull user.
        let (owner, internal, login) = if euid == 0 {
            (
                (65534, 65534),
                "dovecot".to_string(),
                "dovenull".to_string(),
            )
        } else {
            let name = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            ((euid, egid), name.clone(), name)
        };
        let root = dir.path();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::create_dir_all(root.join("home").join(USER)).unwrap();
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = super::free_port();
        let conf = format!(
            r#"base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"#,
            root = root.display(),
            internal_group = if euid == 0 {
                "dovecot".to_string()
            } else {
                internal.clone()
            },
            uid = owner.0,
            gid = owner.1,
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        let mut d = Dovecot {
            dir,
            port,
            child: None,
            owner,
        };
        d.chown_tree(&d.dir.path().join("home"));
        d.run();
        d
    }

    fn run(&mut self) {
        let child = Command::new(binary())
            .arg("-F")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dovecot");
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        assert!(
            super::wait_for_port(addr, Duration::from_secs(20)),
            "dovecot did not listen on {addr}: {}",
            self.log()
        );
    }

    /// Stops the server (SIGTERM, waiting for it to exit).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id() as libc::pid_t;
            // SAFETY: a plain syscall on our own child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let _ = c.wait();
        }
        // The master removes its pid file and sockets on the way out.
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let gone = super::eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100))
                .is_err()
                .then_some(())
        });
        assert!(gone.is_some(), "dovecot still listens after stop");
    }

    /// Starts it again on the same port, with the same mail.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `GAZETTE_MAILBOX_*` overrides that point a gazette at this
    /// server, polling often (tests wait for states, not for time).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GAZETTE_MAILBOX_SERVER", self.server()),
            ("GAZETTE_MAILBOX_TLS", "none".into()),
            ("GAZETTE_MAILBOX_USER", USER.into()),
            ("GAZETTE_MAILBOX_PASSWORD", PASSWORD.into()),
            ("GAZETTE_MAILBOX_POLL", "200ms".into()),
        ]
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    /// The Maildir of a folder (`INBOX` or another).
    fn folder_dir(&self, folder: &str) -> PathBuf {
        if folder == "INBOX" {
            self.maildir()
        } else {
            self.maildir().join(format!(".{folder}"))
        }
    }

    fn chown_tree(&self, path: &Path) {
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            return;
        };
        // SAFETY: a valid NUL-terminated path.
        unsafe {
            libc::chown(c.as_ptr(), self.owner.0, self.owner.1);
        }
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                for e in entries.flatten() {
                    self.chown_tree(&e.path());
                }
            }
        }
    }

    /// Delivers a message into the inbox (Maildir `new/`, written in `tmp/`
    /// first so Dovecot never sees half of it).
    pub fn deliver(&self, raw: &[u8]) {
        self.deliver_many(std::iter::once(raw.to_vec()));
    }

    pub fn deliver_many(&self, messages: impl IntoIterator<Item = Vec<u8>>) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let md = self.maildir();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        self.chown_tree(&md);
        for raw in messages {
            let name = format!(
                "{}.P{}Q{}.gazette-test",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            );
            let tmp = md.join("tmp").join(&name);
            std::fs::write(&tmp, raw).unwrap();
            self.chown_tree(&tmp);
            std::fs::rename(&tmp, md.join("new").join(&name)).unwrap();
        }
    }

    /// How many messages a folder holds (0 when it does not exist yet).
    pub fn count(&self, folder: &str) -> usize {
        let dir = self.folder_dir(folder);
        ["new", "cur"]
            .iter()
            .map(|s| {
                std::fs::read_dir(dir.join(s))
                    .map(|d| d.flatten().count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The messages in a folder, as bytes.
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let dir = self.folder_dir(folder);
        let mut out = Vec::new();
        for s in ["new", "cur"] {
            if let Ok(d) = std::fs::read_dir(dir.join(s)) {
                for e in d.flatten() {
                    if let Ok(b) = std::fs::read(e.path()) {
                        out.push(b);
                    }
                }
            }
        }
        out
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A message as a mail program sends it: `From`, `To`, `Subject`,
/// `Message-ID`, `Date`, extra headers, a text part and attachments.
pub struct MessageBuilder {
    headers: Vec<(String, String)>,
    text: String,
    attachments: Vec<(String, Vec<u8>)>,
}

impl MessageBuilder {
    pub fn new(from: &str, subject: &str, message_id: &str) -> MessageBuilder {
        MessageBuilder {
            headers: vec![
                ("From".into(), from.into()),
                ("To".into(), "专技科 <office@hrss.test>".into()),
                ("Subject".into(), subject.into()),
                ("Message-ID".into(), format!("<{message_id}>")),
                ("Date".into(), "Wed, 20 Jul 2016 10:31:00 +0800".into()),
            ],
            text: "您好，附件是我单位填写的表格，请查收。".into(),
            attachments: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn text(mut self, text: &str) -> Self {
        self.text = text.into();
        self
    }

    pub fn attach(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.attachments.push((name.into(), bytes));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = String::new();
        for (k, v) in &self.headers {
            let v = if v.is_ascii() {
                v.clone()
            } else if k == "From" || k == "To" {
                // "名字 <addr>": encode the name only.
                match v.rsplit_once(" <") {
                    Some((name, addr)) => format!("=?UTF-8?B?{}?= <{addr}", b64.encode(name)),
                    None => v.clone(),
                }
            } else {
                format!("=?UTF-8?B?{}?=", b64.encode(v))
            };
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("MIME-Version: 1.0\r\n");
        let boundary = "----=_gazette_test_boundary";
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
        ));
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            wrap(&b64.encode(&self.text))
        ));
        for (name, bytes) in &self.attachments {
            let encoded = format!("=?UTF-8?B?{}?=", b64.encode(name));
            out.push_str(&format!(
                "--{boundary}\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"{encoded}\"\r\nContent-Disposition: attachment; filename=\"{encoded}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                wrap(&b64.encode(bytes))
            ));
        }
        out.push_str(&format!("--{boundary}--\r\n"));
        out.into_bytes()
    }
}

fn wrap(s: &str) -> String {
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}
