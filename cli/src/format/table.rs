//! Tables and list output: Go's `text/tabwriter` as docker configures it
//! (`NewWriter(out, 10, 1, 3, ' ', 0)`), and the `--format` conventions of
//! `ps` and `images` (`table ...`, `json`, plain templates, `\t` escapes).

use super::template::{Missing, Template, TemplateError};
use serde_json::Value;

/// Narrowest column docker's tables use.
const MIN_WIDTH: usize = 10;
/// Spaces after the widest cell of a column.
const PADDING: usize = 3;

/// Aligns tab-separated text into columns exactly as Go's tabwriter does:
/// a column block is a run of consecutive lines that have a tab-terminated
/// cell in that column; its width is the widest cell plus 3 (at least 10);
/// a line's last cell is not part of any column and is never padded.
pub fn tabwrite(text: &str) -> String {
    tabwrite_with_min_width(text, MIN_WIDTH)
}

/// [`tabwrite`] with another narrowest column (`docker top` uses 20).
pub fn tabwrite_with_min_width(text: &str, min_width: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut writer = Tabwriter {
        lines: &lines,
        min_width,
        widths: Vec::new(),
        out: String::with_capacity(text.len() * 2),
    };
    writer.format(0, lines.len());
    writer.out
}

struct Tabwriter<'a> {
    lines: &'a [Vec<&'a str>],
    min_width: usize,
    widths: Vec<usize>,
    out: String,
}

impl Tabwriter<'_> {
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(self.lines[this][column].chars().count() + PADDING);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(cell);
                if let Some(width) = self.widths.get(j) {
                    let pad = width - cell.chars().count();
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }
}

/// A `--format` value for a list command, resolved.
#[derive(Debug)]
pub enum ListFormat {
    /// A header row from the column names, then aligned rows.
    Table(Template),
    /// One rendered line per row, no header, no alignment.
    Lines(Template),
}

impl ListFormat {
    /// Resolves `--format` (and `-q`) as docker does: empty or `table` give
    /// `default` (itself a `table ...` format), `table X` a custom table, `json` one JSON object
    /// per line, anything else a template per row; `\t` and `\n` written
    /// literally in the format become tabs and newlines.
    pub fn parse(
        format: Option<&str>,
        quiet: bool,
        default: &str,
    ) -> Result<ListFormat, TemplateError> {
        if quiet {
            return Ok(ListFormat::Lines(Template::parse("{{.ID}}")?));
        }
        let format = match format.unwrap_or("") {
            "" | "table" => default,
            format => format,
        };
        let unescape = |text: &str| {
            text.trim_matches(' ')
                .replace("\\t", "\t")
                .replace("\\n", "\n")
        };
        Ok(if format == "json" {
            ListFormat::Lines(Template::parse("{{json .}}")?)
        } else if let Some(rest) = format.strip_prefix("table") {
            ListFormat::Table(Template::parse(&unescape(rest))?)
        } else {
            ListFormat::Lines(Template::parse(&unescape(format))?)
        })
    }

    /// Renders `rows` (objects of display strings); `headers` maps the same
    /// keys to column titles.
    pub fn render(&self, headers: &Value, rows: &[Value]) -> Result<String, TemplateError> {
        let mut text = String::new();
        let template = match self {
            ListFormat::Table(template) => {
                text.push_str(&template.render(headers, Missing::Error)?);
                text.push('\n');
                template
            }
            ListFormat::Lines(template) => template,
        };
        for row in rows {
            text.push_str(&template.render(row, Missing::Error)?);
            text.push('\n');
        }
        Ok(match self {
            ListFormat::Table(_) => tabwrite(&text),
            ListFormat::Lines(_) => text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_pad_to_widest_cell_plus_three_with_a_minimum_of_ten() {
        let text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
                    0123456789ab\tbusybox\t\"sleep 100\"\t5 seconds ago\tUp 4 seconds\t\tweb\n";
        let want = "CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS     NAMES\n\
                    0123456789ab   busybox   \"sleep 100\"   5 seconds ago   Up 4 seconds             web\n";
        assert_eq!(tabwrite(text), want);
    }

    #[test]
    fn header_alone_matches_docker() {
        assert_eq!(
            tabwrite("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(
            tabwrite("A\tB\n\"abcdefghijklmnopqrs…\"\tx\n"),
            "A                        B\n\"abcdefghijklmnopqrs…\"   x\n"
        );
    }

    #[test]
    fn a_line_without_the_column_ends_the_block() {
        // Go's tabwriter sizes each column per block of adjacent lines.
        assert_eq!(
            tabwrite("aaaaaaaaaaaa\tb\nc\nd\te\n"),
            "aaaaaaaaaaaa   b\nc\nd         e\n"
        );
    }

    #[test]
    fn list_formats_resolve_like_docker() {
        let headers = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let rows = vec![json!({"ID": "abc", "Names": "web"})];
        let table = ListFormat::parse(Some("table {{.ID}}\\t{{.Names}}"), false, "").unwrap();
        assert_eq!(
            table.render(&headers, &rows).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        let lines = ListFormat::parse(Some("{{.ID}}\\t{{.Names}}"), false, "").unwrap();
        assert_eq!(lines.render(&headers, &rows).unwrap(), "abc\tweb\n");
        let quiet = ListFormat::parse(Some("{{.Names}}"), true, "").unwrap();
        assert_eq!(quiet.render(&headers, &rows).unwrap(), "abc\n");
        let json = ListFormat::parse(Some("json"), false, "").unwrap();
        assert_eq!(
            json.render(&headers, &rows).unwrap(),
            "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
        );
        let default = ListFormat::parse(Some("table"), false, "table {{.Names}}").unwrap();
        assert_eq!(default.render(&headers, &rows).unwrap(), "NAMES\nweb\n");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        let format = ListFormat::parse(Some("{{.Nope}}"), false, "").unwrap();
        let err = format
            .render(&json!({}), &[json!({"ID": "abc"})])
            .unwrap_err();
        assert!(
            err.to_string().contains("can't evaluate field Nope"),
            "{err}"
        );
    }
}
