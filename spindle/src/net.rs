//! Shuffle blocks between processes: every executor serves the map outputs in its
//! scratch directory ([`serve`]), and reduce tasks fetch their blocks straight from the
//! executor that wrote them ([`RemoteBlocks`]); nothing passes through the driver.
//!
//! The protocol, on a TCP connection: the server sends a 32-byte nonce; the client
//! answers HMAC-SHA256(application secret, nonce) (the secret itself never travels);
//! the server closes the connection on a wrong answer. Then requests, one at a time:
//! `[u16 BE name length][file name][u64 BE offset][u64 BE length]`, each answered by
//! `[0][u64 BE length][bytes]` or `[1][u16 BE length][message]`. Only plain file names
//! in the server's directory are served.
//!
//! Before the handshake a peer can cost the server only a bounded wait: at most
//! [`MAX_HANDSHAKES`] connections at once, each given [`HANDSHAKE_TIMEOUT`].

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use spindle_core::transport::{secret_proof, verify_proof};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::env::{BlockFetcher, BlockRef, LocalBlocks};
use crate::error::{Error, Result};

const NONCE: usize = 32;
/// Connections waiting for their handshake at once; more wait in the kernel's backlog.
pub(crate) const MAX_HANDSHAKES: usize = 64;
/// How long a connection may take to prove it holds the secret.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a fetch may wait on the network before it fails.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_NAME: usize = 4096;

/// Serves the files of `root` to peers that hold `secret`; returns the bound address.
pub(crate) async fn serve(bind: SocketAddr, secret: Vec<u8>, root: PathBuf) -> Result<SocketAddr> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| Error::io("listen for shuffle fetches on", bind, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listen for shuffle fetches on", bind, e))?;
    let secret = Arc::new(secret);
    let root = Arc::new(root);
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = handshakes.clone().acquire_owned().await else {
                return;
            };
            let (socket, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("shuffle server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (secret, root) = (secret.clone(), root.clone());
            tokio::spawn(async move {
                if let Err(e) = connection(socket, &secret, &root, permit).await {
                    tracing::debug!(%peer, "shuffle connection ended: {e}");
                }
            });
        }
    });
    Ok(addr)
}

async fn connection(
    mut socket: tokio::net::TcpStream,
    secret: &[u8],
    root: &std::path::Path,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> std::io::Result<()> {
    let nonce: [u8; NONCE] = rand::random();
    let mut proof = [0u8; 32];
    let handshake = async {
        socket.write_all(&nonce).await?;
        socket.read_exact(&mut proof).await.map(|_| ())
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(r) => r?,
        Err(_) => return Err(std::io::Error::other("no handshake in time")),
    }
    if !verify_proof(secret, &nonce, &proof) {
        return Err(std::io::Error::other(
            "a peer without the application secret",
        ));
    }
    drop(permit);
    loop {
        let mut len = [0u8; 2];
        match socket.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u16::from_be_bytes(len) as usize;
        if len > MAX_NAME {
            return Err(std::io::Error::other("a file name over the limit"));
        }
        let mut name = vec![0u8; len];
        socket.read_exact(&mut name).await?;
        let offset = socket.read_u64().await?;
        let want = socket.read_u64().await?;
        match open_block(root, &name, offset, want).await {
            Ok(file) => {
                socket.write_u8(0).await?;
                socket.write_u64(want).await?;
                let sent = tokio::io::copy(&mut file.take(want), &mut socket).await?;
                if sent != want {
                    // The length is already promised: the peer must see the short block.
                    return Err(std::io::Error::other(
                        "the map output is shorter than its index says",
                    ));
                }
            }
            Err(message) => {
                let message = message.into_bytes();
                let n = message.len().min(u16::MAX as usize);
                socket.write_u8(1).await?;
                socket.write_u16(n as u16).await?;
                socket.write_all(&message[..n]).await?;
            }
        }
    }
}

async fn open_block(
    root: &std::path::Path,
    name: &[u8],
    offset: u64,
    len: u64,
) -> Result<tokio::fs::File, String> {
    let name =
        std::str::from_utf8(name).map_err(|_| "a file name that is not UTF-8".to_string())?;
    if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return Err(format!("{name:?} is not a shuffle file name"));
    }
    let path = root.join(name);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
        .len();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(format!(
            "{name}: [{offset}, +{len}) is past its end ({size} bytes)"
        ));
    }
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| format!("cannot seek in {}: {e}", path.display()))?;
    Ok(file)
}

/// Fetches blocks from the executors that wrote them (and reads this process's own
/// from disk), keeping authenticated connections for reuse.
pub(crate) struct RemoteBlocks {
    secret: Vec<u8>,
    own: String,
    idle: Arc<Mutex<HashMap<String, Vec<TcpStream>>>>,
}

impl RemoteBlocks {
    pub(crate) fn new(secret: Vec<u8>, own_location: String) -> Self {
        RemoteBlocks {
            secret,
            own: own_location,
            idle: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn connect(&self, location: &str) -> Result<TcpStream> {
        let fail = |e: std::io::Error| Error::io("fetch shuffle blocks from", location, e);
        let addr: SocketAddr = location.parse().map_err(|_| {
            Error::Internal(format!(
                "a shuffle location that is not an address: {location}"
            ))
        })?;
        let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(fail)?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(fail)?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(fail)?;
        s.set_nodelay(true).map_err(fail)?;
        let mut nonce = [0u8; NONCE];
        s.read_exact(&mut nonce).map_err(fail)?;
        s.write_all(&secret_proof(&self.secret, &nonce))
            .map_err(fail)?;
        Ok(s)
    }

    fn request(&self, location: &str, block: &BlockRef) -> Result<TcpStream> {
        let fail = |e: std::io::Error| Error::io("fetch shuffle blocks from", location, e);
        let name = std::path::Path::new(&block.path)
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::Internal(format!("a map output without a file name: {}", block.path))
            })?;
        let mut message = Vec::with_capacity(2 + name.len() + 16);
        message.extend_from_slice(&(name.len() as u16).to_be_bytes());
        message.extend_from_slice(name.as_bytes());
        message.extend_from_slice(&block.offset.to_be_bytes());
        message.extend_from_slice(&block.len.to_be_bytes());
        // A pooled connection may have been closed by the peer since: one fresh try.
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(location)
            .and_then(Vec::pop);
        let reused = pooled.and_then(|mut s| s.write_all(&message).is_ok().then_some(s));
        let mut s = match reused {
            Some(s) => s,
            None => {
                let mut s = self.connect(location)?;
                s.write_all(&message).map_err(fail)?;
                s
            }
        };
        let mut status = [0u8; 1];
        s.read_exact(&mut status).map_err(fail)?;
        match status[0] {
            0 => {
                let mut len = [0u8; 8];
                s.read_exact(&mut len).map_err(fail)?;
                if u64::from_be_bytes(len) != block.len {
                    return Err(Error::Internal(format!(
                        "{location} answered another length for {name}"
                    )));
                }
                Ok(s)
            }
            _ => {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).map_err(fail)?;
                let mut text = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut text).map_err(fail)?;
                Err(Error::io(
                    "fetch shuffle blocks from",
                    location,
                    std::io::Error::other(String::from_utf8_lossy(&text).into_owned()),
                ))
            }
        }
    }
}

impl BlockFetcher for RemoteBlocks {
    fn open(&self, block: &BlockRef) -> Result<Box<dyn Read>> {
        if block.location.is_empty() || block.location == self.own {
            return LocalBlocks.open(block);
        }
        let stream = self.request(&block.location, block)?;
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            PooledRead {
                stream: Some(stream),
                left: block.len,
                location: block.location.clone(),
                idle: self.idle.clone(),
            },
        )))
    }
}

/// One block's bytes off a connection, which goes back to the pool once they are read.
struct PooledRead {
    stream: Option<TcpStream>,
    left: u64,
    location: String,
    idle: Arc<Mutex<HashMap<String, Vec<TcpStream>>>>,
}

impl Read for PooledRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let Some(s) = self.stream.as_mut() else {
            return Ok(0);
        };
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = s.read(&mut buf[..want])?;
        if n == 0 {
            self.stream = None;
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} closed the connection inside a block", self.location),
            ));
        }
        self.left -= n as u64;
        if self.left == 0
            && let Some(s) = self.stream.take()
        {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(self.location.clone())
                .or_default()
                .push(s);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn blocks_are_fetched_by_peers_with_the_secret_only() {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(dir.path().join("shuffle_0_0_0_0.data"), &data).expect("write");
        let addr = rt
            .block_on(serve(
                "127.0.0.1:0".parse().expect("addr"),
                b"s3cret".to_vec(),
                dir.path().to_path_buf(),
            ))
            .expect("serve");
        let location = addr.to_string();
        let block = |offset: u64, len: u64| BlockRef {
            location: location.clone(),
            path: "/elsewhere/shuffle_0_0_0_0.data".into(),
            offset,
            len,
        };

        let good = RemoteBlocks::new(b"s3cret".to_vec(), "me:1".into());
        for (offset, len) in [(0u64, 10u64), (4000, 300_000), (799_990, 10)] {
            let mut got = Vec::new();
            good.open(&block(offset, len))
                .expect("open")
                .read_to_end(&mut got)
                .expect("read");
            assert_eq!(got, &data[offset as usize..(offset + len) as usize]);
        }
        // The connection was reused: one idle connection for the location.
        assert_eq!(
            good.idle.lock().expect("lock").get(&location).map(Vec::len),
            Some(1)
        );

        let past_end = good.open(&block(799_990, 11)).err().expect("refused");
        assert!(past_end.to_string().contains("past its end"), "{past_end}");
        let mut traversal = block(0, 1);
        traversal.path = "../../etc/passwd".into();
        traversal.path = "..".into();
        assert!(good.open(&traversal).is_err());

        let stranger = RemoteBlocks::new(b"guess".to_vec(), "them:1".into());
        let refused = stranger
            .open(&block(0, 10))
            .err()
            .expect("a wrong secret is refused");
        assert!(
            refused.to_string().contains("fetch shuffle blocks"),
            "{refused}"
        );
    }
}
