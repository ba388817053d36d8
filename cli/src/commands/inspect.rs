//! `berth inspect`: raw JSON for containers and images (a container is tried
//! first), printed as docker prints it, or through `-f/--format`.

use super::{out, StatusError};
use crate::format::template::{Missing, Template};
use berth_client::{Client, ClientError};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectType {
    Container,
    Image,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template subset (field paths, json, index, join)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only inspect objects of this type
    #[arg(long = "type", value_enum)]
    pub kind: Option<ObjectType>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// `berth inspect`.
pub async fn inspect(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    let template = args
        .format
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|e| StatusError {
            status: 64,
            message: format!("template parsing error: {e}"),
        })?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match lookup(client, name, args.kind).await {
            Ok(value) => found.push(value),
            Err(e) => failures.push(e),
        }
    }
    match &template {
        Some(template) => {
            let mut text = String::new();
            for value in &found {
                text.push_str(&template.render(value, Missing::NoValue)?);
                text.push('\n');
            }
            out(&text);
        }
        None => out(&format!("{}\n", indented(&found))),
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

/// Finds `name` as a container, then as an image; errors say
/// `Error: No such object: NAME` as docker's do.
async fn lookup(client: &Client, name: &str, kind: Option<ObjectType>) -> Result<Value, String> {
    let missing = |what: &str| format!("Error: No such {what}: {name}");
    let other = |e: ClientError| e.to_string();
    if kind != Some(ObjectType::Image) {
        match client.inspect_container_raw(name).await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(other(e)),
        }
        if kind == Some(ObjectType::Container) {
            return Err(missing("container"));
        }
    }
    match client.inspect_image_raw(name).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_not_found() && kind == Some(ObjectType::Image) => Err(missing("image")),
        Err(e) if e.is_not_found() => Err(missing("object")),
        Err(e) => Err(other(e)),
    }
}

/// JSON indented by four spaces, as docker's `json.MarshalIndent` output.
fn indented(values: &[Value]) -> String {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    values
        .serialize(&mut serializer)
        .expect("JSON values always serialize");
    String::from_utf8(buffer).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_is_an_array_indented_by_four_spaces_in_the_daemons_key_order() {
        let values = vec![json!({"Args": [], "Id": "abc", "State": {"Pid": 1}})];
        assert_eq!(
            indented(&values),
            "[\n    {\n        \"Args\": [],\n        \"Id\": \"abc\",\n        \"State\": {\n            \"Pid\": 1\n        }\n    }\n]"
        );
        assert_eq!(indented(&[]), "[]");
    }
}
