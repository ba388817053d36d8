//! `berth top CONTAINER [ps OPTIONS]`: the container's processes as the
//! daemon's `ps` lists them, in docker's 20-column table.

use super::out;
use crate::format::table::tabwrite_with_min_width;
use berth_client::{Client, TopResponse};

/// Narrowest column of docker's `top` table.
const TOP_MIN_WIDTH: usize = 20;

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps, passed as they are
    #[arg(
        value_name = "ps OPTIONS",
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_options: Vec<String>,
}

impl TopArgs {
    /// The ps options joined by spaces, or `None` for the daemon's default.
    pub fn ps_args(&self) -> Option<String> {
        (!self.ps_options.is_empty()).then(|| self.ps_options.join(" "))
    }
}

/// `berth top`.
pub async fn top(client: &Client, args: TopArgs) -> anyhow::Result<()> {
    let top = client
        .top_container(&args.container, args.ps_args().as_deref())
        .await?;
    out(&render(&top));
    Ok(())
}

/// The titles, then one line per process, aligned.
fn render(top: &TopResponse) -> String {
    let mut text = top.titles.join("\t");
    text.push('\n');
    for process in &top.processes {
        text.push_str(&process.join("\t"));
        text.push('\n');
    }
    tabwrite_with_min_width(&text, TOP_MIN_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        top: TopArgs,
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn processes_align_in_twenty_wide_columns() {
        let top = TopResponse {
            titles: strings(&["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]),
            processes: vec![
                strings(&[
                    "root",
                    "4242",
                    "4200",
                    "0",
                    "10:00",
                    "?",
                    "00:00:00",
                    "sleep 301",
                ]),
                strings(&[
                    "root",
                    "4250",
                    "4242",
                    "0",
                    "10:00",
                    "?",
                    "00:00:00",
                    "sleep 300",
                ]),
            ],
        };
        let want = "\
UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD
root                4242                4200                0                   10:00               ?                   00:00:00            sleep 301
root                4250                4242                0                   10:00               ?                   00:00:00            sleep 300
";
        assert_eq!(render(&top), want);
    }

    #[test]
    fn wide_cells_widen_their_column() {
        let top = TopResponse {
            titles: strings(&["USER", "COMMAND"]),
            processes: vec![strings(&["a-very-long-user-name-here", "sh"])],
        };
        assert_eq!(
            render(&top),
            "USER                         COMMAND\na-very-long-user-name-here   sh\n"
        );
        assert_eq!(render(&TopResponse::default()), "\n");
    }

    #[test]
    fn ps_options_follow_the_container_verbatim() {
        let cli = Cli::try_parse_from(["top", "box", "-o", "pid,comm"]).unwrap();
        assert_eq!(cli.top.container, "box");
        assert_eq!(cli.top.ps_args().as_deref(), Some("-o pid,comm"));
        let cli = Cli::try_parse_from(["top", "box", "aux"]).unwrap();
        assert_eq!(cli.top.ps_args().as_deref(), Some("aux"));
        let cli = Cli::try_parse_from(["top", "box", "-ef"]).unwrap();
        assert_eq!(cli.top.ps_args().as_deref(), Some("-ef"));
        let cli = Cli::try_parse_from(["top", "box"]).unwrap();
        assert_eq!(cli.top.ps_args(), None);
        assert!(Cli::try_parse_from(["top"]).is_err());
    }
}
