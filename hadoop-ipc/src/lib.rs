//! Hadoop IPC spoken by a Rust process: framing, SASL (SIMPLE and TOKEN/DIGEST-MD5),
//! the credentials file, and typed clients for the ResourceManager scheduler, the
//! NodeManagers and the NameNode. Prost types stay behind this crate's plain Rust API.
//!
//! The modules here so far are pure building blocks (no I/O): [`writable`] codecs,
//! [`credentials`] (tokens and `HDTS` files), and [`sasl`] (DIGEST-MD5 and its security
//! layer). The async connection is built on top of them.

pub mod credentials;
pub mod error;
pub mod sasl;
pub mod writable;

pub use credentials::{Credentials, CredentialsFormat, Token};
pub use error::{CredentialsError, IpcError, Result, SaslError};
