//! The crate's one error type. Codec and SASL failures are typed so a caller can tell a
//! peer that sent garbage from one that failed authentication; the connection layer adds
//! its own variants (I/O, remote exceptions, timeouts) to the same enum.

use thiserror::Error;

/// Result with [`IpcError`].
pub type Result<T, E = IpcError> = std::result::Result<T, E>;

/// Everything that can go wrong in Hadoop IPC, its SASL exchange and its token formats.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The input ended before `what` was complete.
    #[error("truncated input: {what} is incomplete")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },

    /// A length, count or size read from the input (or asked for) is over its limit.
    #[error("{what} of {value} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was being read.
        what: &'static str,
        /// The value found (negative lengths are reported as read).
        value: i64,
        /// The largest value accepted.
        limit: i64,
    },

    /// A frame or message to send or receive is larger than the negotiated maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Size of the frame.
        len: usize,
        /// Largest size allowed.
        max: usize,
    },

    /// Bytes that do not form a valid `what`.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it is invalid.
        detail: String,
    },

    /// A Hadoop credentials (`HDTS`) file or token that cannot be used.
    #[error("credentials: {0}")]
    Credentials(#[from] CredentialsError),

    /// SASL authentication or its security layer failed.
    #[error("SASL DIGEST-MD5: {0}")]
    Sasl(#[from] SaslError),

    /// A socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with whom.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The connection is gone (closed by the server, failed, or dropped).
    #[error("connection to {peer} closed: {reason}")]
    ConnectionClosed {
        /// The server.
        peer: String,
        /// Why.
        reason: String,
    },

    /// No answer in time.
    #[error("timed out {what}")]
    Timeout {
        /// What was waited for.
        what: String,
    },

    /// The server refused our authentication (wrong, expired or missing token).
    #[error("authentication to {peer} refused: {detail}")]
    AuthRejected {
        /// The server.
        peer: String,
        /// What it said.
        detail: String,
    },

    /// The server answered with a Java exception.
    #[error("{class}: {message}")]
    Remote {
        /// The exception's class, e.g. `org.apache.hadoop.security.token.SecretManager$InvalidToken`.
        class: String,
        /// Its message.
        message: String,
        /// Whether the server closed the connection after it.
        fatal: bool,
    },
}

impl IpcError {
    /// True when the server's exception is of this class (simple or fully qualified name).
    pub fn is_remote(&self, class: &str) -> bool {
        matches!(self, IpcError::Remote { class: c, .. } if c == class || c.rsplit(['.', '$']).next() == Some(class))
    }
}

/// Problems specific to Hadoop's credentials file format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The stream does not start with `HDTS`.
    #[error("bad magic {found:02x?}, expected \"HDTS\"")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A format version this crate does not read (Hadoop knows 0 and 1).
    #[error("unsupported token storage version {0}")]
    UnsupportedVersion(u8),
    /// An entry of the tokens list carries no token.
    #[error("token entry {alias:?} has no token")]
    MissingToken {
        /// Alias of the entry.
        alias: String,
    },
    /// An entry of the secrets list carries no secret.
    #[error("secret entry {alias:?} has no secret")]
    MissingSecret {
        /// Alias of the entry.
        alias: String,
    },
}

/// Why a DIGEST-MD5 exchange or its security layer failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The server's challenge (or final message) does not parse.
    #[error("malformed server message: {0}")]
    MalformedChallenge(String),
    /// A required directive is absent from the server's message.
    #[error("server message lacks the {0:?} directive")]
    MissingDirective(&'static str),
    /// A directive has a value this client does not accept.
    #[error("unsupported {directive} value {value:?}")]
    UnsupportedValue {
        /// The directive.
        directive: &'static str,
        /// Its value as received (lossy UTF-8).
        value: String,
    },
    /// No quality of protection is both offered by the server and allowed by the caller.
    #[error(
        "no common quality of protection: server offers {offered:?}, client allows {allowed:?}"
    )]
    NoCommonQop {
        /// Offered by the server.
        offered: Vec<String>,
        /// Allowed by the caller.
        allowed: Vec<String>,
    },
    /// `auth-conf` was chosen but no cipher is both offered and allowed.
    #[error("no common cipher for auth-conf: server offers {offered:?}")]
    NoCommonCipher {
        /// Ciphers named by the server.
        offered: String,
    },
    /// The server's `rspauth` does not prove knowledge of the password.
    #[error("server's rspauth does not match: the server does not know the token password")]
    RspauthMismatch,
    /// The exchange was driven out of order (e.g. wrap before completion).
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// A wrapped message is too short or not a whole number of cipher blocks.
    #[error("wrapped message of {len} bytes is malformed: {detail}")]
    BadWrappedLength {
        /// Length received.
        len: usize,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The padding of a decrypted message is invalid.
    #[error("bad padding in decrypted message")]
    BadPadding,
    /// The message authentication code does not verify.
    #[error("message integrity check (HMAC-MD5) failed")]
    BadMac,
    /// The message's sequence number is not the one expected.
    #[error("out of order message: sequence number {got}, expected {expected}")]
    BadSequence {
        /// The number expected.
        expected: u32,
        /// The number received.
        got: u32,
    },
    /// The message type field is not 1.
    #[error("invalid message type {0}")]
    BadMessageType(u16),
}
