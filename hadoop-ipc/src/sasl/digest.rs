//! SASL DIGEST-MD5 client (RFC 2831) as the JDK's `DigestMD5Client` speaks it to Hadoop
//! servers, and the security layer (integrity / confidentiality) negotiated with it.
//!
//! Owns: parsing the server's challenge, building the digest-response, checking the
//! server's `rspauth`, and wrapping/unwrapping once `auth-int` or `auth-conf` is agreed.
//! Does not own: how the messages travel (`RpcSaslProto` in the IPC connection), nor
//! where the token comes from.
//!
//! The flow is a type-state: [`DigestMd5Client::respond`] consumes the client and the
//! server's challenge and returns the response to send plus a [`DigestMd5Pending`];
//! [`DigestMd5Pending::finish`] takes the server's final message (with `rspauth`) and
//! returns the [`Negotiated`] outcome, holding a [`SecurityLayer`] when one was agreed.
//!
//! Interoperability choices follow the JDK (`com.sun.security.sasl.digest`): directive
//! order in the response, cipher preference `3des, rc4, des, rc4-56, rc4-40`, 3DES key
//! `K1 K2 K1` from the parity-expanded first 14 bytes of the sealing key, IV from its
//! last 8 bytes, CBC and RC4 state carried across messages, 16/26 bytes of overhead.

use std::fmt;

use base64::Engine as _;
use cipher::generic_array::GenericArray;
use cipher::{BlockDecrypt, BlockEncrypt, KeyInit, StreamCipher};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rand::RngCore;

use crate::credentials::Token;
use crate::error::{IpcError, Result, SaslError};

/// Longest challenge accepted from the server (the JDK's `MAX_CHALLENGE_LENGTH`).
pub const MAX_CHALLENGE_LEN: usize = 2048;
/// Longest response this client will build (the JDK's `MAX_RESPONSE_LENGTH`).
pub const MAX_RESPONSE_LEN: usize = 4096;
/// maxbuf assumed when the server sends none, and advertised by default.
pub const DEFAULT_MAXBUF: u32 = 65536;
/// Largest maxbuf RFC 2831 allows (2^24 - 1).
pub const MAX_MAXBUF: u32 = 16_777_215;
/// Bytes `auth-int` adds to a message: 10 MAC + 2 type + 4 sequence number.
pub const INTEGRITY_OVERHEAD: usize = 16;
/// Most bytes `auth-conf` adds: up to 8 padding + 10 MAC + 2 type + 4 sequence number.
pub const CONFIDENTIALITY_OVERHEAD: usize = 26;

const SECURITY_LAYER_MARKER: &str = ":00000000000000000000000000000000";
const CLIENT_INT_MAGIC: &str = "Digest session key to client-to-server signing key magic constant";
const SERVER_INT_MAGIC: &str = "Digest session key to server-to-client signing key magic constant";
const CLIENT_CONF_MAGIC: &str = "Digest H(A1) to client-to-server sealing key magic constant";
const SERVER_CONF_MAGIC: &str = "Digest H(A1) to server-to-client sealing key magic constant";
/// Bytes of random data in a cnonce (the JDK's `RAW_NONCE_SIZE`): 40 base64 characters.
const CNONCE_RAW_LEN: usize = 30;
const MESSAGE_TYPE: [u8; 2] = [0, 1];

type HmacMd5 = Hmac<Md5>;

/// Quality of protection, weakest first (so `max` picks the strongest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qop {
    /// Authentication only (`hadoop.rpc.protection=authentication`).
    Auth,
    /// Authentication plus integrity (`integrity`).
    AuthInt,
    /// Authentication, integrity and confidentiality (`privacy`).
    AuthConf,
}

impl Qop {
    /// All three, weakest first.
    pub const ALL: [Qop; 3] = [Qop::Auth, Qop::AuthInt, Qop::AuthConf];

    /// The RFC 2831 token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
            Qop::AuthConf => "auth-conf",
        }
    }

    /// Parses an RFC 2831 token, ignoring ASCII case as the JDK does.
    pub fn parse(token: &str) -> Option<Qop> {
        Qop::ALL
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(token))
    }

    /// Whether messages are wrapped after authentication.
    pub fn has_security_layer(self) -> bool {
        self != Qop::Auth
    }

    /// Bytes the security layer adds at most to a message.
    fn overhead(self) -> usize {
        match self {
            Qop::Auth => 0,
            Qop::AuthInt => INTEGRITY_OVERHEAD,
            Qop::AuthConf => CONFIDENTIALITY_OVERHEAD,
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ciphers of `auth-conf`, in the JDK client's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// Two-key triple DES (EDE, K1 K2 K1) in CBC mode.
    TripleDes,
    /// RC4 with a 128-bit key.
    Rc4,
    /// Single DES in CBC mode.
    Des,
    /// RC4 keyed from 7 bytes of H(A1).
    Rc4_56,
    /// RC4 keyed from 5 bytes of H(A1).
    Rc4_40,
}

impl Cipher {
    /// The JDK's `CIPHER_TOKENS` order. With the default strength list (high, medium,
    /// low) its client picks the first of these the server offers.
    pub const JDK_PREFERENCE: [Cipher; 5] = [
        Cipher::TripleDes,
        Cipher::Rc4,
        Cipher::Des,
        Cipher::Rc4_56,
        Cipher::Rc4_40,
    ];

    /// The RFC 2831 token.
    pub fn as_str(self) -> &'static str {
        match self {
            Cipher::TripleDes => "3des",
            Cipher::Rc4 => "rc4",
            Cipher::Des => "des",
            Cipher::Rc4_56 => "rc4-56",
            Cipher::Rc4_40 => "rc4-40",
        }
    }

    /// Parses an RFC 2831 token (exact match, as the JDK does).
    pub fn parse(token: &str) -> Option<Cipher> {
        Cipher::JDK_PREFERENCE
            .into_iter()
            .find(|c| c.as_str() == token)
    }

    /// How many bytes of H(A1) feed the sealing key (RFC 2831 section 2.4).
    fn key_material_len(self) -> usize {
        match self {
            Cipher::Rc4_40 => 5,
            Cipher::Rc4_56 => 7,
            Cipher::TripleDes | Cipher::Rc4 | Cipher::Des => 16,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed digest-challenge (RFC 2831 section 2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Realms offered, in order (Hadoop sends one: `default`).
    pub realms: Vec<String>,
    /// The server nonce, as sent.
    pub nonce: Vec<u8>,
    /// Qops offered, in the server's order (`[Auth]` when the directive is absent);
    /// unknown tokens are ignored.
    pub qops: Vec<Qop>,
    /// Recognised ciphers offered, in the server's order.
    pub ciphers: Vec<Cipher>,
    /// The `cipher` directive as sent (for error messages).
    pub cipher_directive: Option<String>,
    /// The server's receive buffer size (65536 when absent).
    pub maxbuf: u32,
    /// Whether the server sent `charset=utf-8`.
    pub utf8: bool,
}

impl Challenge {
    /// Parses a server challenge: bounded in size, never panics on bad input.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let d = Directives::parse(bytes, true)?;
        let utf8 = match d.get(Directive::Charset) {
            None => false,
            Some(b"utf-8") => true,
            Some(v) => return Err(unsupported("charset", v)),
        };
        match d.get(Directive::Algorithm) {
            None => return Err(SaslError::MissingDirective("algorithm").into()),
            Some(b"md5-sess") => {}
            Some(v) => return Err(unsupported("algorithm", v)),
        }
        let nonce = d
            .get(Directive::Nonce)
            .ok_or(SaslError::MissingDirective("nonce"))?
            .to_vec();
        let realms = d.realms.iter().map(|r| decode_text(r, utf8)).collect();
        let qops = match d.get(Directive::Qop) {
            None => vec![Qop::Auth],
            Some(v) => {
                let mut qops = Vec::new();
                for token in split_tokens(&decode_text(v, utf8)) {
                    if let Some(q) = Qop::parse(token).filter(|q| !qops.contains(q)) {
                        qops.push(q);
                    }
                }
                qops
            }
        };
        let cipher_directive = d.get(Directive::Cipher).map(|v| decode_text(v, utf8));
        let ciphers = cipher_directive
            .as_deref()
            .map(|c| split_tokens(c).filter_map(Cipher::parse).collect())
            .unwrap_or_default();
        let maxbuf = match d.get(Directive::Maxbuf) {
            None => DEFAULT_MAXBUF,
            Some(v) => parse_maxbuf(v)?,
        };
        Ok(Self {
            realms,
            nonce,
            qops,
            ciphers,
            cipher_directive,
            maxbuf,
            utf8,
        })
    }
}

fn parse_maxbuf(v: &[u8]) -> Result<u32> {
    let bad = || unsupported("maxbuf", v);
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = v.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_MAXBUF).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// Splits a list directive the way the JDK's `StringTokenizer(", \t\n")` does.
fn split_tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\t', '\n']).filter(|t| !t.is_empty())
}

fn unsupported(directive: &'static str, value: &[u8]) -> IpcError {
    SaslError::UnsupportedValue {
        directive,
        value: String::from_utf8_lossy(value).into_owned(),
    }
    .into()
}

fn malformed(detail: impl Into<String>) -> IpcError {
    SaslError::MalformedChallenge(detail.into()).into()
}

/// The directives this client knows (the JDK's `DIRECTIVE_KEY`); others are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Realm,
    Qop,
    Algorithm,
    Nonce,
    Maxbuf,
    Charset,
    Cipher,
    Rspauth,
    Stale,
}

impl Directive {
    const ALL: [Directive; 9] = [
        Directive::Realm,
        Directive::Qop,
        Directive::Algorithm,
        Directive::Nonce,
        Directive::Maxbuf,
        Directive::Charset,
        Directive::Cipher,
        Directive::Rspauth,
        Directive::Stale,
    ];

    fn name(self) -> &'static str {
        match self {
            Directive::Realm => "realm",
            Directive::Qop => "qop",
            Directive::Algorithm => "algorithm",
            Directive::Nonce => "nonce",
            Directive::Maxbuf => "maxbuf",
            Directive::Charset => "charset",
            Directive::Cipher => "cipher",
            Directive::Rspauth => "rspauth",
            Directive::Stale => "stale",
        }
    }

    fn lookup(key: &[u8]) -> Option<Directive> {
        Directive::ALL
            .into_iter()
            .find(|d| d.name().as_bytes().eq_ignore_ascii_case(key))
    }
}

/// Directive values of one server message, as raw bytes (quotes and escapes removed).
struct Directives {
    values: [Option<Vec<u8>>; 9],
    realms: Vec<Vec<u8>>,
}

impl Directives {
    fn get(&self, d: Directive) -> Option<&[u8]> {
        self.values[d as usize].as_deref()
    }

    /// RFC 2831 section 7 grammar, parsed like the JDK's `parseDirectives`:
    /// `key = token | quoted-string` separated by commas and linear white space.
    fn parse(buf: &[u8], multiple_realms: bool) -> Result<Self> {
        if buf.len() > MAX_CHALLENGE_LEN {
            return Err(IpcError::FrameTooLarge {
                len: buf.len(),
                max: MAX_CHALLENGE_LEN,
            });
        }
        let mut out = Directives {
            values: Default::default(),
            realms: Vec::new(),
        };
        let mut i = skip_lws(buf, 0);
        while i < buf.len() {
            // Empty list elements (",,") are allowed.
            if buf[i] == b',' {
                i = skip_lws(buf, i + 1);
                continue;
            }
            let key_start = i;
            while i < buf.len() && buf[i] != b'=' && buf[i] != b',' && !is_lws(buf[i]) {
                i += 1;
            }
            let key = &buf[key_start..i];
            i = skip_lws(buf, i);
            match buf.get(i) {
                Some(b'=') => {}
                Some(_) => {
                    return Err(malformed(format!(
                        "'=' expected after key {:?}",
                        String::from_utf8_lossy(key)
                    )));
                }
                None => {
                    return Err(malformed(format!(
                        "valueless directive {:?}",
                        String::from_utf8_lossy(key)
                    )));
                }
            }
            if key.is_empty() {
                return Err(malformed("empty directive key"));
            }
            i = skip_lws(buf, i + 1);
            let mut value = Vec::new();
            if buf.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match buf.get(i) {
                        None => {
                            return Err(malformed(format!(
                                "unmatched quote in directive {:?}",
                                String::from_utf8_lossy(key)
                            )));
                        }
                        Some(b'\\') => match buf.get(i + 1) {
                            Some(&c) => {
                                value.push(c);
                                i += 2;
                            }
                            None => {
                                return Err(malformed("trailing escape in quoted string"));
                            }
                        },
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                i = skip_lws(buf, i);
                match buf.get(i) {
                    None => {}
                    Some(b',') => i += 1,
                    Some(_) => {
                        return Err(malformed(
                            "expecting comma or white space after quoted string",
                        ));
                    }
                }
            } else {
                if i >= buf.len() {
                    return Err(malformed(format!(
                        "valueless directive {:?}",
                        String::from_utf8_lossy(key)
                    )));
                }
                while i < buf.len() && buf[i] != b',' && !is_lws(buf[i]) {
                    value.push(buf[i]);
                    i += 1;
                }
                i = skip_lws(buf, i);
                match buf.get(i) {
                    None => {}
                    Some(b',') => i += 1,
                    Some(_) => {
                        return Err(malformed("expecting comma between directives"));
                    }
                }
            }
            out.insert(key, value, multiple_realms)?;
            i = skip_lws(buf, i);
        }
        Ok(out)
    }

    fn insert(&mut self, key: &[u8], value: Vec<u8>, multiple_realms: bool) -> Result<()> {
        let Some(d) = Directive::lookup(key) else {
            return Ok(());
        };
        if d == Directive::Realm && multiple_realms {
            self.realms.push(value.clone());
            if self.values[d as usize].is_none() {
                self.values[d as usize] = Some(value);
            }
            return Ok(());
        }
        let slot = &mut self.values[d as usize];
        if slot.is_some() {
            return Err(malformed(format!("more than one {} directive", d.name())));
        }
        if d == Directive::Realm {
            self.realms.push(value.clone());
        }
        *slot = Some(value);
        Ok(())
    }
}

fn is_lws(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

fn skip_lws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_lws(buf[i]) {
        i += 1;
    }
    i
}

/// Bytes of a directive value as text: UTF-8 when the server said so, else ISO 8859-1.
fn decode_text(bytes: &[u8], utf8: bool) -> String {
    if utf8 {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// How a string is written into the response message (the JDK's `getBytes(encoding)`).
fn encode_text(s: &str, utf8: bool) -> Vec<u8> {
    if utf8 {
        s.as_bytes().to_vec()
    } else {
        latin1_lossy(s)
    }
}

/// How user name, realm and password enter the digest (the JDK's `stringToByte_8859_1`,
/// per RFC 2831: ISO 8859-1 when every character fits, else UTF-8 if the server allows).
fn digest_bytes(s: &str, utf8: bool) -> Vec<u8> {
    if utf8 && s.chars().any(|c| u32::from(c) > 0xff) {
        s.as_bytes().to_vec()
    } else {
        latin1_lossy(s)
    }
}

fn latin1_lossy(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Appends `value` escaping `"`, `\`, DEL and control characters but CR, HT and LF.
fn push_quoted(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        if b == b'"' || b == b'\\' || b == 127 || (b <= 31 && !matches!(b, 13 | 9 | 10)) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the client needs to authenticate, and what it accepts.
#[derive(Clone)]
pub struct DigestMd5Config {
    /// Authentication id (Hadoop TOKEN: base64 of the token identifier).
    pub username: String,
    /// Password (Hadoop TOKEN: base64 of the token password).
    pub password: String,
    /// Authorization id; Hadoop's TOKEN auth sends none.
    pub authzid: Option<String>,
    /// SASL protocol; the digest-uri is `protocol/server_id` (Hadoop TOKEN: empty).
    pub protocol: String,
    /// SASL server name (Hadoop TOKEN: `default`).
    pub server_id: String,
    /// Realm to use; `None` takes the server's first realm (Hadoop: `default`), or none.
    pub realm: Option<String>,
    /// Qops the caller accepts; the strongest one the server also offers is chosen.
    pub allowed_qops: Vec<Qop>,
    /// Ciphers the caller accepts for `auth-conf`, chosen in the JDK's preference order.
    pub allowed_ciphers: Vec<Cipher>,
    /// Receive buffer size advertised to the server (`maxbuf`).
    pub recv_maxbuf: u32,
}

impl fmt::Debug for DigestMd5Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestMd5Config")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("authzid", &self.authzid)
            .field("protocol", &self.protocol)
            .field("server_id", &self.server_id)
            .field("realm", &self.realm)
            .field("allowed_qops", &self.allowed_qops)
            .field("allowed_ciphers", &self.allowed_ciphers)
            .field("recv_maxbuf", &self.recv_maxbuf)
            .finish()
    }
}

impl DigestMd5Config {
    /// Plain credentials; every qop and cipher allowed, maxbuf 65536.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        protocol: impl Into<String>,
        server_id: impl Into<String>,
    ) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            authzid: None,
            protocol: protocol.into(),
            server_id: server_id.into(),
            realm: None,
            allowed_qops: Qop::ALL.to_vec(),
            allowed_ciphers: Cipher::JDK_PREFERENCE.to_vec(),
            recv_maxbuf: DEFAULT_MAXBUF,
        }
    }

    /// Hadoop TOKEN auth: user name and password are standard base64 (with padding) of
    /// the token's identifier and password; protocol `""` and server id `default` (the
    /// caller should copy the `protocol`/`serverId` of the server's `SaslAuth` over
    /// these when they differ).
    pub fn hadoop_token(identifier: &[u8], password: &[u8]) -> Self {
        let b64 = &base64::engine::general_purpose::STANDARD;
        Self::new(b64.encode(identifier), b64.encode(password), "", "default")
    }

    /// [`DigestMd5Config::hadoop_token`] for a [`Token`].
    pub fn from_token(token: &Token) -> Self {
        Self::hadoop_token(&token.identifier, &token.password)
    }

    /// `protocol/server_id`, e.g. `/default` for Hadoop.
    pub fn digest_uri(&self) -> String {
        format!("{}/{}", self.protocol, self.server_id)
    }
}

/// A DIGEST-MD5 client before the server's challenge.
#[derive(Debug, Clone)]
pub struct DigestMd5Client {
    config: DigestMd5Config,
    cnonce: Option<String>,
}

impl DigestMd5Client {
    /// A client for `config`; its cnonce will be 30 random bytes in base64.
    pub fn new(config: DigestMd5Config) -> Self {
        Self {
            config,
            cnonce: None,
        }
    }

    /// Uses `cnonce` instead of a random one: for deterministic tests only.
    pub fn with_cnonce(mut self, cnonce: impl Into<String>) -> Self {
        self.cnonce = Some(cnonce.into());
        self
    }

    /// Answers the server's digest-challenge: returns the digest-response to send, and
    /// the state that checks the server's reply.
    pub fn respond(self, challenge: &[u8]) -> Result<(Vec<u8>, DigestMd5Pending)> {
        let ch = Challenge::parse(challenge)?;
        let cfg = self.config;

        let qop = ch
            .qops
            .iter()
            .copied()
            .filter(|q| cfg.allowed_qops.contains(q))
            .max()
            .ok_or_else(|| SaslError::NoCommonQop {
                offered: ch.qops.iter().map(|q| q.as_str().to_owned()).collect(),
                allowed: cfg
                    .allowed_qops
                    .iter()
                    .map(|q| q.as_str().to_owned())
                    .collect(),
            })?;
        let cipher = if qop == Qop::AuthConf {
            let c = Cipher::JDK_PREFERENCE
                .into_iter()
                .find(|c| ch.ciphers.contains(c) && cfg.allowed_ciphers.contains(c));
            match (c, &ch.cipher_directive) {
                (Some(c), _) => Some(c),
                (None, None) => return Err(SaslError::MissingDirective("cipher").into()),
                (None, Some(offered)) => {
                    return Err(SaslError::NoCommonCipher {
                        offered: offered.clone(),
                    }
                    .into());
                }
            }
        } else {
            None
        };
        if qop.has_security_layer() && ch.maxbuf as usize <= qop.overhead() {
            return Err(unsupported("maxbuf", ch.maxbuf.to_string().as_bytes()));
        }

        let realm = cfg
            .realm
            .clone()
            .or_else(|| ch.realms.first().cloned())
            .unwrap_or_default();
        let cnonce = self.cnonce.unwrap_or_else(random_cnonce);
        let session = Session {
            utf8: ch.utf8,
            username: cfg.username,
            password: cfg.password,
            authzid: cfg.authzid,
            realm,
            digest_uri: format!("{}/{}", cfg.protocol, cfg.server_id),
            nonce: ch.nonce,
            cnonce: cnonce.into_bytes(),
            qop,
        };
        let (response_value, h_a1) = session.response_value("AUTHENTICATE");

        let utf8 = session.utf8;
        let mut msg = Vec::with_capacity(256);
        if utf8 {
            msg.extend_from_slice(b"charset=utf-8,");
        }
        msg.extend_from_slice(b"username=\"");
        push_quoted(&mut msg, &encode_text(&session.username, utf8));
        msg.extend_from_slice(b"\",");
        if !session.realm.is_empty() {
            msg.extend_from_slice(b"realm=\"");
            push_quoted(&mut msg, &encode_text(&session.realm, utf8));
            msg.extend_from_slice(b"\",");
        }
        msg.extend_from_slice(b"nonce=\"");
        push_quoted(&mut msg, &session.nonce);
        msg.extend_from_slice(b"\",nc=00000001,cnonce=\"");
        push_quoted(&mut msg, &session.cnonce);
        msg.extend_from_slice(b"\",digest-uri=\"");
        push_quoted(&mut msg, &encode_text(&session.digest_uri, utf8));
        msg.extend_from_slice(b"\",");
        msg.extend_from_slice(format!("maxbuf={},", cfg.recv_maxbuf).as_bytes());
        msg.extend_from_slice(format!("response={response_value},qop={qop}").as_bytes());
        if let Some(c) = cipher {
            msg.extend_from_slice(format!(",cipher=\"{c}\"").as_bytes());
        }
        if let Some(authzid) = &session.authzid {
            msg.extend_from_slice(b",authzid=\"");
            push_quoted(&mut msg, authzid.as_bytes());
            msg.push(b'"');
        }
        if msg.len() > MAX_RESPONSE_LEN {
            return Err(IpcError::FrameTooLarge {
                len: msg.len(),
                max: MAX_RESPONSE_LEN,
            });
        }
        let (expected_rspauth, _) = session.response_value("");
        Ok((
            msg,
            DigestMd5Pending {
                qop,
                cipher,
                h_a1,
                expected_rspauth,
                send_maxbuf: ch.maxbuf,
                recv_maxbuf: cfg.recv_maxbuf,
            },
        ))
    }
}

fn random_cnonce() -> String {
    let mut raw = [0u8; CNONCE_RAW_LEN];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Everything that enters the response-value.
struct Session {
    utf8: bool,
    username: String,
    password: String,
    authzid: Option<String>,
    realm: String,
    digest_uri: String,
    nonce: Vec<u8>,
    cnonce: Vec<u8>,
    qop: Qop,
}

impl Session {
    /// RFC 2831 section 2.1.2.1 response-value for `auth_method` ("AUTHENTICATE" for
    /// the client's response, "" for the server's rspauth), and H(A1).
    fn response_value(&self, auth_method: &str) -> (String, [u8; 16]) {
        let mut a2 = encode_text(&format!("{auth_method}:{}", self.digest_uri), self.utf8);
        if self.qop.has_security_layer() {
            a2.extend_from_slice(SECURITY_LAYER_MARKER.as_bytes());
        }
        let hex_a2 = hex(&md5(&[&a2]));
        let user_realm_pass = md5(&[
            &digest_bytes(&self.username, self.utf8),
            b":",
            &digest_bytes(&self.realm, self.utf8),
            b":",
            &digest_bytes(&self.password, self.utf8),
        ]);
        let mut a1: Vec<&[u8]> = vec![&user_realm_pass, b":", &self.nonce, b":", &self.cnonce];
        if let Some(authzid) = &self.authzid {
            a1.push(b":");
            a1.push(authzid.as_bytes());
        }
        let h_a1 = md5(&a1);
        let kd = md5(&[
            hex(&h_a1).as_bytes(),
            b":",
            &self.nonce,
            b":00000001:",
            &self.cnonce,
            b":",
            self.qop.as_str().as_bytes(),
            b":",
            hex_a2.as_bytes(),
        ]);
        (hex(&kd), h_a1)
    }
}

/// A client that has sent its response and waits for the server's `rspauth`.
pub struct DigestMd5Pending {
    qop: Qop,
    cipher: Option<Cipher>,
    h_a1: [u8; 16],
    expected_rspauth: String,
    send_maxbuf: u32,
    recv_maxbuf: u32,
}

impl fmt::Debug for DigestMd5Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestMd5Pending")
            .field("qop", &self.qop)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl DigestMd5Pending {
    /// The qop sent in the response.
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// The cipher sent in the response (`auth-conf` only).
    pub fn cipher(&self) -> Option<Cipher> {
        self.cipher
    }

    /// Checks the server's final message (`rspauth=...`, Hadoop sends it with SUCCESS)
    /// and sets up the security layer if one was negotiated.
    pub fn finish(self, server_final: &[u8]) -> Result<Negotiated> {
        let d = Directives::parse(server_final, false)?;
        let rspauth = d
            .get(Directive::Rspauth)
            .ok_or(SaslError::MissingDirective("rspauth"))?;
        if rspauth != self.expected_rspauth.as_bytes() {
            return Err(SaslError::RspauthMismatch.into());
        }
        let security_layer = self.qop.has_security_layer().then(|| {
            SecurityLayer::new(
                &self.h_a1,
                self.qop,
                self.cipher,
                self.send_maxbuf,
                self.recv_maxbuf,
            )
        });
        Ok(Negotiated {
            qop: self.qop,
            cipher: self.cipher,
            security_layer,
        })
    }
}

/// The outcome of a successful exchange.
#[derive(Debug)]
pub struct Negotiated {
    /// The agreed qop.
    pub qop: Qop,
    /// The agreed cipher (`auth-conf` only).
    pub cipher: Option<Cipher>,
    /// The layer that wraps everything after SASL (`auth-int`, `auth-conf`).
    pub security_layer: Option<SecurityLayer>,
}

/// RFC 2831 integrity (`auth-int`) or confidentiality (`auth-conf`) after a successful
/// exchange. Each direction has its own keys, sequence number and cipher state.
pub struct SecurityLayer {
    qop: Qop,
    cipher: Option<Cipher>,
    send: Half,
    recv: Half,
    raw_send_size: usize,
    recv_maxbuf: usize,
}

impl fmt::Debug for SecurityLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityLayer")
            .field("qop", &self.qop)
            .field("cipher", &self.cipher)
            .field("send_seq", &self.send.seq)
            .field("recv_seq", &self.recv.seq)
            .field("raw_send_size", &self.raw_send_size)
            .finish_non_exhaustive()
    }
}

/// One direction: integrity key, next sequence number, and the cipher (if sealing).
struct Half {
    mac_key: [u8; 16],
    seq: u32,
    cipher: Option<CipherState>,
}

impl Half {
    fn mac(&self, seq: [u8; 4], msg: &[u8]) -> HmacMd5 {
        // An HMAC takes keys of any length: new_from_slice cannot fail.
        let mut m = <HmacMd5 as Mac>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(&seq);
        m.update(msg);
        m
    }
}

/// CBC state of one direction: the cipher and the last ciphertext block.
struct Cbc<C> {
    cipher: C,
    chain: [u8; 8],
}

/// Cipher state of one direction: RC4's keystream position, or the CBC chain.
enum CipherState {
    Rc4(Box<rc4::Rc4<cipher::consts::U16>>),
    Des(Box<Cbc<des::Des>>),
    TripleDes(Box<Cbc<des::TdesEde3>>),
}

impl CipherState {
    fn block_size(&self) -> usize {
        match self {
            CipherState::Rc4(_) => 1,
            CipherState::Des(_) | CipherState::TripleDes(_) => 8,
        }
    }

    fn new(cipher: Cipher, kc: &[u8; 16]) -> Self {
        match cipher {
            Cipher::TripleDes => CipherState::TripleDes(Box::new(new_triple_des(kc))),
            Cipher::Des => CipherState::Des(Box::new(new_des(kc))),
            Cipher::Rc4 | Cipher::Rc4_56 | Cipher::Rc4_40 => CipherState::Rc4(new_rc4(kc)),
        }
    }

    fn encrypt(&mut self, data: &mut [u8]) {
        match self {
            CipherState::Rc4(rc4) => rc4.apply_keystream(data),
            CipherState::Des(cbc) => cbc_encrypt(cbc, data),
            CipherState::TripleDes(cbc) => cbc_encrypt(cbc, data),
        }
    }

    fn decrypt(&mut self, data: &mut [u8]) {
        match self {
            CipherState::Rc4(rc4) => rc4.apply_keystream(data),
            CipherState::Des(cbc) => cbc_decrypt(cbc, data),
            CipherState::TripleDes(cbc) => cbc_decrypt(cbc, data),
        }
    }
}

fn cbc_encrypt<C: BlockEncrypt<BlockSize = cipher::consts::U8>>(cbc: &mut Cbc<C>, data: &mut [u8]) {
    for block in data.chunks_exact_mut(8) {
        for (b, c) in block.iter_mut().zip(cbc.chain) {
            *b ^= c;
        }
        cbc.cipher
            .encrypt_block(GenericArray::from_mut_slice(block));
        cbc.chain.copy_from_slice(block);
    }
}

fn cbc_decrypt<C: BlockDecrypt<BlockSize = cipher::consts::U8>>(cbc: &mut Cbc<C>, data: &mut [u8]) {
    for block in data.chunks_exact_mut(8) {
        let mut next_chain = [0u8; 8];
        next_chain.copy_from_slice(block);
        cbc.cipher
            .decrypt_block(GenericArray::from_mut_slice(block));
        for (b, c) in block.iter_mut().zip(cbc.chain) {
            *b ^= c;
        }
        cbc.chain = next_chain;
    }
}

/// Expands 7 key bytes into an 8-byte DES key: 56 bits in groups of 7, each shifted
/// left with an odd-parity low bit (the JDK's `addDesParity` + `setParityBit`).
fn des_key_with_parity(seven: &[u8]) -> [u8; 8] {
    let bits = seven
        .iter()
        .take(7)
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut key = [0u8; 8];
    for (i, k) in key.iter_mut().enumerate() {
        let group = ((bits >> (7 * (7 - i))) & 0x7f) as u8;
        let b = group << 1;
        *k = b | u8::from(b.count_ones() & 1 == 0);
    }
    key
}

/// The 24-byte 3DES key `K1 K2 K1` (the JDK's `makeDesKeys(.., "desede")`).
fn triple_des_key(kc: &[u8; 16]) -> [u8; 24] {
    let k1 = des_key_with_parity(&kc[0..7]);
    let k2 = des_key_with_parity(&kc[7..14]);
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&k1);
    key[8..16].copy_from_slice(&k2);
    key[16..].copy_from_slice(&k1);
    key
}

fn cbc_iv(kc: &[u8; 16]) -> [u8; 8] {
    let mut iv = [0u8; 8];
    iv.copy_from_slice(&kc[8..16]);
    iv
}

fn new_des(kc: &[u8; 16]) -> Cbc<des::Des> {
    let key = des_key_with_parity(&kc[0..7]);
    Cbc {
        cipher: des::Des::new(GenericArray::from_slice(&key)),
        chain: cbc_iv(kc),
    }
}

fn new_triple_des(kc: &[u8; 16]) -> Cbc<des::TdesEde3> {
    let key = triple_des_key(kc);
    Cbc {
        cipher: des::TdesEde3::new(GenericArray::from_slice(&key)),
        chain: cbc_iv(kc),
    }
}

fn new_rc4(kc: &[u8; 16]) -> Box<rc4::Rc4<cipher::consts::U16>> {
    Box::new(rc4::Rc4::new(GenericArray::from_slice(kc)))
}

impl SecurityLayer {
    /// The client's layer: it seals with the client-to-server keys and opens with the
    /// server-to-client ones.
    fn new(
        h_a1: &[u8; 16],
        qop: Qop,
        cipher: Option<Cipher>,
        send_maxbuf: u32,
        recv_maxbuf: u32,
    ) -> Self {
        let my_ki = md5(&[h_a1, CLIENT_INT_MAGIC.as_bytes()]);
        let peer_ki = md5(&[h_a1, SERVER_INT_MAGIC.as_bytes()]);
        let cipher = if qop == Qop::AuthConf { cipher } else { None };
        let (seal, open) = match cipher {
            None => (None, None),
            Some(c) => {
                let n = c.key_material_len();
                let mine = md5(&[&h_a1[..n], CLIENT_CONF_MAGIC.as_bytes()]);
                let peer = md5(&[&h_a1[..n], SERVER_CONF_MAGIC.as_bytes()]);
                (
                    Some(CipherState::new(c, &mine)),
                    Some(CipherState::new(c, &peer)),
                )
            }
        };
        Self {
            qop,
            cipher,
            send: Half {
                mac_key: my_ki,
                seq: 0,
                cipher: seal,
            },
            recv: Half {
                mac_key: peer_ki,
                seq: 0,
                cipher: open,
            },
            raw_send_size: (send_maxbuf as usize).saturating_sub(qop.overhead()),
            recv_maxbuf: recv_maxbuf as usize,
        }
    }

    /// The qop in force (`AuthInt` or `AuthConf`).
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// The cipher in force (`auth-conf` only).
    pub fn cipher(&self) -> Option<Cipher> {
        self.cipher
    }

    /// Most plaintext bytes one [`wrap`](Self::wrap) takes: the server's maxbuf minus
    /// this layer's overhead (the JDK's `RAW_SEND_SIZE`).
    pub fn raw_send_size(&self) -> usize {
        self.raw_send_size
    }

    /// The receive buffer size this client advertised. Hadoop servers wrap whole RPC
    /// responses regardless of it, so the connection should bound incoming frames by
    /// its own limit rather than this.
    pub fn recv_maxbuf(&self) -> usize {
        self.recv_maxbuf
    }

    /// Protects one message of at most [`raw_send_size`](Self::raw_send_size) bytes.
    /// An empty message yields an empty token and consumes no sequence number, as in
    /// the JDK.
    pub fn wrap(&mut self, msg: &[u8]) -> Result<Vec<u8>> {
        if msg.len() > self.raw_send_size {
            return Err(IpcError::FrameTooLarge {
                len: msg.len(),
                max: self.raw_send_size,
            });
        }
        if msg.is_empty() {
            return Ok(Vec::new());
        }
        let seq = self.send.seq.to_be_bytes();
        self.send.seq = self.send.seq.wrapping_add(1);
        let mac = self.send.mac(seq, msg).finalize().into_bytes();
        let mut out = match &mut self.send.cipher {
            None => {
                let mut out = Vec::with_capacity(msg.len() + INTEGRITY_OVERHEAD);
                out.extend_from_slice(msg);
                out.extend_from_slice(&mac[..10]);
                out
            }
            Some(sealer) => {
                let block = sealer.block_size();
                let pad = if block > 1 {
                    block - (msg.len() + 10) % block
                } else {
                    0
                };
                let mut out = Vec::with_capacity(msg.len() + pad + 16);
                out.extend_from_slice(msg);
                out.resize(msg.len() + pad, pad as u8);
                out.extend_from_slice(&mac[..10]);
                sealer.encrypt(&mut out);
                out
            }
        };
        out.extend_from_slice(&MESSAGE_TYPE);
        out.extend_from_slice(&seq);
        Ok(out)
    }

    /// Splits `data` into chunks of at most [`raw_send_size`](Self::raw_send_size) and
    /// wraps each (one SASL WRAP token per chunk).
    pub fn wrap_chunked(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        let size = self.raw_send_size.max(1);
        data.chunks(size)
            .map(|chunk| {
                self.wrap(chunk)
                    .unwrap_or_else(|_| unreachable!("chunks fit raw_send_size"))
            })
            .collect()
    }

    /// Checks and (for `auth-conf`) decrypts one token from the server. Fails on a bad
    /// MAC, an unexpected sequence number or message type, or bad padding; the expected
    /// sequence number only advances on success.
    pub fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>> {
        if token.is_empty() {
            return Ok(Vec::new());
        }
        let bad_len = |detail| SaslError::BadWrappedLength {
            len: token.len(),
            detail,
        };
        if token.len() < 6 {
            return Err(bad_len("shorter than type and sequence number").into());
        }
        let (body, trailer) = token.split_at(token.len() - 6);
        let msg_type = u16::from_be_bytes([trailer[0], trailer[1]]);
        let seq = [trailer[2], trailer[3], trailer[4], trailer[5]];

        let (msg, mac) = match &mut self.recv.cipher {
            None => {
                if body.len() < 10 {
                    return Err(bad_len("shorter than the MAC").into());
                }
                let (msg, mac) = body.split_at(body.len() - 10);
                (msg.to_vec(), mac.to_vec())
            }
            Some(opener) => {
                let block = opener.block_size();
                // At least the MAC, plus one byte of padding rounded up to whole blocks.
                if body.len() < (10 + usize::from(block > 1)).next_multiple_of(block) {
                    return Err(bad_len("shorter than padding and MAC").into());
                }
                if body.len() % block != 0 {
                    return Err(bad_len("not a whole number of cipher blocks").into());
                }
                let mut plain = body.to_vec();
                opener.decrypt(&mut plain);
                let mac = plain.split_off(plain.len() - 10);
                if block > 1 {
                    let pad = usize::from(*plain.last().unwrap_or(&0));
                    if pad == 0 || pad > block || pad > plain.len() {
                        return Err(SaslError::BadPadding.into());
                    }
                    plain.truncate(plain.len() - pad);
                }
                (plain, mac)
            }
        };
        self.recv
            .mac(seq, &msg)
            .verify_truncated_left(&mac)
            .map_err(|_| SaslError::BadMac)?;
        let got = u32::from_be_bytes(seq);
        if got != self.recv.seq {
            return Err(SaslError::BadSequence {
                expected: self.recv.seq,
                got,
            }
            .into());
        }
        if msg_type != 1 {
            return Err(SaslError::BadMessageType(msg_type).into());
        }
        self.recv.seq = self.recv.seq.wrapping_add(1);
        Ok(msg)
    }
}

#[cfg(test)]
mod jdk_vectors;
#[cfg(test)]
mod tests;
