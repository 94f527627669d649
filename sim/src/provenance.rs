//! Where each parameter of a scenario comes from: the layer (the built-in default, a
//! file it extends, the file itself, a `--set`) that last set it, and the comment on its
//! line there, which by the scenario files' convention names its public source or says
//! "assumption". Comments are read with toml_edit, which keeps them.

use std::collections::BTreeMap;

use toml_edit::{DocumentMut, Item, Table, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The layer that last set the parameter: a file name or `--set PATH=VALUE`.
    pub layer: String,
    /// The comment on the parameter's line, without `#`.
    pub note: Option<String>,
}

/// Parameter paths (`pec.working_box_share`, `acts[1].amount_cents`) and who set them.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    by_path: BTreeMap<String, Source>,
    /// Citation keys (`[numeri]`) and what they stand for, from the files' headers.
    pub citations: Vec<(String, String)>,
}

impl Sources {
    /// `layers` are (text, name), the default first; `sets` the `--set` overrides.
    pub fn read(layers: &[(String, String)], sets: &[String]) -> Sources {
        let mut s = Sources::default();
        for (text, name) in layers {
            let Ok(doc) = text.parse::<DocumentMut>() else {
                continue;
            };
            s.table(doc.as_table(), "", name);
            s.citations_from(text);
        }
        for set in sets {
            if let Some((path, _)) = set.split_once('=') {
                s.set(
                    path.trim(),
                    Source {
                        layer: format!("--set {set}"),
                        note: None,
                    },
                );
            }
        }
        s
    }

    /// The source of `path`: its own entry or its nearest parent's (a distribution or an
    /// inline table is set, and commented, as a whole); among entries of one layer, the
    /// nearest with a comment.
    pub fn of(&self, path: &str) -> Option<&Source> {
        let mut found: Option<&Source> = None;
        let mut p = path;
        loop {
            if let Some(src) = self.by_path.get(p) {
                match found {
                    None if src.note.is_some() => return Some(src),
                    None => found = Some(src),
                    Some(f) if f.layer == src.layer && src.note.is_some() => return Some(src),
                    Some(f) if f.layer != src.layer => return Some(f),
                    Some(_) => {}
                }
            }
            match parent(p) {
                Some(up) => p = up,
                None => return found,
            }
        }
    }

    fn set(&mut self, path: &str, src: Source) {
        // A later layer replaces what lies under the path.
        let children: Vec<String> = self
            .by_path
            .range(path.to_string()..)
            .take_while(|(k, _)| k.starts_with(path))
            .filter(|(k, _)| k[path.len()..].starts_with(['.', '[']))
            .map(|(k, _)| k.clone())
            .collect();
        for k in children {
            self.by_path.remove(&k);
        }
        self.by_path.insert(path.to_string(), src);
    }

    fn table(&mut self, t: &Table, prefix: &str, layer: &str) {
        for (key, item) in t.iter() {
            let path = join(prefix, key);
            match item {
                Item::Value(v) => self.value(v, &path, layer),
                Item::Table(sub) if sub.contains_key("kind") => self.set(
                    &path,
                    Source {
                        layer: layer.to_string(),
                        note: None,
                    },
                ),
                Item::Table(sub) => self.table(sub, &path, layer),
                Item::ArrayOfTables(items) => {
                    self.set(
                        &path,
                        Source {
                            layer: layer.to_string(),
                            note: None,
                        },
                    );
                    for (i, sub) in items.iter().enumerate() {
                        self.table(sub, &format!("{path}[{i}]"), layer);
                    }
                }
                Item::None => {}
            }
        }
    }

    fn value(&mut self, v: &Value, path: &str, layer: &str) {
        let note = v
            .decor()
            .suffix()
            .and_then(|r| r.as_str())
            .map(|c| c.trim().trim_start_matches('#').trim().to_string())
            .filter(|c| !c.is_empty());
        self.set(
            path,
            Source {
                layer: layer.to_string(),
                note,
            },
        );
        // An inline table without `kind` is merged key by key, like a table.
        let Value::InlineTable(t) = v else { return };
        if t.contains_key("kind") {
            return;
        }
        for (key, child) in t.iter() {
            let child_path = join(path, key);
            if let Value::InlineTable(_) = child {
                self.value(child, &child_path, layer);
            } else {
                self.by_path.insert(
                    child_path,
                    Source {
                        layer: layer.to_string(),
                        note: None,
                    },
                );
            }
        }
    }

    /// Header lines like `#   [numeri]   "SEND in numeri" open data, …`.
    fn citations_from(&mut self, text: &str) {
        for line in text
            .lines()
            .take_while(|l| l.starts_with('#') || l.is_empty())
        {
            let body = line.trim_start_matches('#').trim();
            let Some((key, what)) = body.strip_prefix('[').and_then(|r| r.split_once(']')) else {
                continue;
            };
            let is_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if is_key && !what.trim().is_empty() && !self.citations.iter().any(|(k, _)| k == key) {
                self.citations
                    .push((key.to_string(), what.trim().to_string()));
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    let key = if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("\"{key}\"")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a`.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

/// Every parameter of a resolved scenario as (path, value written as inline TOML): a
/// table with `kind` (a distribution) is one parameter; lists of tables are indexed.
pub fn flatten(root: &toml::Value) -> Vec<(String, String)> {
    fn walk(v: &toml::Value, path: &str, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) if !t.contains_key("kind") => {
                for (k, child) in t {
                    walk(child, &join(path, k), out);
                }
            }
            toml::Value::Array(items)
                if items.iter().all(|i| i.is_table()) && !items.is_empty() =>
            {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}[{i}]"), out);
                }
            }
            other => out.push((path.to_string(), inline(other))),
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// A value as inline TOML.
pub fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_takes_the_comment_of_the_layer_that_set_it_last() {
        let base = "# header\n#   [numeri]  SEND in numeri open data\n\n[pec]\nworking_box_share = 0.94  # assumption\nwait_days = 7.0  # [workflow] wait\n\n[[acts]]\nname = \"a\"\namount = { kind = \"constant\", value = 1.0 }  # act amount\n\n[views]\nio = { share = 0.6, delay_hours = { kind = \"constant\", value = 1.0 } }  # IO views\n";
        let over = "[pec]\nworking_box_share = 0.9  # measured\n";
        let s = Sources::read(
            &[
                (base.to_string(), "default".to_string()),
                (over.to_string(), "over.toml".to_string()),
            ],
            &["pec.wait_days=5".to_string()],
        );
        let at = |p: &str| s.of(p).cloned().unwrap();
        assert_eq!(at("pec.working_box_share").layer, "over.toml");
        assert_eq!(
            at("pec.working_box_share").note.as_deref(),
            Some("measured")
        );
        assert_eq!(at("pec.wait_days").layer, "--set pec.wait_days=5");
        assert_eq!(at("acts[0].amount").note.as_deref(), Some("act amount"));
        assert_eq!(at("views.io.share").note.as_deref(), Some("IO views"));
        assert_eq!(at("views.io.delay_hours").note.as_deref(), Some("IO views"));
        assert_eq!(
            s.citations,
            [("numeri".to_string(), "SEND in numeri open data".to_string())]
        );
    }

    #[test]
    fn the_default_scenario_names_a_source_for_every_parameter() {
        let scenario = crate::Scenario::builtin_default();
        let s = Sources::read(&crate::Scenario::layer_texts(None).unwrap(), &[]);
        let root = toml::Value::try_from(&scenario).unwrap();
        let params = flatten(&root);
        assert!(params.len() > 150, "{}", params.len());
        let without: Vec<&String> = params
            .iter()
            .map(|(p, _)| p)
            .filter(|p| s.of(p).is_none())
            .collect();
        assert!(without.is_empty(), "no layer for {without:?}");
        let noted = params
            .iter()
            .filter(|(p, _)| s.of(p).is_some_and(|x| x.note.is_some()))
            .count();
        assert!(
            noted * 2 > params.len(),
            "{noted} of {} noted",
            params.len()
        );
        assert!(s.citations.iter().any(|(k, _)| k == "numeri"));
    }
}
