//! `berth version` and `berth info`, laid out like docker's.

use super::{out, StatusError};
use crate::format::binary_size;
use crate::format::template::{Missing, Template};
use berth_api::system::{Info, Version};
use berth_client::Client;
use serde_json::{json, Value};
use std::fmt::Write;

const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Format output using a Go template subset ({{.Client.Version}}, {{.Server.Version}}, {{json .}})
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Format output using a Go template subset ({{.ServerVersion}}, {{json .}})
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Go's name for this machine's architecture, as docker prints `OS/Arch`.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `berth version`: the client's section always, the server's when it
/// answers.
pub async fn version(client: &Client, args: VersionArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let server = client.version().await;
    if let Some(template) = template {
        let mut data = json!({
            "Client": {
                "Version": CLIENT_VERSION,
                "ApiVersion": berth_api::API_VERSION,
                "APIVersion": berth_api::API_VERSION,
                "Os": std::env::consts::OS,
                "Arch": go_arch(),
            },
            "Server": null,
        });
        if let Ok(version) = &server {
            let mut value = serde_json::to_value(version)?;
            value["APIVersion"] = value["ApiVersion"].clone();
            value["MinAPIVersion"] = value["MinApiVersion"].clone();
            data["Server"] = value;
        }
        out(&format!("{}\n", template.render(&data, Missing::NoValue)?));
        return server.map(drop).map_err(Into::into);
    }
    out(&client_section());
    let version = server?;
    out(&server_section(&version));
    Ok(())
}

/// A `Label:` padded to docker's 20-column tabwriter cell.
fn field(text: &mut String, label: &str, value: &str) {
    writeln!(text, "{label:<19} {value}").expect("writing to a String never fails");
}

fn client_section() -> String {
    let mut text = String::from("Client:\n");
    field(&mut text, " Version:", CLIENT_VERSION);
    field(&mut text, " API version:", berth_api::API_VERSION);
    field(
        &mut text,
        " OS/Arch:",
        &format!("{}/{}", std::env::consts::OS, go_arch()),
    );
    text
}

fn server_section(version: &Version) -> String {
    let mut text = String::from("\nServer:");
    if !version.platform.name.is_empty() {
        text.push(' ');
        text.push_str(&version.platform.name);
    }
    text.push_str("\n Engine:\n");
    field(&mut text, "  Version:", &version.version);
    field(
        &mut text,
        "  API version:",
        &format!(
            "{} (minimum version {})",
            version.api_version, version.min_api_version
        ),
    );
    for (label, value) in [
        ("  Go version:", &version.go_version),
        ("  Git commit:", &version.git_commit),
        ("  Built:", &version.build_time),
    ] {
        if !value.is_empty() {
            field(&mut text, label, value);
        }
    }
    field(
        &mut text,
        "  OS/Arch:",
        &format!("{}/{}", version.os, version.arch),
    );
    if !version.kernel_version.is_empty() {
        field(&mut text, "  Kernel Version:", &version.kernel_version);
    }
    for component in version.components.iter().filter(|c| c.name != "Engine") {
        writeln!(text, " {}:", component.name).expect("writing to a String never fails");
        field(&mut text, "  Version:", &component.version);
    }
    text
}

/// `berth info`.
pub async fn info(client: &Client, args: InfoArgs) -> anyhow::Result<()> {
    let template = args.format.as_deref().map(Template::parse).transpose()?;
    let info = client.info().await;
    if let Some(template) = template {
        let info = info?;
        let data: Value = serde_json::to_value(&info)?;
        out(&format!("{}\n", template.render(&data, Missing::NoValue)?));
        return Ok(());
    }
    out(&format!(
        "Client:\n Version:    {CLIENT_VERSION}\n Debug Mode: false\n\nServer:\n"
    ));
    match info {
        Ok(info) => {
            out(&server_info(&info));
            Ok(())
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            Err(StatusError {
                status: 1,
                message: "errors pretty printing info".to_string(),
            }
            .into())
        }
    }
}

fn server_info(info: &Info) -> String {
    let mut text = String::new();
    let t = &mut text;
    line(t, 1, "Containers", &info.containers);
    line(t, 2, "Running", &info.containers_running);
    line(t, 2, "Paused", &info.containers_paused);
    line(t, 2, "Stopped", &info.containers_stopped);
    line(t, 1, "Images", &info.images);
    line(t, 1, "Server Version", &info.server_version);
    line(t, 1, "Storage Driver", &info.driver);
    for pair in &info.driver_status {
        if let [key, value] = pair.as_slice() {
            line(t, 2, key, value);
        }
    }
    line(t, 1, "Logging Driver", &info.logging_driver);
    line(t, 1, "Cgroup Driver", &info.cgroup_driver);
    line(t, 1, "Cgroup Version", &info.cgroup_version);
    if !info.default_runtime.is_empty() {
        line(t, 1, "Default Runtime", &info.default_runtime);
    }
    if !info.security_options.is_empty() {
        t.push_str(" Security Options:\n");
        for option in &info.security_options {
            t.push_str(&security_option(option));
        }
    }
    line(t, 1, "Kernel Version", &info.kernel_version);
    line(t, 1, "Operating System", &info.operating_system);
    line(t, 1, "OSType", &info.os_type);
    line(t, 1, "Architecture", &info.architecture);
    line(t, 1, "CPUs", &info.ncpu);
    line(t, 1, "Total Memory", &binary_size(info.mem_total));
    line(t, 1, "Name", &info.name);
    line(t, 1, "ID", &info.id);
    line(t, 1, "Docker Root Dir", &info.docker_root_dir);
    line(t, 1, "Experimental", &info.experimental_build);
    line(t, 1, "Live Restore Enabled", &info.live_restore_enabled);
    if !info.labels.is_empty() {
        t.push_str(" Labels:\n");
        for label in &info.labels {
            writeln!(t, "  {label}").expect("writing to a String never fails");
        }
    }
    text
}

/// ` Label: value`, indented by `indent` spaces.
fn line(text: &mut String, indent: usize, label: &str, value: &dyn std::fmt::Display) {
    writeln!(text, "{:indent$}{label}: {value}", "").expect("writing to a String never fails");
}

/// `name=seccomp,profile=builtin` -> `  seccomp` / `   Profile: builtin`.
fn security_option(option: &str) -> String {
    let mut text = String::new();
    for pair in option.split(',') {
        match pair.split_once('=') {
            Some(("name", name)) => writeln!(text, "  {name}"),
            Some((key, value)) => {
                let mut chars = key.chars();
                let key: String = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                writeln!(text, "   {key}: {value}")
            }
            None => writeln!(text, "  {pair}"),
        }
        .expect("writing to a String never fails");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_sections_align_at_column_twenty() {
        let version = Version {
            platform: berth_api::system::Component {
                name: "Berth".into(),
                version: String::new(),
            },
            version: "0.1.0".into(),
            api_version: "1.45".into(),
            min_api_version: "1.24".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            ..Default::default()
        };
        assert_eq!(
            server_section(&version),
            "\nServer: Berth\n Engine:\n  Version:          0.1.0\n  API version:      1.45 (minimum version 1.24)\n  OS/Arch:          linux/amd64\n"
        );
        assert!(client_section().starts_with("Client:\n Version:           "));
    }

    #[test]
    fn info_lists_the_essentials() {
        let info = Info {
            containers: 3,
            containers_running: 1,
            containers_stopped: 2,
            images: 5,
            server_version: "0.1.0".into(),
            driver: "overlay".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: "1".into(),
            mem_total: 16_673_947_648,
            ncpu: 8,
            security_options: vec!["name=seccomp,profile=builtin".into()],
            docker_root_dir: "/var/lib/berth".into(),
            ..Default::default()
        };
        let text = server_info(&info);
        assert!(text.starts_with(" Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 5\n Server Version: 0.1.0\n Storage Driver: overlay\n"));
        assert!(text.contains(" Security Options:\n  seccomp\n   Profile: builtin\n"));
        assert!(text.contains(" CPUs: 8\n Total Memory: 15.53GiB\n"));
        assert!(text.contains(" Docker Root Dir: /var/lib/berth\n"));
    }
}
