//! `berth inspect`: raw JSON for containers and images (a container is tried
//! first), printed as docker prints it, or through `-f/--format`.

use super::{inspect_template, print_inspected};
use berth_client::{Client, ClientError};
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
    let template = inspect_template(args.format.as_deref())?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match lookup(client, name, args.kind).await {
            Ok(value) => found.push(value),
            Err(e) => failures.push(e),
        }
    }
    print_inspected(&found, template.as_ref(), &failures)
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
