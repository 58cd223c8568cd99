//! The audit trail's signing key: the operator's own (`AUDIT_SIGNING_KEY`), or one the
//! service made once in its data directory (`DATA_DIR`). Never in the database: whoever
//! can rewrite the database must not be able to sign.

use std::io::Write as _;
use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::config::Config;
use crate::domain::checkpoint::Signer;

/// The file of the key the service makes for itself, in `DATA_DIR`.
pub const FILE_NAME: &str = "audit-signing-key.pem";

/// Why the signing key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{origin} is not an Ed25519 private key in PKCS#8 PEM (`cppcc-api audit-key generate` writes one): {cause}"
    )]
    Unreadable { origin: String, cause: String },
    #[error("cannot keep the audit signing key in {path}: {cause}")]
    Storage { path: String, cause: std::io::Error },
    #[error("the system gave no randomness for a key: {0}")]
    Random(getrandom::Error),
}

/// The key that signs the trail's checkpoints.
pub fn load(config: &Config) -> Result<Signer, KeyError> {
    let key = match &config.audit_signing_key {
        Some(setting) => configured(setting)?,
        None => own(&config.data_dir)?,
    };
    Ok(Signer::new(key))
}

/// `AUDIT_SIGNING_KEY`: the PEM itself, or the path of a file holding it.
fn configured(setting: &str) -> Result<SigningKey, KeyError> {
    if setting.trim_start().starts_with("-----BEGIN") {
        return parse(setting, "AUDIT_SIGNING_KEY");
    }
    let pem = std::fs::read_to_string(setting).map_err(|cause| KeyError::Unreadable {
        origin: format!("AUDIT_SIGNING_KEY ({setting})"),
        cause: cause.to_string(),
    })?;
    parse(&pem, &format!("AUDIT_SIGNING_KEY ({setting})"))
}

fn parse(pem: &str, origin: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|cause| KeyError::Unreadable {
        origin: origin.to_owned(),
        cause: cause.to_string(),
    })
}

/// A new key in PKCS#8 PEM.
pub fn generate() -> Result<String, KeyError> {
    let mut seed = zeroize::Zeroizing::new([0_u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(KeyError::Random)?;
    let key = SigningKey::from_bytes(&seed);
    key.to_pkcs8_pem(Default::default())
        .map(|pem| pem.as_str().to_owned())
        .map_err(|cause| KeyError::Unreadable {
            origin: "a new key".into(),
            cause: cause.to_string(),
        })
}

/// Writes `pem` to a new file readable by its owner only; an existing file is never
/// overwritten.
pub fn write_new(path: &Path, pem: &str) -> Result<(), std::io::Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()
}

/// The key this service made for itself in `dir`, made now if there is none. Instances
/// starting together on one data directory end up with the same key: each writes its own
/// under a name of its own and links it into place, and the first link wins.
fn own(dir: &Path) -> Result<SigningKey, KeyError> {
    let path = dir.join(FILE_NAME);
    let storage = |cause| KeyError::Storage {
        path: path.display().to_string(),
        cause,
    };
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let pem = generate()?;
        let draft = dir.join(format!(
            ".{FILE_NAME}.{}.{}",
            std::process::id(),
            getrandom::u32().map_err(KeyError::Random)?
        ));
        write_new(&draft, &pem).map_err(storage)?;
        let linked = std::fs::hard_link(&draft, &path);
        let _ = std::fs::remove_file(&draft);
        match linked {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "made an audit signing key of this service's own; give it the operator's \
                 (AUDIT_SIGNING_KEY, see the README) before the trail matters"
            ),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(storage(error)),
        }
    }
    let pem = std::fs::read_to_string(&path).map_err(storage)?;
    parse(&pem, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, key: Option<String>) -> Config {
        let mut config = Config::from_lookup(|_| None).expect("defaults");
        config.data_dir = dir.to_owned();
        config.audit_signing_key = key;
        config
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cppcc-key-test-{name}-{}-{}",
            std::process::id(),
            getrandom::u32().unwrap()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn without_a_setting_the_service_makes_one_key_and_keeps_it() {
        let dir = scratch("own");
        let first = load(&config(&dir, None)).unwrap();
        let again = load(&config(&dir, None)).unwrap();
        assert_eq!(first.id(), again.id());
        let file = dir.join(FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only its owner reads the key");
        }
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn instances_starting_together_share_the_key_they_make() {
        let dir = scratch("race");
        let ids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load(&config(&dir, None)).unwrap().id().to_owned()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_configured_key_is_the_pem_or_its_file_and_anything_else_stops_the_start() {
        let dir = scratch("configured");
        std::fs::create_dir_all(&dir).unwrap();
        let pem = generate().unwrap();
        let inline = load(&config(&dir, Some(pem.clone()))).unwrap();
        let file = dir.join("key.pem");
        write_new(&file, &pem).unwrap();
        let from_file = load(&config(&dir, Some(file.display().to_string()))).unwrap();
        assert_eq!(inline.id(), from_file.id());
        // The configured key is used: no key of the service's own is made.
        assert!(!dir.join(FILE_NAME).exists());
        for bad in [
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "/no/such/file",
        ] {
            let error = load(&config(&dir, Some(bad.to_owned()))).unwrap_err();
            assert!(error.to_string().contains("AUDIT_SIGNING_KEY"), "{error}");
        }
        // An existing file is never overwritten.
        assert!(write_new(&file, "other").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
