//! Fax delivery: each accepted return is rendered as an A4 PDF fax sheet
//! (`faxsheet`) and sent to every `[fax] numbers` entry, either through an
//! email-to-fax gateway (the PDF attached to an email sent with the same
//! transport as the notifications) or through a command such as HylaFAX's
//! `sendfax`.
//!
//! Fax rows live in the outbox next to the email rows (channel `fax`, the
//! number as the one recipient) and get the same retries and failure
//! reporting.
//!
//! Settings that cannot work never stop the service, because the email
//! notification must still go out:
//! - numbers but neither `fax.gateway` nor `fax.command`: a start-up warning
//!   and no fax rows are queued at all. The bundled content names the office's
//!   fax number before any gateway exists; rows that could never be sent would
//!   only fill the outbox with failures that `gazette outbox retry` cannot fix.
//! - no CJK font: a start-up error line, and every fax row fails with that
//!   reason (after installing a font and restarting, `gazette outbox retry`
//!   sends them).

use crate::mail::{Mailer, SendError};
use crate::store::OutboxItem;
use config::Config;
use forms::FormDef;
use lettre::message::header::{self, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest a fax command may run before it is killed and the try counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How a fax leaves the building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Address template, e.g. `{number}@fax.example.org` or `FAX=+86{national}@host`.
    Gateway(String),
    /// Program and arguments with `{number}`, `{national}`, `{ref}` and `{pdf}` placeholders.
    Command(Vec<String>),
}

impl Transport {
    /// The configured transport; `fax.gateway` wins when both are set (a
    /// warning at start-up says so).
    pub(crate) fn from_config(config: &Config) -> Option<Transport> {
        let gateway = config.fax.gateway.trim();
        if !gateway.is_empty() {
            return Some(Transport::Gateway(gateway.to_string()));
        }
        let command: Vec<String> = config
            .fax
            .command
            .iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        (!command.is_empty()).then_some(Transport::Command(command))
    }
}

/// The numbers each new return is faxed to: `[fax] numbers`, but none when
/// no transport is configured (see the module notes).
pub(crate) fn queued_numbers(config: &Config) -> Vec<String> {
    if Transport::from_config(config).is_none() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for n in &config.fax.numbers {
        let n = n.trim();
        if !n.is_empty() && !out.iter().any(|o| digits(o) == digits(n)) {
            out.push(n.to_string());
        }
    }
    out
}

/// `0753-2128309` → `07532128309`: what a gateway or a dialler wants.
pub(crate) fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// The number without country code and trunk 0, for `+86{national}`:
/// `0753-2128309` → `7532128309`; `+86 753 2128309` → `7532128309`.
pub(crate) fn national(number: &str) -> String {
    let d = digits(number);
    let t = number.trim_start();
    let without_country = if t.starts_with('+') {
        d.strip_prefix("86").unwrap_or(&d)
    } else {
        d.strip_prefix("0086").unwrap_or(&d)
    };
    without_country
        .strip_prefix('0')
        .unwrap_or(without_country)
        .to_string()
}

fn fill(template: &str, number: &str, reference: &str, pdf: &str) -> String {
    template
        .replace("{number}", &digits(number))
        .replace("{national}", &national(number))
        .replace("{ref}", reference)
        .replace("{pdf}", pdf)
}

/// The gateway address for `number`, checked as an email address.
pub(crate) fn gateway_address(template: &str, number: &str) -> Result<Mailbox, String> {
    if !template.contains("{number}") && !template.contains("{national}") {
        return Err(format!(
            "[fax.gateway] {template:?} has no {{number}} or {{national}} placeholder"
        ));
    }
    if digits(number).is_empty() {
        return Err(format!("[fax.numbers] {number:?} has no digits"));
    }
    let address = fill(template, number, "", "");
    address.parse::<Mailbox>().map_err(|e| {
        format!("[fax.gateway] {template:?} gives {address:?}, not an email address ({e})")
    })
}

/// The command line for one fax: placeholders replaced inside each argument
/// (no shell is involved, so answers can never become shell syntax — and
/// only the reference, never an answer, goes into an argument).
pub(crate) fn command_args(
    template: &[String],
    number: &str,
    reference: &str,
    pdf: &Path,
) -> Vec<String> {
    let pdf = pdf.to_string_lossy();
    template
        .iter()
        .map(|a| fill(a, number, reference, &pdf))
        .collect()
}

/// What the outbox worker needs to send faxes; built once at start-up.
pub(crate) struct Fax {
    transport: Option<Transport>,
    font: Result<faxsheet::Font, String>,
    office: String,
}

impl Fax {
    /// Checks the settings and finds the font, saying at start-up what will
    /// not work. Reads font files: call from a blocking thread.
    pub(crate) fn load(config: &Config) -> Fax {
        let transport = Transport::from_config(config);
        let office = format!("{} {}", config.office.name, config.office.section)
            .trim()
            .to_string();
        let numbers = &config.fax.numbers;
        if numbers.iter().all(|n| n.trim().is_empty()) {
            return Fax {
                transport,
                font: Err("[fax] numbers is empty".into()),
                office,
            };
        }
        match &transport {
            None => {
                tracing::warn!(
                    "fax: [fax] numbers is set but neither fax.gateway nor fax.command: returns are emailed only, not faxed"
                );
                return Fax {
                    transport,
                    font: Err("fax: neither fax.gateway nor fax.command is set".into()),
                    office,
                };
            }
            Some(Transport::Gateway(template)) => {
                if !config.fax.command.is_empty() {
                    tracing::warn!(
                        "fax: both fax.gateway and fax.command are set; using the gateway"
                    );
                }
                for n in numbers {
                    if let Err(e) = gateway_address(template, n) {
                        tracing::error!("fax: {e}; faxes to {n} will fail");
                    }
                }
            }
            Some(Transport::Command(_)) => {}
        }
        // The path is resolved only when one is given: an empty [fax] font
        // means "search the system", and resolving it would name the root folder.
        let configured = if config.fax.font.as_os_str().is_empty() {
            PathBuf::new()
        } else {
            config.resolve(&config.fax.font)
        };
        let font = match faxsheet::Font::find(&configured) {
            Ok(font) => {
                tracing::info!(
                    "fax: sheets set in {} ({})",
                    font.family(),
                    font.path().display()
                );
                Ok(font)
            }
            Err(e) => {
                tracing::error!(
                    "fax: no CJK font, fax rows will fail until one is installed (apt-get install fonts-wqy-microhei) or [fax] font is set: {e}"
                );
                Err(format!("fax: no CJK font for the fax sheet: {e}"))
            }
        };
        Fax {
            transport,
            font,
            office,
        }
    }

    /// Sends the fax of one outbox row (one number).
    pub(crate) async fn send(
        &self,
        mailer: &Mailer,
        item: &OutboxItem,
        def: Option<&FormDef>,
    ) -> Result<(), SendError> {
        let permanent = |text: String| SendError {
            permanent: true,
            text,
        };
        let Some(transport) = &self.transport else {
            return Err(permanent(
                "fax: neither fax.gateway nor fax.command is set".into(),
            ));
        };
        let Some(number) = item.recipients.first() else {
            return Err(permanent("fax: the row names no number".into()));
        };
        let font = self.font.as_ref().map_err(|e| permanent(e.clone()))?;
        let sub = &item.submission;
        let form_title = match def.and_then(|d| d.annex) {
            Some(n) => format!("附件{n} {}", sub.form_title),
            None => sub.form_title.clone(),
        };
        let received = crate::present::cst_text(sub.received_at);
        let rows = crate::present::answer_rows(def, &sub.answers);
        let pdf = {
            let (font, office, form_title, reference, received, late) = (
                font.clone(),
                self.office.clone(),
                form_title.clone(),
                sub.reference.clone(),
                received.clone(),
                sub.late,
            );
            // Layout and font subsetting are CPU work: off the async thread.
            tokio::task::spawn_blocking(move || {
                faxsheet::render(
                    &faxsheet::Sheet {
                        office: &office,
                        form_title: &form_title,
                        reference: &reference,
                        received: &received,
                        late,
                        rows: &rows,
                        contacts: &[],
                    },
                    &font,
                )
            })
            .await
            .map_err(|e| SendError {
                permanent: false,
                text: format!("fax: rendering task: {e}"),
            })?
            .map_err(|e| permanent(format!("fax: cannot render the sheet: {e}")))?
        };
        match transport {
            Transport::Gateway(template) => {
                let to = gateway_address(template, number).map_err(permanent)?;
                let message = gateway_message(
                    &mailer.from,
                    to,
                    GatewayMail {
                        office: &self.office,
                        form_title: &form_title,
                        reference: &sub.reference,
                        received: &received,
                        late: sub.late,
                        number,
                    },
                    pdf,
                )?;
                mailer.send(message).await
            }
            Transport::Command(template) => {
                let (template, number, reference) =
                    (template.clone(), number.clone(), sub.reference.clone());
                tokio::task::spawn_blocking(move || {
                    run_command(&template, &number, &reference, &pdf)
                })
                .await
                .map_err(|e| SendError {
                    permanent: false,
                    text: format!("fax: command task: {e}"),
                })?
            }
        }
    }
}

/// What the gateway email says besides the attachment.
pub(crate) struct GatewayMail<'a> {
    pub(crate) office: &'a str,
    pub(crate) form_title: &'a str,
    pub(crate) reference: &'a str,
    pub(crate) received: &'a str,
    pub(crate) late: bool,
    pub(crate) number: &'a str,
}

/// The email a gateway turns into a fax: a short text part and the sheet as
/// `<ref>.pdf`. Its Message-ID is stable per return and number, so a resend
/// is recognisable.
pub(crate) fn gateway_message(
    from: &Mailbox,
    to: Mailbox,
    m: GatewayMail<'_>,
    pdf: Vec<u8>,
) -> Result<Message, SendError> {
    let permanent = |text: String| SendError {
        permanent: true,
        text,
    };
    let late = if m.late { "【逾期】" } else { "" };
    let subject = format!("{late}【{}】参考编号 {}", m.form_title, m.reference);
    let pages = faxsheet::page_count(&pdf);
    let mut body = String::new();
    if !m.office.is_empty() {
        body.push_str(&format!("{}：\n\n", m.office));
    }
    body.push_str(&format!(
        "附件为网上报送系统收到的《{}》传真件，共 {pages} 页。\n\n参考编号：{}\n收到时间：{}\n{}",
        m.form_title,
        m.reference,
        m.received,
        if m.late {
            "报送状态：逾期（截止日期后报送）\n"
        } else {
            ""
        }
    ));
    body.push_str("\n本邮件由表单服务自动发送，经传真网关发往 ");
    body.push_str(m.number);
    body.push_str("。同一参考编号可能重复发送，请以参考编号为准。\n");
    let pdf_type = ContentType::parse("application/pdf")
        .map_err(|e| permanent(format!("fax: content type: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<{}.fax.{}@gazette>",
            m.reference,
            digits(m.number)
        )))
        .header(header::MIME_VERSION_1_0)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new(format!("{}.pdf", m.reference)).body(pdf, pdf_type)),
        )
        .map_err(|e| permanent(format!("fax: {e}")))
}

/// Writes the PDF to a private temporary folder, runs the command (no
/// shell) and waits for it. A non-zero exit is a failed try, reported with
/// what the command wrote to stderr. The folder is removed afterwards:
/// `sendfax` copies the document into its spool before it exits.
fn run_command(
    template: &[String],
    number: &str,
    reference: &str,
    pdf: &[u8],
) -> Result<(), SendError> {
    let transient = |text: String| SendError {
        permanent: false,
        text,
    };
    let dir = tempfile::Builder::new()
        .prefix("gazette-fax-")
        .tempdir()
        .map_err(|e| transient(format!("fax: cannot make a temporary folder: {e}")))?;
    let pdf_path = dir.path().join(format!("{reference}.pdf"));
    std::fs::write(&pdf_path, pdf)
        .map_err(|e| transient(format!("fax: cannot write {}: {e}", pdf_path.display())))?;
    let args = command_args(template, number, reference, &pdf_path);
    let Some((program, rest)) = args.split_first() else {
        return Err(SendError {
            permanent: true,
            text: "fax: [fax.command] is empty".into(),
        });
    };
    // Output goes to files, not pipes: a chatty command can never block on a full pipe.
    let out_path = dir.path().join("output.txt");
    let err_path = dir.path().join("errors.txt");
    let open = |p: &Path| {
        std::fs::File::create(p)
            .map_err(|e| transient(format!("fax: cannot create {}: {e}", p.display())))
    };
    let mut child = std::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(open(&out_path)?)
        .stderr(open(&err_path)?)
        .spawn()
        .map_err(|e| SendError {
            // A missing program stays missing until someone installs it.
            permanent: e.kind() == std::io::ErrorKind::NotFound,
            text: format!("fax: [fax.command] cannot run {program:?}: {e}"),
        })?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(transient(format!(
                    "fax: {program:?} did not finish within {} s and was stopped",
                    COMMAND_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(transient(format!("fax: waiting for {program:?}: {e}"))),
        }
    };
    if status.success() {
        return Ok(());
    }
    let stderr = std::fs::read(&err_path).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr: String = stderr.trim().chars().take(1000).collect();
    Err(transient(if stderr.is_empty() {
        format!("fax: {program:?} failed ({status})")
    } else {
        format!("fax: {program:?} failed ({status}): {stderr}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_for_the_template() {
        assert_eq!(digits("0753-2128309"), "07532128309");
        assert_eq!(national("0753-2128309"), "7532128309");
        assert_eq!(national("+86 753 2128309"), "7532128309");
        assert_eq!(national("0086 753 2128309"), "7532128309");
        assert_eq!(
            gateway_address("{number}@fax.example.org", "0753-2128309")
                .unwrap()
                .to_string(),
            "07532128309@fax.example.org"
        );
        assert_eq!(
            gateway_address("FAX=+86{national}@fax.example.org", "0753-2128309")
                .unwrap()
                .to_string(),
            "FAX=+867532128309@fax.example.org"
        );
        assert!(gateway_address("fax@example.org", "0753-2128309")
            .unwrap_err()
            .contains("placeholder"));
        assert!(gateway_address("{number}", "0753-2128309")
            .unwrap_err()
            .contains("not an email address"));
    }

    #[test]
    fn command_placeholders_fill_each_argument() {
        let template: Vec<String> = ["sendfax", "-n", "-i", "{ref}", "-d", "{number}", "{pdf}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let args = command_args(
            &template,
            "0753-2128309",
            "K7M2XR9P",
            Path::new("/tmp/x/K7M2XR9P.pdf"),
        );
        assert_eq!(
            args,
            [
                "sendfax",
                "-n",
                "-i",
                "K7M2XR9P",
                "-d",
                "07532128309",
                "/tmp/x/K7M2XR9P.pdf"
            ]
        );
    }

    #[test]
    fn no_transport_queues_no_fax() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load_with_env(dir.path(), vec![]).unwrap();
        config.fax.numbers = vec!["0753-2128309".into(), "07532128309".into()];
        assert!(queued_numbers(&config).is_empty());
        config.fax.command = vec!["sendfax".into(), "{pdf}".into()];
        assert_eq!(queued_numbers(&config), ["0753-2128309"]);
        config.fax.gateway = "{number}@fax.example.org".into();
        assert!(matches!(
            Transport::from_config(&config),
            Some(Transport::Gateway(_))
        ));
    }

    #[test]
    fn a_failing_command_reports_its_stderr() {
        let template: Vec<String> = ["sh", "-c", "echo 'modem busy' >&2; exit 3", "{pdf}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = run_command(&template, "0753-2128309", "K7M2XR9P", b"%PDF").unwrap_err();
        assert!(!e.permanent);
        assert!(e.text.contains("modem busy"), "{}", e.text);
        let ok: Vec<String> = ["sh", "-c", "test -s \"$0\"", "{pdf}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        run_command(&ok, "0753-2128309", "K7M2XR9P", b"%PDF").unwrap();
        let missing = vec!["/nonexistent/sendfax".to_string()];
        assert!(run_command(&missing, "1", "R", b"").unwrap_err().permanent);
    }

    #[test]
    fn gateway_message_attaches_the_pdf() {
        let from: Mailbox = "表单服务 <gazette@localhost>".parse().unwrap();
        let to = gateway_address("{number}@fax.example.org", "0753-2128309").unwrap();
        let m = gateway_message(
            &from,
            to,
            GatewayMail {
                office: "梅州市人力资源和社会保障局 专业技术人员管理科",
                form_title: "附件1 市直主管部门信息一览表",
                reference: "K7M2XR9P",
                received: "2016年7月20日 10:31",
                late: false,
                number: "0753-2128309",
            },
            b"%PDF-1.7 test".to_vec(),
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("To: 07532128309@fax.example.org"), "{raw}");
        assert!(raw.contains("Message-ID: <K7M2XR9P.fax.07532128309@gazette>"));
        assert!(raw.contains("multipart/mixed"));
        assert!(raw.contains("Content-Type: application/pdf"));
        assert!(raw.contains("filename=\"K7M2XR9P.pdf\""), "{raw}");
    }
}
