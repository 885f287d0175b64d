//! How code reaches a task: the one module of this crate allowed `unsafe`.
//!
//! Rust closures cannot be serialized, so the shipped executable is the code: every
//! process of an application (the driver and each executor) runs the same binary. A
//! task names what to run by the *offset* of a monomorphized function from a fixed
//! anchor function in that binary ([`FnId`]); position-independent executables are
//! loaded at a different address in every process, but the whole image moves as one, so
//! the offset of a function from the anchor is the same in every process running the
//! same file. Data the code needs (captured values, partition numbers) travels beside it,
//! serialized with serde.
//!
//! Two operations need `unsafe`, and both are here:
//!
//! * [`Verified::resolve`] turns an offset back into a function pointer. Sound because
//!   (1) every [`FnId`] is made by [`FnId::of`] from a function of the single type
//!   [`Entry`], so the address it names holds a function of exactly that signature
//!   *in the binary that made it*; and (2) a [`Verified`] (the only way to resolve) is
//!   only handed out after the task's fingerprint, the SHA-256 of the driver's
//!   executable, equals this process's own ([`Verified::check`]); the same bytes loaded
//!   anywhere put the same function at the same offset. Under `spindle submit` the
//!   driver starts with the SHA-256 the client computed of the very bytes it staged as
//!   the AM's binary ([`claimed_fingerprint`]), so that it need not hash its own
//!   executable before its first task; tasks that stay in the AM are this process's
//!   own, and before any task leaves it, [`confirm_claim`] checks the claim against the
//!   executable's own hash. What an entry then returns is
//!   a `Box<dyn Any>`, checked by `downcast`, so a mix-up between entries of different
//!   types is an error, not undefined behaviour. The trust boundary is the driver: a
//!   forged offset is arbitrary code execution, so task bytes are only ever accepted
//!   from a peer that proved it holds the application's secret (as Spark's Java
//!   serialization of closures is).
//!
//! * [`conjure`] makes a value of a user's function type in the task. Only types that
//!   are `Copy` and zero-sized are accepted (checked at compile time): a zero-sized type
//!   has no bytes that could be invalid, and `Copy` means making one more is exactly
//!   what the type allows (a closure is `Copy` only if everything it captures is; a
//!   type with a `Drop` or a uniqueness invariant is never `Copy`). The value was made
//!   in the driver by the user's own code (the [`Shippable`] bound is checked where the
//!   function is handed to Spindle), so the type is inhabited.
//!
//! Why not the alternatives (see the crate docs): serializing captured variables needs
//! a macro around every closure and breaks closure type inference on stable Rust;
//! rebuilding the dataflow in every process (timely's way) runs the user's whole `main`
//! in every executor; registering functions by name (Ballista's way) is not closures.
#![allow(unsafe_code)]

use std::any::Any;
use std::io::Read;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::Dec;
use crate::error::Error;

/// The one signature every shipped function has: decode what it needs from the task's
/// bytes and return the built thing (a computation, a task), type-erased.
pub(crate) type Entry = fn(&mut Dec<'_>) -> Result<Box<dyn Any>, Error>;

/// A function of this binary, named by its offset from [`anchor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FnId(i64);

/// The fixed point offsets are measured from. Never called for its result; `inline(never)`
/// and the distinct body keep it a real, unique function.
#[inline(never)]
fn anchor(_: &mut Dec<'_>) -> Result<Box<dyn Any>, Error> {
    Err(Error::Internal(
        "the code anchor was called as an entry".into(),
    ))
}

fn address(f: Entry) -> i64 {
    // A code address fits an i64 on every platform Rust targets with `std`.
    f as usize as i64
}

impl FnId {
    /// The identity of `f` in this binary.
    pub(crate) fn of(f: Entry) -> FnId {
        FnId(address(f).wrapping_sub(address(anchor)))
    }
}

/// The SHA-256 of an executable: what decides whether two processes run the same code.
pub type Fingerprint = [u8; 32];

/// This process's fingerprint: the SHA-256 of its executable, computed once.
pub fn fingerprint() -> Result<Fingerprint, Error> {
    static OWN: OnceLock<Result<Fingerprint, String>> = OnceLock::new();
    OWN.get_or_init(|| {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        hash_file(&exe).map_err(|e| format!("cannot read {}: {e}", exe.display()))
    })
    .clone()
    .map_err(Error::Fingerprint)
}

fn hash_file(path: &std::path::Path) -> std::io::Result<Fingerprint> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Where `spindle submit` puts the SHA-256 (hex) of the binary it staged for the AM.
const CLAIM_VAR: &str = "SPINDLE_PROGRAM_SHA256";

/// The driver's fingerprint as `spindle submit` computed it ([`CLAIM_VAR`]); `None`
/// when it is not set. To be confirmed by [`confirm_claim`] before a task leaves this
/// process.
pub(crate) fn claimed_fingerprint() -> Result<Option<Fingerprint>, Error> {
    let Ok(text) = std::env::var(CLAIM_VAR) else {
        return Ok(None);
    };
    parse_hex(&text).map(Some).ok_or_else(|| {
        Error::invalid(
            CLAIM_VAR,
            format!("{text:?} is not a SHA-256 in hex (64 digits)"),
        )
    })
}

fn parse_hex(text: &str) -> Option<Fingerprint> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Checks a claimed fingerprint against this executable's own hash.
pub(crate) fn confirm_claim(claim: &Fingerprint) -> Result<(), Error> {
    let own = fingerprint()?;
    if &own != claim {
        return Err(Error::Fingerprint(format!(
            "this executable hashes to {}…, not to the {}… that spindle submit staged; \
             no task was sent to an executor",
            hex(&own),
            hex(claim)
        )));
    }
    Ok(())
}

/// Proof that the bytes being decoded were made by a process running this very binary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verified(());

impl Verified {
    /// Checks the fingerprint a task carries against this process's own.
    pub(crate) fn check(theirs: &Fingerprint) -> Result<Verified, Error> {
        let own = fingerprint()?;
        if &own != theirs {
            return Err(Error::BinaryMismatch {
                driver: hex(theirs),
                executor: hex(&own),
            });
        }
        Ok(Verified(()))
    }

    /// For bytes this process made itself (local mode, tests): no hashing needed.
    pub(crate) fn same_process() -> Verified {
        Verified(())
    }

    /// The function `id` names.
    pub(crate) fn resolve(self, id: FnId) -> Entry {
        let addr = address(anchor).wrapping_add(id.0) as usize;
        // SAFETY: see the module docs: `id` was made by `FnId::of` from an `Entry` in a
        // binary whose SHA-256 equals this one's (that is what a `Verified` proves), so
        // `addr` is the address of a function of type `Entry` in this process's image.
        unsafe { std::mem::transmute::<usize, Entry>(addr) }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What a function must be for Spindle to ship it: a closure that captures nothing (or
/// a `fn`), so that its code is all there is to it. Pass captured values with
/// [`Dataset::with`](crate::Dataset::with) instead.
#[diagnostic::on_unimplemented(
    message = "this closure captures a value that is not `Copy`, so Spindle cannot ship it to executors",
    label = "captures something",
    note = "pass what the closure needs with `.with(value)`: `ds.with(value).map(|value, x| ...)`"
)]
pub trait Shippable: Copy + 'static {}
impl<F: Copy + 'static> Shippable for F {}

/// Makes the value of a zero-sized `Copy` function type (see the module docs).
pub(crate) fn conjure<F: Shippable>() -> F {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "a closure given to Spindle captures variables: Spindle ships closures as code \
             only; pass what the closure needs with `.with(value)` and take it as the \
             closure's first argument"
        )
    };
    // SAFETY: `F` is zero-sized (asserted above at compile time), so there are no bytes
    // to be invalid, and `Copy`, so making another value of it is what the type permits
    // (see the module docs for why the type is inhabited).
    unsafe { std::mem::zeroed::<F>() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Enc;

    fn answer(_: &mut Dec<'_>) -> Result<Box<dyn Any>, Error> {
        Ok(Box::new(42u32))
    }

    fn text(d: &mut Dec<'_>) -> Result<Box<dyn Any>, Error> {
        let s: String = d.get()?;
        Ok(Box::new(s))
    }

    #[test]
    fn an_offset_resolves_to_the_same_function() {
        let v = Verified::same_process();
        let empty = Enc::new().finish();
        let mut d = Dec::new(&empty, v);
        let out = (v.resolve(FnId::of(answer)))(&mut d).expect("entry runs");
        assert_eq!(out.downcast_ref::<u32>(), Some(&42));

        let mut e = Enc::new();
        e.put(&"hello".to_string()).expect("encodes");
        let bytes = e.finish();
        let mut d = Dec::new(&bytes, v);
        let out = (v.resolve(FnId::of(text)))(&mut d).expect("entry runs");
        assert_eq!(
            out.downcast_ref::<String>().map(String::as_str),
            Some("hello")
        );
    }

    #[test]
    fn distinct_functions_have_distinct_ids_and_ids_survive_serde() {
        let a = FnId::of(answer);
        let b = FnId::of(text);
        assert_ne!(a, b);
        let bytes = postcard::to_allocvec(&a).expect("encodes");
        let back: FnId = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(a, back);
    }

    #[test]
    fn another_binary_is_refused_by_name() {
        let mut other = fingerprint().expect("own executable hashes");
        other[0] ^= 0xff;
        let err = Verified::check(&other).expect_err("a different binary must be refused");
        let msg = err.to_string();
        assert!(msg.contains("different binary"), "{msg}");
        assert!(Verified::check(&fingerprint().expect("hash")).is_ok());
    }

    #[test]
    fn claims_are_parsed_and_confirmed_against_the_own_hash() {
        let own = fingerprint().expect("hash");
        let text: String = own.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_hex(&text), Some(own));
        assert_eq!(parse_hex(&text.to_uppercase()), Some(own));
        assert_eq!(parse_hex(&text[..62]), None);
        assert_eq!(parse_hex(&format!("{}zz", &text[..62])), None);
        assert!(confirm_claim(&own).is_ok());
        let mut other = own;
        other[31] ^= 1;
        let e = confirm_claim(&other).expect_err("another hash is refused");
        assert!(e.to_string().contains("not to the"), "{e}");
    }

    #[test]
    fn the_fingerprint_is_the_executables_sha256() {
        let exe = std::env::current_exe().expect("exe");
        let bytes = std::fs::read(&exe).expect("read exe");
        let want: Fingerprint = Sha256::digest(&bytes).into();
        assert_eq!(fingerprint().expect("hash"), want);
    }

    #[test]
    fn conjured_closures_behave_like_the_original() {
        fn make<F: Shippable + Fn(u32) -> u32>(_f: F) -> F {
            conjure::<F>()
        }
        let f = make(|x| x * 3 + 1);
        assert_eq!(f(2), 7);
    }

    #[test]
    fn only_this_module_allows_unsafe_code() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut allowed = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(src)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if std::fs::read_to_string(&path)
                    .expect("read file")
                    .contains(concat!("allow(", "unsafe_code)"))
                {
                    allowed.push(path.file_name().map(|n| n.to_string_lossy().into_owned()));
                }
            }
        }
        assert_eq!(allowed, vec![Some("ship.rs".to_string())]);
    }
}
