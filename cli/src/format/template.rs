//! The subset of Go's `text/template` that `--format` needs, evaluated over
//! JSON values: text, field paths (`{{.State.Pid}}`, `{{.}}`), and the
//! functions `json`, `index`, `join`, `upper` and `lower`. Anything else —
//! `range`, `if`, pipes, variables — is reported as an error rather than
//! silently mis-rendered.

use serde_json::Value;
use std::fmt;

/// A template that failed to parse or to render; the text reads like Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// What a field that is not there renders as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `<no value>`, as Go prints a missing map key (inspect's raw JSON).
    NoValue,
    /// An error, as Go reports an unknown field of a struct (`ps`, `images`).
    Error,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action {
        source: String,
        function: Option<Function>,
        args: Vec<Arg>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Json,
    Index,
    Join,
    Upper,
    Lower,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Path(Vec<String>),
    Str(String),
    Int(i64),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut nodes = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                nodes.push(Node::Text(rest[..start].to_string()));
            }
            let line = text[..text.len() - rest.len() + start]
                .matches('\n')
                .count()
                + 1;
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| parse_error(line, "unclosed action"))?;
            nodes.push(parse_action(&after[..end], line)?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(Template { nodes })
    }

    /// Renders the template against `data`.
    pub fn render(&self, data: &Value, missing: Missing) -> Result<String, TemplateError> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Action {
                    source,
                    function,
                    args,
                } => {
                    let eval = Eval {
                        data,
                        missing,
                        source,
                    };
                    out.push_str(&eval.action(*function, args)?);
                }
            }
        }
        Ok(out)
    }
}

fn parse_error(line: usize, message: impl fmt::Display) -> TemplateError {
    TemplateError(format!("template: :{line}: {message}"))
}

fn parse_action(source: &str, line: usize) -> Result<Node, TemplateError> {
    let words = split_words(source).map_err(|m| parse_error(line, m))?;
    let Some((first, rest)) = words.split_first() else {
        return Err(parse_error(line, "missing value for command"));
    };
    let (function, arg_words) = if first.starts_with('.') {
        if !rest.is_empty() {
            return Err(parse_error(
                line,
                format_args!("can't give argument to non-function {first}"),
            ));
        }
        (None, &words[..])
    } else {
        let function = match first.as_str() {
            "json" => Function::Json,
            "index" => Function::Index,
            "join" => Function::Join,
            "upper" => Function::Upper,
            "lower" => Function::Lower,
            other => {
                return Err(parse_error(
                    line,
                    format_args!("function {other:?} not defined"),
                ))
            }
        };
        (Some(function), rest)
    };
    let args = arg_words
        .iter()
        .map(|w| parse_arg(w).map_err(|m| parse_error(line, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let wanted = match function {
        None | Some(Function::Json | Function::Upper | Function::Lower) => Some(1),
        Some(Function::Join) => Some(2),
        Some(Function::Index) => None,
    };
    if wanted.is_some_and(|n| n != args.len()) || args.is_empty() {
        return Err(parse_error(
            line,
            format_args!("wrong number of args for {first}"),
        ));
    }
    Ok(Node::Action {
        source: source.trim().to_string(),
        function,
        args,
    })
}

/// Splits an action into words, keeping double-quoted strings whole.
fn split_words(source: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = source.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            word.push(chars.next().expect("peeked"));
            loop {
                match chars.next() {
                    Some('\\') => {
                        word.push('\\');
                        word.push(chars.next().ok_or("unterminated quoted string")?);
                    }
                    Some('"') => {
                        word.push('"');
                        break;
                    }
                    Some(c) => word.push(c),
                    None => return Err("unterminated quoted string".to_string()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if "|()$=".contains(c) {
                    return Err(format!("unsupported {c:?} in --format (only field paths and json, index, join, upper, lower are supported)"));
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

fn parse_arg(word: &str) -> Result<Arg, String> {
    if word == "." {
        return Ok(Arg::Path(Vec::new()));
    }
    if let Some(path) = word.strip_prefix('.') {
        let fields: Vec<String> = path.split('.').map(str::to_string).collect();
        if fields.iter().any(String::is_empty) {
            return Err(format!("bad field path {word:?}"));
        }
        return Ok(Arg::Path(fields));
    }
    if word.starts_with('"') {
        return serde_json::from_str::<String>(word)
            .map(Arg::Str)
            .map_err(|_| format!("bad string {word}"));
    }
    word.parse::<i64>().map(Arg::Int).map_err(|_| {
        if word.chars().all(|c| c.is_alphanumeric() || c == '_') {
            format!("function {word:?} not defined")
        } else {
            format!("unexpected {word:?} in operand")
        }
    })
}

/// One action's evaluation.
struct Eval<'a> {
    data: &'a Value,
    missing: Missing,
    source: &'a str,
}

impl Eval<'_> {
    fn error(&self, message: impl fmt::Display) -> TemplateError {
        TemplateError(format!(
            "template: :1: executing \"\" at <{}>: {message}",
            self.source
        ))
    }

    fn action(&self, function: Option<Function>, args: &[Arg]) -> Result<String, TemplateError> {
        // `None` is a missing field, which Go prints as `<no value>`.
        let values = args
            .iter()
            .map(|arg| self.arg(arg))
            .collect::<Result<Vec<Option<Value>>, _>>()?;
        let Some(function) = function else {
            return Ok(display(values[0].as_ref()));
        };
        match function {
            Function::Json => Ok(
                serde_json::to_string(values[0].as_ref().unwrap_or(&Value::Null))
                    .expect("JSON values always serialize"),
            ),
            Function::Upper => Ok(display(values[0].as_ref()).to_uppercase()),
            Function::Lower => Ok(display(values[0].as_ref()).to_lowercase()),
            Function::Join => {
                let Some(Value::Array(items)) = &values[0] else {
                    return Err(self.error("join: first argument is not a list"));
                };
                let separator = display(values[1].as_ref());
                Ok(items
                    .iter()
                    .map(go_print)
                    .collect::<Vec<_>>()
                    .join(&separator))
            }
            Function::Index => {
                let mut current = values[0].clone().unwrap_or(Value::Null);
                for key in &values[1..] {
                    current = match (current, key) {
                        (Value::Object(mut map), Some(Value::String(k))) => {
                            map.remove(k).unwrap_or(Value::Null)
                        }
                        (Value::Array(mut items), Some(Value::Number(n))) => {
                            let i = n
                                .as_u64()
                                .map(|i| i as usize)
                                .filter(|i| *i < items.len())
                                .ok_or_else(|| self.error(format!("index out of range: {n}")))?;
                            items.swap_remove(i)
                        }
                        (Value::Null, _) => Value::Null,
                        _ => return Err(self.error("can't index item")),
                    };
                }
                Ok(go_print(&current))
            }
        }
    }

    fn arg(&self, arg: &Arg) -> Result<Option<Value>, TemplateError> {
        match arg {
            Arg::Path(fields) => self.lookup(fields),
            Arg::Str(s) => Ok(Some(Value::String(s.clone()))),
            Arg::Int(i) => Ok(Some(Value::from(*i))),
        }
    }

    fn lookup(&self, fields: &[String]) -> Result<Option<Value>, TemplateError> {
        let mut current = self.data;
        for field in fields {
            current = match current {
                Value::Object(map) => match map.get(field) {
                    Some(value) => value,
                    None if self.missing == Missing::Error => {
                        return Err(self.error(format!("can't evaluate field {field}")))
                    }
                    None => return Ok(None),
                },
                Value::Null if self.missing == Missing::NoValue => return Ok(None),
                _ => {
                    return Err(self.error(format!(
                        "can't evaluate field {field} in type {}",
                        type_name(current)
                    )))
                }
            };
        }
        Ok(Some(current.clone()))
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// How Go prints a field: `<no value>` when missing, else `fmt.Sprint`.
fn display(value: Option<&Value>) -> String {
    value.map_or_else(|| "<no value>".to_string(), go_print)
}

fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_print).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect() -> Value {
        json!({
            "Id": "0123abcd",
            "State": {"Pid": 4242, "ExitCode": 0, "Running": true, "Status": "running"},
            "Config": {"Cmd": ["sleep", "100"], "Entrypoint": null, "Labels": {"a.b": "1", "c": "2"}},
            "Args": []
        })
    }

    fn render(template: &str) -> Result<String, TemplateError> {
        Template::parse(template)?.render(&inspect(), Missing::NoValue)
    }

    #[test]
    fn field_paths_print_like_go() {
        assert_eq!(render("{{.State.Pid}}").unwrap(), "4242");
        assert_eq!(render("{{.Id}}").unwrap(), "0123abcd");
        assert_eq!(render("{{ .State.ExitCode }}").unwrap(), "0");
        assert_eq!(
            render("{{.State.Running}} {{.State.Status}}").unwrap(),
            "true running"
        );
        assert_eq!(render("{{.Config.Cmd}}").unwrap(), "[sleep 100]");
        assert_eq!(render("{{.Config.Labels}}").unwrap(), "map[a.b:1 c:2]");
        assert_eq!(render("{{.Config.Entrypoint}}").unwrap(), "<nil>");
        assert_eq!(render("{{.Args}}").unwrap(), "[]");
        assert_eq!(render(r"pid={{.State.Pid}}\n").unwrap(), r"pid=4242\n");
    }

    #[test]
    fn missing_fields_print_no_value_or_fail() {
        assert_eq!(render("{{.Nope}}").unwrap(), "<no value>");
        assert_eq!(render("{{.Config.Entrypoint.X}}").unwrap(), "<no value>");
        let strict = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&inspect(), Missing::Error);
        assert_eq!(
            strict.unwrap_err().to_string(),
            "template: :1: executing \"\" at <.Nope>: can't evaluate field Nope"
        );
        assert!(render("{{.Id.X}}")
            .unwrap_err()
            .to_string()
            .contains("in type string"));
    }

    #[test]
    fn functions_json_index_join() {
        assert_eq!(
            render("{{json .Config}}").unwrap(),
            r#"{"Cmd":["sleep","100"],"Entrypoint":null,"Labels":{"a.b":"1","c":"2"}}"#
        );
        assert_eq!(render("{{json .State.Pid}}").unwrap(), "4242");
        assert_eq!(render(r#"{{index .Config.Labels "a.b"}}"#).unwrap(), "1");
        assert_eq!(render("{{index .Config.Cmd 1}}").unwrap(), "100");
        assert_eq!(render(r#"{{join .Config.Cmd ","}}"#).unwrap(), "sleep,100");
        assert_eq!(render("{{upper .State.Status}}").unwrap(), "RUNNING");
    }

    #[test]
    fn unsupported_syntax_is_an_error() {
        for bad in [
            "{{.Id",
            "{{range .Args}}{{end}}",
            "{{if .State.Running}}x{{end}}",
            "{{.Id | printf}}",
            "{{$x := 1}}",
            "{{}}",
            "{{json}}",
            "{{.Id .Name}}",
            "{{.State..Pid}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(
            Template::parse("{{foo .Id}}").unwrap_err().to_string(),
            "template: :1: function \"foo\" not defined"
        );
    }
}
