//! SASL mechanisms for Hadoop IPC, as pure state machines: they turn server messages
//! into client messages and wrap/unwrap bytes, but never touch a socket. The IPC
//! connection drives them with `RpcSaslProto` packets.

pub mod digest;

pub use digest::{
    Challenge, Cipher, DigestMd5Client, DigestMd5Config, DigestMd5Pending, Negotiated, Qop,
    SecurityLayer,
};
