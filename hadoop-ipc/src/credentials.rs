//! Hadoop security tokens and the credentials (`HDTS`) file that carries them, as
//! `org.apache.hadoop.security.token.Token` and `org.apache.hadoop.security.Credentials`
//! read and write them. Owns the byte formats (Writable version 0, protobuf version 1,
//! and the URL-safe string form); not where the bytes come from or go to.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use prost::Message as _;
use spindle_proto::hadoop::common::{CredentialsKvProto, CredentialsProto, TokenProto};

use crate::error::{CredentialsError, IpcError, Result};
use crate::writable::{Reader, write_text, write_vint_bytes, write_vint_len};

/// Largest token identifier or password accepted when decoding (1 MiB).
pub const MAX_TOKEN_BYTES: usize = 1 << 20;
/// Largest secret accepted when decoding (1 MiB).
pub const MAX_SECRET_BYTES: usize = 1 << 20;
/// Largest alias, kind or service accepted when decoding (64 KiB).
pub const MAX_TEXT_BYTES: usize = 1 << 16;
/// Most tokens, and separately most secrets, accepted in one credentials file.
pub const MAX_ENTRIES: usize = 10_000;
/// Largest protobuf body of a version 1 credentials file (64 MiB).
pub const MAX_PROTO_BYTES: usize = 64 << 20;
/// Longest URL string accepted by [`Token::decode_url_string`].
pub const MAX_URL_STRING_LEN: usize = 4 * (2 * MAX_TOKEN_BYTES + 2 * MAX_TEXT_BYTES) / 3 + 64;

/// Magic bytes at the start of a credentials file.
pub const TOKEN_STORAGE_MAGIC: &[u8; 4] = b"HDTS";

/// Token kind of the AM → RM scheduler token.
pub const KIND_AM_RM_TOKEN: &str = "YARN_AM_RM_TOKEN";
/// Token kind of the AM → NodeManager token.
pub const KIND_NM_TOKEN: &str = "NMToken";
/// Token kind of an HDFS delegation token.
pub const KIND_HDFS_DELEGATION_TOKEN: &str = "HDFS_DELEGATION_TOKEN";
/// Token kind of a container token.
pub const KIND_CONTAINER_TOKEN: &str = "ContainerToken";

/// URL-safe alphabet, no padding on output, padding optional on input, as lenient about
/// trailing bits as commons-codec's `Base64` that Hadoop uses.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A Hadoop security token: an opaque identifier, the password (a MAC the issuer can
/// recompute), the kind that names the identifier's format, and the service it is for.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// Serialized token identifier (the issuer's format; e.g. a protobuf for YARN tokens).
    pub identifier: Vec<u8>,
    /// Token password (secret).
    pub password: Vec<u8>,
    /// Token kind, e.g. `YARN_AM_RM_TOKEN`.
    pub kind: String,
    /// Service the token is for, usually `host:port`.
    pub service: String,
}

impl fmt::Debug for Token {
    // The password is a credential: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("kind", &self.kind)
            .field("service", &self.service)
            .field("identifier", &HexBytes(&self.identifier))
            .field("password", &format_args!("<{} bytes>", self.password.len()))
            .finish()
    }
}

struct HexBytes<'a>(&'a [u8]);

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Token {
    /// Builds a token from its four parts.
    pub fn new(
        identifier: impl Into<Vec<u8>>,
        password: impl Into<Vec<u8>>,
        kind: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Self {
            identifier: identifier.into(),
            password: password.into(),
            kind: kind.into(),
            service: service.into(),
        }
    }

    /// The token's Writable form (`Token.write`): VInt-prefixed identifier and password,
    /// then kind and service as `Text`.
    pub fn to_writable_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.identifier.len() + self.password.len() + self.kind.len() + self.service.len() + 16,
        );
        self.write_writable(&mut out);
        out
    }

    /// Appends the Writable form to `out`.
    pub fn write_writable(&self, out: &mut Vec<u8>) {
        write_vint_bytes(out, &self.identifier);
        write_vint_bytes(out, &self.password);
        write_text(out, &self.kind);
        write_text(out, &self.service);
    }

    /// Parses a token's Writable form; the bytes must hold exactly one token.
    pub fn from_writable_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let token = Self::read_writable(&mut r)?;
        expect_end(&r, "token")?;
        Ok(token)
    }

    /// Reads one token in Writable form (`Token.readFields`) from `r`.
    pub fn read_writable(r: &mut Reader<'_>) -> Result<Self> {
        let identifier = r
            .read_vint_bytes("token identifier", MAX_TOKEN_BYTES)?
            .to_vec();
        let password = r
            .read_vint_bytes("token password", MAX_TOKEN_BYTES)?
            .to_vec();
        let kind = r.read_text("token kind", MAX_TEXT_BYTES)?;
        let service = r.read_text("token service", MAX_TEXT_BYTES)?;
        Ok(Self {
            identifier,
            password,
            kind,
            service,
        })
    }

    /// `Token.encodeToUrlString`: URL-safe base64, without padding, of the Writable form.
    /// This is what the YARN REST submission's `credentials.tokens` map takes.
    pub fn encode_url_string(&self) -> String {
        URL_SAFE_LENIENT.encode(self.to_writable_bytes())
    }

    /// `Token.decodeFromUrlString`: accepts URL-safe base64 with or without padding (and,
    /// like commons-codec, the standard alphabet's `+` and `/`).
    pub fn decode_url_string(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() > MAX_URL_STRING_LEN {
            return Err(IpcError::LimitExceeded {
                what: "token URL string length",
                value: i64::try_from(s.len()).unwrap_or(i64::MAX),
                limit: MAX_URL_STRING_LEN as i64,
            });
        }
        let normalized: String = s
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        let bytes = URL_SAFE_LENIENT
            .decode(normalized.as_bytes())
            .map_err(|e| IpcError::Malformed {
                what: "token URL string",
                detail: e.to_string(),
            })?;
        Self::from_writable_bytes(&bytes)
    }

    fn to_proto(&self) -> TokenProto {
        TokenProto {
            identifier: self.identifier.clone(),
            password: self.password.clone(),
            kind: self.kind.clone(),
            service: self.service.clone(),
        }
    }

    fn from_proto(p: TokenProto) -> Result<Self> {
        check_len("token identifier", p.identifier.len(), MAX_TOKEN_BYTES)?;
        check_len("token password", p.password.len(), MAX_TOKEN_BYTES)?;
        check_len("token kind", p.kind.len(), MAX_TEXT_BYTES)?;
        check_len("token service", p.service.len(), MAX_TEXT_BYTES)?;
        Ok(Self {
            identifier: p.identifier,
            password: p.password,
            kind: p.kind,
            service: p.service,
        })
    }
}

/// Which body format a credentials file uses (the byte after `HDTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CredentialsFormat {
    /// Version 0: Writable. Hadoop's default, and what the NodeManager writes.
    #[default]
    Writable,
    /// Version 1: one length-delimited `CredentialsProto`.
    Protobuf,
}

impl CredentialsFormat {
    /// The version byte written after the magic.
    pub fn version_byte(self) -> u8 {
        match self {
            Self::Writable => 0,
            Self::Protobuf => 1,
        }
    }
}

/// Tokens and secret keys under aliases, in order (`org.apache.hadoop.security.Credentials`).
///
/// Aliases are unique within each list: adding under an existing alias replaces that
/// entry in place, as Java's map does.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// Tokens by alias.
    pub tokens: Vec<(String, Token)>,
    /// Secret keys by alias.
    pub secrets: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("tokens", &self.tokens)
            .field(
                "secrets",
                &self
                    .secrets
                    .iter()
                    .map(|(alias, s)| (alias, format!("<{} bytes>", s.len())))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    /// No tokens, no secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token stored under `alias`.
    pub fn token(&self, alias: &str) -> Option<&Token> {
        self.tokens.iter().find(|(a, _)| a == alias).map(|(_, t)| t)
    }

    /// All tokens of `kind` with their aliases, in file order.
    pub fn tokens_of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Token)> + 'a {
        self.tokens
            .iter()
            .filter(move |(_, t)| t.kind == kind)
            .map(|(a, t)| (a.as_str(), t))
    }

    /// The first token of `kind`, e.g. [`KIND_AM_RM_TOKEN`].
    pub fn first_token_of_kind(&self, kind: &str) -> Option<&Token> {
        self.tokens
            .iter()
            .find(|(_, t)| t.kind == kind)
            .map(|(_, t)| t)
    }

    /// The secret key stored under `alias`.
    pub fn secret(&self, alias: &str) -> Option<&[u8]> {
        self.secrets
            .iter()
            .find(|(a, _)| a == alias)
            .map(|(_, s)| s.as_slice())
    }

    /// Stores `token` under `alias`, replacing (in place) a token already there.
    pub fn add_token(&mut self, alias: impl Into<String>, token: Token) {
        let alias = alias.into();
        match self.tokens.iter_mut().find(|(a, _)| *a == alias) {
            Some(slot) => slot.1 = token,
            None => self.tokens.push((alias, token)),
        }
    }

    /// Stores `secret` under `alias`, replacing (in place) a secret already there.
    pub fn add_secret(&mut self, alias: impl Into<String>, secret: impl Into<Vec<u8>>) {
        let alias = alias.into();
        let secret = secret.into();
        match self.secrets.iter_mut().find(|(a, _)| *a == alias) {
            Some(slot) => slot.1 = secret,
            None => self.secrets.push((alias, secret)),
        }
    }

    /// Removes and returns the token under `alias`.
    pub fn remove_token(&mut self, alias: &str) -> Option<Token> {
        let idx = self.tokens.iter().position(|(a, _)| a == alias)?;
        Some(self.tokens.remove(idx).1)
    }

    /// Parses a whole credentials stream (`Credentials.readTokenStorageStream`): `HDTS`,
    /// the version byte, then the body. Like Java, bytes after the body are ignored.
    pub fn read_token_storage(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let magic = r
            .read_bytes(TOKEN_STORAGE_MAGIC.len(), "credentials magic")
            .map_err(|_| CredentialsError::BadMagic {
                found: bytes.iter().take(4).copied().collect(),
            })?;
        if magic != TOKEN_STORAGE_MAGIC {
            return Err(CredentialsError::BadMagic {
                found: magic.to_vec(),
            }
            .into());
        }
        match r.read_u8("credentials version")? {
            0 => Self::read_writable(&mut r),
            1 => Self::read_proto(r.remaining()),
            v => Err(CredentialsError::UnsupportedVersion(v).into()),
        }
    }

    /// The whole credentials stream in Hadoop's default format (version 0, Writable),
    /// as `Credentials.writeTokenStorageToStream` writes it.
    pub fn write_token_storage(&self) -> Vec<u8> {
        self.write_token_storage_as(CredentialsFormat::Writable)
    }

    /// The whole credentials stream in the given format.
    pub fn write_token_storage_as(&self, format: CredentialsFormat) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(TOKEN_STORAGE_MAGIC);
        out.push(format.version_byte());
        match format {
            CredentialsFormat::Writable => self.write_writable(&mut out),
            CredentialsFormat::Protobuf => {
                let proto = self.to_proto();
                out.reserve(proto.encoded_len() + 10);
                proto
                    .encode_length_delimited(&mut out)
                    .expect("a Vec grows as needed");
            }
        }
        out
    }

    /// Appends the Writable body (`Credentials.write`): VInt token count, each alias
    /// (`Text`) and token; VInt secret count, each alias and VInt-prefixed bytes.
    pub fn write_writable(&self, out: &mut Vec<u8>) {
        write_vint_len(out, self.tokens.len());
        for (alias, token) in &self.tokens {
            write_text(out, alias);
            token.write_writable(out);
        }
        write_vint_len(out, self.secrets.len());
        for (alias, secret) in &self.secrets {
            write_text(out, alias);
            write_vint_bytes(out, secret);
        }
    }

    /// Reads a Writable body (`Credentials.readFields`).
    pub fn read_writable(r: &mut Reader<'_>) -> Result<Self> {
        let mut creds = Self::new();
        let count = r.read_len("credentials token count", MAX_ENTRIES)?;
        for _ in 0..count {
            let alias = r.read_text("token alias", MAX_TEXT_BYTES)?;
            let token = Token::read_writable(r)?;
            creds.add_token(alias, token);
        }
        let count = r.read_len("credentials secret count", MAX_ENTRIES)?;
        for _ in 0..count {
            let alias = r.read_text("secret alias", MAX_TEXT_BYTES)?;
            let secret = r.read_vint_bytes("secret", MAX_SECRET_BYTES)?;
            creds.add_secret(alias, secret);
        }
        Ok(creds)
    }

    /// Reads a version 1 body: a varint length, then a `CredentialsProto`.
    fn read_proto(body: &[u8]) -> Result<Self> {
        let mut cursor = body;
        let len = prost::decode_length_delimiter(&mut cursor).map_err(|e| {
            if body.is_empty() {
                IpcError::Truncated {
                    what: "credentials protobuf length",
                }
            } else {
                IpcError::Malformed {
                    what: "credentials protobuf length",
                    detail: e.to_string(),
                }
            }
        })?;
        check_len("credentials protobuf", len, MAX_PROTO_BYTES)?;
        if cursor.len() < len {
            return Err(IpcError::Truncated {
                what: "credentials protobuf",
            });
        }
        let proto = CredentialsProto::decode(&cursor[..len]).map_err(|e| IpcError::Malformed {
            what: "credentials protobuf",
            detail: e.to_string(),
        })?;
        Self::from_proto(proto)
    }

    fn to_proto(&self) -> CredentialsProto {
        CredentialsProto {
            tokens: self
                .tokens
                .iter()
                .map(|(alias, token)| CredentialsKvProto {
                    alias: alias.clone(),
                    token: Some(token.to_proto()),
                    secret: None,
                })
                .collect(),
            secrets: self
                .secrets
                .iter()
                .map(|(alias, secret)| CredentialsKvProto {
                    alias: alias.clone(),
                    token: None,
                    secret: Some(secret.clone()),
                })
                .collect(),
        }
    }

    fn from_proto(proto: CredentialsProto) -> Result<Self> {
        check_len("credentials token count", proto.tokens.len(), MAX_ENTRIES)?;
        check_len("credentials secret count", proto.secrets.len(), MAX_ENTRIES)?;
        let mut creds = Self::new();
        for kv in proto.tokens {
            check_len("token alias", kv.alias.len(), MAX_TEXT_BYTES)?;
            let token = kv.token.ok_or_else(|| CredentialsError::MissingToken {
                alias: kv.alias.clone(),
            })?;
            creds.add_token(kv.alias, Token::from_proto(token)?);
        }
        for kv in proto.secrets {
            check_len("secret alias", kv.alias.len(), MAX_TEXT_BYTES)?;
            let secret = kv.secret.ok_or_else(|| CredentialsError::MissingSecret {
                alias: kv.alias.clone(),
            })?;
            check_len("secret", secret.len(), MAX_SECRET_BYTES)?;
            creds.add_secret(kv.alias, secret);
        }
        Ok(creds)
    }
}

fn check_len(what: &'static str, len: usize, limit: usize) -> Result<()> {
    if len > limit {
        return Err(IpcError::LimitExceeded {
            what,
            value: i64::try_from(len).unwrap_or(i64::MAX),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
        });
    }
    Ok(())
}

fn expect_end(r: &Reader<'_>, what: &'static str) -> Result<()> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(IpcError::Malformed {
            what,
            detail: format!("{} unexpected bytes after the end", r.remaining().len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Identifier of an AMRM token: `AMRMTokenIdentifierProto { appAttemptId = 1:
    /// { application_id = 1: { id = 1: 1, cluster_timestamp = 2: 1700000000000 },
    /// attemptId = 2: 1 }, keyId = 2: 42 }`, encoded by hand (and equal to what
    /// Hadoop's `AMRMTokenIdentifier.getBytes()` gives, see below).
    const AMRM_IDENTIFIER: &[u8] = &[
        0x0a, 0x0d, // field 1 (appAttemptId), 13 bytes
        0x0a, 0x09, // field 1 (application_id), 9 bytes
        0x08, 0x01, // id = 1
        0x10, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, // cluster_timestamp = 1700000000000
        0x10, 0x01, // attemptId = 1
        0x10, 0x2a, // keyId = 42
    ];

    /// A 20-byte HMAC-SHA1 password.
    const AMRM_PASSWORD: [u8; 20] = [
        0x3c, 0x51, 0x9e, 0x02, 0xa7, 0xff, 0x10, 0x00, 0x81, 0x6b, 0x44, 0xd9, 0x0e, 0x27, 0xc3,
        0x5a, 0x99, 0x01, 0xfe, 0x70,
    ];

    fn amrm_token() -> Token {
        Token::new(
            AMRM_IDENTIFIER,
            AMRM_PASSWORD,
            KIND_AM_RM_TOKEN,
            "127.0.0.1:8030",
        )
    }

    /// `container_tokens` as `Credentials.writeTokenStorageToStream` writes it (format
    /// WRITABLE) after YARN's `AMLauncher` adds the AMRM token under its service.
    fn amrm_v0_fixture() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(b"HDTS");
        f.push(0x00); // version: WRITABLE
        f.push(0x01); // WritableUtils.writeVInt(tokenMap.size() = 1)
        f.push(14); // alias Text: length 14
        f.extend_from_slice(b"127.0.0.1:8030");
        f.push(AMRM_IDENTIFIER.len() as u8); // identifier length 17
        f.extend_from_slice(AMRM_IDENTIFIER);
        f.push(20); // password length
        f.extend_from_slice(&AMRM_PASSWORD);
        f.push(16); // kind Text
        f.extend_from_slice(b"YARN_AM_RM_TOKEN");
        f.push(14); // service Text
        f.extend_from_slice(b"127.0.0.1:8030");
        f.push(0x00); // secretKeysMap.size() = 0
        f
    }

    #[test]
    fn decodes_hand_built_v0_amrm_file() {
        let bytes = amrm_v0_fixture();
        let creds = Credentials::read_token_storage(&bytes).expect("decodes");
        assert_eq!(creds.tokens.len(), 1);
        assert!(creds.secrets.is_empty());
        assert_eq!(creds.tokens[0].0, "127.0.0.1:8030");
        let token = creds
            .first_token_of_kind(KIND_AM_RM_TOKEN)
            .expect("AMRM token present");
        assert_eq!(token, &amrm_token());
        assert_eq!(creds.token("127.0.0.1:8030"), Some(token));
        // And we write the same bytes back.
        assert_eq!(creds.write_token_storage(), bytes);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Written by Hadoop 3.4.3's own classes (`testdata/CredentialsVectors.java`): the
    /// AMRM token's identifier from `new AMRMTokenIdentifier(attempt 1 of
    /// application_1700000000000_0001, keyId 42)`, then `Credentials` holding that
    /// token, in both formats, and `Token.encodeToUrlString`.
    const HADOOP_AMRM_IDENTIFIER: &str = "0a0d0a0908011080d095ffbc311001102a";
    const HADOOP_AMRM_V0: &str = "4844545300010e3132372e302e302e313a38303330110a0d0a0908011080d095ffbc311001102a143c519e02a7ff1000816b44d90e27c35a9901fe70105941524e5f414d5f524d5f544f4b454e0e3132372e302e302e313a3830333000";
    const HADOOP_AMRM_V1: &str = "48445453015f0a5d0a0e3132372e302e302e313a38303330124b0a110a0d0a0908011080d095ffbc311001102a12143c519e02a7ff1000816b44d90e27c35a9901fe701a105941524e5f414d5f524d5f544f4b454e220e3132372e302e302e313a38303330";
    const HADOOP_AMRM_URL: &str = "EQoNCgkIARCA0JX_vDEQARAqFDxRngKn_xAAgWtE2Q4nw1qZAf5wEFlBUk5fQU1fUk1fVE9LRU4OMTI3LjAuMC4xOjgwMzA";
    const HADOOP_SMALL_V0: &str = "484454530001016101aa01bb014b015301017301cc";
    const HADOOP_SMALL_V1: &str =
        "48445453011b0a110a0161120c0a01aa1201bb1a014b22015312060a01731a01cc";

    #[test]
    fn matches_bytes_written_by_hadoop() {
        assert_eq!(AMRM_IDENTIFIER, unhex(HADOOP_AMRM_IDENTIFIER));
        assert_eq!(amrm_v0_fixture(), unhex(HADOOP_AMRM_V0));

        let mut amrm = Credentials::new();
        amrm.add_token("127.0.0.1:8030", amrm_token());
        let mut small = Credentials::new();
        small.add_token("a", Token::new(vec![0xaa], vec![0xbb], "K", "S"));
        small.add_secret("s", vec![0xcc]);
        for (creds, v0, v1) in [
            (&amrm, HADOOP_AMRM_V0, HADOOP_AMRM_V1),
            (&small, HADOOP_SMALL_V0, HADOOP_SMALL_V1),
        ] {
            assert_eq!(creds.write_token_storage(), unhex(v0));
            assert_eq!(
                creds.write_token_storage_as(CredentialsFormat::Protobuf),
                unhex(v1)
            );
            for hex in [v0, v1] {
                assert_eq!(
                    &Credentials::read_token_storage(&unhex(hex)).expect("decodes"),
                    creds
                );
            }
        }
        assert_eq!(amrm_token().encode_url_string(), HADOOP_AMRM_URL);
        assert_eq!(
            Token::decode_url_string(HADOOP_AMRM_URL).expect("decodes"),
            amrm_token()
        );
    }

    #[test]
    fn every_truncation_of_the_fixture_is_an_error() {
        let bytes = amrm_v0_fixture();
        for cut in 0..bytes.len() {
            let err = Credentials::read_token_storage(&bytes[..cut]).expect_err("truncated");
            assert!(
                matches!(
                    err,
                    IpcError::Truncated { .. }
                        | IpcError::Credentials(CredentialsError::BadMagic { .. })
                ),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn v1_round_trip_and_truncation() {
        let mut creds = Credentials::new();
        creds.add_token("127.0.0.1:8030", amrm_token());
        creds.add_token(
            "hdfs",
            Token::new(
                vec![1, 2, 3],
                vec![4, 5],
                KIND_HDFS_DELEGATION_TOKEN,
                "ha-hdfs:ns",
            ),
        );
        creds.add_secret("spark.secret", b"s3cr3t".to_vec());
        let bytes = creds.write_token_storage_as(CredentialsFormat::Protobuf);
        assert_eq!(&bytes[..5], b"HDTS\x01");
        assert_eq!(
            Credentials::read_token_storage(&bytes).expect("decodes"),
            creds
        );
        for cut in 0..bytes.len() {
            assert!(
                Credentials::read_token_storage(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn v1_known_bytes() {
        let mut creds = Credentials::new();
        creds.add_token("a", Token::new(vec![0xaa], vec![0xbb], "K", "S"));
        creds.add_secret("s", vec![0xcc]);
        let bytes = creds.write_token_storage_as(CredentialsFormat::Protobuf);
        let expected: &[u8] = &[
            b'H', b'D', b'T', b'S', 0x01, // magic, version
            0x1b, // delimited length 27
            0x0a, 0x11, // tokens (1), 17 bytes
            0x0a, 0x01, b'a', // alias
            0x12, 0x0c, // token (2), 12 bytes
            0x0a, 0x01, 0xaa, 0x12, 0x01, 0xbb, 0x1a, 0x01, b'K', 0x22, 0x01, b'S', //
            0x12, 0x06, // secrets (2), 6 bytes
            0x0a, 0x01, b's', 0x1a, 0x01, 0xcc,
        ];
        assert_eq!(bytes, expected);
        assert_eq!(
            Credentials::read_token_storage(expected).expect("decodes"),
            creds
        );
    }

    #[test]
    fn v1_entry_without_token_is_rejected() {
        let proto = CredentialsProto {
            tokens: vec![CredentialsKvProto {
                alias: "x".into(),
                token: None,
                secret: None,
            }],
            secrets: vec![],
        };
        let mut bytes = b"HDTS\x01".to_vec();
        proto.encode_length_delimited(&mut bytes).expect("encodes");
        let err = Credentials::read_token_storage(&bytes).expect_err("no token");
        assert!(
            matches!(
                err,
                IpcError::Credentials(CredentialsError::MissingToken { ref alias }) if alias == "x"
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_magic_and_version() {
        let err = Credentials::read_token_storage(b"HDTX\x00\x00\x00").expect_err("magic");
        assert!(matches!(
            err,
            IpcError::Credentials(CredentialsError::BadMagic { .. })
        ));
        let err = Credentials::read_token_storage(b"HDTS\x02\x00\x00").expect_err("version");
        assert!(matches!(
            err,
            IpcError::Credentials(CredentialsError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn limits_are_enforced() {
        // Token count over the limit.
        let mut bytes = b"HDTS\x00".to_vec();
        crate::writable::write_vint(&mut bytes, (MAX_ENTRIES + 1) as i32);
        let err = Credentials::read_token_storage(&bytes).expect_err("count");
        assert!(
            matches!(
                err,
                IpcError::LimitExceeded {
                    what: "credentials token count",
                    ..
                }
            ),
            "{err}"
        );
        // Negative count.
        let err = Credentials::read_token_storage(b"HDTS\x00\xff").expect_err("negative");
        assert!(
            matches!(err, IpcError::LimitExceeded { value: -1, .. }),
            "{err}"
        );
        // Identifier claims 2 MiB.
        let mut bytes = b"HDTS\x00\x01\x01a".to_vec();
        crate::writable::write_vint(&mut bytes, 2 << 20);
        let err = Credentials::read_token_storage(&bytes).expect_err("identifier");
        assert!(
            matches!(
                err,
                IpcError::LimitExceeded {
                    what: "token identifier",
                    ..
                }
            ),
            "{err}"
        );
        // A v1 body claiming 1 GiB.
        let mut bytes = b"HDTS\x01".to_vec();
        prost::encode_length_delimiter(1 << 30, &mut bytes).expect("encodes");
        let err = Credentials::read_token_storage(&bytes).expect_err("proto length");
        assert!(matches!(err, IpcError::LimitExceeded { .. }), "{err}");
    }

    #[test]
    fn duplicate_alias_replaces_like_java_map() {
        let mut bytes = b"HDTS\x00\x02".to_vec();
        for pw in [1u8, 2] {
            write_text(&mut bytes, "same");
            Token::new(vec![9], vec![pw], "K", "S").write_writable(&mut bytes);
        }
        bytes.push(0);
        let creds = Credentials::read_token_storage(&bytes).expect("decodes");
        assert_eq!(creds.tokens.len(), 1);
        assert_eq!(
            creds.token("same").map(|t| t.password.clone()),
            Some(vec![2])
        );
    }

    #[test]
    fn url_string_matches_commons_codec_url_safe_base64() {
        let token = Token::new(vec![0xfb, 0xff], vec![0x3e], "K", "s:1");
        // Writable: 02 fb ff 01 3e 01 4b 03 73 3a 31
        assert_eq!(
            token.to_writable_bytes(),
            [
                0x02, 0xfb, 0xff, 0x01, 0x3e, 0x01, 0x4b, 0x03, 0x73, 0x3a, 0x31
            ]
        );
        let s = token.encode_url_string();
        assert_eq!(s, "Avv_AT4BSwNzOjE");
        assert_eq!(Token::decode_url_string(&s).expect("decodes"), token);
        // Padded, and the standard alphabet, are accepted too.
        assert_eq!(
            Token::decode_url_string("Avv_AT4BSwNzOjE=").expect("padded"),
            token
        );
        assert_eq!(
            Token::decode_url_string("Avv/AT4BSwNzOjE").expect("standard alphabet"),
            token
        );
        assert!(Token::decode_url_string("Avv_AT4BSwNzOj").is_err());
        assert!(Token::decode_url_string("not base64!").is_err());
    }

    #[test]
    fn writable_token_rejects_trailing_bytes_and_truncation() {
        let mut bytes = amrm_token().to_writable_bytes();
        for cut in 0..bytes.len() {
            let err = Token::from_writable_bytes(&bytes[..cut]).expect_err("truncated");
            assert!(
                matches!(err, IpcError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        bytes.push(0);
        assert!(matches!(
            Token::from_writable_bytes(&bytes),
            Err(IpcError::Malformed { .. })
        ));
    }

    #[test]
    fn debug_hides_password() {
        let s = format!("{:?}", amrm_token());
        assert!(s.contains("<20 bytes>"), "{s}");
        assert!(!s.contains("3c519e"), "{s}");
    }

    fn arb_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9_:.é-]{0,24}").expect("valid regex")
    }

    fn arb_token() -> impl Strategy<Value = Token> {
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 0..40),
            arb_text(),
            arb_text(),
        )
            .prop_map(|(i, p, k, s)| Token::new(i, p, k, s))
    }

    fn arb_credentials() -> impl Strategy<Value = Credentials> {
        (
            proptest::collection::vec((arb_text(), arb_token()), 0..5),
            proptest::collection::vec(
                (arb_text(), proptest::collection::vec(any::<u8>(), 0..200)),
                0..4,
            ),
        )
            .prop_map(|(tokens, secrets)| {
                let mut c = Credentials::new();
                for (a, t) in tokens {
                    c.add_token(a, t);
                }
                for (a, s) in secrets {
                    c.add_secret(a, s);
                }
                c
            })
    }

    proptest! {
        #[test]
        fn credentials_round_trip_both_formats(creds in arb_credentials()) {
            for format in [CredentialsFormat::Writable, CredentialsFormat::Protobuf] {
                let bytes = creds.write_token_storage_as(format);
                let back = Credentials::read_token_storage(&bytes).expect("decodes");
                prop_assert_eq!(&back, &creds);
            }
        }

        #[test]
        fn token_url_string_round_trips(token in arb_token()) {
            let s = token.encode_url_string();
            prop_assert!(!s.contains('='));
            prop_assert_eq!(Token::decode_url_string(&s).expect("decodes"), token);
        }

        #[test]
        fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64), v in 0u8..2) {
            let mut bytes = b"HDTS".to_vec();
            bytes.push(v);
            bytes.extend(body);
            let _ = Credentials::read_token_storage(&bytes);
        }
    }
}
