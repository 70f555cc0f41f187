//! Local passwords: argon2id at OWASP's recommended parameters (19 MiB,
//! two passes, one lane), hashed and verified off the async runtime. A sign-in
//! for an unknown e-mail still runs one verification, so timing does not tell
//! whether an account exists.
use crate::error::{Error, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Longest password accepted, in bytes: bounds the work an attacker can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    argon: Argon2<'static>,
    /// Verified against when the account is unknown (see [`dummy_hash`]).
    dummy_hash: String,
    min_length: usize,
}

impl Passwords {
    /// A hasher enforcing `min_length` characters for new passwords.
    pub fn new(min_length: usize) -> Result<Self> {
        let params = Params::new(19 * 1024, 2, 1, None)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let dummy_hash = dummy_hash(&params)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Ok(Self {
            argon,
            dummy_hash,
            min_length,
        })
    }

    /// Checks a new password against the policy.
    pub fn check_policy(&self, password: &str) -> Result<()> {
        if password.chars().count() < self.min_length {
            return Err(Error::BadRequest(format!(
                "Password must be at least {} characters long",
                self.min_length
            )));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::BadRequest(format!(
                "Password must be at most {MAX_PASSWORD_BYTES} bytes long"
            )));
        }
        Ok(())
    }

    /// An argon2id PHC string for `password`.
    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &str) -> Result<String> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&argon, &password))
            .await
            .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))?
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let argon = self.argon.clone();
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|e| anyhow::anyhow!("verification task failed: {e}"))?;
        Ok(ok && known)
    }
}

/// A PHC string with the real parameters, a random salt and a random
/// output: verifying against it costs one full argon2id run, like a real
/// account's, and matches no password (and `verify` answers false for it
/// anyway). Made without hashing anything, so start-up neither spends the run
/// nor leaves its 19 MiB with the allocator.
fn dummy_hash(params: &Params) -> Result<String> {
    use argon2::password_hash::rand_core::{OsRng, RngCore as _};
    use argon2::password_hash::Output;
    let salt = SaltString::generate(&mut OsRng);
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    OsRng.fill_bytes(&mut output);
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params
            .try_into()
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(phc.to_string())
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(argon
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Local e-mail addresses are compared trimmed and ASCII-lower-cased, as Open WebUI does.
pub fn normalise_local_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let p = Passwords::new(8).unwrap();
        let real = hash_with(&p.argon, "correct horse battery").unwrap();
        let (real, dummy) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(&p.dummy_hash).unwrap(),
        );
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_ne!(dummy.salt, real.salt);
        // the same parameters as every hash Tessera writes: 19 MiB, 2 passes, 1 lane
        assert_eq!(dummy.params.to_string(), "m=19456,t=2,p=1");
        // a full run down to the final compare, not an early refusal
        assert_eq!(
            p.argon.verify_password(b"correct horse battery", &dummy),
            Err(argon2::password_hash::Error::Password)
        );
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let p = Passwords::new(8).unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(p.verify("correct horse", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse", Some(&h)).await.unwrap());
        assert!(!p.verify("correct horse", None).await.unwrap());
        assert!(!p.verify("x", Some("not a phc string")).await.unwrap());
    }

    #[test]
    fn policy() {
        let p = Passwords::new(8).unwrap();
        assert!(p.check_policy("1234567").is_err());
        assert!(p.check_policy("12345678").is_ok());
        assert!(p.check_policy(&"x".repeat(2000)).is_err());
    }
}
