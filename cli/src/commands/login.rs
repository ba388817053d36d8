//! `berth login` and `berth logout`, as docker's
//! `cli/command/registry/login.go` and `logout.go` (and the prompts of
//! `cli/command/registry.go`).
//!
//! Login checks the credentials through the daemon (`POST /auth`), then
//! stores them (see [`super::credentials`]) and prints the daemon's status,
//! `Login Succeeded`. With no `-u`/`-p` it first tries the credentials
//! already stored; otherwise it asks for what is missing on the terminal
//! (the password without echo), and refuses to ask when stdin is not one.
//! Docker Hub's browser sign-in (device code) is not offered: Hub takes
//! the user name and password or access token like any registry.

use super::credentials::{
    convert_to_hostname, ConfigFile, Stored, DEFAULT_NAMESPACE, INDEX_SERVER,
};
use super::{out, StatusError};
use crate::terminal;
use berth_client::{AuthConfig, Client};
use nix::sys::termios::{self, LocalFlags, SetArg, Termios};
use std::io::{self, IsTerminal, Read};

const REGISTER_SUGGEST: &str = "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";
const PAT_SUGGEST: &str = "You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT grants better security and is required for organizations using SSO. Learn more at https://docs.docker.com/go/access-tokens/";
const UNENCRYPTED_WARNING: &str = "Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/";

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password or Personal Access Token (PAT), or "-" to read from stdin
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry; Docker Hub when none is given
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry; Docker Hub when none is given
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// docker's `verifyLoginFlags`: the combinations refused before anything
/// is read.
pub fn check_flags(args: &LoginArgs) -> Result<(), &'static str> {
    let password_dash = args.password.as_deref() == Some("-");
    if args.password_stdin || password_dash {
        if args.password.is_some() && !password_dash {
            return Err("conflicting options: cannot specify both --password and --password-stdin");
        }
        if args.username.is_none() {
            return Err("the --password-stdin option requires --username to be set");
        }
    }
    if args.username.as_deref() == Some("") {
        return Err("username is empty");
    }
    if args.password.as_deref() == Some("") {
        return Err("password is empty");
    }
    Ok(())
}

/// All of `reader`, less one line ending (`\r\n`, `\n` or `\r`); any other
/// whitespace is part of the secret.
pub fn read_secret(mut reader: impl Read) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    for end in [&b"\r\n"[..], b"\n", b"\r"] {
        if bytes.ends_with(end) {
            bytes.truncate(bytes.len() - end.len());
            break;
        }
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The registry to log in to and the key its credentials go under:
/// Docker Hub's for none (or `docker.io`), else the host of the address.
pub fn server_key(server: Option<&str>) -> String {
    match server {
        Some(server) if !server.is_empty() && server != DEFAULT_NAMESPACE => {
            if server == INDEX_SERVER {
                server.to_string()
            } else {
                convert_to_hostname(server)
            }
        }
        _ => INDEX_SERVER.to_string(),
    }
}

/// `berth login`.
pub async fn login(client: &Client, args: LoginArgs) -> anyhow::Result<()> {
    check_flags(&args).map_err(anyhow::Error::msg)?;
    let mut user = args.username.clone().unwrap_or_default();
    let mut password = args.password.clone().unwrap_or_default();
    let mut password_stdin = args.password_stdin;
    if password == "-" {
        password.clear();
        password_stdin = true;
    }
    if !password.is_empty() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if password_stdin {
        if user.is_empty() {
            anyhow::bail!("username is empty");
        }
        password = read_secret(io::stdin().lock())?;
        if password.trim().is_empty() {
            anyhow::bail!("password is empty");
        }
    }
    let key = server_key(args.server.as_deref());
    // A config that cannot be read is an error here: saving would lose it.
    let mut config = ConfigFile::load_default()?;

    let stored = if user.is_empty() && password.is_empty() {
        config.get(&key).unwrap_or_default()
    } else {
        AuthConfig::default()
    };
    if !stored.username.is_empty() && !stored.password.is_empty() {
        let candidate = AuthConfig {
            username: stored.username.clone(),
            password: stored.password.clone(),
            server_address: key.clone(),
            registry_token: stored.registry_token.clone(),
            ..AuthConfig::default()
        };
        eprintln!(
            "Authenticating with existing credentials... [Username: {}]",
            candidate.username
        );
        eprint!(
            "{}\n\n",
            note("To login with a different account, run 'berth logout' followed by 'berth login'")
        );
        match client.auth(&candidate).await {
            Ok(reply) => return finish(&mut config, candidate, reply),
            Err(e) if e.status() == Some(401) => eprintln!("Stored credentials invalid or expired"),
            Err(e) => eprintln!("Login did not succeed, error: {e}"),
        }
    }

    if (user.is_empty() || password.is_empty()) && !terminal::stdin_is_terminal() {
        anyhow::bail!("error: cannot perform an interactive login from a non-TTY device");
    }
    if user.trim().is_empty() {
        user = prompt_username(&key, &stored.username).await?;
    }
    if password.trim().is_empty() {
        password = prompt_password(&key).await?;
    }
    let credentials = AuthConfig {
        username: user.trim().to_string(),
        password,
        server_address: key,
        ..AuthConfig::default()
    };
    let reply = client.auth(&credentials).await?;
    finish(&mut config, credentials, reply)
}

/// Stores what worked (the identity token instead of the password when the
/// registry gave one) and prints the daemon's status.
fn finish(
    config: &mut ConfigFile,
    mut credentials: AuthConfig,
    reply: berth_client::AuthResponse,
) -> anyhow::Result<()> {
    if !reply.identity_token.is_empty() {
        credentials.password.clear();
        credentials.identity_token = reply.identity_token;
    }
    let stored = config
        .store(&credentials)
        .map_err(|e| anyhow::anyhow!("error saving credentials: {e:#}"))?;
    if stored == Stored::InPlainText {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\n{UNENCRYPTED_WARNING}\n",
            config.path().display()
        );
    }
    if !reply.status.is_empty() {
        out(&format!("{}\n", reply.status));
    }
    Ok(())
}

async fn prompt_username(key: &str, default: &str) -> anyhow::Result<String> {
    if key == INDEX_SERVER {
        out(&format!("{REGISTER_SUGGEST}\n"));
        if hints_enabled() {
            out(&format!("{PAT_SUGGEST}\n\n"));
        }
    }
    let default = default.trim();
    let message = if default.is_empty() {
        "Username: ".to_string()
    } else {
        format!("Username ({default}): ")
    };
    let mut user = read_input(&message).await?;
    if user.is_empty() {
        user = default.to_string();
    }
    if user.is_empty() {
        anyhow::bail!("error: username is required");
    }
    Ok(user)
}

async fn prompt_password(key: &str) -> anyhow::Result<String> {
    let echo = EchoOff::begin()?;
    if key == INDEX_SERVER {
        let link = if fancy(io::stderr().is_terminal()) {
            "\x1b[4mhttps://app.docker.com/settings\x1b[0m"
        } else {
            "https://app.docker.com/settings"
        };
        eprint!(
            "{}",
            note(&format!(
                "A Personal Access Token (PAT) can be used instead.\nTo create a PAT, visit {link}\n\n"
            ))
        );
    }
    let password = read_input("Password: ").await?;
    drop(echo);
    out("\n");
    if password.is_empty() {
        anyhow::bail!("error: password is required");
    }
    Ok(password)
}

/// Prints `message` and reads one line of stdin, trimmed. Ctrl-C ends
/// `berth` with status 130, as docker's prompt does.
async fn read_input(message: &str) -> anyhow::Result<String> {
    out(message);
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        io::stdin().read_line(&mut line).map(|_| line)
    });
    tokio::select! {
        line = line => Ok(line??.trim().to_string()),
        _ = tokio::signal::ctrl_c() => {
            out("\n");
            Err(StatusError::silent(130).into())
        }
    }
}

/// Turns off the terminal's echo of stdin until dropped.
struct EchoOff {
    saved: Termios,
}

impl EchoOff {
    fn begin() -> io::Result<EchoOff> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(&stdin)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
        Ok(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &self.saved).is_err() {
            eprintln!("Error: failed to restore terminal state to echo input");
        }
    }
}

/// `DOCKER_CLI_HINTS=false` turns the hints off.
fn hints_enabled() -> bool {
    !matches!(
        std::env::var("DOCKER_CLI_HINTS").as_deref(),
        Ok("0" | "f" | "F" | "false" | "FALSE" | "False")
    )
}

/// Colours for a terminal, unless `NO_COLOR` is set.
fn fancy(terminal: bool) -> bool {
    terminal && !matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty())
}

/// docker's `PrintNote` on stderr: a blank line, an ` Info -> ` header,
/// and the text with its lines aligned under the first.
fn note(text: &str) -> String {
    render_note(text, fancy(io::stderr().is_terminal()))
}

fn render_note(text: &str, fancy: bool) -> String {
    let header = if fancy {
        "\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo → \x1b[0m\x1b[0m"
    } else {
        " Info -> "
    };
    let indent = " ".repeat(9);
    let mut rendered = format!("\n{header}");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            rendered.push_str(&indent);
        }
        if fancy {
            rendered.push_str(&format!("\x1b[3m{line}\x1b[0m\n"));
        } else {
            rendered.push_str(line);
            rendered.push('\n');
        }
    }
    rendered
}

/// `berth logout`: removes the credentials under every key docker may have
/// stored them with (`host`, `http://host`, `https://host`).
pub async fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let (server, default) = match args.server {
        Some(server) if !server.is_empty() => (server, false),
        _ => (INDEX_SERVER.to_string(), true),
    };
    let mut keys = vec![server.clone()];
    let hostname = if default {
        server
    } else {
        let hostname = convert_to_hostname(&server);
        keys.extend([
            hostname.clone(),
            format!("http://{hostname}"),
            format!("https://{hostname}"),
        ]);
        hostname
    };
    let mut config = ConfigFile::load_default()?;
    out(&format!("Removing login credentials for {hostname}\n"));
    let failures: Vec<_> = keys
        .iter()
        .filter_map(|key| config.erase(key).err().map(|e| (key, e)))
        .collect();
    if failures.len() == keys.len() {
        eprintln!("WARNING: could not erase credentials:");
        for (key, error) in failures {
            eprintln!("{key}: {error:#}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(user: Option<&str>, password: Option<&str>, stdin: bool) -> LoginArgs {
        LoginArgs {
            username: user.map(str::to_string),
            password: password.map(str::to_string),
            password_stdin: stdin,
            server: None,
        }
    }

    #[test]
    fn login_flag_rules_follow_docker() {
        assert_eq!(check_flags(&args(None, None, false)), Ok(()));
        assert_eq!(check_flags(&args(Some("me"), Some("pw"), false)), Ok(()));
        assert_eq!(check_flags(&args(Some("me"), None, true)), Ok(()));
        assert_eq!(check_flags(&args(Some("me"), Some("-"), false)), Ok(()));
        assert_eq!(check_flags(&args(Some("me"), Some("-"), true)), Ok(()));
        assert_eq!(
            check_flags(&args(Some("me"), Some("pw"), true)),
            Err("conflicting options: cannot specify both --password and --password-stdin")
        );
        assert_eq!(
            check_flags(&args(None, None, true)),
            Err("the --password-stdin option requires --username to be set")
        );
        assert_eq!(
            check_flags(&args(None, Some("-"), false)),
            Err("the --password-stdin option requires --username to be set")
        );
        assert_eq!(
            check_flags(&args(Some(""), Some("pw"), false)),
            Err("username is empty")
        );
        assert_eq!(
            check_flags(&args(Some("me"), Some(""), false)),
            Err("password is empty")
        );
    }

    #[test]
    fn secrets_from_stdin_lose_one_line_ending_only() {
        assert_eq!(read_secret(&b"pw\n"[..]).unwrap(), "pw");
        assert_eq!(read_secret(&b"pw\r\n"[..]).unwrap(), "pw");
        assert_eq!(read_secret(&b"pw\r"[..]).unwrap(), "pw");
        assert_eq!(read_secret(&b" p w \n\n"[..]).unwrap(), " p w \n");
        assert_eq!(read_secret(&b""[..]).unwrap(), "");
    }

    #[test]
    fn servers_become_dockers_keys() {
        assert_eq!(server_key(None), INDEX_SERVER);
        assert_eq!(server_key(Some("")), INDEX_SERVER);
        assert_eq!(server_key(Some("docker.io")), INDEX_SERVER);
        assert_eq!(server_key(Some(INDEX_SERVER)), INDEX_SERVER);
        assert_eq!(server_key(Some("localhost:5000")), "localhost:5000");
        assert_eq!(
            server_key(Some("https://localhost:5000/v2/")),
            "localhost:5000"
        );
    }

    #[test]
    fn notes_align_their_lines_under_the_header() {
        assert_eq!(
            render_note("first\nsecond", false),
            "\n Info -> first\n         second\n"
        );
        assert!(render_note("x", true).contains("\x1b[3mx\x1b[0m\n"));
    }

    #[test]
    fn logout_and_login_parse_like_docker() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Login {
            #[command(flatten)]
            args: LoginArgs,
        }
        let login =
            Login::try_parse_from(["login", "-u", "me", "--password-stdin", "localhost:5000"])
                .unwrap()
                .args;
        assert_eq!(login.username.as_deref(), Some("me"));
        assert!(login.password_stdin);
        assert_eq!(login.server.as_deref(), Some("localhost:5000"));
        assert!(Login::try_parse_from(["login", "a", "b"]).is_err());
    }
}
