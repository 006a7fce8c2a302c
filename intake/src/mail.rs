//! The notification email: layout (plain text + HTML, every answer as in the
//! 一览表) and the transport (`.eml` files in a folder, or SMTP).

use crate::store::Submission;
use config::Config;
use lettre::message::{header, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;
use theme::Theme;

/// How `[mail] transport` is read; checked at start-up, built inside the runtime.
#[derive(Debug, Clone)]
pub(crate) enum TransportSpec {
    Folder(PathBuf),
    /// A URL lettre accepted: `smtp://`, `smtp://…?tls=required`, `smtps://`.
    Smtp(String),
}

#[derive(Debug, Clone)]
pub(crate) struct MailSettings {
    pub(crate) transport: TransportSpec,
    pub(crate) from: Mailbox,
    /// `[mail] timeout`.
    pub(crate) timeout: Duration,
}

impl MailSettings {
    /// Checks `[mail] transport` and `[mail] from`; errors name the key.
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<MailSettings> {
        let file = config.root.join(config::FILE_NAME);
        let bad =
            |key: &str, reason: String| anyhow::anyhow!("{}: [{key}] {reason}", file.display());
        let t = config.mail.transport.trim();
        let transport = if t.starts_with("smtp://") || t.starts_with("smtps://") {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(t).map_err(|e| {
                bad(
                    "mail.transport",
                    format!(
                        "{:?} is not a usable SMTP URL ({e}); use smtp://host:port, smtp://user:pass@host:port?tls=required or smtps://user:pass@host:port",
                        redact(t)
                    ),
                )
            })?;
            TransportSpec::Smtp(t.to_string())
        } else if t.is_empty() {
            return Err(bad(
                "mail.transport",
                "is empty; give a folder for .eml files or an smtp:// or smtps:// URL".into(),
            ));
        } else if t.contains("://") {
            return Err(bad(
                "mail.transport",
                format!(
                    "{:?}: unknown scheme; use smtp://, smtps:// or a folder",
                    redact(t)
                ),
            ));
        } else {
            TransportSpec::Folder(config.resolve(std::path::Path::new(t)))
        };
        let from: Mailbox = config.mail.from.trim().parse().map_err(|e| {
            bad(
                "mail.from",
                format!(
                    "{:?} is not an address such as 表单服务 <forms@example.org> ({e})",
                    config.mail.from
                ),
            )
        })?;
        Ok(MailSettings {
            transport,
            from,
            timeout: config.mail.timeout,
        })
    }
}

/// `smtps://user:secret@host` → `smtps://user:***@host`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

pub(crate) enum Transport {
    Folder(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// A failed send; `permanent` when trying again cannot help (SMTP 5xx, a bad address).
#[derive(Debug, Clone)]
pub(crate) struct SendError {
    pub(crate) permanent: bool,
    pub(crate) text: String,
}

pub(crate) struct Mailer {
    transport: Transport,
    pub(crate) from: Mailbox,
    timeout: Duration,
}

impl Mailer {
    /// Builds the transport; must run inside a Tokio runtime (the SMTP pool
    /// starts a task). Creates the folder of a folder transport.
    pub(crate) fn new(settings: &MailSettings) -> anyhow::Result<Mailer> {
        let transport = match &settings.transport {
            TransportSpec::Folder(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("[mail.transport] cannot create {}: {e}", dir.display())
                })?;
                Transport::Folder(AsyncFileTransport::new(dir))
            }
            TransportSpec::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("[mail.transport] {}: {e}", redact(url)))?
                    .timeout(Some(settings.timeout))
                    .build(),
            ),
        };
        Ok(Mailer {
            transport,
            from: settings.from.clone(),
            timeout: settings.timeout,
        })
    }

    pub(crate) async fn send(&self, message: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Folder(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: false,
                text: e.to_string(),
            }),
            // lettre's timeout covers connecting only: a server that then
            // never answers would hold this send (and the outbox) forever.
            Transport::Smtp(t) => match tokio::time::timeout(self.timeout, t.send(message)).await {
                Ok(sent) => sent.map(|_| ()).map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    text: e.to_string(),
                }),
                Err(_) => Err(SendError {
                    permanent: false,
                    text: format!(
                        "SMTP 服务器 {} 秒内没有应答（[mail] timeout），稍后重试",
                        self.timeout.as_secs_f64()
                    ),
                }),
            },
        }
    }
}

/// What the email shows, independent of lettre (and unit-tested as text).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) subject: String,
    pub(crate) text: String,
    /// `None` when the theme's template failed.
    pub(crate) html: Option<String>,
    pub(crate) message_id: String,
}

/// The `Message-ID` of a return's email: the same for every resend.
pub(crate) fn message_id(reference: &str) -> String {
    format!("<{reference}@gazette>")
}

#[derive(serde::Serialize)]
struct NotificationView<'a> {
    subject: &'a str,
    /// The office and section the email is addressed to.
    to: &'a str,
    /// The form's title with its annex number.
    form: &'a str,
    form_title: &'a str,
    reference: &'a str,
    received: &'a str,
    late: bool,
    rows: Vec<RowView<'a>>,
}

#[derive(serde::Serialize)]
struct RowView<'a> {
    label: &'a str,
    /// The value's lines (a note may have several).
    lines: Vec<&'a str>,
}

/// The HTML part, from the theme's `mail_notification.html`; none when the
/// template fails (the email still goes, as text).
fn notification_html(theme: &Theme, view: &NotificationView<'_>) -> Option<String> {
    let ctx = match tera::Context::from_serialize(view) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("mail_notification.html: context: {e}");
            return None;
        }
    };
    match theme.render("mail_notification.html", &ctx) {
        Ok(html) => Some(html),
        Err(e) => {
            tracing::error!("{e}; the notification goes as text only");
            None
        }
    }
}

/// `rows`: (label, value) for every field in the form's order.
pub(crate) fn layout(
    theme: &Theme,
    sub: &Submission,
    annex: Option<u32>,
    rows: &[(String, String)],
    received: &str,
    office: &config::Office,
) -> Layout {
    let form = match annex {
        Some(n) => format!("附件{n} {}", sub.form_title),
        None => sub.form_title.clone(),
    };
    let unit = if sub.unit.trim().is_empty() {
        "（未填写单位名称）".to_string()
    } else {
        one_line(&sub.unit)
    };
    let late = if sub.late { "【逾期】" } else { "" };
    let subject = format!("{late}【{form}】{unit}（参考编号 {}）", sub.reference);
    let status = if sub.late {
        "逾期（截止日期后报送）"
    } else {
        "按时"
    };
    let to = format!("{}{}", office.name, office.section);

    let mut text = String::new();
    if !to.is_empty() {
        text.push_str(&format!("{to}：\n\n"));
    }
    text.push_str(&format!("网上报送系统收到一份《{}》。\n\n", sub.form_title));
    text.push_str(&format!("参考编号：{}\n", sub.reference));
    text.push_str(&format!("收到时间：{received}\n"));
    text.push_str(&format!("报送状态：{status}\n\n"));
    for (label, value) in rows {
        if value.contains('\n') {
            text.push_str(&format!("{label}：\n"));
            for line in value.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        } else {
            text.push_str(&format!("{label}：{value}\n"));
        }
    }
    text.push_str("\n一览表中的一行（以制表符分隔，可粘贴到 Excel）：\n");
    text.push_str(&tsv_line(rows.iter().map(|(l, _)| l.as_str())));
    text.push_str(&tsv_line(rows.iter().map(|(_, v)| v.as_str())));
    text.push_str(
        "\n本邮件由表单服务自动发送。同一参考编号的邮件可能重复发送，请以参考编号为准。\n",
    );

    let html = notification_html(
        theme,
        &NotificationView {
            subject: &subject,
            to: &to,
            form: &form,
            form_title: &sub.form_title,
            reference: &sub.reference,
            received,
            late: sub.late,
            rows: rows
                .iter()
                .map(|(label, value)| RowView {
                    label,
                    lines: value.split('\n').collect(),
                })
                .collect(),
        },
    );

    Layout {
        subject,
        text,
        html,
        message_id: message_id(&sub.reference),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn tsv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut line = cells
        .map(|c| c.replace(['\t', '\r', '\n'], " "))
        .collect::<Vec<_>>()
        .join("\t");
    line.push('\n');
    line
}

/// The lettre message for `layout`, to `recipients` (never an address from
/// the answers: recipients come from `[office] email` and the form definition).
pub(crate) fn message(
    from: &Mailbox,
    recipients: &[String],
    layout: Layout,
) -> Result<Message, SendError> {
    let permanent = |text: String| SendError {
        permanent: true,
        text,
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(layout.subject)
        .message_id(Some(layout.message_id))
        .header(header::MIME_VERSION_1_0);
    let mut any = false;
    for r in recipients {
        match r.parse::<Mailbox>() {
            Ok(m) => {
                builder = builder.to(m);
                any = true;
            }
            Err(e) => tracing::warn!("skipping recipient {r:?}: {e}"),
        }
    }
    if !any {
        return Err(permanent("no valid recipient address".into()));
    }
    match layout.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(layout.text))
                .singlepart(SinglePart::html(html)),
        ),
        None => builder.singlepart(SinglePart::plain(layout.text)),
    }
    .map_err(|e| permanent(e.to_string()))
}

/// `Auto-Submitted: auto-replied` (RFC 3834): other robots do not answer it.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "auto-replied".to_string())
    }
}

/// An answer to a person (a mail sender, a web filer): plain text, marked
/// automatic, threaded under the message it answers when there is one.
pub(crate) struct Reply<'a> {
    pub(crate) id: i64,
    pub(crate) to: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) text: String,
    pub(crate) in_reply_to: &'a str,
    pub(crate) references: &'a str,
}

/// The `Message-ID` of a reply: the same for every resend.
pub(crate) fn reply_message_id(id: i64) -> String {
    format!("<reply-{id}@gazette>")
}

pub(crate) fn reply_message(from: &Mailbox, reply: Reply<'_>) -> Result<Message, SendError> {
    let permanent = |text: String| SendError {
        permanent: true,
        text,
    };
    let to: Mailbox = reply
        .to
        .trim()
        .parse()
        .map_err(|e| permanent(format!("{:?} is not an address: {e}", reply.to)))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(reply.subject)
        .message_id(Some(reply_message_id(reply.id)))
        .header(header::MIME_VERSION_1_0)
        .header(AutoSubmitted);
    if !reply.in_reply_to.is_empty() {
        builder = builder.in_reply_to(reply.in_reply_to.to_string());
    }
    if !reply.references.is_empty() {
        builder = builder.references(reply.references.to_string());
    }
    builder
        .singlepart(SinglePart::plain(reply.text))
        .map_err(|e| permanent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_threaded_and_marked_automatic() {
        let from: Mailbox = "表单服务 <gazette@localhost>".parse().unwrap();
        let m = reply_message(
            &from,
            Reply {
                id: 7,
                to: "zhang@example.net",
                subject: "Re: 报送",
                text: "您好".into(),
                in_reply_to: "<m1@x>",
                references: "<r0@x> <m1@x>",
            },
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("In-Reply-To: <m1@x>"), "{raw}");
        assert!(raw.contains("References: <r0@x> <m1@x>"), "{raw}");
        assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
        assert!(raw.contains("Message-ID: <reply-7@gazette>"), "{raw}");
        assert!(
            reply_message(
                &from,
                Reply {
                    id: 1,
                    to: "nobody",
                    subject: "x",
                    text: String::new(),
                    in_reply_to: "",
                    references: "",
                }
            )
            .unwrap_err()
            .permanent
        );
    }

    fn sub(late: bool) -> Submission {
        Submission {
            id: 1,
            reference: "K7M2XR9P".into(),
            token: "0".repeat(32),
            form_id: "departments".into(),
            form_title: "市直主管部门信息一览表".into(),
            unit: "梅州市<某>局".into(),
            answers: forms::Answers::default(),
            late,
            received_at: 0,
        }
    }

    fn theme() -> Theme {
        Theme::load(std::path::Path::new("/nonexistent")).unwrap()
    }

    fn office() -> config::Office {
        config::Office {
            name: "梅州市人力资源和社会保障局".into(),
            section: "专业技术人员管理科".into(),
            ..Default::default()
        }
    }

    #[test]
    fn layout_lists_every_answer_as_a_row() {
        let rows = vec![
            ("单位全称".to_string(), "梅州市<某>局".to_string()),
            (
                "统一社会信用代码".to_string(),
                "11441700007280420Y".to_string(),
            ),
            ("备注".to_string(), "第一行\n第二行\t制表".to_string()),
        ];
        let l = layout(
            &theme(),
            &sub(false),
            Some(1),
            &rows,
            "2016年7月20日 10:31",
            &office(),
        );
        assert_eq!(
            l.subject,
            "【附件1 市直主管部门信息一览表】梅州市<某>局（参考编号 K7M2XR9P）"
        );
        assert_eq!(l.message_id, "<K7M2XR9P@gazette>");
        assert!(l
            .text
            .starts_with("梅州市人力资源和社会保障局专业技术人员管理科：\n"));
        assert!(l.text.contains("参考编号：K7M2XR9P\n"));
        assert!(l.text.contains("统一社会信用代码：11441700007280420Y\n"));
        assert!(l.text.contains("备注：\n    第一行\n    第二行\t制表\n"));
        assert!(l
            .text
            .contains("单位全称\t统一社会信用代码\t备注\n梅州市<某>局\t11441700007280420Y\t第一行 第二行 制表\n"));
        // HTML: one header row of labels, one row of values, escaped.
        let html = l.html.expect("the theme renders the email");
        assert!(html.contains("<th style=\"border:1px solid #888;padding:4px 6px;vertical-align:top;background:#eee;white-space:nowrap\">单位全称</th>"));
        assert!(html.contains(">梅州市&lt;某&gt;局</td>"));
        assert!(html.contains(">第一行<br>第二行\t制表</td>"));
        assert_eq!(html.matches("<tr>").count(), 2);
        assert!(!html.contains("<某>"));
        assert!(html.contains("<title>【附件1 市直主管部门信息一览表】梅州市&lt;某&gt;局（参考编号 K7M2XR9P）</title>"));
        assert!(html.contains("<p>梅州市人力资源和社会保障局专业技术人员管理科：</p>"));
    }

    #[test]
    fn late_returns_say_so() {
        let l = layout(&theme(), &sub(true), None, &[], "x", &office());
        assert!(l.subject.starts_with("【逾期】【市直主管部门信息一览表】"));
        assert!(l.text.contains("报送状态：逾期"));
        assert!(l
            .html
            .unwrap()
            .contains("<strong style=\"color:#b00\">逾期（截止日期后报送）</strong>"));
    }

    #[test]
    fn message_has_both_parts_and_stable_id() {
        let from: Mailbox = "表单服务 <gazette@localhost>".parse().unwrap();
        let rows = vec![("单位全称".to_string(), "梅州市某局".to_string())];
        let l = layout(&theme(), &sub(false), Some(1), &rows, "x", &office());
        let m = message(&from, &["a@example.org".into(), "not an address".into()], l).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <K7M2XR9P@gazette>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("To: a@example.org"));
        assert_eq!(m.envelope().to().len(), 1);
        let l = layout(&theme(), &sub(false), Some(1), &rows, "x", &office());
        let e = message(&from, &["nobody".into()], l).unwrap_err();
        assert!(e.permanent);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("smtps://user:secret@mail.example.org:465"),
            "smtps://user:***@mail.example.org:465"
        );
        assert_eq!(redact("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
    }

    #[test]
    fn transport_urls_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load_with_env(dir.path(), vec![]).unwrap();
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://u:p@127.0.0.1:587?tls=required",
            "smtps://u:p%40x@mail.example.org",
        ] {
            config.mail.transport = ok.into();
            let s = MailSettings::from_config(&config).unwrap();
            assert!(matches!(s.transport, TransportSpec::Smtp(_)));
        }
        config.mail.transport = "var/mail".into();
        let s = MailSettings::from_config(&config).unwrap();
        assert!(
            matches!(s.transport, TransportSpec::Folder(ref p) if p == &dir.path().join("var/mail"))
        );
        for bad in ["smtp://", "smtp://h:1?tls=sometimes", "http://x", ""] {
            config.mail.transport = bad.into();
            let e = MailSettings::from_config(&config).unwrap_err().to_string();
            assert!(e.contains("[mail.transport]"), "{bad}: {e}");
        }
        config.mail.transport = "var/mail".into();
        config.mail.from = "not an address".into();
        let e = MailSettings::from_config(&config).unwrap_err().to_string();
        assert!(e.contains("[mail.from]"), "{e}");
    }

    #[tokio::test]
    async fn smtp_transports_build_inside_a_runtime() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtps://u:p@127.0.0.1:465",
            "smtp://127.0.0.1:587?tls=required",
        ] {
            let settings = MailSettings {
                transport: TransportSpec::Smtp(url.into()),
                from: "a@b.c".parse().unwrap(),
                timeout: Duration::from_secs(5),
            };
            Mailer::new(&settings).unwrap();
        }
    }
}
