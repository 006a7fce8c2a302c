//! `gazette.toml`: one file of settings read by every command.
//!
//! Every key can be overridden by an environment variable named
//! `GAZETTE_<SECTION>_<KEY>` (upper case), e.g. `GAZETTE_INTAKE_LISTEN`.
//! A missing file means "all embedded defaults", so a bare content folder
//! builds and serves.

mod types;

pub use types::{parse_duration, Network, WebUrl};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE_NAME: &str = "gazette.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("{path}: [{key}] {reason}")]
    Invalid {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub site: Site,
    pub office: Office,
    pub intake: Intake,
    pub mail: Mail,
    pub fax: Fax,
    pub admin: Admin,
    pub mailbox: Mailbox,
    pub pdf: Pdf,
    /// Folder the config was read from; every relative path is resolved against it.
    #[serde(skip)]
    pub root: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Site {
    pub title: String,
    pub description: String,
    pub language: String,
    /// Absolute URL of the published site, e.g. `https://hrss.meizhou.gov.cn/`.
    /// Empty: every link is relative, and `sitemap.xml` and `atom.xml`
    /// (which need absolute URLs) are not written.
    pub base_url: WebUrl,
    /// Shown in the footer and the `SiteName`/`SiteDomain` meta tags.
    pub domain: String,
    /// 主办单位 (the footer, 国办发〔2017〕47号).
    pub sponsor: String,
    /// 承办单位: who runs the site for the 主办单位.
    pub operator: String,
    /// Contact of the 主办/承办单位 shown with them (a phone or an address).
    pub sponsor_contact: String,
    /// 网站标识码, e.g. `4414000001`: the footer and `<meta name="SiteIDCode">`.
    pub site_code: String,
    /// ICP备案号, e.g. `粤ICP备05000000号`, linked to beian.miit.gov.cn.
    pub icp: String,
    /// 公安机关备案号, e.g. `粤公网安备 44140202000000号`.
    pub police_record: String,
    /// The 公安机关备案号's link (its record on beian.mps.gov.cn).
    pub police_record_url: String,
    /// What a problem in a manual does when its `book.toml` does not say
    /// (`[output.gazette] problems`): `error` fails the build, `warn`
    /// prints and counts it and publishes.
    pub manual_problems: ProblemPolicy,
}

/// Whether content problems fail the build or are published with a warning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemPolicy {
    #[default]
    Error,
    Warn,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            title: "gazette".into(),
            description: String::new(),
            language: "zh-CN".into(),
            base_url: WebUrl::default(),
            domain: String::new(),
            sponsor: String::new(),
            operator: String::new(),
            sponsor_contact: String::new(),
            site_code: String::new(),
            icp: String::new(),
            police_record: String::new(),
            police_record_url: String::new(),
            manual_problems: ProblemPolicy::Error,
        }
    }
}

/// The contact office that receives the returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Office {
    pub name: String,
    pub section: String,
    pub person: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub address: String,
    /// Keys of `[office]` whose values the office has not confirmed yet, e.g.
    /// `unconfirmed = ["email"]`. Pages mark them 【待核实】, `build` and
    /// `check` warn, `--strict` fails. An `email` in a reserved domain
    /// (`.example`, `.test`, `.invalid`, `.localhost`, `example.com/.net/.org`)
    /// is added on load: mail to it bounces.
    pub unconfirmed: Vec<String>,
}

/// The `[office]` keys `unconfirmed` can name, with what people call them.
pub const OFFICE_UNCONFIRMABLE: &[(&str, &str)] = &[
    ("name", "联系单位"),
    ("section", "联系科室"),
    ("person", "联系人"),
    ("phone", "电话"),
    ("fax", "传真"),
    ("email", "电子邮箱"),
    ("address", "地址"),
];

/// Domains reserved for examples and tests (RFC 2606, RFC 6761): mail to them bounces.
const RESERVED_DOMAINS: &[&str] = &[
    "example",
    "test",
    "invalid",
    "localhost",
    "example.com",
    "example.net",
    "example.org",
];

/// The reserved domain an email address falls under (`example`,
/// `example.com`, …); None for a domain that can receive mail.
pub fn reserved_domain(address: &str) -> Option<&'static str> {
    let (_, domain) = address.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    RESERVED_DOMAINS
        .iter()
        .copied()
        .find(|r| domain == *r || domain.ends_with(&format!(".{r}")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// Where the static forms post to. Empty: the same origin as the site
    /// (what `gazette serve` gives).
    pub url: WebUrl,
    #[serde(with = "types::socket_addr")]
    pub listen: SocketAddr,
    /// A SQLite file (relative to the site root), or a PostgreSQL connection
    /// string `postgres://user@host:port/db` (see [`Config::database_url`]).
    pub database: PathBuf,
    /// On PostgreSQL, how long a node's claim on an outbox row holds: past
    /// it another node sends the row (the claiming node died). Longer than a
    /// send can take.
    #[serde(with = "types::duration")]
    pub outbox_lease: Duration,
    /// Origins (`scheme://host[:port]`, or `null`) allowed to post besides the intake's own.
    #[serde(deserialize_with = "types::origins")]
    pub allowed_origins: Vec<String>,
    /// Posts allowed per client per minute.
    pub rate_limit: u32,
    /// The built site (what `gazette build` wrote), whose search index
    /// answers `GET /search` on `gazette intake`. `gazette serve` uses its
    /// own build instead.
    pub site_dir: PathBuf,
    /// A request's headers must arrive within this (also how long an idle
    /// keep-alive connection stays open).
    #[serde(with = "types::duration")]
    pub header_timeout: Duration,
    /// From a request's headers to its response, reading the body included.
    #[serde(with = "types::duration")]
    pub request_timeout: Duration,
    /// Open connections at most (keep it well under the open-files limit).
    pub max_connections: u32,
    /// Open connections per client address (an IPv6 /64 counts as one).
    pub max_connections_per_client: u32,
    /// A web filer whose form has an email field gets a copy of the receipt
    /// there (through the outbox).
    pub confirm_to_filer: bool,
    /// Reverse proxies (addresses or networks) whose `client_ip_header` is
    /// believed: a request from one of them counts as from the address that
    /// header gives. Empty: forwarding headers are ignored.
    pub trusted_proxies: Vec<Network>,
    /// The header a trusted proxy puts the client's address in
    /// (`X-Forwarded-For`, read from the right, or e.g. `X-Real-IP`).
    pub client_ip_header: String,
}

impl Office {
    /// Whether `key`'s value is marked unconfirmed (explicitly or, for the
    /// email, by its reserved domain).
    pub fn is_unconfirmed(&self, key: &str) -> bool {
        self.unconfirmed.iter().any(|u| u == key)
    }

    /// Each unconfirmed, non-empty value: (key, 中文 name, value).
    pub fn unconfirmed_values(&self) -> Vec<(&'static str, &'static str, &str)> {
        OFFICE_UNCONFIRMABLE
            .iter()
            .filter(|(k, _)| self.is_unconfirmed(k))
            .filter_map(|(k, zh)| {
                let v = self.value(k)?;
                (!v.is_empty()).then_some((*k, *zh, v))
            })
            .collect()
    }

    fn value(&self, key: &str) -> Option<&str> {
        Some(match key {
            "name" => &self.name,
            "section" => &self.section,
            "person" => &self.person,
            "phone" => &self.phone,
            "fax" => &self.fax,
            "email" => &self.email,
            "address" => &self.address,
            _ => return None,
        })
    }

    /// Marks an email in a reserved domain unconfirmed.
    fn mark_reserved(&mut self) {
        if reserved_domain(&self.email).is_some() && !self.is_unconfirmed("email") {
            self.unconfirmed.push("email".into());
        }
    }

    /// `value`, followed by 【待核实】 when `key` is unconfirmed (for plain text).
    fn marked(&self, key: &str, value: &str) -> String {
        if self.is_unconfirmed(key) {
            format!("{value}【待核实】")
        } else {
            value.to_string()
        }
    }

    /// The lines at the top of a blank spreadsheet saying how to return it.
    /// The site writes the blank; the intake, which links to it, reports its
    /// size: both need the same bytes.
    pub fn return_instructions(&self) -> Vec<String> {
        let mut lines = vec![
            "请按本表格式填写，每行填写一个单位，不要修改表头。".to_string(),
            "填写完成后，请通过电子邮件或传真报送：".to_string(),
        ];
        let office = [self.name.as_str(), self.section.as_str()].concat();
        if !office.is_empty() {
            lines.push(format!("报送单位：{office}"));
        }
        if !self.email.is_empty() {
            lines.push(format!("电子邮箱：{}", self.marked("email", &self.email)));
        }
        if !self.fax.is_empty() {
            lines.push(format!("传真：{}", self.marked("fax", &self.fax)));
        }
        if !self.person.is_empty() || !self.phone.is_empty() {
            lines.push(format!("联系人：{} 电话：{}", self.person, self.phone));
        }
        lines
    }
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            url: WebUrl::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: PathBuf::from("var/gazette.db"),
            outbox_lease: Duration::from_secs(300),
            allowed_origins: Vec::new(),
            rate_limit: 30,
            site_dir: PathBuf::from("public"),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_connections_per_client: 64,
            confirm_to_filer: false,
            trusted_proxies: Vec::new(),
            client_ip_header: "X-Forwarded-For".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:port` (TLS), or a folder for `.eml` files.
    pub transport: String,
    pub from: String,
    /// First retry delay, written e.g. `30s`, `500ms`, `5m`; doubles with each try.
    #[serde(with = "types::duration")]
    pub retry_base: Duration,
    /// Number of tries before a notification is marked failed.
    pub retry_max: u32,
    /// Longest wait for the SMTP server: connecting, and then each whole
    /// message. A server that accepts the connection and never answers
    /// would otherwise hold the outbox forever; past this the try counts
    /// as failed and is retried.
    #[serde(with = "types::duration")]
    pub timeout: Duration,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            transport: "var/outbox".into(),
            from: "gazette <gazette@localhost>".into(),
            retry_base: Duration::from_secs(30),
            retry_max: 8,
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fax {
    /// Numbers every return is faxed to; empty: no fax.
    pub numbers: Vec<String>,
    /// Email-to-fax gateway address template, e.g. `{number}@fax.example.org`.
    pub gateway: String,
    /// A command instead of a gateway, e.g. `["sendfax", "-n", "-d", "{number}", "{pdf}"]`.
    pub command: Vec<String>,
    /// A TrueType/OpenType font with CJK glyphs; empty: look in the usual system places.
    pub font: PathBuf,
}

/// The PDFs the build makes (notice, blank forms, manuals) and the receipts'.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pdf {
    /// Whether `build` makes the PDFs (on by default).
    pub enabled: bool,
    /// A TrueType/OpenType font with CJK glyphs; empty: `[fax] font`, else
    /// the usual system places.
    pub font: PathBuf,
    /// The notice's body (GB/T 9704: 仿宋), tried in order: font files
    /// (`.ttf`/`.otf`/`.ttc`, relative to the site) or families fontconfig
    /// knows (`fc-list`; `Family:style=Bold` patterns too); none found: `font`.
    pub body_font: Vec<String>,
    /// The notice's 发文机关标志 and title (小标宋), likewise.
    pub title_font: Vec<String>,
}

/// 仿宋 under the names Windows, macOS, the 方正 and the GB2312 fonts give it,
/// then a serif (宋体) before the sans fallback.
pub const BODY_FONTS: &[&str] = &[
    "FangSong",
    "仿宋",
    "FangSong_GB2312",
    "仿宋_GB2312",
    "STFangsong",
    "华文仿宋",
    "FZFangSong-Z02S",
    "方正仿宋简体",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
];

/// 小标宋 (方正小标宋), then 中宋 and a bold serif.
pub const TITLE_FONTS: &[&str] = &[
    "FZXiaoBiaoSong-B05S",
    "方正小标宋简体",
    "FZXiaoBiaoSong-B05",
    "方正小标宋_GBK",
    "小标宋",
    "STZhongsong",
    "华文中宋",
    "Noto Serif CJK SC:style=Bold",
    "Source Han Serif SC:style=Bold",
];

impl Default for Pdf {
    fn default() -> Self {
        Pdf {
            enabled: true,
            font: PathBuf::new(),
            body_font: BODY_FONTS.iter().map(|s| s.to_string()).collect(),
            title_font: TITLE_FONTS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Config {
    /// The font file `[pdf] font` (or `[fax] font`) names, resolved; empty
    /// when neither is set (search the system).
    pub fn pdf_font(&self) -> PathBuf {
        let named = if self.pdf.font.as_os_str().is_empty() {
            &self.fax.font
        } else {
            &self.pdf.font
        };
        if named.as_os_str().is_empty() {
            PathBuf::new()
        } else {
            self.resolve(named)
        }
    }
}

/// The office mailbox that `gazette intake` (and `gazette mailbox --once`)
/// reads returns from; off while `server` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mailbox {
    /// `host:port` of the IMAP server, e.g. `imap.example.org:993`.
    pub server: String,
    /// `tls` (implicit TLS, port 993), `starttls` (port 143), or `none`
    /// (plain, allowed only to a loopback address).
    pub tls: String,
    pub user: String,
    pub password: String,
    /// A file whose first line is the password (instead of `password`).
    pub password_file: PathBuf,
    /// Where new messages arrive.
    pub folder: String,
    /// Where a message goes once it is handled (created if missing).
    pub processed_folder: String,
    /// Where a message goes that cannot be read (created if missing).
    pub failed_folder: String,
    /// How often the folder is read.
    #[serde(with = "types::duration")]
    pub poll: Duration,
    /// Wait with IMAP IDLE between passes (new mail is read at once), still
    /// at most `poll` apart.
    pub idle: bool,
    /// A message without a spreadsheet: `reply` (say how to return the
    /// tables) or `leave` (no reply; it stays in the folder, flagged, for a person).
    pub no_attachment: String,
    /// Largest message read, in bytes (a larger one goes to the failed folder).
    pub max_message_bytes: u64,
    /// Largest spreadsheet attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// Largest unpacked size of a spreadsheet (the sum of its zip entries), in bytes.
    pub max_unpacked_bytes: u64,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox {
            server: String::new(),
            tls: "tls".into(),
            user: String::new(),
            password: String::new(),
            password_file: PathBuf::new(),
            folder: "INBOX".into(),
            processed_folder: "Gazette-Processed".into(),
            failed_folder: "Gazette-Failed".into(),
            poll: Duration::from_secs(60),
            idle: false,
            no_attachment: "reply".into(),
            max_message_bytes: 25 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_unpacked_bytes: 50 * 1024 * 1024,
        }
    }
}

impl Mailbox {
    pub fn enabled(&self) -> bool {
        !self.server.trim().is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// argon2 PHC string from `gazette admin hash-password`; empty: admin pages disabled.
    pub password_hash: String,
}

impl Config {
    /// Reads `<root>/gazette.toml` (defaults if absent) and applies the
    /// `GAZETTE_*` variables of the current process.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(root, std::env::vars())
    }

    pub fn load_with_env(
        root: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        let mut table = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<toml::Table>(&text).map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: one_line(&e.to_string()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => {
                return Err(ConfigError::Read {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let defaults = toml::Table::try_from(Config::default()).map_err(|e| ConfigError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("GAZETTE_"))
            .collect();
        vars.sort();
        let mut from_env: Vec<(String, String)> = Vec::new();
        for (var, value) in vars {
            from_env.push((apply_env(&mut table, &defaults, &var, &value)?, var));
        }
        // Every value gets its type here (addresses, durations, URLs); a
        // wrong one is named by its key, and by its variable if it came from one.
        let mut config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
            let key = e.path().to_string();
            let mut reason = e.inner().message().trim().to_string();
            if let Some((_, var)) = from_env.iter().find(|(k, _)| *k == key) {
                reason.push_str(&format!(" (from environment variable {var})"));
            }
            ConfigError::Invalid {
                path: path.clone(),
                key,
                reason,
            }
        })?;
        config.root = root.to_path_buf();
        config.validate(&path)?;
        config.office.mark_reserved();
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            reason,
        };
        if self.mail.retry_max == 0 {
            return Err(invalid("mail.retry_max", "must be at least 1".into()));
        }
        let m = &self.mailbox;
        if !["tls", "starttls", "none"].contains(&m.tls.as_str()) {
            return Err(invalid(
                "mailbox.tls",
                format!("{:?}: use tls, starttls or none", m.tls),
            ));
        }
        if !["reply", "leave"].contains(&m.no_attachment.as_str()) {
            return Err(invalid(
                "mailbox.no_attachment",
                format!("{:?}: use reply or leave", m.no_attachment),
            ));
        }
        if m.enabled() {
            if m.server
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(invalid(
                    "mailbox.server",
                    format!("{:?} is not host:port, e.g. imap.example.org:993", m.server),
                ));
            }
            if m.user.trim().is_empty() {
                return Err(invalid(
                    "mailbox.user",
                    "is empty; give the mailbox's login name".into(),
                ));
            }
            if m.password.is_empty() && m.password_file.as_os_str().is_empty() {
                return Err(invalid(
                    "mailbox.password",
                    "is empty; give password or password_file".into(),
                ));
            }
            if m.poll.is_zero() {
                return Err(invalid("mailbox.poll", "must be longer than 0s".into()));
            }
            for (key, name) in [
                ("mailbox.folder", &m.folder),
                ("mailbox.processed_folder", &m.processed_folder),
                ("mailbox.failed_folder", &m.failed_folder),
            ] {
                if name.trim().is_empty()
                    || !name.is_ascii()
                    || name.contains(['"', '\\', '\r', '\n'])
                {
                    return Err(invalid(
                        key,
                        format!("{name:?}: give a folder name in ASCII letters, digits, - or ."),
                    ));
                }
            }
        }
        for u in &self.office.unconfirmed {
            if !OFFICE_UNCONFIRMABLE.iter().any(|(k, _)| k == u) {
                let keys: Vec<&str> = OFFICE_UNCONFIRMABLE.iter().map(|(k, _)| *k).collect();
                return Err(invalid(
                    "office.unconfirmed",
                    format!("{u:?} is not an [office] key ({})", keys.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// A path from the config, resolved against the site root.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.resolve(&self.intake.database)
    }

    /// `[intake] database` when it is a PostgreSQL connection string
    /// (`postgres://…` or `postgresql://…`) rather than a SQLite file.
    pub fn database_url(&self) -> Option<String> {
        let s = self.intake.database.to_str()?.trim();
        (s.starts_with("postgres://") || s.starts_with("postgresql://")).then(|| s.to_string())
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GAZETTE_INTAKE_ALLOWED_ORIGINS` → section `intake`, key `allowed_origins`;
/// returns the key's path (`intake.allowed_origins`).
fn apply_env(
    table: &mut toml::Table,
    defaults: &toml::Table,
    var: &str,
    value: &str,
) -> Result<String, ConfigError> {
    let env_err = |reason: String| ConfigError::Env {
        var: var.to_string(),
        reason,
    };
    let rest = &var["GAZETTE_".len()..];
    let Some((section, key)) = rest.split_once('_') else {
        return Err(env_err("expected GAZETTE_<SECTION>_<KEY>".into()));
    };
    let section = section.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    let Some(toml::Value::Table(default_section)) = defaults.get(&section) else {
        return Err(env_err(format!("unknown section [{section}]")));
    };
    let Some(default_value) = default_section.get(&key) else {
        return Err(env_err(format!("unknown key {key} in [{section}]")));
    };
    let parsed = match default_value {
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| env_err(format!("{value:?} is not a whole number")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| env_err(format!("{value:?} is not true or false")))?,
        ),
        toml::Value::Array(_) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(value.to_string()),
    };
    let path = format!("{section}.{key}");
    let entry = table
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => {
            t.insert(key, parsed);
            Ok(path)
        }
        _ => Err(env_err("the section is not a table in gazette.toml".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_domains() {
        for (addr, want) in [
            ("zjk@hrss.meizhou.example", Some("example")),
            ("a@example.com", Some("example.com")),
            ("a@mail.EXAMPLE.org", Some("example.org")),
            ("a@x.test", Some("test")),
            ("a@b.invalid", Some("invalid")),
            ("gazette@localhost", Some("localhost")),
            ("zjk@hrss.meizhou.gov.cn", None),
            ("a@notexample.com", None),
            ("no-at-sign", None),
        ] {
            assert_eq!(reserved_domain(addr), want, "{addr}");
        }
    }

    #[test]
    fn office_values_are_marked_unconfirmed() {
        let dir = site("[office]\nemail = \"zjk@hrss.meizhou.example\"\nphone = \"1\"\nfax = \"2\"\nunconfirmed = [\"fax\"]\n");
        let c = Config::load_with_env(dir.path(), Vec::new()).unwrap();
        assert!(c.office.is_unconfirmed("email"), "reserved domain");
        assert!(c.office.is_unconfirmed("fax"), "named");
        assert!(!c.office.is_unconfirmed("phone"));
        let keys: Vec<&str> = c.office.unconfirmed_values().iter().map(|v| v.0).collect();
        assert_eq!(keys, ["fax", "email"]);
        let lines = c.office.return_instructions().join("\n");
        assert!(
            lines.contains("zjk@hrss.meizhou.example【待核实】"),
            "{lines}"
        );
        assert!(lines.contains("传真：2【待核实】"), "{lines}");
        let dir = site("[office]\nemail = \"zjk@hrss.meizhou.gov.cn\"\n");
        let c = Config::load_with_env(dir.path(), Vec::new()).unwrap();
        assert!(c.office.unconfirmed_values().is_empty());
        let dir = site("[office]\nunconfirmed = [\"mail\"]\n");
        let e = Config::load_with_env(dir.path(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("office.unconfirmed") && e.contains("\"mail\""),
            "{e}"
        );
    }

    fn site(text: &str) -> tempfile_lite::Dir {
        let dir = tempfile_lite::Dir::new();
        std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        dir
    }

    /// A tiny temp-dir helper so the config crate needs no dev-dependencies.
    mod tempfile_lite {
        use std::path::{Path, PathBuf};
        pub struct Dir(PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "gazette-config-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn mailbox_settings_are_checked_when_set() {
        let dir = site("");
        let c = Config::load_with_env(dir.path(), vec![]).unwrap();
        assert!(!c.mailbox.enabled());
        assert_eq!(c.mailbox.folder, "INBOX");
        assert!(!c.intake.confirm_to_filer);
        let dir = site("[mailbox]\nserver = \"imap.example.org:993\"\nuser = \"zjk\"\npassword_file = \"secret\"\npoll = \"30s\"\n[intake]\nconfirm_to_filer = true\n");
        let c = Config::load_with_env(dir.path(), vec![]).unwrap();
        assert!(c.mailbox.enabled() && c.intake.confirm_to_filer);
        assert_eq!(c.mailbox.poll, Duration::from_secs(30));
        for (text, key) in [
            ("[mailbox]\nserver = \"imap.example.org\"\nuser = \"u\"\npassword = \"p\"\n", "mailbox.server"),
            ("[mailbox]\nserver = \"h:993\"\npassword = \"p\"\n", "mailbox.user"),
            ("[mailbox]\nserver = \"h:993\"\nuser = \"u\"\n", "mailbox.password"),
            ("[mailbox]\ntls = \"ssl\"\n", "mailbox.tls"),
            ("[mailbox]\nno_attachment = \"ignore\"\n", "mailbox.no_attachment"),
            ("[mailbox]\nserver = \"h:993\"\nuser = \"u\"\npassword = \"p\"\nfailed_folder = \"失败\"\n", "mailbox.failed_folder"),
        ] {
            let dir = site(text);
            let e = Config::load_with_env(dir.path(), vec![]).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let dir = site("");
        let c = Config::load_with_env(
            dir.path(),
            vec![
                ("GAZETTE_MAILBOX_SERVER".into(), "127.0.0.1:143".into()),
                ("GAZETTE_MAILBOX_USER".into(), "office".into()),
                ("GAZETTE_MAILBOX_PASSWORD".into(), "x".into()),
                ("GAZETTE_MAILBOX_IDLE".into(), "true".into()),
            ],
        )
        .unwrap();
        assert!(c.mailbox.idle);
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile_lite::Dir::new();
        let c = Config::load_with_env(dir.path(), vec![]).unwrap();
        assert_eq!(c.intake.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.mail.retry_base, Duration::from_secs(30));
        assert_eq!(c.mail.transport, "var/outbox");
        assert_eq!(c.database_path(), dir.path().join("var/gazette.db"));
    }

    #[test]
    fn env_overrides_file() {
        let dir = site("[intake]\nlisten = \"127.0.0.1:9000\"\n[mail]\nretry_max = 3\n");
        let env = vec![
            (
                "GAZETTE_INTAKE_LISTEN".to_string(),
                "127.0.0.1:8081".to_string(),
            ),
            ("GAZETTE_MAIL_RETRY_MAX".to_string(), "5".to_string()),
            (
                "GAZETTE_INTAKE_ALLOWED_ORIGINS".to_string(),
                "https://a.example, https://b.example".to_string(),
            ),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let c = Config::load_with_env(dir.path(), env).unwrap();
        assert_eq!(c.intake.listen.port(), 8081);
        assert_eq!(c.mail.retry_max, 5);
        assert_eq!(
            c.intake.allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = site("[intake]\nlisten = \"nowhere\"\n");
        let e = Config::load_with_env(dir.path(), vec![]).unwrap_err();
        assert!(e.to_string().contains("intake.listen"), "{e}");

        let dir = site("[mail]\nretry_base = \"soon\"\n");
        let e = Config::load_with_env(dir.path(), vec![]).unwrap_err();
        assert!(e.to_string().contains("mail.retry_base"), "{e}");

        let dir = site("[site]\ntitel = \"x\"\n");
        let e = Config::load_with_env(dir.path(), vec![]).unwrap_err();
        assert!(e.to_string().contains("titel"), "{e}");

        let dir = site("");
        let e = Config::load_with_env(
            dir.path(),
            vec![("GAZETTE_MAIL_RETRY_MAX".into(), "many".into())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("GAZETTE_MAIL_RETRY_MAX"), "{e}");
        let e = Config::load_with_env(dir.path(), vec![("GAZETTE_MAIL_NOPE".into(), "1".into())])
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let dir = site("[site]\ntitle = \"a\"\nbroken = \n");
        let e = Config::load_with_env(dir.path(), vec![]).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn values_are_typed_at_load() {
        let dir = site(
            "[site]\nbase_url = \"https://hrss.meizhou.gov.cn/\"\n[mail]\nretry_base = \"500ms\"\n",
        );
        let c = Config::load_with_env(
            dir.path(),
            vec![("GAZETTE_INTAKE_LISTEN".into(), "0.0.0.0:9001".into())],
        )
        .unwrap();
        assert_eq!(c.mail.retry_base, Duration::from_millis(500));
        assert_eq!(c.intake.listen, "0.0.0.0:9001".parse().unwrap());
        assert_eq!(&*c.site.base_url, "https://hrss.meizhou.gov.cn/");
        assert!(c.intake.url.is_empty());
        // A bare number is seconds, as a string or as a TOML integer.
        let dir = site("[mail]\nretry_base = 2\n");
        let c = Config::load_with_env(dir.path(), vec![]).unwrap();
        assert_eq!(c.mail.retry_base, Duration::from_secs(2));
    }

    #[test]
    fn errors_name_file_key_and_what_is_expected() {
        for (text, key, expected) in [
            (
                "[intake]\nlisten = \"nowhere\"\n",
                "[intake.listen]",
                "127.0.0.1:8080",
            ),
            (
                "[mail]\nretry_base = \"3 weeks\"\n",
                "[mail.retry_base]",
                "ms, s, m or h",
            ),
            (
                "[site]\nbase_url = \"hrss.meizhou.gov.cn\"\n",
                "[site.base_url]",
                "https://",
            ),
            (
                "[intake]\nurl = \"ftp://x.example\"\n",
                "[intake.url]",
                "https://",
            ),
            (
                "[intake]\nallowed_origins = [\"example.org\"]\n",
                "[intake.allowed_origins]",
                "null",
            ),
            ("[mail]\nretry_max = \"x\"\n", "[mail.retry_max]", "u32"),
        ] {
            let dir = site(text);
            let e = Config::load_with_env(dir.path(), vec![])
                .unwrap_err()
                .to_string();
            assert!(e.contains(FILE_NAME), "{text}: {e}");
            assert!(e.contains(key), "{text}: {e}");
            assert!(e.contains(expected), "{text}: {e}");
        }
        let dir = site("");
        let e = Config::load_with_env(
            dir.path(),
            vec![("GAZETTE_MAIL_RETRY_BASE".into(), "soon".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[mail.retry_base]") && e.contains("GAZETTE_MAIL_RETRY_BASE"),
            "{e}"
        );
    }

    #[test]
    fn defaults_survive_a_round_trip() {
        // The env overrides read each key's type from the serialised defaults.
        let table = toml::Table::try_from(Config::default()).unwrap();
        assert_eq!(table["intake"]["listen"].as_str(), Some("127.0.0.1:8080"));
        assert_eq!(table["mail"]["retry_base"].as_str(), Some("30s"));
        let back: Config = table.try_into().unwrap();
        assert_eq!(back.mail.retry_base, Duration::from_secs(30));
    }
}
