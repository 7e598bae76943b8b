//! Name patterns an operator writes in the plugin's config (`allow_units`, `allowed_users`,
//! `allow_properties`, ...): a shell-style glob (`*`, `?`, `[...]`, `[!...]`) over the whole
//! name, or, after `re:`, a regular expression that must match the whole name. Both are
//! compiled to one regular expression, so matching is linear in the name's length.

use regex::Regex;

/// One pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: Regex,
}

impl Pattern {
    /// Reads a glob, or a regular expression after `re:`. Errors name what is wrong with it.
    pub fn parse(text: &str) -> std::result::Result<Pattern, String> {
        let pattern = match text.strip_prefix("re:") {
            Some(re) => format!("^(?:{re})$"),
            None => glob_to_regex(text)?,
        };
        let regex = Regex::new(&pattern).map_err(|e| format!("'{text}': {e}"))?;
        Ok(Pattern {
            text: text.to_string(),
            regex,
        })
    }

    /// `*`: every name.
    pub fn everything() -> Pattern {
        Pattern {
            text: "*".into(),
            regex: Regex::new("^.*$").expect("a constant, valid regular expression"),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches the whole of `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// Whether it matches any of `names`.
    pub fn matches_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.matches(n))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

fn glob_to_regex(glob: &str) -> std::result::Result<String, String> {
    let mut out = String::from("^");
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut class = String::new();
                loop {
                    match chars.next() {
                        Some(']') if !class.is_empty() => break,
                        Some(c) => class.push(c),
                        None => return Err(format!("'{glob}': '[' without a closing ']'")),
                    }
                }
                let class = match class.strip_prefix('!') {
                    Some(rest) => format!("^{rest}"),
                    None => class,
                };
                out.push('[');
                out.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                out.push(']');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_like_a_shell() {
        let m = |p: &str, t: &str| Pattern::parse(p).unwrap().matches(t);
        assert!(m("app-*", "app-web") && m("*", "") && m("a?c", "abc"));
        assert!(!m("app-*", "xapp-web") && !m("a?c", "ac"));
        assert!(m("[!x]*", "web") && !m("[!x]*", "xweb"));
        assert!(m("re:db-[0-9]+", "db-12") && !m("re:db-[0-9]+", "db-12x"));
        assert!(
            m("a.b", "a.b") && !m("a.b", "axb"),
            "a dot is literal in a glob"
        );
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        assert!(Pattern::parse("re:(").is_err());
        assert!(
            Pattern::parse("web[")
                .unwrap_err()
                .contains("without a closing")
        );
    }
}
