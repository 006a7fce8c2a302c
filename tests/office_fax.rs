//! Fax delivery end to end: the real `gazette intake`, a real SMTP server on
//! loopback standing in for an email-to-fax gateway, and a fax command
//! written by the test. The PDF that goes out is read back with `pdftotext`.

use crate::both;
use crate::common::postgres::Engine;
use crate::common::smtp::{Mail, SmtpServer};
use crate::common::{self, committee, department, Intake};
use base64::Engine as _;
use std::path::Path;
use std::time::Duration;

const OFFICE_EMAIL: &str = "zjk@hrss.meizhou.example";
/// The bundled `[fax] numbers` entry, 0753-2128309, as the gateway wants it.
const FAX_DIGITS: &str = "07532128309";

/// The decoded body of the first `application/pdf` part of a message.
fn pdf_attachment(mail: &Mail) -> Option<(String, Vec<u8>)> {
    let raw = mail.raw().replace("\r\n", "\n");
    for part in raw.split("\n--") {
        let Some((head, body)) = part.split_once("\n\n") else {
            continue;
        };
        let head_l = head.to_ascii_lowercase();
        if !head_l.contains("content-type: application/pdf") {
            continue;
        }
        let filename = head
            .split("filename=")
            .nth(1)
            .and_then(|f| f.lines().next())
            .map(|f| f.trim().trim_matches(|c| c == '"' || c == ';').to_string())
            .unwrap_or_default();
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()?;
        return Some((filename, bytes));
    }
    None
}

fn pdftotext(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (pages, page size) as `pdfinfo` gives them.
fn pdfinfo(pdf: &Path) -> (String, String) {
    let out = std::process::Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils) installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    (field("Pages:"), field("Page size:"))
}

/// (status, last_error) of the fax rows.
fn fax_rows(intake: &Intake) -> Vec<(String, Option<String>, String)> {
    intake
        .texts(
            "SELECT status, last_error, recipients FROM outbox WHERE channel = 'fax' ORDER BY id",
        )
        .into_iter()
        .map(|mut r| {
            let recipients = r.pop().flatten().unwrap_or_default();
            let error = r.pop().flatten();
            (r.pop().flatten().unwrap_or_default(), error, recipients)
        })
        .collect()
}

fn email_status(intake: &Intake) -> Vec<String> {
    intake
        .texts("SELECT status FROM outbox WHERE channel = 'email' ORDER BY id")
        .into_iter()
        .map(|r| r.into_iter().next().flatten().unwrap_or_default())
        .collect()
}

fn a_web_return_is_emailed_and_faxed_through_the_gateway(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let server = Intake::builder()
        .engine(engine)
        .smtp(&smtp)
        .env("GAZETTE_FAX_GATEWAY", "{number}@fax.test")
        .start();
    let dept = server.submit("departments", &department("梅州市教育局"));
    let comm = server.submit("committees", &committee("梅州市卫生系列中级评审委员会"));

    // Two returns: two notifications and two faxes.
    let mails = smtp.wait_for(4, Duration::from_secs(30));
    assert_eq!(mails.len(), 4, "{}", server.log());
    let (faxes, emails): (Vec<&Mail>, Vec<&Mail>) = mails
        .iter()
        .partition(|m| m.to == [format!("{FAX_DIGITS}@fax.test")]);
    assert_eq!(
        emails.len(),
        2,
        "{:?}",
        mails.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    assert!(emails.iter().all(|m| m.to == [OFFICE_EMAIL]));
    assert_eq!(faxes.len(), 2);

    let dir = tempfile::tempdir().unwrap();
    for (reference, expected) in [
        (
            &dept,
            vec![
                "市直主管部门信息一览表",
                "梅州市教育局",
                "11441700007280420Y",
                "梅州市梅江区江南路1号",
                "李四",
                "逾期",
            ],
        ),
        (
            &comm,
            vec![
                "市属评委会信息一览表",
                "梅州市卫生系列中级评审委员会",
                "中级、副高级",
                "粤人社函〔2015〕123号",
                "赵六",
            ],
        ),
    ] {
        let mail = faxes
            .iter()
            .find(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.contains(reference.as_str()))
            })
            .unwrap_or_else(|| panic!("no fax for {reference}"));
        assert_eq!(
            mail.header("Message-ID").as_deref(),
            Some(format!("<{reference}.fax.{FAX_DIGITS}@gazette>").as_str())
        );
        let (filename, pdf) = pdf_attachment(mail).expect("a PDF attachment");
        assert_eq!(filename, format!("{reference}.pdf"));
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let path = dir.path().join(&filename);
        std::fs::write(&path, &pdf).unwrap();
        let text = pdftotext(&path);
        assert!(text.contains(reference.as_str()), "{text}");
        assert!(text.contains("专业技术人员管理科"), "{text}");
        for e in expected {
            assert!(text.contains(e), "the fax sheet lacks {e}:\n{text}");
        }
        let (pages, size) = pdfinfo(&path);
        assert!(size.ends_with("(A4)"), "A4: {size}");
        // The figures for the issue note (cargo test -- --nocapture).
        println!(
            "fax sheet {reference} ({}): {pages} page(s), {size}, {} bytes",
            mail.header("Subject").unwrap_or_default(),
            pdf.len()
        );
    }
    common::eventually(Duration::from_secs(5), || {
        let rows = fax_rows(&server);
        (rows.len() == 2 && rows.iter().all(|r| r.0 == "sent")).then_some(())
    })
    .unwrap_or_else(|| panic!("fax rows: {:?}", fax_rows(&server)));
}

/// A stand-in for `sendfax`: records its arguments and keeps the PDF.
fn fax_script(dir: &Path, fail: bool) -> std::path::PathBuf {
    let script = dir.join("sendfax.sh");
    let body = if fail {
        "#!/bin/sh\necho \"sendfax: modem busy, no carrier\" >&2\nexit 2\n".to_string()
    } else {
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{args}'\nfor last in \"$@\"; do :; done\ncp \"$last\" '{pdf}'\n",
            args = dir.join("args.txt").display(),
            pdf = dir.join("sent.pdf").display()
        )
    };
    std::fs::write(&script, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn the_fax_command_is_called_with_the_number_and_the_pdf(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let work = tempfile::tempdir().unwrap();
    let script = fax_script(work.path(), false);
    let command = format!("{},-n,-i,{{ref}},-d,{{number}},{{pdf}}", script.display());
    let server = Intake::builder()
        .engine(engine)
        .smtp(&smtp)
        .env("GAZETTE_FAX_COMMAND", command)
        .start();
    let reference = server.submit("departments", &department("梅州市财政局"));
    let args_file = work.path().join("args.txt");
    common::eventually(Duration::from_secs(20), || {
        (fax_rows(&server).first().map(|r| r.0.as_str()) == Some("sent")).then_some(())
    })
    .unwrap_or_else(|| panic!("fax rows {:?}\n{}", fax_rows(&server), server.log()));
    let args = std::fs::read_to_string(&args_file).expect("the command ran");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.len(), 6, "{args:?}");
    assert_eq!(
        &args[..5],
        ["-n", "-i", reference.as_str(), "-d", FAX_DIGITS]
    );
    assert!(args[5].ends_with(&format!("/{reference}.pdf")), "{args:?}");
    // The temporary PDF is gone once the command has returned.
    assert!(!Path::new(args[5]).exists());
    let text = pdftotext(&work.path().join("sent.pdf"));
    assert!(text.contains("梅州市财政局"), "{text}");
    assert!(text.contains(&reference), "{text}");
    // The email went out as well, and only the email went to SMTP.
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, [OFFICE_EMAIL]);
}

fn a_failing_fax_command_fails_its_row_and_the_email_still_goes(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let work = tempfile::tempdir().unwrap();
    let script = fax_script(work.path(), true);
    let server = Intake::builder()
        .engine(engine)
        .smtp(&smtp)
        .env(
            "GAZETTE_FAX_COMMAND",
            format!("{},-d,{{number}},{{pdf}}", script.display()),
        )
        .env("GAZETTE_MAIL_RETRY_MAX", "2")
        .start();
    let reference = server.submit("departments", &department("梅州市审计局"));
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "{}", server.log());
    assert_eq!(mails[0].to, [OFFICE_EMAIL]);
    let rows = common::eventually(Duration::from_secs(20), || {
        let rows = fax_rows(&server);
        (rows.first().map(|r| r.0.as_str()) == Some("failed")).then_some(rows)
    })
    .unwrap_or_else(|| panic!("fax rows {:?}\n{}", fax_rows(&server), server.log()));
    let error = rows[0].1.clone().unwrap_or_default();
    assert!(error.contains("modem busy, no carrier"), "{error}");
    assert_eq!(rows[0].2, "[\"0753-2128309\"]");
    assert_eq!(email_status(&server), ["sent"]);
    // The same failure reporting as email rows.
    let out = server.run(&["outbox"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("notifications: 1 ") && report.contains(", 0 pending, 1 failed"),
        "{report}"
    );
    assert!(
        report.contains(&format!("{reference} fax ")),
        "the channel is named: {report}"
    );
    assert!(report.contains("modem busy"), "{report}");
}

fn without_a_font_fax_rows_fail_with_the_reason_and_email_goes(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let server = Intake::builder()
        .engine(engine)
        .smtp(&smtp)
        .env("GAZETTE_FAX_GATEWAY", "{number}@fax.test")
        .env("GAZETTE_FAX_FONT", "/nonexistent/cjk.ttf")
        .start();
    // Start-up says so before any return arrives.
    assert!(
        common::eventually(Duration::from_secs(5), || server
            .log()
            .contains("no CJK font")
            .then_some(()))
        .is_some(),
        "{}",
        server.log()
    );
    server.submit("departments", &department("梅州市民政局"));
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, [OFFICE_EMAIL]);
    let rows = common::eventually(Duration::from_secs(10), || {
        let rows = fax_rows(&server);
        (rows.first().map(|r| r.0.as_str()) == Some("failed")).then_some(rows)
    })
    .unwrap_or_else(|| panic!("fax rows {:?}\n{}", fax_rows(&server), server.log()));
    let error = rows[0].1.clone().unwrap_or_default();
    assert!(
        error.contains("no CJK font") && error.contains("/nonexistent/cjk.ttf"),
        "{error}"
    );
}

fn numbers_without_a_transport_queue_no_fax(engine: Engine) {
    // The bundled gazette.toml: a number, no gateway, no command.
    let smtp = SmtpServer::start("127.0.0.1:0");
    let server = Intake::builder().engine(engine).smtp(&smtp).start();
    assert!(
        common::eventually(Duration::from_secs(5), || server
            .log()
            .contains("neither fax.gateway nor fax.command")
            .then_some(()))
        .is_some(),
        "{}",
        server.log()
    );
    server.submit("departments", &department("梅州市水务局"));
    assert_eq!(smtp.wait_for(1, Duration::from_secs(15)).len(), 1);
    assert!(fax_rows(&server).is_empty());
}

both!(
    a_web_return_is_emailed_and_faxed_through_the_gateway,
    the_fax_command_is_called_with_the_number_and_the_pdf,
    a_failing_fax_command_fails_its_row_and_the_email_still_goes,
    without_a_font_fax_rows_fail_with_the_reason_and_email_goes,
    numbers_without_a_transport_queue_no_fax,
);
