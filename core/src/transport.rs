//! The driver↔executor transport: `spindle.DriverMessage` / `spindle.ExecutorMessage`
//! as `[u32 big-endian length][protobuf]` frames over TCP, and the executor's proof of the
//! application secret (HMAC-SHA256 over the driver's random challenge; the secret itself
//! never travels).

use hmac::{Hmac, Mac};
use prost::Message;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::CoreError;

/// Largest frame either side accepts (task payloads and map results included).
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Protocol version spoken by this build.
pub const PROTOCOL_VERSION: u32 = 1;

/// Writes one framed message.
pub async fn write_msg<W: AsyncWrite + Unpin, M: Message>(
    w: &mut W,
    msg: &M,
) -> Result<(), CoreError> {
    let len = msg.encoded_len();
    if len > MAX_FRAME {
        return Err(CoreError::Transport(format!(
            "message of {len} bytes exceeds {MAX_FRAME}"
        )));
    }
    let mut buf = Vec::with_capacity(4 + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut buf)
        .map_err(|e| CoreError::Transport(format!("encoding: {e}")))?;
    w.write_all(&buf)
        .await
        .map_err(|e| CoreError::Transport(format!("sending: {e}")))
}

/// Reads one framed message; `Ok(None)` on a clean end of stream before a frame.
pub async fn read_msg<R: AsyncRead + Unpin, M: Message + Default>(
    r: &mut R,
) -> Result<Option<M>, CoreError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(CoreError::Transport(format!("receiving: {e}"))),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(CoreError::Transport(format!(
            "frame of {len} bytes exceeds {MAX_FRAME}"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .await
        .map_err(|e| CoreError::Transport(format!("receiving a {len}-byte frame: {e}")))?;
    M::decode(body.as_slice())
        .map(Some)
        .map_err(|e| CoreError::Transport(format!("decoding: {e}")))
}

/// HMAC-SHA256(secret, nonce): what an executor sends to prove it holds the secret.
pub fn secret_proof(secret: &[u8], nonce: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(nonce);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a proof in constant time.
pub fn verify_proof(secret: &[u8], nonce: &[u8], proof: &[u8]) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(nonce);
    mac.verify_slice(proof).is_ok()
}

/// The alias of the application secret in a container's credentials file.
pub const SECRET_ALIAS: &str = "spindle.app.secret";

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_proto::spindle::{DriverMessage, Shutdown, driver_message};

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let msg = DriverMessage {
            kind: Some(driver_message::Kind::Shutdown(Shutdown {
                reason: "done".into(),
            })),
        };
        let mut buf = Vec::new();
        write_msg(&mut buf, &msg).await.expect("write");
        let mut r = buf.as_slice();
        let back: Option<DriverMessage> = read_msg(&mut r).await.expect("read");
        assert_eq!(back, Some(msg));
        let end: Option<DriverMessage> = read_msg(&mut r).await.expect("clean end");
        assert!(end.is_none());
    }

    #[tokio::test]
    async fn oversized_and_truncated_frames_are_errors() {
        let mut big = (u32::MAX).to_be_bytes().to_vec();
        big.extend_from_slice(&[0; 8]);
        assert!(
            read_msg::<_, DriverMessage>(&mut big.as_slice())
                .await
                .is_err()
        );
        let mut short = 10u32.to_be_bytes().to_vec();
        short.extend_from_slice(&[0; 3]);
        assert!(
            read_msg::<_, DriverMessage>(&mut short.as_slice())
                .await
                .is_err()
        );
    }

    #[test]
    fn proofs_verify_only_with_the_secret() {
        let p = secret_proof(b"secret", b"nonce");
        assert!(verify_proof(b"secret", b"nonce", &p));
        assert!(!verify_proof(b"other", b"nonce", &p));
        assert!(!verify_proof(b"secret", b"nonce2", &p));
    }
}
