//! Random secrets and the encryption of subscriber credentials at rest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::Rng as _;
use sha2::{Digest, Sha256};

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// No 0/O, 1/l/I: passwords get read aloud and typed on TV remotes.
pub(crate) const UNAMBIGUOUS: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A string of `len` characters drawn uniformly from `alphabet` with the thread's CSPRNG.
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// What the key fingerprint hashes along with the key, so it is no hash of the key alone.
const FINGERPRINT_LABEL: &[u8] = b"resellerbot credentials key fingerprint v1\0";

/// Encrypts subscriber passwords and tokens so that a copy of the database alone does not give
/// away every line, while the owning reseller can still be shown them again.
///
/// ChaCha20-Poly1305 with a random nonce per value, and the subscriber's username as associated
/// data, so a ciphertext copied onto another row does not decrypt.
pub struct CredentialCipher {
    aead: ChaCha20Poly1305,
    fingerprint: String,
}

impl std::fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialCipher(..)")
    }
}

impl CredentialCipher {
    /// From a base64 string of 32 bytes, as `CREDENTIALS_KEY` holds it.
    pub fn from_base64(key: &str) -> Result<CredentialCipher, String> {
        let bytes = B64
            .decode(key.trim())
            .map_err(|_| "the credentials key is not valid base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!(
                "the credentials key must be 32 bytes once base64-decoded, it is {}",
                bytes.len()
            ));
        }
        let mut label = Sha256::new();
        label.update(FINGERPRINT_LABEL);
        label.update(&bytes);
        Ok(CredentialCipher {
            aead: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            fingerprint: hex::encode(label.finalize()),
        })
    }

    /// Names the key without giving it away: SHA-256 of a fixed label and the key, in hex.
    /// Instances sharing a database compare it to know they hold the same key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        B64.encode(key)
    }

    pub(crate) fn encrypt(&self, aad: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        B64.encode(out)
    }

    pub(crate) fn decrypt(&self, aad: &str, stored: &str) -> Result<String, crate::CoreError> {
        let fail = || {
            crate::CoreError::Internal(
                "stored credentials do not decrypt with the configured key".into(),
            )
        };
        let bytes = B64.decode(stored).map_err(|_| fail())?;
        if bytes.len() < 12 {
            return Err(fail());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_are_bound_to_their_row() {
        let c = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let sealed = c.encrypt("bob", "s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(c.decrypt("bob", &sealed).unwrap(), "s3cret");
        assert!(c.decrypt("alice", &sealed).is_err());
        let other = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        assert!(other.decrypt("bob", &sealed).is_err());
    }

    #[test]
    fn fingerprints_tell_keys_apart_without_showing_them() {
        let key = CredentialCipher::generate_key();
        let a = CredentialCipher::from_base64(&key).unwrap();
        let b = CredentialCipher::from_base64(&format!(" {key}\n")).unwrap();
        let other = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), other.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        assert!(!format!("{a:?}").contains(a.fingerprint()));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert!(
            CredentialCipher::from_base64("nope!")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            CredentialCipher::from_base64("AAAA")
                .unwrap_err()
                .contains("it is 3")
        );
    }

    #[test]
    fn random_strings_use_only_their_alphabet() {
        let s = random_string(UNAMBIGUOUS, 64);
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| UNAMBIGUOUS.contains(&b)));
        assert_ne!(random_string(ALNUM, 24), random_string(ALNUM, 24));
    }
}
