//! The IMAP side: connect (implicit TLS, STARTTLS, or plain to loopback),
//! log in, and the few commands a pass needs. `async-imap` speaks the
//! protocol; rustls (the same TLS stack lettre uses here) secures it.

use anyhow::Context as _;
use futures_util::StreamExt as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection, secured or (to loopback only) not.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub(crate) type Session = async_imap::Session<Stream>;

/// How to reach the mailbox (checked from `[mailbox]`).
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: String,
    pub(crate) user: String,
    pub(crate) password: String,
}

/// Every step gets this long; a server that stops answering is dropped.
pub(crate) const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn tls(host: &str, tcp: TcpStream) -> anyhow::Result<Stream> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("[mailbox.server] {host:?} is not a host name"))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with {host}"))?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// Connects and logs in; the folder is not selected yet.
pub(crate) async fn login(account: &Account) -> anyhow::Result<Session> {
    tokio::time::timeout(TIMEOUT, login_inner(account))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: no answer within {TIMEOUT:?}",
                account.host,
                account.port
            )
        })?
}

async fn login_inner(account: &Account) -> anyhow::Result<Session> {
    let addr = format!("{}:{}", account.host, account.port);
    let tcp = TcpStream::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let _ = tcp.set_nodelay(true);
    let stream = match account.tls.as_str() {
        "tls" => tls(&account.host, tcp).await?,
        "starttls" => {
            let mut client = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .with_context(|| format!("{addr}: STARTTLS refused"))?;
            let Stream::Plain(tcp) = client.into_inner() else {
                anyhow::bail!("{addr}: STARTTLS on a TLS connection");
            };
            tls(&account.host, tcp).await?
        }
        _ => Stream::Plain(tcp),
    };
    let mut client = async_imap::Client::new(stream);
    if account.tls != "starttls" {
        greeting(&mut client).await?;
    }
    client
        .login(&account.user, &account.password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("{addr}: login as {:?} refused: {e}", account.user))
}

async fn greeting(client: &mut async_imap::Client<Stream>) -> anyhow::Result<()> {
    match client.read_response().await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(anyhow::anyhow!("no IMAP greeting: {e}")),
        None => Err(anyhow::anyhow!("the server closed the connection at once")),
    }
}

/// Creates `folder` unless it exists.
pub(crate) async fn ensure_folder(session: &mut Session, folder: &str) -> anyhow::Result<()> {
    let exists = {
        let list = session.list(None, Some(folder)).await?;
        let names: Vec<_> = list.collect().await;
        names
            .into_iter()
            .filter_map(Result::ok)
            .any(|n| n.name() == folder)
    };
    if !exists {
        session
            .create(folder)
            .await
            .with_context(|| format!("cannot create the folder {folder:?}"))?;
    }
    Ok(())
}

/// A UID set as IMAP writes it: `1:4,7,9:10`.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// (uid, size) of every message waiting in the selected folder, oldest first.
pub(crate) async fn waiting(session: &mut Session) -> anyhow::Result<Vec<(u32, u64)>> {
    let uids = session
        .uid_search("UNKEYWORD GazetteLeft")
        .await
        .context("UID SEARCH")?;
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    let mut out = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(1000) {
        let mut fetches = session
            .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
            .await
            .context("UID FETCH sizes")?;
        while let Some(f) = fetches.next().await {
            let f = f.context("UID FETCH sizes")?;
            if let Some(uid) = f.uid {
                out.push((uid, u64::from(f.size.unwrap_or(0))));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The whole messages (`BODY.PEEK[]`, so none is marked read) or, with
/// `header_only`, their headers.
pub(crate) async fn fetch(
    session: &mut Session,
    uids: &[u32],
    header_only: bool,
) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let query = if header_only {
        "(UID BODY.PEEK[HEADER])"
    } else {
        "(UID BODY.PEEK[])"
    };
    let mut out = Vec::with_capacity(uids.len());
    let mut fetches = session
        .uid_fetch(uid_set(uids), query)
        .await
        .context("UID FETCH")?;
    while let Some(f) = fetches.next().await {
        let f = f.context("UID FETCH")?;
        let Some(uid) = f.uid else { continue };
        let bytes = if header_only { f.header() } else { f.body() };
        out.push((uid, bytes.unwrap_or_default().to_vec()));
    }
    Ok(out)
}

/// Moves messages to `folder` (MOVE where the server has it, else COPY,
/// \Deleted and EXPUNGE of just those).
pub(crate) async fn move_to(
    session: &mut Session,
    uids: &[u32],
    folder: &str,
    can_move: bool,
) -> anyhow::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    if can_move {
        session
            .uid_mv(&set, folder)
            .await
            .with_context(|| format!("UID MOVE to {folder}"))?;
        return Ok(());
    }
    session
        .uid_copy(&set, folder)
        .await
        .with_context(|| format!("UID COPY to {folder}"))?;
    {
        let stored = session
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await
            .context("UID STORE \\Deleted")?;
        let _: Vec<_> = stored.collect().await;
    }
    let expunged = session.uid_expunge(&set).await.context("UID EXPUNGE")?;
    let _: Vec<_> = expunged.collect().await;
    Ok(())
}

/// Marks messages as left for a person: later passes skip them.
pub(crate) async fn mark_left(session: &mut Session, uids: &[u32]) -> anyhow::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let stored = session
        .uid_store(uid_set(uids), "+FLAGS.SILENT (GazetteLeft \\Flagged)")
        .await
        .context("UID STORE GazetteLeft")?;
    let _: Vec<_> = stored.collect().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_use_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[9]), "9");
        assert_eq!(uid_set(&[4, 3, 3]), "3:4");
    }
}
