//! Local key files, each 32 random bytes in base64 beside the data file (mode 0600), created
//! on the first start: the HS256 key for management tokens (`hookline token` signs with it,
//! the server verifies with it) and the key that seals signing secrets at rest.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::adapters::jwt::{JwtKeys, JwtSettings};
use hookline_core::config::{AuthConfig, Config};
use jsonwebtoken::jwk::JwkSet;
use rand::RngCore;

const AUTH_KEY: &str = ".auth-key";
const SECRET_KEY: &str = ".secret-key";
/// What the files this module creates beside the data file add to its name, when the
/// configuration names no others (whoever removes a data file removes these with it).
pub const SUFFIXES: [&str; 2] = [AUTH_KEY, SECRET_KEY];

/// `<data>.auth-key`, unless the configuration names another file.
pub fn key_path(auth: &AuthConfig, data: &Path) -> PathBuf {
    auth.key_file.clone().unwrap_or_else(|| beside(data, AUTH_KEY))
}

fn beside(data: &Path, suffix: &str) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The key sealing signing secrets: given in the configuration (base64), or read from its
/// file (`<data>.secret-key` by default, created on first start).
pub fn secret_key(config: &Config, data: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(encoded) = &config.secret_key {
        let key = STANDARD.decode(encoded.expose().trim()).context("HOOKLINE_SECRET_KEY is not base64")?;
        if key.len() != 32 {
            bail!("HOOKLINE_SECRET_KEY must hold exactly 32 bytes");
        }
        return Ok(key);
    }
    let path = config.secret_key_file.clone().unwrap_or_else(|| beside(data, SECRET_KEY));
    let key = load(&path, true)?;
    if key.len() != 32 {
        bail!("{} must hold exactly 32 bytes", path.display());
    }
    Ok(key)
}

/// Reads the key; a missing file is created with a fresh key when `create` is set.
pub fn load(path: &Path, create: bool) -> anyhow::Result<Vec<u8>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let key = STANDARD.decode(text.trim()).with_context(|| format!("{} does not hold a base64 key", path.display()))?;
            if key.len() < 32 {
                bail!("{} holds a key shorter than 32 bytes", path.display());
            }
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => write_new(path),
        Err(error) => Err(error).with_context(|| format!("reading the auth key {} (start the server once to create it)", path.display())),
    }
}

fn write_new(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating the auth key {}", path.display()))?;
    writeln!(file, "{}", STANDARD.encode(&key))?;
    Ok(key)
}

/// The verification settings: the JWKS file when configured, the local key otherwise.
pub fn jwt_settings(auth: &AuthConfig, data: &Path, create: bool) -> anyhow::Result<JwtSettings> {
    Ok(auth.jwt_settings(token_keys(auth, data, create)?))
}

/// The keys management tokens are verified with: none yet when a JWKS URL is configured (the
/// server fetches them), the JWKS file's, or the local HS256 key.
pub fn token_keys(auth: &AuthConfig, data: &Path, create: bool) -> anyhow::Result<JwtKeys> {
    Ok(match (&auth.jwks_url, &auth.jwks_file) {
        // Fetched by the server right after; start with no keys rather than the local one.
        (Some(_), _) => JwtKeys::Jwks(JwkSet { keys: Vec::new() }),
        (None, Some(file)) => {
            let text = fs::read_to_string(file).with_context(|| format!("reading the JWKS file {}", file.display()))?;
            JwtKeys::Jwks(serde_json::from_str(&text).with_context(|| format!("{} is not a JWKS document", file.display()))?)
        }
        (None, None) => JwtKeys::Hs256(load(&key_path(auth, data), create)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_file_created_beside_the_data_file_is_named_by_a_suffix() {
        let dir = std::env::temp_dir().join(format!("hookline-key-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let data = dir.join("hookline.db");
        secret_key(&Config::default(), &data).unwrap();
        token_keys(&AuthConfig::default(), &data, true).unwrap();
        let mut created: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
        created.sort();
        let mut named: Vec<PathBuf> = SUFFIXES.iter().map(|suffix| beside(&data, suffix)).collect();
        named.sort();
        assert_eq!(created, named);
        fs::remove_dir_all(&dir).unwrap();
    }
}
