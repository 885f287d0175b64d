//! Hadoop IPC spoken by a Rust process: framing, SASL (SIMPLE and TOKEN/DIGEST-MD5),
//! the credentials file, and typed clients for the ResourceManager scheduler, the
//! NodeManagers and the NameNode. Prost types stay behind this crate's plain Rust API.
