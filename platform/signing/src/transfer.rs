//! Signing keys on the move. A municipality's private keys are sealed under
//! the deployment key, which never leaves its deployment; to move a
//! municipality, the keys are opened at the source and sealed again for the
//! target with a key only the two deployments can compute (X25519 between
//! a one-off key of the export and the target's transfer key, which the
//! target derives from its own deployment key and publishes). The archive
//! alone never holds a usable key.

use crate::SigningError;
use crate::service::Signing;
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use sha2::Sha256;

const PREFIX: &str = "dimos-transfer-1:";

/// A deployment's public transfer key, as `dimos tenants transfer-key`
/// prints it and `dimos tenants export --to` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferKey([u8; 32]);

impl std::fmt::Display for TransferKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX}{}", hex::encode(self.0))
    }
}

impl std::str::FromStr for TransferKey {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            SigningError::Malformed(format!(
                "a transfer key is {PREFIX} and 64 hexadecimal digits (dimos tenants transfer-key prints it)"
            ))
        };
        let hexed = s.trim().strip_prefix(PREFIX).ok_or_else(bad)?;
        let bytes: [u8; 32] = hex::decode(hexed)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())?;
        Ok(TransferKey(bytes))
    }
}

/// Expands `ikm` into a 32-byte key for one `purpose`.
fn derive(salt: &[u8], ikm: &[u8], purpose: &str) -> Result<[u8; 32], SigningError> {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(purpose.as_bytes(), &mut out)
        .map_err(|_| SigningError::Crypto("key derivation failed".into()))?;
    Ok(out)
}

/// The key both sides compute from the one-off key and the target's key.
fn shared_key(
    secret: [u8; 32],
    peer: [u8; 32],
    ephemeral: &TransferKey,
    target: &TransferKey,
) -> Result<[u8; 32], SigningError> {
    let shared = MontgomeryPoint(peer).mul_clamped(secret).to_bytes();
    // A low-order point from a forged archive or key gives all zeros.
    if shared == [0u8; 32] {
        return Err(SigningError::Crypto("unusable transfer key".into()));
    }
    let mut salt = ephemeral.0.to_vec();
    salt.extend_from_slice(&target.0);
    derive(&salt, &shared, "dimos transfer seal v1")
}

/// What an export seals keys with: made for one target, once per archive.
pub struct Sealer {
    key: [u8; 32],
    ephemeral: TransferKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The one-off public key the target needs (written in the manifest).
    pub fn ephemeral(&self) -> TransferKey {
        self.ephemeral
    }

    /// A key sealed under `signing`'s deployment key, sealed for the target.
    pub fn reseal(&self, signing: &Signing, sealed: &[u8]) -> Result<Vec<u8>, SigningError> {
        let plain = crate::sealed::open(signing.deployment_key(), sealed)?;
        crate::sealed::seal(&self.key, &plain)
    }
}

/// What an import opens keys with: the archive's one-off key and our own.
pub struct Opener {
    key: [u8; 32],
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener").finish_non_exhaustive()
    }
}

impl Opener {
    /// A key sealed for this deployment by an export, sealed again under
    /// `signing`'s deployment key.
    pub fn reseal(&self, signing: &Signing, sealed: &[u8]) -> Result<Vec<u8>, SigningError> {
        let plain = crate::sealed::open(&self.key, sealed).map_err(|_| {
            SigningError::Crypto(
                "a signing key in the archive does not open: it was sealed for another deployment, or damaged".into(),
            )
        })?;
        crate::sealed::seal(signing.deployment_key(), &plain)
    }
}

impl Signing {
    fn transfer_secret(&self) -> Result<[u8; 32], SigningError> {
        derive(b"dimos", self.deployment_key(), "dimos transfer key v1")
    }

    /// This deployment's public transfer key: what another deployment
    /// seals a municipality's keys for, to move it here.
    pub fn transfer_key(&self) -> Result<TransferKey, SigningError> {
        Ok(TransferKey(
            MontgomeryPoint::mul_base_clamped(self.transfer_secret()?).to_bytes(),
        ))
    }

    /// A sealer for the deployment whose transfer key is `target`.
    pub fn sealer_for(&self, target: &TransferKey) -> Result<Sealer, SigningError> {
        let mut secret = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
        let ephemeral = TransferKey(MontgomeryPoint::mul_base_clamped(secret).to_bytes());
        Ok(Sealer {
            key: shared_key(secret, target.0, &ephemeral, target)?,
            ephemeral,
        })
    }

    /// An opener for an archive sealed for `target` with the one-off key
    /// `ephemeral`; an archive made for another deployment is refused.
    pub fn opener(
        &self,
        target: &TransferKey,
        ephemeral: &TransferKey,
    ) -> Result<Opener, SigningError> {
        let own = self.transfer_key()?;
        if *target != own {
            return Err(SigningError::Crypto(format!(
                "the archive was sealed for the deployment with transfer key {target}, and this one's is {own}"
            )));
        }
        Ok(Opener {
            key: shared_key(self.transfer_secret()?, ephemeral.0, ephemeral, &own)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn signing(key: u8) -> Signing {
        Signing::new(
            [key; 32],
            365,
            Arc::new(dimos_kernel::SystemClock),
            Arc::new(crate::service::LocalCa),
        )
    }

    #[test]
    fn keys_sealed_for_a_target_open_there_and_nowhere_else() {
        let (source, target, other) = (signing(1), signing(2), signing(3));
        let at_rest = crate::sealed::seal(&[1; 32], b"private key").unwrap();
        let to = target.transfer_key().unwrap();
        let sealer = source.sealer_for(&to).unwrap();
        let moving = sealer.reseal(&source, &at_rest).unwrap();
        assert!(!moving.windows(11).any(|w| w == b"private key"));
        // The target opens it and seals it under its own deployment key.
        let opener = target.opener(&to, &sealer.ephemeral()).unwrap();
        let landed = opener.reseal(&target, &moving).unwrap();
        assert_eq!(
            crate::sealed::open(&[2; 32], &landed).unwrap(),
            b"private key"
        );
        // Another deployment refuses the archive, and cannot open it anyway.
        assert!(other.opener(&to, &sealer.ephemeral()).is_err());
        let forced = Opener {
            key: shared_key(
                other.transfer_secret().unwrap(),
                sealer.ephemeral().0,
                &sealer.ephemeral(),
                &to,
            )
            .unwrap(),
        };
        assert!(forced.reseal(&other, &moving).is_err());
        // The source's deployment key is the only one that opens at rest.
        assert!(sealer.reseal(&target, &at_rest).is_err());
    }

    #[test]
    fn transfer_keys_print_and_parse() {
        let k = signing(9).transfer_key().unwrap();
        assert_eq!(k.to_string().parse::<TransferKey>().unwrap(), k);
        assert_eq!(signing(9).transfer_key().unwrap(), k, "derived, stable");
        assert_ne!(signing(8).transfer_key().unwrap(), k);
        for bad in ["", "dimos-transfer-1:", "dimos-transfer-1:zz", "abc"] {
            assert!(bad.parse::<TransferKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_low_order_point_is_refused() {
        let s = signing(4);
        assert!(s.sealer_for(&TransferKey([0; 32])).is_err());
    }
}
