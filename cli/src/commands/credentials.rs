//! Registry credentials, kept where and as the docker CLI keeps them: in
//! `config.json` (`auths`: `{"host:5000": {"auth": base64("user:pass")}}`),
//! or in a credential helper (`docker-credential-NAME`) when `credsStore`
//! or `credHelpers` name one.
//!
//! The file is docker's own (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`), so `docker login` and `berth login` share
//! credentials and helpers, and so do other tools that read it;
//! `$BERTH_CONFIG` points berth at a directory of its own instead. Keys
//! this module does not know are kept as they are when the file is
//! rewritten.
//!
//! Docker Hub's key is the historical `https://index.docker.io/v1/`; any
//! other registry's is its `host[:port]`.

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_client::AuthConfig;
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The key Docker Hub's credentials are stored under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";
/// What `berth login docker.io` means: Docker Hub.
pub const DEFAULT_NAMESPACE: &str = "docker.io";
const CONFIG_FILE: &str = "config.json";
const HELPER_PREFIX: &str = "docker-credential-";
/// A helper's user name for an identity token rather than a password.
const TOKEN_USERNAME: &str = "<token>";
const NOT_FOUND: &str = "credentials not found in native keychain";

/// The directory config.json lives in: `$BERTH_CONFIG`, `$DOCKER_CONFIG`,
/// else `~/.docker`.
pub fn config_dir() -> PathBuf {
    for variable in ["BERTH_CONFIG", "DOCKER_CONFIG"] {
        if let Some(dir) = std::env::var_os(variable).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
    }
    home_dir().join(".docker")
}

fn home_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|user| user.dir)
        .unwrap_or_default()
}

/// The key credentials for `domain` are stored under (docker's
/// `getAuthConfigKey`).
pub fn auth_key(domain: &str) -> String {
    match domain {
        "docker.io" | "index.docker.io" => INDEX_SERVER.to_string(),
        other => other.to_string(),
    }
}

/// `https://host:5000/v2/` -> `host:5000`: a registry address as a key
/// (docker's `ConvertToHostname`).
pub fn convert_to_hostname(address: &str) -> String {
    let rest = match address.split_once("://") {
        Some((_, rest)) => rest,
        None => address,
    };
    rest.split('/').next().unwrap_or_default().to_string()
}

/// Whether a store kept the password in the file, which login warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Nothing changed, or a helper (or only a token) holds the secret.
    Quietly,
    /// A password now sits base64-encoded in config.json.
    InPlainText,
}

/// A loaded config.json.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    document: Map<String, Value>,
    /// Where credential helpers are; `None` searches `$PATH`.
    helper_dir: Option<PathBuf>,
}

impl ConfigFile {
    /// Loads `config.json` from `dir`; a missing file is an empty config.
    /// A file that cannot be read or parsed, or whose `auths` do not decode,
    /// is an error, so that it is never overwritten.
    pub fn load(dir: &Path) -> anyhow::Result<ConfigFile> {
        let path = dir.join(CONFIG_FILE);
        let document = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice::<Map<String, Value>>(&bytes)
                .map_err(|e| anyhow::anyhow!("parsing config file ({}): {e}", path.display()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "loading config file: open {}: {}",
                    path.display(),
                    super::io_error_text(&e)
                ))
            }
        };
        let config = ConfigFile {
            path,
            document,
            helper_dir: None,
        };
        for (key, entry) in config.auths() {
            decode_entry(key, entry)
                .with_context(|| format!("parsing config file ({})", config.path.display()))?;
        }
        Ok(config)
    }

    /// The config berth uses, with docker's defaults: when it holds no
    /// credentials at all and a `pass` or `secretservice` helper is
    /// installed, new credentials go to that helper.
    pub fn load_default() -> anyhow::Result<ConfigFile> {
        let mut config = ConfigFile::load(&config_dir())?;
        if !config.contains_auth() {
            let platform_default = if find_in_path("pass").is_some() {
                "pass"
            } else {
                "secretservice"
            };
            if find_in_path(&format!("{HELPER_PREFIX}{platform_default}")).is_some() {
                config
                    .document
                    .insert("credsStore".into(), platform_default.into());
            }
        }
        Ok(config)
    }

    /// Where the file is (or will be).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn contains_auth(&self) -> bool {
        self.document.contains_key("credsStore")
            || self
                .document
                .get("credHelpers")
                .and_then(Value::as_object)
                .is_some_and(|helpers| !helpers.is_empty())
            || self.auths().next().is_some()
    }

    fn auths(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.document
            .get("auths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let auths = self
            .document
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths
            .as_object_mut()
            .expect("auths was just made an object")
    }

    /// The helper that holds `key`'s credentials, if one does.
    fn helper_for(&self, key: &str) -> Option<String> {
        let named = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_string)
        };
        let specific = self
            .document
            .get("credHelpers")
            .and_then(|helpers| named(helpers.get(key)));
        specific.or_else(|| named(self.document.get("credsStore")))
    }

    /// The program of the helper called `name`.
    fn helper(&self, name: &str) -> PathBuf {
        let program = format!("{HELPER_PREFIX}{name}");
        match &self.helper_dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        }
    }

    /// The credentials for a registry (`docker.io`, `localhost:5000`, or a
    /// key), empty when none are stored.
    pub fn get(&self, registry: &str) -> anyhow::Result<AuthConfig> {
        let key = auth_key(registry);
        match self.helper_for(&key) {
            Some(helper) => helper_get(&self.helper(&helper), &key),
            None => Ok(self.file_get(&key)),
        }
    }

    /// docker's file store: the exact key, else a legacy key that is a URL
    /// of the same host.
    fn file_get(&self, key: &str) -> AuthConfig {
        let exact = self
            .auths()
            .find(|(stored, _)| stored.as_str() == key)
            .or_else(|| {
                self.auths()
                    .find(|(stored, _)| convert_to_hostname(stored) == key)
            });
        exact
            .and_then(|(stored, entry)| decode_entry(stored, entry).ok())
            .unwrap_or_default()
    }

    /// Stores `auth` under its `server_address`, in its helper or in the
    /// file (rewritten only when something changed).
    pub fn store(&mut self, auth: &AuthConfig) -> anyhow::Result<Stored> {
        let key = auth.server_address.clone();
        if let Some(helper) = self.helper_for(&key) {
            helper_store(&self.helper(&helper), auth)?;
            // As docker: the file keeps an entry without secrets.
            let bare = AuthConfig {
                server_address: key.clone(),
                ..AuthConfig::default()
            };
            self.file_store(&key, &bare)?;
            return Ok(Stored::Quietly);
        }
        let changed = self.file_store(&key, auth)?;
        Ok(if changed && !auth.password.is_empty() {
            Stored::InPlainText
        } else {
            Stored::Quietly
        })
    }

    fn file_store(&mut self, key: &str, auth: &AuthConfig) -> anyhow::Result<bool> {
        let unchanged = self
            .auths()
            .find(|(stored, _)| stored.as_str() == key)
            .and_then(|(stored, entry)| decode_entry(stored, entry).ok())
            .is_some_and(|old| old == *auth);
        if unchanged {
            return Ok(false);
        }
        let auths = self.auths_mut();
        auths.insert(key.to_string(), encode_entry(auth));
        auths.sort_keys();
        self.save()?;
        Ok(true)
    }

    /// Removes `key`'s credentials, from its helper and from the file.
    pub fn erase(&mut self, key: &str) -> anyhow::Result<()> {
        if let Some(helper) = self.helper_for(key) {
            helper_erase(&self.helper(&helper), key)?;
        }
        if self.auths_mut().remove(key).is_some() {
            self.save()?;
        }
        Ok(())
    }

    /// Writes the file as docker does: tab-indented JSON, through a
    /// temporary file renamed over the old one (through a symlink to its
    /// target), keeping the old file's mode; a new file is 0600 in a 0700
    /// directory.
    pub fn save(&self) -> anyhow::Result<()> {
        let target = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let dir = target.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                anyhow::anyhow!("mkdir {}: {}", dir.display(), super::io_error_text(&e))
            })?;
        let mut temp = tempfile::Builder::new()
            .prefix(CONFIG_FILE)
            .tempfile_in(dir)
            .map_err(|e| anyhow::anyhow!("{}", super::io_error_text(&e)))?;
        let mut text = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        serde::Serialize::serialize(&self.document, &mut serializer)?;
        temp.write_all(&text)?;
        if let Ok(old) = std::fs::metadata(&target) {
            temp.as_file().set_permissions(old.permissions())?;
        }
        temp.persist(&target).map_err(|e| {
            anyhow::anyhow!(
                "rename {}: {}",
                target.display(),
                super::io_error_text(&e.error)
            )
        })?;
        Ok(())
    }
}

/// One `auths` entry as stored: `auth` is `base64(user:password)`; a
/// token replaces the password.
fn encode_entry(auth: &AuthConfig) -> Value {
    let mut entry = Map::new();
    if !auth.username.is_empty() || !auth.password.is_empty() {
        let pair = format!("{}:{}", auth.username, auth.password);
        entry.insert("auth".into(), STANDARD.encode(pair).into());
    }
    if !auth.identity_token.is_empty() {
        entry.insert("identitytoken".into(), auth.identity_token.clone().into());
    }
    if !auth.registry_token.is_empty() {
        entry.insert("registrytoken".into(), auth.registry_token.clone().into());
    }
    Value::Object(entry)
}

/// An `auths` entry as credentials for `key`.
fn decode_entry(key: &str, entry: &Value) -> anyhow::Result<AuthConfig> {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut auth = AuthConfig {
        username: field("username"),
        password: field("password"),
        server_address: key.to_string(),
        identity_token: field("identitytoken"),
        registry_token: field("registrytoken"),
        ..AuthConfig::default()
    };
    let encoded = field("auth");
    if !encoded.is_empty() {
        let decoded = STANDARD
            .decode(encoded.trim_end_matches('\0'))
            .map_err(|e| anyhow::anyhow!("illegal base64 data in auth for {key}: {e}"))?;
        let decoded = String::from_utf8_lossy(&decoded);
        match decoded.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                auth.username = user.to_string();
                auth.password = password.trim_matches('\0').to_string();
            }
            _ => anyhow::bail!("invalid auth configuration file"),
        }
    }
    Ok(auth)
}

/// The protocol's credentials object.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperCredentials {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// Runs `docker-credential-NAME ACTION` with `input` on stdin: its
/// stdout, or the failure with what it printed.
fn run_helper(program: &Path, action: &str, input: &[u8]) -> Result<String, (String, String)> {
    let child = Command::new(program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err((
                format!(
                    "exec: \"{}\": executable file not found in $PATH",
                    program.display()
                ),
                String::new(),
            ))
        }
        Err(e) => return Err((super::io_error_text(&e), String::new())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading reports through its status.
        let _ = stdin.write_all(input);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| (super::io_error_text(&e), String::new()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() {
        Ok(stdout)
    } else {
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "signal: killed".to_string(),
        };
        Err((status, stdout))
    }
}

fn helper_get(helper: &Path, key: &str) -> anyhow::Result<AuthConfig> {
    let out = match run_helper(helper, "get", key.as_bytes()) {
        Ok(out) => out,
        Err((_, out)) if out == NOT_FOUND => return Ok(AuthConfig::default()),
        Err((err, out)) => {
            anyhow::bail!("error getting credentials - err: {err}, out: `{out}`")
        }
    };
    let creds: HelperCredentials = serde_json::from_str(&out)
        .map_err(|e| anyhow::anyhow!("error getting credentials - {e}"))?;
    let mut auth = AuthConfig {
        server_address: key.to_string(),
        ..AuthConfig::default()
    };
    if creds.username == TOKEN_USERNAME {
        auth.identity_token = creds.secret;
    } else {
        auth.username = creds.username;
        auth.password = creds.secret;
    }
    Ok(auth)
}

fn helper_store(helper: &Path, auth: &AuthConfig) -> anyhow::Result<()> {
    let creds = if auth.identity_token.is_empty() {
        HelperCredentials {
            server_url: auth.server_address.clone(),
            username: auth.username.clone(),
            secret: auth.password.clone(),
        }
    } else {
        HelperCredentials {
            server_url: auth.server_address.clone(),
            username: TOKEN_USERNAME.to_string(),
            secret: auth.identity_token.clone(),
        }
    };
    let input = serde_json::to_vec(&creds)?;
    run_helper(helper, "store", &input)
        .map(drop)
        .map_err(|(err, out)| {
            anyhow::anyhow!("error storing credentials - err: {err}, out: `{out}`")
        })
}

fn helper_erase(helper: &Path, key: &str) -> anyhow::Result<()> {
    run_helper(helper, "erase", key.as_bytes())
        .map(drop)
        .map_err(|(err, out)| {
            anyhow::anyhow!("error erasing credentials - err: {err}, out: `{out}`")
        })
}

/// The first executable file named `name` on `$PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn user(server: &str, name: &str, password: &str) -> AuthConfig {
        AuthConfig {
            username: name.into(),
            password: password.into(),
            server_address: server.into(),
            ..AuthConfig::default()
        }
    }

    fn read(dir: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(CONFIG_FILE)).unwrap()).unwrap()
    }

    #[test]
    fn docker_hub_and_registries_have_dockers_keys() {
        assert_eq!(auth_key("docker.io"), INDEX_SERVER);
        assert_eq!(auth_key("index.docker.io"), INDEX_SERVER);
        assert_eq!(auth_key("localhost:5000"), "localhost:5000");
        assert_eq!(convert_to_hostname("https://host:5000/v2/"), "host:5000");
        assert_eq!(convert_to_hostname("http://host"), "host");
        assert_eq!(convert_to_hostname("host:5000/x"), "host:5000");
        assert_eq!(convert_to_hostname("host"), "host");
    }

    #[test]
    fn a_new_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        let mut config = ConfigFile::load(&conf).unwrap();
        assert_eq!(config.get("localhost:5000").unwrap(), AuthConfig::default());
        let stored = config
            .store(&user("localhost:5000", "me", "s3cr:et"))
            .unwrap();
        assert_eq!(stored, Stored::InPlainText);
        let mode = std::fs::metadata(conf.join(CONFIG_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&conf).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(
            std::fs::read_to_string(conf.join(CONFIG_FILE)).unwrap(),
            "{\n\t\"auths\": {\n\t\t\"localhost:5000\": {\n\t\t\t\"auth\": \"bWU6czNjcjpldA==\"\n\t\t}\n\t}\n}"
        );
        let again = ConfigFile::load(&conf).unwrap();
        assert_eq!(
            again.get("localhost:5000").unwrap(),
            user("localhost:5000", "me", "s3cr:et")
        );
        // The same credentials again change nothing and warn about nothing.
        let mut again = again;
        assert_eq!(
            again
                .store(&user("localhost:5000", "me", "s3cr:et"))
                .unwrap(),
            Stored::Quietly
        );
    }

    #[test]
    fn unknown_keys_and_the_old_mode_survive_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &file,
            r#"{"psFormat":"{{.ID}}","auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}},"plugins":{"x":{"k":"v"}},"someday":[1,2]}"#,
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut config = ConfigFile::load(dir.path()).unwrap();
        assert_eq!(
            config.get("docker.io").unwrap(),
            user(INDEX_SERVER, "hub", "pw")
        );
        config.store(&user("b.example:443", "me", "pw")).unwrap();
        let doc = read(dir.path());
        assert_eq!(doc["psFormat"], "{{.ID}}");
        assert_eq!(doc["plugins"]["x"]["k"], "v");
        assert_eq!(doc["someday"], serde_json::json!([1, 2]));
        let keys: Vec<_> = doc["auths"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b.example:443", INDEX_SERVER]);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);

        config.erase(INDEX_SERVER).unwrap();
        config.erase("never-stored").unwrap();
        let doc = read(dir.path());
        assert!(doc["auths"].get(INDEX_SERVER).is_none());
        assert_eq!(doc["psFormat"], "{{.ID}}");
    }

    #[test]
    fn legacy_url_keys_and_tokens_are_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"{"auths":{"https://reg.example:5000":{"auth":"bWU6","identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let config = ConfigFile::load(dir.path()).unwrap();
        let auth = config.get("reg.example:5000").unwrap();
        assert_eq!(auth.username, "me");
        assert_eq!(auth.password, "");
        assert_eq!(auth.identity_token, "tok");
        assert_eq!(auth.server_address, "https://reg.example:5000");
    }

    #[test]
    fn broken_files_are_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "{not json").unwrap();
        let err = ConfigFile::load(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("parsing config file ("), "{err}");
        std::fs::write(&file, r#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#).unwrap();
        let err = format!("{:#}", ConfigFile::load(dir.path()).unwrap_err());
        assert!(err.ends_with("invalid auth configuration file"), "{err}");
        std::fs::write(&file, "").unwrap();
        assert!(ConfigFile::load(dir.path()).is_ok());
    }

    #[test]
    fn credential_helpers_take_the_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = dir.path().join("helper.log");
        let helper = bin.join("docker-credential-berthtest");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\ninput=$(cat)\necho \"$1 $input\" >> {log}\ncase $1 in\n  get) if [ \"$input\" = h.example ]; then echo '{{\"ServerURL\":\"h.example\",\"Username\":\"<token>\",\"Secret\":\"tok\"}}'; else echo '{NOT_FOUND}'; exit 1; fi;;\nesac\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("conf");
        std::fs::create_dir(&conf).unwrap();
        std::fs::write(
            conf.join(CONFIG_FILE),
            r#"{"credHelpers":{"h.example":"berthtest","other.example":"berthtest"}}"#,
        )
        .unwrap();
        let mut config = ConfigFile::load(&conf).unwrap();
        config.helper_dir = Some(bin.clone());
        let auth = config.get("h.example").unwrap();
        assert_eq!(auth.identity_token, "tok");
        assert_eq!(auth.username, "");
        assert_eq!(config.get("other.example").unwrap(), AuthConfig::default());
        let stored = config.store(&user("other.example", "me", "pw")).unwrap();
        assert_eq!(stored, Stored::Quietly);
        config.erase("other.example").unwrap();
        let doc = read(&conf);
        assert!(doc["auths"].get("other.example").is_none());
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(
            calls.contains(
                "store {\"ServerURL\":\"other.example\",\"Username\":\"me\",\"Secret\":\"pw\"}"
            ),
            "{calls}"
        );
        assert!(calls.contains("erase other.example"), "{calls}");
    }
}
