//! Hadoop IPC spoken by a Rust process: framing, SASL (SIMPLE and TOKEN/DIGEST-MD5),
//! the credentials file, and typed clients for the ResourceManager scheduler, the
//! NodeManagers and the NameNode. Prost types stay behind this crate's plain Rust API.
//!
//! Pure building blocks (no I/O): [`writable`] codecs, [`credentials`] (tokens and `HDTS`
//! files), [`sasl`] (DIGEST-MD5 and its security layer). On top of them: one
//! [`Connection`] (framing, auth, multiplexed calls), the reconnecting [`RpcClient`], and
//! the typed clients [`rm`], [`nm`] and [`namenode`].

mod client;
mod connection;
pub mod credentials;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod namenode;
pub mod nm;
pub mod rm;
pub mod sasl;
mod types;
pub mod writable;

pub use client::RpcClient;
pub use connection::{Auth, Connection, ConnectionConfig};
pub use sasl::Qop;
pub use types::{
    ApplicationAttemptId, ApplicationId, BlockLocation, Container, ContainerId, ContainerState,
    ContainerStatus, FileStatus, FinalStatus, LaunchContext, LocalResource, NodeId, Resource,
    Visibility,
};

pub use credentials::{Credentials, CredentialsFormat, Token};
pub use error::{CredentialsError, IpcError, Result, SaslError};
