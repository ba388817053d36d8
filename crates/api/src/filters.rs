//! The `filters` query parameter: `{"key": ["v1", "v2"]}`, or the legacy
//! `{"key": {"v1": true}}` form that old clients send.

use crate::ApiError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses the JSON text of `filters`; an empty string means no filters.
    pub fn parse(text: &str) -> Result<Filters, ApiError> {
        if text.trim().is_empty() {
            return Ok(Filters::default());
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| ApiError::invalid("invalid filter: not a JSON object"))?;
        let mut map = BTreeMap::new();
        for (key, values) in object {
            let list: Vec<String> = match values {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            ApiError::invalid(format!("invalid filter '{key}': not a string"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                serde_json::Value::Object(items) => items
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(ApiError::invalid(format!("invalid filter '{key}'"))),
            };
            map.insert(key.clone(), list);
        }
        Ok(Filters(map))
    }

    /// Fails with Docker's message when a key is not one of `allowed`.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.0.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::invalid(format!("invalid filter '{key}'")));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The filter keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    /// The JSON text a client sends.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings always serializes")
    }

    /// Matches `label` filters (`key` or `key=value`, all must hold)
    /// against a label map, and `label!` ones as Docker's prunes do: they
    /// exclude a label map that every one of them matches.
    pub fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        let holds = |want: &String| match want.split_once('=') {
            Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
            None => labels.contains_key(want.as_str()),
        };
        let unwanted = self.get("label!");
        self.get("label").iter().all(holds) && (unwanted.is_empty() || !unwanted.iter().all(holds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let f = Filters::parse(r#"{"name":["web"],"status":{"exited":true}}"#).unwrap();
        assert_eq!(f.get("name"), ["web"]);
        assert_eq!(f.get("status"), ["exited"]);
        assert!(f.get("label").is_empty());
    }

    #[test]
    fn rejects_garbage_and_unknown_keys() {
        assert_eq!(Filters::parse("[1]").unwrap_err().status(), 400);
        assert_eq!(Filters::parse("{").unwrap_err().status(), 400);
        let f = Filters::parse(r#"{"bogus":["x"]}"#).unwrap();
        assert_eq!(
            f.validate(&["name"]).unwrap_err().message,
            "invalid filter 'bogus'"
        );
    }

    #[test]
    fn label_filters_match_key_and_key_value() {
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "1".to_string());
        let f = Filters::parse(r#"{"label":["a"]}"#).unwrap();
        assert!(f.labels_match(&labels));
        let f = Filters::parse(r#"{"label":["a=1"]}"#).unwrap();
        assert!(f.labels_match(&labels));
        let f = Filters::parse(r#"{"label":["a=2"]}"#).unwrap();
        assert!(!f.labels_match(&labels));
    }
}
