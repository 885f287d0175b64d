//! One Hadoop IPC connection (RPC engine 2, protobuf): connection header, SASL or SIMPLE
//! authentication, connection context, then many calls in flight matched by call id.
//!
//! Owns framing, the SASL exchange on the wire, wrapping under `auth-int`/`auth-conf`,
//! pings and timeouts. It knows nothing of any particular protocol's methods; the typed
//! clients (`rm`, `nm`, `namenode`) sit on top. A connection does not reconnect: once it
//! fails every call on it fails, and [`crate::RpcClient`] makes a new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use spindle_proto::hadoop::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, RpcSaslProto, UserInformationProto, rpc_request_header_proto,
    rpc_response_header_proto::RpcStatusProto, rpc_sasl_proto,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::credentials::Token;
use crate::error::{IpcError, Result};
use crate::sasl::{DigestMd5Client, DigestMd5Config, Qop, SecurityLayer};

const CONNECTION_CONTEXT_CALL_ID: i32 = -3;
const PING_CALL_ID: i32 = -4;
const SASL_CALL_ID: i32 = -33;
const AUTH_PROTOCOL_NONE: u8 = 0;
const AUTH_PROTOCOL_SASL: u8 = 0xDF; // -33 as a byte

/// How the client proves who it is.
#[derive(Clone)]
pub enum Auth {
    /// No SASL; the user name travels in the connection context (insecure clusters).
    Simple {
        /// The effective user.
        user: String,
    },
    /// SASL DIGEST-MD5 with a delegation-style token (AMRM token, NM token, …).
    Token(Token),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Simple { user } => write!(f, "SIMPLE({user})"),
            Auth::Token(t) => write!(f, "TOKEN({})", t.kind),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `host:port` of the server.
    pub addr: String,
    /// The protocol named in the connection context and every call header, e.g.
    /// `org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB`.
    pub protocol: String,
    /// Authentication.
    pub auth: Auth,
    /// Qops accepted for TOKEN auth (the cluster's `hadoop.rpc.protection` decides).
    pub allowed_qops: Vec<Qop>,
    /// Bound on establishing the TCP connection and the SASL exchange.
    pub connect_timeout: Duration,
    /// Bound on each call's reply.
    pub call_timeout: Duration,
    /// A ping is sent after this long without sending anything.
    pub ping_interval: Duration,
    /// Largest frame accepted from the server (Hadoop's `ipc.maximum.response.length`).
    pub max_frame: usize,
}

impl ConnectionConfig {
    /// Defaults as Hadoop's client has them: 20 s to connect, 60 s pings, 128 MiB frames.
    pub fn new(addr: impl Into<String>, protocol: impl Into<String>, auth: Auth) -> Self {
        ConnectionConfig {
            addr: addr.into(),
            protocol: protocol.into(),
            auth,
            allowed_qops: Qop::ALL.to_vec(),
            connect_timeout: Duration::from_secs(20),
            call_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(60),
            max_frame: 128 * 1024 * 1024,
        }
    }
}

/// How long a failed write waits for the reader to report the server's own reason.
const READER_GRACE: Duration = Duration::from_secs(2);

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<Result<Bytes>>>>>;

/// Shared state of one connection's reader and writer tasks.
struct Shared {
    pending: Pending,
    /// Why the connection ended, once it has.
    closed: Mutex<Option<String>>,
    /// Signalled when the reader has stopped (its permit is kept if nobody waits yet).
    reader_done: Notify,
}

impl Shared {
    fn fail_all(&self, reason: &str, addr: &str) {
        if let Ok(mut c) = self.closed.lock()
            && c.is_none()
        {
            *c = Some(reason.to_string());
        }
        let drained: Vec<_> = match self.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => Vec::new(),
        };
        for (_, tx) in drained {
            let _ = tx.send(Err(IpcError::ConnectionClosed {
                peer: addr.to_string(),
                reason: reason.to_string(),
            }));
        }
    }
}

/// An authenticated connection; cheap to share behind an `Arc`.
pub struct Connection {
    config: ConnectionConfig,
    client_id: [u8; 16],
    next_call_id: AtomicI32,
    outgoing: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
    qop: Option<Qop>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.config.addr)
            .field("protocol", &self.config.protocol)
            .field("qop", &self.qop)
            .finish()
    }
}

impl Connection {
    /// Connects, authenticates and sends the connection context.
    pub async fn connect(config: ConnectionConfig) -> Result<Connection> {
        let addr = config.addr.clone();
        tokio::time::timeout(config.connect_timeout, Self::establish(config))
            .await
            .map_err(|_| IpcError::Timeout {
                what: format!("connecting and authenticating to {addr}"),
            })?
    }

    async fn establish(config: ConnectionConfig) -> Result<Connection> {
        let stream = TcpStream::connect(&config.addr)
            .await
            .map_err(|source| IpcError::Io {
                what: format!("connecting to {}", config.addr),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let client_id: [u8; 16] = rand::random();

        let auth_protocol = match config.auth {
            Auth::Simple { .. } => AUTH_PROTOCOL_NONE,
            Auth::Token(_) => AUTH_PROTOCOL_SASL,
        };
        write_all(
            &mut wr,
            &[b'h', b'r', b'p', b'c', 9, 0, auth_protocol],
            &config.addr,
        )
        .await?;

        let mut layer = None;
        let mut qop = None;
        if let Auth::Token(token) = &config.auth {
            let negotiated = sasl_exchange(&mut rd, &mut wr, token, &config).await?;
            qop = Some(negotiated.qop);
            layer = negotiated.security_layer;
        }
        let layer = layer.map(|l| Arc::new(Mutex::new(l)));

        // The connection context: the user only for SIMPLE (TOKEN: it comes from the token).
        let user_info = match &config.auth {
            Auth::Simple { user } => Some(UserInformationProto {
                effective_user: Some(user.clone()),
                real_user: None,
            }),
            Auth::Token(_) => None,
        };
        let context = IpcConnectionContextProto {
            user_info,
            protocol: Some(config.protocol.clone()),
        };
        let header = request_header(CONNECTION_CONTEXT_CALL_ID, &client_id, -1);
        let packet = frame(&[&header, &context]);

        let shared = Arc::new(Shared {
            pending: Arc::new(Mutex::new(HashMap::new())),
            closed: Mutex::new(None),
            reader_done: Notify::new(),
        });
        let (tx, rx) = mpsc::channel::<Bytes>(256);
        tx.send(packet)
            .await
            .map_err(|_| closed(&config.addr, "writer gone"))?;
        tokio::spawn(writer_task(
            wr,
            rx,
            layer.clone(),
            config.ping_interval,
            client_id,
            shared.clone(),
            config.addr.clone(),
        ));
        tokio::spawn(reader_task(
            rd,
            layer,
            config.max_frame,
            shared.clone(),
            config.addr.clone(),
        ));
        Ok(Connection {
            config,
            client_id,
            next_call_id: AtomicI32::new(0),
            outgoing: tx,
            shared,
            qop,
        })
    }

    /// The quality of protection agreed with the server (TOKEN auth only).
    pub fn qop(&self) -> Option<Qop> {
        self.qop
    }

    /// True once the connection has failed or closed.
    pub fn is_closed(&self) -> bool {
        self.shared
            .closed
            .lock()
            .map(|c| c.is_some())
            .unwrap_or(true)
    }

    /// Calls `method` of the connection's protocol and decodes the reply.
    pub async fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp> {
        let bytes = self.call_raw(method, request).await?;
        Resp::decode_length_delimited(bytes).map_err(|e| IpcError::Malformed {
            what: "RPC response",
            detail: format!("{method}: {e}"),
        })
    }

    async fn call_raw<Req: Message>(&self, method: &str, request: &Req) -> Result<Bytes> {
        if let Ok(c) = self.shared.closed.lock()
            && let Some(reason) = c.as_ref()
        {
            return Err(closed(&self.config.addr, reason));
        }
        let call_id = self.next_call_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let header = request_header(call_id, &self.client_id, 0);
        let method_header = RequestHeaderProto {
            method_name: method.to_string(),
            declaring_class_protocol_name: self.config.protocol.clone(),
            client_protocol_version: 1,
        };
        let packet = frame3(&header, &method_header, request);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.shared.pending.lock() {
            p.insert(call_id, tx);
        }
        let forget = || {
            if let Ok(mut p) = self.shared.pending.lock() {
                p.remove(&call_id);
            }
        };
        if self.outgoing.send(packet).await.is_err() {
            forget();
            return Err(closed(&self.config.addr, "connection writer stopped"));
        }
        match tokio::time::timeout(self.config.call_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(closed(&self.config.addr, "reply channel dropped")),
            Err(_) => {
                forget();
                Err(IpcError::Timeout {
                    what: format!(
                        "{method} on {} (no reply in {:?})",
                        self.config.addr, self.config.call_timeout
                    ),
                })
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Dropping the sender ends the writer, which closes the socket and the reader.
        self.shared
            .fail_all("connection dropped", &self.config.addr);
    }
}

fn closed(addr: &str, reason: &str) -> IpcError {
    IpcError::ConnectionClosed {
        peer: addr.to_string(),
        reason: reason.to_string(),
    }
}

fn request_header(call_id: i32, client_id: &[u8], retry: i32) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(rpc_request_header_proto::OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: client_id.to_vec(),
        retry_count: Some(retry),
        ..Default::default()
    }
}

/// `[u32 length][delimited messages…]`.
fn frame(parts: &[&dyn DelimitedEncode]) -> Bytes {
    let body: usize = parts.iter().map(|p| p.delimited_len()).sum();
    let mut buf = BytesMut::with_capacity(4 + body);
    buf.put_u32(body as u32);
    for p in parts {
        p.encode_delimited(&mut buf);
    }
    buf.freeze()
}

fn frame3<A: Message, B: Message, C: Message>(a: &A, b: &B, c: &C) -> Bytes {
    frame(&[a, b, c])
}

/// Object-safe length-delimited encoding, so frames can mix message types.
trait DelimitedEncode {
    fn delimited_len(&self) -> usize;
    fn encode_delimited(&self, buf: &mut BytesMut);
}

impl<M: Message> DelimitedEncode for M {
    fn delimited_len(&self) -> usize {
        let len = self.encoded_len();
        prost::length_delimiter_len(len) + len
    }
    fn encode_delimited(&self, buf: &mut BytesMut) {
        // Encoding into a BytesMut only fails for lack of capacity, which BytesMut grows.
        let _ = self.encode_length_delimited(buf);
    }
}

async fn write_all(wr: &mut OwnedWriteHalf, bytes: &[u8], addr: &str) -> Result<()> {
    wr.write_all(bytes).await.map_err(|source| IpcError::Io {
        what: format!("writing to {addr}"),
        source,
    })
}

/// Reads one `[u32 length][body]` frame, refusing lengths over `max`.
async fn read_frame(rd: &mut OwnedReadHalf, max: usize, addr: &str) -> Result<Bytes> {
    let len = rd
        .read_u32()
        .await
        .map_err(|source| read_error(source, addr))? as usize;
    if len == 0 || len > max {
        return Err(IpcError::FrameTooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body)
        .await
        .map_err(|source| read_error(source, addr))?;
    Ok(Bytes::from(body))
}

fn read_error(source: std::io::Error, addr: &str) -> IpcError {
    if source.kind() == std::io::ErrorKind::UnexpectedEof {
        closed(addr, "the server closed the connection")
    } else {
        IpcError::Io {
            what: format!("reading from {addr}"),
            source,
        }
    }
}

/// A decoded response frame: header, then the rest of the body (the response message).
pub(crate) fn decode_response(mut body: Bytes) -> Result<(RpcResponseHeaderProto, Bytes)> {
    let header = RpcResponseHeaderProto::decode_length_delimited(&mut body).map_err(|e| {
        IpcError::Malformed {
            what: "RPC response header",
            detail: e.to_string(),
        }
    })?;
    Ok((header, body))
}

fn remote_error(header: &RpcResponseHeaderProto) -> IpcError {
    IpcError::Remote {
        class: header.exception_class_name.clone().unwrap_or_default(),
        message: without_java_stack(header.error_msg.as_deref().unwrap_or_default()),
        fatal: header.status == RpcStatusProto::Fatal as i32,
    }
}

/// The server's message without the Java stack trace some servers append (`\tat …`).
fn without_java_stack(message: &str) -> String {
    message
        .lines()
        .take_while(|l| !l.trim_start().starts_with("at "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

async fn send_sasl(wr: &mut OwnedWriteHalf, msg: &RpcSaslProto, addr: &str) -> Result<()> {
    let header = request_header(SASL_CALL_ID, &[], -1);
    let packet = frame(&[&header, msg]);
    write_all(wr, &packet, addr).await
}

async fn read_sasl(rd: &mut OwnedReadHalf, config: &ConnectionConfig) -> Result<RpcSaslProto> {
    // SASL messages are small; a large frame here is garbage.
    let body = read_frame(rd, 64 * 1024, &config.addr).await?;
    let (header, mut rest) = decode_response(body)?;
    if header.status != RpcStatusProto::Success as i32 {
        return Err(remote_error(&header));
    }
    if header.call_id as i32 != SASL_CALL_ID {
        return Err(IpcError::Malformed {
            what: "SASL reply",
            detail: format!("call id {} instead of -33", header.call_id as i32),
        });
    }
    RpcSaslProto::decode_length_delimited(&mut rest).map_err(|e| IpcError::Malformed {
        what: "RpcSaslProto",
        detail: e.to_string(),
    })
}

/// NEGOTIATE → (INITIATE → CHALLENGE → RESPONSE)… → SUCCESS, as the JDK client does it.
async fn sasl_exchange(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    token: &Token,
    config: &ConnectionConfig,
) -> Result<crate::sasl::Negotiated> {
    use rpc_sasl_proto::SaslState;
    let negotiate = RpcSaslProto {
        state: SaslState::Negotiate as i32,
        ..Default::default()
    };
    send_sasl(wr, &negotiate, &config.addr).await?;
    let reply = read_sasl(rd, config).await?;
    if reply.state != SaslState::Negotiate as i32 {
        return Err(IpcError::Malformed {
            what: "SASL negotiation",
            detail: format!("expected NEGOTIATE, got state {}", reply.state),
        });
    }
    let auth = reply
        .auths
        .iter()
        .find(|a| a.method == "TOKEN" && a.mechanism == "DIGEST-MD5")
        .cloned()
        .ok_or_else(|| IpcError::AuthRejected {
            peer: config.addr.clone(),
            detail: format!(
                "server offers {:?}, not TOKEN/DIGEST-MD5",
                reply
                    .auths
                    .iter()
                    .map(|a| format!("{}/{}", a.method, a.mechanism))
                    .collect::<Vec<_>>()
            ),
        })?;
    let mut digest = DigestMd5Config::from_token(token);
    digest.protocol = auth.protocol.clone().unwrap_or_default();
    digest.server_id = auth.server_id.clone().unwrap_or_else(|| "default".into());
    digest.allowed_qops = config.allowed_qops.clone();
    let client = DigestMd5Client::new(digest);
    let echoed = rpc_sasl_proto::SaslAuth {
        challenge: None,
        ..auth.clone()
    };

    // Since Hadoop 3.4.1 the NEGOTIATE may carry no challenge: ask for one with an
    // empty INITIATE and answer the CHALLENGE with a RESPONSE. Otherwise the answer to
    // the NEGOTIATE's challenge is the INITIATE itself.
    let (challenge, asked) = match auth.challenge.filter(|c| !c.is_empty()) {
        Some(c) => (c, false),
        None => {
            let initiate = RpcSaslProto {
                state: SaslState::Initiate as i32,
                token: Some(Vec::new()),
                auths: vec![echoed.clone()],
                ..Default::default()
            };
            send_sasl(wr, &initiate, &config.addr).await?;
            let reply = read_sasl(rd, config).await?;
            if reply.state != SaslState::Challenge as i32 {
                return Err(IpcError::Malformed {
                    what: "SASL negotiation",
                    detail: format!("expected CHALLENGE, got state {}", reply.state),
                });
            }
            (reply.token.unwrap_or_default(), true)
        }
    };
    let (response, pending) = client.respond(&challenge)?;
    let msg = RpcSaslProto {
        state: if asked {
            SaslState::Response as i32
        } else {
            SaslState::Initiate as i32
        },
        token: Some(response),
        auths: if asked { vec![] } else { vec![echoed] },
        ..Default::default()
    };
    send_sasl(wr, &msg, &config.addr).await?;
    let done = read_sasl(rd, config).await?;
    if done.state != SaslState::Success as i32 {
        return Err(IpcError::AuthRejected {
            peer: config.addr.clone(),
            detail: format!("expected SUCCESS, got state {}", done.state),
        });
    }
    pending.finish(&done.token.unwrap_or_default())
}

/// Sends queued packets (wrapping them when a security layer is on) and pings when idle.
async fn writer_task(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Bytes>,
    layer: Option<Arc<Mutex<SecurityLayer>>>,
    ping_interval: Duration,
    client_id: [u8; 16],
    shared: Arc<Shared>,
    addr: String,
) {
    let ping = frame(&[&request_header(PING_CALL_ID, &client_id, -1)]);
    loop {
        let packet = match tokio::time::timeout(ping_interval, rx.recv()).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(_) => ping.clone(),
        };
        let bytes = match &layer {
            None => vec![packet],
            Some(layer) => match wrap_packet(layer, &packet) {
                Ok(b) => b,
                Err(e) => {
                    shared.fail_all(&format!("wrapping failed: {e}"), &addr);
                    break;
                }
            },
        };
        for b in bytes {
            if let Err(e) = wr.write_all(&b).await {
                // A server that refuses us (e.g. SIMPLE auth on a TOKEN-only port) sends
                // its reason and closes, so our next write can fail first. Let the reader
                // take that reason from the socket before a bare "broken pipe" wins.
                let _ = tokio::time::timeout(READER_GRACE, shared.reader_done.notified()).await;
                shared.fail_all(&format!("write failed: {e}"), &addr);
                return;
            }
        }
    }
    let _ = wr.shutdown().await;
}

/// Splits a packet into WRAP packets of at most the negotiated raw send size.
fn wrap_packet(layer: &Mutex<SecurityLayer>, packet: &[u8]) -> Result<Vec<Bytes>> {
    let mut layer = layer.lock().map_err(|_| IpcError::Malformed {
        what: "security layer",
        detail: "poisoned".into(),
    })?;
    let chunk = layer.raw_send_size().max(1);
    let mut out = Vec::new();
    for part in packet.chunks(chunk) {
        let token = layer.wrap(part)?;
        let msg = RpcSaslProto {
            state: rpc_sasl_proto::SaslState::Wrap as i32,
            token: Some(token),
            ..Default::default()
        };
        out.push(frame(&[&request_header(SASL_CALL_ID, &[], -1), &msg]));
    }
    Ok(out)
}

/// Reads replies, unwrapping them under a security layer, and completes pending calls.
async fn reader_task(
    mut rd: OwnedReadHalf,
    layer: Option<Arc<Mutex<SecurityLayer>>>,
    max_frame: usize,
    shared: Arc<Shared>,
    addr: String,
) {
    let mut plain = BytesMut::new();
    let reason = loop {
        let body = match read_frame(&mut rd, max_frame, &addr).await {
            Ok(b) => b,
            Err(e) => break e.to_string(),
        };
        let Some(layer) = &layer else {
            if let Err(e) = dispatch(body, &shared) {
                break e;
            }
            continue;
        };
        // Under auth-int/auth-conf every frame is a WRAP holding a slice of the stream.
        let unwrapped = unwrap_frame(layer, body);
        match unwrapped {
            Ok(bytes) => plain.extend_from_slice(&bytes),
            Err(e) => break e.to_string(),
        }
        if let Err(e) = take_frames(&mut plain, max_frame, |inner| dispatch(inner, &shared)) {
            break e;
        }
    };
    shared.fail_all(&reason, &addr);
    shared.reader_done.notify_one();
}

/// Takes every whole `[u32 length][body]` frame off the front of `buf`, leaving a
/// partial one for later. An error (bad length, or from `each`) ends the connection.
fn take_frames(
    buf: &mut BytesMut,
    max: usize,
    mut each: impl FnMut(Bytes) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    while buf.len() >= 4 {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len == 0 || len > max {
            return Err(IpcError::FrameTooLarge { len, max }.to_string());
        }
        if buf.len() < 4 + len {
            break;
        }
        buf.advance(4);
        each(buf.split_to(len).freeze())?;
    }
    Ok(())
}

/// [`take_frames`] over a byte slice, for fuzzing.
pub(crate) fn split_frames(data: &[u8], max: usize, mut each: impl FnMut(Bytes)) {
    let mut buf = BytesMut::from(data);
    let _ = take_frames(&mut buf, max, |b| {
        each(b);
        Ok(())
    });
}

fn unwrap_frame(layer: &Mutex<SecurityLayer>, body: Bytes) -> Result<Vec<u8>> {
    let (header, mut rest) = decode_response(body)?;
    if header.call_id as i32 != SASL_CALL_ID {
        return Err(IpcError::Malformed {
            what: "wrapped reply",
            detail: format!("unwrapped frame with call id {}", header.call_id as i32),
        });
    }
    let msg =
        RpcSaslProto::decode_length_delimited(&mut rest).map_err(|e| IpcError::Malformed {
            what: "RpcSaslProto",
            detail: e.to_string(),
        })?;
    if msg.state != rpc_sasl_proto::SaslState::Wrap as i32 {
        return Err(IpcError::Malformed {
            what: "wrapped reply",
            detail: format!("SASL state {} instead of WRAP", msg.state),
        });
    }
    let mut layer = layer.lock().map_err(|_| IpcError::Malformed {
        what: "security layer",
        detail: "poisoned".into(),
    })?;
    layer.unwrap(&msg.token.unwrap_or_default())
}

/// Completes the call a reply belongs to. An error string ends the connection.
fn dispatch(body: Bytes, shared: &Shared) -> std::result::Result<(), String> {
    let (header, rest) = decode_response(body).map_err(|e| e.to_string())?;
    let call_id = header.call_id as i32;
    let fatal = header.status == RpcStatusProto::Fatal as i32;
    let result = if header.status == RpcStatusProto::Success as i32 {
        Ok(rest)
    } else {
        Err(remote_error(&header))
    };
    let waiter = shared
        .pending
        .lock()
        .ok()
        .and_then(|mut p| p.remove(&call_id));
    if let Some(tx) = waiter {
        let _ = tx.send(result);
    }
    if fatal {
        return Err(format!(
            "fatal error from server: {}: {}",
            header.exception_class_name.unwrap_or_default(),
            header.error_msg.unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_has_kind_and_op_explicitly() {
        let h = request_header(-3, &[7u8; 16], -1);
        let bytes = h.encode_to_vec();
        // rpcKind=2, rpcOp=0, callId=zigzag(-3)=5.
        assert_eq!(&bytes[..6], &[0x08, 0x02, 0x10, 0x00, 0x18, 0x05]);
    }

    #[test]
    fn frames_carry_their_length() {
        let h = request_header(1, &[0u8; 16], 0);
        let f = frame(&[&h]);
        let len = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 4);
        let mut body = f.slice(4..);
        let back = RpcRequestHeaderProto::decode_length_delimited(&mut body).expect("decode");
        assert_eq!(back, h);
        assert!(body.is_empty());
    }

    #[test]
    fn negative_call_ids_survive_the_unsigned_response_header() {
        let h = RpcResponseHeaderProto {
            call_id: SASL_CALL_ID as u32,
            status: RpcStatusProto::Success as i32,
            ..Default::default()
        };
        let bytes = Bytes::from(h.encode_length_delimited_to_vec());
        let (back, rest) = decode_response(bytes).expect("decode");
        assert_eq!(back.call_id as i32, -33);
        assert!(rest.is_empty());
    }

    #[test]
    fn java_stack_traces_are_dropped_from_remote_messages() {
        let m = "Permission denied: user=u, access=READ\n\tat org.apache.X.check(X.java:1)\n\tat Y";
        assert_eq!(
            without_java_stack(m),
            "Permission denied: user=u, access=READ"
        );
        assert_eq!(without_java_stack("one line"), "one line");
    }

    /// A server that refuses the connection as Hadoop does when SIMPLE auth meets a
    /// TOKEN-only port: a fatal reply, then a close that resets the socket (it leaves
    /// the client's connection context unread). It answers only when told to, so the
    /// test can hold the client's runtime still meanwhile.
    fn refusing_server(listener: std::net::TcpListener, go: std::sync::mpsc::Receiver<()>) {
        use std::io::{Read, Write};
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        let mut preamble = [0u8; 7];
        if sock.read_exact(&mut preamble).is_err() || go.recv().is_err() {
            return;
        }
        let refusal = RpcResponseHeaderProto {
            call_id: CONNECTION_CONTEXT_CALL_ID as u32,
            status: RpcStatusProto::Fatal as i32,
            exception_class_name: Some("org.apache.hadoop.security.AccessControlException".into()),
            error_msg: Some("SIMPLE authentication is not enabled.  Available:[TOKEN]".into()),
            ..Default::default()
        };
        let _ = sock.write_all(&frame(&[&refusal]));
    }

    #[tokio::test]
    async fn a_refused_connection_reports_the_servers_reason_not_a_broken_pipe() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address").to_string();
        let (go, told) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || refusing_server(listener, told));
        let auth = Auth::Simple { user: "u".into() };
        let conn = Connection::connect(ConnectionConfig::new(addr, "P", auth))
            .await
            .expect("TCP and header accepted");
        // Let the writer send the connection context.
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Refuse and reset while this runtime is blocked, so that when it runs again
        // our call's write fails before the reader has looked at the socket.
        let _ = go.send(());
        let _ = server.join();
        std::thread::sleep(Duration::from_millis(100));
        let err = conn
            .call_raw("m", &RpcSaslProto::default())
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("TOKEN"), "{err}");
    }

    #[test]
    fn garbage_response_is_an_error_not_a_panic() {
        for junk in [&b""[..], &[0xff; 3], &[0x05, 0x08], &[0x80; 12]] {
            assert!(decode_response(Bytes::copy_from_slice(junk)).is_err());
        }
    }
}
