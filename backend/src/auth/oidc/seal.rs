//! Sealing of the provider refresh tokens kept for SSO sessions
//! ([`super::refresh`]): AES-256-GCM under a key derived from the session
//! secret, with the session's `jti` as associated data, so a sealed token
//! copied to another row does not open. Rotating the session secret ends
//! these sessions like every other.
use crate::config::Secret;
use crate::error::Result;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Seals refresh tokens for the database.
pub struct Sealer(LessSafeKey);

impl Sealer {
    /// A key derived from the session secret, for this purpose only.
    pub fn derive(session_secret: &[u8]) -> anyhow::Result<Self> {
        Self::derive_for(session_secret, b"tessera refresh token seal v1")
    }

    /// A key derived from the session secret for the purpose `label` (each
    /// purpose its own key).
    pub fn derive_for(session_secret: &[u8], label: &[u8]) -> anyhow::Result<Self> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(session_secret)
            .map_err(|e| anyhow::anyhow!("deriving a sealing key: {e}"))?;
        mac.update(label);
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .map_err(|_| anyhow::anyhow!("deriving a sealing key failed"))?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// `base64url(nonce || ciphertext || tag)` of `token`, bound to `jti`.
    pub fn seal(&self, jti: &str, token: &str) -> Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut buf = token.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(jti.as_bytes()),
                &mut buf,
            )
            .map_err(|_| anyhow::anyhow!("sealing a refresh token failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The token [`Sealer::seal`] sealed for `jti`; `None` when `sealed` was
    /// not sealed by this key for this `jti`, or was changed.
    pub fn open(&self, jti: &str, sealed: &str) -> Option<Secret> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(jti.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_jti() {
        let s = Sealer::derive(b"session secret").unwrap();
        let sealed = s.seal("jti-1", "refresh-token-value").unwrap();
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(
            s.open("jti-1", &sealed).unwrap().expose(),
            "refresh-token-value"
        );
        assert_ne!(
            s.seal("jti-1", "refresh-token-value").unwrap(),
            sealed,
            "fresh nonce"
        );
        assert!(s.open("jti-2", &sealed).is_none(), "bound to its jti");
        assert!(Sealer::derive(b"other secret")
            .unwrap()
            .open("jti-1", &sealed)
            .is_none());
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(
                s.open("jti-1", &URL_SAFE_NO_PAD.encode(&bytes)).is_none(),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(s.open("jti-1", "").is_none());
        assert!(s.open("jti-1", "not base64!").is_none());
    }
}
